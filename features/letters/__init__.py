"""DWC IMR Final Determination letters (PDF or text) -> one ``Item`` per disputed item.

The parser reads the *structure* of a determination letter rather than one year's wording:

* 2014+ layout: one heading per item ending in ``: Upheld`` / ``: Overturned`` (the heading may wrap over
  several lines), then ``Claims Administrator guideline:``, ``MAXIMUS guideline:`` and ``Decision rationale:``.
* 2013 layout: decisions stated as sentences ("MAXIMUS Federal Services, Inc. has determined the request for X
  is not medically necessary and appropriate"), often numbered and listed apart from the item sections, with
  ``Rationale for the Decision:`` sections.

Every item must pair one decision with one rationale section; when they cannot be paired the letter is refused
with a ``LetterError`` rather than guessed at. Letter text is never logged.

The package follows the parser's stages: ``extract`` (bytes -> normalised text), ``header`` (dates, case, specialty),
``structure`` (sections, headings, decisions) and ``items`` (item blocks and the public parsing API).
"""

from features.letters.extract import (
    MAX_BYTES,
    MAX_DECODED_STREAM_BYTES,
    MAX_PAGES,
    MAX_PDF_SECONDS,
    MAX_TEXT_CHARS,
    PAGE_BREAK,
    LetterError,
    check_pdf_streams,
    extract_text,
    extract_text_bytes,
)
from features.letters.header import DATE_PATTERN, parse_date
from features.letters.items import parse_folder, parse_letter, parse_letter_bytes, parse_letter_text

__all__ = [
    "DATE_PATTERN",
    "MAX_BYTES",
    "MAX_DECODED_STREAM_BYTES",
    "MAX_PAGES",
    "MAX_PDF_SECONDS",
    "MAX_TEXT_CHARS",
    "PAGE_BREAK",
    "LetterError",
    "check_pdf_streams",
    "extract_text",
    "extract_text_bytes",
    "parse_date",
    "parse_folder",
    "parse_letter",
    "parse_letter_bytes",
    "parse_letter_text",
]
