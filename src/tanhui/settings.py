"""The one settings object: typed, frozen, read from ``TANHUI_*`` environment variables at start.

Nothing else in Tanhui reads the environment. Outside development, a missing or default secret is
refused at start rather than discovered in production.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[2]
DEVELOPMENT_SECRET = "development-only-secret-not-for-production"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    """Tanhui's configuration."""

    model_config = SettingsConfigDict(env_prefix="TANHUI_", frozen=True, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(default=f"sqlite:///{ROOT / 'var' / 'tanhui.db'}")
    secret_key: str = DEVELOPMENT_SECRET
    data_dir: Path = ROOT / "data"
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_topic_prefix: str = "tanhui"
    # Browsers treat http://127.0.0.1 as a secure context, so Secure cookies work in the demo too.
    cookie_secure: bool = True
    token_ttl_seconds: int = 3600
    session_ttl_seconds: int = 8 * 3600
    # Failed sign-ins allowed per account and per client address within the window (web/ratelimit.py).
    login_max_failures: int = 10
    login_window_seconds: int = 15 * 60

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.environment == "production" and (
            self.secret_key == DEVELOPMENT_SECRET or len(self.secret_key) < 32
        ):
            raise ValueError(
                "TANHUI_SECRET_KEY must be set to a random value of 32+ characters in production"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
