"""The experiments side by side within a terminal's width.

    python scripts/exp_table.py [--metrics roc_auc,pr_auc,brier] [--width 120] [-- DVC_ARGS]

`dvc exp show --only-changed` keeps every column that differs: dependency hashes, every
metric of every stage, a list of feature groups. This keeps the headline metrics and the
params that differ, under their last two key parts (`model.learning_rate`,
`opportunity.late_shift_logit`), one row per experiment; when that is wider than the
terminal, one row per column instead (experiments across, in as many blocks as the width
needs). Metrics show 4 significant digits, values over 16 characters are cut. DVC_ARGS go
to `dvc exp show` (e.g. `-A`).
"""

from __future__ import annotations

import argparse
import ast
import csv
import io
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

HEADLINE = "roc_auc,pr_auc,brier"
CELL = 16  # longer values (a list of feature groups) are cut


def experiments(dvc_args: list[str]) -> list[dict[str, str]]:
    try:
        shown = subprocess.run(
            ["dvc", "exp", "show", "--csv", "--only-changed", "--no-pager", *dvc_args],
            capture_output=True, text=True,
        )  # fmt: skip
    except FileNotFoundError:
        sys.exit("dvc not found: activate the environment first (source .venv/bin/activate)")
    if shown.returncode != 0:
        sys.exit(f"dvc exp show failed: {shown.stderr.strip()}")
    return list(csv.DictReader(io.StringIO(shown.stdout)))


def columns(header: list[str], metrics: list[str], sections: set[str]) -> list[str]:
    """The headline metrics that differ, then every param that differs (params.yaml keys)."""
    params = [c for c in header if c.split(".")[0] in sections]
    return [m for m in metrics if m in header] + params


def short_names(names: list[str]) -> dict[str, str]:
    """Each key by its last two parts, or whole where two keys would share them."""
    tails = {n: ".".join(n.split(".")[-2:]) for n in names}
    shared = {t for t in tails.values() if list(tails.values()).count(t) > 1}
    return {n: n if t in shared else t for n, t in tails.items()}


def label(row: dict[str, str]) -> str:
    name, rev = row.get("Experiment", ""), row.get("rev", "")
    return f"{name} ({rev})" if name else rev


def metric(value: str) -> str:
    try:
        return f"{float(value):.4g}"
    except ValueError:
        return value or "-"


def lists(values: list[str]) -> list[str]:
    """A column of lists (feature groups) as what each leaves out of all of them, or keeps."""
    try:
        items = [ast.literal_eval(v) if v else [] for v in values]
    except (ValueError, SyntaxError):
        return values
    if not all(isinstance(i, list) for i in items):
        return values
    every = list(dict.fromkeys(x for i in items for x in i))
    out = []
    for kept in items:
        missing = [x for x in every if x not in kept]
        if not missing:
            out.append("all")
        elif len(kept) < len(missing):
            out.append(",".join(map(str, kept)))
        else:
            out.append("all but " + ",".join(map(str, missing)))
    return out


def cut(value: str) -> str:
    return value if len(value) <= CELL else value[: CELL - 1] + "…"


def render(table: list[list[str]]) -> list[str]:
    """Aligned columns; the first row and column (names, labels) are never cut."""
    cells = [[c if i == 0 or j == 0 else cut(c) for j, c in enumerate(row)]
             for i, row in enumerate(table)]  # fmt: skip
    widths = [max(len(row[j]) for row in cells) for j in range(len(cells[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in cells]  # fmt: skip


def blocks(table: list[list[str]], width: int) -> list[str]:
    """`table` with its columns split into blocks that fit `width`, the first kept in each."""
    lines, start = [], 1
    while start < len(table[0]):
        end = start + 1
        while (
            end < len(table[0])
            and max(map(len, render([r[:1] + r[start : end + 1] for r in table]))) <= width
        ):
            end += 1
        lines += [*render([r[:1] + r[start:end] for r in table]), ""]
        start = end
    return lines[:-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", default=HEADLINE, help=f"comma-separated ({HEADLINE})")
    parser.add_argument("--width", type=int, default=shutil.get_terminal_size((120, 24)).columns)
    parser.add_argument("dvc_args", nargs="*", help="passed to `dvc exp show`")
    args = parser.parse_args()
    sections = set(yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8")))
    metrics = args.metrics.split(",")
    rows = experiments(args.dvc_args)
    chosen = columns(list(rows[0]), metrics, sections) if rows else []
    if not chosen:
        print("no experiments differ in the chosen metrics or in any param")
        return
    names = short_names(chosen)
    values = {
        c: [metric(r[c]) for r in rows]
        if c in metrics
        else [v or "-" for v in lists([r[c] for r in rows])]
        for c in chosen
    }
    wide = [["experiment", *(names[c] for c in chosen)]]
    wide += [[label(r), *(values[c][i] for c in chosen)] for i, r in enumerate(rows)]
    lines = render(wide)
    if max(map(len, lines)) > args.width:  # one row per column, experiments across
        lines = blocks([list(col) for col in zip(*wide, strict=True)], args.width)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
