"""The provenance stamp of an estimate: package versions and git commit (looked up once per
process), the creation time and the wall time of the fit."""

from __future__ import annotations

import functools
import time as _time

__all__ = ["fast_provenance"]


@functools.lru_cache(maxsize=1)
def _static_provenance() -> dict:
    from ..provenance import provenance

    rec = provenance()
    rec.pop("created", None)
    return rec


def fast_provenance(t0: float | None = None) -> dict:
    """Provenance for an estimate: versions and git commit (looked up once per process), time;
    ``wall_time_seconds`` since ``t0`` (a ``time.perf_counter()`` reading) when given."""
    import datetime as _dt

    rec = dict(_static_provenance())
    rec["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    if t0 is not None:
        rec["wall_time_seconds"] = round(_time.perf_counter() - t0, 6)
    return rec
