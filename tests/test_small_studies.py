"""Small studies: a 5-participant study stops at `prepare` under the time split, with the
counts and what to change, and runs end to end under cross-validation over participants."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from conftest import STAGES, run_stages, simulate, tiny_params, world_config

from tiesignal.evaluation.cross_validation import cross_validated
from tiesignal.io import read_parquet
from tiesignal.prepare import TooFewRequests, label_and_split, participant_folds
from tiesignal.schema import SPLITS, validate_requests
from tiesignal.simulate.exports import render_exports

SALT = "small-study-test-salt-0123456789"


@pytest.fixture(scope="module")
def five_participants(tmp_path_factory):
    """Five participants' exports (a world of five members), and the study's root."""
    cfg = world_config(n_members=5, n_requests=600, n_senders=200)
    records = simulate(cfg)[0]
    root = tmp_path_factory.mktemp("five")
    render_exports(cfg, records, root / "data" / "exports")
    return root


def study_params(root, *overrides):
    exports = root / "data" / "exports"
    return tiny_params("data=member_exports", f"data.path={exports}", "study.kinds=[without]",
                       *overrides)  # fmt: skip


def test_a_five_participant_study_stops_at_prepare_under_the_time_split(
    five_participants, monkeypatch
):
    """Judged on people it never saw (`disjoint`), five people leave nothing to train on."""
    monkeypatch.setenv("TIESIGNAL_SALT", SALT)
    params = study_params(five_participants, "split.recipients=disjoint")
    with pytest.raises(TooFewRequests) as stopped:
        run_stages(five_participants, params, STAGES[1:])
    message = str(stopped.value)
    assert all(f"{s} " in message for s in SPLITS)
    assert "split=participants" in message and "split.participants_below" in message
    assert not (five_participants / "data" / "features").exists(), "stopped at prepare"


@pytest.fixture(scope="module")
def cross_validated_run(five_participants):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIESIGNAL_SALT", SALT)
        params = study_params(five_participants, "split=participants", "split.folds=4")
        run_stages(five_participants, params, STAGES[1:])
    return five_participants


def test_the_study_runs_under_cross_validation_over_participants(cross_validated_run):
    root = cross_validated_run
    prepare = json.loads((root / "reports" / "prepare.json").read_text())
    assert prepare["split_method"] == "participants"
    assert len(prepare["folds"]) == 4
    assert sum(f["recipients"] for f in prepare["folds"].values()) == 5
    prepared = read_parquet(root / "data" / "prepared" / "requests.parquet")
    labelled = prepared[prepared["split"] != "excluded"]
    assert (labelled.groupby("recipient_id")["fold"].nunique() == 1).all()
    assert (
        labelled["fold"].notna().all()
        and prepared.loc[prepared["split"] == "excluded", "fold"].isna().all()
    )

    oof = read_parquet(root / "models" / "train" / "cross_validation.parquet")
    assert sorted(oof["request_id"]) == sorted(labelled["request_id"])
    folds = labelled.set_index("request_id")["fold"]
    assert (oof.set_index("request_id")["fold"] == folds.loc[oof["request_id"]]).all()
    # fold 0 is scored by the pipeline's own model: the first rotation is its split
    test = read_parquet(root / "data" / "predictions" / "test.parquet")
    fold0 = oof[oof["fold"] == 0].set_index("request_id")["p_opportunity"]
    assert np.allclose(fold0.loc[test["request_id"]], test["p_opportunity"])

    metrics = json.loads((root / "reports" / "evaluate.json").read_text())
    assert metrics["cv_recipients"] == 5 and metrics["cv_folds"] == 4
    assert metrics["cv_rows"] == len(labelled)
    assert metrics["cv_roc_auc_low"] <= metrics["cv_roc_auc"] <= metrics["cv_roc_auc_high"]
    assert "drift_flag" not in metrics
    report = (root / "reports" / "evaluate.md").read_text()
    assert "## Cross-validation over participants" in report and "Drift flagged" not in report
    study = (root / "reports" / "compare" / "report.md").read_text()
    assert "cross-validation over participants" in study and "nan" not in study
    card = (root / "models" / "export" / "model_card.md").read_text()
    assert "Cross-validated over participants" in card and "consecutive periods" not in card


def test_folds_hold_whole_recipients_and_share_the_positives(tiny_world):
    raw = tiny_world[1]
    labels = raw["opportunity"].astype("boolean")
    recipients = raw["recipient_id"].str[-2:]  # about a hundred groups, of many sizes
    folds = participant_folds(recipients, labels, 5)
    assert (pd.DataFrame({"r": recipients, "f": folds}).groupby("r")["f"].nunique() == 1).all()
    positives = labels.groupby(folds).sum()
    rows = folds.value_counts()
    assert positives.max() - positives.min() <= 2 + positives.mean() * 0.1
    assert rows.max() / rows.min() < 1.2
    unknown = labels.copy()
    unknown[:10] = pd.NA
    assert participant_folds(recipients, unknown, 5)[:10].isna().all()
    assert participant_folds(recipients, labels, 5).equals(folds), "same data, same folds"


def test_a_small_study_switches_to_participant_folds_below_the_configured_size(
    tiny_world, split_config
):
    kept = validate_requests(tiny_world[1], "raw", "2000-01-01", "2100-01-01").kept
    assert label_and_split(kept, split_config).report["split_method"] == "time"
    small = dataclasses.replace(split_config, participants_below=10**9)
    out = label_and_split(kept, small)
    assert out.report["split_method"] == "participants"
    assert out.report["recipients_in_two_splits"] == 0
    used = out.requests[out.requests["split"] != "excluded"]
    assert set(used["excluded_reason"].dropna()) == set()
    assert (used["fold"] == 0).eq(used["split"] == "test").all()


def test_intervals_resample_participants_not_requests():
    """The same scores are less certain when they come from fewer people."""
    rng = np.random.default_rng(0)
    # each person has their own base rate and level of scores: requests of one person are
    # not independent, and how well their levels line up decides much of the pooled AUC
    people = np.arange(2000) % 8
    y = rng.random(2000) < np.linspace(0.05, 0.5, 8)[people]
    p = y * 0.1 + rng.normal(0, 0.2, 2000) + rng.normal(0, 0.3, 8)[people]
    scores = pd.DataFrame({"p_opportunity": p, "label": y, "fold": people % 4})
    few = cross_validated(scores.assign(recipient_id=people), 0.95, 300).scores
    many = cross_validated(scores.assign(recipient_id=np.arange(2000)), 0.95, 300).scores
    assert few["cv_roc_auc"] == many["cv_roc_auc"]
    width = {
        n: s["cv_roc_auc_high"] - s["cv_roc_auc_low"] for n, s in [("few", few), ("many", many)]
    }
    assert width["few"] > 2 * width["many"]
    assert few["cv_roc_auc_low"] <= few["cv_roc_auc"] <= few["cv_roc_auc_high"]
