"""MLflow, in one place: where runs go, what each run records, how a stage finds the run
that trained its model, and the registry.

The store is the SQLite file `mlflow.db` at the repo root by default, with artifacts in
`mlruns/` beside it, as absolute paths. Queued DVC experiments run in temporary copies;
DVC points `DVC_ROOT` at the real repo there, so their runs land in the same store.
Stages call these functions and never `mlflow` directly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.metadata
import json
import logging
import os
import socket
import sqlite3
import subprocess
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tiesignal.config import ExportConfig, TrackingConfig
from tiesignal.io import file_sha256, repo_home, write_json

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

    from tiesignal.models.train import TrainedModel
    from tiesignal.study.variants import Fit


def tracking_uri(cfg: TrackingConfig, root: Path) -> str:
    """`tracking.tracking_uri` if set, else $MLFLOW_TRACKING_URI, else the repo's SQLite
    store. (The config comes first: MLflow itself sets the variable once a URI is used.)"""
    if cfg.tracking_uri:
        return cfg.tracking_uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{repo_home(root) / 'mlflow.db'}"


UI = "http://127.0.0.1:5000"  # where `mlflow ui` serves a local store by default


def run_page(cfg: TrackingConfig, root: Path, run_id: str) -> str:
    """Where the MLflow UI shows a run, in its model-training view: the UI opens the
    GenAI view unless the link says `workflowType=machine_learning` (MLflow 3.x reads the
    link, then the browser's last choice, never the experiment's tags). A local store is
    served by `mlflow ui` first."""
    import mlflow

    uri = tracking_uri(cfg, root)
    experiment = mlflow.MlflowClient(uri).get_run(run_id).info.experiment_id
    page = f"#/experiments/{experiment}/runs/{run_id}?workflowType=machine_learning"
    if uri.startswith(("http://", "https://")):
        return f"{uri.rstrip('/')}/{page}"
    return f"{UI}/{page} (after `mlflow ui --backend-store-uri {uri}`)"


log = logging.getLogger(__name__)
# who runs a run: a RUNNING run whose process is gone was killed, and is marked FAILED
HOST_TAG, PID_TAG = "tiesignal.host", "tiesignal.pid"
# a server that does not answer fails a stage within a minute, not after MLflow's default
# seven retries over four minutes (the environment may still set other values)
HTTP_PATIENCE = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}


# the UI opens the experiment in its model-training view, with a description
EXPERIMENT_TAGS = {
    "mlflow.experimentKind": "custom_model_development",
    "mlflow.note.content": (
        "tiesignal: which connection requests lead to a job opportunity. Training runs "
        "(one per trained model, with test metrics from `evaluate`) and feature-group "
        "studies (tag `study`; a parent with one child per variant and seed)."
    ),
}


# the training run this workspace (a queued experiment's copy too) logged last: git- and
# DVC-ignored, so it never changes an output
RUN_RECORD = Path(".tiesignal") / "train_run.json"


class TrackingUnavailable(ConnectionError):
    """The tracking store cannot be used: a server that does not answer, or a broken store."""


def connect(cfg: TrackingConfig, root: Path) -> MlflowClient:
    """The tracking store, checked before a stage spends time: a server must answer within
    seconds, a SQLite store is created whole or not at all, and runs left RUNNING by killed
    processes on this machine are marked FAILED (once per process and store)."""
    import mlflow

    quiet_mlflow()
    uri = tracking_uri(cfg, root)
    if uri.startswith(("http://", "https://")):
        for variable, value in HTTP_PATIENCE.items():
            os.environ.setdefault(variable, value)
        _check_server(uri)
    elif uri.startswith("sqlite:///"):
        _ready_sqlite(Path(uri.removeprefix("sqlite:///")), repo_home(root) / "mlruns")
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(uri)
    _fail_abandoned_runs(uri, cfg.experiment)
    return client


# what MLflow prints on every run that says nothing about this one: its own registry
# resolving a local dataset source it registered twice, the raw-requests model from code
# (a DataFrame in, whose columns it checks itself), and a progress bar per download
MLFLOW_NOISE = ("dataset source can be interpreted in multiple ways",
                "Failed to infer model signature")  # fmt: skip


class _Noise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not any(noise in record.getMessage() for noise in MLFLOW_NOISE)


def quiet_mlflow() -> None:
    """The one place MLflow's noise is filtered, before any stage talks to MLflow."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for noise in MLFLOW_NOISE:
        warnings.filterwarnings("ignore", f".*{noise}")
    for name in ("mlflow", "mlflow.pyfunc"):
        if not any(isinstance(f, _Noise) for f in logging.getLogger(name).filters):
            logging.getLogger(name).addFilter(_Noise())


