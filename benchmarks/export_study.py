"""The README's study of simulated member exports, run as the README writes it, in a
fresh clone of this repository: `bash scripts/repro.sh`, then

    tiesignal simulate-exports data/exports --era 2024 --max-exports 3000
    dvc exp run -S data=member_exports -S data.path=data/exports

Records the exports, requests, labelled opportunities, unclear labels, test ROC-AUC and
each command's seconds in benchmarks/results/export_study.json, which the README's figures
are checked against (tests/test_readme.py).

    .venv/bin/python benchmarks/export_study.py
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "export_study.json"
SALT = "benchmark-salt-not-a-secret-0123456789"


def timed(command: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return round(time.perf_counter() - start, 1)


def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
        env |= {"TIESIGNAL_SALT": SALT, "DVC_NO_ANALYTICS": "1",
                "PATH": f"{clone / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"}  # fmt: skip
        timed(["bash", "scripts/repro.sh"], clone, env)
        seconds = {
            "simulate_exports": timed(
                [
                    "tiesignal",
                    "simulate-exports",
                    "data/exports",
                    "--era",
                    "2024",
                    "--max-exports",
                    "3000",
                ],
                clone,
                env,
            ),  # fmt: skip
            "exp_run": timed(
                ["dvc", "exp", "run", "-S", "data=member_exports", "-S", "data.path=data/exports"],
                clone,
                env,
            ),  # fmt: skip
        }
        ingest = json.loads((clone / "reports" / "ingest.json").read_text())
        evaluate = json.loads((clone / "reports" / "evaluate.json").read_text())
    record = {
        "date": date.today().isoformat(),
        "exports": ingest["exports"],
        "requests": ingest["requests"],
        "opportunities": ingest["opportunities"],
        "unclear": ingest["unclear"],
        "test_roc_auc": round(evaluate["roc_auc"], 4),
        "seconds": seconds,
    }
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    RESULTS.write_text(json.dumps([*history, record], indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return record


if __name__ == "__main__":
    main()
