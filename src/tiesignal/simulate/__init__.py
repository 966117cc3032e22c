"""The simulated outreach world: a structural model with a known truth (DESIGN.md)."""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from tiesignal.config import ASSIGNMENT_ARMS, ConfigError, WorldConfig
from tiesignal.io import TableChunks, atomic_path, to_arrow, write_json
from tiesignal.simulate.requests import (
    TERM_GROUPS,
    Calendar,
    simulate_chunk,
    tie_strength_effect,
)
from tiesignal.simulate.vocab import INDUSTRIES
from tiesignal.simulate.world import Members, Senders, make_members, make_senders

__all__ = ["build_world", "chunk_count", "simulate_world", "write_world", "truth_summary",
           "tie_strength_curve"]  # fmt: skip


def simulate_world(cfg: WorldConfig) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Yield (records, truth) chunk by chunk, in order, simulated in this process."""
    world = build_world(cfg)
    for chunk in range(chunk_count(cfg)):
        yield _simulate(cfg, world, chunk)


def chunk_count(cfg: WorldConfig) -> int:
    return -(-cfg.n_requests // cfg.chunk_size)


def _simulate(cfg: WorldConfig, world: tuple, chunk: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    first = chunk * cfg.chunk_size
    n = min(cfg.chunk_size, cfg.n_requests - first)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 1, chunk]))
    return simulate_chunk(cfg, *world, first, n, rng)


def _in_processes(cfg: WorldConfig, n_chunks: int, processes: int) -> Iterator[tuple]:
    """The chunks simulated in `processes` worker processes, each building the world once,
    yielded in order with at most one chunk per worker waiting (memory stays bounded)."""
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    with ProcessPoolExecutor(processes, context, _start_worker, (cfg,)) as pool:
        pending: deque[Future] = deque()
        try:
            for chunk in range(n_chunks):
                pending.append(pool.submit(_simulate_in_worker, chunk))
                if len(pending) > processes:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


_WORKER: dict = {}  # a worker process's config and world


def _start_worker(cfg: WorldConfig) -> None:
    _WORKER["cfg"], _WORKER["world"] = cfg, build_world(cfg)


def _simulate_in_worker(chunk: int) -> tuple[pa.Table, pd.DataFrame]:
    """The records go back as an Arrow table: it pickles about 3 times faster."""
    records, truth = _simulate(_WORKER["cfg"], _WORKER["world"], chunk)
    return to_arrow(records), truth


def write_world(
    cfg: WorldConfig,
    requests: Path,
    truth: Path,
    truth_json: Path,
    on_chunk: Callable[[int, int], None] | None = None,
    processes: int = 1,
) -> dict:
    """The world's observable requests and its truth, written chunk by chunk (each file
    whole or not at all); returns the truth's summary, also written to `truth_json`.
    The same config gives the same bytes whatever `processes` simulate the chunks (each
    chunk draws from its own seed)."""
    n_chunks = chunk_count(cfg)
    if processes > 1 and n_chunks > 1:
        chunks = _in_processes(cfg, n_chunks, processes)
    else:
        chunks = simulate_world(cfg)
    acc = TruthAccumulator()
    with atomic_path(requests) as records_tmp, atomic_path(truth) as truth_tmp:
        records_out, truth_out = TableChunks(records_tmp), TableChunks(truth_tmp)
        for chunk, (records, truth_rows) in enumerate(chunks):
            records_out.write(records)
            truth_out.write(truth_rows)
            acc.add(truth_rows)
            if on_chunk is not None:
                on_chunk(min((chunk + 1) * cfg.chunk_size, cfg.n_requests), cfg.n_requests)
        records_out.close()
        truth_out.close()
    summary = truth_summary(cfg, acc)
    write_json(summary, truth_json)
    return summary


def build_world(cfg: WorldConfig) -> tuple[Members, Senders, Calendar]:
    """The members, senders and calendar of a world: the same config, the same people."""
    _check(cfg)
    world_rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0]))
    members = make_members(cfg, world_rng)
    senders = make_senders(cfg, world_rng)
    return members, senders, Calendar.build(cfg)


class TruthAccumulator:
    """Sums over truth chunks, so the summary never needs every chunk in memory."""

    def __init__(self) -> None:
        self.n = 0
        self.sums: dict[str, float] = {}
        self.by_intent: dict[str, list[float]] = {}
        self.experiment: dict[str, float] = {}

    def add(self, truth: pd.DataFrame) -> None:
        self.n += len(truth)
        for column in truth.columns:
            if column.startswith(("p_", "opportunity_", "accepted_")):
                self.sums[column] = self.sums.get(column, 0.0) + float(truth[column].sum())
        counts = truth.groupby("intent", observed=True)["p_opportunity"].agg(["size", "sum"])
        for intent, row in counts.iterrows():
            acc = self.by_intent.setdefault(str(intent), [0.0, 0.0])
            acc[0] += row["size"]
            acc[1] += row["sum"]
        if "assignment" in truth:  # the experiment's effects, on the requests of its months
            inside = truth["assignment"].notna()
            effect = truth["p_opportunity_if_assistant"] - truth["p_opportunity_if_control"]
            complier = truth["complier"].fillna(False).to_numpy(dtype=bool)
            offered = truth["assignment"] == ASSIGNMENT_ARMS["offered"]
            for key, value in (
                ("experiment_requests", inside.sum()),
                ("experiment_offered", offered.sum()),
                ("experiment_effect", effect[inside].sum()),
                ("compliers", complier.sum()),
                ("complier_effect", effect[complier].sum()),
            ):
                self.experiment[key] = self.experiment.get(key, 0.0) + float(value)


def truth_summary(cfg: WorldConfig, acc: TruthAccumulator) -> dict:
    """The world's coefficients, its tie-strength curve and the true effect of
    personalization, by counterfactual re-simulation of the same requests."""
    mean = {k: v / acc.n for k, v in acc.sums.items()}
    return {
        "n_requests": acc.n,
        "coefficients": dataclasses.asdict(cfg),
        "term_groups": TERM_GROUPS,
        "industries": {ind.name: ind.digital_intensity for ind in INDUSTRIES},
        "rates": {
            "accepted": mean["accepted_eventually"],
            "opportunity": mean["opportunity_eventually"],
            "mean_p_opportunity": mean["p_opportunity"],
        },
        "intent_mix": {k: v[0] / acc.n for k, v in sorted(acc.by_intent.items())},
        "personalization_effect": {
            "definition": (
                "mean P(opportunity) with every request's note rewritten at the most personal "
                "level its intent allows, minus the same with no note at all; same requests, "
                "same recipients, same random draws"
            ),
            "mean_p_if_none": mean["p_opportunity_if_none"],
            "mean_p_if_personalized": mean["p_opportunity_if_personalized"],
            "ate_probability": mean["p_opportunity_if_personalized"]
            - mean["p_opportunity_if_none"],
            "ate_realized": mean["opportunity_if_personalized"] - mean["opportunity_if_none"],
        },
        "tie_strength_curve": tie_strength_curve(cfg).to_dict(orient="list"),
        "experiment": _experiment_summary(cfg, acc.experiment),
    }


def _experiment_summary(cfg: WorldConfig, sums: dict[str, float]) -> dict | None:
    """The world's experiment and its true effects, on the requests of its months: the
    same requests re-simulated with their sender offered the assistant and not."""
    if not cfg.experiment.on:
        return None
    n, compliers = sums.get("experiment_requests", 0.0), sums.get("compliers", 0.0)
    return {
        **dataclasses.asdict(cfg.experiment),
        "arms": ASSIGNMENT_ARMS,
        "requests": int(n),
        "offered_requests": int(sums.get("experiment_offered", 0.0)),
        "intention_to_treat": sums["experiment_effect"] / n if n else None,
        "complier_share": compliers / n if n else None,
        "complier_effect": sums["complier_effect"] / compliers if compliers else None,
        "definition": (
            "intention_to_treat: mean P(opportunity) of the experiment's requests with their "
            "sender offered the assistant minus not offered; complier_effect: the same on the "
            "requests whose note the offer makes personal (compliers), which is the effect of "
            "a personal note on them; same requests, same random draws"
        ),
    }


def tie_strength_curve(cfg: WorldConfig, max_mutuals: int = 200) -> pd.DataFrame:
    """The true tie-strength effect on the opportunity logit, for non-digital (0) and fully
    digital (1) industries."""
    m = np.arange(max_mutuals + 1)
    return pd.DataFrame(
        {
            "mutual_connections": m,
            "effect_digital_0": tie_strength_effect(cfg, m, np.zeros(len(m))).round(6),
            "effect_digital_1": tie_strength_effect(cfg, m, np.ones(len(m))).round(6),
        }
    )


def _check(cfg: WorldConfig) -> None:
    for name in ("n_requests", "n_members", "n_senders", "chunk_size", "months"):
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"world.{name}: must be positive, got {getattr(cfg, name)}")
    if not 0 <= cfg.off_target_share <= 1:
        raise ConfigError(f"world.off_target_share: must be in [0, 1], got {cfg.off_target_share}")
    e = cfg.experiment
    if not all(0 <= m < cfg.months for m in e.months):
        raise ConfigError(f"world.experiment.months: each in 0..{cfg.months - 1}, got {e.months}")
    for key in ("offered_share", "uptake"):
        if not 0 <= getattr(e, key) <= 1:
            raise ConfigError(f"world.experiment.{key}: must be in [0, 1], got {getattr(e, key)}")
    if e.scheme not in ("sender", "blocked"):
        raise ConfigError(f"world.experiment.scheme: `sender` or `blocked`, got {e.scheme!r}")
    if e.volume_blocks < 1:
        raise ConfigError(f"world.experiment.volume_blocks: at least 1, got {e.volume_blocks}")
    if len(cfg.personalization_cutpoints) != 3:
        raise ConfigError("world.personalization_cutpoints: needs exactly 3 increasing values")
    try:
        pd.Timestamp(cfg.start)
    except ValueError as err:
        raise ConfigError(f"world.start: not a date: {cfg.start!r}") from err
