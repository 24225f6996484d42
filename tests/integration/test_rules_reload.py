"""Rules: hot reload on file change and on SIGHUP, a broken edit keeping the last
good rules, and the `honua-bot` commands rule authors use (rules check / rules
test / list probes).

The in-process tests use BotHarness with the file watcher on; the SIGHUP and
start-up tests run the real `honua-bot serve` as a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import (
    FIXTURES,
    REPO,
    BotHarness,
    alert,
    free_port,
    notification,
    wait_for,
    wait_for_sync,
)

RULE = "01-high-process-failure-rate.yaml"
RULE_NAME = "high-process-failure-rate"
GOOD_PROBE = "processes.list: {status: Failed, since: 1h, group_by: errorMessage, top: 5}"
BAD_PROBE = "processes.list: {status: Failed, since: 1h, group_by: errorMessage, top: 500}"
BAD_FIELD = f"rule {RULE_NAME}: probes.failures.processes.list.top"
LLM_SUMMARY_START = "LLM rate limiting:"

EXTRA = "reload-test-extra"
EXTRA_FILE = "99-reload-test-extra.yaml"
SECOND_RULE = """\
name: EXTRA
runbook: "Runbook 2: Process Timeout Recovery"
severity: P3
match:
  alertname: ReloadTestAlert
probes:
  stuck:
    processes.list: {status: Running, older_than: 30m}
diagnosis:
  - scenario: stuck-processes
    when: 'stuck.ok && stuck.count > 0'
    summary: "{{ stuck.count }} processes have been running for over 30 minutes"
