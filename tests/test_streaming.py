"""Tables stream through `ingest`, `prepare` and `featurize` in `compute.chunk_rows`
chunks: any chunk size gives the same bytes, and memory holds a chunk, not the table."""

from __future__ import annotations

import hashlib
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import run_stages, tiny_params

from tiesignal import io
from tiesignal.config import ASSIGNMENT_ARMS
from tiesignal.evaluation.evaluate import scored_rows
from tiesignal.features.build import feature_tables
from tiesignal.features.registry import FEATURES
from tiesignal.io import TableChunks, atomic_path, write_in_order, write_parquet
from tiesignal.models.boosted import LightGBMModel
from tiesignal.models.data import model_matrix, model_matrix_in_chunks
from tiesignal.prepare import prepare_chunks, prepare_requests, validated_chunks, with_labels
from tiesignal.schema import InputError

RANGE = ("2000-01-01", "2100-01-01")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_in_chunks(frame: pd.DataFrame, path: Path, size: int) -> None:
    with atomic_path(path) as tmp:
        out = TableChunks(tmp)
        for start in range(0, len(frame), size):
            out.write(frame.iloc[start : start + size])
        out.close()


def test_a_table_written_in_chunks_is_the_bytes_of_the_whole(tmp_path, monkeypatch, tiny_world):
    monkeypatch.setattr(io, "ROW_GROUP_ROWS", 1000)
    frame = tiny_world[1].drop(columns=["note"])
    write_parquet(frame, tmp_path / "whole.parquet")
    for size in (1, 333, 1000, 2500):
        _write_in_chunks(frame.head(2 * size + 1001), tmp_path / f"{size}.parquet", size)
        write_parquet(frame.head(2 * size + 1001), tmp_path / f"{size}_whole.parquet")
        assert _digest(tmp_path / f"{size}.parquet") == _digest(tmp_path / f"{size}_whole.parquet")
    _write_in_chunks(frame, tmp_path / "chunked.parquet", 777)
    assert _digest(tmp_path / "chunked.parquet") == _digest(tmp_path / "whole.parquet")
    groups = pq.ParquetFile(tmp_path / "whole.parquet").metadata
    assert [groups.row_group(g).num_rows for g in range(groups.num_row_groups)][:2] == [1000] * 2
    # no rows: the schema and one empty row group, as Arrow writes an empty table
    write_parquet(frame.head(0), tmp_path / "empty.parquet")
    assert pq.read_table(tmp_path / "empty.parquet").schema.names == list(frame.columns)


def test_rows_are_written_in_any_order_a_block_at_a_time(tmp_path):
    rng = np.random.default_rng(5)
    rows = pd.DataFrame({"request_id": [f"r{i}" for i in range(103)], "n": np.arange(103)})
    spool = TableChunks(tmp_path / "spool.parquet", spool=True)
    for start in range(0, 103, 17):  # row groups of 17, blocks of 10: every block spans several
        spool.write(rows.iloc[start : start + 17])
    spool.close()
    order = rng.permutation(103)
    beside = pd.DataFrame({"split": np.where(np.arange(103) % 2, "train", "test")})
    write_in_order([spool.path], order, beside, tmp_path / "out.parquet", block_rows=10)
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["n"].tolist() == order.tolist()
    assert out["split"].tolist() == beside["split"].tolist()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet", "spool.parquet"]


