"""Every store key and lock name is spelled in bot/store/keys.py: a new inline
key format elsewhere in bot/ fails here, so the key space stays readable in one
file (and two modules cannot pick the same name by accident)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"
KEYS = BOT / "store" / "keys.py"
# the store's key and lock API → which argument is the key or lock name
STORE_CALLS = {
    "get_value": 0,
    "set_value": 0,
    "delete_value": 0,
    "incr": 0,
    "acquire": 0,
    "release": 0,
    "leased": 1,  # leased(store, name, owner)
}
# a literal that starts like a key of these namespaces ("slack:msg:", "safety:cooldown:" …)
KEY_LIKE = re.compile(
    r"^(honua-bot|slack|slack-sender|safety|action|queue|target|incident|verify-adopt):"
    r"[a-z][a-z#-]*(:|$)"
)


def _literal_head(node: ast.expr) -> str | None:
    """The literal text a string expression starts with (None: not a string)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        first = node.values[0] if node.values else None
        return first.value if isinstance(first, ast.Constant) else ""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal_head(node.left)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    ):
        return _literal_head(node.func.value)
    return None


def inline_keys(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            at = STORE_CALLS.get(name, len(node.args))
            if at < len(node.args) and _literal_head(node.args[at]) is not None:
                found.append((node.lineno, f"{name}() given an inline key"))
        if isinstance(node, ast.Constant | ast.JoinedStr):
            head = _literal_head(node)
            if head and KEY_LIKE.match(head):
                found.append((node.lineno, f"key-like literal {head!r}"))
    return found


def test_no_store_key_is_spelled_outside_the_keys_module() -> None:
    offenders = [
        f"{path.relative_to(BOT.parent)}:{line}: {what}"
        for path in sorted(BOT.rglob("*.py"))
        if path != KEYS
        for line, what in inline_keys(path.read_text())
    ]
    assert offenders == [], "define these in bot/store/keys.py:\n" + "\n".join(offenders)


def test_the_check_sees_the_usual_ways_of_spelling_a_key() -> None:
    assert [what for _, what in inline_keys('store.get_value(f"x:{i}")')] == [
        "get_value() given an inline key"
    ]
    assert inline_keys('k = f"slack:storm:{channel}"')
    assert inline_keys('K = "slack:ob:{channel}:head"')
    assert inline_keys('leased(store, "verify-adopt:{run}".format(run=r), owner)')
    # an actor id or a button's action id is not a key
    assert inline_keys('actor = f"slack:{user_id}"') == []
    assert inline_keys("store.get_value(keys.slack_message(i))") == []
