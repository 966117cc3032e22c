"""The feature-group study: intervals, ranking, MLflow parent/child runs, the report."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3

import numpy as np
import pandas as pd
import pytest
from conftest import composed, simulate, world_config
from sklearn.metrics import average_precision_score, roc_auc_score

from tiesignal import tracking
from tiesignal.config import ComputeConfig, ModelConfig, StudyConfig, TrackingConfig, load
from tiesignal.features.build import feature_tables
from tiesignal.features.registry import GROUPS
from tiesignal.prepare import label_and_split
from tiesignal.schema import SPLITS, validate_requests
from tiesignal.simulate import truth_summary
from tiesignal.study.bootstrap import RankedScores
from tiesignal.study.run import Truth, run_study, write_outputs
from tiesignal.study.summary import group_importance


def study_config(**changes) -> StudyConfig:
    base = load(StudyConfig, composed()["study"], "study")
    fast = {"seeds": [1, 2, 3], "bootstrap_resamples": 200, "attribution_rows": 1500,
            "ice_rows": 10, "grid_points": 8}  # fmt: skip
    return dataclasses.replace(base, **(fast | changes))


def model_config() -> ModelConfig:
    changes = {"learning_rate": 0.1, "min_child_samples": 40, "max_rounds": 300}
    return load(ModelConfig, composed()["model"] | changes, "model")


def study_inputs(world, split_config):
    """Feature tables per split (as `featurize` writes them), levels, and the truth."""
    raw, truth_rows, acc = simulate(world)
    kept = validate_requests(raw, "raw", "2000-01-01", "2100-01-01").kept
    requests = label_and_split(kept, split_config).requests
    tables, spec = feature_tables(requests, split_config.label_window_days, 20.0)
    return tables, spec["category_levels"], Truth(truth_rows, world, truth_summary(world, acc))


def world(**changes):
    cfg = world_config(n_requests=14_000, n_members=9_000)
    for path, value in changes.items():
        cfg = _replace_path(cfg, path.split("."), value)
    return cfg


def _replace_path(obj, path, value):
    if len(path) == 1:
        return dataclasses.replace(obj, **{path[0]: value})
    return dataclasses.replace(
        obj, **{path[0]: _replace_path(getattr(obj, path[0]), path[1:], value)}
    )


def test_bootstrap_metrics_equal_scikit_learn_with_weights_and_ties():
    rng = np.random.default_rng(3)
    y = rng.random(3000) < 0.07
    p = np.round(rng.random(3000) * 0.5 + 0.2 * y, 2)  # many ties
    w = np.bincount(rng.integers(0, 3000, 3000), minlength=3000).astype(float)
    auc, ap = RankedScores(y, p).metrics(w)
    assert auc == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-12)
    assert ap == pytest.approx(average_precision_score(y, p, sample_weight=w), abs=1e-12)


@pytest.fixture(scope="module")
def null_timing(split_config):
    """A world where timing has no effect on anything: its interval must include zero.
    Split with disjoint recipients: on this small world (14,000 requests) the positive
    control below, industry overlap, is clear of zero there ([-0.099, -0.024]) and only
    just not under `shared` ([-0.089, +0.003])."""
    cfg = world(
        **{"opportunity.market_amplitude": 0.0, "acceptance.weekend": 0.0,
           "acceptance.business_hours": 0.0}
    )  # fmt: skip
    disjoint = dataclasses.replace(split_config, recipients="disjoint")
    tables, levels, truth = study_inputs(cfg, disjoint)
    study = study_config()
    return study, run_study(study, model_config(), tables, levels, truth, lambda _: None)


def test_a_group_without_effect_has_an_interval_that_includes_zero(null_timing):
    _, result = null_timing
    row = result.table.set_index("variant").loc["without_timing"]
    assert row["delta_roc_auc_low"] <= 0 <= row["delta_roc_auc_high"]
    assert row["delta_pr_auc_low"] <= 0 <= row["delta_pr_auc_high"]
    truth = result.truth.groups.set_index("group")
    assert truth.loc["timing", "truth_auc_drop"] == pytest.approx(0, abs=1e-9)
    # an informative group in the same run does not include zero
    assert (
        result.table.set_index("variant").loc["without_industry_overlap", "delta_roc_auc_high"] < 0
    )


def test_a_dominant_group_ranks_first(split_config):
    cfg = world(
        **{"opportunity.tie_strength.height": 6.0, "opportunity.tie_strength.digital_height": 0.0}
    )
    tables, levels, truth = study_inputs(cfg, split_config)
    study = study_config(kinds=["without"], seeds=[1], bootstrap_resamples=50)
    result = run_study(study, model_config(), tables, levels, truth, lambda _: None)
    importance = group_importance(result.table)
    assert importance.idxmax() == "tie_strength", importance.sort_values().to_dict()
    assert result.truth.groups.iloc[0]["group"] == "tie_strength"
    assert result.truth.tie_strength.learned["all"].inverted_u


SHA256_OF_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_parent_and_child_runs_land_in_a_real_mlflow_store(null_timing, tmp_path):
    study, result = null_timing
    store = tmp_path / "mlflow.db"
    cfg = TrackingConfig(experiment="study-test", tracking_uri=f"sqlite:///{store}")
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "summary.csv").write_text("x\n1\n")
    data = tmp_path / "test.parquet"
    data.write_bytes(b"abc")
    parent = tracking.log_study(
        cfg, tmp_path, study.name, result.fits, result.y_test, {"study.seeds": "[1, 2]"},
        result.headline, {"test": data}, tmp_path / "report", result.table,
    )  # fmt: skip
    with sqlite3.connect(store) as db:
        tags = {}
        for run_id, key, value in db.execute("select run_uuid, key, value from tags"):
            tags.setdefault(run_id, {})[key] = value
        metrics = {
            r for (r,) in db.execute("select run_uuid from metrics where key='delta_roc_auc'")
        }
    children = {r: t for r, t in tags.items() if t.get("mlflow.parentRunId") == parent}
    assert tags[parent]["study_role"] == "parent" and tags[parent]["study"] == study.name
    assert len(children) == len(result.fits) == 3 * (1 + 2 * len(GROUPS))
    variants = {(t["variant"], t["seed"]) for t in children.values()}
    assert ("without_timing", "2") in variants and ("full", "1") in variants
    assert all(
        t["study"] == study.name and t["data.test.sha256"] == SHA256_OF_ABC
        for t in children.values()
    )
    assert set(children) <= metrics


def test_the_report_names_every_group_and_the_truth(null_timing, tmp_path):
    study, result = null_timing
    context = {"source": "simulated (14,000 requests)", "label_window_days": 30,
               "rows": {s: 100 for s in SPLITS}, "split": "consecutive periods",
               "target": "opportunity"}  # fmt: skip
    write_outputs(result, study, context, tmp_path)
    report = (tmp_path / "report.md").read_text()
    for group in GROUPS:
        assert f"without_{group}" in report and f"only_{group}" in report
    for section in (
        "## Question",
        "## Results",
        "## Attribution",
        "## Truth recovery",
        "## Caveats",
    ):
        assert section in report
    assert "### (c) Personalization: " in report and "Declared from the world's structure" in report
    assert "### Findings about prediction" in report
    for name in ("deltas.png", "shap_groups.png", "tie_strength.png", "pdp_mutual_connections.png"):
        assert (tmp_path / name).stat().st_size > 1000
        assert f"({name})" in report
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert len(summary) == 1 + 2 * len(GROUPS)
    assert summary["delta_roc_auc_low"].notna().sum() == 2 * len(GROUPS)
    no_truth = dataclasses.replace(result, truth=None)
    write_outputs(no_truth, study, context, tmp_path / "real")
    assert (
        "Skipped: these data have no simulated truth"
        in (tmp_path / "real" / "report.md").read_text()
    )
    json.dumps(result.headline)  # plain numbers, ready for reports/compare/figures.json


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file()}  # fmt: skip


def test_the_study_cache_refits_only_what_changed_and_never_changes_a_byte(split_config, tmp_path):
    tables, levels, truth = study_inputs(world(), split_config)
    study = study_config(kinds=["only"], seeds=[1], bootstrap_resamples=50)
    context = {"source": "simulated", "label_window_days": 30, "rows": {s: 1 for s in SPLITS},
               "split": "consecutive periods", "target": "opportunity"}  # fmt: skip
    cache = tmp_path / "cache"

    def study_run(name, cfg=study, model=None, folder=cache):
        result = run_study(cfg, model or model_config(), tables, levels, truth, lambda _: None,
                           folder)  # fmt: skip
        write_outputs(result, cfg, context, tmp_path / name)
        return {(f.variant.name, f.seed): f.cached for f in result.fits}

    assert not any(study_run("uncached", folder=None).values())
    assert not any(study_run("first").values())
    entries = sorted(cache.iterdir())
    assert len(entries) == 1 + len(GROUPS)
    assert all(study_run("again").values())
    for name in ("first", "again"):
        assert _files(tmp_path / name) == _files(tmp_path / "uncached"), name
    # one more seed refits only that seed; another learning rate refits everything
    wider = study_run("wider", dataclasses.replace(study, seeds=[1, 2]))
    assert {seed for (_, seed), cached in wider.items() if not cached} == {2}
    assert all(cached for (_, seed), cached in wider.items() if seed == 1)
    faster = dataclasses.replace(model_config(), learning_rate=0.2)
    assert not any(study_run("faster", model=faster).values())
    # a damaged entry is refitted, not trusted, and the outputs stay the same; a model
    # file cut in half (which LightGBM's parser can abort the process on) is never parsed
    entry = entries[0]
    (entry / "model.txt").write_text("tree\nbroken", encoding="utf-8")
    (entry / "test_scores.npy").write_bytes(b"\x93NUMPY")
    half = entries[1] / "model.txt"
    half.write_bytes(half.read_bytes()[: half.stat().st_size // 2])
    repaired = study_run("repaired")
    assert list(repaired.values()).count(False) == 2
    assert _files(tmp_path / "repaired") == _files(tmp_path / "uncached")


def test_fits_on_a_dask_cluster_are_the_same_bytes_as_fits_here(split_config, tmp_path):
    """compute=dask runs the study's fits on the cluster's workers, each with its own config
    (threads included) and rows: the same models, so the same files. Fits in the cache are
    read, not sent. Loopback only, and no LightGBM sockets: no namespace needed."""
    from distributed import get_task_stream

    from tiesignal.compute import Executor, dask_client

    tables, levels, truth = study_inputs(world(), split_config)
    study = study_config(kinds=["only"], seeds=[1, 2], bootstrap_resamples=50)
    context = {"source": "simulated", "label_window_days": 30, "rows": {s: 1 for s in SPLITS},
               "split": "consecutive periods", "target": "opportunity"}  # fmt: skip
    cache = tmp_path / "cache"

    def study_run(name, cfg=study, runner=None):
        result = run_study(cfg, model_config(), tables, levels, truth, lambda _: None, cache,
                           runner)  # fmt: skip
        write_outputs(result, cfg, context, tmp_path / name)
        return result

    study_run("seed 1 here", dataclasses.replace(study, seeds=[1]))  # into the cache
    compute = load(ComputeConfig, composed("compute=dask")["compute"], "compute")
    with dask_client(compute) as client, get_task_stream(client) as tasks:
        result = study_run("cluster", runner=Executor(client))
    per_seed = 1 + len(GROUPS)
    assert sorted(f.cached for f in result.fits) == [False] * per_seed + [True] * per_seed
    fitted = [t for t in tasks.data if "fit_one" in str(t["key"])]
    assert len(fitted) == per_seed
    assert len({t["worker"] for t in fitted}) == compute.workers == 2
    shutil.rmtree(cache)
    study_run("here")
    assert _files(tmp_path / "cluster") == _files(tmp_path / "here")


def test_a_group_absent_from_the_data_is_reported_as_such_not_as_no_effect(split_config, tmp_path):
    """Issue 33: on member exports (no sender profile) the study said "no detectable
    effect (+0.0000 [+0.0000, +0.0000])" and showed `only_*` at ROC-AUC 0.5000 for groups
    the data do not contain at all. Such a group gets no variant and a sentence of its own."""
    from tiesignal.features.registry import FEATURES
    from tiesignal.study.report import report_markdown

    tables, levels, _ = study_inputs(world_config(n_requests=6_000, n_members=4_000),
                                     split_config)  # fmt: skip
    missing = [f.name for f in FEATURES if f.group == "sender_profile"]
    tables = {s: t.assign(**dict.fromkeys(missing, np.nan)) for s, t in tables.items()}
    study = study_config(kinds=["without", "only"], seeds=[1], bootstrap_resamples=50,
                         pdp_features=[])  # fmt: skip
    result = run_study(study, model_config(), tables, levels, None, lambda _: None)
    assert result.absent_groups == ["sender_profile"]
    assert "sender_profile" not in set(result.table["group"])
    assert len(result.table) == 1 + 2 * (len(GROUPS) - 1)
    rows = {s: len(t) for s, t in tables.items()}
    context = {"source": "member_exports", "label_window_days": 30, "target": "opportunity",
               "rows": rows, "split": "consecutive periods"}  # fmt: skip
    report = report_markdown(result, study, context)
    assert "- sender_profile: not in these data" in report
    assert "sender_profile: no detectable effect" not in report
