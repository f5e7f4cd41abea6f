"""Runtime settings, read from the environment and `.env` (never from code)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.identity import AccountRef


class Settings(BaseSettings):
    """Every setting of climat-koom; `.env.example` documents each one."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///koom.db",
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL: sqlite+aiosqlite:///file.db or postgresql+asyncpg://...",
    )
    telegram_token: SecretStr | None = Field(default=None, validation_alias="TELEGRAM_TOKEN")
    discord_token: SecretStr | None = Field(default=None, validation_alias="DISCORD_TOKEN")
    organisers: Annotated[tuple[AccountRef, ...], NoDecode] = Field(
        default=(), validation_alias="KOOM_ORGANISERS"
    )
    default_locale: str = Field(default="fr", validation_alias="KOOM_DEFAULT_LOCALE")
    default_timezone: str = Field(default="Europe/Paris", validation_alias="KOOM_DEFAULT_TIMEZONE")
    conversation_ttl_minutes: int = Field(
        default=30, ge=1, validation_alias="KOOM_CONVERSATION_TTL_MINUTES"
    )
    load_demo: bool = Field(default=True, validation_alias="KOOM_LOAD_DEMO")
    log_level: str = Field(default="INFO", validation_alias="KOOM_LOG_LEVEL")

    @field_validator("organisers", mode="before")
    @classmethod
    def _parse_organisers(cls, value: object) -> tuple[AccountRef, ...]:
        if isinstance(value, str):
            return tuple(AccountRef.parse(p) for p in value.split(",") if p.strip())
        if isinstance(value, list | tuple):
            return tuple(
                v if isinstance(v, AccountRef) else AccountRef.parse(str(v)) for v in value
            )
        raise ValueError("KOOM_ORGANISERS must be a comma-separated list of platform:id")

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        from core.i18n import SUPPORTED_LOCALES

        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"KOOM_DEFAULT_LOCALE must be one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @cached_property
    def sqlite_path(self) -> Path | None:
        """The database file when the URL names SQLite, else None."""
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix):
            return Path(self.database_url[len(prefix) :])
        return None

    def is_organiser(self, account: AccountRef) -> bool:
        """True when this platform account is named in KOOM_ORGANISERS."""
        return account in self.organisers
