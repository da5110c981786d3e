"""Work is bounded by cost, not bytes (``serving/limits.py``, ``serving/letter_pool.py``).

* a request of more items than ``IMR_MAX_ITEMS`` gets 422 naming the limit;
* a batch holding more disputed items than ``IMR_MAX_BATCH_ITEMS`` over all its cases or rows gets 413 naming the
  limit (JSON, CSV and a CSV upload), one at the limit is scored;
* a letter of more items than ``IMR_MAX_LETTER_ITEMS`` gets 422 naming the limit (worker pool or in-process);
* beyond ``IMR_HEAVY_CONCURRENCY`` heavy requests (batch, letters, report) one more gets 503 with Retry-After at
  once, light routes pass meanwhile, and a slot frees when its request ends.

The latency of light requests while maximal batches run, on the real server, is in ``test_heavy_load_latency.py``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from serving.app import create_app
from serving.limits import HEAVY_PATHS, CostGuard, CostLimits, csv_rows, json_batch_items
from tests.conftest import FakeRegistry, make_settings
from tests.letter_text import LETTER

pytestmark = pytest.mark.api

MAX_BATCH_ITEMS = 5
SUMMARY = "Chronic low back pain after a lifting injury with reduced lumbar flexion and spasm."


@pytest.fixture(scope="module")
def client(fake_registry: FakeRegistry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = make_settings(
        fake_registry.uri,
        tmp_path_factory.mktemp("cost") / "models",
        max_batch_items=MAX_BATCH_ITEMS,
        max_letter_items=1,  # LETTER has two items
        jurisdictions="dwc",
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def case(items: int) -> dict[str, Any]:
    items_in = [{"item_text": f"MRI lumbar {i}"} for i in range(items)]
    return {"jurisdiction": "dwc", "summary": SUMMARY, "items": items_in}


def csv_body(rows: int) -> bytes:
    lines = ["jurisdiction,item_text,summary", *(f"dwc,MRI lumbar {i},{SUMMARY}" for i in range(rows))]
    return ("\n".join(lines) + "\n").encode()


def assert_refused(response: Any, status: int, setting: str) -> None:
    assert response.status_code == status, response.text
    errors = response.json()["errors"]
    assert setting in errors[0]["reason"], errors


def test_request_over_the_item_limit_is_refused_naming_it(client: TestClient) -> None:
    assert_refused(client.post("/v1/prescreen", json=case(22)), 422, "IMR_MAX_ITEMS")  # default 21


def test_json_batch_over_the_item_limit_is_refused_naming_it(client: TestClient) -> None:
    # three cases, within the per-case limit each, six items in all
    assert_refused(client.post("/v1/prescreen/batch", json=[case(2), case(2), case(2)]), 413, "IMR_MAX_BATCH_ITEMS")


def test_json_batch_at_the_item_limit_is_scored(client: TestClient) -> None:
    response = client.post("/v1/prescreen/batch?explain=false", json=[case(2), case(3)])
    assert response.status_code == 200, response.text
    assert [len(r["result"]["items"]) for r in response.json()["results"]] == [2, 3]


def test_csv_batch_over_the_item_limit_is_refused(client: TestClient) -> None:
    headers = {"Content-Type": "text/csv"}
    response = client.post("/v1/prescreen/batch", content=csv_body(MAX_BATCH_ITEMS + 1), headers=headers)
    assert_refused(response, 413, "IMR_MAX_BATCH_ITEMS")
    at_limit = client.post("/v1/prescreen/batch?explain=false", content=csv_body(MAX_BATCH_ITEMS), headers=headers)
    assert at_limit.status_code == 200 and at_limit.json()["count"] == MAX_BATCH_ITEMS


def test_csv_upload_over_the_item_limit_is_refused(client: TestClient) -> None:
    files = {"file": ("batch.csv", csv_body(MAX_BATCH_ITEMS + 1), "text/csv")}
    assert_refused(client.post("/v1/prescreen/batch", files=files), 413, "IMR_MAX_BATCH_ITEMS")


def test_letter_over_the_item_limit_is_refused_naming_it(client: TestClient) -> None:
    response = client.post("/v1/letters", content=LETTER.encode(), headers={"Content-Type": "text/plain"})
    assert_refused(response, 422, "IMR_MAX_LETTER_ITEMS")
    assert response.json()["errors"][0]["field"] == "file"


def test_letter_parsed_in_process_is_held_to_the_same_item_limit(fake_registry: FakeRegistry, tmp_path: Path) -> None:
    settings = make_settings(
        fake_registry.uri, tmp_path / "models", max_letter_items=1, letter_workers=0, jurisdictions="dwc"
    )
    with TestClient(create_app(settings)) as in_process:
        response = in_process.post("/v1/letters", content=LETTER.encode(), headers={"Content-Type": "text/plain"})
    assert_refused(response, 422, "IMR_MAX_LETTER_ITEMS")


@pytest.mark.parametrize(
    ("body", "items"),
    [
        (b'[{"items": [1, 2]}, {"items": [3]}, {"summary": "no items"}, 7]', 3),
        (b'[{"summary": "pain \\ud800", "items": [1, 2]}]', 2),  # a lone surrogate: orjson refuses it
        (b'{"items": [1, 2]}', None),  # not an array: the route says so
        (b"[1, 2", None),
    ],
)
def test_json_batch_items_are_counted_over_every_case(body: bytes, items: int | None) -> None:
    assert json_batch_items(body) == items


def test_csv_rows_count_records_not_lines_and_stop_past_the_limit() -> None:
    text = 'item_text,summary\n"MRI\nlumbar","two\nlines"\n\n,\nCT,head\n'
    assert csv_rows(text, 100) == 2  # a quoted newline is one record; blank rows are not items
    assert csv_rows("h\n" + "x\n" * 10_000, 5) == 6  # stops one past the limit


# -- concurrency on heavy routes -------------------------------------------------------------------------------------


class Gate:
    """An inner app whose heavy requests wait until released, so a test can hold slots for as long as it likes."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] in HEAVY_PATHS:
            self.entered += 1
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})


