"""CLI part for parallel-trends sensitivity (``honestdid`` and ``pretrend-power``).

Not a command by itself (not a ``cmd_*`` module, which the CLI would discover as a command):
``robocarbon sensitivity`` registers its two methods and
calls :func:`add_arguments_honest` and :func:`run_honest`. It estimates an event study
(TWFE ``event``, Sun-Abraham ``sa`` or Callaway-Sant'Anna ``cs`` with a universal base period)
on a panel file and runs :func:`robocarbon.empirics.sensitivity.honestdid.honest_did` or
:func:`robocarbon.empirics.sensitivity.pretrends.pretrend_power` on it.
"""

from __future__ import annotations

import sys
import time as _time
from pathlib import Path

import numpy as np

from robocarbon.empirics.errors import InputError

METHODS_HONEST = ("honestdid", "pretrend-power")


def matplotlib_close(fig) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


def _floats(text: str | None, flag: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError as exc:
        raise InputError(f"{flag} must be a comma-separated list of numbers, got {text!r}") from exc


def add_arguments_honest(parser, *, data_arguments: bool = True) -> None:
    """The flags of the two methods. ``data_arguments=False`` leaves out ``--data, --entity,
    --time, --json, --plot, --alpha`` (declared by ``robocarbon sensitivity`` for all its
    methods)."""
    if data_arguments:
        parser.add_argument("--data", required=True, help="panel file (CSV, Parquet, .dta, .xlsx)")
        parser.add_argument("--entity", required=True, help="entity column; also the cluster")
        parser.add_argument("--time", required=True, help="period column (integer periods)")
        parser.add_argument("--alpha", type=float, default=None, help="1 - confidence level (default 0.05)")
        parser.add_argument("--json", default=None, help="write the results to this JSON file")
        parser.add_argument("--plot", default=None,
                            help="write the sensitivity figure (PATH.png and PATH.svg)")
    parser.add_argument("--y", default=None, help="outcome column (honestdid, pretrend-power)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the simulated least-favourable critical value (default 0)")
    parser.add_argument("--adopt", default=None,
                        help="adoption-period column (first treated period; missing/0 = never)")
    parser.add_argument("--treat", default=None,
                        help="treated-group dummy column (one adoption date: with --ref-year)")
    parser.add_argument("--ref-year", type=int, default=None,
                        help="with --treat: the reference (last pre-treatment) period")
    parser.add_argument("--estimator", default=None, choices=["event", "sa", "cs"],
                        help="event study: TWFE (event), Sun-Abraham (sa), Callaway-Sant'Anna (cs)")
    parser.add_argument("--target", default=None,
                        help="first (default), average, a post-period term like e+1, or weights w1,w2,...")
    parser.add_argument("--restriction", default=None, choices=["rm", "sd"],
                        help="relative magnitudes (rm, default) or smoothness (sd)")
    parser.add_argument("--mbar", default=None, help="Mbar values for rm (default 0,0.5,1,1.5,2)")
    parser.add_argument("--m", default=None, help="M values for sd (default: 10 values up to sd(e-2))")
    parser.add_argument("--ci-method", default=None, choices=["C-LF", "Conditional", "FLCI"],
                        help="interval: rm C-LF (default) or Conditional; sd FLCI (default), Conditional, C-LF")
    parser.add_argument("--convention", default=None, choices=["exact", "honestdid"],
                        help="honestdid: simulate as the R package does (reproduces its printed numbers)")
    parser.add_argument("--window", default=None, help="keep event times lo,hi (e.g. -5,5)")


def _panel(args):
    from robocarbon.empirics.data import load_panel

    for flag in ("data", "y", "entity", "time"):
        if not getattr(args, flag, None):
            raise InputError(f"the parallel-trends sensitivity needs --{flag}")
    if (args.adopt is None) == (args.treat is None):
        raise InputError("give exactly one of --adopt or --treat (with --ref-year)")
    if args.treat is not None and args.ref_year is None:
        raise InputError("--treat needs --ref-year (the last pre-treatment period)")
    col = args.adopt or args.treat
    df = load_panel(args.data, entity=args.entity, time=args.time, columns=[args.y, col],
                    periods=[args.adopt] if args.adopt else ())
    if args.treat is not None:
        d = df[args.treat]
        if not set(np.unique(d.dropna())) <= {0, 1}:
            raise InputError(f"--treat column {args.treat!r} must be 0/1", file=args.data, column=args.treat)
        df = df.assign(_adopt=np.where(d == 1, args.ref_year + 1, np.nan))
        return df, "_adopt"
    return df, args.adopt


def estimate_event_study(args):
    """The event-study Result the sensitivity runs on."""
    from robocarbon.empirics.did import event_study
    from robocarbon.empirics.did_cs import callaway_santanna
    from robocarbon.empirics.did_sa import sun_abraham

    df, adopt = _panel(args)
    kw = dict(y=args.y, entity=args.entity, time=args.time, adopt=adopt, file=str(args.data))
    if args.estimator == "event":
        return event_study(df, **kw)
    if args.estimator == "sa":
        return sun_abraham(df, **kw)
    a = df[adopt].astype(float)
    has_never = bool((a.isna() | (a == 0) | np.isinf(a)).any())
    # analytic influence-function covariance (HonestDiD's AGGTEobj helper uses the same)
    return callaway_santanna(df, base_period="universal", bootstrap=False,
                             control_group="never" if has_never else "notyet", **kw)


def _target(text: str):
    if "," in text or text.replace(".", "", 1).replace("-", "", 1).isdigit():
        return _floats(text, "--target")
    return text


def run_honest(args, method: str = "honestdid") -> int:
    """Run ``honestdid`` or ``pretrend-power``; prints a table, writes --json/--plot."""
    from robocarbon.empirics.provenance import file_sha256, write_json_atomic, write_manifest
    from robocarbon.empirics.result import _thaw
    from robocarbon.empirics.sensitivity.honestdid import honest_did, intervals_table
    from robocarbon.empirics.sensitivity.pretrends import pretrend_power
    from robocarbon.reports import figures_honestdid as F

    if method not in METHODS_HONEST:
        raise InputError(f"method must be one of {METHODS_HONEST}, got {method!r}")
    t0 = _time.time()
    # defaults applied here, not in argparse: `robocarbon sensitivity` treats a flag that is set
    # as belonging to its method
    for name, default in (("estimator", "event"), ("target", "first"), ("restriction", "rm"),
                          ("convention", "exact")):
        if getattr(args, name, None) is None:
            setattr(args, name, default)
    alpha = args.alpha
    if alpha is None:
        level = getattr(args, "level", None)
        alpha = 0.05 if level is None else 1.0 - float(level)
    if not 0.0 < alpha < 1.0:
        raise InputError(f"--alpha must be in (0, 1), got {alpha}")
    seed = 0 if args.seed is None else int(args.seed)
    window = None
    if args.window:
        w = _floats(args.window, "--window")
        if len(w) != 2:
            raise InputError("--window must be lo,hi")
        window = (int(w[0]), int(w[1]))
    es = estimate_event_study(args)
    target = _target(args.target)
    if method == "honestdid":
        bounds = _floats(args.mbar if args.restriction == "rm" else args.m,
                         "--mbar" if args.restriction == "rm" else "--m")
        res = honest_did(es, restriction=args.restriction, bounds=bounds, method=args.ci_method,
                         target=target, alpha=alpha, seed=seed, window=window,
                         convention=args.convention)
        tab = intervals_table(res)
        sys.stdout.write(f"{res.diagnostics['restriction']} ({res.diagnostics['method']}), "
                         f"target {res.terms[0]}, {es.estimator}\n")
        for r in tab.itertuples():
            sys.stdout.write(f"  {r.term:<12} [{r.conf_low: .5f}, {r.conf_high: .5f}]\n")
        bd = res.diagnostics["breakdown"]
        sys.stdout.write(f"  breakdown {bd['parameter']} = {bd['value']:.4g}\n")
        fig = F.sensitivity_plot(res) if args.plot else None
    else:
        res = pretrend_power(es, target=target, alpha=alpha, window=window)
        d = res.diagnostics
        p = d["pretest"]
        sys.stdout.write(f"pre-test Wald {p['statistic']:.4g} (df {p['df']}), p = {p['p_value']:.4g}\n")
        for r in d["slope_for_power"]:
            sys.stdout.write(f"  {r['power']:.0%} power at slope {r['slope']:.4g}: bias {r['bias_unconditional']:.4g},"
                             f" given passing {r['bias_conditional']:.4g}\n")
        fig = F.pretrend_power_plot(res) if args.plot else None
    written = []
    if fig is not None:
        from robocarbon.empirics.provenance import atomic_path
        from robocarbon.reports.figures_sensitivity import output_paths

        for target in output_paths(args.plot):  # PATH.png and PATH.svg, as the other methods
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format=target.suffix[1:], dpi=150, bbox_inches="tight")
            written.append(target)
        matplotlib_close(fig)
    payload = {"data": str(args.data), "data_sha256": file_sha256(args.data), "method": method,
               "event_study": {"estimator": es.estimator, "terms": list(es.terms),
                               "params": es.params.tolist()},
               "result": res.to_dict(level=1 - alpha)}
    if args.json:
        write_json_atomic(args.json, _thaw(payload))
        written.append(Path(args.json))
    if written:
        write_manifest(for_file=written[-1] if args.json else written[0], seed=seed,
                       config={k: v for k, v in vars(args).items()
                               if not k.startswith("_") and isinstance(v, str | int | float | bool | type(None) | list)},
                       inputs=[args.data], wall_time=_time.time() - t0,
                       outputs=[str(p) for p in written])
    return 0


__all__ = ["add_arguments_honest", "run_honest", "estimate_event_study", "METHODS_HONEST"]
