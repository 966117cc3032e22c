"""What causes, beside what predicts: effects of a binary treatment on the label.

A predictive model says how much a feature helps to rank requests; it cannot say whether
changing it changes the outcome (senders with an opening personalize more). Three routes,
each resting on its own assumption, stated beside its number:
- the naive difference in label rates between treated and untreated requests;
- double machine learning (DoubleML's interactive regression model, LightGBM nuisance
  models, cross-fitted), adjusted for the features outside the treatment's own groups,
  with its sensitivity to a confounder it did not see;
- where the data hold a randomized `assignment`: the intention-to-treat effect of being
  offered, and the instrumental-variables (Wald) estimate with the assignment as
  instrument for the treatment: the effect on compliers.
Intervals resample senders, not requests: a sender's requests share their intent, and the
experiment randomizes senders.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tiesignal.config import CausalConfig
from tiesignal.features.registry import FEATURES

log = logging.getLogger(__name__)

WORLD_TREATMENT = "personalized_note"  # the one the simulated truth knows the effects of
ASSUMPTIONS = {
    "naive_difference": "no confounding at all: treated and untreated requests alike but "
    "for the treatment",
    "double_ml": "no unobserved confounder: given the adjusted features, the treatment is as "
    "good as random",
    "intention_to_treat": "the assignment was random (by sender)",
    "instrumental_variables": "a valid instrument: the offer was random and changes the "
    "label only through the treatment; no one is put off treatment by it",
}
QUESTIONS = {  # what each estimate answers, for the report
    "naive_difference": "how much more often treated requests succeed",
    "double_ml": "average effect of the treatment on all requests",
    "intention_to_treat": "average effect of offering it, on the experiment's requests",
    "instrumental_variables": "effect of the treatment on the requests the offer changed",
}
POWER = 0.8  # of the experiment's detectable effect
METHODS = {  # how the report names each method
    "naive_difference": "naive difference",
    "double_ml": "double ML (interactive model)",
    "intention_to_treat": "intention to treat",
    "instrumental_variables": "instrumental variables (Wald)",
}


@dataclass(frozen=True)
class Effect:
    """One estimate of a treatment's effect on the label, with its interval."""

    treatment: str
    method: str  # a key of ASSUMPTIONS
    value: float  # a difference in P(label), in probability points / 100
    low: float
    high: float
    rows: int
    truth: float | None = None  # the world's effect of the same estimand, same requests
    details: dict[str, float] = field(default_factory=dict)  # first stage, sensitivity

    @property
    def assumption(self) -> str:
        return ASSUMPTIONS[self.method]

    @property
    def covers_truth(self) -> bool | None:
        return None if self.truth is None else bool(self.low <= self.truth <= self.high)

    def metrics(self) -> dict[str, float]:
        """Flat metrics named by treatment and estimand, for metrics/ and MLflow."""
        key = f"causal_{self.treatment}_{self.method}"
        out = {key: self.value, f"{key}_low": self.low, f"{key}_high": self.high}
        if self.truth is not None:
            out[f"{key}_truth"] = self.truth
        out.update({f"{key}_{name}": value for name, value in self.details.items()})
        return out


def treatment_groups(columns: list[str]) -> list[str]:
    """The registry groups of a treatment's columns: they describe the treatment itself
    (a note's length is part of the note), so nothing in them is adjusted for."""
    return sorted({f.group for f in FEATURES if f.name in columns})


