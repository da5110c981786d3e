"""The one bounded store behind every content-keyed cache."""

from __future__ import annotations

import pytest

from features.memo import remember

pytestmark = pytest.mark.unit


def test_remember_keeps_returns_and_empties_when_full() -> None:
    store: dict[str, int] = {}
    assert remember(store, "a", 1, 2) == 1
    assert remember(store, "b", 2, 2) == 2
    assert store == {"a": 1, "b": 2}
    assert remember(store, "c", 3, 2) == 3  # full: emptied first, then kept
    assert store == {"c": 3}


@pytest.mark.parametrize("limit", [0, -1])
def test_remember_with_no_room_keeps_nothing(limit: int) -> None:
    store: dict[str, int] = {}
    assert remember(store, "a", 1, limit) == 1
    assert store == {}
