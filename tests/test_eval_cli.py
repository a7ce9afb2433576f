"""`snasnet eval`: the original's checkpoints on a CIFAR-10 folder read by torchvision's loader, ours with
nothing but the file; figures checked against a hand-run of the network; one clear line for every bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from dataset_files import skip_cifar_md5, write_cifar10
from helpers import lively_weights

from snasnet.core.runs import EventReader
from snasnet.network.checkpoint import save_checkpoint
from snasnet.network.model import build_model
from snasnet_cli.app import main

ARCH = "0302 0030 3003 0000"
CIFAR10_MEAN = np.array([0.4913, 0.4821, 0.4465])
CIFAR10_STD = np.array([0.2470, 0.2434, 0.2615])


def snasnet_eval(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(["eval", *args])
    out, err = capsys.readouterr()
    return done.value.code, out, err


@pytest.fixture
def original_checkpoint(tmp_path):
    """The original's layout: ``{"state_dict": ...}`` of the CIFAR-10 network, narrowed to 32 channels so the
    test runs in seconds (the width is read from the file, as for the original's CIFAR-10 files)."""
    model = lively_weights(build_model("cifar10", ARCH, channels=32), seed=4).eval()
    path = tmp_path / "save_cifar10_bw.pth.tar"
    torch.save({"state_dict": model.state_dict(), "epoch": 300}, path)
    return path, model


@pytest.fixture
def our_checkpoint(tmp_path):
    model = lively_weights(build_model("digits", ARCH), seed=2).eval()
    path = save_checkpoint(tmp_path / "best.pt", model, train_config={"dataset": "digits"})
    return path, model


def test_an_original_checkpoint_on_a_cifar10_folder_read_by_torchvision(
    tmp_path, monkeypatch, capsys, original_checkpoint
):
    raw = write_cifar10(tmp_path / "data")
    skip_cifar_md5(monkeypatch)
    path, model = original_checkpoint
    code, out, err = snasnet_eval(
        capsys,
        str(path),
        "--arch",
        *ARCH.split(),  # as the original's command line writes it
        "--dataset",
        "cifar10",
        "--celltype",
        "backward",
        "--second-avgpooling",
        "2",
        "--data-dir",
        str(tmp_path / "data"),
        "--json",
        "--run-dir",
        str(tmp_path / "eval"),
    )
    assert code == 0, err
    report = json.loads(out)

    # the same network by hand on the same images, normalised by hand
    x = (raw["images"] / 255.0 - CIFAR10_MEAN) / CIFAR10_STD
    x = torch.tensor(x, dtype=torch.float32).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor(raw["labels"])
    with torch.no_grad():
        scores = model(x)
    assert scores.std(0).mean() > 0.01  # the network's outputs depend on the image: the check means something
    top1 = (scores.argmax(1) == labels).float().mean().item()
    top5 = (scores.topk(5, 1).indices == labels[:, None]).any(1).float().mean().item()
    assert report["images"] == 16
    assert report["top1"] == pytest.approx(top1, abs=1e-9) and report["top5"] == pytest.approx(top5, abs=1e-9)
    assert report["loss"] == pytest.approx(F.cross_entropy(scores, labels).item(), rel=1e-4)
    layers = [name for name, _ in model.lif_layers()]
    assert list(report["firing_rates"]) == layers
    assert report["total_spikes_per_image"] == pytest.approx(sum(report["spikes_per_image"].values()))
    assert 0 < report["mean_firing_rate"] < 1

    finished = [e for e in EventReader(tmp_path / "eval" / "events.jsonl").read_new() if e["event"] != "run_started"]
    assert [e["event"] for e in finished] == ["eval_finished", "run_finished"]
    assert finished[0]["top1"] == report["top1"] and finished[0]["dataset"] == "cifar10"
    assert finished[0]["checkpoint"] == str(path) and finished[0]["images"] == 16


def test_our_checkpoint_needs_nothing_else_and_prints_a_table(tmp_path, capsys, our_checkpoint):
    path, model = our_checkpoint
    code, table, err = snasnet_eval(capsys, str(path), "--run-dir", str(tmp_path / "eval"))
    assert code == 0, err
    assert "360 test images" in table and "top-5" in table and "spikes per image" in table
    # issue 28: layers by their cell edge (module order: forward_slots / backward_slots), not by module path
    for label in ("cell1 0->1 conv3x3", "cell1 0->3 conv1x1", "cell2 2->0 conv3x3 feedback", "downconv1.1"):
        assert label in table, label
    assert "cell_architecture" not in table
    code, out, _ = snasnet_eval(capsys, str(path), "--json", "--run-dir", str(tmp_path / "eval2"))
    report = json.loads(out)
    assert report["images"] == 360 and 0 < report["top1"] <= report["top5"] <= 1
    assert report["layer_labels"]["cell1.cell_architecture_back.1.0"] == "cell1 2->0 conv3x3 feedback"
    assert set(report["layer_labels"]) == {name for name, _ in model.lif_layers()}
    assert re.search(rf"top-1 \(fp32\)\W+{100 * report['top1']:.2f}%", table), table
    assert f"{report['total_spikes_per_image']:,.1f}" in table


def test_quiet_drops_the_progress_not_the_result(tmp_path, capsys, our_checkpoint):
    path, _ = our_checkpoint
    code, out, err = snasnet_eval(capsys, str(path), "--quiet", "--run-dir", str(tmp_path / "eval"))
    assert code == 0, err
    assert "360 test images" in out and re.search(r"top-1 \(fp32\)\W+\d+\.\d\d%", out), out
    assert err == ""


class NotAWeight:
    """An arbitrary object: a checkpoint holding it is refused, never unpickled."""


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing dataset", "CIFAR-10 not found: looked for"),
        ("truncated", "is not a readable PyTorch checkpoint (truncated, or another kind of file)"),
        ("random file", "is not a PyTorch checkpoint"),
        ("ours, another architecture", "holds architecture 0302 0030 3003 0000 (backward), not 0300 0030 3003 0000"),
        ("original, another architecture", "does not fit architecture 0302 0030 3003 0000"),
        ("original, no architecture", "is an original SNASNet checkpoint, which does not record its network"),
        ("ours, no training record", "records its network but not the dataset it was trained on: give it with"),
        ("python objects", "refusing to unpickle them"),
        ("other images", "holds a network for 1x8x8 images and 10 classes; dataset synthetic has 3x32x32"),
        ("missing file", "checkpoint not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, our_checkpoint, case, message):
    monkeypatch.chdir(tmp_path)
    ours, _ = our_checkpoint
    original = tmp_path / "original.pth"
    torch.save({"state_dict": build_model("cifar10", "0300 0030 3003 0000", channels=8).state_dict()}, original)
    cifar = ["--dataset", "cifar10", "--data-dir", str(tmp_path / "nowhere")]
    if case == "missing dataset":
        args = [str(original), "--arch", "0300", "0030", "3003", "0000", *cifar]
    elif case == "truncated":
        (tmp_path / "cut.pt").write_bytes(ours.read_bytes()[:2000])
        args = [str(tmp_path / "cut.pt")]
    elif case == "random file":
        (tmp_path / "noise.pt").write_bytes(np.random.default_rng(0).bytes(4096))
        args = [str(tmp_path / "noise.pt")]
    elif case == "ours, another architecture":
        args = [str(ours), "--arch", "0300 0030 3003 0000"]
    elif case == "original, another architecture":
        write_cifar10(tmp_path / "data")
        skip_cifar_md5(monkeypatch)
        args = [str(original), "--arch", ARCH, "--dataset", "cifar10", "--data-dir", str(tmp_path / "data")]
    elif case == "original, no architecture":
        args = [str(original)]
    elif case == "ours, no training record":  # written by save_checkpoint, not by a training run
        args = [str(save_checkpoint(tmp_path / "bare.pt", build_model("digits", ARCH, channels=8)))]
    elif case == "python objects":
        torch.save({"state_dict": {}, "hook": NotAWeight()}, tmp_path / "evil.pt")
        args = [str(tmp_path / "evil.pt")]
    elif case == "other images":
        args = [str(ours), "--dataset", "synthetic"]
    else:
        args = [str(tmp_path / "absent.pt")]
    code, out, err = snasnet_eval(capsys, *args)
    assert code == 2 and err.count("\n") == 1 and err.startswith("snasnet: error: "), err
    assert message in err
    assert not (tmp_path / "runs").exists()  # no run directory for a job that could not start


def test_the_installed_command_prints_no_traceback(tmp_path):
    (tmp_path / "cut.pt").write_bytes(b"PK\x03\x04" + bytes(100))
    result = subprocess.run(
        [sys.executable, "-m", "snasnet_cli", "eval", str(tmp_path / "cut.pt")], capture_output=True, text=True
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("snasnet: error: ") and result.stderr.count("\n") == 1


def test_sigterm_during_an_evaluation_records_cancelled(tmp_path, our_checkpoint):
    """SIGTERM (what `timeout`, a scheduler or the dashboard sends) used to kill eval with run.json at running."""
    ours, _ = our_checkpoint
    run = tmp_path / "run"
    code = (
        "import os, signal, time\n"
        "import snasnet.train.evaluate as ev\n"
        "def terminated(*args, **kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(30)\n"
        "ev.evaluate = terminated\n"
        "from snasnet_cli.app import main\n"
        f"main(['eval', {str(ours)!r}, '--run-dir', {str(run)!r}, '--quiet'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 130, (done.returncode, done.stderr)
    assert json.loads((run / "run.json").read_text())["status"] == "cancelled"
    assert EventReader(run / "events.jsonl").read_new()[-1]["event"] == "run_finished"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("missing key", ": incomplete model configuration ('timesteps')"),
        ("timesteps five", ": malformed model configuration (invalid literal for int() with base 10: 'five')"),
        ("timesteps 10**9", ": timesteps must be at most 10,000 (got 1,000,000,000)"),
        ("not an object", " has no model configuration: it is damaged, or was not written by snasnet"),
    ],
)
def test_a_checkpoint_whose_model_config_is_damaged_is_one_line_naming_it(capsys, our_checkpoint, tmp_path, damage,
                                                                         message):  # fmt: skip
    """Issue 24, item 10: each was a traceback (KeyError, ValueError, a network of 10**9 steps being built)."""
    ours, _ = our_checkpoint
    data = torch.load(ours, weights_only=True)
    config = data["model_config"]
    if damage == "missing key":
        del config["timesteps"]
    elif damage == "timesteps five":
        config["timesteps"] = "five"
    elif damage == "timesteps 10**9":
        config["timesteps"] = 10**9
    else:
        data["model_config"] = ["digits"]
    damaged = tmp_path / "damaged.pt"
    torch.save(data, damaged)
    code, _, err = snasnet_eval(capsys, str(damaged), "--run-dir", str(tmp_path / "run"))
    assert code == 2 and err == f"snasnet: error: {damaged}{message}\n", err
    assert not (tmp_path / "run").exists()


def test_eval_with_a_cell_of_the_other_type_says_which_cell_the_checkpoint_holds(capsys, tmp_path):
    """Issue 24, item 13: a backward cell given for a forward checkpoint was read as a malformed forward cell
    ("backward edge ... in a forward cell")."""
    forward = save_checkpoint(tmp_path / "fw.pt", build_model("digits", "0200 0020 0002 0000", celltype="forward"),
                              train_config={"dataset": "digits"})  # fmt: skip
    code, _, err = snasnet_eval(capsys, str(forward), "--arch", ARCH, "--run-dir", str(tmp_path / "run"))
    assert code == 2 and err == (
        f"snasnet: error: {forward} holds architecture 0200 0020 0002 0000 (forward), not {ARCH} (backward); leave "
        "the architecture out to use the checkpoint's\n"
    )


@pytest.mark.parametrize("timesteps", ["0", "-2"])
def test_timesteps_below_1_are_refused(capsys, our_checkpoint, timesteps, tmp_path):
    ours, _ = our_checkpoint
    code, _, err = snasnet_eval(capsys, str(ours), "--timesteps", timesteps, "--run-dir", str(tmp_path / "run"))
    assert code == 2 and err.count("\n") == 1, err
    assert f"timesteps must be a positive integer (got {timesteps})" in err
    assert not (tmp_path / "run").exists()
