"""The study's report says only what its data support, on worlds unlike the default: no
effect of tie strength, a monotone tie curve, notes without effect. Each world is small;
each claim in the report is checked against the world's truth and the report's own numbers."""

from __future__ import annotations

import json

import pytest
from conftest import composed, run_stages, tiny_params
from test_study import model_config, study_config, study_inputs, world

from tiesignal.config import EvaluateConfig, load
from tiesignal.study.report import report_markdown
from tiesignal.study.run import run_study

CONTEXT = {"source": "simulated", "label_window_days": 30,
           "rows": {"train": 1, "valid": 1, "test": 1}, "split": "consecutive periods",
           "target": "opportunity"}  # fmt: skip
WORLDS = {
    # mutual connections cause nothing and reveal no intent
    "tie_off": {
        "opportunity.tie_strength.height": 0.0,
        "opportunity.tie_strength.digital_height": 0.0,
        "acceptance.mutual_log1p": 0.0,
        "outreach.connections_intent_mutual_boost": 1.0,
    },
    # the bump peaks far beyond any observed count: the curve only rises
    "monotone": {"opportunity.tie_strength.peak_mutuals": 1e6},
    # notes change nothing, but senders with openings still personalize more
    "notes_off": {
        "opportunity.personalization": {"none": 0.0, "generic": 0.0, "name_merge": 0.0,
                                        "name_company": 0.0, "specific": 0.0},
        "acceptance.personalization": {"none": 0.0, "generic": 0.0, "name_merge": 0.0,
                                       "name_company": 0.0, "specific": 0.0},
        "acceptance.long_note_per_100_chars": 0.0,
    },
}  # fmt: skip


@pytest.fixture(scope="module", params=list(WORLDS))
def studied(request, split_config):
    cfg = world(**WORLDS[request.param])
    tables, levels, truth = study_inputs(cfg, split_config)
    study = study_config(kinds=["without"])
    result = run_study(study, model_config(), tables, levels, truth, lambda _: None)
    return request.param, result, report_markdown(result, study, CONTEXT)


def test_no_inverted_u_is_claimed_where_the_world_has_none(studied):
    name, result, report = studied
    tie = result.truth.tie_strength
    if name in ("tie_off", "monotone"):
        assert not tie.true["all"].inverted_u
        assert "The truth has an inverted U" not in report
        assert "The model learned an inverted U" not in report
    if "The model learned an inverted U" in report:
        assert tie.learned["all"].rise.low > 0 and tie.learned["all"].fall.low > 0
    if name == "tie_off":
        assert "mutual connections have no effect on the opportunity logit" in report
        assert "acceptance does not depend on mutual connections" in report
        assert "inverted U in mutual connections peaking" not in report


def test_a_group_without_effect_is_not_said_to_matter(studied):
    name, result, report = studied
    if name == "tie_off":
        assert "**tie_strength** carries predictive signal" not in report
        row = result.table.set_index("variant").loc["without_tie_strength"]
        assert row["delta_roc_auc_low"] <= 0 <= row["delta_roc_auc_high"]
    for line in report.splitlines():  # every "carries" claim has an interval below zero
        if "carries predictive signal" in line:
            group = line.split("**")[1]
            assert result.table.set_index("group").loc[group, "delta_roc_auc_high"] < 0


def test_the_personalization_heading_agrees_with_its_own_numbers(studied):
    name, result, report = studied
    p = result.truth.personalization
    if "predicts more than it causes" in report:
        assert p.observed_gap.low > p.causal_effect
    if "predicts less than it causes" in report:
        assert p.observed_gap.high < p.causal_effect
    if "observed gap matches its causal effect" in report:
        assert p.observed_gap.low <= p.causal_effect <= p.observed_gap.high
    if name == "notes_off":
        assert p.causal_effect == pytest.approx(0, abs=1e-6)
        assert "the note has no effect on the opportunity logit" in report


def test_compare_runs_to_the_end_on_a_world_without_tie_strength(tmp_path):
    overrides = [f"+world.{k}={v}" for k, v in WORLDS["tie_off"].items()]
    summaries = run_stages(tmp_path, tiny_params(*overrides, "study.kinds=[without]"))
    assert summaries["compare"]
    metrics = json.loads((tmp_path / "reports" / "compare" / "figures.json").read_text())
    assert metrics["tie_inverted_u_true"] == 0.0
    assert "## Truth recovery" in (tmp_path / "reports" / "compare" / "report.md").read_text()


def test_a_detectable_rise_or_fall_is_never_called_no_dependence(studied):
    name, result, report = studied
    tie = result.truth.tie_strength
    learned = tie.learned["all"]
    said_none = "The model learned no detectable dependence" in report
    detectable = learned.rise.low > 0 or learned.fall.low > 0
    assert not (said_none and detectable)
    # a difference between digital and other industries is claimed only with an interval
    # that covers refitting and excludes 0, and only where some rise is detectable
    gap = tie.digital_gap
    if "rises more in digital industries" in report or "rises *less* in digital" in report:
        assert gap.low > 0 or gap.high < 0
        assert tie.learned["digital"].rise.low > 0 or tie.learned["non_digital"].rise.low > 0


def test_a_drifted_test_period_is_named_and_its_curve_is_not_called_recovered(split_config):
    """The market halves in the world's last months: the model over-predicts the test
    period, which shifts the learned tie-strength curve; the report must say so."""
    cfg = world(**{"opportunity.late_shift_logit": -0.693, "opportunity.late_shift_months": 5})
    tables, levels, truth = study_inputs(cfg, split_config)
    study = study_config(kinds=["without"])
    periods = load(EvaluateConfig, composed()["evaluate"], "evaluate")
    result = run_study(study, model_config(), tables, levels, truth, lambda _: None,
                       periods=periods)  # fmt: skip
    report = report_markdown(result, study, CONTEXT)
    assert result.drift is not None and result.drift.flagged
    assert "## The test period drifted" in report
    assert result.drift.calibration_shift  # trained before the crash, it over-predicts
    assert "over-predicts the test period" in report
    assert "the model attenuates the curve" not in report
    assert "not a measure of recovery" in report or "Learned rise" not in report
