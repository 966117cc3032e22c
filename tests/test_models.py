"""Training is deterministic, models round-trip, metrics mean what they say."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import composed

from tiesignal.config import ConfigError, LogisticConfig, ModelConfig, load
from tiesignal.evaluation.metrics import (
    calibration_table,
    classification_metrics,
    expected_calibration_error,
    precision_at,
)
from tiesignal.features.build import build_features, category_levels, encode
from tiesignal.features.registry import FEATURES, select
from tiesignal.models.train import importance, load_model, save_model, train
from tiesignal.prepare import label_and_split
from tiesignal.schema import LABEL, validate_requests


@pytest.fixture(scope="module")
def data(tiny_world, split_config):
    kept = validate_requests(tiny_world[1], "raw", "2000-01-01", "2100-01-01").kept
    req = label_and_split(kept, split_config).requests
    feats = build_features(req)
    levels = category_levels(feats[req["split"] == "train"], list(FEATURES))
    chosen = select(composed()["features"]["groups"])
    out = {}
    for split in ("train", "valid", "test"):
        rows = req["split"] == split
        out[split] = (
            encode(feats[rows], chosen, levels),
            req.loc[rows, LABEL].astype(int).to_numpy(),
        )
    return out, [f.name for f in chosen if f.kind == "categorical"]


def _fit(data, family, **changes):
    (splits, categorical) = data
    cfg = load(ModelConfig, composed(f"model={family}")["model"] | changes, "model")
    return train(cfg, *splits["train"], *splits["valid"], categorical, progress=lambda _: None)


def test_lightgbm_is_deterministic_and_round_trips_through_text(data, tmp_path):
    a, b = _fit(data, "lightgbm"), _fit(data, "lightgbm")
    assert a.booster.model_to_string() == b.booster.model_to_string()
    assert a.best_iteration > 0 and "best_valid_auc" in a.at_best
    save_model(a, tmp_path)
    loaded = load_model(tmp_path)
    X = data[0]["test"][0]
    np.testing.assert_allclose(loaded.predict(X), a.predict(X), rtol=0, atol=1e-12)
    assert json.loads((tmp_path / "model.json").read_text())["features"] == list(X.columns)


def test_logistic_baseline_round_trips_and_reports_importance(data, tmp_path):
    model = _fit(data, "logistic")
    save_model(model, tmp_path)
    X = data[0]["test"][0]
    np.testing.assert_allclose(load_model(tmp_path).predict(X), model.predict(X))
    shares = importance(model)
    assert np.isclose(shares["importance"].sum(), 1.0, atol=1e-4)
    assert (shares["importance"] > 0).sum() > 10


def test_trained_model_beats_chance_on_unseen_recipients(data):
    model = _fit(data, "lightgbm")
    X, y = data[0]["test"]
    assert classification_metrics(y, model.predict(X), 10, [0.05])["roc_auc"] > 0.65


def test_unknown_model_kind_is_refused(data):
    with pytest.raises(ConfigError, match="model.kind: unknown 'xgboost'"):
        _fit(data, "lightgbm", kind="xgboost")


def test_a_key_the_chosen_kind_does_not_use_is_refused_by_name():
    params = composed("model=logistic", "+model.num_leaves=31")["model"]
    with pytest.raises(
        ConfigError, match=r"model\.num_leaves \(not used by model\.kind 'logistic'\)"
    ):
        load(ModelConfig, params, "model")
    assert isinstance(
        load(ModelConfig, composed("model=logistic")["model"], "model"), LogisticConfig
    )


@pytest.mark.parametrize(
    "key, value",
    [("num_leaves", 0), ("learning_rate", -0.1), ("learning_rate", 1.5), ("feature_fraction", 0.0),
     ("max_rounds", 0), ("lambda_l2", -1.0), ("max_bin", 1)],
)  # fmt: skip
def test_model_values_out_of_range_are_refused_by_name(key, value):
    params = composed()["model"] | {key: value}
    with pytest.raises(ConfigError, match=rf"model\.{key}: must be"):
        load(ModelConfig, params, "model")


def test_metrics_on_known_cases():
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1, 0, 0])
    p = np.array([0.1, 0.2, 0.3, 0.9, 0.1, 0.8, 0.7, 0.95, 0.4, 0.2])
    assert precision_at(y, p, 0.3) == 1.0
    assert precision_at(y, p, 0.5) == 0.8
    m = classification_metrics(y, p, 2, [0.1])
    assert m["roc_auc"] == 1.0 and m["precision_at_10pct"] == 1.0
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.3, 200_000)
    calibrated = rng.random(p.size) < p
    assert expected_calibration_error(calibrated, p, 10) < 0.005
    assert expected_calibration_error(calibrated, p / 2, 10) > 0.03
    assert calibration_table(calibrated, p, 10)["count"].sum() == p.size
    with warnings.catch_warnings():  # fewer requests than bins: no empty bin, no NaN
        warnings.simplefilter("error")
        few = calibration_table(np.array([0, 1, 0]), np.array([0.1, 0.8, 0.3]), 10)
    assert few["count"].tolist() == [1, 1, 1] and not few.isna().any(axis=None)


@pytest.mark.parametrize("metric, best", [("binary_logloss", np.argmin), ("auc", np.argmax)])
def test_early_stopping_watches_the_one_configured_metric(data, metric, best):
    model = _fit(data, "lightgbm", stopping_metric=metric, learning_rate=0.1)
    watched = np.asarray(model.history[f"valid_{metric}"])
    assert model.best_iteration == best(watched) + 1
    rounds = composed()["model"]["early_stopping_rounds"]
    assert len(watched) == model.best_iteration + rounds, "stopped by this metric alone"
    assert list(model.history) == [f"valid_{metric}"], "only the watched one, every round"
    # every metric once, at the best round, on the valid split
    assert set(model.at_best) == {"best_valid_auc", "best_valid_binary_logloss"}
    if metric == "binary_logloss":
        assert model.at_best["best_valid_binary_logloss"] == pytest.approx(
            watched[model.best_iteration - 1], rel=1e-6
        )


def test_a_model_that_learns_nothing_stops_at_its_first_round_and_says_so(data):
    """Issue 32: features that hold nothing stop boosting at round 1 (ROC-AUC 0.5); the
    evaluation report says so in words instead of leaving it to a flat ROC curve."""
    from tiesignal.evaluation.drift import Drift
    from tiesignal.evaluation.evaluate import Evaluation

    splits, categorical = data
    blank = {s: (X.assign(**{c: X[c].iloc[0] for c in X.columns}), y)
             for s, (X, y) in splits.items()}  # fmt: skip
    model = _fit((blank, categorical), "lightgbm")
    assert model.best_iteration == 1
    flat = {"train": 0.05, "valid": 0.05, "test": 0.05}
    drift = Drift(pd.DataFrame(), flat, dict.fromkeys(flat, 0.0), False, False)
    scores = {"roc_auc": 0.5, "pr_auc": 0.05, "brier": 0.05, "ece": 0.0}
    report = Evaluation(scores, pd.DataFrame(), {}, None, drift,
                        stopped_at_first_round=model.best_iteration == 1).report()  # fmt: skip
    assert "The model stopped at its first round" in report
