"""Ingest of many member exports: time for N exports of about 300 invitations and 2,000
messages each (target: 1,000 in under 60 s on 2 cores), and the round trip's agreement.

python benchmarks/ingest.py [N_EXPORTS]   (renders the exports once into benchmarks/work)

Rendering is not timed. Ingest runs three times, side by side in one process; the median
is recorded in benchmarks/results/ingest.json.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from tiesignal.config import DataConfig, load, load_world
from tiesignal.extract.donation import public_pseudonyms
from tiesignal.extract.keys import Pseudonymizer
from tiesignal.ingest.exports import ingest_exports
from tiesignal.simulate import simulate_world
from tiesignal.simulate.exports import render_exports, round_trip

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work" / "exports"
SALT = b"benchmark-salt-not-a-secret-0123"
WINDOW = 30  # split.label_window_days


def main(n_exports: int) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    with open(ROOT / "conf" / "data" / "member_exports.yaml") as fh:
        data = load(DataConfig, yaml.safe_load(fh), "data")
    world = dataclasses.replace(
        load_world(params["world"], ROOT),
        n_members=n_exports,
        n_requests=300 * n_exports,
        n_senders=4000,
    )
    folder = WORK / f"{n_exports}"
    records = pd.concat([r for r, _ in simulate_world(world)], ignore_index=True)
    if not folder.exists():
        start = time.perf_counter()
        render_exports(world, records, folder, era="2024", filler_messages=1900)
        print(f"rendered {n_exports} exports in {time.perf_counter() - start:.0f}s")
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        result = ingest_exports(folder, data, Pseudonymizer(SALT), WINDOW)
        seconds.append(time.perf_counter() - start)
        print(f"  ingest: {seconds[-1]:.1f}s")
    p = result.participants
    rekey, public = Pseudonymizer(SALT), public_pseudonyms(data)
    agreement = round_trip(world, records, result.requests, lambda k: rekey(public(k)), "2024")
    figures = {
        "exports": len(p),
        "invitations_per_export": round(p["invitations_rows"].mean(), 1),
        "messages_per_export": round(p["messages_rows"].mean(), 1),
        "requests": len(result.requests),
        "seconds_median": round(statistics.median(seconds), 1),
        "seconds_runs": [round(s, 1) for s in seconds],
        "exports_per_second": round(len(p) / statistics.median(seconds), 1),
        "round_trip": {k: round(v, 4) if isinstance(v, float) else v for k, v in agreement.items()},
    }
    print(json.dumps(figures, indent=2))
    out = ROOT / "benchmarks" / "results" / "ingest.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
