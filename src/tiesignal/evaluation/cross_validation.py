"""Out-of-fold scores of a cross-validation over participants, judged with intervals that
resample participants (their requests are not independent, so resampling requests would
give intervals too narrow)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from tiesignal.study.bootstrap import RankedScores


@dataclass(frozen=True)
class CrossValidated:
    scores: dict[str, float]  # cv_* metrics: pooled out-of-fold, with their intervals
    by_fold: pd.DataFrame  # fold, recipients, rows, positives, roc_auc, pr_auc

    def sentences(self, confidence: float) -> list[str]:
        s = self.scores
        level = f"{confidence:.0%}"
        return [
            f"- {s['cv_folds']:.0f} folds of {s['cv_recipients']:.0f} participants "
            f"(recipients), {s['cv_rows']:.0f} labelled requests, each scored by the model "
            "that did not see its participant.",
            f"- Out-of-fold ROC-AUC {s['cv_roc_auc']:.4f} ({level} interval "
            f"{s['cv_roc_auc_low']:.4f} to {s['cv_roc_auc_high']:.4f}), PR-AUC "
            f"{s['cv_pr_auc']:.4f} ({s['cv_pr_auc_low']:.4f} to {s['cv_pr_auc_high']:.4f}) "
            f"against a base rate of {s['cv_base_rate']:.4f}; the intervals resample "
            "participants.",
            "- By fold: "
            + "; ".join(
                f"fold {r.fold}: {r.recipients} participants, {r.rows} requests, "
                f"ROC-AUC {r.roc_auc:.3f}"
                for r in self.by_fold.itertuples()
            )
            + ".",
            "- The test metrics above are fold 0's, scored by the exported model (trained "
            "without folds 0 and 1, stopped early on fold 1).",
        ]


def cross_validated(
    oof: pd.DataFrame, confidence: float, resamples: int, seed: int = 0
) -> CrossValidated:
    """`oof`: request_id, recipient_id, fold, p_opportunity, label (models/train)."""
    y = oof["label"].to_numpy(dtype=float)
    p = oof["p_opportunity"].to_numpy()
    ranked = RankedScores(y, p)
    point = ranked.metrics(np.ones(len(y)))
    recipient = pd.factorize(oof["recipient_id"])[0]
    n = recipient.max() + 1
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        weights = np.bincount(rng.integers(0, n, n), minlength=n)[recipient].astype(float)
        positives = (weights * y).sum()
        if 0 < positives < weights.sum():  # a draw of one class has no AUC
            draws.append(ranked.metrics(weights))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(np.array(draws), [tail, 100 - tail], axis=0)
    by_fold = pd.DataFrame(
        [
            {
                "fold": int(fold),
                "recipients": rows["recipient_id"].nunique(),
                "rows": len(rows),
                "positives": int(rows["label"].sum()),
                "roc_auc": round(float(roc_auc_score(rows["label"], rows["p_opportunity"])), 6),
                "pr_auc": round(
                    float(average_precision_score(rows["label"], rows["p_opportunity"])), 6
                ),
            }
            for fold, rows in oof.groupby("fold")
        ]
    )
    scores = {
        "cv_roc_auc": point[0],
        "cv_roc_auc_low": low[0],
        "cv_roc_auc_high": high[0],
        "cv_pr_auc": point[1],
        "cv_pr_auc_low": low[1],
        "cv_pr_auc_high": high[1],
        "cv_base_rate": float(y.mean()),
        "cv_folds": float(len(by_fold)),
        "cv_recipients": float(n),
        "cv_rows": float(len(y)),
    }
    return CrossValidated({k: float(v) for k, v in scores.items()}, by_fold)
