"""Where numba keeps the compiled code of our kernels: the user's cache folder, not the source tree.

numba's ``cache=True`` writes an index (``.nbi``) and the machine code (``.nbc``) of each compiled
function, by default into ``__pycache__`` beside the module, i.e. into the installed package or
the checkout. numba picks the folder when a function is *decorated* (``numba.config.CACHE_DIR``,
read from ``NUMBA_CACHE_DIR`` when numba is imported and whenever a ``NUMBA_*`` variable changes),
so every module of ours that compiles with numba calls :func:`configure` before its first
``@njit`` (:mod:`robocarbon.empirics.core.jit` before it compiles a kernel,
:mod:`robocarbon.simulate.kernels` and :mod:`robocarbon.simulate.fastpath` when imported).

The folder: ``NUMBA_CACHE_DIR`` if set (used as given); else ``$XDG_CACHE_HOME/robocarbon/numba``
(``~/.cache/robocarbon/numba`` when ``XDG_CACHE_HOME`` is unset or not absolute). numba reads its
index files with pickle, so a cache folder that someone else can write would let them run code
in this process (a shared lab ``XDG_CACHE_HOME``): the default folder is created private (0700)
and used only while it is owned by this user and not writable by group or others; otherwise
numba compiles into a private temporary folder, removed when the process ends (correct, only
slower: about 3 s of compilation per process).
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

ENV = "NUMBA_CACHE_DIR"

_configured: Path | None = None


def default_dir() -> Path:
    """``$XDG_CACHE_HOME/robocarbon/numba``, or ``~/.cache/robocarbon/numba``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "robocarbon" / "numba"


def is_private(path: Path) -> bool:
    """True if ``path`` is a folder owned by this user that group and others cannot write."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        return False
    if not hasattr(os, "getuid"):  # pragma: no cover - Windows: per-user profile folders
        return True
    return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _make_private(path: Path) -> None:
    """Create ``path`` and any missing parents with mode 0700 (existing ones are left alone)."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:  # pragma: no cover
            break
        p = p.parent
    for p in reversed(missing):
        try:
            os.mkdir(p, 0o700)
        except FileExistsError:  # created meanwhile by another process
            pass


def _private_tmp() -> Path:
    d = Path(tempfile.mkdtemp(prefix="robocarbon-numba-"))
    atexit.register(shutil.rmtree, d, ignore_errors=True)
    return d


def choose_dir() -> Path:
    """The folder numba should cache into in this process (see the module docstring)."""
    given = os.environ.get(ENV, "")
    if given:
        return Path(given)
    path = default_dir()
    try:
        _make_private(path)
    except OSError:  # read-only home and the like
        return _private_tmp()
    return path if is_private(path) else _private_tmp()


def configure() -> Path:
    """Point numba's on-disk cache at :func:`choose_dir` (once per process; before any
    ``@njit(cache=True)``) and return the folder. Sets ``NUMBA_CACHE_DIR`` too, so numba's
    config reloads and worker processes keep it."""
    global _configured
    if _configured is None:
        path = choose_dir()
        os.environ[ENV] = str(path)
        config = sys.modules.get("numba.core.config")
        if config is not None:  # numba already imported: it read the environment then
            config.CACHE_DIR = str(path)
        _configured = path
    return _configured
