"""Start-up of `tiesignal predict` on one row, with the bytecode that scripts/setup.sh
compiles at install time and without it (a cache folder with none: what every process
paid when PYTHONDONTWRITEBYTECODE is set and nothing was compiled). Runs alternate, so a
drift of the machine's speed falls on both; medians and their ratio are recorded.

    bash scripts/repro.sh && .venv/bin/python benchmarks/startup.py [RUNS]

Results are appended to benchmarks/results/startup.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "startup.json"


def main(runs: int = 7) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one.parquet"
        pd.read_parquet(ROOT / "data" / "raw" / "requests.parquet").head(1).to_parquet(one)
        command = [str(ROOT / ".venv" / "bin" / "tiesignal"), "predict", str(one), "-o"]
        settings = {"compiled": {}, "not_compiled": {"PYTHONPYCACHEPREFIX": f"{tmp}/none"}}
        seconds: dict[str, list[float]] = {name: [] for name in settings}
        for i in range(runs + 1):  # the first round warms the file cache, not counted
            for name, extra in settings.items():
                start = time.perf_counter()
                subprocess.run([*command, f"{tmp}/{i}.parquet"], check=True, capture_output=True,
                               env=os.environ | extra, cwd=ROOT)  # fmt: skip
                if i:
                    seconds[name].append(time.perf_counter() - start)
        rejects_files = sorted(p.name for p in Path(tmp).glob("*.rejects.*"))
    median = {name: round(statistics.median(s), 3) for name, s in seconds.items()}
    record = {
        "date": date.today().isoformat(),
        "runs": runs,
        "predict_one_row_median_s": median,
        "ratio": round(median["compiled"] / median["not_compiled"], 3),
        "rejects_files_written": len(rejects_files),
    }
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.write_text(json.dumps([*history, record], indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return record


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
