"""Export and scoring: ONNX, LightGBM text, MLflow pyfunc and `tiesignal predict` agree,
and bad input to `predict` fails clearly or is kept with its reason."""

from __future__ import annotations

import contextlib
import json
import logging
import urllib.error
import urllib.request
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from conftest import SERVING_LIMITS, as_split, model_server

from tiesignal.cli import main as cli
from tiesignal.export.bundle import write_export
from tiesignal.export.exported import ExportedModel
from tiesignal.export.onnx import OnnxScorer
from tiesignal.features.build import build_features
from tiesignal.features.registry import FEATURE_CODE_VERSION, FEATURES
from tiesignal.schema import validate_requests

RANGE = ("2000-01-01", "2100-01-01")


def with_gaps(X: pd.DataFrame) -> pd.DataFrame:
    """The matrix with missing numbers and unseen categories (NaN codes) in a third of rows."""
    X = X.copy()
    rows = np.arange(len(X)) % 3 == 0
    for column in ("mutual_connections", "sender_connections", "note_length"):
        X.loc[rows, column] = np.nan
    for column in ("recipient_industry", "sender_headline_role", "recipient_seniority"):
        X.loc[~rows, column] = np.nan
    return X


def test_onnx_lightgbm_text_mlflow_and_compiled_models_agree(exported, trained, tmp_path):
    import mlflow.pyfunc

    folder, agreement = exported
    assert agreement.rows == len(trained["X_test"]) > 500
    assert agreement.onnx_max_abs_diff < 1e-5 and agreement.mlflow_max_abs_diff == 0
    booster = lgb.Booster(model_file=str(folder / "model.txt"))
    onnx = OnnxScorer((folder / "model.onnx").read_bytes())
    pyfunc = mlflow.pyfunc.load_model(str(folder / "mlflow_model"))
    compiled = ExportedModel.load(folder, cache=tmp_path)
    for X in (trained["X_test"], with_gaps(trained["X_test"])):
        want = booster.predict(X.to_numpy())
        assert want.min() > 0 and want.max() < 1 and want.std() > 0.005
        np.testing.assert_allclose(onnx.predict(X.to_numpy()), want, rtol=0, atol=1e-5)
        np.testing.assert_allclose(pyfunc.predict(X), want, rtol=0, atol=1e-12)
        np.testing.assert_allclose(compiled.predict(X), want, rtol=0, atol=1e-12)


def test_export_holds_no_pickle_and_repeats_byte_for_byte(exported, trained, tmp_path):
    folder, _ = exported
    again = tmp_path / "again"
    write_export(again, trained["text"], trained["spec"], trained["card"], trained["X_test"], 1e-5)
    files = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    assert {"model.onnx", "model.txt", "feature_spec.json", "model_card.md"} <= {
        str(f) for f in files
    }
    assert (folder / "mlflow_model" / "MLmodel").exists()
    for name in files:
        data = (folder / name).read_bytes()
        assert not data.startswith(b"\x80"), f"{name} is a pickle"
        assert name.suffix not in (".pkl", ".pickle", ".joblib")
        assert (again / name).read_bytes() == data, f"{name} differs between two exports"


def test_feature_spec_and_card_describe_the_model(exported, trained):

    folder, _ = exported
    spec = json.loads((folder / "feature_spec.json").read_text())
    assert [f["name"] for f in spec["features"]] == list(trained["X_test"].columns)
    assert spec["feature_code_version"] == FEATURE_CODE_VERSION
    assert spec["input"]["dtype"] == "float32" and "NaN" in spec["input"]["encoding"]
    assert spec["category_levels"]["recipient_seniority"] == ["entry", "mid", "senior", "executive"]
    assert set(spec["groups"]) == {f.group for f in FEATURES}
    card = (folder / "model_card.md").read_text()
    for heading in ("## Data", "## Test metrics", "## Intended use", "## Limitations"):
        assert heading in card
    assert "simulated data" in card and "Correlation, not cause" in card
    import yaml

    for model in ("mlflow_model", "raw_requests_model"):  # a time from the data, not 1970
        created = yaml.safe_load((folder / model / "MLmodel").read_text())["utc_time_created"]
        assert created == pd.Timestamp(spec["data_end"]).strftime("%Y-%m-%d %H:%M:%S.%f")
        assert not created.startswith("1970")


def test_every_onnx_input_and_output_has_one_row_per_request(exported):
    import onnx

    model = onnx.load(exported[0] / "model.onnx")
    shapes = {
        v.name: v.type.tensor_type.shape.dim for v in [*model.graph.input, *model.graph.output]
    }
    assert set(shapes) == {"input", "label", "probabilities"}
    assert all(dims[0].dim_param == "N" and not dims[0].dim_value for dims in shapes.values())


