"""The study's inference: Student-t intervals and tests over seeds, Holm's correction within a
family of comparisons, and equivalence by two one-sided tests (TOST).

- ``t_cdf``/``t_quantile``: Student's t distribution (the regularized incomplete beta function by
  its continued fraction, as in Numerical Recipes ch. 6.4), so no SciPy is needed.
- ``paired_test``: the two-sided p-value of a mean difference over seeds.
- ``holm``: Holm's step-down adjustment of a family's p-values (controls the family-wise error).
- ``tost``: whether a mean difference lies within ±margin (both one-sided tests at alpha, i.e.
  the 90% interval inside the margin for alpha = 0.05).

Leaves out: which comparisons form a family (``analysis.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(ln_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(ln_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p (bisection: 0 < p < 1)."""
    lo, hi = -1e3, 1e3
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _mean_se(values: Sequence[float]) -> tuple[float, float, int]:
    v = [x for x in values if math.isfinite(x)]
    n = len(v)
    if n < 2:
        return (v[0] if v else math.nan), math.nan, n
    mean = sum(v) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (n - 1))
    return mean, sd / math.sqrt(n), n


def paired_test(differences: Sequence[float]) -> float:
    """Two-sided p-value that the mean of ``differences`` (one per seed) is 0; NaN for n < 2.
    Differences that are all exactly 0 give 1."""
    mean, se, n = _mean_se(differences)
    if n < 2:
        return math.nan
    if se == 0.0:
        return 1.0 if mean == 0.0 else 0.0
    return 2.0 * (1.0 - t_cdf(abs(mean) / se, n - 1))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the input's order (NaN stays NaN and does not count)."""
    order = sorted((p, i) for i, p in enumerate(pvalues) if math.isfinite(p))
    m = len(order)
    adjusted = [math.nan] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def tost(differences: Sequence[float], margin: float, alpha: float = 0.05) -> bool:
    """True when the mean difference is shown to lie within ±``margin``: both one-sided t-tests
    reject at ``alpha`` (equivalently, the 1 - 2 alpha interval lies inside the margin)."""
    mean, se, n = _mean_se(differences)
    if n < 2 or not math.isfinite(se):
        return False
    if se == 0.0:
        return abs(mean) < margin
    t = t_quantile(1.0 - alpha, n - 1)
    return -margin < mean - t * se and mean + t * se < margin


def interval_half(values: Sequence[float], level: float = 0.95) -> float:
    """Half-width of the two-sided Student-t interval of the mean at ``level``; NaN for n < 2."""
    _, se, n = _mean_se(values)
    if n < 2:
        return math.nan
    return t_quantile(0.5 + level / 2.0, n - 1) * se
