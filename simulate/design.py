"""Designs in DeclareDesign's grammar: model, inquiry, data strategy, answer strategies.

A :class:`Design` is a named, immutable set of parameter values. ``design.draw(rng)`` runs the
model (cities, industries, factor supplies, the task-model economy of the theory module), the
inquiry (the true estimands, computed from the theory for the generated data) and the data
strategy (Bartik robot penetration, nightlight downscaling of CO2, controls, pilot zones), and
returns a :class:`Draw`: the observed panel, the truth and numpy arrays for fast estimators.
The answer strategies (estimators) are run by :mod:`robocarbon.simulate.engine`; a design only
names the ones it is meant for (``Design.answer_strategies``).

Public API
----------
Design
    ``name``, ``params``; ``with_params(**kv)``, ``draw(rng)``, ``parameter_table()``.
Draw
    ``panel`` (pandas DataFrame), ``truth`` ({estimand: value}), ``arrays`` (numpy arrays).
get_design(name, **params)
    A registered design with some parameters changed.
list_designs()
    ``[(name, description, parameter table)]``; the table is a list of dicts with keys
    ``name, default, type, description``.
register_design(spec)
    Add a :class:`DesignSpec` (used by :mod:`robocarbon.simulate.paper`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from robocarbon.empirics.errors import InputError

__all__ = [
    "Param",
    "DesignSpec",
    "Design",
    "Draw",
    "get_design",
    "list_designs",
    "register_design",
    "as_generator",
]


@dataclass(frozen=True)
class Param:
    """One design parameter: its default, type and meaning.

    ``kind`` is one of ``"float"``, ``"int"``, ``"bool"``, ``"str"``, ``"floats"`` (a tuple of
    floats). ``choices`` restricts a string; ``low``/``high`` bound a number (inclusive).
    """

    name: str
    default: Any
    kind: str
    description: str
    choices: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None
    group: str = "model"  # model | data | calibration | threat

    def coerce(self, value: Any) -> Any:
        """Validate ``value`` and return it in canonical type; raise InputError otherwise."""
        name = self.name
        if self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
                raise InputError(f"parameter {name!r} must be a number, got {value!r}", column=name)
            v = float(value)
            if not math.isfinite(v):
                raise InputError(f"parameter {name!r} must be finite, got {value!r}", column=name)
        elif self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                else:
                    raise InputError(f"parameter {name!r} must be an integer, got {value!r}",
                                     column=name)
            v = int(value)
        elif self.kind == "bool":
            if isinstance(value, bool | np.bool_):
                v = bool(value)
            elif isinstance(value, int) and value in (0, 1):
                v = bool(value)
            elif isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no",
                                                              "on", "off"):
                v = value.lower() in ("true", "1", "yes", "on")
            else:
                raise InputError(f"parameter {name!r} must be true or false, got {value!r}",
                                 column=name)
        elif self.kind == "str":
            if not isinstance(value, str):
                raise InputError(f"parameter {name!r} must be a string, got {value!r}", column=name)
            v = value
            if self.choices is not None and v not in self.choices:
                raise InputError(f"parameter {name!r} must be one of {list(self.choices)}, got {v!r}",
                                 column=name)
        elif self.kind == "floats":
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = (value,)
            if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
                raise InputError(f"parameter {name!r} must be a list of numbers, got {value!r}",
                                 column=name)
            out = []
            for x in value:
                if isinstance(x, bool) or not isinstance(x, int | float | np.integer | np.floating):
                    raise InputError(f"parameter {name!r} must be a list of numbers, got {value!r}",
                                     column=name)
                out.append(float(x))
            if not out:
                raise InputError(f"parameter {name!r} must not be empty", column=name)
            v = tuple(out)
        else:  # pragma: no cover - programming error
            raise ValueError(f"unknown parameter kind {self.kind!r}")
        if self.kind in ("float", "int"):
            if self.low is not None and v < self.low:
                raise InputError(f"parameter {name!r} must be >= {self.low}, got {v!r}", column=name)
            if self.high is not None and v > self.high:
                raise InputError(f"parameter {name!r} must be <= {self.high}, got {v!r}", column=name)
        return v

    def row(self) -> dict[str, Any]:
        d = {"name": self.name, "default": self.default, "type": self.kind,
             "description": self.description, "group": self.group}
        if self.choices is not None:
            d["choices"] = list(self.choices)
        if self.low is not None or self.high is not None:
            d["range"] = [self.low, self.high]
        return d


@dataclass(frozen=True)
class DesignSpec:
    """What a registered design is: its parameters and the function that draws from it.

    ``draw_fn(params: dict, rng: numpy.random.Generator) -> Draw``.
    """

    name: str
    description: str
    params: tuple[Param, ...]
    draw_fn: Callable[[dict[str, Any], np.random.Generator], Draw]
    answer_strategies: tuple[str, ...] = ()
    base: Mapping[str, Any] = field(default_factory=dict)  # overrides of the defaults

    def defaults(self) -> dict[str, Any]:
        d = {p.name: p.default for p in self.params}
        d.update(self.base)
        return d

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(sorted(p.name for p in self.params))
        raise InputError(f"design {self.name!r} has no parameter {name!r}; known: {known}",
                         column=name)


_REGISTRY: dict[str, DesignSpec] = {}


def register_design(spec: DesignSpec, *, replace: bool = False) -> DesignSpec:
    """Register a design under ``spec.name``."""
    if spec.name in _REGISTRY and not replace:
        raise ValueError(f"design {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def _ensure_loaded() -> None:
    # the built-in designs register themselves on import
    from . import paper  # noqa: F401


def _spec(name: str) -> DesignSpec:
    _ensure_loaded()
    if name not in _REGISTRY:
        raise InputError(f"unknown design {name!r}; available: {', '.join(sorted(_REGISTRY))}",
                         column="design")
    return _REGISTRY[name]


def as_generator(rng: Any) -> np.random.Generator:
    """A numpy Generator from a Generator, a SeedSequence, an int seed or None."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.SeedSequence) or rng is None:
        return np.random.default_rng(rng)
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise InputError(f"rng must be a numpy Generator, SeedSequence or int seed, got {rng!r}")


