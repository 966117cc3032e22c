"""`tiesignal study init`: a real-data study in a clone of its own, so that its runs
never rewrite the repo's tracked files and its refs never show in the repo."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from conftest import STAGES, copy_project, run_stages, simulate, world_config
from test_pipeline_dvc import plotted_marks, run

from tiesignal.cli import main
from tiesignal.schema import InputError
from tiesignal.simulate.exports import render_exports
from tiesignal.workspace import init_study

SALT = {"TIESIGNAL_SALT": "workspace-test-salt-0123456789"}


def git(repo, *args) -> str:
    identity = ("-c", "user.name=t", "-c", "user.email=t@example.invalid")
    return subprocess.run(["git", *identity, *args], cwd=repo, capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A committed copy of the project, and a folder of five participants' exports."""
    base = tmp_path_factory.mktemp("workspace")
    repo = copy_project(base / "repo")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    cfg = world_config(n_members=5, n_requests=600, n_senders=200)
    render_exports(cfg, simulate(cfg)[0], base / "exports")
    return repo, base / "exports"


def test_a_study_workspace_runs_real_data_without_touching_the_checkout(project):
    repo, exports = project
    folder = repo.parent / "study-2026"
    ws = init_study(repo, folder, "member_exports", exports, participant_folds=True, env=SALT)
    assert ws.branch == "study/study-2026" and ws.folder == folder
    assert git(folder, "branch", "--show-current").strip() == "study/study-2026"
    assert git(folder, "rev-parse", "HEAD") == git(repo, "rev-parse", "HEAD")
    assert git(folder, "remote").strip() == "", "nothing of the study reaches the repo"
    params = yaml.safe_load((folder / "params.yaml").read_text())
    assert params["data"]["source"] == "member_exports"
    assert params["data"]["path"] == str(exports)
    assert params["split"]["method"] == "participants"
    # the settings are an experiment file, so `dvc exp run` there composes them again
    assert "optional experiment: study" in (folder / "conf" / "config.yaml").read_text()

    params["split"]["folds"] = 4
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIESIGNAL_SALT", SALT["TIESIGNAL_SALT"])
        run_stages(folder, params, STAGES[1:])
    metrics = json.loads((folder / "reports" / "evaluate.json").read_text())
    assert metrics["cv_recipients"] == 5
    assert not list(folder.glob("data/raw/*.parquet")), "no world simulated, no truth written"
    # its pipeline has no world: `dvc repro` there would neither simulate nor read a truth
    dry = run(folder, "dvc", "repro", "--dry").stdout
    assert "Running stage 'compare'" in dry and "simulate" not in dry and "truth" not in dry
    # and every plot it declares draws (none of a truth, none by month under folds)
    run(folder, sys.executable, "scripts/plots_template.py")  # as scripts/setup.sh does there
    shown = run(folder, "dvc", "plots", "show", "-o", str(repo.parent / "plots"))
    assert "failed to load" not in shown.stdout + shown.stderr, shown.stderr
    marks = plotted_marks(repo.parent / "plots" / "index.html")
    declared = yaml.safe_load((folder / "dvc.yaml").read_text())["plots"]
    assert len(marks) == len(declared) == 7 and all(marks.values()), marks
    assert (folder / "mlflow.db").exists() and not (repo / "mlflow.db").exists()
    # nothing changed, added or even git-ignored (data, models, MLflow) in the checkout
    assert git(repo, "status", "--porcelain", "--ignored") == ""
    changed = git(folder, "status", "--porcelain")
    assert "params.yaml" in changed and "conf/experiment/study.yaml" in changed
    # its own refs: a commit and a DVC experiment there show nowhere in the repo
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", "study settings")
    git(folder, "update-ref", "refs/exps/ab/cdef/exp-study", "HEAD")  # where DVC keeps one
    refs = git(repo, "for-each-ref", "--format=%(refname)")
    assert "study" not in refs and "refs/exps" not in refs, refs


def test_a_workspace_is_not_made_without_a_salt_or_inside_the_repo(project, tmp_path, caplog):
    repo, exports = project
    folder = tmp_path / "nosalt"
    with pytest.raises(InputError, match="secret salt") as stopped:
        init_study(repo, folder, "member_exports", exports, env={})
    assert "mkdir -p" in str(stopped.value), "the advice works on a fresh machine"
    assert not folder.exists() and "study/nosalt" not in git(repo, "branch")
    with pytest.raises(InputError, match="inside the repository"):
        init_study(repo, repo / "study", "member_exports", exports, env=SALT)
    with pytest.raises(InputError, match="no such"):
        init_study(repo, folder, "table", tmp_path / "missing.csv", env=SALT)
    # the command says what went wrong in one line and exits 1
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(repo)
        mp.delenv("TIESIGNAL_SALT", raising=False)
        mp.setenv("HOME", str(tmp_path))  # no ~/.config/tiesignal/salt either
        args = ["study", "init", str(folder), "--data", "member_exports", "--path", str(exports)]
        assert main(args) == 1
    assert "secret salt" in caplog.text and not folder.exists()


def test_a_workspace_runs_its_own_code_whichever_environment_is_active(project):
    """Issue 33: with the main checkout's `.venv` active, a study workspace's stages
    silently ran the main checkout's `tiesignal` (the environment's editable install).
    A stage imports its own checkout's library first."""
    repo, _ = project
    script = ("import sys; sys.path.insert(0, 'pipelines'); import _stage, tiesignal; "
              "print(tiesignal.__file__)")  # fmt: skip
    ran = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True,
                         text=True, check=True)  # fmt: skip
    assert ran.stdout.strip() == str(repo / "src" / "tiesignal" / "__init__.py")
