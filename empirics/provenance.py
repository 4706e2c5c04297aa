"""Provenance, manifests and atomic output.

Every output file is written through :func:`robocarbon.empirics.outputs.atomic_path`: to a
temporary file in the same folder, renamed into place when complete (a failure never leaves a
half-written file), and only where the output policy allows (never over a user's file or an
input). Every output folder gets a ``manifest.json``; a single-file output gets a manifest named
after it (:func:`manifest_path`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from .outputs import atomic_path, file_sha256  # noqa: F401 - the one writer and hasher

_PACKAGES = ("robocarbon", "numpy", "scipy", "pandas", "sympy", "linearmodels", "matplotlib")


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    out = {}
    for name in _PACKAGES + tuple(extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["python"] = platform.python_version()
    return out


def git_commit() -> str | None:
    """The commit of the robocarbon checkout, if it is one (None for an installed copy)."""
    here = Path(__file__).resolve().parent
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if res.returncode != 0:
        return None
    commit = res.stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=here, capture_output=True, text=True, timeout=5,
    )
    return commit + ("-dirty" if dirty.stdout.strip() else "")


def provenance(**extra: Any) -> dict[str, Any]:
    """A provenance record: time, versions, git commit, plus whatever the caller adds."""
    rec = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "git_commit": git_commit(),
    }
    rec.update(extra)
    return rec


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def to_json(obj: Any) -> str:
    """JSON text; NaN and infinities become null (strict JSON)."""
    return json.dumps(_clean_nonfinite(obj), indent=2, default=_json_default, allow_nan=False)


def _clean_nonfinite(obj: Any) -> Any:
    import math

    import numpy as np

    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _clean_nonfinite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean_nonfinite(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean_nonfinite(obj.tolist())
    return obj


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    return write_text_atomic(path, to_json(obj) + "\n")


def manifest_path(output: str | os.PathLike) -> Path:
    """The manifest of a single-file output: ``out.json`` -> ``out.manifest.json`` beside it (a
    run's manifest never clobbers another run's)."""
    p = Path(output)
    return p.with_name(p.stem + ".manifest.json")


def write_manifest(
    outdir: str | os.PathLike | None = None,
    *,
    for_file: str | os.PathLike | None = None,
    seed: int | None = None,
    config: Mapping[str, Any] | None = None,
    inputs: list[str | os.PathLike] | None = None,
    wall_time: float | None = None,
    argv: list[str] | None = None,
    **extra: Any,
) -> Path:
    """Write ``outdir/manifest.json`` (a folder robocarbon made) or, with ``for_file``, the
    manifest named after that output file (:func:`manifest_path`): command line, seed, config,
    versions, commit, input hashes, wall time."""
    if (outdir is None) == (for_file is None):
        raise TypeError("write_manifest: give exactly one of outdir and for_file")
    rec = provenance(
        command=list(sys.argv if argv is None else argv),
        seed=seed,
        config=dict(config or {}),
        inputs={str(p): file_sha256(p) for p in (inputs or [])},
        wall_time_seconds=wall_time,
        **extra,
    )
    target = manifest_path(for_file) if for_file is not None else Path(outdir) / "manifest.json"
    return write_json_atomic(target, rec)
