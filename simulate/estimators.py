"""Named answer strategies for the Monte Carlo: each maps a simulated ``Draw`` to Results.

An :class:`Estimator` bundles a callable ``Draw -> list[Result]`` with the estimands it targets
(a mapping from a result term to the key of ``Draw.truth`` holding the true value). The engine
(:mod:`robocarbon.simulate.engine`) matches each estimate to its estimand through that mapping.

Registered strategies (see :func:`list_estimators`):

``twfe``
    The paper's equation (18): ln indco on robot and the seven controls with city and year fixed
    effects, standard errors clustered by city. Fast path: :func:`fastpath.twfe_cluster`.
``iv``
    Two-stage least squares of the same equation, robot instrumented by the leave-one-out mean
    robot penetration of the other cities of the same province and year. Fast path:
    :func:`fastpath.iv2sls_cluster`.
``did``
    Two-way fixed-effects difference in differences: the pilot-zone dummy
    D_it = 1(year >= adopt_year_i) with the controls, city and year effects, city clusters.
``threshold``
    Hansen's single-threshold fixed-effect model (equation (24)) of robot by regime of a
    threshold variable, through ``robocarbon.empirics.threshold`` (engineer D).

Custom strategies: any picklable callable ``Draw -> Result | list[Result]`` (a top-level
function, not a lambda, when running on a process pool or a Dask cluster) wrapped in
:class:`Estimator`, or passed to ``diagnose`` as ``{"name": callable}``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robocarbon.empirics.errors import InputError
from robocarbon.empirics.result import Result

from . import fastpath

__all__ = [
    "Estimator",
    "CONTROLS",
    "register",
    "get_estimator",
    "list_estimators",
    "resolve_estimators",
    "twfe",
    "twfe_general",
    "iv",
    "iv_general",
    "did",
    "did_general",
    "threshold",
]

#: the paper's control variables (Table 1), in the order of the paper
CONTROLS: tuple[str, ...] = ("edu", "urban", "lnpop", "lnpgdp", "energ", "open", "fin")
OUTCOME = "lnindco"
TREATMENT = "robot"
ENTITY = "city"
TIME = "year"
GROUP = "province"


@dataclass(frozen=True)
class Estimator:
    """A named answer strategy.

    Parameters
    ----------
    name
        Label in the simulations and diagnosands tables.
    fit
        ``Draw -> Result | list[Result]``; must be picklable for parallel runs.
    estimands
        ``{term: truth key}`` (or a tuple of candidate keys, the first present in ``Draw.truth``
        is used). Only these terms are kept in the simulations table; an empty mapping keeps every
        term, with no estimand.
    description
        One line for ``--help`` and reports.
    fast
        Whether ``fit`` uses a numpy fast path.
    extras
        ``{column: dotted path into Result.diagnostics}``: scalars carried into the simulations
        table per replication (e.g. the first-stage F, the estimated threshold) and averaged in
        the diagnosands (``mean_<column>``).
    """

    name: str
    fit: Callable[[Any], Any]
    estimands: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    description: str = ""
    fast: bool = False
    extras: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, draw) -> list[Result]:
        out = self.fit(draw)
        if isinstance(out, Result):
            return [out]
        return list(out)

    def estimand_key(self, term: str, truth: Mapping[str, Any]) -> str | None:
        cand = self.estimands.get(term)
        if cand is None:
            return None
        for key in (cand,) if isinstance(cand, str) else cand:
            if key in truth:
                return key
        return None

    def config(self) -> dict[str, Any]:
        """JSON-ready identity of the strategy (for the checkpoint's config hash)."""
        fn = self.fit
        return {
            "name": self.name,
            "fit": f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}",
            "estimands": {k: (v if isinstance(v, str) else list(v)) for k, v in self.estimands.items()},
            "extras": dict(self.extras),
        }


