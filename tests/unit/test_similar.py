"""Similar past determinations on a small invented table: relevance, the temporal and own-case rules, persistence,
degenerate inputs, and that reviewer wording never reaches the vectors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from features.dataset import items_to_frame
from features.schema import Item
from features.similar import (
    ANALYZER_SETTINGS,
    ENTRIES_FILE,
    FORMAT_VERSION,
    MATRIX_FILE,
    META_FILE,
    FieldEncoder,
    IndexFormatError,
    SimilarHit,
    SimilarIndex,
    decided_by,
    rationale_excerpt,
)
from features.similar_eval import evaluate_index
from features.view import PrescreenRequest

pytestmark = pytest.mark.unit

# Invented cases (no real letter text): (case, decision date, outcome, item, summary)
CASES: list[tuple[str, dt.date, str, list[str], str]] = [
    (
        "T-0001",
        dt.date(2017, 1, 5),
        "Upheld",
        ["MRI of the lumbar spine without contrast"],
        "Low back pain for two months. No neurological deficit. Utilization review denied the imaging.",
    ),
    (
        "T-0002",
        dt.date(2017, 1, 10),
        "Overturned",
        ["Physical therapy twice weekly for six weeks, right knee"],
        "Knee sprain after a fall at work. Swelling and reduced range of motion of the knee.",
    ),
    (
        "T-0003",
        dt.date(2017, 2, 1),
        "Overturned",
        ["MRI of the cervical spine"],
        "Neck pain with numbness in the left hand. Weakness of grip on examination.",
    ),
    (
        "T-0004",
        dt.date(2017, 2, 15),
        "Upheld",
        ["Norco 10/325 mg quantity 90", "Omeprazole 20 mg quantity 60"],
        "Chronic shoulder pain managed with opioids. No urine drug screen documented. Stomach upset noted.",
    ),
    (
        "T-0005",
        dt.date(2017, 3, 1),
        "Upheld",
        ["Acupuncture six visits for the lower back"],
        "Chronic low back pain. Prior acupuncture sessions without documented functional improvement.",
    ),
    (
        "T-0006",
        dt.date(2017, 3, 10),
        "Upheld",
        ["Lumbar epidural steroid injection at L4-L5"],
        "Radiating leg pain. Imaging shows a disc bulge. No prior conservative care described.",
    ),
]
RATIONALE = (
    "The guideline supports imaging when red flags are present. The documentation does not describe red flags, "
    "neurological deficits or failure of conservative care over an adequate period, and no surgery is planned at "
    "this time. Additional detail about the duration of symptoms would be needed for a different conclusion."
)


def _items(rationale: str = RATIONALE) -> list[Item]:
    items: list[Item] = []
    for case, decided, outcome, texts, summary in CASES:
        for index, text in enumerate(texts):
            items.append(
                Item(
                    item_id=f"{case}#{index}",
                    case_id=case,
                    item_index=index,
                    jurisdiction="dwc",
                    source=f"{case}.txt",
                    determination=outcome,  # type: ignore[arg-type]
                    item_text=text,
                    summary=summary,
                    claims_guideline="MTUS",
                    decision_date=decided,
                    rationale=rationale,
                    reviewer_guideline="MTUS Chronic Pain Medical Treatment Guidelines, Section(s): Imaging",
                )
            )
    return items


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return items_to_frame(_items())


@pytest.fixture(scope="module")
def index(table: pd.DataFrame) -> SimilarIndex:
    return SimilarIndex.build(table, "dwc")


def _request(item: str, summary: str = "") -> dict[str, object]:
    return PrescreenRequest(jurisdiction="dwc", item_text=item, summary=summary).model_dump()


MRI_REQUEST = _request("MRI of the left knee", "Knee pain and locking after a twisting injury.")


def test_nearest_neighbour_of_an_mri_request_is_an_mri_item(index: SimilarIndex) -> None:
    [hits] = index.query([MRI_REQUEST], k=3)
    assert hits, "an MRI request shares words with the indexed MRI items"
    assert "MRI" in hits[0].item_text
    assert hits[0].treatment_category == "Imaging"
    assert [h.similarity for h in hits] == sorted((h.similarity for h in hits), reverse=True)
    assert all(0.0 < h.similarity <= 1.0 for h in hits)


def test_item_text_weighs_more_than_the_summary(index: SimilarIndex) -> None:
    """An MRI request with a knee summary: the MRI items beat the knee therapy item that shares the summary."""
    [hits] = index.query([_request("MRI", "Knee sprain after a fall at work. Swelling of the knee.")], k=6)
    ranked = [h.item_text for h in hits]
    knee_therapy = next(i for i, text in enumerate(ranked) if text.startswith("Physical therapy"))
    assert all("MRI" in text for text in ranked[:knee_therapy])
    assert knee_therapy >= 1


def test_accepts_requests_items_and_mappings_alike(index: SimilarIndex) -> None:
    request = PrescreenRequest(jurisdiction="dwc", item_text="MRI of the left knee", summary="Knee pain.")
    item = _items()[0]
    assert index.query([request, item], k=2) == index.query([request.model_dump(), item.model_dump()], k=2)


def test_before_excludes_cases_decided_on_or_after_the_date(index: SimilarIndex) -> None:
    cutoff = dt.date(2017, 2, 1)  # T-0003 (the cervical MRI) is decided that very day: not before it
    [hits] = index.query([MRI_REQUEST], k=10, before=cutoff)
    assert hits
    assert all(h.decision_date is not None and h.decision_date < cutoff for h in hits)
    assert "T-0003" not in {h.case_id for h in hits}
    [unrestricted] = index.query([MRI_REQUEST], k=10)
    assert "T-0003" in {h.case_id for h in unrestricted}


def test_before_the_first_decision_returns_nothing(index: SimilarIndex) -> None:
    assert index.query([MRI_REQUEST], before=dt.date(2017, 1, 5)) == [[]]


def test_before_accepts_a_timestamp(index: SimilarIndex) -> None:
    cutoff = dt.date(2017, 2, 1)
    assert index.query([MRI_REQUEST], before=pd.Timestamp(cutoff)) == index.query([MRI_REQUEST], before=cutoff)


def test_exclude_case_removes_every_item_of_the_own_case(index: SimilarIndex, table: pd.DataFrame) -> None:
    own = table[table["case_id"] == "T-0004"].to_dict(orient="records")
    results = index.query(own, k=10, exclude_case="T-0004")
    assert len(results) == 2
    assert all(h.case_id != "T-0004" for hits in results for h in hits)
    unrestricted = index.query(own, k=10)
    assert unrestricted[0][0].item_id == "T-0004#0"  # without the rule, an item finds itself first
    assert unrestricted[0][0].similarity == pytest.approx(1.0)


def test_an_unknown_exclude_case_changes_nothing(index: SimilarIndex) -> None:
    assert index.query([MRI_REQUEST], exclude_case="NOT-A-CASE") == index.query([MRI_REQUEST])


def test_k_limits_the_hits_and_must_be_positive(index: SimilarIndex) -> None:
    assert len(index.query([MRI_REQUEST], k=1)[0]) == 1
    with pytest.raises(ValueError, match="k must be"):
        index.query([MRI_REQUEST], k=0)


def test_hits_carry_display_metadata(index: SimilarIndex) -> None:
    [hits] = index.query([MRI_REQUEST], k=1)
    hit = hits[0]
    assert isinstance(hit, SimilarHit)
    assert hit.determination in {"Upheld", "Overturned"}
    assert hit.reviewer_guideline is not None and hit.reviewer_guideline.startswith("MTUS")
    assert 0 < len(hit.rationale_excerpt) <= 301
    assert hit.rationale_excerpt.endswith(".")
    payload = hit.as_dict()
    assert list(payload) == [f.name for f in dataclasses.fields(SimilarHit)]  # every field, in order
    assert json.loads(json.dumps(payload))["decision_date"] == hit.decision_date.isoformat()  # type: ignore[union-attr]
    with pytest.raises(AttributeError):
        hit.similarity = 0.0  # type: ignore[misc]


def test_reviewer_wording_never_reaches_the_vectors() -> None:
    plain = SimilarIndex.build(items_to_frame(_items()), "dwc")
    other = SimilarIndex.build(items_to_frame(_items("MRI MRI MRI knee knee lumbar spine " * 20)), "dwc")
    assert (plain.matrix != other.matrix).nnz == 0
    assert plain.item_encoder.terms == other.item_encoder.terms
    assert plain.context_encoder.terms == other.context_encoder.terms
    assert plain.entries["rationale_excerpt"].tolist() != other.entries["rationale_excerpt"].tolist()


def test_field_encoder_matches_scikit_learn(table: pd.DataFrame) -> None:
    texts = [*table["summary"].tolist(), "an unseen request with new words", ""]
    encoder = FieldEncoder.fit(texts)
    reference = TfidfVectorizer(
        lowercase=True,
        strip_accents="unicode",
        ngram_range=(1, 2),
        stop_words=list(ANALYZER_SETTINGS["stop_words"]),
        sublinear_tf=True,
    ).fit(texts)
    assert list(encoder.terms) == reference.get_feature_names_out().tolist()
    np.testing.assert_allclose(encoder.transform(texts).toarray(), reference.transform(texts).toarray(), atol=1e-12)


def test_save_load_round_trip_gives_identical_results(index: SimilarIndex, tmp_path: Path) -> None:
    index.save(tmp_path / "similar")
    assert sorted(p.name for p in (tmp_path / "similar").iterdir()) == sorted([META_FILE, MATRIX_FILE, ENTRIES_FILE])
    loaded = SimilarIndex.load(tmp_path / "similar")
    queries = [MRI_REQUEST, _request("Norco"), _request("acupuncture", "back pain"), _request("x")]
    for before, case in [(None, None), (dt.date(2017, 2, 20), None), (None, "T-0001"), (dt.date(2017, 3, 5), "T-0004")]:
        assert loaded.query(queries, k=4, before=before, exclude_case=case) == index.query(
            queries, k=4, before=before, exclude_case=case
        )
    assert loaded.jurisdiction == "dwc"
    assert (loaded.matrix != index.matrix).nnz == 0


def test_saved_metadata_is_plain_json_with_a_version(index: SimilarIndex, tmp_path: Path) -> None:
    index.save(tmp_path)
    meta = json.loads((tmp_path / META_FILE).read_text(encoding="utf-8"))
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["entries"] == len(index)
    assert len(meta["fields"]["item"]["terms"]) == len(meta["fields"]["item"]["idf"])
    with np.load(tmp_path / MATRIX_FILE, allow_pickle=False) as stored:  # nothing in it needs pickle
        assert "data" in stored.files


def test_load_refuses_other_versions_and_incomplete_folders(index: SimilarIndex, tmp_path: Path) -> None:
    index.save(tmp_path)
    meta = json.loads((tmp_path / META_FILE).read_text(encoding="utf-8"))
    meta["format_version"] = FORMAT_VERSION + 1
    (tmp_path / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(IndexFormatError, match="format version"):
        SimilarIndex.load(tmp_path)
    (tmp_path / MATRIX_FILE).unlink()
    with pytest.raises(IndexFormatError, match="missing"):
        SimilarIndex.load(tmp_path)


def test_empty_index_answers_with_no_hits_and_round_trips(table: pd.DataFrame, tmp_path: Path) -> None:
    empty = SimilarIndex.build(table, "dmhc")  # no DMHC rows in the table
    assert len(empty) == 0
    found = empty.query([MRI_REQUEST, {"item_text": ""}], k=3, before=dt.date(2020, 1, 1), exclude_case="T-0001")
    assert found == [[], []]
    empty.save(tmp_path)
    assert SimilarIndex.load(tmp_path).query([MRI_REQUEST]) == [[]]


def test_degenerate_queries_do_not_raise(index: SimilarIndex) -> None:
    assert index.query([]) == []
    degenerate: list[dict[str, object]] = [
        {},
        {"item_text": ""},
        {"item_text": "   ", "summary": None},
        _request("the of and"),
        _request("?!"),
    ]
    assert index.query(degenerate) == [[], [], [], [], []]


def test_a_table_of_stop_words_builds_an_index_that_finds_nothing() -> None:
    items = [item.model_copy(update={"item_text": "the", "summary": "of and"}) for item in _items()]
    index = SimilarIndex.build(items_to_frame(items), "dwc")
    assert len(index) == len(items)
    assert index.query([MRI_REQUEST]) == [[]]


def test_dmhc_rows_without_a_decision_date_count_as_decided_at_the_end_of_their_year() -> None:
    assert decided_by(None, 2015) == dt.date(2015, 12, 31)
    assert decided_by(dt.date(2015, 3, 1), 2015) == dt.date(2015, 3, 1)
    assert decided_by(None, None) is None
    rows = [
        Item(
            item_id=f"D{year}-{n}#0",
            case_id=f"D{year}-{n}",
            item_index=0,
            jurisdiction="dmhc",
            source="dmhc.csv",
            determination="Upheld",
            item_text="MRI",
            treatment_category="Diagnostic Imaging, Screening and Testing",
            treatment_subcategory="MRI",
            diagnosis_category="Orthopedic / Musculoskeletal",
            report_year=year,
        )
        for year in (2014, 2015, 2016)
        for n in range(2)
    ]
    index = SimilarIndex.build(items_to_frame(rows), "dmhc")
    [hits] = index.query([{"jurisdiction": "dmhc", "item_text": "MRI"}], k=10, before=dt.date(2016, 6, 1))
    assert {h.report_year for h in hits} == {2014, 2015}
    assert all(h.decision_date is None for h in hits)


def test_rationale_excerpt_cuts_at_a_sentence_or_word_boundary() -> None:
    assert rationale_excerpt("  Short   rationale.\n") == "Short rationale."
    assert rationale_excerpt(None) == ""
    long_sentences = "First sentence is here. " * 30
    cut = rationale_excerpt(long_sentences, limit=100)
    assert cut.endswith("here.") and len(cut) <= 100
    one_long_sentence = "word " * 200
    cut = rationale_excerpt(one_long_sentence, limit=100)
    assert cut.endswith("…") and len(cut) <= 101 and cut[:-1].split() == ["word"] * len(cut[:-1].split())
    abbreviation = "Per Dr. Smith the patient improved with treatment over time " + "and more " * 40
    assert not rationale_excerpt(abbreviation, limit=100).endswith("Dr.")


def test_evaluate_index_on_the_invented_table(table: pd.DataFrame) -> None:
    report = evaluate_index(table, k=3)
    assert report["queries"] == len(table)
    assert report["rule_violations"] == 0
    # the first case has nothing before it; every later one finds an earlier case sharing the word "pain"
    assert report["coverage"] == pytest.approx((len(table) - 1) / len(table))
    assert 0.0 <= report["majority_agreement"] <= 1.0
    assert report["majority_outcome"] == "Upheld"


text = st.text(max_size=200)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    corpus=st.lists(st.tuples(st.text(min_size=1, max_size=60).filter(str.strip), text), min_size=0, max_size=6),
    queries=st.lists(st.fixed_dictionaries({"item_text": text, "summary": text}), max_size=4),
    k=st.integers(min_value=1, max_value=8),
)
def test_random_text_never_raises(corpus: list[tuple[str, str]], queries: list[dict[str, str]], k: int) -> None:
    items = [
        Item(
            item_id=f"R-{i}#0",
            case_id=f"R-{i}",
            item_index=0,
            jurisdiction="dwc",
            source="random.txt",
            determination="Upheld",
            item_text=item_text,
            summary=summary,
            decision_date=dt.date(2017, 1, 1) + dt.timedelta(days=i),
        )
        for i, (item_text, summary) in enumerate(corpus)
    ]
    index = SimilarIndex.build(items_to_frame(items), "dwc")
    results = index.query(queries, k=k, before=dt.date(2017, 1, 4), exclude_case="R-0")
    assert len(results) == len(queries)
    for hits in results:
        assert len(hits) <= k
        assert [h.similarity for h in hits] == sorted((h.similarity for h in hits), reverse=True)
        assert all(h.case_id != "R-0" and h.decision_date is not None and h.decision_date.day < 4 for h in hits)
