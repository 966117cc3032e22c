"""How large must the randomized experiment be? Power by simulation, before running it.

The world is simulated once with every request of the candidate months in both arms (its
chance of an opportunity if the sender is offered the note-writing assistant and takes
it up, and if not; whether it is a complier). Each design point (months, share of the
senders taking part, uptake, assignment scheme) is then run `replicates` times: a fresh
assignment of senders, fresh take-ups and fresh outcomes, analysed as the study's causal
section analyses the experiment (intention to treat, plain and adjusted for the senders'
pre-period outcomes, CUPED), with standard errors clustered by sender. The effect on
compliers is tested by the Anderson-Rubin test, which at 0 is the intention-to-treat
test, so one rejection rate is the power of both.

Predicted power comes from the standard error (the median over replicates): power =
P(|N(effect / se, 1)| > z). The simulated rejection rate checks it (benchmarks/design.py).
The outcome is the eventual opportunity (no label window, nothing censored): a slightly
larger sample than the study's labelled requests.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from tiesignal.config import ConfigError, DesignConfig, WorldConfig
from tiesignal.simulate import build_world, simulate_world
from tiesignal.simulate.requests import blocked_assignment, sender_blocks
from tiesignal.simulate.vocab import NOTE_LEVELS
from tiesignal.study.causal import cuped, minimum_detectable, pre_period_covariates

log = logging.getLogger(__name__)

PERSONAL_LEVELS = NOTE_LEVELS[NOTE_LEVELS.index("name_merge") :]  # a personal note's levels


@dataclass(frozen=True)
class Population:
    """The world's requests of the candidate months, each in both arms, and the pre-period
    covariates of their senders (arrays over those requests)."""

    sender: np.ndarray  # the world's sender index
    month: np.ndarray  # months since the experiment's start
    p_control: np.ndarray  # P(opportunity) without the offer
    p_offered: np.ndarray  # ... if offered and taken up
    complier: np.ndarray  # takes the assistant up (at uptake 1) and so writes a personal note
    treated_without: np.ndarray  # a personal note without the offer
    covariates: np.ndarray  # the sender's pre-period label and treatment rates, volume
    blocks: np.ndarray  # per sender of the world: type x volume quantile


def population(world: WorldConfig, design: DesignConfig, prior: float,
               progress: Callable[[str], None]) -> Population:  # fmt: skip
    """Simulate `world` once with the experiment over every candidate month, offered to
    half the senders and taken up by all compliers (the replicates redraw both)."""
    last = design.start_month + max(design.months)
    if last > world.months:
        raise ConfigError(f"design: start_month {design.start_month} + {max(design.months)} "
                          f"months passes the world's {world.months} months")  # fmt: skip
    months = list(range(design.start_month, last))
    experiment = dataclasses.replace(
        world.experiment, months=months, offered_share=0.5, uptake=1.0, scheme="sender"
    )
    sim = dataclasses.replace(world, experiment=experiment)
    start = pd.Timestamp(world.start)
    parts, pre_parts = [], []
    for done, (records, truth) in enumerate(simulate_world(sim), start=1):
        progress(f"simulated {min(done * sim.chunk_size, sim.n_requests):,} of "
                 f"{sim.n_requests:,} requests")  # fmt: skip
        sent = pd.to_datetime(records["sent_at"])
        month = (sent.dt.year - start.year) * 12 + sent.dt.month - start.month
        frame = pd.DataFrame({
            "sender": records["sender_id"].str[1:].astype(np.int64).to_numpy(),
            "month": month.to_numpy() - design.start_month,
            "y": truth["opportunity_eventually"].to_numpy(dtype=float),
            "personal": truth["note_level"].isin(PERSONAL_LEVELS).to_numpy(),
            "inside": truth["assignment"].notna().to_numpy(),
            "complier": truth["complier"].fillna(False).to_numpy(dtype=bool),
            "p_control": truth["p_opportunity_if_control"].to_numpy(),
            "p_offered": truth["p_opportunity_if_assistant"].to_numpy(),
        })  # fmt: skip
        parts.append(frame[frame["inside"]])
        pre_parts.append(frame[frame["month"] < 0])
    rows, pre = pd.concat(parts, ignore_index=True), pd.concat(pre_parts, ignore_index=True)
    both = pd.concat([pre, rows], ignore_index=True)
    senders = both["sender"].to_numpy()
    is_pre = np.r_[np.ones(len(pre), bool), np.zeros(len(rows), bool)]
    personal = both["personal"].to_numpy(dtype=float)
    covariates = pre_period_covariates(senders, is_pre, both["y"].to_numpy(), personal, prior)
    _, world_senders, _ = build_world(sim)
    return Population(
        sender=rows["sender"].to_numpy(),
        month=rows["month"].to_numpy(),
        p_control=rows["p_control"].to_numpy(),
        p_offered=rows["p_offered"].to_numpy(),
        complier=rows["complier"].to_numpy(),
        treated_without=rows["personal"].to_numpy() & ~rows["complier"].to_numpy(),
        covariates=covariates[len(pre) :],
        blocks=sender_blocks(world_senders, world.experiment.volume_blocks),
    )


@dataclass(frozen=True)
class Clusters:
    """The senders of a design point's requests, as codes 0..n-1, and their blocks."""

    code: np.ndarray  # per request
    block: np.ndarray | None  # per code; None: the analysis ignores blocks

    @classmethod
    def of(cls, sender: np.ndarray, blocks: np.ndarray | None) -> Clusters:
        senders, code = np.unique(sender, return_inverse=True)
        return cls(code, None if blocks is None else blocks[senders])


