"""Caches live in the user cache folder, never in the source tree, and a cache folder that
someone else can write is not trusted (numba reads its index files with pickle)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

from robocarbon.empirics.core import numba_cache as _numba_cache

ROOT = Path(__file__).resolve().parents[1]

# compiles one kernel of robocarbon.simulate.kernels (numba, cache=True)
KERNEL = ("import json, numpy as np, numba\n"
          "from robocarbon.simulate import kernels\n"
          "S, n, T = 2, 5, 6\n"
          "e = np.random.default_rng(1).standard_normal((S, n, T))\n"
          "out = np.empty((S, n, T))\n"
          "kernels.ar1_series(e, np.zeros((S, n)), np.zeros((S, T)), np.zeros(S), np.ones(S),\n"
          "                   np.full(S, 0.5), np.zeros(S, dtype=np.int64), np.full(S, -np.inf),\n"
          "                   np.full(S, np.inf), np.zeros(S), 3, out, np.zeros((n, T)),\n"
          "                   np.empty((S, n)), np.empty((S, n)))\n"
          "print(json.dumps({'cache_dir': numba.config.CACHE_DIR,\n"
          "                  'values': out.tobytes().hex()}))\n")


def _run(code: str, tmp_path: Path, **env_extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _numba_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".nbi", ".nbc"))


def _tree_numba_files() -> list[Path]:
    return [p for p in _numba_files(ROOT) if ".venv" not in p.parts]


class _Payload:
    def __init__(self, sentinel: Path):
        self.code = f"open({str(sentinel)!r}, 'w').write('numba cache code ran')"

    def __reduce__(self):
        return (exec, (self.code,))


def test_numba_cache_goes_to_the_user_cache_folder_and_a_foreign_one_is_not_loaded(tmp_path):
    assert not _tree_numba_files(), "numba cache files inside the source tree"
    xdg = tmp_path / "xdg"
    first = _run(KERNEL, tmp_path, XDG_CACHE_HOME=str(xdg))
    cache = xdg / "robocarbon" / "numba"
    assert Path(first["cache_dir"]) == cache
    index = [p for p in _numba_files(cache) if p.suffix == ".nbi"]
    assert index, "numba wrote no cache files into the user cache folder"
    assert _numba_files(cache) and not _tree_numba_files()
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    # the same files, every index replaced by a pickle that runs code when read
    sentinel = tmp_path / "SENTINEL"
    for p in index:
        p.write_bytes(pickle.dumps(_Payload(sentinel)))
    if hasattr(os, "getuid"):
        # a folder group and others can write (a shared lab cache): not used
        cache.chmod(0o777)
        foreign = _run(KERNEL, tmp_path, XDG_CACHE_HOME=str(xdg))
        assert not sentinel.exists(), "a world-writable numba cache folder was loaded"
        assert foreign["values"] == first["values"]
        assert Path(foreign["cache_dir"]) != cache and not Path(foreign["cache_dir"]).exists()
        cache.chmod(0o700)
    # positive control: in a private folder (the user's own cache) numba does read the index
    # files, so the check above is what kept the poison out
    _run(KERNEL, tmp_path, XDG_CACHE_HOME=str(xdg))
    assert sentinel.exists()
    assert not _tree_numba_files()


def test_numba_cache_folder_is_set_whatever_the_import_order(tmp_path):
    code = ("import json, numba\n"  # numba imported (and its config read) before ours
            "from robocarbon.simulate import kernels\n"
            "print(json.dumps({'cache_dir': numba.config.CACHE_DIR}))\n")
    got = _run(code, tmp_path, XDG_CACHE_HOME=str(tmp_path / "x"))
    assert Path(got["cache_dir"]) == tmp_path / "x" / "robocarbon" / "numba"
    # NUMBA_CACHE_DIR, when the user sets it, is used as given
    got = _run(code, tmp_path, NUMBA_CACHE_DIR=str(tmp_path / "mine"),
               XDG_CACHE_HOME=str(tmp_path / "x"))
    assert Path(got["cache_dir"]) == tmp_path / "mine"


def test_every_module_that_compiles_with_numba_configures_its_cache_first():
    offenders = []
    for layer in ("theory", "empirics", "simulate", "reports"):
        for path in sorted((ROOT / layer).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            at = [i for i in (text.find("from numba"), text.find("import numba")) if i >= 0]
            if not at or path.name == "numba_cache.py":
                continue
            setup = text.find("_configure_numba_cache()")
            if setup < 0 or setup > min(at):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, ("call robocarbon.empirics.core.numba_cache.configure() before importing "
                           f"numba (else its cache lands in the source tree): {offenders}")


def test_default_folder_follows_xdg(monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    assert _numba_cache.default_dir() == Path("/somewhere/cache/robocarbon/numba")
    for value in ("relative/cache", ""):  # the XDG spec: ignore a relative path
        monkeypatch.setenv("XDG_CACHE_HOME", value)
        assert _numba_cache.default_dir() == Path.home() / ".cache" / "robocarbon" / "numba"


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX ownership and modes")
def test_choose_dir_trusts_only_a_private_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    target = tmp_path / "robocarbon" / "numba"
    assert _numba_cache.choose_dir() == target  # created, mode 0700
    assert stat.S_IMODE(target.stat().st_mode) == 0o700 and _numba_cache.is_private(target)
    for mode in (0o770, 0o707, 0o777):
        target.chmod(mode)
        assert not _numba_cache.is_private(target)
        chosen = _numba_cache.choose_dir()
        assert chosen != target and _numba_cache.is_private(chosen)
        shutil.rmtree(chosen)
    target.chmod(0o700)
    target.rmdir()
    target.write_text("not a folder")
    assert _numba_cache.choose_dir() != target


def test_hypothesis_and_pytest_caches_are_outside_the_source_tree(pytestconfig):
    db = settings().database
    assert isinstance(db, DirectoryBasedExampleDatabase)
    assert not Path(db.path).resolve().is_relative_to(ROOT)
    from hypothesis.configuration import storage_directory

    assert not storage_directory("x", intent_to_write=False).path.resolve().is_relative_to(ROOT)
    assert not pytestconfig.cache.mkdir("robocarbon-probe").resolve().is_relative_to(ROOT)
