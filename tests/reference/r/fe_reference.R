# Reference values for robocarbon's fixed-effects and IV estimators, computed with R.
# Usage: Rscript fe_reference.R <case> <input.csv> <output.json>
# Invoked by generate.py, which exports the linearmodels data set to the CSV and records its
# SHA-256. Each case fits the same model several ways; every number is written with 17
# significant digits.
suppressPackageStartupMessages({
  library(plm); library(sandwich); library(lmtest); library(AER); library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
case <- args[1]; infile <- args[2]; outfile <- args[3]
d <- read.csv(infile)
out <- list()
keep <- function(fit_coef, V, names) {
  list(params = as.list(fit_coef[names]), std_errors = as.list(sqrt(diag(V))[names]))
}
if (case == "wage_panel") {
  x <- c("expersq", "union", "married", "hours")
  d$nr <- factor(d$nr); d$year <- factor(d$year)
  f <- lwage ~ expersq + union + married + hours + nr + year
  m <- lm(f, data = d)
  out$lm_dummies_unadjusted <- keep(coef(m), vcov(m), x)
  out$lm_dummies_hc1 <- keep(coef(m), vcovHC(m, type = "HC1"), x)
  out$lm_dummies_cluster_nr_hc1 <- keep(coef(m), vcovCL(m, cluster = ~nr, type = "HC1"), x)
  out$lm_dummies_cluster_nr_year_hc1 <- keep(coef(m), vcovCL(m, cluster = ~nr + year, type = "HC1", multi0 = FALSE), x)
  p <- plm(lwage ~ expersq + union + married + hours, data = d, index = c("nr", "year"),
           model = "within", effect = "twoways")
  out$plm_within_twoways_sss_group <- keep(coef(p), vcovHC(p, method = "arellano", type = "sss", cluster = "group"), x)
  out$plm_within_twoways_r2_within <- list(value = as.numeric(summary(p)$r.squared["rsq"]))
  w <- lm(lwage ~ expersq + union + married + hours + nr + year, data = d, weights = d$hours)
  out$lm_dummies_weighted_hours_cluster_nr_hc1 <- keep(coef(w), vcovCL(w, cluster = ~nr, type = "HC1"), x)
  out$lm_dummies_r2 <- list(value = summary(m)$r.squared)
  # the overall constant of the one-way within model, as Stata's xtreg reports it
  p1 <- plm(lwage ~ expersq + union + married + hours, data = d, index = c("nr", "year"),
            model = "within", effect = "individual")
  wi <- within_intercept(p1)
  out$plm_within_intercept_oneway <- list(estimate = as.numeric(wi), std_error = attr(wi, "se"))
  wi2 <- within_intercept(p1, vcov = function(x) vcovHC(x, method = "arellano", type = "sss", cluster = "group"))
  out$plm_within_intercept_oneway_sss_group <- list(estimate = as.numeric(wi2), std_error = attr(wi2, "se"))
} else if (case == "wage_panel_iv") {
  # IV with absorbed fixed effects, as least squares with entity and year dummies
  x <- c("union", "hours")
  d$nr <- factor(d$nr); d$year <- factor(d$year)
  iv <- ivreg(lwage ~ union + hours + nr + year | married + black_exper + hours + nr + year, data = d)
  out$ivreg_dummies_unadjusted <- keep(coef(iv), vcov(iv), x)
  out$ivreg_dummies_cluster_nr_hc1 <- keep(coef(iv), vcovCL(iv, cluster = ~nr, type = "HC1"), x)
  out$ivreg_dummies_hc1 <- keep(coef(iv), vcovHC(iv, type = "HC1"), x)
  out$nobs <- list(value = nobs(iv))
} else if (case == "jobtraining") {
  x <- c("grant", "grant_1")
  d <- d[!is.na(d$lscrap), ]
  d$fcode <- factor(d$fcode); d$year <- factor(d$year)
  m <- lm(lscrap ~ grant + grant_1 + fcode + year, data = d)
  out$lm_dummies_unadjusted <- keep(coef(m), vcov(m), x)
  out$lm_dummies_hc1 <- keep(coef(m), vcovHC(m, type = "HC1"), x)
  out$lm_dummies_cluster_fcode_hc1 <- keep(coef(m), vcovCL(m, cluster = ~fcode, type = "HC1"), x)
  p <- plm(lscrap ~ grant + grant_1, data = d, index = c("fcode", "year"), model = "within", effect = "twoways")
  out$plm_within_twoways_sss_group <- keep(coef(p), vcovHC(p, method = "arellano", type = "sss", cluster = "group"), x)
  out$nobs <- list(value = nobs(m))
} else if (case == "card") {
  x <- c("(Intercept)", "educ", "exper", "expersq", "black", "south", "smsa")
  iv <- ivreg(lwage ~ educ + exper + expersq + black + south + smsa |
                nearc4 + nearc2 + exper + expersq + black + south + smsa, data = d)
  out$ivreg_unadjusted <- keep(coef(iv), vcov(iv), x)
  out$ivreg_hc1 <- keep(coef(iv), vcovHC(iv, type = "HC1"), x)
  out$ivreg_cluster_region_hc1 <- keep(coef(iv), vcovCL(iv, cluster = ~region, type = "HC1"), x)
  ols <- lm(lwage ~ educ + exper + expersq + black + south + smsa, data = d)
  out$lm_ols_hc1 <- keep(coef(ols), vcovHC(ols, type = "HC1"), x)
  out$nobs <- list(value = nobs(iv))
} else stop("unknown case")
out$software <- list(R = R.version.string, plm = as.character(packageVersion("plm")),
  sandwich = as.character(packageVersion("sandwich")), AER = as.character(packageVersion("AER")))
writeLines(toJSON(out, digits = I(17), auto_unbox = TRUE, pretty = TRUE), outfile)
