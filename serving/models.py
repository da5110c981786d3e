"""The model side of serving: a loaded pyfunc checked against the model contract, and its output checked and typed.

``features.contract.ServedModel`` is what a served model must be (``predict_records`` and ``similar``); a loaded
model that is not one is refused at load with :class:`ModelContractError`. Registry access is in
``serving.registry``, the champions being served in ``serving.champions``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson

from features.contract import ModelOutput, ReasonOut, ServedModel


class ModelOutputError(RuntimeError):
    """The model returned something that is not a probability for every input row."""


class ModelContractError(TypeError):
    """A loaded model that is not a ``features.contract.ServedModel``: it cannot be served."""


#: What serving reads from a model: the contract's output types (one home, ``features.contract``).
Reason = ReasonOut
Prediction = ModelOutput


class Predictor(Protocol):
    def __call__(self, records: list[dict[str, Any]]) -> Sequence[Mapping[str, Any]]: ...


class SimilarFn(Protocol):
    def __call__(self, records: list[dict[str, Any]], k: int = 5) -> Any: ...


def served_model(loaded: Any) -> ServedModel:
    """The python model inside a loaded pyfunc, if it keeps the contract; else :class:`ModelContractError`."""
    try:
        inner = loaded.unwrap_python_model()
    except AttributeError:  # already the python model itself (tests and tools)
        inner = loaded
    except Exception as exc:  # MLflow: a flavour other than python_model
        raise ModelContractError(f"the loaded model is not a python model ({type(exc).__name__})") from None
    if not isinstance(inner, ServedModel):
        raise ModelContractError(
            f"the loaded model ({type(inner).__name__}) is not a features.contract.ServedModel: it needs "
            "predict_records(records) and similar(records, k) (training.pyfunc.PrescreenModel has both)"
        )
    return inner


def make_predictor(loaded: Any) -> Predictor:
    """The loaded model's ``predict_records`` (refused with :class:`ModelContractError` if it breaks the contract)."""
    return served_model(loaded).predict_records


def make_similar(loaded: Any) -> SimilarFn:
    """The loaded model's ``similar(records, k)``: similar past determinations (empty lists without an index)."""
    return served_model(loaded).similar


def _parse_json_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | bytes):
        if not value:
            return []
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return []
    return list(value) if isinstance(value, list | tuple) else []


def parse_reasons(value: Any) -> list[Reason]:
    """The model's ``reasons`` (a JSON string or a list of {code, label, probability}), tolerant of gaps."""
    reasons: list[Reason] = []
    for entry in _parse_json_list(value):
        if not isinstance(entry, Mapping):
            continue
        code = str(entry.get("code") or "")
        label = str(entry.get("label") or code)
        prob = entry.get("probability")
        probability = float(prob) if isinstance(prob, int | float) and math.isfinite(prob) else None
        if code or label:
            reasons.append({"code": code, "label": label, "probability": probability})
    return reasons


def normalize_output(row: Mapping[str, Any]) -> Prediction:
    """One output row of the pyfunc, checked and typed."""
    try:
        p = float(row["p_upheld"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelOutputError("model output has no numeric p_upheld") from exc
    if not (math.isfinite(p) and 0.0 <= p <= 1.0):
        raise ModelOutputError("model output p_upheld is not a probability")
    label = row.get("label")
    if label not in ("Upheld", "Overturned"):
        label = "Upheld" if p >= 0.5 else "Overturned"
    checklist = row.get("checklist")
    return {
        "p_upheld": p,
        "label": str(label),
        "reasons": parse_reasons(row.get("reasons")),
        "top_terms": _parse_json_list(row.get("top_terms")),
        "p_low": _probability(row.get("p_low")),
        "p_high": _probability(row.get("p_high")),
        "prior": _probability(row.get("prior")),
        "base_rate": _probability(row.get("base_rate")),
        "checklist": None if checklist is None else _parse_json_list(checklist),
        "fixes": _parse_json_list(row.get("fixes")),
        "p_all_fixed": _probability(row.get("p_all_fixed")),
        "attributions": _parse_json_list(row.get("attributions")),
        "needs_missing": [str(c) for c in _parse_json_list(row.get("needs_missing")) if isinstance(c, str)],
        "cannot_judge": [str(c)[:400] for c in _parse_json_list(row.get("cannot_judge")) if isinstance(c, str)],
    }


def _probability(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value) if 0.0 <= value <= 1.0 else None


def skip_sklearn_validation() -> bool:
    """In this thread, skip scikit-learn's per-call input and parameter checks, if a loaded model uses it.

    They cost about half of a TF-IDF champion's time per request; the model was validated when trained, and
    :func:`normalize_output` still refuses any output that is not a probability. Returns whether it applied.
    """
    sklearn = sys.modules.get("sklearn")
    if sklearn is None:
        return False
    sklearn.set_config(assume_finite=True, skip_parameter_validation=True)
    return True


def load_pyfunc(path: Path) -> Any:
    """Load a pyfunc model from a local directory."""
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(str(path))
