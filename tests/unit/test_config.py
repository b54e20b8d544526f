import pytest
from pydantic import ValidationError

from modeltrain.config import Settings


def test_defaults_are_the_documented_ones(monkeypatch):
    for var in ("MODELTRAIN_REDIS_URL", "MLFLOW_TRACKING_URI", "MODELTRAIN_MAX_UPLOAD_BYTES"):
        monkeypatch.delenv(var, raising=False)
    settings = Settings(_env_file=None)
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.max_upload_bytes == 26_214_400
    assert settings.mlflow_tracking_uri is None and settings.api_key is None


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MODELTRAIN_REDIS_URL", "redis://example:6380/2")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    monkeypatch.setenv("MODELTRAIN_API_KEY", "")
    monkeypatch.setenv("MODELTRAIN_CORS_ORIGINS", '["http://a.example"]')
    settings = Settings(_env_file=None)
    assert settings.redis_url == "redis://example:6380/2"
    assert settings.mlflow_tracking_uri == "http://mlflow:5000"
    assert settings.api_key is None
    assert settings.cors_origins == ["http://a.example"]


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("MODELTRAIN_MAX_UPLOAD_BYTES", "0"),
        ("MODELTRAIN_MAX_UPLOAD_BYTES", "lots"),
        ("MODELTRAIN_LOG_LEVEL", "LOUD"),
        ("MODELTRAIN_LOG_FORMAT", "xml"),
        ("MODELTRAIN_MAX_TIME_BUDGET", "5"),
    ],
)
def test_bad_settings_fail_fast(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)
