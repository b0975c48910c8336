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
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

PREFIX = "COMPLAINTWATCH_"
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

    # mail (alert delivery)
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_timeout: float = 30.0
    mail_from: str = "complaintwatch@localhost"

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
