"""Stage `simulate`: the default world's observable requests, and its truth kept apart."""

from __future__ import annotations

from _stage import ROOT, Timer, logger, run, section

from tiesignal.config import WorldConfig
from tiesignal.io import TableChunks, atomic_path, write_json
from tiesignal.simulate import TruthAccumulator, simulate_world, truth_summary

RAW = ROOT / "data" / "raw"


def main() -> None:
    log = logger("simulate")
    cfg = section(WorldConfig, "world")
    timer = Timer()
    log.info(
        "simulating %d requests (%d members, %d senders, seed %d)",
        cfg.n_requests,
        cfg.n_members,
        cfg.n_senders,
        cfg.seed,
    )
    truth = TruthAccumulator()
    with (
        atomic_path(RAW / "requests.parquet") as records_tmp,
        atomic_path(RAW / "truth.parquet") as truth_tmp,
    ):
        records_out, truth_out = TableChunks(records_tmp), TableChunks(truth_tmp)

        def progress(done: int, total: int) -> None:
            log.info("  %d / %d requests (%s)", done, total, timer)

        for records, truth_rows in simulate_world(cfg, on_chunk=progress):
            records_out.write(records)
            truth_out.write(truth_rows)
            truth.add(truth_rows)
        records_out.close()
        truth_out.close()
    summary = truth_summary(cfg, truth)
    write_json(summary, RAW / "truth.json")
    rates = summary["rates"]
    log.info(
        "accepted %.1f%%, opportunity %.2f%%, true personalization effect %+.4f (%s)",
        100 * rates["accepted"],
        100 * rates["opportunity"],
        summary["personalization_effect"]["ate_probability"],
        timer,
    )


if __name__ == "__main__":
    run("simulate", main)