def test_prepare_in_chunks_finds_what_it_finds_in_the_whole_table(tiny_world, split_config):
    """Duplicates across chunks and bad rows are found, numbered and reported the same. A
    row whose id came first in a rejected row is a duplicate too, wherever the chunks
    end: the first row with an id is its first appearance."""
    raw = tiny_world[1].drop(columns=["note"]).copy()
    raw.loc[4000, "request_id"] = raw.loc[10, "request_id"]  # a duplicate two chunks later
    raw.loc[2600, "mutual_connections"] = -3
    raw.loc[[900, 1500, 2000], "request_id"] = raw.loc[900, "request_id"]
    raw.loc[900, "sent_at"] = pd.Timestamp("1990-01-01", tz="UTC")  # out of range
    whole = prepare_requests(raw, "requests.parquet", split_config)

    arms = tuple(ASSIGNMENT_ARMS.values())
    for ends in ([1000, 2600], [1600], [1000, 1800, 2600]):
        kept: list[pd.DataFrame] = []
        chunks = [raw.iloc[a:b] for a, b in zip([0, *ends], [*ends, len(raw)], strict=True)]
        validated = validated_chunks(chunks, "requests.parquet", split_config, arms)
        streamed = prepare_chunks(
            validated, "requests.parquet", split_config, "opportunity", keep=kept.append
        )
        pd.testing.assert_frame_equal(
            with_labels(pd.concat(kept, ignore_index=True), streamed.requests), whole.requests
        )
        pd.testing.assert_frame_equal(streamed.rejects, whole.rejects)
        assert streamed.report == whole.report
    reasons = dict(zip(whole.rejects["reject_row"], whole.rejects["reject_reason"], strict=True))
    assert sorted(reasons) == [900, 1500, 2000, 2600, 4000]
    assert reasons[4000] == "duplicate request_id (first at row 10)"
    assert reasons[1500] == reasons[2000] == "duplicate request_id (first at row 900)"
    assert whole.rejects.set_index("reject_row").loc[900, "reject_column"] == "sent_at"


def test_two_chunk_sizes_give_the_same_stage_outputs(tmp_path, monkeypatch):
    """6,000 requests in row groups of 1,000: one chunk, or chunks of 700 (which straddle
    the row groups and split the external sort into blocks)."""
    monkeypatch.setattr(io, "ROW_GROUP_ROWS", 1000)
    outputs = {}
    for rows in (1_000_000, 700):
        root = tmp_path / str(rows)
        stages = ("simulate", "ingest", "prepare", "featurize")
        run_stages(root, tiny_params(f"compute.chunk_rows={rows}"), stages)
        outputs[rows] = {
            p.relative_to(root).as_posix(): _digest(p)
            for folder in ("data", "reports")
            for p in sorted((root / folder).rglob("*"))
            if p.is_file()
        }
    assert outputs[700] == outputs[1_000_000]
    assert "data/features/train.parquet" in outputs[700]
    groups = pq.ParquetFile(tmp_path / "700/data/prepared/requests.parquet").metadata
    assert groups.num_row_groups == 6


def test_an_empty_table_is_one_clear_error(tiny_world, split_config):
    with pytest.raises(InputError, match=r"requests\.parquet: no rows"):
        prepare_chunks([], "requests.parquet", split_config, "opportunity",
                       keep=lambda kept: None)  # fmt: skip


def _in_chunks(table: pd.DataFrame, size: int):
    return (table.iloc[start : start + size] for start in range(0, len(table), size))


def test_train_and_evaluate_read_their_tables_in_chunks(tiny_requests, split_config, trained):
    """The model matrix and the scores are those of the whole table, and the matrix is one
    C-ordered block that LightGBM reads in place."""
    tables, spec = feature_tables(tiny_requests, split_config.label_window_days, 20.0)
    chosen, levels = list(FEATURES), spec["category_levels"]
    train = tables["train"]
    X_whole, y_whole = model_matrix(train, chosen, levels)
    X, y = model_matrix_in_chunks(_in_chunks(train, 333), len(train), chosen, levels)
    pd.testing.assert_frame_equal(X, X_whole)
    assert (y == y_whole).all()
    values = X.to_numpy()
    assert values.flags.c_contiguous and np.shares_memory(values, X.to_numpy())

    categorical = [f.name for f in chosen if f.kind == "categorical"]
    booster = lgb.Booster(model_str=trained["text"])
    model = LightGBMModel([f.name for f in chosen], categorical, booster)
    test = tables["test"]
    whole = scored_rows(test, model, levels)
    parts = [scored_rows(part, model, levels) for part in _in_chunks(test, 97)]
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)
    expected = model.predict(model_matrix(test, chosen, levels)[0])
    assert whole["p_opportunity"].tolist() == expected.tolist()
