"""Shared fixtures: configs composed from the real conf/, and a small simulated world."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from tiesignal.config import ModelConfig, PrepareConfig, WorldConfig, load, load_world
from tiesignal.config import composed as compose_conf
from tiesignal.export.bundle import write_export
from tiesignal.export.card import model_card
from tiesignal.features.build import encode, feature_tables
from tiesignal.features.registry import FEATURES, describe
from tiesignal.models.train import train
from tiesignal.prepare import label_and_split
from tiesignal.schema import LABEL, SPLITS, validate_requests
from tiesignal.simulate import TruthAccumulator, simulate_world

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "pipelines"), str(ROOT / "scripts")]  # stages, callable in process
STAGES = ("simulate", "ingest", "prepare", "featurize", "train", "evaluate", "compare", "export")


def composed(*overrides: str) -> dict:
    """conf/ composed the way DVC composes it, as plain data."""
    return compose_conf(ROOT / "conf", list(overrides))


TRACKING_ENV = ("MLFLOW_TRACKING_URI", "DVC_ROOT", "DVC_EXP_NAME")


@contextmanager
def no_tracking_env():
    """No tracking URI or DVC experiment in the environment inside, and none left behind
    (`mlflow.set_tracking_uri` sets MLFLOW_TRACKING_URI)."""
    saved = {var: os.environ.pop(var, None) for var in TRACKING_ENV}
    try:
        yield
    finally:
        for var, value in saved.items():
            os.environ.pop(var, None)
            if value is not None:
                os.environ[var] = value


@pytest.fixture(autouse=True)
def _no_tracking_env():
    with no_tracking_env():
        yield


def stage(name: str):
    """The module `pipelines/<name>.py`; its `run(cfg, paths)` is the stage."""
    return importlib.import_module(name)


def run_stages(root: Path, params: dict, names=STAGES) -> dict:
    """Run stages in process, in order, on files under `root`; their summaries by name."""
    from _stage import Paths, stage_config

    summaries = {}
    for name in names:
        run = stage(name).run
        summaries[name] = run(stage_config(run, params), Paths(root))
    return summaries


GENERATED = ("dvc.lock", "metrics/", "plots/", "reports/")  # what the pipeline rewrites


def copy_project(repo: Path) -> Path:
    """The project's tracked files (as they are in the working tree) copied into `repo`,
    without what the pipeline generates: a fresh clone's sources, uncommitted edits too."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for name in tracked:
        if name.startswith(GENERATED) or not (ROOT / name).exists():
            continue
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    return repo


def tiny_params(*overrides: str) -> dict:
    """conf/ on the tiny world with a one-seed study: the whole pipeline in seconds."""
    return composed("world=tiny", "study.seeds=[1]", *overrides)


def world_config(world: str = "tiny", **changes) -> WorldConfig:
    """A world of conf/world/ (the tiny one by default), with `changes` laid over it."""
    cfg = load_world(composed(f"world={world}")["world"], ROOT)
    return dataclasses.replace(cfg, **changes)


def simulate(cfg: WorldConfig) -> tuple[pd.DataFrame, pd.DataFrame, TruthAccumulator]:
    acc = TruthAccumulator()
    records, truths = [], []
    for r, t in simulate_world(cfg):
        records.append(r)
        truths.append(t)
        acc.add(t)
    return pd.concat(records, ignore_index=True), pd.concat(truths, ignore_index=True), acc


@pytest.fixture(scope="session")
def tiny_world() -> tuple[WorldConfig, pd.DataFrame, pd.DataFrame, TruthAccumulator]:
    cfg = world_config()
    return (cfg, *simulate(cfg))


@pytest.fixture(scope="session")
def split_config() -> PrepareConfig:
    return load(PrepareConfig, composed()["split"], "split")


RANGE = ("2000-01-01", "2100-01-01")
SERVING_LIMITS = {
    "max_rows_per_call": 100,
    "max_cell_chars": 2000,
    "max_call_chars": 20000,
}  # what one call may hold


@pytest.fixture(scope="session")
def tiny_requests(tiny_world, split_config) -> pd.DataFrame:
    """The tiny world's requests as `prepare` leaves them: validated, labelled, split.
    Shared by the feature tests: copy before changing it."""
    kept = validate_requests(tiny_world[1], "raw", *RANGE).kept
    return label_and_split(kept, split_config).requests


