"""Simulated data only: the study's answers beside the world's truth of the same kind.

Two kinds of truth (DESIGN.md): the causal one (what changes when the world changes a
cause: a group's logit terms removed, every note rewritten) and the observable one (what
a model of the observable fields could learn: latent causes averaged out, on the
probability scale). Each comparison here is on the same test requests as the study's
number, and each carries an interval, so the report states only what they support.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from tiesignal.config import StudyConfig, WorldConfig
from tiesignal.features.registry import GROUPS
from tiesignal.schema import LABEL
from tiesignal.simulate.requests import sigmoid, tie_strength_effect
from tiesignal.study import attribution
from tiesignal.study.bootstrap import RankedScores, half_width

CURVE_TOLERANCE = 1e-6  # probability a true curve must rise and fall by to have a peak
SIZES = ("n_requests", "n_members", "n_senders", "chunk_size")  # what a larger sample changes


def world_digest(world: WorldConfig) -> str:
    """The world's coefficients and seed, not its size: a larger sample has the same one."""
    coefficients = {k: v for k, v in dataclasses.asdict(world).items() if k not in SIZES}
    text = json.dumps(coefficients, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Truth:
    """What the simulator knows: per-request truth rows and the world that made them."""

    rows: pd.DataFrame  # data/raw/truth.parquet, any order
    world: WorldConfig
    summary: dict  # data/raw/truth.json
    # per group, the AUC the same study loses without it on a much larger sample of this
    # world (benchmarks/ranking_truth.py), or None where none is recorded
    learnable: dict[str, float] | None = None


@dataclass(frozen=True)
class Estimate:
    """A number with its interval (low == high == value for an exact truth)."""

    value: float
    low: float
    high: float

    @classmethod
    def exact(cls, value: float) -> Estimate:
        return cls(value, value, value)

    @classmethod
    def missing(cls) -> Estimate:
        """Nothing to estimate from (too few groups, no requests of a kind)."""
        return cls.exact(float("nan"))

    def above(self, x: float = 0.0) -> bool:
        return self.low > x

    def below(self, x: float = 0.0) -> bool:
        return self.high < x


@dataclass(frozen=True)
class CurveShape:
    """Tie strength in one set of industries: where the curve peaks, how far it rises from
    0 mutual connections to the peak and falls from the peak to the grid's end
    (probability points), and whether that is an inverted U the intervals support."""

    peak_at: float
    rise: Estimate
    fall: Estimate

    @property
    def inverted_u(self) -> bool:
        return self.rise.above() and self.fall.above()


@dataclass(frozen=True)
class TieStrength:
    curves: pd.DataFrame  # mutual_connections, learned_* and true_*: mean P(opportunity)
    learned: dict[str, CurveShape]  # by industry type: digital, non_digital, all
    true: dict[str, CurveShape]
    digital_gap: Estimate  # learned rise, digital minus other industries
    true_digital_gap: float


@dataclass(frozen=True)
class Personalization:
    """On the test requests: the observed gap between personal notes and no note, the
    causal effect of the same contrast on the same requests, and the predictive numbers."""

    observed_gap: Estimate  # opportunity rate, personal note minus no note
    causal_effect: float  # mean P(opportunity) if personalized minus if no note
    study_loo_drop: float
    shap_share: float
    truth_auc_drop: float
    base_rate: float


@dataclass(frozen=True)
class TruthRecovery:
    groups: pd.DataFrame  # per group: the truth's AUC drop, the study's, the SHAP share
    confounded: dict[str, str]  # group -> how the world makes its features depend on intent
    spearman: Estimate  # study's leave-one-out ranking against the causal ranking
    spearman_unconfounded: Estimate | None  # the same over unconfounded groups (>= 3)
    spearman_learnable: Estimate | None  # ... against the study on a much larger sample
    tie_strength: TieStrength
    personalization: Personalization
    world: WorldConfig  # the world these truths come from

    @property
    def headline(self) -> dict[str, float]:
        learned, true = self.tie_strength.learned["all"], self.tie_strength.true["all"]
        out = {
            "spearman_loo_vs_truth": self.spearman.value,
            "spearman_loo_vs_truth_low": self.spearman.low,
            "spearman_loo_vs_truth_high": self.spearman.high,
            "tie_inverted_u_found": float(learned.inverted_u),
            "tie_inverted_u_true": float(true.inverted_u),
            "tie_peak_learned": learned.peak_at,
            "tie_peak_true": true.peak_at,
            "tie_rise_learned": learned.rise.value,
            "tie_rise_true": true.rise.value,
            "personalization_observed_gap": self.personalization.observed_gap.value,
            "personalization_causal_effect": self.personalization.causal_effect,
        }
        if self.spearman_unconfounded is not None:
            out["spearman_loo_vs_truth_unconfounded"] = self.spearman_unconfounded.value
        if self.spearman_learnable is not None:
            out["spearman_loo_vs_learnable"] = self.spearman_learnable.value
        return out


def recover_truth(
    truth: Truth,
    test: pd.DataFrame,
    shown: np.ndarray,
    explained: pd.DataFrame,
    fits: list,
    importance: pd.Series,
    shap_groups: pd.DataFrame,
    study: StudyConfig,
) -> TruthRecovery:
    """`shown` indexes the test rows in `explained` (the rows attribution used); `fits` are
    the study's fits (the full model's boosters give the learned curves)."""
    rows = test[["request_id", LABEL]].merge(truth.rows, on="request_id", how="left")
    if rows["p_opportunity"].isna().any():
        raise ValueError("the truth file does not cover the test split")
    rng = np.random.default_rng(study.bootstrap_seed)
    resamples = min(study.bootstrap_resamples, 200)
    groups = _group_ranking(rows, importance, shap_groups)
    confounded = confounded_groups(truth.world)
    spearman, unconfounded, learnable = _rank_agreement(
        rows, fits, confounded, truth.learnable, rng, resamples, study
    )
    models = [f.model.booster for f in fits if f.variant.kind == "full"]
    p = groups.set_index("group").loc["personalization"]
    return TruthRecovery(
        groups=groups.sort_values("truth_auc_drop", ascending=False).reset_index(drop=True),
        confounded=confounded,
        spearman=spearman,
        spearman_unconfounded=unconfounded,
        spearman_learnable=learnable,
        tie_strength=_tie_strength(
            truth.world, rows.iloc[shown], explained, models, rng, resamples, study.confidence
        ),
        personalization=Personalization(
            observed_gap=_observed_gap(test, rng, resamples, study.confidence),
            causal_effect=float(
                (rows["p_opportunity_if_personalized"] - rows["p_opportunity_if_none"]).mean()
            ),
            study_loo_drop=float(p["study_loo_drop"]),
            shap_share=float(p["shap_share"]),
            truth_auc_drop=float(p["truth_auc_drop"]),
            base_rate=float(test[LABEL].astype(bool).mean()),
        ),
        world=truth.world,
    )


def confounded_groups(world: WorldConfig) -> dict[str, str]:
    """Groups whose features the world makes depend on the sender's latent intent, read
    from its structure (declared before any comparison): such a group can predict through
    the intent it reveals, so its predictive rank need not match its causal rank."""
    o = world.outreach
    mixes = {tuple(sorted(t.intent.items())) for t in world.sender_types.values()}
    mechanisms = {
        "personalization": (
            len(set(world.personalization_intent_shift.values())) > 1,
            "senders with an opening personalize more (`personalization_intent_shift`)",
        ),
        "tie_strength": (
            o.connections_intent_mutual_boost != 1,
            "connection-seekers reach people they share more connections with "
            "(`outreach.connections_intent_mutual_boost`)",
        ),
        "network_size": (
            o.network_seeking_exponent != 0,
            "connection-seekers favour large networks (`outreach.network_seeking_exponent`)",
        ),
        "sender_profile": (
            len(mixes) > 1,
            "sender types differ in how often they have an opening (`sender_types.*.intent`)",
        ),
        "industry_overlap": (
            any(v != 0 for v in o.fit.values()),
            "openings and pipelines search recipients by industry (`outreach.fit`)",
        ),
        "recipient_profile": (
            True,
            "openings search recipients by seniority, others by findability",
        ),
        "sender_track_record": (
            True,
            "a sender's earlier outcomes reveal how often they have an opening; they cause "
            "nothing themselves",
        ),
        "recipient_responsiveness": (
            True,
            "a recipient's earlier acceptances reveal how open they are; they cause nothing "
            "themselves",
        ),
        "timing": (
            any(t.automation_share > 0 for t in world.sender_types.values()),
            "bulk tools send at all hours and build pipelines (`sender_types.*.automation_share`)",
        ),
    }
    return {g: why for g, (on, why) in mechanisms.items() if on}


def _group_ranking(rows: pd.DataFrame, importance: pd.Series, shap_groups: pd.DataFrame):
    """Per group: the truth's AUC drop beside the study's and the SHAP share."""
    y = rows[LABEL].to_numpy(dtype=bool)
    knockouts = {g: rows[f"p_opportunity_without_{g}"].to_numpy() for g in GROUPS}
    groups = group_truth_importance(y, rows["p_opportunity"].to_numpy(), knockouts)
    # left joins: without leave-one-out variants (`study.kinds`) the study's drop is missing
    groups = groups.merge(importance.rename("study_loo_drop").reset_index(), on="group", how="left")
    return groups.merge(
        shap_groups[["group", "share"]].rename(columns={"share": "shap_share"}),
        on="group",
        how="left",
    )


def _rank_agreement(rows, fits, confounded, learnable, rng, resamples, study) -> tuple:
    """Spearman of the study's leave-one-out drops with the truth's AUC drops (all groups,
    and the unconfounded ones), and with the learnable ranking where there is one, each
    with a bootstrap interval over test requests (the rankings of these requests
    recomputed on each resample; the learnable one is fixed)."""
    y = rows[LABEL].to_numpy(dtype=bool)
    full = [RankedScores(y, f.test_scores) for f in fits if f.variant.kind == "full"]
    without = {
        g: [RankedScores(y, f.test_scores) for f in fits if f.variant.name == f"without_{g}"]
        for g in GROUPS
    }
    without = {g: runs for g, runs in without.items() if runs}
    oracle = RankedScores(y, rows["p_opportunity"].to_numpy())
    knocked = {g: RankedScores(y, rows[f"p_opportunity_without_{g}"].to_numpy()) for g in without}

    def drops(weights) -> tuple[np.ndarray, np.ndarray]:
        base = np.mean([r.metrics(weights)[0] for r in full])
        study_drop = [base - np.mean([r.metrics(weights)[0] for r in without[g]]) for g in without]
        true_auc = oracle.metrics(weights)[0]
        truth_drop = [true_auc - knocked[g].metrics(weights)[0] for g in without]
        return np.array(study_drop), np.array(truth_drop)

    names = list(without)
    keep = np.array([g not in confounded for g in names])
    point = drops(np.ones(len(y)))
    draws = [drops(np.bincount(rng.integers(0, len(y), len(y)), minlength=len(y)).astype(float))
             for _ in range(resamples)]  # fmt: skip

    def spearman(mask: np.ndarray, against=None) -> Estimate | None:
        """`against`: a fixed ranking to compare with, instead of each resample's truth."""
        if mask.sum() < 3:
            return None
        values = [_spearman(s[mask], (t if against is None else against)[mask])
                  for s, t in draws]  # fmt: skip
        low, high = np.nanpercentile(
            values, [50 * (1 - study.confidence), 50 * (1 + study.confidence)]
        )
        fixed = point[1] if against is None else against
        return Estimate(_spearman(point[0][mask], fixed[mask]), float(low), float(high))

    if len(names) < 3:
        return Estimate.missing(), None, None
    everything = np.ones(len(names), dtype=bool)
    reference = None
    if learnable is not None and set(names) <= set(learnable):
        reference = spearman(everything, np.array([learnable[g] for g in names]))
    return spearman(everything), spearman(keep), reference


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")  # a constant ranking has no correlation
    return float(spearmanr(a, b).statistic)


def _tie_strength(world, shown, explained, models, rng, resamples, confidence) -> TieStrength:
    """Learned against true partial dependence on mutual connections, both as mean
    P(opportunity) over the same test requests (the observable truth), by industry type;
    the learned shape with bootstrap intervals over those requests."""
    mutuals = explained["mutual_connections"].to_numpy()
    upper = float(np.nanquantile(mutuals, 0.99)) if np.isfinite(mutuals).any() else 0.0
    grid = (
        np.unique(np.round(np.geomspace(1, max(upper, 2), 45)))
        if upper > 60
        else np.arange(0, max(upper, 2) + 1)
    )
    grid = np.unique(np.r_[0.0, grid])
    digital = shown["digital_intensity"].to_numpy()
    ice = np.array(
        [attribution.ice_matrix(m, explained, "mutual_connections", grid, False) for m in models]
    )  # seeds x grid x rows
    curves, learned, true, boot_rise, seed_rise = {"mutual_connections": grid}, {}, {}, {}, {}
    for name, mask in (("digital", digital >= 0.5), ("non_digital", digital < 0.5),
                       ("all", np.ones(len(digital), dtype=bool))):  # fmt: skip
        rows = ice[:, :, mask]
        ok = ~np.isnan(mutuals[mask])
        true_curve = tie_strength_truth(
            world, grid, mutuals[mask][ok], shown["p_accept"].to_numpy()[mask][ok],
            shown["p_opportunity_given_accept"].to_numpy()[mask][ok], digital[mask][ok],
        )  # fmt: skip
        curves[f"learned_{name}"], curves[f"true_{name}"] = rows.mean(axis=(0, 2)), true_curve
        true[name] = _exact_shape(grid, true_curve)
        learned[name], boot_rise[name], seed_rise[name] = _learned_shape(
            grid, rows, rng, resamples, confidence
        )
    gap = learned["digital"].rise.value - learned["non_digital"].rise.value
    boot_gap = boot_rise["digital"] - boot_rise["non_digital"]
    half = float(half_width(boot_gap, seed_rise["digital"] - seed_rise["non_digital"], confidence))
    return TieStrength(
        curves=pd.DataFrame(curves).round(8),
        learned=learned,
        true=true,
        digital_gap=Estimate(gap, gap - half, gap + half),  # test sampling and refitting
        true_digital_gap=true["digital"].rise.value - true["non_digital"].rise.value,
    )


def _learned_shape(grid, ice: np.ndarray, rng, resamples, confidence):
    """The shape of the mean curve of `ice` (seeds x grid x rows): its rise and fall with
    intervals that cover both the requests averaged over (a bootstrap over rows) and
    refitting (the spread over seeds, Student's t), added in variance as for the deltas.
    Also the bootstrap and per-seed rises, for differences between industry types."""
    n = ice.shape[2]
    if n == 0:
        return (
            CurveShape(float("nan"), Estimate.missing(), Estimate.missing()),
            np.full(resamples, np.nan),
            np.full(ice.shape[0], np.nan),
        )
    per_seed = ice.mean(axis=2)  # seeds x grid
    curve = per_seed.mean(axis=0)
    i = int(np.argmax(curve))
    mean_rows = ice.mean(axis=0)  # grid x rows
    boot = np.array([mean_rows[:, rng.integers(0, n, n)].mean(axis=1) for _ in range(resamples)])

    def estimate(value: float, draws: np.ndarray, by_seed: np.ndarray) -> Estimate:
        half = float(half_width(draws, by_seed, confidence))
        return Estimate(float(value), float(value - half), float(value + half))

    rise_draws = boot[:, i] - boot[:, 0]
    shape = CurveShape(
        float(grid[i]),
        estimate(curve[i] - curve[0], rise_draws, per_seed[:, i] - per_seed[:, 0]),
        estimate(curve[i] - curve[-1], boot[:, i] - boot[:, -1], per_seed[:, i] - per_seed[:, -1]),
    )
    return shape, rise_draws, per_seed[:, i] - per_seed[:, 0]


def _exact_shape(grid: np.ndarray, curve: np.ndarray) -> CurveShape:
    """The true curve's shape: exact, so an inverted U needs only a real interior peak."""
    i = int(np.argmax(curve))
    rise, fall = curve[i] - curve[0], curve[i] - curve[-1]
    return CurveShape(
        float(grid[i]),
        Estimate.exact(float(rise) if rise > CURVE_TOLERANCE else 0.0),
        Estimate.exact(float(fall) if fall > CURVE_TOLERANCE else 0.0),
    )


def _observed_gap(test: pd.DataFrame, rng, resamples: int, confidence: float) -> Estimate:
    """Opportunity rate of test requests with a personal note (name, company or skills
    mentioned) minus those with no note, with a bootstrap interval over requests."""
    personal = (
        (test["note_mentions_name"] > 0)
        | (test["note_mentions_company"] > 0)
        | (test["note_skill_mentions"] > 0)
    ).to_numpy()
    none = (test["has_note"] == 0).to_numpy()
    label = test[LABEL].to_numpy(dtype=bool)
    if not personal.any() or not none.any():
        return Estimate.missing()
    n = len(label)
    draws = []
    for _ in range(resamples):
        w = np.bincount(rng.integers(0, n, n), minlength=n)
        draws.append((w * label * personal).sum() / max((w * personal).sum(), 1)
                     - (w * label * none).sum() / max((w * none).sum(), 1))  # fmt: skip
    tail = 50 * (1 - confidence)
    low, high = np.percentile(draws, [tail, 100 - tail])
    value = label[personal].mean() - label[none].mean()
    return Estimate(float(value), float(low), float(high))


def group_truth_importance(
    y: np.ndarray, p_true: np.ndarray, knockouts: dict[str, np.ndarray]
) -> pd.DataFrame:
    """How much the oracle's test ROC-AUC drops when the world loses each group's effects
    (the simulator's probabilities with that group's logit terms removed)."""
    full = roc_auc_score(y, p_true)
    rows = [
        {
            "group": g,
            "oracle_auc_without": roc_auc_score(y, p),
            "truth_auc_drop": full - roc_auc_score(y, p),
        }
        for g, p in knockouts.items()
    ]
    return pd.DataFrame(rows).round(6)


def tie_strength_truth(
    cfg: WorldConfig,
    grid: np.ndarray,
    mutuals: np.ndarray,
    p_accept: np.ndarray,
    p_opportunity_given_accept: np.ndarray,
    digital: np.ndarray,
) -> np.ndarray:
    """The observable truth of P(opportunity) against mutual connections over these
    requests: each request's true probability with its mutual connections set to each
    grid value (every other cause, latent ones included, as it is), averaged over the
    requests. A model of the observable fields can learn this curve; it cannot learn the
    curve with the latent causes held fixed."""
    a = cfg.acceptance.mutual_log1p
    acc_rest = _logit(p_accept) - a * np.log1p(mutuals)
    opp_rest = _logit(p_opportunity_given_accept) - tie_strength_effect(cfg, mutuals, digital)
    curve = []
    for m in grid:
        p = sigmoid(acc_rest + a * np.log1p(m)) * sigmoid(
            opp_rest + tie_strength_effect(cfg, np.full(len(mutuals), m), digital)
        )
        curve.append(p.mean() if len(p) else np.nan)
    return np.array(curve)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))
