"""A small, invented item table for training tests (no real case text).

DWC-like cases whose summary and item carry a learnable signal (overturned cases are acute and the surgery was
certified; upheld ones are chronic with no documented improvement), rationales that the reason miner
recognises, decision dates spread over months (for the temporal split), plus a few DMHC rows.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pandas as pd

from features.dataset import items_to_frame
from features.schema import Item

UPHELD_ITEMS = [
    "Compounded topical cream flurbiprofen lidocaine",
    "Cyclobenzaprine 7.5mg #90",
    "Infrared heat therapy",
    "Physical therapy for the lumbar spine",
    "Norco quantity unspecified",
    "Lidoderm patches",
]
OVERTURNED_ITEMS = [
    "Pre-operative labs: CBC and BMP",
    "Associated surgical service: post-operative physical therapy, 12 sessions",
    "Right shoulder arthroscopic rotator cuff repair",
    "MRI of the right knee",
]
UPHELD_SUMMARY = (
    "The injured worker is a {age} year old with chronic low back pain since an injury on {injury}. Treatment has "
    "included physical therapy, chiropractic care and medications for years without lasting benefit. "
    "On {ur} utilization review non-certified the request."
)
OVERTURNED_SUMMARY = (
    "The injured worker is a {age} year old who injured the right shoulder on {injury}. MRI showed a full "
    "thickness rotator cuff tear; conservative care failed. Utilization review certified the surgery. "
    "On {ur} utilization review non-certified the associated request."
)
UPHELD_RATIONALE = (
    "There is no documentation of functional improvement from prior sessions. The request does not specify the "
    "quantity. Therefore, the request is not medically necessary."
)
OVERTURNED_RATIONALE = (
    "The surgery was certified and guideline criteria are met. Therefore, the request is medically necessary."
)


def synthetic_items(cases: int = 60, seed: int = 3, dmhc_rows: int = 0) -> list[Item]:
    """Items of ``cases`` invented DWC letters (about a quarter overturned) and ``dmhc_rows`` DMHC rows."""
    rng = random.Random(seed)
    items: list[Item] = []
    start = dt.date(2016, 9, 1)
    for case in range(cases):
        overturned_case = case % 4 == 0
        case_id = f"CM16-{case:07d}"
        decided = start + dt.timedelta(days=2 * case)
        injury = decided - dt.timedelta(days=rng.randint(60, 900))
        template = OVERTURNED_SUMMARY if overturned_case else UPHELD_SUMMARY
        summary = template.format(age=rng.randint(25, 64), injury=f"{injury:%m-%d-%Y}", ur=f"{decided:%m-%d-%Y}")
        for index in range(1 + case % 3):
            # A little noise: one item in nine goes the other way, as real letters mix outcomes.
            overturned = overturned_case != (rng.random() < 0.11)
            pool = OVERTURNED_ITEMS if overturned_case else UPHELD_ITEMS
            items.append(
                Item(
                    item_id=f"{case_id}#{index}",
                    case_id=case_id,
                    item_index=index,
                    jurisdiction="dwc",
                    source=f"{case_id}.txt",
                    determination="Overturned" if overturned else "Upheld",
                    item_text=rng.choice(pool),
                    summary=summary,
                    claims_guideline="MTUS Chronic Pain Medical Treatment Guidelines",
                    decision_date=decided,
                    report_year=decided.year,
                    rationale=OVERTURNED_RATIONALE if overturned else UPHELD_RATIONALE,
                )
            )
    for row in range(dmhc_rows):
        upheld = row % 2 == 0
        items.append(
            Item(
                item_id=f"MN16-{row:05d}#0",
                case_id=f"MN16-{row:05d}",
                item_index=0,
                jurisdiction="dmhc",
                source="dmhc.csv",
                determination="Upheld" if upheld else "Overturned",
                item_text="Fusion" if upheld else "Mammography",
                treatment_category="Orthopedic" if upheld else "Diagnostic Imaging, Screening and Testing",
                treatment_subcategory="Fusion" if upheld else "Mammography",
                diagnosis_category="Orthopedic/ Musculoskeletal" if upheld else "Prevention/Good Health",
                review_type="Medical Necessity",
                age_range=rng.choice(["21-30", "41-50", "51-64"]),
                gender=rng.choice(["Female", "Male"]),
                report_year=2010 + row % 6,
            )
        )
    return items


def write_items(path: Path, cases: int = 60, seed: int = 3, dmhc_rows: int = 0) -> pd.DataFrame:
    """Write the synthetic table as parquet (as ``make data`` would) and return it."""
    table = items_to_frame(synthetic_items(cases, seed, dmhc_rows))
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(path, index=False)
    return table