# ---------------------------------------------------------------------------- draw helpers
def _arrays(draw) -> Mapping[str, Any]:
    arr = getattr(draw, "arrays", None)
    return arr if isinstance(arr, Mapping) else {}


def column(draw, name: str) -> np.ndarray:
    """A column of the draw as a float array: from ``Draw.arrays`` when it has it (by name, as
    a column of ``X`` named in ``X_names``, or ``y`` for the outcome), else the panel (which a
    lazy draw then builds)."""
    arr = _arrays(draw)
    if name in arr and np.ndim(arr[name]) == 1:
        return np.asarray(arr[name], dtype=float)
    if "X" in arr and "X_names" in arr:
        names = _names_of(arr["X_names"])
        if name in names:
            return np.asarray(arr["X"], dtype=float)[:, names.index(name)]
    if name == OUTCOME and "y" in arr and np.ndim(arr["y"]) == 1:
        return np.asarray(arr["y"], dtype=float)
    panel = getattr(draw, "panel", None)
    if panel is None or name not in panel.columns:
        raise InputError(f"the simulated panel has no column {name!r}", column=name)
    return panel[name].to_numpy(dtype=float)


def _codes(draw, keys: Sequence[str], col: str) -> np.ndarray:
    arr = _arrays(draw)
    for k in keys:
        if k in arr:
            return np.asarray(arr[k], dtype=np.int64)
    panel = getattr(draw, "panel", None)
    if panel is None or col not in panel.columns:
        raise InputError(f"the simulated panel has no column {col!r}", column=col)
    return np.unique(panel[col].to_numpy(), return_inverse=True)[1].astype(np.int64).ravel()


def entity_codes(draw) -> np.ndarray:
    return _codes(draw, ("entity", "entity_codes", "city_codes"), ENTITY)


def time_codes(draw) -> np.ndarray:
    return _codes(draw, ("time", "time_codes", "year_codes"), TIME)


def group_codes(draw) -> np.ndarray:
    return _codes(draw, ("group", "province_codes", "group_codes"), GROUP)


def _names_of(obj) -> tuple[str, ...]:
    """The names in ``obj`` (a sequence or a numpy array of strings) as Python strings."""
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "U":
        return tuple(obj.tolist())  # already str: no per-element numpy scalars
    return tuple(str(v) for v in obj)


def _present_controls(draw) -> list[str]:
    cached = getattr(draw, "_mc_controls", None)
    if cached is not None:
        return list(cached)
    arr = _arrays(draw)
    have = set(arr) | set(_names_of(arr.get("X_names", ())))
    if not all(c in have for c in CONTROLS):
        # only then look at the panel (a lazy Draw builds its DataFrame on first access)
        panel = getattr(draw, "panel", None)
        have |= set(panel.columns) if panel is not None else set()
    out = [c for c in CONTROLS if c in have]
    try:
        object.__setattr__(draw, "_mc_controls", tuple(out))
    except (AttributeError, TypeError):
        pass
    return out


def _layout(draw):
    """The draw's :class:`fastpath.PanelLayout`: ``Draw.arrays["layout"]`` when the design
    provides one (computed once per design, shared and read-only), else classified from the
    entity and time codes (and cached on the draw)."""
    cache = getattr(draw, "_mc_layout", None)
    if cache is not None:
        return cache
    lay = _arrays(draw).get("layout")
    if isinstance(lay, fastpath.PanelLayout):
        return lay
    lay = fastpath.panel_layout(entity_codes(draw), time_codes(draw))
    try:
        object.__setattr__(draw, "_mc_layout", lay)
    except (AttributeError, TypeError):
        pass
    return lay


_SORTED_CONTROLS = sorted(CONTROLS)


