"""The pipeline through real `dvc` in a fresh temporary git repo, on the tiny world: what
only DVC can show (stage wiring, caching, experiments, queued sweeps). Stage logic is
tested in process in test_stages.py."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import STAGES, copy_project
from test_stages import mlflow_runs, registry

pytestmark = pytest.mark.integration


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


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A fresh git repo holding the project's tracked files, on the tiny world with the
    smallest study (the full model, one seed): DVC's wiring, not the study, is tested here."""
    repo = copy_project(tmp_path_factory.mktemp("tiesignal"))
    config = repo / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("world: default", "world: tiny"))
    study = repo / "conf" / "study" / "feature_groups.yaml"
    small = {"seeds: [1, 2, 3]": "seeds: [1]", "kinds: [without, only]": "kinds: []",
             "bootstrap_resamples: 500": "bootstrap_resamples: 50"}  # fmt: skip
    text = study.read_text()
    for old, new in small.items():
        text = text.replace(old, new)
    study.write_text(text)
    run(repo, sys.executable, "scripts/compose_params.py")
    run(repo, sys.executable, "scripts/plots_template.py")  # as scripts/setup.sh does
    run(repo, "git", "init", "-q")
    commit_all(repo, "init")
    return repo


@pytest.fixture(scope="module")
def reproduced(repo: Path) -> subprocess.CompletedProcess:
    return run(repo, "dvc", "repro")


@pytest.fixture(scope="module")
def baseline(repo: Path, reproduced) -> str:
    """The reproduced pipeline committed: what experiments are compared with."""
    commit_all(repo, "lock")
    return run(repo, "git", "rev-parse", "HEAD").stdout.strip()


def test_repro_runs_every_stage_and_a_second_repro_nothing(repo, reproduced):
    for stage in STAGES:
        assert f"Running stage '{stage}'" in reproduced.stdout
    assert "[simulate]   6000 / 6000 requests" in reproduced.stderr
    assert "[train] training lightgbm" in reproduced.stderr
    assert "[export] done in" in reproduced.stderr
    noise = ("interpreted in multiple ways", "Failed to infer model signature", "Downloading")
    assert not [n for n in noise if n in reproduced.stderr], "MLflow's noise is filtered"
    again = run(repo, "dvc", "repro")
    assert "Running stage" not in again.stdout
    assert "up to date" in run(repo, "dvc", "status").stdout
    (run_,) = mlflow_runs(repo)
    assert run_["tags"]["git_commit"] == run(repo, "git", "rev-parse", "HEAD").stdout.strip()


def test_a_changed_module_reruns_exactly_the_stages_that_import_it(repo, reproduced):
    module = repo / "src" / "tiesignal" / "evaluation" / "evaluate.py"
    original = module.read_text()
    module.write_text(original + "\n# changed\n")
    try:
        status = run(repo, "dvc", "status", "--json").stdout
        assert set(json.loads(status)) == {"evaluate"}
    finally:
        module.write_text(original)
    assert "up to date" in run(repo, "dvc", "status").stdout


def test_the_world_definition_is_a_dependency_of_simulate(repo, reproduced):
    definition = repo / "conf" / "worlds" / "default.yaml"
    original = definition.read_text()
    definition.write_text(original.replace("off_target_share: 0.2", "off_target_share: 0.25"))
    try:
        assert "simulate" in json.loads(run(repo, "dvc", "status", "--json").stdout)
    finally:
        definition.write_text(original)
    assert "up to date" in run(repo, "dvc", "status").stdout


def test_what_a_killed_write_leaves_is_new_to_neither_git_nor_dvc(repo, reproduced):
    left = [repo / "data" / "features" / ".train.parquet.k1.tmp", repo / "metrics" / ".x.tmp"]
    for path in left:
        path.write_text("half written")
    try:
        assert "up to date" in run(repo, "dvc", "status").stdout
        untracked = run(repo, "git", "status", "--porcelain", "--untracked-files=all").stdout
        assert ".tmp" not in untracked
    finally:
        for path in left:
            path.unlink()


