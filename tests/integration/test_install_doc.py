"""README.md's examples work: its values install with the real chart, its
Alertmanager receiver passes the real ``amtool check-config`` and targets the
chart's Service, its Slack manifest names the bot's endpoint and scopes."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.helm_support import find, helm_renderer

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "README.md"


def yaml_blocks() -> list[Any]:
    text = DOC.read_text()
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S)]


def block(predicate: Any) -> dict[str, Any]:
    found = [b for b in yaml_blocks() if isinstance(b, dict) and predicate(b)]
    assert len(found) == 1, f"{len(found)} matching YAML blocks in {DOC.name}"
    return found[0]


@pytest.fixture(scope="module")
def rendered() -> Iterator[list[dict[str, Any]]]:
    """The doc's values-prod.yaml, installed with the release name and namespace it uses."""
    values = block(lambda b: "image" in b and "secrets" in b)
    with helm_renderer(namespace="honua-bot") as render:
        yield render(values, release="honua-bot")


def test_the_example_values_install(rendered: list[dict[str, Any]]) -> None:
    (deployment,) = find(rendered, "Deployment")
    assert deployment["spec"]["replicas"] == 2  # the example gives the bot a Redis
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("registry.example.com/honua-bot:")
    assert [r["metadata"]["namespace"] for r in find(rendered, "Role")] == [
        "honua-process-framework"
    ]


def test_alertmanager_receiver_is_valid_and_targets_the_service(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    amtool = shutil.which("amtool")
    assert amtool, "amtool is not installed (apt-get install prometheus-alertmanager)"
    config = block(lambda b: "receivers" in b and "route" in b)
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    checked = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    (webhook,) = config["receivers"][0]["webhook_configs"]
    (service,) = find(rendered, "Service")
    meta, port = service["metadata"], service["spec"]["ports"][0]["port"]
    assert webhook["url"] == f"http://{meta['name']}.{meta['namespace']}.svc:{port}/alerts"
    assert webhook["http_config"]["authorization"]["type"] == "Bearer"
    # the token file is the Secret key the chart gives the bot
    (deployment,) = find(rendered, "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    ref = env["HONUA_BOT_WEBHOOK_TOKEN"]["valueFrom"]["secretKeyRef"]
    credentials = webhook["http_config"]["authorization"]["credentials_file"]
    assert credentials == f"/etc/alertmanager/secrets/{ref['name']}/{ref['key']}"


def test_alertmanager_config_resource_uses_the_same_secret_and_url() -> None:
    resource = block(lambda b: b.get("kind") == "AlertmanagerConfig")
    (webhook,) = resource["spec"]["receivers"][0]["webhookConfigs"]
    assert webhook["url"].endswith(".svc:8080/alerts")
    assert webhook["httpConfig"]["authorization"]["credentials"] == {
        "name": "honua-bot",
        "key": "webhook-token",
    }


def test_slack_manifest_points_at_slack_events_with_the_needed_scopes() -> None:
    manifest = block(lambda b: "oauth_config" in b)
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert {"chat:write", "commands"} <= set(scopes)
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/honua"
    assert command["url"].endswith("/slack/events")
    assert manifest["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
