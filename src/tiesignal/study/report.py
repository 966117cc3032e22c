"""The study's one report: the question, the data, the table, the plots, the truth, the caveats.

Every sentence that states a finding is computed from the measured numbers and their
intervals: a finding is stated only when its interval supports it, reversed when the
numbers point the other way, and "no detectable" otherwise. The world is described from
its config, never in fixed prose.
"""

from __future__ import annotations

import base64
import math
import re
from pathlib import Path

from tiesignal.config import TargetConfig, WorldConfig
from tiesignal.features.registry import GROUPS
from tiesignal.simulate.vocab import NOTE_LEVELS
from tiesignal.study.causal import (
    METHODS,
    OBSERVED_TOGETHER,
    POWER,
    QUESTIONS,
    treatment_groups,
)
from tiesignal.study.summary import markdown_table
from tiesignal.study.truth import CurveShape, Estimate, TruthRecovery


def report_markdown(result, study, context: dict) -> str:
    """`context`: data source and size, label window, for the reader."""
    out = [
        f"# Feature-group study: {study.name}",
        "",
        "## Question",
        "Which signals predict whether a connection request "
        f"{TargetConfig(context['target']).question(context['label_window_days'])} (target "
        f"`{context['target']}`): {', '.join(GROUPS)}? Each group is left out of "
        "the full model (how much is lost without it, given the others) and used alone (how "
        "much it predicts by itself).",
        "",
        *_method(result, study, context),
        "## Results",
        markdown_table(result.table, study.confidence),
        "![changes with intervals](deltas.png)",
        "",
        "### Findings about prediction",
        *group_findings(result.table, result.absent_groups),
        "",
        "## Attribution (full model)",
        "Mean |SHAP| on the log-odds scale from LightGBM's own contributions, averaged over "
        f"seeds, on {min(study.attribution_rows, context['rows']['test']):,} test requests:",
        "",
        "| group | mean abs SHAP | share |",
        "|---|---:|---:|",
        *(
            f"| {r.group} | {r.mean_abs_shap:.4f} | {r.share:.1%} |"
            for r in result.shap_groups.itertuples()
        ),
        "",
        "![group attribution](shap_groups.png)",
        "",
        "Per feature: `shap_features.csv`. Partial dependence with ICE curves (log-odds):",
        "",
        *(f"![{f}](pdp_{f}.png)" for f in result.dependence),
        "",
    ]
    out += drift_section(result.drift, result.truth is not None)
    if result.truth is not None:
        out += truth_section(result.truth, result.drift)
    else:
        why = (
            "these data have no simulated truth (real data). The comparison with a known "
            "truth runs on the simulated world only."
            if context["target"] == "opportunity"
            else f"the target is `{context['target']}`, and the world's truth of which group "
            "matters is the opportunity target's."
        )
        out += ["## Truth recovery", f"Skipped: {why}", ""]
    out += causal_section(result, study)
    out += [
        "## Caveats",
        "- Leave-one-group-out measures what a group adds *given the others*: groups that "
        "carry the same information can each look unimportant when left out alone.",
        "- Every finding above is about prediction: a group can predict because it reveals an "
        "unobserved cause (such as the sender's intent), not because changing it changes "
        "outcomes.",
        "- Intervals cover test sampling and refitting, not a change of population or period "
        "(see the drift section of `evaluate`).",
        "",
    ]
    return "\n".join(out)


