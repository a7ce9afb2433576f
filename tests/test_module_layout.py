"""Each concept in its file: precision and autocast in ``snasnet.train.precision``, device placement in
``snasnet.core.device``, a search's ``best_arch.json`` in ``snasnet.network.arch_file`` (one ``BEST_ARCH``), the parity
reference ``torch_scores`` in ``exporters.parity`` (both exporters' checks use it), and ``snasnet.train.job`` the job
alone while ``snasnet.train`` still offers the public API README's example imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def defined_names(path: Path) -> set[str]:
    """Names a module defines itself (functions, classes, assignments), not the ones it imports."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def test_one_best_arch_constant_in_the_package_next_to_the_reader_of_the_file():
    owners = sorted(p.name for p in (ROOT / "snasnet").rglob("*.py") if "BEST_ARCH" in defined_names(p))
    assert owners == ["arch_file.py"]
    assert "read_arch_file" in defined_names(ROOT / "snasnet" / "network" / "arch_file.py")
    assert "read_arch_file" not in defined_names(ROOT / "snasnet" / "train" / "job.py")


def test_precision_and_device_placement_live_in_their_own_modules():
    evaluate = defined_names(ROOT / "snasnet" / "train" / "evaluate.py")
    assert not evaluate & {"autocast", "resolve_precision", "PRECISIONS", "to_device"}
    assert {"autocast", "PRECISIONS"} <= defined_names(ROOT / "snasnet" / "train" / "precision.py")
    assert "to_device" in defined_names(ROOT / "snasnet" / "core" / "device.py")


def test_torch_scores_is_in_the_parity_module_both_exporters_use():
    assert "torch_scores" in defined_names(ROOT / "exporters" / "parity.py")
    assert "torch_scores" not in defined_names(ROOT / "exporters" / "onnx.py")


def test_train_is_the_job_and_still_offers_the_public_api():
    train = defined_names(ROOT / "snasnet" / "train" / "job.py")
    assert not train & {"TrainConfig", "Trainer", "EpochSampler", "OPTIMIZERS", "SCHEDULERS", "read_arch_file"}
    code = "from snasnet.train import DATASET_DEFAULTS, TrainConfig, TrainResult, fit, resume, train_config"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_registries_the_command_line_lists_load_without_torch():
    code = (
        "import sys, snasnet.train.optimizers, snasnet.train.schedulers, snasnet.train.precision\n"
        "import snasnet.network.arch_file\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_module_paths_from_before_the_packages_still_offer_their_names():
    code = (
        "import snasnet, snasnet.search, snasnet.train, snasnet.data, snasnet.model, snasnet.spikes\n"
        "import snasnet.network.model, snasnet.measure.spikes\n"
        "for package in (snasnet, snasnet.search, snasnet.train, snasnet.data, snasnet.model, snasnet.spikes):\n"
        "    missing = [n for n in package.__all__ if not hasattr(package, n)]\n"
        "    assert not missing, (package.__name__, missing)\n"
        "from snasnet.model import SNASNet, build_model, model_from_config\n"
        "from snasnet.spikes import SpikeMonitor\n"
        "from snasnet.search import SearchConfig, resume_config, run_search, score_candidate, scoring_batches\n"
        "from snasnet.data import DATASETS, DataBundle, get_dataset, list_datasets\n"
        "assert build_model is snasnet.network.model.build_model is snasnet.build_model\n"
        "assert SpikeMonitor is snasnet.measure.spikes.SpikeMonitor\n"
        "assert run_search is snasnet.search.job.run_search and snasnet.train.fit is snasnet.train.job.fit\n"
        "assert 'digits-dvs' in list_datasets()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