def _twfe_arrays(draw, treatment: str, controls: Sequence[str] | None = None):
    arr = _arrays(draw)
    if controls is None and "y" in arr and "X" in arr and "X_names" in arr:
        # the usual case, decided without scanning the draw: X holds the treatment and
        # exactly the paper's controls (then every control is present)
        have = _names_of(arr["X_names"])
        if have and have[0] == treatment and sorted(have[1:]) == _SORTED_CONTROLS:
            return np.asarray(arr["y"], dtype=float), np.asarray(arr["X"], dtype=float), list(have)
    ctrl = _present_controls(draw) if controls is None else list(controls)
    names = [treatment] + ctrl
    if "y" in arr and "X" in arr and "X_names" in arr:
        have = _names_of(arr["X_names"])
        if have and have[0] == treatment and sorted(have[1:]) == sorted(ctrl):
            return np.asarray(arr["y"], dtype=float), np.asarray(arr["X"], dtype=float), list(have)
    y = column(draw, OUTCOME)
    X = np.column_stack([column(draw, c) for c in names])
    return y, X, names


# ---------------------------------------------------------------------------- strategies
def twfe(draw) -> Result:
    """The paper's eq (18) by the fast path: ln indco on robot + controls, city and year fixed
    effects, city-clustered CR1 standard errors (G - 1 degrees of freedom)."""
    y, X, names = _twfe_arrays(draw, TREATMENT)
    lay = _layout(draw)
    return fastpath.twfe_cluster(y, X, lay.entity, lay.time, names=names, layout=lay,
                                 estimator="twfe")


def _general_fit():
    try:
        mod = importlib.import_module("robocarbon.empirics.fe")
    except ImportError as exc:  # pragma: no cover - depends on engineer B's module
        raise InputError("the general estimator robocarbon.empirics.fe is not available") from exc
    fn = getattr(mod, "fit", None) or getattr(mod, "feols", None)
    if fn is None:  # pragma: no cover
        raise InputError("robocarbon.empirics.fe has neither fit nor feols")
    return fn


def twfe_general(draw) -> Result:
    """Eq (18) through the user-facing estimator ``robocarbon.empirics.fe`` (formula, DataFrame)."""
    fit = _general_fit()
    ctrl = _present_controls(draw)
    formula = f"{OUTCOME} ~ " + " + ".join([TREATMENT] + ctrl) + f" | {ENTITY} + {TIME}"
    return fit(formula, draw.panel, entity=ENTITY, time=TIME, cluster=ENTITY, vcov="cluster")


def _loo_instrument(draw) -> np.ndarray:
    arr = _arrays(draw)
    if "robot_loo" in arr:
        return np.asarray(arr["robot_loo"], dtype=float)
    panel = getattr(draw, "panel", None)
    if panel is not None and "robot_loo" in panel.columns:
        return panel["robot_loo"].to_numpy(dtype=float)
    return fastpath.leave_one_out_mean(column(draw, TREATMENT), group_codes(draw), time_codes(draw))


def _subset_layout(lay, ok: np.ndarray):
    """The layout of the rows ``ok`` of ``lay`` (codes renumbered 0..), remembered on ``lay``
    per mask: a design drops the same rows (cities alone in their province) in every draw."""
    key = ("subset", ok.tobytes())
    sub = lay.cache.get(key) if isinstance(lay, fastpath.PanelLayout) else None
    if sub is None:
        ent = np.unique(lay.entity[ok], return_inverse=True)[1].astype(np.int64).ravel()
        tim = np.unique(lay.time[ok], return_inverse=True)[1].astype(np.int64).ravel()
        sub = fastpath.panel_layout(ent, tim)
        if isinstance(lay, fastpath.PanelLayout) and len(lay.cache) < 64:
            lay.cache[key] = sub
    return sub


