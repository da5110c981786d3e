"""The contract between a trained model and everything that serves it: one home for its names and its shape.

Training registers models under these names and tags (``training.promote``, ``training.pyfunc``); serving, batch
scoring and the benchmarks load them by the same names and call the same two methods (``ServedModel``). Nothing
outside this module spells the prefix, the alias or the tag, and nothing looks for a model's methods by ``getattr``:
a loaded python model either is a ``ServedModel`` or is refused.
"""

from __future__ import annotations

from typing import Any, Final, Protocol, TypedDict, runtime_checkable

#: Registered model name = prefix + jurisdiction ("imr-dwc", "imr-dmhc").
MODEL_NAME_PREFIX: Final = "imr-"
#: The registry alias that is served.
CHAMPION_ALIAS: Final = "champion"
#: Version tag holding the SHA-256 of the model's files (``features.integrity.tree_sha256``), checked on load.
ARTIFACT_SHA256_TAG: Final = "artifact_sha256"


def model_name(jurisdiction: str, prefix: str = MODEL_NAME_PREFIX) -> str:
    """The registered model name of a jurisdiction."""
    return f"{prefix}{jurisdiction}"


class ReasonOut(TypedDict):
    """A likely reviewer reason, as the model gives it."""

    code: str
    label: str
    probability: float | None


class ModelOutput(TypedDict):
    """One scored request, as ``ServedModel.predict_records`` returns it (serving turns it into the API answer)."""

    p_upheld: float
    #: The most likely outcome; serving's verdict is the band (``serving.policy``), not this.
    label: str
    reasons: list[ReasonOut]
    top_terms: list[Any]
    #: The estimate's 95 % interval, the category prior and the base rate (None when the model gives none).
    p_low: float | None
    p_high: float | None
    prior: float | None
    base_rate: float | None
    #: The model's own checklist rows, ranked fixes (P after each, never above ``p_upheld``) and attributions.
    checklist: list[Any] | None
    fixes: list[Any]
    p_all_fixed: float | None
    attributions: list[Any]
    #: What a reviewer needs for this kind of item that the request lacks.
    needs_missing: list[str]
    #: Why the model cannot judge the item at all (gibberish, nothing like it in past determinations).
    cannot_judge: list[str]


@runtime_checkable
class ServedModel(Protocol):
    """What a served model offers: score request dicts, and find similar past determinations."""

    def predict_records(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One ``ModelOutput``-shaped dict per request dict (``features.view.PrescreenRequest`` fields)."""
        ...

    def similar(self, records: list[dict[str, Any]], k: int = 5) -> list[list[dict[str, Any]]]:
        """Per request, up to k similar past determinations (empty lists when the model ships no index)."""
        ...
