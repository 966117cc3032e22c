"""The `featurize` stage of this checkout against the same stage at an earlier commit, on the
same prepared requests, interleaved, one process per run.

    .venv/bin/python benchmarks/featurize_before.py 5978f4b 1000000

Both copies live under benchmarks/work/: `now` (this checkout's tracked files as they are on
disk) simulates, ingests and prepares the default world scaled to N requests (as
benchmarks/stages.py scales it); `before` (`git archive` of the commit) gets the same
`data/prepared`. Each copy imports its own `src/` (the editable install of this checkout is
bypassed). 5 rounds; medians and their ratio go to benchmarks/results/featurize_before.json.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time

from stages import ROOT, WORK, copy_repo

ROUNDS = 9
# imported first by every process (it is on PYTHONPATH): drops the editable install's
# import hook, so `tiesignal` comes from the copy's own src/
BYPASS = """import sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
"""


def run(repo, script: str, result) -> dict:
    site = WORK / "featurize_before_site"
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{repo / 'src'}"}
    measure = [sys.executable, str(ROOT / "benchmarks" / "_measure.py"), str(result), script]
    subprocess.run(measure, cwd=repo, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(result.read_text().splitlines()[-1])


def main(commit: str, n_requests: int) -> None:
    now, before = WORK / "featurize_now", WORK / "featurize_before"
    site = WORK / "featurize_before_site"
    for folder in (now, before, site):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    (site / "sitecustomize.py").write_text(BYPASS)
    copy_repo(now)
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(before, filter="data")
    scale = n_requests / 200_000
    overrides = [
        f"world.n_requests={n_requests}",
        f"world.n_members={int(150_000 * scale)}",
        f"world.n_senders={int(4_000 * math.sqrt(scale))}",
    ]
    for repo in (now, before):
        subprocess.run([sys.executable, "scripts/compose_params.py", *overrides], cwd=repo,
                       env={**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{repo / 'src'}"},
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    result = now / "stages.jsonl"
    for stage in ("simulate", "ingest", "prepare"):
        print(f"[featurize_before] {n_requests:,} requests: {stage}", flush=True)
        run(now, f"pipelines/{stage}.py", result)
    shutil.copytree(now / "data", before / "data", dirs_exist_ok=True)
    seconds: dict[str, list[float]] = {"now": [], "before": []}
    peaks: dict[str, list[float]] = {"now": [], "before": []}
    for i in range(ROUNDS):  # interleaved: both see the same load of a shared machine
        for name, repo in (("before", before), ("now", now)):
            row = run(repo, "pipelines/featurize.py", repo / "featurize.jsonl")
            seconds[name].append(row["seconds"])
            peaks[name].append(row["peak_mib"])
            print(f"[featurize_before] round {i + 1} {name}: {row['seconds']} s, "
                  f"{row['peak_mib']} MiB", flush=True)  # fmt: skip
    out = {
        "date": time.strftime("%Y-%m-%d"),
        "commit_before": commit,
        "n_requests": n_requests,
        "seconds": seconds,
        "median_seconds": {k: statistics.median(v) for k, v in seconds.items()},
        "median_peak_mib": {k: statistics.median(v) for k, v in peaks.items()},
    }
    out["ratio"] = out["median_seconds"]["now"] / out["median_seconds"]["before"]
    print(f"[featurize_before] medians {out['median_seconds']}, ratio {out['ratio']:.2f}")
    path = ROOT / "benchmarks/results/featurize_before.json"
    path.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    for folder in (now, before, site):
        shutil.rmtree(folder)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