def iv(draw) -> Result:
    """2SLS of eq (18), robot instrumented by the leave-one-out province-year mean of robot
    (instrument (a) of the paper), city and year effects, city clusters; first-stage F in
    ``diagnostics["first_stage_f"]``. Cities alone in their province (the municipalities) have
    no instrument: their rows are dropped and counted (``nobs_dropped``, ``diagnostics
    ["dropped"]``), as a formula fit drops rows with a missing instrument."""
    y, X, names = _twfe_arrays(draw, TREATMENT)
    z = _loo_instrument(draw)
    lay = _layout(draw)
    ok = np.isfinite(z)
    dropped = int((~ok).sum())
    if dropped:
        if not ok.any():
            raise InputError("leave-one-out instrument undefined everywhere (one city per "
                             "province)", column=GROUP)
        y, X, z = y[ok], X[ok], z[ok]
        lay = _subset_layout(lay, ok)
    res = fastpath.iv2sls_cluster(
        y, X[:, 1:], X[:, 0], z, lay.entity, lay.time, exog_names=names[1:],
        endog_names=[TREATMENT], instrument_names=["robot_loo"], layout=lay, estimator="iv",
    )
    if dropped:
        res = Result(res.terms, res.params, res.cov, res.nobs, res.df_resid, res.cov_type,
                     res.estimator, nobs_dropped=dropped, r2_within=res.r2_within,
                     diagnostics={**res.diagnostics, "dropped": {"missing_instrument": dropped}},
                     spec=res.spec)
    return res


def iv_general(draw) -> Result:
    """The same 2SLS through ``robocarbon.empirics.fe`` (formula ``... | robot ~ robot_loo``)."""
    fit = _general_fit()
    ctrl = _present_controls(draw)
    data = draw.panel.copy()
    data["robot_loo"] = _loo_instrument(draw)
    formula = (f"{OUTCOME} ~ " + " + ".join(ctrl) + f" | {ENTITY} + {TIME} | "
               f"{TREATMENT} ~ robot_loo")
    data = data.loc[np.isfinite(data["robot_loo"].to_numpy())]
    return fit(formula, data, entity=ENTITY, time=TIME, cluster=ENTITY, vcov="cluster")


def did_dummy(draw) -> np.ndarray:
    """D_it = 1(year >= adopt_year_i); never-treated cities have a missing or infinite adopt year."""
    arr = _arrays(draw)
    if "D" in arr:
        return np.asarray(arr["D"], dtype=float)
    panel = draw.panel
    if "D" in panel.columns:
        return panel["D"].to_numpy(dtype=float)
    if "adopt_year" not in panel.columns:
        raise InputError("the simulated panel has neither D nor adopt_year", column="adopt_year")
    a = panel["adopt_year"].to_numpy(dtype=float)
    yr = panel[TIME].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(a) & (yr >= a), 1.0, 0.0)


def did(draw) -> Result:
    """TWFE difference in differences: ln indco on D_it and the controls, city and year fixed
    effects, city clusters (the paper's staggered-DID regression)."""
    y = column(draw, OUTCOME)
    ctrl = _present_controls(draw)
    X = np.column_stack([did_dummy(draw)] + [column(draw, c) for c in ctrl])
    lay = _layout(draw)
    return fastpath.twfe_cluster(y, X, lay.entity, lay.time, names=["D"] + ctrl, layout=lay,
                                 estimator="twfe_did")


def did_general(draw) -> Result:
    """The same TWFE DID through ``robocarbon.empirics.did.twfe_did`` (engineer C's estimator,
    which builds D from ``adopt_year`` and adds the de Chaisemartin-D'Haultfoeuille weights)."""
    from robocarbon.empirics.did import twfe_did

    return twfe_did(draw.panel, y=OUTCOME, entity=ENTITY, time=TIME, adopt="adopt_year",
                    controls=_present_controls(draw), cluster=ENTITY)


#: candidate names of the threshold variable in the simulated panel, in order of preference
THRESHOLD_VARIABLES = ("threshold_var", "hum", "internet", "scitech")
#: quantile grid points of the threshold search in the Monte Carlo (the CLI default is 400)
THRESHOLD_GRID = 100


