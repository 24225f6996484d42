"""Sandboxed Jinja2 for rule text (summaries, templated params)."""

from __future__ import annotations

from typing import Any

from jinja2 import ChainableUndefined, TemplateError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.durations import spoken

MAX_OUTPUT = 20_000  # characters a rendered template may produce

# ``{{ age | duration }}``: an age as people say it (``25 minutes``, ``3 days``)
duration = spoken


def size(count: Any) -> str:
    """``{{ used_memory | size }}``: bytes as people say them (``1.4 GiB``)."""
    if isinstance(count, bool) or not isinstance(count, int | float):
        return "?"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return "?"  # unreachable


def promql(value: Any) -> str:
    """``{{ labels.job | promql }}``: a value safe inside a double-quoted PromQL
    string (``"`` and ``\\`` escaped, newlines spelled), so a label value cannot
    end the string and change the query."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")


# Immutable: a template can read labels and findings, never change them (the
# plain sandbox let ``{{ labels.pop('x') }}`` edit the alert for later steps).
_env = ImmutableSandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)
_env.filters["duration"] = duration
_env.filters["promql"] = promql
_env.filters["size"] = size


def check(source: str) -> str | None:
    """The syntax error in a template, or None."""
    try:
        _env.parse(source)
    except TemplateError as exc:
        return str(exc)
    return None


def undeclared(source: str) -> set[str]:
    """The top-level names a (valid) template reads from its variables."""
    return set(meta.find_undeclared_variables(_env.parse(source)))


def render(source: str, variables: dict[str, Any]) -> str:
    if "{{" not in source and "{%" not in source:
        return source
    try:
        out = _env.from_string(source).render(variables)
    except TemplateError as exc:
        return f"{source} (template error: {exc})"
    except Exception as exc:  # e.g. `round` on a failed probe's value: never sink the caller
        return f"{source} (template error: {type(exc).__name__}: {exc})"
    if len(out) > MAX_OUTPUT:
        return out[:MAX_OUTPUT] + f"… (cut at {MAX_OUTPUT} characters)"
    return out


def render_params(value: Any, variables: dict[str, Any]) -> Any:
    """Render every string inside a params structure."""
    if isinstance(value, str):
        return render(value, variables)
    if isinstance(value, dict):
        return {k: render_params(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render_params(v, variables) for v in value]
    return value