def _method(result, study, context: dict) -> list[str]:
    """The data, the models and how the intervals are made."""
    pct = f"{study.confidence:.0%}"
    return [
        "## Data and method",
        f"- Data: {context['source']}; train {context['rows']['train']:,}, valid "
        f"{context['rows']['valid']:,}, test {context['rows']['test']:,} requests ({context['split']}).",
        f"- Models: LightGBM as in `conf/model/`, early stopping on valid, seeds "
        f"{', '.join(map(str, study.seeds))}; {len(result.fits)} models in all."
        + (
            " Each seed refits every variant on its own bootstrap resample of the training "
            "requests (the same resample for all variants of that seed)."
            if study.resample_training
            else ""
        ),  # fmt: skip
        f"- Intervals ({pct}) cover test sampling and refitting: a paired bootstrap over test "
        f"requests ({study.bootstrap_resamples} resamples, every model scored on the same "
        "resample) gives the standard error of the seed-mean change; the spread of the "
        "per-seed changes gives the refitting standard error (Student's t over seeds); the two "
        "add in variance. `seed sd` is that spread."
        + (
            " With one seed the refitting part is not estimated: the intervals are too narrow."
            if len(study.seeds) < 2
            else ""
        ),  # fmt: skip
        "",
    ]


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title><style>
body {{ font-family: sans-serif; max-width: 72rem; margin: 1rem auto; line-height: 1.4 }}
table {{ border-collapse: collapse }} td, th {{ border: 1px solid #ccc; padding: .2rem .5rem }}
img {{ max-width: 100% }}
</style></head><body>
{body}</body></html>
"""


def report_html(markdown: str, folder: Path) -> str:
    """The report as one page with its plots inlined: MLflow's artifact viewer shows a
    Markdown file as text (its images as links) and an HTML file as a page."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown)

    def inlined(image: re.Match) -> str:
        data = base64.b64encode((folder / image[1]).read_bytes()).decode("ascii")
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="([^"/]+\.png)"', inlined, body)
    title = markdown.splitlines()[0].lstrip("# ") if markdown else "report"
    return PAGE.format(title=title, body=body)


def run_description(result, study) -> str:
    """The study's findings in a few lines, for its parent run's description in MLflow:
    what predicts (each group left out), then what the causal estimates support."""
    lines = ["**What predicts** (test ROC-AUC without each group):", "",
             *group_findings(result.table, result.absent_groups)]  # fmt: skip
    for treatment in study.causal.treatments:
        by_method = {e.method: e for e in result.causal if e.treatment == treatment}
        if by_method:
            lines += ["", f"**What causes: `{treatment}`**", "", *conclusions(by_method)]
    return "\n".join(lines)


def group_findings(table, absent: list[str] = ()) -> list[str]:
    """One sentence per group left out, from its change in test ROC-AUC and its interval;
    one for each group `absent` from the data, which no variant tested."""
    rows = table[table["kind"] == "without"].sort_values("delta_roc_auc")
    lines = [f"- {g}: not in these data (none of its features has a value), so not tested; "
             "say nothing about it from this study." for g in absent]  # fmt: skip
    for r in rows.itertuples():
        change = f"{r.delta_roc_auc:+.4f} [{r.delta_roc_auc_low:+.4f}, {r.delta_roc_auc_high:+.4f}]"
        if r.delta_roc_auc_high < 0:
            lines.append(
                f"- **{r.group}** carries predictive signal the other groups do not: without it "
                f"test ROC-AUC changes by {change}."
            )
        elif r.delta_roc_auc_low > 0:
            lines.append(
                f"- Without **{r.group}** the model predicts *better*: {change}; the group "
                "adds noise to this model."
            )
        else:
            lines.append(
                f"- {r.group}: no detectable effect of leaving it out ({change} includes 0)."
            )
    if rows.empty:
        lines.append("- No leave-one-group-out variants were fitted (`study.kinds`).")
    return lines


def describe_world(world: WorldConfig) -> list[str]:
    """What the world's config says about the two effects the study checks."""
    t, a = world.opportunity.tie_strength, world.acceptance
    if t.height == 0 and t.digital_height == 0:
        bump = "mutual connections have no effect on the opportunity logit"
    else:
        bump = (
            f"the opportunity logit has a bump in mutual connections peaking at "
            f"{t.peak_mutuals:g} (height {t.height:+g} log-odds, {t.height + t.digital_height:+g} "
            "at full digital intensity)"
        )
    direction = (
        "rises" if a.mutual_log1p > 0 else "falls" if a.mutual_log1p < 0 else "does not depend"
    )
    accept = (
        f"acceptance {direction} with log(1 + mutual connections) ({a.mutual_log1p:+g} log-odds)"
        if a.mutual_log1p
        else "acceptance does not depend on mutual connections"
    )
    by_level = sorted(world.opportunity.personalization.items(),
                      key=lambda item: NOTE_LEVELS.index(item[0]) if item[0] in NOTE_LEVELS
                      else len(NOTE_LEVELS))  # fmt: skip
    notes = {lv: v for lv, v in by_level if v}  # least to most personal
    note = (
        "the note's personalization level shifts the opportunity logit ("
        + ", ".join(f"{lv} {v:+g}" for lv, v in notes.items())
        + ")"
        if notes
        else "the note has no effect on the opportunity logit once accepted"
    )
    return [f"In this world {bump}; {accept}; {note}."]


