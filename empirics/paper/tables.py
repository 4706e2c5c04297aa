"""The paper's tables, one documented function each: a panel in, Results and tidy tables out.

Every function takes the panel (a long DataFrame in the documented schema: ``city``, ``year``,
``lnindco``, ``robot``, the controls and the optional columns a table needs) and keyword-only
options, and returns a :class:`PaperTable`. A table that needs a column the panel lacks raises
:class:`Unavailable` with the reason; parts of a table that cannot run are listed in
``PaperTable.notdone``. Randomness (bootstrap, permutations) comes from one ``seed`` argument:
an integer, a :class:`numpy.random.Generator` or ``None``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..result import Result
from . import specs as S
from .verdicts import stars_count

TIDY_COLUMNS = ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high")


class Unavailable(InputError):
    """A paper table (or part) cannot be computed on this panel; the message says why."""


@lru_cache(maxsize=1)
def _published_text() -> str:
    return resources.files(__package__).joinpath("published.json").read_text(encoding="utf-8")


def load_published() -> dict[str, Any]:
    """The paper's printed numbers (Tables 1-3 and the sample), as a fresh dict.

    Source: Huang and Jiang, "Digital Low-carbon Road: Industrial Robots and Urban Industrial
    Carbon Emissions", Tables 1-3, transcribed in ``shared/paper/published.json``; this package
    holds the copy (``robocarbon/empirics/paper/published.json``). Table 3 triplets are
    ``[coef, se, stars]``.
    """
    return json.loads(_published_text())


# ---------------------------------------------------------------------------- the result type
@dataclass(frozen=True)
class Model:
    """One column of a paper table: its label, its :class:`Result`, the focal term (the robot
    regressor under whatever name the column gives it) and what the specification was."""

    label: str
    result: Result
    term: str
    info: Mapping[str, Any] = field(default_factory=dict)

    def coef(self, term: str | None = None) -> dict[str, float]:
        """``estimate, std_error, statistic, p_value, conf_low, conf_high`` of ``term`` (default
        the focal term)."""
        return coef(self.result, self.term if term is None else term)


@dataclass(frozen=True)
class PaperTable:
    """A paper table computed on one panel.

    Attributes
    ----------
    id, title : the table's id (as in the report) and caption.
    models : the columns, in the paper's order (:class:`Model`).
    published : the paper's printed numbers for this table (from ``published.json``), or
        ``None`` where the paper's numbers are not transcribed.
    notdone : the parts of the table not computed on this panel, each with the reason.
    data : other computed output (descriptive statistics, group tests, settings used).
    tidy : the long table: one row per model and term with ``model, term, estimate, std_error,
        statistic, p_value, conf_low, conf_high, nobs`` (for Table 1 and the heterogeneity table
        the rows of their statistics).
    """

    id: str
    title: str
    models: tuple[Model, ...] = ()
    published: Any = None
    notdone: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    tidy: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def results(self) -> list[Result]:
        """The :class:`Result` of every column, in order."""
        return [m.result for m in self.models]

    @property
    def labels(self) -> list[str]:
        return [m.label for m in self.models]

    def __getitem__(self, label: str) -> Model:
        for m in self.models:
            if m.label == label:
                return m
        raise KeyError(f"no column {label!r}; columns: {self.labels}")

    def named_results(self) -> dict[str, Result]:
        """``{label: Result}``."""
        return {m.label: m.result for m in self.models}


def coef(res: Result, term: str) -> dict[str, float]:
    """One row of ``res.tidy()`` as a dict of floats."""
    t = res.tidy().set_index("term").loc[term]
    return {k: float(t[k]) for k in TIDY_COLUMNS}


def _tidy_of(models: Sequence[Model]) -> pd.DataFrame:
    frames = []
    for m in models:
        t = m.result.tidy().copy()
        t.insert(0, "model", m.label)
        t["nobs"] = m.result.nobs
        frames.append(t)
    if not frames:
        return pd.DataFrame(columns=["model", "term", *TIDY_COLUMNS, "nobs"])
    return pd.concat(frames, ignore_index=True)


def _table(id: str, title: str, models: Sequence[Model], **kw: Any) -> PaperTable:
    return PaperTable(id, title, tuple(models), tidy=_tidy_of(models), **kw)


def require(panel: pd.DataFrame, *cols: str, why: str = "") -> None:
    """Raise :class:`Unavailable` naming the columns of ``cols`` the panel lacks."""
    missing = [c for c in cols if c not in panel.columns]
    if missing:
        raise Unavailable(
            f"the panel has no column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
            + (f" ({why})" if why else "")
        )


def controls_of(panel: pd.DataFrame) -> list[str]:
    """The paper's controls present in the panel, in the paper's order."""
    return [c for c in S.CONTROLS if c in panel.columns]


def _fit(formula: str, data: pd.DataFrame, **kw: Any) -> Result:
    from .. import fe

    return fe.fit(formula, data, entity=S.ENTITY, time=S.TIME, cluster=S.CLUSTER, **kw)


def _robot_term(res: Result, base: str = S.TREATMENT) -> str:
    for t in res.terms:
        if t == base or t.replace(" ", "").startswith(f"l({base},"):
            return t
    raise KeyError(f"no {base} term in {res.terms}")


def _interaction_term(res: Result, col: str, base: str = S.TREATMENT) -> str:
    for t in res.terms:
        if set(t.replace(" ", "").split(":")) == {base, col}:
            return t
    raise KeyError(f"no {base} x {col} interaction in {res.terms}")


def _ints(seed: Any):
    """An integer-seed source from ``seed`` (int, Generator or None)."""
    rng = np.random.default_rng(seed)
    return lambda: int(rng.integers(0, 2**31 - 1))


# ---------------------------------------------------------------------------- Table 1
def table1(panel: pd.DataFrame) -> PaperTable:
    """Table 1: descriptive statistics (n, mean, sample SD with n - 1, max, min) of the outcome,
    robot penetration and the seven controls, each over its non-missing values.

    ``data["rows"]``: one dict per variable present; ``data["missing"]``: the variables absent;
    ``tidy``: ``variable, statistic, value``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> p = pd.DataFrame({"city": [1, 1, 2, 2], "year": [1, 2, 1, 2],
    ...                   "lnindco": [1.0, 2.0, 3.0, 4.0], "robot": [0.5, 0.5, 1.5, 2.5]})
    >>> t = table1(p)
    >>> t.data["rows"][0]["mean"], t.data["missing"][:2]
    (2.5, ['edu', 'urban'])
    """
    rows = []
    for v in S.TABLE1_VARS:
        if v not in panel.columns:
            continue
        x = pd.to_numeric(panel[v], errors="coerce").dropna()
        rows.append({"variable": v, "n": int(x.size), "mean": float(x.mean()), "sd": float(x.std(ddof=1)),
                     "max": float(x.max()), "min": float(x.min())})
    missing = [v for v in S.TABLE1_VARS if v not in panel.columns]
    tidy = pd.DataFrame([{"variable": r["variable"], "statistic": k, "value": r[k]}
                         for r in rows for k in ("n", "mean", "sd", "max", "min")],
                        columns=["variable", "statistic", "value"])
    return PaperTable("table1", "Table 1. Descriptive statistics", (), load_published()["table1"],
                      tuple(f"{v}: no column {v} in the panel" for v in missing),
                      {"rows": rows, "missing": missing}, tidy)


def table1_beside(table: PaperTable) -> list[dict[str, Any]]:
    """Table 1's published statistics beside ours: rows ``item, stat, published, ours``."""
    pub = table.published
    out = []
    for r in table.data["rows"]:
        if r["variable"] in pub:
            for stat in ("mean", "sd", "max", "min"):
                out.append({"item": r["variable"], "stat": stat, "published": pub[r["variable"]][stat],
                            "ours": r[stat]})
    return out


