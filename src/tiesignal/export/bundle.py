"""Write the export folder and check that its three models agree (`exported` loads it
back for scoring)."""

from __future__ import annotations

import importlib.metadata
import uuid
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import yaml

from tiesignal.export.card import model_card
from tiesignal.export.exported import LIGHTGBM_TEXT, SPEC, ExportedModel, read_spec  # noqa: F401 - see RAW_CODE
from tiesignal.export.onnx import INPUT, OnnxScorer, to_onnx
from tiesignal.features.registry import describe
from tiesignal.io import atomic_dir, write_json, write_text
from tiesignal.models.boosted import LightGBMModel
from tiesignal.models.data import features_named
from tiesignal.schema import LABEL
from tiesignal.tracking import model_description

ONNX = "model.onnx"
MLFLOW_MODEL = "mlflow_model"
RAW_MODEL = "raw_requests_model"  # the same model for clients that send raw requests
CARD = "model_card.md"
ENCODING = (
    "float32 matrix, one column per feature in this order; numbers and 0/1 booleans as they "
    "are; a categorical feature as the 0-based index of its value in category_levels; a "
    "missing value, or a category not in the levels, as NaN"
)


@dataclass(frozen=True)
class Agreement:
    """How far each exported model is from LightGBM on the rows checked."""

    rows: int
    onnx_max_abs_diff: float
    mlflow_max_abs_diff: float


def write_export(
    folder: Path,
    model_text: str,
    spec: dict,
    card: str,
    check: pd.DataFrame,
    onnx_tolerance: float,
) -> Agreement:
    """Write every file into a fresh folder and move it into place only if ONNX Runtime and
    the MLflow pyfunc reproduce LightGBM's probabilities on `check` (an encoded matrix)."""
    import mlflow.lightgbm
    import mlflow.pyfunc

    booster = lgb.Booster(model_str=model_text)
    names = [f["name"] for f in spec["features"]]
    if booster.feature_name() != names:
        raise ValueError(
            f"{SPEC}: features {names} differ from the model's {booster.feature_name()}"
        )
    check = check[names]
    want = booster.predict(check.to_numpy(dtype=np.float64))
    with atomic_dir(folder) as tmp:
        write_text(model_text, tmp / LIGHTGBM_TEXT)
        onnx_bytes = to_onnx(booster)
        (tmp / ONNX).write_bytes(onnx_bytes)
        full_spec = {**spec, "input": {"name": INPUT, "dtype": "float32", "encoding": ENCODING}}
        write_json(full_spec, tmp / SPEC)
        write_text(card, tmp / CARD)
        example = check.head(5)
        mlflow.lightgbm.save_model(
            booster,
            str(tmp / MLFLOW_MODEL),
            **model_description(example, booster.predict(example), LightGBMModel.requirements),
        )
        _reproducible_mlmodel(tmp / MLFLOW_MODEL / "MLmodel", model_text, spec["data_end"])
        _save_raw_request_model(tmp, model_text, spec)

        onnx_got = OnnxScorer(onnx_bytes).predict(check.to_numpy())
        pyfunc = mlflow.pyfunc.load_model(str(tmp / MLFLOW_MODEL))
        mlflow_got = np.asarray(pyfunc.predict(check), dtype=np.float64).ravel()
        agreement = Agreement(
            rows=len(check),
            onnx_max_abs_diff=float(np.max(np.abs(onnx_got - want), initial=0.0)),
            mlflow_max_abs_diff=float(np.max(np.abs(mlflow_got - want), initial=0.0)),
        )
        if agreement.onnx_max_abs_diff > onnx_tolerance:
            raise ValueError(
                f"ONNX differs from LightGBM by {agreement.onnx_max_abs_diff:.2e} on "
                f"{len(check)} rows (tolerance {onnx_tolerance:g}): not exported"
            )
        if agreement.mlflow_max_abs_diff > 1e-12:
            raise ValueError(
                f"the MLflow model differs from LightGBM by {agreement.mlflow_max_abs_diff:.2e}"
            )
    return agreement


