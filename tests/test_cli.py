"""The `snasnet` command line as a user meets it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from snasnet import __version__
from snasnet_cli.app import app

runner = CliRunner()


def snasnet(*args: str) -> subprocess.CompletedProcess:
    """Run the real entry point in a fresh process, as a user's shell would."""
    return subprocess.run([sys.executable, "-m", "snasnet_cli", *args], capture_output=True, text=True, timeout=120)


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("search", "train", "eval", "export", "tui", "arch", "models", "runs", "env"):
        assert command in result.output
    assert "--install-completion" in result.output


@pytest.mark.parametrize(("words", "expected"), [("snasnet ex", ["export"]), ("snasnet runs ", ["export-tb"])])
def test_shell_completion_is_typers_own(words, expected):
    """What the script `snasnet --install-completion` installs asks the command itself, as bash does."""
    env = {
        **os.environ,
        "_SNASNET_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    done = subprocess.run([sys.executable, "-m", "snasnet_cli"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and done.stdout.split() == expected, done


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"snasnet {__version__}"


def test_arch_shows_the_cell_and_its_network():
    result = runner.invoke(app, ["arch", "0302", "0030", "3003", "0000"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "0 -> 1" in out and "3 conv3x3" in out and "2 -> 0" in out and "backward" in out
    assert "canonical: 0302 0030 3003 0000" in out
    assert "20,624,500 parameters" in out  # cifar100 preset
    assert "1.561 G per timestep" in out


def test_arch_json_for_machines():
    result = runner.invoke(
        app, ["arch", "0342 0000 0003 0000", "--celltype", "forward", "--preset", "digits", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["celltype"] == "forward" and report["pruned_nodes"] == [1]
    assert report["canonical"] == "0042 0000 0003 0000"
    assert [e["op_name"] for e in report["edges"]] == ["conv3x3", "avgpool", "conv1x1", "conv3x3"]
    assert report["macs_per_image"] == report["stem_macs"] + 5 * report["macs_per_timestep"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["arch", "0302", "0030", "3a03", "0000"], "row 3 ('3a03'), character 2: 'a' is not an operation"),
        (["arch", "0302", "0030", "3003"], "expected 4 rows"),
        (["arch", "0302 0030 3003 0000", "--celltype", "forward"], "backward edge node 2 -> node 0"),
        (["arch", "0302 0030 3003 0000", "--preset", "mnist"], "unknown preset 'mnist'"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message):
    result = snasnet(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in result.stderr


@pytest.mark.parametrize("rows", ["0000 0000 0000 0000", "0100 0000 0000 0000"])
def test_arch_refuses_a_cell_whose_output_the_input_never_reaches(rows, capsys):
    """`arch 0000 0000 0000 0000` was shown with "pruned nodes: none", as if it were a network."""
    from snasnet_cli.app import main

    with pytest.raises(SystemExit) as done:
        main(["arch", *rows.split()])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.count("\n") == 1, err
    assert f"cell {rows} (backward) has no path from the input node 0 to the output node 3" in err


# --- help as a newcomer reads it at 80 columns (issue 28) ---------------------------------------------------------
COMMANDS = (["search"], ["train"], ["eval"], ["export", "onnx"], ["export", "energy"], ["export", "nir"], ["tui"],
            ["arch"], [])  # fmt: skip


def help_at_80_columns(command: list[str], flag: str = "--help") -> str:
    result = runner.invoke(app, [*command, flag], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "snasnet")
def test_help_at_80_columns_says_h_flags_take_no_value_and_panel_titles_are_whole(command):
    out = help_at_80_columns(command)
    assert help_at_80_columns(command, "-h") == out
    assert "<bool>" not in out, "a flag (--quiet, --help, --version) printed as if it took a value"
    for line in out.splitlines():
        if line.startswith("╭─ "):  # a panel's title, whole: "╭─ Recipe ... ───╮", not "╭─ Recipe ... shi─╮"
            assert re.fullmatch(r"╭─ [^─]+ ─+╮", line), line
    assert max(len(line) for line in out.splitlines()) <= 80


def test_train_help_shows_the_defaults_digits_runs_with():
    from snasnet.train.recipe import DATASET_DEFAULTS

    out = " ".join(help_at_80_columns(["train"]).replace("│", " ").split())
    digits = DATASET_DEFAULTS["digits"]
    assert f"Epochs [default: 300; digits: {digits['epochs']};" in out
    assert f"digits, digits-dvs: {digits['lr']:g}]" in out and "[default: sgd; digits, digits-dvs: adam]" in out
    assert "Validate every N epochs and at the end [default: 20; digits, synthetic, digits-dvs: 1]" in out
    assert "Recipe (defaults: the original's, and the datasets' own)" in out