# ---------------------------------------------------------------------------- Table 2
def table2(panel: pd.DataFrame) -> PaperTable:
    """Table 2: two-way fixed effects of ln carbon intensity on robot penetration, equation (18).

    Column (1) has no controls; (2) adds the controls; (3)-(7) replace robot by its 1-5 year
    lags (``l(robot, k)``; each lag drops the first k years of every city). City and year fixed
    effects, city-clustered CR1 standard errors (fixest/reghdfe small-sample convention); gaps
    in a city's years are missing lags, not errors. ``Model.info``: ``lag`` and ``controls``.
    """
    controls = controls_of(panel)
    models = []
    for label, lag, with_controls in S.TABLE2_COLUMNS:
        x = S.lag_term(S.TREATMENT, lag)
        formula = S.fe_formula(S.OUTCOME, [x], controls if with_controls else [])
        res = _fit(formula, panel, on_gap="missing")
        models.append(Model(label, res, _robot_term(res), {"lag": lag, "controls": with_controls,
                                                         "formula": formula}))
    return _table("table2", "Table 2. Robot penetration and ln industrial carbon intensity (city and year FE)",
                  models, published=load_published()["table2"], data={"controls": controls})


def table2_beside(table: PaperTable) -> list[dict[str, Any]]:
    """Table 2's printed numbers beside ours (coefficient, SE, stars, constant, N, R² with FE)."""
    beside = []
    for m, r in zip(table.models, table.published):
        c = m.coef()
        lab = f"col {m.label} (lag {m.info['lag']}{', controls' if m.info['controls'] else ''})"
        ic = m.result.diagnostics.get("intercept") or {}
        beside += [
            {"quantity": f"{lab}: coefficient", "published": r["coef"], "ours": c["estimate"], "kind": "coef"},
            {"quantity": f"{lab}: SE", "published": r["se"], "ours": c["std_error"]},
            {"quantity": f"{lab}: stars", "published": r["stars"], "ours": float(stars_count(c["p_value"])),
             "kind": "stars"},
            {"quantity": f"{lab}: constant", "published": r["constant"], "ours": ic.get("estimate")},
            {"quantity": f"{lab}: N", "published": r["nobs"], "ours": float(m.result.nobs)},
            {"quantity": f"{lab}: R² (with FE)", "published": r["r2"], "ours": m.result.r2_with_fe},
        ]
    return beside


