"""Scoring speed of the exported default model, side by side in one run.

    bash scripts/repro.sh && .venv/bin/python benchmarks/scoring.py
    .venv/bin/python benchmarks/scoring.py --predict-sizes 1000000 10000000

1. Engines on the same encoded feature matrix (the test split tiled to 1M rows): LightGBM
   native, ONNX Runtime, and the model compiled by lleaves and by treelite (tl2cgen, gcc).
   Batch: median of 5 rounds, engines interleaved within each round. Single row: median
   of 2,000 one-row calls. Each engine's largest difference from LightGBM is recorded.
2. `tiesignal predict` end to end on raw requests (the default world's requests repeated
   in time order to each size), one process per size: wall time, the scoring rate it
   reports, and peak resident memory, so memory can be compared across sizes.

Results are appended to benchmarks/results/scoring.json.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tiesignal.export.bundle import ONNX
from tiesignal.export.exported import compile_model
from tiesignal.export.onnx import OnnxScorer
from tiesignal.io import read_parquet
from tiesignal.models.data import features_named, model_matrix

ROOT = Path(__file__).resolve().parent.parent
EXPORT = ROOT / "models" / "export"
WORK = ROOT / "benchmarks" / "work" / "scoring"
RESULTS = ROOT / "benchmarks" / "results" / "scoring.json"
BATCH_ROWS = 1_000_000
ROUNDS = 5
SINGLE_CALLS = 2_000


def engines(tmp: Path) -> dict:
    """name -> predict(float64 matrix) for each engine, built from the exported model."""
    import tl2cgen
    import treelite

    booster = lgb.Booster(model_file=str(EXPORT / "model.txt"))
    onnx = OnnxScorer((EXPORT / ONNX).read_bytes(), threads=2)
    compiled = compile_model(EXPORT / "model.txt", cache=tmp)
    tl2cgen.export_lib(
        treelite.frontend.load_lightgbm_model(str(EXPORT / "model.txt")),
        toolchain="gcc",
        libpath=str(tmp / "treelite.so"),
        params={"parallel_comp": 2},
    )
    treelite_model = tl2cgen.Predictor(str(tmp / "treelite.so"), nthread=2)
    return {
        "lightgbm": lambda X: booster.predict(X, num_threads=2),
        "onnxruntime": lambda X: onnx.predict(X.astype(np.float32)),
        "lleaves": lambda X: compiled.predict(X, n_jobs=2 if len(X) > 1 else 1),
        "treelite": lambda X: treelite_model.predict(tl2cgen.DMatrix(X)).reshape(-1),
    }


def bench_engines() -> dict:
    spec = json.loads((EXPORT / "feature_spec.json").read_text())
    chosen = features_named([f["name"] for f in spec["features"]])
    test = read_parquet(ROOT / "data" / "features" / "test.parquet")
    X_test = model_matrix(test, chosen, spec["category_levels"])[0].to_numpy(dtype=np.float64)
    X = np.ascontiguousarray(np.resize(X_test, (BATCH_ROWS, X_test.shape[1])))
    with tempfile.TemporaryDirectory() as tmp:
        scorers = engines(Path(tmp))
        want = scorers["lightgbm"](X_test)
        batch: dict[str, list[float]] = {name: [] for name in scorers}
        for _ in range(ROUNDS):
            for name, predict in scorers.items():
                start = time.perf_counter()
                predict(X)
                batch[name].append(time.perf_counter() - start)
        single: dict[str, float] = {}
        rows = [X_test[i : i + 1] for i in range(SINGLE_CALLS)]
        for name, predict in scorers.items():
            for row in rows[:100]:
                predict(row)  # warm up
            times = []
            for row in rows:
                start = time.perf_counter()
                predict(row)
                times.append(time.perf_counter() - start)
            single[name] = statistics.median(times)
        out = {}
        for name, predict in scorers.items():
            seconds = statistics.median(batch[name])
            out[name] = {
                "batch_rows_per_s": round(BATCH_ROWS / seconds),
                "single_row_median_us": round(single[name] * 1e6, 1),
                "max_abs_diff_vs_lightgbm": float(np.max(np.abs(predict(X_test) - want))),
            }
    return out


def make_requests(path: Path, n_rows: int) -> None:
    """The default world's requests repeated to `n_rows`, each copy squeezed into its own
    slice of the original period, so the file stays in time order and inside its dates."""
    base = pq.read_table(ROOT / "data" / "raw" / "requests.parquet")
    base = base.drop_columns([c for c in ("note",) if c in base.column_names])
    base = base.sort_by([("sent_at", "ascending"), ("request_id", "ascending")])
    copies = -(-n_rows // base.num_rows)
    sent = base["sent_at"].cast(pa.int64()).to_numpy()
    start, span = int(sent.min()), int(sent.max() - sent.min()) + 1
    with pq.ParquetWriter(path, base.schema, compression="zstd") as writer:
        written = 0
        for k in range(copies):
            take = min(base.num_rows, n_rows - written)
            copy = base.slice(0, take)
            squeezed = start + (sent[:take] - start) // copies + k * (span // copies)
            shift = pa.array(squeezed - sent[:take])  # later times move with their request
            for column in ("sent_at", "accepted_at", "opportunity_at"):
                moved = pc.add(copy[column].cast(pa.int64()), shift)
                copy = copy.set_column(
                    copy.schema.get_field_index(column),
                    column,
                    moved.cast(base.schema.field(column).type),
                )
            text = copy["request_id"].type
            ids = pc.binary_join_element_wise(
                pa.scalar(f"C{k}-", text), copy["request_id"], pa.scalar("", text)
            )
            copy = copy.set_column(copy.schema.get_field_index("request_id"), "request_id", ids)
            writer.write_table(copy)
            written += take


PROBE = """
import resource, sys, time
from tiesignal.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("WALL", time.perf_counter() - start, "PEAK_MIB", peak_mib)
sys.exit(code)
"""


def bench_predict(n_rows: int) -> dict:
    WORK.mkdir(parents=True, exist_ok=True)
    source = WORK / f"requests-{n_rows}.parquet"
    if not source.exists():
        partial = source.with_suffix(".partial")
        make_requests(partial, n_rows)
        partial.rename(source)
    out = WORK / f"scores-{n_rows}.parquet"
    args = ["predict", str(source), "-o", str(out), "--model", str(EXPORT)]
    run = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
    )
    wall, peak = re.search(r"WALL (\S+) PEAK_MIB (\S+)", run.stdout).groups()
    rate = re.search(r"in (\S+)s, (\d+) requests/s", run.stderr).groups()
    return {
        "rows": n_rows,
        "wall_s": round(float(wall), 1),
        "scoring_s": float(rate[0]),
        "requests_per_s": int(rate[1]),
        "peak_mib": round(float(peak)),
        "file_mib": round(source.stat().st_size / 2**20),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--predict-sizes", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--skip-engines", action="store_true")
    args = parser.parse_args()
    if not (EXPORT / "model.txt").exists():
        raise SystemExit(f"{EXPORT}: run the pipeline first (bash scripts/repro.sh)")
    record = {"date": time.strftime("%Y-%m-%d"), "engines": {}, "predict": []}
    if not args.skip_engines:
        record["engines"] = bench_engines()
        print(pd.DataFrame(record["engines"]).T.to_string())
    for n_rows in args.predict_sizes:
        result = bench_predict(n_rows)
        record["predict"].append(result)
        print(result)
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.write_text(json.dumps([*history, record], indent=2) + "\n")
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
