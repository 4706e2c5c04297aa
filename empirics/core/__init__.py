"""The estimation core: array-level kernels shared by every estimator, formula API and Monte
Carlo alike (no DataFrames here, nothing imported from the modules that call it).

=====================  =======================================================================
module                 holds
=====================  =======================================================================
``core.within``        the within transforms (one-way, balanced two-way incl. the grid and its
                       compiled kernel, alternating projections), :class:`PanelLayout`
``core.lstsq``         least squares by pivoted QR or Cholesky, the rank check naming the
                       collinear column
``core.covariance``    the one fixed-effect degrees-of-freedom rule, the small-sample
                       conventions, CR1/HC1/unadjusted sandwiches
``core.ols``           :func:`fe_ols`: the one FE least squares (TWFE included)
``core.iv``            :func:`fe_iv`: the one IV (2SLS, LIML) with absorbed fixed effects
``core.frame``         the model frame: a parsed formula evaluated on a DataFrame
``core.threads``       :func:`single_threaded_blas`
``core.jit``           the numba wrapper of the compiled kernels
=====================  =======================================================================

Import the submodules directly (``from robocarbon.empirics.core.ols import fe_ols``): this
package's ``__init__`` imports nothing, so loading one kernel does not load the others.
"""
