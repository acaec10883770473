# Generates the goldens of package stats from R 4.2.2 (Debian bookworm's
# r-base-core). Run from judge/stats/testdata:  Rscript golden.R
# Writes golden.json (wilcox.test) and golden_misc.json (fisher.test,
# prop.test, p.adjust, quantile). Numbers are printed with 17 significant
# digits so that every double round-trips; non-finite values are strings.
set.seed(20221110)

num <- function(v) {
  if (is.na(v) && !is.nan(v)) return("\"NA\"")
  if (is.nan(v)) return("\"NaN\"")
  if (is.infinite(v)) return(if (v > 0) "\"Inf\"" else "\"-Inf\"")
  sprintf("%.17g", v)
}
vec <- function(v) paste0("[", paste(vapply(v, num, ""), collapse = ","), "]")
str <- function(s) paste0("\"", gsub("\"", "'", s), "\"")

# ---- wilcox.test ---------------------------------------------------------
cases <- list()
add <- function(kind, x, y, alternative = "two.sided", mu = 0, exact = NULL,
                correct = TRUE, conf.level = 0.95) {
  cases[[length(cases) + 1]] <<- list(kind = kind, x = x, y = y,
    alternative = alternative, mu = mu, exact = exact, correct = correct,
    conf.level = conf.level)
}
alts <- c("two.sided", "less", "greater")
conf <- function() round(runif(1, 0.9, 0.99), 3)
exacts <- list(NULL, TRUE, FALSE)

