"""Fit the full model and every group variant over the study's seeds, on the same splits."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tiesignal.compute import Executor
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


def absent_groups(X_train: pd.DataFrame) -> list[str]:
    """The groups none of whose features has a value in the training rows (member exports
    record no sender profile): leaving one out changes nothing, and alone it is a constant."""
    columns = {g: [f.name for f in FEATURES if f.group == g] for g in GROUPS}
    return [g for g in GROUPS if X_train[columns[g]].isna().all(axis=None)]


def plan(kinds: list[str], absent: list[str] | tuple = ()) -> list[Variant]:
    """The full model, and each group left out or alone (`study.kinds`) but the `absent`."""
    unknown = sorted(set(kinds) - {"without", "only"})
    if unknown:
        raise ValueError(f"study.kinds: unknown {unknown}; known: ['only', 'without']")
    out = [Variant("full", "full", "", GROUPS)]
    for kind in ("without", "only"):
        if kind in kinds:
            for g in (g for g in GROUPS if g not in absent):
                groups = tuple(x for x in GROUPS if (x != g) == (kind == "without"))
                out.append(Variant(f"{kind}_{g}", kind, g, groups))
    return out


@dataclass(frozen=True)
class FitJob:
    """One model of the study: a variant with one seed, fitted on that seed's rows."""

    variant: Variant
    cfg: LightGBMConfig
    columns: list[str]
    categorical: list[str]
    rows: np.ndarray  # training rows: the seed's resample, or all of them
    # LightGBM's threads: the config's here, one where a map runs fits side by side. In
    # its deterministic mode it grows the same trees whatever the number (only the
    # `num_threads` line of the model's text differs; tests/test_study.py).
    threads: int


def fit_all(
    study: StudyConfig,
    model_cfg: ModelConfig,
    X: dict[str, pd.DataFrame],
    y: dict[str, np.ndarray],
    progress: Callable[[str], None],
    cache: FitCache,
    runner: Executor | None = None,
    absent: list[str] | tuple = (),
) -> list[Fit]:
    """Every variant with every seed. `X` holds the full encoded matrices per split; a
    variant's model sees only its groups' columns. A fit in `cache` is read, not refitted;
    the others are independent: `runner` runs them (here one after another by default, or
    side by side on a cluster, each on one thread). Either way each is the same model.
    Groups `absent` from the data get no variant of their own."""
    if not isinstance(model_cfg, LightGBMConfig):
        raise ValueError("the study explains LightGBM models (SHAP, partial dependence)")
    variants = plan(study.kinds, absent)
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
    runner = runner or Executor()
    threads = runner.task_threads(model_cfg.num_threads)
    jobs, keys = [], []
    for variant in variants:
        columns = [f.name for f in FEATURES if f.group in variant.groups]
        categorical = [f.name for f in FEATURES if f.name in columns and f.kind == "categorical"]
        for seed in study.seeds:
            cfg = dataclasses.replace(model_cfg, seed=seed)
            resample = f"{study.bootstrap_seed},{seed}" if study.resample_training else "all"
            jobs.append(FitJob(variant, cfg, columns, categorical, rows[seed], threads))
            keys.append(cache.key(cfg, columns, categorical, resample))
    fits: list[Fit | None] = [None] * len(jobs)
    for i, (job, key) in enumerate(zip(jobs, keys, strict=True)):
        hit = cache.get(key, job.columns, job.categorical)
        if hit is not None:
            fits[i] = Fit(job.variant, job.cfg.seed, hit.model, hit.test_scores, hit.seconds, True)
            _report(progress, i, jobs, fits[i])
    todo = [i for i, fit in enumerate(fits) if fit is None]
    for done, (model, scores, seconds) in runner.map(fit_one, [jobs[i] for i in todo], X, y):
        i = todo[done]
        fits[i] = Fit(jobs[i].variant, jobs[i].cfg.seed, model, scores, seconds)
        cache.put(keys[i], model, scores, seconds)
        _report(progress, i, jobs, fits[i])
    if len(todo) < len(jobs):
        progress(f"{len(jobs) - len(todo)} of {len(jobs)} fits read from the study cache "
                 f"(.tiesignal/), {len(todo)} fitted")  # fmt: skip
    return fits


def fit_one(
    job: FitJob, X: dict[str, pd.DataFrame], y: dict[str, np.ndarray]
) -> tuple[LightGBMModel, np.ndarray, float]:
    """One study model, and its scores of the test split: (model, scores, seconds)."""
    start = time.perf_counter()
    cfg = dataclasses.replace(job.cfg, num_threads=job.threads)
    model = train(
        cfg, X["train"][job.columns].iloc[job.rows], y["train"][job.rows],
        X["valid"][job.columns], y["valid"], job.categorical, progress=lambda _: None,
    )  # fmt: skip
    scores = model.predict(X["test"][job.columns])
    return model, scores, time.perf_counter() - start


def _report(progress: Callable[[str], None], i: int, jobs: list[FitJob], fit: Fit) -> None:
    how = "cached" if fit.cached else f"{fit.seconds:.1f}s"
    progress(f"  [{i + 1}/{len(jobs)}] {fit.variant.name} seed {fit.seed}: "
             f"{fit.model.best_iteration} rounds ({how})")  # fmt: skip
