"""Typed configuration: ``HONUA_BOT_*`` environment variables, an optional YAML
file (``--config``), then embedded defaults. Environment wins over the file.
The settings are grouped into models by what they configure; operators name
them flat (``HONUA_BOT_SLACK_POST_INTERVAL``, see :mod:`bot.settings_names`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from bot.settings_names import (
    ENV_PREFIX,
    SettingsGroup,
    flat_model,
    flat_settings,
    nest,
    public_error,
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


class HttpSettings(SettingsGroup):
    """The HTTP server: where it listens, who it lets in, what it accepts."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    webhook_token: SecretStr | None = None  # bearer token of /alerts and /incidents
    admin_token: SecretStr | None = None  # bearer token for /admin/*; unset: disabled
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


class StoreSettings(SettingsGroup):
    """The bot's own store (Redis, or memory when unset) and how long it keeps incidents."""

    redis_url: SecretStr | None = None
    redis_check_interval: float = Field(default=2.0, gt=0)  # while degraded, seconds between checks
    incident_ttl_seconds: int = Field(default=7 * 86400, ge=60)  # a resolved incident
    open_incident_ttl_seconds: int = Field(default=30 * 86400, ge=60)  # an open one, not updated

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


class QueueSettings(SettingsGroup):
    """The alert queue and the workers that take entries off it."""

    memory_queue_size: int = Field(default=10_000, ge=1)  # memory mode and degraded mode
    workers: int = Field(default=4, ge=1, le=256)  # per process
    claim_idle_seconds: float = Field(default=60.0, gt=0)  # a dead worker's entry is reclaimed
    max_deliveries: int = Field(default=20, ge=1)  # then the entry is dead-lettered
    # SIGTERM: how long in-flight queue entries may take to finish before they are
    # left pending for another replica (keep it below the pod's termination grace)
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)


class TargetSettings(SettingsGroup):
    """The monitored systems the probes and actions talk to (unset: not configured)."""

    flat_names: ClassVar[dict[str, str]] = {"redis_url": "target_redis_url"}

    prometheus_url: str | None = None
    process_api_url: str | None = None
    redis_url: SecretStr | None = None  # the Redis the bot monitors, never its own store
    postgres_dsn: SecretStr | None = None
    alertmanager_url: str | None = None
    kubeconfig: Path | None = None
    kubernetes_host: str | None = None  # wins over the kubeconfig
    probe_timeout: float = Field(default=5.0, gt=0)  # unless a rule sets its own


class RemediationSettings(SettingsGroup):
    """Remediation: safety gates shared by replicas through the store, and blast radius."""

    paused: bool = False  # kill switch for automatic actions (also `honua-bot pause`)
    approval_ttl_seconds: float = Field(default=900.0, gt=0)
    breaker_failures: int = Field(default=2, ge=1)
    breaker_window_seconds: float = Field(default=86400.0, gt=0)
    rule_runs_per_hour: int = Field(default=10, ge=1)
    default_cooldown_seconds: float = Field(default=300.0, ge=0)
    action_dedup_seconds: float = Field(default=120.0, ge=0)
    action_timeout_seconds: float = Field(default=600.0, gt=0)
    verify_interval_seconds: float = Field(default=30.0, gt=0)
    # a mitigation still in place this long after its incident resolved is offered
    # for restoring in the incident's thread (once); 0: never offered
    mitigation_restore_after_seconds: float = Field(default=1800.0, ge=0)
    max_replica_change: int = Field(default=5, ge=1)
    max_replicas: int = Field(default=20, ge=1)
    max_processes_per_action: int = Field(default=50, ge=1)


