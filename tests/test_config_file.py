"""`--config FILE.yaml` and the `config.yaml` every run writes: a run is repeated from its own file, bit for bit on
a CPU; flags override the file; a key that is not a setting is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from helpers import lively_weights, run_cli

from snasnet.core.config_file import read_config_file, write_config_file
from snasnet.core.errors import ConfigError
from snasnet.core.runs import RunDir

pytestmark = pytest.mark.usefixtures("one_thread")


def settings(run_dir: Path) -> dict:
    """A run's config.yaml, as --config reads it."""
    return read_config_file(run_dir / "config.yaml")


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- the library: the file ---------------------------------------------------------------------------------
def test_a_written_config_reads_back_with_its_values_and_types(tmp_path):
    config = {"dataset": "digits", "lr": 0.0005, "arch": "0302 0030 3003 0000", "objectives": ["sahd", "sops"],
              "dataset_options": {"shift": 1}, "data_dir": None, "download": False, "max_sops": 1.5e6}  # fmt: skip
    path = write_config_file(tmp_path / "config.yaml", config, "train")
    assert read_config_file(path) == config
    text = path.read_text()
    assert text.startswith("# ") and "snasnet train --config" in text  # how to use it, as a comment
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]  # written atomically: no temporary left


def test_every_run_directory_gets_the_configuration_of_its_run_json(tmp_path):
    run = RunDir.create("search", {"num_search": 3, "objectives": ("sahd", "sops"), "lr": float("inf")}, tmp_path / "r")
    run.close()
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    assert settings(tmp_path / "r") == info["config"] == {"num_search": 3, "objectives": ["sahd", "sops"], "lr": None}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epochs: [1\n", "is not valid YAML (line 2, column 1)"),
        ("- 1\n- 2\n", "must hold option names and values (key: value lines), not a list"),
    ],
)
def test_a_file_that_is_not_settings_is_one_line(tmp_path, text, message):
    with pytest.raises(ConfigError, match=r"config\.yaml " + message.replace("(", r"\(").replace(")", r"\)")):
        read_config_file(write_yaml(tmp_path / "config.yaml", text))


# --- the command line ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("command", "text", "message"),
    [
        (["train"], "learning_rate: 0.1\n", "unknown key 'learning_rate' in {file}: valid keys are "),
        (["search"], "epochs: 3\nnum_search: 4\n", "unknown key 'epochs' in {file}: valid keys are "),
        (["eval", "x.pt"], "num_search: 4\n", "unknown key 'num_search' in {file}: valid keys are "),
        (["export", "onnx", "x.pt"], "format: nir\n", "{file} holds the settings of format 'nir', not 'onnx'"),
        (["train"], "epochs: [1\n", "{file} is not valid YAML"),
    ],
)
def test_a_bad_config_file_is_one_line_and_exit_2(tmp_path, capsys, command, text, message):
    path = write_yaml(tmp_path / "bad.yaml", text)
    code, _, err = run_cli(capsys, *command, "--config", path, "--run-dir", tmp_path / "run")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert message.format(file=path) in err
    if "valid keys" in message:  # the valid keys are named: the options and the configuration's fields
        valid = err.split("valid keys are ")[1]
        expected = {
            "train": ("lr", "epochs", "eval_batch_size", "dataset_options"),
            "search": ("num_search", "objectives"),
        }
        for key in expected.get(command[0], ("checkpoint", "batch_size")):
            assert key in valid.replace(",", " ").split(), (key, valid)
    assert not (tmp_path / "run").exists()


