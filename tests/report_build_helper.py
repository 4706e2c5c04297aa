"""Build the replication report once per test session and share it between the report tests.

Not a test module: ``tests/test_report_*.py`` import :func:`built_report`, which caches each
(seed, sims, data) build in a temporary folder removed at exit.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

SMALL_SIMS = 4
SMALL_BOOTSTRAP = 39

_ROOT = Path(tempfile.mkdtemp(prefix="robocarbon-report-tests-"))
atexit.register(shutil.rmtree, _ROOT, True)


@lru_cache(maxsize=None)
def built_report(seed: int = 11, sims: int = SMALL_SIMS, skip: tuple[str, ...] = ()):
    """(output folder, sections) of ``build_report`` on the default synthetic design, without the
    sections in ``skip``."""
    from robocarbon.reports.report import SECTIONS, build_report

    only = None if not skip else [s.id for s in SECTIONS if s.id not in skip]
    out, sections = build_report(_ROOT / f"build-{seed}-{sims}-{'-'.join(skip)}", seed=seed, sims=sims,
                                 bootstrap=SMALL_BOOTSTRAP, progress=False, only=only)
    return Path(out), tuple(sections)
