"""Is the test period like the training period? Base rate, mean prediction and calibration
per month of every split, and a flag when the test period departs from training beyond
its interval and by a material share: a model's test metrics say little about a period
that has drifted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from tiesignal.evaluation.metrics import expected_calibration_error
from tiesignal.schema import SPLITS


@dataclass(frozen=True)
class Drift:
    months: pd.DataFrame  # split, month, requests, base rate, mean prediction, ECE
    base_rate: dict[str, float]  # by split
    calibration_gap: dict[str, float]  # mean prediction minus base rate, by split
    base_rate_shift: bool  # test's base rate differs from train's beyond the interval
    calibration_shift: bool  # test's calibration gap differs from train's likewise
    # ...and by at least this share of train's base rate (else the shift is not flagged)
    min_relative_change: float = 0.0

    @property
    def flagged(self) -> bool:
        return self.base_rate_shift or self.calibration_shift

    def metrics(self) -> dict[str, float]:
        return {
            "drift_base_rate_train": self.base_rate["train"],
            "drift_base_rate_test": self.base_rate["test"],
            "drift_calibration_gap_train": self.calibration_gap["train"],
            "drift_calibration_gap_test": self.calibration_gap["test"],
            "drift_base_rate_shift": float(self.base_rate_shift),
            "drift_calibration_shift": float(self.calibration_shift),
            "drift_flag": float(self.flagged),
        }

    def sentences(self) -> list[str]:
        """What the flag means, in words computed from the numbers."""
        r, g = self.base_rate, self.calibration_gap
        change = abs(r["test"] - r["train"]) / r["train"] if r["train"] > 0 else 0.0
        lines = [
            f"- Base rate: train {r['train']:.2%}, valid {r['valid']:.2%}, test {r['test']:.2%}; "
            + (
                f"the test period's differs from training's by {change:.0%}, beyond its interval."
                if self.base_rate_shift
                else f"a change of {change:.0%}, below the {self.min_relative_change:.0%} that "
                "counts as drift (`evaluate.drift_min_relative_change`)."
                if change < self.min_relative_change
                else "no difference between test and training that the interval supports."
            ),
            f"- Mean prediction minus base rate: train {g['train']:+.2%}, test {g['test']:+.2%}; "
            + (
                "the model's calibration on the test period departs from training's: it "
                + ("over" if g["test"] > g["train"] else "under")
                + "-predicts there."
                if self.calibration_shift
                else "calibration on the test period is within its interval of training's."
            ),
        ]
        return lines


def drift(
    sent_at: dict[str, pd.Series],
    labels: dict[str, np.ndarray],
    predictions: dict[str, np.ndarray],
    bins: int,
    confidence: float = 0.95,
    min_relative_change: float = 0.0,
) -> Drift:
    """Per split (train, valid, test): when each request was sent, its label and its
    predicted probability. A shift counts when it is beyond the interval and at least
    `min_relative_change` of training's base rate."""
    months = []
    for split in SPLITS:
        frame = pd.DataFrame(
            {"month": sent_at[split].dt.strftime("%Y-%m").to_numpy(), "y": labels[split],
             "p": predictions[split]}
        )  # fmt: skip
        for month, rows in frame.groupby("month", sort=True):
            months.append(
                {
                    "split": split,
                    "month": month,
                    "requests": len(rows),
                    "base_rate": rows["y"].mean(),
                    "mean_prediction": rows["p"].mean(),
                    "ece": expected_calibration_error(
                        rows["y"].to_numpy(), rows["p"].to_numpy(), bins
                    ),
                }
            )
    rate = {s: float(np.mean(labels[s])) for s in SPLITS}
    gap = {s: float(np.mean(predictions[s]) - rate[s]) for s in SPLITS}
    z = stats.norm.ppf(0.5 + confidence / 2)
    # both differences have the binomial noise of the two base rates as their standard error
    se = np.sqrt(sum(rate[s] * (1 - rate[s]) / len(labels[s]) for s in ("train", "test")))
    material = min_relative_change * rate["train"]
    return Drift(
        months=pd.DataFrame(months).round(6),
        base_rate=rate,
        calibration_gap=gap,
        base_rate_shift=bool(abs(rate["test"] - rate["train"]) > max(z * se, material)),
        calibration_shift=bool(abs(gap["test"] - gap["train"]) > max(z * se, material)),
        min_relative_change=min_relative_change,
    )