def difference(values: np.ndarray, offered: np.ndarray, clusters: Clusters) -> tuple[float, float]:
    """Mean over offered requests minus mean over the others, and its variance, each
    mean's linearized over senders (clusters); under blocked randomization the sender
    totals are centred within their block and arm (the stratified, design-based variance)."""
    n = clusters.code.max() + 1
    diff, var = 0.0, 0.0
    for arm, sign in ((offered, 1.0), (~offered, -1.0)):
        mean = values[arm].mean()
        e = np.bincount(clusters.code, np.where(arm, values - mean, 0.0), n)
        present = np.bincount(clusters.code[arm], minlength=n) > 0
        e = e[present]
        block = np.zeros(len(e), np.int64) if clusters.block is None else clusters.block[present]
        k = np.bincount(block)  # senders per block: each block's mean costs a degree of freedom
        if clusters.block is not None:
            e = e - (np.bincount(block, e) / np.maximum(k, 1))[block]
        correction = (k / np.maximum(k - 1, 1))[block]
        var += float((correction * e * e).sum()) / arm.sum() ** 2
        diff += sign * mean
    return diff, var


def design_table(pop: Population, design: DesignConfig,
                 progress: Callable[[str], None]) -> pd.DataFrame:  # fmt: skip
    """One row per design point and analysis: the true effects on its requests, the
    standard error, the minimum detectable effects, predicted and simulated power at the
    world's effect, at zero and at each of `design.effects`, and the size it needs."""
    points = [(m, s, u, scheme) for m in design.months for s in design.sender_shares
              for u in design.uptakes for scheme in design.schemes]  # fmt: skip
    rows = []
    for i, point in enumerate(points, start=1):
        rows += _design_point(pop, design, *point, np.random.default_rng([design.seed, i]))
        progress(f"design point {i} of {len(points)}: {point[0]} months, {point[1]:.0%} of "
                 f"senders, uptake {point[2]:.0%}, {point[3]} assignment")  # fmt: skip
    return pd.DataFrame(rows)


def _design_point(pop: Population, design: DesignConfig, months: int, share: float,
                  uptake: float, scheme: str, rng: np.random.Generator) -> list[dict]:  # fmt: skip
    z = norm.ppf(0.5 + design.confidence / 2)
    n_senders = len(pop.blocks)
    taking_part = np.random.default_rng([design.seed, 0]).random(n_senders) < share
    keep = (pop.month < months) & taking_part[pop.sender]
    sender, complier = pop.sender[keep], pop.complier[keep]
    p0, p1, covariates = pop.p_control[keep], pop.p_offered[keep], pop.covariates[keep]
    everyone = np.ones(len(sender), dtype=bool)
    clusters = Clusters.of(sender, pop.blocks if scheme == "blocked" else None)
    complier_share = uptake * complier.mean()
    true_itt = float(uptake * np.mean(np.where(complier, p1 - p0, 0.0)))
    true_late = float((p1 - p0)[complier].mean()) if complier.any() else 0.0
    effects = {"world": None, "zero": 0.0, **{f"{e:g}": e for e in design.effects}}
    found = {(name, adj): [] for name in effects for adj in (False, True)}
    for _ in range(design.replicates):
        offered_sender = (
            blocked_assignment(pop.blocks, design.offered_share, rng)
            if scheme == "blocked"
            else rng.random(n_senders) < design.offered_share
        )
        offered = offered_sender[sender]
        uses = offered & complier & (rng.random(len(sender)) < uptake)
        d = (pop.treated_without[keep] | uses).astype(float)
        d_adjusted = cuped(d, covariates, everyone)
        first = {False: difference(d, offered, clusters)[0],
                 True: difference(d_adjusted, offered, clusters)[0]}  # fmt: skip
        u = rng.random(len(sender))  # one draw of outcomes, shifted by each hypothesis
        for name, effect in effects.items():
            p = np.where(uses, p1 if effect is None else np.clip(p0 + effect, 0, 1), p0)
            y = (u < p).astype(float)
            for adj in (False, True):
                itt, var = difference(cuped(y, covariates, everyone) if adj else y, offered,
                                      clusters)  # fmt: skip
                found[(name, adj)].append((itt, var, first[adj]))
    rows = []
    for adj in (False, True):
        null = np.array(found[("zero", adj)])
        se = float(np.median(np.sqrt(null[:, 1])))
        first = float(null[:, 2].mean())
        mde_itt = minimum_detectable(se, z, design.power)
        row = {
            "scheme": scheme, "adjusted": adj, "months": months, "sender_share": share,
            "uptake": uptake, "senders": int(clusters.code.max() + 1),
            "requests": int(keep.sum()), "first_stage": first, "true_itt": true_itt,
            "true_late": true_late, "se_itt": se, "mde_itt": mde_itt,
            "mde_late": mde_itt / first if first > 0 else np.inf,
        }  # fmt: skip
        for name, effect in effects.items():
            itt = true_itt if effect is None else effect * complier_share
            draws = np.array(found[(name, adj)])
            row[f"power_{name}_predicted"] = _power(itt, se, z)
            row[f"power_{name}_simulated"] = float(
                np.mean(np.abs(draws[:, 0]) > z * np.sqrt(draws[:, 1]))
            )
        # for 80% power at the world's own effect: this many times the design's requests
        row["size_for_power"] = (mde_itt / true_itt) ** 2 if true_itt else np.inf
        rows.append(row)
    return rows


