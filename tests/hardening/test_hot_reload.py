"""Item 7: a hot reload survives anything; the next good edit applies.

A real ``honua-bot serve`` watches a rules directory; poison files are dropped
into it one by one. Each must be a rejected reload with the reason in /readyz,
the process alive and /healthz answering quickly throughout.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import REPO, wait_for_sync
from tests.integration.serve_support import ServeProcess

POISON = "50-poison.yaml"
GOOD_EXTRA = """\
name: reload-after-poison
runbook: "Runbook 2: Process Timeout Recovery"
severity: P3
match:
  alertname: AfterPoison
probes: {}
diagnosis:
  - scenario: fine
    when: 'true'
    summary: "fine"
"""


def _anchor_bomb() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = name
    return "\n".join(lines) + "\n"


def _cel_rule(expr: str) -> str:
    return GOOD_EXTRA.replace("reload-after-poison", "poison-cel").replace(
        "when: 'true'", f"when: '{expr}'"
    )


POISONS = {
    "5000-deep YAML": "[" * 5000 + "]" * 5000,
    "5000-deep block YAML": "".join(f"{' ' * i}- \n" for i in range(0, 2000)),
    "anchor bomb": _anchor_bomb(),
    "CEL that overflows the parser's stack": _cel_rule("1 " + "+ 1 " * 20000),
    "7-level comprehension": _cel_rule(
        "[1,2,3].all(a, [1,2,3].all(b, [1,2,3].all(c, [1,2,3].all(d, "
        "[1,2,3].all(e, [1,2,3].all(f, [1,2,3].all(g, true)))))))"
    ),
}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServeProcess, Path]]:
    rules = tmp_path / "rules"
    rules.mkdir()
    for f in (REPO / "rules").glob("*.yaml"):
        (rules / f.name).write_text(f.read_text())
    proc = ServeProcess(tmp_path, "reload", {"HONUA_BOT_RULES": str(rules)})
    try:
        import asyncio

        asyncio.run(proc.wait_ready())
        yield proc, rules
    finally:
        proc.stop(10)


def _readyz(proc: ServeProcess) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{proc.url}/readyz", timeout=5).json()
    return body


def _healthz_ms(proc: ServeProcess) -> float:
    started = time.perf_counter()
    assert httpx.get(f"{proc.url}/healthz", timeout=5).status_code == 200
    return (time.perf_counter() - started) * 1000


def test_poison_rule_files_are_rejected_and_the_next_good_edit_applies(
    served: tuple[ServeProcess, Path],
) -> None:
    proc, rules = served
    slowest = 0.0
    for name, text in POISONS.items():
        (rules / POISON).write_text(text)

        def rejected(name: str = name) -> bool:
            nonlocal slowest
            assert proc.proc.poll() is None, f"serve died on {name}\n{proc.diagnostics()}"
            slowest = max(slowest, _healthz_ms(proc))
            errors = _readyz(proc)["rules"]["last_error"] or []
            return any(POISON in e for e in errors)

        wait_for_sync(rejected, timeout=30, interval=0.2)
        assert _readyz(proc)["rules"]["loaded"], name  # the last good rules stay
        (rules / POISON).unlink()
        wait_for_sync(lambda: _readyz(proc)["rules"]["last_error"] is None, timeout=30)
    # SIGHUP with a poison file: rejected the same way, still alive
    (rules / POISON).write_text(POISONS["anchor bomb"])
    wait_for_sync(lambda: _readyz(proc)["rules"]["last_error"] is not None, timeout=30)
    proc.proc.send_signal(signal.SIGHUP)
    (rules / POISON).unlink()
    (rules / "60-good.yaml").write_text(GOOD_EXTRA)
    wait_for_sync(lambda: "reload-after-poison" in _readyz(proc)["rules"]["loaded"], timeout=30)
    assert proc.proc.poll() is None
    assert slowest < 2000, f"/healthz took {slowest:.0f} ms during a reload"
