"""Every stage called in process on a temporary root: what dvc.yaml declares is what the
stages import, read and write; the whole pipeline repeats byte for byte; MLflow and the
registry hold what they should; failures are one clear line."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sqlite3
import typing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, STAGES, no_tracking_env, run_stages, stage, tiny_params
from stage_deps import SRC, imported_files, stage_code

from tiesignal.features.registry import GROUPS
from tiesignal.models.train import load_model

DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def _code_deps(name: str) -> set[str]:
    return {d for d in DVC[name]["deps"] if d.startswith(("src/", "pipelines/"))}


@pytest.mark.parametrize("name", STAGES)
def test_dvc_deps_are_the_code_each_stage_imports(name):
    runs = {str(p.relative_to(ROOT)) for p in stage_code(name)}
    declared = _code_deps(name)
    fix = "run `python scripts/stage_deps.py --write`"
    assert not runs - declared, f"dvc.yaml stage {name} misses {sorted(runs - declared)}: {fix}"
    assert not declared - runs, f"dvc.yaml stage {name} declares unused {declared - runs}: {fix}"


def test_the_import_graph_sees_lazy_imports_and_skips_type_checking(tmp_path):
    files = {str(p.relative_to(ROOT)) for p in stage_code("evaluate")}
    assert "src/tiesignal/tracking.py" in files  # imported at the top of the stage
    assert "src/tiesignal/study/variants.py" not in files  # only under TYPE_CHECKING there
    assert "src/tiesignal/simulate/exports.py" not in stage_code("simulate")


def test_no_stage_asks_where_it_runs():
    """The executor `compute` names decides where a stage's parts run (tiesignal.compute);
    a stage that tested compute.kind or held a Dask client would keep two code paths."""
    for path in sorted((ROOT / "pipelines").glob("*.py")):
        code = path.read_text(encoding="utf-8")
        for asked in ("compute.kind", "dask_client", "distributed", '"dask"'):
            assert asked not in code, f"{path.name} asks where it runs ({asked})"


def test_the_library_imports_in_no_circle():
    """Modules import down, never back: a circle makes import order matter (packages'
    __init__ aside, which import what they sit over)."""
    modules = [p for p in SRC.rglob("*.py") if p.name != "__init__.py"]
    imports = {m: {f for f in imported_files(m) if f.name != "__init__.py"} for m in modules}
    done: set[Path] = set()

    def visit(module: Path, path: list[Path]) -> None:
        if module in path:
            circle = path[path.index(module) :] + [module]
            raise AssertionError(" -> ".join(str(m.relative_to(SRC)) for m in circle))
        if module not in done:
            for imported in sorted(imports.get(module, ())):
                visit(imported, [*path, module])
            done.add(module)

    for module in sorted(modules):
        visit(module, [])


@pytest.mark.parametrize("name", STAGES)
def test_dvc_params_are_the_sections_each_stage_loads(name):
    cls = typing.get_type_hints(stage(name).run)["cfg"]
    loaded = {f.name for f in dataclasses.fields(cls)}
    declared = {p.split(".")[0] for p in DVC[name].get("params", [])}
    assert loaded == declared, f"{name}: loads {loaded}, dvc.yaml declares {declared}"


def _outputs(name: str) -> list[str]:
    entries = DVC[name].get("outs", []) + DVC[name].get("metrics", [])
    return [next(iter(e)) if isinstance(e, dict) else e for e in entries]


def _tree(root: Path) -> dict[str, str]:
    """Every file the stages wrote, with its hash (the MLflow store and the record of its
    training run aside)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and not p.relative_to(root).as_posix().startswith(("mlruns/", "mlflow", ".tiesignal/"))
    }


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> tuple[Path, dict]:
    """The whole pipeline in process on the tiny world."""
    root = tmp_path_factory.mktemp("pipeline")
    with no_tracking_env():
        return root, run_stages(root, tiny_params())