@contextlib.contextmanager
def start(cfg: TrackingConfig, root: Path, run_name: str) -> Iterator[Any]:
    """A run in the configured experiment, tagged with this process. A run whose server
    goes away fails the stage at once, saying that the run is left RUNNING there."""
    import mlflow

    connect(cfg, root)
    experiment = mlflow.get_experiment_by_name(cfg.experiment)
    if experiment is None:
        artifacts = (repo_home(root) / "mlruns").as_uri()
        mlflow.create_experiment(cfg.experiment, artifact_location=artifacts)
    mlflow.set_experiment(cfg.experiment)
    for key, value in EXPERIMENT_TAGS.items():
        mlflow.set_experiment_tag(key, value)
    if os.environ.get("DVC_EXP_NAME"):
        run_name = f"{os.environ['DVC_EXP_NAME']}/{run_name}"
    run = mlflow.start_run(run_name=run_name, tags=_process_tags())
    try:
        yield run
    except BaseException as err:
        uri = tracking_uri(cfg, root)
        if not _server_lost(uri, err):
            mlflow.end_run("FAILED")
            raise
        os.environ.update(MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="2")
        with contextlib.suppress(Exception):  # the server is gone: say so below
            mlflow.end_run("FAILED")
        raise TrackingUnavailable(
            f"lost the tracking server {uri} during MLflow run {run.info.run_id}: the run "
            "stays RUNNING there until a later stage reaches the server and marks it FAILED"
        ) from None
    mlflow.end_run("FINISHED")


def _process_tags() -> dict[str, str]:
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def _check_server(uri: str) -> None:
    import requests

    try:
        requests.get(f"{uri.rstrip('/')}/health", timeout=5)
    except requests.RequestException as err:
        raise TrackingUnavailable(
            f"MLflow tracking server {uri} does not answer ({type(err).__name__}); start it, "
            "or unset MLFLOW_TRACKING_URI / tracking.tracking_uri to use the local store"
        ) from None


def _server_lost(uri: str, err: BaseException) -> bool:
    """Whether `err` says the tracking server stopped answering."""
    import requests
    from mlflow.exceptions import MlflowException

    if not uri.startswith(("http://", "https://")):
        return False
    if isinstance(err, requests.RequestException):
        return True
    text = str(err)
    return isinstance(err, MlflowException) and (
        "Max retries exceeded" in text or "Connection" in text or "timed out" in text
    )


def _ready_sqlite(path: Path, artifacts: Path) -> None:
    """Create the SQLite store in a temporary file and link it into place, so that a kill
    while MLflow builds its tables cannot leave a half-built store; refuse one that is
    half-built (by another tool, or an older version of this one) with how to recover."""
    if path.exists():
        _check_schema(path)
        _check_writable(path, artifacts)
        return
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # a creation that was killed
        if not _alive(int(stale.name.split(".")[-2])):
            stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        SqlAlchemyStore(f"sqlite:///{tmp}", artifacts.as_uri()).engine.dispose()
        os.link(tmp, path)  # fails if another process created the store meanwhile: theirs wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def _check_writable(path: Path, artifacts: Path) -> None:
    """A store this process cannot write would fail the stage after its outputs were
    written: refuse it first, naming the file (SQLite writes the store and a journal
    beside it; runs write their artifacts)."""
    targets = [path, path.parent] + ([artifacts] if artifacts.exists() else [])
    for target in targets:
        if not os.access(target, os.W_OK):
            raise TrackingUnavailable(
                f"{target}: the MLflow store is not writable by this user; make it "
                "writable, or set tracking.tracking_uri to a store you can write"
            )