""".replace("name: EXTRA", f"name: {EXTRA}")


def honua_bot() -> list[str]:
    """The installed console script (next to this interpreter), else the module."""
    script = Path(sys.executable).with_name("honua-bot")
    if script.exists():
        return [str(script)]
    found = shutil.which("honua-bot")
    return [found] if found else [sys.executable, "-m", "bot.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*honua_bot(), *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(REPO / "rules", target)
    return target


def rule_text(rules_dir: Path) -> str:
    return (rules_dir / RULE).read_text(encoding="utf-8")


def broken_text(rules_dir: Path) -> str:
    """The bundled rule with one field out of range (top: 500 > 50)."""
    text = rule_text(rules_dir)
    assert text.count(GOOD_PROBE) == 1, "the bundled rule changed: update GOOD_PROBE"
    return text.replace(GOOD_PROBE, BAD_PROBE)


def llm_summary(bot: BotHarness) -> str:
    rule = bot.service.rulebook.current.get(RULE_NAME)
    assert rule is not None
    return next(s.summary for s in rule.scenarios if s.name == "llm-rate-limit")


async def rewrite_until(path: Path, text: str, check: Any, timeout: float = 15.0) -> Any:
    """Write ``text`` to ``path`` and poll ``check`` until it holds.

    The file is written again each second until then: the watcher thread may not
    have registered its inotify watch yet when a test makes its first edit.
    """
    loop_deadline = timeout
    while True:
        await asyncio.to_thread(path.write_text, text, encoding="utf-8")
        try:
            return await wait_for(check, timeout=min(1.5, loop_deadline))
        except AssertionError:
            loop_deadline -= 1.5
            if loop_deadline <= 0:
                raise


async def readyz(bot: BotHarness) -> dict[str, Any]:
    resp = await bot.http.get("/readyz")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def reload_errors(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("honua_bot_rules_reload_errors_total "):
            return float(line.split()[1])
    raise AssertionError("honua_bot_rules_reload_errors_total missing from /metrics")


# --- hot reload in process ---------------------------------------------------------


async def test_edited_and_added_rule_files_take_effect(rules_dir: Path) -> None:
    async with BotHarness(rules=rules_dir, watch_rules=True) as bot:
        initial = (await readyz(bot))["rules"]["loaded"]
        assert RULE_NAME in initial and EXTRA not in initial
        assert llm_summary(bot).startswith(LLM_SUMMARY_START)

        assert rule_text(rules_dir).count(LLM_SUMMARY_START) == 1
        edited = rule_text(rules_dir).replace(LLM_SUMMARY_START, "LLM provider is throttling us:")
        await rewrite_until(
            rules_dir / RULE,
            edited,
            lambda: llm_summary(bot).startswith("LLM provider is throttling us:"),
        )

        async def both_loaded() -> bool:
            return (await readyz(bot))["rules"]["loaded"] == [*initial, EXTRA]

        await rewrite_until(rules_dir / EXTRA_FILE, SECOND_RULE, both_loaded)
        body = await readyz(bot)
        assert body["rules"]["last_error"] is None
        assert body["degraded"] == []

        # the new rule is in force for the next alert
        resp = await bot.post(notification(alert(alertname="ReloadTestAlert", fingerprint="fp-pt")))
        assert resp.status_code == 200
        events = await wait_for(lambda: bot.recorder.events)
        incident = events[0][1]
        assert incident.rule == EXTRA
        assert incident.severity == "P3"
        assert incident.diagnosis is not None
        assert set(incident.diagnosis.findings) == {"stuck"}

        # removing the file unloads the rule
        (rules_dir / EXTRA_FILE).unlink()

        async def only_first() -> bool:
            return (await readyz(bot))["rules"]["loaded"] == initial

        await wait_for(only_first, timeout=10)


async def test_broken_edit_keeps_last_good_rules_until_fixed(rules_dir: Path) -> None:
    good = rule_text(rules_dir)
    assert GOOD_PROBE in good
    rule_file = rules_dir / RULE
    async with BotHarness(rules=rules_dir, watch_rules=True) as bot:
        initial = (await readyz(bot))["rules"]["loaded"]
        assert RULE_NAME in initial
        errors_before = reload_errors((await bot.http.get("/metrics")).text)
        assert errors_before == 0
        rules_before = bot.service.rulebook.current

        # 1. a field out of range: the loader names file, rule and field
        await rewrite_until(
            rule_file,
            broken_text(rules_dir),
            lambda: bot.service.rulebook.last_error,
        )
        resp = await bot.http.get("/readyz")
        assert resp.status_code == 200, resp.text  # still ready: the last good rules serve
        body = resp.json()
        assert body["ready"] is True
        assert body["rules"]["loaded"] == initial
        (error,) = body["rules"]["last_error"]
        assert error.startswith(f"{rule_file}: {BAD_FIELD}: "), error
        assert "less than or equal to 50" in error
        (degraded,) = body["degraded"]
        assert degraded.startswith("rules: last reload rejected, last good rules kept:")
        assert str(rule_file) in degraded and BAD_FIELD in degraded
        assert bot.service.rulebook.current is rules_before
        metrics = (await bot.http.get("/metrics")).text
        assert reload_errors(metrics) >= errors_before + 1
        assert f"honua_bot_rules_loaded {float(len(initial))}" in metrics
        assert "honua_bot_rules_reload_failing 1.0" in metrics  # the chart's alert fires

        # alerts are still diagnosed, with the last good rules
        resp = await bot.post(notification(alert(fingerprint="fp-during-broken")))
        assert resp.status_code == 200
        events = await wait_for(lambda: bot.recorder.events)
        assert events[0][1].rule == RULE_NAME

        # 2. a YAML syntax error: also rejected, and said so
        await rewrite_until(
            rule_file,
            good + "\n  this: is: not yaml: [\n",
            lambda: "cannot parse" in " ".join(bot.service.rulebook.last_error or []),
        )
        body = await readyz(bot)
        assert body["ready"] is True
        assert body["rules"]["last_error"][0].startswith(f"{rule_file}: cannot parse")
        assert bot.service.rulebook.current is rules_before

        # 3. fixed: the error clears and the fixed rules are in force
        await rewrite_until(
            rule_file,
            good.replace("LLM rate limiting:", "Fixed summary:"),
            lambda: bot.service.rulebook.last_error is None,
        )
        body = await readyz(bot)
        assert body["rules"]["last_error"] is None
        assert body["degraded"] == []
        assert body["rules"]["loaded"] == initial
        assert llm_summary(bot).startswith("Fixed summary:")
        metrics = (await bot.http.get("/metrics")).text
        assert reload_errors(metrics) >= errors_before + 2  # counters never go back
        assert "honua_bot_rules_reload_failing 0.0" in metrics  # and resolves


# --- honua-bot serve as a process ----------------------------------------------------


class ServeProcess:
    def __init__(self, rules: Path, log_file: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = log_file
        self.env = {
            **os.environ,
            "HONUA_BOT_HOST": "127.0.0.1",
            "HONUA_BOT_PORT": str(self.port),
            "HONUA_BOT_RULES": str(rules),
            "HONUA_BOT_WORKERS": "1",
            "HONUA_BOT_LOG_LEVEL": "info",
        }
        self.env.pop("HONUA_BOT_REDIS_URL", None)
        self.env.pop("HONUA_BOT_WEBHOOK_TOKEN", None)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServeProcess:
        with self.log_file.open("wb") as log:
            self.proc = subprocess.Popen(
                [*honua_bot(), "serve"],
                env=self.env,
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        wait_for_sync(self._ready, timeout=20, interval=0.1)
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"serve exited {self.proc.returncode}: {self.log()}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def readyz(self) -> dict[str, Any]:
        resp = httpx.get(f"{self.url}/readyz", timeout=5)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    def log(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def events(self, name: str) -> list[dict[str, Any]]:
        out = []
        for line in self.log().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("event") == name:
                out.append(record)
        return out

    def signal(self, sig: int) -> None:
        assert self.proc is not None and self.proc.poll() is None
        self.proc.send_signal(sig)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


@pytest.fixture
def serve(rules_dir: Path, tmp_path: Path) -> Iterator[ServeProcess]:
    process = ServeProcess(rules_dir, tmp_path / "serve.log").start()
    try:
        yield process
    finally:
        process.stop()


def test_sighup_reloads_rules_in_a_running_serve(serve: ServeProcess, rules_dir: Path) -> None:
    initial = serve.readyz()["rules"]["loaded"]
    assert RULE_NAME in initial
    assert len(serve.events("rules loaded")) == 1

    # SIGHUP with no change on disk: only the signal handler can cause this reload
    # (and the default action of SIGHUP, terminating the process, must not happen)
    serve.signal(signal.SIGHUP)
    wait_for_sync(lambda: len(serve.events("rules loaded")) == 2, timeout=10)
    assert serve.proc is not None and serve.proc.poll() is None
    assert serve.readyz()["ready"] is True

    # a new rule file, then SIGHUP (the file watcher may get there first: both are fine)
    (rules_dir / EXTRA_FILE).write_text(SECOND_RULE, encoding="utf-8")
    serve.signal(signal.SIGHUP)
    wait_for_sync(lambda: serve.readyz()["rules"]["loaded"] == [*initial, EXTRA], timeout=10)

    # a broken edit, then SIGHUP: last good rules kept, the reason in /readyz
    rule_file = rules_dir / RULE
    rule_file.write_text(broken_text(rules_dir), encoding="utf-8")
    serve.signal(signal.SIGHUP)
    wait_for_sync(lambda: serve.readyz()["rules"]["last_error"], timeout=10)
    body = serve.readyz()
    assert body["ready"] is True
    assert body["rules"]["loaded"] == [*initial, EXTRA]
    assert body["rules"]["last_error"][0].startswith(f"{rule_file}: {BAD_FIELD}")
    rejected = serve.events("rules rejected; keeping the last good rules")
    assert rejected and BAD_FIELD in rejected[-1]["errors"][0]

    # a clean shutdown on SIGTERM
    assert serve.stop() == 0


def test_serve_with_broken_rules_exits_1_with_the_error(rules_dir: Path) -> None:
    rule_file = rules_dir / RULE
    rule_file.write_text(broken_text(rules_dir), encoding="utf-8")
    port = free_port()
    result = run_cli(
        "serve",
        env={
            "HONUA_BOT_RULES": str(rules_dir),
            "HONUA_BOT_PORT": str(port),
            "HONUA_BOT_HOST": "127.0.0.1",
        },
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "rules failed to load" in result.stderr
    assert f"{rule_file}: {BAD_FIELD}: Input should be less than or equal to 50" in result.stderr
    assert "Traceback" not in result.stderr
    # it never started listening
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)


# --- rule author commands ----------------------------------------------------------


def test_rules_check_passes_on_the_bundled_rules() -> None:
    result = run_cli("rules", "check", str(REPO / "rules"))
    assert result.returncode == 0, result.stderr
    assert f"ok  {RULE_NAME}" in result.stdout
    assert re.search(r"^\d+ rule\(s\) valid in ", result.stdout, re.MULTILINE), result.stdout


BROKEN_RULE = """\
name: broken-rule
match:
  alertname: HighProcessFailureRate
