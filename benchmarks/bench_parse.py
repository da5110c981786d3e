"""Letter parsing throughput: pypdfium2 (what the parser uses) vs pypdf, side by side on the real letters.

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_parse.py [--repeat N]``. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from pathlib import Path

import pypdf

from features.letters import extract_text, parse_letter
from features.paths import shared_dir


def _pypdf_text(path: Path) -> str:
    reader = pypdf.PdfReader(io.BytesIO(path.read_bytes()))
    if reader.is_encrypted:
        reader.decrypt("")
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _rate(paths: list[Path], work: Callable[[Path], object], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        for path in paths:
            work(path)
    return len(paths) * repeat / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="passes over the letters for the fast paths")
    args = parser.parse_args()
    paths = sorted((shared_dir() / "data" / "raw" / "dwc-imr-letters" / "pdfs").glob("*.pdf"))
    if not paths:
        raise SystemExit(f"no letters under {shared_dir()}")
    rows = [
        ("text extraction, pypdfium2 (used)", _rate(paths, extract_text, args.repeat)),
        ("text extraction, pypdf", _rate(paths, _pypdf_text, 1)),
        ("full parse (pypdfium2 + parser)", _rate(paths, parse_letter, args.repeat)),
    ]
    base = rows[1][1]
    print(f"\nLetter parsing on {len(paths)} real DWC letters (single process)\n")
    print("| path | letters/s | vs pypdf |")
    print("|---|---:|---:|")
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} | {rate / base:.1f}x |")


if __name__ == "__main__":
    main()
