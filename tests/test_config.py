"""Every config composes, params.yaml is the composition of conf/, bad keys fail loudly."""

from __future__ import annotations

import pytest
import yaml
from conftest import ROOT, composed
from hydra.errors import ConfigCompositionException, MissingConfigException

from tiesignal.config import (
    ConfigError,
    DataConfig,
    EvaluateConfig,
    ExportConfig,
    FeaturesConfig,
    ModelConfig,
    PrepareConfig,
    StudyConfig,
    TrackingConfig,
    WorldConfig,
    load,
)
from tiesignal.features.registry import GROUPS, select

SECTIONS = {
    "data": DataConfig,
    "world": WorldConfig,
    "split": PrepareConfig,
    "features": FeaturesConfig,
    "model": ModelConfig,
    "evaluate": EvaluateConfig,
    "study": StudyConfig,
    "export": ExportConfig,
    "tracking": TrackingConfig,
}
GROUP_DIRS = [p for p in (ROOT / "conf").iterdir() if p.is_dir()]
CHOICES = [f"{d.name}={f.stem}" for d in GROUP_DIRS for f in sorted(d.glob("*.yaml"))]


def _typed(params: dict) -> None:
    assert set(params) == set(SECTIONS), "params.yaml sections and config classes differ"
    for name, cls in SECTIONS.items():
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


def test_unknown_key_is_named_with_its_path():
    world = composed()["world"]
    world["acceptance"]["personalisation"] = 1.0
    with pytest.raises(ConfigError, match=r"world\.acceptance\.personalisation"):
        load(WorldConfig, world, "world")


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
