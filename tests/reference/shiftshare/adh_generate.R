# Generator for tests/reference/shiftshare/adh_r.json: 2SLS of the ADH (2013) China-shock
# regression with AER::ivreg and sandwich, on the validation data (never run by the tests).
#   Rscript tests/reference/shiftshare/adh_generate.R /path/to/shared/data/adh > adh_r.json
# The AKM/AKM0 intervals are not computed here (ShiftShareSE is not installable in this
# environment); they are the published values in adh.json.
suppressMessages({library(AER); library(sandwich)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(file.path(args[1], "ADHdata_AKM.csv"))
d$division <- factor(d$division)
d$t2 <- as.logical(d$t2)
ctrls <- "t2 + l_shind_manuf_cbp + l_sh_popedu_c + l_sh_popfborn + l_sh_empl_f + l_sh_routine33 + l_task_outsource + division"
out <- list()
for (wt in c("weighted", "unweighted")) for (ct in c("full", "t2")) {
  rhs <- if (ct == "full") ctrls else "t2"
  f <- as.formula(paste("d_sh_empl_mfg ~ shock +", rhs, "| IV +", rhs))
  fs <- as.formula(paste("shock ~ IV +", rhs))
  w <- if (wt == "weighted") d$weights else NULL
  m <- if (is.null(w)) ivreg(f, data = d) else ivreg(f, data = d, weights = weights)
  s <- if (is.null(w)) lm(fs, data = d) else lm(fs, data = d, weights = weights)
  n <- nrow(d); k <- length(coef(m))
  # Stata ivregress conventions (no small option): no n-k and no G/(G-1) correction
  se_h <- sqrt(vcov(m)["shock", "shock"] * (n - k) / n)
  se_r <- sqrt(vcovHC(m, type = "HC0")["shock", "shock"])
  se_c <- sqrt(vcovCL(m, cluster = ~statefip, type = "HC0", cadjust = FALSE)["shock", "shock"])
  out[[paste(wt, ct, sep = "_")]] <- list(beta = unname(coef(m)["shock"]),
    first_stage = unname(coef(s)["IV"]), se_homoskedastic = se_h, se_ehw = se_r,
    se_region_cluster = se_c)
}
cat(sprintf('{\n  "software": "R %s, AER %s, sandwich %s",\n', getRversion(), packageVersion("AER"), packageVersion("sandwich")))
cat('  "values": {\n')
keys <- names(out)
for (i in seq_along(keys)) {
  v <- out[[keys[i]]]
  cat(sprintf('    "%s": {%s}%s\n', keys[i],
      paste(sprintf('"%s": %.12g', names(v), unlist(v)), collapse = ", "),
      if (i < length(keys)) "," else ""))
}
cat("  }\n}\n")
