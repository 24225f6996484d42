"""Load rule files and validate everything before a single alert is handled.

Each problem is reported as ``FILE: rule NAME: FIELD: message`` and loading
reports all problems at once, so one ``rules check`` run shows every typo.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.registry import Registry
from bot.rules import budgets, templates
from bot.rules.cel import Condition, ConditionError
from bot.rules.durations import parse_duration
from bot.rules.matchers import Matcher, MatcherError
from bot.rules.probe_fields import known_fields
from bot.rules.schema import (
    ACTION_OPTIONS,
    PROBE_OPTIONS,
    ActionCall,
    ActionOptions,
    ProbeCall,
    Rule,
    RuleDoc,
    Scenario,
    Validation,
)
from bot.rules.suggest import did_you_mean, keys_at

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_RESERVED = {"alert", "labels", "annotations", "value"}


class RuleLoadError(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()
    files: tuple[str, ...] = field(default=())

    def match(self, labels: dict[str, str]) -> Rule | None:
        """The first rule, in file-name order, whose match holds."""
        return next((r for r in self.rules if r.matches(labels)), None)

    def get(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)


def _fmt_loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(rule)"


def _pydantic_errors(
    prefix: str, exc: ValidationError, model: type[BaseModel] | None = None
) -> list[str]:
    """One line per problem; with ``model``, an unknown key says which key it may
    have meant (and the "Field required" that misspelling caused is not repeated)."""
    raw = exc.errors()
    missing = {tuple(e["loc"]) for e in raw if e["type"] == "missing"}
    lines: list[tuple[tuple[Any, ...], str]] = []
    explained: set[tuple[Any, ...]] = set()
    for e in raw:
        loc = tuple(e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden" and model is not None and loc:
            key = str(loc[-1])
            close = difflib.get_close_matches(key, sorted(keys_at(model, loc)), 1, 0.6)
            msg = f"unknown key {key!r}" + (f" (did you mean {close[0]}?)" if close else "")
            if close and (*loc[:-1], close[0]) in missing:
                explained.add((*loc[:-1], close[0]))
        lines.append((loc, f"{prefix}{_fmt_loc(loc)}: {msg}"))
    return [text for loc, text in lines if loc not in explained]


def _split_call(
    body: Any, options: set[str], where: str, kind: str, registry: Registry
) -> tuple[str, dict[str, Any], dict[str, Any], list[str]]:
    """A probe/action entry is ``{TYPE: {params}, option: value, ...}``."""
    if not isinstance(body, dict):
        return "", {}, {}, [f"{where}: expected a mapping like {{{kind}.type: {{params}}}}"]
    types = [k for k in body if k not in options]
    opts = {k: v for k, v in body.items() if k in options}
    if len(types) != 1:
        # a misspelt option (`mdoe: auto`) looks like a second type
        misspelt = [t for t in types if t not in registry and did_you_mean(t, options)]
        if misspelt and len(types) - len(misspelt) == 1:
            return (
                "",
                {},
                opts,
                [f"{where}: unknown option {t!r}{did_you_mean(t, options)}" for t in misspelt],
            )
        found = ", ".join(types) or "none"
        return "", {}, opts, [f"{where}: expected exactly one {kind} type, found {found}"]
    type_name = types[0]
    params = body[type_name]
    if params is None:
        params = {}
    if type_name not in registry:
        close = difflib.get_close_matches(type_name, registry.names(), n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        message = (
            f"{where}: unknown {kind} {type_name!r} ({hint}`honua-bot list {kind}s` shows them all)"
        )
        return type_name, {}, opts, [message]
    if not isinstance(params, dict):
        return type_name, {}, opts, [f"{where}.{type_name}: params must be a mapping"]
    entry = registry.get(type_name)
    assert entry is not None
    try:
        entry.params_model.model_validate(params)
    except ValidationError as exc:
        return (
            type_name,
            params,
            opts,
            _pydantic_errors(f"{where}.{type_name}.", exc, entry.params_model),
        )
    return type_name, params, opts, []


def _template_errors(where: str, value: Any) -> list[str]:
    if isinstance(value, str):
        err = templates.check(value)
        return [f"{where}: bad template: {err}"] if err else []
    if isinstance(value, dict):
        return [e for k, v in value.items() for e in _template_errors(f"{where}.{k}", v)]
    if isinstance(value, list):
        return [e for i, v in enumerate(value) for e in _template_errors(f"{where}.{i}", v)]
    return []


def compile_rule(
    raw: Any, source: str, probes: Registry, actions: Registry
) -> tuple[Rule | None, list[str]]:
    name = raw.get("name", "?") if isinstance(raw, dict) else "?"
    prefix = f"{source}: rule {name}: "
    try:
        doc = RuleDoc.model_validate(raw)
    except ValidationError as exc:
        return None, _pydantic_errors(prefix, exc, RuleDoc)

    errors: list[str] = []
    matchers: list[Matcher] = []
    for i, text in enumerate(doc.match.labels):
        try:
            matchers.append(Matcher.parse(text))
        except MatcherError as exc:
            errors.append(f"{prefix}match.labels.{i}: {exc}")
    alertnames = doc.match.alertname
    alertnames = [alertnames] if isinstance(alertnames, str) else list(alertnames or [])
    if not alertnames and not doc.match.labels:  # a bad matcher is reported on its own
        errors.append(f"{prefix}match: give an alertname or at least one label matcher")

    probe_calls: list[ProbeCall] = []
    for pname, body in doc.probes.items():
        where = f"{prefix}probes.{pname}"
        if not _IDENT.match(pname) or pname in _RESERVED:
            errors.append(
                f"{where}: probe names must be lower_snake_case and not one of {sorted(_RESERVED)}"
            )
        ptype, params, opts, errs = _split_call(body, PROBE_OPTIONS, where, "probe", probes)
        errors += errs + _template_errors(where, params)
        timeout = None
        if "timeout" in opts:
            try:
                timeout = parse_duration(opts["timeout"])
            except ValueError as exc:
                errors.append(f"{where}.timeout: {exc}")
        if not errs:
            probe_calls.append(ProbeCall(pname, ptype, params, timeout))

    action_calls: dict[str, ActionCall] = {}
    for aname, body in doc.actions.items():
        where = f"{prefix}actions.{aname}"
        atype, params, opts, errs = _split_call(body, ACTION_OPTIONS, where, "action", actions)
        errors += errs + _template_errors(where, params)
        try:
            options = ActionOptions.model_validate(opts)
        except ValidationError as exc:
            errors += _pydantic_errors(f"{where}.", exc, ActionOptions)
            continue
        if not errs:
            entry = actions.get(atype)
            destructive = bool(entry and entry.extra.get("destructive"))
            action_calls[aname] = ActionCall(aname, atype, params, options, destructive)

    scenarios: list[Scenario] = []
    seen: set[str] = set()
    for i, sc in enumerate(doc.diagnosis):
        where = f"{prefix}diagnosis.{i} ({sc.scenario})"
        if sc.scenario in seen:
            errors.append(f"{where}: duplicate scenario name {sc.scenario!r}")
        seen.add(sc.scenario)
        try:
            cond = Condition.compile(sc.when)
        except ConditionError as exc:
            errors.append(f"{where}.when: bad CEL: {exc}")
            continue
        for a in sc.actions:
            if a not in doc.actions:
                errors.append(
                    f"{where}.actions: unknown action {a!r} (defined: {', '.join(doc.actions) or 'none'})"
                )
        errors += _template_errors(f"{where}.summary", sc.summary)
        errors += _template_errors(f"{where}.steps", sc.steps)
        scenarios.append(
            Scenario(sc.scenario, cond, sc.summary, tuple(sc.actions), tuple(sc.steps))
        )

    errors += _display_errors(prefix, doc, probe_calls)

    validations: list[Validation] = []
    for i, v in enumerate(doc.validation):
        try:
            validations.append(Validation(v.expr, Condition.compile(v.holds), v.for_, v.within))
        except ConditionError as exc:
            errors.append(f"{prefix}validation.{i}.holds: bad CEL: {exc}")

    if errors:
        return None, errors
    rule = Rule(
        name=doc.name,
        source=source,
        runbook=doc.runbook,
        severity=doc.severity,
        alertnames=tuple(alertnames),
        matchers=tuple(matchers),
        probes=tuple(probe_calls),
        scenarios=tuple(scenarios),
        actions=action_calls,
        validation=tuple(validations),
        display=doc.display,
        prevention=tuple(doc.prevention),
    )
    return rule, []


def _display_errors(prefix: str, doc: RuleDoc, calls: list[ProbeCall]) -> list[str]:
    """A fact names a probe of this rule, and its format only fields that probe gives."""
    errors: list[str] = []
    types = {c.name: c.type for c in calls}
    for i, fact in enumerate(doc.display.facts):
        where = f"{prefix}display.facts.{i} ({fact.label})"
        if fact.probe not in doc.probes:
            errors.append(
                f"{where}.probe: unknown probe {fact.probe!r} "
                f"(defined: {', '.join(doc.probes) or 'none'})"
            )
            continue
        for key in ("format", "threshold"):
            text = getattr(fact, key)
            if err := templates.check(text):
                errors.append(f"{where}.{key}: bad template: {err}")
                continue
            fields = known_fields(types.get(fact.probe, ""))
            if fields is None:
                continue
            unknown = sorted(templates.undeclared(text) - fields)
            if unknown:
                close = difflib.get_close_matches(unknown[0], sorted(fields), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                errors.append(
                    f"{where}.{key}: unknown field {', '.join(map(repr, unknown))} of "
                    f"{types[fact.probe]} (it gives {', '.join(sorted(fields))}){hint}"
                )
    for action, label in doc.display.buttons.items():
        if action not in doc.actions:
            errors.append(f"{prefix}display.buttons.{action}: no such action in this rule")
        elif not 0 < len(label) <= 40:
            errors.append(f"{prefix}display.buttons.{action}: give 1 to 40 characters")
    errors += _template_errors(f"{prefix}display.checklist", doc.display.checklist)
    if doc.display.runbook_url and not doc.display.runbook_url.startswith(("http://", "https://")):
        errors.append(f"{prefix}display.runbook_url: must be an http(s) URL")
    return errors


def _rule_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    raise RuleLoadError([f"{path}: no such file or directory"])


def load_rules(path: Path, probes: Registry, actions: Registry) -> RuleSet:
    """Load every rule under ``path``; raise RuleLoadError listing every problem.

    Never raises anything else: a file too large, too deep or whose aliases
    expand past the node budget (an anchor bomb) is an error naming the file."""
    yaml = YAML(typ="safe", pure=True)
    errors: list[str] = []
    rules: list[Rule] = []
    files = _rule_files(path)
    for f in files:
        try:
            data = budgets.parse(yaml, f)
        except budgets.TooBig as exc:
            errors.append(f"{f}: rejected: {exc}")
            continue
        except (YAMLError, OSError, UnicodeDecodeError) as exc:
            errors.append(f"{f}: cannot parse: {exc}")
            continue
        except RecursionError:
            errors.append(f"{f}: rejected: nested too deeply to parse")
            continue
        docs = data if isinstance(data, list) else [data]
        for raw in docs:
            if raw is None:
                continue
            try:
                rule, errs = compile_rule(raw, str(f), probes, actions)
            except RecursionError:
                rule, errs = None, [f"{f}: rejected: nested too deeply"]
            errors += errs
            if rule is None:
                continue
            clash = next((r for r in rules if r.name == rule.name), None)
            if clash:
                errors.append(
                    f"{f}: rule {rule.name}: name: duplicate of the rule in {clash.source}"
                )
                continue
            rules.append(rule)
    if errors:
        raise RuleLoadError(errors)
    return RuleSet(tuple(rules), tuple(str(f) for f in files))
