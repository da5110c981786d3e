"""The DMHC export loader on small invented exports of both shapes, and the Findings split."""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import pandas as pd
import pytest

from features.dmhc import (
    UNSPECIFIED_TREATMENT,
    DmhcError,
    detect_shape,
    load_dmhc,
    load_dmhc_bytes,
    split_findings,
)
from features.schema import Item

pytestmark = pytest.mark.unit

OLD_HEADER = (
    "Reference ID;Report Year;Diagnosis Category;Diagnosis Sub Category;Treatment Category;"
    "Treatment Sub Category;Determination;Type;Age Range;Patient Gender"
)
CURRENT_COLUMNS = [
    "ReferenceID",
    "ReportYear",
    "DiagnosisCategory",
    "DiagnosisSubCategory",
    "TreatmentCategory",
    "TreatmentSubCategory",
    "Determination",
    "Type",
    "AgeRange",
    "PatientGender",
    "IMRType",
    "DaysToReview",
    "DaysToAdopt",
    "Findings",
]
CURRENT_HEADER = ",".join(CURRENT_COLUMNS)
UPHELD = "Upheld Decision of Health Plan"
OVERTURNED = "Overturned Decision of Health Plan"

FINDINGS_STANDARD = (
    "Nature of Statutory Criteria/Case Summary: An enrollee has requested authorization and coverage for "
    "a lumbar MRI. The patient is a 52-year-old man with low back pain radiating to the left leg.\n"
    "Findings: The physician reviewer found that the requested MRI is medically necessary, given the "
    'persistent "red flag" symptoms. Final Result: The reviewer determined that the requested imaging is '
    "medically necessary. Therefore, the Health Plan's denial should be overturned. "
    "Credentials/Qualifications: The reviewer is board-certified in radiology."
)
FINDINGS_REVIEWER_FIRST = (
    "Findings:  The physician reviewer found that Nature of Statutory Criteria/Case Summary: The patient has "
    "requested authorization and coverage for Zorbex tablets. According to guidelines, Zorbex is indicated "
    "only after metformin. The patient has not tried metformin. All told, Zorbex is not medically necessary."
    "Final Result: The reviewer determined that the requested medication is not medically necessary. "
    "Therefore, the Health Plan's denial should be upheld."
)
LEAK_WORDS = ("final result", "should be upheld", "should be overturned", "medically necessary", "reviewer")


def _old_csv(*rows: str) -> str:
    return "\r\n".join([OLD_HEADER, *rows]) + "\r\n"


def _current_frame(**overrides: list[object]) -> pd.DataFrame:
    rows: dict[str, list[object]] = {
        "ReferenceID": ["MN24-00001", "EI24-00002"],
        "ReportYear": [2024, 2024],
        "DiagnosisCategory": ["Orth/Musculoskeletal", "Cancer"],
        "DiagnosisSubCategory": ["Back Pain", "Breast Cancer"],
        "TreatmentCategory": ["Diag Imag & Screen", "Cancer Care"],
        "TreatmentSubCategory": ["MRI", "Chemotherapy"],
        "Determination": [OVERTURNED, UPHELD],
        "Type": ["Medical Necessity", "Experimental/Investigational"],
        "AgeRange": ["51 to 64", "41 to 50"],
        "PatientGender": ["Male", "Female"],
        "IMRType": ["Standard", "Expedited"],
        "DaysToReview": [21, 4],
        "DaysToAdopt": [2, 1],
        "Findings": [FINDINGS_STANDARD, FINDINGS_REVIEWER_FIRST],
    }
    rows.update(overrides)
    return pd.DataFrame(rows)


def _current_csv_bytes(frame: pd.DataFrame, encoding: str = "utf-8") -> bytes:
    return frame.to_csv(index=False).encode(encoding)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------------------------------------ shapes


def test_detect_shape_old_and_current() -> None:
    assert detect_shape(OLD_HEADER.split(";")) == "old"
    assert detect_shape(CURRENT_COLUMNS) == "current"
    assert detect_shape(CURRENT_COLUMNS[:10]) == "current"  # unspaced names, optional columns absent
    assert detect_shape([*OLD_HEADER.split(";"), "Findings"]) == "current"
    assert detect_shape([*CURRENT_COLUMNS, "was_overturned", "case_signature"]) == "current"


def test_detect_shape_names_the_missing_columns() -> None:
    columns = [c for c in CURRENT_COLUMNS if c not in ("Determination", "ReportYear")]
    with pytest.raises(DmhcError) as raised:
        detect_shape(columns)
    assert "Determination" in raised.value.reason
    assert "ReportYear" in raised.value.reason
    assert "ReferenceID" not in raised.value.reason


