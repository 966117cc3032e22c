"""`tiesignal design`: power by simulation. Its predicted power must agree with the
rejection rate of the simulated experiments, above all at a zero effect (the test's size),
and the command must write a report a researcher can act on."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, composed, world_config

from tiesignal import cli
from tiesignal.config import DesignConfig, load
from tiesignal.design import Clusters, design_table, difference, population


def test_a_zero_effect_is_rejected_about_as_often_as_the_tests_size():
    world = world_config(n_requests=12_000, n_members=9_000, n_senders=400)
    design = dataclasses.replace(
        load(DesignConfig, composed()["design"], "design"),
        months=[12], sender_shares=[1.0], uptakes=[0.8], effects=[0.05], replicates=200,
    )  # fmt: skip
    table = design_table(population(world, design, 10.0, lambda _: None), design, lambda _: None)
    assert len(table) == 4  # two schemes, each plain and adjusted
    error = np.sqrt(0.05 * 0.95 / design.replicates)
    for row in table.itertuples():
        assert row.power_zero_predicted == pytest.approx(0.05)
        assert abs(row.power_zero_simulated - 0.05) <= 3 * error, (row.scheme, row.adjusted)
    big = table["power_0.05_simulated"].to_numpy()
    assert (big > table["power_zero_simulated"].to_numpy()).all()
    assert (table["mde_late"] > 0).all() and (table["first_stage"] > 0).all()


def test_the_clustered_variance_is_the_spread_of_sender_totals():
    """Two senders per arm, values known: the linearized variance by hand."""
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    sender = np.array([0, 0, 1, 2, 2, 3])
    offered = np.array([True, True, True, False, False, False])
    diff, var = difference(y, offered, Clusters.of(sender, None))
    assert diff == pytest.approx(2 / 3 - 1 / 3)
    # offered: mean 2/3, sender totals of residuals (1/3 - 2/3) = -1/3 and 1/3
    # control: mean 1/3, totals (2/3 - 1/3) = 1/3 and -1/3; each arm 2/(2-1) * (2/9) / 9
    assert var == pytest.approx(2 * (2 * (2 / 9) / 9))


def test_the_design_command_writes_its_report(tmp_path):
    params = composed("world=tiny")
    out = tmp_path / "design"
    params_file = tmp_path / "params.yaml"
    params["world"]["definition"] = str(ROOT / params["world"]["definition"])
    params_file.write_text(yaml.safe_dump(params), encoding="utf-8")
    code = cli.main(["design", "--params", str(params_file), "--out", str(out),
                     "--set", "design.replicates=4", "--set", "design.months=[6]",
                     "--set", "design.uptakes=[0.8]"])  # fmt: skip
    assert code == 0
    table = pd.read_csv(out / "design.csv")
    assert set(table["scheme"]) == {"sender", "blocked"} and len(table) == 8  # 2 shares
    report = (out / "design.md").read_text(encoding="utf-8")
    assert "At the world's own size" in report and "![power](power.png)" in report
    assert (out / "power.png").read_bytes()[:4] == b"\x89PNG"
    bad = cli.main(["design", "--params", str(params_file), "--out", str(out),
                    "--set", "design.schemes=[coin]"])  # fmt: skip
    assert bad == 1  # a clear error, not a traceback