# ---------------------------------------------------------------------------- IV
def iv(panel: pd.DataFrame) -> PaperTable:
    """The IV-2SLS table: robot instrumented by each of the paper's four instruments on its own.

    (a) the mean robot of the other cities of the province (needs ``province``); (b) robot(t-1)
    x (robot(t) - robot(t-1)); (c) US manufacturing robot penetration (needs ``us_robot``, which
    must vary across cities: a series by year alone is absorbed by the year effects); (d) Lewbel
    (2012) heteroskedasticity-based instruments from the controls. Controls, city and year
    fixed effects, city-clustered SE; the first stage, Kleibergen-Paap and Cragg-Donald
    statistics are in each ``Result.diagnostics``. ``data["ols"]`` is Table 2 column 2 on the
    same rows. Model labels: ``(a)``-``(d)``; ``Model.info``: ``name`` and ``instruments``.
    """
    from .. import instruments as ins

    d = panel.copy()
    ctrl = controls_of(panel)
    specs: list[tuple[str, list[str]]] = []
    notdone = []
    if S.IV_PROVINCE_COLUMN in d.columns:
        d["_z_loo"] = ins.leave_one_out_mean(d, S.TREATMENT, group=S.IV_PROVINCE_COLUMN, time=S.TIME)
        specs.append(("a", ["_z_loo"]))
    else:
        notdone.append("(a) leave-one-out province mean: no column province")
    d["_z_lagdiff"] = ins.lag_times_difference(d, S.TREATMENT, entity=S.ENTITY, time=S.TIME)
    specs.append(("b", ["_z_lagdiff"]))
    if S.IV_US_COLUMN in d.columns:
        specs.append(("c", [S.IV_US_COLUMN]))
    else:
        notdone.append("(c) US manufacturing robot penetration: no column us_robot (an external "
                       "series by year; the synthetic design has none)")
    if ctrl:
        lw = ins.lewbel(d, S.TREATMENT, ctrl, fixed_effects=list(S.FIXED_EFFECTS), prefix="_lewbel_")
        d = pd.concat([d, lw], axis=1)
        specs.append(("d", list(lw.columns)))
    else:
        notdone.append("(d) Lewbel instruments: no controls to generate them from")
    models = []
    for key, z in specs:
        formula = S.iv_formula(S.OUTCOME, S.TREATMENT, z, ctrl)
        res = _fit(formula, d, on_gap="missing")
        models.append(Model(f"({key})", res, S.TREATMENT, {"name": S.IV_LABELS[key], "instruments": z,
                                                           "formula": formula}))
    ols = _fit(S.fe_formula(S.OUTCOME, [S.TREATMENT], ctrl), d)
    return _table("iv", "IV-2SLS: robot instrumented, each instrument on its own", models,
                  notdone=tuple(notdone), data={"ols": ols, "controls": ctrl})