def _power(effect: float, se: float, z: float) -> float:
    """P(a two-sided z-test rejects 0) when the estimate is N(effect, se^2)."""
    if se <= 0:
        return 1.0 if effect else 0.0
    shift = abs(effect) / se
    return float(norm.cdf(shift - z) + norm.cdf(-shift - z))


def at_reference(table: pd.DataFrame, design: DesignConfig, world: WorldConfig) -> pd.DataFrame:
    """The rows of `table` at `reference_point`: every scheme and analysis there."""
    at = table
    for key, value in reference_point(design, world).items():
        at = at[at[key] == value]
    return at


def reference_point(design: DesignConfig, world: WorldConfig) -> dict:
    """The grid point nearest the world's own experiment: its length, all senders (or the
    largest share in the grid) and its uptake, for the report's headline."""

    def nearest(values, target):
        return min(values, key=lambda v: (abs(v - target), -v))

    return {
        "months": nearest(design.months, len(world.experiment.months) or max(design.months)),
        "sender_share": max(design.sender_shares),
        "uptake": nearest(design.uptakes, world.experiment.uptake),
    }


def calibration(table: pd.DataFrame, replicates: int) -> tuple[int, int, float]:
    """How many predicted powers lie within 2 Monte Carlo standard errors of the simulated
    rejection rate (the error at the predicted power, at least that of 1/replicates), of
    how many, and the largest gap in those errors."""
    gaps = []
    for column in table.columns:
        if column.endswith("_predicted"):
            predicted = table[column].to_numpy()
            simulated = table[column.replace("_predicted", "_simulated")].to_numpy()
            floor = 1 / replicates
            p = np.clip(predicted, floor, 1 - floor)
            gaps.append(np.abs(simulated - predicted) / np.sqrt(p * (1 - p) / replicates))
    gaps = np.concatenate(gaps)
    return int((gaps <= 2).sum()), len(gaps), float(gaps.max())