def test_each_stage_writes_only_what_dvc_yaml_declares(pipeline):
    root, _ = pipeline
    declared = [o for name in STAGES for o in _outputs(name)]
    written = _tree(root)
    undeclared = [f for f in written if not any(f == o or f.startswith(o + "/") for o in declared)]
    assert not undeclared
    for output in declared:
        assert any(f == output or f.startswith(output + "/") for f in written), output


def test_the_pipeline_repeats_byte_for_byte(pipeline, tmp_path):
    root, _ = pipeline
    run_stages(tmp_path, tiny_params())
    assert _tree(tmp_path) == _tree(root)


def test_outputs_hold_what_each_stage_promises(pipeline):
    root, summaries = pipeline
    report = json.loads((root / "reports" / "prepare.json").read_text())
    assert report["rows_in"] == report["rows_kept"] + report["rows_rejected"] == 6000
    metrics = json.loads((root / "reports" / "evaluate.json").read_text())
    assert 0.5 < metrics["roc_auc"] <= metrics["oracle_roc_auc"] + 0.05
    compared = json.loads((root / "metrics" / "evaluate.json").read_text())
    assert compared == {k: metrics[k] for k in ("roc_auc", "pr_auc", "brier", "log_loss")}
    # beside it, the oracle that does not know the sender's intent, on the same test rows
    blind = metrics["oracle_intent_unknown_roc_auc"]
    assert 0.5 < blind < metrics["oracle_roc_auc"]
    assert (
        f"({blind:.4f} to an oracle that does not know the intent)"
        in (root / "reports" / "evaluate.md").read_text()
    )
    assert summaries["featurize"] == {
        s: len(pd.read_parquet(root / "data" / "features" / f"{s}.parquet"))
        for s in ("train", "valid", "test")
    }
    assert "note" not in pd.read_parquet(root / "data" / "interim" / "requests.parquet")
    assert summaries["export"].onnx_max_abs_diff < 1e-5 and summaries["export"].rows > 500


def mlflow_runs(root: Path, study: bool = False) -> list[dict]:
    """Training runs (or, with `study`, the feature-group study's runs) with their tags,
    params and metric counts, read straight from the SQLite store."""
    with sqlite3.connect(root / "mlflow.db") as db:
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


def registry(root: Path) -> tuple[list[tuple], list[tuple]]:
    """(model versions, aliases) of the registry in the SQLite store."""
    with sqlite3.connect(root / "mlflow.db") as db:
        versions = db.execute("select name, version, run_id from model_versions").fetchall()
        aliases = db.execute("select name, alias, version from registered_model_aliases").fetchall()
    return versions, aliases


def test_one_training_run_with_its_model_params_history_and_test_metrics(pipeline):
    root, summaries = pipeline
    (run_,) = mlflow_runs(root)
    assert run_["id"] == summaries["train"].run_id
    assert run_["tags"]["model_kind"] == "lightgbm"
    train_file = root / "data" / "features" / "train.parquet"
    assert run_["tags"]["data.train.sha256"] == hashlib.sha256(train_file.read_bytes()).hexdigest()
    with sqlite3.connect(root / "mlflow.db") as db:
        inputs = db.execute("select count(*) from inputs where destination_id = ?", (run_["id"],))
        assert inputs.fetchone()[0] == 2, "the train and valid matrices as MLflow datasets"
        oldest = db.execute("select min(timestamp) from metrics where run_uuid = ?", (run_["id"],))
        assert oldest.fetchone()[0] > 1_700_000_000_000, "real times, not 1970"
    assert run_["params"]["model.learning_rate"] == "0.03"
    assert not [p for p in run_["params"] if p.startswith(("world.", "lightgbm."))]
    assert run_["metric_counts"]["valid_binary_logloss"] > 10, "per-iteration metrics"
    assert run_["metric_counts"]["best_valid_auc"] == 1, "the other, at the best round"
    assert run_["metric_counts"]["test_roc_auc"] == 1, "evaluate adds to the training run"
    mlmodel = next((root / "mlruns").rglob("MLmodel"))
    assert "signature" in mlmodel.read_text() and (mlmodel.parent / "input_example.json").exists()
    assert any(p.name == "roc.png" for p in (root / "mlruns").rglob("*.png"))


