"""The Monte Carlo engine: diagnose any design with any estimators, reproducibly and resumably.

``diagnose(design, estimators, sims, seed)`` draws ``sims`` data sets from a design (optionally
for every cell of a grid of design parameters), applies every answer strategy to each, and
returns the simulations table (one row per replication x estimator x term) and the diagnosands
table (:mod:`robocarbon.simulate.diagnosands`).

Reproducibility. Replication ``r`` of grid cell ``c`` draws from its own stream,
``default_rng(SeedSequence(seed, spawn_key=(c, r)))`` -- the same stream as
``SeedSequence(seed).spawn(n_cells)[c].spawn(sims)[r]`` -- or ``spawn_key=(r,)``
(``SeedSequence(seed).spawn(sims)[r]``) without a grid or with ``common_random_numbers=True``
(every cell then sees the same random numbers, which smooths power curves). A replication's
result therefore depends only on (seed, cell, r), never on the number of workers, the chunking,
the scheduler or the order in which chunks finish; the tables are sorted by (cell, replication,
estimator, term) at the end. Raising ``sims`` later extends a study with new replications and
keeps the old ones.

Execution. ``jobs=1`` runs in this process; ``jobs=J`` on a local ``concurrent.futures`` process
pool (``fork`` when the process has no other thread, after one warm-up draw so workers inherit
the design's caches; else ``forkserver``; else ``spawn``; every worker function is top-level);
``scheduler=ADDRESS`` (or a ``distributed.Client``) on a Dask cluster. Work goes out in chunks of replications; the
top-level function :func:`run_chunk` is what a worker executes. BLAS runs single-threaded inside a
chunk (replications are small problems; threaded BLAS on a busy machine slowed them 20-fold).

Checkpoints. With ``out=DIR`` every finished chunk is written atomically to
``DIR/parts/*.parquet`` the moment it arrives, next to ``DIR/config.json`` holding a hash of
everything that determines the results (design and parameters, grid, estimators, seed, interval
level, stream layout; not ``sims``, ``jobs`` or the chunking) and the *code key*
(:func:`code_key`: the robocarbon version, the numpy/scipy/numba versions, the Python version
and a hash of the source of every module that produces a replication). Rerunning the same call
resumes: finished replications are read back, only the missing ones run, and duplicates (from
overlapping chunks) are dropped by (cell, replication, estimator, term). A different
configuration or code key refuses to run in the same folder (``force=True`` discards the old
run's files, only those robocarbon wrote, and starts fresh). At the end ``simulations.parquet``,
``diagnosands.csv``, ``diagnosands.parquet`` and ``manifest.json`` are written (atomically).

Safety. ``DIR`` follows the output policy of :mod:`robocarbon.empirics.outputs`: it must be
absent, empty or made by robocarbon (else ``force``), and is checked before any work; sizes
(``sims`` x cells x estimators against the available memory, ``jobs``, ``chunk_size``) are
checked before anything is allocated or written. While a run works, ``DIR`` is locked
(``flock`` on the folder) against a second run of it, and at its start the temporary files an
interrupted run left (``parts/.part-*.parquet.*.tmp``, ``.simulations.parquet.*.tmp``, ...) are
removed. Pool workers exit when the parent dies, even by ``kill -9`` (``PR_SET_PDEATHSIG`` on
Linux, a thread polling ``os.getppid()`` elsewhere).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import itertools
import json
import math
import os
import re
import signal
import stat
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from robocarbon.empirics import outputs as _outputs
from robocarbon.empirics.core.threads import single_threaded_blas
from robocarbon.empirics.errors import InputError
from robocarbon.empirics.provenance import atomic_path, write_json_atomic, write_manifest

from .diagnosands import diagnose_table
from .estimators import Estimator, resolve_estimators

__all__ = [
    "diagnose",
    "run_chunk",
    "replication_rng",
    "expand_grid",
    "config_hash",
    "code_key",
    "failure_summary",
    "available_memory",
    "table_bytes",
    "load_checkpoint",
    "SIMULATION_COLUMNS",
    "ChunkTask",
]

#: columns of the simulations table (grid columns are inserted after ``cell``)
SIMULATION_COLUMNS = (
    "cell", "rep", "estimator", "term", "estimate", "std_error", "statistic", "p_value",
    "conf_low", "conf_high", "df_resid", "nobs", "estimand", "error",
)
_ORDER_COLUMNS = ("est_order", "sub_order", "term_order")
_PART_COLUMNS = ("cell", "rep") + _ORDER_COLUMNS + SIMULATION_COLUMNS[2:]
_KEY = ["cell", "rep", "est_order", "sub_order", "term_order"]
_INT_COLUMNS = ("cell", "rep", "est_order", "sub_order", "term_order", "nobs")
_STR_COLUMNS = ("estimator", "term", "error")


# ---------------------------------------------------------------------------- streams
def replication_rng(seed: int, cell: int, rep: int, *, keyed_by_cell: bool) -> np.random.Generator:
    """The generator of replication ``rep`` in grid cell ``cell``.

    ``SeedSequence(seed, spawn_key=(cell, rep))`` equals ``SeedSequence(seed).spawn(C)[cell]
    .spawn(S)[rep]``; without cell keying, ``SeedSequence(seed).spawn(S)[rep]``.
    """
    key = (int(cell), int(rep)) if keyed_by_cell else (int(rep),)
    # what default_rng(SeedSequence) builds, without its dispatch
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=key)))


# ---------------------------------------------------------------------------- grids
def expand_grid(grid: Mapping[str, Sequence[Any]] | None) -> list[dict[str, Any]]:
    """The cells of a grid (Cartesian product, the first parameter varying slowest)."""
    if not grid:
        return [{}]
    names = list(grid)
    values = []
    for k in names:
        v = grid[k]
        if isinstance(v, str | bytes) or not isinstance(v, Iterable):
            v = [v]
        v = list(v)
        if not v:
            raise InputError(f"grid parameter {k!r} has no values")
        values.append(v)
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]


# ---------------------------------------------------------------------------- config
def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating | float):
        f = float(obj)
        return f if math.isfinite(f) else repr(f)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    return repr(obj)


def _design_identity(design) -> dict[str, Any]:
    return {
        "class": f"{type(design).__module__}.{type(design).__qualname__}",
        "name": getattr(design, "name", None),
        "params": _jsonable(dict(getattr(design, "params", {}) or {})),
    }


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 (first 16 hex digits) of the canonical JSON of ``config``."""
    text = json.dumps(_jsonable(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------- code key
#: the numerical libraries whose versions can change a replication's numbers
_KEY_LIBRARIES = ("numpy", "scipy", "numba")
#: path -> (mtime_ns, size, sha256, robocarbon modules it imports), re-read when the file changes
_SOURCE_CACHE: dict[str, tuple[int, int, str, frozenset[tuple[str, ...]]]] = {}


def _locate_module(name: str, memo: dict) -> tuple[str, list[str] | None] | None:
    """(file, package search path) of module ``name`` without importing it (only its already
    imported parents are used); None when it is not a Python source file we can find."""
    import importlib.machinery
    import importlib.util

    if name in memo:
        return memo[name]
    res = None
    mod = sys.modules.get(name)
    if mod is not None and getattr(mod, "__file__", None):
        res = (mod.__file__, list(getattr(mod, "__path__", None) or []) or None)
    else:
        parent = name.rpartition(".")[0]
        spec = None
        try:
            if not parent or parent in sys.modules:
                spec = importlib.util.find_spec(name)
            else:
                ploc = _locate_module(parent, memo)
                if ploc is not None and ploc[1]:
                    spec = importlib.machinery.PathFinder.find_spec(name, ploc[1])
        except (ImportError, ValueError, AttributeError):
            spec = None
        if spec is not None and spec.origin and spec.has_location:
            res = (spec.origin, list(spec.submodule_search_locations or []) or None)
    memo[name] = res
    return res


_IMPORT = re.compile(rb"^[ \t]*import[ \t]+([\w. \t,]+)", re.M)
_FROM_IMPORT = re.compile(rb"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]+)",
                          re.M)
_MODULE_STRING = re.compile(rb"""["'](robocarbon(?:\.[A-Za-z_]\w*)+)["']""")


def _imported_names(name: str, source: bytes, is_package: bool) -> frozenset[tuple[str, ...]]:
    """Our modules that ``source`` imports anywhere (module level or inside functions,
    absolute, relative or by a ``"robocarbon...."`` string): ``(module,)`` for a module it
    needs, ``(package, name, ...)`` for ``from package import name, ...`` (where the names may
    be submodules: then the package itself is not needed). A textual scan (an import statement
    quoted in a docstring counts too, which can only add modules), 50 times faster than
    parsing."""
    package = name if is_package else name.rpartition(".")[0]
    found: set[tuple[str, ...]] = set()
    for m in _IMPORT.finditer(source):
        for part in m.group(1).decode("ascii", "replace").split(","):
            mod = part.split(" as ")[0].strip()
            if mod:
                found.add((mod.split()[0],))
    for m in _FROM_IMPORT.finditer(source):
        target = m.group(1).decode("ascii", "replace")
        level = len(target) - len(target.lstrip("."))
        mod = target[level:]
        if level:
            base = package.split(".")
            base = ".".join(base[: len(base) - level + 1])
            mod = f"{base}.{mod}" if mod else base
        names = []
        for part in m.group(2).decode("ascii", "replace").strip("()").split(","):
            word = part.split("#")[0].split(" as ")[0].strip()
            if word and word != "*" and word.isidentifier():
                names.append(word)
        found.add((mod, *names))
    for m in _MODULE_STRING.finditer(source):
        found.add((m.group(1).decode("ascii"),))
    return frozenset(m for m in found if m[0] == "robocarbon" or m[0].startswith("robocarbon."))


def _source_record(path: str, name: str) -> tuple[str, frozenset[tuple[str, ...]]] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    hit = _SOURCE_CACHE.get(path)
    if hit is not None and hit[0] == st.st_mtime_ns and hit[1] == st.st_size:
        return hit[2], hit[3]
    try:
        with open(path, "rb") as fh:
            source = fh.read()
    except OSError:
        return None
    rec = (hashlib.sha256(source).hexdigest(),
           _imported_names(name, source, os.path.basename(path) == "__init__.py"))
    _SOURCE_CACHE[path] = (st.st_mtime_ns, st.st_size, *rec)
    return rec


def _code_objects_digest(obj: Any) -> str:
    """Fallback for code without a source file (a design typed into a session): a digest of
    the bytecode of the object's functions (stable within one Python version)."""
    import marshal

    h = hashlib.sha256(sys.version.encode())
    items = vars(obj).items() if isinstance(obj, type) else [("", obj)]
    for attr, v in sorted(items, key=lambda kv: kv[0]):
        v = getattr(v, "__func__", v)
        code = getattr(v, "__code__", None)
        if code is not None:
            h.update(attr.encode())
            with contextlib.suppress(ValueError):
                h.update(marshal.dumps(code))
    return h.hexdigest()


def _fit_object(fn: Any) -> Any:
    """The function (or class) that defines an estimator's code."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    fn = getattr(fn, "__func__", fn)  # bound methods
    if not (inspect.isfunction(fn) or inspect.isclass(fn) or inspect.isbuiltin(fn)):
        fn = type(fn)  # a callable object: its class
    return fn


def code_key(design: Any, estimators: Sequence[Estimator]) -> dict[str, Any]:
    """What a checkpoint's replications were computed by: the robocarbon version, the versions
    of the numerical libraries, and a hash of the source of the code that produces a
    replication.

    The modules hashed are the one defining the design's class, the ones defining its draw
    function (a registered design's ``DesignSpec.draw_fn``), the ones defining each estimator's
    fit function, :mod:`robocarbon.simulate.estimators` and this engine, and every robocarbon
    module those import, directly or not (module level or inside functions; the engine's own
    imports are not followed: they write files and summarise, they do not compute
    replications). Code without a source file is hashed by its bytecode.
    """
    import robocarbon

    objs: list[Any] = [type(design)]
    try:
        from .design import Design, _spec

        if isinstance(design, Design):
            objs.append(_spec(design.name).draw_fn)
    except Exception:  # noqa: BLE001 - an unregistered design: its class is enough
        pass
    draw = getattr(type(design), "draw", None)
    if draw is not None:
        objs.append(draw)
    objs += [_fit_object(e.fit) for e in estimators]
    seeds: dict[str, Any] = {}
    for o in objs:
        seeds.setdefault(getattr(o, "__module__", None) or "?", o)
    seeds.setdefault("robocarbon.simulate.estimators", Estimator)

    memo: dict = {}
    hashes: dict[str, str] = {}
    todo = sorted(seeds)
    follow = set(todo)
    while todo:
        name = todo.pop()
        if name in hashes:
            continue
        loc = _locate_module(name, memo)
        rec = _source_record(loc[0], name) if loc and str(loc[0]).endswith(".py") else None
        if rec is None:
            obj = seeds.get(name)
            hashes[name] = "bytecode:" + (_code_objects_digest(obj) if obj is not None else "none")
            continue
        hashes[name] = rec[0]
        needed: set[str] = set()
        for imp in rec[1]:
            base, names = imp[0], imp[1:]
            subs = [f"{base}.{n}" for n in names if _locate_module(f"{base}.{n}", memo)]
            needed.update(subs)
            if len(subs) < len(names) or not names:  # names defined in base: base is needed
                needed.add(base)
        for m in sorted(needed):
            if m not in hashes and m not in follow:
                follow.add(m)
                todo.append(m)
    # the engine's own rows: its source, not followed further
    loc = _locate_module(__name__, memo)
    rec = _source_record(loc[0], __name__) if loc else None
    hashes[__name__] = rec[0] if rec else _code_objects_digest(_run_chunk)

    from importlib import metadata

    versions = {}
    for lib in _KEY_LIBRARIES:  # installed versions (not "whatever is imported yet")
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            versions[lib] = "not installed"
    text = json.dumps(sorted(hashes.items()), separators=(",", ":"))
    return {
        "robocarbon": robocarbon.__version__,
        "code_hash": hashlib.sha256(text.encode()).hexdigest()[:16],
        "python": "%d.%d" % sys.version_info[:2],
        "libraries": versions,
        "modules": {k: v[:12] for k, v in sorted(hashes.items())},
    }


def _key_difference(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str | None:
    """None when a checkpoint written under key ``old`` may be resumed under ``new``; else what
    differs, in words."""
    if not isinstance(old, Mapping):
        return ("was written by a robocarbon without a code key (before 0.1.0's checkpoint "
                "keys), so which code computed it is unknown")
    if (old.get("robocarbon"), old.get("code_hash"), old.get("python"), old.get("libraries")) == \
            (new["robocarbon"], new["code_hash"], new["python"], new["libraries"]):
        return None
    changed = []
    om = old.get("modules") if isinstance(old.get("modules"), Mapping) else {}
    for name, h in new["modules"].items():
        if om.get(name) != h:
            changed.append(name)
    changed += [n for n in om if n not in new["modules"]]
    libs = [f"{k} {old.get('libraries', {}).get(k)} -> {v}" for k, v in new["libraries"].items()
            if (old.get("libraries") or {}).get(k) != v]
    if old.get("python") != new["python"]:
        libs.append(f"python {old.get('python')} -> {new['python']}")
    detail = []
    if changed:
        shown = ", ".join(changed[:4]) + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
        detail.append(f"changed code: {shown}")
    if libs:
        detail.append("; ".join(libs))
    return (f"was written by robocarbon {old.get('robocarbon')} / code hash "
            f"{old.get('code_hash')}; this is robocarbon {new['robocarbon']} / code hash "
            f"{new['code_hash']}" + (f" ({'; '.join(detail)})" if detail else ""))


# ---------------------------------------------------------------------------- worker
@dataclass(frozen=True)
class ChunkTask:
    """A unit of work: replications ``reps`` of grid cell ``cell`` (design already set to it)."""

    design: Any
    estimators: tuple[Estimator, ...]
    seed: int
    cell: int
    reps: tuple[int, ...]
    keyed_by_cell: bool
    level: float = 0.95


def _fail_rows(rows, task, rep, ei, est, msg):
    terms = list(est.estimands) or [""]
    for ti, term in enumerate(terms):
        rows.append((task.cell, rep, ei, 0, ti, est.name, term, np.nan, np.nan, np.nan, -1,
                     np.nan, msg or "error", {}))


def _extra_columns(estimators) -> list[str]:
    cols: list[str] = []
    for est in estimators:
        for name in getattr(est, "extras", {}) or {}:
            if name not in cols:
                cols.append(name)
    return cols


def _dig(obj: Any, path: str) -> float:
    """A scalar from nested diagnostics by a dotted path (``first_stage_f.robot``,
    ``thresholds.0``); NaN when absent or not a number."""
    for part in path.split("."):
        try:
            if isinstance(obj, Mapping):
                obj = obj[part]
            else:
                obj = obj[int(part)]
        except (KeyError, IndexError, ValueError, TypeError):
            return float("nan")
    try:
        return float(obj)
    except (TypeError, ValueError):
        return float("nan")


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def run_chunk(task: ChunkTask) -> pd.DataFrame:
    """Run the replications of one chunk; returns its rows of the simulations table (with the
    ordering columns ``est_order, sub_order, term_order``). A top-level function, so process
    pools and Dask workers can import it. BLAS runs single-threaded while it works."""
    with _BLAS:
        return _run_chunk(task)


def _run_chunk(task: ChunkTask) -> pd.DataFrame:
    # one plain tuple per row of the table; the frame is built once per chunk, column by column
    rows: list[tuple] = []
    ests = task.estimators
    plans = [(ei, est, list(est.estimands), tuple((getattr(est, "extras", {}) or {}).items()))
             for ei, est in enumerate(ests)]
    for rep in task.reps:
        rng = replication_rng(task.seed, task.cell, rep, keyed_by_cell=task.keyed_by_cell)
        try:
            draw = task.design.draw(rng)
        except Exception as exc:  # a failed draw fails every estimator of the replication
            for ei, est in enumerate(ests):
                _fail_rows(rows, task, rep, ei, est, "draw: " + _error_text(exc))
            continue
        truth = getattr(draw, "truth", {}) or {}
        for ei, est, estimands, extra_paths in plans:
            try:
                results = est(draw)
            except Exception as exc:
                _fail_rows(rows, task, rep, ei, est, _error_text(exc))
                continue
            multi = len(results) > 1
            for ri, res in enumerate(results):
                label = f"{est.name}:{res.estimator or ri}" if multi else est.name
                terms = res.terms
                extras = {k: _dig(res.diagnostics, v) for k, v in extra_paths}
                keep = estimands or terms
                df = np.nan if res.df_resid is None else float(res.df_resid)
                cov = res.cov
                for ti, term in enumerate(keep):
                    key = est.estimand_key(term, truth)
                    theta = float(truth[key]) if key is not None else np.nan
                    if term not in terms:
                        rows.append((task.cell, rep, ei, ri, ti, label, term, np.nan, np.nan, df,
                                     res.nobs, theta, f"term {term!r} not in the result", extras))
                        continue
                    j = terms.index(term)
                    v = float(cov[j, j])  # sqrt(clip(v, 0)), as Result.std_errors
                    rows.append((task.cell, rep, ei, ri, ti, label, term, float(res.params[j]),
                                 math.sqrt(v) if v > 0.0 else (v if v != v else 0.0), df,
                                 res.nobs, theta, "", extras))
    return _chunk_frame(rows, _extra_columns(ests), task.level)


#: the pandas dtype of the text columns (what ``astype(str)`` gives in this pandas version)
_STR_DTYPE = pd.Series(["x"], dtype=object).astype(str).dtype


def _chunk_frame(rows: list[tuple], extra_cols: Sequence[str], level: float) -> pd.DataFrame:
    """The rows of one chunk as the checkpointed part: ``_PART_COLUMNS`` then the extras, with
    the dtypes of :func:`_normalise` and the inference columns of :func:`_add_inference`."""
    cols = list(zip(*rows)) if rows else [()] * 14
    ints = [np.array(cols[i], dtype=np.int64) for i in range(5)]
    est = np.array(cols[7], dtype=float)
    se = np.array(cols[8], dtype=float)
    dfr = np.array(cols[9], dtype=float)
    stat, p, low, high = _inference(est, se, dfr, level)
    data = {
        "cell": ints[0], "rep": ints[1], "est_order": ints[2], "sub_order": ints[3],
        "term_order": ints[4],
        "estimator": pd.array([str(v) for v in cols[5]], dtype=_STR_DTYPE),
        "term": pd.array([str(v) for v in cols[6]], dtype=_STR_DTYPE),
        "estimate": est, "std_error": se, "statistic": stat, "p_value": p, "conf_low": low,
        "conf_high": high, "df_resid": dfr, "nobs": np.array(cols[10], dtype=np.int64),
        "estimand": np.array(cols[11], dtype=float),
        "error": pd.array([str(v) for v in cols[12]], dtype=_STR_DTYPE),
    }
    for name in extra_cols:
        data[name] = np.array([r[-1].get(name, np.nan) for r in rows], dtype=float)
    return pd.DataFrame(data, copy=False)


#: critical values by (degrees of freedom, level): NaN df means the normal distribution
_CRIT: dict[tuple[float, float], float] = {}


def _critical(d: float, level: float) -> float:
    key = (d, level)
    q = _CRIT.get(key)
    if q is None:
        q = float(special.ndtri(0.5 + level / 2.0) if math.isnan(d)
                  else special.stdtrit(d, 0.5 + level / 2.0))
        _CRIT[key] = q
    return q


def _inference(est: np.ndarray, se: np.ndarray, dfr: np.ndarray, level: float):
    """statistic, p_value, conf_low, conf_high by the formulas of ``Result.tidy``: a t
    distribution with ``df_resid`` degrees of freedom (the normal when it is missing). The
    special functions are the ones ``scipy.stats.t``/``norm`` evaluate (``sf(x) = stdtr(df,
    -x)``, ``ppf(q) = stdtrit(df, q)``; ``ndtr``/``ndtri`` for the normal), so the numbers are
    the same to the bit without building a frozen distribution per chunk."""
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = est / se
    p = np.full(est.shape, np.nan)
    q = np.full(est.shape, np.nan)
    normal = np.isnan(dfr)
    a = np.abs(stat)
    for d in np.unique(dfr[~normal]):
        m = dfr == d
        p[m] = 2.0 * special.stdtr(d, -a[m])
        q[m] = _critical(float(d), level)
    if normal.any():
        p[normal] = 2.0 * special.ndtr(-a[normal])
        q[normal] = _critical(math.nan, level)
    return stat, p, est - q * se, est + q * se


def _add_inference(df: pd.DataFrame, level: float) -> pd.DataFrame:
    """statistic, p_value and the interval, by the same formulas as ``Result.tidy`` (a t
    distribution with ``df_resid`` degrees of freedom, the normal when it is missing)."""
    est = df["estimate"].to_numpy(dtype=float)
    se = df["std_error"].to_numpy(dtype=float)
    stat, p, low, high = _inference(est, se, df["df_resid"].to_numpy(dtype=float), level)
    out = df.assign(statistic=stat, p_value=p, conf_low=low, conf_high=high)
    extra = [c for c in df.columns if c not in _PART_COLUMNS]
    return _normalise(out[list(_PART_COLUMNS) + extra])


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    types = {c: "int64" for c in _INT_COLUMNS if c in df}
    types.update({c: "float64" for c in df.columns if c not in _INT_COLUMNS
                  and c not in _STR_COLUMNS})
    df = df.astype(types)
    for c in _STR_COLUMNS:
        if c in df:
            df[c] = df[c].astype(object).astype(str)
    return df


# ---------------------------------------------------------------------------- checkpoints
def _part_files(out: Path) -> list[Path]:
    """The checkpoint parts in ``out/parts`` (files named as :func:`_part_name` names them)."""
    folder = out / "parts"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("part-*.parquet") if _PART_NAME.match(p.name))


def load_checkpoint(out: str | os.PathLike) -> pd.DataFrame:
    """All rows checkpointed in ``out/parts`` (duplicates dropped); empty frame when none."""
    parts = _part_files(Path(out))
    if not parts:
        return pd.DataFrame(columns=list(_PART_COLUMNS))
    frames = []
    for p in parts:
        try:
            frames.append(pd.read_parquet(p))
        except Exception as exc:  # noqa: BLE001 - pyarrow raises its own error types
            raise InputError(f"checkpoint part {p.name} is unreadable ({type(exc).__name__}: "
                             f"{exc}); move it away to recompute its replications",
                             file=str(p)) from exc
    df = _normalise(pd.concat(frames, ignore_index=True))
    return df.drop_duplicates(subset=_KEY, keep="first")


def _part_name(task: ChunkTask) -> str:
    h = hashlib.sha256(",".join(map(str, task.reps)).encode()).hexdigest()[:8]
    return f"part-c{task.cell:05d}-r{task.reps[0]:08d}-{task.reps[-1]:08d}-{h}.parquet"


def _write_part(out: Path, task: ChunkTask, df: pd.DataFrame) -> None:
    with atomic_path(out / "parts" / _part_name(task)) as tmp:
        df.to_parquet(tmp, index=False)


#: the files a run writes in its folder (besides ``parts/``): discarded by ``force`` when the
#: checkpoint cannot be resumed, and swept of stale temporary copies at the start of a run
RUN_OUTPUTS = ("config.json", "simulations.parquet", "diagnosands.parquet", "diagnosands.csv",
               "manifest.json", "mde.csv", "bias_coverage.png", "bias_coverage.svg",
               "power_curve.png", "power_curve.svg")
#: a part's name (:func:`_part_name`) and the temporary copy ``atomic_path`` writes first
_PART_NAME = re.compile(r"^part-c\d+-r\d+-\d+-[0-9a-f]{8}\.parquet$")
_PART_TEMP = re.compile(r"^\.part-c\d+-r\d+-\d+-[0-9a-f]{8}\.parquet\.[A-Za-z0-9_]+\.tmp$")


def _lock_folder(out: Path) -> int | None:
    """Lock ``out`` (``flock`` on the folder itself: no lock file to leave behind) against a
    concurrent run in the same folder; the lock goes with the process. Returns the descriptor
    (None where ``fcntl`` does not exist)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        import errno

        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise InputError(f"another Monte Carlo run is using {out} right now; wait for it "
                             "to finish or choose another --out", file=str(out)) from None
        return None  # a file system without locks: run unlocked
    return fd


def _unlock_folder(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def _sweep_temporaries(out: Path, started: float) -> list[str]:
    """Remove the temporary copies an interrupted run left (a kill inside a write leaves its
    ``.NAME.XXXX.tmp``): only names of the form ``atomic_path`` gives our own outputs, only
    files older than this run, and only while the folder is locked (no other run of it is
    writing). Returns the names removed."""
    removed = []
    names = tuple(f".{n}." for n in RUN_OUTPUTS)
    candidates = [(p, _PART_TEMP.match(p.name) is not None)
                  for p in (out / "parts").glob(".part-*.tmp")]
    candidates += [(p, p.name.startswith(names)) for p in out.glob(".*.tmp")]
    for p, ours in candidates:
        if not ours or not p.name.endswith(".tmp"):
            continue
        try:
            st = p.lstat()
            if not stat.S_ISREG(st.st_mode) or st.st_mtime >= started:
                continue
            p.unlink()
            removed.append(p.relative_to(out).as_posix())
        except OSError:
            continue
    return removed


def _discard_run(out: Path) -> None:
    """Remove a previous run's files from ``out``: only files robocarbon wrote and nobody
    changed since (:func:`robocarbon.empirics.outputs.remove_own_file`). A part that cannot be
    removed would be read back into the new run, so it stops the run instead."""
    parts = out / "parts"
    for p in _part_files(out):
        _outputs.remove_own_file(p)
    for name in RUN_OUTPUTS:
        if (out / name).is_file():
            _outputs.remove_own_file(out / name)
    left = [p.name for p in _part_files(out)]
    if left:
        shown = ", ".join(left[:3]) + (f" and {len(left) - 3} more" if len(left) > 3 else "")
        raise InputError(
            f"cannot start afresh in {out}: parts/{shown} were not written by robocarbon (or "
            "were changed since), so robocarbon will not delete them, and a fresh run would "
            "read them back; move them away or choose another --out", file=str(parts))


def _prepare_out(out: Path, config: dict, chash: str, key: Mapping[str, Any], *,
                 force: bool) -> None:
    """Check the checkpoint in ``out`` (the folder is already ours and locked): resume it when
    it was written under the same configuration and code key; otherwise refuse, or with
    ``force`` discard it. Then write ``config.json`` (if new) and make ``parts/``."""
    cfg_path = out / "config.json"
    problem = None
    if cfg_path.exists():
        try:
            old = json.loads(cfg_path.read_text(encoding="utf-8"))
            if not isinstance(old, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            old = None
            problem = (f"{out} holds an unreadable checkpoint config {cfg_path.name} ({exc})")
        if old is not None:
            diff = _key_difference(old.get("key"), key)
            if diff is not None:
                problem = f"the checkpoint in {out} {diff}"
                if not force:
                    problem += ("; resuming it would mix replications computed by two versions "
                                "of the code. Use --force (force=True) to discard it and start "
                                "fresh, or choose another --out")
            elif old.get("hash") != chash:
                problem = (f"{out} holds a Monte Carlo run with a different configuration (hash "
                           f"{old.get('hash')} != {chash})")
                if not force:
                    problem += ("; choose another --out folder, or use --force (force=True) to "
                                "discard it and start fresh")
    elif _part_files(out):
        problem = f"{out}/parts holds checkpoint parts without a config.json (unknown origin)"
        if not force:
            problem += "; choose another --out, or use --force (force=True) to discard them"
    if problem is not None:
        if not force:
            raise InputError(problem, file=str(cfg_path))
        print(f"warning: {problem}; --force: discarding it and starting fresh", file=sys.stderr)
        _discard_run(out)
    if problem is not None or not cfg_path.exists():
        write_json_atomic(cfg_path, {"hash": chash, "key": dict(key), "config": _jsonable(config)})
    (out / "parts").mkdir(exist_ok=True)


# ---------------------------------------------------------------------------- executors
#: one BLAS thread while chunks run (replications are small problems; a multi-threaded BLAS
#: on a busy machine made them many times slower): the package's one helper, re-entrant, the
#: previous thread counts restored when the outermost entry exits
_BLAS = single_threaded_blas()


def _run_serial(tasks):
    for t in tasks:
        yield t, run_chunk(t)


#: ``prctl`` option: the signal a process gets when its parent dies (linux/prctl.h)
_PR_SET_PDEATHSIG = 1


def _parent_alive(pid: int) -> bool:
    if os.name != "posix":  # pragma: no cover - os.kill(pid, 0) is not a probe on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists
        return True
    return True


def _watch_parent(ppid: int, interval: float = 0.5) -> None:
    """Exit this worker as soon as its parent is gone (it is then re-parented)."""
    while True:
        time.sleep(interval)
        if os.getppid() != ppid:
            os._exit(1)


def _worker_init(main_pid: int) -> None:
    """Initializer of every pool worker: die with the parent. On Linux the kernel sends SIGTERM
    when the parent dies (``prctl(PR_SET_PDEATHSIG)``; under forkserver the parent is the fork
    server, which itself exits when the main process dies); elsewhere a daemon thread polls
    ``os.getppid()``. A worker whose main process died before this ran exits at once."""
    ppid = os.getppid()
    armed = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if not armed:
        threading.Thread(target=_watch_parent, args=(ppid,), daemon=True,
                         name="robocarbon-parent-watch").start()
    if os.getppid() != ppid or not _parent_alive(main_pid):
        os._exit(1)  # the parent died before the death signal was armed


def _pool_context():
    """``fork`` when this process runs no other thread (workers then inherit the imported
    modules and warm caches: no start-up cost); else ``forkserver`` (preloading the numerical
    stack once); else ``spawn``. Every function a worker runs is a top-level function, safe under
    all three."""
    import multiprocessing as mp
    import threading

    methods = mp.get_all_start_methods()
    if sys.platform.startswith("linux") and "fork" in methods and threading.active_count() == 1:
        return mp.get_context("fork")
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["robocarbon.simulate.engine"])
        return ctx
    return mp.get_context("spawn")  # pragma: no cover - Windows


def _run_pool(tasks, jobs):
    """Start the pool and submit every task now (before any other thread, e.g. a progress bar,
    exists); return an iterator over (task, rows) as chunks finish."""
    import concurrent.futures as cf

    ctx = _pool_context()
    with single_threaded_blas(environ=True):  # workers inherit one BLAS thread each
        ex = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx,
                                    initializer=_worker_init, initargs=(os.getpid(),))
        try:
            futs = {ex.submit(run_chunk, t): t for t in tasks}
        except BaseException:
            ex.shutdown(wait=False, cancel_futures=True)
            raise

    def results():
        try:
            for f in cf.as_completed(futs):
                yield futs[f], f.result()
        finally:
            ex.shutdown(wait=True, cancel_futures=True)

    return results()


def _run_dask(tasks, scheduler):
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover
        raise InputError("Dask scheduling needs dask[distributed] (pip install "
                         "'robocarbon[dask]')") from exc
    own = isinstance(scheduler, str)
    client = distributed.Client(scheduler) if own else scheduler
    try:
        futs = [client.submit(run_chunk, t, pure=False) for t in tasks]
        index = {f.key: t for f, t in zip(futs, tasks)}
        try:
            for f in distributed.as_completed(futs):
                yield index[f.key], f.result()
        except BaseException:
            client.cancel(futs)
            raise
    finally:
        if own:
            client.close()


def _warm_up(designs, estimators=()) -> None:
    """Draw once from the first cell (a throwaway stream) and fit every estimator on it, so
    forked workers inherit whatever the design and the estimators set up on first use
    (lambdified theory functions, compiled kernels, ...). Results are unaffected: every
    replication has its own stream."""
    with contextlib.suppress(Exception), _BLAS:
        draw = designs[0].draw(np.random.default_rng(0))
        for est in estimators:
            with contextlib.suppress(Exception):
                est(draw)


def _chunks(reps: list[int], size: int) -> Iterator[tuple[int, ...]]:
    for i in range(0, len(reps), size):
        yield tuple(reps[i : i + size])


# ---------------------------------------------------------------------------- sizes
#: bytes per cell of the results table (float64 / int64 / a pointer to a shared string)
_CELL_BYTES = 8
#: copies of the table alive at once while it is built (chunk frames, concat, sort, output)
_WORKING_COPIES = 4
#: rows per replication assumed for an estimator that keeps every term (no estimands declared)
_UNDECLARED_TERMS = 8


def _whole(value: Any, name: str, minimum: int) -> int:
    """``value`` as a whole number >= ``minimum`` (``1e6`` is accepted as 1000000)."""
    if isinstance(value, bool):
        raise InputError(f"{name} must be a whole number, got {value!r}")
    if isinstance(value, int | np.integer):
        out = int(value)
    elif isinstance(value, float | np.floating) and math.isfinite(value) and float(value).is_integer():
        out = int(value)
    else:
        raise InputError(f"{name} must be a whole number, got {value!r}")
    if out < minimum:
        raise InputError(f"{name} must be at least {minimum}, got {out}")
    return out


def available_memory() -> int | None:
    """Bytes this process may still allocate: the smaller of the memory the kernel reports as
    available (``MemAvailable``, else the physical memory) and what the control group leaves;
    None when unknown."""
    found: list[int] = []
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    if not found:
        with contextlib.suppress(AttributeError, ValueError, OSError):
            found.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        with contextlib.suppress(OSError, ValueError):
            limit = Path(limit_file).read_text().strip()
            if limit != "max" and int(limit) < 1 << 60:
                used = int(Path(usage_file).read_text().strip())
                found.append(max(0, int(limit) - used))
                break
    return min(found) if found else None


def _human_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} EB"  # pragma: no cover


def table_bytes(sims: int, n_cells: int, estimators: Sequence[Estimator]) -> tuple[int, int]:
    """(rows, bytes) of the simulations table of a run, as held in memory while it is built."""
    per_rep = sum(max(1, len(e.estimands)) if e.estimands else _UNDECLARED_TERMS
                  for e in estimators)
    rows = int(sims) * int(n_cells) * per_rep
    columns = len(_PART_COLUMNS) + len(_extra_columns(estimators))
    return rows, rows * columns * _CELL_BYTES * _WORKING_COPIES


def _check_sizes(sims: int, n_cells: int, estimators: Sequence[Estimator]) -> None:
    """Refuse, before anything is allocated or written, a run whose results table cannot fit in
    memory."""
    rows, need = table_bytes(sims, n_cells, estimators)
    have = available_memory()
    if have is None:
        have = 1 << 40  # unknown: refuse only the absurd (more than a terabyte)
    if need > have:
        per = rows // max(1, sims * n_cells)
        raise InputError(
            f"sims = {sims:,} x {n_cells:,} grid cell(s) x {per} row(s) per replication = "
            f"{rows:,} rows in the simulations table, about {_human_bytes(need)} of memory "
            f"while it is built; this machine has {_human_bytes(have)} available. Lower --sims "
            "or the grid, or split the study into several runs")


def _check_workers(jobs: Any, chunk_size: Any) -> tuple[int, int | None]:
    jobs = _whole(jobs, "jobs", 0)
    cores = os.cpu_count() or 1
    if jobs == 0:
        jobs = cores
    limit = max(8, 4 * cores)
    if jobs > limit:
        raise InputError(f"jobs = {jobs:,} would start that many worker processes on a machine "
                         f"with {cores} core(s); use at most {limit} (0 = one per core)")
    if chunk_size is not None:
        chunk_size = _whole(chunk_size, "chunk_size", 1)
    return jobs, chunk_size


# ---------------------------------------------------------------------------- failures
def failure_summary(simulations: pd.DataFrame,
                    estimators: Sequence[Estimator | str]) -> list[dict[str, Any]]:
    """Per requested estimator: replications run, replications with a failure (any of its
    rows has an error), whether it failed everywhere, and the first error message.

    A replication is a (cell, rep) pair; an estimator returning several results (labels
    ``name:sub``) counts as one.
    """
    names = [e if isinstance(e, str) else e.name for e in estimators]
    label = simulations["estimator"].astype(str)
    keys = [c for c in ("cell", "rep") if c in simulations.columns]
    out = []
    for name in names:
        mask = (label == name) | label.str.startswith(name + ":")
        sub = simulations.loc[mask]
        err = sub["error"].astype(str) != ""
        reps = sub[keys].drop_duplicates()
        bad = sub.loc[err, keys].drop_duplicates()
        first = sub.loc[err, "error"].iloc[0] if err.any() else ""
        out.append({"estimator": name, "replications": len(reps), "failed": len(bad),
                    "all_failed": bool(len(sub)) and bool(err.all()), "first_error": first})
    return out


# ---------------------------------------------------------------------------- main entry
def diagnose(
    design,
    estimators,
    sims: int,
    seed: int,
    *,
    jobs: int = 1,
    scheduler=None,
    out: str | os.PathLike | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    progress: bool = True,
    chunk_size: int | None = None,
    alpha: float = 0.05,
    level: float = 0.95,
    bootstrap: int = 200,
    common_random_numbers: bool = False,
    force: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Monte Carlo diagnosis of a design under one or more answer strategies.

    Parameters
    ----------
    design
        An object with ``draw(rng) -> Draw`` (``Draw.truth`` maps estimand names to true values)
        and, for grids, ``with_params(**kv)``; or the name of a registered design.
    estimators
        Names of registered strategies (``"twfe,iv"`` or a list), :class:`Estimator` objects,
        callables ``Draw -> Result | list[Result]``, or a mapping name -> callable.
    sims
        Replications (per grid cell). Refused before anything is allocated or written when the
        simulations table would not fit in the available memory (:func:`table_bytes`).
    seed
        Root seed; replication r of cell c uses ``SeedSequence(seed, spawn_key=(c, r))``.
    jobs
        Local worker processes (1: in this process; 0: one per core; at most
        ``max(8, 4 x cores)``). Workers exit when this process dies, even by ``kill -9``.
    scheduler
        A Dask scheduler address (``tcp://host:8786``) or a ``distributed.Client``; overrides
        ``jobs``.
    out
        Checkpoint folder (see the module docstring); rerunning with the same ``out`` resumes.
        It must be absent, empty or a folder robocarbon made (else ``force``); it is locked
        against a concurrent run while this call works.
    grid
        ``{parameter: [values]}``; every combination is a cell, with its own diagnosands.
    progress
        Show a tqdm bar on stderr (it hides itself when stderr is not a terminal).
    chunk_size
        Replications per unit of work (default: about four chunks per worker, at most 100).
    alpha, level
        Test level for power; confidence level of the intervals used for coverage.
    bootstrap
        Bootstrap resamples for the MCSE of the type-S rate and exaggeration ratio.
    common_random_numbers
        Give every grid cell the same replication streams (``spawn_key=(r,)``).
    force
        When ``out`` holds a checkpoint that cannot be resumed (written by another robocarbon
        version or other code: see :func:`code_key`; or another configuration), discard its
        files (only those robocarbon wrote and nobody changed) and start fresh, instead of
        refusing; and write into an ``out`` folder robocarbon did not create (leaving its
        other files alone). A resumable checkpoint is resumed either way.

    Returns
    -------
    simulations, diagnosands : pandas.DataFrame
        ``simulations``: columns ``cell`` (grid only), the grid parameters, ``rep, estimator,
        term, estimate, std_error, statistic, p_value, conf_low, conf_high, df_resid, nobs,
        estimand, error``, then the estimators' ``extras`` (e.g. ``first_stage_f``).
        ``diagnosands``: see :func:`robocarbon.simulate.diagnosands.diagnose_table`.

    Examples
    --------
    >>> from robocarbon.simulate.engine import diagnose
    >>> sims, diag = diagnose("paper", "twfe", 4, seed=1, progress=False)  # doctest: +SKIP
    """
    pol = _outputs.current_policy()
    if force and not pol.force:
        with _outputs.output_policy(force=True, inputs=pol.inputs):
            return _diagnose(design, estimators, sims, seed, jobs, scheduler, out, grid,
                             progress, chunk_size, alpha, level, bootstrap,
                             common_random_numbers, True)
    return _diagnose(design, estimators, sims, seed, jobs, scheduler, out, grid, progress,
                     chunk_size, alpha, level, bootstrap, common_random_numbers,
                     bool(force or pol.force))


def _diagnose(design, estimators, sims, seed, jobs, scheduler, out, grid, progress, chunk_size,
              alpha, level, bootstrap, common_random_numbers, force):
    t0 = time.perf_counter()
    started = time.time()
    if isinstance(design, str):
        from .design import get_design

        design = get_design(design)
    if not hasattr(design, "draw"):
        raise InputError(f"not a design (no draw method): {design!r}")
    ests = tuple(resolve_estimators(estimators))
    sims = _whole(sims, "sims", 1)
    seed = _whole(seed, "seed", 0)
    if not 0 < level < 1 or not 0 < alpha < 1:
        raise InputError("alpha and level must lie in (0, 1)")
    if scheduler is None:
        workers, chunk_size = _check_workers(jobs, chunk_size)
    else:
        _, chunk_size = _check_workers(1, chunk_size)
        workers = 4
        with contextlib.suppress(Exception):
            if not isinstance(scheduler, str):
                workers = max(1, sum(scheduler.nthreads().values()))
    cells = expand_grid(grid)
    _check_sizes(sims, len(cells), ests)
    grid_cols = list(cells[0]) if grid else []
    if grid:
        missing = getattr(design, "params", None)
        if isinstance(missing, Mapping):
            unknown = [k for k in grid_cols if k not in missing]
            if unknown:
                raise InputError(f"grid parameter(s) {unknown} are not parameters of design "
                                 f"{getattr(design, 'name', design)!r}; it has {sorted(missing)}")
        cell_designs = [design.with_params(**c) for c in cells]
    else:
        cell_designs = [design]
    keyed = bool(grid) and not common_random_numbers
    config = {
        "design": _design_identity(design),
        "grid": {k: list(v) for k, v in (grid or {}).items()},
        "estimators": [e.config() for e in ests],
        "seed": seed,
        "level": level,
        "streams": "spawn_key=(cell, rep)" if keyed else "spawn_key=(rep,)",
        "engine_version": 1,
    }
    chash = config_hash(config)

    outp = Path(out) if out is not None else None
    lock = None
    if outp is None:
        return _run(design, ests, sims, seed, scheduler, workers, None, grid, grid_cols, cells,
                    cell_designs, keyed, progress, chunk_size, alpha, level, bootstrap, config,
                    chash, None, t0)
    key = code_key(design, ests)
    _outputs.check_folder(outp, replace=False)  # before any work: a refused folder costs nothing
    _outputs.make_folder(outp)
    lock = _lock_folder(outp)
    try:
        if lock is not None:
            swept = _sweep_temporaries(outp, started)
            if swept:
                print(f"removed {len(swept)} temporary file(s) left by an interrupted run in "
                      f"{outp}", file=sys.stderr)
        _prepare_out(outp, config, chash, key, force=force)
        return _run(design, ests, sims, seed, scheduler, workers, outp, grid, grid_cols, cells,
                    cell_designs, keyed, progress, chunk_size, alpha, level, bootstrap, config,
                    chash, key, t0)
    finally:
        _unlock_folder(lock)


def _run(design, ests, sims, seed, scheduler, workers, outp, grid, grid_cols, cells,
         cell_designs, keyed, progress, chunk_size, alpha, level, bootstrap, config, chash, key,
         t0):
    done = pd.DataFrame(columns=list(_PART_COLUMNS))
    if outp is not None:
        done = load_checkpoint(outp)
        done = done[done["rep"] < sims]

    done_keys = set(zip(done["cell"].tolist(), done["rep"].tolist()))
    pending = [[r for r in range(sims) if (c, r) not in done_keys] for c in range(len(cells))]
    n_pending = sum(map(len, pending))
    if chunk_size is None:
        if workers == 1 and scheduler is None:
            chunk_size = 50  # a frame per chunk: fewer, larger frames in a serial run
        else:
            chunk_size = max(1, min(100, math.ceil(n_pending / (4 * workers)) if n_pending else 1))
    tasks = [
        ChunkTask(cell_designs[c], ests, seed, c, reps, keyed, level)
        for c in range(len(cells))
        for reps in _chunks(pending[c], int(chunk_size))
    ]

    new_frames: list[pd.DataFrame] = []
    if tasks:
        from tqdm.auto import tqdm

        if scheduler is not None:
            runner = _run_dask(tasks, scheduler)
        elif workers == 1:
            runner = _run_serial(tasks)
        else:
            _warm_up(cell_designs, ests)
            runner = _run_pool(tasks, workers)

        class _Bar(tqdm):  # no monitor thread: a later fork-started pool stays safe
            monitor_interval = 0

        bar = _Bar(total=n_pending, disable=None if progress else True, file=sys.stderr,
                   unit="rep", desc=f"diagnose {getattr(design, 'name', '')}".strip(),
                   dynamic_ncols=True)
        try:
            for task, df in runner:
                if outp is not None:
                    _write_part(outp, task, df)
                new_frames.append(df)
                bar.update(len(task.reps))
        finally:
            bar.close()
            runner.close()  # on an interrupt: cancel queued chunks, stop the pool or the client

    frames = [f for f in [done] + new_frames if len(f)]
    allrows = _normalise(pd.concat(frames, ignore_index=True)) if frames else done
    allrows = allrows.drop_duplicates(subset=_KEY, keep="first")
    allrows = allrows.sort_values(_KEY, kind="stable").reset_index(drop=True)
    simulations = allrows.drop(columns=list(_ORDER_COLUMNS))
    if grid:
        cell_frame = pd.DataFrame(cells)
        for k in reversed(grid_cols):
            simulations.insert(1, k, cell_frame[k].to_numpy()[simulations["cell"].to_numpy()])
    else:
        simulations = simulations.drop(columns=["cell"])
    diag = diagnose_table(simulations, by=grid_cols, alpha=alpha, bootstrap=bootstrap, seed=seed,
                          extra_columns=_extra_columns(ests))

    if outp is not None:
        with atomic_path(outp / "simulations.parquet") as tmp:
            simulations.to_parquet(tmp, index=False)
        with atomic_path(outp / "diagnosands.parquet") as tmp:
            diag.to_parquet(tmp, index=False)
        with atomic_path(outp / "diagnosands.csv") as tmp:
            diag.to_csv(tmp, index=False)
        write_manifest(
            outp, seed=seed, config=_jsonable(config), wall_time=time.perf_counter() - t0,
            config_hash=chash, code_key=key, sims=sims,
            jobs=None if scheduler is not None else workers,
            scheduler=(scheduler if isinstance(scheduler, str) else
                       (None if scheduler is None else type(scheduler).__name__)),
            replications_run=n_pending, replications_resumed=len(done_keys),
            outputs=["config.json", "parts/", "simulations.parquet", "diagnosands.parquet",
                     "diagnosands.csv"],
        )
    return simulations, diag
