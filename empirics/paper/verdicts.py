r"""The verdict rules of the replication, as functions of numbers returning data.

Each rule returns a small frozen dataclass with a ``status`` string and the numbers behind it,
so a reader can check the rule, and the report only words it. The rules:

=====================================  ==================================================
rule                                   status
=====================================  ==================================================
:func:`stars`                          the paper's significance stars (10%, 5%, 1%)
:func:`coverage_verdict`               ``undercovers`` if the Monte Carlo coverage of a 95%
                                       interval is below 0.95 minus two binomial SE
:func:`lag_growth`                     ``grows`` if the lag coefficients grow in magnitude
:func:`significance`                   ``significant`` if \|estimate / SE\| > 1.96
:func:`equality_test`                  ``rejected`` if the equal-coefficient p < 0.05
:func:`heterogeneity_verdict`          counts of one-sided significance and of rejections
:func:`instrument_strength`            ``strong`` if the KP Wald F exceeds the Stock-Yogo
                                       10% maximal-size critical value
:func:`threshold_verdict`              ``significant`` if the bootstrap p < 0.05
:func:`negative_share`                 the share of a marginal-effect curve whose upper
                                       95% bound is below zero
:func:`agreement`                      agreement of ours with the printed numbers
=====================================  ==================================================
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

STAR_LEVELS = ((0.01, "***"), (0.05, "**"), (0.10, "*"))
NOMINAL_COVERAGE = 0.95
Z_5PCT = 1.96
ALPHA = 0.05


def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def stars(p: float | None) -> str:
    """Significance stars as the paper prints them: *** p<0.01, ** p<0.05, * p<0.10."""
    if not _finite(p):
        return ""
    for level, s in STAR_LEVELS:
        if p < level:
            return s
    return ""


def stars_count(p: float | None) -> int:
    """The number of stars of :func:`stars` (0-3), as in the published tables' triplets."""
    return len(stars(p))


# ---------------------------------------------------------------------------- Monte Carlo
@dataclass(frozen=True)
class CoverageVerdict:
    """``status``: ``undercovers``, ``ok`` or ``undefined`` (no finite coverage)."""

    status: str
    coverage: float | None
    sims: int
    nominal: float
    binomial_se: float
    limit: float


def coverage_verdict(coverage: float | None, sims: int, *, nominal: float = NOMINAL_COVERAGE,
                     k: float = 2.0) -> CoverageVerdict:
    """Does a Monte Carlo coverage fall short of ``nominal`` by more than ``k`` binomial SE?

    The binomial standard error of a coverage estimated from ``sims`` replications when the true
    coverage is ``nominal`` is ``sqrt(nominal (1 - nominal) / sims)``; the interval undercovers
    when ``coverage < nominal - k * se`` (strictly below the limit).
    """
    n = max(int(sims), 1)
    se = math.sqrt(nominal * (1 - nominal) / n)
    limit = nominal - k * se
    if not _finite(coverage):
        return CoverageVerdict("undefined", None, int(sims), nominal, se, limit)
    status = "undercovers" if float(coverage) < limit else "ok"
    return CoverageVerdict(status, float(coverage), int(sims), nominal, se, limit)


# ---------------------------------------------------------------------------- Table 2
@dataclass(frozen=True)
class LagGrowth:
    """``status``: ``grows`` (weakly, every step) or ``does not grow``."""

    status: str
    magnitudes: tuple[float, ...]

    @property
    def grows(self) -> bool:
        return self.status == "grows"


def lag_growth(estimates: Sequence[float]) -> LagGrowth:
    """Do the magnitudes ``|b_1| <= |b_2| <= ...`` of the lag coefficients grow monotonically?"""
    mags = tuple(abs(float(b)) for b in estimates)
    grows = all(mags[i + 1] >= mags[i] for i in range(len(mags) - 1))
    return LagGrowth("grows" if grows else "does not grow", mags)


# ---------------------------------------------------------------------------- heterogeneity
@dataclass(frozen=True)
class Significance:
    """``status``: ``significant`` or ``not significant`` (at 5%, normal critical value)."""

    status: str
    estimate: float
    std_error: float | None
    z: float | None
    critical: float

    @property
    def significant(self) -> bool:
        return self.status == "significant"


def significance(estimate: float, std_error: float | None, *, critical: float = Z_5PCT) -> Significance:
    """``|estimate / std_error| > critical``; a missing or zero SE is never significant."""
    if not std_error:
        return Significance("not significant", float(estimate), std_error, None, critical)
    z = float(estimate) / float(std_error)
    return Significance("significant" if abs(z) > critical else "not significant", float(estimate),
                        float(std_error), z, critical)


@dataclass(frozen=True)
class EqualityTest:
    """``status``: ``rejected`` or ``not rejected`` (equal coefficients at level ``alpha``)."""

    status: str
    p_value: float | None
    alpha: float

    @property
    def rejected(self) -> bool:
        return self.status == "rejected"


def equality_test(p_value: float | None, *, alpha: float = ALPHA) -> EqualityTest:
    """Equality of two groups' coefficients is rejected when ``p_value < alpha``."""
    rej = _finite(p_value) and float(p_value) < alpha
    return EqualityTest("rejected" if rej else "not rejected", p_value, alpha)