async def _busy_scenario() -> None:
    gate = Gate()
    guard = CostGuard(gate, CostLimits(heavy_concurrency=2, max_batch_items=100, retry_after_s=3))
    transport = httpx.ASGITransport(app=guard)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        held = [asyncio.create_task(client.post(path, content=b"")) for path in ("/v1/letters", "/v1/report")]
        while gate.entered < 2:
            await asyncio.sleep(0.01)
        start = time.perf_counter()
        refused = await client.post("/v1/prescreen/batch", json=[case(1)])
        waited = time.perf_counter() - start
        assert refused.status_code == 503 and refused.headers["retry-after"] == "3", refused.text
        assert "IMR_HEAVY_CONCURRENCY" in refused.json()["errors"][0]["reason"]
        assert waited < 0.5, "refused at once, not queued"
        assert (await client.get("/healthz")).status_code == 200  # light routes take no slot
        assert (await client.post("/v1/prescreen", content=b"")).status_code == 200
        gate.release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
        assert (await client.post("/v1/prescreen/batch", json=[case(1)])).status_code == 200  # slots are free again
    assert guard.in_flight == 0


def test_heavy_requests_beyond_the_slots_get_503_with_retry_after_at_once() -> None:
    # A thread of its own: earlier tests in the same process (Playwright's sync API) may leave an event loop running
    # in the main thread, where asyncio.run refuses to start.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, asyncio.wait_for(_busy_scenario(), 30)).result()


def test_the_limits_come_from_settings(tmp_path: Path) -> None:
    settings = make_settings("sqlite:///unused.db", tmp_path, heavy_concurrency=3, max_batch_items=7, retry_after_s=2)
    assert CostLimits.from_settings(settings) == CostLimits(heavy_concurrency=3, max_batch_items=7, retry_after_s=2)
