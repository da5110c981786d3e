"""Serving configuration: one pydantic-settings ``Settings``, read from the environment (prefix ``IMR_``) and ``.env``.

Every field has a help text; ``imr serve --help`` and the README can list them. The production profile
(``IMR_PROFILE=production``) refuses to start without an API key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from features.contract import CHAMPION_ALIAS, MODEL_NAME_PREFIX, model_name
from features.paths import REPO_ROOT
from features.schema import JURISDICTIONS, Jurisdiction

Profile = Literal["local", "production"]


def default_tracking_uri() -> str:
    """The project's own SQLite registry beside the code."""
    return f"sqlite:///{REPO_ROOT / 'mlflow.db'}"


class RegistrySettings(BaseSettings):
    """Where the registry is: the one place the tracking URI is read (the server, batch scoring and the CLI)."""

    model_config = SettingsConfigDict(
        env_prefix="IMR_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    tracking_uri: str = Field(
        default_factory=default_tracking_uri,
        validation_alias=AliasChoices("IMR_TRACKING_URI", "MLFLOW_TRACKING_URI"),
        description="MLflow tracking/registry URI (MLFLOW_TRACKING_URI also works)",
    )

    @field_validator("tracking_uri", mode="after")
    @classmethod
    def _blank_uri_is_default(cls, value: str) -> str:
        """An empty IMR_TRACKING_URI means the project's own registry, not a URI that is empty."""
        return value.strip() or default_tracking_uri()


def resolve_tracking_uri(explicit: str | None = None) -> str:
    """The registry to read: ``explicit``, else IMR_TRACKING_URI / MLFLOW_TRACKING_URI (environment or .env), else
    the project's own SQLite file."""
    if explicit and explicit.strip():
        return explicit.strip()
    return RegistrySettings().tracking_uri


