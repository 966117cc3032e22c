"""Every config composes, params.yaml is the composition of conf/, bad keys fail loudly."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from conftest import ROOT, composed
from hydra.errors import ConfigCompositionException, MissingConfigException

from tiesignal.config import (
    ComputeConfig,
    ConfigError,
    DataConfig,
    DesignConfig,
    EvaluateConfig,
    ExportConfig,
    FeaturesConfig,
    FeaturizeConfig,
    ModelConfig,
    PrepareConfig,
    StudyConfig,
    TargetConfig,
    TrackingConfig,
    WorldConfig,
    load,
    load_world,
)
from tiesignal.features.registry import GROUPS, select

SECTIONS = {
    "data": DataConfig,
    "world": WorldConfig,
    "target": TargetConfig,
    "split": PrepareConfig,
    "featurize": FeaturizeConfig,
    "features": FeaturesConfig,
    "model": ModelConfig,
    "evaluate": EvaluateConfig,
    "study": StudyConfig,
    "design": DesignConfig,
    "export": ExportConfig,
    "tracking": TrackingConfig,
    "compute": ComputeConfig,
}
# the config groups of conf/config.yaml's defaults list (conf/worlds/ holds world
# definitions, files that params.yaml names, not a group)
DEFAULTS = yaml.safe_load((ROOT / "conf" / "config.yaml").read_text())["defaults"]
GROUP_DIRS = [ROOT / "conf" / next(iter(d)).split()[-1] for d in DEFAULTS if isinstance(d, dict)]
CHOICES = [f"{d.name}={f.stem}" for d in GROUP_DIRS for f in sorted(d.glob("*.yaml"))]


def _typed(params: dict) -> None:
    assert set(params) == set(SECTIONS), "params.yaml sections and config classes differ"
    for name, cls in SECTIONS.items():
        if cls is WorldConfig:
            load_world(params[name], ROOT)
        else:
            load(cls, params[name], name)
    select(params["features"]["groups"])


@pytest.mark.parametrize("choice", CHOICES)
def test_every_config_composes_into_typed_objects(choice):
    _typed(composed(choice))


def test_committed_params_yaml_is_the_composition_of_conf():
    committed = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    assert committed == composed(), "run scripts/compose_params.py after editing conf/"


def test_feature_configs_name_known_groups_and_leave_one_out():
    for path in (ROOT / "conf" / "features").glob("no_*.yaml"):
        groups = yaml.safe_load(path.read_text())["groups"]
        left_out = set(GROUPS) - set(groups)
        assert left_out == {path.stem.removeprefix("no_")}


def test_experiment_overrides_only_what_changes():
    base, quick = composed(), composed("experiment=quick")
    assert quick["world"]["n_requests"] < base["world"]["n_requests"]
    assert quick["model"]["learning_rate"] != base["model"]["learning_rate"]
    assert quick["split"] == base["split"] and quick["features"] == base["features"]


def test_compute_settings_are_checked_by_name():
    local = composed()["compute"]
    assert load(ComputeConfig, local, "compute").processes >= 1
    with pytest.raises(ConfigError, match=r"compute\.workers: must be at least 0"):
        load(ComputeConfig, local | {"workers": -1}, "compute")
    with pytest.raises(ConfigError, match=r"compute\.chunk_rows: must be at least 1"):
        load(ComputeConfig, local | {"chunk_rows": 0}, "compute")
    with pytest.raises(ConfigError, match=r"compute\.kind: 'cluster' is not one of"):
        load(ComputeConfig, local | {"kind": "cluster"}, "compute")


def test_unknown_key_is_named_with_its_path():
    world = composed("+world.acceptance.personalisation=1.0")["world"]
    with pytest.raises(ConfigError, match=r"world\.acceptance\.personalisation.*conf/worlds"):
        load_world(world, ROOT)


def test_params_hold_the_worlds_size_and_what_an_experiment_changes_not_its_coefficients():
    default = composed()["world"]
    assert sorted(default) == ["chunk_size", "definition", "months", "n_members", "n_requests",
                               "n_senders", "seed", "start"]  # fmt: skip
    changed = composed("+world.opportunity.late_shift_logit=-0.693")["world"]
    assert changed["opportunity"] == {"late_shift_logit": -0.693}
    base, world = load_world(default, ROOT), load_world(changed, ROOT)
    assert world.opportunity.late_shift_logit == -0.693
    assert world.opportunity.tie_strength == base.opportunity.tie_strength  # the rest kept
    assert dataclasses.replace(world, opportunity=base.opportunity) == base
    with pytest.raises(ConfigCompositionException, match=r"\+world\.opportunity"):
        composed("world.opportunity.late_shift_logit=-0.693")  # Hydra says to add `+`


def test_a_world_definition_that_cannot_be_read_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"world\.definition: cannot read nowhere\.yaml"):
        load_world(composed("world.definition=nowhere.yaml")["world"], tmp_path)
    with pytest.raises(ConfigError, match=r"world\.definition: missing"):
        load_world({"seed": 1}, ROOT)


def test_missing_key_and_wrong_type_are_named():
    model = composed()["model"]
    del model["seed"]
    with pytest.raises(ConfigError, match=r"missing key model\.seed"):
        load(ModelConfig, model, "model")
    model = composed()["model"] | {"num_leaves": "many"}
    with pytest.raises(ConfigError, match=r"model\.num_leaves: expected int"):
        load(ModelConfig, model, "model")


def test_unknown_group_option_and_feature_group_fail():
    with pytest.raises((MissingConfigException, ConfigCompositionException)):
        composed("model=xgboost")
    with pytest.raises(ValueError, match="unknown group"):
        select(["personalization", "astrology"])


@pytest.mark.parametrize("definition", sorted((ROOT / "conf" / "worlds").glob("*.yaml")))
def test_every_world_definition_loads(definition):
    path = definition.relative_to(ROOT).as_posix()
    assert load_world(composed(f"world.definition={path}")["world"], ROOT).n_requests > 0
