"""Fit the full model and every group variant over the study's seeds, on the same splits."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tiesignal.config import LightGBMConfig, ModelConfig, StudyConfig
from tiesignal.features.registry import FEATURES, GROUPS
from tiesignal.models.boosted import LightGBMModel
from tiesignal.models.train import train


@dataclass(frozen=True)
class Variant:
    name: str  # full, without_<group>, only_<group>
    kind: str  # full | without | only
    group: str  # the group left out or kept; "" for the full model
    groups: tuple[str, ...]  # the groups the model sees


@dataclass
class Fit:
    variant: Variant
    seed: int
    model: LightGBMModel
    test_scores: np.ndarray
    seconds: float


def plan(kinds: list[str]) -> list[Variant]:
    unknown = sorted(set(kinds) - {"without", "only"})
    if unknown:
        raise ValueError(f"study.kinds: unknown {unknown}; known: ['only', 'without']")
    out = [Variant("full", "full", "", GROUPS)]
    for kind in ("without", "only"):
        if kind in kinds:
            for g in GROUPS:
                groups = tuple(x for x in GROUPS if (x != g) == (kind == "without"))
                out.append(Variant(f"{kind}_{g}", kind, g, groups))
    return out


def fit_all(
    study: StudyConfig,
    model_cfg: ModelConfig,
    X: dict[str, pd.DataFrame],
    y: dict[str, np.ndarray],
    progress: Callable[[str], None],
) -> list[Fit]:
    """Every variant with every seed. `X` holds the full encoded matrices per split; a
    variant's model sees only its groups' columns."""
    if not isinstance(model_cfg, LightGBMConfig):
        raise ValueError("the study explains LightGBM models (SHAP, partial dependence)")
    fits = []
    variants = plan(study.kinds)
    progress(
        f"fitting {len(variants) * len(study.seeds)} models ({', '.join(study.kinds)}; "
        f"seeds {study.seeds})"
    )
    # each seed refits on its own resample of the training rows, the same for every variant
    # (paired), so the spread over seeds measures what refitting on new data changes
    n_train = len(X["train"])
    rows = {
        seed: np.random.default_rng([study.bootstrap_seed, seed]).integers(0, n_train, n_train)
        if study.resample_training
        else np.arange(n_train)
        for seed in study.seeds
    }
    for i, variant in enumerate(variants, start=1):
        columns = [f.name for f in FEATURES if f.group in variant.groups]
        categorical = [f.name for f in FEATURES if f.name in columns and f.kind == "categorical"]
        for seed in study.seeds:
            start = time.perf_counter()
            cfg = dataclasses.replace(model_cfg, seed=seed)
            model = train(
                cfg, X["train"][columns].iloc[rows[seed]], y["train"][rows[seed]],
                X["valid"][columns], y["valid"], categorical, progress=lambda _: None,
            )  # fmt: skip
            fits.append(Fit(variant, seed, model, model.predict(X["test"][columns]),
                            time.perf_counter() - start))  # fmt: skip
            progress(
                f"  [{i}/{len(variants)}] {variant.name} seed {seed}: "
                f"{model.best_iteration} rounds ({fits[-1].seconds:.1f}s)"
            )
    return fits