def _check_schema(path: Path) -> None:
    from mlflow.store.db.utils import _get_latest_schema_revision

    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        tables = {name for (name,) in db.execute("select name from sqlite_master")}
        found = (
            db.execute("select version_num from alembic_version").fetchone()
            if "alembic_version" in tables
            else None
        )
        runs = db.execute("select count(*) from runs").fetchone()[0] if "runs" in tables else 0
    found = found[0] if found else None
    head = _get_latest_schema_revision()
    if found == head:
        return
    if not runs:
        raise TrackingUnavailable(
            f"{path}: the MLflow store is half-built (schema {found}, expected {head}; a stage "
            f"killed while creating it?) and holds no runs: delete it (rm {path}) and rerun"
        )
    raise TrackingUnavailable(
        f"{path}: the MLflow store has schema {found}, this MLflow needs {head}; back it up, "
        f"then run: mlflow db upgrade sqlite:///{path}"
    )


@functools.cache
def _fail_abandoned_runs(uri: str, experiment: str) -> None:
    """Mark FAILED the RUNNING runs of this experiment whose process, on this machine, is
    gone: a killed stage's run must never look alive, or be found as a model's run."""
    import mlflow

    client = mlflow.MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return
    host = socket.gethostname()
    for run in client.search_runs(
        [found.experiment_id], "attributes.status = 'RUNNING'", max_results=1000
    ):
        tags = run.data.tags
        pid = tags.get(PID_TAG, "")
        if tags.get(HOST_TAG) == host and pid.isdigit() and not _alive(int(pid)):
            client.set_terminated(run.info.run_id, "FAILED")
            log.warning(
                "MLflow run %s was left RUNNING by a killed process (pid %s): marked FAILED",
                run.info.run_id,
                pid,
            )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_tags(root: Path, data: Mapping[str, Path]) -> dict[str, str]:
    """Git commit, DVC experiment name, and the full SHA-256 of each data file the run
    read (`data.<name>.sha256`), the same way for every kind of run."""
    tags = {"git_commit": _git_commit(root)}
    tags |= {f"data.{name}.sha256": file_sha256(path) for name, path in data.items()}
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc_experiment"] = os.environ["DVC_EXP_NAME"]
    return tags


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """{'model': {'learning_rate': 0.05}} -> {'model.learning_rate': '0.05'}"""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)[:6000]
    return flat


def config_params(**sections: Any) -> dict[str, str]:
    """Typed config sections as flat MLflow params: only the keys each section has (a
    logistic model logs no LightGBM keys)."""
    return flatten({name: dataclasses.asdict(cfg) for name, cfg in sections.items()})


def model_description(example, predictions, packages: tuple[str, ...]) -> dict:
    """Signature, input example and the model kind's `packages` pinned to the installed
    versions (pinning avoids MLflow's slow requirement inference and keeps serving
    reproducible)."""
    from mlflow.models import infer_signature

    return {
        "signature": infer_signature(example, predictions),
        "input_example": example,
        "pip_requirements": [f"{p}=={importlib.metadata.version(p)}" for p in packages],
    }


