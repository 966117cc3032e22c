"""An export folder loaded back for scoring (`tiesignal predict`, the raw-request MLflow
model): its feature spec, checked against this code's features, and its LightGBM model
compiled to native code. Writing the folder is `bundle`'s."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tiesignal.features.build import History, encode, encode_lone, lone_request_features
from tiesignal.features.registry import FEATURE_CODE_VERSION, Feature
from tiesignal.features.track_record import TrackRecordPrior
from tiesignal.io import file_sha256, read_json
from tiesignal.models.data import features_named

SPEC = "feature_spec.json"
LIGHTGBM_TEXT = "model.txt"


@dataclass(frozen=True)
class ExportedModel:
    """An export folder loaded for scoring. `load` scores with the LightGBM text model
    compiled to native code by lleaves (equal to LightGBM's to 1e-12, several times
    faster); the raw-request MLflow model scores with LightGBM itself."""

    compiled: object  # lleaves.Model, or a lightgbm.Booster: the same `predict`
    spec: dict
    features: list[Feature]

    @classmethod
    def load(cls, folder: Path, cache: Path | None = None) -> ExportedModel:
        folder = Path(folder)
        if not (folder / SPEC).exists():
            raise FileNotFoundError(f"{folder}: no exported model here (no {SPEC})")
        spec, features = read_spec(folder / SPEC)
        return cls(compile_model(folder / LIGHTGBM_TEXT, cache), spec, features)

    @property
    def prior(self) -> TrackRecordPrior:
        """The track records' prior the model was trained with."""
        return TrackRecordPrior(**self.spec["track_record_prior"])

    def history(self) -> History:
        """The state a stream of requests to score starts from: no requests yet."""
        return History(self.prior)

    def matrix(self, features: pd.DataFrame) -> pd.DataFrame:
        """Feature table (from `build_features`) -> this model's input matrix."""
        return encode(features, self.features, self.spec["category_levels"])

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        return self.compiled.predict(np.ascontiguousarray(X, dtype=np.float64))

    def score_lone(self, request: Mapping[str, object]) -> float:
        """P(opportunity) of one request scored on its own, from `schema.plain_request`'s
        values: what scoring a table of this one request gives, in a fraction of the time."""
        features = lone_request_features(request, self.prior)
        return float(
            self.predict(encode_lone(features, self.features, self.spec["category_levels"]))[0]
        )


def read_spec(spec_path: Path) -> tuple[dict, list[Feature]]:
    """An export's feature spec and its features, refused when this code would compute
    other features than the model was trained on."""
    spec = read_json(spec_path)
    if spec.get("feature_code_version") != FEATURE_CODE_VERSION:
        raise ValueError(
            f"{spec_path}: features of version {spec.get('feature_code_version')!r}, but this "
            f"code computes version {FEATURE_CODE_VERSION!r}; re-export with this code"
        )
    needed = (
        "features", "category_levels", "valid_sent_at", "track_record_prior", "serving_limits",
    )  # fmt: skip
    missing = [k for k in needed if k not in spec]
    if missing:
        raise ValueError(f"{spec_path}: no {', '.join(missing)}; re-export with this code")
    return spec, features_named([f["name"] for f in spec["features"]])


def compile_model(model_file: Path, cache: Path | None = None):
    """The LightGBM text model as native code, compiled once per model and machine and kept
    in `cache` (default: ~/.cache/tiesignal, or $XDG_CACHE_HOME/tiesignal)."""
    import lleaves
    import llvmlite
    from llvmlite import binding

    if not Path(model_file).exists():
        raise FileNotFoundError(f"{model_file}: no LightGBM model here")
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    cache = Path(cache) if cache else base / "tiesignal" / "compiled"
    key = f"{file_sha256(model_file)[:24]}-{binding.get_host_cpu_name()}-{llvmlite.__version__}"
    target = cache / f"{key}.o"
    model = lleaves.Model(model_file=str(model_file))
    if target.exists():
        model.compile(cache=str(target))
        return model
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        model.compile(cache=str(Path(tmp) / "model.o"))  # lleaves writes the object file here
        os.replace(Path(tmp) / "model.o", target)
    return model
