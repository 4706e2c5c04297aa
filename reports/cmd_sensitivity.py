"""``robocarbon sensitivity``: how much would identification have to fail to overturn an estimate.

One command, one method per run (``--method``). The methods live in one table, :data:`METHODS`
(name -> :class:`Method`: its flag declarations, its runner and a help line), so adding one is a
single :func:`register` call in this module:

- ``ovb``: Cinelli and Hazlett (2020) omitted-variable sensitivity (partial R2, robustness
  values, benchmark bounds, contour plot);
- ``oster``: Oster (2019) delta and beta* with R2max;
- ``chr``: Conley, Hansen and Rossi (2012) union-of-intervals (``--gamma-range``) and
  local-to-zero (``--gamma-mean``/``--gamma-var``) intervals for a 2SLS coefficient.

A method's ``add_arguments(group)`` declares flags used only by it (in its own argument group);
flags shared by several methods (``--data``, ``--formula``, ``--treatment``, ``--level``,
``--vcov``, ``--cluster``, ``--weights``, ``--entity``, ``--time``, ``--json``, ``--plot``) are
declared once here. A method-specific flag given with another ``--method`` is an error. A
method's ``run(args, data)`` returns a :class:`MethodOutput`: the Result(s), the JSON summary
and the lines to print; this module prints, writes the JSON (``method``, ``formula``,
``summary``, ``results``, ``provenance``), the plot and the manifest.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time as _time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from robocarbon.empirics.errors import InputError

NAME = "sensitivity"
HELP = "sensitivity analysis: Cinelli-Hazlett and Oster omitted-variable bias, Conley-Hansen-Rossi instruments"
DESCRIPTION = (
    "How strong would a violation of identification have to be to overturn an estimate? "
    "--method ovb: Cinelli and Hazlett (2020) partial R2 of the treatment with the outcome, "
    "robustness values RV(q) and RV(q, alpha), bounds from benchmark covariates (kd, ky times as "
    "strong) with adjusted estimates and intervals, contour plot. --method oster: Oster (2019) "
    "delta that takes the coefficient to --beta and the bias-adjusted beta* at --delta, with "
    "R2max (default 1.3 x the controlled R2). --method chr: Conley, Hansen and Rossi (2012) "
    "intervals for a 2SLS coefficient when the instruments have a direct effect gamma: union of "
    "intervals over gamma in [LO, HI] (--gamma-range) and local-to-zero with gamma ~ N(mean, "
    "var) (--gamma-mean, --gamma-var). See docs/sensitivity.md."
)

INPUTS = ("data",)


@dataclasses.dataclass
class MethodOutput:
    """What a method's runner hands back: ``results`` (name -> Result, written under
    ``results`` in the JSON), ``summary`` (the method's JSON summary), ``lines`` (printed), and
    ``figure_result`` (the Result the ``--plot`` figure is drawn from, or None)."""

    results: dict
    summary: dict
    lines: list
    figure_result: Any = None
    figure_options: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Method:
    """One method: ``add_arguments(group)``, ``run(args, data) -> MethodOutput`` (or, with
    ``standalone=True``, ``run(args) -> int``: the method reads its inputs and writes its
    outputs itself), a help line, and whether it has a ``--plot`` figure."""

    add_arguments: Callable[[argparse._ArgumentGroup], None]
    run: Callable[..., Any]
    help: str
    plot: bool = True
    standalone: bool = False


#: name -> Method; the order is the order of --help
METHODS: dict[str, Method] = {}


def register(name: str, add_arguments, run, help: str, *, plot: bool = True,
             standalone: bool = False) -> None:
    """Add a method to :data:`METHODS` (flags, runner, one help line; see :class:`Method`)."""
    if name in METHODS:
        raise ValueError(f"sensitivity method {name!r} registered twice")
    METHODS[name] = Method(add_arguments, run, help, plot, standalone)


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in str(text).replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def _float_list(values) -> list[float] | None:
    if values is None:
        return None
    out: list[float] = []
    for v in values:
        out.extend(_floats(v) if isinstance(v, str) else [float(v)])
    return out


# ============================================================================ ovb
def _ovb_arguments(g) -> None:
    g.add_argument("--benchmark", action="append", default=None, metavar="COL[+COL...]",
                   help="benchmark covariate (repeat for several; 'a+b' benchmarks a group)")
    g.add_argument("--kd", nargs="+", default=None, metavar="K",
                   help="multiples of the benchmark's strength with the treatment (default 1; "
                        "e.g. --kd 1 2 3)")
    g.add_argument("--ky", nargs="+", default=None, metavar="K",
                   help="multiples of its strength with the outcome (default: --kd)")
    g.add_argument("--q", type=float, default=None,
                   help="fraction of the estimate the confounder should remove (default 1)")
    g.add_argument("--increase", action="store_true", default=None,
                   help="confounders that move the estimate away from zero (default: towards it)")
    g.add_argument("--contour", default=None, choices=["estimate", "t-value", "lwr"],
                   help="what the --plot contours show (default estimate)")


def _fit_options(args, *, vcov_default: str) -> dict:
    opts: dict[str, Any] = {}
    if args.weights:
        opts["weights"] = args.weights
    for k in ("entity", "time"):
        if getattr(args, k, None):
            opts[k] = getattr(args, k)
    vcov = args.vcov or ("cluster" if args.cluster else vcov_default)
    opts["vcov"] = vcov
    if args.cluster:
        if vcov != "cluster":
            raise InputError(f"--cluster needs --vcov cluster (got --vcov {vcov})")
        opts["cluster"] = args.cluster
    return opts


def _need(args, *names: str) -> None:
    for n in names:
        if not getattr(args, n, None):
            raise InputError(f"--method {args.method} needs --{n.replace('_', '-')}")


def _run_ovb(args, data) -> MethodOutput:
    from robocarbon.empirics.sensitivity import cinelli_hazlett

    _need(args, "formula", "treatment")
    if args.vcov not in (None, "unadjusted") or args.cluster:
        raise InputError("--method ovb uses the classical OLS covariance (the partial R2 algebra "
                         "is exact for it); drop --vcov/--cluster")
    opts = _fit_options(args, vcov_default="unadjusted")
    opts.pop("vcov")
    bench = None
    if args.benchmark:
        bench = {b: [c.strip() for c in b.split("+") if c.strip()] for b in args.benchmark}
    res = cinelli_hazlett(
        args.formula, data, args.treatment, benchmark=bench,
        kd=_float_list(args.kd) or 1.0, ky=_float_list(args.ky),
        q=1.0 if args.q is None else args.q, alpha=0.05 if args.alpha is None else args.alpha,
        reduce=not args.increase, **opts)
    dg = res.diagnostics
    summary = {k: dg[k] for k in ("treatment", "estimate", "se", "t_statistic", "dof", "r2yd_x",
                                  "f2yd_x", "rv_q", "rv_qa", "rv_qa_extreme", "q", "alpha",
                                  "reduce")}
    summary["bounds"] = [dict(b) for b in dg["bounds"]]
    pct = 100
    lines = [
        f"Cinelli-Hazlett sensitivity of {dg['treatment']!r} ({res.nobs} obs, dof {dg['dof']}"
        + (f"; {dg['model']['dropped']['singletons']} fixed-effect singletons dropped, which "
           "changes neither t nor dof" if dg["model"]["dropped"].get("singletons") else "") + ")",
        f"  estimate {dg['estimate']:.6g}  SE {dg['se']:.6g}  t {dg['t_statistic']:.6g}",
        f"  partial R2 of the treatment with the outcome: {pct * dg['r2yd_x']:.4f}%",
        f"  robustness value RV(q={dg['q']:g}): {pct * dg['rv_q']:.4f}%",
        f"  robustness value RV(q={dg['q']:g}, alpha={dg['alpha']:g}): {pct * dg['rv_qa']:.4f}%"
        + ("  (extreme: the confounder explains all of the outcome)" if dg["rv_qa_extreme"] else ""),
    ]
    if dg["bounds"]:
        lines.append(f"  {'bound':<22} {'R2dz.x':>8} {'R2yz.dx':>8} {'adj. est':>10} {'adj. SE':>9} "
                     f"{'adj. t':>8} {'lower':>10} {'upper':>10}")
        for b in dg["bounds"]:
            lines.append(f"  {b['label']:<22} {b['r2dz_x']:8.4f} {b['r2yz_dx']:8.4f} "
                         f"{b['adjusted_estimate']:10.4f} {b['adjusted_se']:9.4f} "
                         f"{b['adjusted_t']:8.4f} {b['adjusted_lower']:10.4f} {b['adjusted_upper']:10.4f}"
                         + ("  (R2yz.dx capped at 1)" if b["capped"] else ""))
    return MethodOutput({"ovb": res}, summary, lines, res,
                        {"sensitivity_of": args.contour or "estimate"})


# ============================================================================ oster
def _oster_arguments(g) -> None:
    g.add_argument("--delta", type=float, default=None,
                   help="relative selection on unobservables for beta* (default 1)")
    g.add_argument("--beta", type=float, default=None,
                   help="coefficient value for which delta is computed (default 0)")
    g.add_argument("--r2max", type=float, default=None,
                   help="R-squared of the regression with the unobservables (default "
                        "min(1.3 x controlled R2, 1))")
    g.add_argument("--r2max-multiple", type=float, default=None, dest="r2max_multiple",
                   help="the multiple of the controlled R2 used when --r2max is not given (1.3)")
    g.add_argument("--short-controls", nargs="+", default=None, dest="short_controls",
                   metavar="TERM", help="terms (or fixed effects) kept in the short regression")
    g.add_argument("--r2", default=None, choices=["with_fe", "within"],
                   help="R-squared including the fixed effects (default) or within")


def _run_oster(args, data) -> MethodOutput:
    from robocarbon.empirics.sensitivity import oster

    _need(args, "formula", "treatment")
    opts = _fit_options(args, vcov_default="unadjusted")
    shorts = [c for s in (args.short_controls or []) for c in s.split(",") if c]
    res = oster(args.formula, data, args.treatment,
                delta=1.0 if args.delta is None else args.delta,
                beta=0.0 if args.beta is None else args.beta, r2max=args.r2max,
                r2max_multiple=1.3 if args.r2max_multiple is None else args.r2max_multiple,
                short_controls=shorts, r2=args.r2 or "with_fe", **opts)
    dg = res.diagnostics
    keys = ("delta_for_beta", "beta", "beta_star", "delta", "beta_star_roots", "beta_star_approx",
            "direction_consistent", "r2max", "r2_controlled", "r2_short", "beta_controlled",
            "beta_short", "var_y", "var_x", "tau_x", "r2", "short_formula", "nobs")
    summary = {k: dg[k] for k in keys}
    lines = [
        f"Oster (2019) coefficient stability of {args.treatment!r} ({dg['nobs']} obs, R2 {dg['r2']})",
        f"  uncontrolled: beta {dg['beta_short']:.6g}  R2 {dg['r2_short']:.6g}   ({dg['short_formula']})",
        f"  controlled:   beta {dg['beta_controlled']:.6g}  R2 {dg['r2_controlled']:.6g}",
        f"  R2max {dg['r2max']:.6g}",
        f"  delta for beta = {dg['beta']:g}: {dg['delta_for_beta']:.6g}",
        f"  beta* at delta = {dg['delta']:g}: {dg['beta_star']:.6g}  (approximation "
        f"{dg['beta_star_approx']:.6g}; real roots {', '.join(f'{b:.6g}' for b in dg['beta_star_roots'])})"
        + ("" if dg["direction_consistent"] else "  [no root moves in the observables' direction]"),
    ]
    return MethodOutput({"oster": res}, summary, lines, res)


# ============================================================================ chr
def _chr_arguments(g) -> None:
    g.add_argument("--gamma-range", action="append", default=None, dest="gamma_range",
                   metavar="LO,HI", help="support of the instrument's direct effect for the union "
                   "of intervals; repeat once per instrument, in the formula's order")
    g.add_argument("--gamma-mean", nargs="+", default=None, dest="gamma_mean", metavar="MU",
                   help="local-to-zero: mean of gamma, one per instrument")
    g.add_argument("--gamma-var", nargs="+", default=None, dest="gamma_var", metavar="V",
                   help="local-to-zero: variance of gamma (one per instrument, or the p x p "
                        "matrix row by row)")
    g.add_argument("--grid", type=int, default=None,
                   help="points of the UCI path stored for the plot (default 21)")
    g.add_argument("--iv-method", default=None, dest="iv_method", choices=["2sls", "liml"],
                   help="IV estimator (default 2sls)")


def _interval_summary(res, level: float) -> dict:
    ci = res.conf_int(level)
    return {t: {"estimate": float(res.params[i]), "std_error": float(res.std_errors.iloc[i]),
                "conf_low": float(ci.loc[t, "lower"]), "conf_high": float(ci.loc[t, "upper"])}
            for i, t in enumerate(res.terms)}


def _run_chr(args, data) -> MethodOutput:
    import numpy as np

    from robocarbon.empirics.sensitivity import conley_ltz, conley_uci

    _need(args, "formula")
    if not args.gamma_range and args.gamma_mean is None and args.gamma_var is None:
        raise InputError("--method chr needs --gamma-range LO,HI (union of intervals) and/or "
                         "--gamma-mean/--gamma-var (local to zero)")
    opts = _fit_options(args, vcov_default="hc1")
    if args.iv_method:
        opts["method"] = args.iv_method
    level = args.level
    results: dict = {}
    summary: dict = {"level": level}
    lines: list = []
    fig = None
    if args.gamma_range:
        ranges = []
        for text in args.gamma_range:
            vals = _floats(text)
            if len(vals) != 2:
                raise InputError(f"--gamma-range takes LO,HI, got {text!r}")
            ranges.append(vals)
        uci = conley_uci(args.formula, data, gamma_range=ranges, level=level,
                         grid=args.grid or 21, **opts)
        results["uci"] = uci
        fig = uci if uci.diagnostics["path"] else None
        dg = uci.diagnostics
        summary["uci"] = {"intervals": {t: list(v) for t, v in dg["intervals"].items()},
                          "gamma_range": {k: list(v) for k, v in dg["gamma_range"].items()},
                          "tsls": dict(dg["tsls"])}
        lines.append(f"Conley-Hansen-Rossi union of {100 * level:g}% intervals, gamma in "
                     + ", ".join(f"{z} [{lo:g}, {hi:g}]" for z, (lo, hi) in dg["gamma_range"].items())
                     + f" ({uci.nobs} obs)")
        for t, (lo, hi) in dg["intervals"].items():
            a, b = dg["tsls"]["conf_int"][t]
            lines.append(f"  {t:<20} UCI [{lo:.6g}, {hi:.6g}]   2SLS [{a:.6g}, {b:.6g}]")
    if args.gamma_mean is not None or args.gamma_var is not None:
        mu = _float_list(args.gamma_mean) or [0.0]
        var = _float_list(args.gamma_var) or [0.0]
        k = int(round(len(var) ** 0.5))
        if len(var) > 1 and k * k == len(var) and len(var) != len(mu):
            var = np.array(var).reshape(k, k)
        ltz = conley_ltz(args.formula, data, gamma_mean=mu, gamma_var=var, **opts)
        results["ltz"] = ltz
        summary["ltz"] = {"terms": _interval_summary(ltz, level),
                          "gamma_mean": dict(ltz.diagnostics["gamma_mean"]),
                          "gamma_var": [list(r) for r in ltz.diagnostics["gamma_var"]]}
        lines.append(f"Conley-Hansen-Rossi local to zero, gamma ~ N({mu}, {np.asarray(var).tolist()}) "
                     f"({ltz.nobs} obs)")
        for t, v in summary["ltz"]["terms"].items():
            lines.append(f"  {t:<20} {v['estimate']:.6g} (SE {v['std_error']:.6g})  "
                         f"[{v['conf_low']:.6g}, {v['conf_high']:.6g}]")
    return MethodOutput(results, summary, lines, fig)


register("ovb", _ovb_arguments, _run_ovb,
         "Cinelli-Hazlett (2020): partial R2, robustness values, benchmark bounds, contour plot")
register("oster", _oster_arguments, _run_oster,
         "Oster (2019): delta for --beta and beta* for --delta with R2max")
register("chr", _chr_arguments, _run_chr,
         "Conley-Hansen-Rossi (2012): union of intervals and local-to-zero for 2SLS")


# ============================================================================ parallel trends
def _honest_arguments(g) -> None:
    from robocarbon.reports.sensitivity_honest import add_arguments_honest

    add_arguments_honest(g, data_arguments=False)


def _run_honestdid(args) -> int:
    from robocarbon.reports.sensitivity_honest import run_honest

    return run_honest(args, "honestdid")


def _run_pretrend_power(args) -> int:
    from robocarbon.reports.sensitivity_honest import run_honest

    return run_honest(args, "pretrend-power")


register("honestdid", _honest_arguments, _run_honestdid,
         "Rambachan-Roth (2023): event-study intervals under relative-magnitude (--mbar) or "
         "smoothness (--restriction sd --m) violations of parallel trends, breakdown values",
         standalone=True)
register("pretrend-power", lambda g: None, _run_pretrend_power,
         "Roth (2022): power of the pre-trend test against linear violations, bias given passing "
         "it (the honestdid flags)", standalone=True)
#: methods that read the flags another method declares
_SHARED_FLAGS = {"pretrend-power": ("honestdid",)}


# ============================================================================ the command
_METHOD_DESTS: dict[str, list[str]] = {}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, choices=list(METHODS),
                        help="; ".join(f"{k}: {m.help}" for k, m in METHODS.items()))
    parser.add_argument("--data", default=None, help="data file (CSV, Parquet, .dta, .xlsx)")
    parser.add_argument("--formula", default=None,
                        help='fixest-style formula, e.g. "y ~ d + x1 + x2 | village" (chr: '
                             '"y ~ w | fe | x ~ z")')
    parser.add_argument("--treatment", default=None, help="the term examined (ovb, oster)")
    parser.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    parser.add_argument("--alpha", type=float, default=None,
                        help="significance level (ovb: of RV(q, alpha) and the bound intervals' "
                             "reference, default 0.05)")
    parser.add_argument("--vcov", default=None, choices=["unadjusted", "hc1", "cluster"],
                        help="covariance of the fits (ovb: always unadjusted; oster: default "
                             "unadjusted; chr: default hc1, cluster with --cluster)")
    parser.add_argument("--cluster", default=None, help="cluster column(s), comma separated")
    parser.add_argument("--weights", default=None, help="column of analytic weights")
    parser.add_argument("--entity", default=None, help="entity column (panels, lags)")
    parser.add_argument("--time", default=None, help="time column (panels, lags)")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    parser.add_argument("--plot", default=None,
                        help="write the method's figure (PATH.png and PATH.svg): ovb contour, "
                             "oster beta* against R2max, chr UCI path")
    for name, m in METHODS.items():
        before = {a.dest for a in parser._actions}
        m.add_arguments(parser.add_argument_group(f"--method {name}", m.help))
        _METHOD_DESTS[name] = [a.dest for a in parser._actions if a.dest not in before]
    from robocarbon.reports.cli_common import add_reader_arguments

    add_reader_arguments(parser)


def _plot_paths(args) -> list[Path]:
    if not args.plot:
        return []
    from robocarbon.reports.figures_sensitivity import output_paths

    return output_paths(args.plot)


def _primary_output(args) -> Path | None:
    if args.json:
        return Path(args.json)
    paths = _plot_paths(args)
    return paths[0] if paths else None


def planned_outputs(args):
    from .cli import file_outputs

    return file_outputs(args.json, *_plot_paths(args))


def _check_flags(args) -> None:
    for name, dests in _METHOD_DESTS.items():
        if name == args.method or name in _SHARED_FLAGS.get(args.method, ()):
            continue
        used = [d for d in dests if getattr(args, d, None) not in (None, False)]
        if used:
            flags = ", ".join("--" + d.replace("_", "-") for d in used)
            raise InputError(f"{flags} belong(s) to --method {name}, not --method {args.method}")


def run(args) -> int:
    from robocarbon.empirics.provenance import file_sha256, write_json_atomic, write_manifest
    from robocarbon.empirics.result import Result

    t0 = _time.time()
    _check_flags(args)
    if not 0.0 < args.level < 1.0:
        raise InputError(f"--level must be in (0, 1), got {args.level}")
    method = METHODS[args.method]
    if method.standalone:
        return int(method.run(args) or 0)
    data = None
    if args.data:
        from robocarbon.empirics.data import load_panel
        from robocarbon.reports.cli_common import print_dropped, reader_options

        data = load_panel(args.data, entity=args.entity, time=args.time, integer_time=False,
                          **reader_options(args))
        print_dropped(data)
    else:
        raise InputError(f"--method {args.method} needs --data")
    out = method.run(args, data)
    for line in out.lines:
        print(line)
    written = []
    if args.plot:
        if out.figure_result is None or not method.plot:
            raise InputError(f"--method {args.method}: nothing to plot with these options"
                             + (" (the UCI path needs one instrument and --gamma-range with LO < HI)"
                                if args.method == "chr" else ""))
        from robocarbon.reports.figures_sensitivity import plot_sensitivity

        written += plot_sensitivity(out.figure_result, args.plot, **out.figure_options)
    if args.json:
        doc = {
            "method": args.method,
            "formula": args.formula,
            "treatment": args.treatment,
            "summary": out.summary,
            "results": {k: (v.to_dict(args.level) if isinstance(v, Result) else v)
                        for k, v in out.results.items()},
            "provenance": {"data": str(args.data), "data_sha256": file_sha256(args.data),
                           "command": ["robocarbon"] + list(sys.argv[1:])},
        }
        written.append(write_json_atomic(args.json, doc))
    if written:
        config = {k: v for k, v in vars(args).items() if not k.startswith("_")}
        write_manifest(for_file=_primary_output(args), config=config, inputs=[args.data],
                       wall_time=_time.time() - t0, outputs=[str(p) for p in written])
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise InputError("run through `robocarbon sensitivity`")
