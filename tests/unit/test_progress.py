"""Progress of long steps: plain lines when stderr is not a terminal, a rich bar on one, and off when asked."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from features import progress as prog

pytestmark = pytest.mark.unit


class _Terminal(io.StringIO):
    """A stream that says it is a terminal (rich then draws its live bar)."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _default_switch(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(prog.ENV_VAR, raising=False)
    prog.set_enabled(None)
    yield
    prog.set_enabled(None)


def test_plain_lines_count_every_item_and_end_with_a_done_line() -> None:
    out = io.StringIO()
    items = list(prog.track(["a", "b", "c", "d"], "parsing letters", stream=out, interval=0))
    assert items == ["a", "b", "c", "d"]
    lines = out.getvalue().splitlines()
    assert lines[:3] == [
        "parsing letters: 1/4 (25 %)",
        "parsing letters: 2/4 (50 %)",
        "parsing letters: 3/4 (75 %)",
    ]
    assert lines[3].startswith("parsing letters: 4/4 (100 %), done in ")  # the last count is the final line
    assert len(lines) == 4


def test_plain_lines_are_spaced_by_the_interval() -> None:
    out = io.StringIO()
    with prog.progress("scoring rows", total=20_000, stream=out, interval=3600) as bar:
        for _ in range(20):
            bar.advance(1000)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1  # nothing in between within the hour, then the final line
    assert lines[0].startswith("scoring rows: 20000/20000 (100 %), done in ")


def test_unknown_total_counts_without_a_percentage() -> None:
    out = io.StringIO()
    with prog.progress("loading rows", stream=out, interval=0) as bar:
        bar.advance(120)
    assert out.getvalue().splitlines()[0] == "loading rows: 120"
    assert prog.plain_line("x", 120, 376) == "x: 120/376 (31 %)"
    assert prog.plain_line("x", 0, 0) == "x: 0/0 (100 %)"


def test_a_step_says_when_it_starts_and_ends() -> None:
    out = io.StringIO()
    with prog.step("writing table", stream=out):
        assert out.getvalue() == "writing table ...\n"  # shown while it runs, not only at the end
    assert out.getvalue().splitlines()[1].startswith("writing table: done in ")


def test_a_failed_step_says_it_stopped() -> None:
    out = io.StringIO()
    with pytest.raises(RuntimeError, match="boom"), prog.step("checking model inputs", stream=out):
        raise RuntimeError("boom")
    assert out.getvalue().splitlines()[1].startswith("checking model inputs: stopped after ")


@pytest.mark.parametrize("value", ["0", "false", "OFF", "no"])
def test_environment_turns_progress_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(prog.ENV_VAR, value)
    out = io.StringIO()
    assert list(prog.track(range(3), "parsing letters", stream=out, interval=0)) == [0, 1, 2]
    assert out.getvalue() == ""
    assert not prog.enabled()


def test_set_enabled_overrides_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(prog.ENV_VAR, "1")
    prog.set_enabled(False)
    out = io.StringIO()
    with prog.progress("scoring rows", total=2, stream=out) as bar:
        bar.advance(2)
    assert out.getvalue() == ""
    prog.set_enabled(None)
    assert prog.enabled()


def test_terminal_gets_a_rich_bar_and_nested_steps_share_it() -> None:
    out = _Terminal()
    for _ in prog.track(range(2), "reading sources", stream=out):
        for _ in prog.track(range(3), "loading DMHC rows", stream=out):
            pass
    text = out.getvalue()
    assert "reading sources" in text and "2/2" in text
    assert "loading DMHC rows" in text
    assert "reading sources: " not in text  # the live bar, not plain lines
    assert prog._live is None  # the live display is stopped once the outer step ends
