"""The numerical kernels' former address, kept so existing imports work: everything here lives
in :mod:`robocarbon.empirics.core` (within transforms in ``core.within``, least squares in
``core.lstsq``, covariances and the degrees-of-freedom rule in ``core.covariance``, the BLAS
threads helper in ``core.threads``). New code imports from there.
"""

from __future__ import annotations

from .core.covariance import cluster_meat, cluster_vcov, is_nested, sandwich
from .core.lstsq import LstsqFit, collinear_in_order, find_collinear, qr_lstsq
from .core.threads import single_threaded_blas
from .core.within import (
    DemeanInfo,
    balanced_cells,
    demean,
    drop_singletons,
    factorize,
    group_mean,
    is_balanced_two_way,
)

__all__ = [
    "DemeanInfo", "LstsqFit", "balanced_cells", "cluster_meat", "cluster_vcov",
    "collinear_in_order", "demean", "drop_singletons", "factorize", "find_collinear",
    "group_mean", "is_balanced_two_way", "is_nested", "qr_lstsq", "sandwich",
    "single_threaded_blas",
]
