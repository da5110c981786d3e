"""A stand-in TF-IDF + logistic regression champion for the serving benchmark (MLflow models-from-code).

Used by ``benchmarks/bench_serve.py`` only when the default registry has no champion yet. It is trained on invented
sentences (no real data), so its probabilities mean nothing; its cost per request is that of a real TF-IDF champion:
the pre-submission view, one vectorisation and one linear model per call. It also follows the explanation contract
serving uses: ``top_terms`` (each term's contribution to the logit) in its output, and ``similar(records, k)`` over
a ``features.similar.SimilarIndex`` of the invented corpus shipped in its artifacts (``similar``).
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import random
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel  # type: ignore[attr-defined]
from sklearn.feature_extraction.text import CountVectorizer

from features.contract import CHAMPION_ALIAS, model_name
from features.view import model_text, view

_ITEMS_UPHELD = [
    "compounded topical cream flurbiprofen cyclobenzaprine",
    "norco 10/325 #120",
    "physical therapy unspecified sessions",
    "lidoderm patches",
    "urine drug screen",
    "soma 350 mg",
]
_ITEMS_OVERTURNED = [
    "physical therapy lumbar 2 times a week for 6 weeks",
    "MRI of the cervical spine",
    "right knee arthroscopy with meniscectomy",
    "epidural steroid injection L4-L5 with radiculopathy",
    "EMG/NCV bilateral upper extremities",
    "follow-up visit with orthopedist",
]
_SUMMARIES = [
    "chronic low back pain after lifting injury with reduced flexion",
    "neck pain radiating to the left arm with numbness",
    "right knee pain with mechanical locking and positive McMurray test",
    "prior therapy improved walking tolerance and function",
    "no documented functional improvement from prior treatment",
]
REASONS = [
    {"code": "quantity_unspecified", "label": "Quantity, frequency or duration not stated"},
    {"code": "no_functional_improvement", "label": "No documented functional improvement"},
    {"code": "guideline_not_met", "label": "Guideline criteria not met"},
]


def synthetic_corpus(n: int = 400, seed: int = 0) -> tuple[list[dict[str, Any]], list[int]]:
    """Invented requests and labels (1 = upheld) for fitting the stand-in."""
    rng = random.Random(seed)
    rows, labels = [], []
    for _ in range(n):
        upheld = rng.random() < 0.6
        item = rng.choice(_ITEMS_UPHELD if upheld else _ITEMS_OVERTURNED)
        rows.append({"jurisdiction": "dwc", "item_text": item, "summary": rng.choice(_SUMMARIES)})
        labels.append(int(upheld if rng.random() > 0.1 else not upheld))
    return rows, labels


def build_similar_index(directory: Path) -> Path:
    """A similar-determinations index of the invented corpus (invented cases, outcomes, dates and rationales)."""
    from features.similar import SimilarIndex

    rows, labels = synthetic_corpus()
    start = dt.date(2014, 1, 1)
    table = pd.DataFrame(
        [
            {
                **row,
                "item_id": f"CM00-{i:07d}#0",
                "case_id": f"CM00-{i:07d}",
                "item_index": 0,
                "determination": "Upheld" if label else "Overturned",
                "decision_date": start + dt.timedelta(days=3 * i),
                "report_year": (start + dt.timedelta(days=3 * i)).year,
                "rationale": "Invented rationale for the benchmark. The request is or is not medically necessary.",
                "reviewer_guideline": "MTUS (invented)",
            }
            for i, (row, label) in enumerate(zip(rows, labels, strict=True))
        ]
    )
    return SimilarIndex.build(table, "dwc").save(directory)


def fit_pipeline() -> Any:
    """TF-IDF (words 1-2) + logistic regression on the synthetic corpus, through the real pre-submission view."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rows, labels = synthetic_corpus()
    texts = [model_text(view(r)) for r in rows]
    pipeline = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(max_iter=500))
    pipeline.fit(texts, labels)
    return pipeline


