# Reference values for tests/test_quantiles.py: median, Q1 and Q3 of the shipped synthetic
# cohort's Table 1 continuous variables, overall and by PSA50 response, by base R's
# quantile(type = 2) — the rule of gtsummary >= 2.0 (gtsummary itself is not installed).
# Inputs: tests/r/table1_inputs.csv, written by `python tests/test_quantiles.py`.
# Run: Rscript tests/r/table1_quartiles.R > tests/r/table1_quartiles.json
d <- read.csv("tests/r/table1_inputs.csv", stringsAsFactors = FALSE)
num <- function(x) trimws(formatC(x, digits = 17, format = "g"))
q <- function(x) {
  x <- x[!is.na(x)]
  paste0("[", paste(sapply(unname(quantile(x, c(0.5, 0.25, 0.75), type = 2)), num),
                    collapse = ", "), "]")
}
vars <- unique(d$variable)
cat("{\n")
for (k in seq_along(vars)) {
  v <- d[d$variable == vars[k], ]
  cat(sprintf('  "%s": {"overall": %s, "responder": %s, "non_responder": %s}%s\n', vars[k],
              q(v$value), q(v$value[v$group == "responder"]),
              q(v$value[v$group == "non_responder"]), if (k < length(vars)) "," else ""))
}
cat("}\n")
