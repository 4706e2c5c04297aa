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
level, stream layout; not ``sims``, ``jobs`` or the chunking). Rerunning the same call resumes:
finished replications are read back, only the missing ones run, and duplicates (from overlapping
chunks) are dropped by (cell, replication, estimator, term). A different configuration refuses
to run in the same folder. At the end ``simulations.parquet``, ``diagnosands.csv``,
``diagnosands.parquet`` and ``manifest.json`` are written (atomically).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

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
def load_checkpoint(out: str | os.PathLike) -> pd.DataFrame:
    """All rows checkpointed in ``out/parts`` (duplicates dropped); empty frame when none."""
    parts = sorted((Path(out) / "parts").glob("part-*.parquet"))
    if not parts:
        return pd.DataFrame(columns=list(_PART_COLUMNS))
    frames = [pd.read_parquet(p) for p in parts]
    df = _normalise(pd.concat(frames, ignore_index=True))
    return df.drop_duplicates(subset=_KEY, keep="first")


def _part_name(task: ChunkTask) -> str:
    h = hashlib.sha256(",".join(map(str, task.reps)).encode()).hexdigest()[:8]
    return f"part-c{task.cell:05d}-r{task.reps[0]:08d}-{task.reps[-1]:08d}-{h}.parquet"


def _write_part(out: Path, task: ChunkTask, df: pd.DataFrame) -> None:
    with atomic_path(out / "parts" / _part_name(task)) as tmp:
        df.to_parquet(tmp, index=False)


def _prepare_out(out: Path, config: dict, chash: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "config.json"
    if cfg_path.exists():
        try:
            old = json.loads(cfg_path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"unreadable checkpoint config {cfg_path}: {exc}",
                             file=str(cfg_path)) from exc
        if old.get("hash") != chash:
            raise InputError(
                f"{out} holds a Monte Carlo run with a different configuration (hash "
                f"{old.get('hash')} != {chash}); choose another --out folder or delete it",
                file=str(cfg_path),
            )
    else:
        write_json_atomic(cfg_path, {"hash": chash, "config": _jsonable(config)})
    (out / "parts").mkdir(exist_ok=True)


# ---------------------------------------------------------------------------- executors
@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Worker processes inherit one BLAS thread each (no oversubscription of the cores)."""
    keys = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    old = {k: os.environ.get(k) for k in keys}
    for k in keys:
        os.environ[k] = "1"
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _BlasThreads:
    """Limit the OpenBLAS/MKL thread pools of this process to one thread while chunks run.

    Replications are small problems; a multi-threaded BLAS on a busy machine makes them many
    times slower (a 3,406 x 8 QR took 30 ms instead of 0.3 ms here). Works through the
    libraries' own ``*_set_num_threads`` entry points (as threadpoolctl does); reference counted
    and restored when the last chunk of this process finishes; a no-op where none is found.
    """

    _SET = ("openblas_set_num_threads", "openblas_set_num_threads64_",
            "scipy_openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
            "MKL_Set_Num_Threads")
    _GET = ("openblas_get_num_threads", "openblas_get_num_threads64_",
            "scipy_openblas_get_num_threads", "scipy_openblas_get_num_threads64_",
            "MKL_Get_Max_Threads")

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._depth = 0
        self._saved: list[tuple[Any, int]] = []
        self._libs: list[tuple[Any, Any]] | None = None

    def _find(self) -> list[tuple[Any, Any]]:
        import ctypes

        libs = []
        paths = set()
        with contextlib.suppress(OSError):
            with open("/proc/self/maps") as fh:
                for line in fh:
                    part = line.split()
                    if len(part) >= 6 and ("openblas" in part[-1].lower() or "mkl_rt" in part[-1]):
                        paths.add(part[-1])
        for path in sorted(paths):
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            setter = next((getattr(lib, n) for n in self._SET if hasattr(lib, n)), None)
            getter = next((getattr(lib, n) for n in self._GET if hasattr(lib, n)), None)
            if setter is not None and getter is not None:
                getter.restype = ctypes.c_int
                libs.append((setter, getter))
        return libs

    def __enter__(self):
        with self._lock:
            if self._depth == 0:
                if self._libs is None:
                    self._libs = self._find()
                self._saved = []
                for setter, getter in self._libs:
                    with contextlib.suppress(Exception):
                        self._saved.append((setter, int(getter())))
                        setter(1)
            self._depth += 1
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                for setter, n in self._saved:
                    with contextlib.suppress(Exception):
                        setter(n)
                self._saved = []
        return False


_BLAS = _BlasThreads()


def _run_serial(tasks):
    for t in tasks:
        yield t, run_chunk(t)


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
    with _single_threaded_blas():
        ex = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx)
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
        Replications (per grid cell).
    seed
        Root seed; replication r of cell c uses ``SeedSequence(seed, spawn_key=(c, r))``.
    jobs
        Local worker processes (1: in this process; 0 or negative: all cores).
    scheduler
        A Dask scheduler address (``tcp://host:8786``) or a ``distributed.Client``; overrides
        ``jobs``.
    out
        Checkpoint folder (see the module docstring); rerunning with the same ``out`` resumes.
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

    Returns
    -------
    simulations, diagnosands : pandas.DataFrame
        ``simulations``: columns ``cell`` (grid only), the grid parameters, ``rep, estimator,
        term, estimate, std_error, statistic, p_value, conf_low, conf_high, df_resid, nobs,
        estimand, error``, then the estimators' ``extras`` (e.g. ``first_stage_f``).
        ``diagnosands``: see :func:`robocarbon.simulate.diagnosands.diagnose_table`.
    """
    t0 = time.perf_counter()
    if isinstance(design, str):
        from .design import get_design

        design = get_design(design)
    if not hasattr(design, "draw"):
        raise InputError(f"not a design (no draw method): {design!r}")
    ests = tuple(resolve_estimators(estimators))
    sims = int(sims)
    if sims < 1:
        raise InputError(f"sims must be at least 1, got {sims}")
    seed = int(seed)
    if seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed}")
    if not 0 < level < 1 or not 0 < alpha < 1:
        raise InputError("alpha and level must lie in (0, 1)")
    cells = expand_grid(grid)
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

    done = pd.DataFrame(columns=list(_PART_COLUMNS))
    outp = Path(out) if out is not None else None
    if outp is not None:
        _prepare_out(outp, config, chash)
        done = load_checkpoint(outp)
        done = done[done["rep"] < sims]

    done_keys = set(zip(done["cell"].tolist(), done["rep"].tolist()))
    if scheduler is not None:
        workers = 4
        with contextlib.suppress(Exception):
            if not isinstance(scheduler, str):
                workers = max(1, sum(scheduler.nthreads().values()))
    else:
        jobs = int(jobs)
        if jobs <= 0:
            jobs = os.cpu_count() or 1
        workers = jobs
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
            config_hash=chash, sims=sims, jobs=None if scheduler is not None else workers,
            scheduler=(scheduler if isinstance(scheduler, str) else
                       (None if scheduler is None else type(scheduler).__name__)),
            replications_run=n_pending, replications_resumed=len(done_keys),
            outputs=["config.json", "parts/", "simulations.parquet", "diagnosands.parquet",
                     "diagnosands.csv"],
        )
    return simulations, diag
