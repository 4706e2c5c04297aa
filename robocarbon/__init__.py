"""robocarbon: check Huang and Jiang's robots-and-carbon paper end to end.

Layers (see DESIGN.md): :mod:`robocarbon.theory` (sympy model and ledger),
:mod:`robocarbon.empirics` (data, estimators, the one :class:`~robocarbon.empirics.result.Result`),
:mod:`robocarbon.simulate` (designs and Monte Carlo), :mod:`robocarbon.reports` (tables,
figures, the literate report and the ``robocarbon`` command line).
"""

__version__ = "0.1.0"
