"""End-to-end tests: real Prometheus evaluating the example alert rules, real
Alertmanager with the example routing, the bot in-process, signed Slack clicks
(see ``tests/e2e/stack.py``). Every test here is an integration test."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)
