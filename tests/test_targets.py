"""Each target (`opportunity`, `opportunity_given_accept`, `accepted`) is labelled as it
says, trains, evaluates against its own true probability, and is named downstream."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import no_tracking_env, run_stages, tiny_params
from sklearn.metrics import roc_auc_score
from test_stages import mlflow_runs

from tiesignal.io import read_parquet
from tiesignal.prepare import label_and_split, within_window
from tiesignal.schema import LABEL, SPLITS, validate_requests


@pytest.mark.parametrize("target", ["opportunity_given_accept", "accepted"])
def test_each_target_trains_and_evaluates_end_to_end(target, tmp_path):
    with no_tracking_env():
        run_stages(tmp_path, tiny_params(f"target={target}", "study.kinds=[without]"))
    prepare = json.loads((tmp_path / "reports" / "prepare.json").read_text())
    assert prepare["target"] == target
    prepared = read_parquet(tmp_path / "data" / "prepared" / "requests.parquet")
    used = prepared[prepared["split"].isin(SPLITS)]
    outcome = "accepted" if target == "accepted" else "opportunity"
    want = within_window(used, outcome, prepare["label_window_days"])
    assert (used[LABEL] == want).all()
    if target == "opportunity_given_accept":
        assert used["accepted"].all() and prepare["excluded"]["not_accepted"] > 1000

    # the oracle is the true probability of this target, on the test rows
    metrics = json.loads((tmp_path / "reports" / "evaluate.json").read_text())
    truth = read_parquet(tmp_path / "data" / "raw" / "truth.parquet")
    column = {"accepted": "p_accept", "opportunity_given_accept": "p_opportunity_given_accept"}
    test = read_parquet(tmp_path / "data" / "features" / "test.parquet")
    p_true = test[["request_id"]].merge(truth, on="request_id")[column[target]]
    assert metrics["oracle_roc_auc"] == pytest.approx(roc_auc_score(test[LABEL], p_true), abs=1e-6)
    assert 0.5 < metrics["roc_auc"] < metrics["oracle_roc_auc"] + 0.02
    assert "oracle_intent_unknown_roc_auc" not in metrics, "that oracle is the opportunity's"

    assert f"Target: `{target}`" in (tmp_path / "reports" / "evaluate.md").read_text()
    study = (tmp_path / "reports" / "compare" / "report.md").read_text()
    assert f"(target `{target}`)" in study and f"Skipped: the target is `{target}`" in study
    export = tmp_path / "models" / "export"
    assert json.loads((export / "feature_spec.json").read_text())["target"] == target
    assert f"(target `{target}`" in (export / "model_card.md").read_text()
    (run,) = mlflow_runs(tmp_path)
    assert run["tags"]["target"] == target and run["params"]["target.name"] == target


def test_the_targets_label_the_same_requests_differently(tiny_world, split_config):
    kept = validate_requests(tiny_world[1], "raw", "2000-01-01", "2100-01-01").kept
    out = {t: label_and_split(kept, split_config, t).requests.set_index("request_id")
           for t in ("opportunity", "opportunity_given_accept", "accepted")}  # fmt: skip
    rate = {t: df.loc[df["split"] != "excluded", LABEL].mean() for t, df in out.items()}
    # opportunities come through accepted requests: the rate given acceptance is higher
    assert rate["opportunity"] < rate["opportunity_given_accept"] < rate["accepted"]
    both = out["opportunity"].index.intersection(out["opportunity_given_accept"].index)
    given = out["opportunity_given_accept"].loc[both]
    accepted_rows = given["split"] != "excluded"
    pd.testing.assert_series_equal(
        given.loc[accepted_rows, LABEL], out["opportunity"].loc[both][accepted_rows][LABEL]
    )
