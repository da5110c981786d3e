"""Text that is not valid Unicode (an unpaired surrogate such as ``"\\ud800"`` in JSON) gets a 422 naming the field,
on every text field of every JSON route, single and batch; it used to reach pandas and give a 500.

Every JSON route that takes text: ``POST /v1/prescreen`` (one case) and ``POST /v1/prescreen/batch`` (an array of
cases). The text fields are read from the request models themselves, so a new field is covered without editing this.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.app import create_app
from serving.schemas import INVALID_TEXT_REASON, ItemIn, PrescreenIn
from tests.conftest import FakeRegistry, make_settings

pytestmark = pytest.mark.api

JSON = {"Content-Type": "application/json"}
MARKER = "HERON-PAPAYA-4410"


def _is_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        return _is_text(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_text(arg) for arg in typing.get_args(annotation))
    return False


CASE_FIELDS = sorted(name for name, info in PrescreenIn.model_fields.items() if _is_text(info.annotation))
ITEM_FIELDS = sorted(name for name, info in ItemIn.model_fields.items() if _is_text(info.annotation))
#: (where the field sits in a case, the field path an error names)
FIELDS = [((name,), name) for name in CASE_FIELDS] + [(("items", 0, name), f"items[0].{name}") for name in ITEM_FIELDS]

# Escapes as they appear in the JSON body: \uXXXX that decode to an unpaired surrogate.
BAD_ESCAPES = [r"\ud800", r"\udfff", r"\udc00", r"\ud83d\u0041", r"\ude00\ud83d", r"\udbff"]


def test_the_models_have_the_text_fields_we_expect() -> None:
    assert {"summary", "ur_text", "claims_guideline", "gender"} <= set(CASE_FIELDS)
    assert {"item_text", "claims_guideline", "treatment_category"} <= set(ITEM_FIELDS)


def _case() -> dict[str, Any]:
    return {
        "jurisdiction": "dwc",
        "summary": f"{MARKER} chronic low back pain after a lifting injury with reduced lumbar flexion and spasm.",
        "claims_guideline": "MTUS ACOEM low back",
        "items": [{"item_text": "MRI of the lumbar spine"}],
    }


def _with_escape(where: tuple[str | int, ...], escape: str) -> bytes:
    """The case as JSON with ``escape`` written raw into the field at ``where`` (json.dumps would not allow it)."""
    case = _case()
    target: Any = case
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = f"pain {MARKER}@@"
    return json.dumps(case).replace("@@", escape).encode()


def _assert_refused(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert [e["field"] for e in body["errors"]] == [field], body
    assert body["errors"][0]["reason"].startswith(INVALID_TEXT_REASON)
    assert MARKER not in response.text


@pytest.fixture(scope="module")
def client(fake_registry: FakeRegistry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One app for the module (the refusals happen before any model runs)."""
    settings = make_settings(fake_registry.uri, tmp_path_factory.mktemp("surrogates") / "models")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.mark.parametrize(("where", "field"), FIELDS, ids=[f for _, f in FIELDS])
@pytest.mark.parametrize("escape", BAD_ESCAPES)
def test_single_case_refuses_an_unpaired_surrogate_in_any_text_field(
    client: Any, where: tuple[str | int, ...], field: str, escape: str
) -> None:
    _assert_refused(client.post("/v1/prescreen", content=_with_escape(where, escape), headers=JSON), field)


@pytest.mark.parametrize(("where", "field"), FIELDS, ids=[f for _, f in FIELDS])
def test_batch_refuses_an_unpaired_surrogate_in_any_text_field(
    client: Any, where: tuple[str | int, ...], field: str
) -> None:
    good = json.dumps(_case()).encode()
    body = b"[" + good + b"," + _with_escape(where, r"\ud800") + b"]"
    _assert_refused(client.post("/v1/prescreen/batch", content=body, headers=JSON), f"[1].{field}")


def test_a_surrogate_pair_is_valid_text(client: Any) -> None:
    body = _with_escape(("summary",), r"\ud83d\ude00")  # one code point, U+1F600
    assert client.post("/v1/prescreen", content=body, headers=JSON).status_code == 200
    assert client.post("/v1/prescreen/batch", content=b"[" + body + b"]", headers=JSON).status_code == 200


def test_a_surrogate_in_a_key_or_the_jurisdiction_is_refused(client: Any) -> None:
    key = json.dumps(_case())[:-1].encode() + b', "x\\ud800": 1}'
    jurisdiction = json.dumps({**_case(), "jurisdiction": "@@"}).replace("@@", r"\ud800").encode()
    for body, field in ((key, "<unknown field>"), (jurisdiction, "jurisdiction")):
        assert client.post("/v1/prescreen", content=body, headers=JSON).status_code == 422
        response = client.post("/v1/prescreen/batch", content=b"[" + body + b"]", headers=JSON)
        _assert_refused(response, f"[0].{field}")


def test_batch_still_refuses_what_is_not_json(client: Any) -> None:
    for body in (b"[NaN]", b'[{"jurisdiction": "dwc"', b"[" * 5000 + b"]" * 5000):
        response = client.post("/v1/prescreen/batch", content=body, headers=JSON)
        assert response.status_code == 400, response.text
        assert response.json()["errors"] == [{"field": "body", "reason": "is not valid JSON"}]
        assert response.json()["errors"][0]["field"] == "body"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    place=st.sampled_from(FIELDS),
    before=st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    surrogate=st.integers(0xD800, 0xDFFF),
    batch=st.booleans(),
)
def test_any_unpaired_surrogate_anywhere_in_any_text_field_is_a_422(
    client: Any, place: tuple[tuple[str | int, ...], str], before: str, surrogate: int, batch: bool
) -> None:
    where, field = place
    escape = json.dumps(before)[1:-1] + f"\\u{surrogate:04x}"
    body = _with_escape(where, escape)
    if batch:
        _assert_refused(client.post("/v1/prescreen/batch", content=b"[" + body + b"]", headers=JSON), f"[0].{field}")
    else:
        _assert_refused(client.post("/v1/prescreen", content=body, headers=JSON), field)
