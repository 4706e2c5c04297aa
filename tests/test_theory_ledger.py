"""The ledger of the paper's printed equations (1)-(17): statuses are computed, and change when
a primitive changes."""

from __future__ import annotations

import sympy as sp

from robocarbon.theory import primitives as P
from robocarbon.theory.ledger import (
    EQUATION_IDS,
    STATUSES,
    build_ledger,
    equation_exprs,
    latex_of,
    printed_forms,
)
from robocarbon.theory.primitives import PAPER

EXPECTED = {
    # derived from the primitives and compared with the printed text
    "3": "verified", "4": "verified", "5": "verified", "7": "verified", "8": "verified",
    "11": "verified", "12": "verified", "13": "verified", "14": "verified", "15": "verified",
    "6": "typo",          # prints P_m where P_e is meant
    "9": "conditional",   # y = Y/p needs the price index as numeraire
    "10": "definition",   # the numeraire itself
    "17": "wrong",        # gamma_0 has the wrong sign and a spurious term
    "1": "definition", "16": "definition", "2": "assumption",
}


def test_all_seventeen_with_valid_status():
    led = build_ledger()
    assert [r["id"] for r in led] == list(EQUATION_IDS)
    for r in led:
        assert r["status"] in STATUSES
        assert set(r) >= {"id", "status", "printed", "derived", "note"}
        assert isinstance(r["printed"], str) and r["printed"] and isinstance(r["derived"], str)
        assert r["note"]


def test_statuses_for_the_paper():
    assert {r["id"]: r["status"] for r in build_ledger()} == EXPECTED


def test_typo_and_wrong_notes_name_the_fix():
    led = {r["id"]: r for r in build_ledger()}
    assert "P_e" in led["6"]["note"] and r"P_{m}" in led["6"]["printed"] and r"P_{e}" in led["6"]["derived"]
    note17 = led["17"]["note"]
    assert "gamma_0" in note17 and "NEGATIVE" in note17 and "Reading" in note17
    assert "numeric(" in led["13"]["method"] and "numeric(" in led["10"]["method"]


def test_equation_exprs_are_sympy_and_match_ledger():
    ex = equation_exprs()
    assert set(ex) == set(EQUATION_IDS)
    for eq_id, (printed, derived) in ex.items():
        assert isinstance(printed, sp.Basic) and isinstance(derived, sp.Basic)
        # paper notation: the interval measures are written as I - N + 1 and N - I
        assert not (printed.free_symbols | derived.free_symbols) & {P.s_r, P.s_l}, eq_id
    led = {r["id"]: r for r in build_ledger()}
    assert latex_of(ex["5"][1]) == led["5"]["derived"]


def test_printed_17_gamma0_reading():
    g0 = printed_forms()["17"][1].rhs
    # the reading used: three terms, the last -(1-alpha-beta) ln(1-alpha-beta)
    assert g0.has(sp.log(1 - P.alpha - P.beta))


def test_changing_a_primitive_changes_the_ledger():
    theta = sp.Symbol("theta", positive=True)
    base = {r["id"]: r for r in build_ledger()}
    changed = {r["id"]: r for r in build_ledger(PAPER.replace(emission_factor=theta))}
    assert changed["16"]["derived"] != base["16"]["derived"] and r"\theta" in changed["16"]["derived"]
    assert r"\theta" in changed["17"]["derived"]          # gamma_0 picks up ln(theta)
    assert changed["3"]["status"] == "verified"           # shares do not depend on it


def test_changing_the_labour_exponent_breaks_the_labour_equations():
    # labour tasks with exponent beta/2 on labour (and energy taking the rest)
    b = P.beta / 2
    led = {r["id"]: r for r in build_ledger(PAPER.replace(labour_exponents=(P.alpha, b, 1 - P.alpha - b)))}
    assert led["4"]["status"] == "wrong"
    assert led["3"]["status"] == "verified" and led["5"]["status"] == "verified"
    assert led["13"]["status"] == "wrong" and led["17"]["status"] == "wrong"
    assert "does not follow" in led["4"]["note"]
    assert led["2"]["status"] == "assumption" and "differ" in led["2"]["note"]
