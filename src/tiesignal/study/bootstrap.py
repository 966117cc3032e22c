"""Paired bootstrap over test requests, with each resample's ROC-AUC and average precision
computed in O(n) from scores sorted once (a resample is a vector of row weights)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
    roc_auc_low: float  # bootstrap interval of the seed-mean delta
    roc_auc_high: float
    roc_auc_seed_sd: float  # spread of the per-seed deltas
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
    from the full model. Every resample draws the same test requests for all models."""
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
    draws = {name: np.empty((resamples, 2)) for name in ranked}
    for b in range(resamples):
        weights = np.bincount(rng.integers(0, len(y), len(y)), minlength=len(y)).astype(float)
        base = np.mean([r.metrics(weights) for r in full_ranked], axis=0)
        for name, runs in ranked.items():
            draws[name][b] = np.mean([r.metrics(weights) for r in runs], axis=0) - base
    tail = 100 * (1 - confidence) / 2
    out = {}
    for name in ranked:
        low, high = np.percentile(draws[name], [tail, 100 - tail], axis=0)
        mean, sd = point[name].mean(axis=0), point[name].std(axis=0, ddof=1 if len(full) > 1 else 0)
        out[name] = Delta(
            float(mean[0]), float(low[0]), float(high[0]), float(sd[0]),
            float(mean[1]), float(low[1]), float(high[1]), float(sd[1]),
        )  # fmt: skip
    return out