class TfidfChampion(PythonModel):
    """p(upheld) from TF-IDF + LR over ``features.view.model_text``; the fast path is ``predict_records``."""

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["pipeline"], "rb") as handle:
            self.pipeline = pickle.load(handle)
        vectorizer, classifier = self.pipeline[0], self.pipeline[-1]
        self.counter = CountVectorizer(ngram_range=vectorizer.ngram_range, vocabulary=vectorizer.vocabulary_)
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self.coef = np.asarray(classifier.coef_[0], dtype=np.float64)
        self.intercept = float(classifier.intercept_[0])
        self.terms = np.asarray(sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__), dtype=object)
        self.index = None
        if "similar" in (context.artifacts or {}):
            from features.similar import SimilarIndex

            self.index = SimilarIndex.load(Path(context.artifacts["similar"]))

    def _scores(self, texts: list[str]) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
        """TF-IDF (sublinear tf, l2 norm) dotted with the coefficients: predict_proba's numbers, minus its checks;
        and each row's top terms (contribution to the logit; positive = toward upheld)."""
        counts = self.counter.transform(texts)
        values = (1.0 + np.log(counts.data)) * self.idf[counts.indices]
        weighted = values * self.coef[counts.indices]
        scores = np.empty(len(texts))
        terms: list[list[dict[str, Any]]] = []
        for row in range(len(texts)):
            start, end = counts.indptr[row], counts.indptr[row + 1]
            norm = float(np.sqrt(np.dot(values[start:end], values[start:end])))
            contributions = weighted[start:end] / norm if norm else weighted[start:end]
            scores[row] = (contributions.sum() if norm else 0.0) + self.intercept
            top = np.argsort(-np.abs(contributions))[:5]
            terms.append(
                [
                    {"feature": str(self.terms[counts.indices[start + j]]), "weight": round(float(contributions[j]), 4)}
                    for j in top
                ]
            )
        return scores, terms

    def predict_records(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        texts = [model_text(view(r)) for r in records]
        scores, terms = self._scores(texts)
        probabilities = 1.0 / (1.0 + np.exp(-scores))
        out = []
        for p, top_terms in zip(probabilities.tolist(), terms, strict=True):
            reasons = [dict(r, probability=round(p * (0.9 - 0.2 * i), 3)) for i, r in enumerate(REASONS[:2])]
            out.append(
                {
                    "p_upheld": p,
                    "label": "Upheld" if p >= 0.5 else "Overturned",
                    "reasons": json.dumps(reasons),
                    "top_terms": json.dumps(top_terms),
                }
            )
        return out

    def similar(self, records: list[dict[str, Any]], k: int = 5) -> list[list[dict[str, Any]]]:
        """The ``k`` most similar past determinations of each request (none without an index)."""
        if self.index is None:
            return [[] for _ in records]
        return [[hit.as_dict() for hit in hits] for hits in self.index.query(records, k=k)]

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = model_input.replace({np.nan: None})
        records = [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]
        return pd.DataFrame(self.predict_records(records))


def register_stand_in(root: Path, experiment: str = "bench") -> str:
    """Register this stand-in as imr-dwc and imr-dmhc champion in a temporary store (for the benchmarks); its URI."""
    from mlflow import MlflowClient

    repo = Path(__file__).resolve().parents[1]

    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    experiment_id = client.create_experiment(experiment, artifact_location=(root / "artifacts").as_uri())
    pipeline_path = root / "pipeline.pkl"
    pipeline_path.write_bytes(pickle.dumps(fit_pipeline()))
    similar_path = build_similar_index(root / "similar")
    for jurisdiction in ("dwc", "dmhc"):
        name = model_name(jurisdiction)
        with mlflow.start_run(experiment_id=experiment_id):
            mlflow.log_metrics({"roc_auc": 0.5})
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(Path(__file__).resolve()),
                artifacts={"pipeline": str(pipeline_path), "similar": str(similar_path)},
                code_paths=[str(repo / "features")],
                pip_requirements=[],
                registered_model_name=name,
            )
        client.set_registered_model_alias(name, CHAMPION_ALIAS, str(info.registered_model_version))
    return uri


mlflow.models.set_model(TfidfChampion())
