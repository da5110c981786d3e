from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from features.categories import CATEGORIES, OTHER
from features.priors import DATA_FILE, PublishedPriors, load_published, shrunk_rate

pytestmark = pytest.mark.unit

SHIPPED = Path(__file__).resolve().parents[2] / "features" / DATA_FILE


@pytest.fixture(scope="module")
def priors() -> PublishedPriors:
    return load_published()


def test_shipped_file_loads_from_the_package_and_from_its_path(priors: PublishedPriors) -> None:
    assert SHIPPED.is_file()
    assert load_published(SHIPPED) == priors
    assert priors.figures


def test_every_category_has_a_prior(priors: PublishedPriors) -> None:
    for category in CATEGORIES:
        assert category in priors.category_map
        figure = priors.rate_for(category)
        assert figure.id == priors.category_map[category]
        assert 0 < figure.upheld_rate < 1


def test_rates_are_strictly_between_zero_and_one(priors: PublishedPriors) -> None:
    for figure in priors.figures:
        assert 0 < figure.upheld_rate < 1, figure.id


def test_every_figure_has_a_source_url_and_a_quote(priors: PublishedPriors) -> None:
    for figure in priors.figures:
        assert figure.source_url.startswith(("http://", "https://")), figure.id
        assert figure.source_title.strip(), figure.id
        assert len(figure.quote.strip()) > 10, figure.id


def test_overall_is_a_dwc_figure_near_2016_2017(priors: PublishedPriors) -> None:
    overall = priors.overall
    assert overall.jurisdiction == "dwc"
    assert overall.scope.startswith(("2016", "2017"))
    assert 0.85 < overall.upheld_rate < 0.95


def test_unknown_category_falls_back_to_overall(priors: PublishedPriors) -> None:
    assert priors.rate_for("Not a category") == priors.overall
    assert priors.rate_for(OTHER) == priors.figure(priors.category_map[OTHER])


def test_figure_ids_are_unique(priors: PublishedPriors) -> None:
    ids = [figure.id for figure in priors.figures]
    assert len(ids) == len(set(ids))


# --- broken files -----------------------------------------------------------------------------------------------


def _figure(figure_id: str = "base", rate: float = 0.9) -> dict[str, Any]:
    return {
        "id": figure_id,
        "jurisdiction": "dwc",
        "scope": "2017",
        "service_category": "all",
        "upheld_rate": rate,
        "decisions": 100,
        "source_title": "A source",
        "source_url": "https://example.org/imr",
        "quote": "upheld 90% of the time",
    }


def _valid() -> dict[str, Any]:
    return {
        "overall": "base",
        "figures": [_figure()],
        "category_map": dict.fromkeys(CATEGORIES, "base"),
    }


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "priors.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_small_valid_file_loads(tmp_path: Path) -> None:
    priors = load_published(_write(tmp_path, _valid()))
    assert priors.overall.id == "base"
    assert priors.rate_for("Surgery").upheld_rate == pytest.approx(0.9)


def _rate_out_of_range(data: dict[str, Any]) -> None:
    data["figures"][0]["upheld_rate"] = 1.2


def _rate_zero(data: dict[str, Any]) -> None:
    data["figures"][0]["upheld_rate"] = 0.0


def _unmapped_category(data: dict[str, Any]) -> None:
    del data["category_map"]["Surgery"]


def _unknown_category(data: dict[str, Any]) -> None:
    data["category_map"]["Homeopathy"] = "base"


def _dangling_mapping(data: dict[str, Any]) -> None:
    data["category_map"]["Opioid"] = "missing_id"


def _dangling_overall(data: dict[str, Any]) -> None:
    data["overall"] = "missing_id"


def _duplicate_id(data: dict[str, Any]) -> None:
    data["figures"].append(_figure())


def _bad_url(data: dict[str, Any]) -> None:
    data["figures"][0]["source_url"] = "example.org"


def _empty_quote(data: dict[str, Any]) -> None:
    data["figures"][0]["quote"] = ""


@pytest.mark.parametrize(
    ("breaker", "message"),
    [
        (_rate_out_of_range, "upheld_rate"),
        (_rate_zero, "upheld_rate"),
        (_unmapped_category, "no prior for categories: ['Surgery']"),
        (_unknown_category, "Homeopathy"),
        (_dangling_mapping, "missing_id"),
        (_dangling_overall, "overall points at unknown figure id 'missing_id'"),
        (_duplicate_id, "duplicate figure ids: ['base']"),
        (_bad_url, "source_url"),
        (_empty_quote, "quote"),
    ],
)
def test_a_broken_file_gives_a_clear_value_error(tmp_path: Path, breaker: Any, message: str) -> None:
    data = _valid()
    breaker(data)
    path = _write(tmp_path, data)
    with pytest.raises(ValueError, match="invalid published priors") as info:
        load_published(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_not_a_mapping_or_not_yaml_gives_a_value_error(tmp_path: Path) -> None:
    path = _write(tmp_path, ["just", "a", "list"])
    with pytest.raises(ValueError, match="expected a mapping"):
        load_published(path)
    path.write_text("figures: [unclosed", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_published(path)


# --- shrinkage --------------------------------------------------------------------------------------------------


def test_shrunk_rate_with_no_data_is_the_prior() -> None:
    assert shrunk_rate(0, 0, 0.912, 20) == pytest.approx(0.912)


def test_shrunk_rate_approaches_the_empirical_rate_for_large_n() -> None:
    n = 1_000_000.0
    assert shrunk_rate(0.5 * n, n, 0.9, 20) == pytest.approx(0.5, abs=1e-4)


def test_shrunk_rate_lies_between_empirical_and_prior() -> None:
    value = shrunk_rate(5, 10, 0.9, 10)
    assert value == pytest.approx((5 + 9) / 20)
    assert 0.5 < value < 0.9


def test_shrunk_rate_with_zero_strength_is_the_empirical_rate() -> None:
    assert shrunk_rate(3, 4, 0.9, 0) == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("upheld", "n", "prior", "strength"),
    [
        (-1, 10, 0.9, 5),
        (11, 10, 0.9, 5),
        (5, -1, 0.9, 5),
        (5, 10, 1.5, 5),
        (5, 10, -0.1, 5),
        (5, 10, 0.9, -1),
        (0, 0, 0.9, 0),
        (float("nan"), 10, 0.9, 5),
        (5, float("inf"), 0.9, 5),
    ],
)
def test_shrunk_rate_rejects_bad_input(upheld: float, n: float, prior: float, strength: float) -> None:
    with pytest.raises(ValueError):
        shrunk_rate(upheld, n, prior, strength)
