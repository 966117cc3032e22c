"""The whole pipeline through real `dvc` in a fresh temporary git repo, on the tiny world."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import ROOT

pytestmark = pytest.mark.integration
STAGES = ("simulate", "ingest", "prepare", "featurize", "train", "evaluate", "compare", "export")
GENERATED = ("dvc.lock", "metrics/", "plots/", "reports/")


def run(
    repo: Path, *args: str, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    keep = ("MLFLOW_", "DVC_", "TIESIGNAL_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(keep)} | (env or {})
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
        "DVC_NO_ANALYTICS": "1",
    }
    out = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    if check and out.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        )
    return out


def commit_all(repo: Path, message: str) -> None:
    run(repo, "git", "add", "-A")
    identity = ("-c", "user.name=t", "-c", "user.email=t@example.invalid")
    run(repo, "git", *identity, "commit", "-qm", message)


def mlflow_runs(repo: Path, study: bool = False) -> list[dict]:
    """Training runs (or, with `study`, the feature-group study's runs) with their tags and
    params, read straight from the SQLite store."""
    with sqlite3.connect(repo / "mlflow.db") as db:
        runs = db.execute("select run_uuid from runs where status = 'FINISHED'").fetchall()
        out = []
        for (run_id,) in runs:
            tags = dict(db.execute("select key, value from tags where run_uuid=?", (run_id,)))
            params = dict(db.execute("select key, value from params where run_uuid=?", (run_id,)))
            metrics = dict(
                db.execute(
                    "select key, count(*) from metrics where run_uuid=? group by key", (run_id,)
                )
            )
            out.append({"id": run_id, "tags": tags, "params": params, "metric_counts": metrics})
    return [r for r in out if ("study" in r["tags"]) == study]


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A fresh git repo holding the project's tracked files, defaulting to the tiny world."""
    return make_repo(tmp_path_factory.mktemp("tiesignal"))


def make_repo(repo: Path, data: str = "simulated", before_commit=None) -> Path:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for name in tracked:
        if name.startswith(GENERATED) or not (ROOT / name).exists():
            continue
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    config = repo / "conf" / "config.yaml"
    text = config.read_text().replace("world: default", "world: tiny")
    config.write_text(text.replace("data: simulated", f"data: {data}"))
    study = repo / "conf" / "study" / "feature_groups.yaml"  # one seed keeps the test short
    study.write_text(study.read_text().replace("seeds: [1, 2, 3]", "seeds: [1]"))
    if before_commit is not None:
        before_commit(repo)
    run(repo, sys.executable, "scripts/compose_params.py")
    run(repo, "git", "init", "-q")
    commit_all(repo, "init")
    return repo


@pytest.fixture(scope="module")
def reproduced(repo: Path) -> subprocess.CompletedProcess:
    return run(repo, "dvc", "repro")


def test_repro_runs_every_stage_and_writes_the_outputs(repo, reproduced):
    for stage in STAGES:
        assert f"Running stage '{stage}'" in reproduced.stdout
    outputs = (
        "data/raw/requests.parquet",
        "data/raw/truth.json",
        "data/prepared/requests.parquet",
        "data/features/test.parquet",
        "models/train/model.txt",
        "plots/evaluate/roc.png",
        "data/predictions/test.parquet",
        "models/export/model.onnx",
        "models/export/mlflow_model/MLmodel",
        "models/export/model_card.md",
        "data/compare/test_scores.parquet",
    )
    for path in outputs:
        assert (repo / path).stat().st_size > 0, path
    metrics = json.loads((repo / "metrics" / "evaluate.json").read_text())
    assert 0.5 < metrics["roc_auc"] <= metrics["oracle_roc_auc"] + 0.05
    report = json.loads((repo / "reports" / "prepare.json").read_text())
    assert report["rows_in"] == report["rows_kept"] + report["rows_rejected"] == 6000
    assert "[simulate]   6000 / 6000 requests" in reproduced.stderr
    assert "[train] training lightgbm" in reproduced.stderr


def test_one_mlflow_run_with_tags_params_history_and_model(repo, reproduced):
    (run_,) = mlflow_runs(repo)
    commit = run(repo, "git", "rev-parse", "HEAD").stdout.strip()
    assert run_["tags"]["git_commit"] == commit
    assert len(run_["tags"]["data_sha256"]) == 32
    assert run_["params"]["model.learning_rate"] == "0.03"
    assert run_["params"]["world.n_requests"] == "6000"
    assert run_["metric_counts"]["valid_auc"] > 10, "per-iteration metrics"
    assert run_["metric_counts"]["test_roc_auc"] == 1
    artifacts = repo / "mlruns"
    mlmodel = next(artifacts.rglob("MLmodel"))
    assert "signature" in mlmodel.read_text() and (mlmodel.parent / "input_example.json").exists()
    assert any(p.name == "roc.png" for p in artifacts.rglob("*.png"))


def test_logged_model_pyfunc_returns_the_trained_probabilities(repo, reproduced):
    import mlflow.pyfunc
    import numpy as np

    from tiesignal.models.train import TrainedModel

    model_dir = next((repo / "mlruns").rglob("MLmodel")).parent
    example = pd.read_json(model_dir / "input_example.json", orient="split").astype("float64")
    got = np.asarray(mlflow.pyfunc.load_model(str(model_dir)).predict(example)).ravel()
    want = TrainedModel.load(repo / "models" / "train").predict(example)
    assert ((got > 0) & (got < 1)).all(), "probabilities, not labels"
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def registry(repo: Path) -> tuple[list[tuple], list[tuple]]:
    """(model versions, aliases) of the registry in the SQLite store."""
    with sqlite3.connect(repo / "mlflow.db") as db:
        versions = db.execute("select name, version, run_id from model_versions").fetchall()
        aliases = db.execute("select name, alias, version from registered_model_aliases").fetchall()
    return versions, aliases


def test_compare_writes_the_study_report_and_parent_child_runs(repo, reproduced):
    report = (repo / "reports" / "compare" / "report.md").read_text()
    assert "## Truth recovery (simulated world)" in report and "without_tie_strength" in report
    headline = json.loads((repo / "metrics" / "compare.json").read_text())
    assert -1 <= headline["spearman_loo_vs_truth"] <= 1
    runs = mlflow_runs(repo, study=True)
    (parent,) = [r for r in runs if r["tags"]["study_role"] == "parent"]
    children = [r for r in runs if r["tags"].get("mlflow.parentRunId") == parent["id"]]
    assert len(children) == 15 and {r["tags"]["seed"] for r in children} == {"1"}


def test_export_registers_the_trained_model_as_champion(repo, reproduced):
    versions, aliases = registry(repo)
    (run_,) = mlflow_runs(repo)
    assert versions == [("tiesignal-opportunity", 1, run_["id"])]
    assert aliases == [("tiesignal-opportunity", "champion", 1)]
    export = json.loads((repo / "metrics" / "export.json").read_text())
    assert export["onnx_max_abs_diff"] < 1e-5 and export["rows"] > 500


def test_second_repro_reruns_nothing(repo, reproduced):
    again = run(repo, "dvc", "repro")
    assert "Running stage" not in again.stdout
    assert "up to date" in run(repo, "dvc", "status").stdout


def test_forced_rerun_gives_identical_bytes(repo, reproduced):
    before = (repo / "dvc.lock").read_text()
    run(repo, "dvc", "repro", "--force")
    assert (repo / "dvc.lock").read_text() == before, "outputs changed between identical runs"
    assert len(mlflow_runs(repo)) == 2
    versions, _ = registry(repo)
    assert len(versions) == 1, "the same model is registered once"


def test_exp_run_with_a_param_override_and_a_queued_sweep(repo, reproduced):
    commit_all(repo, "lock")
    run(repo, "dvc", "exp", "run", "-S", "model.learning_rate=0.1", "-n", "fast-lr")
    assert yaml.safe_load((repo / "params.yaml").read_text())["model"]["learning_rate"] == 0.1

    run(repo, "dvc", "exp", "run", "--queue", "-S", "features=all,no_timing")
    run(repo, "dvc", "queue", "start", "-j", "1")
    deadline = time.time() + 600
    while time.time() < deadline:
        status = run(repo, "dvc", "queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(5)
    run(repo, "dvc", "queue", "stop", check=False)
    assert status.count("Success") == 2, status

    shown = json.loads(run(repo, "dvc", "exp", "show", "--json").stdout)
    names = json.dumps(shown)
    assert "fast-lr" in names
    runs = mlflow_runs(repo)
    by_set = {r["tags"].get("feature_set") for r in runs}
    assert {"all", "no_timing"} <= by_set, "queued runs must land in the parent repo's store"
    named = [r for r in runs if r["tags"].get("dvc_experiment") == "fast-lr"]
    assert named and named[0]["params"]["model.learning_rate"] == "0.1"
    versions, aliases = registry(repo)
    assert len(versions) >= 2, "experiments register their models too"
    assert aliases == [("tiesignal-opportunity", "champion", 1)], "only `dvc repro` promotes"


def test_bad_input_and_bad_config_stop_a_stage_with_one_clear_line(repo, reproduced):
    raw = repo / "data" / "interim" / "requests.parquet"
    pd.read_parquet(raw).drop(columns=["sent_at"]).to_parquet(raw)
    out = run(repo, "python", "pipelines/prepare.py", check=False)
    assert out.returncode == 1
    assert "data/interim/requests.parquet: missing required column(s) sent_at" in out.stderr
    assert "Traceback" not in out.stderr

    pd.read_parquet(raw).assign(sent_at="not a time").to_parquet(raw)
    out = run(repo, "python", "pipelines/prepare.py", check=False)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "all 6000 rows rejected" in out.stderr and "sent_at (6000 rows)" in out.stderr
    rejects = pd.read_parquet(repo / "data" / "prepared" / "rejects.parquet")
    assert len(rejects) == 6000 and set(rejects["reject_column"]) == {"sent_at"}

    raw.write_bytes(b"PAR1 this is not parquet")
    out = run(repo, "python", "pipelines/prepare.py", check=False)
    assert out.returncode == 1 and "data/interim/requests.parquet" in out.stderr
    assert "not a readable Parquet file" in out.stderr and "Traceback" not in out.stderr

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["model"]["learnig_rate"] = 0.1
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    out = run(repo, "python", "pipelines/train.py", check=False)
    assert out.returncode != 0
    assert "model.learnig_rate" in out.stderr and "Traceback" not in out.stderr
