"""A study workspace: a git clone of this repo, outside its folder, with no remote and on a
branch of its own, set up for one real-data study. Every run there writes its own
`params.yaml`, `dvc.lock`, reports, MLflow store and DVC cache, and its own git refs (its
branch, its DVC experiments): nothing of it shows in the repo, which is never touched."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from tiesignal.ingest.pseudonym import load_salt
from tiesignal.schema import InputError
from tiesignal.study import TRUTH_FILES

SOURCES = ("member_exports", "donations", "table")
FOLDER_SOURCES = ("member_exports", "donations")  # a folder of exports or of donation files
SETTINGS = Path("conf/experiment/study.yaml")
NO_EXPERIMENT = "  - optional experiment: null\n"
WORLD_STAGE = "simulate"  # the simulated world and its truth: nothing a real study needs
PERIODS_ONLY = ("drift.csv",)  # `evaluate` writes the drift by month where splits are periods
PIPELINE_HEADER = """\
# This study workspace's pipeline, written by `tiesignal study init` from the repo's
# dvc.yaml (its comments are there): real data, so no `simulate` stage, no dependency on
# a simulated world's truth and no plot of one. `dvc repro` and `dvc exp run` use it.
"""


@dataclass(frozen=True)
class Workspace:
    folder: Path
    branch: str
    commit: str  # the repo's commit the workspace starts from


def init_study(
    repo: Path,
    folder: Path,
    source: str,
    data_path: Path,
    participant_folds: bool = False,
    env: Mapping[str, str] = os.environ,
) -> Workspace:
    """Check everything a real-data run will need (the salt, the data), then make the
    clone and lay the study's settings over `conf/` as an experiment file that every
    `dvc repro` and `dvc exp run` there uses."""
    repo, folder = repo.resolve(), folder.expanduser().resolve()
    if source not in SOURCES:
        raise InputError(f"--data {source!r}: a study reads real data, one of {SOURCES}")
    data_path = data_path.expanduser().resolve()
    if not data_path.exists():
        raise InputError(f"{data_path}: no such {'folder' if source in FOLDER_SOURCES else 'file'}")
    if source in FOLDER_SOURCES and not data_path.is_dir():
        raise InputError(f"{data_path}: {source} are a folder, not a file")
    if folder.is_relative_to(repo):
        raise InputError(f"{folder}: is inside the repository {repo}; choose a folder outside it")
    if folder.exists() and any(folder.iterdir()):
        raise InputError(f"{folder}: exists and is not empty")
    data_conf = yaml.safe_load((repo / "conf" / "data" / f"{source}.yaml").read_text())
    load_salt(env, data_conf["salt_env"], data_conf["salt_file"], repo)  # stops without one
    config = repo / "conf" / "config.yaml"
    if NO_EXPERIMENT not in config.read_text(encoding="utf-8"):
        raise InputError(f"{config}: has no `optional experiment: null` default to set")

    branch = f"study/{folder.name}"
    commit = _git(repo, "rev-parse", "HEAD")
    _git(repo, "clone", "--quiet", str(repo), str(folder))  # objects hard-linked: cheap
    _git(folder, "checkout", "--quiet", "-b", branch, commit)
    _git(folder, "remote", "remove", "origin")  # nothing of the study reaches the repo
    commit = commit[:7]
    (folder / SETTINGS).write_text(_settings(source, data_path, participant_folds), "utf-8")
    pipeline = yaml.safe_load((folder / "dvc.yaml").read_text("utf-8"))
    pipeline = real_data_pipeline(pipeline, periods=not participant_folds)
    dumped = yaml.safe_dump(pipeline, sort_keys=False, allow_unicode=True, width=100)
    (folder / "dvc.yaml").write_text(PIPELINE_HEADER + dumped, "utf-8")
    config = folder / "conf" / "config.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace(NO_EXPERIMENT, "  - optional experiment: study\n"), "utf-8")
    subprocess.run([sys.executable, "scripts/compose_params.py"], cwd=folder, check=True,
                   capture_output=True)  # fmt: skip
    return Workspace(folder, branch, commit)


def real_data_pipeline(pipeline: dict, periods: bool = True) -> dict:
    """dvc.yaml without the world: its stage, every dependency on what that stage writes,
    and every plot of it or of what the study writes only against a world's truth (or,
    where the splits are folds of participants, `periods=False`, of the months)."""
    stages = dict(pipeline["stages"])
    world = {_path(out) for out in stages.pop(WORLD_STAGE)["outs"]}
    for name, stage in stages.items():
        stages[name] = {**stage, "deps": [d for d in stage["deps"] if _path(d) not in world]}

    def of_truth(plot: dict) -> bool:
        (spec,) = plot.values()
        files = [*spec.get("y", {}), *(spec["x"] if isinstance(spec.get("x"), dict) else [])]
        unwritten = TRUTH_FILES if periods else (*TRUTH_FILES, *PERIODS_ONLY)
        return any(f in world or Path(f).name in unwritten for f in files)

    plots = [plot for plot in pipeline.get("plots", []) if not of_truth(plot)]
    return {**pipeline, "stages": stages, "plots": plots}


def _path(entry: str | dict) -> str:
    return entry if isinstance(entry, str) else next(iter(entry))


def _settings(source: str, data_path: Path, participant_folds: bool) -> str:
    overrides = [f"  - override /data: {source}"]
    if participant_folds:
        overrides.append("  - override /split: participants")
    # the study's own public pseudonym key: two studies' donations never share ids
    public_key = [f"  public_key: {secrets.token_hex(16)}"] if source in FOLDER_SOURCES else []
    return "\n".join(
        [
            "# @package _global_",
            "# This study workspace's settings (`tiesignal study init`), laid over conf/ for",
            "# every `dvc repro` and `dvc exp run` here; `-S` overrides still apply on top.",
            "defaults:",
            *overrides,
            "",
            "data:",
            f"  path: {json.dumps(str(data_path))}",  # a JSON string is YAML, quoted
            *public_key,
            "",
        ]
    )


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if out.returncode != 0:
        raise InputError(f"git {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout.strip()
