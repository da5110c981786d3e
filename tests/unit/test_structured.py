"""The structured request (issue 14): code formats, canonical sentences the checks read, the filing deadline, and
the claim number kept out of model input."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from features.checklist import evaluate_checklist
from features.structured import cpt_code, deadline_fields, icd10_code, render
from features.view import MODEL_INPUT_COLUMNS, PrescreenRequest, view
from serving.schemas import PrescreenIn
from serving.scoring import CSV_COLUMNS, case_answer, case_records, parse_csv

pytestmark = pytest.mark.unit


def _status(item_text: str, summary: str, code: str) -> str:
    return {c.code: c.status for c in evaluate_checklist(item_text, summary)}[code]


def _viewed(**fields: Any) -> dict[str, Any]:
    return view(PrescreenRequest(jurisdiction="dwc", **fields))


@pytest.mark.parametrize("code", ["97110", "97110-GP", "97110 59", "9711059", "j1100", "A4556", "E0114-RR"])
def test_cpt_and_hcpcs_codes_are_accepted_by_format(code: str) -> None:
    assert cpt_code(code) == code.strip().upper()


@pytest.mark.parametrize("code", ["9711", "971100", "W1234", "J110", "97110-G", "97110-GPX", "", "CPT 97110"])
def test_malformed_procedure_codes_are_refused_with_the_format(code: str) -> None:
    with pytest.raises(ValueError, match="5 digits"):
        cpt_code(code)


@pytest.mark.parametrize("code", ["M54.5", "S39.012A", "m545", "G89.29", "Z99", "F32.A"])
def test_icd10_codes_are_accepted_by_format(code: str) -> None:
    assert icd10_code(code) == code.upper()


@pytest.mark.parametrize("code", ["5M4", "M5", "M54.12345", "M54..5", "MM4.5", "M54.5 low back"])
def test_malformed_icd10_codes_are_refused(code: str) -> None:
    with pytest.raises(ValueError, match="ICD-10-CM"):
        icd10_code(code)


@pytest.mark.parametrize(
    ("item", "fields"),
    [
        ("Physical therapy", {"quantity": 12}),
        ("Physical therapy", {"frequency": "2 times a week", "duration": "6 weeks"}),
        ("Acupuncture", {"quantity": 6, "frequency": "once a week"}),
        ("Tramadol 50 mg", {"quantity": 60}),
    ],
)
def test_a_structured_quantity_alone_satisfies_the_quantity_check(item: str, fields: dict[str, Any]) -> None:
    assert _status(item, "", "quantity_stated") == "missing"
    row = _viewed(item_text=item, **fields)
    assert _status(row["item_text"], row["summary"], "quantity_stated") == "passed", row["item_text"]


def test_a_structured_body_part_and_prior_outcome_satisfy_their_checks() -> None:
    row = _viewed(
        item_text="Physical therapy",
        body_part="lumbar spine",
        side="left",
        prior_sessions=6,
        prior_outcome="improved walking tolerance",
    )
    assert "Body part: lumbar spine, left." in row["item_text"]
    assert "6 prior sessions of physical therapy; outcome: improved walking tolerance" in row["summary"]
    assert _status(row["item_text"], row["summary"], "body_part_stated") == "passed"
    assert _status(row["item_text"], row["summary"], "prior_treatment_outcome") == "passed"


def test_rendering_appends_and_keeps_the_category() -> None:
    plain = _viewed(item_text="Physical therapy", summary="Low back pain.")
    row = _viewed(
        item_text="Physical therapy",
        summary="Low back pain.",
        cpt="97110",
        icd10=["M54.5", "S39.012A"],
        quantity=12,
        date_of_injury="2024-01-05",
        provider_specialty="Physiatry",
    )
    assert row["item_text"].startswith(plain["item_text"]) and row["summary"].startswith(plain["summary"])
    assert "CPT 97110." in row["item_text"] and "ICD-10 M54.5, S39.012A." in row["item_text"]
    assert "Date of injury: 2024-01-05." in row["summary"] and "specialty: Physiatry" in row["summary"]
    assert row["treatment_category"] == plain["treatment_category"]
    assert "HCPCS J1100." in _viewed(item_text="Injection", cpt="J1100")["item_text"]


def test_without_structured_fields_the_view_is_unchanged() -> None:
    assert render({}, "MRI of the knee", "Pain.") == ("MRI of the knee", "Pain.")
    row = view({"jurisdiction": "dwc", "item_text": "MRI", "icd10": float("nan"), "quantity": None})
    assert row["item_text"] == "MRI" and row["summary"] == ""


def test_icd10_from_a_csv_cell_is_split_on_semicolons() -> None:
    request = PrescreenRequest.model_validate({"jurisdiction": "dwc", "item_text": "MRI", "icd10": "m54.5; S39.012A;"})
    assert request.icd10 == ["M54.5", "S39.012A"]


def test_bad_structured_fields_name_the_field() -> None:
    bad: list[tuple[dict[str, Any], tuple[Any, ...]]] = [
        ({"cpt": "9711"}, ("items", 0, "cpt")),
        ({"icd10": ["M54.5", "5M4"]}, ("items", 0, "icd10", 1)),
        ({"side": "up"}, ("items", 0, "side")),
        ({"quantity": 0}, ("items", 0, "quantity")),
        ({"prior_sessions": -1}, ("items", 0, "prior_sessions")),
    ]
    for fields, where in bad:
        with pytest.raises(ValidationError) as caught:
            PrescreenIn.model_validate({"jurisdiction": "dwc", "items": [{"item_text": "PT", **fields}]})
        assert [e["loc"] for e in caught.value.errors()] == [where]
    with pytest.raises(ValidationError, match="date_of_injury must not be after ur_decision_date"):
        PrescreenIn.model_validate(
            {
                "jurisdiction": "dwc",
                "items": [{"item_text": "PT"}],
                "date_of_injury": "2025-02-01",
                "ur_decision_date": "2025-01-01",
            }
        )


def test_the_filing_deadline_is_thirty_days_after_the_ur_decision() -> None:
    assert deadline_fields(dt.date(2026, 11, 20), today=dt.date(2026, 12, 2)) == {
        "filing_deadline": "2026-12-20",
        "days_left": 18,
    }
    assert deadline_fields(dt.date(2026, 1, 1), today=dt.date(2026, 12, 2))["days_left"] < 0
    assert deadline_fields(None) == {"filing_deadline": None, "days_left": None}


def test_expedited_sets_imr_type_and_the_claim_number_never_reaches_the_model() -> None:
    case = PrescreenIn.model_validate(
        {
            "jurisdiction": "dwc",
            "items": [{"item_text": "MRI of the knee"}],
            "expedited": True,
            "claim_number": "CLM-SECRET-0042",
            "ur_decision_date": "2026-11-20",
        }
    )
    records = case_records(case)
    assert records[0]["imr_type"] == "Expedited"
    assert all("CLM-SECRET-0042" not in str(value) for r in records for value in r.values())
    assert all("CLM-SECRET-0042" not in str(value) for value in view(records[0]).values())
    assert "claim_number" not in PrescreenRequest.model_fields and "claim_number" not in MODEL_INPUT_COLUMNS
    answer = case_answer(case, today=dt.date(2026, 12, 2))
    assert answer == {"claim_number": "CLM-SECRET-0042", "filing_deadline": "2026-12-20", "days_left": 18}
    explicit = case.model_copy(update={"imr_type": "Standard"})
    assert case_records(explicit)[0]["imr_type"] == "Standard"


def test_batch_csv_takes_the_structured_columns() -> None:
    assert {"cpt", "icd10", "quantity", "ur_decision_date", "claim_number", "case_id"} <= set(CSV_COLUMNS)
    text = (
        "jurisdiction,item_text,cpt,icd10,body_part,side,quantity,expedited,ur_decision_date,claim_number\n"
        "dwc,Physical therapy,97110,M54.5;S39.012A,lumbar spine,left,12,yes,2026-11-20,C-1\n"
        "dwc,Physical therapy,9711,M54.5,,,,,,\n"
    )
    rows, file_errors = parse_csv(text, 10)
    assert not file_errors
    good, bad = rows
    assert isinstance(good, PrescreenIn) and good.items[0].icd10 == ["M54.5", "S39.012A"]
    assert good.items[0].quantity == 12 and good.expedited is True and good.claim_number == "C-1"
    assert isinstance(bad, list) and [e["field"] for e in bad] == ["cpt"]
