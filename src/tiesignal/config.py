"""Typed configuration objects and a strict loader.

Entry points in `pipelines/` read `params.yaml` and build these objects; the library only
ever sees the objects. The loader refuses unknown and missing keys and names the full key
path, so a typo in a Hydra override fails loudly instead of being silently ignored.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar


class ConfigError(ValueError):
    """A config value is missing, unknown or of the wrong type; the message names the key."""


# ---------------------------------------------------------------- simulated world


@dataclass(frozen=True)
class SenderTypeConfig:
    """One kind of sender: how many there are, how they behave, what they intend."""

    share: float
    volume: float  # relative number of requests sent
    log_connections_mean: float
    log_connections_sd: float
    account_age_days_mean: float
    completeness_a: float  # Beta(a, b) profile completeness
    completeness_b: float
    personalize_a: float  # Beta(a, b) propensity to personalize
    personalize_b: float
    automation_share: float  # share using bulk tools: high volume, one template for all
    specializations_max: int
    intent: dict[str, float]  # opening / pipeline / connections / growth


@dataclass(frozen=True)
class MembersConfig:
    """Who receives requests: profiles, networks, and how easily recruiters find them."""

    seniority_shares: dict[str, float]
    open_to_work: float  # share of active job seekers
    entry_open_to_work_boost: float  # entry-level members seek more often
    blocks_strangers: float  # share blocking messages from strangers
    log_connections_mean: float
    log_connections_per_seniority: float
    log_connections_sd: float
    completeness_a: float  # Beta(a, b) profile completeness
    completeness_b: float
    activity_sd: float  # lognormal activity (latent)
    contact_open_to_work: float  # findability multipliers: seekers are easier to find,
    contact_seniority: dict[str, float]  # senior people are sought more,
    contact_connections_exponent: float  # and large networks are more visible


@dataclass(frozen=True)
class OutreachConfig:
    """How requests are sent: volume, timing, bulk tools, notes and network overlap."""

    sender_volume_sd: float  # lognormal spread of senders' volume within a type
    sender_account_age_sd: float
    automated_volume_boost: float  # bulk tools multiply a sender's volume
    automated_levels: dict[str, float]  # the one note level a bulk tool sends
    market_volume_amplitude: float  # outreach rises and falls with the hiring market
    human_weekend_volume: float  # people send less at weekends; tools do not rest
    hour_mean: float  # people send around office hours (UTC)
    hour_sd: float
    long_pitch_share: float  # specific pitches with a long company blurb appended
    long_note_free_chars: int  # notes up to this length carry no length penalty
    network_seeking_exponent: float  # `connections` intent favours large networks
    connections_intent_mutual_boost: float
    mutual_noise_sd: float
    accept_delay_days_mean: float
    fit: dict[str, float]  # weights of recipient fit, by intent and component


@dataclass(frozen=True)
class AcceptanceConfig:
    """Logit coefficients of P(accept)."""

    intercept: float
    personalization: dict[str, float]  # by note level: none, generic, name_merge, ...
    long_note_per_100_chars: float  # penalty per 100 characters beyond 300
    mutual_log1p: float
    sender_completeness: float
    sender_young_account: float  # accounts younger than 90 days
    recipient_open_to_work: float
    recipient_blocks_strangers: float
    recipient_log_connections: float
    recipient_executive: float
    recipient_latent_sd: float  # unobserved per-member openness
    weekend: float
    business_hours: float


@dataclass(frozen=True)
class TieStrengthConfig:
    """Inverted U in mutual connections on the opportunity logit (Rajkumar et al. 2022)."""

    peak_mutuals: float
    width_log: float  # width of the bump on the log1p(mutuals) scale
    height: float  # effect at the peak for a non-digital industry
    digital_height: float  # extra height at digital intensity 1


@dataclass(frozen=True)
class OpportunityConfig:
    """Logit coefficients of P(opportunity | accepted)."""

    intercept: float
    intent: dict[str, float]
    fit: float
    open_to_work: float
    personalization: dict[str, float]  # the causal effect of the note's level
    market_amplitude: float
    market_period_months: float
    market_phase_months: float
    late_shift_logit: float  # added to the opportunity logit in the last months (drift)
    late_shift_months: int
    recipient_seniority: dict[str, float]
    fake_sender: float
    tie_strength: TieStrengthConfig
    delay_days_mean: float  # time from acceptance to the first qualifying message


@dataclass(frozen=True)
class ExperimentConfig:
    """A randomized experiment inside the world (DESIGN.md). In `months` (counted from 0,
    the world's first) a random `offered_share` of senders is offered a note-writing
    assistant; on each request in those months a sender who would not have personalized
    (no note or a generic one) writes a name-and-company note with chance `uptake`,
    whatever their intent. Bulk tools send their one template either way. No months: no
    experiment, and the world's bytes are what they were without this key."""

    months: list[int] = dataclasses.field(default_factory=list)
    offered_share: float = 0.5
    uptake: float = 0.8
    # `sender`: each sender offered with chance `offered_share`; `blocked`: senders grouped
    # by type and volume quartile (`volume_blocks`), and in each block a share as close to
    # `offered_share` as whole senders allow is offered (`tiesignal design` compares them)
    scheme: str = "sender"
    volume_blocks: int = 4

    @property
    def on(self) -> bool:
        return bool(self.months) and self.offered_share > 0


ASSIGNMENT_ARMS = {"offered": "assistant", "control": "control"}  # the world's experiment


@dataclass(frozen=True)
class WorldConfig:
    """The simulated outreach world of DESIGN.md; every coefficient lives here."""

    seed: int
    n_requests: int
    n_members: int
    n_senders: int
    start: str  # ISO date of the first day
    months: int
    chunk_size: int
    off_target_share: float  # sourcing errors: openings sent outside the target industry
    mutual_scale: float  # mean mutual connections ~ scale * sqrt(sender x recipient connections)
    same_industry_mutual_boost: float
    personalization_intent_shift: dict[str, float]  # confounding: intent -> personalization
    personalization_cutpoints: list[
        float
    ]  # ordered logit: none | generic | name_company | specific
    members: MembersConfig
    outreach: OutreachConfig
    sender_types: dict[str, SenderTypeConfig]
    acceptance: AcceptanceConfig
    opportunity: OpportunityConfig
    experiment: ExperimentConfig = dataclasses.field(default_factory=ExperimentConfig)


def composed(conf: Path, overrides: list[str]) -> dict:
    """`conf/` composed as `dvc exp run` composes it (Hydra), with `overrides`, as plain
    data: for commands outside the pipeline (the tests, `tiesignal donations`)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(str(Path(conf).resolve()), version_base=None):
        cfg = compose("config", overrides=list(overrides))
    return OmegaConf.to_container(cfg, resolve=True)


def load_world(section: Mapping, root: Path, where: str = "world") -> WorldConfig:
    """The world of params.yaml's `world` section: the coefficients of its `definition`
    (a YAML file, relative to `root`) with the section's other keys laid over them, so
    that params.yaml holds only the size, the seed and what an experiment changed."""
    import yaml

    if not isinstance(section, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(section).__name__}")
    changes = dict(section)
    definition = changes.pop("definition", None)
    if not isinstance(definition, str) or not definition:
        raise ConfigError(f"{where}.definition: missing; the YAML file of the world's "
                          "coefficients, e.g. conf/worlds/default.yaml")  # fmt: skip
    path = Path(definition).expanduser()
    path = path if path.is_absolute() else root / path
    try:
        coefficients = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{where}.definition: cannot read {definition}: {err}") from None
    if not isinstance(coefficients, Mapping):
        raise ConfigError(f"{where}.definition: {definition} is not a mapping of coefficients")
    try:
        return load(WorldConfig, _laid_over(coefficients, changes), where)
    except ConfigError as err:
        raise ConfigError(f"{err} (world definition {definition})") from None


def _laid_over(base: Mapping, changes: Mapping) -> dict:
    """`changes` over `base`, mapping by mapping; any other value replaces the base's."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _laid_over(out[key], value)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------- pipeline stages


@dataclass(frozen=True)
class OpportunityRules:
    """How a message from the sender reads: not an opportunity when an `exclude` rule
    finds it (a negation: "not hiring", "no openings"); else an opportunity when a `match`
    rule does; else unclear when an `unclear` rule does (an offer that names no role:
    "open to new opportunities?"). Each rule is a named, case-insensitive regular
    expression, so a reader can see why a request was labelled."""

    match: dict[str, str] = dataclasses.field(default_factory=dict)
    exclude: dict[str, str] = dataclasses.field(default_factory=dict)
    unclear: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class DonationConfig:
    """What the donation page says and where it sends (`tiesignal donations build`)."""

    study: str = "tiesignal study"  # the study's name, as the page shows it
    # shown before the participant agrees; nothing is donated without that agreement
    consent: str = ""
    # where the page POSTs a donation (an http(s) URL); empty: the participant downloads
    # the file and hands it over themselves
    endpoint: str = ""
    max_body_mb: int = 20  # the receiver refuses a larger donation


@dataclass(frozen=True)
class DataConfig:
    """Where the requests come from. Real sources need a secret salt for the person ids."""

    source: str  # simulated | member_exports | donations | table
    path: str  # the simulator's requests, a folder of exports or of donations, or a table
    salt_env: str = "TIESIGNAL_SALT"  # the salt is read from this variable, else salt_file
    salt_file: str = "~/.config/tiesignal/salt"
    opportunity_rules: OpportunityRules = dataclasses.field(default_factory=OpportunityRules)
    # Position and Company in Connections.csv exist only for senders who were accepted, so
    # as features they would give the outcome away; off unless a study wants them.
    sender_profile_from_connections: bool = False
    # the study's public pseudonym key: the donation page (and ingest of exports, which
    # runs the same code) hashes people under it; the secret salt re-keys them. Public, so
    # that the page can hold it; one per study, so that studies cannot link people.
    public_key: str = ""
    donation: DonationConfig = dataclasses.field(default_factory=DonationConfig)
    # invitation times are local clock times, message times UTC: how far a message may
    # seem to precede its invitation and still be part of the conversation after it
    clock_skew_hours: int = 14
    # a file of an export that inflates past either limit is a problem of that export (a
    # zip bomb), found while reading
    max_file_mb: int = 1024
    max_compression_ratio: float = 200.0
    # a table's observation end (ISO date or time, UTC) for rows without `observed_until`;
    # empty: the data's latest timestamp
    observed_until: str = ""
    # the arms of a randomized experiment in the data (column `assignment`): the arm that
    # was offered the treatment, and the control; any other value is a rejected row
    assignment_arms: dict[str, str] = dataclasses.field(
        default_factory=lambda: dict(ASSIGNMENT_ARMS)
    )

    def __post_init__(self) -> None:
        for key in ("max_file_mb", "max_compression_ratio"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"data.{key}: must be positive, not {getattr(self, key)!r}")
        arms = self.assignment_arms
        if set(arms) != {"offered", "control"} or len(set(arms.values())) != 2:
            raise ConfigError(
                "data.assignment_arms: needs `offered` and `control`, two different values; "
                f"got {arms!r}"
            )


TARGETS = {  # target -> what it asks, for reports and the model card
    "opportunity": "leads to a job opportunity",
    "opportunity_given_accept": "leads to a job opportunity once accepted",
    "accepted": "is accepted",
}


@dataclass(frozen=True)
class TargetConfig:
    """What the model predicts (every stage after `prepare` names it)."""

    name: str = "opportunity"

    def __post_init__(self) -> None:
        if self.name not in TARGETS:
            raise ConfigError(f"target.name: {self.name!r} is not one of {tuple(TARGETS)}")

    def question(self, label_window_days: int) -> str:
        return f"{TARGETS[self.name]} within {label_window_days} days"


SPLIT_METHODS = ("time", "participants")
RECIPIENT_POLICIES = ("shared", "disjoint")


@dataclass(frozen=True)
class PrepareConfig:
    """Label window, censoring, and the split: by time, or folds of participants."""

    label_window_days: int
    train_fraction: float
    valid_fraction: float
    min_sent_at: str  # requests outside [min_sent_at, max_sent_at] are rejected
    max_sent_at: str
    # below these in any split, `prepare` stops: a model cannot be trained or judged
    min_split_rows: int = 20
    min_split_positives: int = 1
    # "time": consecutive periods; "participants": folds of recipients (the participants,
    # in member exports), each once the test fold, for studies too small to split by time
    method: str = "time"
    folds: int = 5
    # studies with fewer labelled requests than this use "participants" whatever `method`
    participants_below: int = 0
    # time split: "shared" lets a recipient appear in several periods, as in use (a
    # forecasting split); "disjoint" keeps each recipient in one, excluding their earlier
    # requests, to judge the model on people it never saw
    recipients: str = "shared"

    def __post_init__(self) -> None:
        if self.method not in SPLIT_METHODS:
            raise ConfigError(f"split.method: {self.method!r} is not one of {SPLIT_METHODS}")
        if self.recipients not in RECIPIENT_POLICIES:
            raise ConfigError(
                f"split.recipients: {self.recipients!r} is not one of {RECIPIENT_POLICIES}"
            )
        if self.folds < 3:
            raise ConfigError(
                f"split.folds: {self.folds} is too few (a train, valid and test fold)"
            )


@dataclass(frozen=True)
class FeaturizeConfig:
    """How the track-record features are made (every feature is built; `features` picks)."""

    # a track record's rate starts as this many outcomes at the training base rate
    track_record_prior_weight: float = 20.0


@dataclass(frozen=True)
class FeaturesConfig:
    """Which feature groups a model may use."""

    name: str
    groups: list[str]


STOPPING_METRICS = ("binary_logloss", "auc")  # LightGBM's names; every one is logged


@dataclass(frozen=True)
class LightGBMConfig:
    """Gradient-boosted trees, early stopping on valid; the defaults live in conf/model/."""

    kind: str  # "lightgbm"
    seed: int
    learning_rate: float
    num_leaves: int
    min_child_samples: int
    feature_fraction: float
    bagging_fraction: float
    bagging_freq: int
    lambda_l2: float
    max_bin: int  # histogram bins per feature: fewer bins, faster rounds on large data
    max_rounds: int
    early_stopping_rounds: int
    stopping_metric: str  # what early stopping watches on valid; every metric is logged
    num_threads: int

    def __post_init__(self) -> None:
        if self.stopping_metric not in STOPPING_METRICS:
            raise ConfigError(
                f"model.stopping_metric: {self.stopping_metric!r} is not one of {STOPPING_METRICS}"
            )
        _in_range(self, "learning_rate", 0.0, 1.0, low_open=True)
        _in_range(self, "feature_fraction", 0.0, 1.0, low_open=True)
        _in_range(self, "bagging_fraction", 0.0, 1.0, low_open=True)
        for name in ("num_leaves", "max_bin", "max_rounds", "early_stopping_rounds",
                     "num_threads"):  # fmt: skip
            _at_least(self, name, 2 if name in ("num_leaves", "max_bin") else 1)
        for name in ("min_child_samples", "bagging_freq", "lambda_l2"):
            _at_least(self, name, 0)


@dataclass(frozen=True)
class LogisticConfig:
    """The linear baseline: L2-regularized logistic regression."""

    kind: str  # "logistic"
    seed: int
    C: float  # inverse regularization strength
    max_iter: int

    def __post_init__(self) -> None:
        _at_least(self, "max_iter", 1)
        if not self.C > 0:
            raise ConfigError(f"model.C: must be > 0, got {self.C!r}")


# `model` is one of these, chosen by its `kind` key; keys the chosen kind does not use are
# errors, so `model=logistic model.num_leaves=31` fails instead of being silently ignored
ModelConfig = LightGBMConfig | LogisticConfig
MODEL_KINDS: dict[str, type] = {"lightgbm": LightGBMConfig, "logistic": LogisticConfig}


def _in_range(cfg, name: str, low: float, high: float, low_open: bool = False) -> None:
    value = getattr(cfg, name)
    if not ((low < value if low_open else low <= value) and value <= high):
        bracket = "(" if low_open else "["
        raise ConfigError(f"model.{name}: must be in {bracket}{low:g}, {high:g}], got {value!r}")


def _at_least(cfg, name: str, low: float) -> None:
    value = getattr(cfg, name)
    if value < low:
        raise ConfigError(f"model.{name}: must be at least {low:g}, got {value!r}")


COMPUTE_KINDS = ("local", "dask")


@dataclass(frozen=True)
class ComputeConfig:
    """Where the heavy stages run. `local`: this machine, `simulate` over `workers`
    processes (0: one per core); the stages after it read `chunk_rows` rows of a table at a
    time. The outputs are the same bytes whatever either. `dask`: `prepare`, `featurize`
    and `evaluate` process their input's row groups on the cluster's workers (the same
    bytes), `train` fits LightGBM over the cluster (the same model within noise), and
    `compare` fits its study's models on the workers (the same bytes): the scheduler at
    `address`, or else a cluster of `workers` processes on this machine that the stage
    starts and stops."""

    kind: str  # "local" or "dask"
    workers: int
    chunk_rows: int
    address: str = ""  # dask only: an existing scheduler, e.g. tcp://10.0.0.5:8786

    def __post_init__(self) -> None:
        if self.kind not in COMPUTE_KINDS:
            raise ConfigError(f"compute.kind: {self.kind!r} is not one of {list(COMPUTE_KINDS)}")
        if self.workers < 0:
            raise ConfigError(f"compute.workers: must be at least 0, got {self.workers!r}")
        if self.chunk_rows < 1:
            raise ConfigError(f"compute.chunk_rows: must be at least 1, got {self.chunk_rows!r}")
        if self.address and self.kind != "dask":
            raise ConfigError("compute.address: only compute=dask connects to a scheduler")

    @property
    def processes(self) -> int:
        return self.workers or self.cores()

    @staticmethod
    def cores() -> int:
        """The cores this process may use."""
        return len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class TrackingConfig:
    """Where MLflow runs go. An empty URI means the SQLite store inside the repo."""

    experiment: str
    tracking_uri: str = ""


@dataclass(frozen=True)
class EvaluateConfig:
    calibration_bins: int
    top_fractions: list[float]
    # drift is flagged when the test period's base rate (or calibration gap) differs from
    # training's beyond its interval and by at least this share of training's base rate:
    # with 100k requests a hiring cycle's few percent are significant but not material
    drift_min_relative_change: float = 0.2
    # intervals of a cross-validation over participants: bootstrap over participants
    confidence: float = 0.95
    resamples: int = 1000


@dataclass(frozen=True)
class CausalConfig:
    """The study's causal section (study/causal.py): which treatments, and how the
    adjusted estimate and the intervals are computed."""

    # treatment -> feature columns: a request is treated where any of them is positive
    treatments: dict[str, list[str]]
    folds: int = 3  # cross-fitting folds of double machine learning
    nuisance_trees: int = 100  # LightGBM trees of each nuisance model
    confounder_strength: float = 0.03  # partial R^2 of a confounder, for the bounds
    resamples: int = 500  # bootstrap resamples of senders
    seed: int = 0
    # below this first-stage F (or with a first stage whose interval includes 0) the
    # instrument is weak: its Anderson-Rubin set only, no point estimate
    weak_instrument_f: float = 10.0
    benchmark_groups: bool = True  # double ML's sensitivity against each observed group
    pre_period_prior: float = 10.0  # requests the senders' pre-period rates shrink with

    def __post_init__(self) -> None:
        if self.folds < 2:
            raise ConfigError(f"study.causal.folds: at least 2, got {self.folds}")
        if not 0 < self.confounder_strength < 1:
            raise ConfigError("study.causal.confounder_strength: must be in (0, 1)")


@dataclass(frozen=True)
class DesignConfig:
    """`tiesignal design` (design.py): the grid of experiments it sizes by simulation."""

    start_month: int = 6  # the experiment's first month; the months before are its pre-period
    months: list[int] = dataclasses.field(default_factory=lambda: [6, 12, 18])  # durations
    sender_shares: list[float] = dataclasses.field(default_factory=lambda: [0.5, 1.0])
    uptakes: list[float] = dataclasses.field(default_factory=lambda: [0.4, 0.8])
    schemes: list[str] = dataclasses.field(default_factory=lambda: ["sender", "blocked"])
    # effects on compliers (differences in P(opportunity)) to give the power for
    effects: list[float] = dataclasses.field(default_factory=lambda: [0.01, 0.02, 0.05])
    offered_share: float = 0.5
    replicates: int = 40  # simulated experiments per design point and effect
    confidence: float = 0.95
    power: float = 0.8
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.schemes) - {"sender", "blocked"})
        if unknown:
            raise ConfigError(f"design.schemes: unknown {unknown}; known: blocked, sender")
        if not self.months or min(self.months) < 1 or self.start_month < 1:
            raise ConfigError("design.months: at least one month, after a pre-period "
                              "(design.start_month >= 1)")  # fmt: skip
        if self.replicates < 2:
            raise ConfigError(f"design.replicates: at least 2, got {self.replicates}")
        for key in ("sender_shares", "uptakes"):
            if not all(0 < v <= 1 for v in getattr(self, key)):
                raise ConfigError(f"design.{key}: each in (0, 1]")


