"""Atomic writes: a file appears whole or not at all, with the mode the umask gives, and every product of every
job (search, train, export onnx|energy|nir) is written that way."""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import lively_weights

import snasnet.core.atomic as atomic
from snasnet.core.atomic import atomic_file, atomic_path, write_text
from snasnet.core.run_lock import LOCK


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_failure_mid_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_text(tmp_path / "energy.csv", "old\n")
    with pytest.raises(RuntimeError), atomic_file(path) as f:
        f.write("half a ne")
        f.flush()
        raise RuntimeError("disk full")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["energy.csv"]


def test_a_failing_path_writer_leaves_nothing_behind(tmp_path):
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "sub" / "model.onnx") as tmp:
        tmp.write_bytes(b"partial")
        raise KeyboardInterrupt
    assert list((tmp_path / "sub").iterdir()) == []


def test_the_temporary_keeps_the_suffix_and_the_new_content_replaces_the_old(tmp_path):
    path = write_text(tmp_path / "energy.png", "old")
    with atomic_path(path) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".png" and tmp.name.startswith(".")
        tmp.write_text("new")
    assert path.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["energy.png"]


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_the_file_mode_follows_the_umask(tmp_path, mask, expected):
    with umask(mask):
        assert mode(write_text(tmp_path / "run.json", "{}")) == expected
        with atomic_path(tmp_path / "model.nir") as tmp:
            tmp.write_bytes(b"x")
    assert mode(tmp_path / "model.nir") == expected


def test_a_checkpoint_is_readable_by_others_when_the_umask_allows(tmp_path):
    from snasnet.network.checkpoint import save_checkpoint
    from snasnet.network.model import build_model

    with umask(0o022):
        path = save_checkpoint(tmp_path / "last.pt", build_model("digits", "0302 0030 3003 0000"))
    assert mode(path) == 0o644, oct(mode(path))


@pytest.mark.slow
def test_every_product_of_every_job_is_written_atomically_with_the_umasks_mode(tmp_path, monkeypatch):
    """Each file a job leaves in its run directory (events.jsonl and .lock aside: a stream and a lock) went through
    ``snasnet.core.atomic``, and has mode 0o666 less the umask."""
    from exporters.jobs import ExportSource, export_energy_job, export_nir_job, export_onnx_job
    from snasnet.network.checkpoint import save_checkpoint
    from snasnet.network.model import build_model
    from snasnet.search.job import SearchConfig, run_search
    from snasnet.train.job import fit, train_config

    written: list[Path] = []
    create = atomic._create_temp

    def recording(path: Path) -> Path:
        written.append(Path(path))
        return create(path)

    monkeypatch.setattr(atomic, "_create_temp", recording)
    small = {"train_size": 32, "test_size": 16, "in_channels": 1, "image_size": 8, "preset": "digits"}
    with umask(0o027):
        run_search(SearchConfig(dataset="digits", num_search=2, batch_size=16, device="cpu"), tmp_path / "search")
        fit(
            train_config("synthetic", dataset_options=small, epochs=1, batch_size=16, val_interval=1, device="cpu"),
            tmp_path / "train",
        )
        ckpt = save_checkpoint(tmp_path / "digits.pt", lively_weights(build_model("digits", "0302 0030 3003 0000"), 1))
        source = ExportSource(ckpt)
        export_onnx_job(source, images=8, run_dir=tmp_path / "onnx")
        export_energy_job(source, batches=1, batch_size=8, run_dir=tmp_path / "energy")
        export_nir_job(source, images=0, run_dir=tmp_path / "nir")
    # events.jsonl is appended to; .lock is the owner's lock file (snasnet.core.run_lock), not a product
    products = sorted(p for p in tmp_path.rglob("*") if p.is_file() and p.name not in ("events.jsonl", LOCK))
    names = {p.relative_to(tmp_path).as_posix() for p in products}
    for expected in ("search/candidates.csv", "search/best_arch.json", "train/checkpoints/last.pt",
                     "train/checkpoints/best.pt", "onnx/model.onnx", "energy/energy.json", "energy/energy.csv",
                     "energy/energy.png", "nir/model.nir", "nir/run.json"):  # fmt: skip
        assert expected in names, f"{expected} not written: {sorted(names)}"
    not_atomic = [p.relative_to(tmp_path).as_posix() for p in products if p not in set(written)]
    assert not not_atomic, f"written without snasnet.core.atomic: {not_atomic}"
    wrong_mode = {p.relative_to(tmp_path).as_posix(): oct(mode(p)) for p in products if mode(p) != 0o640}
    assert not wrong_mode, f"mode other than 0o640 under umask 0o027: {wrong_mode}"
