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
from tiesignal.study.cache import FitCache


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
    seconds: float  # of the fit itself, also when it was read from the cache
    cached: bool = False


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
    cache: FitCache,
) -> list[Fit]:
    """Every variant with every seed. `X` holds the full encoded matrices per split; a
    variant's model sees only its groups' columns. A fit in `cache` is read, not refitted."""
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
            cfg = dataclasses.replace(model_cfg, seed=seed)
            resample = f"{study.bootstrap_seed},{seed}" if study.resample_training else "all"
            key = cache.key(cfg, columns, categorical, resample)
            hit = cache.get(key, columns, categorical)
            if hit is not None:
                fits.append(Fit(variant, seed, hit.model, hit.test_scores, hit.seconds, True))
            else:
                start = time.perf_counter()
                model = train(
                    cfg, X["train"][columns].iloc[rows[seed]], y["train"][rows[seed]],
                    X["valid"][columns], y["valid"], categorical, progress=lambda _: None,
                )  # fmt: skip
                scores = model.predict(X["test"][columns])
                fits.append(Fit(variant, seed, model, scores, time.perf_counter() - start))
                cache.put(key, model, scores, fits[-1].seconds)
            how = "cached" if fits[-1].cached else f"{fits[-1].seconds:.1f}s"
            progress(f"  [{i}/{len(variants)}] {variant.name} seed {seed}: "
                     f"{fits[-1].model.best_iteration} rounds ({how})")  # fmt: skip
    reused = sum(f.cached for f in fits)
    if reused:
        progress(f"{reused} of {len(fits)} fits read from the study cache (.tiesignal/), "
                 f"{len(fits) - reused} fitted")  # fmt: skip
    return fits
