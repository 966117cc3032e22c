"""The study's causal section on two small worlds with a randomized experiment: one where a
personal note raises the chance of an opportunity, one where it changes nothing (the
confounding by intent kept). Each estimate is checked against the world's truth of the
same estimand on the same requests."""

from __future__ import annotations

import dataclasses
import logging

import pandas as pd
import pytest
from conftest import RANGE, composed, simulate, world_config
from test_study import _replace_path

from tiesignal.config import PrepareConfig, StudyConfig, load
from tiesignal.features.build import encode, feature_tables
from tiesignal.features.registry import FEATURES
from tiesignal.prepare import label_and_split
from tiesignal.schema import LABEL, SPLITS, validate_requests
from tiesignal.study.causal import (
    OBSERVED_TOGETHER,
    ConfidenceSet,
    anderson_rubin,
    estimate_effects,
)
from tiesignal.study.report import causal_section, conclusions

ARMS = {"offered": "assistant", "control": "control"}


def experiment_world(note_effect: bool, **changes):
    """conf/world/no_note_effect.yaml (every note level alike to both logits, intent still
    drives notes, the experiment on), or the default world with the same experiment;
    `changes`: dotted world keys laid over it."""
    cfg = world_config("no_note_effect", n_requests=20_000, n_members=15_000, n_senders=520)
    if note_effect:
        cfg = dataclasses.replace(cfg, acceptance=world_config().acceptance,
                                  opportunity=world_config().opportunity)  # fmt: skip
    for path, value in changes.items():
        cfg = _replace_path(cfg, path.split("."), value)
    records, truth, _ = simulate(cfg)
    params = composed()
    kept = validate_requests(records, "raw", *RANGE).kept
    split = load(PrepareConfig, params["split"], "split")
    requests = label_and_split(kept, split).requests
    tables, spec = feature_tables(requests, split.label_window_days, 20.0)
    frame = pd.concat([tables[s] for s in SPLITS], ignore_index=True)
    frame = frame.merge(requests[["request_id", "sender_id", "assignment"]], on="request_id")
    encoded = encode(frame, list(FEATURES), spec["category_levels"])
    return frame, encoded, frame[["request_id"]].merge(truth, on="request_id", how="left")


def effects(frame, encoded, truth, arms=ARMS, benchmark=False):
    """`benchmark`: double ML's sensitivity against each group (8 refits: slow)."""
    study = load(StudyConfig, composed()["study"], "study")
    causal = dataclasses.replace(study.causal, benchmark_groups=benchmark)
    found, notes = estimate_effects(
        frame, encoded, LABEL, causal, arms, study.confidence, truth, lambda _: None
    )
    return {e.method: e for e in found}, notes


@pytest.fixture(scope="module")
def with_effect():
    return experiment_world(note_effect=True)


def test_each_estimate_beside_the_truth_of_its_estimand(with_effect):
    got, notes = effects(*with_effect)
    assert set(got) == {"naive_difference", "double_ml", "intention_to_treat",
                        "instrumental_variables", "intention_to_treat_adjusted",
                        "instrumental_variables_adjusted"} and not notes  # fmt: skip
    truth = with_effect[2]
    inside = truth["assignment"].notna()
    complier = truth["complier"].fillna(False).astype(bool) & inside
    effect = truth["p_opportunity_if_assistant"] - truth["p_opportunity_if_control"]
    assert got["instrumental_variables"].truth == pytest.approx(effect[complier].mean())
    assert got["intention_to_treat"].truth == pytest.approx(effect[inside].mean())
    assert got["instrumental_variables"].truth > 0.003
    assert got["instrumental_variables"].covers_truth and got["intention_to_treat"].covers_truth
    dml = got["double_ml"]
    assert dml.truth > 0 and dml.low < dml.value < dml.high
    # its sensitivity analysis: how strong a confounder would explain it, or its bias, away
    assert 0 < dml.details["robustness_value"] < 1
    assert 0 <= dml.details["to_truth_robustness_value"] < 1
    assert dml.details["bound_low"] < dml.value < dml.details["bound_high"]
    # senders are randomized and their volumes are heavy-tailed: on a world this small the
    # plain first stage is weak (F below 10); the pre-period covariates make it usable
    plain, adjusted = got["instrumental_variables"], got["instrumental_variables_adjusted"]
    assert 0 < plain.details["first_stage_f"] < 10 and not plain.finding
    assert "detectable_effect" not in plain.details  # a first stage that is noise sizes nothing
    assert adjusted.details["first_stage_f"] > plain.details["first_stage_f"]
    for suffix in ("", "_adjusted"):  # wherever the instrument is usable:
        itt, iv = got[f"intention_to_treat{suffix}"], got[f"instrumental_variables{suffix}"]
        if not iv.finding:
            continue
        # the effect on compliers it finds 4 times in 5 is (z_0.975 + z_0.8) standard
        # errors of the ITT over the first stage
        half_width = (itt.high - itt.low) / 2 / iv.details["first_stage"]
        assert iv.details["detectable_effect"] == pytest.approx(half_width * 2.80 / 1.96, rel=1e-3)
        assert iv.confidence_set.bounded and iv.low <= iv.value <= iv.high
    for e in got.values():  # named by estimand, for metrics/ and MLflow
        key = f"causal_personalized_note_{e.method}"
        assert e.metrics()[key] == e.value if e.finding else key not in e.metrics()


