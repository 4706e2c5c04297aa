"""Monte Carlo speed: replications per second of the ``paper`` design (generation + TWFE with
city-clustered SE), ours against the same loop with pyfixest and with linearmodels, one run.

    python benchmarks/bench_mc.py [--reps 120] [--block 10] [--sims 2000] [--jobs 2] [--json out.json]

Measured on one core (BLAS single-threaded). Each method runs its own loop, as a user would run
it, over the same replication streams (so the three loops see identical data):

- ``ours``: draw + ``robocarbon.simulate.estimators.twfe`` (the fast path; it reads
  ``Draw.arrays`` and never builds the panel DataFrame);
- ``pyfixest``: draw + the panel DataFrame + ``pyfixest.feols("lnindco ~ robot + controls |
  city + year", vcov={"CRV1": "city"})``;
- ``linearmodels``: draw + the panel DataFrame + ``PanelOLS(..., entity_effects=True,
  time_effects=True).fit(cov_type="clustered", cluster_entity=True)``;
- ``gen``: the draw alone, inside our loop.

The loops run in alternating blocks of ``--block`` replications (ours, pyfixest, linearmodels,
ours, ...), so a change in machine load during the run hits all three alike; each loop's time is
the sum of its own blocks. (An earlier version timed one draw and then every estimator on it,
charging the draw's time to all three loops: our draws then ran right after the peers had built
a DataFrame and fitted, with cold caches, and took about 1.6 times as long as in our own loop.)
The JSON reports each loop's replications per second, the ratios, and the parts: the draw in
each loop (``generation_ms``), the panel DataFrame (``panel_ms``) and the fits (``fit_only_ms``).

Then ``diagnose(design, ["twfe"], sims, seed, jobs=J)`` wall time (pool start included), the
engine's own cost per replication (``engine_overhead_ms``: ``diagnose`` in this process on a
design that replays one draw with an estimator that replays one Result, so only the engine runs:
streams, the simulations rows, inference columns, frames, the diagnosands), and ``ours`` warm
(``fit_warm_ms``: the fit repeated on one draw, caches hot). The three estimates of the first
draw are printed side by side (the coefficients agree to rounding; linearmodels' SE uses another
small-sample convention).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from robocarbon.reports.cmd_diagnose import load_design
from robocarbon.simulate import estimators as E
from robocarbon.empirics.core.threads import single_threaded_blas
from robocarbon.simulate.engine import diagnose, replication_rng

def _rhs(draw):
    return ["robot", *E._present_controls(draw)]


def _pf_fit(draw):
    import pyfixest as pf

    f = pf.feols("lnindco ~ " + " + ".join(_rhs(draw)) + " | city + year", data=draw.panel,
                 vcov={"CRV1": "city"})
    return float(f.coef()["robot"]), float(f.se()["robot"])


def _lm_fit(draw):
    from linearmodels.panel import PanelOLS

    p = draw.panel.set_index(["city", "year"])
    res = PanelOLS(p["lnindco"], p[_rhs(draw)], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True)
    return float(res.params["robot"]), float(res.std_errors["robot"])


def _ours_fit(draw):
    r = E.twfe(draw)
    return float(r.params[0]), float(np.sqrt(r.cov[0, 0]))


class _Replay:
    """A design whose every draw is the same object, with an estimator returning one Result:
    ``diagnose`` on it times the engine alone."""

    name = "replay"
    params: dict = {}

    def __init__(self, draw):
        self._draw = draw

    def draw(self, rng):
        return self._draw


def _engine_overhead_ms(design, sims: int) -> float:
    from robocarbon.simulate.estimators import Estimator

    draw = design.draw(np.random.default_rng(0))
    res = E.twfe(draw)
    est = Estimator("twfe", lambda d: res, {"robot": "robot"})
    replay = _Replay(draw)
    diagnose(replay, [est], 50, seed=1, progress=False)  # warm-up
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        diagnose(replay, [est], sims, seed=1, progress=False)
        best = min(best, time.perf_counter() - t0)
    return 1e3 * best / sims


def _fit_warm_ms(design, number: int = 500) -> float:
    draw = design.draw(np.random.default_rng(0))
    E.twfe(draw)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(number):
            E.twfe(draw)
        best = min(best, time.perf_counter() - t0)
    return 1e3 * best / number


def _reads_panel(design, fn) -> bool:
    """Whether ``fn`` reads ``Draw.panel``, which the design may build lazily (on first access):
    then the DataFrame's construction belongs to that estimator's loop."""
    draw = design.draw(np.random.default_rng(0))
    if getattr(draw, "panel_built", True):
        return True
    fn(draw)
    return bool(draw.panel_built)


def _loops(design, reps, block, fits, reads, seed=1):
    """Each method's own loop (draw, the panel if it reads it, its fit) over replications
    0..reps-1, run in alternating blocks of ``block`` replications. Returns, per method, the
    total time and its parts (draw, panel, fit), and the first replication's estimates."""
    for fn in fits.values():  # warm-up (imports, JIT compilation) outside the timing
        fn(design.draw(np.random.default_rng(0)))
    parts = {name: {"total": 0.0, "draw": 0.0, "panel": 0.0, "fit": 0.0} for name in fits}
    first = {}
    for start in range(0, reps, block):
        for name, fn in fits.items():
            acc = parts[name]
            t_start = time.perf_counter()
            for r in range(start, min(start + block, reps)):
                t0 = time.perf_counter()
                draw = design.draw(replication_rng(seed, 0, r, keyed_by_cell=False))
                t1 = time.perf_counter()
                if reads[name]:
                    _ = draw.panel
                t2 = time.perf_counter()
                out = fn(draw)
                t3 = time.perf_counter()
                acc["draw"] += t1 - t0
                acc["panel"] += t2 - t1
                acc["fit"] += t3 - t2
                if r == 0:
                    first[name] = out
            acc["total"] += time.perf_counter() - t_start
    return parts, first


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", default="paper")
    ap.add_argument("--reps", type=int, default=120, help="replications per timed loop")
    ap.add_argument("--block", type=int, default=10,
                    help="replications per block of a loop (the loops alternate by block)")
    ap.add_argument("--sims", type=int, default=2000, help="replications of the diagnose run")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    design = load_design(args.design, {})
    out: dict = {"design": args.design, "reps": args.reps, "cpu_count": os.cpu_count(),
                 "load_average": os.getloadavg()}
    with single_threaded_blas():
        t0 = time.perf_counter()
        design.draw(np.random.default_rng(0))
        out["warm_up_seconds"] = time.perf_counter() - t0
        fits = {"ours": _ours_fit, "pyfixest": _pf_fit, "linearmodels": _lm_fit}
        reads = {name: _reads_panel(design, fn) for name, fn in fits.items()}
        parts, first = _loops(design, args.reps, args.block, fits, reads)
        out["fit_warm_ms"] = _fit_warm_ms(design)
        out["engine_overhead_ms"] = _engine_overhead_ms(design, args.sims)
    rows = {k: args.reps / v["total"] for k, v in parts.items()}
    rows["gen"] = args.reps / parts["ours"]["draw"]
    out["method"] = f"separate loops in alternating blocks of {args.block} replications"
    out["replications_per_second"] = rows
    out["ratio_ours_vs_pyfixest"] = rows["ours"] / rows["pyfixest"]
    out["ratio_ours_vs_linearmodels"] = rows["ours"] / rows["linearmodels"]
    out["loop_ms"] = {k: 1e3 * v["total"] / args.reps for k, v in parts.items()}
    out["generation_ms"] = {k: 1e3 * v["draw"] / args.reps for k, v in parts.items()}
    out["panel_ms"] = {k: 1e3 * v["panel"] / args.reps for k, v in parts.items()}
    out["reads_panel"] = reads
    out["fit_only_ms"] = {k: 1e3 * v["fit"] / args.reps for k, v in parts.items()}
    out["fit_only_ratio_vs_pyfixest"] = parts["pyfixest"]["fit"] / parts["ours"]["fit"]
    out["fit_only_ratio_vs_linearmodels"] = parts["linearmodels"]["fit"] / parts["ours"]["fit"]
    out["first_draw_robot"] = first

    t0 = time.perf_counter()
    _, diag = diagnose(design, ["twfe"], args.sims, seed=1, jobs=args.jobs, progress=False)
    out["diagnose_seconds"] = time.perf_counter() - t0
    out["diagnose_sims"] = args.sims
    out["diagnose_jobs"] = args.jobs
    d = diag.iloc[0]
    out["diagnose_result"] = {k: float(d[k]) for k in ("bias", "bias_mcse", "coverage",
                                                       "coverage_mcse", "mean_se", "sd_estimate",
                                                       "power")}
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text + "\n")
    print(
        f"\nreps/s (draw + TWFE clustered SE): ours {rows['ours']:.1f}, pyfixest "
        f"{rows['pyfixest']:.1f} ({out['ratio_ours_vs_pyfixest']:.1f}x), linearmodels "
        f"{rows['linearmodels']:.1f} ({out['ratio_ours_vs_linearmodels']:.1f}x); draw in our loop "
        f"{out['generation_ms']['ours']:.2f} ms; fit alone: ours {out['fit_only_ms']['ours']:.2f} ms, "
        f"{out['fit_only_ratio_vs_pyfixest']:.0f}x pyfixest, "
        f"{out['fit_only_ratio_vs_linearmodels']:.0f}x linearmodels; "
        f"diagnose {args.sims} reps on {args.jobs} jobs: {out['diagnose_seconds']:.1f} s; "
        f"ours warm {out['fit_warm_ms']:.2f} ms; engine {out['engine_overhead_ms']:.3f} ms/rep",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