def drift_section(drift, with_truth: bool) -> list[str]:
    """Where `evaluate`'s drift check, run on the study's own model, flags the test period:
    which of the study's comparisons that period shifts."""
    if drift is None or not drift.flagged:
        return []
    gap = drift.calibration_gap["test"] - drift.calibration_gap["train"]
    lines = [
        "## The test period drifted",
        "The drift check of `evaluate`, on the study's full model:",
        *drift.sentences(),
        "",
        "What that shifts here:",
        "- The leave-one-out changes, SHAP shares and test metrics describe the drifted test "
        "period, not training's; their intervals cover sampling and refitting, not the change "
        "of period.",
    ]
    if with_truth:
        lines += [
            "- Tie strength (b): both curves are averaged over the test requests. "
            + (
                f"The model {'over' if gap > 0 else 'under'}-predicts the test period "
                f"({100 * gap:+.2f} points against training's calibration), which "
                f"{'raises' if gap > 0 else 'lowers'} the learned curve and scales its rise: "
                "how close it comes to the truth is not evidence of recovery or attenuation."
                if drift.calibration_shift
                else "The model's calibration held, so the learned curve is comparable with "
                "the truth's, though both describe the drifted period."
            ),
            "- Personalization (c): the observed gap is the test period's.",
        ]
    lines += [
        "- The causal section uses every labelled request of all three periods, not only the "
        "test period's.",
        "",
    ]
    return lines


def truth_section(truth: TruthRecovery, drift=None) -> list[str]:
    return [
        "## Truth recovery (simulated world)",
        "",
        *describe_world(truth.world),
        "",
        *_groups_section(truth),
        *_tie_strength_section(truth, drift is not None and drift.calibration_shift),
        *_personalization_section(truth),
    ]


def _fmt(e: Estimate, scale: float = 1.0, digits: int = 4, unit: str = "") -> str:
    if math.isnan(e.value):
        return "n/a"
    if e.low == e.high:
        return f"{e.value * scale:+.{digits}f}{unit}"
    return (
        f"{e.value * scale:+.{digits}f}{unit} [{e.low * scale:+.{digits}f}, "
        f"{e.high * scale:+.{digits}f}]"
    )


def _groups_section(truth: TruthRecovery) -> list[str]:
    lines = [
        "### (a) Which groups matter",
        "The causal truth of a group: how much the oracle's test ROC-AUC drops when the "
        "simulator's probabilities lose that group's logit terms (same test requests).",
        "",
        "| group | truth: oracle AUC drop | study: AUC lost without it | study: SHAP share | confounded by intent |",
        "|---|---:|---:|---:|---|",
        *(
            f"| {r.group} | {r.truth_auc_drop:.4f} | {r.study_loo_drop:+.4f} | {r.shap_share:.1%} | "
            f"{'yes' if r.group in truth.confounded else 'no'} |"
            for r in truth.groups.itertuples()
        ),
        "",
        "Declared from the world's structure before the comparison, a group is confounded "
        "when the latent intent shapes its features, so it can predict through the intent it "
        "reveals:",
        *(f"- {g}: {why}" for g, why in truth.confounded.items()),
        "",
        f"Spearman rank correlation of the study's ranking with the causal one, all groups: "
        f"{_fmt(truth.spearman, digits=2)}; a predictive and a causal ranking need not agree "
        "where groups are confounded.",
    ]
    if truth.spearman_unconfounded is not None:
        lines.append(
            f"Over the unconfounded groups: {_fmt(truth.spearman_unconfounded, digits=2)}."
        )
    else:
        lines.append(
            "Fewer than three groups are unconfounded here, so no like-for-like comparison "
            "with the causal ranking is made."
        )
    if truth.spearman_learnable is not None:
        lines.append(
            "Like for like, against the learnable ranking (the same study on a much larger "
            "sample of this world, `benchmarks/results/ranking_truth.json`): Spearman "
            f"{_fmt(truth.spearman_learnable, digits=2)}; how far this sample's ranking is from "
            "what more data of the same world would rank."
        )
    else:
        lines.append(
            "No learnable ranking is recorded for this world (the same study on a much larger "
            "sample: `benchmarks/ranking_truth.py`), so its ranking has no like-for-like "
            "yardstick here."
        )
    return [*lines, ""]