def test_without_a_causal_effect_the_experiment_finds_none_and_the_naive_gap_does():
    frame, encoded, truth = experiment_world(note_effect=False)
    got, _ = effects(frame, encoded, truth)
    iv = got["instrumental_variables"]
    assert iv.truth == 0 and iv.low <= 0 <= iv.high
    naive = got["naive_difference"]
    assert naive.truth == 0 and naive.low > 0, "intent still makes personal notes look good"


def test_a_table_with_its_own_arms_gets_the_experiment_estimates(with_effect):
    frame, encoded, _ = with_effect
    renamed = frame.assign(assignment=frame["assignment"].map(ARMS_RENAMED))
    got, _ = effects(renamed, encoded, None, {"offered": "A", "control": "B"})
    assert got["instrumental_variables"].truth is None  # real data: no truth
    same, _ = effects(frame, encoded, None)
    assert got["instrumental_variables"].value == same["instrumental_variables"].value


def test_data_without_an_assignment_skip_the_experiment_with_a_note(with_effect):
    frame, encoded, truth = with_effect
    got, notes = effects(frame.drop(columns=["assignment"]), encoded, truth)
    assert set(got) == {"naive_difference", "double_ml"}
    # without an experiment the section opens with double ML's benchmarked sensitivity
    first = conclusions(got)[0]  # here not benchmarked (the fast setting): no direction
    assert first.startswith("Double ML estimates") and "no direction is claimed" in first
    assert notes == [
        "`personalized_note`: no `assignment` in these data: no intention-to-treat or "
        "instrumental-variables estimate"
    ]


def test_an_experiment_with_one_arm_among_the_labelled_requests_is_skipped_with_a_note(
    with_effect,
):
    frame, encoded, truth = with_effect  # e.g. its control months all censored
    offered_only = frame.assign(assignment=frame["assignment"].replace({"control": None}))
    got, notes = effects(offered_only, encoded, truth)
    assert set(got) == {"naive_difference", "double_ml"}
    assert notes == [
        "`personalized_note`: the labelled requests hold only the `assistant` arm of "
        "`assignment`: no intention-to-treat or instrumental-variables estimate"
    ]


def test_fewer_senders_than_folds_skip_double_ml_with_a_note(with_effect):
    frame, encoded, truth = with_effect
    two = frame.assign(sender_id=pd.factorize(frame["sender_id"])[0] % 2, assignment=None)
    got, notes = effects(two, encoded, truth)
    assert set(got) == {"naive_difference"}
    assert "2 sender(s), fewer than the 3 folds of double machine learning" in notes[0]


ARMS_RENAMED = {"assistant": "A", "control": "B"}


def test_the_anderson_rubin_set_is_an_interval_only_where_the_first_stage_is_significant():
    z = 1.96
    strong = anderson_rubin(0.01, 0.2, 1e-5, 0.0, 1e-4, z)  # first stage t = 20
    assert strong.bounded and strong.contains(0.01 / 0.2)
    low, high = strong.hull
    for b in (low, high):  # its ends are where the test statistic meets the critical value
        stat = (0.01 - b * 0.2) ** 2 / (1e-5 + b * b * 1e-4)
        assert stat == pytest.approx(z * z, rel=1e-6)
    rays = anderson_rubin(0.02, 0.01, 1e-5, 0.0, 1e-4, z)  # first stage t = 1: two rays
    assert not rays.bounded and len(rays.intervals) == 2 and rays.contains(2.0)
    assert not rays.contains(0.0), "an ITT far from 0 rules out a zero effect"
    everything = anderson_rubin(0.0, 0.001, 1e-5, 0.0, 1e-4, z)  # nothing is rejected
    assert everything == ConfidenceSet(((-float("inf"), float("inf")),))
    assert "unbounded" in everything.describe() and "unbounded" in rays.describe()