def design_markdown(table: pd.DataFrame, design: DesignConfig, world: WorldConfig,
                    definition: str) -> str:  # fmt: skip
    """The report: the headline at the world's own size, every design point, calibration.
    `definition`: the world's file, to name it."""
    ref = reference_point(design, world)
    at = at_reference(table, design, world)
    base = at[(at["scheme"] == "sender") & ~at["adjusted"]]
    best = at.loc[at["mde_late"].idxmin()] if len(at) else None
    pct = f"{design.power:.0%}"
    e = world.experiment
    lines = [
        "# Experiment design: how large must the experiment be?",
        "",
        f"The world ({definition}, seed {world.seed}, {world.n_requests:,} requests, "
        f"{world.n_senders:,} senders) runs its experiment over {len(e.months)} months, "
        f"offering the assistant to {e.offered_share:.0%} of senders ({e.scheme} "
        f"assignment) with uptake {e.uptake:.0%}. Each design point below starts in month "
        f"{design.start_month} (the months before are the pre-period), is simulated "
        f"{design.replicates} times per effect and analysed as the study's causal section "
        "does; the effect on compliers is tested by Anderson-Rubin (at 0, the "
        "intention-to-treat test). Outcomes: the eventual opportunity (no window).",
        "",
    ]
    if len(base) and best is not None:
        b = base.iloc[0]
        lines += [
            f"At the world's own size ({ref['months']} months, {ref['sender_share']:.0%} of "
            f"senders, uptake {ref['uptake']:.0%}; {int(b['requests']):,} requests): "
            f"randomizing senders and analysing plainly finds an effect on compliers of "
            f"{100 * b['mde_late']:.2f} points {pct} of the time; the world's is "
            f"{100 * b['true_late']:+.2f} points, found {b['power_world_simulated']:.0%} of "
            f"the time (predicted {b['power_world_predicted']:.0%}). For {pct} power at the "
            f"world's effect it needs {b['size_for_power']:.1f} times the requests.",
            "",
            f"The best design at that size, {best['scheme']} assignment"
            + (" with the CUPED adjustment" if best["adjusted"] else "")
            + f", detects {100 * best['mde_late']:.2f} points: "
            f"{b['mde_late'] / best['mde_late']:.2f} times smaller than plain sender "
            f"randomization, and needs {best['size_for_power']:.1f} times the requests "
            f"for {pct} power at the world's effect.",
            "",
        ]
    within, total, worst = calibration(table, design.replicates)
    lines += [
        f"Predicted power lies within 2 Monte Carlo errors of the simulated rejection rate "
        f"at {within} of {total} points (largest gap {worst:.1f} errors; about 1 in 20 "
        "beyond 2 is chance). Blocked designs are analysed with their blocks (the "
        "stratified variance); the study's causal section does not know the blocks, so its "
        "intervals there are conservative.",
        "",
        "![power](power.png)",
        "",
        "| assignment | CUPED | months | senders | uptake | requests | first stage | "
        f"MDE on compliers ({pct}) | power at world's effect (predicted / simulated) | "
        + " | ".join(f"power at {100 * x:g} points" for x in design.effects)
        + " | size for power |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(design.effects) + "---:|",
    ]
    for r in table.itertuples():
        cells = [
            r.scheme, "yes" if r.adjusted else "no", str(r.months), f"{r.sender_share:.0%}",
            f"{r.uptake:.0%}", f"{r.requests:,}", f"{100 * r.first_stage:.1f} pts",
            f"{100 * r.mde_late:.2f} pts",
            f"{r.power_world_predicted:.0%} / {r.power_world_simulated:.0%}",
        ]  # fmt: skip
        row = table.loc[r.Index]
        cells += [f"{row[f'power_{x:g}_predicted']:.0%} / {row[f'power_{x:g}_simulated']:.0%}"
                  for x in design.effects]  # fmt: skip
        cells.append(f"{r.size_for_power:.1f}x")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([*lines, ""])


def power_plot(table: pd.DataFrame, design: DesignConfig, world: WorldConfig, path) -> None:
    """Predicted power against the effect on compliers at the world's own size, one curve
    per assignment and analysis; the simulated rejection rates as points."""
    from tiesignal.evaluation.plots import plt, save_png

    ref = reference_point(design, world)
    at = at_reference(table, design, world)
    z = norm.ppf(0.5 + design.confidence / 2)
    grid = np.linspace(0, max(max(design.effects), 1e-3) * 1.2, 60)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in at.itertuples():
        label = f"{r.scheme}{', CUPED' if r.adjusted else ''}"
        share = r.first_stage
        (line,) = ax.plot(100 * grid, [_power(x * share, r.se_itt, z) for x in grid], label=label)
        row = table.loc[r.Index]
        ax.plot([100 * x for x in design.effects],
                [row[f"power_{x:g}_simulated"] for x in design.effects], "o",
                color=line.get_color())  # fmt: skip
    ax.axhline(design.power, color="grey", linestyle=":")
    ax.set_xlabel("effect on compliers (points of P(opportunity))")
    ax.set_ylabel("power")
    ax.set_title(f"{ref['months']} months, {ref['sender_share']:.0%} of senders, "
                 f"uptake {ref['uptake']:.0%} (points: simulated)")  # fmt: skip
    ax.legend(fontsize=8)
    save_png(fig, path)


def write_design(table: pd.DataFrame, design: DesignConfig, world: WorldConfig,
                 definition: str, folder) -> None:  # fmt: skip
    """design.csv, design.md and power.png into `folder` (replaced whole)."""
    from tiesignal.io import atomic_dir, write_csv, write_text

    with atomic_dir(folder) as tmp:
        write_csv(table.round(6), tmp / "design.csv")
        write_text(design_markdown(table, design, world, definition), tmp / "design.md")
        power_plot(table, design, world, tmp / "power.png")
