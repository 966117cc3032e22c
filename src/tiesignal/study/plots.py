"""The study's PNG plots: deltas with intervals, group attribution, partial dependence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tiesignal.evaluation.plots import plt, save_png, share_bars
from tiesignal.study.causal import bias_bound


def deltas_plot(table: pd.DataFrame, path: Path) -> None:
    rows = table[table["kind"] != "full"].iloc[::-1]
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.35 * len(rows) + 1.5), sharey=True)
    positions = np.arange(len(rows))
    for ax, metric, title in zip(axes, ("roc_auc", "pr_auc"), ("ROC-AUC", "PR-AUC"), strict=True):
        for kind, color in (("without", "tab:red"), ("only", "tab:blue")):
            mine = (rows["kind"] == kind).to_numpy()
            if not mine.any():
                continue
            mid = rows[f"delta_{metric}"].to_numpy()[mine]
            low = rows[f"delta_{metric}_low"].to_numpy()[mine]
            high = rows[f"delta_{metric}_high"].to_numpy()[mine]
            ax.errorbar(mid, positions[mine], xerr=[mid - low, high - mid], fmt="o",
                        color=color, capsize=3, label=f"{kind} the group")  # fmt: skip
        ax.axvline(0, color="grey", linestyle=":")
        ax.set_title(f"change in test {title} vs full model")
    axes[0].legend(loc="upper left", fontsize=8)
    axes[0].set_yticks(np.arange(len(rows)), rows["variant"])
    fig.tight_layout()
    save_png(fig, path)


def group_shap_plot(per_group: pd.DataFrame, path: Path) -> None:
    rows = per_group.iloc[::-1]
    share_bars(
        rows["group"], rows["share"], "What the full model uses, by group",
        "share of mean |SHAP| (log-odds), test rows", path,
    )  # fmt: skip


def dependence_plot(curve: pd.DataFrame, ice: pd.DataFrame, feature: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for _, one in ice.groupby("row"):
        ax.plot(one["value"], one["log_odds"], color="tab:grey", alpha=0.15, linewidth=0.8)
    ax.plot(
        curve["value"],
        curve["mean_log_odds"],
        color="tab:blue",
        linewidth=2,
        label="partial dependence",
    )
    ax.set_xlabel(feature)
    ax.set_ylabel("predicted log-odds")
    ax.set_title(f"{feature}: partial dependence and ICE")
    ax.legend(loc="best")
    fig.tight_layout()
    save_png(fig, path)


def tie_strength_plot(curves: pd.DataFrame, path: Path) -> None:
    """Learned and true partial dependence of mutual connections (mean P(opportunity) over
    the same test requests), centred at zero mutuals."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for industries, color in (("digital", "tab:blue"), ("non_digital", "tab:orange")):
        for source, style in (("learned", "-"), ("true", "--")):
            y = curves[f"{source}_{industries}"]
            ax.plot(curves["mutual_connections"], 100 * (y - y.iloc[0]), style, color=color,
                    label=f"{source}, {industries.replace('_', '-')} industries")  # fmt: skip
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("mutual connections")
    ax.set_ylabel("change in P(opportunity) from zero mutuals, points")
    ax.set_title("Tie strength: learned vs true")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    save_png(fig, path)


def sensitivity_plot(effect, path: Path) -> None:
    """Double ML's sensitivity contours: the end of its interval nearest 0, moved by a
    hidden confounder of strengths (cf_y, cf_d) at adversity 1, with each observed group's
    strength marked; where the contour at 0 passes, the sign stops being supported."""
    groups = [b for b in effect.benchmarks if np.isfinite(b.cf_y)]  # with strengths
    top = max(0.05, 1.3 * max(max(b.cf_y for b in groups), max(b.cf_d for b in groups)))
    cf_y, cf_d = np.meshgrid(np.linspace(0, top, 80), np.linspace(0, min(top, 0.95), 80))
    bias = bias_bound(cf_y, cf_d, effect.details["scale"])
    edge = effect.low - bias if effect.value >= 0 else effect.high + bias
    fig, ax = plt.subplots(figsize=(6.5, 5))
    lines = ax.contour(cf_y, cf_d, 100 * edge, levels=10, colors="tab:grey", linewidths=0.8)
    ax.clabel(lines, fontsize=7, fmt="%+.1f")
    if edge.min() < 0 < edge.max():
        ax.contour(cf_y, cf_d, edge, levels=[0], colors="tab:red", linewidths=2)
    for b in groups:
        ax.plot(b.cf_y, b.cf_d, "o", color="tab:blue")
        ax.annotate(b.group, (b.cf_y, b.cf_d), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")  # fmt: skip
    ax.set_xlabel("confounder's gain for the label (cf_y)")
    ax.set_ylabel("confounder's gain for the treatment (cf_d)")
    ax.set_title(f"`{effect.treatment}`: double ML's interval end nearest 0 (points)\n"
                 "red: where it reaches 0; dots: observed groups")  # fmt: skip
    fig.tight_layout()
    save_png(fig, path)
