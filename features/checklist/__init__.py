"""The documentation checklist: what a request should show before it is sent to Independent Medical Review.

Each check stands for one reason reviewers give when they uphold a denial (``features.reasons``) and looks, in the
*request* only (the disputed item, the clinical summary and the claims administrator's guideline), for the words
that answer it: the number and frequency of sessions, the body part, documented functional improvement from prior
sessions, objective findings before imaging, medication efficacy and monitoring, and so on. The reviewer's
rationale is never read here; it is only used by :func:`measure_checklist` to measure how often a failed check is
the reason the reviewer gave.

Design choices:

* A check first decides whether it applies, from the item's treatment category
  (``features.categories.categorize``) and, where the category is too coarse, from the item's words (a
  post-operative physical therapy request is categorised as surgery but is still a series of sessions).
* Where the request must itself say something (quantity, dose, body part) only the item text counts: an office
  fixes the request line, and the summary often quotes a *different* quantity from the utilization review.
  Clinical documentation (findings, prior treatment, efficacy) is looked for in the summary and the item.
* Evidence is the exact words found (whitespace collapsed), so a person can check them. Findings preceded by a
  negation ("no numbness", "negative Spurling's") do not count; words *after* a finding are never read to withdraw
  it, so a passed check stays passed whatever is appended to the request (``visits_within_guideline`` aside).
* Clinical wording is read as offices write it: abbreviations (SLR, PT, HEP, NSAIDs, ESI, TENS), lists ("NSAIDs,
  PT and a HEP, with persistent pain"), either order ("failed conservative care", "conservative care has failed")
  and tense ("failed", "has failed", "did not improve"); see ``tests/fixtures/checklist_phrasings.csv``.
* For imaging and electrodiagnostics, documented red flags (cauda equina, foot drop, progressive deficit, suspected
  fracture, tumour or infection, bowel or bladder dysfunction) satisfy "conservative care tried": the guidelines
  do not ask for a trial of conservative care first.
* Every pattern has bounded repetition and inputs are capped, so any string is evaluated in well under a
  millisecond and nothing raises.

Layout: ``core`` (what a check is, the shared vocabulary and matching), ``counts`` (computed request-line checks),
``patterns`` (what the documentation checks look for), ``registry`` (the rows, and running them), ``measure``
(against reviewers' reasons). Trained models freeze this whole package by value (``training.monotone.freeze``):
its submodules are registered with the package, so every function the checks call must live in it (or in the
other frozen modules).
"""

from features.checklist.core import (
    ALL_CATEGORIES,
    DIAGNOSTIC_CATEGORIES,
    MEDICATION_CATEGORIES,
    PROCEDURE_CATEGORIES,
    STATUSES,
    THERAPY_CATEGORIES,
    Check,
    CheckResult,
    Request,
    Status,
)
from features.checklist.measure import MEASURE_COLUMNS, measure_checklist

# Models registered before the split froze the checklist by value, except this cached function, which pickles by
# reference (``features.checklist._red_flag``): unpickling them looks it up here.
from features.checklist.patterns import _red_flag as _red_flag
from features.checklist.registry import CHECKS, CHECKS_BY_CODE, evaluate_checklist, make_request, missing_reasons

__all__ = [
    "ALL_CATEGORIES",
    "CHECKS",
    "CHECKS_BY_CODE",
    "DIAGNOSTIC_CATEGORIES",
    "MEASURE_COLUMNS",
    "MEDICATION_CATEGORIES",
    "PROCEDURE_CATEGORIES",
    "STATUSES",
    "THERAPY_CATEGORIES",
    "Check",
    "CheckResult",
    "Request",
    "Status",
    "evaluate_checklist",
    "make_request",
    "measure_checklist",
    "missing_reasons",
]
