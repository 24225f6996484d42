"""The nested settings keep their flat public names: every ``HONUA_BOT_*`` variable
and every key of the ``--config`` file sets its setting in its group, the docs list
each one under its group with its default, and errors name the variable."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import SettingsError

from bot.config import Settings, SlackPermission, load_settings
from bot.settings_names import FlatSetting, flat_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
TABLE = flat_settings(Settings)


def plain(value: Any) -> Any:
    """A setting's value as it compares: secrets opened, models as dicts."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def sample(info: FieldInfo) -> tuple[str, Any]:
    """A valid value other than the default: (environment text, expected value)."""
    kind = info.annotation
    default = info.get_default(call_default_factory=True)
    if kind is bool:
        return ("false" if default else "true"), not default
    if kind is int:
        return str(default + 1), default + 1
    if kind is float:
        return str(default + 0.5), default + 0.5
    if kind in (str, str | None):
        return "http://example.test:1234/x/", "http://example.test:1234/x/"
    if kind == SecretStr | None:
        return "redis://:pw@127.0.0.1:6379/3", "redis://:pw@127.0.0.1:6379/3"
    if kind in (Path, Path | None):
        return "/srv/honua/thing", Path("/srv/honua/thing")
    if kind == dict[str, str]:
        return '{"a": "#b"}', {"a": "#b"}
    if kind == list[str]:
        return "U1, U2", ["U1", "U2"]
    if kind == dict[str, SlackPermission]:
        return '{"restart": {"groups": ["sre"]}}', {
            "restart": {"users": [], "groups": ["sre"], "channels": []}
        }
    raise AssertionError(f"no sample value for {kind}: add one to this test")


def value_at(settings: Settings, setting: FlatSetting) -> Any:
    value: Any = settings
    for part in setting.path:
        value = getattr(value, part)
    return plain(value)


