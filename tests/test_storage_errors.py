"""File-system failures (issue 13, item 6): a full disk, a read-only file system, a run directory that is a file,
a symbolic link loop or under /proc, an output that is a directory. Each gives one line that names the path and
a non-zero exit; a failed write leaves the previous file as it was and no temporary file behind, and temporary
files of a killed writer are removed when the run directory is next opened."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import snasnet.network.checkpoint as checkpoint_module
from snasnet.core.errors import StorageError
from snasnet.core.runs import RunDir
from snasnet.network.checkpoint import save_checkpoint
from snasnet.network.model import build_model
from tests.cli_process import DIGITS


def _model():
    return build_model("digits", "0200 0020 0002 0000", celltype="forward", timesteps=2)


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".tmp" in p.name)


def snasnet(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "snasnet_cli", *args], capture_output=True, text=True, env=env)


@pytest.fixture
def tmpfs(tmp_path, request):
    """A small tmpfs of its own (``size`` from the test's ``tmpfs_size`` mark, default 1 MiB), or a skip saying
    why there is none (mounting needs root)."""
    mark = request.node.get_closest_marker("tmpfs_size")
    size = mark.args[0] if mark else "1m"
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip() or 'mount failed'})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> None:
    """Fill the file system of ``folder`` to the last byte (unbuffered writes, ever smaller)."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)


@pytest.mark.tmpfs_size("4m")  # room for one checkpoint (1.5 MB) before the disk is filled
def test_a_full_disk_during_a_checkpoint_save_is_one_error_and_keeps_the_previous_file(tmpfs):
    path = tmpfs / "checkpoints" / "last.pt"
    save_checkpoint(path, _model(), epoch=1)
    before = path.read_bytes()
    _fill(tmpfs)
    with pytest.raises(StorageError) as caught:
        save_checkpoint(path, _model(), epoch=2)
    assert str(caught.value).startswith(f"cannot write {path}: No space left on device")
    assert path.read_bytes() == before
    assert _temporaries(tmpfs) == []


def test_a_full_disk_as_torch_save_reports_it_is_one_error_without_temporaries(tmp_path, monkeypatch):
    """The same where no tmpfs can be mounted: torch.save's wrapped ENOSPC, simulated."""
    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint(path, _model(), epoch=1)
    before = path.read_bytes()

    def full_disk(obj, f):
        f.write(b"partial")
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598") from None

    monkeypatch.setattr(checkpoint_module.torch, "save", full_disk)
    with pytest.raises(StorageError, match="No space left on device"):
        save_checkpoint(path, _model(), epoch=2)
    assert path.read_bytes() == before
    assert _temporaries(tmp_path) == []


@pytest.mark.slow
def test_training_on_a_full_disk_ends_with_one_line_and_no_partial_checkpoint(tmpfs):
    run_dir = tmpfs / "run"  # 1 MiB: room for run.json and the events, not for a 1.5 MB checkpoint
    done = snasnet("train", *DIGITS, "--batch-size", "128", "--epochs", "1", "--workers", "0", "-q",
                   "--run-dir", str(run_dir))  # fmt: skip
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0] and "last.pt" in lines[0], done.stderr
    assert not (run_dir / "checkpoints" / "last.pt").exists()
    assert _temporaries(run_dir) == []
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"


def test_a_read_only_run_directory_is_one_error(tmpfs):
    RunDir.create("search", {}, tmpfs / "run").close()
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    with pytest.raises(StorageError, match=r"cannot use .*run as a run directory: Read-only file system"):
        RunDir.create("search", {}, tmpfs / "run", resume=True)
    with pytest.raises(StorageError, match=r"cannot create run directory .*new: Read-only file system"):
        RunDir.create("search", {}, tmpfs / "new")