def test_a_matrix_dataset_has_the_schema_mlflow_infers_without_reading_each_value(tmp_path):
    import mlflow.data

    from tiesignal.io import file_sha256
    from tiesignal.tracking import matrix_dataset

    rng = np.random.default_rng(0)
    matrix = pd.DataFrame({"complete": rng.random(3000), "gaps": rng.random(3000)})
    matrix.loc[2500, "gaps"] = np.nan  # after the rows the column types are read from
    file = tmp_path / "train.parquet"
    matrix.to_parquet(file)
    dataset = matrix_dataset(matrix, file, "train", file_sha256(file))
    assert dataset.schema == mlflow.data.from_pandas(matrix, source=file.as_uri()).schema
    assert [c.required for c in dataset.schema.inputs] == [True, False]


def test_logged_model_pyfunc_returns_the_trained_probabilities(pipeline):
    import mlflow.pyfunc

    root, _ = pipeline
    model_dir = next((root / "mlruns").rglob("MLmodel")).parent
    example = pd.read_json(model_dir / "input_example.json", orient="split").astype("float64")
    got = np.asarray(mlflow.pyfunc.load_model(str(model_dir)).predict(example)).ravel()
    want = load_model(root / "models" / "train").predict(example)
    assert ((got > 0) & (got < 1)).all(), "probabilities, not labels"
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_compare_writes_the_study_report_and_parent_child_runs(pipeline):
    root, summaries = pipeline
    report = (root / "reports" / "compare" / "report.md").read_text()
    assert "## Truth recovery (simulated world)" in report and "without_tie_strength" in report
    headline = json.loads((root / "reports" / "compare" / "figures.json").read_text())
    assert -1 <= headline["spearman_loo_vs_truth"] <= 1
    # declared metrics: only what `dvc exp show` lines up, each the same as in the report
    compared = json.loads((root / "metrics" / "compare.json").read_text())
    assert set(compared) == {"without", "personalized_note"}, compared
    deltas = pd.read_csv(root / "reports" / "compare" / "summary.csv").set_index("variant")
    assert compared["without"] == {
        g: deltas.loc[f"without_{g}", "delta_roc_auc"] for g in deltas["group"].dropna().unique()
    }
    note = compared["personalized_note"]
    assert note["naive_difference"] == headline["causal_personalized_note_naive_difference"]
    runs = mlflow_runs(root, study=True)
    (parent,) = [r for r in runs if r["tags"]["study_role"] == "parent"]
    assert parent["id"] == summaries["compare"]
    # the findings as the parent's description, the report as one page with its plots
    described = parent["tags"]["mlflow.note.content"]
    assert described.startswith("**What predicts**") and "without it" in described
    assert "**What causes: `personalized_note`**" in described
    page = next((root / "mlruns").rglob("compare/report.html")).read_text()
    assert page.count('src="data:image/png;base64,') == report.count("](") > 3
    assert "<table>" in page and 'src="deltas.png"' not in page
    children = [r for r in runs if r["tags"].get("mlflow.parentRunId") == parent["id"]]
    causal = [r for r in children if r["tags"]["study_role"] == "causal"]
    children = [r for r in children if r["tags"]["study_role"] == "variant"]
    assert len(children) == 1 + 2 * len(GROUPS) and {r["tags"]["seed"] for r in children} == {"1"}
    # the causal section: a child per estimator, metrics named by estimand, in the report
    # too; the world runs its experiment, so intention-to-treat and IV are there
    assert sorted(r["params"]["method"] for r in causal) == [
        "double_ml", "instrumental_variables", "instrumental_variables_adjusted",
        "intention_to_treat", "intention_to_treat_adjusted", "naive_difference",
    ]  # fmt: skip
    for run_ in causal:
        method = run_["params"]["method"]
        key = f"causal_personalized_note_{method}"
        assert f"{key}_truth" in run_["metric_counts"]
        if not method.startswith("instrumental"):  # a weak one: no point, maybe no bounds
            assert {key, f"{key}_low", f"{key}_high"} <= set(run_["metric_counts"])
        if key in headline:  # never a point outside its own interval
            assert headline[f"{key}_low"] <= headline[key] <= headline[f"{key}_high"]
    assert "## What predicts, and what causes" in report
    assert ("This experiment finds an effect on compliers of" in report
            or "cannot detect any plausible effect" in report)  # fmt: skip
    assert "| what causes: average effect of the treatment on all requests | double ML" in report
    assert all(set(r["params"]) == {"variant", "kind", "group", "seed"} for r in children)
    table = json.loads(next((root / "mlruns").rglob("study/summary.json")).read_text())
    rows = pd.DataFrame(table["data"], columns=table["columns"])
    assert sorted(rows["variant"]) == sorted(r["params"]["variant"] for r in children)
    without = rows[rows["kind"] != "full"]
    assert (without["delta_roc_auc_low"] <= without["delta_roc_auc_high"]).all()
    for variant in without["variant"]:
        assert parent["metric_counts"][f"{variant}.delta_roc_auc_low"] == 1
    # the world's coefficients are in the parent run, not in params.yaml
    world = json.loads(next((root / "mlruns").rglob("study/world.json")).read_text())
    truth = json.loads((root / "data" / "raw" / "truth.json").read_text())
    assert world == truth["coefficients"] and "tie_strength" in world["opportunity"]
    assert {r["tags"]["from_study_cache"] for r in children} <= {"true", "false"}
    with sqlite3.connect(root / "mlflow.db") as db:
        kind = db.execute("select value from experiment_tags where key='mlflow.experimentKind'")
        assert kind.fetchall() == [("custom_model_development",)]