def test_missing_columns_in_a_file_are_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "other.csv", b"case,outcome,notes\n1,Upheld,x\n")
    with pytest.raises(DmhcError) as raised:
        load_dmhc(path)
    assert raised.value.source == "other.csv"
    for name in ("ReferenceID", "Determination", "TreatmentSubCategory"):
        assert name in raised.value.reason


# ------------------------------------------------------------------------------------------------ old shape


def test_old_export_loads(tmp_path: Path) -> None:
    text = _old_csv(
        "MN16-22639;2016;Infectious;Hepatitis;Pharmacy/Prescription Drugs;Anti-virals;"
        f"{OVERTURNED};Medical Necessity;41-50;Male",
        f"EI06-5319;2006;Cardiac/Circulatory;;Cardio Vascular;;{UPHELD};Experimental/Investigational;11_20;",
        f"MN09-00001;2009;Mental;;;;{UPHELD};Medical Necessity;;",
    )
    items, rejects = load_dmhc(_write(tmp_path, "trend.csv", text.encode()))
    assert rejects == []
    assert [i.item_id for i in items] == ["MN16-22639#0", "EI06-5319#0", "MN09-00001#0"]
    first, second, third = items
    assert first.case_id == "MN16-22639"
    assert first.item_index == 0
    assert first.jurisdiction == "dmhc"
    assert first.source == "trend.csv"
    assert first.determination == "Overturned"
    assert first.item_text == "Anti-virals"
    assert first.treatment_category == "Pharmacy/Prescription Drugs"
    assert first.diagnosis_subcategory == "Hepatitis"
    assert first.review_type == "Medical Necessity"
    assert first.report_year == 2016
    assert first.age_range == "41-50"
    assert first.gender == "Male"
    assert first.summary == ""
    assert first.rationale is None
    assert first.imr_type is None
    assert first.days_to_review is None
    assert second.determination == "Upheld"
    assert second.item_text == "Cardio Vascular"  # no sub-category: the category names the service
    assert second.treatment_subcategory is None
    assert second.age_range == "11-20"
    assert second.gender is None
    assert third.item_text == UNSPECIFIED_TREATMENT
    assert third.age_range is None


# -------------------------------------------------------------------------------------------- current shape


def test_current_export_with_bom_and_multiline_findings(tmp_path: Path) -> None:
    data = codecs.BOM_UTF8 + _current_csv_bytes(_current_frame())
    assert b'"Nature of Statutory' in data  # the multi-line Findings field is quoted
    items, rejects = load_dmhc(_write(tmp_path, "imr.csv", data))
    assert rejects == []
    assert [i.case_id for i in items] == ["MN24-00001", "EI24-00002"]
    first, second = items
    assert first.determination == "Overturned"
    assert first.item_text == "MRI"
    assert first.imr_type == "Standard"
    assert first.age_range == "51-64"
    assert second.age_range == "41-50"
    assert first.days_to_review == 21
    assert first.days_to_adopt == 2
    assert first.report_year == 2024
    assert first.summary == (
        "An enrollee has requested authorization and coverage for a lumbar MRI. "
        "The patient is a 52-year-old man with low back pain radiating to the left leg."
    )
    assert first.rationale is not None
    assert "should be overturned" in first.rationale
    assert '"red flag"' in first.rationale
    assert second.summary == "The patient has requested authorization and coverage for Zorbex tablets."