def test_a_failed_agreement_check_leaves_no_export(trained, tmp_path):
    with pytest.raises(ValueError, match="ONNX differs from LightGBM"):
        write_export(
            tmp_path / "model", trained["text"], trained["spec"], "", trained["X_test"], 0.0
        )
    assert not (tmp_path / "model").exists()
    assert not list(tmp_path.iterdir()), "no temporary folder left behind"


# ------------------------------------------------------------------ tiesignal predict


def expected_scores(folder, raw: pd.DataFrame, tmp_path) -> pd.Series:
    """What the training code path gives: validate, features over the whole table, model."""
    model = ExportedModel.load(folder, cache=tmp_path)
    kept = validate_requests(raw, "raw", *RANGE).kept
    kept = kept.sort_values("sent_at", kind="stable").reset_index(drop=True)
    p = model.predict(model.matrix(build_features(kept, model.history())))
    return pd.Series(p, index=kept["request_id"].to_numpy())


@pytest.fixture(autouse=True)
def compiled_cache(monkeypatch, tmp_path_factory):
    """`tiesignal predict` keeps compiled models in a test folder, not in ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))


def predict(folder, source, out, *extra) -> int:
    return cli(["predict", str(source), "-o", str(out), "--model", str(folder), *extra])


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_predict_in_chunks_equals_the_training_code_path(exported, trained, tmp_path, fmt):
    folder, _ = exported
    raw = trained["raw"].sort_values("sent_at", kind="stable").reset_index(drop=True)
    source = tmp_path / f"requests.{fmt}"
    if fmt == "csv":  # lists as "a;b" in CSV
        text = raw.copy()
        for column in ("sender_industries", "recipient_skills"):
            text[column] = text[column].map(lambda v: ";".join(v) if v is not None else "")
        text.to_csv(source, index=False)
    else:
        raw.to_parquet(source)
    out = tmp_path / f"scores.{fmt}"
    assert predict(folder, source, out, "--chunk-size", "700") == 0
    got = pd.read_parquet(out) if fmt == "parquet" else pd.read_csv(out)
    assert list(got.columns) == ["request_id", "p_opportunity"]
    assert got["request_id"].tolist() == raw["request_id"].tolist(), "input order"
    want = expected_scores(folder, raw, tmp_path)
    np.testing.assert_allclose(got["p_opportunity"], want[got["request_id"]].to_numpy(), atol=1e-9)
    assert not (tmp_path / f"scores.rejects.{fmt}").exists(), "no empty rejects file"


def test_predict_ignores_column_order_and_extra_columns(exported, trained, tmp_path):
    folder, _ = exported
    raw = trained["raw"].head(800)
    raw.to_parquet(tmp_path / "a.parquet")
    shuffled = raw[list(reversed(raw.columns))].assign(crm_owner="x", note="private text")
    shuffled.to_parquet(tmp_path / "b.parquet")
    assert predict(folder, tmp_path / "a.parquet", tmp_path / "a.out.parquet") == 0
    assert predict(folder, tmp_path / "b.parquet", tmp_path / "b.out.parquet") == 0
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "a.out.parquet"), pd.read_parquet(tmp_path / "b.out.parquet")
    )


def test_predict_scores_unseen_categories_and_missing_values(exported, trained, tmp_path):
    folder, _ = exported
    raw = trained["raw"].head(300).copy()
    raw["recipient_industry"] = "Deep-sea salvage"  # not a training level
    raw.loc[raw.index[::2], "mutual_connections"] = None
    raw = raw.drop(columns=["recipient_skills", "sender_headline"])  # optional columns
    raw.to_parquet(tmp_path / "odd.parquet")
    assert predict(folder, tmp_path / "odd.parquet", tmp_path / "odd.out.parquet") == 0
    got = pd.read_parquet(tmp_path / "odd.out.parquet")
    assert len(got) == 300 and got["p_opportunity"].between(0, 1).all()
    want = expected_scores(folder, raw, tmp_path)
    np.testing.assert_allclose(got["p_opportunity"], want[got["request_id"]].to_numpy(), atol=1e-9)


def test_predict_keeps_bad_rows_with_their_row_column_and_reason(exported, trained, tmp_path):
    folder, _ = exported
    raw = trained["raw"].head(500).astype({"mutual_connections": "object", "sent_at": "object"})
    for column in ("sender_industries", "recipient_skills"):  # written as ['a', 'b']
        raw[column] = raw[column].map(list, na_action="ignore")
    raw.loc[7, "mutual_connections"] = "lots"
    raw.loc[42, "sent_at"] = "yesterday"
    raw.loc[99, "sender_id"] = None
    raw.to_csv(tmp_path / "bad.csv", index=False)
    out = tmp_path / "bad.out.csv"
    assert predict(folder, tmp_path / "bad.csv", out, "--chunk-size", "64") == 0
    rejects = pd.read_csv(tmp_path / "bad.out.rejects.csv")
    assert rejects["reject_row"].tolist() == [7, 42, 99]
    assert rejects["reject_column"].tolist() == ["mutual_connections", "sent_at", "sender_id"]
    assert rejects["reject_reason"].iloc[0] == "not a whole number"  # a word is never shown
    assert (rejects["reject_file"] == str(tmp_path / "bad.csv")).all()
    assert len(pd.read_csv(out)) == 497


PERSONAL = ("Ana Maria Okafor", "ana.okafor@mail.example", "https://network.example/in/ana-ok")


def test_no_reject_reason_or_log_line_repeats_a_personal_value(exported, trained, tmp_path, caplog):
    """Issue 32: a name, an e-mail or a profile URL in any column (a number's, a time's, a
    category's) is named by its row and column, never repeated."""
    folder, _ = exported
    raw = trained["raw"].head(200).astype(object)
    for column in ("sender_industries", "recipient_skills"):
        raw[column] = raw[column].map(list, na_action="ignore")
    columns = [c for c in raw.columns if c != "request_id"]  # the output repeats request ids
    for i, column in enumerate(columns):
        raw.loc[i, column] = PERSONAL[i % len(PERSONAL)]
    raw.to_csv(tmp_path / "personal.csv", index=False)
    out = tmp_path / "personal.out.csv"
    with caplog.at_level(logging.DEBUG, logger="tiesignal"):
        assert predict(folder, tmp_path / "personal.csv", out) == 0
    rejects = pd.read_csv(tmp_path / "personal.out.rejects.csv")
    assert len(rejects) >= 10  # the number, time and category columns among them
    written = out.read_text() + (tmp_path / "personal.out.rejects.csv").read_text() + caplog.text
    for value in PERSONAL:
        assert value not in written and value.split("@")[0] not in written


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"request_id,sent_at,sender_id,recipient_id\n", "no rows"),
        (
            b"request_id,sent_at,recipient_id\nr1,2025-01-01T00:00:00Z,p\n",
            "missing required column(s) sender_id",
        ),
        (b"request_id,sent_at,sender_id,recipient_id\nr1,never,s,p\n", "all 1 rows rejected"),
    ],
)
def test_predict_stops_on_unusable_input_with_one_clear_line(
    exported, tmp_path, caplog, content, message
):
    folder, _ = exported
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    out = tmp_path / "out.parquet"
    with caplog.at_level(logging.ERROR, logger="tiesignal"):
        assert predict(folder, source, out) == 1
    assert message in caplog.text and str(source) in caplog.text
    if "rejected" not in message:
        assert not out.exists(), "nothing written when the input cannot be read"


