"""Paired bootstrap over test requests, with each resample's ROC-AUC and average precision
computed in O(n) from scores sorted once (a resample is a vector of row weights)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


class RankedScores:
    """One model's test scores, sorted once with ties grouped."""

    def __init__(self, y: np.ndarray, p: np.ndarray) -> None:
        self.order = np.argsort(-p, kind="stable")
        self.y = np.asarray(y, dtype=float)[self.order]
        ranked = p[self.order]
        self.starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])

    def metrics(self, weights: np.ndarray) -> tuple[float, float]:
        """Weighted ROC-AUC (ties count half) and average precision (as scikit-learn)."""
        w = weights[self.order]
        pos = np.add.reduceat(w * self.y, self.starts)
        neg = np.add.reduceat(w * (1.0 - self.y), self.starts)
        n_pos, n_neg = pos.sum(), neg.sum()
        below = n_neg - np.cumsum(neg)  # negatives scored lower than each tie group
        auc = float((pos * (below + 0.5 * neg)).sum() / (n_pos * n_neg))
        tp, seen = np.cumsum(pos), np.cumsum(pos + neg)
        precision = np.divide(tp, seen, out=np.zeros_like(tp), where=seen > 0)
        ap = float((pos / n_pos * precision).sum())
        return auc, ap


@dataclass(frozen=True)
class Delta:
    """Variant minus full model, in ROC-AUC and PR-AUC (average precision)."""

    roc_auc: float  # on the whole test split, mean over seeds
    roc_auc_low: float  # interval of the seed-mean delta: test sampling and refitting
    roc_auc_high: float
    roc_auc_seed_sd: float  # spread of the per-seed deltas (each seed refits on a resample)
    pr_auc: float
    pr_auc_low: float
    pr_auc_high: float
    pr_auc_seed_sd: float


def paired_deltas(
    y: np.ndarray,
    full: list[np.ndarray],
    variants: dict[str, list[np.ndarray]],
    resamples: int,
    seed: int,
    confidence: float,
) -> dict[str, Delta]:
    """For each variant (its test scores per seed, seeds aligned with `full`), the change
    from the full model, with an interval that covers both sources of noise:

    - test sampling: a paired bootstrap over test requests (every resample draws the same
      requests for all models), giving the standard error of the seed-mean change;
    - refitting: each seed refits every variant (on a resample of the training rows shared
      by all variants of that seed), so the spread of the per-seed changes over sqrt(seeds)
      is the refitting standard error, taken with Student's t on seeds - 1 degrees of
      freedom.

    The two are independent and add in variance: change +- sqrt((z se_test)^2 +
    (t se_refit)^2). With one seed the refitting part cannot be estimated and is left out."""
    y = np.asarray(y)
    full_ranked = [RankedScores(y, p) for p in full]
    ranked = {name: [RankedScores(y, p) for p in runs] for name, runs in variants.items()}

    ones = np.ones(len(y))
    full_point = np.array([r.metrics(ones) for r in full_ranked])  # per seed
    point = {
        name: np.array([r.metrics(ones) for r in runs]) - full_point
        for name, runs in ranked.items()
    }
    rng = np.random.default_rng(seed)
    draws = {name: np.full((resamples, 2), np.nan) for name in ranked}
    for b in range(resamples):
        weights = np.bincount(rng.integers(0, len(y), len(y)), minlength=len(y)).astype(float)
        if not 0 < (weights * y).sum() < len(y):  # one class drawn (a small test split): no AUC
            continue
        base = np.mean([r.metrics(weights) for r in full_ranked], axis=0)
        for name, runs in ranked.items():
            draws[name][b] = np.mean([r.metrics(weights) for r in runs], axis=0) - base
    draws = {name: d[~np.isnan(d[:, 0])] for name, d in draws.items()}
    out = {}
    for name in ranked:
        mean = point[name].mean(axis=0)
        sd = point[name].std(axis=0, ddof=1) if len(full) > 1 else np.zeros(2)
        half = half_width(draws[name], point[name], confidence)
        low, high = mean - half, mean + half
        out[name] = Delta(
            float(mean[0]), float(low[0]), float(high[0]), float(sd[0]),
            float(mean[1]), float(low[1]), float(high[1]), float(sd[1]),
        )  # fmt: skip
    return out


def half_width(test_draws: np.ndarray, per_seed: np.ndarray, confidence: float) -> np.ndarray:
    """Half-width of an interval around a seed-mean that covers test sampling (the spread
    of its bootstrap draws, axis 0) and refitting (the spread of the per-seed values over
    sqrt(seeds), with Student's t on seeds - 1 degrees of freedom); the two add in
    variance. With one seed only test sampling is covered."""
    k = len(per_seed)
    z = stats.norm.ppf(0.5 + confidence / 2)
    refit = 0.0
    if k > 1:
        t = stats.t.ppf(0.5 + confidence / 2, k - 1)
        refit = t * per_seed.std(axis=0, ddof=1) / np.sqrt(k)
    return np.hypot(z * test_draws.std(axis=0, ddof=1), refit)
