"""One BLAS thread while the small dense regressions of this package run.

The regressions here are small (n in the thousands, k in the tens): BLAS threads only add
synchronisation, and on a loaded machine a multithreaded QR of a 1444 x 18 matrix was measured
100-300x slower than single-threaded (the IV fast path: 23.5 ms per call threaded, 0.86 ms
single-threaded). Every public estimator that factorises matrices enters
:func:`single_threaded_blas`; the Monte Carlo engine enters it once around a chunk of
replications, so the estimators' own entries inside are nested and cost a counter increment.

The thread pools are found and set by threadpoolctl (OpenBLAS, MKL, BLIS, ...: every BLAS
loaded when the first outermost entry happens); the previous thread counts are restored when
the outermost entry exits. The state is per process and shared by its threads (the BLAS thread
count is process-global): a lock guards it. A process forked while inside keeps one thread.
"""

from __future__ import annotations

import contextlib
import os
import threading

__all__ = ["single_threaded_blas", "THREAD_ENV"]

_LOCK = threading.Lock()
_STATE = {"depth": 0, "limiter": None, "controller": None, "pid": None}

#: environment variables read by the BLAS and OpenMP runtimes when a process starts
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _controller():
    """The process's threadpoolctl controller, built on first use (it scans the loaded
    libraries: a few milliseconds), again after a fork, and when a BLAS was loaded since."""
    ctl = _STATE["controller"]
    if ctl is None or _STATE["pid"] != os.getpid():
        try:
            from threadpoolctl import ThreadpoolController

            import numpy  # noqa: F401 - load numpy's and scipy's BLAS before the scan
            import scipy.linalg  # noqa: F401

            ctl = ThreadpoolController()
        except Exception:  # pragma: no cover - never fail an estimate over thread counts
            ctl = False
        _STATE["controller"] = ctl
        _STATE["pid"] = os.getpid()
    return ctl


class single_threaded_blas(contextlib.ContextDecorator):
    """Context manager (and decorator): run BLAS single-threaded, then restore the previous
    thread counts.

    Re-entrant and cheap when nested (a counter under a lock, about a microsecond): only the
    outermost entry talks to the libraries (about 10 us). Never raises over thread counts: where
    no BLAS can be controlled it does nothing.

    ``environ=True`` also sets the variables of :data:`THREAD_ENV` to 1 while inside (restored
    on exit), for starting worker processes: a spawned or forkserver child reads them when its
    BLAS loads (a forked child inherits the one thread directly).

    Examples
    --------
    >>> import numpy as np
    >>> from robocarbon.empirics.core.threads import single_threaded_blas
    >>> with single_threaded_blas():
    ...     q, r = np.linalg.qr(np.eye(3))
    """

    __slots__ = ("environ", "_saved_env")

    def __init__(self, *, environ: bool = False):
        self.environ = bool(environ)
        self._saved_env = None

    def __enter__(self):
        if self.environ:
            self._saved_env = {k: os.environ.get(k) for k in THREAD_ENV}
            for k in THREAD_ENV:
                os.environ[k] = "1"
        with _LOCK:
            if _STATE["depth"] == 0:
                ctl = _controller()
                limiter = None
                if ctl:
                    try:
                        limiter = ctl.limit(limits=1, user_api="blas")
                    except Exception:  # pragma: no cover
                        limiter = None
                _STATE["limiter"] = limiter
            _STATE["depth"] += 1
        return self

    def __exit__(self, *exc):
        with _LOCK:
            _STATE["depth"] -= 1
            if _STATE["depth"] <= 0:
                _STATE["depth"] = 0
                limiter, _STATE["limiter"] = _STATE["limiter"], None
                if limiter is not None:
                    with contextlib.suppress(Exception):
                        limiter.restore_original_limits()
        if self._saved_env is not None:
            for k, v in self._saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            self._saved_env = None
        return False


def blas_depth() -> int:
    """How many :func:`single_threaded_blas` entries are open in this process (for tests)."""
    return int(_STATE["depth"])
