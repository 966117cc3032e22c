"""Killed stages and a tracking store that goes wrong: a run left RUNNING by a killed
`train` is marked FAILED and never used, temporary files of a killed write are removed,
a half-built SQLite store is named with its recovery, and a server that does not answer
stops a stage before it trains."""

from __future__ import annotations

import logging
import os
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
    (failed,) = [r for r in runs(tmp_path) if r.info.run_id == abandoned.info.run_id]
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


LOSE_SERVER_WHILE_LOGGING = """
import os, signal, sys
from pathlib import Path
sys.path[:0] = [{pipelines!r}]
from tiesignal import tracking

real = tracking.model_description

def server_gone(*args, **kwargs):  # the run is open on the server; now the server dies
    os.killpg({server_pid}, signal.SIGKILL)
    return real(*args, **kwargs)

tracking.model_description = server_gone
import train
from _stage import main
main(train.run, Path({root!r}))
"""


def test_a_server_lost_mid_run_fails_the_stage_within_a_minute(tmp_path):
    from conftest import mlflow_server

    store, artifacts = tmp_path / "server.db", tmp_path / "artifacts"
    with mlflow_server(store, artifacts, tmp_path) as (uri, server):
        params = tiny_params(f"tracking.tracking_uri={uri}")
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
        run_stages(tmp_path, params, ["simulate", "ingest", "prepare", "featurize"])
        script = LOSE_SERVER_WHILE_LOGGING.format(
            pipelines=str(ROOT / "pipelines"), root=str(tmp_path), server_pid=server.pid
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        started = time.monotonic()
        lost = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=600,
                              text=True, env=env)  # fmt: skip
        seconds = time.monotonic() - started
    print(f"lost server: the stage failed after {seconds:.1f} s")
    assert lost.returncode == 1, lost.stderr[-3000:]
    assert f"lost the tracking server {uri} during MLflow run" in lost.stderr
    assert "stays RUNNING there" in lost.stderr and "Traceback" not in lost.stderr
    assert seconds < 90, f"{seconds:.0f} s: a lost server must fail the stage in about a minute"


def test_a_full_disk_or_file_size_limit_names_the_file_and_leaves_nothing(tmp_path):
    """Issue 32: `ulimit -f` during a stage gave `OSError: [Errno 27] File too large`
    naming no file; an output that cannot be written is named, and no partial file stays."""
    out = tmp_path / "features" / "train.parquet"
    code = (
        "import resource, sys\n"
        "import pandas as pd\n"
        "from tiesignal.io import write_parquet\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "write_parquet(pd.DataFrame({'x': range(100_000)}), sys.argv[1])\n"
    )
    failed = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True,
                            text=True)  # fmt: skip
    assert failed.returncode != 0
    last = failed.stderr.strip().splitlines()[-1]
    assert str(out) in last and "could not be written" in last and "too large" in last
    assert list(out.parent.iterdir()) == []


def test_outputs_moved_aside_by_a_killed_run_are_put_back_by_the_next(tmp_path):
    """Issue 32: a stage moves its previous outputs aside while it runs (pipelines/_stage.py);
    a run killed then leaves them aside and its own half-written outputs in place. The next
    run puts the previous ones back before it starts, and again if it fails itself."""
    from _stage import previous_outputs_kept

    folder, report = tmp_path / "data" / "prepared", tmp_path / "reports" / "prepare.json"
    folder.mkdir(parents=True)
    (folder / "requests.parquet").write_text("previous")
    report.parent.mkdir()
    report.write_text("previous report")
    aside, log = tmp_path / ".tiesignal" / "previous" / "prepare", logging.getLogger("t")
    outputs = [folder, report]
    killed = f"""
import os, signal, sys
sys.path[:0] = [{str(ROOT / "pipelines")!r}]
from pathlib import Path
from _stage import previous_outputs_kept
import logging
outputs = [Path(o) for o in {[str(o) for o in outputs]!r}]
with previous_outputs_kept(outputs, Path({str(aside)!r}), Path({str(tmp_path)!r}),
                           logging.getLogger()):
    Path({str(folder)!r}).mkdir()
    Path({str(folder / "half.parquet")!r}).write_text("half written")
    os.kill(os.getpid(), signal.SIGKILL)
"""
    assert subprocess.run([sys.executable, "-c", killed]).returncode == -9
    assert (folder / "half.parquet").exists() and not report.exists() and aside.exists()
    with pytest.raises(RuntimeError), previous_outputs_kept(outputs, aside, tmp_path, log):
        assert not folder.exists() and not report.exists(), "each run starts from none"
        report.write_text("this run's, before it failed")
        raise RuntimeError("failed")
    assert sorted(p.name for p in folder.iterdir()) == ["requests.parquet"]
    assert (folder / "requests.parquet").read_text() == "previous"
    assert report.read_text() == "previous report" and not aside.exists()
    with previous_outputs_kept(outputs, aside, tmp_path, log):
        report.write_text("new")
    assert report.read_text() == "new" and not folder.exists() and not aside.exists()
