"""Typed configuration: ``HONUA_BOT_*`` environment variables, an optional YAML
file (``--config``), then embedded defaults. Environment wins over the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)


def bundled_rules_dir() -> Path:
    """Rules shipped with the package (wheel) or beside it (source checkout)."""
    here = Path(__file__).resolve().parent
    wheel = here / "_bundled_rules"
    return wheel if wheel.is_dir() else here.parent / "rules"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HONUA_BOT_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    rules: Path = Path("./rules")
    redis_url: SecretStr | None = None
    webhook_token: SecretStr | None = None
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    memory_queue_size: int = Field(default=10_000, ge=1)
    workers: int = Field(default=4, ge=1, le=256)
    probe_timeout: float = Field(default=5.0, gt=0)
    claim_idle_seconds: float = Field(default=60.0, gt=0)
    max_deliveries: int = Field(default=20, ge=1)
    incident_ttl_seconds: int = Field(default=7 * 86400, ge=60)
    open_incident_ttl_seconds: int = Field(default=30 * 86400, ge=60)
    redis_check_interval: float = Field(default=2.0, gt=0)
    log_level: str = "info"
    console_notifier: bool = True

    prometheus_url: str | None = None
    process_api_url: str | None = None
    target_redis_url: SecretStr | None = None
    postgres_dsn: SecretStr | None = None
    alertmanager_url: str | None = None
    kubeconfig: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _CONFIG_FILE.get("path")
        if config_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    def resolved_rules_dir(self) -> Path:
        """``./rules`` when it exists, else the bundled rules (zero-config start)."""
        if self.rules == Path("./rules") and not self.rules.exists():
            return bundled_rules_dir()
        return self.rules


_CONFIG_FILE: dict[str, Path | None] = {"path": None}


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    if config_file is not None and not config_file.is_file():
        raise FileNotFoundError(f"config file not found: {config_file}")
    _CONFIG_FILE["path"] = config_file
    try:
        return Settings(**overrides)
    finally:
        _CONFIG_FILE["path"] = None
