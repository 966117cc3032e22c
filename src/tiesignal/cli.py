"""The `tiesignal` command: `tiesignal predict` scores new requests with an exported model;
`tiesignal simulate-exports` writes the simulated world as member data exports;
`tiesignal study init` makes a workspace for a real-data study;
`tiesignal donations build|receive` makes the donation page and takes its donations;
`tiesignal champion` checks (and with --fix mends) that the registry's alias names the
exported model."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger("tiesignal")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tiesignal", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser(
        "predict",
        help="score raw requests (canonical schema, CSV or Parquet) with an exported model",
        description="Score raw connection requests in the canonical schema. Writes "
        "request_id and p_opportunity in input order; rows that cannot be scored go to the "
        "rejects file with their row (0-based, after the header), column and reason.",
    )
    predict.add_argument("input", type=Path, help="requests, .csv or .parquet")
    predict.add_argument("-o", "--out", type=Path, required=True, help=".parquet or .csv")
    predict.add_argument(
        "--model", type=Path, default=Path("models/export"), help="export folder (%(default)s)"
    )
    predict.add_argument(
        "--rejects", type=Path, help="rows that cannot be scored (default: OUT's name + .rejects)"
    )
    predict.add_argument("--chunk-size", type=int, default=200_000, help="rows per chunk")
    exports = commands.add_parser(
        "simulate-exports",
        help="write the simulated requests as member data exports, one per recipient",
        description="Render the simulated world (params.yaml's `world`, and the requests of "
        "stage simulate) as member data exports in one export era's formats, to try or test "
        "`data=member_exports` without real data.",
    )
    exports.add_argument("out", type=Path, help="folder for the exports")
    exports.add_argument("--era", default="2024", help="export era: 2020, 2022 or 2024")
    exports.add_argument("--max-exports", type=int, help="at most this many recipients")
    exports.add_argument("--folders", action="store_true", help="folders instead of zips")
    exports.add_argument("--requests", type=Path, default=Path("data/raw/requests.parquet"))
    exports.add_argument("--params", type=Path, default=Path("params.yaml"))
    design = commands.add_parser(
        "design",
        help="size the world's randomized experiment: power by simulation over a grid",
        description="Simulate the experiment of params.yaml's world at each point of the "
        "`design` grid (months, share of senders, uptake) under each assignment scheme, "
        "analyse it as the study's causal section does, plain and CUPED-adjusted, and write "
        "the power, the minimum detectable effects and the size needed for 80%% power.",
    )
    design.add_argument("--out", type=Path, default=Path("reports/design"),
                        help="folder for design.md, design.csv and power.png")  # fmt: skip
    design.add_argument("--params", type=Path, default=Path("params.yaml"))
    design.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change a param, e.g. design.replicates=100 or "
                        "world.experiment.uptake=0.5 (repeatable)")  # fmt: skip
    study = commands.add_parser(
        "study", help="a workspace for a real-data study, outside the repo's checkout"
    ).add_subparsers(dest="study_command", required=True)
    init = study.add_parser(
        "init",
        help="make a study workspace: a git clone on its own branch, set up for your data",
        description="Check the salt and the data, then make DIR a git clone of this repo "
        "on the branch study/<DIR's name>, with conf/experiment/study.yaml choosing your data "
        "for every `dvc repro` and `dvc exp run` there. Runs in DIR never write into this "
        "checkout.",
    )
    init.add_argument("folder", type=Path, metavar="DIR", help="new folder, outside the repo")
    init.add_argument("--data", required=True, choices=("member_exports", "donations", "table"))
    init.add_argument("--path", type=Path, required=True, help="the exports folder or table")
    init.add_argument("--participant-folds", action="store_true",
                      help="cross-validate over participants (split=participants)")  # fmt: skip
    check = commands.add_parser(
        "champion",
        help="check that the registry's alias names the model in models/export (--fix: move it)",
        description="`dvc checkout` or `dvc exp apply` can restore models/export without "
        "running `export`, so the registry's alias (export.alias) can name a model that is "
        "no longer in models/export. This finds that drift; --fix moves the alias to the "
        "model on disk.",
    )
    check.add_argument("--fix", action="store_true", help="move the alias to the model on disk")
    check.add_argument("--params", type=Path, default=Path("params.yaml"))
    check.add_argument("--model", type=Path, default=Path("models/export/model.txt"))
    donations = commands.add_parser(
        "donations", help="the donation page for participants, and a receiver for donations"
    ).add_subparsers(dest="donations_command", required=True)
    build = donations.add_parser(
        "build",
        help="build the static donation page for this study (conf/ with data=donations)",
        description="Copy the page (donate/), the pinned Pyodide (npm ci, once), the "
        "extraction core and the study's settings (data.public_key, data.donation, the label "
        "rules and window) into one folder any static web server can host.",
    )
    build.add_argument("--out", type=Path, default=Path("donate/build"))
    receive = donations.add_parser(
        "receive",
        help="take donations on 127.0.0.1: POST /donations, re-keyed with the secret salt",
        description="Serve the built page (--page) and take donations at POST /donations on "
        "127.0.0.1: each is checked, re-keyed with the study's secret salt and written "
        "atomically as one file in --out, the folder `data=donations` reads.",
    )
    receive.add_argument("--out", type=Path, default=Path("data/donations"))
    receive.add_argument("--page", type=Path, help="a built page to serve at /")
    receive.add_argument("--port", type=int, default=8765)
    for command in (build, receive):
        command.add_argument("overrides", nargs="*", metavar="OVERRIDE",
                             help="Hydra overrides of conf/ (default: data=donations), e.g. "
                             "data.donation.endpoint=https://study.example/donations")  # fmt: skip
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s [{args.command}] %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        if args.command == "simulate-exports":
            return _simulate_exports(args)
        if args.command == "study":
            return _study_init(args)
        if args.command == "design":
            return _design(args)
        if args.command == "donations":
            return _donations(args)
        if args.command == "champion":
            return _champion(args)
        return _predict(args)
    except (FileNotFoundError, ValueError) as err:  # bad input (InputError is a ValueError)
        log.error("failed: %s", err)
        return 1
    except Exception as err:  # noqa: BLE001 - one line for the user; the trace at debug level
        log.debug("traceback", exc_info=True)
        log.error("failed: %s: %s", type(err).__name__, err)
        return 2


def _predict(args: argparse.Namespace) -> int:
    from tiesignal.export.exported import ExportedModel
    from tiesignal.scoring import score_file

    if args.chunk_size < 1:
        raise ValueError("--chunk-size must be at least 1")
    rejects = args.rejects or args.out.with_name(f"{args.out.stem}.rejects{args.out.suffix}")
    model = ExportedModel.load(args.model)
    report = score_file(model, args.input, args.out, rejects, args.chunk_size, progress=None)
    rejected = "none rejected"
    if report.rows_rejected:
        rejected = f"{report.rows_rejected} rejected, see {rejects}"
    log.info("scored %d of %d requests (%s) in %.1fs, %.0f requests/s -> %s",
             report.rows_scored, report.rows_in, rejected, report.seconds,
             report.rows_per_second, args.out)  # fmt: skip
    return 0


def _simulate_exports(args: argparse.Namespace) -> int:
    import yaml

    from tiesignal.config import load_world
    from tiesignal.io import read_parquet
    from tiesignal.simulate.exports import render_exports

    params = yaml.safe_load(args.params.read_text(encoding="utf-8"))
    world = load_world(params["world"], args.params.resolve().parent)  # the repo of params.yaml
    records = read_parquet(args.requests)
    names = render_exports(
        world, records, args.out, args.era, args.max_exports, as_zip=not args.folders,
        progress=lambda done, total: log.info("  %d / %d exports", done, total),
    )  # fmt: skip
    log.info("wrote %d exports (era %s) to %s", len(names), args.era, args.out)
    return 0


def _design(args: argparse.Namespace) -> int:
    import time

    import yaml

    from tiesignal.config import DesignConfig, StudyConfig, load, load_world
    from tiesignal.design import design_table, population, write_design

    params = yaml.safe_load(args.params.read_text(encoding="utf-8"))
    for change in args.set:
        key, sep, value = change.partition("=")
        if not sep or "." not in key:
            raise ValueError(f"--set {change!r}: expected SECTION.KEY=VALUE")
        *parents, last = key.split(".")
        section = params
        for name in parents:
            section = section.setdefault(name, {})
        section[last] = yaml.safe_load(value)
    world = load_world(params["world"], args.params.resolve().parent)
    design = load(DesignConfig, params["design"], "design")
    causal = load(StudyConfig, params["study"], "study").causal
    started = time.monotonic()
    pop = population(world, design, causal.pre_period_prior, log.info)
    table = design_table(pop, design, log.info)
    write_design(table, design, world, params["world"]["definition"], args.out)
    log.info("wrote %s (design.md, design.csv, power.png) in %.0fs", args.out,
             time.monotonic() - started)  # fmt: skip
    return 0


def _champion(args: argparse.Namespace) -> int:
    import yaml

    from tiesignal import tracking
    from tiesignal.config import ExportConfig, TrackingConfig, load
    from tiesignal.io import file_sha256

    params = yaml.safe_load(args.params.read_text(encoding="utf-8"))
    export = load(ExportConfig, params["export"], "export")
    found = tracking.champion(load(TrackingConfig, params["tracking"], "tracking"), export,
                              args.params.resolve().parent, file_sha256(args.model),
                              args.fix)  # fmt: skip
    where = f"{export.registered_model}@{export.alias}"
    if found.on_disk_version is None:
        log.error("%s: no registry version holds %s (run `dvc repro`)", where, args.model)
        return 1
    if not found.drifted:
        log.info("%s is version %s, the model in %s", where, found.alias_version, args.model)
        return 0
    log.warning("%s was version %s; the model in %s is version %s%s", where,
                found.alias_version, args.model, found.on_disk_version,
                ": moved" if found.moved else " (--fix moves the alias)")  # fmt: skip
    return 0 if found.moved else 1


def _donations(args: argparse.Namespace) -> int:
    import os

    from tiesignal.config import DataConfig, composed, load
    from tiesignal.donate import build_page, serve
    from tiesignal.ingest.pseudonym import load_salt

    params = composed(Path("conf"), ["data=donations", *args.overrides])
    data = load(DataConfig, params["data"], "data")
    if args.donations_command == "build":
        built = build_page(data, params["data"], params["split"]["label_window_days"],
                           Path("donate"), args.out)  # fmt: skip
        log.info("built the donation page in %s: %d files, %.1f MB; host the folder as it is",
                 built["folder"], built["files"], built["bytes"] / 1e6)  # fmt: skip
        return 0
    salt = load_salt(os.environ, data.salt_env, data.salt_file, Path.cwd())
    serve(data, salt, args.out, args.page, args.port)
    return 0


def _study_init(args: argparse.Namespace) -> int:
    import subprocess

    from tiesignal.workspace import init_study

    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode != 0 or not (Path(top.stdout.strip()) / "dvc.yaml").exists():
        raise ValueError("run `tiesignal study init` inside a clone of the tiesignal repo")
    ws = init_study(Path(top.stdout.strip()), args.folder, args.data, args.path,
                    args.participant_folds)  # fmt: skip
    log.info(
        "study workspace %s on branch %s (from commit %s). Next:\n"
        "  cd %s\n"
        "  bash scripts/repro.sh        # the pipeline on your data (sets up .venv first)\n"
        "  dvc exp run -S split.label_window_days=60   # experiments, kept in the workspace\n"
        "Its settings: conf/experiment/study.yaml. Commit there to record the study; "
        "never merge the branch into main.",
        ws.folder, ws.branch, ws.commit, ws.folder,
    )  # fmt: skip
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
