"""Monte Carlo speed: replications per second of the ``paper`` design (generation + TWFE with
city-clustered SE), ours against the same loop with pyfixest and with linearmodels, one run.

    python benchmarks/bench_mc.py [--reps 100] [--sims 2000] [--jobs 2] [--json out.json]

Measured on one core (BLAS single-threaded), interleaved: each replication's draw is timed, then
each estimator on that same draw, so the three loops see identical data and the same machine load:

- ``gen``: the design's draw alone;
- ``ours``: draw + ``robocarbon.simulate.estimators.twfe`` (the numpy fast path);
- ``pyfixest``: draw + ``pyfixest.feols("lnindco ~ robot + controls | city + year",
  vcov={"CRV1": "city"})``;
- ``linearmodels``: draw + ``PanelOLS(..., entity_effects=True, time_effects=True)
  .fit(cov_type="clustered", cluster_entity=True)``;
- ``fit_only``: the estimators' share of the loop (with the panel DataFrame's construction,
  ``panel_ms``, for each estimator that reads ``Draw.panel``: the design builds it lazily,
  on first access, and ``reads_panel`` says which estimators do);

then ``diagnose(design, ["twfe"], sims, seed, jobs=J)`` wall time (pool start included), and
the engine's own cost per replication (``engine_overhead_ms``: ``diagnose`` in this process on a
design that replays one draw with an estimator that replays one Result, so only the engine runs:
streams, the simulations rows, inference columns, frames, the diagnosands), and ``ours`` warm
(``fit_warm_ms``: the fit repeated on one draw, caches hot). Every
loop uses the same replication streams, and the three estimates of the first draw are printed
side by side (the coefficients agree to rounding; linearmodels' SE uses another small-sample
convention).
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
from robocarbon.simulate.engine import _BLAS, diagnose, replication_rng

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


def _interleaved(design, reps, fits, seed=1):
    """Per replication: time the draw, then the panel DataFrame (built lazily by the draw), then
    each estimator on that same draw. The loop time of estimator m is sum(draw) + sum(fit_m),
    plus sum(panel) when m reads the DataFrame: every estimator sees identical data, and a change
    in machine load during the run hits all of them alike."""
    for fn in fits.values():  # warm-up (imports, JIT compilation) outside the timing
        fn(design.draw(np.random.default_rng(0)))
    reads = {name: _reads_panel(design, fn) for name, fn in fits.items()}
    t_draw = t_panel = 0.0
    t_fit = dict.fromkeys(fits, 0.0)
    first = {}
    for r in range(reps):
        t0 = time.perf_counter()
        draw = design.draw(replication_rng(seed, 0, r, keyed_by_cell=False))
        t_draw += time.perf_counter() - t0
        t0 = time.perf_counter()
        _ = draw.panel
        t_panel += time.perf_counter() - t0
        for name, fn in fits.items():
            t0 = time.perf_counter()
            out = fn(draw)
            t_fit[name] += time.perf_counter() - t0
            first.setdefault(name, out)
    for name in fits:
        if reads[name]:
            t_fit[name] += t_panel
    return t_draw, t_panel, t_fit, reads, first


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", default="paper")
    ap.add_argument("--reps", type=int, default=100, help="replications per timed loop")
    ap.add_argument("--sims", type=int, default=2000, help="replications of the diagnose run")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    design = load_design(args.design, {})
    out: dict = {"design": args.design, "reps": args.reps, "cpu_count": os.cpu_count(),
                 "load_average": os.getloadavg()}
    with _BLAS:
        t0 = time.perf_counter()
        design.draw(np.random.default_rng(0))
        out["warm_up_seconds"] = time.perf_counter() - t0
        fits = {"ours": _ours_fit, "pyfixest": _pf_fit, "linearmodels": _lm_fit}
        t_draw, t_panel, t_fit, reads, first = _interleaved(design, args.reps, fits)
        out["fit_warm_ms"] = _fit_warm_ms(design)
        out["engine_overhead_ms"] = _engine_overhead_ms(design, args.sims)
    rows = {k: args.reps / (t_draw + t) for k, t in t_fit.items()}
    rows["gen"] = args.reps / t_draw
    out["replications_per_second"] = rows
    out["ratio_ours_vs_pyfixest"] = rows["ours"] / rows["pyfixest"]
    out["ratio_ours_vs_linearmodels"] = rows["ours"] / rows["linearmodels"]
    out["generation_ms"] = 1e3 * t_draw / args.reps
    out["panel_ms"] = 1e3 * t_panel / args.reps
    out["reads_panel"] = reads
    out["fit_only_ms"] = {k: 1e3 * t / args.reps for k, t in t_fit.items()}
    out["fit_only_ratio_vs_pyfixest"] = t_fit["pyfixest"] / t_fit["ours"]
    out["fit_only_ratio_vs_linearmodels"] = t_fit["linearmodels"] / t_fit["ours"]
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
        f"{rows['linearmodels']:.1f} ({out['ratio_ours_vs_linearmodels']:.1f}x); draw alone "
        f"{out['generation_ms']:.1f} ms; fit alone: ours {out['fit_only_ms']['ours']:.2f} ms, "
        f"{out['fit_only_ratio_vs_pyfixest']:.0f}x pyfixest, "
        f"{out['fit_only_ratio_vs_linearmodels']:.0f}x linearmodels; "
        f"diagnose {args.sims} reps on {args.jobs} jobs: {out['diagnose_seconds']:.1f} s; "
        f"ours warm {out['fit_warm_ms']:.2f} ms; engine {out['engine_overhead_ms']:.3f} ms/rep",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