@dataclass(frozen=True)
class StudyConfig:
    """The feature-group study: which variants, how many seeds, how the intervals and the
    attribution are computed."""

    name: str
    kinds: list[str]  # "without" (leave one group out) and/or "only" (one group alone)
    seeds: list[int]
    bootstrap_resamples: int
    bootstrap_seed: int
    resample_training: bool  # each seed refits on a bootstrap resample of the training rows
    confidence: float
    attribution_rows: int  # test rows explained by SHAP and partial dependence
    ice_rows: int
    grid_points: int
    pdp_features: list[str]
    model: ModelConfig  # the study's own: an experiment's `model` does not refit the study
    causal: CausalConfig


@dataclass(frozen=True)
class ExportConfig:
    """Where the exported model is registered, how closely ONNX must match LightGBM, and
    what one call to the served raw-requests model may hold."""

    registered_model: str
    alias: str
    onnx_tolerance: float
    max_rows_per_call: int
    max_cell_chars: int
    max_call_chars: int  # every text cell of one call together

    def __post_init__(self) -> None:
        for name in ("max_rows_per_call", "max_cell_chars", "max_call_chars"):
            if getattr(self, name) < 1:
                raise ConfigError(f"export.{name}: must be at least 1, got {getattr(self, name)!r}")

    def serving_limits(self) -> dict[str, int]:
        return {"max_rows_per_call": self.max_rows_per_call, "max_cell_chars": self.max_cell_chars,
                "max_call_chars": self.max_call_chars}  # fmt: skip


