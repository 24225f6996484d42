"""Sandboxed Jinja2 for rule text (summaries, templated params).

A render is bounded in work and size, whatever the data: every loop step,
call and filter counts against ``MAX_STEPS`` (a ``{% for %}`` over a long list
nested twice would otherwise run for hours in its worker thread after the
diagnosis gave up on it), output stops at ``MAX_OUTPUT`` characters as it is
produced, and ``*``/``**`` and widths cannot make huge strings or numbers.
Over a bound the render fails like any template error: the source is shown
with the reason.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateError, meta, nodes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from bot.durations import spoken

MAX_OUTPUT = 20_000  # characters a rendered template may produce
MAX_STEPS = 100_000  # loop iterations + calls + filters of one render (~0.1 s)
MAX_NUMBER_ARG = 1_000_000  # a width given to a padding filter or str method
# what turns a number into that many characters (other arguments are left alone:
# `{{ "%d" | format(used_memory) }}` is a large number and a short string)
_WIDTH_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate"})
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_STEP = "_count_steps"
_left = threading.local()  # steps left in this thread's render


def _step() -> None:
    left = getattr(_left, "steps", MAX_STEPS) - 1
    _left.steps = left
    if left < 0:
        raise SecurityError(f"template did more than {MAX_STEPS} loop steps and calls")


def _check_numbers(args: Iterable[Any]) -> None:
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_NUMBER_ARG:
            raise SecurityError(f"{arg} is over the template limit of {MAX_NUMBER_ARG}")


def _count_steps(iterable: Any) -> Iterator[Any]:
    for item in iterable:
        _step()
        yield item


def _counted(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    # the arguments after the value (and after the context, for pass_context filters)
    skip = 2 if getattr(func, "jinja_pass_arg", None) else 1
    widths = name in _WIDTH_FILTERS

    @functools.wraps(func)  # keeps jinja's pass_context/pass_eval_context marks
    def counted(*args: Any, **kwargs: Any) -> Any:
        _step()
        if widths:
            _check_numbers([*args[skip:], *kwargs.values()])
        return func(*args, **kwargs)

    return counted


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _step()
        if isinstance(getattr(__obj, "__self__", None), str) and __obj.__name__ in _WIDTH_METHODS:
            _check_numbers([*args, *kwargs.values()])
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        sizes = [len(v) for v in (left, right) if isinstance(v, str | list | tuple)]
        counts = [v for v in (left, right) if isinstance(v, int) and not isinstance(v, bool)]
        if operator == "*" and sizes and counts and sizes[0] * max(counts) > MAX_OUTPUT:
            raise SecurityError(f"repetition over {MAX_OUTPUT} characters")
        if operator == "**" and len(counts) == 2 and abs(right) > 64:
            raise SecurityError("power over the template limit")
        return super().call_binop(context, operator, left, right)

    def _generate(
        self,
        source: nodes.Template,
        name: str | None,
        filename: str | None,
        defer_init: bool = False,
    ) -> str:
        # each {% for %} counts its steps: its sequence goes through _count_steps
        for loop in source.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _STEP, [], [], None, None)
        return super()._generate(source, name, filename, defer_init)


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
_env = _BoundedEnvironment(undefined=ChainableUndefined, autoescape=False)
_env.filters["duration"] = duration
_env.filters["promql"] = promql
_env.filters["size"] = size
_env.filters = {name: _counted(name, f) for name, f in _env.filters.items()}
_env.filters[_STEP] = _count_steps


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


@functools.lru_cache(maxsize=1024)
def _compiled(source: str) -> Template:
    return _env.from_string(source)


def render(source: str, variables: dict[str, Any]) -> str:
    if "{{" not in source and "{%" not in source:
        return source
    _left.steps = MAX_STEPS
    chunks: list[str] = []
    length = 0
    try:
        for chunk in _compiled(source).generate(variables):
            chunks.append(chunk)
            length += len(chunk)
            if length > MAX_OUTPUT:
                break
    except TemplateError as exc:
        return f"{source} (template error: {exc})"
    except Exception as exc:  # e.g. `round` on a failed probe's value: never sink the caller
        return f"{source} (template error: {type(exc).__name__}: {exc})"
    out = "".join(chunks)
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
