"""The Dockerfile, parsed (no Docker engine here): what the image promises.

Multi-stage on slim Python 3.11; compilers only in the builder; the runtime
dependencies from the hash-checked lock; a numeric non-root user; rules baked at
/app/rules; a HEALTHCHECK on /healthz; ``honua-bot serve`` as the command.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

from bot.config import HttpSettings

ROOT = Path(__file__).resolve().parents[2]


def stages() -> list[list[dict[str, Any]]]:
    """The instructions of each stage, FROM first."""
    parsed: list[list[dict[str, Any]]] = []
    for instruction in DockerfileParser(str(ROOT / "Dockerfile")).structure:
        if instruction["instruction"] == "FROM":
            parsed.append([])
        if parsed and instruction["instruction"] != "COMMENT":
            parsed[-1].append(instruction)
    return parsed


def values(stage: list[dict[str, Any]], name: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == name]


@pytest.fixture(scope="module")
def final() -> list[dict[str, Any]]:
    return stages()[-1]


def test_two_stages_on_slim_python_311() -> None:
    parser = DockerfileParser(str(ROOT / "Dockerfile"))
    assert parser.is_multistage
    assert len(stages()) == 2
    for image in parser.parent_images:
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", image), image


def test_no_compiler_in_the_final_stage(final: list[dict[str, Any]]) -> None:
    builder = " ".join(values(stages()[0], "RUN"))
    assert "build-essential" in builder  # wheels without a binary build are compiled there
    runs = " ".join(values(final, "RUN"))
    for tool in ("apt-get install", "build-essential", "gcc", "g++", "make ", "pip install"):
        assert tool not in runs, f"final stage runs {tool!r}"


def test_dependencies_come_from_the_lock_with_hashes() -> None:
    runs = values(stages()[0], "RUN")
    assert "pip install --require-hashes --no-deps -r requirements.lock" in runs
    # the project itself adds no unpinned dependency; pip check proves the set complete
    project = next(r for r in runs if "pip install --no-deps ." in r)
    assert "pip check" in project


def test_the_final_stage_copies_only_the_venv_and_the_rules(final: list[dict[str, Any]]) -> None:
    assert values(final, "COPY") == ["--from=builder /opt/venv /opt/venv", "rules /app/rules"]


def test_runs_as_a_numeric_non_root_user(final: list[dict[str, Any]]) -> None:
    (user,) = values(final, "USER")
    uid = user.split(":")[0]
    assert uid.isdigit(), "numeric, so Kubernetes' runAsNonRoot can verify it"
    assert int(uid) != 0


def test_serves_on_all_interfaces_with_the_baked_rules(final: list[dict[str, Any]]) -> None:
    env = DockerfileParser(str(ROOT / "Dockerfile")).envs
    assert env["HONUA_BOT_HOST"] == "0.0.0.0"
    assert env["HONUA_BOT_RULES"] == "/app/rules"
    port = HttpSettings.model_fields["port"].default
    assert env["HONUA_BOT_PORT"] == str(port)
    assert values(final, "EXPOSE") == [str(port)]


def test_healthcheck_asks_healthz(final: list[dict[str, Any]]) -> None:
    (check,) = values(final, "HEALTHCHECK")
    assert "CMD" in check
    assert "/healthz" in check
    assert "HONUA_BOT_PORT" in check


def test_entry_point_is_honua_bot_serve(final: list[dict[str, Any]]) -> None:
    assert [json.loads(v) for v in values(final, "ENTRYPOINT")] == [["honua-bot"]]
    assert [json.loads(v) for v in values(final, "CMD")] == [["serve"]]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.removeprefix("!").rstrip("/")
        if fnmatch.fnmatch(path, body) or fnmatch.fnmatch(path, body.removeprefix("**/")):
            ignored = not negate
    return ignored


def test_dockerignore_lets_through_everything_the_dockerfile_copies() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [p.strip() for p in lines if p.strip() and not p.startswith("#")]
    sources = [
        source
        for stage in stages()
        for copy in values(stage, "COPY")
        if not copy.startswith("--from")
        for source in copy.split()[:-1]
    ]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not _ignored(source, patterns), f".dockerignore drops {source}"
    assert _ignored(".venv", patterns) and _ignored("tests", patterns)
