"""What causes, beside what predicts: effects of a binary treatment on the label.

A predictive model says how much a feature helps to rank requests; it cannot say whether
changing it changes the outcome (senders with an opening personalize more). Each route
rests on its own assumption, stated beside its number:
- the naive difference in label rates between treated and untreated requests (an
  association: it assumes nothing);
- double machine learning (DoubleML's interactive regression model, LightGBM nuisance
  models, cross-fitted), adjusted for the features outside the treatment's own groups,
  with its sensitivity to a confounder it did not see, benchmarked against each observed
  feature group (a hidden confounder as strong as that group);
- where the data hold a randomized `assignment`: the intention-to-treat effect of being
  offered, and the effect on compliers with the assignment as instrument, each also
  adjusted for the senders' pre-period outcomes (CUPED). The instrument's interval is the
  Anderson-Rubin confidence set, valid however weak the instrument; below a usable first
  stage there is no point estimate, only that set.
Intervals resample senders, not requests: a sender's requests share their intent, and the
experiment randomizes senders.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from tiesignal.config import CausalConfig
from tiesignal.features.registry import FEATURES

log = logging.getLogger(__name__)

WORLD_TREATMENT = "personalized_note"  # the one the simulated truth knows the effects of
ASSUMPTIONS = {
    "naive_difference": "nothing: an association, causal only if treated and untreated "
    "requests were alike but for the treatment",
    "double_ml": "no unobserved confounder: given the adjusted features, the treatment is as "
    "good as random",
    "intention_to_treat": "the assignment was random (by sender)",
    "intention_to_treat_adjusted": "the assignment was random (by sender); the covariates "
    "are from before the experiment",
    "instrumental_variables": "a valid instrument: the offer was random and changes the "
    "label only through the treatment; no one is put off treatment by it",
    "instrumental_variables_adjusted": "as instrumental variables; the covariates are from "
    "before the experiment",
}
QUESTIONS = {  # what each estimate answers, for the report
    "naive_difference": "how much more often treated requests succeed",
    "double_ml": "average effect of the treatment on all requests",
    "intention_to_treat": "average effect of offering it, on the experiment's requests",
    "intention_to_treat_adjusted": "the same, adjusted for the senders' pre-period outcomes",
    "instrumental_variables": "effect of the treatment on the requests the offer changed",
    "instrumental_variables_adjusted": "the same, adjusted for the senders' pre-period outcomes",
}
POWER = 0.8  # of the experiment's detectable effect
METHODS = {  # how the report names each method
    "naive_difference": "naive difference",
    "double_ml": "double ML (interactive model)",
    "intention_to_treat": "intention to treat",
    "intention_to_treat_adjusted": "intention to treat, adjusted (CUPED)",
    "instrumental_variables": "instrumental variables (Anderson-Rubin)",
    "instrumental_variables_adjusted": "instrumental variables, adjusted (CUPED)",
}
LARGEST_EFFECT = 1.0  # a change in P(label) cannot exceed 100 points
# a hidden confounder that moves double ML as far as adjusting for every observed feature
# moved the naive difference (unobserved selection as strong as observed: Altonji, Elder
# and Taber; Oster's delta = 1): the benchmark of the treatment's own confounders together
OBSERVED_TOGETHER = "the observed confounders together"
COMPARED_DETAILS = {  # the details a researcher compares across runs: metrics, not only text
    "first_stage", "first_stage_f", "detectable_effect", "robustness_value", "bound_low",
    "bound_high", "to_truth_robustness_value",
}  # fmt: skip


@dataclass(frozen=True)
class ConfidenceSet:
    """The values a test does not reject: one interval, two rays (a union that excludes
    only the values between them) or the whole line. Ends may be infinite."""

    intervals: tuple[tuple[float, float], ...]

    @property
    def bounded(self) -> bool:
        return len(self.intervals) == 1 and all(map(math.isfinite, self.intervals[0]))

    @property
    def hull(self) -> tuple[float, float]:
        return self.intervals[0][0], self.intervals[-1][1]

    def contains(self, value: float) -> bool:
        return any(low <= value <= high for low, high in self.intervals)

    def describe(self, scale: float = 100.0, unit: str = " points") -> str:
        """The set in words, for the report."""
        (low, high), *rest = self.intervals
        if self.bounded:
            return f"[{scale * low:+.2f}, {scale * high:+.2f}]{unit}"
        if not rest and math.isinf(low) and math.isinf(high):
            return "every value: the data rule out no effect at all (unbounded)"
        if rest:
            return (f"every value below {scale * high:+.2f}{unit} or above "
                    f"{scale * rest[0][0]:+.2f}{unit} (two unbounded rays: the data rule "
                    "out only the effects between them)")  # fmt: skip
        if math.isinf(low):
            return f"every value below {scale * high:+.2f}{unit} (unbounded)"
        return f"every value above {scale * low:+.2f}{unit} (unbounded)"


@dataclass(frozen=True)
class Benchmark:
    """A hidden confounder as strong as an observed feature group (Chernozhukov et al.,
    "Long Story Short"): the gains in explained variation of the label (`cf_y`) and of the
    treatment's Riesz representer (`cf_d`) that the group brings, and the bounds on the
    estimate (`bound_*`) and on its interval (`interval_*`) under such a confounder
    (adversity 1)."""

    group: str
    cf_y: float
    cf_d: float
    rho: float  # the group's own adversity (DoubleML's benchmark), for the table
    delta: float  # how much the estimate moves when the group is left out
    bias: float
    bound_low: float
    bound_high: float
    interval_low: float
    interval_high: float

    @property
    def sign_survives(self) -> bool:
        return self.interval_low > 0 or self.interval_high < 0


@dataclass(frozen=True)
class Effect:
    """One estimate of a treatment's effect on the label, with its interval."""

    treatment: str
    method: str  # a key of ASSUMPTIONS
    value: float  # a difference in P(label), in probability points / 100
    low: float  # the interval's hull: infinite where the set is unbounded
    high: float
    rows: int
    truth: float | None = None  # the world's effect of the same estimand, same requests
    details: dict[str, float] = field(default_factory=dict)  # first stage, sensitivity
    finding: bool = True  # False: the point is not an estimate (a weak instrument)
    confidence_set: ConfidenceSet | None = None  # Anderson-Rubin, for the instrument
    benchmarks: tuple[Benchmark, ...] = ()  # double ML's benchmarked sensitivity

    @property
    def assumption(self) -> str:
        return ASSUMPTIONS[self.method]

    @property
    def covers_truth(self) -> bool | None:
        if self.truth is None:
            return None
        if self.confidence_set is not None:
            return self.confidence_set.contains(self.truth)
        return bool(self.low <= self.truth <= self.high)

    @property
    def per_side(self) -> Benchmark | None:
        """A confounder as strong as the strongest observed group on each side: the largest
        gain for the label and the largest for the treatment, wherever they come from (one
        group's gains are noisy, and groups stand in for each other when one is left out)."""
        groups = [b for b in self.benchmarks if b.group != OBSERVED_TOGETHER]
        if not groups:
            return None
        by_y = max(groups, key=lambda b: b.cf_y)
        by_d = max(groups, key=lambda b: b.cf_d)
        name = by_y.group if by_y is by_d else f"{by_y.group} (label), {by_d.group} (treatment)"
        return bounded(name, by_y.cf_y, by_d.cf_d, 1.0, float("nan"), self, self.details["scale"])

    @property
    def strongest(self) -> Benchmark | None:
        """The larger of `per_side` and the observed confounders together."""
        per_side = self.per_side
        together = [b for b in self.benchmarks if b.group == OBSERVED_TOGETHER]
        candidates = [*together, *([per_side] if per_side else [])]
        return max(candidates, key=lambda b: b.bias, default=None)

    def metrics(self) -> dict[str, float]:
        """Flat metrics named by treatment and estimand, for metrics/ and MLflow: only
        finite numbers, and no point where it is not an estimate."""
        key = f"causal_{self.treatment}_{self.method}"
        out = {f"{key}_low": self.low, f"{key}_high": self.high}
        if self.finding:
            out[key] = self.value
        if self.truth is not None:
            out[f"{key}_truth"] = self.truth
        out.update({f"{key}_{name}": value for name, value in self.details.items()
                    if name in COMPARED_DETAILS})  # fmt: skip
        s = self.strongest
        if s is not None:  # every benchmark: causal_benchmarks.csv
            out |= {f"{key}_benchmarked_low": s.interval_low,
                    f"{key}_benchmarked_high": s.interval_high}  # fmt: skip
        return {k: float(v) for k, v in out.items() if math.isfinite(v)}