class Draw:
    """One simulated data set with its truth.

    Attributes
    ----------
    panel
        The observed city-year panel (balanced, sorted by city then year), plus latent columns
        prefixed ``true_`` that no estimator may use. A design may hand over a ``panel_fn``
        instead of the DataFrame: the panel is then built on first access (and kept), so a fast
        path that only reads ``arrays`` never pays for it; the DataFrame is the same either way.
    truth
        ``{estimand: value}``; ``"robot"`` is the effect of robot on lnindco targeted by the
        two-way fixed-effects regression (18); see ``docs/simulate.md`` for every key.
    arrays
        Numpy arrays for fast paths: ``y`` (lnindco), ``X`` (robot then the seven controls, in
        ``X_names`` order), ``entity``, ``time``, ``group`` (province codes), ``D`` (pilot-zone
        dummy), and the columns used most often.
    design
        The :class:`Design` that produced the draw.
    """

    __match_args__ = ("panel", "truth", "arrays", "design")

    def __init__(self, panel: pd.DataFrame | None = None, truth: dict[str, float] | None = None,
                 arrays: dict[str, np.ndarray] | None = None, design: Design | None = None, *,
                 panel_fn: Callable[[], pd.DataFrame] | None = None) -> None:
        if panel is None and panel_fn is None:
            raise TypeError("Draw needs a panel or a panel_fn")
        self._panel = panel
        self._panel_fn = None if panel is not None else panel_fn
        self.truth = {} if truth is None else truth
        self.arrays = {} if arrays is None else arrays
        self.design = design

    @property
    def panel(self) -> pd.DataFrame:
        if self._panel is None:
            self._panel = self._panel_fn()
            self._panel_fn = None
        return self._panel

    @panel.setter
    def panel(self, value: pd.DataFrame) -> None:
        self._panel = value
        self._panel_fn = None

    @property
    def panel_built(self) -> bool:
        """Whether the panel DataFrame exists yet (False while it is still lazy)."""
        return self._panel is not None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if state.get("_panel") is None and state.get("_panel_fn") is not None:
            try:  # keep it lazy when the builder pickles (a module-level partial does)
                import pickle

                pickle.dumps(state["_panel_fn"])
            except Exception:
                state["_panel"] = self.panel
                state["_panel_fn"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.panel, self.truth, self.arrays, self.design) == (
            other.panel, other.truth, other.arrays, other.design)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        panel = repr(self._panel) if self._panel is not None else "<lazy>"
        return (f"Draw(panel={panel}, truth={self.truth!r}, arrays={self.arrays!r}, "
                f"design={self.design!r})")