def _shape_sentence(shape: CurveShape, who: str) -> str:
    """The curve's shape in words: a rise or a fall is named whenever its interval
    excludes 0, and "no detectable dependence" only when neither does."""
    pts = {"scale": 100, "digits": 3, "unit": " points"}
    rise, fall = _fmt(shape.rise, **pts), _fmt(shape.fall, **pts)
    if shape.inverted_u:
        return (
            f"{who} an inverted U peaking at {shape.peak_at:g} mutual connections: it rises "
            f"{rise} from 0 and falls {fall} after the peak."
        )
    if shape.rise.above():
        return f"{who} a rise of {rise} with no fall that its interval supports (fall {fall}): no inverted U."
    if shape.fall.above():
        return (f"{who} a fall of {fall} after {shape.peak_at:g} mutual connections, with no "
                f"rise before it that its interval supports (rise {rise}): no inverted U.")  # fmt: skip
    return f"{who} no detectable dependence on mutual connections (rise {rise}, fall {fall})."


def _tie_strength_section(truth: TruthRecovery, miscalibrated: bool = False) -> list[str]:
    """`miscalibrated`: the model's calibration on the test period departs from training's,
    so the learned curve's level and rise are shifted by it (see the drift section)."""
    t = truth.tie_strength
    learned, true = t.learned["all"], t.true["all"]
    lines = [
        "### (b) Tie strength",
        "Both curves are mean P(opportunity) over the same test requests with their mutual "
        "connections set to each value: for the truth, each request's true probability with "
        "every other cause as it is, latent ones included (what a model of the observable "
        "fields can learn).",
        "",
        "- " + _shape_sentence(true, "The truth has"),
        "- " + _shape_sentence(learned, "The model learned"),
    ]
    if learned.inverted_u and true.inverted_u:
        lines.append(
            f"- Learned peak / true peak: {learned.peak_at / true.peak_at:.2f}."
            if true.peak_at
            else "- The true curve peaks at 0."
        )
    if true.rise.value > 0 and not math.isnan(learned.rise.value) and miscalibrated:
        lines.append(
            f"- Learned rise / true rise: {learned.rise.value / true.rise.value:.2f}, on a test "
            "period the model is miscalibrated for (see the drift section): not a measure of "
            "recovery."
        )
    elif true.rise.value > 0 and not math.isnan(learned.rise.value):
        covered = learned.rise.low <= true.rise.value <= learned.rise.high
        lines.append(
            f"- Learned rise / true rise: {learned.rise.value / true.rise.value:.2f}; the true "
            "rise is "
            + ("inside" if covered else "outside")
            + " the learned rise's interval"
            + (
                "."
                if covered
                else ": the model attenuates the curve (`benchmarks/attenuation.py` measures "
                "whether more data of the same world closes the gap)."
            )
        )
    gap = t.digital_gap
    some_rise = t.learned["digital"].rise.above() or t.learned["non_digital"].rise.above()
    if gap.above() and some_rise:
        verdict = "rises more in digital industries"
    elif gap.below() and some_rise:
        verdict = "rises *less* in digital industries"
    else:
        verdict = "shows no detectable difference between digital and other industries"
    lines += [
        f"- The learned curve {verdict}: rise difference {_fmt(gap, 100, 3, ' points')} "
        f"(truth {100 * t.true_digital_gap:+.3f} points).",
        "",
        "| industries | learned peak | true peak | learned inverted U | true inverted U | learned rise | true rise |",
        "|---|---:|---:|---|---|---:|---:|",
        *(
            f"| {name.replace('_', '-')} | {t.learned[name].peak_at:g} | {t.true[name].peak_at:g} | "
            f"{'yes' if t.learned[name].inverted_u else 'no'} | "
            f"{'yes' if t.true[name].inverted_u else 'no'} | "
            f"{_fmt(t.learned[name].rise, 100, 3)} | {100 * t.true[name].rise.value:+.3f} |"
            for name in t.learned
        ),
        "",
        "![tie strength](tie_strength.png)",
        "",
    ]
    return lines


