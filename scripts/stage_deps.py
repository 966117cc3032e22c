"""The code each DVC stage runs, from its import graph: what dvc.yaml must declare.

    .venv/bin/python scripts/stage_deps.py          # every stage's code deps, as dvc.yaml lists
    .venv/bin/python scripts/stage_deps.py train    # one stage
    .venv/bin/python scripts/stage_deps.py --write  # rewrite the `# code:` lists in dvc.yaml

A stage runs `pipelines/<stage>.py`, the project modules it imports (at any depth, inside
functions too, but not under `if TYPE_CHECKING:`) and the `__init__.py` of each package on
the way. tests/test_stages.py fails when dvc.yaml misses one of them.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PACKAGE = "tiesignal"


def module_file(name: str) -> Path | None:
    """The file of a project module (`tiesignal.x.y`, or `_stage` beside the stages)."""
    if name == "_stage":
        return ROOT / "pipelines" / "_stage.py"
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    base = SRC.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def imported_files(path: Path) -> set[Path]:
    """Project files that `path` imports directly, with the packages they sit in."""
    found: set[Path] = set()

    def add(name: str) -> None:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
            file = module_file(".".join(parts[:i]))
            if file is not None:
                found.add(file)

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for orelse in child.orelse:
                    visit(orelse)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    add(alias.name)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                add(child.module)
                for alias in child.names:  # `from tiesignal.x import y` may name a module
                    if module_file(f"{child.module}.{alias.name}") is not None:
                        add(f"{child.module}.{alias.name}")
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def stage_code(stage: str) -> list[Path]:
    """Every file `python pipelines/<stage>.py` runs from this project, sorted."""
    todo = [ROOT / "pipelines" / f"{stage}.py"]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(imported_files(path))
    return sorted(seen)


def declared(deps: list[str]) -> set[Path]:
    return {(ROOT / d).resolve() for d in deps if not d.startswith("$")}


def missing(stage: str, deps: list[str]) -> list[str]:
    """Files the stage runs that no dep (the file, or a folder holding it) covers."""
    covered = declared(deps)
    return [
        str(path.relative_to(ROOT))
        for path in stage_code(stage)
        if not any(path == d or d in path.parents for d in covered)
    ]


def write_dvc_yaml(path: Path) -> None:
    """Replace each stage's code list (the `- ` lines after its `# code:` comment)."""
    lines, out = path.read_text(encoding="utf-8").splitlines(), []
    i = 0
    while i < len(lines):
        out.append(lines[i])
        marker = re.search(r"# code: what `python scripts/stage_deps.py (\w+)` lists", lines[i])
        i += 1
        if marker:
            indent = lines[i - 1][: len(lines[i - 1]) - len(lines[i - 1].lstrip())]
            while i < len(lines) and lines[i].startswith(f"{indent}- "):
                i += 1
            out += [f"{indent}- {p.relative_to(ROOT)}" for p in stage_code(marker.group(1))]
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    import yaml

    if sys.argv[1:] == ["--write"]:
        write_dvc_yaml(ROOT / "dvc.yaml")
        sys.exit(0)
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    for name in sys.argv[1:] or stages:
        print(f"{name}:")
        for path in stage_code(name):
            print(f"  - {path.relative_to(ROOT)}")
