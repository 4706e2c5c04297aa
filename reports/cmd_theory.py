"""``robocarbon theory``: re-derive the paper's model and audit its printed equations.

Prints a summary of the ledger of equations (1)-(17) and of the claims; ``--json`` writes
``{"equations": [...], "claims": [...], "hmatch": {...}, "numeric_checks": {...},
"provenance": {...}}`` and ``--markdown`` the literate derivation (both written atomically).
"""

from __future__ import annotations

import argparse
import time

NAME = "theory"
HELP = "re-derive the task model (eqs 1-17), audit the printed equations, check the claims"
DESCRIPTION = (
    "Re-derive the paper's task model with sympy from its primitives, compare each printed "
    "equation (1)-(17) with the derived one (verified / typo / wrong / conditional / assumption / "
    "definition), check the comparative-statics claims and the matching index (23). Writes JSON "
    "and a literate Markdown derivation on request."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", default=None,
                        help="write the ledger, claims and provenance as JSON to PATH")
    parser.add_argument("--markdown", metavar="PATH", default=None,
                        help="write the literate derivation (Markdown with LaTeX) to PATH")


def theory_payload() -> dict:
    """The JSON document of ``robocarbon theory`` (without provenance)."""
    from robocarbon.theory.claims import check_claims
    from robocarbon.theory.derive import derivation, numeric_checks
    from robocarbon.theory.hmatch import hmatch_analysis
    from robocarbon.theory.ledger import build_ledger

    ledger = build_ledger()
    claims = check_claims()
    hm = hmatch_analysis()
    steps = [{"equation": s["equation"], "step": s["name"], "method": s["method"], "ok": s["ok"]}
             for s in derivation().steps if s["ok"] is not None]
    return {
        "equations": [{"id": r["id"], "status": r["status"], "printed": r["printed"],
                       "derived": r["derived"], "note": r["note"], "title": r["title"],
                       "method": r["method"]} for r in ledger],
        "claims": [{"id": c["id"], "statement": c["statement"], "holds": c["holds"],
                    "conditions": c["conditions"], "derivation": c["derivation"],
                    "method": c["method"]} for c in claims + hm["claims"]],
        "hmatch": {k: v for k, v in hm.items() if k != "claims"},
        "derivation_steps": steps,
        "numeric_checks": numeric_checks(),
    }


def run(args: argparse.Namespace) -> int:
    from robocarbon.empirics.provenance import provenance, write_json_atomic, write_text_atomic

    t0 = time.perf_counter()
    payload = theory_payload()
    print("Ledger of the paper's equations (1)-(17):")
    for r in payload["equations"]:
        print(f"  ({r['id']:>2}) {r['status']:<12} {r['title']}")
    print("Claims:")
    for c in payload["claims"]:
        print(f"  {c['holds']:<12} {c['id']}: {c['statement']}")
    failed = [s for s in payload["derivation_steps"] if not s["ok"]]
    failed += [k for k, v in payload["numeric_checks"].items() if not v["ok"]]
    print(f"Derivation checks: {len(payload['derivation_steps'])} symbolic steps, "
          f"{len(payload['numeric_checks'])} numeric checks, {len(failed)} failed.")
    if args.markdown:
        from robocarbon.theory.render import derivation_markdown

        write_text_atomic(args.markdown, derivation_markdown())
        print(f"wrote {args.markdown}")
    if args.json:
        payload["provenance"] = provenance(command="robocarbon theory",
                                           wall_time_seconds=round(time.perf_counter() - t0, 3))
        write_json_atomic(args.json, payload)
        print(f"wrote {args.json}")
    return 1 if failed else 0
