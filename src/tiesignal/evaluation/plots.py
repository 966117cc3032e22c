"""PNG plots that open anywhere, with no internet: ROC, PR, calibration, importance."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from tiesignal.io import atomic_path  # noqa: E402


def save_png(fig, path: Path) -> None:
    """Deterministic PNG bytes: no timestamps or software tags in the metadata."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)


def roc_plot(roc: pd.DataFrame, auc: float, oracle_auc: float | None, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(roc["fpr"], roc["tpr"], label=f"model (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    if oracle_auc is not None:
        ax.set_title(f"ROC, test split (oracle AUC {oracle_auc:.3f})")
    else:
        ax.set_title("ROC, test split")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right")
    save_png(fig, path)


def pr_plot(pr: pd.DataFrame, ap: float, base_rate: float, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(pr["recall"], pr["precision"], label=f"model (AP {ap:.3f})")
    ax.axhline(base_rate, color="grey", linestyle=":", label=f"base rate {base_rate:.3f}")
    ax.set_title("Precision-recall, test split")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.legend(loc="upper right")
    save_png(fig, path)


def calibration_plot(table: pd.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 5))
    top = max(table["predicted"].max(), table["observed"].max()) * 1.05
    ax.plot([0, top], [0, top], color="grey", linestyle=":", label="perfect")
    ax.plot(table["predicted"], table["observed"], marker="o", label="model")
    ax.set_title("Calibration, test split (equal-count bins)")
    ax.set_xlabel("mean predicted P(opportunity)")
    ax.set_ylabel("observed rate")
    ax.legend(loc="upper left")
    save_png(fig, path)


def importance_plot(importance: pd.DataFrame, path: Path) -> None:
    shown = importance.sort_values("importance").tail(25)
    share_bars(
        shown["feature"], shown["importance"], "Feature importance (share of total gain)",
        "share of gain", path,
    )  # fmt: skip


def share_bars(labels, shares, title: str, xlabel: str, path: Path) -> None:
    """Horizontal bars, the first label at the bottom."""
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(labels) + 1.5))
    ax.barh(labels, shares)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    fig.tight_layout()
    save_png(fig, path)


def drift_plot(months: pd.DataFrame, path: Path) -> None:
    """Base rate and mean prediction by month, coloured by split."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = {m: i for i, m in enumerate(sorted(months["month"].unique()))}
    for split, rows in months.groupby("split", sort=False):
        xs = rows["month"].map(x)
        line = ax.plot(xs, 100 * rows["base_rate"], "o-", label=f"{split}: base rate")[0]
        ax.plot(xs, 100 * rows["mean_prediction"], "--", color=line.get_color(),
                label=f"{split}: mean prediction")  # fmt: skip
    ax.set_xticks(list(x.values()), list(x), rotation=90, fontsize=6)
    ax.set_ylabel("P(opportunity), %")
    ax.set_title("Base rate and mean prediction by month")
    ax.legend(fontsize=6, ncol=3)
    fig.tight_layout()
    save_png(fig, path)
