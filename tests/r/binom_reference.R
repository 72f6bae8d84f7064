# Reference values for tests/test_binomial_ci.py: exact (Clopper–Pearson) 95% CIs.
# Run: Rscript tests/r/binom_reference.R
for (x in list(c(8, 21), c(6, 21), c(0, 5), c(5, 5), c(3, 3), c(1, 1))) {
  ci <- binom.test(x[1], x[2])$conf.int
  cat(sprintf("(%d, %d, %.15g, %.15g),\n", x[1], x[2], 100 * ci[1], 100 * ci[2]))
}
