"""The output policy: robocarbon never loses a user's file.

Rules, applied by every command and by every library function that writes a file:

1. A file is written to a temporary sibling and renamed into place only when complete (no
   half-written output).
2. An existing file is replaced only if robocarbon wrote it and it is unchanged since (its
   SHA-256 is the one recorded when it was written), or if the user said ``--force``
   (``force=True``). A file the user made, or edited after robocarbon wrote it, is refused.
3. An output path that resolves to an input of the same command is always refused, ``--force``
   or not: a command never writes over its own input.
4. A folder is replaced as a whole only if robocarbon created it (it holds the marker file
   :data:`LEDGER` with ``"folder_created": true``) and every file in it is one robocarbon wrote
   and nobody changed since. An empty folder may be used. Any other non-empty folder is refused;
   with ``--force`` robocarbon writes its files into it, replacing same-named files and leaving
   every other file where it is (it never deletes a file it did not create, even with
   ``--force``).

The record of what robocarbon wrote (path, SHA-256 and size of each file) is a small JSON
ledger: for files inside a folder robocarbon created, the file :data:`LEDGER` in that folder
(paths relative to it, so the folder can be moved); for files anywhere else, one ledger in the
user's cache folder (:func:`registry_file`), so robocarbon leaves no clutter in a user's folders.
It is data only; a missing, unreadable or foreign ledger means "nothing here is ours", which can
only make the policy stricter.

Commands set the policy once with :func:`output_policy` (``force`` and the input paths); library
code calls :func:`atomic_path` (or the ``write_*_atomic`` helpers of
:mod:`robocarbon.empirics.provenance`), which applies it.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import InputError

#: name of the record of robocarbon's own files in a folder (also the marker of a folder it made)
LEDGER = ".robocarbon-outputs.json"
_FORMAT = "robocarbon-outputs/1"
#: how many levels up a file's owning folder is searched for
_MAX_UP = 8
#: the central ledger is pruned of vanished files when it holds more entries than this
_PRUNE_AT = 2000


def registry_file() -> Path:
    """The central ledger of files robocarbon wrote outside its own folders:
    ``$ROBOCARBON_CACHE/outputs.json`` or ``$XDG_CACHE_HOME/robocarbon/outputs.json`` (default
    ``~/.cache/robocarbon/outputs.json``)."""
    base = os.environ.get("ROBOCARBON_CACHE")
    if base:
        return Path(base) / "outputs.json"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "robocarbon" / "outputs.json"


@dataclasses.dataclass(frozen=True)
class Policy:
    """What the current command allows: overwrite foreign files (``force``) and its inputs."""

    force: bool = False
    inputs: frozenset[Path] = frozenset()


_POLICY: contextvars.ContextVar[Policy] = contextvars.ContextVar("robocarbon_output_policy",
                                                                 default=Policy())


def _resolve(path: str | os.PathLike) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path)))).resolve()


def current_policy() -> Policy:
    return _POLICY.get()


@contextlib.contextmanager
def output_policy(*, force: bool = False, inputs: Iterable[str | os.PathLike] = ()) -> Iterator[Policy]:
    """Set the output policy for the code run inside the block (a command sets it once)."""
    pol = Policy(force=bool(force), inputs=frozenset(_resolve(p) for p in inputs if p is not None))
    token = _POLICY.set(pol)
    try:
        yield pol
    finally:
        _POLICY.reset(token)


def add_inputs(*paths: str | os.PathLike | None) -> None:
    """Declare more input files of the running command (outputs may never resolve to them)."""
    pol = _POLICY.get()
    new = frozenset(_resolve(p) for p in paths if p is not None)
    _POLICY.set(dataclasses.replace(pol, inputs=pol.inputs | new))


# ---------------------------------------------------------------------------- the ledger
def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_ledger(folder: Path, ledger_file: Path | None = None) -> dict | None:
    try:
        with open(ledger_file or folder / LEDGER, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT or not isinstance(doc.get("files"), dict):
        return None
    return doc


def _owner(path: Path) -> tuple[Path, Path, dict | None]:
    """(base folder, ledger file, its content) of the ledger that covers ``path``: the nearest
    ancestor folder robocarbon created, else the central ledger (base ``/``)."""
    cur = path.parent
    for _ in range(_MAX_UP):
        doc = _read_ledger(cur)
        if doc is not None and doc.get("folder_created"):
            return cur, cur / LEDGER, doc
        if cur.parent == cur:
            break
        cur = cur.parent
    reg = registry_file()
    return Path(path.anchor), reg, _read_ledger(reg.parent, reg)


def is_ours(path: str | os.PathLike) -> bool:
    """True if robocarbon wrote ``path`` and it has not changed since."""
    p = _resolve(path)
    if not p.is_file():
        return False
    folder, _, doc = _owner(p)
    if doc is None:
        return False
    rec = doc["files"].get(p.relative_to(folder).as_posix())
    if not isinstance(rec, dict):
        return False
    try:
        st = p.stat()
        if rec.get("size") != st.st_size:
            return False
        return rec.get("sha256") == file_sha256(p)
    except OSError:
        return False


@contextlib.contextmanager
def _locked_ledger(folder: Path, *, create_folder_marker: bool = False,
                   ledger_file: Path | None = None) -> Iterator[dict]:
    """Read-modify-write the ledger of ``folder`` (or the file ``ledger_file``) under an
    exclusive lock (workers of one run write parts concurrently)."""
    import fcntl

    path = ledger_file or folder / LEDGER
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with os.fdopen(os.dup(fd), "r+", encoding="utf-8") as fh:
            fh.seek(0)
            text = fh.read()
            try:
                doc = json.loads(text) if text.strip() else None
            except ValueError:
                doc = None
            if not isinstance(doc, dict) or doc.get("format") != _FORMAT or not isinstance(doc.get("files"), dict):
                doc = {"format": _FORMAT, "folder_created": create_folder_marker, "files": {}}
            doc.setdefault("note", "files robocarbon wrote here (it replaces only these, and only "
                                   "while unchanged); safe to delete")
            yield doc
            fh.seek(0)
            fh.truncate()
            json.dump(doc, fh, indent=1, sort_keys=True)
            fh.write("\n")
            fh.flush()
    finally:
        os.close(fd)


def record(path: str | os.PathLike) -> None:
    """Record ``path`` (just written by robocarbon) in its folder's ledger."""
    p = _resolve(path)
    folder, ledger_file, _ = _owner(p)
    rel = p.relative_to(folder).as_posix()
    st = p.stat()
    digest = file_sha256(p)
    with _locked_ledger(folder, ledger_file=ledger_file) as doc:
        files = doc["files"]
        files[rel] = {"sha256": digest, "size": st.st_size}
        if ledger_file != folder / LEDGER and len(files) > _PRUNE_AT:
            for k in [k for k in files if not (folder / k).is_file()]:
                del files[k]


