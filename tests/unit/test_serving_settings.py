"""Serving settings from the environment."""

from __future__ import annotations

from typing import Any

import pytest

from serving.settings import Settings, default_tracking_uri

pytestmark = pytest.mark.unit

NO_ENV_FILE: dict[str, Any] = {"_env_file": None}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MLFLOW_TRACKING_URI", "IMR_TRACKING_URI", "IMR_API_KEY", "IMR_PROFILE", "IMR_JURISDICTIONS"):
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    settings = Settings(**NO_ENV_FILE)
    assert settings.tracking_uri == default_tracking_uri() and settings.tracking_uri.endswith("/mlflow.db")
    assert settings.jurisdictions == ("dwc", "dmhc")
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert settings.api_key is None and not settings.auth_required and settings.cors_origins == ()
    assert (settings.max_text_bytes, settings.max_items, settings.max_batch) == (100_000, 21, 1000)
    assert settings.cache_dir.name == ".models"


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/elsewhere.db")
    monkeypatch.setenv("IMR_JURISDICTIONS", "dwc")
    monkeypatch.setenv("IMR_CORS_ORIGINS", '["https://a.example", "https://b.example"]')
    monkeypatch.setenv("IMR_API_KEY", "k" * 20)
    settings = Settings(**NO_ENV_FILE)
    assert settings.tracking_uri == "sqlite:////tmp/elsewhere.db"
    assert settings.jurisdictions == ("dwc",)
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.auth_required and settings.api_key is not None
    assert "k" * 20 not in repr(settings)
    monkeypatch.setenv("IMR_TRACKING_URI", "sqlite:////tmp/ours.db")
    assert Settings(**NO_ENV_FILE).tracking_uri == "sqlite:////tmp/ours.db"


def test_bands_must_not_cross() -> None:
    with pytest.raises(ValueError, match="band_overturned_max"):
        Settings(**NO_ENV_FILE, band_upheld_min=0.4, band_overturned_max=0.6)


def test_unknown_jurisdiction_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMR_JURISDICTIONS", "dwc,mars")
    with pytest.raises(ValueError, match="jurisdictions"):
        Settings(**NO_ENV_FILE)
