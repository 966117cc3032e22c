"""The randomized experiment inside the world, and `assignment` in the canonical schema."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import simulate, world_config

from tiesignal.config import ConfigError, DataConfig, load
from tiesignal.prepare import prepare_requests
from tiesignal.schema import SOURCE_COLUMNS
from tiesignal.simulate import truth_summary

MONTHS = list(range(6, 18))


def with_experiment(cfg, **changes):
    return dataclasses.replace(
        cfg, experiment=dataclasses.replace(cfg.experiment, months=MONTHS, **changes)
    )


@pytest.fixture(scope="module")
def worlds():
    """The tiny world without the experiment and with it: (records, truth, summary)."""
    on = world_config(n_requests=20_000)
    off = dataclasses.replace(on, experiment=dataclasses.replace(on.experiment, months=[]))
    assert on.experiment.months == MONTHS, "the default world runs the experiment"
    out = {}
    for name, cfg in (("off", off), ("on", on)):
        records, truth, acc = simulate(cfg)
        out[name] = (records, truth, truth_summary(cfg, acc))
    return out


def test_senders_are_randomized_in_the_chosen_months_only(worlds):
    records, truth, summary = worlds["on"]
    assert list(records.columns) == list(SOURCE_COLUMNS)
    start = pd.Timestamp(world_config().start, tz="UTC")
    month = np.floor((records["sent_at"] - start).dt.total_seconds() / 86_400 / 30.4375)
    inside = records["assignment"].notna()
    assert inside.any() and not inside.all()
    assert set(records.loc[inside, "assignment"]) == {"assistant", "control"}
    assert (truth["assignment"].fillna("") == records["assignment"].fillna("")).all()
    assert (inside == month.isin(MONTHS)).all()
    arms_per_sender = records[inside].groupby("sender_id")["assignment"].nunique()
    assert (arms_per_sender == 1).all(), "the sender is the unit of randomization"
    senders = records[inside].drop_duplicates("sender_id")["assignment"]
    assert 0.3 < (senders == "assistant").mean() < 0.7  # offered_share 0.5
    assert summary["experiment"]["requests"] == int(inside.sum())


def test_the_offer_changes_only_the_compliers_requests(worlds):
    before, _, off_summary = worlds["off"]
    records, truth, _ = worlds["on"]
    assert off_summary["experiment"] is None and "assignment" not in before.columns
    assert list(before.columns) == [c for c in SOURCE_COLUMNS if c != "assignment"]
    complier = truth["complier"].fillna(False).to_numpy(dtype=bool)
    offered = (records["assignment"] == "assistant").to_numpy()
    changed = offered & complier
    assert changed.sum() > 50
    same = ~changed
    for column in before.columns:  # no other request moves: its own random streams
        assert before.loc[same, column].equals(records.loc[same, column]), column
    # a complier's note without the offer was not personal; with it, it names the person
    assert not before.loc[changed, "note_mentions_name"].any()
    assert records.loc[changed, "note_mentions_name"].all()
    assert records.loc[changed, "note_mentions_company"].all()


def test_the_truth_holds_the_intention_to_treat_and_the_complier_effect(worlds):
    _, truth, summary = worlds["on"]
    e = summary["experiment"]
    inside = truth["assignment"].notna()
    effect = truth["p_opportunity_if_assistant"] - truth["p_opportunity_if_control"]
    assert e["intention_to_treat"] == pytest.approx(effect[inside].mean())
    assert e["intention_to_treat"] == pytest.approx(e["complier_share"] * e["complier_effect"])
    assert e["complier_effect"] > 0.003, "a personal note raises the chance in this world"
    assert (effect[inside & ~truth["complier"].fillna(False)] == 0).all()
    assert truth.loc[~inside, "p_opportunity_if_assistant"].isna().all()


def test_without_a_causal_effect_of_notes_the_true_effects_are_zero():
    cfg = world_config("no_note_effect", n_requests=8_000, n_members=6_000, n_senders=300)
    _, truth, acc = simulate(cfg)
    e = truth_summary(cfg, acc)["experiment"]
    assert e["complier_share"] > 0.05
    assert e["intention_to_treat"] == 0 and e["complier_effect"] == 0


def test_experiment_settings_are_checked():
    with pytest.raises(ConfigError, match="world.experiment.months"):
        simulate(with_experiment(world_config(months=3)))
    with pytest.raises(ConfigError, match="world.experiment.uptake"):
        simulate(with_experiment(world_config(), uptake=1.5))
    with pytest.raises(ConfigError, match="data.assignment_arms"):
        load(DataConfig, {"source": "table", "path": "x", "assignment_arms": {"a": "b"}}, "data")


def test_assignment_outside_the_declared_arms_is_rejected_with_row_and_column(worlds, split_config):
    records = worlds["on"][0].drop(columns=["note"]).copy()
    inside = np.flatnonzero(records["assignment"].notna().to_numpy())
    records = records.astype({"assignment": object})
    records.loc[inside[3], "assignment"] = "treated"
    prepared = prepare_requests(records, "requests.csv", split_config)
    (reject,) = prepared.rejects.itertuples(index=False)
    assert (reject.reject_row, reject.reject_column) == (inside[3], "assignment")
    # the arms it may be are named; the value, text that could be anything, is not
    assert reject.reject_reason == "failed isin(['assistant', 'control'])"
    assert prepared.report["rows_kept"] == len(records) - 1
    # a table that declares its own arms keeps them
    records.loc[inside, "assignment"] = np.where(
        records.loc[inside, "assignment"] == "control", "B", "A"
    )
    kept = prepare_requests(records, "requests.csv", split_config, arms=("A", "B"))
    assert kept.rejects.empty
    assert set(kept.requests["assignment"].dropna()) == {"A", "B"}


def test_data_without_an_experiment_has_no_assignment(worlds, split_config):
    records = worlds["off"][0].drop(columns=["note"])
    prepared = prepare_requests(records, "requests.csv", split_config)
    assert prepared.rejects.empty and prepared.requests["assignment"].isna().all()