def adjusted_features(columns: list[str]) -> list[str]:
    groups = treatment_groups(columns)
    return [f.name for f in FEATURES if f.group not in groups]


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
    """`frame`: one row per labelled request with `request_id`, `sender_id`, `assignment`
    (or none), the treatment columns and `label`; `encoded`: its model matrix (registry
    order); `truth`: the simulator's truth of these requests in the same order, or None.
    Returns the estimates and notes on what was skipped."""
    y = frame[label].to_numpy(dtype=float)
    senders = pd.factorize(frame["sender_id"])[0]
    n_senders = senders.max() + 1
    weights = _sender_weights(n_senders, cfg)  # one set of resamples for every mean
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
        estimates.append(_naive(name, y, d, senders, weights, confidence, ate))
        if n_senders < cfg.folds:  # cross-fitting splits senders into folds
            notes.append(f"`{name}`: {n_senders} sender(s), fewer than the "
                         f"{cfg.folds} folds of double machine learning "
                         "(study.causal.folds): no double-ML estimate")  # fmt: skip
        else:
            x = encoded[adjusted_features(columns)]
            estimates.append(_double_ml(name, y, d, x, senders, cfg, confidence, ate))
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
        found = _experiment(
            name, y, d, frame["assignment"], arms, senders, weights, confidence, own_truth
        )
        estimates += found
        if len(found) == 1:
            notes.append(f"`{name}`: the offer did not change how many requests were treated: "
                         "no instrumental-variables estimate")  # fmt: skip
    return estimates, notes


def _naive(name, y, d, senders, weights, confidence, truth) -> Effect:
    treated = _cluster_means(y, d == 1, senders, weights)
    untreated = _cluster_means(y, d == 0, senders, weights)
    low, high = _interval(treated - untreated, confidence)
    value = float(y[d == 1].mean() - y[d == 0].mean())
    return Effect(name, "naive_difference", value, low, high, len(y), truth)


def _double_ml(name, y, d, x: pd.DataFrame, senders, cfg: CausalConfig, confidence, truth):
    """DoubleML's interactive regression model (binary treatment, ATE), LightGBM nuisance
    models, `cfg.folds`-fold cross-fitting, standard errors clustered by sender."""
    import doubleml
    from lightgbm import LGBMClassifier

    data = pd.DataFrame(x.to_numpy(dtype=float), columns=[f"x{i}" for i in range(x.shape[1])])
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
            data, "y", "d", [c for c in data if c.startswith("x")], cluster_cols="sender",
            force_all_x_finite="allow-nan",
        )  # fmt: skip
        state = np.random.get_state()  # noqa: NPY002 (DoubleML folds: NumPy global state)
        np.random.seed(cfg.seed)  # noqa: NPY002
        model = doubleml.DoubleMLIRM(
            dml_data, LGBMClassifier(**nuisance), LGBMClassifier(**nuisance),
            n_folds=cfg.folds, trimming_threshold=0.01,
        )  # fmt: skip
        model.fit()
        np.random.set_state(state)  # noqa: NPY002
        value = float(model.coef[0])
        low, high = (float(v) for v in model.confint(level=confidence).iloc[0])
        details = _sensitivity(model, cfg, null=0.0, prefix="")
        if truth is not None:  # how strong a confounder would explain the bias away
            details |= _sensitivity(model, cfg, null=truth, prefix="to_truth_")
    return Effect(name, "double_ml", value, low, high, len(y), truth, details)


def _sensitivity(model, cfg: CausalConfig, null: float, prefix: str) -> dict:
    """Omitted-variable bounds of DoubleML's sensitivity analysis (Chernozhukov et al.,
    "Long Story Short"), in closed form from its sensitivity elements: a confounder that
    explains a share `c` of the residual variation of both outcome and treatment moves the
    estimate by at most sqrt(c * c / (1 - c) * sigma2 * nu2). The robustness value is the
    `c` that moves it to `null`; the bounds are the estimate's at `cfg.confounder_strength`.
    (DoubleML's own search for it re-estimates clustered variances some 50 times: 25 s at
    200,000 requests; the closed form agrees with it to 1e-6.)"""
    elements = model.sensitivity_elements
    scale = math.sqrt(float(np.mean(elements["sigma2"])) * float(np.mean(elements["nu2"])))
    theta = float(model.coef[0])
    a2 = ((theta - null) / scale) ** 2 if scale > 0 else math.inf
    rv = 1.0 if math.isinf(a2) else (-a2 + math.sqrt(a2 * a2 + 4 * a2)) / 2
    out = {f"{prefix}robustness_value": min(rv, 1.0)}
    if not prefix:
        c = cfg.confounder_strength
        bias = math.sqrt(c * c / (1 - c)) * scale
        out |= {"bound_low": theta - bias, "bound_high": theta + bias}
    return out


