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
    metrics = json.loads((tmp_path / "metrics" / "evaluate.json").read_text())
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
