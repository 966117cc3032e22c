"""Killed stages and a tracking store that goes wrong: a run left RUNNING by a killed
`train` is marked FAILED and never used, temporary files of a killed write are removed,
a half-built SQLite store is named with its recovery, and a server that does not answer
stops a stage before it trains."""

from __future__ import annotations

import logging
import socket
import sqlite3
import subprocess
import sys
import time

import mlflow
import pytest
import yaml
from conftest import ROOT, run_stages, stage, tiny_params

from tiesignal import tracking
from tiesignal.config import TrackingConfig

KILL_WHILE_LOGGING = """
import os, signal, sys
from pathlib import Path
sys.path[:0] = [{pipelines!r}]
from tiesignal import tracking

def killed(*args, **kwargs):  # the run is open and tagged with the model's hash
    os.kill(os.getpid(), signal.SIGKILL)

tracking.model_description = killed
import train
from _stage import main
main(train.run, Path({root!r}))
"""


def runs(root, **filters) -> list:
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(tiny_params()["tracking"]["experiment"])
    found = client.search_runs([experiment.experiment_id], max_results=100)
    return [r for r in found if all(r.data.tags.get(k) == v for k, v in filters.items())]


def main_of(name: str, root, caplog) -> tuple[int, str]:
    from _stage import main

    caplog.clear()
    with caplog.at_level(logging.INFO):
        try:
            main(stage(name).run, root)
        except SystemExit as stopped:
            return int(stopped.code), caplog.text
    return 0, caplog.text


def test_a_killed_train_leaves_a_failed_run_that_evaluate_and_export_never_use(tmp_path, caplog):
    params = tiny_params()
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    run_stages(tmp_path, params, ["simulate", "ingest", "prepare", "featurize"])
    script = KILL_WHILE_LOGGING.format(pipelines=str(ROOT / "pipelines"), root=str(tmp_path))
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=600)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    (abandoned,) = runs(tmp_path)
    assert abandoned.info.status == "RUNNING" and "model_sha256" in abandoned.data.tags

    # a killed write's temporary files, inside a folder output and beside a file output
    (tmp_path / "plots" / "evaluate").mkdir(parents=True)
    stale = [tmp_path / "plots" / "evaluate" / ".pr.csv.x1.tmp", tmp_path / "metrics"]
    stale[1].mkdir()
    stale[1] = stale[1] / ".evaluate.json.x2.tmp"
    for path in stale:
        path.write_text("half written")
    code, logged = main_of("evaluate", tmp_path, caplog)  # no retraining: nothing to log into
    assert code == 0 and "marked FAILED" in logged and "removed 2 temporary file(s)" in logged
    assert not any(path.exists() for path in stale)
    (failed,) = runs(tmp_path, **{"model_sha256": abandoned.data.tags["model_sha256"]})
    assert failed.info.status == "FAILED" and "test_roc_auc" not in failed.data.metrics

    code, logged = main_of("export", tmp_path, caplog)
    assert code == 1 and "dvc repro --force train" in logged and "Traceback" not in logged

    run_stages(tmp_path, params, ["train", "evaluate", "export"])  # what `dvc repro` reruns
    trained = [
        r for r in runs(tmp_path) if r.info.status == "FINISHED" and "model_uri" in r.data.tags
    ]
    assert len(trained) == 1 and trained[0].info.run_id != abandoned.info.run_id
    assert trained[0].data.tags["model_sha256"] == abandoned.data.tags["model_sha256"]
    assert "test_roc_auc" in trained[0].data.metrics, "evaluate logged into the finished run"
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (version,) = client.search_model_versions(f"name = '{params['export']['registered_model']}'")
    assert version.run_id == trained[0].info.run_id


def test_a_half_built_sqlite_store_is_named_with_its_recovery(tmp_path):
    store = tmp_path / "mlflow.db"
    with sqlite3.connect(store) as db:  # what a kill during MLflow's migrations leaves
        db.execute("create table experiments (experiment_id integer)")
        db.execute("create table datasets (dataset_uuid text)")
    with pytest.raises(tracking.TrackingUnavailable, match=r"half-built .* holds no runs: delete"):
        tracking.connect(TrackingConfig("x"), tmp_path)
    store.unlink()
    leftover = tmp_path / ".mlflow.db.999999999.tmp"  # a creation killed before its link
    leftover.write_text("partial")
    tracking.connect(TrackingConfig("x"), tmp_path)
    assert store.exists() and not leftover.exists()
    assert tracking.connect(TrackingConfig("x"), tmp_path) is not None, "a whole store is used"


def test_a_tracking_server_that_does_not_answer_stops_train_before_training(tmp_path, caplog):
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{probe.getsockname()[1]}"
    params = tiny_params(f"tracking.tracking_uri={uri}")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    run_stages(tmp_path, params, ["simulate", "ingest", "prepare", "featurize"])
    started = time.monotonic()
    code, logged = main_of("train", tmp_path, caplog)
    assert code == 1 and f"MLflow tracking server {uri} does not answer" in logged
    assert "Traceback" not in logged and not (tmp_path / "models").exists(), "nothing trained"
    assert time.monotonic() - started < 60, "seconds, not MLflow's minutes of retries"