@dataclass(frozen=True)
class HeterogeneityVerdict:
    """Across the splits: in how many is the effect significant in one group only, and in how
    many is equality rejected. ``status``: ``consistent`` when every one-sided split also rejects
    equality, else ``one-sided significance without a difference``."""

    status: str
    n_splits: int
    n_one_sided: int
    n_rejected: int


def heterogeneity_verdict(splits: Iterable[Mapping[str, Any]], *, test: str = "SUEST p") -> HeterogeneityVerdict:
    """``splits``: rows with ``estimate 0``, ``SE 0``, ``estimate 1``, ``SE 1`` and the equality
    p-value under ``test`` (the rows of :func:`robocarbon.empirics.paper.heterogeneity`)."""
    rows = list(splits)
    one_sided = 0
    rejected = 0
    inconsistent = 0
    for r in rows:
        s0 = significance(r["estimate 0"], r["SE 0"]).significant
        s1 = significance(r["estimate 1"], r["SE 1"]).significant
        rej = equality_test(r[test]).rejected
        one_sided += s0 != s1
        rejected += rej
        inconsistent += (s0 != s1) and not rej
    status = "consistent" if inconsistent == 0 else "one-sided significance without a difference"
    return HeterogeneityVerdict(status, len(rows), int(one_sided), int(rejected))


# ---------------------------------------------------------------------------- IV
@dataclass(frozen=True)
class InstrumentStrength:
    """``status``: ``strong``, ``weak`` or ``unknown`` (no critical value for this model)."""

    status: str
    kp_rk_wald_f: float
    critical_value: float | None

    @property
    def strong(self) -> bool:
        return self.status == "strong"


def instrument_strength(kp_rk_wald_f: float, critical_value: float | None) -> InstrumentStrength:
    """Strong when the Kleibergen-Paap rk Wald F exceeds the Stock-Yogo (2005) 10% maximal-size
    critical value (ivreg2's rule of thumb: the values are for the Cragg-Donald F under i.i.d.
    errors); ``unknown`` when Stock and Yogo tabulate no value for the model."""
    if critical_value is None:
        return InstrumentStrength("unknown", float(kp_rk_wald_f), None)
    strong = float(kp_rk_wald_f) > float(critical_value)
    return InstrumentStrength("strong" if strong else "weak", float(kp_rk_wald_f), float(critical_value))


# ---------------------------------------------------------------------------- Table 3
@dataclass(frozen=True)
class ThresholdVerdict:
    """``status``: ``significant`` or ``not significant`` (bootstrap F test of no threshold)."""

    status: str
    F: float | None
    p_value: float | None
    alpha: float

    @property
    def significant(self) -> bool:
        return self.status == "significant"


def threshold_verdict(F: float | None, p_value: float | None, *, alpha: float = ALPHA) -> ThresholdVerdict:
    """A single threshold is significant when the Hansen (1999) bootstrap p-value is below
    ``alpha``."""
    sig = p_value is not None and _finite(p_value) and float(p_value) < alpha
    return ThresholdVerdict("significant" if sig else "not significant", F, p_value, alpha)


@dataclass(frozen=True)
class NegativeShare:
    """The share of the moderator grid over which the effect is significantly negative."""

    status: str  # "everywhere", "somewhere", "nowhere"
    share: float
    points: int


def negative_share(conf_high: Sequence[float]) -> NegativeShare:
    """Share of grid points whose upper 95% pointwise bound is below zero."""
    hi = np.asarray(conf_high, dtype=float)
    share = float(np.mean(hi < 0)) if hi.size else 0.0
    status = "everywhere" if share == 1.0 else ("nowhere" if share == 0.0 else "somewhere")
    return NegativeShare(status, share, int(hi.size))


# ---------------------------------------------------------------------------- paper beside ours
@dataclass(frozen=True)
class Agreement:
    """Agreement of our numbers with the printed ones over one table."""

    status: str  # "compared" or "nothing compared"
    quantities: int
    compared: int
    mean_abs_difference: float | None
    coefficients_same_sign: float | None
    stars_agree: float | None


def agreement(rows: Iterable[Mapping[str, Any]]) -> Agreement:
    """``rows``: ``published``, ``ours`` and optional ``kind`` (``coef``, ``stars``). A row is
    compared when ours is finite; coefficients agree in sign when ``sign(ours) == sign(paper)``;
    stars agree when the counts are equal."""
    rows = list(rows)
    ok = [r for r in rows if _finite(r.get("ours")) and _finite(r.get("published"))]
    diffs = [float(r["ours"]) - float(r["published"]) for r in ok]
    coef = [r for r in ok if r.get("kind") == "coef"]
    st = [r for r in ok if r.get("kind") == "stars"]
    return Agreement(
        "compared" if ok else "nothing compared",
        len(rows), len(ok),
        float(np.abs(diffs).mean()) if ok else None,
        float(np.mean([np.sign(float(r["ours"])) == np.sign(float(r["published"])) for r in coef])) if coef else None,
        float(np.mean([float(r["ours"]) == float(r["published"]) for r in st])) if st else None,
    )