def test_export_registers_the_trained_model_as_champion(pipeline):
    root, _ = pipeline
    versions, aliases = registry(root)
    (run_,) = mlflow_runs(root)
    assert versions == [("tiesignal-opportunity", 1, run_["id"])]
    assert aliases == [("tiesignal-opportunity", "champion", 1)]


def test_a_champion_that_drifted_from_the_model_on_disk_is_found_and_moved_back(
    pipeline, tmp_path, caplog
):
    """Issue 32: after another run moved `@champion` and `dvc repro` skipped the cached
    `export`, the alias named a model no longer in models/export. `tiesignal champion`
    finds it, and with --fix moves the alias back."""
    import shutil

    import mlflow
    from mlflow import MlflowClient

    from tiesignal.cli import main as cli

    root, _ = pipeline
    shutil.copyfile(root / "mlflow.db", tmp_path / "mlflow.db")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    model = root / "models" / "export" / "model.txt"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    name = "tiesignal-opportunity"
    check = ["champion", "--params", str(tmp_path / "params.yaml"), "--model", str(model)]
    with no_tracking_env(), caplog.at_level(logging.INFO, logger="tiesignal"):
        mlflow.set_tracking_uri(uri)  # a `models:/` source is looked up in this store
        client = MlflowClient(uri)
        (first,) = client.search_model_versions(f"name = '{name}'")
        other = client.create_model_version(name, first.source, first.run_id,
                                            tags={"model_sha256": "0" * 64})  # fmt: skip
        client.set_registered_model_alias(name, "champion", other.version)
        assert cli(check) == 1 and "--fix moves the alias" in caplog.text
        assert cli([*check, "--fix"]) == 0 and ": moved" in caplog.text
        assert cli(check) == 0
    assert registry(tmp_path)[1] == [(name, "champion", int(first.version))]


