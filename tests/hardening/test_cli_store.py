"""Item 9 (and 12): the kill switch and its siblings fail loudly without the store."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import REPO, free_port


def _cli(*args: str, redis_url: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONUA_BOT_")}
    env.update({"HONUA_BOT_RULES": str(REPO / "rules"), "HONUA_BOT_CONSOLE_NOTIFIER": "false"})
    if redis_url is not None:
        env["HONUA_BOT_REDIS_URL"] = redis_url
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=REPO,
    )


COMMANDS = [
    ("pause", "--reason", "freeze"),
    ("resume",),
    ("act", "inc-000000000000", "silence-1h"),
    ("audit", "--since", "1h"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_unreachable_store_exits_non_zero_naming_the_setting(args: tuple[str, ...]) -> None:
    dead = f"redis://:hunter2pass@127.0.0.1:{free_port()}/0"
    done = _cli(*args, redis_url=dead)
    assert done.returncode != 0, (done.stdout, done.stderr)
    assert "HONUA_BOT_REDIS_URL" in done.stderr
    assert "paused" not in done.stdout and "enabled" not in done.stdout
    assert "hunter2pass" not in done.stdout + done.stderr


@pytest.mark.parametrize("args", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_no_store_configured_exits_non_zero(args: tuple[str, ...]) -> None:
    done = _cli(*args, redis_url=None)
    assert done.returncode != 0 and "HONUA_BOT_REDIS_URL" in done.stderr


def test_audit_since_before_the_epoch_means_everything(redis_url: str) -> None:
    done = _cli("audit", "--since", "99999999999d", redis_url=redis_url)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "no audit entries" in done.stdout and "exception" not in done.stderr