def _personalization_section(truth: TruthRecovery) -> list[str]:
    p = truth.personalization
    gap, effect = p.observed_gap, p.causal_effect
    pts = {"scale": 100, "digits": 2, "unit": " points"}
    if math.isnan(gap.value):
        heading, why = (
            "cannot be compared here",
            "The test requests lack personal notes or notes-free requests.",
        )
    elif gap.above(effect):
        heading = "predicts more than it causes"
        why = "The observed gap exceeds the causal effect: " + (
            "personalization is confounded by intent here (senders with an opening "
            "personalize more, and openings lead to opportunities whatever the note says)."
            if "personalization" in truth.confounded
            else "something other than the note differs between the two kinds of request."
        )
    elif gap.below(effect):
        heading = "predicts less than it causes"
        why = "The observed gap is below the causal effect: requests with personal notes differ in ways that lower their chances."
    else:
        heading = "the observed gap matches its causal effect"
        why = "The causal effect lies inside the observed gap's interval: no confounding is detectable here."
    return [
        f"### (c) Personalization: {heading}",
        f"- Observed: on the test requests, those with a personal note led to an "
        f"opportunity {_fmt(gap, **pts)} more often than those with no note "
        f"(base rate {p.base_rate:.2%}).",
        f"- Causal: the simulator rewrote every note of the same test requests (most personal "
        f"note its intent allows, against no note): {100 * effect:+.2f} points of P(opportunity).",
        f"- {why}",
        f"- Predictive importance (not comparable in units): the full model loses "
        f"{p.study_loo_drop:+.4f} ROC-AUC without the group; {p.shap_share:.1%} of its "
        "attribution. It answers what predicts, not what a sender should do.",
        "",
    ]


def causal_section(result, study) -> list[str]:
    """What predicts beside what causes, per treatment: first the conclusion the estimates
    support (the experiment's where there is one, else double ML's benchmarked
    sensitivity), then the group's leave-one-out change and SHAP share, the association,
    and each causal estimate with its interval, the truth of the same estimand on the same
    requests where known, and the assumption it rests on."""
    out = ["## What predicts, and what causes", ""]
    level = f"{study.confidence:.0%}"
    for treatment, columns in study.causal.treatments.items():
        effects = [e for e in result.causal if e.treatment == treatment]
        if not effects:
            continue
        by_method = {e.method: e for e in effects}
        out += [
            f"### `{treatment}` (treated: any of {', '.join(f'`{c}`' for c in columns)} > 0)",
            "",
            *(line for sentence in conclusions(by_method) for line in (sentence, "")),
            f"| question | method | estimate | {level} interval | truth, same requests | "
            "rests on |",
            "|---|---|---:|---:|---:|---|",
            *_predicts_rows(result, treatment_groups(columns)),
            *(_estimate_row(e) for e in effects),
            "",
            "Estimates of effects and associations are in percentage points of P(label); "
            "predictive ones in ROC-AUC and attribution share, which say how much a group "
            "helps to rank requests, not what changing it would do.",
            "",
            *(_effect_sentence(e, study) for e in effects),
            "",
            *_benchmark_table(by_method.get("double_ml")),
        ]
    out += [f"- {note}" for note in result.causal_notes]
    return out + ([""] if result.causal_notes else [])


def conclusions(by_method: dict) -> list[str]:
    """The section's first sentences: what the randomized experiment finds, where there
    is one, and whether double ML's sign survives a hidden confounder as strong as the
    strongest observed group. A direction is claimed only when an interval supports it."""
    lines = []
    itt = by_method.get("intention_to_treat_adjusted") or by_method.get("intention_to_treat")
    if itt is not None:
        how = "adjusted for the senders' pre-period outcomes, " if "adjusted" in itt.method else ""
        interval = f"{100 * itt.value:+.2f} points [{100 * itt.low:+.2f}, {100 * itt.high:+.2f}]"
        if itt.low > 0 or itt.high < 0:
            verdict = "raised" if itt.low > 0 else "lowered"
            lines.append(f"**The randomized experiment finds that offering the treatment "
                         f"{verdict} P(label)**: intention to treat, {how}{interval}.")  # fmt: skip
        else:
            lines.append("**The randomized experiment detects no effect of the offer** "
                         f"(intention to treat, {how}{interval}, includes 0); that is not "
                         "evidence of no effect (see its detectable effect below).")  # fmt: skip
    dml = by_method.get("double_ml")
    if dml is not None:
        lines.append(_sensitivity_conclusion(dml, experiment=itt is not None))
    return lines


