"""`snasnet tui` in a real terminal (tmux) at 80x24 and larger: every panel fits and shows its figures."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid

import pytest
from prepared_runs import write_search_run, write_train_run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"),
]

# key -> what the panel must show for the prepared runs below; at 80 columns too, the leaderboard's rows hold their
# cell whole and the training header its last figures
PANELS = {
    "1": [
        "search-1 ok",
        "4/4 scored",
        "best #1 431.25",
        "leaderboard by score",
        "(0)──skip───▶(1)",
        "score distrib",
        "1  431.25  0100 0020 0003 1000",
        "0   12.50  0302 0030 3003 0000",
    ],
    "2": [
        "train-1 ok",
        "epoch 3/3",
        "val acc 87.5% (best 87.5% at epoch 3)",
        "test 87.2% (best.pt)",
        "820 img/s",
        "loss",
        "accuracy %",
    ],
    "3": ["epoch 3", "sparsity", "lif1", "cell1 0->1 conv3x3", "spikes per image by epoch"],  # by edge (issue 28)
    "4": ["job output (stderr)", "Output is captured for jobs started from this dashboard"],
    "5": ["2 run(s) in", "search-1", "train-1", "best val 87.5% (epoch 3), test 87.2%, epoch 3/3", "best 431.25"],
    "question_mark": ["snasnet dashboard", "train the candidate selected"],
}
TMUX_KEYS = {"question_mark": "?"}


class Tmux:
    def __init__(self, command: str, width: int, height: int) -> None:
        self.name = f"snasnet-tui-{uuid.uuid4().hex[:8]}"
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
                        f"{command}; echo EXITED $?; sleep 30"], check=True)  # fmt: skip

    def capture(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True).stdout

    def send(self, key: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, key], check=True)

    def wait_for(self, texts: list[str], timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.capture()
            missing = [t for t in texts if t not in screen]
            if not missing:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"not on screen: {missing}\n--- screen ---\n{screen}")
            time.sleep(0.2)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.mark.parametrize(("width", "height"), [(80, 24), (120, 40)])
def test_every_panel_fits_the_terminal_and_shows_its_figures(tmp_path, width, height):
    write_search_run(tmp_path / "search-1", [12.5, 431.25, 88.0, 430.0])
    write_train_run(tmp_path / "train-1", [0.61, 0.83, 0.875], test=0.8722)
    tmux = Tmux(f"{sys.executable} -m snasnet_cli tui {tmp_path}", width, height)
    try:
        tmux.wait_for(["▶ train-1"])  # the newest run in focus, on its panel
        time.sleep(0.5)
        for key, expected in PANELS.items():
            tmux.send(TMUX_KEYS.get(key, key))
            footer = ["? Help", "q Quit"] if key != "question_mark" else []  # the keys stay in view
            lines = tmux.wait_for(expected + footer).splitlines()
            assert len(lines) <= height and max(len(line) for line in lines) <= width
        tmux.send("Escape")
        tmux.wait_for(["2 run(s) in"])  # the help has gone (a key sent right after Escape would read as Alt+key)
        tmux.send("q")
        tmux.wait_for(["EXITED 0"])
    finally:
        tmux.close()


def test_a_training_run_opens_on_the_training_panel(tmp_path):
    run = tmp_path / "train-1"
    write_train_run(run, [0.61, 0.83, 0.875], epochs=25, finished=False)
    tmux = Tmux(f"{sys.executable} -m snasnet_cli tui {run}", 80, 24)
    try:
        tmux.wait_for(["train-1 running", "epoch 3/25", "val acc 87.5%", "accuracy %"])
    finally:
        tmux.close()
