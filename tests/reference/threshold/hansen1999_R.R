# Generator of hansen1999_R.json: an independent brute-force check of the Hansen (1999) single
# threshold on the xthreg example data, written in R with base lm.fit, plm and sandwich.
#
#   Rscript tests/reference/threshold/hansen1999_R.R ../shared/data/hansen1999/hansen1999.dta \
#       tests/reference/threshold/hansen1999_R.json
#
# Model: i = mu_firm + c1 * b1 1(d1 <= g) + c1 * b2 1(d1 > g) + q1 q2 q3 d1 qd1 + e.
# Candidates: every distinct value of d1 leaving at least ceil(0.01 n) observations in each
# regime. For every candidate a separate least-squares fit (QR, lm.fit) on the within-transformed
# data; then plm (within) at the minimiser with the Stata-type clustered covariance
# (vcovHC, method "arellano", type "sss", clustered by firm).
suppressPackageStartupMessages({
  library(haven); library(plm); library(sandwich); library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
path <- args[1]; out <- args[2]
d <- as.data.frame(read_dta(path))
d$year <- as.numeric(d$year)  # a Stata date; only its order matters here
n <- nrow(d)
dm <- function(v) v - ave(v, d$id)
yd <- dm(d$i)
W <- c("q1", "q2", "q3", "d1", "qd1")
Wd <- sapply(W, function(v) dm(as.numeric(d[[v]])))
x <- as.numeric(d$c1); q <- as.numeric(d$d1)
xd <- dm(x)
nmin <- ceiling(0.01 * n)
vals <- sort(unique(q))
cnt <- sapply(vals, function(g) sum(q <= g))
cand <- vals[cnt >= nmin & (n - cnt) >= nmin]
rss_at <- function(g) {
  z <- dm(x * (q <= g))
  f <- lm.fit(cbind(Wd, xd, z), yd)
  sum(f$residuals^2)
}
rss <- vapply(cand, rss_at, numeric(1))
o <- order(rss)
g <- cand[o[1]]
rss0 <- sum(lm.fit(cbind(Wd, xd), yd)$residuals^2)
d$c1_regime1 <- x * (q <= g)
d$c1_regime2 <- x * (q > g)
pd <- pdata.frame(d, index = c("id", "year"))
m1 <- plm(i ~ c1_regime1 + c1_regime2 + q1 + q2 + q3 + d1 + qd1, data = pd, model = "within")
V <- vcovHC(m1, method = "arellano", type = "sss", cluster = "group")
m0 <- plm(i ~ c1 + q1 + q2 + q3 + d1 + qd1, data = pd, model = "within")
sha <- strsplit(system(paste("sha256sum", shQuote(path)), intern = TRUE), " ")[[1]][1]
res <- list(
  case = "hansen1999_R",
  software = paste0(R.version.string, "; plm ", packageVersion("plm"), "; sandwich ",
                    packageVersion("sandwich"), "; haven ", packageVersion("haven")),
  command = "Rscript tests/reference/threshold/hansen1999_R.R hansen1999/hansen1999.dta tests/reference/threshold/hansen1999_R.json",
  our_command = "robocarbon threshold --data hansen1999.dta --y i --regime c1 --q d1 --x q1 q2 q3 d1 qd1 --entity id --time year --trim 0.01 --exact",
  input = "hansen1999/hansen1999.dta",
  input_sha256 = sha,
  values = list(
    n_candidates = length(cand),
    threshold = g,
    rss_min = rss[o[1]],
    rss_runner_up = rss[o[2]],
    threshold_runner_up = cand[o[2]],
    rss_linear = rss0,
    rss_linear_plm = sum(residuals(m0)^2),
    rss_threshold_plm = sum(residuals(m1)^2),
    coefficients = as.list(coef(m1)),
    std_errors_cluster_sss = as.list(sqrt(diag(V)))
  ),
  tolerance = list(
    threshold = list(rel = 1e-12, reason = "the same candidate value of d1; JSON keeps 15 significant digits"),
    rss = list(rel = 1e-10, reason = "QR least squares in both; double precision rounding only"),
    coefficients = list(rel = 1e-8, reason = "QR vs plm's within estimator; rounding only"),
    std_errors = list(rel = 1e-6, reason = "same CR1 formula (G/(G-1))((n-1)/(n-K)), K = 7 slopes; rounding only")
  )
)
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE), out)