def _sensitivity_conclusion(dml, experiment: bool) -> str:
    """Does double ML's sign survive its strongest benchmark (`Effect.strongest`)?"""
    s = dml.strongest
    pts = f"[{100 * dml.low:+.2f}, {100 * dml.high:+.2f}] points"
    lead = "Without the experiment, double ML" if experiment else "Double ML"
    if s is None:
        return (f"{lead} estimates {100 * dml.value:+.2f} {pts}, but its sensitivity was not "
                "benchmarked against the observed groups (`study.causal.benchmark_groups`, "
                "or a refit failed: see the log): no direction is claimed from "
                "observational data.")  # fmt: skip
    like = s.group if s.group == OBSERVED_TOGETHER else f"the strongest observed group ({s.group})"
    under = f"[{100 * s.interval_low:+.2f}, {100 * s.interval_high:+.2f}] points"
    if s.sign_survives:
        verdict = "raises" if s.interval_low > 0 else "lowers"
        return (f"**{lead}'s sign survives a hidden confounder as strong as {like}**, the "
                f"strongest benchmark: under it the interval is {under}, so the treatment "
                f"{verdict} P(label) unless an unobserved cause confounds it more than "
                "that.")  # fmt: skip
    return (f"**{lead}'s sign does not survive a hidden confounder as strong as {like}**, "
            f"the strongest benchmark: under it the interval would be {under}, so these "
            "data cannot say whether the treatment raises or lowers P(label) (double ML "
            f"alone: {100 * dml.value:+.2f} {pts}).")  # fmt: skip


def _estimate_row(e) -> str:
    question = "association" if e.method == "naive_difference" else "what causes"
    question += f": {QUESTIONS[e.method]}"
    estimate = f"{100 * e.value:+.2f}" if e.finding else "none (weak instrument)"
    if e.confidence_set is not None:
        interval = e.confidence_set.describe(unit="")
    else:
        interval = f"[{100 * e.low:+.2f}, {100 * e.high:+.2f}]"
    truth = "" if e.truth is None else f"{100 * e.truth:+.2f}"
    return (
        f"| {question} | {METHODS[e.method]} | {estimate} | {interval} | {truth} | {e.assumption} |"
    )


def _strength(cf: float) -> str:
    return "" if math.isnan(cf) else f"{cf:.4f}"


def _benchmark_table(dml) -> list[str]:
    """Every benchmark group's strengths and the bounds under it, and the contour plot."""
    if dml is None or not dml.benchmarks:
        return []
    rows = [*dml.benchmarks, *([dml.per_side] if dml.per_side else [])]
    return [
        "Double ML's sensitivity, benchmarked: a hidden confounder as strong as each "
        "observed group (what leaving the group out costs the label's and the treatment's "
        "models, DoubleML's `sensitivity_benchmark`), at adversity 1, the worst case; one that "
        "moves the estimate as far again as adjusting for every observed feature moved the "
        "naive difference (the treatment's observed confounders together: unobserved "
        "selection as strong as observed); and, last, the strongest group on each side. A "
        "direction is claimed only where the strongest of these leaves an interval that "
        "excludes 0. Points of P(label):",
        "",
        "| a confounder as strong as | gain for the label (cf_y) | gain for the treatment "
        "(cf_d) | bias bound | estimate within | interval within | sign survives |",
        "|---|---:|---:|---:|---:|---:|---|",
        *(
            f"| {b.group} | {_strength(b.cf_y)} | {_strength(b.cf_d)} | {100 * b.bias:.2f} | "
            f"[{100 * b.bound_low:+.2f}, {100 * b.bound_high:+.2f}] | "
            f"[{100 * b.interval_low:+.2f}, {100 * b.interval_high:+.2f}] | "
            f"{'yes' if b.sign_survives else 'no'} |"
            for b in rows
        ),
        "",
        f"![double ML's sensitivity](sensitivity_{dml.treatment}.png)",
        "",
    ]


