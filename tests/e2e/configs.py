"""Test-time copies of the shipped configuration, with only time scales and
addresses changed (pure functions over text; the sources are never edited):

- ``examples/prometheus/alerts.yaml``: every ``for`` becomes 0s and every plain
  range window (``[5m]``, ``[10m]``, …) a few seconds, so an alert fires within a
  couple of scrapes and resolves a few seconds after its cause ends. Subqueries
  and ``offset`` are kept (ProcessRunaway's one-day baseline is backfilled).
- ``rules/*.yaml``: each validation's ``for``/``within`` and the range windows of
  its ``expr`` shortened the same way, and so are the windows of the probes'
  PromQL: a probe's ``[5m]`` matches its alert's ``for: 5m`` in production, and a
  5-minute rate over the few seconds of data a test has is a fraction of the real
  rate (the scenario thresholds would then decide by chance). Everything else —
  probes, diagnoses, actions — as shipped.
- ``examples/alertmanager/alertmanager.yml``: the webhook URL and the bearer
  token file substituted, ``group_wait`` shortened. ``group_interval`` stays as
  shipped (1m): a resolved notification then comes a minute after the first one,
  after the verification a test waits for, so the message shows "Verified"
  before it shows "Resolved", as it would in production where validations are
  shorter than the time an alert takes to resolve and be re-notified.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

RANGE = re.compile(r"\[(\d+)([smhd])\]")  # a plain range, not a subquery [1d:5m]


def _yaml() -> YAML:
    yaml = YAML()  # round trip: comments, anchors and order are kept
    yaml.width = 4096
    return yaml


def _dump(data: Any) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def shorten_ranges(expr: str, window: str) -> str:
    return RANGE.sub(f"[{window}]", expr)


def fast_alert_rules(text: str, window: str = "8s") -> str:
    data = _yaml().load(text)
    for group in data["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "0s"
            rule["expr"] = shorten_ranges(str(rule["expr"]), window)
    return _dump(data)


def fast_bot_rule(text: str, hold: str = "3s", within: str = "90s", window: str = "8s") -> str:
    data = _yaml().load(text)
    for call in (data.get("probes") or {}).values():
        for params in call.values():
            if isinstance(params, dict) and isinstance(params.get("expr"), str):
                params["expr"] = shorten_ranges(params["expr"], window)
    for validation in data.get("validation") or []:
        validation["for"] = hold
        validation["within"] = within
        validation["expr"] = shorten_ranges(str(validation["expr"]), window)
    return _dump(data)


def write_fast_bot_rules(source: Path, target: Path, **kw: str) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.yaml")):
        (target / path.name).write_text(fast_bot_rule(path.read_text(), **kw))
    return target


def alertmanager_config(
    text: str,
    webhook_url: str,
    token_file: Path,
    group_wait: str = "1s",
    group_interval: str | None = None,
) -> str:
    """``group_interval`` (default: as shipped) only for tests that verify no action:
    a second alert of a group is then sent within seconds, not a minute later."""
    data = _yaml().load(text)
    data["route"]["group_wait"] = group_wait
    bot_routes = [r for r in data["route"].get("routes") or [] if r.get("receiver") == "honua-bot"]
    receivers = [r for r in data["receivers"] if r.get("name") == "honua-bot"]
    if not bot_routes or not receivers or not receivers[0].get("webhook_configs"):
        raise ValueError("the example Alertmanager config has no honua-bot route and webhook")
    for route in bot_routes:
        route["group_wait"] = group_wait
        if group_interval is not None:
            route["group_interval"] = group_interval
    for webhook in receivers[0]["webhook_configs"]:
        webhook["url"] = webhook_url
        webhook["http_config"]["authorization"]["credentials_file"] = str(token_file)
    return _dump(data)