def _forget(path: Path) -> None:
    folder, ledger_file, doc = _owner(path)
    if doc is None:
        return
    with _locked_ledger(folder, ledger_file=ledger_file) as d:
        d["files"].pop(path.relative_to(folder).as_posix(), None)


# ---------------------------------------------------------------------------- checks
def _refuse(message: str, path: Path | str) -> InputError:
    return InputError(message, file=str(path))


def _check_creatable(folder: Path, what: str, path) -> None:
    """The nearest existing ancestor of ``folder`` must be a writable folder."""
    anc = folder
    while not anc.exists() and anc.parent != anc:
        anc = anc.parent
    if not anc.is_dir():
        raise _refuse(f"cannot create the {what}: {anc} is a file, not a folder", path)
    if not os.access(anc, os.W_OK):
        raise _refuse(f"cannot write the {what}: folder {anc} is not writable", path)


def check_file(path: str | os.PathLike, *, what: str = "output") -> Path:
    """Raise :class:`InputError` unless ``path`` may be written now under the current policy.

    Call it for every output of a command *before* any work, so a refused output costs nothing.
    """
    pol = _POLICY.get()
    p = _resolve(path)
    if p in pol.inputs:
        raise _refuse(f"the {what} file is an input of this command; robocarbon never writes over "
                      "its own input (choose another path)", path)
    if p.is_dir():
        raise _refuse(f"the {what} path is a folder; give a file name", path)
    _check_creatable(p.parent, what, path)
    if p.exists() and not pol.force and not is_ours(p):
        raise _refuse(f"the {what} file exists and robocarbon did not write it (or it was changed "
                      "since); use --force to overwrite it, or choose another path", path)
    return p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, check: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success, after
    the output policy allowed it; record the written file as robocarbon's."""
    target = Path(path)
    if check:
        check_file(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            # mkstemp creates 0600; give the file the permissions a plain open() would
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_path, 0o666 & ~umask)
        if check and target.exists() and not _POLICY.get().force and not is_ours(target):
            raise _refuse("the output file appeared while robocarbon was working and is not "
                          "robocarbon's; it was left alone", target)
        os.replace(tmp_path, target)
        record(target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


# ---------------------------------------------------------------------------- folders
def _foreign_files(folder: Path) -> list[str]:
    """Files in ``folder`` (recursively) that robocarbon did not write or that changed since."""
    doc = _read_ledger(folder)
    files = doc["files"] if doc is not None and doc.get("folder_created") else {}
    bad = []
    for p in sorted(folder.rglob("*")):
        if p.is_dir() and not p.is_symlink():
            continue
        rel = p.relative_to(folder).as_posix()
        if rel == LEDGER:
            continue
        rec = files.get(rel)
        try:
            ok = (isinstance(rec, dict) and not p.is_symlink() and p.stat().st_size == rec.get("size")
                  and file_sha256(p) == rec.get("sha256"))
        except OSError:
            ok = False
        if not ok:
            bad.append(rel)
    return bad


def folder_state(path: str | os.PathLike) -> str:
    """``"absent"``, ``"empty"``, ``"ours"`` (made by robocarbon, every file robocarbon's and
    unchanged), ``"ours-modified"`` (made by robocarbon but holding other or changed files), or
    ``"foreign"``."""
    p = _resolve(path)
    if not p.exists():
        return "absent"
    if not p.is_dir():
        return "file"
    entries = [e for e in p.iterdir() if e.name != LEDGER]
    doc = _read_ledger(p)
    if not entries:
        return "empty"
    if doc is None or not doc.get("folder_created"):
        return "foreign"
    return "ours-modified" if _foreign_files(p) else "ours"


def check_folder(path: str | os.PathLike, *, replace: bool = True, what: str = "output folder") -> Path:
    """Raise :class:`InputError` unless ``path`` may be used as an output folder now.

    ``replace=True``: the folder will be replaced as a whole (``replicate``); ``False``: files
    are added to it (a resumable Monte Carlo folder, which must be robocarbon's own).
    """
    pol = _POLICY.get()
    p = _resolve(path)
    inside = sorted(str(i) for i in pol.inputs if i == p or p in i.parents)
    if inside:
        raise _refuse(f"the {what} holds an input of this command ({inside[0]}); robocarbon never "
                      "writes over its own input (choose another folder)", path)
    state = folder_state(p)
    if state == "file":
        raise _refuse(f"the {what} path is a file, not a folder", path)
    _check_creatable(p, what, path)
    if state in ("absent", "empty", "ours") or pol.force:
        return p
    if state == "ours-modified" and not replace:
        return p  # adding to a folder robocarbon made (e.g. resuming a Monte Carlo run)
    foreign = _foreign_files(p)
    shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
    reason = ("it was not created by robocarbon" if state == "foreign"
              else "robocarbon created it, but it now holds files robocarbon did not write or that were changed since")
    raise _refuse(f"the {what} is not empty and {reason} ({shown}); robocarbon will not delete or "
                  "overwrite them. Choose a new folder, or use --force to write into it (other "
                  "files are left in place)", path)


def make_folder(path: str | os.PathLike) -> Path:
    """Create ``path`` (if absent) as a folder robocarbon owns; an empty folder becomes ours.
    A non-empty folder is used only if it is robocarbon's (or with ``--force``)."""
    p = check_folder(path, replace=False)
    had_files = p.is_dir() and any(e.name != LEDGER for e in p.iterdir())
    p.mkdir(parents=True, exist_ok=True)
    if not had_files:
        with _locked_ledger(p, create_folder_marker=True) as doc:
            doc["folder_created"] = True
    return p


def staging_folder(out: str | os.PathLike) -> Path:
    """A fresh temporary folder beside ``out`` (marked as robocarbon's) to build it in."""
    out = _resolve(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    with _locked_ledger(tmp, create_folder_marker=True) as doc:
        doc["folder_created"] = True
    return tmp


def commit_folder(tmp: Path, out: str | os.PathLike) -> Path:
    """Put the finished staging folder ``tmp`` in place of ``out`` under the policy (see the
    module docstring): replace an absent, empty or clean robocarbon folder; with ``--force``
    merge into any other folder, leaving its other files alone."""
    out = check_folder(out, replace=True)
    state = folder_state(out)
    if state == "absent":
        os.replace(tmp, out)
        return out
    if state == "empty":
        with contextlib.suppress(FileNotFoundError):
            (out / LEDGER).unlink()
        out.rmdir()
        os.replace(tmp, out)
        return out
    if state == "ours":
        backup = out.with_name(f".{out.name}.old.{os.getpid()}")
        os.replace(out, backup)
        os.replace(tmp, out)
        shutil.rmtree(backup, ignore_errors=True)
        return out
    # --force into a folder that is not (only) ours: move our files in, one by one
    new = _read_ledger(tmp) or {"files": {}}
    for rel in sorted(new["files"]):
        src = tmp / rel
        dst = out / rel
        if dst.is_dir():
            raise _refuse("cannot write an output over a folder of the same name", dst)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
        record(dst)
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def remove_own_file(path: str | os.PathLike) -> bool:
    """Delete ``path`` only if robocarbon wrote it and it is unchanged (True if removed)."""
    p = _resolve(path)
    if not is_ours(p):
        return False
    p.unlink()
    _forget(p)
    return True


def disk_error_message(exc: OSError) -> str:
    """A one-line explanation of an OS error while writing outputs."""
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    if exc.errno == errno.ENOSPC:
        return f"no space left on the device{where}; free some space or choose another --out"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"permission denied{where}: the folder is read-only or not yours"
    if exc.errno == errno.EISDIR:
        return f"is a folder, not a file{where}"
    if exc.errno == errno.ENOTDIR:
        return f"a path component is a file, not a folder{where}"
    if exc.errno == errno.ENOENT:
        return f"file or folder not found{where}"
    return f"{exc.strerror or type(exc).__name__}{where}"