def test_predict_refuses_a_model_of_another_feature_version(exported, tmp_path, caplog):
    import shutil

    folder, _ = exported
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    spec = json.loads((old / "feature_spec.json").read_text())
    (old / "feature_spec.json").write_text(json.dumps({**spec, "feature_code_version": "0"}))
    (tmp_path / "in.csv").write_text(
        "request_id,sent_at,sender_id,recipient_id\nr,2025-01-01,s,p\n"
    )
    with caplog.at_level(logging.ERROR, logger="tiesignal"):
        assert predict(old, tmp_path / "in.csv", tmp_path / "o.csv") == 1
    assert "features of version '0'" in caplog.text


# ------------------------------------------------------------------ serving


@pytest.mark.integration
@contextlib.contextmanager
def served(model_dir, tmp_path):
    """`mlflow models serve` of `model_dir` (`model_server`); yields a function that POSTs a
    JSON body and returns (status, parsed reply)."""
    log = tmp_path / f"serve-{Path(model_dir).name}.log"
    with model_server(model_dir, tmp_path, log) as (base, _):

        def post(body: bytes) -> tuple[int, dict]:
            request = urllib.request.Request(
                f"{base}/invocations", data=body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as reply:
                    return reply.status, json.loads(reply.read())
            except urllib.error.HTTPError as err:
                return err.code, json.loads(err.read())

        yield post


def test_mlflow_models_serve_answers_probabilities_and_stops_with_its_group(exported, tmp_path):
    folder, _ = exported
    body = (folder / "mlflow_model" / "serving_input_example.json").read_bytes()
    with served(folder / "mlflow_model", tmp_path) as post:
        status, reply = post(body)
    assert status == 200
    got = np.asarray(reply["predictions"], dtype=float)
    split = json.loads(body)["dataframe_split"]
    X = pd.DataFrame(split["data"], columns=split["columns"], dtype=float)
    want = lgb.Booster(model_file=str(folder / "model.txt")).predict(X.to_numpy())
    assert ((got > 0) & (got < 1)).all(), "probabilities, not labels"
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_the_raw_request_model_serves_what_predict_scores(exported, trained, tmp_path):
    folder, _ = exported
    raw = trained["raw"].sort_values("sent_at", kind="stable").head(40).reset_index(drop=True)
    raw.to_parquet(tmp_path / "raw.parquet")
    assert predict(folder, tmp_path / "raw.parquet", tmp_path / "scores.parquet") == 0
    want = pd.read_parquet(tmp_path / "scores.parquet")["p_opportunity"].to_numpy()
    body = json.dumps({"dataframe_split": as_split(raw)})
    bad = raw.head(2).astype(object)
    bad.loc[1, "mutual_connections"] = -3
    bad["sender_headline"] = "Recruiter for Ana Okafor"  # a person's name in every row
    bad = as_split(bad)
    no_time = {**bad, "columns": [c if c != "sent_at" else "when" for c in bad["columns"]]}
    huge = as_split(raw.head(2).assign(sender_headline="Ana Okafor " * 100_000))
    many = as_split(trained["raw"].head(SERVING_LIMITS["max_rows_per_call"] + 1))
    wordy = as_split(raw.head(30).assign(sender_headline="Senior Recruiter " * 100))
    alone = [as_split(raw.iloc[[i]]) for i in range(3)]
    with served(folder / "raw_requests_model", tmp_path) as post:
        status, reply = post(body.encode())
        alone_replies = [post(json.dumps({"dataframe_split": one}).encode()) for one in alone]
        bad_alone_status, bad_alone_reply = post(
            json.dumps({"dataframe_split": {**bad, "data": bad["data"][1:]}}).encode()
        )
        bad_status, bad_reply = post(json.dumps({"dataframe_split": bad}).encode())
        missing_status, missing_reply = post(json.dumps({"dataframe_split": no_time}).encode())
        huge_status, huge_reply = post(json.dumps({"dataframe_split": huge}).encode())
        many_status, many_reply = post(json.dumps({"dataframe_split": many}).encode())
        wordy_status, wordy_reply = post(json.dumps({"dataframe_split": wordy}).encode())
    assert huge_status == 400 and huge_reply["message"] == (
        "row 0: sender_headline: longer than 2000 characters; "
        "row 1: sender_headline: longer than 2000 characters"
    )
    assert many_status == 400 and "101 rows in one call; at most 100" in many_reply["message"]
    assert wordy_status == 400, "every cell within its limit, the call above its own"
    assert "characters of text in one call; at most 20000" in wordy_reply["message"]
    assert status == 200, reply
    np.testing.assert_allclose(np.asarray(reply["predictions"]), want, rtol=0, atol=1e-9)
    assert bad_status == 400 and "row 1: mutual_connections" in bad_reply["message"]
    # a row alone (the plain way) scores as predict scores a file of that row alone; the
    # first row in time order has no earlier requests in the call either
    assert [s for s, _ in alone_replies] == [200] * 3
    assert alone_replies[0][1]["predictions"][0] == pytest.approx(want[0], abs=1e-9)
    for i, (_, one) in enumerate(alone_replies):
        raw.iloc[[i]].to_parquet(tmp_path / "one.parquet")
        assert predict(folder, tmp_path / "one.parquet", tmp_path / "one_scores.parquet") == 0
        alone_want = pd.read_parquet(tmp_path / "one_scores.parquet")["p_opportunity"].iloc[0]
        assert one["predictions"][0] == pytest.approx(alone_want, abs=1e-9)
    assert bad_alone_status == 400, "a bad row alone is named as the common way names it"
    assert (
        bad_alone_reply["message"]
        == "row 0: mutual_connections: failed greater_than_or_equal_to(0): -3"
    )
    assert missing_status == 400
    assert "missing required column(s) sent_at" in missing_reply["message"]
    for answer in (
        bad_reply,
        missing_reply,
        huge_reply,
        bad_alone_reply,
    ):  # never the request MLflow wraps
        text = json.dumps(answer)
        assert "Okafor" not in text and raw.loc[0, "request_id"] not in text, text