def iv_diagnostics(model: Model) -> dict[str, Any]:
    """The weak-instrument numbers of one IV column: first-stage F, KP rk LM (and p), Cragg-Donald
    Wald F, KP rk Wald F, the Stock-Yogo 10% critical values (size, bias; ``None`` where not
    tabulated) and the number of instruments."""
    w = model.result.diagnostics["weak_iv"]
    fs = model.result.diagnostics["first_stage"][S.TREATMENT]
    sy = w["stock_yogo"]
    return {"instruments": len(model.info["instruments"]), "first_stage_f": fs["f_statistic"],
            "kp_rk_lm": w["kp_rk_lm"], "kp_rk_lm_pvalue": w["kp_rk_lm_pvalue"],
            "cragg_donald_f": w["cragg_donald_f"], "kp_rk_wald_f": w["kp_rk_wald_f"],
            "stock_yogo_size_10": sy["size"].get("0.10"), "stock_yogo_bias_10": sy["bias"].get("0.10")}


# ---------------------------------------------------------------------------- DID
def did(panel: pd.DataFrame, *, bootstrap: int = 299, seed: Any = None) -> PaperTable:
    """The staggered DID of the two-integration pilot zones (needs ``adopt_year``).

    TWFE with and without the controls (the paper's estimate), and, without controls, the TWFE
    event study (leads 5, lags 6, reference -1, endpoints binned), the Goodman-Bacon
    decomposition, Callaway-Sant'Anna (never-treated controls, multiplier bootstrap with
    ``bootstrap`` draws and ``seed``) and Sun-Abraham (reference -1). Runs
    :func:`robocarbon.empirics.did_suite.did_suite`, the same orchestration as ``robocarbon
    did``. Model labels: ``twfe``, ``twfe_controls`` (absent without controls), ``event``,
    ``bacon``, ``cs``, ``sa``.
    """
    from ..did_suite import did_suite

    require(panel, S.DID_ADOPT, why="the pilot-zone adoption year; never-treated cities 0 or missing")
    ctrl = controls_of(panel)
    kw = dict(y=S.OUTCOME, entity=S.ENTITY, time=S.TIME, adopt=S.DID_ADOPT)
    with_controls = did_suite(panel, **kw, controls=ctrl, methods=("twfe",)).results
    rest = did_suite(panel, **kw, methods=("event", "bacon", "cs", "sa"), leads=S.DID_EVENT_LEADS,
                     lags=S.DID_EVENT_LAGS, ref=S.DID_REF, bin_endpoints=True,
                     control_group=S.DID_CONTROL_GROUP, n_boot=bootstrap,
                     seed=_ints(seed)() if not isinstance(seed, int) else seed).results
    res = {"twfe": with_controls["twfe_no_controls"] if ctrl else with_controls["twfe"],
           "twfe_controls": with_controls["twfe"] if ctrl else None, **rest}
    focal = {"twfe": "D", "twfe_controls": "D", "event": None, "bacon": None, "cs": "simple", "sa": "att"}
    models = [Model(k, r, focal[k] or r.terms[0], {"controls": ctrl if k == "twfe_controls" else []})
              for k, r in res.items() if r is not None]
    return _table("did", "DID: effect of the pilot zones on ln industrial carbon intensity", models,
                  data={"controls": ctrl, "bootstrap": bootstrap})


# ---------------------------------------------------------------------------- robustness
def _municipality_mask(panel: pd.DataFrame) -> pd.Series | None:
    if "municipality" in panel.columns:
        return panel["municipality"].astype(bool)
    if "city_name" in panel.columns:
        return panel["city_name"].astype(str).str.lower().str.strip().isin(S.MUNICIPALITIES)
    if not pd.api.types.is_numeric_dtype(panel["city"]):  # cities named, as from build-panel
        return panel["city"].astype(str).str.lower().str.strip().isin(S.MUNICIPALITIES)
    return None