class SlackSettings(SettingsGroup):
    """Slack (no bot token: the console notifier alone). Flat names: ``slack_`` + field."""

    flat_prefix: ClassVar[str] = "slack_"
    flat_names: ClassVar[dict[str, str]] = {"runbook_base_url": "runbook_base_url"}

    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    app_token: SecretStr | None = None  # Socket Mode instead of /slack/events
    channel: str | None = None
    api_url: str = "https://slack.com/api/"
    channel_by_rule: dict[str, str] = Field(default_factory=dict)
    channel_by_severity: dict[str, str] = Field(default_factory=dict)
    allowed_users: NameList = Field(default_factory=list)
    allowed_groups: NameList = Field(default_factory=list)
    allowed_channels: NameList = Field(default_factory=list)
    action_permissions: dict[str, SlackPermission] = Field(default_factory=dict)
    # runbook role (a rule's `allowed.roles`, e.g. senior-devops) → Slack user-group handle;
    # default none: a role with no group here adds no restriction
    role_groups: dict[str, str] = Field(default_factory=dict)
    storm_threshold: int = Field(default=10, ge=0)
    storm_window_seconds: float = Field(default=600.0, gt=0)
    storm_update_seconds: float = Field(default=3.0, gt=0)
    post_interval: float = Field(default=1.0, ge=0)
    retry_seconds: float = Field(default=10.0, gt=0)
    # the runbooks document (Markdown with GitHub-style anchors); when set, each message
    # links its rule's runbook section (a rule's display.runbook_url takes precedence)
    runbook_base_url: str = ""
    # graphs of the alert's PromQL in the incident's thread (needs the `graphs` extra)
    graphs: bool = True

    _split_names = field_validator(
        "allowed_users", "allowed_groups", "allowed_channels", mode="before"
    )(_names)


class Settings(BaseSettings):
    """Every setting, grouped by what it configures. The public names are flat
    (``bot.settings_names``): ``HONUA_BOT_SLACK_POST_INTERVAL`` or the file's
    ``slack_post_interval`` sets ``settings.slack.post_interval``."""

    # hide_input_in_errors: a rejected value may be a DSN or URL with a password in
    # it; the error names the setting and says what is wrong without echoing it.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", hide_input_in_errors=True
    )

    rules: Path = Path("./rules")
    # seconds the rule evaluation of one diagnosis (CEL conditions and Jinja
    # templates) may take; past it the incident is unclassified, naming why
    rule_eval_budget_seconds: float = Field(default=2.0, gt=0)
    # entries of a probe's list or map that rule conditions and templates see
    # (the rest is cut, and the diagnosis says so): bounds how long one CEL
    # evaluation holds the GIL, which freezes the event loop (docs/reliability.md);
    # at least 100 so the bundled rules' lists (rule 01's 73 samples) are never cut
    rule_data_max_items: int = Field(default=300, ge=100, le=100_000)
    log_level: str = "info"
    console_notifier: bool = True

    http: HttpSettings = Field(default_factory=HttpSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    targets: TargetSettings = Field(default_factory=TargetSettings)
    remediation: RemediationSettings = Field(default_factory=RemediationSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise public_error(exc, flat_settings(type(self))) from None

    @model_validator(mode="before")
    @classmethod
    def _nest_flat_names(cls, values: Any) -> Any:
        """Flat names given straight to validation (``model_validate``) are nested too."""
        return nest(values, flat_settings(cls)) if isinstance(values, Mapping) else values

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # each source's flat names are nested before the sources are merged, so
        # environment over file holds per setting, also inside a group
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            EnvSettingsSource(flat_model(settings_cls)),
        ]
        config_file = _CONFIG_FILE.get("path")
        if config_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(_Nested(settings_cls, source) for source in sources)

    def resolved_rules_dir(self) -> Path:
        """``./rules`` when it exists, else the bundled rules (zero-config start)."""
        if self.rules == Path("./rules") and not self.rules.exists():
            return bundled_rules_dir()
        return self.rules


class _Nested(PydanticBaseSettingsSource):
    """A source whose flat names are moved into their groups."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self.inner = inner

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ asks the inner source

    def __call__(self) -> dict[str, Any]:
        return nest(self.inner(), flat_settings(self.settings_cls))


_CONFIG_FILE: dict[str, Path | None] = {"path": None}


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    if config_file is not None and not config_file.is_file():
        raise FileNotFoundError(f"config file not found: {config_file}")
    _CONFIG_FILE["path"] = config_file
    try:
        return Settings(**overrides)
    finally:
        _CONFIG_FILE["path"] = None
