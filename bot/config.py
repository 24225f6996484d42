"""Typed configuration: ``HONUA_BOT_*`` environment variables, an optional YAML
file (``--config``), then embedded defaults. Environment wins over the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)


def bundled_rules_dir() -> Path:
    """Rules shipped with the package (wheel) or beside it (source checkout)."""
    here = Path(__file__).resolve().parent
    wheel = here / "_bundled_rules"
    return wheel if wheel.is_dir() else here.parent / "rules"


def _names(value: Any) -> Any:
    """A list setting from the environment: JSON (``["a","b"]``) or ``a,b``."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


NameList = Annotated[list[str], NoDecode]


class SlackPermission(BaseModel):
    """Who may press one action's button (empty: no restriction on that axis)."""

    model_config = ConfigDict(extra="forbid")
    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)


class Settings(BaseSettings):
    # hide_input_in_errors: a rejected value may be a DSN or URL with a password in
    # it; the error names the field and says what is wrong without echoing it.
    model_config = SettingsConfigDict(
        env_prefix="HONUA_BOT_", extra="forbid", hide_input_in_errors=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    rules: Path = Path("./rules")
    redis_url: SecretStr | None = None
    webhook_token: SecretStr | None = None
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # a request body not received within this many seconds is refused (408): a
    # slow or stuck client (or a body the decompressor never finishes) frees its
    # handler instead of holding it for ever
    body_timeout_seconds: float = Field(default=10.0, gt=0)
    # a connection that has not sent a complete request head (request line and
    # headers) within this many seconds of connecting, or of the first byte of
    # its next request, gets a 408 and is closed (header slow-loris)
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    # an idle keep-alive connection is closed after this many seconds
    keepalive_timeout_seconds: float = Field(default=15.0, gt=0)
    # connections served at once; more get a 503 and are closed (keep it below
    # the process's file-descriptor limit, ulimit -n)
    max_connections: int = Field(default=900, ge=1)
    memory_queue_size: int = Field(default=10_000, ge=1)
    workers: int = Field(default=4, ge=1, le=256)
    probe_timeout: float = Field(default=5.0, gt=0)
    # seconds the rule evaluation of one diagnosis (CEL conditions and Jinja
    # templates) may take; past it the incident is unclassified, naming why
    rule_eval_budget_seconds: float = Field(default=2.0, gt=0)
    # entries of a probe's list or map that rule conditions and templates see
    # (the rest is cut, and the diagnosis says so): bounds how long one CEL
    # evaluation holds the GIL, which freezes the event loop (docs/reliability.md)
    rule_data_max_items: int = Field(default=300, ge=1, le=100_000)
    claim_idle_seconds: float = Field(default=60.0, gt=0)
    max_deliveries: int = Field(default=20, ge=1)
    incident_ttl_seconds: int = Field(default=7 * 86400, ge=60)
    open_incident_ttl_seconds: int = Field(default=30 * 86400, ge=60)
    redis_check_interval: float = Field(default=2.0, gt=0)
    # SIGTERM: how long in-flight queue entries may take to finish before they are
    # left pending for another replica (keep it below the pod's termination grace)
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    log_level: str = "info"
    console_notifier: bool = True

    prometheus_url: str | None = None
    process_api_url: str | None = None
    target_redis_url: SecretStr | None = None
    postgres_dsn: SecretStr | None = None
    alertmanager_url: str | None = None
    kubeconfig: Path | None = None
    kubernetes_host: str | None = None

    # remediation: safety gates shared by replicas through the store
    paused: bool = False  # kill switch for automatic actions (also `honua-bot pause`)
    admin_token: SecretStr | None = None  # bearer token for /admin/*; unset: disabled
    approval_ttl_seconds: float = Field(default=900.0, gt=0)
    breaker_failures: int = Field(default=2, ge=1)
    breaker_window_seconds: float = Field(default=86400.0, gt=0)
    rule_runs_per_hour: int = Field(default=10, ge=1)
    default_cooldown_seconds: float = Field(default=300.0, ge=0)
    action_dedup_seconds: float = Field(default=120.0, ge=0)
    action_timeout_seconds: float = Field(default=600.0, gt=0)
    verify_interval_seconds: float = Field(default=30.0, gt=0)
    max_replica_change: int = Field(default=5, ge=1)
    max_replicas: int = Field(default=20, ge=1)
    max_processes_per_action: int = Field(default=50, ge=1)

    # Slack (no bot token: the console notifier alone)
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None  # Socket Mode instead of /slack/events
    slack_channel: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_channel_by_rule: dict[str, str] = Field(default_factory=dict)
    slack_channel_by_severity: dict[str, str] = Field(default_factory=dict)
    slack_allowed_users: NameList = Field(default_factory=list)
    slack_allowed_groups: NameList = Field(default_factory=list)
    slack_allowed_channels: NameList = Field(default_factory=list)
    slack_action_permissions: dict[str, SlackPermission] = Field(default_factory=dict)
    # runbook role (a rule's `allowed.roles`, e.g. senior-devops) → Slack user-group handle;
    # default none: a role with no group here adds no restriction
    slack_role_groups: dict[str, str] = Field(default_factory=dict)
    slack_storm_threshold: int = Field(default=10, ge=0)
    slack_storm_window_seconds: float = Field(default=600.0, gt=0)
    slack_storm_update_seconds: float = Field(default=3.0, gt=0)
    slack_post_interval: float = Field(default=1.0, ge=0)
    slack_retry_seconds: float = Field(default=10.0, gt=0)
    # the runbooks document (Markdown with GitHub-style anchors); when set, each message
    # links its rule's runbook section (a rule's display.runbook_url takes precedence)
    runbook_base_url: str = ""
    # graphs of the alert's PromQL in the incident's thread (needs the `graphs` extra)
    slack_graphs: bool = True

    _split_names = field_validator(
        "slack_allowed_users", "slack_allowed_groups", "slack_allowed_channels", mode="before"
    )(_names)

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        """A redis+sentinel:// URL is parsed here, so a malformed one fails at start
        naming the setting (a plain redis:// URL is left to redis-py)."""
        if value is not None:
            from bot.store.sentinel import is_sentinel_url, parse_sentinel_url

            if is_sentinel_url(value.get_secret_value()):
                parse_sentinel_url(value.get_secret_value())
        return value

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