def matrix_dataset(matrix: pd.DataFrame, file: Path, name: str, sha256: str):
    """An MLflow dataset of a model matrix read from `file`: its schema and the file's
    digest (`sha256`, shortened to fit MLflow's column). Column types come from the first
    rows and `required` (no value missing) from every row at once: `mlflow.data.from_pandas`
    tests each value in Python, which took 150 s of `train` at 10M requests. The row counts
    are the run's `n_train`, `n_valid`."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.models import infer_signature
    from mlflow.types.schema import ColSpec, Schema

    missing = matrix.isna().any()
    types = infer_signature(matrix.head(1000)).inputs.inputs
    schema = Schema([ColSpec(c.type, c.name, required=not missing[c.name]) for c in types])
    source = resolve_dataset_source(file.as_uri())
    return MetaDataset(source, name=name, digest=sha256[:16], schema=schema)


# ---------------------------------------------------------------- one run per trained model


def log_training(
    cfg: TrackingConfig,
    root: Path,
    model: TrainedModel,
    model_sha256: str,
    data: Mapping[str, Path],
    params: dict[str, str],
    run_name: str,
    tags: dict[str, str],
    matrices: Mapping[str, pd.DataFrame],
    counts: dict[str, int],
) -> str:
    """The training run: tags, params, per-iteration metrics and the model with its
    signature (its pyfunc returns P(opportunity)); returns the run's id."""
    import mlflow
    from mlflow.entities import Metric

    earlier = training_run(cfg, root, model_sha256)  # the same model, trained before
    repeat = {"repeat_of": earlier.info.run_id} if earlier is not None else {}
    read = run_tags(root, data)  # the data files' digests, also the datasets' below
    with start(cfg, root, run_name=run_name) as run:
        mlflow.set_tags(
            {**read, "model_sha256": model_sha256, "model_kind": model.kind, **repeat, **tags}
        )
        mlflow.log_params(params)
        logged_at = int(time.time() * 1000)  # MLflow's clock, not the files': real time
        history = [
            Metric(name, float(value), logged_at, step)
            for name, values in model.history.items()
            for step, value in enumerate(values, start=1)
        ]
        client = mlflow.MlflowClient()
        for i in range(0, len(history), 1000):
            client.log_batch(run.info.run_id, metrics=history[i : i + 1000])
        mlflow.log_metrics({"best_iteration": model.best_iteration, **model.at_best, **counts})
        for name, matrix in matrices.items():  # schema, source and digest in the UI
            dataset = matrix_dataset(matrix, data[name], name, read[f"data.{name}.sha256"])
            mlflow.log_input(dataset, context="training" if name == "train" else name)
        example = matrices["valid"].head(5)
        described = model_description(example, model.predict(example), model.requirements)
        info = model.log_to_mlflow("model", **described)
        mlflow.set_tag("model_uri", info.model_uri)  # what `register` registers
        run_id = run.info.run_id
    write_json({"model_sha256": model_sha256, "run_id": run_id}, root / RUN_RECORD)
    return run_id


def recorded_run(root: Path, model_sha256: str) -> dict | None:
    """The training run this workspace recorded for this model file, if any: how a later
    stage finds its own experiment's run (by hash it could find another experiment's)."""
    path = root / RUN_RECORD
    if not path.exists():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    return record if record.get("model_sha256") == model_sha256 else None


def training_run(cfg: TrackingConfig, root: Path, model_sha256: str):
    """The newest finished MLflow run that logged the model file with this hash, in any
    experiment, or None (a killed or failed run never holds a model a stage should use)."""
    import mlflow

    connect(cfg, root)
    runs = mlflow.search_runs(
        experiment_names=[cfg.experiment],
        filter_string=f"tags.model_sha256 = '{model_sha256}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=100,
        output_format="list",
    )
    return next((r for r in runs if "model_uri" in r.data.tags), None)


def log_evaluation(
    cfg: TrackingConfig,
    root: Path,
    model_sha256: str,
    model_kind: str,
    scores: dict[str, float],
    artifacts: list[Path],
    data: Mapping[str, Path],
) -> str:
    """Test metrics and plots, added to the training run this workspace recorded for this
    model file, once; otherwise (the model came from DVC's cache, or was evaluated
    already) to a run of their own that names the training run and carries its params,
    tags and datasets, so it compares beside the others in the UI. Never to another
    experiment's run, and without reopening one. `data`: the files evaluated (tagged by
    digest). Returns the run's id."""
    import mlflow

    metrics = {f"test_{k}": v for k, v in scores.items()}
    record = recorded_run(root, model_sha256)
    if record is not None and not record.get("evaluated"):
        _log_evaluation(connect(cfg, root), record["run_id"], metrics, artifacts)
        write_json({**record, "evaluated": True}, root / RUN_RECORD)
        return record["run_id"]
    client = connect(cfg, root)
    trained = (client.get_run(record["run_id"]) if record is not None
               else training_run(cfg, root, model_sha256))  # fmt: skip
    tags = {**run_tags(root, data), "model_sha256": model_sha256,
            "training_run": trained.info.run_id if trained is not None else "unknown"}  # fmt: skip
    with start(cfg, root, run_name=f"{model_kind}-evaluate") as run:
        if trained is not None:
            mlflow.log_params(trained.data.params)
            tags = {**_carried(trained.data.tags), **tags}
            client.log_inputs(run.info.run_id, datasets=trained.inputs.dataset_inputs)
        mlflow.set_tags(tags)
        _log_evaluation(client, run.info.run_id, metrics, artifacts)
        return run.info.run_id