def test_a_store_that_cannot_be_written_stops_train_before_it_writes(pipeline, tmp_path):
    """Issue 32: a read-only store failed `train` with a SQL error after
    models/train/model.txt was replaced; it is refused first, naming the file."""
    import shutil
    import subprocess

    from tiesignal.tracking import TrackingUnavailable

    root, _ = pipeline
    for folder in ("data", "reports", "models"):
        _copy_tree(root / folder, tmp_path / folder)
    store = tmp_path / "store" / "mlflow.db"
    store.parent.mkdir()
    shutil.copyfile(root / "mlflow.db", store)
    model = tmp_path / "models" / "train" / "model.txt"
    before = model.read_bytes()
    params = tiny_params("model.learning_rate=0.2", f"tracking.tracking_uri=sqlite:///{store}")
    locked = subprocess.run(["chattr", "+i", str(store)], capture_output=True)
    if locked.returncode != 0:
        pytest.skip(f"chattr +i is not available here: {locked.stderr!r}")
    try:
        with no_tracking_env(), pytest.raises(TrackingUnavailable, match=str(store)):
            run_stages(tmp_path, params, ("train",))
    finally:
        subprocess.run(["chattr", "-i", str(store)], check=True)
    assert model.read_bytes() == before, "the previous model stays in place"


def test_logistic_model_trains_evaluates_and_logs_only_its_own_keys(pipeline, tmp_path):
    root, _ = pipeline
    for folder in ("data", "reports"):
        _copy_tree(root / folder, tmp_path / folder)
    params = tiny_params(
        "model=logistic", "tracking.tracking_uri=sqlite:///" + str(tmp_path / "m.db")
    )
    summaries = run_stages(tmp_path, params, ("train", "evaluate"))
    assert load_model(tmp_path / "models" / "train").kind == "logistic"
    assert "roc_auc" in summaries["evaluate"]
    with sqlite3.connect(tmp_path / "m.db") as db:
        keys = {k for (k,) in db.execute("select key from params")}
    assert "model.C" in keys and "model.num_leaves" not in keys


def _copy_tree(source: Path, target: Path) -> None:
    for path in source.rglob("*"):
        if path.is_file():
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (target / path.relative_to(source)).write_bytes(path.read_bytes())


def _main(name: str, root: Path, caplog) -> tuple[int, str]:
    """`python pipelines/<name>.py` at `root`, in process: exit code and what it logged."""
    from _stage import main

    caplog.clear()
    with caplog.at_level(logging.INFO), pytest.raises(SystemExit) as stopped:
        main(stage(name).run, root)
    return stopped.value.code, caplog.text


def test_bad_input_and_bad_config_stop_a_stage_with_one_clear_line(pipeline, tmp_path, caplog):
    root, _ = pipeline
    for made in ("interim", "origins"):
        _copy_tree(root / "data" / made, tmp_path / "data" / made)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    raw = tmp_path / "data" / "interim" / "requests.parquet"
    requests = pd.read_parquet(raw)
    requests.drop(columns=["sent_at"]).to_parquet(raw)
    code, logged = _main("prepare", tmp_path, caplog)
    assert code == 1 and "Traceback" not in logged
    assert "data/interim/requests.parquet: missing required column(s) sent_at" in logged

    requests.assign(sent_at="not a time").to_parquet(raw)
    code, logged = _main("prepare", tmp_path, caplog)
    assert code == 1 and "all 6000 rows rejected" in logged and "sent_at (6000 rows)" in logged
    assert "the rejects: reports/logs/prepare_rejects.parquet" in logged
    rejects = pd.read_parquet(tmp_path / "reports" / "logs" / "prepare_rejects.parquet")
    assert len(rejects) == 6000 and set(rejects["reject_column"]) == {"sent_at"}
    assert set(rejects["reject_file"]) == {"data/raw/requests.parquet"}, "the user's file"
    assert not (tmp_path / "data" / "prepared").exists(), "a failed stage leaves what it found"

    raw.write_bytes(b"PAR1 this is not parquet")
    code, logged = _main("prepare", tmp_path, caplog)
    assert code == 1 and "not a readable Parquet file" in logged and "Traceback" not in logged

    params = tiny_params()
    params["model"]["learnig_rate"] = 0.1
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    code, logged = _main("train", tmp_path, caplog)
    assert code == 1 and "model.learnig_rate" in logged and "Traceback" not in logged


