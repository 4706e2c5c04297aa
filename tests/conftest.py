"""Shared test fixtures.

Real public data sets live outside the repository (never committed). Tests read them from the
local mirror named by ``ROBOCARBON_DATA`` or, by default, ``../shared/data`` beside the checkout,
and skip with a reason when the mirror is absent.

The test run leaves the source tree as it found it: hypothesis keeps its example database (and
its other files) in the user cache folder, ``$XDG_CACHE_HOME/robocarbon/hypothesis``
(``~/.cache/robocarbon/hypothesis``; ``HYPOTHESIS_STORAGE_DIRECTORY`` overrides), numba its
compiled kernels in ``.../robocarbon/numba`` (:mod:`robocarbon.empirics.core.numba_cache`) and
pytest its cache in ``~/.cache/robocarbon/pytest`` (``cache_dir`` in pyproject.toml).
"""

from __future__ import annotations

import os

# Small dense problems run much faster single-threaded on a 2-core machine (multithreaded
# OpenBLAS made a small QR ~150x slower here); set before numpy is imported by the tests.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/robocarbon`` (``~/.cache/robocarbon`` if unset or not absolute)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache") / "robocarbon"


# hypothesis writes into ./.hypothesis (the checkout) unless told otherwise
HYPOTHESIS_DIR = Path(os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY",
                                            str(user_cache_dir() / "hypothesis")))
set_hypothesis_home_dir(HYPOTHESIS_DIR)
settings.register_profile("robocarbon",
                          database=DirectoryBasedExampleDatabase(HYPOTHESIS_DIR / "examples"))
settings.load_profile("robocarbon")

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference"


def shared_data_dir() -> Path:
    env = os.environ.get("ROBOCARBON_DATA")
    return Path(env) if env else (ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real validation data (``../shared/data``); skips when it is absent."""
    d = shared_data_dir()
    if not d.is_dir():
        pytest.skip(f"validation data mirror not found at {d} (set ROBOCARBON_DATA)")
    return d


def require_file(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"validation file {path} is absent from the data mirror")
    return path


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return REFERENCE
