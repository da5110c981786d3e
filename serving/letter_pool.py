"""Letter parsing in worker processes, each parse with a time limit.

Parsing a letter is CPU work in Python: in a thread it holds the interpreter lock, so a costly letter would stall
the event loop (``/healthz`` included) for as long as it runs. Here each parse runs in a worker process of its own;
the calling thread only waits on a pipe (which releases the lock). A parse that runs past ``timeout_s`` has its
worker killed (and a new one started for the next letter); when every worker is busy a new letter waits at most
``BUSY_WAIT_S`` and is then refused as busy, never queued without bound.

Workers are started on first use (or by :meth:`LetterPool.start`, which ``imr serve`` calls), from a clean
interpreter (``python -m serving.letter_pool``) that imports only the parser: no copy of the server's threads,
sockets or models. Letters and items travel over the worker's stdin and stdout as length-prefixed pickles.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from typing import Any

from features.paths import REPO_ROOT
from features.schema import Item

log = logging.getLogger("imr.serving.letters")

#: How long a letter waits for a free worker before it is refused as busy.
BUSY_WAIT_S = 1.0


class LetterRefused(Exception):
    """The parser refused the letter; the message is the parser's (it names the file and the problem)."""


class LetterTimeout(Exception):
    """The parse ran past the time limit; its worker was killed."""


class LetterBusy(Exception):
    """Every worker was busy for ``BUSY_WAIT_S``."""


class LetterFailed(Exception):
    """The parser crashed (the worker reported an unexpected exception or died); carries the exception type only."""


_FRAME = struct.Struct("<Q")


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    """``size`` bytes from ``fd``; TimeoutError past ``deadline`` (monotonic), EOFError when the other end closed."""
    chunks: list[bytes] = []
    while size:
        if deadline is not None:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int, deadline: float | None = None) -> Any:
    (size,) = _FRAME.unpack(_read_exact(fd, _FRAME.size, deadline))
    return pickle.loads(_read_exact(fd, size, deadline))


def _write_frame(fd: int, value: Any) -> None:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_FRAME.pack(len(payload)) + payload)
    while view:
        view = view[os.write(fd, view) :]


def _main() -> None:  # pragma: no cover - runs in the worker process
    """The worker: (bytes, source) in, ("ok", items) | ("refused", message) | ("failed", type) out, on stdin/stdout."""
    out = os.dup(1)
    os.dup2(2, 1)  # a stray print (or a C library's) must not corrupt the frames
    from features import letters

    while True:
        try:
            data, source = _read_frame(0)
        except EOFError:
            return
        try:
            result: tuple[str, Any] = ("ok", letters.parse_letter_bytes(data, source))
        except letters.LetterError as exc:
            result = ("refused", str(exc))
        except Exception as exc:  # a parser bug on hostile input: report the type, never the message
            result = ("failed", type(exc).__name__)
        _write_frame(out, result)


class _Worker:
    """One worker process (a fresh interpreter that imports only the letter parser) and the pipes to it."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "serving.letter_pool"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=REPO_ROOT,
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
            },
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._stdin = self.process.stdin
        self._stdout = self.process.stdout

    def alive(self) -> bool:
        return self.process.poll() is None

    def call(self, data: bytes, source: str, timeout_s: float) -> tuple[str, Any]:
        """Send one letter and wait for the answer; TimeoutError past ``timeout_s``, EOFError/OSError if it died."""
        _write_frame(self._stdin.fileno(), (data, source))
        result: tuple[str, Any] = _read_frame(self._stdout.fileno(), time.monotonic() + timeout_s)
        return result

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)
        self._stdin.close()
        self._stdout.close()


def check_letter_items(items: list[Item], source: str, max_items: int | None) -> list[Item]:
    """``items``, or LetterRefused when a letter holds more than ``max_items``: scoring and explaining each item is
    the costly part (a 413 KB letter of 2,000 items took 20 s), and no real letter holds more than 21."""
    if max_items is not None and len(items) > max_items:
        raise LetterRefused(
            f"{source}: holds {len(items)} disputed items; at most {max_items} are read from one letter "
            "(IMR_MAX_LETTER_ITEMS)"
        )
    return items


class LetterPool:
    """``workers`` worker processes parsing letters, each parse limited to ``timeout_s`` seconds and to ``max_items``
    disputed items (None: any number)."""

    def __init__(self, workers: int, timeout_s: float, max_items: int | None = None) -> None:
        self.workers = workers
        self.timeout_s = timeout_s
        self.max_items = max_items
        self._slots = threading.BoundedSemaphore(workers)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []  # started and free
        self._all: set[_Worker] = set()
        self._closed = False

    def start(self) -> None:
        """Start the workers now, in the background (the first letter then pays no start-up)."""
        threading.Thread(target=self._start_all, name="imr-letter-pool-start", daemon=True).start()

    def _start_all(self) -> None:
        while not self._closed:
            with self._lock:
                if len(self._all) >= self.workers:
                    return
            self._release(self._spawn())

    def _spawn(self) -> _Worker:
        worker = _Worker()
        with self._lock:
            self._all.add(worker)
        return worker

    def _take(self) -> _Worker:
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is not None and worker.alive():
            return worker
        if worker is not None:
            self._discard(worker)
        return self._spawn()

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            keep = not self._closed and len(self._idle) < self.workers
            if keep:
                self._idle.append(worker)
        if not keep:
            self._discard(worker)

    def _discard(self, worker: _Worker) -> None:
        with self._lock:
            self._all.discard(worker)
        worker.kill()

    def parse(self, data: bytes, source: str) -> list[Item]:
        """Items of one letter (blocking: call it from a thread). Raises LetterRefused (a parser refusal, or too many
        items), LetterTimeout, LetterBusy or LetterFailed."""
        if not self._slots.acquire(timeout=BUSY_WAIT_S):
            raise LetterBusy(f"all {self.workers} letter workers are busy")
        try:
            kind, value = self._run(self._take(), data, source)
        finally:
            self._slots.release()
        if kind == "refused":
            raise LetterRefused(str(value))
        if kind == "failed":
            raise LetterFailed(str(value))
        items: list[Item] = value
        return check_letter_items(items, source, self.max_items)

    def _run(self, worker: _Worker, data: bytes, source: str) -> tuple[str, Any]:
        try:
            result = worker.call(data, source, self.timeout_s)
        except TimeoutError:
            log.warning("letter parse timed out", extra={"timeout_s": self.timeout_s})
            self._discard(worker)
            raise LetterTimeout(f"reading the letter took longer than {self.timeout_s:g} s") from None
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            self._discard(worker)
            raise LetterFailed(type(exc).__name__) from None
        self._release(worker)
        return result

    def close(self) -> None:
        """Stop every worker (the pool may not be used afterwards)."""
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._all.clear()
            self._idle.clear()
        for worker in workers:
            worker.kill()


if __name__ == "__main__":  # pragma: no cover
    _main()