@pytest.fixture(scope="session")
def trained(tiny_world, split_config):
    """A LightGBM model on the tiny world, its test matrix, and the raw requests."""
    raw = tiny_world[1].drop(columns=["note"])
    kept = validate_requests(raw, "raw", *RANGE).kept
    prepared = label_and_split(kept, split_config)
    req = prepared.requests
    tables, feature_spec = feature_tables(req, split_config.label_window_days, 20.0)
    levels = feature_spec["category_levels"]
    chosen = list(FEATURES)
    X = {s: encode(tables[s], chosen, levels) for s in SPLITS}
    y = {s: tables[s][LABEL].astype(int).to_numpy() for s in SPLITS}
    cfg = load(ModelConfig, composed()["model"] | {"max_rounds": 80}, "model")
    categorical = [f.name for f in chosen if f.kind == "categorical"]
    model = train(cfg, X["train"], y["train"], X["valid"], y["valid"], categorical, print)
    text = model.booster.model_to_string(num_iteration=model.best_iteration)
    spec = {**describe(chosen, levels), "label": LABEL, "valid_sent_at": list(RANGE),
            "data_end": prepared.report["data_end"], "serving_limits": SERVING_LIMITS,
            "track_record_prior": feature_spec["track_record_prior"]}  # fmt: skip
    metrics = {"roc_auc": 0.8, "pr_auc": 0.1}
    card = model_card(
        spec,
        metrics,
        {**prepared.report, "sources": {"simulated": len(raw)}},
        {"registered_model": "m", "alias": "champion", "trees": 80, "feature_set": "all"},
    )
    return {"text": text, "spec": spec, "card": card, "X_test": X["test"], "raw": raw}


@pytest.fixture(scope="session")
def exported(trained, tmp_path_factory):
    folder = tmp_path_factory.mktemp("export") / "model"
    agreement = write_export(
        folder, trained["text"], trained["spec"], trained["card"], trained["X_test"], 1e-5
    )
    return folder, agreement


def stop_process_group(process: subprocess.Popen, grace: float = 20.0) -> bool:
    """End a server started with `start_new_session=True` and every process it spawned:
    SIGTERM to the group, SIGKILL to what is left after `grace` seconds. True if none is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.time() + grace
        while time.time() < deadline:
            process.poll()  # reap the leader so it does not linger as a zombie
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.2)
    return False


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def local_server(
    command: Callable[[int], list[str]],
    ready: str,
    cwd: Path,
    env: Mapping[str, str] = {},
    log: Path | None = None,
    within: float = 180,
):
    """`command(port)` on a free port of 127.0.0.1 (with this environment's executables,
    and no MLFLOW_ setting of the caller's), in its own process group, ended as a whole;
    yields (its base URL, the process) once GET `ready` answers. Its stderr goes to `log`."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")} | dict(env)
    environ["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{environ['PATH']}"
    with open(log or os.devnull, "w") as stderr:
        server = subprocess.Popen(
            command(port), cwd=cwd, env=environ, stdout=subprocess.DEVNULL, stderr=stderr,
            start_new_session=True,  # its own process group, ended as a whole
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + within
        while True:
            try:
                with urllib.request.urlopen(f"{base}{ready}", timeout=2):
                    break
            except OSError:
                said = log.read_text()[-2000:] if log else ""
                assert server.poll() is None, f"the server stopped: {said}"
                assert time.time() < deadline, f"server not ready in {within:.0f} s: {said}"
                time.sleep(0.5)
        yield base, server
    finally:
        assert stop_process_group(server), "a process of the server's group outlived SIGKILL"


def model_server(model: Path, cwd: Path, log: Path):
    """`mlflow models serve` of `model` in this environment; yields (base URL, process)."""
    command = ["mlflow", "models", "serve", "-m", str(model), "--env-manager", "local"]
    return local_server(lambda port: [*command, "-h", "127.0.0.1", "-p", str(port)], "/ping",
                        cwd, log=log, within=120)  # fmt: skip


def as_split(frame: pd.DataFrame) -> dict:
    """`frame` as a client puts it in a `dataframe_split` body for `mlflow models serve`:
    its columns and rows as JSON gives them (ISO times, no index)."""
    split = json.loads(frame.to_json(orient="split", date_format="iso", index=False))
    return {"columns": split["columns"], "data": split["data"]}


@contextmanager
def mlflow_server(store: Path, artifacts: Path, cwd: Path):
    """A real `mlflow server` of SQLite `store`; yields (its URI, the process)."""
    with local_server(
        lambda port: ["mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                      "--workers", "1", "--backend-store-uri", f"sqlite:///{store}",
                      "--default-artifact-root", artifacts.as_uri()],
        "/health", cwd, env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    ) as (uri, server):  # fmt: skip
        yield uri, server
