"""The compiler of the estimation kernels: numba (nopython, no GIL, cached on disk), no
fast-math, so sums run in a fixed order and results are deterministic and agree with the numpy
routes to rounding.

Compilation is deferred to the first call (:class:`Kernel`): numba picks its on-disk cache
folder when a function is decorated, so a caller that points the cache somewhere
(``NUMBA_CACHE_DIR``, e.g. the user cache folder) before the first call is obeyed.
"""

from __future__ import annotations

import importlib.util

from .numba_cache import configure as _configure_numba_cache

__all__ = ["jit", "Kernel", "HAVE_NUMBA"]

HAVE_NUMBA = importlib.util.find_spec("numba") is not None


class Kernel:
    """A python function compiled by numba on its first call (then the compiled dispatcher is
    called directly). ``py`` is the plain function (the reference the tests compare with)."""

    __slots__ = ("py", "_compiled", "__name__", "__dict__")

    def __init__(self, fn):
        self.py = fn
        self._compiled = None
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__

    def __call__(self, *args):
        c = self._compiled
        if c is None:
            _configure_numba_cache()  # the user cache folder, never the source tree
            from numba import njit

            c = self._compiled = njit(cache=True, nogil=True)(self.py)
        return c(*args)


def jit(fn):
    """``fn`` as a :class:`Kernel`, or None without numba (the callers then take numpy)."""
    if not HAVE_NUMBA:  # pragma: no cover - numba is a dependency
        return None
    return Kernel(fn)
