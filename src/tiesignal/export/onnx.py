"""LightGBM -> ONNX, and ONNX Runtime scoring, with float32 input as ONNX-ML requires.

Categorical features go in as the integer codes of the training levels (unseen or missing
as NaN); LightGBM's categorical splits convert to ONNX tree nodes over those codes.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

INPUT = "input"
OUTPUT = "probabilities"  # shape [N, 2]: P(no opportunity), P(opportunity)
BATCH = "N"  # the symbolic first dimension of every input and output: the requests


def to_onnx(booster: lgb.Booster) -> bytes:
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    n_features = booster.num_feature()
    model = onnxmltools.convert_lightgbm(
        booster, initial_types=[(INPUT, FloatTensorType([None, n_features]))], zipmap=False
    )
    # the same model must give the same bytes: the converter names the graph at random and
    # lists the opsets in set order
    model.graph.name = "tiesignal_opportunity"
    # one row of every input and output per request: the converter declares the `label`
    # output as [1], which ONNX Runtime clients warn about on every call
    for value in [*model.graph.input, *model.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_param = BATCH
    opsets = sorted(model.opset_import, key=lambda o: o.domain)
    model.ClearField("opset_import")
    model.opset_import.extend(opsets)
    return model.SerializeToString()


class OnnxScorer:
    """An ONNX Runtime session over an exported model; `predict` returns P(opportunity)."""

    def __init__(self, model: bytes, threads: int = 2) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float32)
        (probabilities,) = self.session.run([OUTPUT], {INPUT: X})
        return probabilities[:, 1].astype(np.float64)