def _predicts_rows(result, groups: list[str]) -> list[str]:
    rows = []
    for group in groups:
        loo = result.table[result.table["variant"] == f"without_{group}"]
        if len(loo):
            r = loo.iloc[0]
            rows.append(
                f"| what predicts: ROC-AUC lost without the group | leave out `{group}` | "
                f"{r.delta_roc_auc:+.4f} | [{r.delta_roc_auc_low:+.4f}, "
                f"{r.delta_roc_auc_high:+.4f}] | | the test period is like the next |"
            )
        shap = result.shap_groups[result.shap_groups["group"] == group]
        if len(shap):
            rows.append(
                f"| what predicts: share of the model's attribution | SHAP, `{group}` | "
                f"{shap.iloc[0].share:.1%} | | | |"
            )
    return rows


def _effect_sentence(e, study) -> str:
    """One computed sentence per estimate: does its interval exclude 0, does it cover the
    truth, and what the method adds (sensitivity, the instrument's strength, the smallest
    effect the experiment detects). A weak instrument gives no point, only its set."""
    name = METHODS[e.method]
    text = f"- {name[0].upper() + name[1:]}"
    d = e.details
    if e.confidence_set is not None and not e.finding:
        text += (f": the instrument is weak (first stage {100 * d['first_stage']:+.2f} points "
                 f"[{100 * d['first_stage_low']:+.2f}, {100 * d['first_stage_high']:+.2f}], "
                 f"F = {d['first_stage_f']:.1f}; usable from F = "
                 f"{study.causal.weak_instrument_f:g} with an interval that excludes 0), so "
                 "there is no point estimate. The complier effects the data do not reject "
                 f"(Anderson-Rubin): {e.confidence_set.describe()}")  # fmt: skip
        if e.truth is not None:
            text += f"; the set {'contains' if e.covers_truth else 'misses'} the truth"
    else:
        sign = "lies above 0" if e.low > 0 else "lies below 0" if e.high < 0 else "includes 0"
        text += f": the interval {sign}"
        if e.method == "naive_difference":
            text += " (an association between treatment and label, not an effect)"
        if e.truth is not None:
            text += (f"; it {'covers' if e.covers_truth else 'misses'} the truth "
                     f"({100 * (e.value - e.truth):+.2f} points from it)")  # fmt: skip
    if "robustness_value" in d:
        text += (
            f". An unobserved confounder explaining {d['robustness_value']:.1%} of the "
            "residual variation of both label and treatment would explain the estimate away; "
            f"one of {study.causal.confounder_strength:.0%} would move it to "
            f"[{100 * d['bound_low']:+.2f}, {100 * d['bound_high']:+.2f}]"
        )
        if "to_truth_robustness_value" in d:
            text += (f"; {d['to_truth_robustness_value']:.2%} would explain its distance "
                     "from the truth")  # fmt: skip
        if e.strongest is not None and not e.strongest.sign_survives:
            text += ("; its sign does not survive a confounder as strong as the strongest "
                     "observed group (above), so it is no evidence of direction")  # fmt: skip
    if e.confidence_set is not None and e.finding:
        text += (f". First stage: the offer changed the treated share by "
                 f"{100 * d['first_stage']:+.2f} points, F = {d['first_stage_f']:.1f}; the "
                 "interval is the Anderson-Rubin set, valid whatever the instrument's "
                 "strength")  # fmt: skip
    if e.confidence_set is not None:
        if "detectable_effect" in d:
            text += (f". This experiment finds an effect on compliers of "
                     f"{100 * d['detectable_effect']:.2f} points {POWER:.0%} of the time"
                     + ("; an interval that includes 0 is what it often shows for smaller "
                        "effects, so it does not say there is none" if e.low <= 0 <= e.high
                        else ""))  # fmt: skip
        elif e.finding:
            text += (f". This experiment cannot detect any plausible effect: the smallest "
                     f"effect on compliers it would find {POWER:.0%} of the time exceeds "
                     "100 points (`tiesignal design` sizes one that can)")  # fmt: skip
        else:
            text += (". With a first stage this weak the experiment cannot detect any "
                     "plausible effect on compliers: the offer barely changed who was "
                     "treated (`tiesignal design` sizes one that can)")  # fmt: skip
    return text + "."
