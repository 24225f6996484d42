"""`honua-bot rules test --cases`: fixture manifests, what a failing case reports,
and the CLI's exit codes and messages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.cli.cases import Case, CaseDoc, check_item, read_manifest

REPO = Path(__file__).resolve().parent.parent.parent
RUNBOOK1 = REPO / "tests" / "fixtures" / "runbook1"


@pytest.fixture
def fixture_dir(tmp_path: Path) -> Path:
    """A copy of Runbook 1's recordings, to write manifests beside."""
    target = tmp_path / "runbook1"
    shutil.copytree(RUNBOOK1, target)
    return target


def main(argv: list[str]) -> int:
    """The CLI in-process, without `main`'s logging set-up: that would point the
    global structlog at this test's captured stderr, closed when the test ends."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


def _case(**doc: object) -> Case:
    defaults: dict[str, object] = {"probe_results": "x.json", "scenario": "s"}
    body = CaseDoc.model_validate({**defaults, **doc})
    return Case("c", Path("m.yaml"), Path("a.json"), Path("x.json"), "rule-a", body)


def _item(**over: object) -> dict:
    item: dict = {
        "rule": "rule-a",
        "scenario": "s",
        "summary": "12 failures",
        "steps": ["kubectl delete pod redis-0"],
        "notes": [],
        "actions": [
            {"name": "restart", "run_params": {"name": "redis-0"}, "run_params_error": None},
            {"name": "silence-1h", "run_params": {"duration": "1h"}, "run_params_error": None},
        ],
    }
    item.update(over)
    return item


def test_a_matching_item_has_no_problems() -> None:
    case = _case(
        actions=["restart", "silence-1h"],
        summary_contains=["12 failures"],
        steps_contains=["delete pod"],
        params={"restart": {"name": "redis-0"}},
    )
    assert check_item(case, _item()) == []


def test_every_difference_is_named() -> None:
    case = _case(
        scenario="other",
        actions=["silence-1h"],
        summary_contains=["37 failures"],
        steps_contains=["rollout undo"],
        params={"restart": {"name": "redis-1"}, "rollback": {"name": "x"}},
    )
    item = _item(rule="rule-b", notes=["scenario x: condition not evaluated: no such field 'y'"])
    assert check_item(case, item) == [
        "rule: expected rule-a, got rule-b",
        "scenario: expected other, got s",
        "actions: expected ['silence-1h'], got ['restart', 'silence-1h']",
        "summary lacks '37 failures'",
        "steps lacks 'rollout undo'",
        "note: scenario x: condition not evaluated: no such field 'y'",
        "params: restart.name: expected 'redis-1', got 'redis-0'",
        "params: action rollback is not proposed",
    ]


def test_template_errors_and_bad_params_always_fail_a_case() -> None:
    broken = "{{ x | round }} (template error: TypeError: bad)"
    item = _item(summary=broken)
    item["actions"][0] = {
        "name": "restart",
        "run_params": {"name": broken},
        "run_params_error": "name: String should have at least 1 character",
    }
    problems = check_item(_case(allow_notes=True), item)
    assert problems == [
        f"template error in: {broken}",
        "action restart: bad params: name: String should have at least 1 character",
        f"action restart: name: {broken}",
    ]


def test_manifest_errors_name_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text("alert: a.json\ncases:\n  - probe_results: x.json\n    scenari: s\n")
    with pytest.raises(ValueError, match=r"cases\.yaml: cases\.0\.scenario: Field required"):
        read_manifest(path)
    path.write_text("cases:\n  - {probe_results: x.json, scenario: s}\n")
    with pytest.raises(ValueError, match=r"cases\.0\.alert: no alert file here nor at the top"):
        read_manifest(path)
    path.write_text(
        "alert: a.json\ncases: [{probe_results: x.json, scenario: s}, {probe_results: x.json, scenario: t}]\n"
    )
    with pytest.raises(ValueError, match=r"duplicate case names \['x'\]"):
        read_manifest(path)
    path.write_text("cases: [unclosed\n")
    with pytest.raises(ValueError, match=r"cases\.yaml: cannot parse"):
        read_manifest(path)


def test_cli_runs_a_manifest_and_fails_on_a_wrong_expectation(
    fixture_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = fixture_dir / "cases.yaml"
    manifest.write_text(
        "rule: high-process-failure-rate\nalert: alert.json\ncases:\n"
        "  - {probe_results: llm-rate-limit.json, scenario: llm-rate-limit,"
        " actions: [halve-concurrency, silence-1h]}\n"
        "  - {probe_results: recent-deployment.json, scenario: redis-connection}\n"
    )
    assert main(["rules", "test", "--rules", str(REPO / "rules"), "--cases", str(manifest)]) == 1
    out, err = capsys.readouterr()
    assert "ok   runbook1/llm-rate-limit" in out
    assert "FAIL runbook1/recent-deployment" in out
    assert "scenario: expected redis-connection, got recent-deployment" in out
    assert "1 of 2 case(s) pass" in err


def test_cli_reports_an_unreadable_fixture_as_a_failed_case(
    fixture_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = fixture_dir / "cases.yaml"
    manifest.write_text(
        "alert: alert.json\ncases:\n  - {probe_results: missing.json, scenario: s}\n"
    )
    assert (
        main(["rules", "test", "--rules", str(REPO / "rules"), "--cases", str(manifest), "--json"])
        == 1
    )
    out, _ = capsys.readouterr()
    [result] = json.loads(out)
    assert result["ok"] is False
    assert result["problems"][0].startswith("cannot read the fixture:")
    assert "missing.json" in result["problems"][0]


def test_cli_needs_exactly_one_of_alert_and_cases(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "test"]) == 2
    assert "give an ALERT file or --cases MANIFEST" in capsys.readouterr().err


def test_cli_expect_actions_checks_names_and_order(capsys: pytest.CaptureFixture[str]) -> None:
    base = [
        "rules",
        "test",
        str(RUNBOOK1 / "alert.json"),
        "--rules",
        str(REPO / "rules"),
        "--probe-results",
        str(RUNBOOK1 / "llm-rate-limit.json"),
        "--json",
    ]
    assert main([*base, "--expect-actions", "halve-concurrency,silence-1h"]) == 0
    report = json.loads(capsys.readouterr().out)
    [halve, _] = report["alerts"][0]["actions"]
    # what would run: params templated over the findings, `value` left for the action
    assert halve["run_params"]["value"] == "{{ [current // 2, 1] | max }}"
    assert halve["run_params_error"] is None
    assert main([*base, "--expect-actions", "silence-1h,halve-concurrency"]) == 1
    assert "expected actions ['silence-1h', 'halve-concurrency']" in capsys.readouterr().err


def test_recorded_not_configured_probe_is_not_evidence(
    fixture_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded = json.loads((fixture_dir / "recent-deployment.json").read_text())
    recorded["redis"] = {"error": "target Redis is not configured", "configured": False}
    path = fixture_dir / "no-redis.json"
    path.write_text(json.dumps(recorded))
    argv = ["rules", "test", str(fixture_dir / "alert.json"), "--rules", str(REPO / "rules")]
    assert (
        main([*argv, "--probe-results", str(path), "--expect-scenario", "recent-deployment"]) == 0
    )
    recorded["redis"] = {"error": "connection refused: redis-0.redis:6379"}
    path.write_text(json.dumps(recorded))
    assert main([*argv, "--probe-results", str(path), "--expect-scenario", "redis-connection"]) == 0
    capsys.readouterr()