# tiny samples, every alternative and exactness
for (i in 1:30) {
  add("tiny", round(rnorm(sample(1:5, 1)), 3), round(rnorm(sample(1:5, 1), 0.5), 3),
      alts[(i %% 3) + 1], exact = exacts[[(i %/% 3) %% 3 + 1]],
      correct = i %% 2 == 0, conf.level = conf())
}
# exact branch: continuous, both < 50
for (i in 1:45) {
  nx <- sample(3:49, 1); ny <- sample(3:49, 1)
  add("exact", rnorm(nx, runif(1, -1, 1)), rnorm(ny), alts[(i %% 3) + 1],
      mu = if (i %% 5 == 0) 0.3 else 0, conf.level = conf())
}
# exact requested for larger samples (n*m <= 20000)
for (i in 1:9) {
  add("exact-large", rnorm(sample(50:120, 1), 0.2), rnorm(sample(50:120, 1)),
      alts[(i %% 3) + 1], exact = TRUE, conf.level = conf())
}
# continuous samples forced to the normal branch
for (i in 1:30) {
  add("normal-forced", rexp(sample(5:49, 1)), rexp(sample(5:49, 1), 1.3), alts[(i %% 3) + 1],
      exact = FALSE, correct = i %% 2 == 0, conf.level = conf(), mu = if (i %% 4 == 0) -0.2 else 0)
}
# ties (discrete data), exact NULL/TRUE/FALSE
for (i in 1:45) {
  n1 <- sample(5:150, 1); n2 <- sample(5:150, 1)
  add("ties", sample(1:sample(3:12, 1), n1, replace = TRUE),
      sample(1:sample(3:12, 1), n2, replace = TRUE), alts[(i %% 3) + 1],
      exact = exacts[[(i %/% 3) %% 3 + 1]], correct = i %% 2 == 1, conf.level = conf(),
      mu = if (i %% 6 == 0) 1 else 0)
}
# zero-inflated (error-rate-like)
for (i in 1:30) {
  n1 <- sample(10:300, 1); n2 <- sample(10:300, 1)
  x <- c(rep(0, sample(0:n1, 1)), rexp(n1, 50)); y <- c(rep(0, sample(1:n2, 1)), rexp(n2, 60))
  add("zeros", x[seq_len(n1)], y[seq_len(n2)], alts[(i %% 3) + 1],
      correct = i %% 2 == 0, conf.level = conf())
}
# spinnaker#6278 and friends
add("zeros", c(rep(100, 7), rep(1, 3)), rep(1, 10))
add("zeros", c(rep(100, 7), rep(1, 3)), rep(1, 10), "greater", conf.level = 0.98)
add("zeros", c(1, rep(0, 20)), rep(0, 30))
add("zeros", rep(0, 30), c(0, 0, 1))
# constants (both constant: R errors; one constant: fine)
add("constant", rep(5, 10), rep(5, 12))
add("constant", rep(5, 10), rep(3, 12))
add("constant", rep(5, 10), rep(3, 12), "greater")
add("constant", rep(5, 10), rep(3, 12), "less", correct = FALSE)
add("constant", rep(1, 2), rep(1, 1), exact = FALSE)
add("constant", 2, 1, exact = FALSE)
add("constant", rep(5, 20), rnorm(20, 5))
add("constant", rnorm(15, 2), rep(2, 15), "less")
add("constant", rep(0.1, 4), rep(0.3, 4), mu = -0.2)
# rounding keeps the extreme differences from ranking apart: R's uniroot fails
add("constant", c(48, 48, 32) * 1e-5, 5e-5)
# heavy tails
for (i in 1:24) {
  n1 <- sample(10:400, 1); n2 <- sample(10:400, 1)
  if (i %% 2 == 0) { x <- rcauchy(n1); y <- rcauchy(n2, 0.5) }
  else { x <- rlnorm(n1, 0, 3); y <- rlnorm(n2, 0.3, 3) }
  add("heavy", x, y, alts[(i %% 3) + 1], correct = i %% 4 < 2, conf.level = conf())
}
# unequal sizes
for (i in 1:24) {
  small <- sample(1:6, 1); big <- sample(50:700, 1)
  x <- rnorm(small, 1); y <- rnorm(big)
  if (i %% 2 == 0) { t <- x; x <- y; y <- t }
  add("unequal", x, y, alts[(i %% 3) + 1], exact = exacts[[(i %/% 3) %% 3 + 1]],
      correct = i %% 2 == 0, conf.level = conf())
}
# tiny magnitudes (Kayenta's problem case) and large offsets
for (i in 1:12) {
  n <- sample(30:300, 1)
  add("scale", 0.0333 + rnorm(n, 0, 4e-6), 0.0333 + rnorm(n, 1e-6, 4e-6),
      alts[(i %% 3) + 1], conf.level = conf(), correct = i %% 2 == 0)
  add("scale", 1e6 + round(rnorm(n, 0, 3), 2), 1e6 + round(rnorm(n, 0.5, 3), 2),
      alts[(i %% 3) + 1], conf.level = conf(), correct = i %% 2 == 1)
}
# large samples
for (i in 1:12) {
  n1 <- sample(500:2000, 1); n2 <- sample(500:2000, 1)
  x <- if (i %% 2 == 0) rnorm(n1, 0.05) else round(rgamma(n1, 2, 1), 1)
  y <- if (i %% 2 == 0) rnorm(n2) else round(rgamma(n2, 2, 1.05), 1)
  add("large", x, y, alts[(i %% 3) + 1], conf.level = conf(), correct = i %% 4 < 2)
}
# bad conf levels are the caller's problem; extreme levels are not
add("conf", rnorm(20), rnorm(25, 1), conf.level = 0.999)
add("conf", rnorm(8), rnorm(6, 1), conf.level = 0.5)
add("conf", rnorm(3), rnorm(3, 1), conf.level = 0.99)
add("conf", rnorm(200), rnorm(250, 0.1), conf.level = 0.999, exact = FALSE)

