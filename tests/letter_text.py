"""An invented DWC IMR determination letter (no real case) for the API and browser tests, and a minimal PDF of it."""

from __future__ import annotations

LETTER = """\
IMR Case No.: CM99-0000042

Date Assigned: March 3, 2016

Decision Date: March 28, 2016

The expert reviewer is Board Certified in Physical Medicine and Rehabilitation, licensed in California.

CLINICAL CASE SUMMARY

The expert reviewer developed the following clinical case summary based on a review of the case file, including all
medical records:

The patient is a 44-year-old bus mechanic who reported low back pain after lifting a wheel assembly on
January 5, 2015. The most recent progress report describes constant low back pain rated 6/10 with stiffness and
reduced lumbar flexion. Treatment to date has included medication and home exercise. The utilization review dated
February 10, 2016 denied the compounded cream and the lumbar MRI.

IMR ISSUES, DECISIONS AND RATIONALES

The Final Determination was based on decisions for the disputed items/services set forth below:

COMPOUNDED TOPICAL CREAM WITH FLURBIPROFEN:  Upheld

Claims Administrator guideline: Decision based on MTUS Chronic Pain Topical Analgesics.

MAXIMUS guideline: Decision based on MTUS Chronic Pain Topical Analgesics.

Decision rationale: Topical compounds that contain at least one drug that is not recommended are not recommended.
Flurbiprofen is not approved for topical use. Therefore, the request is not medically necessary.

MRI OF THE LUMBAR SPINE:  Overturned

Claims Administrator guideline: Decision based on ACOEM Low Back Complaints.

MAXIMUS guideline: Decision based on ACOEM Low Back Complaints.

Decision rationale: Imaging is indicated when neurologic deficits persist after conservative care. The
examination documents new weakness of ankle dorsiflexion. Therefore, the request is medically necessary.
"""

NOT_A_LETTER = """\
Grocery list
- apples
- bread
- coffee
"""


def _pdf_escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(text: str) -> bytes:
    """A minimal one-font PDF whose pages carry ``text`` line by line (enough for pdfium's text extraction)."""
    lines = text.splitlines()
    per_page = 50
    pages = [lines[i : i + per_page] for i in range(0, len(lines), per_page)] or [[]]
    objects: list[bytes] = []
    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for i, page_lines in enumerate(pages):
        content_id = 4 + 2 * i
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 {font_id} 0 R >> >> "
            f"/Contents {content_id} 0 R >>".encode()
        )
        ops = ["BT", "/F1 9 Tf", "11 TL", "40 760 Td"]
        ops += [f"({_pdf_escape(line)}) Tj T*" for line in page_lines]
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
