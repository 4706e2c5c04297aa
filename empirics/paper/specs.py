"""The paper's specifications: which variables enter each table, and the settings of each fit.

Huang and Jiang, "Digital Low-carbon Road: Industrial Robots and Urban Industrial Carbon
Emissions" (summary in ``shared/paper/PAPER.md``). Every table function of
:mod:`robocarbon.empirics.paper` reads its regressors, fixed effects, clustering and options
from here, and nothing else in robocarbon names them: the report renders what those functions
return.
"""

from __future__ import annotations

from collections.abc import Sequence

# ---------------------------------------------------------------------------- variables
OUTCOME = "lnindco"  # ln(industrial CO2 / industrial value added)
TREATMENT = "robot"  # Bartik robot penetration, eq. (21)
ENTITY = "city"
TIME = "year"
CLUSTER = "city"  # city-clustered standard errors in every column of the paper
FIXED_EFFECTS = ("city", "year")
CONTROLS = ("edu", "urban", "lnpop", "lnpgdp", "energ", "fin", "open")
REQUIRED = ("city", "year", "lnindco", "robot")
TABLE1_VARS = ("lnindco", "robot") + CONTROLS

# ---------------------------------------------------------------------------- Table 2
# (column label, lag of robot, with the controls); the lag replaces the current value
TABLE2_COLUMNS: tuple[tuple[str, int, bool], ...] = (
    ("(1)", 0, False), ("(2)", 0, True),
    ("(3)", 1, True), ("(4)", 2, True), ("(5)", 3, True), ("(6)", 4, True), ("(7)", 5, True),
)

# ---------------------------------------------------------------------------- IV
IV_LABELS = {
    "a": "(a) mean robot of the other cities of the province",
    "b": "(b) robot(t-1) x (robot(t) - robot(t-1))",
    "c": "(c) US manufacturing robot penetration",
    "d": "(d) Lewbel (2012) heteroskedasticity-based",
}
IV_US_COLUMN = "us_robot"
IV_PROVINCE_COLUMN = "province"

# ---------------------------------------------------------------------------- DID
DID_ADOPT = "adopt_year"  # first year of the two-integration pilot zone; 0 or missing = never
DID_EVENT_LEADS = 5
DID_EVENT_LAGS = 6
DID_REF = -1
DID_CONTROL_GROUP = "never"

# ---------------------------------------------------------------------------- robustness
MUNICIPALITIES = ("beijing", "tianjin", "shanghai", "chongqing")
POLICY_CONTROLS = ("D", "lowcarbon_pilot")
ROBUSTNESS_BASELINE = "baseline (Table 2 col 2)"
ROBUSTNESS_LNCO = "outcome ln total industrial CO2 (lnco)"

# ---------------------------------------------------------------------------- heterogeneity
# (accepted column names, first present is used; label). Aliases follow robocarbon build-panel.
GROUPINGS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("large",), "large vs small/medium cities"),
    (("resource", "resource_based"), "resource-based vs not"),
    (("digital", "digital_high"), "high vs low digitisation"),
    (("east",), "east vs central-west"),
    (("south",), "south vs north"),
)
HETEROGENEITY_MAX_PERMUTATIONS = 99

# ---------------------------------------------------------------------------- Table 3
MECHANISMS: tuple[tuple[str, str], ...] = (
    ("gpatent", "green patents (gpatent)"), ("hmatch", "human-machine matching (hmatch)"),
)
MECHANISM_GRID = 60  # points of the marginal-effect curve
# paper label, accepted column names (first present is used), key in published.json
THRESHOLD_VARS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("internet penetration", ("internet",), "internet"),
    ("human capital", ("hum", "human_capital"), "human_capital"),
    ("sci-tech spending share", ("scitech", "scitech_spending", "sci"), "scitech_spending"),
)
THRESHOLD_TRIM = 0.05
THRESHOLD_GRID = 300


def fe_formula(y: str, x: Sequence[str], controls: Sequence[str], fe: str = "city + year") -> str:
    """The two-way fixed-effects formula ``y ~ x + controls | fe`` (fixest syntax)."""
    rhs = " + ".join(list(x) + list(controls))
    return f"{y} ~ {rhs} | {fe}"


def iv_formula(y: str, endog: str, instruments: Sequence[str], controls: Sequence[str],
               fe: str = "city + year") -> str:
    """The IV formula ``y ~ controls | fe | endog ~ instruments`` (fixest syntax)."""
    exog = " + ".join(controls) if controls else "1"
    return f"{y} ~ {exog} | {fe} | {endog} ~ {' + '.join(instruments)}"


def lag_term(var: str, lag: int) -> str:
    """``var`` at lag ``lag`` in formula syntax (``l(var, k)``; the variable itself at 0)."""
    return var if lag == 0 else f"l({var}, {lag})"
