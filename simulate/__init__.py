"""Simulation layer: designs (model, inquiry, data strategy, answers) and the Monte Carlo engine.

Imports :mod:`robocarbon.theory` and :mod:`robocarbon.empirics`, never :mod:`robocarbon.reports`.
"""
