"""The letter worker pool (``serving.letter_pool``): parses in another process, refuses what the parser refuses,
kills a parse that runs past its time limit (and the next letter gets a fresh worker), and refuses when busy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from serving import letter_pool
from serving.letter_pool import LetterBusy, LetterPool, LetterRefused, LetterTimeout
from tests.letter_text import LETTER, NOT_A_LETTER

pytestmark = [pytest.mark.api]


@pytest.fixture
def pool() -> Iterator[LetterPool]:
    created = LetterPool(workers=1, timeout_s=30.0)
    try:
        yield created
    finally:
        created.close()


def test_parses_in_a_worker_process(pool: LetterPool) -> None:
    items = pool.parse(LETTER.encode(), "letter.txt")
    assert [item.determination for item in items] == ["Upheld", "Overturned"]
    assert pool.parse(LETTER.encode(), "letter.txt") == items  # the same worker again


def test_refuses_what_the_parser_refuses(pool: LetterPool) -> None:
    with pytest.raises(LetterRefused, match=r"letter\.txt: not an IMR determination letter"):
        pool.parse(NOT_A_LETTER.encode() * 3, "letter.txt")


def test_a_parse_past_the_time_limit_is_killed_and_the_next_letter_still_parses(pool: LetterPool) -> None:
    pool.parse(LETTER.encode(), "letter.txt")  # the worker is up
    (worker,) = pool._idle
    pool.timeout_s = 0.001
    with pytest.raises(LetterTimeout, match="longer than"):
        pool.parse(LETTER.encode() * 300, "letter.txt")
    assert worker.process.poll() is not None  # killed
    pool.timeout_s = 30.0
    assert len(pool.parse(LETTER.encode(), "letter.txt")) == 2


def test_every_worker_busy_is_refused_not_queued(pool: LetterPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(letter_pool, "BUSY_WAIT_S", 0.05)
    assert pool._slots.acquire(timeout=1)  # the only worker is taken
    try:
        with pytest.raises(LetterBusy):
            pool.parse(LETTER.encode(), "letter.txt")
    finally:
        pool._slots.release()
    assert len(pool.parse(LETTER.encode(), "letter.txt")) == 2


def test_a_dead_worker_is_replaced(pool: LetterPool) -> None:
    pool.parse(LETTER.encode(), "letter.txt")
    (worker,) = pool._idle
    worker.process.kill()
    worker.process.wait()
    assert len(pool.parse(LETTER.encode(), "letter.txt")) == 2
