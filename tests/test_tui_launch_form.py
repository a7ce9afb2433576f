"""The dashboard's job form offers the datasets the library has registered (read by a Python process of its own,
so the dashboard never loads torch), not a list written by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_tui_app import SIZE, pilot_test, text, wait_for
from textual.widgets import Select, Static

import snasnet_cli.tui.screens.launch as launch
from snasnet.data.datasets import DATASETS
from snasnet_cli.options import DATASET_REGISTRY
from snasnet_cli.tui.app import make_app
from snasnet_cli.tui.screens.launch import LaunchScreen

# Registers one more dataset in every Python process that starts with this folder on its path, as a plugin would.
PLUGIN = """
from snasnet.data.datasets import DATASETS
DATASETS.add("zz-plugin-set", lambda **options: None)
"""


@pytest.fixture
def plugin_dataset(tmp_path, monkeypatch):
    (tmp_path / "sitecustomize.py").write_text(PLUGIN)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.delitem(launch._names, DATASET_REGISTRY, raising=False)  # read afresh, by a new process
    yield [*DATASETS.names(), "zz-plugin-set"]
    launch._names.pop(DATASET_REGISTRY, None)


@pilot_test
async def test_the_form_offers_every_registered_dataset_and_keeps_the_chosen_one(tmp_path, plugin_dataset):
    app = make_app(tmp_path, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, LaunchScreen)
        await wait_for(pilot, lambda: len(form.dataset_choices) > 1, timeout=120, what="the registry's datasets")
        assert list(form.dataset_choices) == plugin_dataset
        select = form.query_one("#dataset", Select)
        assert select.value == "digits"  # the request's, kept
        select.value = "zz-plugin-set"  # a value the form did not offer would raise
        assert form.read().dataset == "zz-plugin-set"


@pilot_test
async def test_the_form_sets_the_normalisation_of_a_train_job_or_leaves_it_to_the_dataset(tmp_path):
    app = make_app(tmp_path, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, LaunchScreen)

        def shown_norm() -> str:
            return text(form.query_one("#norm SelectCurrent #label", Static))

        assert shown_norm() == "default (step)"  # digits: static images keep the original's
        await wait_for(pilot, lambda: "digits-dvs" in form.dataset_choices, timeout=120, what="the registry's datasets")
        form.query_one("#job", Select).value = "train"
        form.query_one("#dataset", Select).value = "digits-dvs"
        await pilot.pause()
        assert shown_norm() == "default (running)"  # the frames default, named for the chosen dataset
        request = replace(form.read(), arch_file=tmp_path / "arch.json")
        assert request.norm is None and "--norm" not in request.command(tmp_path / "run")  # the command's default
        form.query_one("#norm", Select).value = "joint"
        form.query_one("#dataset", Select).value = "digits"
        await pilot.pause()
        assert form.read().norm == "joint"  # a chosen option survives a change of dataset
        command = replace(form.read(), arch_file=tmp_path / "arch.json").command(tmp_path / "run")
        assert command[command.index("--norm") + 1] == "joint"
        assert "--norm" not in replace(form.read(), job="search").command(tmp_path / "run")  # train's option only