probes:
  failure_rate:
    prometheus.qeury: {expr: "up"}
  failures:
    processes.list: {status: Failed, top: 500}
diagnosis:
  - scenario: fine
    when: 'failures.ok'
    actions: [silence-1h]
  - scenario: bad-cel
    when: 'failures.ok && (('
  - scenario: bad-action
    when: 'true'
    actions: [silence-2h]
actions:
  silence-1h:
    alertmanager.silence: {duration: 1h}
"""


def test_rules_check_names_file_rule_and_field_for_every_error(tmp_path: Path) -> None:
    """All the mistakes in one run, each as FILE: rule NAME: FIELD: message."""
    folder = tmp_path / "authoring"
    folder.mkdir()
    rule_file = folder / "10-broken.yaml"
    rule_file.write_text(BROKEN_RULE, encoding="utf-8")

    result = run_cli("rules", "check", str(folder))
    assert result.returncode == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    prefix = f"{rule_file}: rule broken-rule: "
    expected = [
        f"{prefix}probes.failure_rate: unknown probe 'prometheus.qeury'",
        f"{prefix}probes.failures.processes.list.top: Input should be less than or equal to 50",
        f"{prefix}diagnosis.1 (bad-cel).when: bad CEL",
        f"{prefix}diagnosis.2 (bad-action).actions: unknown action 'silence-2h'",
    ]
    for want in expected:
        assert sum(line.startswith(want) for line in lines) == 1, (want, lines)
    assert lines[-1] == f"4 error(s) in {folder}", lines
    assert "Traceback" not in result.stderr

    # fixed, plus a second file reusing the name: the duplicate is named
    fixed = (
        BROKEN_RULE.replace("prometheus.qeury", "prometheus.query")
        .replace("top: 500", "top: 5")
        .replace("(('", "true'")
        .replace("silence-2h", "silence-1h")
    )
    rule_file.write_text(fixed, encoding="utf-8")
    assert run_cli("rules", "check", str(folder)).returncode == 0
    (folder / "20-copy.yaml").write_text(fixed, encoding="utf-8")
    result = run_cli("rules", "check", str(folder))
    assert result.returncode == 1
    assert (
        f"{folder / '20-copy.yaml'}: rule broken-rule: name: duplicate of the rule in {rule_file}"
        in result.stderr
    )


def test_rules_test_prints_scenario_and_actions_as_json() -> None:
    result = run_cli(
        "rules",
        "test",
        str(FIXTURES / "runbook1" / "alert.json"),
        "--probe-results",
        str(FIXTURES / "runbook1" / "llm-rate-limit.json"),
        "--rules",
        str(REPO / "rules"),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (one,) = report["alerts"]
    assert one["rule"] == RULE_NAME
    assert one["scenario"] == "llm-rate-limit"
    probes = {p["name"]: p for p in one["probes"]}  # what it would run, with params
    assert {"failure_rate", "llm_rate_limit", "failures"} <= set(probes)
    assert probes["failures"]["type"] == "processes.list"
    assert probes["failures"]["params"]["group_by"] == "errorMessage"
    assert one["summary"].startswith('LLM rate limiting: 37 failures with "429 Too Many Requests"')
    actions = {a["name"]: a for a in one["actions"]}
    assert list(actions) == ["halve-concurrency", "silence-1h"]
    assert actions["halve-concurrency"]["type"] == "kubernetes.patch_config"
    assert actions["halve-concurrency"]["mode"] == "manual"
    assert actions["silence-1h"]["type"] == "alertmanager.silence"
    assert one["failed_probes"] == {}


def test_list_probes_json_gives_names_and_params_schemas() -> None:
    result = run_cli("list", "probes", "--json")
    assert result.returncode == 0, result.stderr
    entries = {e["name"]: e for e in json.loads(result.stdout)}
    assert {"prometheus.query", "processes.list"} <= set(entries)
    query = entries["prometheus.query"]["params"]
    assert query["type"] == "object"
    assert query["additionalProperties"] is False
    assert "expr" in query["required"]
    assert query["properties"]["expr"]["type"] == "string"
    listing = entries["processes.list"]["params"]
    assert {"status", "since", "group_by", "top"} <= set(listing["properties"])
    assert listing["properties"]["top"]["maximum"] == 50
    assert entries["processes.list"]["description"]
