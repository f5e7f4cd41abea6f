"""Runtime settings, read from the environment and `.env` (never from code)."""

from __future__ import annotations

import re
from functools import cache, cached_property
from pathlib import Path
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.identity import AccountRef

TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
DISCORD_API = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg/"
DATABASE_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")


def invalid(kind: str, message: str, **context: object) -> PydanticCustomError:
    """A refused setting; `kind` names its catalogue message `operations.setting.<kind>`."""
    return PydanticCustomError(kind, message, context or None)


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_time_zone(name: str) -> bool:
    """True when `name` is an IANA time zone (tzdata ships them where the system has none)."""
    return name in _known_zones()


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
    discord_api_base_url: str = Field(
        default=DISCORD_API,
        validation_alias="DISCORD_API_BASE_URL",
        description="Discord REST API URL up to the version (a rate-limit proxy, or a test fake)",
    )
    discord_gateway_url: str = Field(
        default=DISCORD_GATEWAY,
        validation_alias="DISCORD_GATEWAY_URL",
        description="Discord gateway websocket URL (a gateway proxy, or a test fake)",
    )
    discord_guild_id: int | None = Field(
        default=None,
        gt=0,
        validation_alias="DISCORD_GUILD_ID",
        description="Sync the slash commands to this server only (instant, for development)",
    )
    telegram_base_url: str = Field(
        default="https://api.telegram.org/bot",
        validation_alias="TELEGRAM_BASE_URL",
        description="Bot API URL before the token (a self-hosted Bot API server, or a test fake)",
    )
    telegram_webhook_url: str | None = Field(default=None, validation_alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias="TELEGRAM_WEBHOOK_SECRET"
    )
    telegram_webhook_port: int = Field(
        default=8443, ge=1, le=65535, validation_alias="TELEGRAM_WEBHOOK_PORT"
    )
    organisers: Annotated[tuple[AccountRef, ...], NoDecode] = Field(
        default=(), validation_alias="KOOM_ORGANISERS"
    )
    default_locale: str = Field(default="fr", validation_alias="KOOM_DEFAULT_LOCALE")
    default_timezone: str = Field(default="Europe/Paris", validation_alias="KOOM_DEFAULT_TIMEZONE")
    conversation_ttl_minutes: int = Field(
        default=30, ge=1, validation_alias="KOOM_CONVERSATION_TTL_MINUTES"
    )
    load_demo: bool = Field(default=True, validation_alias="KOOM_LOAD_DEMO")
    map_min_count: int = Field(
        default=3,
        ge=1,
        validation_alias="KOOM_MAP_MIN_COUNT",
        description="Places with fewer pledgers are left out of every count by place",
    )
    web_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        validation_alias="KOOM_WEB_PORT",
        description="Serve the public web pages on this port (koom run starts them when set)",
    )
    web_host: str = Field(default="127.0.0.1", validation_alias="KOOM_WEB_HOST")
    web_max_streams: int = Field(
        default=500,
        ge=0,
        validation_alias="KOOM_WEB_MAX_STREAMS",
        description="Live streams of the web pages open at once; past it, pages poll",
    )
    web_max_streams_per_client: int = Field(
        default=8,
        ge=0,
        validation_alias="KOOM_WEB_MAX_STREAMS_PER_CLIENT",
        description="Live streams open at once from one client address",
    )
    telegram_bot_username: str | None = Field(
        default=None,
        validation_alias="TELEGRAM_BOT_USERNAME",
        description="For the web page's 'open in Telegram' link (t.me/<username>)",
    )
    discord_invite_url: str | None = Field(
        default=None,
        validation_alias="DISCORD_INVITE_URL",
        description="For the web page's 'open in Discord' link",
    )
    public_url: str | None = Field(
        default=None,
        validation_alias="KOOM_PUBLIC_URL",
        description="The web pages' public address: link previews, share links and QR codes",
    )
    web_operator: str | None = Field(default=None, validation_alias="KOOM_WEB_OPERATOR")
    web_contact: str | None = Field(default=None, validation_alias="KOOM_WEB_CONTACT")
    web_privacy_url: str | None = Field(default=None, validation_alias="KOOM_WEB_PRIVACY_URL")
    org_logo_dir: Path | None = Field(default=None, validation_alias="KOOM_ORG_LOGO_DIR")
    log_level: str = Field(default="INFO", validation_alias="KOOM_LOG_LEVEL")
    log_format: str = Field(default="text", validation_alias="KOOM_LOG_FORMAT")
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        validation_alias="KOOM_METRICS_PORT",
        description="Serve /metrics, /healthz and /readyz on this port (koom run)",
    )
    metrics_host: str = Field(default="127.0.0.1", validation_alias="KOOM_METRICS_HOST")
    keep_deliveries_days: int = Field(
        default=30,
        ge=1,
        validation_alias="KOOM_KEEP_DELIVERIES_DAYS",
        description="Sent and abandoned deliveries older than this are purged daily",
    )
    keep_conversations_days: int = Field(
        default=30,
        ge=1,
        validation_alias="KOOM_KEEP_CONVERSATIONS_DAYS",
        description="Conversations idle longer than this are purged daily",
    )
    keep_updates_days: int = Field(
        default=2,
        ge=1,
        validation_alias="KOOM_KEEP_UPDATES_DAYS",
        description="Processed update ids older than this are purged daily",
    )
    redis_url: str | None = Field(default=None, validation_alias="KOOM_REDIS_URL")
    delivery_lease_seconds: int = Field(
        default=60, ge=5, le=3600, validation_alias="KOOM_DELIVERY_LEASE_SECONDS"
    )
    discord_shards: str | None = Field(default=None, validation_alias="KOOM_DISCORD_SHARDS")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            driver = make_url(value).drivername
        except ArgumentError:
            driver = None
        if driver not in DATABASE_DRIVERS:
            raise invalid("database_url", "not a supported database URL")
        return value

    @field_validator("default_timezone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        if not is_time_zone(value):
            raise invalid("timezone", "not an IANA time zone", value=value)
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().upper() in LOG_LEVELS:
            return value.strip().upper()
        raise invalid("one_of", "unknown log level", expected=", ".join(LOG_LEVELS))

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in LOG_FORMATS:
            return value.strip().lower()
        raise invalid("one_of", "unknown log format", expected=", ".join(LOG_FORMATS))

    @field_validator("metrics_port", "web_port", mode="before")
    @classmethod
    def _optional_port(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("organisers", mode="before")
    @classmethod
    def _parse_organisers(cls, value: object) -> tuple[AccountRef, ...]:
        parts = value.split(",") if isinstance(value, str) else value
        if not isinstance(parts, list | tuple):
            raise invalid("organisers", "a comma-separated list of platform:id")
        try:
            return tuple(
                p if isinstance(p, AccountRef) else AccountRef.parse(str(p))
                for p in parts
                if isinstance(p, AccountRef) or str(p).strip()
            )
        except ValueError:
            raise invalid("organisers", "a comma-separated list of platform:id") from None

    @field_validator("public_url", "web_privacy_url", mode="before")
    @classmethod
    def _web_address(cls, value: object, info: ValidationInfo) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str) or not value.strip().startswith(("https://", "http://")):
            name = "KOOM_PUBLIC_URL" if info.field_name == "public_url" else "KOOM_WEB_PRIVACY_URL"
            raise ValueError(f"{name} must be an http(s) address")
        return value.strip().rstrip("/")

    @field_validator("org_logo_dir", mode="before")
    @classmethod
    def _optional_folder(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("web_operator", "web_contact", mode="before")
    @classmethod
    def _optional_text(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        from core.i18n import SUPPORTED_LOCALES

        if value not in SUPPORTED_LOCALES:
            raise invalid("one_of", "unknown language", expected=", ".join(SUPPORTED_LOCALES))
        return value

    @field_validator("telegram_base_url", mode="before")
    @classmethod
    def _telegram_base_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return "https://api.telegram.org/bot"
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise invalid("http_url", "must be an http(s) URL")
        return value.strip()

    @field_validator("telegram_webhook_url", mode="before")
    @classmethod
    def _telegram_webhook_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise invalid("http_url", "must be an http(s) URL")
        return value.strip()

    @field_validator("telegram_webhook_secret", mode="before")
    @classmethod
    def _telegram_webhook_secret(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str) or not TELEGRAM_SECRET.fullmatch(value):
            raise invalid("webhook_secret", "must be 1-256 of A-Z a-z 0-9 _ -")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.telegram_webhook_url and self.telegram_webhook_secret is None:
            raise invalid(
                "webhook_needs_secret",
                "TELEGRAM_WEBHOOK_URL needs a secret",
                setting="TELEGRAM_WEBHOOK_SECRET",
            )
        return self

    @field_validator("discord_api_base_url", "discord_gateway_url", mode="before")
    @classmethod
    def _discord_url(cls, value: object, info: ValidationInfo) -> object:
        api = info.field_name == "discord_api_base_url"
        if value is None or (isinstance(value, str) and not value.strip()):
            return DISCORD_API if api else DISCORD_GATEWAY
        schemes = ("https://", "http://") if api else ("wss://", "ws://")
        if not isinstance(value, str) or not value.strip().startswith(schemes):
            raise invalid("http_url" if api else "ws_url", "not a URL of the right kind")
        return value.strip().rstrip("/") if api else value.strip()

    @field_validator("discord_guild_id", mode="before")
    @classmethod
    def _discord_guild_id(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("redis_url", "discord_shards", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("discord_shards")
    @classmethod
    def _shards(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                shard_plan(value)
            except ValueError as exc:
                raise invalid("discord_shards", str(exc)) from None
        return value

    @cached_property
    def shards(self) -> tuple[tuple[int, ...], int] | None:
        """The Discord shards this instance runs and the total count, from
        KOOM_DISCORD_SHARDS; None: one unsharded connection."""
        return None if self.discord_shards is None else shard_plan(self.discord_shards)

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


def shard_plan(text: str) -> tuple[tuple[int, ...], int]:
    """`"0,1/4"` -> ((0, 1), 4): the shard ids this instance runs, out of a total count."""
    ids_text, _, count_text = text.partition("/")
    try:
        count = int(count_text)
        ids = tuple(sorted({int(part) for part in ids_text.split(",") if part.strip()}))
    except ValueError:
        raise ValueError("KOOM_DISCORD_SHARDS must look like 0,1/4 (shard ids/total)") from None
    if count < 1 or not ids or not all(0 <= i < count for i in ids):
        raise ValueError("KOOM_DISCORD_SHARDS: each shard id must lie in 0..total-1")
    return ids, count
