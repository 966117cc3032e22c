"""Stage `simulate`: the default world's observable requests, and its truth kept apart."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from _stage import Paths, main

from tiesignal.config import ComputeConfig, WorldConfig
from tiesignal.simulate import chunk_count, write_world

log = logging.getLogger("tiesignal.simulate")


@dataclass(frozen=True)
class Params:
    world: WorldConfig
    compute: ComputeConfig  # only compute.workers, as dvc.yaml declares


@dataclass(frozen=True)
class Summary:
    accepted: float  # shares of all requests
    opportunity: float
    true_personalization_effect: float  # points of P(opportunity), on every request


def run(cfg: Params, paths: Paths) -> Summary:
    w = cfg.world
    processes = min(cfg.compute.processes, chunk_count(w))  # a chunk is one process's work
    log.info("simulating %d requests (%d members, %d senders, seed %d) in %d process(es)",
             w.n_requests, w.n_members, w.n_senders, w.seed, processes)  # fmt: skip
    summary = write_world(
        w, paths.raw / "requests.parquet", paths.truth, paths.truth_summary,
        on_chunk=lambda done, total: log.info("  %d / %d requests", done, total),
        processes=processes,
    )  # fmt: skip
    rates, effect = summary["rates"], summary["personalization_effect"]
    return Summary(rates["accepted"], rates["opportunity"], effect["ate_probability"])


if __name__ == "__main__":
    main(run)