def test_a_missing_config_file_is_one_line(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", "--config", tmp_path / "nope.yaml")
    assert code == 2 and err.strip() == f"snasnet: error: config file not found: {tmp_path / 'nope.yaml'}"


@pytest.fixture
def captured_train(monkeypatch):
    """`snasnet train` up to the training: the TrainConfig it would train with (no training)."""
    import snasnet.train.job

    seen = {}

    def fit(config, run_dir, **kwargs):
        seen["config"] = config
        raise SystemExit(0)

    monkeypatch.setattr(snasnet.train.job, "fit", fit)
    return seen


def test_flags_override_the_file_and_a_cell_on_the_command_line_replaces_the_files(tmp_path, capsys, captured_train):
    path = write_yaml(
        tmp_path / "my.yaml",
        "dataset: digits\nepochs: 7\nlr: 0.004\nbatch-size: 48\narch: 0342 0000 0003 0000\ncelltype: forward\n"
        "second_avgpooling: 1\neval_batch_size: 100\ndataset_options: {shift: 2}\nworkers: null\n",
    )
    code, _, err = run_cli(capsys, "train", "--config", path, "--epochs", "2", "--image-size", "8", "--quiet")
    assert code == 0, err
    c = captured_train["config"]
    assert (c.epochs, c.lr, c.batch_size, c.dataset) == (2, 0.004, 48, "digits")  # the flag, then the file
    assert (c.arch, c.celltype, c.second_avgpooling) == ("0342 0000 0003 0000", "forward", 1)
    assert c.eval_batch_size == 100  # a setting without a flag reaches the configuration
    assert c.dataset_options == {"shift": 2, "image_size": 8}  # the file's options with the flag's added
    assert c.workers is None and c.optimizer == "adam"  # null: the default (digits': adam)

    # a named network on the command line replaces the file's cell, its cell type and its pooling
    code, _, err = run_cli(capsys, "train", "--config", path, "--model", "snasnet-cifar10-bw", "--quiet")
    assert code == 0, err
    c = captured_train["config"]
    assert (c.model, c.arch, c.celltype, c.second_avgpooling) == (
        "snasnet-cifar10-bw",
        "0303 0030 2002 0200",
        "backward",
        4,
    )
    assert (c.dataset, c.epochs) == ("digits", 7)  # the file still sets the rest


def test_a_search_reads_lists_and_options_without_flags(tmp_path, capsys, monkeypatch):
    import snasnet.search.job

    seen = {}
    monkeypatch.setattr(snasnet.search.job, "run_search", lambda config, *a, **k: seen.setdefault("c", config) and None)
    path = write_yaml(
        tmp_path / "s.yaml",
        "dataset: digits\nobjectives: [hamming, sops]\nmax-sops: 2.0e+5\nnum_search: 9\nmodel_options: {channels: 8}\n",
    )
    code, _, err = run_cli(capsys, "search", "--config", path, "-n", "4", "--quiet")
    assert code == 0, err
    c = seen["c"]
    assert (c.num_search, c.objectives, c.score, c.max_sops) == (4, ("hamming", "sops"), "hamming", 2.0e5)
    assert c.model_options == {"channels": 8}


@pytest.mark.slow
def test_a_search_repeats_from_its_config_yaml(tmp_path, capsys):
    args = ["--dataset", "digits", "-n", "3", "--batch-size", "16", "--repeat", "1", "--timesteps", "2"]
    code, _, err = run_cli(capsys, "search", *args, "--seed", "4", "--device", "cpu", "--run-dir", tmp_path / "a", "-q")
    assert code == 0, err
    code, _, err = run_cli(
        capsys, "search", "--config", tmp_path / "a" / "config.yaml", "--run-dir", tmp_path / "b", "-q"
    )
    assert code == 0, err
    assert (tmp_path / "a" / "candidates.csv").read_text() != ""
    rows = [(tmp_path / d / "candidates.csv").read_text().splitlines() for d in "ab"]
    strip = [[",".join(r.split(",")[:5]) for r in rows_] for rows_ in rows]  # index, rank, score, arch, celltype
    assert strip[0] == strip[1]
    assert settings(tmp_path / "a") == settings(tmp_path / "b")


def test_a_training_repeats_from_its_config_yaml_to_the_same_weights(tmp_path, capsys):
    """A hand-written file and flags make run A; A's config.yaml alone makes run B: the same settings and, on
    the same CPU, the same weights bit for bit."""
    path = write_yaml(
        tmp_path / "digits.yaml",
        "dataset: digits\nepochs: 3\nlr: 0.004\nbatch_size: 128\ntimesteps: 2\ndevice: cpu\nseed: 5\n",
    )
    a, b = tmp_path / "a", tmp_path / "b"
    code, _, err = run_cli(capsys, "train", "--config", path, "--epochs", "1", "--seed", "2", "--run-dir", a, "-q")
    assert code == 0, err
    resolved = settings(a)
    assert (resolved["epochs"], resolved["seed"], resolved["lr"], resolved["batch_size"]) == (1, 2, 0.004, 128)
    assert resolved["dataset_options"] == {"shift": 1} and resolved["optimizer"] == "adam"  # digits' defaults
    assert resolved == json.loads((a / "run.json").read_text())["config"]

    code, _, err = run_cli(capsys, "train", "--config", a / "config.yaml", "--run-dir", b, "-q")
    assert code == 0, err
    assert settings(b) == resolved
    first, second = (torch.load(d / "checkpoints" / "last.pt", weights_only=True) for d in (a, b))
    assert first["state_dict"].keys() == second["state_dict"].keys()
    for key, tensor in first["state_dict"].items():
        assert torch.equal(tensor, second["state_dict"][key]), f"{key} differs"
    assert first["state_dict"]["classifier.1.weight"].abs().sum() > 0


def test_an_eval_repeats_from_its_config_yaml(tmp_path, capsys):
    from snasnet.network.checkpoint import save_checkpoint
    from snasnet.network.model import build_model

    model = lively_weights(build_model("digits", "0302 0030 3003 0000", timesteps=2), seed=2).eval()
    checkpoint = save_checkpoint(tmp_path / "best.pt", model, train_config={"dataset": "digits"})
    code, first, err = run_cli(capsys, "eval", checkpoint, "--batch-size", "90", "--json", "--run-dir", tmp_path / "e1")
    assert code == 0, err
    assert settings(tmp_path / "e1")["batch_size"] == 90
    code, again, err = run_cli(capsys, "eval", "--config", tmp_path / "e1" / "config.yaml", "--json",
                               "--run-dir", tmp_path / "e2")  # fmt: skip
    assert code == 0, err
    assert json.loads(again) == json.loads(first)
    assert yaml.safe_load((tmp_path / "e2" / "config.yaml").read_text())["checkpoint"] == str(checkpoint)
