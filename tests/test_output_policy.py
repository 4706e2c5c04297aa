"""The output policy: no command deletes or overwrites a file or folder robocarbon did not create
(unless --force), none writes over its own input, every failure is `error: ...` with exit 2."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from robocarbon.empirics import outputs as O
from robocarbon.empirics.errors import InputError
from robocarbon.reports.cli import main


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): _sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _user_folder(tmp_path: Path) -> Path:
    d = tmp_path / "thesis"
    d.mkdir()
    (d / "thesis.tex").write_text("\\documentclass{article}\n")
    (d / "panel.csv").write_text("city,year\n1,2007\n")
    return d


@pytest.fixture
def panel_csv(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    n, t = 12, 6
    df = pd.DataFrame({"city": np.repeat(np.arange(n), t), "year": np.tile(np.arange(2010, 2010 + t), n)})
    df["robot"] = rng.normal(size=len(df))
    df["y"] = 0.5 * df.robot + rng.normal(size=len(df))
    p = tmp_path / "panel.csv"
    df.to_csv(p, index=False)
    return p


def _estimate(panel_csv: Path, *extra: str) -> int:
    return main(["estimate", "--data", str(panel_csv), "--formula", "y ~ robot | city + year", *extra])


# ---------------------------------------------------------------------------- replicate --out
REPLICATE = ["replicate", "--sections", "table1", "--no-progress"]


def test_replicate_refuses_a_users_folder_and_leaves_every_file(tmp_path, capsys):
    d = _user_folder(tmp_path)
    before = _snapshot(d)
    assert main([*REPLICATE, "--out", str(d)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not created by robocarbon" in err and "--force" in err
    assert _snapshot(d) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"], "no staging folder left behind"


def test_replicate_refuses_the_working_directory(tmp_path, monkeypatch, capsys):
    d = _user_folder(tmp_path)
    monkeypatch.chdir(d)
    before = _snapshot(d)
    assert main([*REPLICATE, "--out", "."]) == 2
    assert _snapshot(d) == before


def test_replicate_replaces_only_its_own_clean_folder(tmp_path, capsys):
    out = tmp_path / "build"
    assert main([*REPLICATE, "--out", str(out)]) == 0
    assert O.folder_state(out) == "ours"
    assert main([*REPLICATE, "--out", str(out)]) == 0  # its own folder: replaced
    # the user puts a file in it, or edits one of ours: no longer replaced without --force
    (out / "notes.txt").write_text("mine")
    assert main([*REPLICATE, "--out", str(out)]) == 2
    assert "notes.txt" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    (out / "report.md").write_text("edited by hand")
    assert main([*REPLICATE, "--out", str(out)]) == 2
    assert (out / "report.md").read_text() == "edited by hand"


def test_replicate_force_writes_into_a_users_folder_and_keeps_other_files(tmp_path):
    d = _user_folder(tmp_path)
    before = _snapshot(d)
    assert main([*REPLICATE, "--out", str(d), "--force"]) == 0
    after = _snapshot(d)
    assert {k: after[k] for k in before} == before, "the user's files are untouched"
    assert "report.html" in after and "manifest.json" in after


def test_an_empty_folder_may_be_used(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    assert main([*REPLICATE, "--out", str(d)]) == 0
    assert (d / "report.html").is_file() and O.folder_state(d) == "ours"


def test_replicate_never_writes_over_its_input(tmp_path, panel_csv, capsys):
    # the input panel lies inside the output folder
    d = tmp_path / "work"
    d.mkdir()
    inp = d / "panel.csv"
    inp.write_bytes(panel_csv.read_bytes())
    for extra in ([], ["--force"]):
        assert main([*REPLICATE, "--data", str(inp), "--out", str(d), *extra]) == 2
        assert "input" in capsys.readouterr().err
    assert _sha(inp) == _sha(panel_csv)


# ---------------------------------------------------------------------------- single files
def test_outputs_never_overwrite_inputs_even_with_force(panel_csv, capsys):
    before = _sha(panel_csv)
    for flag in ("--json", "--table"):
        for extra in ([], ["--force"]):
            assert _estimate(panel_csv, flag, str(panel_csv), *extra) == 2
            err = capsys.readouterr().err
            assert err.startswith("error: ") and "input" in err
    assert _sha(panel_csv) == before


def test_existing_user_file_refused_unless_force_own_output_rewritten(tmp_path, panel_csv, capsys):
    js = tmp_path / "res.json"
    js.write_text("my notes")
    assert _estimate(panel_csv, "--json", str(js)) == 2
    assert js.read_text() == "my notes" and "--force" in capsys.readouterr().err
    assert _estimate(panel_csv, "--json", str(js), "--force") == 0
    assert json.loads(js.read_text())["nobs"] == 72
    assert O.is_ours(js)
    assert _estimate(panel_csv, "--json", str(js)) == 0  # robocarbon's own, unchanged: rewritten
    js.write_text(js.read_text().replace("72", "73"))   # edited by the user: protected again
    assert not O.is_ours(js)
    assert _estimate(panel_csv, "--json", str(js)) == 2


def test_two_outputs_on_one_path_are_refused(tmp_path, panel_csv, capsys):
    p = tmp_path / "x.txt"
    assert _estimate(panel_csv, "--json", str(p), "--table", str(p)) == 2
    assert "same path" in capsys.readouterr().err and not p.exists()


def test_output_that_is_a_folder_is_an_error(tmp_path, panel_csv, capsys):
    assert _estimate(panel_csv, "--json", str(tmp_path)) == 2
    assert "folder" in capsys.readouterr().err


def test_manifests_are_named_after_their_output(tmp_path, capsys):
    from test_did_interface import _write, panel

    path = _write(tmp_path, panel(n_per=5))
    common = ["did", "--data", str(path), "--y", "y", "--entity", "id", "--time", "t", "--adopt", "g",
              "--method", "twfe"]
    user_manifest = tmp_path / "manifest.json"
    user_manifest.write_text("the user's own manifest")
    assert main([*common, "--json", str(tmp_path / "a.json")]) == 0
    assert main([*common, "--json", str(tmp_path / "b.json")]) == 0
    assert user_manifest.read_text() == "the user's own manifest"
    for stem in ("a", "b"):
        man = json.loads((tmp_path / f"{stem}.manifest.json").read_text())
        assert man["outputs"] == [str(tmp_path / f"{stem}.json")]


def test_build_panel_templates_never_replace_users_files(tmp_path, capsys):
    d = tmp_path / "inputs"
    d.mkdir()
    (d / "robots.csv").write_text("ifr_code,year,robots\nmine,2007,1\n")
    before = _snapshot(d)
    assert main(["build-panel", "--templates", str(d)]) == 2
    assert "robots.csv" in capsys.readouterr().err
    assert _snapshot(d) == before, "no template written when one is refused"
    assert main(["build-panel", "--templates", str(d), "--force"]) == 0
    assert (d / "crosswalk.csv").is_file()


def test_build_panel_out_inside_its_inputs_is_refused(tmp_path, capsys):
    from test_measure_panel import make_inputs

    raw = make_inputs(tmp_path / "raw")
    before = _snapshot(raw)
    for extra in ([], ["--force"]):
        assert main(["build-panel", "--inputs", str(raw), "--out", str(raw / "yearbook.csv"), *extra]) == 2
        assert "input" in capsys.readouterr().err
    assert _snapshot(raw) == before


# ---------------------------------------------------------------------------- error boundary
def test_disk_full_is_an_error_without_partial_output(tmp_path, panel_csv, monkeypatch, capsys):
    real = os.replace

    def full(src, dst):
        if str(dst).endswith("res.json"):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real(src, dst)

    monkeypatch.setattr(O.os, "replace", full)
    js = tmp_path / "res.json"
    assert _estimate(panel_csv, "--json", str(js)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no space left") and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["panel.csv"], "no temporary file left"


def test_memory_error_and_internal_errors_map_to_exit_2(panel_csv, monkeypatch, capsys):
    from robocarbon.empirics import fe

    def boom(*a, **k):
        raise MemoryError

    monkeypatch.setattr(fe, "fit", boom)
    assert _estimate(panel_csv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: out of memory") and "Traceback" not in err

    def bug(*a, **k):
        raise KeyError("oops")

    monkeypatch.setattr(fe, "fit", bug)
    assert _estimate(panel_csv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: internal error") and "Traceback" not in err
    assert _estimate(panel_csv, "--debug") == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("error: internal error")


def test_usage_errors_start_with_error(capsys):
    assert main(["estimate", "--data"]) == 2
    assert capsys.readouterr().err.startswith("error: ")


# ---------------------------------------------------------------------------- the module
def test_ledger_corrupt_or_foreign_means_not_ours(tmp_path, monkeypatch):
    monkeypatch.setenv("ROBOCARBON_CACHE", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    p = work / "a.txt"
    with O.atomic_path(p) as tmp:
        tmp.write_text("x")
    assert O.is_ours(p)
    assert sorted(f.name for f in work.iterdir()) == ["a.txt"], "no clutter in a user's folder"
    reg = O.registry_file()
    assert reg.parent == tmp_path / "cache"
    reg.write_text("{not json")
    assert not O.is_ours(p)
    reg.write_text(json.dumps({"format": "other", "files": {p.as_posix().lstrip("/"): {}}}))
    assert not O.is_ours(p)
    with pytest.raises(InputError, match="did not write"):
        O.check_file(p)
    with O.output_policy(force=True):
        assert O.check_file(p) == p.resolve()
    # inside a folder robocarbon made, the record lives in that folder (it can be moved)
    d = O.make_folder(tmp_path / "made")
    with O.atomic_path(d / "sub" / "t.csv") as tmp:
        tmp.write_text("1")
    moved = tmp_path / "moved"
    d.rename(moved)
    assert O.is_ours(moved / "sub" / "t.csv") and O.folder_state(moved) == "ours"


def test_remove_own_file_never_removes_a_users_file(tmp_path):
    mine = tmp_path / "user.csv"
    mine.write_text("1")
    assert not O.remove_own_file(mine) and mine.exists()
    ours = tmp_path / "ours.csv"
    with O.atomic_path(ours) as tmp:
        tmp.write_text("2")
    assert O.remove_own_file(ours) and not ours.exists()
