"""The compiled inference form (features.compiled) answers as the fitted model does, on every real letter item.

The DWC champion candidate is fitted with a fixed seed on every real item (``tests.model.golden_answers``); its
``explain()`` and the pyfunc's pandas path are the references; the compiled form, fresh and after a save / load
round trip, must agree with them to 1e-9 in every number and exactly in every word.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.compiled import ARRAYS_FILE, TABLES_FILE, CompiledFormatError, CompiledModel
from features.paths import shared_dir
from features.view import view_frame
from tests.model.golden_answers import real_items
from training.pyfunc import PrescreenModel, build_metadata

pytestmark = [pytest.mark.model, pytest.mark.data]

if not (shared_dir() / "data" / "raw" / "dwc-imr-letters" / "pdfs").is_dir():
    pytest.skip("the public data is not in ../shared (set IMR_SHARED_DIR)", allow_module_level=True)

TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, Any]:
    """The served form of the DWC champion candidate: ``final``, so with its bootstrap replicates (intervals)."""
    from training.candidates import build_candidate
    from training.config import EXPERIMENTS_DIR, load_config

    items = real_items()
    spec = load_config(EXPERIMENTS_DIR / "dwc.yaml").candidate("monotone-reasons")
    y = (items["determination"] == "Upheld").to_numpy(dtype=int)
    rationale = items["rationale"].fillna("").to_numpy(dtype=object)
    model = build_candidate(spec, seed=13, final=True).fit(
        view_frame(items), y, groups=items["case_id"].to_numpy(), rationale=rationale
    )
    assert len(model.replicas_) >= 5  # the intervals are part of what is compared
    return items, model


def assert_same(expected: Any, got: Any, where: str = "") -> None:
    """Numbers within TOLERANCE, everything else (codes, words, order, None) exactly."""
    if isinstance(expected, float | np.floating) and not isinstance(expected, bool):
        assert isinstance(got, float | np.floating), where
        assert abs(float(expected) - float(got)) <= TOLERANCE, (where, expected, got)
    elif isinstance(expected, dict):
        assert expected.keys() == got.keys(), (where, set(expected) ^ set(got))
        for key in expected:
            assert_same(expected[key], got[key], f"{where}.{key}")
    elif isinstance(expected, list | tuple):
        assert len(expected) == len(got), (where, expected, got)
        for i, (a, b) in enumerate(zip(expected, got, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    else:
        assert expected == got, (where, expected, got)


def test_compiled_equals_explain_on_every_real_item(fitted: tuple[pd.DataFrame, Any]) -> None:
    items, model = fitted
    frame = view_frame(items)
    expected = model.explain(frame)
    compiled = model.compiled()
    compiled.cache_size = 0  # every request featurised afresh
    views = frame.to_dict(orient="records")
    assert len(expected) == len(views) == 376
    assert_same(expected, compiled.explain(views), "batch")
    for i, view in enumerate(views):  # one request at a time takes the single-row path
        assert_same(expected[i], compiled.explain([view])[0], f"item {items['item_id'].iloc[i]}")
    assert not compiled._explained and not compiled._cache
    cached = model.compiled()  # the served default: answers kept
    first = cached.explain(views[:40])
    first[0]["fixes"].clear()  # a caller's own objects: changing them changes nothing kept
    again = cached.explain([*views[:40], *views[40:60]])  # 40 answered from the cache, 20 computed
    assert len(cached._explained) == 60
    assert_same(expected[:60], again, "cached")
    cached.explain(views)
    assert_same(expected, cached.explain(views), "every real item from the cache")  # the JSON round trip is exact


def test_saved_form_is_data_and_answers_the_same(fitted: tuple[pd.DataFrame, Any], tmp_path: Path) -> None:
    items, model = fitted
    definitions = model.definitions_
    folder = model.compiled().save(tmp_path / "compiled")
    assert sorted(p.name for p in folder.iterdir()) == sorted([ARRAYS_FILE, TABLES_FILE])
    with np.load(folder / ARRAYS_FILE, allow_pickle=False) as stored:  # plain arrays: no object (pickled) array
        assert all(stored[name].dtype == np.float64 for name in stored.files)
    loaded = CompiledModel.load(folder, definitions.evaluate_checklist, definitions.categorize)
    views = view_frame(items).to_dict(orient="records")
    assert_same(model.compiled().explain(views), loaded.explain(views))


def test_pyfunc_predict_records_takes_the_compiled_path_and_agrees(fitted: tuple[pd.DataFrame, Any]) -> None:
    items, model = fitted
    wrapper = PrescreenModel(model, build_metadata("dwc", "monotone-reasons", 0.5, {}))
    assert wrapper._compiled is not None
    records = [
        {"jurisdiction": "dwc", "item_text": r.item_text, "summary": r.summary, "claims_guideline": r.claims_guideline}
        for r in items.itertuples()
    ]
    fast = wrapper.predict_records(records)
    reference = PrescreenModel(model, wrapper.metadata)
    reference._compiled = None  # the pandas path through explain()
    assert_same(reference.predict_records(records), fast)
    single = wrapper.predict_records(records[:1])
    assert_same(fast[:1], single)


def test_a_folder_that_is_not_a_compiled_model_is_refused(fitted: tuple[pd.DataFrame, Any], tmp_path: Path) -> None:
    with pytest.raises(CompiledFormatError, match="missing"):
        CompiledModel.load(tmp_path)
    compiled = fitted[1].compiled()
    with pytest.raises(CompiledFormatError, match="re-register"):
        CompiledModel({**compiled.tables, "format_version": 0}, compiled.arrays)
    short = {**compiled.arrays, "intercept": compiled.arrays["intercept"][:1]}
    with pytest.raises(CompiledFormatError, match="intercept"):
        CompiledModel(compiled.tables, short)


def test_similar_lookup_finds_what_the_index_finds_on_every_real_item(fitted: tuple[pd.DataFrame, Any]) -> None:
    from features.similar import SimilarIndex
    from features.similar_lookup import SimilarLookup

    items = fitted[0]
    index = SimilarIndex.build(items, "dwc")
    lookup = SimilarLookup(index)
    records = [
        {"jurisdiction": "dwc", "item_text": r.item_text, "summary": r.summary, "claims_guideline": r.claims_guideline}
        for r in items.itertuples()
    ]
    expected = index.query(records, k=10)
    views: list[dict[str, Any]] = view_frame(records).to_dict(orient="records")  # type: ignore[assignment]
    got = lookup.query(views, k=10)
    assert sum(len(hits) for hits in expected) > 0
    for want, have in zip(expected, got, strict=True):
        assert [h.item_id for h in want] == [h.item_id for h in have]
        assert [h.similarity for h in want] == pytest.approx([h.similarity for h in have], abs=TOLERANCE)
    again = lookup.query(views, k=10)  # answered from the lookup's cache: the same hits
    assert [[h.item_id for h in row] for row in again] == [[h.item_id for h in row] for row in got]
    lookup.cache_size = 0
    lookup._cache.clear()
    uncached = lookup.query(views[:5], k=10)
    assert [[h.item_id for h in row] for row in uncached] == [[h.item_id for h in row] for row in got[:5]]
    assert not lookup._cache
    with pytest.raises(ValueError, match="k must be"):
        lookup.query(views[:1], k=0)
