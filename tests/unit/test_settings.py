from __future__ import annotations

import pytest
from pydantic import ValidationError

from tanhui.settings import Settings


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValidationError, match="TANHUI_SECRET_KEY"):
        Settings(environment="production")
    with pytest.raises(ValidationError):
        Settings(environment="production", secret_key="short")
    assert Settings(environment="production", secret_key="s" * 40).secret_key == "s" * 40


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANHUI_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert Settings().database_url == "postgresql+psycopg://u@h/db"
