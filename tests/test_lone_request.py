"""A single-row call scored the plain way (`plain_request`, `lone_request_features`,
`ExportedModel.score_lone`) gets what the common way (`validate_requests`,
`build_features`, `encode`) gives, feature by feature and to the last bit; and a row the
common way rejects is never taken the plain way."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from conftest import as_split

from tiesignal.export.bundle import read_spec
from tiesignal.export.exported import ExportedModel
from tiesignal.features.build import build_features, lone_request_features
from tiesignal.features.registry import FEATURES
from tiesignal.schema import (
    REQUIRED_TO_SCORE,
    SCORING_COLUMNS,
    SENIORITY_LEVELS,
    SOURCE_COLUMN_KINDS,
    plain_request,
    validate_requests,
)

RANGE = ("2000-01-01", "2100-01-01")


@pytest.fixture(scope="module")
def model(exported) -> ExportedModel:
    folder, _ = exported
    spec, features = read_spec(folder / "feature_spec.json")
    return ExportedModel(lgb.Booster(model_file=str(folder / "model.txt")), spec, features)


def as_served(raw: pd.DataFrame) -> list[pd.DataFrame]:
    """Each row alone, as `mlflow models serve` builds it from a JSON `dataframe_split`."""
    split = as_split(raw[[c for c in SCORING_COLUMNS if c in raw.columns]])
    return [pd.DataFrame([row], columns=split["columns"]) for row in split["data"]]


def compared(model: ExportedModel, frame: pd.DataFrame) -> bool:
    """Whether the plain way takes this one-row frame; where it does, asserts that the
    common way keeps the row and agrees on every feature and on the probability."""
    cells = {column: frame[column].array[0] for column in frame.columns}
    plain = plain_request(cells, *RANGE, REQUIRED_TO_SCORE, SCORING_COLUMNS)
    checked = validate_requests(frame, "request", *RANGE, REQUIRED_TO_SCORE, SCORING_COLUMNS)
    if plain is None:
        return False
    assert checked.rejects.empty, (cells, checked.rejects["reject_reason"].tolist())
    built = build_features(checked.kept, model.history())
    lone = lone_request_features(plain, model.prior)
    for feature in FEATURES:
        want, got = built[feature.name].iloc[0], lone[feature.name]
        if pd.isna(want):
            assert got is None or np.isnan(got), (feature.name, cells, got)
        else:
            assert got == want, (feature.name, cells, got, want)
    assert model.score_lone(plain) == model.predict(model.matrix(built))[0], cells
    return True


def test_the_worlds_rows_alone_score_the_same_both_ways(model, trained):
    raw = trained["raw"]
    served = as_served(raw.sample(150, random_state=3))
    typed = [raw.iloc[[i]].reset_index(drop=True) for i in range(0, 50)]
    taken_served = sum(compared(model, frame) for frame in served)
    taken_typed = sum(compared(model, frame) for frame in typed)
    assert taken_served == len(served), "a valid row as JSON gives it is plain"
    assert taken_typed == len(typed), "a valid row as Parquet gives it is plain"


P, NONE, EITHER = "plain", "no value", "either"  # EITHER: the common way decides
CELLS_BY_KIND = {  # tricky cells of each kind, and whether the plain way must take them
    "str": [
        ("Recruiter", P),
        ("", NONE),
        (" padded", EITHER),
        (" NaN ", EITHER),
        ("nan\u3000", EITHER),
        ("N/A", NONE),
        ("null", NONE),
        ("nan\u200b", EITHER),
        ("x\x1f", EITHER),
        ("\u180enan", EITHER),
        (7, EITHER),
        (2.5, EITHER),
        (True, EITHER),
        (["a"], EITHER),
        (None, NONE),
        (np.nan, NONE),
    ],
    "int": [
        (7, P),
        (0, P),
        (np.int64(12), P),
        (2.0, P),
        (-0.0, P),
        (-1, EITHER),
        (1.5, EITHER),
        (2**53, P),
        (2**53 + 1, EITHER),
        (2**70, EITHER),
        ("3", EITHER),
        (True, EITHER),
        (float("inf"), EITHER),
        (None, NONE),
    ],
    "float": [
        (0.5, P),
        (0, P),
        (1, P),
        (1.0000001, EITHER),
        (-0.1, EITHER),
        ("0.5", EITHER),
        (True, EITHER),
        (float("-inf"), EITHER),
        (np.float32(0.25), P),
        (None, NONE),
    ],
    "bool": [
        (True, P),
        (False, P),
        (np.bool_(True), P),
        (1, EITHER),
        (0, EITHER),
        ("true", EITHER),
        ("no", EITHER),
        (None, NONE),
    ],
    "timestamp": [
        ("2024-01-05T10:00:00Z", P),
        ("2024-01-05T10:00:00.123456Z", P),
        ("2024-01-05T10:00:00.1234567Z", EITHER),
        ("2024-01-05", P),
        ("2024-01-05 10:00:00+05:30", P),
        ("2024-01-05T10:00:00-08:00", P),
        ("2024-02-30T00:00:00Z", EITHER),
        ("2024-01-05T24:00:00Z", EITHER),
        ("2024-01-05T10:00Z", EITHER),
        ("2024-W01-5", EITHER),
        ("20240105T100000", EITHER),
        ("1999-12-31T23:59:59Z", EITHER),
        ("2100-01-01T00:00:01Z", EITHER),
        ("2199-06-01T00:00:00Z", EITHER),
        (1_700_000_000, EITHER),
        (" 2024-01-05", EITHER),
        (pd.Timestamp("2024-03-01 08:30", tz="Europe/Paris"), P),
        (pd.Timestamp("2024-03-01 08:30"), P),
        (pd.Timestamp("2024-03-01 08:30:00.000000001", tz="UTC"), EITHER),
        (None, NONE),
    ],
    "list": [
        (["Tech", "Finance"], P),
        ([], P),
        (["", " x "], P),
        (("Tech",), P),
        (np.array(["Tech"], dtype=object), P),
        (["x", 1], EITHER),
        ("Tech;Finance", EITHER),
        ('["Tech"]', EITHER),
        ("", EITHER),
        (None, NONE),
    ],
}
HEADLINES = ["Head of Talent Acquisition", "SENIOR RECRUITER", "Engineering Manager",
             "\u0130stanbul hiring manager", "Sourcer", "Python and SQL people", "Founder",
             "Stra\u00dfe RECRUITING"]  # fmt: skip
SKILLS = [["Python", "", "python", "SQL"], ["\u0130stanbul"], ["stra\u00dfe"], []]
LATER = ("accepted_at", "opportunity_at", "observed_until")
CLOSED_SETS = {"recipient_seniority": SENIORITY_LEVELS}  # text outside them is rejected


def test_a_cell_is_taken_plainly_only_where_the_common_way_agrees(model, trained):
    """Every column, one tricky cell at a time, in a valid row as JSON gives it."""
    row = as_served(trained["raw"].head(1))[0].iloc[0].to_dict()
    wrong = []
    for column in SCORING_COLUMNS:
        if column == "sent_at":  # no later time it could come after
            base = {**row, **dict.fromkeys(LATER)}
        else:  # every later time after it
            base = {**row, "sent_at": "2001-01-01T00:00:00Z"}
        levels = CLOSED_SETS.get(column)
        cells = CELLS_BY_KIND[SOURCE_COLUMN_KINDS[column]]
        if levels:
            cells = [(v, EITHER if e == P and v not in levels else e) for v, e in cells]
            cells += [(level, P) for level in levels] + [(levels[0].upper(), EITHER)]
        for value, expected in cells:
            taken = compared(model, pd.DataFrame([{**base, column: value}]))
            must = expected == P or (expected == NONE and column not in REQUIRED_TO_SCORE)
            if must and not taken:
                wrong.append((column, value))
    assert not wrong, f"plain cells sent the common way: {wrong}"
    for headline in HEADLINES:
        for skills in SKILLS:
            frame = pd.DataFrame([{**row, "sender_headline": headline, "recipient_skills": skills}])
            assert compared(model, frame), (headline, skills)


def test_times_out_of_order_or_range_go_the_common_way(model, trained):
    row = as_served(trained["raw"].head(1))[0].iloc[0].to_dict()
    sent = "2024-01-05T10:00:00Z"
    before = pd.DataFrame([{**row, "sent_at": sent, "accepted_at": "2024-01-05T09:59:59Z"}])
    same = pd.DataFrame([{**row, "sent_at": sent, "accepted_at": sent}])
    assert not compared(model, before), "accepted before it was sent: rejected"
    assert compared(model, same)
    edge = pd.DataFrame([{**row, "sent_at": "2000-01-01T00:00:00Z", "accepted_at": None,
                          "opportunity_at": None, "observed_until": None}])  # fmt: skip
    assert compared(model, edge), "the first instant of the valid range is in it"