run <- function(cs) {
  r <- tryCatch(suppressWarnings(wilcox.test(cs$x, cs$y, alternative = cs$alternative,
      mu = cs$mu, exact = cs$exact, correct = cs$correct, conf.int = TRUE,
      conf.level = cs$conf.level, tol.root = 1e-12)), error = function(e) e)
  input <- paste0("\"kind\":", str(cs$kind), ",\"x\":", vec(cs$x), ",\"y\":", vec(cs$y),
    ",\"alternative\":", str(cs$alternative), ",\"mu\":", num(cs$mu),
    ",\"exact\":", if (is.null(cs$exact)) "null" else tolower(cs$exact),
    ",\"correct\":", tolower(cs$correct), ",\"conf_level\":", num(cs$conf.level))
  out <- if (inherits(r, "error")) paste0("\"error\":", str(conditionMessage(r)))
  else paste0("\"w\":", num(r$statistic), ",\"p_value\":", num(r$p.value),
    ",\"estimate\":", num(r$estimate), ",\"conf_int\":", vec(as.numeric(r$conf.int)),
    ",\"achieved_conf_level\":", num(attr(r$conf.int, "conf.level")),
    ",\"method\":", str(if (grepl("exact", r$method)) "exact" else "normal"))
  paste0("{", input, ",", out, "}")
}
lines <- vapply(cases, run, "")
writeLines(c(paste0("{\"r_version\":", str(R.version.string), ",\"cases\":["),
  paste0(lines, c(rep(",", length(lines) - 1), "")), "]}"), "golden.json")

# ---- fisher.test / prop.test, p.adjust, quantile -----------------------
prop <- character()
addprop <- function(k1, n1, k2, n2, alternative) {
  if (n1 + n2 <= 1e6) {
    p <- fisher.test(matrix(c(k1, k2, n1 - k1, n2 - k2), 2), alternative = alternative)$p.value
    m <- "fisher"
  } else {
    p <- suppressWarnings(prop.test(c(k1, k2), c(n1, n2), alternative = alternative, correct = TRUE))$p.value
    m <- "normal"
  }
  prop <<- c(prop, sprintf("{\"k1\":%.0f,\"n1\":%.0f,\"k2\":%.0f,\"n2\":%.0f,\"alternative\":%s,\"p_value\":%s,\"method\":%s}",
    k1, n1, k2, n2, str(alternative), num(p), str(m)))
}
for (a in alts) {
  addprop(0, 10, 0, 10, a); addprop(3, 10, 0, 10, a); addprop(0, 1, 1, 1, a)
  addprop(7, 10, 0, 10, a); addprop(10, 10, 10, 10, a); addprop(1, 3, 2, 5, a)
  addprop(5, 1000, 1, 1000, a); addprop(50, 10000, 30, 10000, a)
  addprop(120, 100000, 100, 100000, a); addprop(1, 500000, 0, 499999, a)
  addprop(2500, 400000, 2000, 400000, a); addprop(45000, 90000, 44000, 90000, a)
  addprop(30, 3000000, 10, 3000000, a); addprop(20000, 1000000, 19000, 1000000, a)
  addprop(480000, 1000000, 500000, 1000000, a)
  for (i in 1:8) {
    n1 <- sample(1:2000, 1); n2 <- sample(1:2000, 1)
    addprop(rbinom(1, n1, 0.02), n1, rbinom(1, n2, 0.015), n2, a)
  }
}
adj <- character()
for (i in 1:12) {
  p <- round(c(runif(sample(1:12, 1))^3, if (i %% 3 == 0) c(NA, 0.01, 0.01) else NULL), 6)
  q <- p; q[is.na(q)] <- NaN
  adj <- c(adj, sprintf("{\"p\":%s,\"holm\":%s,\"bh\":%s}", vec(q),
    vec(p.adjust(p, "holm")), vec(p.adjust(p, "BH"))))
}
qs <- character()
for (i in 1:12) {
  x <- sort(round(rexp(sample(1:40, 1)), 2))
  probs <- c(0, 0.1, 0.25, 0.5, 0.9, 0.99, 1)
  qs <- c(qs, sprintf("{\"x\":%s,\"probs\":%s,\"q\":%s}", vec(x), vec(probs),
    vec(unname(quantile(x, probs, type = 7)))))
}
writeLines(c("{\"r_version\":", str(R.version.string), ",\"proportion\":[",
  paste(prop, collapse = ",\n"), "],\"adjust\":[", paste(adj, collapse = ",\n"),
  "],\"quantile\":[", paste(qs, collapse = ",\n"), "]}"), "golden_misc.json")