def _save_raw_request_model(folder: Path, model_text: str, spec: dict) -> None:
    """The raw-request pyfunc next to the files it reads; checked to load and to answer
    one request with a probability."""
    import mlflow.pyfunc

    out = folder / RAW_MODEL
    mlflow.pyfunc.save_model(
        str(out),
        python_model=str(RAW_CODE),
        artifacts={
            "feature_spec": str(folder / SPEC),
            "lightgbm_text": str(folder / LIGHTGBM_TEXT),
        },
        pip_requirements=[f"{p}=={importlib.metadata.version(p)}" for p in RAW_REQUIREMENTS],
    )
    _reproducible_mlmodel(out / "MLmodel", model_text, spec["data_end"])
    example = pd.DataFrame(
        {"request_id": ["example"], "sent_at": [spec["valid_sent_at"][0]],
         "sender_id": ["sender"], "recipient_id": ["recipient"]}
    )  # fmt: skip
    (p,) = mlflow.pyfunc.load_model(str(out)).predict(example)
    if not 0 < p < 1:
        raise ValueError(f"{RAW_MODEL}: answered {p!r} to a request, not a probability")


# the raw-request model's code: its file is the model (models-from-code), copied into every
# export, so its bytes are the export's; it imports ExportedModel and read_spec from here.
# Found by path, not imported: that import would close a circle through `scoring`.
RAW_CODE = Path(__file__).with_name("raw_requests.py")
# what the raw-request model imports, besides `tiesignal` itself (installed from this repo)
RAW_REQUIREMENTS = ("lightgbm", "pandas", "pyarrow", "pandera", "scikit-learn", "mlflow")


def _reproducible_mlmodel(path: Path, model_text: str, created: str) -> None:
    """The same model must give the same bytes, but MLflow stamps MLmodel with a random
    uuid, the clock and a list in set order: derive the uuid from the model, sort the list,
    and take the time from the export's own inputs, the end of its data (reproducible
    builds' SOURCE_DATE_EPOCH idea; the commit's time would change bytes that DVC has
    cached whenever anything else is committed)."""
    mlmodel = yaml.safe_load(path.read_text(encoding="utf-8"))
    mlmodel["model_uuid"] = uuid.uuid5(uuid.NAMESPACE_OID, model_text).hex
    stamp = pd.Timestamp(created).tz_convert("UTC")
    mlmodel["utc_time_created"] = stamp.strftime("%Y-%m-%d %H:%M:%S.%f")
    for flavor in mlmodel["flavors"].values():
        if "skops_trusted_types" in flavor:
            flavor["skops_trusted_types"] = sorted(flavor["skops_trusted_types"])
        # paths on the machine that saved it: the loader uses only the file names
        if "model_code_path" in flavor:
            flavor["model_code_path"] = Path(flavor["model_code_path"]).name
        for artifact in flavor.get("artifacts", {}).values():
            artifact["uri"] = artifact["path"]
    write_text(yaml.safe_dump(mlmodel, sort_keys=True), path)


def describe_export(
    model: LightGBMModel,
    feature_spec: dict,
    prepare_report: dict,
    test_metrics: dict,
    about: dict,
) -> tuple[dict, str]:
    """The feature spec and model card of a trained model (`feature_spec`: featurize's,
    for every feature); `about` holds what the card says of its provenance (registry
    name, alias, feature set), `valid_sent_at` and `serving_limits`."""
    chosen = features_named(model.features)
    spec = {
        **describe(chosen, feature_spec["category_levels"]),
        "track_record_prior": feature_spec["track_record_prior"],  # what `predict` starts from
        "label": LABEL,
        "target": prepare_report["target"],
        "label_window_days": prepare_report["label_window_days"],
        "valid_sent_at": about["valid_sent_at"],  # what `predict` accepts
        "serving_limits": about["serving_limits"],  # what one served call may hold
        "data_end": prepare_report["data_end"],  # the last request the model's data holds
    }
    card = model_card(
        spec, test_metrics, prepare_report,
        {"registered_model": about["registered_model"], "alias": about["alias"],
         "trees": model.booster.num_trees(), "feature_set": about["feature_set"]},
    )  # fmt: skip
    return spec, card
