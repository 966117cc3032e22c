"""The figures the README quotes stay true: each is tied to where it comes from (a metric
that `dvc repro` commits, a benchmark's recorded result) by a marker right after it,
`0.849<!--= reports/compare/figures.json:full_test_roc_auc -->` (`*100` for points), and must
read as that value rounded as written. A changed model or world fails this test until
the README says what the new outputs say."""

from __future__ import annotations

import json
import re
from functools import cache

from conftest import ROOT

from tiesignal.features.registry import FEATURES

MARKED = re.compile(
    r"(?P<figure>[-+]?\d[\d,]*(?:\.\d+)?)<!--= (?P<file>[^:\s]+):(?P<key>[^\s*]+)"
    r"(?:\*(?P<scale>\d+))? -->"
)
DOCS = ("README.md", "benchmarks/README.md")


@cache
def _source(file: str):
    return json.loads((ROOT / file).read_text(encoding="utf-8"))


def _value(file: str, key: str) -> float:
    value = _source(file)
    for part in key.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return float(value)


def test_every_marked_figure_is_what_its_source_says():
    checked, wrong = 0, []
    for doc in DOCS:
        for match in MARKED.finditer((ROOT / doc).read_text(encoding="utf-8")):
            figure = match["figure"].replace(",", "")
            decimals = len(figure.partition(".")[2])
            truth = _value(match["file"], match["key"]) * int(match["scale"] or 1)
            if float(figure) != round(truth, decimals):
                wrong.append(f"{doc}: {match[0]} reads {truth:.{decimals + 2}f}")
            checked += 1
    assert not wrong, wrong
    assert checked >= 15, f"only {checked} marked figures: the markers were lost"


def test_the_onnx_input_width_is_the_number_of_features():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    widths = set(re.findall(r"float32 `\[N, (\d+)\]`", readme))
    assert widths == {str(len(FEATURES))}, widths
