"""Wall time and peak memory of every stage, at several world sizes, one process per stage.

    .venv/bin/python benchmarks/stages.py 200000 1000000
    .venv/bin/python benchmarks/stages.py --only simulate 10000000
    .venv/bin/python benchmarks/stages.py --set experiment=large --set compute.workers=1 10000000
    .venv/bin/python benchmarks/stages.py --only simulate,ingest,prepare,featurize,train \\
        --then compute=dask,compute.workers=1 1000000
    .venv/bin/python benchmarks/stages.py --only simulate,ingest,prepare,featurize \\
        --again prepare,featurize --then compute=dask 1000000

`--then` runs the last stage (or the stages `--again` names, in order) again on the same
data with more overrides (comma-separated), one variant after another, so that engines
are compared side by side in one run.
Each size runs in a fresh copy of the repo under benchmarks/work/ with the default world
scaled (members grow with requests, senders with their square root). Results are appended
to benchmarks/results/stages.json, keyed by size and date. Seconds include interpreter
start-up and imports (about 2 s for stages that import MLflow), as a user sees them.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"
STAGES = ("simulate", "ingest", "prepare", "featurize", "train", "evaluate", "compare", "export")
SKIP = ("data/", "models/", "metrics/", "plots/", "reports/", "mlruns/", "benchmarks/work")


def copy_repo(dest: Path) -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for name in tracked.stdout.splitlines():
        if name.startswith(SKIP) or not (ROOT / name).exists():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)


def bench(n_requests: int, stages: tuple[str, ...], settings: list[str],
          variants: list[str] = (), again: tuple[str, ...] = ()) -> dict:  # fmt: skip
    repo = WORK / f"n{n_requests}"
    shutil.rmtree(repo, ignore_errors=True)
    copy_repo(repo)
    scale = n_requests / 200_000
    overrides = [
        f"world.n_requests={n_requests}",
        f"world.n_members={int(150_000 * scale)}",
        f"world.n_senders={int(4_000 * math.sqrt(scale))}",
        *settings,  # Hydra overrides, after the size
    ]
    result = repo / "stages.jsonl"
    runs = [(stage, overrides, stage) for stage in stages]
    # the last stage (or `again`) on the same data, under each variant's extra overrides
    runs += [(stage, [*overrides, *v.split(",")], f"{stage} {v}")
             for v in variants for stage in again or stages[-1:]]  # fmt: skip
    in_params = None
    for stage, composed, name in runs:
        print(f"[bench] {n_requests:,} requests: {name}", flush=True)
        if composed != in_params:  # params.yaml for the stages' own settings, once each
            subprocess.run([sys.executable, "scripts/compose_params.py", *composed], cwd=repo,
                           check=True)  # fmt: skip
            in_params = composed
        shutil.rmtree(repo / ".tiesignal", ignore_errors=True)  # the study's fits, not its cache
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "_measure.py"),
                str(result),
                f"pipelines/{stage}.py",
            ],
            cwd=repo,
            check=True,
            env={
                "MLFLOW_TRACKING_URI": f"sqlite:///{repo / 'mlflow.db'}",
                "PATH": str(Path(sys.executable).parent),
            },
        )
    rows = [json.loads(line) for line in result.read_text().splitlines()]
    measured = [
        (name, {k: r[k] for k in ("seconds", "peak_mib", "worker_peak_mib")})
        for (_, _, name), r in zip(runs, rows, strict=True)
    ]
    variant_stages = dict(measured[len(stages) :])
    stages = dict(measured[: len(stages)])
    metrics_file = repo / "reports" / "evaluate.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    shutil.rmtree(repo)
    return {
        "n_requests": n_requests,
        "date": time.strftime("%Y-%m-%d"),
        "stages": stages,
        **({"variants": variant_stages} if variant_stages else {}),
        "total_seconds": round(sum(s["seconds"] for s in stages.values()), 1),
        "max_peak_mib": max(s["peak_mib"] for s in stages.values()),
        "test_roc_auc": metrics.get("roc_auc"),
        "oracle_roc_auc": metrics.get("oracle_roc_auc"),
        "auc_gap_to_oracle": metrics.get("auc_gap_to_oracle"),
        "n_test": metrics.get("n_test"),
    }


def main(
    sizes: list[int],
    stages: tuple[str, ...],
    settings: list[str],
    variants: list[str],
    again: tuple[str, ...] = (),
) -> None:
    out = ROOT / "benchmarks" / "results" / "stages.json"
    recorded = json.loads(out.read_text()) if out.exists() else {}
    for n in sizes:
        row = bench(n, stages, settings, variants, again)
        key = f"{n}" if stages == STAGES else f"{n}:{'+'.join(stages)}"
        rerun = [f"again:{'+'.join(again)}"] if again else []
        key = " ".join([key, *settings, *rerun, *(f"then:{v}" for v in variants)])
        recorded[key] = row | {"settings": settings}
        out.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
        cells = "  ".join(
            f"{k} {v['seconds']:.1f}s/{v['peak_mib']}MiB"
            for k, v in (row["stages"] | row.get("variants", {})).items()
        )
        print(f"[bench] {n:,}: {cells}  total {row['total_seconds']}s", flush=True)
        if row["test_roc_auc"] is not None:
            print(
                f"[bench] test AUC {row['test_roc_auc']:.4f}, oracle {row['oracle_roc_auc']:.4f},"
                f" gap {row['auc_gap_to_oracle']:.4f}",
                flush=True,
            )


if __name__ == "__main__":
    args, settings, variants, only = sys.argv[1:], [], [], STAGES
    while "--set" in args:  # a Hydra override for every size, e.g. experiment=large
        at = args.index("--set")
        settings.append(args[at + 1])
        del args[at : at + 2]
    while "--then" in args:  # the last stage again with more overrides, comma-separated
        at = args.index("--then")
        variants.append(args[at + 1])
        del args[at : at + 2]
    again = ()
    if "--again" in args:  # the stages each --then runs again, in order
        at = args.index("--again")
        again = tuple(args[at + 1].split(","))
        del args[at : at + 2]
    if "--only" in args:
        at = args.index("--only")
        only = tuple(args[at + 1].split(","))
        del args[at : at + 2]
    main([int(a) for a in args] or [200_000, 1_000_000], only, settings, variants, again)
