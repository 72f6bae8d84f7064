# Reference values for tests/test_survival.py, computed with R's survival package.
# Run: Rscript tests/r/survival_reference.R > tests/r/survival_reference.json
# (R 4 and r-cran-survival are Debian packages; neither the tests nor CI run R.)
suppressPackageStartupMessages(library(survival))

num <- function(x) {
  if (length(x) == 0 || is.null(x) || is.na(x)) return("null")
  formatC(x, digits = 15, format = "g")
}
arr <- function(x) paste0("[", paste(sapply(x, num), collapse = ", "), "]")

cohorts <- list(
  ties = list(time = c(30, 30, 30, 60, 90, 90, 120, 150, 150, 180),
              status = c(1, 1, 0, 1, 0, 1, 1, 0, 1, 0)),
  all_censored = list(time = c(40, 80, 120, 200), status = c(0, 0, 0, 0)),
  not_reached = list(time = c(30, 60, 200, 300, 400, 500), status = c(1, 0, 0, 0, 1, 0)),
  exact_half = list(time = c(30, 60, 90, 120), status = c(1, 1, 1, 1)),
  exact_half_censored = list(time = c(20, 40, 40, 70, 100, 130, 160, 190),
                             status = c(1, 1, 0, 0, 1, 0, 1, 1))
)
i <- 1:40
cohorts$forty <- list(time = (i * 37) %% 400 + 5 + (i %/% 3) * 11, status = as.integer(i %% 3 != 0))

month <- 30.4375
cat("{\n")
first <- TRUE
for (name in names(cohorts)) {
  d <- cohorts[[name]]
  fit <- survfit(Surv(d$time, d$status) ~ 1, conf.type = "log-log")
  q <- quantile(fit, probs = 0.5)
  rev <- survfit(Surv(d$time, 1 - d$status) ~ 1)
  rq <- quantile(rev, probs = 0.5)
  rate <- function(t) {
    if (t > max(d$time)) return(c(NA, NA, NA))
    s <- summary(fit, times = t)
    c(s$surv, s$lower, s$upper)
  }
  r6 <- rate(6 * month); r12 <- rate(12 * month)
  grid <- seq(0, max(d$time), by = 3 * month)
  risk <- sapply(grid, function(t) sum(d$time >= t))
  if (!first) cat(",\n")
  first <- FALSE
  cat(sprintf('  "%s": {"time": %s, "status": %s, "median": %s, "median_low": %s, "median_high": %s,\n',
              name, arr(d$time), arr(d$status), num(q$quantile), num(q$lower), num(q$upper)))
  cat(sprintf('    "rate6": %s, "rate12": %s, "at_risk": %s, "follow_up_median": %s,\n',
              arr(r6), arr(r12), arr(risk), num(rq$quantile)))
  cat(sprintf('    "km_time": %s, "km_surv": %s, "km_lower": %s, "km_upper": %s}',
              arr(fit$time), arr(fit$surv), arr(fit$lower), arr(fit$upper)))
}
# Landmark at 84 days on the forty cohort, groups by i %% 2.
d <- cohorts$forty
group <- as.integer(i %% 2 == 0)
L <- 84
keep <- d$time > L | (d$status == 0 & d$time >= L)
lt <- d$time[keep] - L; ls <- d$status[keep]; lg <- group[keep]
sd <- survdiff(Surv(lt, ls) ~ lg)
p_lr <- pchisq(sd$chisq, df = 1, lower.tail = FALSE)
cx <- coxph(Surv(lt, ls) ~ lg, ties = "efron")
s <- summary(cx)
cat(",\n")
cat(sprintf('  "landmark": {"time": %s, "status": %s, "group": %s, "landmark_days": %s,\n',
            arr(d$time), arr(d$status), arr(group), num(L)))
cat(sprintf('    "n_included": %s, "n_died_before": %s, "n_censored_before": %s,\n',
            num(sum(keep)), num(sum(d$time <= L & d$status == 1)), num(sum(d$time < L & d$status == 0))))
cat(sprintf('    "logrank_p": %s, "hr": %s, "hr_low": %s, "hr_high": %s, "hr_p": %s}\n',
            num(p_lr), num(s$conf.int[1, 1]), num(s$conf.int[1, 3]), num(s$conf.int[1, 4]),
            num(s$coefficients[1, 5])))
cat("}\n")
