# Generator of math_reform_published.json (documentation only: the numbers in the JSON are the
# published ones listed in ../shared/data/README.md; bacondecomp is not installed in CI).
library(bacondecomp)
math_reform <- read.csv(Sys.getenv("MATH_REFORM", "../shared/data/bacon/math_reform.csv"))
df_bacon <- bacon(incearn_ln ~ reform_math, data = math_reform,
                  id_var = "state", time_var = "class")
print(df_bacon, digits = 9)
