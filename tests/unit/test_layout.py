"""The house rules a newcomer can rely on: no source file over 600 lines, no function over 60.

Read from the source itself (``ast``), so the check needs no import and sees methods and nested functions too. A
function's length runs from its ``def`` line to its last line (decorators not counted), a file's is its number
of lines. One test row per file, so a failure names the file and the functions.

:data:`SCOPE` is the whole of ``features/``, ``training/`` and ``serving/``; nothing in it is exempted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 60

#: Packages held to the limits, every module below them: the whole of the three packages, nothing exempted.
SCOPE: tuple[str, ...] = ("features", "training", "serving")


def _files() -> list[Path]:
    files: list[Path] = []
    for entry in SCOPE:
        path = REPO / entry
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def long_functions(source: str) -> list[tuple[str, int]]:
    """Every function (methods and nested ones included) longer than the limit, with its length in lines."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append((f"{node.name} (line {node.lineno})", length))
    return found


def test_scope_names_existing_packages_and_modules() -> None:
    missing = [entry for entry in SCOPE if not (REPO / entry).exists()]
    assert not missing, f"SCOPE names paths that do not exist: {missing}"


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(REPO)))
def test_file_and_functions_within_limits(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    lines = len(source.splitlines())
    assert lines <= MAX_FILE_LINES, f"{path.relative_to(REPO)} has {lines} lines (at most {MAX_FILE_LINES})"
    assert not long_functions(source), f"functions over {MAX_FUNCTION_LINES} lines: {long_functions(source)}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def short():\n" + "    x = 1\n" * 59, []),
        ("def long():\n" + "    x = 1\n" * 60, [("long (line 1)", 61)]),
        ("class A:\n    def method(self):\n" + "        x = 1\n" * 60, [("method (line 2)", 61)]),
        (
            "async def outer():\n    def inner():\n" + "        x = 1\n" * 60,
            [("outer (line 1)", 62), ("inner (line 2)", 61)],
        ),
    ],
    ids=["60-lines-pass", "61-lines-fail", "method", "nested"],
)
def test_long_functions_measures_from_def_to_last_line(source: str, expected: list[tuple[str, int]]) -> None:
    assert long_functions(source) == expected
