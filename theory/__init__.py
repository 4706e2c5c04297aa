"""Theory layer: the paper's task model in sympy. Imports nothing else of robocarbon.

Modules: ``primitives`` (the frozen ``Primitives`` and ``PAPER``), ``derive`` (``derivation``,
``numeric_checks``), ``ledger`` (``build_ledger``, ``equation_exprs``), ``claims``
(``check_claims``, ``energy_regimes``, ``automation_margin``), ``hmatch`` (``hmatch``,
``hmatch_analysis``), ``numeric`` (lambdified numpy functions), ``render``
(``derivation_markdown``). See docs/theory.md.
"""
