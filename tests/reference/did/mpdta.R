# Generator of mpdta_published.json (documentation only: the numbers in the JSON are the
# published ones listed in ../shared/data/README.md; this script re-creates them with the
# R package did, which is not installed in the project's CI).
library(did)
mpdta <- read.csv(Sys.getenv("MPDTA", "../shared/data/mpdta/mpdta.csv"))
set.seed(1)
out <- att_gt(yname = "lemp", gname = "first.treat", tname = "year", idname = "countyreal",
              data = mpdta, est_method = "reg")
summary(out)          # ATT(g,t) and the pre-test p-value (0.16812)
summary(aggte(out, type = "dynamic"))   # -0.0772 (0.0219)
summary(aggte(out, type = "group"))     # -0.031 (0.0126)
