"""Empirics layer: panel data, variable construction and estimators. Imports nothing else of
robocarbon (estimators never know the truth).

The names below are imported on first use, so ``import robocarbon.empirics.errors`` (the command
line's error boundary) does not pull in pandas and scipy.
"""

from __future__ import annotations

import importlib

__all__ = ["InputError", "Result"]

_LAZY = {"InputError": ".errors", "Result": ".result"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