def _carried(tags: Mapping[str, str]) -> dict[str, str]:
    """A training run's own tags, for an evaluate-only run: not MLflow's or the process's,
    nor those of the model it holds (the evaluate-only run holds none)."""
    model = ("model_uri", "repeat_of")
    return {k: v for k, v in tags.items()
            if not k.startswith(("mlflow.", "tiesignal.")) and k not in model}  # fmt: skip


def _log_evaluation(client, run_id: str, metrics: dict, artifacts: list[Path]) -> None:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()])
    for path in artifacts:
        if path.is_dir():
            client.log_artifacts(run_id, str(path), artifact_path="evaluate")
        else:
            client.log_artifact(run_id, str(path), artifact_path="evaluate")


# ---------------------------------------------------------------- the study


def log_study(
    cfg: TrackingConfig,
    root: Path,
    study_name: str,
    fits: list[Fit],
    y_test: np.ndarray,
    params: dict[str, str],
    headline: dict[str, float],
    data: Mapping[str, Path],
    artifacts: Path,
    summary: pd.DataFrame,
    world: Mapping | None = None,
    causal: list | None = None,
    description: str = "",
) -> str:
    """One parent run and one child per variant and seed, so the UI's compare view lines
    the variants up (group by the `variant`, `kind` or `group` param); the parent holds
    each variant's change with its interval, as metrics `<variant>.delta_roc_auc[_low|_high]`
    and as the table `study/summary.json`, and the simulated world's coefficients (`world`,
    as `study/world.json`; params.yaml holds only its size and seed). `causal`: the causal
    section's effects (study/causal.py), one child run each (`study_role` causal), its
    metrics named by estimand. `description`: the findings, shown as the parent's
    description. Returns the parent's id."""
    import mlflow
    from sklearn.metrics import average_precision_score, roc_auc_score

    tags = {**run_tags(root, data), "study": study_name}
    full_by_seed = {f.seed: f.test_scores for f in fits if f.variant.kind == "full"}
    intervals = {
        f"{row['variant']}.{column}": float(row[column])
        for _, row in summary[summary["kind"] != "full"].iterrows()
        for column in summary.columns
        if column.startswith("delta_") and not column.endswith("seed_sd")
    }
    with start(cfg, root, run_name=f"study-{study_name}") as parent:
        mlflow.set_tags({**tags, "study_role": "parent", "mlflow.note.content": description})
        mlflow.log_params(params)
        mlflow.log_metrics({**headline, "models": len(fits), **intervals})
        mlflow.log_table(summary, artifact_file="study/summary.json")
        if world is not None:
            mlflow.log_dict(dict(world), "study/world.json")
        for fit in fits:
            v = fit.variant
            with mlflow.start_run(run_name=f"{v.name}-seed{fit.seed}", nested=True):
                mlflow.set_tags(
                    {**tags, **_process_tags(), "study_role": "variant", "variant": v.name,
                     "kind": v.kind, "group": v.group or "all", "seed": str(fit.seed),
                     "from_study_cache": str(fit.cached).lower()}
                )  # fmt: skip
                mlflow.log_params(
                    {"variant": v.name, "kind": v.kind, "group": v.group or "all", "seed": fit.seed}
                )
                auc = roc_auc_score(y_test, fit.test_scores)
                ap = average_precision_score(y_test, fit.test_scores)
                full = full_by_seed[fit.seed]
                mlflow.log_metrics(
                    {
                        "test_roc_auc": auc,
                        "test_pr_auc": ap,
                        "delta_roc_auc": auc - roc_auc_score(y_test, full),
                        "delta_pr_auc": ap - average_precision_score(y_test, full),
                        "best_iteration": fit.model.best_iteration,
                        "fit_seconds": fit.seconds,
                    }
                )
        for effect in causal or []:
            with mlflow.start_run(run_name=f"{effect.treatment}-{effect.method}", nested=True):
                mlflow.set_tags({**tags, "study_role": "causal", "treatment": effect.treatment,
                                 "method": effect.method})  # fmt: skip
                mlflow.log_params(
                    {"treatment": effect.treatment, "method": effect.method,
                     "assumption": effect.assumption, "rows": effect.rows}
                )  # fmt: skip
                mlflow.log_metrics(effect.metrics())
        mlflow.log_artifacts(str(artifacts), artifact_path="compare")
        return parent.info.run_id


