"""Progress of long steps (data build, training, batch scoring), on stderr so results on stdout stay clean.

- On a terminal: a live ``rich`` bar. Nested steps (the DMHC rows of one source, inside the build's sources) share
  one live display, because rich allows only one at a time.
- Anywhere else (CI logs, pipes, tests): plain lines ``description: 120/376 (32 %)`` at most every
  :data:`PLAIN_INTERVAL_S` seconds, and always one final line, so a log shows that a step ran and how far it got
  without a line per item.
- Off with ``IMR_PROGRESS=0`` (or ``false``/``no``/``off``) or :func:`set_enabled` (``imr --quiet``).

Descriptions are fixed words chosen by the caller (a step, a file name); never put request text in them.

    for letter in track(letters, "parsing letters"):
        ...
    with progress("scoring rows", total=len(frame)) as bar:
        bar.advance(len(batch))
    with step("checking model inputs for leaks"):
        ...
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sized
from contextlib import contextmanager
from typing import Final, Protocol, TextIO, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

ENV_VAR: Final = "IMR_PROGRESS"
#: Seconds between two plain progress lines of one step (the final line is always written).
PLAIN_INTERVAL_S: Final = 2.0
_OFF_WORDS: Final = frozenset({"0", "false", "no", "off"})

_override: bool | None = None
_lock = threading.Lock()
_live: Progress | None = None  # the one live rich display while terminal steps run
_live_depth = 0


class Advance(Protocol):
    """What a running step offers its caller."""

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more units of work as done."""


def set_enabled(enabled: bool | None) -> None:
    """Turn progress on or off for this process (``None``: back to ``IMR_PROGRESS``)."""
    global _override
    _override = enabled


def enabled() -> bool:
    """Whether progress is shown: :func:`set_enabled`, else ``IMR_PROGRESS`` (on unless 0/false/no/off)."""
    if _override is not None:
        return _override
    return os.environ.get(ENV_VAR, "1").strip().lower() not in _OFF_WORDS


def plain_line(description: str, done: int, total: int | None) -> str:
    """One plain progress line: ``description: 120/376 (32 %)``, or ``description: 120`` without a total."""
    if total is None:
        return f"{description}: {done}"
    percent = 100 if total <= 0 else min(100, int(100 * done / total))
    return f"{description}: {done}/{total} ({percent} %)"


class _Silent:
    def advance(self, n: int = 1) -> None:
        """Progress is off: nothing to count."""


class _Plain:
    """Plain lines on a stream that is not a terminal, at most one per interval, plus the final one."""

    def __init__(
        self, description: str, total: int | None, stream: TextIO, interval: float, counted: bool = True
    ) -> None:
        self.description, self.total, self.stream, self.interval = description, total, stream, interval
        self.counted = counted  # False for a step: one line as it starts, one as it ends, no counts
        self.done = 0
        self.started = self.last = time.monotonic()
        if not counted:
            self._write(f"{description} ...")

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        complete = self.total is not None and self.done >= self.total  # the final line says it
        if self.counted and not complete and now - self.last >= self.interval:
            self.last = now
            self._write(plain_line(self.description, self.done, self.total))

    def finish(self, ok: bool) -> None:
        seconds = time.monotonic() - self.started
        end = "done in" if ok else "stopped after"
        head = plain_line(self.description, self.done, self.total) if self.counted else self.description
        self._write(f"{head}, {end} {seconds:.1f} s" if self.counted else f"{head}: {end} {seconds:.1f} s")

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


class _Bar:
    """One task of the shared live display."""

    def __init__(self, display: Progress, task: TaskID) -> None:
        self.display, self.task = display, task

    def advance(self, n: int = 1) -> None:
        self.display.advance(self.task, n)


def _new_display(stream: TextIO) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(file=stream),
    )


@contextmanager
def _live_task(description: str, total: int | None, stream: TextIO) -> Iterator[Advance]:
    global _live, _live_depth
    with _lock:
        if _live is None:
            _live = _new_display(stream)
            _live.start()
        display = _live
        _live_depth += 1
    task = display.add_task(description, total=total)
    try:
        yield _Bar(display, task)
    finally:
        if total is None:  # an open-ended step ends at what it counted
            display.update(task, total=display.tasks[task].completed)
        with _lock:
            _live_depth -= 1
            if _live_depth == 0:
                display.stop()
                _live = None
            else:  # a finished inner step makes room; the outer bar shows it was done
                display.remove_task(task)


@contextmanager
def _shown(
    description: str, total: int | None, stream: TextIO | None, interval: float, counted: bool
) -> Iterator[Advance]:
    if not enabled():
        yield _Silent()
        return
    out = stream or sys.stderr
    if out.isatty():
        with _live_task(description, total, out) as bar:
            yield bar
        return
    plain = _Plain(description, total, out, interval, counted)
    try:
        yield plain
    except BaseException:
        plain.finish(ok=False)
        raise
    plain.finish(ok=True)


@contextmanager
def progress(
    description: str, total: int | None = None, *, stream: TextIO | None = None, interval: float = PLAIN_INTERVAL_S
) -> Iterator[Advance]:
    """A step of ``total`` units (None: unknown) whose caller calls ``.advance(n)`` as work is done.

    ``stream`` defaults to stderr; ``interval`` spaces the plain lines (tests pass 0 to get one per advance).
    """
    with _shown(description, total, stream, interval, counted=True) as bar:
        yield bar


@contextmanager
def step(description: str, *, stream: TextIO | None = None) -> Iterator[None]:
    """One step with no count of its own (a scan, a write): ``description ...`` as it starts (a bar on a
    terminal), ``description: done in 4.8 s`` as it ends."""
    # No total: a terminal shows a pulsing bar while the step runs (a 0/1 count would say nothing).
    with _shown(description, None, stream, PLAIN_INTERVAL_S, counted=False) as bar:
        yield
        bar.advance()


def track(
    iterable: Iterable[T],
    description: str,
    total: int | None = None,
    *,
    stream: TextIO | None = None,
    interval: float = PLAIN_INTERVAL_S,
) -> Iterator[T]:
    """The items of ``iterable``, counting each as it is taken (``total`` defaults to ``len()`` when it has one)."""
    if total is None and isinstance(iterable, Sized):
        total = len(iterable)
    with progress(description, total, stream=stream, interval=interval) as bar:
        for item in iterable:
            yield item
            bar.advance()