def robustness(panel: pd.DataFrame) -> PaperTable:
    """The robustness checks of the baseline (Table 2 column 2), each run where its column exists:
    outcome ln total CO2 (``lnco``); alternative intensity (``lnindco1``); alternative robot
    measure (``robot_alt``); without the four municipalities (``municipality``, ``city_name`` or
    named cities); with the pilot-policy dummies (``D``, ``lowcarbon_pilot``) as controls. City
    and year FE, controls, city-clustered SE. Labels are the check's description.
    """
    ctrl = controls_of(panel)
    models: list[Model] = []
    notdone: list[str] = []

    def run(label: str, formula: str, data: pd.DataFrame, term: str = S.TREATMENT) -> None:
        models.append(Model(label, _fit(formula, data), term, {"formula": formula}))

    run(S.ROBUSTNESS_BASELINE, S.fe_formula(S.OUTCOME, [S.TREATMENT], ctrl), panel)
    if "lnco" in panel.columns:
        run(S.ROBUSTNESS_LNCO, S.fe_formula("lnco", [S.TREATMENT], ctrl), panel)
    else:
        notdone.append("outcome lnco: no column lnco in the panel")
    if "lnindco1" in panel.columns:
        run("alternative intensity (lnindco1)", S.fe_formula("lnindco1", [S.TREATMENT], ctrl), panel)
    else:
        notdone.append("alternative intensity lnindco1: no column lnindco1 in the panel")
    if "robot_alt" in panel.columns:
        run("alternative robot measure (robot_alt)", S.fe_formula(S.OUTCOME, ["robot_alt"], ctrl), panel,
            "robot_alt")
    else:
        notdone.append("alternative robot measure: no column robot_alt in the panel")
    muni = _municipality_mask(panel)
    if muni is not None and muni.any():
        run("without the four municipalities", S.fe_formula(S.OUTCOME, [S.TREATMENT], ctrl), panel.loc[~muni])
    else:
        notdone.append("dropping the four municipalities: no municipality or city_name column identifying them")
    policy = [c for c in S.POLICY_CONTROLS if c in panel.columns]
    if policy:
        run("controlling for pilot policies (" + ", ".join(policy) + ")",
            S.fe_formula(S.OUTCOME, [S.TREATMENT], list(ctrl) + policy), panel)
    else:
        notdone.append("policy controls: no column D or lowcarbon_pilot")
    return _table("robustness", "Robustness of the robot coefficient", models, notdone=tuple(notdone),
                  data={"controls": ctrl})


# ---------------------------------------------------------------------------- heterogeneity
def heterogeneity(panel: pd.DataFrame, *, permutations: int = S.HETEROGENEITY_MAX_PERMUTATIONS,
                  seed: Any = None) -> PaperTable:
    """Split-sample robot coefficients by city group, with three tests of equal coefficients.

    Groupings (first column present of each): ``large``; ``resource``/``resource_based``;
    ``digital``/``digital_high``; ``east``; ``south``. Each split runs the baseline (Table 2
    column 2) in both groups and tests equality by a fully interacted pooled regression (Chow),
    stacked scores (SUEST) and a Fisher permutation of the group labels across cities
    (``permutations`` draws; one integer seed per grouping drawn in order from ``seed``).
    ``data["groups"]``: the :func:`~robocarbon.empirics.heterogeneity.compare_groups` output per
    grouping; ``data["rows"]`` and ``tidy``: one row per grouping.
    """
    from .. import heterogeneity as het

    present, missing = [], []
    for cols, lab in S.GROUPINGS:
        col = next((c for c in cols if c in panel.columns), None)
        if col is None:
            missing.append(" or ".join(cols))
        else:
            present.append((col, lab))
    if not present:
        raise Unavailable("the panel has none of the grouping columns " + ", ".join(missing))
    formula = S.fe_formula(S.OUTCOME, [S.TREATMENT], controls_of(panel))
    next_seed = _ints(seed)
    groups = []
    for col, label in present:
        r = het.compare_groups(formula, panel, by=col, term=S.TREATMENT, entity=S.ENTITY, time=S.TIME,
                               cluster=S.CLUSTER, permutations=permutations, seed=next_seed())
        groups.append({"col": col, "label": label, "result": r})
    rows = []
    for g in groups:
        r = g["result"]
        a, b = r["groups"]
        sa, sb = r["split"][a], r["split"][b]
        rows.append({"grouping": g["label"], "group 0": f"{g['col']}={a}", "estimate 0": sa["estimate"],
                     "SE 0": sa["std_error"], "N 0": sa["nobs"], "group 1": f"{g['col']}={b}",
                     "estimate 1": sb["estimate"], "SE 1": sb["std_error"], "N 1": sb["nobs"],
                     "difference": r["difference"], "Chow p": r["chow"]["p_value"],
                     "SUEST p": r["suest"]["p_value"], "permutation p": r["permutation"]["p_value"]})
    return PaperTable("heterogeneity", "Split-sample robot coefficients and tests of equal coefficients",
                      (), None, tuple(f"{m}: no column" for m in missing),
                      {"groups": groups, "rows": rows, "missing": missing, "permutations": permutations},
                      pd.DataFrame(rows))