def test_cp1252_export(tmp_path: Path) -> None:
    frame = _current_frame(
        DiagnosisSubCategory=["Café-au-lait spots", "Other"],
        Findings=["Case Summary: The patient’s parent has requested “Zorbex” tablets.", ""],
    )
    data = _current_csv_bytes(frame, encoding="cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    items, rejects = load_dmhc(_write(tmp_path, "imr.csv", data))
    assert rejects == []
    assert items[0].diagnosis_subcategory == "Café-au-lait spots"
    assert items[0].summary == "The patient’s parent has requested “Zorbex” tablets."
    assert items[1].summary == ""
    assert items[1].rationale is None


def test_utf16_export_with_tabs() -> None:
    text = _current_frame().to_csv(index=False, sep="\t")
    items, rejects = load_dmhc_bytes(text.encode("utf-16"), "imr.txt")
    assert rejects == []
    assert len(items) == 2


@pytest.mark.parametrize("separator", [",", ";", "\t", "|"])
def test_separator_is_sniffed(separator: str) -> None:
    data = _current_frame().to_csv(index=False, sep=separator).encode()
    items, rejects = load_dmhc_bytes(data, "imr.csv")
    assert (len(items), rejects) == (2, [])


def test_parquet_input_ignores_third_party_columns(tmp_path: Path) -> None:
    frame = _current_frame().drop(columns=["DaysToReview", "DaysToAdopt"])
    frame["was_overturned"] = [True, False]
    frame["findings_length"] = frame["Findings"].str.len()
    frame["case_signature"] = ["a | b", "c | d"]
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    path = _write(tmp_path, "eval.parquet", buffer.getvalue())
    items, rejects = load_dmhc(path)
    assert rejects == []
    assert [i.determination for i in items] == ["Overturned", "Upheld"]
    assert items[0].report_year == 2024
    assert items[0].days_to_review is None
    assert items[0].source == "eval.parquet"
    from_csv, _ = load_dmhc_bytes(_current_csv_bytes(frame), "eval.parquet")
    assert [i.model_dump() for i in from_csv] == [i.model_dump() for i in items]


def test_determination_is_tolerant_of_case_and_spacing() -> None:
    frame = _current_frame(Determination=["  upheld  decision of HEALTH plan ", "OVERTURNED DECISION OF HEALTH PLAN"])
    items, rejects = load_dmhc_bytes(_current_csv_bytes(frame), "imr.csv")
    assert rejects == []
    assert [i.determination for i in items] == ["Upheld", "Overturned"]


# --------------------------------------------------------------------------------------------- row rejects


def test_bad_rows_are_rejected_with_reasons_and_the_rest_kept() -> None:
    frame = _current_frame(
        ReferenceID=["MN1", "MN2", "MN3", "", "MN5", "MN1", "MN7", "MN8"],
        ReportYear=["2024", "2024", "2024", "2024", "20x4", "2024", "2024", "2024"],
        Determination=[UPHELD, "Partially Overturned", "", UPHELD, UPHELD, UPHELD, OVERTURNED, "x" * 200],
        DaysToReview=["3", "3", "3", "3", "3", "3", "-4", "3"],
        **{
            str(name): values * 4
            for name, values in _current_frame().to_dict(orient="list").items()
            if name not in ("ReferenceID", "ReportYear", "Determination", "DaysToReview")
        },
    )
    items, rejects = load_dmhc_bytes(_current_csv_bytes(frame), "imr.csv")
    assert [i.case_id for i in items] == ["MN1"]
    assert len(items) + len(rejects) == len(frame)
    by_locator = {r["locator"]: r["reason"] for r in rejects}
    assert by_locator["MN2"] == "unknown Determination 'Partially Overturned'"
    assert by_locator["MN3"] == "missing Determination"
    assert by_locator["row 4"] == "empty ReferenceID"
    assert by_locator["MN5"] == "bad ReportYear '20x4'"
    assert by_locator["MN1"] == "duplicate ReferenceID"
    assert by_locator["MN7"] == "bad DaysToReview '-4'"
    assert by_locator["MN8"] == "unknown Determination (200 characters)"  # long cells are never quoted
    assert all(r["source"] == "imr.csv" for r in rejects)


def test_malformed_line_is_a_reject_not_a_crash(tmp_path: Path) -> None:
    text = _old_csv(
        f"MN1;2016;Mental;;;RTC;{UPHELD};Medical Necessity;21-30;Male",
        f"MN2;2016;Mental;;;RTC;{UPHELD};Medical Necessity;21-30;Male;extra;fields",
        f"MN3;2016;Mental;;;RTC;{OVERTURNED};Medical Necessity;21-30;Male",
    )
    items, rejects = load_dmhc(_write(tmp_path, "trend.csv", text.encode()))
    assert [i.case_id for i in items] == ["MN1", "MN3"]
    assert len(rejects) == 1
    assert rejects[0]["locator"] == "MN2"
    assert rejects[0]["reason"].startswith("malformed line")


# -------------------------------------------------------------------------------------------- file errors


@pytest.mark.parametrize("data", [b"", b"  \r\n\n", codecs.BOM_UTF8])
def test_empty_file(data: bytes) -> None:
    with pytest.raises(DmhcError, match="empty file"):
        load_dmhc_bytes(data, "empty.csv")


def test_header_only_file() -> None:
    with pytest.raises(DmhcError, match="no data rows"):
        load_dmhc_bytes((CURRENT_HEADER + "\n").encode(), "header.csv")


def test_undecodable_file() -> None:
    data = (CURRENT_HEADER + "\n").encode() + b"MN1,2024,\x81\x8d\x90,,,,,,,,,,,\n"
    with pytest.raises(DmhcError, match="cannot decode"):
        load_dmhc_bytes(data, "bad.csv")


def test_binary_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DmhcError, match="NUL"):
        load_dmhc_bytes(b"ReferenceID\x00\x01\x02", "blob.csv")
    with pytest.raises(DmhcError, match="parquet"):
        load_dmhc_bytes(b"PAR1 not really parquet", "x.parquet")
    with pytest.raises(DmhcError, match="cannot read"):
        load_dmhc(tmp_path / "absent.csv")