# ---------------------------------------------------------------- loader

T = TypeVar("T")


def load(cls: type[T], data: Any, where: str) -> T:
    """Build dataclass `cls` from a plain mapping, naming `where.key` on any mismatch.
    `cls` may be a union of dataclasses told apart by their `kind` key (`ModelConfig`)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    if typing.get_origin(cls) in (typing.Union, types.UnionType):
        cls = _kind_of(typing.get_args(cls), data, where)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        used_by = f" (not used by {where}.kind {data['kind']!r})" if "kind" in fields else ""
        keys = ", ".join(f"{where}.{k}" for k in unknown)
        raise ConfigError(f"{where}: unknown key(s) {keys}{used_by}")
    values = {}
    for name, f in fields.items():
        if name not in data:
            has_default = (
                f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            )
            if has_default:
                continue
            raise ConfigError(f"{where}: missing key {where}.{name}")
        values[name] = _coerce(hints[name], data[name], f"{where}.{name}")
    return cls(**values)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return load(tp, value, where)
    if origin in (dict, Mapping):
        key_tp, val_tp = typing.get_args(tp)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {
            _coerce(key_tp, k, where): _coerce(val_tp, v, f"{where}.{k}") for k, v in value.items()
        }
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(item_tp, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        return load(tp, value, where)
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is str and isinstance(value, str):
        return value
    if tp is bool and isinstance(value, bool):
        return value
    raise ConfigError(f"{where}: expected {getattr(tp, '__name__', tp)}, got {value!r}")


def _kind_of(choices: tuple[type, ...], data: Mapping, where: str) -> type:
    """The member of a tagged union named by `data["kind"]`."""
    by_kind = {kind: cls for kind, cls in MODEL_KINDS.items() if cls in choices}
    kind = data.get("kind")
    if kind not in by_kind:
        raise ConfigError(f"{where}.kind: unknown {kind!r}; known: {sorted(by_kind)}")
    return by_kind[kind]
