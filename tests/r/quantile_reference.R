# Reference values for tests/test_quantiles.py: base R's quantile(type = 2), the rule
# gtsummary >= 2.0 uses for Table 1's Q1 and Q3 (and type 7 alongside, for contrast).
# Run: Rscript tests/r/quantile_reference.R > tests/r/quantile_reference.json
# (base R only; neither the tests nor CI run R.)
num <- function(x) trimws(formatC(x, digits = 17, format = "g"))
arr <- function(x) paste0("[", paste(sapply(x, num), collapse = ", "), "]")

vectors <- list(
  n1 = c(42),
  n2 = c(3, 10),
  n3 = c(5, 1, 9),
  n4 = c(4, 1, 3, 2),
  odd7 = c(12.5, 3.1, 8.8, 40.2, 0.4, 19.9, 7.7),
  even8 = c(60, 46, 106, 48, 93, 12, 250, 75),
  ties = c(2, 2, 2, 5, 5, 7, 9, 9, 9, 9),
  ties_at_quartile = c(1, 3, 3, 3, 3, 8, 8, 20),
  negative = c(-87.5, -62.1, -50, -12.3, 4.8, 33.3),
  n12 = c(0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5),
  n13 = 1:13
)
probs <- c(0.5, 0.25, 0.75)
cat("{\n")
k <- 0
for (name in names(vectors)) {
  x <- vectors[[name]]
  k <- k + 1
  cat(sprintf('  "%s": {"x": %s, "probs": %s, "type2": %s, "type7": %s}%s\n',
              name, arr(x), arr(probs),
              arr(unname(quantile(x, probs, type = 2))),
              arr(unname(quantile(x, probs, type = 7))),
              if (k < length(vectors)) "," else ""))
}
cat("}\n")
