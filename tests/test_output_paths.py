"""Outputs that are not regular files, and products of several files (issue 24, items 4 and 5).

An output path that exists and is not a regular file (a device such as /dev/null, a FIFO) is refused in one line
instead of being replaced by the product; a symbolic link to a regular file is written through (the link stays).
The energy report's json, csv and png are one product: a SIGTERM while they are written leaves all three new or
all three as they were."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys

import pytest

import snasnet.core.atomic as atomic
from exporters.jobs import ExportSource, export_energy_job
from snasnet.core.atomic import write_text
from snasnet.core.errors import StorageError
from snasnet.core.interrupts import sigterm_as_interrupt
from snasnet.network.checkpoint import save_checkpoint
from snasnet.network.model import build_model

REPORT = ("energy.json", "energy.csv", "energy.png")


def _checkpoint(path):
    return save_checkpoint(path, build_model("digits", "0200 0020 0002 0000", celltype="forward", timesteps=2))


def snasnet(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "snasnet_cli", *args], capture_output=True, text=True, env=env)


def test_a_fifo_given_to_export_is_refused_in_one_line_and_left_a_fifo(tmp_path):
    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)
    done = snasnet("export", "onnx", str(_checkpoint(tmp_path / "best.pt")), "-o", str(fifo), "--check-images", "0",
                   "--run-dir", str(tmp_path / "export"))  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"snasnet: error: {fifo} is a FIFO (named pipe), not a regular file: refusing to replace it; name a file to "
        "write"
    ]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and not (tmp_path / "export").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device file needs root")
def test_a_device_file_is_never_replaced_by_a_product(tmp_path):
    null = tmp_path / "null"  # a second /dev/null (major 1, minor 3), so that the real one is never at stake
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    with pytest.raises(StorageError, match="is a character device, not a regular file: refusing to replace it"):
        write_text(null, "a model")
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["null"]  # no temporary left


def test_a_symbolic_link_to_a_file_is_written_through_and_stays_a_link(tmp_path):
    (tmp_path / "models").mkdir()
    target = write_text(tmp_path / "models" / "v1.onnx", "old")
    link = tmp_path / "latest.onnx"
    link.symlink_to(os.path.relpath(target, tmp_path))
    write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["v1.onnx"]
    dangling = tmp_path / "dangling.onnx"
    dangling.symlink_to(tmp_path / "nowhere" / "x.onnx")
    with pytest.raises(StorageError, match="is a broken symbolic link or a loop"):
        write_text(dangling, "new")


def test_a_sigterm_while_the_energy_report_is_written_leaves_it_all_old_or_all_new(tmp_path, monkeypatch):
    checkpoint = _checkpoint(tmp_path / "best.pt")
    out = tmp_path / "report"
    out.mkdir()
    for name in REPORT:
        (out / name).write_text("the earlier report\n")
    replace = os.replace
    sent = []

    def replace_then_sigterm(src, dst, *args, **kwargs):
        replace(src, dst, *args, **kwargs)
        if os.path.basename(dst).startswith("energy.") and not sent:  # the first file of the report is in place
            sent.append(dst)
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(atomic.os, "replace", replace_then_sigterm)
    previous = signal.getsignal(signal.SIGTERM)
    sigterm_as_interrupt()  # as `snasnet export` does
    try:
        with pytest.raises(KeyboardInterrupt):
            export_energy_job(ExportSource(checkpoint), out, dataset="digits", batches=1, batch_size=8,
                              device="cpu", run_dir=tmp_path / "export")  # fmt: skip
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert sent, "the SIGTERM was not sent"
    old = [name for name in REPORT if (out / name).read_bytes() == b"the earlier report\n"]
    assert old in ([], list(REPORT)), f"a mixed report: {old} old, the rest new"
    assert sorted(p.name for p in out.iterdir()) == sorted(REPORT)  # no temporary left
