"""Latency of single-row calls to `mlflow models serve`, as a client sees it: the
raw-requests model (validation, features, LightGBM: what a client sending requests gets)
beside the numeric MLflow model (a LightGBM flavor over the feature matrix: the server's
own floor). The raw-requests model gets each row twice: as JSON gives it (the plain way,
`schema.plain_request`) and with its lists as `a;b` text, which is valid but not plain
(the common way, the pandas code `predict` runs over files). Each server runs on
127.0.0.1 in its own process group and is ended with it. Calls alternate between the
series, one at a time, so a drift of the machine's speed falls on all; medians (p50), p90
and p99 are recorded.

    bash scripts/repro.sh && .venv/bin/python benchmarks/serving.py [CALLS]

Results are appended to benchmarks/results/serving.json.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from tiesignal.schema import SCORING_COLUMNS, SOURCE_COLUMN_KINDS

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import as_split, model_server  # noqa: E402

EXPORT = ROOT / "models" / "export"
LIST_COLUMNS = [c for c in SCORING_COLUMNS if SOURCE_COLUMN_KINDS[c] == "list"]
RESULTS = ROOT / "benchmarks" / "results" / "serving.json"
SERIES = {  # series -> the exported model it calls
    "raw_requests_model": "raw_requests_model",
    "raw_requests_not_plain": "raw_requests_model",
    "mlflow_model": "mlflow_model",
}


def bodies(calls: int) -> dict[str, list[bytes]]:
    """One JSON body per call and model: consecutive raw requests of the default world,
    and for the numeric model the same number of rows of the test features' input example."""
    raw = pd.read_parquet(ROOT / "data" / "raw" / "requests.parquet").tail(calls)
    raw = raw[[c for c in SCORING_COLUMNS if c in raw.columns]].reset_index(drop=True)
    example = json.loads((EXPORT / "mlflow_model" / "serving_input_example.json").read_text())
    numeric = example["dataframe_split"]

    def one(frame: pd.DataFrame) -> bytes:
        return json.dumps({"dataframe_split": as_split(frame)}).encode()

    as_text = raw.assign(**{c: raw[c].map("; ".join, na_action="ignore") for c in LIST_COLUMNS})
    return {
        "raw_requests_model": [one(raw.iloc[[i]]) for i in range(calls)],
        "raw_requests_not_plain": [one(as_text.iloc[[i]]) for i in range(calls)],
        "mlflow_model": [
            json.dumps(
                {
                    "dataframe_split": {
                        "columns": numeric["columns"],
                        "data": [numeric["data"][i % len(numeric["data"])]],
                    }
                }
            ).encode()  # fmt: skip
            for i in range(calls)
        ],
    }


def call(url: str, body: bytes) -> float:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as reply:
        reply.read()
        assert reply.status == 200
    return time.perf_counter() - start


def main(calls: int = 300, warmup: int = 20) -> dict:
    work = ROOT / "benchmarks" / "work"
    work.mkdir(parents=True, exist_ok=True)
    sent = bodies(calls + warmup)
    seconds: dict[str, list[float]] = {name: [] for name in SERIES}
    with ExitStack() as stack:
        servers = {m: stack.enter_context(model_server(EXPORT / m, ROOT, work / f"serve-{m}.log"))
                   for m in set(SERIES.values())}  # fmt: skip
        urls = {name: f"{servers[m][0]}/invocations" for name, m in SERIES.items()}
        for i in range(calls + warmup):
            for name in SERIES:
                took = call(urls[name], sent[name][i])
                if i >= warmup:
                    seconds[name].append(took)
    milliseconds = {
        name: {
            q: round(float(np.percentile(s, p)) * 1000, 1)
            for q, p in (("p50", 50), ("p90", 90), ("p99", 99))
        }  # fmt: skip
        for name, s in seconds.items()
    }
    record = {
        "date": date.today().isoformat(),
        "calls": calls,
        "cores": os.cpu_count(),
        "single_row_ms": milliseconds,
        "ratio_p50": round(
            milliseconds["raw_requests_model"]["p50"] / milliseconds["mlflow_model"]["p50"], 2
        ),
    }
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.write_text(json.dumps([*history, record], indent=2) + "\n", encoding="utf-8")
    return record


if __name__ == "__main__":
    print(json.dumps(main(*map(int, sys.argv[1:2])), indent=2))
