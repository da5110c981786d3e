"""Published IMR uphold rates, used as priors for the per-category baseline and for shrinkage.

The figures live in ``features/data/published_priors.yaml`` (shipped as package data), each with its source URL
and the exact words read there. ``category_map`` names, for every one of our treatment categories
(``features.categories.CATEGORIES``), the figure used as its prior; ``overall`` names the base rate.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from features.categories import CATEGORIES
from features.schema import Jurisdiction

DATA_PACKAGE = "features"
DATA_FILE = "data/published_priors.yaml"


class PublishedFigure(BaseModel):
    """One published uphold rate, with where it was read and the words read there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    jurisdiction: Jurisdiction
    scope: str = Field(min_length=1, description="Year or years the figure covers, e.g. '2017' or '2016 Q1'")
    service_category: str = Field(min_length=1, description="The category as the source names it")
    upheld_rate: float = Field(gt=0.0, lt=1.0)
    decisions: int | None = Field(default=None, gt=0, description="Item decisions behind the figure, if known")
    letters: int | None = Field(default=None, gt=0, description="IMR determination letters, if known")
    approximate: bool = Field(default=False, description="The source gives a bound or a round number only")
    source_title: str = Field(min_length=1)
    source_url: str = Field(min_length=1)
    quote: str = Field(min_length=1, description="The exact words read at source_url")
    note: str | None = None

    @field_validator("source_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"source_url must be an http(s) URL, got {value!r}")
        return value


class PublishedPriors(BaseModel):
    """All published figures, the overall base rate and the prior figure of each treatment category."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    figures: tuple[PublishedFigure, ...] = Field(min_length=1)
    overall_id: str = Field(alias="overall", min_length=1)
    category_map: dict[str, str]
    category_notes: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> PublishedPriors:
        ids = [figure.id for figure in self.figures]
        _check_unique(ids)
        known = set(ids)
        if self.overall_id not in known:
            raise ValueError(f"overall points at unknown figure id {self.overall_id!r}")
        _check_categories(self.category_map, "category_map", require_all=True)
        _check_categories(self.category_notes, "category_notes", require_all=False)
        dangling = {cat: fid for cat, fid in self.category_map.items() if fid not in known}
        if dangling:
            raise ValueError(f"category_map points at unknown figure ids: {dangling}")
        return self

    def figure(self, figure_id: str) -> PublishedFigure:
        """The figure with this id (``KeyError`` if there is none)."""
        for candidate in self.figures:
            if candidate.id == figure_id:
                return candidate
        raise KeyError(figure_id)

    @property
    def overall(self) -> PublishedFigure:
        """The DWC base rate."""
        return self.figure(self.overall_id)

    def rate_for(self, category: str) -> PublishedFigure:
        """The prior figure of a treatment category; the overall figure for a category not in the map."""
        figure_id = self.category_map.get(category)
        return self.overall if figure_id is None else self.figure(figure_id)


def _check_unique(ids: list[str]) -> None:
    duplicates = sorted({fid for fid in ids if ids.count(fid) > 1})
    if duplicates:
        raise ValueError(f"duplicate figure ids: {duplicates}")


def _check_categories(mapping: dict[str, str], name: str, *, require_all: bool) -> None:
    unknown = sorted(set(mapping) - set(CATEGORIES))
    if unknown:
        raise ValueError(f"{name} names categories that are not in features.categories.CATEGORIES: {unknown}")
    missing = [cat for cat in CATEGORIES if cat not in mapping]
    if require_all and missing:
        raise ValueError(f"{name} has no prior for categories: {missing}")


def _read_text(path: Path | str | None) -> tuple[str, str]:
    """The YAML text and a name for it in error messages (the shipped file when ``path`` is None)."""
    if path is None:
        resource = resources.files(DATA_PACKAGE).joinpath(DATA_FILE)
        return resource.read_text(encoding="utf-8"), f"{DATA_PACKAGE}/{DATA_FILE}"
    return Path(path).read_text(encoding="utf-8"), str(path)


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "<file>"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def load_published(path: Path | str | None = None) -> PublishedPriors:
    """Load and validate the published priors (the shipped file by default).

    Raises ``ValueError`` naming the problem: unreadable YAML, a rate outside (0, 1), a category without a prior,
    a mapping to an id that does not exist, and so on.
    """
    text, name = _read_text(path)
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{name}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{name}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return PublishedPriors.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"{name}: invalid published priors: {_describe(exc)}") from exc


def _finite(**values: float) -> None:
    for key, value in values.items():
        if not math.isfinite(value):
            raise ValueError(f"{key} must be finite, got {value!r}")


def shrunk_rate(upheld: float, n: float, prior: float, strength: float) -> float:
    """Empirical uphold rate shrunk towards a prior: ``(upheld + strength * prior) / (n + strength)``.

    ``upheld`` of ``n`` decisions were upheld; ``strength`` is the prior's weight in pseudo-decisions.
    With ``n == 0`` this is the prior; as ``n`` grows it approaches ``upheld / n``.
    """
    _finite(upheld=upheld, n=n, prior=prior, strength=strength)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0 <= upheld <= n:
        raise ValueError(f"upheld must be between 0 and n={n}, got {upheld}")
    if not 0 <= prior <= 1:
        raise ValueError(f"prior must be in [0, 1], got {prior}")
    if strength < 0:
        raise ValueError(f"strength must be >= 0, got {strength}")
    if n + strength == 0:
        raise ValueError("n and strength are both 0: there is nothing to estimate from")
    return (upheld + strength * prior) / (n + strength)
