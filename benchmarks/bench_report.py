"""Time to render the PDF report (serving.report) of a case of 1, 2, 4 and 8 items, in-process (no HTTP).

Each item is the OpenAPI example result (two checks, one similar determination). Run:
``.venv/bin/python benchmarks/bench_report.py``.
"""

from __future__ import annotations

import io
import statistics
import time

from pypdf import PdfReader

from serving.report import render_report
from serving.schemas import EXAMPLE_ITEM_RESULT

ROUNDS = 10


def main() -> None:
    for count in (1, 2, 4, 8):
        answer = {
            "request_id": "bench",
            "model": {"name": "imr-dwc", "version": "1"},
            "items": [EXAMPLE_ITEM_RESULT] * count,
            "claim_number": "C-1",
            "filing_deadline": "2026-12-20",
            "days_left": 18,
        }
        texts = ["Physical therapy lumbar spine, 2 times a week for 6 weeks"] * count
        render_report(answer, texts, "dwc")  # warm up (imports, font metrics)
        seconds = []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            pdf = render_report(answer, texts, "dwc")
            seconds.append(time.perf_counter() - start)
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        median_ms = 1000 * statistics.median(seconds)
        print(f"{count} item(s): median {median_ms:.0f} ms, {len(pdf):,} bytes, {pages} page(s)")


if __name__ == "__main__":
    main()