def everything(settings: Settings) -> dict[str, Any]:
    return {name: value_at(settings, s) for name, s in TABLE.items()}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    import os

    for key in list(os.environ):
        if key.upper().startswith("HONUA_BOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_every_leaf_of_every_group_has_one_flat_name() -> None:
    leaves = []
    for name, info in Settings.model_fields.items():
        group = info.annotation
        if isinstance(group, type) and issubclass(group, BaseModel):
            leaves += [(name, field) for field in group.model_fields]
        else:
            leaves.append((name,))
    assert sorted(s.path for s in TABLE.values()) == sorted(leaves)
    assert TABLE["slack_post_interval"].path == ("slack", "post_interval")
    assert TABLE["target_redis_url"].path == ("targets", "redis_url")
    assert TABLE["runbook_base_url"].path == ("slack", "runbook_base_url")
    assert TABLE["slack_post_interval"].env == "HONUA_BOT_SLACK_POST_INTERVAL"


@pytest.mark.parametrize("name", list(TABLE))
def test_the_documented_variable_sets_its_setting(clean_env: pytest.MonkeyPatch, name: str) -> None:
    setting = TABLE[name]
    text, expected = sample(setting.info)
    before = everything(Settings())
    clean_env.setenv(setting.env, text)
    after = everything(Settings())
    assert after[name] == expected
    assert {k: v for k, v in after.items() if k != name} == {
        k: v for k, v in before.items() if k != name
    }, "only its own setting changes"


def _yaml_value(expected: Any) -> Any:
    return str(expected) if isinstance(expected, Path) else expected


@pytest.mark.parametrize("name", list(TABLE))
def test_the_flat_file_key_sets_its_setting(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, name: str
) -> None:
    setting = TABLE[name]
    _, expected = sample(setting.info)
    config = tmp_path / "bot.yaml"
    config.write_text(yaml.safe_dump({name: _yaml_value(expected)}))
    assert value_at(load_settings(config), setting) == expected


def documented() -> dict[str, tuple[str | None, str]]:
    """docs/configuration.md's settings tables: variable → (group of its section, default)."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str | None, str]] = {}
    group: str | None = None
    for line in section.splitlines():
        if line.startswith("### "):
            tag = re.search(r"\(`(\w+)`\)", line)
            group = tag.group(1) if tag else None
        row = re.match(r"\| `(HONUA_BOT_\w+)` \| ([^|]+) \|", line)
        if row:
            assert row.group(1) not in rows, f"{row.group(1)} listed twice"
            rows[row.group(1)] = (group, row.group(2).strip())
    return rows


def _documented_default(cell: str) -> Any:
    if cell == "unset":
        return None
    if cell == "empty":
        return ""
    return yaml.safe_load(cell.strip("`"))


def test_the_docs_list_every_setting_under_its_group_with_its_default() -> None:
    rows = documented()
    model = {s.env for s in TABLE.values()}
    assert sorted(model - set(rows)) == [], "settings missing from docs/configuration.md"
    assert sorted(set(rows) - model) == [], "documented settings bot/config.py does not have"
    for setting in TABLE.values():
        group, cell = rows[setting.env]
        assert group == setting.group, f"{setting.env} is documented under another group"
        default = plain(setting.info.get_default(call_default_factory=True))
        shown = _documented_default(cell)
        if isinstance(default, Path):
            shown = Path(shown)
        assert shown == default, f"{setting.env}: the docs say {cell}, the model {default!r}"


def test_environment_wins_over_the_file_setting_by_setting(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text("slack_post_interval: 2\nslack_storm_threshold: 4\nport: 9000\n")
    clean_env.setenv("HONUA_BOT_SLACK_POST_INTERVAL", "3")
    settings = load_settings(config)
    assert settings.slack.post_interval == 3  # the environment
    assert settings.slack.storm_threshold == 4  # the same group, from the file
    assert settings.http.port == 9000


def test_the_file_may_write_a_group_nested_and_a_flat_key_wins(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text("slack:\n  post_interval: 2\n  channel: '#nested'\nslack_channel: '#flat'\n")
    settings = load_settings(config)
    assert settings.slack.post_interval == 2
    assert settings.slack.channel == "#flat"


def test_a_bad_value_names_the_variable_and_hides_the_value(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("HONUA_BOT_SLACK_POST_INTERVAL", "hunter2")
    clean_env.setenv("HONUA_BOT_SLACK_ACTION_PERMISSIONS", '{"restart": {"usres": ["U1"]}}')
    clean_env.setenv("HONUA_BOT_REDIS_URL", "redis+sentinel://:hunter2@s1:26379")
    with pytest.raises(ValidationError) as err:
        Settings()
    text = str(err.value)
    assert "HONUA_BOT_SLACK_POST_INTERVAL (slack_post_interval)" in text
    assert "HONUA_BOT_SLACK_ACTION_PERMISSIONS (slack_action_permissions).restart.usres" in text
    assert "HONUA_BOT_REDIS_URL (redis_url)" in text and "no master name" in text
    assert "hunter2" not in text
    assert "slack.post_interval" not in text  # the nested path means nothing to an operator


def test_a_bad_value_in_the_file_names_the_setting(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text("slack_storm_threshold: -1\n")
    with pytest.raises(
        ValidationError, match=r"HONUA_BOT_SLACK_STORM_THRESHOLD \(slack_storm_threshold\)"
    ):
        load_settings(config)


def test_an_unknown_key_is_rejected_naming_it(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text("slack_post_intervall: 2\npost_interval: 2\n")
    with pytest.raises(ValidationError) as err:
        load_settings(config)
    text = str(err.value)
    assert "slack_post_intervall\n  Extra inputs are not permitted" in text
    assert "post_interval\n  Extra inputs are not permitted" in text  # a field, not a name
    with pytest.raises(ValidationError, match="wrokers"):
        Settings(wrokers=3)


def test_a_variable_that_is_not_json_names_the_setting(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HONUA_BOT_SLACK_CHANNEL_BY_RULE", "{not json")
    with pytest.raises(SettingsError, match="slack_channel_by_rule"):
        Settings()


def test_keyword_arguments_take_flat_names_or_groups(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HONUA_BOT_SLACK_CHANNEL", "#from-env")
    assert Settings(slack_channel="#flat").slack.channel == "#flat"  # over the environment
    nested = Settings(slack={"channel": "#nested", "post_interval": 2})
    assert (nested.slack.channel, nested.slack.post_interval) == ("#nested", 2)
    assert Settings.model_validate({"slack_channel": "#v", "workers": 3}).queue.workers == 3


def test_the_chart_schema_keeps_the_flat_names() -> None:
    """values.schema.json's ``config`` and ``secrets`` are generated from the flat
    table (scripts/chart_schema.py), so the chart's keys and env names stay those."""
    root = Path(__file__).resolve().parents[2]
    schema = json.loads((root / "helm" / "honua-bot" / "values.schema.json").read_text())
    config = set(schema["properties"]["config"]["properties"])
    secrets = {s["description"] for s in schema["properties"]["secrets"]["properties"].values()}
    secret_names = {s.env for s in TABLE.values() if "SecretStr" in str(s.info.annotation)}
    chart_managed = {"host", "port", "rules", "kubeconfig", "kubernetes_host"}
    assert secrets == secret_names
    assert config == {s.name for s in TABLE.values() if s.env not in secret_names} - chart_managed


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("HONUA_BOT_SLACK_POST_INTERVAL", "soon", "HONUA_BOT_SLACK_POST_INTERVAL"),
        ("HONUA_BOT_SLACK_CHANNEL_BY_RULE", "{not json", "slack_channel_by_rule"),
    ],
)
def test_the_command_line_names_the_variable_without_a_traceback(
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    named: str,
) -> None:
    from argparse import Namespace

    from bot.cli.main import _settings

    clean_env.setenv(variable, value)
    with pytest.raises(SystemExit) as exit_info:
        _settings(Namespace(config=None))  # what every command loads its settings with
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("configuration error:") and named in err
