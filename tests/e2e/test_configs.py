"""The test-time copies change only time scales and addresses, and stay valid for
the real tools (promtool, amtool, the bot's loader); the simulator reads
process-config as the pods would."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ruamel.yaml import YAML

import bot.actions
import bot.probes  # noqa: F401  (fills the registries)
from bot.registry import actions, probes
from bot.rules.loader import load_rules
from tests.e2e.configs import alertmanager_config, fast_alert_rules, fast_bot_rule, shorten_ranges
from tests.fakes.honua_config import parse_appsettings
from tests.fakes.kube_api.seed import APPSETTINGS_YAML
from tests.helpers import REPO

ALERTS = REPO / "examples/prometheus/alerts.yaml"
AM = REPO / "examples/alertmanager/alertmanager.yml"


def _load(text: str) -> dict:  # type: ignore[type-arg]
    return dict(YAML(typ="safe").load(text))


def test_ranges_are_shortened_but_subqueries_and_offsets_kept() -> None:
    expr = "avg_over_time(sum(x)[1d:5m] offset 1h) < rate(y[10m]) + increase(z[15m])"
    assert shorten_ranges(expr, "8s") == (
        "avg_over_time(sum(x)[1d:5m] offset 1h) < rate(y[8s]) + increase(z[8s])"
    )


def test_fast_alert_rules_keep_every_alert_and_pass_promtool(tmp_path: Path) -> None:
    original, fast = _load(ALERTS.read_text()), _load(fast_alert_rules(ALERTS.read_text()))
    before = [r for g in original["groups"] for r in g["rules"]]
    after = [r for g in fast["groups"] for r in g["rules"]]
    assert [(r["alert"], r["labels"]) for r in after] == [(r["alert"], r["labels"]) for r in before]
    assert {r["for"] for r in after} == {"0s"}
    assert all("[5m]" not in r["expr"] and "[10m]" not in r["expr"] for r in after)
    path = tmp_path / "alerts.yaml"
    path.write_text(fast_alert_rules(ALERTS.read_text()))
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed (apt-get install prometheus)"
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_fast_bot_rules_change_only_the_validation_and_load(tmp_path: Path) -> None:
    for source in sorted((REPO / "rules").glob("*.yaml")):
        original, fast = _load(source.read_text()), _load(fast_bot_rule(source.read_text()))
        assert {k: v for k, v in fast.items() if k not in ("validation", "probes")} == {
            k: v for k, v in original.items() if k not in ("validation", "probes")
        }, source.name
        # probes as shipped but for their PromQL windows; anchors (rules/03) still resolve
        assert list(fast["probes"]) == list(original["probes"])
        for name, call in original["probes"].items():
            for kind, params in call.items():
                if isinstance(params, dict) and "expr" in params:
                    params = {**params, "expr": shorten_ranges(params["expr"], "8s")}
                assert fast["probes"][name][kind] == params, (source.name, name)
        assert [(v["for"], v["within"]) for v in fast["validation"]] == [("3s", "90s")] * len(
            original["validation"]
        )
        (tmp_path / source.name).write_text(fast_bot_rule(source.read_text()))
    ruleset = load_rules(tmp_path, probes, actions)
    assert all(
        v.for_seconds == 3 and v.within_seconds == 90 for r in ruleset.rules for v in r.validation
    )


def test_alertmanager_copy_points_at_the_bot_and_passes_amtool(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t0ken")
    text = alertmanager_config(AM.read_text(), "http://127.0.0.1:1234/alerts", token)
    data = _load(text)
    route = data["route"]["routes"][0]
    assert (route["group_wait"], route["group_interval"]) == ("1s", "1m")  # interval as shipped
    webhook = data["receivers"][1]["webhook_configs"][0]
    assert webhook["url"] == "http://127.0.0.1:1234/alerts"
    assert webhook["http_config"]["authorization"] == {
        "type": "Bearer",
        "credentials_file": str(token),
    }
    assert data["inhibit_rules"] == _load(AM.read_text())["inhibit_rules"]
    path = tmp_path / "am.yml"
    path.write_text(text)
    amtool = shutil.which("amtool")
    assert amtool, "amtool is not installed (apt-get install prometheus-alertmanager)"
    done = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_simulator_reads_the_seeded_process_config() -> None:
    settings = parse_appsettings(APPSETTINGS_YAML)
    # the runbooks' layout: Azure primary, ProcessFramework.ProcessTimeouts.<type>
    assert settings.max_concurrent == 20 and settings.provider == "azure"
    assert settings.timeouts == {"DeploymentProcess": 60.0}
    swapped = APPSETTINGS_YAML.replace("Provider: Azure ", "Provider: OpenAI ")
    assert parse_appsettings(swapped).provider == "openai"
    assert parse_appsettings("ProcessFramework: [not, a, map]\n").max_concurrent is None
    assert parse_appsettings(": not yaml :").provider is None