def treatment_groups(columns: list[str]) -> list[str]:
    """The registry groups of a treatment's columns: they describe the treatment itself
    (a note's length is part of the note), so nothing in them is adjusted for."""
    return sorted({f.group for f in FEATURES if f.name in columns})


def adjusted_features(columns: list[str]) -> list[str]:
    groups = treatment_groups(columns)
    return [f.name for f in FEATURES if f.group not in groups]


@dataclass(frozen=True)
class Resampling:
    """One set of sender resamples for every mean, so differences of means are paired."""

    senders: np.ndarray  # each request's sender, as 0..n-1
    weights: np.ndarray  # (resamples, senders) Poisson bootstrap weights
    confidence: float

    @property
    def z(self) -> float:
        return float(norm.ppf(0.5 + self.confidence / 2))

    def means(self, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The mean of `values` over `rows`, once per resample of senders."""
        n = self.weights.shape[1]
        sums = np.bincount(self.senders[rows], values[rows], n)
        counts = np.bincount(self.senders[rows], minlength=n).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.weights @ sums) / (self.weights @ counts)

    def interval(self, value: float, draws: np.ndarray) -> tuple[float, float]:
        """value +- z standard errors of the draws: never excludes its own estimate."""
        se = float(np.std(draws[np.isfinite(draws)], ddof=1))
        return value - self.z * se, value + self.z * se


def estimate_effects(
    frame: pd.DataFrame,
    encoded: pd.DataFrame,
    label: str,
    cfg: CausalConfig,
    arms: Mapping[str, str],
    confidence: float,
    truth: pd.DataFrame | None,
    progress: Callable[[str], None],
) -> tuple[list[Effect], list[str]]:
    """`frame`: one row per labelled request with `request_id`, `sender_id`, `sent_at`,
    `assignment` (or none), the treatment columns and `label`; `encoded`: its model matrix
    (registry order); `truth`: the simulator's truth of these requests in the same order,
    or None. Returns the estimates and notes on what was skipped."""
    y = frame[label].to_numpy(dtype=float)
    senders = pd.factorize(frame["sender_id"])[0]
    n_senders = senders.max() + 1
    rng = np.random.default_rng(cfg.seed)
    boot = Resampling(senders, rng.poisson(1.0, (cfg.resamples, n_senders)).astype(float),
                      confidence)  # fmt: skip
    estimates, notes = [], []
    for name, columns in cfg.treatments.items():
        missing = [c for c in columns if c not in frame]
        if missing or frame[columns].isna().all().all():
            notes.append(f"`{name}`: no values of {', '.join(columns)} in these data; skipped")
            continue
        d = (frame[columns].astype("Float64").fillna(0) > 0).any(axis=1).to_numpy(dtype=float)
        if d.min() == d.max():
            notes.append(f"`{name}`: every request has the same treatment; skipped")
            continue
        own_truth = truth if name == WORLD_TREATMENT else None  # the world's treatment only
        ate = None if own_truth is None else _true_ate(own_truth)
        progress(f"causal: {name}: naive difference and double machine learning")
        estimates.append(_naive(name, y, d, boot, ate))
        if n_senders < cfg.folds:  # cross-fitting splits senders into folds
            notes.append(f"`{name}`: {n_senders} sender(s), fewer than the "
                         f"{cfg.folds} folds of double machine learning "
                         "(study.causal.folds): no double-ML estimate")  # fmt: skip
        else:
            try:
                dml = _double_ml(name, y, d, encoded, columns, senders, cfg, confidence, ate,
                                 progress)  # fmt: skip
            except (ValueError, np.linalg.LinAlgError) as err:  # too few rows for its folds
                log.warning("causal: %s: double ML could not be fitted (%s)", name, err)
                notes.append(f"`{name}`: double machine learning could not be fitted on "
                             f"{len(y)} labelled requests in {cfg.folds} folds (a fold with one "
                             "outcome or one treatment only): no double-ML estimate")  # fmt: skip
            else:
                estimates.append(
                    with_observed_together(dml, estimates[-1]) if dml.benchmarks else dml
                )
        if "assignment" not in frame or frame["assignment"].isna().all():
            notes.append(f"`{name}`: no `assignment` in these data: no intention-to-treat "
                         "or instrumental-variables estimate")  # fmt: skip
            continue
        present = set(frame["assignment"].dropna())
        if not {arms["offered"], arms["control"]} <= present:
            notes.append(f"`{name}`: the labelled requests hold only the "
                         f"{', '.join(f'`{a}`' for a in sorted(present))} arm of `assignment`: "
                         "no intention-to-treat or instrumental-variables estimate")  # fmt: skip
            continue
        progress(f"causal: {name}: intention to treat and instrumental variables")
        arm = Arms.of(frame["assignment"], arms)
        truths = _experiment_truths(own_truth, arm.inside)
        found = experiment_effects(name, y, d, arm, boot, cfg, truths, "")
        sent_at = pd.to_datetime(frame["sent_at"]).to_numpy()
        pre = sent_at < sent_at[arm.inside].min()  # labelled requests before the experiment
        covariates = pre_period_covariates(senders, pre, y, d, cfg.pre_period_prior)
        if covariates is None:
            notes.append(f"`{name}`: no labelled requests before the experiment: no "
                         "covariate-adjusted (CUPED) estimates")  # fmt: skip
        else:
            y_adj, d_adj = (cuped(v, covariates, arm.inside) for v in (y, d))
            found += experiment_effects(name, y_adj, d_adj, arm, boot, cfg, truths, "_adjusted")
        estimates += found
        if not any(e.method.startswith("instrumental") for e in found):
            notes.append(f"`{name}`: the offer did not change how many requests were treated: "
                         "no instrumental-variables estimate")  # fmt: skip
    return estimates, notes


def _naive(name, y, d, boot: Resampling, truth) -> Effect:
    value = float(y[d == 1].mean() - y[d == 0].mean())
    draws = boot.means(y, d == 1) - boot.means(y, d == 0)
    return Effect(name, "naive_difference", value, *boot.interval(value, draws), len(y), truth)


def _double_ml(name, y, d, encoded, columns, senders, cfg: CausalConfig, confidence, truth,
               progress):  # fmt: skip
    """DoubleML's interactive regression model (binary treatment, ATE), LightGBM nuisance
    models, `cfg.folds`-fold cross-fitting, standard errors clustered by sender; its
    sensitivity benchmarked against each adjusted feature group."""
    import doubleml
    from lightgbm import LGBMClassifier

    features = adjusted_features(columns)
    x = encoded[features]
    names = {f: f"x{i}" for i, f in enumerate(features)}
    data = pd.DataFrame(x.to_numpy(dtype=float), columns=list(names.values()))
    data["y"], data["d"], data["sender"] = y, d, senders
    nuisance = {
        "n_estimators": cfg.nuisance_trees,
        "learning_rate": 0.1,
        "num_leaves": 15,
        "min_child_samples": 100,
        "subsample_freq": 0,
        "random_state": cfg.seed,
        "n_jobs": 2,
        "verbose": -1,
        "deterministic": True,
        "force_row_wise": True,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DoubleML warns that a classifier predicts y
        dml_data = doubleml.DoubleMLData(
            data, "y", "d", list(names.values()), cluster_cols="sender",
            force_all_x_finite="allow-nan",
        )  # fmt: skip
        model = _seeded(
            cfg.seed,
            lambda: doubleml.DoubleMLIRM(
                dml_data,
                LGBMClassifier(**nuisance),
                LGBMClassifier(**nuisance),
                n_folds=cfg.folds,
                trimming_threshold=0.01,
            ).fit(),
        )  # fmt: skip  (the folds are drawn when the model is made)
        value = float(model.coef[0])
        low, high = (float(v) for v in model.confint(level=confidence).iloc[0])
        details = _sensitivity(model, cfg, null=0.0, prefix="")
        if truth is not None:  # how strong a confounder would explain the bias away
            details |= _sensitivity(model, cfg, null=truth, prefix="to_truth_")
        details["scale"] = _scale(model)
        effect = Effect(name, "double_ml", value, low, high, len(y), truth, details)
        if not cfg.benchmark_groups:
            return effect
        groups: dict[str, list[str]] = {}
        for f in FEATURES:
            if f.name in names:
                groups.setdefault(f.group, []).append(names[f.name])
        progress(f"causal: {name}: sensitivity benchmarked against {len(groups)} groups")
        try:
            benchmarks = tuple(_benchmark(model, g, cols, effect) for g, cols in groups.items())
        except (ValueError, np.linalg.LinAlgError) as err:  # a refit on too few rows
            log.warning("causal: %s: the sensitivity benchmarks could not be fitted (%s); "
                        "no direction is claimed from double ML", name, err)  # fmt: skip
            return effect
    return dataclasses.replace(effect, benchmarks=benchmarks)


def _seeded(seed: int, call: Callable):
    """DoubleML draws its folds from NumPy's global state: seed it, then restore it."""
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(seed)  # noqa: NPY002
    try:
        return call()
    finally:
        np.random.set_state(state)  # noqa: NPY002


def _scale(model) -> float:
    e = model.sensitivity_elements
    return math.sqrt(float(np.mean(e["sigma2"])) * float(np.mean(e["nu2"])))


def _sensitivity(model, cfg: CausalConfig, null: float, prefix: str) -> dict:
    """Omitted-variable bounds of DoubleML's sensitivity analysis (Chernozhukov et al.,
    "Long Story Short"), in closed form from its sensitivity elements: a confounder that
    explains a share `c` of the residual variation of both outcome and treatment moves the
    estimate by at most sqrt(c * c / (1 - c) * sigma2 * nu2). The robustness value is the
    `c` that moves it to `null`; the bounds are the estimate's at `cfg.confounder_strength`.
    (DoubleML's own search for it re-estimates clustered variances some 50 times: 25 s at
    200,000 requests; the closed form agrees with it to 1e-6.)"""
    scale = _scale(model)
    theta = float(model.coef[0])
    a2 = ((theta - null) / scale) ** 2 if scale > 0 else math.inf
    rv = 1.0 if math.isinf(a2) else (-a2 + math.sqrt(a2 * a2 + 4 * a2)) / 2
    out = {f"{prefix}robustness_value": min(rv, 1.0)}
    if not prefix:
        c = cfg.confounder_strength
        bias = math.sqrt(c * c / (1 - c)) * scale
        out |= {"bound_low": theta - bias, "bound_high": theta + bias}
    return out


def _benchmark(model, group: str, columns: list[str], estimate: Effect) -> Benchmark:
    """DoubleML's `sensitivity_benchmark`: the model refitted without the group gives the
    strength a confounder like it would have."""
    found = _seeded(0, lambda: model.sensitivity_benchmark(benchmarking_set=columns))
    cf_y, cf_d, rho, delta = (float(found[k].iloc[0]) for k in ("cf_y", "cf_d", "rho",
                                                               "delta_theta"))  # fmt: skip
    return bounded(group, cf_y, cf_d, rho, delta, estimate, _scale(model))


def with_observed_together(dml: Effect, naive: Effect) -> Effect:
    """Double ML with one more benchmark: a confounder that would move it as far again as
    the adjustment for every observed feature moved the naive difference."""
    shift = abs(naive.value - dml.value)
    together = Benchmark(OBSERVED_TOGETHER, float("nan"), float("nan"), float("nan"),
                         naive.value - dml.value, shift, dml.value - shift, dml.value + shift,
                         dml.low - shift, dml.high + shift)  # fmt: skip
    return dataclasses.replace(dml, benchmarks=(*dml.benchmarks, together))


def bias_bound(cf_y, cf_d, scale: float):
    """The most a confounder of strengths `cf_y`, `cf_d` moves double ML at adversity 1
    (the worst case, as the robustness value); scalars or arrays alike."""
    return np.sqrt(cf_y * cf_d / (1 - cf_d)) * scale


def bounded(group, cf_y, cf_d, rho, delta, estimate: Effect, scale: float) -> Benchmark:
    """The bounds on `estimate` and its interval under a confounder of strengths `cf_y`,
    `cf_d` (`bias_bound`)."""
    cf_d = min(cf_d, 0.999)
    bias = float(bias_bound(cf_y, cf_d, scale))
    return Benchmark(group, cf_y, cf_d, rho, delta, bias, estimate.value - bias,
                     estimate.value + bias, estimate.low - bias, estimate.high + bias)  # fmt: skip


@dataclass(frozen=True)
class Arms:
    inside: np.ndarray  # the request was part of the experiment
    offered: np.ndarray
    control: np.ndarray

    @classmethod
    def of(cls, assignment: pd.Series, arms: Mapping[str, str]) -> Arms:
        inside = assignment.notna().to_numpy()
        return cls(inside, (assignment == arms["offered"]).to_numpy() & inside,
                   (assignment == arms["control"]).to_numpy() & inside)  # fmt: skip


def _experiment_truths(truth: pd.DataFrame | None, inside: np.ndarray):
    """The world's intention-to-treat and complier effects on these requests, or Nones."""
    if truth is None or "p_opportunity_if_assistant" not in truth:
        return None, None
    effect = (truth["p_opportunity_if_assistant"] - truth["p_opportunity_if_control"]).to_numpy()
    complier = truth["complier"].fillna(False).to_numpy(dtype=bool) & inside
    return float(effect[inside].mean()), float(effect[complier].mean()) if complier.any() else None


def experiment_effects(name, y, d, arm: Arms, boot: Resampling, cfg: CausalConfig, truths,
                       suffix: str) -> list[Effect]:  # fmt: skip
    """Intention to treat, and the effect on compliers: the Wald ratio where the first stage
    is usable, and always the Anderson-Rubin set (the complier effects b for which the
    reduced form minus b times the first stage is not rejected)."""
    itt = float(y[arm.offered].mean() - y[arm.control].mean())
    first = float(d[arm.offered].mean() - d[arm.control].mean())
    itt_draws = boot.means(y, arm.offered) - boot.means(y, arm.control)
    first_draws = boot.means(d, arm.offered) - boot.means(d, arm.control)
    ok = np.isfinite(itt_draws) & np.isfinite(first_draws)
    v_yy, v_yd, v_dd = (float(v) for v in np.cov(itt_draws[ok], first_draws[ok]).ravel()[[0, 1, 3]])
    first_low, first_high = first - boot.z * math.sqrt(v_dd), first + boot.z * math.sqrt(v_dd)
    strength = {"first_stage": first, "first_stage_low": first_low,
                "first_stage_high": first_high,
                "first_stage_f": first**2 / v_dd if v_dd > 0 else 0.0}  # fmt: skip
    rows = int(arm.inside.sum())
    true_itt, true_late = truths
    out = [Effect(name, f"intention_to_treat{suffix}", itt, *boot.interval(itt, itt_draws), rows,
                  true_itt, dict(strength))]  # fmt: skip
    if not first:  # the offer changed no one's treatment: there is no instrument
        return out
    usable = strength["first_stage_f"] >= cfg.weak_instrument_f and not (
        first_low <= 0 <= first_high
    )
    found = anderson_rubin(itt, first, v_yy, v_yd, v_dd, boot.z)
    detectable = minimum_detectable(math.sqrt(v_yy), boot.z) / abs(first)
    details = strength | {"weak_instrument": float(not usable)}
    if usable and detectable <= LARGEST_EFFECT:  # sized by a first stage that is no noise
        details["detectable_effect"] = detectable
    out.append(Effect(name, f"instrumental_variables{suffix}", itt / first, *found.hull, rows,
                      true_late, details, finding=usable, confidence_set=found))  # fmt: skip
    return out


def minimum_detectable(se: float, z: float, power: float = POWER) -> float:
    """The smallest effect a two-sided z-test at critical value `z` finds with chance
    `power` when its estimate has standard error `se`. Over the first stage, the effect on
    compliers the experiment finds four times in five: below it, an interval that includes
    0 is no evidence of no effect."""
    return (z + float(norm.ppf(power))) * se


def anderson_rubin(itt: float, first: float, v_yy: float, v_yd: float, v_dd: float,
                   z: float) -> ConfidenceSet:  # fmt: skip
    """{b : (itt - b first)^2 <= z^2 Var(itt - b first)}: a quadratic inequality in b. Its
    leading coefficient is positive (a bounded interval) exactly when the first stage's own
    z-test rejects 0; otherwise the set is two rays or the whole line. The Wald ratio
    itt / first always lies inside (its statistic is 0)."""
    a = first * first - z * z * v_dd
    h = itt * first - z * z * v_yd
    c = itt * itt - z * z * v_yy
    disc = h * h - a * c
    inf = math.inf
    if abs(a) < 1e-15:  # a linear inequality: -2 h b + c <= 0
        if h == 0:
            return ConfidenceSet(((-inf, inf),))
        edge = c / (2 * h)
        return ConfidenceSet(((edge, inf),) if h > 0 else ((-inf, edge),))
    if disc < 0:  # a < 0 here (a > 0 with no root would leave out the Wald ratio)
        return ConfidenceSet(((-inf, inf),))
    r1, r2 = sorted(((h - math.sqrt(disc)) / a, (h + math.sqrt(disc)) / a))
    if a > 0:
        return ConfidenceSet(((r1, r2),))
    return ConfidenceSet(((-inf, r1), (r2, inf)))


def pre_period_covariates(senders, pre, y, d, prior: float) -> np.ndarray | None:
    """Per request, its sender's label rate and treatment rate over the `pre` requests
    (before the experiment), both shrunk toward the pre-period's by `prior` requests, and
    log(1 + its pre-period requests); None without pre-period requests."""
    if not pre.any():
        return None
    n = senders.max() + 1
    count = np.bincount(senders[pre], minlength=n).astype(float)
    rates = [(np.bincount(senders[pre], v[pre], n) + prior * v[pre].mean()) / (count + prior)
             for v in (y, d)]  # fmt: skip
    return np.column_stack([*rates, np.log1p(count)])[senders]


def cuped(values: np.ndarray, covariates: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """`values` less their linear prediction from pre-period covariates, fitted over the
    experiment's requests of both arms (CUPED): the same expected difference between arms,
    less variance."""
    x = covariates[inside] - covariates[inside].mean(axis=0)
    theta = np.linalg.lstsq(x, values[inside] - values[inside].mean(), rcond=None)[0]
    return values - (covariates - covariates[inside].mean(axis=0)) @ theta


def _true_ate(truth: pd.DataFrame) -> float:
    """The world's average effect of a personal note on these requests: each one
    re-simulated with the most personal note its intent allows, minus with no note."""
    return float((truth["p_opportunity_if_personalized"] - truth["p_opportunity_if_none"]).mean())
