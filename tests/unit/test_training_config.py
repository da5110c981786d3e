"""Experiment config: the shipped files validate; typos, duplicates and bad values are refused with the file named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from training import config as cfg
from training.config import (
    DEFAULT_CONFIGS,
    EXPERIMENTS_DIR,
    ConfigError,
    ExperimentConfig,
    is_eligible,
    load_config,
    parse_candidate,
)

pytestmark = pytest.mark.unit

MINIMAL: dict[str, Any] = {"jurisdiction": "dwc", "candidates": [{"name": "prior", "kind": "prior"}]}


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("path", sorted(EXPERIMENTS_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_experiments_validate(path: Path) -> None:
    config = load_config(path)
    assert config.prior.kind == "prior"


def test_default_configs_cover_both_jurisdictions() -> None:
    assert [load_config(p).jurisdiction for p in DEFAULT_CONFIGS] == ["dwc", "dmhc"]
    dwc = load_config(DEFAULT_CONFIGS[0])
    assert any(c.kind == "leakage-ceiling" for c in dwc.candidates)
    assert not any(isinstance(c, cfg.MiniLMCandidate) and c.fine_tune for c in dwc.candidates)


def test_unknown_keys_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"exp\.yaml") as exc:
        load_config(_write(tmp_path, {**MINIMAL, "foldz": 3}))
    assert "foldz" in str(exc.value)
    bad_candidate = {**MINIMAL, "candidates": [{"name": "prior", "kind": "prior", "smothing": 3}]}
    with pytest.raises(ConfigError, match="smothing"):
        load_config(_write(tmp_path, bad_candidate))


def test_values_are_validated(tmp_path: Path) -> None:
    for broken in (
        {**MINIMAL, "jurisdiction": "nyc"},
        {**MINIMAL, "cv": {"folds": 1}},
        {**MINIMAL, "evaluation": {"threshold": 1.5}},
        {**MINIMAL, "candidates": [{"name": "prior", "kind": "prior"}, {"name": "x", "kind": "gpt"}]},
        {**MINIMAL, "candidates": [{"name": "Bad Name", "kind": "prior"}]},
    ):
        with pytest.raises(ConfigError):
            load_config(_write(tmp_path, broken))


def test_candidate_rules(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unique"):
        load_config(_write(tmp_path, {**MINIMAL, "candidates": [{"name": "prior", "kind": "prior"}] * 2}))
    with pytest.raises(ConfigError, match="prior"):
        load_config(_write(tmp_path, {**MINIMAL, "candidates": [{"name": "t", "kind": "tfidf-lr"}]}))
    with pytest.raises(ConfigError, match="prior"):
        load_config(_write(tmp_path, {**MINIMAL, "candidates": [{"name": "c", "kind": "leakage-ceiling"}]}))


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("jurisdiction: [unclosed")
    with pytest.raises(ConfigError, match="YAML"):
        load_config(tmp_path / "bad.yaml")


def test_register_key_and_round_trip() -> None:
    config = ExperimentConfig.model_validate({**MINIMAL, "register": False})
    assert config.register_best is False
    dumped = config.model_dump(mode="json")
    assert dumped["register"] is False
    assert ExperimentConfig.model_validate(dumped) == config


def test_candidate_json_round_trip_and_eligibility() -> None:
    config = load_config(DEFAULT_CONFIGS[0])
    for candidate in config.candidates:
        assert parse_candidate(candidate.model_dump(mode="json")) == candidate
        assert is_eligible(candidate) == (candidate.kind != "leakage-ceiling")


@pytest.mark.parametrize(
    "model",
    [
        cfg.TextFeatures,
        cfg.PriorCandidate,
        cfg.TfidfLRCandidate,
        cfg.MiniLMCandidate,
        cfg.RationaleSupervisedCandidate,
        cfg.DmhcCandidate,
        cfg.LeakageCeilingCandidate,
        cfg.CVConfig,
        cfg.TemporalConfig,
        cfg.EvaluationConfig,
        cfg.GatesConfig,
        cfg.ReasonHeadConfig,
        cfg.ExperimentConfig,
    ],
    ids=lambda m: m.__name__,
)
def test_every_field_has_help_text(model: type[BaseModel]) -> None:
    for name, field in model.model_fields.items():
        if name == "kind":
            continue  # the discriminator: its Literal value is its documentation
        assert field.description, f"{model.__name__}.{name} has no description"
