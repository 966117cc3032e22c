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
from tiesignal.io import write_csv
from tiesignal.models.data import features_named, model_matrix
from tiesignal.models.train import TrainedModel, importance


@dataclass(frozen=True)
class Evaluation:
    scores: dict[str, float]  # test metrics (and the oracle's, where the truth is known)
    predictions: pd.DataFrame  # request_id, p_opportunity, label
    tables: dict[str, pd.DataFrame]  # roc, pr, calibration, importance: the plot data
    oracle_auc: float | None

    def line(self) -> str:
        s = self.scores
        text = ", ".join(f"{k} {s[k]:.4f}" for k in ("roc_auc", "pr_auc", "brier", "ece"))
        if self.oracle_auc is not None:
            text += f"; oracle AUC {self.oracle_auc:.4f}, gap {s['auc_gap_to_oracle']:.4f}"
        return text


def evaluate_model(
    model: TrainedModel,
    test: pd.DataFrame,
    levels: dict[str, list[str]],
    cfg: EvaluateConfig,
    p_true: np.ndarray | None,
) -> Evaluation:
    """`p_true`: each test request's true P(opportunity), on simulated data."""
    X, y = model_matrix(test, features_named(model.features), levels)
    p = model.predict(X)
    predictions = pd.DataFrame(
        {"request_id": test["request_id"], "p_opportunity": p, "label": y.astype(bool)}
    )
    scores = m.classification_metrics(y, p, cfg.calibration_bins, cfg.top_fractions)
    oracle = m.oracle_metrics(y, p, p_true) if p_true is not None else {}
    scores.update(oracle)
    tables = {
        **m.curve_tables(y, p),
        "calibration": m.calibration_table(y, p, cfg.calibration_bins).round(6),
        "importance": importance(model).sort_values("importance", ascending=False),
    }
    return Evaluation(scores, predictions, tables, oracle.get("oracle_roc_auc"))


def write_plots(ev: Evaluation, folder: Path) -> None:
    """The plot data as CSV (DVC plots) and as PNG (to open anywhere)."""
    for name, table in ev.tables.items():
        write_csv(table, folder / f"{name}.csv")
    s, t = ev.scores, ev.tables
    plots.roc_plot(t["roc"], s["roc_auc"], ev.oracle_auc, folder / "roc.png")
    plots.pr_plot(t["pr"], s["pr_auc"], s["base_rate"], folder / "pr.png")
    plots.calibration_plot(t["calibration"], folder / "calibration.png")
    plots.importance_plot(t["importance"], folder / "importance.png")
