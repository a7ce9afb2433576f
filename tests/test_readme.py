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


# --- what a newcomer reads first (issue 28) -----------------------------------------------------------------------
def readme() -> str:
    return (ROOT / "README.md").read_text()


def test_the_quickstart_installs_what_running_needs_and_the_test_command_the_dev_extra():
    quickstart = readme().split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)\n```", quickstart, re.S)
    assert len(commands) == 2, commands
    first, tests = commands
    assert "pip install -e . &&" in first and "[dev]" not in first, first
    assert "pip install -e '.[dev]'" in tests and "pytest" in tests, tests


def test_the_cell_notation_is_explained_before_it_is_used():
    text = readme()
    explained = text.index("## Cells")
    first_use = re.search(r"\b[0-4]{4} [0-4]{4} [0-4]{4} [0-4]{4}\b", text).start()
    assert explained < first_use, "README writes a cell (0302 0030 3003 0000) before saying how to read one"
    cells = text[explained:].split("\n## ", 1)[0]
    for meaning in ("row `i`, column `j`", "`0` no edge", "`1` skip", "`2` LIF -> conv1x1", "conv3x3", "`4` avgpool"):
        assert meaning in " ".join(cells.split()), meaning


def test_the_python_example_names_where_the_original_checkpoint_comes_from():
    lines = readme_example().splitlines()
    load = next(i for i, line in enumerate(lines) if ORIGINAL_CHECKPOINT in line)
    comments = " ".join(line for line in lines[max(0, load - 4) : load] if line.lstrip().startswith("#"))
    assert re.search(r"https://\S+", comments), f"nothing before line {load + 1} of the example says where the file is"