class Settings(RegistrySettings):
    """Everything the server reads from its environment."""

    profile: Profile = Field(default="local", description="local (no key needed) or production (key required)")

    # models
    jurisdictions: Annotated[tuple[Jurisdiction, ...], NoDecode] = Field(
        default=JURISDICTIONS, description="Jurisdictions served; each needs a registered champion"
    )
    model_name_prefix: str = Field(
        default=MODEL_NAME_PREFIX, description="Registered model name = prefix + jurisdiction"
    )
    model_alias: str = Field(default=CHAMPION_ALIAS, description="Registry alias that is served")
    cache_dir: Path = Field(
        default=REPO_ROOT / ".models",
        description="Local copy of the last good champions (served if the registry is down)",
    )
    cache_keep_versions: int = Field(default=3, ge=1, description="Versions kept in the local copy per jurisdiction")
    reload_interval_s: float = Field(
        default=60.0, ge=0, description="Seconds between checks of the champion alias (0 turns the check off)"
    )
    skip_sklearn_validation: bool = Field(
        default=True, description="Skip scikit-learn's per-call input checks on the inline prediction path (faster)"
    )
    registry_timeout_s: float = Field(default=5.0, gt=0, description="HTTP timeout for a remote registry")

    # security
    api_key: SecretStr | None = Field(default=None, description="When set, /v1 requires it in the X-API-Key header")
    admin_key: SecretStr | None = Field(
        default=None,
        description="Key for /v1/admin/* (in X-API-Key); when the server has a key and this is unset, admin routes "
        "are off",
    )
    metrics_public: bool = Field(
        default=False, description="Serve /metrics without a key even when the server has one (default: key needed)"
    )
    require_api_key: bool = Field(default=False, description="Refuse to start without an API key (production)")
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Origins allowed by CORS; empty turns CORS off"
    )

    # limits
    max_text_bytes: int = Field(default=100_000, gt=0, description="Largest text field, in UTF-8 bytes")
    max_items: int = Field(default=21, gt=0, description="Most disputed items in one request")
    max_batch: int = Field(default=1000, gt=0, description="Most requests (JSON) or rows (CSV) in one batch")
    max_body_bytes: int = Field(default=4_000_000, gt=0, description="Largest body of POST /v1/prescreen")
    max_batch_bytes: int = Field(default=64_000_000, gt=0, description="Largest body of POST /v1/prescreen/batch")
    max_upload_bytes: int = Field(default=20_000_000, gt=0, description="Largest letter upload (PDF or text)")
    letter_workers: int = Field(
        default=2, ge=0, description="Worker processes that parse letters (0: parse in a thread of the server)"
    )
    letter_timeout_s: float = Field(default=4.0, gt=0, description="A letter whose parse takes longer is refused (422)")
    # cost (serving.limits): bytes do not measure work, items and concurrent heavy requests do
    max_batch_items: int = Field(
        default=2000, gt=0, description="Most disputed items in one batch, over all its cases or rows (else 413)"
    )
    max_letter_items: int = Field(
        default=50, gt=0, description="Most disputed items read from one letter (else 422; real letters have <= 21)"
    )
    heavy_concurrency: int = Field(
        default=2,
        ge=1,
        description="Batch, letter and report requests run at once per worker; one more gets 503 with Retry-After "
        "at once instead of queueing",
    )
    retry_after_s: int = Field(default=1, ge=1, description="Retry-After seconds of a 503 for a busy heavy route")

    # connections (serving.connections)
    header_timeout_s: float = Field(default=10.0, gt=0, description="Seconds for a request's line and headers")
    body_timeout_s: float = Field(default=60.0, gt=0, description="Seconds for a request's body, after its headers")
    keep_alive_timeout_s: int = Field(default=15, ge=1, description="Seconds an idle kept-alive connection stays open")
    max_header_bytes: int = Field(default=32_768, ge=1024, description="Largest request line + headers, in bytes")
    max_headers: int = Field(default=100, ge=10, description="Most header fields in one request")
    max_connections: int = Field(
        default=1000, ge=1, description="Open connections per worker; beyond them a new one gets 503 at once"
    )

    # business rules (serving.policy)
    band_upheld_min: float = Field(default=0.65, ge=0, le=1, description="p(upheld) at or above: likely upheld")
    band_overturned_max: float = Field(default=0.35, ge=0, le=1, description="p(upheld) at or below: likely overturned")
    min_item_words: int = Field(default=1, ge=0, description="Meaningful words the item text needs at all")
    min_item_words_alone: int = Field(
        default=3, ge=0, description="Meaningful words the item text needs when there is no clinical context"
    )
    min_context_words: int = Field(
        default=8, ge=0, description="Meaningful words of summary + UR text + guideline that count as context"
    )
    similar_k: int = Field(default=5, ge=0, le=20, description="Similar past determinations shown per item (0: none)")

    similar_floor: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="An item with no similar past determination (its own case aside), or whose best one is less "
        "alike than this, cannot be judged (insufficient_information). 0: only 'none at all' (the DWC index returns "
        "only hits sharing a word; real letter items' best hit is at least 0.078 alike).",
    )
    # server
    host: str = Field(default="127.0.0.1", description="Address to listen on")
    port: int = Field(default=8000, ge=0, le=65535, description="Port to listen on")
    workers: int = Field(default=1, ge=1, description="Worker processes (each loads its own models)")
    event_loop: Literal["uvloop", "asyncio"] = Field(default="uvloop", description="Event loop of the server")
    log_level: str = Field(default="info", description="Log level of the JSON logs")

    @field_validator("jurisdictions", "cors_origins", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        """Accept a JSON list or a comma-separated string from the environment."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return tuple(json.loads(text))
            return tuple(part.strip() for part in text.split(",") if part.strip())
        return value

    @field_validator("api_key", "admin_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: Any) -> Any:
        """An empty IMR_API_KEY means no key, not a key that is empty."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return value

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.band_overturned_max > self.band_upheld_min:
            raise ValueError("band_overturned_max must not exceed band_upheld_min")
        if (self.require_api_key or self.profile == "production") and self.api_key is None:
            raise ValueError("an API key is required (production profile): set IMR_API_KEY")
        if self.api_key is not None and len(self.api_key.get_secret_value()) < 16 and self.profile == "production":
            raise ValueError("IMR_API_KEY must be at least 16 characters in production")
        if self.admin_key is not None and self.profile == "production" and len(self.admin_key.get_secret_value()) < 16:
            raise ValueError("IMR_ADMIN_KEY must be at least 16 characters in production")
        if self.admin_key is not None and self.api_key is not None and self.admin_key == self.api_key:
            raise ValueError("IMR_ADMIN_KEY must differ from IMR_API_KEY")
        return self

    @property
    def auth_required(self) -> bool:
        """Whether /v1 routes need the X-API-Key header."""
        return self.api_key is not None

    def model_name(self, jurisdiction: str) -> str:
        """Registered model name for a jurisdiction."""
        return model_name(jurisdiction, self.model_name_prefix)
