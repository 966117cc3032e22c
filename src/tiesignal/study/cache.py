"""The study's fitted models kept between runs, so that a rerun refits only what changed.

A fit is found by a key over everything it depends on: the exact matrices it was fitted
and scored on, the rows of its seed's resample, its columns, LightGBM's parameters and
version, and the source of the code that fits. LightGBM's text model keeps every number
exactly, so a fit read back scores and explains the same bytes as the fit that wrote it:
the study's outputs never depend on the cache (tests/test_study.py checks both).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from tiesignal.config import LightGBMConfig
from tiesignal.io import atomic_dir, read_json, write_json
from tiesignal.models.boosted import LightGBMModel, booster_params

log = logging.getLogger(__name__)

# what an entry holds beside fit.json, each verified by the digest fit.json keeps
CACHED_FILES = (LightGBMModel.file_name, "test_scores.npy")
# the code a fit runs: a change to any of them makes every cached fit a miss
FIT_CODE = ("tiesignal.models.boosted", "tiesignal.models.train", "tiesignal.study.variants",
            __name__)  # fmt: skip


def data_digest(X: dict[str, pd.DataFrame], y: dict[str, np.ndarray]) -> str:
    """SHA-256 of every split's encoded matrix (float columns, `encode`) and labels."""
    h = hashlib.sha256()
    for split in sorted(X):
        h.update(json.dumps([split, list(X[split].columns)]).encode())
        h.update(np.ascontiguousarray(X[split].to_numpy(dtype=np.float64)).tobytes())
        h.update(np.ascontiguousarray(y[split]).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class CachedFit:
    model: LightGBMModel
    test_scores: np.ndarray
    seconds: float  # how long the fit took when it was made


class FitCache:
    """Fits under `folder`, one subfolder per key; `folder=None` caches nothing."""

    def __init__(self, folder: Path | None, data: str) -> None:
        self.folder = folder
        self.data = data  # data_digest of the study's matrices
        self.code = hashlib.sha256(
            b"".join(Path(sys.modules[m].__file__).read_bytes() for m in FIT_CODE)
        ).hexdigest()

    def key(self, cfg: LightGBMConfig, columns: list[str], categorical: list[str],
            rows: str) -> str:  # fmt: skip
        """`rows` names the training rows: the seed's resample, or all of them."""
        parts = {
            "data": self.data, "code": self.code, "lightgbm": lgb.__version__,
            "numpy": np.__version__, "config": asdict(cfg), "params": booster_params(cfg),
            "columns": columns, "categorical": categorical, "rows": rows,
        }  # fmt: skip
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def get(self, key: str, columns: list[str], categorical: list[str]) -> CachedFit | None:
        """The fit under `key`, verified against the digests written with it before any of
        it is parsed: a truncated or altered entry never reaches LightGBM's native parser
        (which aborts the process on some damage); it is dropped, logged and refitted."""
        if self.folder is None or not (self.folder / key).is_dir():
            return None
        entry = self.folder / key
        try:
            about = read_json(entry / "fit.json")
            files = {name: (entry / name).read_bytes() for name in CACHED_FILES}
            damaged = [n for n, data in files.items() if _sha256(data) != about["sha256"][n]]
            if damaged:
                raise ValueError(f"{', '.join(damaged)} do not match their digest")
            booster = lgb.Booster(model_str=files[LightGBMModel.file_name].decode("utf-8"))
            scores = np.load(io.BytesIO(files["test_scores.npy"]), allow_pickle=False)
        except (OSError, EOFError, ValueError, KeyError, TypeError, lgb.basic.LightGBMError) as err:
            log.warning("study cache: entry %s dropped and refitted (%s)", key[:12], err)
            shutil.rmtree(entry, ignore_errors=True)
            return None
        model = LightGBMModel(columns, categorical, booster, about["best_iteration"])
        return CachedFit(model, scores, about["seconds"])

    def put(self, key: str, model: LightGBMModel, test_scores: np.ndarray, seconds: float) -> None:
        if self.folder is None:
            return
        entry = self.folder / key
        with atomic_dir(entry) as tmp:
            model.save(tmp)
            with open(tmp / "test_scores.npy", "wb") as fh:
                np.save(fh, test_scores, allow_pickle=False)
            digests = {name: _sha256((tmp / name).read_bytes()) for name in CACHED_FILES}
            write_json({"best_iteration": model.best_iteration, "seconds": seconds,
                        "sha256": digests}, tmp / "fit.json")  # fmt: skip


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
