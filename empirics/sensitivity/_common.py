"""Shared helpers of the sensitivity estimators: formula surgery and fitting through the one
front door, :func:`robocarbon.empirics.fe.fit`.

Nothing here estimates anything itself: every regression is ``fe.fit`` on a formula derived
from the user's, so the fixed effects, weights, missing rows and small-sample conventions are
those of the rest of the project.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from robocarbon.empirics.errors import InputError
from robocarbon.empirics.formula import Formula, parse_formula

__all__ = ["parse", "term_names", "rhs_formula", "fit", "check_level", "as_float_list"]


def parse(formula: str | Formula) -> Formula:
    return formula if isinstance(formula, Formula) else parse_formula(formula)


def term_names(f: Formula) -> list[str]:
    return [t.name for t in f.terms]


def rhs_formula(lhs: str, terms: Sequence[str], fixed_effects: Sequence[str], *,
                intercept: bool = True, iv: str | None = None) -> str:
    """``lhs ~ t1 + t2 | fe1 + fe2 [| iv]`` from parts (``1`` when no term and no fixed
    effect: the intercept-only model; ``0`` drops the intercept)."""
    rhs = " + ".join(terms)
    if not rhs:
        rhs = "1" if (intercept and not fixed_effects) else "0"
    elif not intercept and not fixed_effects:
        rhs += " + 0"
    text = f"{lhs} ~ {rhs}"
    if fixed_effects or iv:
        text += " | " + (" + ".join(fixed_effects) if fixed_effects else "0")
    if iv:
        text += " | " + iv
    return text


def fit(formula: str, data: pd.DataFrame, options: Mapping[str, Any]):
    """:func:`robocarbon.empirics.fe.fit` with ``options`` (imported on call: the package
    ``__init__`` stays light)."""
    from robocarbon.empirics.fe import fit as _fit

    return _fit(formula, data, **dict(options))


def check_level(level: float, name: str = "level") -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise InputError(f"{name} must be in (0, 1), got {level}")
    return level


def as_float_list(value, name: str) -> list[float]:
    """A number or a sequence of numbers as a list of finite floats."""
    if np.isscalar(value):
        value = [value]
    try:
        out = [float(v) for v in value]
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number or a list of numbers, got {value!r}") from None
    if not out or not all(np.isfinite(out)):
        raise InputError(f"{name} must be finite numbers, got {value!r}")
    return out
