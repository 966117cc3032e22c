"""The simulated world: rates, determinism, confounding, the truth, no latent leaks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from conftest import simulate, world_config
from sklearn.metrics import roc_auc_score

from tiesignal.io import file_sha256, write_parquet
from tiesignal.schema import SOURCE_COLUMNS
from tiesignal.simulate import tie_strength_curve, truth_summary, write_world
from tiesignal.simulate.requests import blocked_assignment, offered_senders, sender_blocks
from tiesignal.simulate.world import make_senders


def test_rates_land_in_the_design_ranges():
    # the default world's people, fewer requests: rates do not depend on the volume
    cfg = world_config(n_requests=60_000, n_members=50_000, n_senders=1_500, chunk_size=30_000)
    _, truth, acc = simulate(cfg)
    rates = truth_summary(cfg, acc)["rates"]
    assert 0.30 <= rates["accepted"] <= 0.45
    assert 0.02 <= rates["opportunity"] <= 0.06


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    cfg = world_config(n_requests=3_000)
    hashes = []
    for i, c in enumerate((cfg, cfg, world_config(n_requests=3_000, seed=cfg.seed + 1))):
        records, truth, _ = simulate(c)
        write_parquet(records, tmp_path / f"r{i}.parquet")
        write_parquet(truth, tmp_path / f"t{i}.parquet")
        hashes.append(
            (file_sha256(tmp_path / f"r{i}.parquet"), file_sha256(tmp_path / f"t{i}.parquet"))
        )
    assert hashes[0] == hashes[1]
    assert hashes[0][0] != hashes[2][0]


def test_the_bytes_do_not_depend_on_how_many_processes_simulate(tmp_path):
    cfg = world_config(n_requests=5_000, chunk_size=1_000)  # 5 chunks over 2 workers
    files = {}
    for processes in (1, 2):
        folder = tmp_path / str(processes)
        folder.mkdir()
        done: list[int] = []
        write_world(cfg, folder / "requests.parquet", folder / "truth.parquet",
                    folder / "truth.json", lambda n, _, done=done: done.append(n),
                    processes)  # fmt: skip
        assert done == [1_000, 2_000, 3_000, 4_000, 5_000], "progress in order"
        files[processes] = {p.name: file_sha256(p) for p in folder.iterdir()}
    assert files[1] == files[2]


def test_records_hold_canonical_columns_and_no_latent_cause(tiny_world):
    _, records, truth, _ = tiny_world
    # the default world runs its experiment: `assignment` (tests/test_experiment.py)
    assert list(records.columns) == list(SOURCE_COLUMNS)
    for latent in ("intent", "sender_type", "note_level", "p_accept", "p_opportunity", "fit"):
        assert latent not in records.columns
        assert latent in truth.columns
    assert (records["request_id"] == truth["request_id"]).all()
    assert records["request_id"].is_unique


def test_outcomes_are_consistent_in_time(tiny_world):
    _, records, _, _ = tiny_world
    assert not (records["opportunity"] & ~records["accepted"]).any()
    assert (records["accepted_at"].dropna() > records.loc[records["accepted"], "sent_at"]).all()
    assert (
        records["opportunity_at"].dropna() > records.loc[records["opportunity"], "accepted_at"]
    ).all()
    end = pd.Timestamp("2026-01-01", tz="UTC")
    assert records["sent_at"].min() >= pd.Timestamp("2024-01-01", tz="UTC")
    assert records["sent_at"].max() < end and records["opportunity_at"].max() <= end


def test_openings_are_personalized_more_the_deliberate_confounding(tiny_world):
    _, records, truth, _ = tiny_world
    personal = records["note_mentions_company"] | (records["note_skill_mentions"] > 0)
    share = personal.groupby(truth["intent"]).mean()
    assert share["opening"] > share["pipeline"] > share["growth"]


def test_true_effect_of_personalization_is_counterfactual_and_positive(tiny_world):
    cfg, _, truth, acc = tiny_world
    effect = truth_summary(cfg, acc)["personalization_effect"]
    assert effect["ate_probability"] > 0
    assert np.isclose(
        effect["ate_probability"],
        truth["p_opportunity_if_personalized"].mean() - truth["p_opportunity_if_none"].mean(),
    )
    # the naive comparison mixes in intent: it overstates the causal effect
    personal = truth["note_level"].isin(["name_company", "specific"])
    naive = (
        truth.loc[personal, "p_opportunity"].mean()
        - truth.loc[truth["note_level"] == "none", "p_opportunity"].mean()
    )
    assert naive > effect["ate_probability"]


def test_tie_strength_is_an_inverted_u_peaking_where_configured_and_higher_when_digital():
    cfg = world_config()
    curve = tie_strength_curve(cfg)
    peak = curve.loc[curve["effect_digital_0"].idxmax(), "mutual_connections"]
    assert peak == round(cfg.opportunity.tie_strength.peak_mutuals)
    assert curve["effect_digital_0"].iloc[0] < curve["effect_digital_0"].max()
    assert curve["effect_digital_0"].iloc[-1] < curve["effect_digital_0"].max()
    assert (curve["effect_digital_1"] >= curve["effect_digital_0"]).all()


def test_mass_senders_reuse_templates(tiny_world):
    _, records, truth, _ = tiny_world
    per_template = records.groupby(["sender_id", "note_template_id"]).size()
    assert per_template.max() > 20, "bulk tools should send one template many times"
    assert truth["sender_type"].nunique() == 5


def test_counterfactual_note_lengths_match_the_rendered_notes():
    from tiesignal.simulate.notes import field_lengths, note_lengths, render_notes

    rng = np.random.default_rng(3)
    n = 400
    fields = {
        name: np.array([("x" * k) for k in rng.integers(1, 12, n)], dtype=object)
        for name in ("first", "company", "industry", "role", "skill1", "skill2")
    }
    level, variant, extra = rng.integers(0, 5, n), rng.integers(0, 3, n), rng.random(n) < 0.5
    rendered = render_notes(level, variant, extra, **fields)
    expected = [0 if t is None else len(t) for t in rendered]
    assert note_lengths(level, variant, extra, field_lengths(**fields)).tolist() == expected


def test_an_oracle_that_does_not_know_the_intent_ranks_worse_unless_intent_changes_nothing(
    tiny_world,
):
    _, _, truth, _ = tiny_world
    y = truth["opportunity_eventually"]
    blind = roc_auc_score(y, truth["p_opportunity_intent_unknown"])
    assert roc_auc_score(y, truth["p_opportunity"]) > blind + 0.01
    assert blind > 0.6, "it still knows everything else"
    # every intent alike: the same logit term and no fit that depends on what is sought
    cfg = world_config(n_requests=3_000)
    cfg = dataclasses.replace(
        cfg,
        opportunity=dataclasses.replace(
            cfg.opportunity, intent=dict.fromkeys(cfg.opportunity.intent, 0.3)
        ),
        outreach=dataclasses.replace(cfg.outreach, fit=dict.fromkeys(cfg.outreach.fit, 0.0)),
    )
    _, alike, _ = simulate(cfg)
    np.testing.assert_allclose(
        alike["p_opportunity_intent_unknown"], alike["p_opportunity"], rtol=1e-6
    )


def test_a_blocked_experiment_balances_its_arms_within_every_block():
    rng = np.random.default_rng(7)
    blocks = rng.integers(0, 20, 5000)
    for share in (0.5, 0.3):
        offered = blocked_assignment(blocks, share, np.random.default_rng(1))
        for block in np.unique(blocks):
            members = blocks == block
            assert abs(offered[members].sum() - share * members.sum()) < 1
    cfg = world_config()
    blocked = dataclasses.replace(cfg.experiment, scheme="blocked", months=[3, 4, 5])
    cfg = dataclasses.replace(cfg, experiment=blocked)
    senders = make_senders(cfg, np.random.default_rng(0))  # senders shaped as the world's
    offered = offered_senders(cfg, senders)
    blocks = sender_blocks(senders, cfg.experiment.volume_blocks)
    assert len(np.unique(blocks)) > 10  # types x volume quartiles
    for block in np.unique(blocks):
        members = blocks == block
        assert abs(offered[members].sum() - 0.5 * members.sum()) < 1
    records, _, _ = simulate(cfg)  # end to end: each sender in one arm, both arms present
    arms = records.dropna(subset=["assignment"]).groupby("sender_id")["assignment"].nunique()
    assert (arms == 1).all() and records["assignment"].nunique() == 2