@dataclass(frozen=True)
class Design:
    """A named design with parameter values (immutable; change with :meth:`with_params`).

    Examples
    --------
    >>> from robocarbon.simulate.design import get_design
    >>> d = get_design("paper", confounding=0.1)
    >>> draw = d.draw(np.random.default_rng(1))
    >>> sorted(draw.truth)[:2]   # doctest: +SKIP
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        spec = _spec(self.name)
        full = spec.defaults()
        for k, v in dict(self.params).items():
            full[k] = spec.param(k).coerce(v)
        object.__setattr__(self, "params", full)

    # -- the grammar ------------------------------------------------------------------
    @property
    def description(self) -> str:
        return _spec(self.name).description

    @property
    def answer_strategies(self) -> tuple[str, ...]:
        """Names of the estimators (engine registry) this design is meant to be answered by."""
        return _spec(self.name).answer_strategies

    def with_params(self, **kv: Any) -> Design:
        """A copy with some parameters changed; unknown names or wrong types raise InputError."""
        spec = _spec(self.name)
        new = dict(self.params)
        for k, v in kv.items():
            new[k] = spec.param(k).coerce(v)
        return Design(self.name, new)

    def draw(self, rng: Any) -> Draw:
        """One draw of model, inquiry and data strategy with the random generator ``rng``."""
        gen = as_generator(rng)
        out = _spec(self.name).draw_fn(dict(self.params), gen)
        out.design = self
        return out

    def parameter_table(self) -> list[dict[str, Any]]:
        """Rows ``name, default, value, type, description, group``."""
        rows = []
        for p in _spec(self.name).params:
            r = p.row()
            r["value"] = self.params[p.name]
            rows.append(r)
        return rows

    def changed(self) -> dict[str, Any]:
        """Parameters that differ from the design's defaults."""
        d = _spec(self.name).defaults()
        return {k: v for k, v in self.params.items() if d.get(k) != v}

    def __hash__(self) -> int:  # params is a dict; hash its sorted items
        return hash((self.name, tuple(sorted((k, repr(v)) for k, v in self.params.items()))))

    def __repr__(self) -> str:
        ch = self.changed()
        extra = ", ".join(f"{k}={v!r}" for k, v in sorted(ch.items()))
        return f"Design({self.name!r}{', ' + extra if extra else ''})"


def get_design(name: str, **params: Any) -> Design:
    """The registered design ``name`` with ``params`` changed from its defaults."""
    return Design(name, params)


def list_designs() -> list[tuple[str, str, list[dict[str, Any]]]]:
    """``[(name, description, parameter table)]`` for every registered design, by name."""
    _ensure_loaded()
    out = []
    for name in sorted(_REGISTRY):
        spec = _REGISTRY[name]
        defaults = spec.defaults()
        table = []
        for p in spec.params:
            r = p.row()
            r["default"] = defaults[p.name]
            table.append(r)
        out.append((name, spec.description, table))
    return out
