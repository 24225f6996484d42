"""Command-line manners: errors that name what was wrong and suggest what was
meant, each (sub)command's own usage with its error, file errors that say which
file and what to do, and a quiet exit when the reader of our output goes away
(``honua-bot list probes --json | head``)."""

from __future__ import annotations

import argparse
import difflib
import errno
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")
REQUIRED = "the following arguments are required: "


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(set(choices)), n=2, cutoff=0.6)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


class CliParser(argparse.ArgumentParser):
    """An ArgumentParser whose subcommands report their own mistakes.

    argparse hands arguments a subcommand does not know back to the top-level
    parser, which then prints the top-level usage; here every parser refuses
    unknown arguments itself, so ``serve --prot 9000`` shows ``serve``'s usage.
    Subparsers created with ``add_subparsers().add_parser`` are CliParsers too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seen: list[str] = []

    # unknown options and arguments ---------------------------------------------------
    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._seen = list(sys.argv[1:] if args is None else args)
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(self._unknown(extras))
        return parsed, extras

    def _unknown(self, extras: list[str]) -> str:
        options = [a for a in extras if a.startswith("-") and a != "-"]
        if not options:
            return f"unexpected argument {extras[0]!r}"
        word = options[0].split("=", 1)[0]
        return f"unknown option {word}{did_you_mean(word, self._option_string_actions)}"

    def _unknown_options(self, args: list[str]) -> list[str]:
        def known(word: str) -> bool:  # argparse also takes unique prefixes (--conf)
            return word in self._option_string_actions or (
                word.startswith("--")
                and sum(k.startswith(word) for k in self._option_string_actions) == 1
            )

        return [a for a in args if a.startswith("-") and a != "-" and not known(a.split("=")[0])]

    def _commands(self) -> argparse._SubParsersAction[Any] | None:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action
        return None

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        choices = action.choices
        if choices is None or value in choices:
            return
        names = [str(c) for c in choices]
        hint = did_you_mean(str(value), names)
        if isinstance(action, argparse._SubParsersAction):
            # `--confg x.yaml list`: x.yaml is taken for the command; the option is the mistake
            before = self._seen[: self._seen.index(value)] if value in self._seen else []
            unknown = self._unknown_options(before)
            if unknown:
                raise argparse.ArgumentError(None, self._unknown(unknown))
            raise argparse.ArgumentError(
                None, f"unknown command {value!r}{hint}; commands: {', '.join(names)}"
            )
        raise argparse.ArgumentError(
            action, f"invalid choice {value!r}{hint}; choose from {', '.join(names)}"
        )

    # the report --------------------------------------------------------------------
    def error(self, message: str) -> NoReturn:
        commands = self._commands()
        if message.startswith(REQUIRED) and commands is not None:
            # `honua-bot --bogus`: the unknown option is the mistake, not the command
            unknown = self._unknown_options(self._seen)
            if unknown:
                message = self._unknown(unknown)
            elif commands.dest in message[len(REQUIRED) :].split(", "):
                message = f"missing command: one of {', '.join(commands.choices or {})}"
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\nrun '{self.prog} --help' for more\n")


class FileProblem(Exception):
    """A file the user named could not be used; the message says which and what to do."""


def read_file(reader: Callable[[Path], T], path: Path, what: str, expected: str) -> T:
    """``reader(path)``, with its failures turned into a FileProblem naming ``path``
    (``what`` it is for, e.g. "the ALERT file") and what it should contain."""
    try:
        return reader(path)
    except OSError as exc:
        raise FileProblem(describe_os_error(exc, path, what)) from exc
    except ValueError as exc:  # JSON/YAML syntax, or a shape pydantic refused
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FileProblem(f"{path}: {what} is not valid: {first}; expected {expected}") from exc


def describe_os_error(exc: OSError, path: Path, what: str) -> str:
    if exc.errno == errno.ENOENT:
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        return f"{path}: no such file{where}; check the path of {what}"
    if exc.errno == errno.EACCES:
        return f"{path}: permission denied; make {what} readable by this user"
    if exc.errno == errno.EISDIR:
        return f"{path}: is a directory; give {what} as a file"
    return f"{path}: cannot read {what}: {exc.strerror or exc}"


def quiet_broken_pipe() -> int:
    """The reader went away (``| head``): stop writing without a traceback. Point
    stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 128 + 13  # as if killed by SIGPIPE, like other Unix tools
