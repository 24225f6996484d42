"""A target's client library is imported only when that target is configured and
used: a zero-config bot, and the offline CLI commands, never load
kubernetes_asyncio (~65 MB), asyncpg, slack_sdk/slack_bolt or the CEL binding's
command-line tool (prompt_toolkit). Checked in a fresh interpreter each time."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import REPO

HEAVY = ["kubernetes_asyncio", "asyncpg", "slack_sdk", "slack_bolt", "prompt_toolkit"]


def loaded_after(code: str) -> dict[str, bool]:
    script = (
        f"{code}\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    result: dict[str, bool] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_zero_config_service_with_the_bundled_rules_loads_no_target_client() -> None:
    loaded = loaded_after(
        "from bot.config import Settings\n"
        "from bot.app import Service\n"
        "service = Service(Settings(_env_file=None))\n"
        "assert service.rulebook.reload() and service.rulebook().rules  # with CEL conditions"
    )
    assert loaded == dict.fromkeys(HEAVY, False)


def test_offline_cli_commands_load_no_target_client() -> None:
    for argv in (["rules", "check", "rules"], ["list", "probes"], ["list", "actions"]):
        loaded = loaded_after(
            "import contextlib, io\n"
            "from bot.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert main({argv!r}) == 0\n"
        )
        assert loaded == dict.fromkeys(HEAVY, False), argv


def test_slack_is_loaded_when_configured() -> None:
    loaded = loaded_after(
        "from bot.config import Settings\n"
        "from bot.app import Service\n"
        "Service(Settings(_env_file=None, slack_bot_token='xoxb-x', slack_channel='#c'))"
    )
    assert loaded["slack_sdk"] and loaded["slack_bolt"]
    assert not loaded["kubernetes_asyncio"] and not loaded["asyncpg"]
