# Frozen reference for the TWFE DID and TWFE event study on mpdta (R lm + sandwich).
# Run from the repository root:
#   Rscript tests/reference/did/twfe_mpdta.R ../shared/data/mpdta/mpdta.csv > tests/reference/did/twfe_mpdta.json
suppressPackageStartupMessages({library(sandwich)})
args <- commandArgs(trailingOnly = TRUE)
path <- if (length(args)) args[1] else "../shared/data/mpdta/mpdta.csv"
d <- read.csv(path)
d$D <- as.numeric(d$first.treat > 0 & d$year >= d$first.treat)
m1 <- lm(lemp ~ D + factor(countyreal) + factor(year), data = d)
V1 <- vcovCL(m1, cluster = ~countyreal, type = "HC1")
rel <- ifelse(d$first.treat > 0, d$year - d$first.treat, NA)
evs <- c(-4, -3, -2, 0, 1, 2, 3)
names_e <- character(0)
for (e in evs) {
  nm <- if (e < 0) paste0("em", -e) else paste0("ep", e)
  d[[nm]] <- as.numeric(!is.na(rel) & rel == e)
  names_e <- c(names_e, nm)
}
f2 <- as.formula(paste("lemp ~", paste(names_e, collapse = " + "), "+ factor(countyreal) + factor(year)"))
m2 <- lm(f2, data = d)
V2 <- vcovCL(m2, cluster = ~countyreal, type = "HC1")
num <- function(x) formatC(x, digits = 17, format = "g")
cat("{\n")
cat('  "case": "mpdta: TWFE DID and TWFE event study (ref -1, no binning), city-clustered CR1",\n')
cat(sprintf('  "software": "R %s, stats::lm, sandwich %s (vcovCL type HC1)",\n', getRversion(), packageVersion("sandwich")))
cat('  "command": "lm(lemp ~ D + factor(countyreal) + factor(year)); vcovCL(m, cluster = ~countyreal, type = \\"HC1\\"); event study with dummies for event times -4,-3,-2,0,1,2,3",\n')
cat('  "generator": "twfe_mpdta.R",\n')
cat(sprintf('  "input": {"file": "mpdta/mpdta.csv", "sha256": "%s"},\n', "e2df82571350b82b4b51bba10445d44f9a792a536af8263178b1545197e83bee"))
cat(sprintf('  "nobs": %d, "n_coef_lm_twfe": %d, "n_coef_lm_event": %d,\n', nrow(d), length(coef(m1)), length(coef(m2))))
cat(sprintf('  "twfe": {"D": {"estimate": %s, "se": %s}},\n', num(coef(m1)["D"]), num(sqrt(V1["D", "D"]))))
cat('  "event": {\n')
for (i in seq_along(evs)) {
  nm <- names_e[i]
  cat(sprintf('    "%+d": {"estimate": %s, "se": %s}%s\n', evs[i], num(coef(m2)[nm]), num(sqrt(V2[nm, nm])), if (i < length(evs)) "," else ""))
}
cat('  },\n')
cat('  "tolerance": {"estimate": {"abs": 1e-9, "reason": "same least-squares problem, rounding only"},\n')
cat('                "se": {"rel": 1e-7, "reason": "same CR1 meat; the small-sample factor differs by K only: sandwich counts all lm coefficients (entity dummies included), robocarbon counts regressors + T-1 (entity effects nested in the clusters); the test converts"}}\n')
cat("}\n")
