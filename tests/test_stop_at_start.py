"""A stop while the command starts (issue 24, item 8): Ctrl-C or SIGTERM while `snasnet train` imports torch ends
with one line and status 130. Before, Ctrl-C there could end in a long traceback (a RecursionError was seen)
and SIGTERM killed the process without a word (status -15). The signal is sent at a known instant: when the
command first imports torch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.cli_process import DIGITS

# `python -m snasnet_cli ARGS`, which sends itself SIGNAL as it starts importing torch
SIGNAL_AT_IMPORT = """
import os, runpy, signal, sys

class SignalAtImport:
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.{signal})
        return None

sys.meta_path.insert(0, SignalAtImport())
sys.argv = ["snasnet", *sys.argv[1:]]
runpy.run_module("snasnet_cli", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_stop_while_the_command_imports_is_one_line_and_status_130(tmp_path, sig):
    run_dir = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-c", SIGNAL_AT_IMPORT.format(signal=sig), "train", *DIGITS, "--run-dir", str(run_dir)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=120,
    )
    assert done.returncode == 130, (done.returncode, done.stderr[-2000:])
    assert done.stderr.splitlines() == ["snasnet: interrupted"]
    assert not run_dir.exists()


def test_an_ignored_sigint_stays_ignored():
    """`nohup` and a shell's background jobs ignore SIGINT; the command keeps it so."""
    code = (
        "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "from snasnet_cli.stop_signals import stop_on_signals\n"
        "stop_on_signals(); print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"
