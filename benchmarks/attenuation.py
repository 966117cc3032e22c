"""Why is the learned tie-strength rise smaller than the truth's? Measured, not asserted.

    .venv/bin/python benchmarks/attenuation.py [REQUESTS ...]   # default 200000 1000000

For each size, the default world scaled (members with requests, senders with their square
root) runs simulate -> compare in process with only the full model (3 seeds), and the
script records the learned and true rise of mean P(opportunity) from 0 mutual connections
to the peak (the observable truth, same test requests), with the learned rise's interval.
At the smallest size it also refits with weaker regularization (min_child_samples 50,
lambda_l2 1) to see what the regularization does. If the ratio moves towards 1 with more
data the gap is estimation (finite sample, smoothing); if it stays, the yardstick differs.
Results go to results/attenuation.json.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import composed, run_stages  # noqa: E402

STAGES = ("simulate", "ingest", "prepare", "featurize", "compare")


def measure(requests: int, *model: str) -> dict:
    scale = requests / 200_000
    params = composed(
        f"world.n_requests={requests}",
        f"world.n_members={int(150_000 * scale)}",
        f"world.n_senders={int(4_000 * math.sqrt(scale))}",
        "study.kinds=[]",
        "study.bootstrap_resamples=100",
        "tracking.tracking_uri=sqlite:///" + tempfile.mkdtemp() + "/mlflow.db",
        *model,
    )
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        run_stages(Path(folder), params, STAGES)
        metrics = json.loads((Path(folder) / "reports" / "compare" / "figures.json").read_text())
        report = (Path(folder) / "reports" / "compare" / "report.md").read_text()
    rise = next(line for line in report.splitlines() if line.startswith("| all |"))
    return {
        "requests": requests,
        "model": list(model) or "conf/model/lightgbm.yaml",
        "learned_rise_points": 100 * metrics["tie_rise_learned"],
        "true_rise_points": 100 * metrics["tie_rise_true"],
        "ratio": metrics["tie_rise_learned"] / metrics["tie_rise_true"],
        "report_row": rise,
        "seconds": round(time.perf_counter() - start, 1),
    }


if __name__ == "__main__":
    sizes = [int(s) for s in sys.argv[1:]] or [200_000, 1_000_000]
    rows = [measure(sizes[0], "model.min_child_samples=50", "model.lambda_l2=1.0")]
    rows += [measure(n) for n in sizes]
    for row in rows:
        print(json.dumps(row), flush=True)
    out = ROOT / "benchmarks" / "results" / "attenuation.json"
    out.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
