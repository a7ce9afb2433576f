"""An autouse fixture for test modules that run many small networks: one torch thread. The test machine is
shared by several jobs, and small networks gain nothing from more threads (they lose much when the cores
are busy). Import it into a test module to use it."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
