from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot import logs
from bot.config import Settings, bundled_rules_dir, load_settings


def test_zero_config_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no ./rules here
    s = load_settings()
    assert (s.http.host, s.http.port) == ("127.0.0.1", 8080)
    assert s.store.redis_url is None and s.http.webhook_token is None
    assert s.resolved_rules_dir() == bundled_rules_dir()
    assert any(bundled_rules_dir().glob("*.yaml"))


def test_environment_overrides_yaml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "bot.yaml"
    cfg.write_text("port: 9000\nprometheus_url: http://prom:9090\nworkers: 2\n")
    monkeypatch.setenv("HONUA_BOT_PORT", "9100")
    monkeypatch.setenv("HONUA_BOT_WEBHOOK_TOKEN", "s3cret-token")
    s = load_settings(cfg)
    assert s.http.port == 9100  # env wins
    assert s.targets.prometheus_url == "http://prom:9090"  # from the file
    assert s.queue.workers == 2
    token = s.http.webhook_token
    assert token is not None and token.get_secret_value() == "s3cret-token"
    assert "s3cret-token" not in repr(s)


def test_bad_values_name_the_field(tmp_path: Path) -> None:
    cfg = tmp_path / "bot.yaml"
    cfg.write_text("port: not-a-port\nwrokers: 3\n")
    with pytest.raises(ValidationError) as err:
        load_settings(cfg)
    text = str(err.value)
    assert "port" in text and "wrokers" in text


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_explicit_rules_path_is_kept(tmp_path: Path) -> None:
    assert Settings(rules=tmp_path / "mine").resolved_rules_dir() == tmp_path / "mine"


def test_secrets_never_reach_the_log() -> None:
    out = io.StringIO()
    logs.configure("debug", stream=out)
    logs.register_secret("xoxb-very-secret-value")
    log = logs.get_logger("t")
    log.info(
        "connecting", url="redis://:xoxb-very-secret-value@redis:6379/0", webhook_token="abc123"
    )
    log.info("oops xoxb-very-secret-value in the event text")
    logs.configure("info")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert "xoxb-very-secret-value" not in out.getvalue()
    assert lines[0]["webhook_token"] == "***"
    assert lines[0]["url"] == "redis://:***@redis:6379/0"
