"""README's "From Python" example runs as written: the public API and the old module paths it imports
(``snasnet.search``, ``snasnet.spikes``, ``snasnet.train``) survive the package layout.

The fast test runs every line but stands in for the three jobs at the end (a search, a training of 25 epochs
and an ONNX export take minutes on two cores) and checks what they are given; ``-m slow`` runs them too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from golden_weights import make_state_dict

ROOT = Path(__file__).resolve().parents[1]
ORIGINAL_CHECKPOINT = "save_cifar100_bw.pth.tar"  # the file the example loads


def readme_example() -> str:
    section = (ROOT / "README.md").read_text().split("## From Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, f"README's From Python section has {len(blocks)} python blocks, expected 1"
    return blocks[0]


@pytest.fixture
def example_dir(tmp_path, monkeypatch, golden_dir) -> Path:
    """A working directory holding the original-layout checkpoint the example loads (the golden weights)."""
    layout = json.loads((golden_dir / "cifar100_bw.layout.json").read_text())
    torch.save({"state_dict": make_state_dict(layout)}, tmp_path / ORIGINAL_CHECKPOINT)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_example() -> dict:
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(readme_example(), "README.md (From Python)", "exec"), namespace)
    return namespace


def test_the_example_runs_with_its_jobs_stood_in_for(example_dir, monkeypatch):
    import exporters.jobs
    import snasnet.search
    import snasnet.train

    calls = {}

    def record(name):
        def job(*args, **kwargs):
            calls[name] = (args, kwargs)
            return name

        return job

    # the example imports these names from the packages, so it gets the stand-ins
    monkeypatch.setattr(snasnet.search, "run_search", record("run_search"))
    monkeypatch.setattr(snasnet.train, "fit", record("fit"))
    monkeypatch.setattr(exporters.jobs, "export_onnx_job", record("export_onnx_job"))
    namespace = run_example()

    assert namespace["scores"].shape == (8, 100)
    assert namespace["monitor"].firing_rates(), "the SpikeMonitor saw no LIF layer fire"
    loaded = namespace["model"]
    assert str(loaded.arch) == "0302 0030 3003 0000" and loaded.preset.name == "cifar100"
    original = torch.load(ORIGINAL_CHECKPOINT, weights_only=True)["state_dict"]
    assert torch.equal(loaded.state_dict()["stem.0.weight"], original["stem.0.weight"])
    (config, run_dir), _ = calls["run_search"]
    assert isinstance(config, namespace["SearchConfig"]) and config.dataset == "digits" and run_dir == "runs/s"
    (config,), kwargs = calls["fit"]
    assert config.dataset == "digits" and kwargs == {"run_dir": "runs/t"}
    (source,), kwargs = calls["export_onnx_job"]
    assert str(source.checkpoint) == "runs/t/checkpoints/best.pt" and kwargs == {"dataset": "digits"}


@pytest.mark.slow
def test_the_example_runs_as_written(example_dir):
    namespace = run_example()  # the export job raises when onnxruntime does not reproduce the model
    assert namespace["search"].ranking and (example_dir / "runs" / "s" / "best_arch.json").is_file()
    assert namespace["trained"].best_acc > 0.5  # ten digits: far above chance
    assert list((example_dir / "runs").rglob("model.onnx")), "the export wrote no model.onnx"