def test_an_unexpected_error_is_one_line_with_the_traceback_in_a_log(tmp_path, caplog):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    (tmp_path / "data" / "features").mkdir(parents=True)
    (tmp_path / "data" / "features" / "feature_spec.json").write_text("[]")  # not a mapping
    code, logged = _main("train", tmp_path, caplog)
    assert code == 1 and "TypeError" in logged and "reports/logs/train.log" in logged
    assert "Traceback" not in logged
    assert "Traceback" in (tmp_path / "reports" / "logs" / "train.log").read_text()


def test_the_run_link_opens_mlflow_in_its_model_training_view(pipeline, tmp_path):
    """Issue 33: the experiment opened in MLflow's GenAI view (an empty Traces page) in a
    real browser: MLflow 3's UI reads the link's `workflowType`, then the browser's last
    choice (GenAI by default), never the experiment's tags. `train` logs a link that says
    which view; a fresh Chromium opens it on the run, in the model-training view."""
    from conftest import mlflow_server
    from playwright.sync_api import sync_playwright
    from test_donate_page import CHROMIUM, CHROMIUM_ARGS

    from tiesignal import tracking
    from tiesignal.config import TrackingConfig, load

    root, summaries = pipeline
    with mlflow_server(root / "mlflow.db", root / "mlruns", tmp_path) as (uri, _):
        settings = tiny_params(f"tracking.tracking_uri={uri}")["tracking"]
        link = tracking.run_page(load(TrackingConfig, settings, "tracking"), root,
                                 summaries["train"].run_id)  # fmt: skip
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            tab = browser.new_page()
            tab.goto(link)
            tab.get_by_text("test_roc_auc").first.wait_for(timeout=60_000)
            navigation = tab.inner_text("nav")
            browser.close()
    assert "Model registry" in navigation and "Observability" not in navigation, navigation


def test_an_evaluate_only_run_carries_its_training_runs_params_tags_and_datasets(
    pipeline, tmp_path
):
    """Issue 33: a run `evaluate` logs on its own (the model came from DVC's cache, or was
    evaluated before) had no params, no git_commit or data digests and no datasets, so it
    could not be compared with the others in the UI."""
    import mlflow

    root, summaries = pipeline
    copy = tmp_path / "root"
    _copy_tree(root, copy)
    run_stages(copy, tiny_params(), ("evaluate",))  # evaluated before: a run of its own
    client = mlflow.MlflowClient(f"sqlite:///{copy / 'mlflow.db'}")
    trained = client.get_run(summaries["train"].run_id)
    (own,) = [r for r in mlflow_runs(copy) if r["tags"].get("training_run") == trained.info.run_id]
    evaluated = client.get_run(own["id"])
    assert evaluated.data.params == trained.data.params and len(trained.data.params) > 10
    tags = evaluated.data.tags
    assert tags["git_commit"] and len(tags["data.test.sha256"]) == 64
    assert tags["data.train.sha256"] == trained.data.tags["data.train.sha256"]
    assert "model_uri" not in tags and "test_roc_auc" in evaluated.data.metrics
    names = sorted(d.dataset.name for d in evaluated.inputs.dataset_inputs)
    assert names == sorted(d.dataset.name for d in trained.inputs.dataset_inputs) and names
