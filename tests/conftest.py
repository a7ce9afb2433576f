"""Shared fixtures: the golden outputs of the original implementation (kept in tests/data/original-snasnet)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import golden_data
import golden_weights
import pytest
import torch
from golden_data import GOLDEN

# The tests play an interactive user, whose Ctrl-C reaches the commands they start. A test run started as a
# background job (`nohup`, `cmd &` in a script) inherits SIGINT ignored, and so would every command it starts:
# snasnet keeps an ignored SIGINT ignored, as `nohup` asks (snasnet_cli/stop_signals.py).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_report_header() -> list[str]:
    """Which golden recording this machine's native check uses, and whether the portable check runs."""
    return [golden_data.native_recording()[1], golden_data.portable_environment()[1]]


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 (pytest's reporter)
    if golden_data.FINDINGS:
        terminalreporter.section("golden outputs of the original")
        for line in golden_data.FINDINGS:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    return GOLDEN


@pytest.fixture(scope="session")
def make_state_dict():
    """The golden weights generator, ``make_state_dict(layout, seed=7)`` (tests/golden_weights.py)."""
    return golden_weights


@pytest.fixture(scope="session")
def golden_layout(golden_dir: Path) -> dict:
    return json.loads((golden_dir / "cifar100_bw.layout.json").read_text())


@pytest.fixture(scope="session")
def golden_state_dict(make_state_dict, golden_layout) -> dict:
    return make_state_dict.make_state_dict(golden_layout)


@pytest.fixture(scope="session")
def golden_images() -> torch.Tensor:
    """The 32 images as the original feeds them: ToTensor (contiguous CHW in [0, 1]) then Normalize."""
    return golden_data.golden_images()


@pytest.fixture(scope="session")
def golden_expected() -> dict:
    """The original's outputs recorded on this CPU's instruction set (skips where there is none: the portable
    check in test_golden.py covers every x86-64 CPU)."""
    name, line = golden_data.native_recording()
    if name is None:
        pytest.skip(line)
    return golden_data.load_recording(name)


@pytest.fixture
def one_thread():
    """One torch thread: for modules that run many small networks, which gain nothing from more threads and
    lose much when the cores are busy (and whose exact results depend on the thread count)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
