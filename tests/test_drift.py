"""Drift is visible: a world whose hiring market halves in its last months raises the
drift flag in `evaluate`'s metrics and report and in the model card; a stationary world
does not."""

from __future__ import annotations

import json

import pytest
from conftest import run_stages, tiny_params

STATIONARY = ("world.n_requests=20000", "world.n_members=12000",
              "+world.opportunity.market_amplitude=0.0")  # fmt: skip
# log(0.5): the opportunity odds halve over the last five months, the test period
CRASH = ("+world.opportunity.late_shift_logit=-0.693", "+world.opportunity.late_shift_months=5")


@pytest.mark.parametrize("world, flagged", [(STATIONARY, False), (STATIONARY + CRASH, True)])
def test_a_market_crash_in_the_test_period_raises_the_drift_flag(tmp_path, world, flagged):
    stages = ("simulate", "ingest", "prepare", "featurize", "train", "evaluate", "export")
    run_stages(tmp_path, tiny_params(*world), stages)
    metrics = json.loads((tmp_path / "reports" / "evaluate.json").read_text())
    assert metrics["drift_flag"] == float(flagged), metrics
    report = (tmp_path / "reports" / "evaluate.md").read_text()
    assert ("Drift flagged" in report) == flagged
    months = (tmp_path / "plots" / "evaluate" / "drift.csv").read_text().splitlines()
    assert months[0].startswith("split,month,requests,base_rate,mean_prediction")
    card = (tmp_path / "models" / "export" / "model_card.md").read_text()
    assert ("**Flagged:** the test period departs" in card) == flagged
    if flagged:
        assert metrics["drift_base_rate_test"] < 0.75 * metrics["drift_base_rate_train"]
        assert metrics["drift_calibration_gap_test"] > 0, "the model over-predicts the crash"


def test_a_significant_but_small_change_is_not_flagged_unless_asked():
    """With 100k requests a split, a base rate of 10% against 9.5% is beyond the interval,
    but a 5% change is no drift at the default `evaluate.drift_min_relative_change`."""
    import numpy as np
    import pandas as pd

    from tiesignal.evaluation.drift import drift

    rng = np.random.default_rng(0)
    n = 100_000
    rates = {"train": 0.10, "valid": 0.10, "test": 0.095}
    labels = {s: (np.arange(n) < r * n).astype(float) for s, r in rates.items()}
    predictions = {s: np.full(n, 0.1) for s in rates}
    sent_at = {s: pd.Series(pd.to_datetime(rng.integers(0, 10**9, n), unit="s", utc=True))
               for s in rates}  # fmt: skip
    strict = drift(sent_at, labels, predictions, 10, min_relative_change=0.0)
    assert strict.base_rate_shift and strict.flagged
    material = drift(sent_at, labels, predictions, 10, min_relative_change=0.2)
    assert not material.base_rate_shift and not material.flagged
    assert "a change of 5%, below the 20% that counts as drift" in material.sentences()[0]
