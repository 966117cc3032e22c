"""Stage `featurize`: observable fields -> every registry feature, per split."""

from __future__ import annotations

from _stage import ROOT, Timer, logger, run

from tiesignal.features.build import build_features, category_levels
from tiesignal.features.registry import FEATURES, describe
from tiesignal.io import read_parquet, write_json, write_parquet
from tiesignal.prepare import LABEL, SPLITS

SOURCE = ROOT / "data" / "prepared" / "requests.parquet"
OUT = ROOT / "data" / "features"


def main() -> None:
    log = logger("featurize")
    timer = Timer()
    requests = read_parquet(SOURCE)
    log.info("building %d features for %d requests", len(FEATURES), len(requests))
    # history features count over every earlier request, excluded ones included
    features = build_features(requests)
    train_rows = requests["split"] == "train"
    levels = category_levels(features[train_rows], list(FEATURES))
    keys = requests[["request_id", "sent_at"]]
    for split in SPLITS:
        rows = requests["split"] == split
        table = keys[rows].join(features[rows])
        table[LABEL] = requests.loc[rows, LABEL].astype(bool)
        write_parquet(table.reset_index(drop=True), OUT / f"{split}.parquet")
        log.info("  %s: %d rows, %d positives", split, rows.sum(), table[LABEL].sum())
    write_json({**describe(list(FEATURES), levels), "label": LABEL}, OUT / "feature_spec.json")
    log.info("done (%s)", timer)


if __name__ == "__main__":
    run("featurize", main)