# ---------------------------------------------------------------- the registry


@dataclasses.dataclass(frozen=True)
class Registered:
    name: str
    version: str
    alias_moved: bool  # False inside a DVC experiment: experiments never promote


def register(
    cfg: TrackingConfig, export: ExportConfig, root: Path, model_sha256: str
) -> Registered:
    """The trained model as a registry version (one per distinct model file). `dvc repro`
    moves the alias to it; a DVC experiment registers its version and leaves the alias, so
    a queued sweep cannot promote whichever variant happens to finish last."""
    import mlflow

    client = connect(cfg, root)
    name = export.registered_model
    version = _version_holding(client, name, model_sha256)
    if version is None:
        record = recorded_run(root, model_sha256)
        trained = client.get_run(record["run_id"]) if record else None
        trained = trained or training_run(cfg, root, model_sha256)
        if trained is None or "model_uri" not in trained.data.tags:
            raise FileNotFoundError(
                f"no MLflow run in {tracking_uri(cfg, root)} logged "
                "models/train/model.txt (store reset?); `dvc repro --force train` logs it again"
            )
        tags = {"model_sha256": model_sha256, **run_tags(root, {})}
        version = mlflow.register_model(trained.data.tags["model_uri"], name, tags=tags).version
    in_experiment = bool(os.environ.get("DVC_EXP_NAME"))
    if not in_experiment:
        client.set_registered_model_alias(name, export.alias, version)
    return Registered(name, str(version), alias_moved=not in_experiment)


def _version_holding(client, name: str, model_sha256: str) -> str | None:
    """The first registry version of `name` whose model file has this hash, or None."""
    same_model = client.search_model_versions(
        f"name = '{name}' and tags.model_sha256 = '{model_sha256}'",
        order_by=["version_number ASC"],
    )
    return str(same_model[0].version) if same_model else None


@dataclasses.dataclass(frozen=True)
class Champion:
    alias_version: str | None  # where the alias points (None: nowhere)
    on_disk_version: str | None  # the version whose model file is models/export's
    moved: bool  # the alias was moved to the model on disk

    @property
    def drifted(self) -> bool:
        return self.alias_version != self.on_disk_version


def champion(cfg: TrackingConfig, export: ExportConfig, root: Path, model_sha256: str,
             fix: bool) -> Champion:  # fmt: skip
    """Whether the alias names the model on disk: `dvc checkout` or `dvc exp apply` can
    restore `models/export` without running `export`, leaving a server of `@alias` with a
    model that is no longer the project's. With `fix`, the alias moves back to the model
    on disk."""
    from mlflow.exceptions import MlflowException

    client = connect(cfg, root)
    name = export.registered_model
    on_disk = _version_holding(client, name, model_sha256)
    try:
        aliased = str(client.get_model_version_by_alias(name, export.alias).version)
    except MlflowException:  # no such alias, or no such model
        aliased = None
    moved = fix and on_disk is not None and aliased != on_disk
    if moved:
        client.set_registered_model_alias(name, export.alias, on_disk)
    return Champion(aliased, on_disk, moved)


def _git_commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
