"""Refactoring changes no answer: the DWC champion candidate, fitted with a fixed seed on every real letter item,
answers as it did when ``tests/fixtures/golden_monotone_answers.json`` was written (``tests.model.golden_answers``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from features.paths import shared_dir
from tests.model.golden_answers import GOLDEN, answers, fit_champion, real_items

pytestmark = [pytest.mark.model, pytest.mark.data]

if not (shared_dir() / "data" / "raw" / "dwc-imr-letters" / "pdfs").is_dir():
    pytest.skip("the public data is not in ../shared (set IMR_SHARED_DIR)", allow_module_level=True)

TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def now_and_then() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    items = real_items()
    return answers(fit_champion(items), items), json.loads(GOLDEN.read_text())


def test_every_real_item_is_answered_as_before(now_and_then: tuple[dict[str, Any], dict[str, Any]]) -> None:
    now, then = now_and_then
    assert sorted(now) == sorted(then) and len(now) == 376
    for item_id, old in then.items():
        new = now[item_id]
        assert new["p_upheld"] == pytest.approx(old["p_upheld"], abs=TOLERANCE), item_id
        assert new["prior"] == pytest.approx(old["prior"], abs=TOLERANCE), item_id
        assert new["p_all_fixed"] == pytest.approx(old["p_all_fixed"], abs=TOLERANCE), item_id
        assert new["reasons"] == pytest.approx(old["reasons"], abs=TOLERANCE), item_id
        assert new["checklist"] == old["checklist"], item_id
        assert [f[0] for f in new["fixes"]] == [f[0] for f in old["fixes"]], item_id
        assert [f[1] for f in new["fixes"]] == pytest.approx([f[1] for f in old["fixes"]], abs=TOLERANCE), item_id
        assert new["needs_missing"] == old["needs_missing"], item_id
        assert new["cannot_judge"] == old["cannot_judge"], item_id
