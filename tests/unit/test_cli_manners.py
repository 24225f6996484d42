"""The command line says what was wrong and what was probably meant, shows the
usage of the command at fault, names the file it could not use, tells its
version, and stays quiet when its reader goes away (``| head``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

REPO = Path(__file__).resolve().parents[2]


def fails(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    return err


def test_unknown_top_level_option_is_named_not_a_missing_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = fails(capsys, "--bogus")
    assert "honua-bot: error: unknown option --bogus" in err
    assert "required" not in err
    err = fails(capsys, "--confg", "x.yaml", "list", "probes")
    assert "unknown option --confg (did you mean --config?)" in err


def test_a_subcommands_unknown_option_shows_that_subcommands_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = fails(capsys, "serve", "--prot", "9000")
    assert err.startswith("usage: honua-bot serve ")
    assert "honua-bot serve: error: unknown option --prot (did you mean --port" in err
    assert "run 'honua-bot serve --help' for more" in err
    err = fails(capsys, "rules", "test", "a.json", "--probes-results", "p.json")
    assert err.startswith("usage: honua-bot rules test ")
    assert "unknown option --probes-results (did you mean --probe-results?)" in err


def test_unknown_and_missing_commands_list_the_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = fails(capsys, "servee")
    assert "unknown command 'servee' (did you mean serve?); commands: serve, rules," in err
    err = fails(capsys, "rules")
    assert err.startswith("usage: honua-bot rules ")
    assert "honua-bot rules: error: missing command: one of check, test" in err
    assert "rules_cmd" not in err
    assert "missing command: one of serve, rules, list" in fails(capsys)
    err = fails(capsys, "list", "probs")
    assert err.startswith("usage: honua-bot list ")
    assert "invalid choice 'probs' (did you mean probes?)" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    from importlib.metadata import version

    assert capsys.readouterr().out == f"honua-bot {version('honua-bot')}\n"


def test_file_errors_name_the_file_and_what_to_do(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "alert.json"
    assert main(["rules", "test", str(missing)]) == 1
    err = capsys.readouterr().err
    assert err == f"{missing}: no such file; check the path of the ALERT file\n"
    assert "Errno" not in err

    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert main(["rules", "test", str(broken)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{broken}: the ALERT file is not valid: ")
    assert "expected an Alertmanager webhook body" in err

    alert = REPO / "tests" / "fixtures" / "runbook1" / "alert.json"
    args = ["rules", "test", str(alert), "--probe-results", str(tmp_path / "p.json")]
    assert main(args) == 1
    assert "p.json: no such file; check the path of the --probe-results file" in (
        capsys.readouterr().err
    )

    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(tmp_path / "settings.yaml"), "rules", "check"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{tmp_path / 'settings.yaml'}: no such settings file (--config);")
    assert "leave --config out" in err

    assert main(["rules", "check", str(tmp_path / "nope")]) == 2
    assert "nope: no such rule file or directory; give the directory" in capsys.readouterr().err


def test_output_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """``honua-bot list probes --json | head -1``: head exits after one line; the
    writer gets EPIPE. A reader closed before anything is written makes that
    certain."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "list", "probes", "--json"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            cwd=REPO,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""  # no BrokenPipeError traceback, no "Exception ignored"
    assert done.returncode == 141