def _experiment(name, y, d, assignment: pd.Series, arms, senders, weights, confidence, truth):
    inside = assignment.notna().to_numpy()
    offered = (assignment == arms["offered"]).to_numpy() & inside
    control = (assignment == arms["control"]).to_numpy() & inside
    y_z = {z: _cluster_means(y, rows, senders, weights) for z, rows in ((1, offered), (0, control))}
    d_z = {z: _cluster_means(d, rows, senders, weights) for z, rows in ((1, offered), (0, control))}
    itt_draws = y_z[1] - y_z[0]
    first_draws = d_z[1] - d_z[0]
    itt = float(y[offered].mean() - y[control].mean())
    first = float(d[offered].mean() - d[control].mean())
    first_se = float(np.std(first_draws, ddof=1))
    strength = {"first_stage": float(first),
                "first_stage_f": float((first / first_se) ** 2) if first_se else 0.0}  # fmt: skip
    rows = int(inside.sum())
    true_itt = true_late = None
    if truth is not None and "p_opportunity_if_assistant" in truth:
        effect = truth["p_opportunity_if_assistant"] - truth["p_opportunity_if_control"]
        effect = effect.to_numpy()
        complier = truth["complier"].fillna(False).to_numpy(dtype=bool) & inside
        true_itt = float(effect[inside].mean())
        true_late = float(effect[complier].mean()) if complier.any() else None
    with np.errstate(divide="ignore", invalid="ignore"):
        late_draws = itt_draws / first_draws
    late_draws = late_draws[np.isfinite(late_draws)]
    itt_effect = Effect(name, "intention_to_treat", itt, *_interval(itt_draws, confidence),
                        rows, true_itt, strength)  # fmt: skip
    if not first:  # the offer changed no one's treatment: the IV is not defined
        return [itt_effect]
    power = {"detectable_effect": _detectable(itt_draws, first, confidence)}
    return [
        itt_effect,
        Effect(name, "instrumental_variables", itt / first, *_interval(late_draws, confidence),
               rows, true_late, strength | power),
    ]  # fmt: skip


def _detectable(itt_draws: np.ndarray, first: float, confidence: float) -> float:
    """The smallest effect on compliers this experiment finds (its interval excluding 0)
    four times in five: below it, an interval that includes 0 is no evidence of no
    effect. The intention-to-treat effect is the complier effect times the first stage,
    so the ITT's standard error over the first stage is the IV's."""
    from scipy.stats import norm

    se = float(np.std(itt_draws[np.isfinite(itt_draws)], ddof=1))
    return float((norm.ppf((1 + confidence) / 2) + norm.ppf(POWER)) * se / abs(first))


def _sender_weights(n_senders: int, cfg: CausalConfig) -> np.ndarray:
    """(resamples, senders) Poisson bootstrap weights: each sender's requests in or out
    together. The same for every mean, so differences of means are paired."""
    rng = np.random.default_rng(cfg.seed)
    return rng.poisson(1.0, (cfg.resamples, n_senders)).astype(float)


def _cluster_means(values, rows, senders, weights: np.ndarray) -> np.ndarray:
    """The mean of `values` over `rows`, once per resample of senders (`weights`)."""
    n_senders = weights.shape[1]
    sums = np.bincount(senders[rows], values[rows], n_senders)
    counts = np.bincount(senders[rows], minlength=n_senders).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (weights @ sums) / (weights @ counts)


def _interval(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    draws = draws[np.isfinite(draws)]
    tail = (1 - confidence) / 2 * 100
    return float(np.percentile(draws, tail)), float(np.percentile(draws, 100 - tail))


def _true_ate(truth: pd.DataFrame) -> float:
    """The world's average effect of a personal note on these requests: each one
    re-simulated with the most personal note its intent allows, minus with no note."""
    return float((truth["p_opportunity_if_personalized"] - truth["p_opportunity_if_none"]).mean())
