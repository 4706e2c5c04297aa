"""Regenerate ``small_panel.json``: the report's numbers on the small synthetic paper panel.

Run from the repository root: ``python tests/reference/paper/make_reference.py``. The frozen
file was first written by the report of commit 978d1d1 (before the paper specifications moved
out of ``reports/report.py`` into ``robocarbon.empirics.paper``); the tests check that the
paper-table functions and the report still give these numbers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/, for paper_helper

import paper_helper as H  # noqa: E402

from robocarbon.empirics.provenance import provenance, to_json  # noqa: E402
from robocarbon.empirics.result import Result  # noqa: E402
from robocarbon.reports import report as R  # noqa: E402

SECTIONS = ("table1", "table2", "iv", "table3", "did", "robustness", "heterogeneity")


def _tidy(res: Result) -> dict:
    t = res.tidy()
    out = {"terms": {r["term"]: {k: r[k] for k in ("estimate", "std_error", "statistic", "p_value",
                                                   "conf_low", "conf_high")}
                     for r in t.to_dict(orient="records")},
           "nobs": res.nobs}
    for name in ("r2_with_fe", "r2_within"):
        try:
            out[name] = getattr(res, name)
        except Exception:  # noqa: BLE001 - not every Result defines both
            pass
    return out


def results_of(ctx) -> dict:
    """Every Result the sections computed, by a stable name: ``<section>/<model label>``."""
    found = {}

    def walk(obj, name):
        if isinstance(obj, Result):
            found[name] = _tidy(obj)
        elif isinstance(obj, dict):
            label = obj.get("label") or obj.get("col")
            if "result" in obj and label is not None and isinstance(obj["result"], Result):
                found[f"{name}/{label}"] = _tidy(obj["result"])
                return
            for k, v in obj.items():
                walk(v, f"{name}/{k}")
        elif isinstance(obj, list):
            for v in obj:
                walk(v, name)
        elif hasattr(obj, "named_results"):  # a PaperTable (the report's inputs after 978d1d1)
            for k, v in obj.named_results().items():
                found[f"{name}/models/{k}"] = _tidy(v)

    for sid, inputs in ctx.results.items():
        walk(inputs, sid)
    return found


def build() -> dict:
    panel = H.small_panel()
    ctx = R.Context(panel=panel, source="user", seed=H.SEED, sims=2, bootstrap=H.BOOTSTRAP)
    secs = R.compute_sections(ctx, only=list(SECTIONS), progress=False, strict=True)
    values = {s.id: {k: v for k, v in s.values.items() if k not in ("seconds", "cpu_seconds")} for s in secs}
    prov = provenance()
    return {
        "case": "the report's paper tables on the small synthetic paper panel (tests/paper_helper.py)",
        "software": f"robocarbon {prov['versions'].get('robocarbon', '')}, git {prov['git_commit']}",
        "command": "python tests/reference/paper/make_reference.py (Context(seed=7, bootstrap=19), "
                   "compute_sections(only=" + ",".join(SECTIONS) + "))",
        "input": {"panel": "paper_helper.small_panel()", "sha256": H.panel_sha256(panel)},
        "tolerance": {"all": {"rel": 1e-12, "abs": 1e-12,
                              "reason": "same specification, same estimator code: floating-point "
                                        "reordering only"}},
        "values": values,
        "results": results_of(ctx),
    }


if __name__ == "__main__":
    out = HERE / "small_panel.json"
    out.write_text(to_json(build()) + "\n", encoding="utf-8")
    print(f"wrote {out}")
