# Regenerates darfur_sensemakr.json's sensemakr values (needs R and the sensemakr package;
# never run by the test suite). The data are sensemakr's own darfur data set, the same rows
# as ../shared/data/darfur/darfur.csv.
library(sensemakr)
data("darfur")
model <- lm(peacefactor ~ directlyharmed + age + farmer_dar + herder_dar +
              pastvoted + hhsize_darfur + female + village, data = darfur)
s <- sensemakr(model, treatment = "directlyharmed", benchmark_covariates = "female", kd = 1:3)
print(s$sensitivity_stats, digits = 15)
print(s$bounds, digits = 15)
