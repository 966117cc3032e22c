"""The study's table: each variant's test metrics and its change from the full model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from tiesignal.config import StudyConfig
from tiesignal.study.bootstrap import Delta, paired_deltas
from tiesignal.study.variants import Fit


def summarize(fits: list[Fit], y_test: np.ndarray, study: StudyConfig) -> pd.DataFrame:
    """One row per variant: mean test ROC-AUC and PR-AUC over seeds, and for every variant
    but the full model the change from it with its bootstrap interval and seed spread."""
    by_variant: dict[str, list[Fit]] = {}
    for fit in fits:
        by_variant.setdefault(fit.variant.name, []).append(fit)
    full = [f.test_scores for f in by_variant["full"]]
    others = {
        name: [f.test_scores for f in runs] for name, runs in by_variant.items() if name != "full"
    }
    deltas = paired_deltas(
        y_test, full, others, study.bootstrap_resamples, study.bootstrap_seed, study.confidence
    )
    rows = []
    for name, runs in by_variant.items():
        v = runs[0].variant
        row = {
            "variant": name,
            "kind": v.kind,
            "group": v.group,
            "test_roc_auc": np.mean([roc_auc_score(y_test, f.test_scores) for f in runs]),
            "test_pr_auc": np.mean([average_precision_score(y_test, f.test_scores) for f in runs]),
            "seeds": len(runs),
        }
        if name in deltas:
            row |= {f"delta_{k}": val for k, val in dataclasses.asdict(deltas[name]).items()}
        rows.append(row)
    columns = ["variant", "kind", "group", "test_roc_auc", "test_pr_auc", "seeds"]
    columns += [f"delta_{f.name}" for f in dataclasses.fields(Delta)]  # empty for `full`
    return pd.DataFrame(rows, columns=columns).round(6)


def group_importance(table: pd.DataFrame) -> pd.Series:
    """Leave-one-group-out importance: the ROC-AUC the full model loses without the group."""
    without = table[table["kind"] == "without"].set_index("group")
    if without.empty:  # `study.kinds` without "without"
        return pd.Series(dtype=float, name="delta_roc_auc", index=pd.Index([], name="group"))
    return -without["delta_roc_auc"]


def markdown_table(table: pd.DataFrame, confidence: float) -> str:
    """The summary as Markdown: each variant's AUC and its change with the interval."""
    pct = f"{confidence:.0%}"
    lines = [
        f"| variant | test ROC-AUC | change ({pct} interval) | seed sd | test PR-AUC | change ({pct} interval) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for _, r in table.iterrows():
        if r["kind"] == "full":
            lines.append(
                f"| **full model** | {r['test_roc_auc']:.4f} | | | {r['test_pr_auc']:.4f} | |"
            )
            continue
        lines.append(
            f"| {r['variant']} | {r['test_roc_auc']:.4f} | "
            f"{r['delta_roc_auc']:+.4f} [{r['delta_roc_auc_low']:+.4f}, {r['delta_roc_auc_high']:+.4f}] | "
            f"{r['delta_roc_auc_seed_sd']:.4f} | {r['test_pr_auc']:.4f} | "
            f"{r['delta_pr_auc']:+.4f} [{r['delta_pr_auc_low']:+.4f}, {r['delta_pr_auc_high']:+.4f}] |"
        )
    return "\n".join(lines) + "\n"
