"""Regenerate the frozen R references in this folder (needs Rscript with plm, sandwich, AER).

    python tests/reference/r/generate.py

For each case the linearmodels data set is exported to a temporary CSV (the same export
``export_case`` in the tests rebuilds without R), its SHA-256 recorded, ``fe_reference.R`` run on
it, and ``<case>.json`` written with the software versions, the exact command, the values and the
tolerances. The default test run only reads the JSON files.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
CASES = ("wage_panel", "wage_panel_iv", "jobtraining", "card")
ONLY = None
TOLERANCES = {
    "params": {"rtol": 1e-8, "reason": "the same least-squares solution; differences are rounding"},
    "std_errors": {"rtol": 1e-6, "reason": "same small-sample convention (see 'convention'); rounding"},
}


def export_case(case: str) -> pd.DataFrame:
    """The data exactly as written to the CSV R reads (deterministic, from linearmodels)."""
    import importlib

    mod = importlib.import_module(f"linearmodels.datasets.{case.replace('_iv', '')}")

    if case == "wage_panel":
        d = mod.load()
        return d[["nr", "year", "lwage", "expersq", "union", "married", "hours"]].copy()
    if case == "wage_panel_iv":
        d = mod.load()
        d = d[["nr", "year", "lwage", "union", "hours", "married", "black", "exper"]].copy()
        d["black_exper"] = d["black"] * d["exper"]
        return d.drop(columns=["black", "exper"])
    if case == "jobtraining":
        d = mod.load()
        return d[["fcode", "year", "lscrap", "grant", "grant_1"]].copy()
    if case == "card":
        d = mod.load()
        regs = [f"reg66{j}" for j in range(1, 10)]
        d = d[["lwage", "educ", "nearc4", "nearc2", "exper", "expersq", "black", "south", "smsa"] + regs].copy()
        d["region"] = np.argmax(d[regs].to_numpy(), axis=1) + 1
        return d.drop(columns=regs)
    raise ValueError(case)


def csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, float_format="%.17g", lineterminator="\n").encode()


def main() -> int:
    cases = sys.argv[1:] or CASES
    for case in cases:
        data = csv_bytes(export_case(case))
        sha = hashlib.sha256(data).hexdigest()
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / f"{case}.csv"
            csv.write_bytes(data)
            out = Path(tmp) / "out.json"
            cmd = ["Rscript", str(HERE / "fe_reference.R"), case, str(csv), str(out)]
            subprocess.run(cmd, check=True)
            values = json.loads(out.read_text())
        software = values.pop("software")
        rec = {
            "case": case,
            "software": software,
            "command": "Rscript tests/reference/r/fe_reference.R " + case + " <export>.csv out.json",
            "input": f"linearmodels.datasets.{case} exported by generate.export_case",
            "input_sha256": sha,
            "values": values,
            "tolerance": TOLERANCES,
        }
        (HERE / f"{case}.json").write_text(json.dumps(rec, indent=2) + "\n")
        print(case, sha)
    return 0


if __name__ == "__main__":
    sys.exit(main())