def test_a_run_directory_that_is_a_file_is_one_line_from_the_cli(tmp_path):
    (tmp_path / "afile").write_text("notes\n")
    done = snasnet("train", *DIGITS, "--epochs", "1", "--run-dir", str(tmp_path / "afile"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"snasnet: error: run directory {tmp_path / 'afile'} is a file, not a directory: choose another --run-dir"
    ]
    assert (tmp_path / "afile").read_text() == "notes\n"


def test_a_symlink_loop_and_a_directory_under_proc_are_one_error(tmp_path):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(StorageError, match="broken symbolic link or a loop"):
        RunDir.create("train", {}, tmp_path / "loop")
    with pytest.raises(StorageError, match="cannot create run directory /proc/"):
        RunDir.create("train", {}, "/proc/snasnet-run")


def test_export_to_an_existing_directory_is_refused_before_anything_is_written(tmp_path):
    checkpoint = save_checkpoint(tmp_path / "best.pt", _model())
    out = tmp_path / "out"
    out.mkdir()
    done = snasnet("export", "onnx", str(checkpoint), "-o", str(out), "--check-images", "0",
                   "--run-dir", str(tmp_path / "export"))  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"snasnet: error: {out} is a directory: give -o a file to write in it, e.g. {out / 'model.onnx'}"
    ]
    assert list(out.iterdir()) == [] and not (tmp_path / "export").exists()


def test_temporaries_of_a_killed_save_are_removed_when_the_run_is_next_opened(tmp_path):
    run = RunDir.create("train", {}, tmp_path / "run")
    run.close()
    stale = tmp_path / "run" / "checkpoints" / ".best.pt.0a1b2c3d.tmp.pt"
    stale.parent.mkdir()
    stale.write_bytes(b"half a checkpoint")
    (tmp_path / "run" / ".run.json.deadbeef.tmp.json").write_text("{")
    mine = tmp_path / "run" / "notes.tmp"  # not one of ours: kept
    mine.write_text("mine")
    RunDir.create("train", {}, tmp_path / "run", resume=True).close()
    assert _temporaries(tmp_path / "run") == ["notes.tmp"]


def test_a_full_disk_at_the_start_names_the_file_and_leaves_no_run_directory(tmpfs):
    """Issue 24, item 12: the system's "No space left on device" alone, and a directory holding only ``.lock``."""
    _fill(tmpfs)
    with pytest.raises(StorageError) as caught:
        RunDir.create("train", {}, tmpfs / "run")
    assert str(caught.value).startswith(f"cannot write {tmpfs / 'run' / 'run.json'}: No space left on device")
    assert not (tmpfs / "run").exists()


def test_an_energy_report_to_a_folder_that_cannot_be_made_ends_the_run_as_failed(tmp_path):
    """Issue 24, item 12: the folder was made outside the job, so its error left run.json at ``running``."""
    from exporters.jobs import ExportSource, export_energy_job

    checkpoint = save_checkpoint(tmp_path / "best.pt", _model())
    (tmp_path / "afile").write_text("notes\n")
    out = tmp_path / "afile" / "report"  # under a file: as unwritable as a read-only folder
    with pytest.raises(StorageError, match=f"cannot write {out / 'energy.json'}.*: Not a directory"):
        export_energy_job(ExportSource(checkpoint), out, dataset="digits", batches=1, batch_size=8, device="cpu",
                          run_dir=tmp_path / "export")  # fmt: skip
    info = json.loads((tmp_path / "export" / "run.json").read_text())
    assert info["status"] == "failed" and "Not a directory" in info["error"]


def test_an_energy_report_to_a_read_only_folder_ends_the_run_as_failed(tmpfs, tmp_path):
    from exporters.jobs import ExportSource, export_energy_job

    checkpoint = save_checkpoint(tmp_path / "best.pt", _model())
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    with pytest.raises(StorageError, match="Read-only file system"):
        export_energy_job(ExportSource(checkpoint), tmpfs / "report", dataset="digits", batches=1, batch_size=8,
                          device="cpu", run_dir=tmp_path / "export")  # fmt: skip
    assert json.loads((tmp_path / "export" / "run.json").read_text())["status"] == "failed"