# ---------------------------------------------------------------------------- Table 3
def mechanisms(panel: pd.DataFrame) -> PaperTable:
    """Table 3 columns 1-2, equation (22): robot, the moderator M and M x robot with the controls,
    city and year FE and city-clustered SE, for M = ``gpatent`` and M = ``hmatch`` (each where its
    column exists). The marginal effect of robot over M (60 grid points, 95% pointwise band) is in
    ``Result.diagnostics["marginal_effect"]``. Labels: the moderator column; ``Model.info``:
    ``name``, ``interaction`` (the interaction's term).
    """
    from .. import mechanism as mech

    models, missing = [], []
    for col, label in S.MECHANISMS:
        if col not in panel.columns:
            missing.append(f"{label}: no column {col} in the panel")
            continue
        res = mech.fit_mechanism(panel, outcome=S.OUTCOME, treatment=S.TREATMENT, moderator=col,
                                 controls=controls_of(panel), fixed_effects=list(S.FIXED_EFFECTS),
                                 grid=S.MECHANISM_GRID, entity=S.ENTITY, time=S.TIME, cluster=S.CLUSTER)
        models.append(Model(col, res, S.TREATMENT, {"name": label, "interaction": _interaction_term(res, col)}))
    if not models:
        raise Unavailable("; ".join(missing))
    return _table("table3_mechanisms", "Table 3 (columns 1-2): mechanism interactions, equation (22)", models,
                  published=_table3_published(), notdone=tuple(missing))


def thresholds(panel: pd.DataFrame, *, bootstrap: int = 299, seed: Any = None) -> PaperTable:
    """Table 3 columns 3-5, equation (24): Hansen (1999) single-threshold fixed-effect models of
    the robot slope in internet penetration, human capital and sci-tech spending share (first
    present column of each), with the controls and year effects; 5% trimming, a 300-point grid,
    the bootstrap F test of no threshold (``bootstrap`` draws). Randomness: ``seed`` gives one
    integer, whose SeedSequence spawns one stream per threshold variable. Labels: the paper's
    variable label; ``Model.info``: ``col`` and ``key`` (published.json).
    """
    from .. import threshold as thr

    if isinstance(seed, int | np.integer):
        root = int(seed)
    else:
        root = _ints(seed)()
    streams = np.random.SeedSequence(root).spawn(len(S.THRESHOLD_VARS))
    models, missing = [], []
    ctrl = controls_of(panel)
    for (label, cols, key), st in zip(S.THRESHOLD_VARS, streams):
        col = next((c for c in cols if c in panel.columns), None)
        if col is None:
            missing.append(f"{label}: none of the columns {', '.join(cols)} in the panel")
            continue
        res = thr.threshold(panel, y=S.OUTCOME, regime=S.TREATMENT, q=col, entity=S.ENTITY, time=S.TIME,
                            controls=ctrl,
                            time_effects=True, n_thresholds=1, trim=S.THRESHOLD_TRIM, grid=S.THRESHOLD_GRID,
                            bootstrap=bootstrap, seed=int(st.generate_state(1)[0]))
        models.append(Model(label, res, "robot_regime2", {"col": col, "key": key}))
    if not models:
        raise Unavailable("; ".join(missing))
    return _table("table3_thresholds", "Table 3 (columns 3-5): single-threshold models, equation (24)", models,
                  published=_table3_published(), notdone=tuple(missing),
                  data={"bootstrap": bootstrap, "trim": S.THRESHOLD_TRIM, "grid": S.THRESHOLD_GRID})


def _table3_published() -> dict[str, Any]:
    return {(r.get("M") or r.get("T")): r for r in load_published()["table3"]}