def test_a_failed_stage_leaves_its_previous_outputs_in_place(repo, reproduced):
    """Issue 32: DVC removed a stage's outputs before running it, so a failure left none.
    Here every row of `prepare` is rejected (a window after every request): the stage
    fails after writing its rejects, and its outputs are the previous run's, byte for byte."""
    outputs = [repo / "reports" / "prepare.json",
               *sorted((repo / "data" / "prepared").iterdir())]  # fmt: skip
    before = {p: p.read_bytes() for p in outputs}
    params = repo / "params.yaml"
    original = params.read_text()
    params.write_text(original.replace("min_sent_at: '2000-01-01'", "min_sent_at: '2099-01-01'"))
    try:
        failed = run(repo, "dvc", "repro", "--single-item", "prepare", check=False)
        assert failed.returncode != 0 and "rows rejected" in failed.stderr
        assert {p: p.read_bytes() for p in outputs if p.exists()} == before
        assert sorted((repo / "data" / "prepared").iterdir()) == outputs[1:]
        assert not (repo / ".tiesignal" / "previous").exists() or not any(
            (repo / ".tiesignal" / "previous").iterdir()
        )
        status = json.loads(run(repo, "dvc", "status", "--json").stdout)
        assert "prepare" in status and "featurize" not in status
        assert "changed outs" not in json.dumps(status), "every output is the lock's"
    finally:
        params.write_text(original)
    assert "up to date" in run(repo, "dvc", "status").stdout


def test_plots_render_offline_with_vega_bundled(repo, reproduced):
    run(repo, "dvc", "plots", "show", "-o", "plots_html")
    page = (repo / "plots_html" / "index.html").read_text()
    assert "<script src" not in page and 'src="http' not in page, "nothing from the network"
    assert "window.vegaEmbed" in page.rsplit("<body>", 1)[0], "Vega is inlined in the head"
    declared = yaml.safe_load((repo / "dvc.yaml").read_text())["plots"]
    assert page.count("vegaEmbed(") == len(declared), "every plot, the study's too"
    marks = plotted_marks(repo / "plots_html" / "index.html")
    shutil.rmtree(repo / "plots_html")
    assert len(marks) == len(declared) and all(marks.values()), marks  # drift had none


PLOT = re.compile(r'<div id = "([^"]+)">\s*<script[^>]*>\s*var spec = (.*?);\s*vegaEmbed\(', re.S)
MARKS = """async (specs) => {
  const marks = {};
  for (const [name, spec] of Object.entries(specs)) {
    const {view} = await vegaEmbed(document.createElement('div'), spec, {renderer: 'none'});
    let drawn = 0;
    const walk = (node) => {
      for (const item of node.items || []) {
        drawn += node.role === 'mark' && Number.isFinite(item.x) && Number.isFinite(item.y);
        walk(item);
      }
    };
    walk(view.scenegraph().root);
    marks[name] = drawn;
  }
  return marks;
}"""


def plotted_marks(page: Path) -> dict[str, int]:
    """Each plot of a `dvc plots show` page, drawn by Vega in headless Chromium (Debian's):
    how many of its data marks land on the axes (a value the axis cannot place is none)."""
    from playwright.sync_api import sync_playwright
    from test_donate_page import CHROMIUM, CHROMIUM_ARGS

    specs = {name: json.loads(spec) for name, spec in PLOT.findall(page.read_text())}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page()
        asked: list[str] = []
        tab.on("request", lambda request: asked.append(request.url))
        tab.goto(page.as_uri())
        marks = tab.evaluate(MARKS, specs)
        browser.close()
    assert all(url.startswith("file:") for url in asked), asked
    return marks


