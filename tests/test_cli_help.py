"""``--help`` shows flags as flags, whatever typer/click version is installed.

typer 0.29's rich help panels printed every boolean flag with a value
placeholder (``--strict <bool>``, ``--help <bool>``), and a user who typed
``--strict true`` had ``true`` taken as the data folder.  These tests read the
help text of every command as a user sees it.
"""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from analysis.cli import app

COMMANDS = ["", "validate", "synth", "analyze", "build", "preview", "diff"]


def _help(command: str) -> str:
    args = [command, "--help"] if command else ["--help"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.output


def _options(command: str) -> list:
    """The command's options (typer ≥ 0.26 vendors Click: no ``isinstance(click.Option)``)."""
    group = typer.main.get_command(app)
    cmd = group.commands[command] if command else group
    ctx = cmd.context_class(cmd)
    return [p for p in cmd.get_params(ctx) if p.param_type_name == "option"]


@pytest.mark.parametrize("command", COMMANDS)
def test_flags_have_no_value_placeholder(command):
    text = _help(command)
    flags = [o for o in _options(command) if o.is_flag]
    assert any("--help" in o.opts for o in flags)
    for option in flags:
        name = max(option.opts, key=len)
        (line,) = [ln for ln in text.splitlines() if re.match(rf"\s*{re.escape(name)}\b", ln)]
        after = line.strip()[len(name) :]
        assert not after.lstrip().startswith(("<", "[", "BOOLEAN", "TEXT")), line
        assert re.match(r"\s{2,}\S", after), f"no help text after the flag: {line!r}"


@pytest.mark.parametrize("command", COMMANDS)
def test_options_that_take_a_value_say_so(command):
    text = _help(command)
    for option in _options(command):
        if option.is_flag:
            continue
        name = max(option.opts, key=len)
        (line,) = [ln for ln in text.splitlines() if re.match(rf"\s*{re.escape(name)}\b", ln)]
        assert re.match(rf"\s*{re.escape(name)}[ =]\S", line), line


def test_build_help_lists_strict_as_a_flag():
    text = _help("build")
    assert re.search(r"^\s*--strict\s{2,}Make an abstract", text, re.M), text
    assert "<bool>" not in text


def test_a_flag_given_a_value_does_not_become_the_data_folder_silently(tmp_path):
    result = CliRunner().invoke(app, ["build", "--strict", "true", "--outputs", str(tmp_path)])
    assert result.exit_code == 2
    assert "true" in result.output
    assert not any(tmp_path.iterdir())