@dataclass(frozen=True)
class Table3:
    """Table 3: :attr:`mechanisms` (columns 1-2) and :attr:`thresholds` (columns 3-5), either
    ``None`` with the reason in :attr:`reasons`."""

    mechanisms: PaperTable | None
    thresholds: PaperTable | None
    reasons: tuple[str, ...] = ()

    @property
    def models(self) -> tuple[Model, ...]:
        return tuple(m for t in (self.mechanisms, self.thresholds) if t is not None for m in t.models)

    @property
    def results(self) -> list[Result]:
        return [m.result for m in self.models]

    @property
    def tidy(self) -> pd.DataFrame:
        parts = [t.tidy for t in (self.mechanisms, self.thresholds) if t is not None]
        return pd.concat(parts, ignore_index=True)

    @property
    def published(self) -> dict[str, Any]:
        return _table3_published()

    def named_results(self) -> dict[str, Result]:
        return {m.label: m.result for m in self.models}


def table3(panel: pd.DataFrame, *, bootstrap: int = 299, seed: Any = None) -> Table3:
    """Table 3: :func:`mechanisms` and :func:`thresholds` (``bootstrap``, ``seed`` go to the
    threshold tests); raises :class:`Unavailable` only when neither part can run."""
    mech = thr = None
    reasons = []
    try:
        mech = mechanisms(panel)
    except Unavailable as exc:
        reasons.append(f"mechanisms: {exc}")
    try:
        thr = thresholds(panel, bootstrap=bootstrap, seed=seed)
    except Unavailable as exc:
        reasons.append(f"thresholds: {exc}")
    if mech is None and thr is None:
        raise Unavailable("; ".join(reasons))
    return Table3(mech, thr, tuple(reasons))


def mechanisms_beside(table: PaperTable) -> list[dict[str, Any]]:
    """Table 3 columns 1-2 printed beside ours."""
    beside = []
    for m in table.models:
        pr = table.published.get(m.label)
        if not pr:
            continue
        rb, ci, mcoef = m.coef(), m.coef(m.info["interaction"]), m.coef(m.label)
        col = m.label
        beside += [
            {"quantity": f"M={col}: robot", "published": pr["robot"][0], "ours": rb["estimate"], "kind": "coef"},
            {"quantity": f"M={col}: robot SE", "published": pr["robot"][1], "ours": rb["std_error"]},
            {"quantity": f"M={col}: M", "published": pr["M_main"][0], "ours": mcoef["estimate"], "kind": "coef"},
            {"quantity": f"M={col}: M x robot", "published": pr["M_x_robot"][0], "ours": ci["estimate"],
             "kind": "coef"},
            {"quantity": f"M={col}: M x robot SE", "published": pr["M_x_robot"][1], "ours": ci["std_error"]},
            {"quantity": f"M={col}: M x robot stars", "published": int(pr["M_x_robot"][2]),
             "ours": float(stars_count(ci["p_value"])), "kind": "stars"},
            {"quantity": f"M={col}: R² (with FE)", "published": pr["r2"], "ours": m.result.r2_with_fe},
        ]
    return beside


def thresholds_beside(table: PaperTable) -> list[dict[str, Any]]:
    """Table 3 columns 3-5 printed beside ours."""
    beside = []
    for m in table.models:
        key = m.info["key"]
        pr = table.published.get(key)
        if not pr:
            continue
        lo, hi = m.coef("robot_regime1"), m.coef("robot_regime2")
        share = m.result.diagnostics["regimes"][1]["share"]
        beside += [
            {"quantity": f"T={key}: robot, T ≤ γ", "published": pr["robot_low"][0], "ours": lo["estimate"],
             "kind": "coef"},
            {"quantity": f"T={key}: robot, T > γ", "published": pr["robot_high"][0], "ours": hi["estimate"],
             "kind": "coef"},
            {"quantity": f"T={key}: stars above", "published": int(pr["robot_high"][2]),
             "ours": float(stars_count(hi["p_value"])), "kind": "stars"},
            {"quantity": f"T={key}: SE above", "published": pr["robot_high"][1], "ours": hi["std_error"]},
            {"quantity": f"T={key}: R² (within)", "published": pr["r2"], "ours": m.result.r2_within},
        ]
        if "share_above" in pr:
            beside.append({"quantity": f"T={key}: share above γ", "published": pr["share_above"], "ours": share})
    return beside