# --------------------------------------------------------------------------------------------- age ranges


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("41 to 50", "41-50"),
        ("41-50", "41-50"),
        ("41 - 50", "41-50"),
        ("11_20", "11-20"),
        ("0 To 10", "0-10"),
        ("65+", "65+"),
        ("65 +", "65+"),
        ("", None),
        ("Unknown", "Unknown"),
    ],
)
def test_age_range_is_normalised(raw: str, expected: str | None) -> None:
    frame = _current_frame(AgeRange=[raw, "65+"])
    items, _ = load_dmhc_bytes(_current_csv_bytes(frame), "imr.csv")
    assert items[0].age_range == expected


# --------------------------------------------------------------------------------------------- findings


def _assert_leak_free(summary: str) -> None:
    for word in LEAK_WORDS:
        assert word not in summary.lower()


def test_split_standard_order() -> None:
    summary, reviewer = split_findings(FINDINGS_STANDARD)
    assert summary == (
        "An enrollee has requested authorization and coverage for a lumbar MRI. "
        "The patient is a 52-year-old man with low back pain radiating to the left leg."
    )
    assert reviewer.startswith("Nature of Statutory Criteria/Case Summary: Findings: The physician reviewer")
    assert reviewer.endswith("board-certified in radiology.")


def test_split_reviewer_first_order() -> None:
    summary, reviewer = split_findings(FINDINGS_REVIEWER_FIRST)
    assert summary == "The patient has requested authorization and coverage for Zorbex tablets."
    assert reviewer.startswith("Findings: The physician reviewer found that Nature of Statutory")
    assert "According to guidelines" in reviewer
    assert "The patient has not tried metformin." in reviewer  # after the first analysis sentence: cut


def test_split_preamble_without_header() -> None:
    text = (
        "Findings: The physician reviewer found that a patient has requested coverage for Zorbex. "
        "The patient is 30 years old. Zorbex is a GLP-1 agonist."
    )
    summary, reviewer = split_findings(text)
    assert summary == "A patient has requested coverage for Zorbex. The patient is 30 years old."
    assert reviewer == "Findings: The physician reviewer found that Zorbex is a GLP-1 agonist."


@pytest.mark.parametrize(
    "analysis",
    [
        "Per ASAM criteria, this patient doesn’t meet Level 3.5 criteria.",
        "The records do not document a trial of physical therapy.",
        "Obesity is a chronic disease with many complications.",  # no patient: the reviewer's discussion
        "Researchers explain that MRI is the imaging modality of choice.",
        "In conclusion, the requested MRI is not indicated for her.",
        "Overall, her treatment was appropriate.",
        "She meets the criteria for admission.",
        "Thus the denial must stand for him.",
    ],
)
def test_split_cuts_at_the_first_analysis_sentence(analysis: str) -> None:
    request = "Case Summary: The patient requested reimbursement for RTC services (ASAM 3.5)."
    history = "She has a history of alcohol use."
    summary, reviewer = split_findings(f"{request} {history} {analysis} She was admitted on 1/2/24.")
    assert summary == "The patient requested reimbursement for RTC services (ASAM 3.5). " + history
    assert reviewer.startswith("Case Summary: " + analysis)


def test_split_sentence_boundaries() -> None:
    missing_space = "Case Summary: The patient requested Xeljanz tablets.A federal agency has approved it."
    assert split_findings(missing_space)[0] == "The patient requested Xeljanz tablets."
    abbreviation = (
        "Case Summary: The patient requested an MRI. She was seen by Dr. Lee who ordered it. "
        "Per Dr. Lee, she is a candidate for surgery."
    )
    assert split_findings(abbreviation)[0] == "The patient requested an MRI. She was seen by Dr. Lee who ordered it."


def test_split_normalises_entities_and_whitespace() -> None:
    summary, _ = split_findings("Case Summary:\n  The patient’s parent requested anti&#8209;TNF\r\n therapy.")
    assert summary == "The patient’s parent requested anti\u2011TNF therapy."


def test_split_loses_nothing() -> None:
    for text in (FINDINGS_STANDARD, FINDINGS_REVIEWER_FIRST):
        summary, reviewer = split_findings(text)
        assert len("".join((summary + reviewer).split())) == len("".join(text.split()))
        _assert_leak_free(summary)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "Final Result: The reviewer determined that the requested MRI is medically necessary.",
        "Findings: The physician reviewer found that the requested MRI is not medically necessary.",
        "Nature of Statutory Criteria/Case Summary: ",
    ],
)
def test_split_without_a_case_statement_gives_an_empty_summary(text: str) -> None:
    summary, reviewer = split_findings(text)
    assert summary == ""
    assert reviewer == " ".join(text.split())


def test_summary_never_reaches_reviewer_fields() -> None:
    items, _ = load_dmhc_bytes(_current_csv_bytes(_current_frame()), "imr.csv")
    for item in items:
        assert isinstance(item, Item)
        _assert_leak_free(item.summary)
        assert item.rationale is not None
        assert "Final Result" in item.rationale