def test_exp_run_with_a_param_override_and_a_queued_sweep(repo, baseline):
    run(repo, "dvc", "exp", "run", "-S", "model.learning_rate=0.1", "-n", "fast-lr")
    assert yaml.safe_load((repo / "params.yaml").read_text())["model"]["learning_rate"] == 0.1

    refused = run(repo, "dvc", "exp", "run", "-S", "model=logistic", "-S", "+model.num_leaves=31",
                  check=False)  # fmt: skip
    assert refused.returncode != 0 and "model.num_leaves" in refused.stderr + refused.stdout
    assert "Traceback" not in refused.stderr

    # a queued sweep up to `train`: each queued run logs its own training run, and runs the
    # code it was queued with (not this environment's installed copy, nor the workspace's
    # when the queue starts): here a marker that only the queued snapshot has
    trainer = repo / "src" / "tiesignal" / "models" / "train.py"
    code = trainer.read_text()
    trainer.write_text(code + '\nlogging.getLogger(__name__).warning("queued snapshot code")\n')
    run(repo, "dvc", "exp", "run", "--queue", "-S", "features=all,no_timing", "train")
    trainer.write_text(code)
    run(repo, "dvc", "queue", "start", "-j", "1")
    deadline = time.time() + 600
    while time.time() < deadline:
        status = run(repo, "dvc", "queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(5)
    run(repo, "dvc", "queue", "stop", check=False)
    assert status.count("Success") == 2, status
    tasks = [line.split()[0] for line in status.splitlines() if "Success" in line]
    for task in tasks:
        assert "queued snapshot code" in run(repo, "dvc", "queue", "logs", task).stdout, task

    shown = json.loads(run(repo, "dvc", "exp", "show", "--json").stdout)
    assert "fast-lr" in json.dumps(shown)
    runs = mlflow_runs(repo)
    by_set = {r["tags"].get("feature_set") for r in runs}
    assert {"all", "no_timing"} <= by_set, "queued runs must land in the parent repo's store"
    named = [r for r in runs if r["tags"].get("dvc_experiment") == "fast-lr"]
    assert named and named[0]["params"]["model.learning_rate"] == "0.1"
    trained = [r for r in runs if "model_uri" in r["tags"]]
    per_experiment = Counter(r["tags"].get("dvc_experiment", "(workspace)") for r in trained)
    assert set(per_experiment.values()) == {1}, f"one training run per experiment: {per_experiment}"
    assert all(r["metric_counts"].get("test_roc_auc", 0) <= 1 for r in runs), "logged twice"
    versions, aliases = registry(repo)
    assert len(versions) >= 2, "experiments register their models too"
    assert aliases == [("tiesignal-opportunity", "champion", 1)], "only `dvc repro` promotes"


def test_the_experiment_table_shows_what_differs_and_fits_120_columns(repo, baseline):
    # only this test's experiments, from the baseline (the tests before ran others)
    run(repo, "dvc", "queue", "remove", "--all")
    run(repo, "dvc", "exp", "remove", "--all-commits")
    run(repo, "git", "checkout", "--", ".")
    # a changed world is a column of its own (the shift's logit over its last months)
    run(repo, "dvc", "exp", "run", "-S", "+world.opportunity.late_shift_logit=-0.693",
        "-S", "+world.opportunity.late_shift_months=3", "-n", "crash", "evaluate")  # fmt: skip
    run(repo, "dvc", "exp", "run", "-S", "model.learning_rate=0.2", "-n", "faster", "evaluate")
    # DVC's own table: declared metrics are the few compared, so what changed fits
    table = run(repo, "dvc", "exp", "show", "--no-pager", "--only-changed",
                env={"COLUMNS": "120"}).stdout  # fmt: skip
    assert max(map(len, table.splitlines())) <= 120, table
    for shown in ("faster", "crash", "roc_auc", "log_loss", "model.learning_rate", "0.2"):
        assert shown in table, table
    heading = next(line for line in table.splitlines() if "Experiment" in line)
    assert "…" not in heading.split("model.learning_rate")[0], "every changed metric shown"
    rows = list(csv.DictReader(io.StringIO(run(repo, "dvc", "exp", "show", "--csv").stdout)))
    for row in rows:  # each experiment's line holds its own test ROC-AUC (5 digits)
        line = next(x for x in table.splitlines() if (row["Experiment"] or row["rev"]) in x)
        assert format(float(row["roc_auc"]), ".5g") in line.split(), (row, line)
    auc = {row["Experiment"] or row["rev"]: row["roc_auc"] for row in rows}
    assert len({auc["crash"], auc["faster"], auc["master"]}) == 3, "each change moved the metric"
    header = run(repo, "dvc", "exp", "show", "--csv").stdout.splitlines()[0].split(",")
    world = [c for c in header if c.startswith("world.")]
    shifted = {"world.opportunity.late_shift_logit", "world.opportunity.late_shift_months"}
    assert shifted <= set(world) and len(world) <= 10, "the world's size, seed and the shift"
    table = run(repo, sys.executable, "scripts/exp_table.py", "--width", "120").stdout
    assert max(map(len, table.splitlines())) <= 120, table
    for shown in ("faster", "crash", "roc_auc", "model.learning_rate", "late_shift_logit", "0.2"):
        assert shown in table, table
    assert "data/" not in table and "seed" not in table, "dependency hashes and unchanged params"
