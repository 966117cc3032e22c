"""The test split scored by the trained model: metrics, curves, calibration, importance,
and, on simulated data, the distance to the oracle that knows the true probabilities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tiesignal.config import EvaluateConfig
from tiesignal.evaluation import metrics as m
from tiesignal.evaluation import plots
from tiesignal.evaluation.cross_validation import CrossValidated, cross_validated
from tiesignal.evaluation.drift import Drift, drift
from tiesignal.io import write_csv
from tiesignal.models.data import features_named, model_matrix
from tiesignal.models.train import TrainedModel, importance

FIRST_ROUND_ONLY = [
    "**The model stopped at its first round**: no tree beat the base rate on the valid "
    "split, so every request gets nearly the same score (too few labelled requests or "
    "positives to learn from; see reports/prepare.json).",
    "",
]
# the test metrics `dvc exp show` lines up (metrics/evaluate.json); every other figure of the
# evaluation is in reports/evaluate.json, so the table of experiments fits a terminal
COMPARED = ("roc_auc", "pr_auc", "brier", "log_loss")


@dataclass(frozen=True)
class Evaluation:
    scores: dict[str, float]  # test metrics (and the oracle's, where the truth is known)
    predictions: pd.DataFrame  # request_id, p_opportunity, label
    tables: dict[str, pd.DataFrame]  # roc, pr, calibration, importance, drift: plot data
    oracle_auc: float | None
    drift: Drift | None  # None under cross-validation: the splits are not periods
    cross_validation: CrossValidated | None = None  # under cross-validation over participants
    confidence: float = 0.95
    target: str = "opportunity"
    stopped_at_first_round: bool = False  # boosting found nothing that beat the base rate

    def compared(self) -> dict[str, float]:
        return {k: self.scores[k] for k in COMPARED}

    def report(self) -> str:
        """reports/evaluate.md: the test metrics, and whether the test period drifted or
        how the model did on participants it did not see."""
        s = self.scores
        where = "fold" if self.cross_validation else "period"
        return "\n".join(
            [
                f"# Evaluation on the test {where}",
                "",
                f"Target: `{self.target}`.",
                "",
                f"- ROC-AUC {s['roc_auc']:.4f}, PR-AUC {s['pr_auc']:.4f}, Brier {s['brier']:.4f}, "
                f"ECE {s['ece']:.4f}"
                + (f"; oracle ROC-AUC {self.oracle_auc:.4f}" if self.oracle_auc is not None else "")
                + self._intent_unknown()
                + ".",
                "",
                *(FIRST_ROUND_ONLY if self.stopped_at_first_round else []),
                *(self._cross_validation() if self.cross_validation else self._drift()),
            ]
        )

    def _intent_unknown(self) -> str:
        auc = self.scores.get("oracle_intent_unknown_roc_auc")
        return "" if auc is None else f" ({auc:.4f} to an oracle that does not know the intent)"

    def _drift(self) -> list[str]:
        return [
            "## Drift: is the test period like the training period?",
            "",
            *self.drift.sentences(),
            "- **Drift flagged: test metrics may not describe the training period's world.**"
            if self.drift.flagged
            else "- No drift flagged.",
            "",
            "![base rate and mean prediction by month](../plots/evaluate/drift.png)",
            "",
        ]

    def _cross_validation(self) -> list[str]:
        return [
            "## Cross-validation over participants",
            "",
            *self.cross_validation.sentences(self.confidence),
            "- Drift is not judged: the splits are groups of participants, not periods.",
            "",
        ]

    def line(self) -> str:
        s = self.scores
        text = ", ".join(f"{k} {s[k]:.4f}" for k in ("roc_auc", "pr_auc", "brier", "ece"))
        if self.oracle_auc is not None:
            text += f"; oracle AUC {self.oracle_auc:.4f}, gap {s['auc_gap_to_oracle']:.4f}"
        if self.cross_validation:
            text += (f"; cross-validated ROC-AUC {s['cv_roc_auc']:.4f} "
                     f"[{s['cv_roc_auc_low']:.4f}, {s['cv_roc_auc_high']:.4f}]")  # fmt: skip
        return text


def scored_rows(
    table: pd.DataFrame, model: TrainedModel, levels: dict[str, list[str]]
) -> pd.DataFrame:
    """A part of a split's feature table as the model scores it, wherever the executor runs
    it: `request_id`, `sent_at`, `label` and `p_opportunity`, all evaluation needs of it."""
    X, y = model_matrix(table, features_named(model.features), levels)
    return pd.DataFrame(
        {
            "request_id": table["request_id"],
            "sent_at": table["sent_at"],
            "label": y,
            "p_opportunity": model.predict(X),
        }
    )


def evaluate_model(
    model: TrainedModel,
    scored: dict[str, pd.DataFrame],
    cfg: EvaluateConfig,
    p_true: np.ndarray | None,
    out_of_fold: pd.DataFrame | None = None,
    target: str = "opportunity",
    p_intent_unknown: np.ndarray | None = None,
) -> Evaluation:
    """`scored`: each split's `scored_rows`, its parts together; `p_true`: each test
    request's true P(opportunity), on simulated data, and `p_intent_unknown` the same to an
    oracle that does not know the sender's intent (the latent no field records);
    `out_of_fold`: the scores of a cross-validation over participants, where there was one."""
    test = scored["test"]
    y, p = test["label"].to_numpy(), test["p_opportunity"].to_numpy()
    predictions = pd.DataFrame(
        {"request_id": test["request_id"], "p_opportunity": p, "label": y.astype(bool)}
    )
    scores = m.classification_metrics(y, p, cfg.calibration_bins, cfg.top_fractions)
    oracle = m.oracle_metrics(y, p, p_true, p_intent_unknown) if p_true is not None else {}
    scores.update(oracle)
    plot_data = {
        **m.curve_tables(y, p),
        "calibration": m.calibration_table(y, p, cfg.calibration_bins).round(6),
        "importance": importance(model).sort_values("importance", ascending=False),
    }
    shift = cv = None
    if out_of_fold is None:
        shift = drift(
            {s: t["sent_at"] for s, t in scored.items()},
            {s: t["label"].to_numpy() for s, t in scored.items()},
            {s: t["p_opportunity"].to_numpy() for s, t in scored.items()},
            cfg.calibration_bins,
            min_relative_change=cfg.drift_min_relative_change,
        )
        scores.update(shift.metrics())
        plot_data["drift"] = shift.months
    else:
        cv = cross_validated(out_of_fold, cfg.confidence, cfg.resamples)
        scores.update(cv.scores)
        plot_data["folds"] = cv.by_fold
    return Evaluation(scores, predictions, plot_data, oracle.get("oracle_roc_auc"), shift, cv,
                      cfg.confidence, target, model.best_iteration == 1)  # fmt: skip


def write_plots(ev: Evaluation, folder: Path) -> None:
    """The plot data as CSV (DVC plots) and as PNG (to open anywhere)."""
    for name, table in ev.tables.items():
        write_csv(table, folder / f"{name}.csv")
    s, t = ev.scores, ev.tables
    plots.roc_plot(t["roc"], s["roc_auc"], ev.oracle_auc, folder / "roc.png")
    plots.pr_plot(t["pr"], s["pr_auc"], s["base_rate"], folder / "pr.png")
    plots.calibration_plot(t["calibration"], folder / "calibration.png")
    plots.importance_plot(t["importance"], folder / "importance.png")
    if "drift" in t:
        plots.drift_plot(t["drift"], folder / "drift.png")
