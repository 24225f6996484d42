"""`honua-bot rules test --cases FILE`: recorded fixtures with expectations.

A manifest (``cases.yaml``) sits beside the recorded files it names::

    rule: high-process-failure-rate      # every case must match this rule (optional)
    alert: alert.json                    # default alert file for the cases
    cases:
      - probe_results: llm-rate-limit.json    # {probe name: result | {"error": "..."}}
        scenario: llm-rate-limit
        actions: [halve-concurrency, silence-1h]   # in order; omit to not check
        summary_contains: ["37 failures"]
        steps_contains: []
        params: {halve-concurrency: {configmap: process-config}}   # rendered run params

Paths are relative to the manifest. Beyond the listed expectations every case
must render without template errors, evaluate every condition (no notes unless
``allow_notes``) and give every action params its model accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.cli.explain import explain, read_alerts, read_recorded
from bot.rules import RuleSet

TEMPLATE_ERROR = "(template error"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseDoc(_Strict):
    name: str | None = None
    alert: str | None = None
    probe_results: str = Field(min_length=1)
    scenario: str = Field(min_length=1)
    actions: list[str] | None = None
    summary_contains: list[str] = Field(default_factory=list)
    steps_contains: list[str] = Field(default_factory=list)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    allow_notes: bool = False


class ManifestDoc(_Strict):
    rule: str | None = None
    alert: str | None = None
    cases: list[CaseDoc] = Field(min_length=1)


@dataclass(frozen=True)
class Case:
    name: str
    manifest: Path
    alert: Path
    probe_results: Path
    rule: str | None
    doc: CaseDoc


@dataclass
class CaseResult:
    case: Case
    problems: list[str] = field(default_factory=list)
    item: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_manifest(path: Path) -> list[Case]:
    """The cases of one manifest; ValueError naming the file and field on bad input."""
    try:
        raw = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except (YAMLError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot parse: {exc}") from exc
    try:
        doc = ManifestDoc.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(manifest)"
        raise ValueError(f"{path}: {where}: {first['msg']}") from exc
    cases = []
    for i, c in enumerate(doc.cases):
        alert = c.alert or doc.alert
        if alert is None:
            raise ValueError(f"{path}: cases.{i}.alert: no alert file here nor at the top")
        name = c.name or Path(c.probe_results).stem
        cases.append(
            Case(name, path, path.parent / alert, path.parent / c.probe_results, doc.rule, c)
        )
    names = [c.name for c in cases]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{path}: duplicate case names {dupes}: give each a `name`")
    return cases


def _missing(texts: list[str], wanted: list[str], what: str) -> list[str]:
    joined = "\n".join(texts)
    return [f"{what} lacks {w!r}" for w in wanted if w not in joined]


def check_item(case: Case, item: dict[str, Any]) -> list[str]:
    """What differs between one explained alert and the case's expectations."""
    doc = case.doc
    problems: list[str] = []
    if case.rule is not None and item.get("rule") != case.rule:
        problems.append(f"rule: expected {case.rule}, got {item.get('rule')}")
    if item.get("scenario") != doc.scenario:
        problems.append(f"scenario: expected {doc.scenario}, got {item.get('scenario')}")
    got_actions = [a["name"] for a in item.get("actions", [])]
    if doc.actions is not None and got_actions != doc.actions:
        problems.append(f"actions: expected {doc.actions}, got {got_actions}")
    summary = item.get("summary", "")
    steps = item.get("steps", [])
    problems += _missing([summary], doc.summary_contains, "summary")
    problems += _missing(steps, doc.steps_contains, "steps")
    for text in [summary, *steps]:
        if TEMPLATE_ERROR in text:
            problems.append(f"template error in: {text[:300]}")
    if item.get("notes") and not doc.allow_notes:
        problems += [f"note: {n}" for n in item["notes"]]
    runs = {a["name"]: a for a in item.get("actions", [])}
    for a in runs.values():
        if a.get("run_params_error"):
            problems.append(f"action {a['name']}: bad params: {a['run_params_error']}")
        for key, value in (a.get("run_params") or {}).items():
            if isinstance(value, str) and TEMPLATE_ERROR in value:
                problems.append(f"action {a['name']}: {key}: {value[:300]}")
    for name, expected in doc.params.items():
        got = (runs.get(name) or {}).get("run_params")
        if got is None:
            problems.append(f"params: action {name} is not proposed")
            continue
        for key, value in expected.items():
            if got.get(key) != value:
                problems.append(f"params: {name}.{key}: expected {value!r}, got {got.get(key)!r}")
    return problems


async def run_case(ruleset: RuleSet, case: Case) -> CaseResult:
    try:
        alerts = read_alerts(case.alert)
        recorded = read_recorded(case.probe_results)
    except (OSError, ValueError) as exc:  # ValidationError is a ValueError
        return CaseResult(case, [f"cannot read the fixture: {exc}"])
    if len(alerts) != 1:
        return CaseResult(case, [f"{case.alert}: expected exactly one alert, got {len(alerts)}"])
    report = await explain(ruleset, alerts, recorded, None)
    item = report["alerts"][0]
    return CaseResult(case, check_item(case, item), item)


async def run_manifests(ruleset: RuleSet, paths: list[Path]) -> list[CaseResult]:
    results = []
    for path in paths:
        for case in read_manifest(path):
            results.append(await run_case(ruleset, case))
    return results