def threshold(draw) -> Result:
    """Hansen's single-threshold model (eq 24): robot x 1(q <= g) and robot x 1(q > g), the
    controls, city and year effects, via :func:`robocarbon.empirics.threshold.threshold_fit` on
    the draw's arrays (no bootstrap test: the slopes given the estimated threshold, with
    city-clustered SE; terms ``robot_regime1`` (q <= g) and ``robot_regime2``). The threshold
    variable is the design's ``threshold_var`` column (human capital when the design has no
    threshold structure)."""
    from robocarbon.empirics.threshold import threshold_fit

    panel = draw.panel
    qcol = next((c for c in THRESHOLD_VARIABLES if c in panel.columns), None)
    if qcol is None:
        raise InputError("the simulated panel has no threshold variable "
                         f"(looked for {', '.join(THRESHOLD_VARIABLES)})")
    y, X, names = _twfe_arrays(draw, TREATMENT)
    lay = _layout(draw)
    return threshold_fit(
        y, X[:, 0], panel[qcol].to_numpy(dtype=float), lay.entity, lay.time, X[:, 1:],
        time_effects=True, n_thresholds=1, grid=THRESHOLD_GRID, bootstrap=0,
        regime_names=[TREATMENT], control_names=names[1:], q_name=qcol,
    )


# ---------------------------------------------------------------------------- registry
_REGISTRY: dict[str, Estimator] = {}


def register(est: Estimator, *, replace: bool = False) -> Estimator:
    """Add a strategy to the registry under ``est.name``."""
    if est.name in _REGISTRY and not replace:
        raise ValueError(f"estimator {est.name!r} is already registered")
    _REGISTRY[est.name] = est
    return est


register(Estimator("twfe", twfe, {"robot": "robot"},
                   "eq (18): robot + controls, city and year FE, city-clustered SE", fast=True))
register(Estimator("iv", iv, {"robot": "robot"},
                   "2SLS, robot instrumented by the leave-one-out province-year mean", fast=True,
                   extras={"first_stage_f": "first_stage_f.robot"}))
register(Estimator("did", did, {"D": ("did", "att", "D", "robot_did")},
                   "TWFE DID on the pilot-zone dummy with controls", fast=True))
register(Estimator(
    "threshold", threshold,
    {"robot_regime1": "robot_low", "robot_regime2": "robot_high"},
    "Hansen single-threshold model of robot (eq 24)", fast=True,
    extras={"threshold_hat": "thresholds.0"}))


def list_estimators() -> dict[str, str]:
    """{name: description} of the registered strategies."""
    return {k: v.description for k, v in _REGISTRY.items()}


def get_estimator(name: str) -> Estimator:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputError(
            f"unknown estimator {name!r}; choose from {', '.join(_REGISTRY)}"
        ) from None


def resolve_estimators(spec) -> list[Estimator]:
    """Estimators from a comma-separated string, a list of names/Estimators/callables, or a
    mapping {name: callable or Estimator}."""
    if isinstance(spec, str):
        spec = [s.strip() for s in spec.split(",") if s.strip()]
    if isinstance(spec, Estimator) or callable(spec) and not isinstance(spec, Mapping):
        spec = [spec]
    out: list[Estimator] = []
    if isinstance(spec, Mapping):
        for name, v in spec.items():
            if isinstance(v, Estimator):
                out.append(v if v.name == name else Estimator(name, v.fit, v.estimands,
                                                              v.description, v.fast, v.extras))
            else:
                out.append(Estimator(str(name), v))
    else:
        for v in spec:
            if isinstance(v, Estimator):
                out.append(v)
            elif isinstance(v, str):
                out.append(get_estimator(v))
            elif callable(v):
                out.append(Estimator(getattr(v, "__name__", "estimator"), v))
            else:
                raise InputError(f"not an estimator: {v!r}")
    if not out:
        raise InputError("no estimators given")
    names = [e.name for e in out]
    if len(set(names)) != len(names):
        raise InputError(f"duplicate estimator names: {names}")
    return out
