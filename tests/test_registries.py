"""Where variation lives: optimizers, schedulers, surrogates, ONNX modes and exporters, and precisions are
``snasnet.core.registry.Registry`` instances that answer an unknown name with one line listing the known ones, and
the command line's help texts list exactly the names registered when it runs."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from exporters.onnx import EXPORTERS, MODES, export_onnx
from snasnet.core.errors import ConfigError
from snasnet.core.registry import Registry
from snasnet.data.datasets import DATASETS
from snasnet.network.model import build_model
from snasnet.network.neuron import SURROGATES, LIFConfig
from snasnet.search.score import SCORES
from snasnet.search.strategies import STRATEGIES
from snasnet.train.job import TrainConfig
from snasnet.train.optimizers import OPTIMIZERS, Optimizer
from snasnet.train.precision import PRECISIONS
from snasnet.train.schedulers import SCHEDULERS
from snasnet_cli.app import app

REGISTRIES = {
    "optimizer": (OPTIMIZERS, ["sgd", "adam"]),
    "scheduler": (SCHEDULERS, ["cosine", "step"]),
    "surrogate": (SURROGATES, ["atan", "sigmoid"]),
    "ONNX mode": (MODES, ["unrolled", "step"]),
    "ONNX exporter": (EXPORTERS, ["dynamo", "torchscript"]),
    "precision": (PRECISIONS, ["fp32", "bf16"]),
}


@pytest.mark.parametrize("kind", REGISTRIES)
def test_each_variation_is_a_registry_with_its_one_line_error(kind):
    registry, names = REGISTRIES[kind]
    assert isinstance(registry, Registry) and registry.names() == names
    with pytest.raises(ConfigError, match=f"^unknown {kind} 'nope': choose one of {', '.join(names)}$"):
        registry.get("nope")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TrainConfig(optimizer="lamb"), "unknown optimizer 'lamb': choose one of sgd, adam"),
        (lambda: TrainConfig(scheduler="linear"), "unknown scheduler 'linear': choose one of cosine, step"),
        (lambda: TrainConfig(precision="fp16"), "unknown precision 'fp16': choose one of fp32, bf16"),
        (lambda: TrainConfig(train_precision="fp16"), "unknown precision 'fp16': choose one of fp32, bf16, or auto"),
        (lambda: LIFConfig(surrogate="relu"), "unknown surrogate 'relu': choose one of atan, sigmoid"),
        (
            lambda: export_onnx(build_model("digits", "0302 0030 3003 0000"), "x.onnx", mode="stream"),
            "unknown ONNX mode 'stream': choose one of unrolled, step",
        ),
    ],
)
def test_a_library_call_with_an_unknown_name_gets_the_registrys_line(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_an_optimizer_brings_its_own_learning_rate_and_a_registered_one_trains():
    OPTIMIZERS.add("test-rmsprop", Optimizer(lambda p, c: torch.optim.RMSprop(p, lr=c.lr), lr=0.02))
    try:
        from snasnet.train.job import train_config

        config = train_config("cifar10", optimizer="test-rmsprop")
        assert config.lr == 0.02
        assert isinstance(
            OPTIMIZERS.get(config.optimizer)([torch.nn.Parameter(torch.zeros(1))], config), torch.optim.RMSprop
        )
    finally:
        del OPTIMIZERS._entries["test-rmsprop"]


# command, option, registry: every choice a help text lists
HELP = [
    (["train"], "--dataset", DATASETS),
    (["train"], "--optimizer", OPTIMIZERS),
    (["train"], "--scheduler", SCHEDULERS),
    (["train"], "--precision", PRECISIONS),
    (["train"], "--train-precision", PRECISIONS),
    (["eval"], "--dataset", DATASETS),
    (["eval"], "--precision", PRECISIONS),
    (["search"], "--dataset", DATASETS),
    (["search"], "--score", SCORES),
    (["search"], "--strategy", STRATEGIES),
    (["export", "onnx"], "--mode", MODES),
    (["export", "onnx"], "--exporter", EXPORTERS),
    (["export", "onnx"], "--dataset", DATASETS),
    (["export", "energy"], "--dataset", DATASETS),
    (["export", "nir"], "--dataset", DATASETS),
]


def option_help(command: list[str], option: str) -> str:
    """The help text of ``option`` in ``snasnet <command> --help``, on one line."""
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    rows = [line.strip("│ ") for line in result.output.splitlines()]
    start = next(i for i, row in enumerate(rows) if row.split()[:1] == [option])
    text = rows[start]
    for row in rows[start + 1 :]:  # a wrapped help text continues on rows that name no option
        if not row or row.startswith(("-", "╰", "╭")):
            break
        text += " " + row
    return " ".join(text.split())


@pytest.mark.parametrize(("command", "option", "registry"), HELP, ids=[f"{' '.join(c)} {o}" for c, o, _ in HELP])
def test_help_lists_exactly_the_registered_names_at_the_time_it_runs(command, option, registry):
    assert ", ".join(registry.names()) in option_help(command, option)
    registry.add("zz-test-entry", None)  # what a plugin would register before the command runs
    try:
        listed = option_help(command, option)
        assert ", ".join(registry.names()) in listed, listed
        assert listed.count("zz-test-entry") == 1
    finally:
        del registry._entries["zz-test-entry"]
