"""Shared test fixtures.

Real public data sets live outside the repository (never committed). Tests read them from the
local mirror named by ``ROBOCARBON_DATA`` or, by default, ``../shared/data`` beside the checkout,
and skip with a reason when the mirror is absent.
"""

from __future__ import annotations

import os

# Small dense problems run much faster single-threaded on a 2-core machine (multithreaded
# OpenBLAS made a small QR ~150x slower here); set before numpy is imported by the tests.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
from pathlib import Path

import pytest

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
