"""What every stage entry point shares: the repo root, params.yaml, logging.

This is the I/O edge: it reads params.yaml and hands typed config objects to the library.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import yaml

from tiesignal.config import ConfigError, load
from tiesignal.schema import InputError

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


def params(path: Path = ROOT / "params.yaml") -> dict:
    if not path.exists():
        raise SystemExit(f"{path}: missing; run `scripts/compose_params.py` to compose conf/")
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def section(cls: type[T], name: str, all_params: dict | None = None) -> T:
    """One section of params.yaml as a typed config object; a bad key is a clear error."""
    all_params = params() if all_params is None else all_params
    if name not in all_params:
        raise SystemExit(f"params.yaml: missing section `{name}`")
    try:
        return load(cls, all_params[name], name)
    except ConfigError as err:
        raise SystemExit(f"params.yaml: {err}") from err


def simulated(all_params: dict) -> bool:
    """The data come from the simulator, so its truth file describes them."""
    return all_params.get("data", {}).get("source") == "simulated"


def logger(stage: str) -> logging.Logger:
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s [{stage}] %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("mlflow", "alembic", "urllib3", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logging.getLogger(f"tiesignal.{stage}")


class Timer:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __str__(self) -> str:
        return f"{time.perf_counter() - self.start:.1f}s"


def run(stage: str, main: Callable[[], None]) -> None:
    """Run a stage; bad input or config ends it with one clear line, not a traceback."""
    try:
        main()
    except (ConfigError, InputError, FileNotFoundError, ValueError) as err:
        logger(stage).error("failed: %s", err)
        raise SystemExit(1) from None
