"""Panel preparation shared by the staggered-adoption DID estimators.

Every DID estimator in robocarbon (``did.py``, ``bacon.py``, ``did_cs.py``, ``did_sa.py``) takes
a long panel (one row per entity and period) with an *adoption-time* column: the first period in
which the entity is treated. Never-treated entities carry ``0``, a missing value, or ``inf`` in
that column. The treatment indicator is built from it,

    D_it = 1{ adopt_i is finite and t >= adopt_i },

so treatment is absorbing (staggered adoption). This module validates such a panel and turns it
into integer codes and numpy arrays; bad input raises :class:`InputError` naming the file, the
column and the first offending rows (spreadsheet rows: the header is row 1).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import linalg
from .data import file_rows
from .errors import InputError


def single_threaded(fn):
    """Run ``fn`` with single-threaded BLAS (``linalg.single_threaded_blas``): the regressions
    here are small and dense, where BLAS threads only cost synchronisation."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = getattr(linalg, "single_threaded_blas", None)
        if ctx is None:  # pragma: no cover - older linalg
            return fn(*args, **kwargs)
        with ctx():
            return fn(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class DidPanel:
    """A validated staggered-adoption panel (rows sorted by entity, then time).

    Attributes
    ----------
    y : outcome, shape (n,)
    X : controls, shape (n, p)
    controls : names of the columns of ``X``
    entity_codes, time_codes : integer codes 0..N-1 and 0..T-1
    entities, times : the labels behind the codes (times sorted ascending, numeric)
    time : the time value of each row
    adopt : adoption time of each row's entity (``inf`` for never treated)
    D : treatment indicator 1{t >= adopt}
    cluster_codes : codes of the cluster variable (the entity unless told otherwise)
    nobs_dropped : rows removed (missing values, ...), with the reasons in ``dropped``
    """

    y: np.ndarray
    X: np.ndarray
    controls: tuple[str, ...]
    entity_codes: np.ndarray
    time_codes: np.ndarray
    entities: np.ndarray
    times: np.ndarray
    time: np.ndarray
    adopt: np.ndarray
    D: np.ndarray
    cluster_codes: np.ndarray
    cluster_name: str
    names: dict
    dropped: dict = field(default_factory=dict)
    file: str | None = None

    @property
    def nobs(self) -> int:
        return int(self.y.shape[0])

    @property
    def nobs_dropped(self) -> int:
        return int(sum(self.dropped.values()))

    @property
    def n_entities(self) -> int:
        return int(self.entities.shape[0])

    @property
    def n_times(self) -> int:
        return int(self.times.shape[0])

    @property
    def is_balanced(self) -> bool:
        return self.nobs == self.n_entities * self.n_times

    def entity_adopt(self) -> np.ndarray:
        """Adoption time of each entity (``inf`` = never treated), indexed by entity code."""
        out = np.full(self.n_entities, np.inf)
        out[self.entity_codes] = self.adopt
        return out

    def subset(self, keep: np.ndarray, reason: str | None = None) -> DidPanel:
        """The panel restricted to rows ``keep`` (codes re-factorised); dropped rows counted under
        ``reason`` when given."""
        keep = np.asarray(keep, dtype=bool)
        if keep.all():
            return self
        ent_u, ent_c = np.unique(self.entity_codes[keep], return_inverse=True)
        tim_u, tim_c = np.unique(self.time_codes[keep], return_inverse=True)
        _, clu_c = np.unique(self.cluster_codes[keep], return_inverse=True)
        dropped = dict(self.dropped)
        if reason is not None:
            dropped[reason] = dropped.get(reason, 0) + int((~keep).sum())
        return DidPanel(
            y=self.y[keep], X=self.X[keep], controls=self.controls,
            entity_codes=ent_c.astype(np.int64), time_codes=tim_c.astype(np.int64),
            entities=self.entities[ent_u], times=self.times[tim_u], time=self.time[keep],
            adopt=self.adopt[keep], D=self.D[keep], cluster_codes=clu_c.astype(np.int64),
            cluster_name=self.cluster_name, names=self.names, dropped=dropped, file=self.file,
        )

    def balanced(self) -> DidPanel:
        """Drop entities not observed in every period (as the R did package does)."""
        counts = np.bincount(self.entity_codes, minlength=self.n_entities)
        keep = counts[self.entity_codes] == self.n_times
        return self.subset(keep, "entity not observed in every period (unbalanced panel)")


def _rows(mask: np.ndarray, index: pd.Index) -> list:
    """Spreadsheet row numbers of the offending rows (the index holds them, see
    :func:`robocarbon.empirics.data.file_rows`)."""
    return [int(i) for i in np.asarray(index)[np.asarray(mask, dtype=bool)]]


def prepare_panel(
    data: pd.DataFrame,
    *,
    y: str,
    entity: str,
    time: str,
    adopt: str,
    controls: Sequence[str] = (),
    cluster: str | None = None,
    file: str | None = None,
) -> DidPanel:
    """Validate a staggered-adoption panel and return it as arrays.

    Parameters
    ----------
    data : long panel, one row per entity and period.
    y, entity, time, adopt : column names of the outcome, entity id, period and adoption period
        (first treated period; ``0``, missing or ``inf`` for never treated).
    controls : time-varying control columns.
    cluster : cluster column (default: the entity).
    file : the file the data came from, for error messages.

    Notes
    -----
    Rows with a missing outcome, control, entity or period are dropped and counted in
    ``dropped``. An adoption time that varies within an entity, a duplicated (entity, period)
    pair, or a non-numeric period or adoption time raise :class:`InputError`.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError("data must be a pandas DataFrame", file=file)
    controls = tuple(controls or ())
    cluster = cluster or entity
    needed = [y, entity, time, adopt, *controls]
    if cluster not in needed:
        needed.append(cluster)
    for col in needed:
        if col not in data.columns:
            raise InputError(
                f"column not found; available: {', '.join(map(str, data.columns))}",
                file=file, column=col,
            )
    df = data[list(dict.fromkeys(needed))].copy()
    df.index = pd.Index(file_rows(data, np.arange(len(data))), dtype=np.int64)  # spreadsheet rows
    dropped: dict[str, int] = {}
    # numeric checks
    for col in [y, time, adopt, *controls]:
        if not pd.api.types.is_numeric_dtype(df[col]):
            conv = pd.to_numeric(df[col], errors="coerce")
            bad = conv.isna() & df[col].notna()
            if bad.any():
                raise InputError("non-numeric values", file=file, column=col, rows=_rows(bad, df.index))
            df[col] = conv
    # missing values
    for col, label in [(entity, "entity"), (time, "time"), (cluster, "cluster")]:
        miss = df[col].isna()
        if miss.any():
            dropped[f"missing {label} ({col})"] = int(miss.sum())
            df = df[~miss]
    for col in [y, *controls]:
        miss = df[col].isna() | ~np.isfinite(df[col].to_numpy(dtype=float))
        if miss.any():
            dropped[f"missing or non-finite {col}"] = int(miss.sum())
            df = df[~miss]
    if len(df) == 0:
        raise InputError("no rows left after dropping missing values", file=file, column=y)
    tvals = df[time].to_numpy(dtype=float)
    if not np.all(np.isfinite(tvals)):
        raise InputError("non-finite time values", file=file, column=time,
                         rows=_rows(~np.isfinite(tvals), df.index))
    a = df[adopt].to_numpy(dtype=float)
    a = np.where(np.isnan(a) | (a == 0), np.inf, a)
    if np.any(a == -np.inf):
        raise InputError("adoption time -inf", file=file, column=adopt, rows=_rows(a == -np.inf, df.index))
    if np.all(tvals == np.round(tvals)):
        frac = np.isfinite(a) & (a != np.round(a))
        if frac.any():
            ex = ", ".join(f"{v:g}" for v in pd.unique(a[frac])[:3])
            raise InputError(f"the adoption time must be a whole period like the time column "
                             f"(e.g. a year), got {ex}", file=file, column=adopt,
                             rows=_rows(frac, df.index))
    idx = df.index.to_numpy()
    ent_c, ent_u = pd.factorize(df[entity], sort=True)
    tim_u, tim_c = np.unique(tvals, return_inverse=True)
    tim_c = tim_c.ravel()
    # adoption time constant within entity
    first_a = np.empty(ent_u.shape[0])
    first_a[ent_c[::-1]] = a[::-1]  # the first row's value of each entity
    varies = ~((first_a[ent_c] == a) | (np.isinf(first_a[ent_c]) & np.isinf(a)))
    if varies.any():
        bad_ent = np.zeros(ent_u.shape[0], bool)
        bad_ent[ent_c[varies]] = True
        raise InputError(
            "adoption time varies within an entity (it must be the entity's first treated period)",
            file=file, column=adopt, rows=[int(i) for i in idx[bad_ent[ent_c]]],
        )
    cell = ent_c.astype(np.int64) * tim_u.shape[0] + tim_c
    order = np.argsort(cell, kind="stable")
    dup_sorted = np.zeros(cell.shape[0], bool)
    dup_sorted[1:] = cell[order][1:] == cell[order][:-1]
    if dup_sorted.any():
        dup_rows = np.sort(idx[order][dup_sorted])
        raise InputError(
            f"duplicate ({entity}, {time}) pairs", file=file, column=time, rows=[int(i) for i in dup_rows]
        )
    df = df.iloc[order]
    ent_c, tim_c, a, tv = ent_c[order], tim_c[order], a[order], tvals[order]
    clu_c, _ = pd.factorize(df[cluster], sort=True)
    ent_u = np.asarray(ent_u)
    av = a
    return DidPanel(
        y=df[y].to_numpy(dtype=float),
        X=df[list(controls)].to_numpy(dtype=float).reshape(len(df), len(controls)),
        controls=controls,
        entity_codes=np.asarray(ent_c, dtype=np.int64),
        time_codes=np.asarray(tim_c, dtype=np.int64),
        entities=ent_u,
        times=tim_u,
        time=tv,
        adopt=av,
        D=(tv >= av).astype(float),
        cluster_codes=np.asarray(clu_c, dtype=np.int64),
        cluster_name=cluster,
        names={"y": y, "entity": entity, "time": time, "adopt": adopt},
        dropped=dropped,
        file=file,
    )


def fmt_time(v: float) -> str:
    """A period label: integers without a decimal point."""
    if np.isinf(v):
        return "never"
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def time_value(v: float):
    """JSON-friendly period value (int when integral, ``None`` for never treated)."""
    if np.isinf(v):
        return None
    return int(v) if float(v).is_integer() else float(v)
