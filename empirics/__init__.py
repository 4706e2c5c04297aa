"""Empirics layer: panel data, variable construction and estimators. Imports nothing else of
robocarbon (estimators never know the truth)."""

from .errors import InputError
from .result import Result

__all__ = ["InputError", "Result"]
