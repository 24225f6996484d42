"""Rule evaluation benchmark: how long one CEL evaluation or one template render
holds the GIL, as a function of the size of the probe data it reads.

    python bench/rule_eval.py [--rounds 5] [--sizes 100,1000,5000,50000]

The CEL binding (a Rust extension) holds the GIL for the whole of
``Program.execute``, including turning the Python variables into CEL values, so
each figure below is time the event loop is frozen for when a rule is evaluated
in a worker thread. Sections:

- conversion: ``pods.ok`` over a finding whose list holds N small maps (the
  cost of handing the data to CEL at all, paid by every ``execute`` that reads
  the probe; ``true`` reads none, so converts nothing);
- expressions: the costliest shapes a rule may write (two nested comprehensions,
  ``exists`` that never finds, ``map``, string operations on every item) over N
  items; the nested ones grow as N²;
- strings: string functions over one string of N characters;
- templates: a Jinja ``{% for %}`` nested twice over N items (pure Python: the
  loop thread still gets the GIL every switch interval, but the work goes on);
- bounded: the same worst expression through ``bot.rules.sample`` with the
  default caps, i.e. what the bot does now, whatever N is.

Each figure is the median of --rounds runs, in milliseconds. The cases too slow
to run at large N are skipped past a projected second (their growth is shown).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.rules import cel, sample, templates  # noqa: E402
from bot.rules.cel import Condition  # noqa: E402

SKIP_PAST_SECONDS = 2.0


def items(n: int) -> list[dict[str, Any]]:
    return [{"name": f"pod-{i}", "restarts": i % 7, "ready": i % 3 != 0} for i in range(n)]


def scope(n: int) -> dict[str, Any]:
    return {"pods": {"ok": True, "error": "", "configured": True, "pods": items(n), "count": n}}


EXPRESSIONS = {
    "true (reads no probe)": "true",
    "pods.ok (converts the probe)": "pods.ok",
    "exists, never found": "pods.pods.exists(p, p.restarts > 100)",
    "map + size": "pods.pods.map(p, p.restarts).size() > 0",
    "filter on strings": "pods.pods.filter(p, p.name.startsWith('x')).size() > 0",
    "string contains per item": "pods.pods.exists(p, p.name.contains('zzz'))",
    "2 nested comprehensions": (
        "pods.pods.exists(p, pods.pods.exists(q, q.restarts > 100 && p.name == q.name))"
    ),
    "2 nested, all/exists": "pods.pods.all(p, pods.pods.exists(q, q.restarts >= 0))",
    "map inside exists (refused: N^3)": "pods.pods.exists(p, pods.pods.map(q, q).size() < 0)",
}

STRING_EXPRESSIONS = {
    "contains (miss)": "s.value.contains('zzz')",
    "matches regex": "s.value.matches('^(a|b)*z$')",
    "size": "size(s.value) > 0",
}

TEMPLATES = {
    "for nested twice": "{% for p in pods.pods %}{% for q in pods.pods %}{% endfor %}{% endfor %}",
    "join": "{{ pods.pods | map(attribute='name') | join(', ') }}",
}


def median_ms(run: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def table(
    title: str,
    cases: dict[str, Callable[[int], Callable[[], Any]]],
    sizes: list[int],
    rounds: int,
    degree: dict[str, int],
) -> None:
    print(f"\n{title} (ms, median of {rounds})")
    print(f"{'case':34}" + "".join(f"{n:>12}" for n in sizes))
    for name, make in cases.items():
        row, last = [], None
        for n in sizes:
            if last is not None:
                prev_n, prev_ms = last
                growth = (n / prev_n) ** degree.get(name, 1)
                if prev_ms * growth / 1000 > SKIP_PAST_SECONDS:
                    row.append(f"~{prev_ms * growth:>10.0f}")
                    last = (n, prev_ms * growth)
                    continue
            ms = median_ms(make(n), rounds if n <= 5000 else max(1, rounds // 2))
            row.append(f"{ms:>12.2f}")
            last = (n, ms)
        print(f"{name:34}" + "".join(row))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="100,1000,2000,5000,50000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    degree = {k: 2 for k in EXPRESSIONS if k.startswith("2 nested")}
    degree |= {"map + size": 2, "filter on strings": 2, "map inside exists (refused: N^3)": 3}

    def cel_case(source: str) -> Callable[[int], Callable[[], Any]]:
        # built as the loader would, minus its budget check (to measure what it refuses)
        program = cel._cel().compile(source)
        condition = Condition(source, program, frozenset(program.variables()))

        def make(n: int) -> Callable[[], Any]:
            data = scope(n)
            return lambda: condition.evaluate(data)

        return make

    table(
        "CEL over a list of N items",
        {k: cel_case(v) for k, v in EXPRESSIONS.items()},
        sizes,
        args.rounds,
        degree,
    )

    def string_case(source: str) -> Callable[[int], Callable[[], Any]]:
        condition = Condition.compile(source)

        def make(n: int) -> Callable[[], Any]:
            data = {"s": {"value": "ab" * (n * 50)}}
            return lambda: condition.evaluate(data)

        return make

    table(
        "CEL over one string of 100 N characters",
        {k: string_case(v) for k, v in STRING_EXPRESSIONS.items()},
        sizes,
        args.rounds,
        {},
    )

    def template_case(source: str) -> Callable[[int], Callable[[], Any]]:
        def make(n: int) -> Callable[[], Any]:
            data = scope(n)
            return lambda: templates.render(source, data)

        return make

    table(
        "Jinja over a list of N items (bounded by bot.rules.templates)",
        {k: template_case(v) for k, v in TEMPLATES.items()},
        sizes,
        args.rounds,
        {},
    )

    limits = sample.Limits()
    worst = Condition.compile(EXPRESSIONS["2 nested comprehensions"])

    def bounded(n: int) -> Callable[[], Any]:
        data = scope(n)
        return lambda: worst.evaluate(sample.bound_scope(data, limits).scope)

    table(
        f"bounded: sample.bound_scope (max_items={limits.max_items}) + the worst expression",
        {"2 nested comprehensions": bounded},
        sizes,
        args.rounds,
        {},
    )


if __name__ == "__main__":
    main()
