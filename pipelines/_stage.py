"""What every stage shares: where its files are, its typed config, logging and errors.

A stage is `run(cfg, paths) -> summary` in `pipelines/<name>.py`: `cfg` is a dataclass
whose fields are the params.yaml sections the stage declares in dvc.yaml, `paths` says
where everything is. Tests call `run` in process on a temporary root; `dvc repro` calls
`python pipelines/<name>.py`, which is `main(run)` at the repo root.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import sys
import time
import traceback
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
# a stage runs its own checkout's library, whichever environment is active: a study
# workspace run with the main `.venv`, or a queued experiment in DVC's temporary copy,
# would otherwise import the `tiesignal` that environment installed (another checkout's)
sys.path.insert(0, str(ROOT / "src"))

from tiesignal.config import ConfigError, WorldConfig, load, load_world  # noqa: E402
from tiesignal.io import remove_stale_temps, repo_home  # noqa: E402
from tiesignal.schema import InputError  # noqa: E402

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# one line, no traceback (ConnectionError: a tracking server that does not answer)
EXPECTED = (ConfigError, InputError, FileNotFoundError, ValueError, ConnectionError)


@dataclass(frozen=True)
class Paths:
    """Every file the stages read or write, under one root; dvc.yaml declares the same
    files (tests/test_stages.py checks that a stage writes only what it declares)."""

    root: Path

    def source(self, path: str) -> Path:
        """A `data.path`: relative to the root unless absolute."""
        path = Path(path).expanduser()
        return path if path.is_absolute() else self.root / path

    raw = property(lambda self: self.root / "data" / "raw")
    truth = property(lambda self: self.raw / "truth.parquet")
    truth_summary = property(lambda self: self.raw / "truth.json")
    interim = property(lambda self: self.root / "data" / "interim")
    # each interim request's file and row in the source the user gave (schema.ORIGIN_COLUMNS)
    origins = property(lambda self: self.root / "data" / "origins" / "requests.parquet")
    ingest_report = property(lambda self: self.root / "reports" / "ingest.json")
    prepared = property(lambda self: self.root / "data" / "prepared")
    prepare_report = property(lambda self: self.root / "reports" / "prepare.json")
    features = property(lambda self: self.root / "data" / "features")
    feature_spec = property(lambda self: self.features / "feature_spec.json")
    model = property(lambda self: self.root / "models" / "train")
    # out-of-fold scores, under cross-validation over participants only
    cross_validation = property(lambda self: self.model / "cross_validation.parquet")
    # metrics/: the few figures `dvc exp show` lines up; reports/: every figure (outputs)
    evaluate_metrics = property(lambda self: self.root / "metrics" / "evaluate.json")
    evaluate_scores = property(lambda self: self.root / "reports" / "evaluate.json")
    evaluate_plots = property(lambda self: self.root / "plots" / "evaluate")
    evaluate_report = property(lambda self: self.root / "reports" / "evaluate.md")
    predictions = property(lambda self: self.root / "data" / "predictions" / "test.parquet")
    # the learnable ranking of each recorded world (benchmarks/ranking_truth.py), committed
    ranking_truth = property(
        lambda self: self.root / "benchmarks" / "results" / "ranking_truth.json"
    )
    compare_report = property(lambda self: self.root / "reports" / "compare")
    compare_metrics = property(lambda self: self.root / "metrics" / "compare.json")
    compare_figures = property(lambda self: self.compare_report / "figures.json")
    compare_scores = property(lambda self: self.root / "data" / "compare" / "test_scores.parquet")
    export = property(lambda self: self.root / "models" / "export")
    export_agreement = property(lambda self: self.root / "reports" / "export.json")
    logs = property(lambda self: self.root / "reports" / "logs")  # git-ignored
    # not outputs: git- and DVC-ignored, shared by the workspace and its queued experiments
    study_cache = property(lambda self: repo_home(self.root) / ".tiesignal" / "study_cache")


def read_params(path: Path) -> dict:
    if not path.exists():
        raise ConfigError(f"{path}: missing; run `scripts/compose_params.py` to compose conf/")
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def stage_config(stage: Callable, params: dict) -> Any:
    """The typed `cfg` of `stage` from params.yaml: each field of its dataclass is a section."""
    cls = typing.get_type_hints(stage)["cfg"]
    sections = {}
    for field in dataclasses.fields(cls):
        if field.name not in params:
            raise ConfigError(f"params.yaml: missing section `{field.name}`")
        section_cls = typing.get_type_hints(cls)[field.name]
        if section_cls is WorldConfig:  # its coefficients are in a file it names, under conf/
            sections[field.name] = load_world(params[field.name], ROOT, field.name)
        else:
            sections[field.name] = load(section_cls, params[field.name], field.name)
    return cls(**sections)


def main(stage: Callable[[Any, Paths], Any], root: Path = ROOT) -> None:
    """Run a stage at the repo root. Bad input or config ends it with one clear line; an
    unexpected error with one line too, its traceback kept in reports/logs/<stage>.log."""
    name = Path(sys.modules[stage.__module__].__file__).stem
    log = logger(name)
    start = time.perf_counter()
    paths = Paths(root)
    stale = [p for out in stage_outputs(name) for p in remove_stale_temps(root / out)]
    if stale:
        log.info("removed %d temporary file(s) a killed run left: %s", len(stale),
                 ", ".join(str(p.relative_to(root)) for p in stale))  # fmt: skip
    outputs = [root / out for out in stage_outputs(name)]
    with previous_outputs_kept(outputs, root / ".tiesignal" / "previous" / name, root, log):
        try:
            summary = stage(stage_config(stage, read_params(root / "params.yaml")), paths)
        except EXPECTED as err:
            log.error("failed: %s", err)
            raise SystemExit(1) from None
        except Exception as err:
            paths.logs.mkdir(parents=True, exist_ok=True)
            trace = paths.logs / f"{name}.log"
            trace.write_text(traceback.format_exc(), encoding="utf-8")
            log.error("failed: %s: %s (traceback in %s)", type(err).__name__, err,
                      trace.relative_to(root))  # fmt: skip
            raise SystemExit(1) from None
    log.info("done in %.1fs: %s", time.perf_counter() - start, summary)


@contextmanager
def previous_outputs_kept(
    outputs: list[Path], aside: Path, root: Path, log: logging.Logger
) -> Iterator[None]:
    """DVC leaves a stage's outputs in place (`persist: true` in dvc.yaml); this moves them
    aside before the stage runs, drops them once it succeeds, and puts them back if it
    fails (what it wrote removed). So the stage starts from no outputs, as DVC would leave
    it, and a failed run leaves the previous outputs as they were. A run killed in between
    left them aside: the next run puts them back first."""
    if aside.exists():
        _put_back(outputs, aside, root)
        log.info("put back the outputs a killed run had moved aside (%s)", aside.relative_to(root))
    for out in outputs:
        if out.exists():
            (aside / out.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
            out.rename(aside / out.relative_to(root))
    aside.mkdir(parents=True, exist_ok=True)  # even with no outputs yet: this run is under way
    try:
        yield
    except BaseException:
        _put_back(outputs, aside, root)
        raise
    shutil.rmtree(aside)


def _put_back(outputs: list[Path], aside: Path, root: Path) -> None:
    for out in outputs:
        if out.is_dir() and not out.is_symlink():
            shutil.rmtree(out)
        else:
            out.unlink(missing_ok=True)
        kept = aside / out.relative_to(root)
        if kept.exists():
            kept.rename(out)
    shutil.rmtree(aside)


def stage_outputs(name: str) -> list[str]:
    """What dvc.yaml says stage `name` writes (outs, metrics and plots)."""
    with open(ROOT / "dvc.yaml", encoding="utf-8") as fh:
        declared = yaml.safe_load(fh)["stages"][name]
    entries = [e for kind in ("outs", "metrics", "plots") for e in declared.get(kind, [])]
    return [next(iter(e)) if isinstance(e, dict) else e for e in entries]


def logger(stage: str) -> logging.Logger:
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s [{stage}] %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("mlflow", "alembic", "urllib3", "git"):  # Dask's: tiesignal.compute
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logging.getLogger(f"tiesignal.{stage}")