def test_a_weak_instrument_gives_its_anderson_rubin_set_and_no_point_estimate():
    frame, encoded, truth = experiment_world(note_effect=True, **{"experiment.uptake": 0.01})
    got, _ = effects(frame, encoded, truth)
    iv = got["instrumental_variables"]
    assert iv.details["weak_instrument"] == 1.0 and not iv.finding
    assert not iv.confidence_set.bounded
    assert f"causal_personalized_note_{iv.method}" not in iv.metrics()  # no point to compare
    study = load(StudyConfig, composed()["study"], "study")
    result = _section_only(list(got.values()))
    text = "\n".join(causal_section(result, study))
    assert "there is no point estimate" in text and "(Anderson-Rubin)" in text
    row = next(line for line in text.splitlines() if "| instrumental variables (Anderson" in line)
    assert "| none (weak instrument) |" in row
    # a first stage that is noise sizes nothing: no detectable effect, said in words
    assert "detectable_effect" not in iv.details
    assert "With a first stage this weak the experiment cannot detect any plausible" in text
    assert "points 80% of the time" not in row
    for e in got.values():  # no estimate outside its own interval
        if e.finding:
            assert e.low <= e.value <= e.high, e.method


def test_double_ml_claims_no_direction_its_benchmarked_bounds_do_not_support():
    """A world where personalizing harms (every personal level lowers the opportunity
    logit) while senders with an opening still personalize more: double ML is biased up."""
    harm = {"none": 0.0, "generic": -0.1, "name_merge": -0.2, "name_company": -0.3,
            "specific": -0.4}  # fmt: skip
    frame, encoded, truth = experiment_world(
        note_effect=False, **{"opportunity.personalization": harm}
    )
    got, _ = effects(frame.drop(columns=["assignment"]), encoded, truth, benchmark=True)
    dml = got["double_ml"]
    assert dml.truth < 0
    groups = [b for b in dml.benchmarks if b.group != OBSERVED_TOGETHER]
    assert len(groups) == 8 and all(b.bias >= 0 for b in dml.benchmarks)
    per_side = dml.per_side
    assert per_side.cf_y == max(b.cf_y for b in groups)
    assert per_side.cf_d == max(b.cf_d for b in groups)
    # the observed confounders together: as far again as the naive difference moved
    (together,) = [b for b in dml.benchmarks if b.group == OBSERVED_TOGETHER]
    assert together.bias == pytest.approx(abs(got["naive_difference"].value - dml.value))
    strongest = dml.strongest
    assert strongest.bias == max(per_side.bias, together.bias)
    assert strongest.interval_low <= dml.low and strongest.interval_high >= dml.high
    first = conclusions(got)[0]
    if "raises P(label)" in first:  # claimed only where the benchmarked bounds exclude 0
        assert strongest.interval_low > 0
    if strongest.interval_low <= 0 <= strongest.interval_high:
        assert "does not survive" in first and "raises P(label) unless" not in first


def _section_only(effects_found):
    """A study result holding only causal estimates, for the report's causal section."""
    from tiesignal.study.run import StudyResult

    empty = pd.DataFrame({"variant": [], "group": []})
    return StudyResult([], None, empty, None, empty, {}, {}, causal=effects_found)


def test_a_small_study_skips_double_ml_it_cannot_fit_instead_of_failing(tiny_world, caplog):
    """Issue 32: on 80 labelled requests a cross-fitting fold holds one outcome only, and
    DoubleML fails inside (a shape mismatch); the study goes on with a note."""
    cfg, records, truth, _ = tiny_world
    params = composed()
    kept = validate_requests(records, "raw", *RANGE).kept
    split = load(PrepareConfig, params["split"], "split")
    requests = label_and_split(kept, split).requests
    tables, spec = feature_tables(requests, split.label_window_days, 20.0)
    frame = pd.concat([tables[s] for s in SPLITS], ignore_index=True).head(80)
    frame = frame.merge(requests[["request_id", "sender_id", "assignment"]], on="request_id")
    encoded = encode(frame, list(FEATURES), spec["category_levels"])
    with caplog.at_level(logging.WARNING, logger="tiesignal.study.causal"):
        got, notes = effects(frame, encoded, None)
    assert "naive_difference" in got and "double_ml" not in got
    assert any("double machine learning could not be fitted on 80" in n for n in notes)
    assert "could not be fitted" in caplog.text
