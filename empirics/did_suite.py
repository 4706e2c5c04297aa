"""The staggered-DID estimators run side by side on one panel: one orchestration for
``robocarbon did`` and for the paper's DID table (:func:`robocarbon.empirics.paper.did`).

Methods: ``twfe`` (two-way fixed effects with clustered SE and the de Chaisemartin-D'Haultfoeuille
weights; with controls also the fit without them, as ``twfe_no_controls``), ``event`` (TWFE event
study with a pre-trend test), ``bacon`` (Goodman-Bacon decomposition; always without controls),
``cs`` (Callaway-Sant'Anna) and ``sa`` (Sun-Abraham).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .errors import InputError
from .result import Result

METHODS = ("twfe", "event", "bacon", "cs", "sa")


@dataclass(frozen=True)
class DidSuite:
    """``results``: the Results by name (``twfe``, ``twfe_no_controls``, ``event``, ``bacon``,
    ``cs``, ``sa``); ``skipped``: ``{method: reason}`` for methods that did not apply."""

    results: dict[str, Result] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def did_suite(
    data: pd.DataFrame,
    *,
    y: str,
    entity: str,
    time: str,
    adopt: str,
    controls: Sequence[str] = (),
    methods: Sequence[str] = METHODS,
    control_group: str = "never",
    seed: Any = None,
    n_boot: int = 999,
    ref: int = -1,
    leads: int | None = None,
    lags: int | None = None,
    bin_endpoints: bool = True,
    file: str | None = None,
    skip_errors: bool = False,
) -> DidSuite:
    """Run the chosen DID ``methods`` on ``data``.

    Parameters
    ----------
    y, entity, time, adopt : outcome, entity (also the cluster), period and adoption-period
        columns (adoption ``0`` or missing = never treated).
    controls : time-varying controls for ``twfe``, ``event``, ``cs`` and ``sa`` (``bacon`` is
        the decomposition of the TWFE estimate without controls; asking for ``bacon`` alone with
        controls is an error).
    control_group, seed, n_boot : Callaway-Sant'Anna control group (``"never"``/``"notyet"``),
        bootstrap seed and draws.
    ref, leads, lags, bin_endpoints : the event-study window (``sa`` uses ``ref``).
    skip_errors : record a method that does not apply (an :class:`InputError`, e.g. Goodman-Bacon
        on an unbalanced panel) in ``skipped`` and go on; if every method fails the first error is
        raised.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> p = pd.DataFrame({"id": np.repeat(np.arange(30), 6), "t": np.tile(np.arange(2000, 2006), 30)})
    >>> p["adopt"] = np.where(p["id"] < 10, 2003, np.where(p["id"] < 20, 2004, 0))
    >>> p["y"] = 0.5 * ((p["adopt"] > 0) & (p["t"] >= p["adopt"])) + rng.normal(0, 0.1, len(p))
    >>> s = did_suite(p, y="y", entity="id", time="t", adopt="adopt", methods=("twfe",))
    >>> round(float(s.results["twfe"].coefficients["D"]), 1)
    0.5
    """
    from .bacon import bacon_decomposition
    from .did import event_study, twfe_did
    from .did_cs import callaway_santanna
    from .did_sa import sun_abraham

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise InputError(f"unknown DID method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    kw = dict(y=y, entity=entity, time=time, adopt=adopt, file=file)
    controls = list(controls)
    results: dict[str, Result] = {}
    skipped: dict[str, str] = {}
    errors: list[InputError] = []
    for m in methods:
        try:
            if m == "twfe":
                r = {"twfe": twfe_did(data, controls=controls, **kw)}
                if controls:
                    r["twfe_no_controls"] = twfe_did(data, **kw)
            elif m == "event":
                r = {"event": event_study(data, controls=controls, ref=ref, leads=leads, lags=lags,
                                          bin_endpoints=bin_endpoints, **kw)}
            elif m == "bacon":
                if controls and tuple(methods) == ("bacon",):
                    raise InputError("the Goodman-Bacon decomposition is implemented without controls only; "
                                     "drop --controls (with --method all it is run without them)")
                r = {"bacon": bacon_decomposition(data, **kw)}
            elif m == "cs":
                r = {"cs": callaway_santanna(data, controls=controls, control_group=control_group, seed=seed,
                                             n_boot=n_boot, **kw)}
            else:
                r = {"sa": sun_abraham(data, controls=controls, ref=ref, **kw)}
        except InputError as exc:
            if not skip_errors:
                raise
            errors.append(exc)
            skipped[m] = str(exc)
            continue
        results.update(r)
    if errors and not results:
        raise errors[0]
    return DidSuite(results, skipped)
