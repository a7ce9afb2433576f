"""The dashboard driven by Textual's Pilot over prepared run directories, and over job processes it starts."""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from prepared_runs import (
    T0,
    append_events,
    candidate_event,
    epoch_event,
    event,
    search_events,
    train_events,
    write_run_json,
    write_search_run,
    write_train_run,
)
from rich.text import Text
from textual.widgets import DataTable, Log, Static
from textual_plotext import PlotextPlot
from typer.testing import CliRunner

from snasnet_cli.app import app as cli
from snasnet_cli.tui.app import DashboardApp, make_app
from snasnet_cli.tui.jobs import JobRequest
from snasnet_cli.tui.screens.help import HelpScreen
from snasnet_cli.tui.screens.launch import LaunchScreen
from snasnet_cli.tui.source import RunsSource

SIZE = (80, 24)
FAKE_JOB = Path(__file__).with_name("fake_job.py")


def pilot_test(test: Callable) -> Callable:
    """Run an async Pilot test in its own event loop (no pytest asyncio plugin needed)."""

    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def text(widget: Static) -> str:
    content = widget.content
    return content.plain if isinstance(content, Text) else Text.from_markup(str(content)).plain


def shown(app: DashboardApp, selector: str) -> str:
    return text(app.query_one(selector, Static))


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        await pilot.pause(0.05)


def leaderboard(app: DashboardApp) -> list[list[str]]:
    table = app.query_one("#leaderboard", DataTable)
    return [[str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)]


def fake_python(tmp_path: Path, mode: str) -> str:
    """An executable that stands for ``python`` in ``python -m snasnet_cli ...``: runs fake_job.py in ``mode``."""
    script = tmp_path / f"python-{mode}"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_JOB}" {mode} "$@"\n')
    script.chmod(0o755)
    return str(script)


@pilot_test
async def test_the_leaderboard_follows_a_search_as_its_events_arrive(tmp_path):
    run = tmp_path / "search-1"
    write_search_run(run, [1.0, 5.0, 3.0], finished=False, total=10)
    app = DashboardApp(RunsSource.for_path(run), poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(leaderboard(app)) == 3, what="3 rows")
        assert [row[0] for row in leaderboard(app)] == ["1", "2", "0"]  # by score, best first
        assert "3/10 scored" in shown(app, "#search-stats") and "best #1 5.00" in shown(app, "#search-stats")
        append_events(run, [candidate_event(3, 9.5, T0 + 2.0), candidate_event(4, 0.5, T0 + 2.5)])
        await wait_for(pilot, lambda: len(leaderboard(app)) == 5, what="5 rows")
        assert [row[0] for row in leaderboard(app)] == ["3", "1", "2", "0", "4"]
        stats = shown(app, "#search-stats")
        assert "5/10 scored" in stats and "best #3 9.50" in stats and "2.00/s" in stats and "ETA 0:02" in stats
        assert app.query_one("#cell", Static).border_title == "cell #3  score 9.50"
        assert app.query_one("#distribution", PlotextPlot).border_title == "score distribution (n=5)"


@pilot_test
async def test_the_training_curves_and_progress_update_each_epoch(tmp_path):
    run = tmp_path / "train-1"
    write_train_run(run, [0.5, 0.7], epochs=4, finished=False)
    app = DashboardApp(RunsSource.for_path(run), poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await wait_for(pilot, lambda: "epoch 2/4" in shown(app, "#train-stats"), what="epoch 2")
        acc_plot = app.query_one("#acc-plot", PlotextPlot)
        await wait_for(pilot, lambda: "70.0" in acc_plot.render().plain, what="the accuracy axis up to 70%")
        assert "90.0" not in acc_plot.render().plain
        append_events(run, [event("train_step", T0 + 22.5, epoch=3, step=1, steps=4, loss=0.4, acc=0.85, lr=0.03,
                                  images_per_s=900.0), epoch_event(3, 4, 0.9, T0 + 30)])  # fmt: skip
        await wait_for(pilot, lambda: "epoch 3/4" in shown(app, "#train-stats"), what="epoch 3")
        await wait_for(pilot, lambda: "90.0" in acc_plot.render().plain, what="the new top of the accuracy axis")
        stats = shown(app, "#train-stats")
        assert "val acc 90.0% (best 90.0% at epoch 3)" in stats and "lr 0.03" in stats and "900 img/s" in stats


@pilot_test
async def test_a_finished_search_shows_the_best_candidate_its_score_and_its_cell(tmp_path):
    run = tmp_path / "search-done"
    write_search_run(run, [12.5, 431.25, 88.0, 430.0])  # best: candidate 1, arch ARCHS[1]
    app = make_app(run, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(leaderboard(app)) == 4, what="rows")
        stats = shown(app, "#search-stats")
        assert "ok" in stats and "4/4 scored" in stats
        assert "best #1 431.25  0100 0020 0003 1000 (backward)" in stats
        cell = shown(app, "#cell")
        assert "(0)──skip───▶(1)─conv1x1─▶(2)─conv3x3─▶(3)" in cell  # 0100 0020 0003: a chain of three edges
        assert "skip" in cell.splitlines()[-2] and "╌" in cell  # 1000: node 3 feeds node 0 a step later


@pilot_test
async def test_a_finished_training_shows_its_final_accuracy_and_per_layer_sparsity(tmp_path):
    run = tmp_path / "train-done"
    events = write_train_run(run, [0.61, 0.83, 0.875])
    app = make_app(run, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "ok" in shown(app, "#train-stats"), what="finished run")
        assert "val acc 87.5% (best 87.5% at epoch 3)" in shown(app, "#train-stats")
        await pilot.press("3")
        await pilot.pause()
        last = next(e for e in reversed(events) if e["event"] == "epoch_finished")
        table = app.query_one("#layers", DataTable)
        rows = [[str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)]
        # by cell edge (the run's cell 0302 0030 3003 0000: slot 0 is 0->1, slot 2 is 1->2), not module path
        edges = ["cell1 0->1 conv3x3", "cell1 1->2 conv3x3", "lif1", "cell2 0->1 conv3x3", "lif2"]
        assert [r[0] for r in rows] == edges
        for row, rate in zip(rows, last["firing_rates"].values(), strict=True):
            assert row[2] == f"{100 * rate:.2f}%" and row[3] == f"{100 * (1 - rate):.1f}%"
        mean = sum(last["firing_rates"].values()) / len(last["firing_rates"])
        assert f"sparsity {100 * (1 - mean):.2f}%" in shown(app, "#spikes-stats")


@pilot_test
async def test_the_leaderboard_sorts_by_key_and_by_header(tmp_path):
    run = tmp_path / "search-sort"
    write_search_run(run, [2.0, 9.0, 4.0])
    app = make_app(run, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(leaderboard(app)) == 3)
        assert [r[0] for r in leaderboard(app)] == ["1", "2", "0"]
        await pilot.press("r")  # reverse: worst first
        assert [r[0] for r in leaderboard(app)] == ["0", "2", "1"]
        await pilot.press("s")  # next column: candidate index
        assert [r[0] for r in leaderboard(app)] == ["0", "1", "2"]
        assert app.query_one("#leaderboard", DataTable).border_title == "leaderboard by # ▲"
        await pilot.click("#leaderboard", offset=(6, 1))  # the "score" header
        assert [r[0] for r in leaderboard(app)] == ["1", "2", "0"]


@pilot_test
async def test_malformed_and_partial_lines_are_skipped_counted_and_shown(tmp_path):
    run = tmp_path / "search-bad"
    write_search_run(run, [1.0, 2.0], finished=False, total=4)
    with open(run / "events.jsonl", "a") as f:
        f.write('not json at all\n{"v":1,"ts":1.0}\n{"v":1,"ts":1,"event":"candidate_sco')
    app = make_app(run, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(leaderboard(app)) == 2)
        await wait_for(pilot, lambda: "2 malformed line(s) skipped" in shown(app, "#status-line"))
        with open(run / "events.jsonl", "a") as f:  # the partial line completes: it was only late
            f.write(f'red","index":2,"arch":"0302 0030 3003 0000","score":7.0,"ts":{T0 + 2}}}\n')
        await wait_for(pilot, lambda: len(leaderboard(app)) == 3, what="the completed line")
        await pilot.press("4")
        await pilot.pause()
        assert "2 malformed line(s) of events.jsonl skipped" in shown(app, "#log-stats")


@pilot_test
async def test_the_runs_panel_lists_every_run_and_enter_follows_one(tmp_path):
    write_search_run(tmp_path / "search-a", [3.0, 4.0])
    write_train_run(tmp_path / "train-b", [0.5, 0.75])
    (tmp_path / "not-a-run").mkdir()
    app = make_app(tmp_path, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        table = app.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        rows = {str(table.get_row_at(i)[0]).strip("▶ "): [str(c) for c in table.get_row_at(i)] for i in range(2)}
        assert rows["search-a"][1:4] == ["search", "ok", "best 4.00 (0100 0020 0003 1000), 2/2 scored"]
        assert rows["train-b"][1:4] == ["train", "ok", "best val 75.0% (epoch 2), epoch 2/2"]
        index = next(i for i in range(2) if "search-a" in str(table.get_row_at(i)[0]))
        table.move_cursor(row=index)
        await pilot.press("enter")
        await pilot.pause()
        assert app.followed == tmp_path / "search-a" and app.query_one("#panels").active == "search"
        assert "search-a" in shown(app, "#status-line")


@pilot_test
async def test_help_opens_and_closes_and_the_form_refuses_a_training_without_architecture(tmp_path):
    app = make_app(tmp_path, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("n")
        assert isinstance(app.screen, LaunchScreen)
        app.screen.query_one("#job").value = "train"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, LaunchScreen)  # still open, saying why
        assert "train needs an architecture" in text(app.screen.query_one("#launch-error", Static))
        await pilot.press("escape")
        assert not app.jobs


@pilot_test
async def test_a_job_that_dies_shows_its_error_and_the_dashboard_stays(tmp_path):
    app = DashboardApp(RunsSource(root=tmp_path), poll_interval=0.05, python=fake_python(tmp_path, "die"))
    async with app.run_test(size=SIZE) as pilot:
        job = app.launch(JobRequest(job="search", num_search=5))
        await wait_for(pilot, lambda: job.returncode is not None, what="the job to end")
        await wait_for(pilot, lambda: "died" in shown(app, "#status-line"), what="died")
        assert "exited with status 1: RuntimeError: CUDA out of memory (fake)" in shown(app, "#status-line")
        await pilot.press("4")
        await pilot.pause()
        assert "RuntimeError: CUDA out of memory (fake)" in "\n".join(app.query_one("#job-log", Log).lines)
        await pilot.press("5")
        table = app.query_one("#runs-table", DataTable)
        assert [str(c) for c in table.get_row_at(0)][1:3] == ["search", "died"]
        assert app.is_running


@pilot_test
async def test_the_cancel_key_interrupts_the_job_which_records_cancelled(tmp_path):
    app = DashboardApp(RunsSource(root=tmp_path), poll_interval=0.05, python=fake_python(tmp_path, "slow"))
    async with app.run_test(size=SIZE) as pilot:
        job = app.launch(JobRequest(job="search", num_search=5))
        await wait_for(pilot, lambda: len(leaderboard(app)) >= 3, what="candidates of the running job")
        await pilot.press("c")
        await wait_for(pilot, lambda: job.returncode is not None, what="the job to stop")
        await wait_for(pilot, lambda: app.views[job.run_dir].state.status == "cancelled", what="cancelled")
        assert job.returncode == 130 and "interrupted: checkpointed" in job.output
        assert json.loads((job.run_dir / "run.json").read_text())["status"] == "cancelled"
        assert "cancelled" in shown(app, "#status-line")


@pilot_test
async def test_the_train_key_trains_the_selected_candidate_or_the_searchs_best(tmp_path):
    search = tmp_path / "search-1"
    write_search_run(search, [2.0, 9.0, 4.0])
    app = DashboardApp(RunsSource(root=tmp_path), poll_interval=0.05, python=fake_python(tmp_path, "record"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(leaderboard(app)) == 3)
        await pilot.press("t")  # the cursor is on the best: train the search's best
        await wait_for(pilot, lambda: (tmp_path / "argv.json").exists(), what="the train job")
        argv = json.loads((tmp_path / "argv.json").read_text())
        assert argv[:3] == ["train", "--dataset", "digits"] and "--epochs" not in argv  # the dataset's default
        assert argv[argv.index("--from-search") + 1] == str(search)
        (tmp_path / "argv.json").unlink()
        await pilot.press("1")
        await pilot.pause()
        await pilot.press("down", "down", "t")  # the third row: candidate 0
        await wait_for(pilot, lambda: (tmp_path / "argv.json").exists(), what="the second train job")
        argv = json.loads((tmp_path / "argv.json").read_text())
        arch_file = Path(argv[argv.index("--arch-file") + 1])
        assert json.loads(arch_file.read_text()) == {"arch": "0302 0030 3003 0000", "celltype": "backward"}


@pilot_test
async def test_training_a_candidate_where_the_runs_folder_cannot_be_written_says_so_and_stays_up(tmp_path):
    """Issue 24, item 7: the ``.tui`` folder for the candidate's architecture file cannot be made (a read-only
    runs folder; here a file in its place, which refuses even root): before, `t` and `n` crashed the dashboard."""
    search = tmp_path / "search-1"
    write_search_run(search, [2.0, 9.0, 4.0])
    (tmp_path / ".tui").write_text("not a folder\n")
    app = DashboardApp(RunsSource(root=tmp_path), poll_interval=0.05, python=fake_python(tmp_path, "record"))
    said: list[str] = []
    app.notify = lambda message, **options: said.append(message)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(leaderboard(app)) == 3)
        await pilot.press("down", "down", "t")  # candidate 0: it needs an architecture file
        await pilot.pause(0.2)
        await pilot.press("n")  # the form's defaults need one too
        await pilot.pause(0.2)
        assert isinstance(app.screen, LaunchScreen)
        assert sum(f"cannot train candidate #0: cannot create {tmp_path / '.tui'}" in m for m in said) == 2, said
    assert not (tmp_path / "argv.json").exists()  # no job was started


@pilot_test
async def test_a_search_whose_run_json_config_is_not_an_object_can_still_be_trained(tmp_path):
    """Issue 24, item 7: ``"config": [...]`` (run.json written by hand or another tool) crashed `t`."""
    search = tmp_path / "search-1"
    write_run_json(search, "search", "running", config=["digits"])
    events = search_events([2.0, 9.0], total=4, finished=False)
    del events[0]["dataset"]  # the dataset is then looked for in run.json's config
    append_events(search, events)
    app = DashboardApp(RunsSource(root=tmp_path), poll_interval=0.05, python=fake_python(tmp_path, "record"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(leaderboard(app)) == 2)
        await pilot.press("t")
        await wait_for(pilot, lambda: (tmp_path / "argv.json").exists(), what="the train job")
    argv = json.loads((tmp_path / "argv.json").read_text())
    assert argv[argv.index("--dataset") + 1] == "digits"  # the dashboard's default


@pilot_test
async def test_an_event_line_with_a_400_digit_integer_is_skipped_and_the_rest_shown(tmp_path):
    """Issue 24, item 11: json reads the integer, every float() of it overflows: the run showed as empty."""
    run = tmp_path / "search-big"
    write_search_run(run, [1.0, 2.0], finished=False, total=4)
    with open(run / "events.jsonl", "a") as f:
        line = json.dumps(candidate_event(2, 3.0, T0 + 2), separators=(",", ":"))
        assert '"score":3.0' in line
        f.write(line.replace('"score":3.0', '"score":' + "9" * 400) + "\n")
        f.write(json.dumps(candidate_event(3, 5.0, T0 + 3)) + "\n")
    app = make_app(run, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(leaderboard(app)) == 3, what="three candidates")
        await wait_for(pilot, lambda: "1 malformed line(s) skipped" in shown(app, "#status-line"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/dir"], "/no/such/dir is not a directory"),
        (["--interval", "0", "."], "must be more than 0"),
        (["--interval", "nan", "."], "must be more than 0 and at most 3600 seconds"),  # it hung, `q` ignored
        (["--interval", "inf", "."], "must be more than 0 and at most 3600 seconds"),  # it never refreshed
    ],
)
def test_the_command_refuses_a_missing_directory_or_a_bad_interval_with_status_2(args, message):
    result = CliRunner().invoke(cli, ["tui", *args])
    assert result.exit_code == 2 and message in " ".join(result.output.split()).replace("│ ", "")


def test_the_command_without_a_terminal_refuses_in_one_line(tmp_path):
    """Issue 24, item 11: with stdin /dev/null and stdout a file it wrote escape codes until killed."""
    with open(tmp_path / "out.txt", "w") as out:
        done = subprocess.run([sys.executable, "-m", "snasnet_cli", "tui", str(tmp_path)], stdin=subprocess.DEVNULL,
                              stdout=out, stderr=subprocess.PIPE, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "snasnet: error: snasnet tui needs a terminal (its input or output is a file or a pipe): run it in one, or "
        "follow a run without it: tail -f RUN_DIR/events.jsonl"
    ]
    assert (tmp_path / "out.txt").read_text() == ""


def test_the_dashboard_process_never_imports_torch(tmp_path):
    write_search_run(tmp_path / "search-1", [1.0, 2.0])
    write_train_run(tmp_path / "train-1", [0.5])
    code = f"""
import asyncio, sys
from snasnet_cli.app import app  # the whole command line, as `snasnet tui` loads it
from snasnet_cli.tui.app import make_app

async def main():
    dashboard = make_app({str(tmp_path)!r}, poll_interval=0.05)
    async with dashboard.run_test(size=(80, 24)) as pilot:
        for key in "12345":
            await pilot.press(key)
            await pilot.pause(0.1)
    print(sorted(name for name in sys.modules if name.split(".")[0] in ("torch", "spikingjelly")))

asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


# --- the real jobs: `python -m snasnet_cli search` on the bundled digits ----------------------------------------
SMALL_SEARCH = {"search": ("--batch-size", "32", "--repeat", "1")}  # a quick score: these tests check the plumbing


@pilot_test
async def test_a_real_search_started_from_the_form_fills_the_leaderboard(tmp_path):
    app = DashboardApp(RunsSource(root=tmp_path), poll_interval=0.1, job_options=SMALL_SEARCH)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, LaunchScreen)
        form.query_one("#job").value = "search"
        form.query_one("#num-search").value = "2"
        form.query_one("#device").value = "cpu"
        await pilot.press("ctrl+s")
        (job,) = app.jobs.values()
        assert job.argv[3:12] == ["search", "--dataset", "digits", "--num-search", "2", "--celltype", "backward",
                                  "--device", "cpu"]  # fmt: skip
        await wait_for(pilot, lambda: job.returncode is not None, timeout=240, what="the search to finish")
        assert job.returncode == 0, "\n".join(job.output[-20:])
        await wait_for(pilot, lambda: len(leaderboard(app)) == 2, what="both candidates in the leaderboard")
        await wait_for(pilot, lambda: " ok " in shown(app, "#search-stats"), what="the search's end")
        best = app.views[job.run_dir].state.search.best
        assert best is not None and f"best #{best.index} {best.score:.2f}" in shown(app, "#search-stats")
        assert leaderboard(app)[0][0] == str(best.index)
        assert json.loads((job.run_dir / "best_arch.json").read_text())["arch"] == best.arch


@pilot_test
async def test_the_cancel_key_stops_a_real_search_which_records_cancelled(tmp_path):
    app = DashboardApp(RunsSource(root=tmp_path), poll_interval=0.1, job_options=SMALL_SEARCH)
    async with app.run_test(size=SIZE) as pilot:
        job = app.launch(JobRequest(job="search", num_search=500, device="cpu"))
        await wait_for(pilot, lambda: len(leaderboard(app)) >= 1, timeout=240, what="a first candidate")
        await pilot.press("c")
        await wait_for(pilot, lambda: job.returncode is not None, timeout=120, what="the search to stop")
        await wait_for(pilot, lambda: app.views[job.run_dir].state.status == "cancelled", what="cancelled")
        state = app.views[job.run_dir].state
        assert 1 <= state.search.done < 500
        assert json.loads((job.run_dir / "run.json").read_text())["status"] == "cancelled"
        assert "cancelled" in shown(app, "#status-line")


@pytest.mark.slow
@pilot_test
async def test_train_eval_and_export_keys_run_the_real_jobs_on_a_real_searchs_best(tmp_path):
    options = {**SMALL_SEARCH, "train": ("--batch-size", "128")}
    app = DashboardApp(RunsSource(root=tmp_path), poll_interval=0.2, job_options=options)
    async with app.run_test(size=SIZE) as pilot:
        # as from the form: its epochs and device stay for the train key
        search = app.launch(JobRequest(job="search", num_search=2, epochs=1, device="cpu"))
        await wait_for(pilot, lambda: search.returncode is not None, timeout=240, what="the search")
        await wait_for(pilot, lambda: app.views[search.run_dir].state.search.finished, what="search_finished")
        await pilot.press("1", "t")
        train = next(job for job in app.jobs.values() if job.request.job == "train")
        assert train.argv[train.argv.index("--from-search") + 1] == str(search.run_dir)
        await wait_for(pilot, lambda: train.returncode is not None, timeout=600, what="one epoch of training")
        assert train.returncode == 0, "\n".join(train.output[-20:])
        await wait_for(pilot, lambda: app.views[train.run_dir].state.status == "ok", what="the training's end")
        t = app.views[train.run_dir].state.train
        assert [e.epoch for e in t.epoch_log] == [1] and t.final_val_acc is not None
        assert f"val acc {100 * t.final_val_acc:.1f}%" in shown(app, "#train-stats")
        await pilot.press("3")
        layers = app.query_one("#layers", DataTable)
        assert layers.row_count == len(t.epoch_log[0].spikes.firing_rates) > 0
        for key, job_name in (("e", "eval"), ("x", "export")):  # the training's best checkpoint
            await pilot.press("2", key)
            job = list(app.jobs.values())[-1]
            assert job.request.job == job_name and job.request.checkpoint == train.run_dir / "checkpoints" / "best.pt"
            await wait_for(pilot, lambda job=job: job.returncode is not None, timeout=300, what=job_name)
            await wait_for(pilot, lambda job=job: app.views[job.run_dir].state.finished, what=f"{job_name}'s end")
            assert app.views[job.run_dir].state.status == "ok", "\n".join(job.output[-20:])
        evaluation = app.views[list(app.jobs)[-2]].state.evaluation
        assert evaluation.top1 == pytest.approx(t.test.top1)  # best.pt on the same test images
        (export,) = app.views[list(app.jobs)[-1]].state.exports
        assert export.format == "onnx" and Path(export.path).is_file()


@pilot_test
async def test_a_run_that_cannot_be_read_is_marked_in_the_runs_panel_and_the_others_are_listed(tmp_path):
    write_search_run(tmp_path / "search-good", [3.0, 4.0])
    bad = tmp_path / "search-bad"
    bad.mkdir()
    (bad / "run.json").write_text(json.dumps({"job": "search", "status": "ok", "started": T0 + 99}))
    (bad / "events.jsonl").mkdir()
    app = make_app(tmp_path, poll_interval=0.05)
    said: list[str] = []
    app.notify = lambda message, **options: said.append(message)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        table = app.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, what="both runs listed")
        rows = {str(table.get_row_at(i)[0]).strip("▶ "): [str(c) for c in table.get_row_at(i)] for i in range(2)}
        assert rows["search-bad"][2:4] == ["unreadable", "events.jsonl: Is a directory"], rows
        assert rows["search-good"][2:4] == ["ok", "best 4.00 (0100 0020 0003 1000), 2/2 scored"]
    assert not [m for m in said if "reading the runs failed" in m]


def synced_train_run(path: Path, written_at: str) -> None:
    """A training run as rsync brings it from a GPU server: its events name the server's paths."""
    write_train_run(path, [0.5])
    append_events(path, [event("checkpoint_saved", T0 + 9, path=f"{written_at}/checkpoints/best.pt", kind="best",
                               epoch=1)])  # fmt: skip


@pilot_test
async def test_eval_and_export_keys_open_the_checkpoint_in_the_followed_run_not_the_recorded_path(tmp_path):
    run = tmp_path / "train-gpu"
    synced_train_run(run, "/srv/runs/train-gpu")
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "best.pt").write_bytes(b"weights")
    app = DashboardApp(RunsSource(root=tmp_path), poll_interval=0.05, python=fake_python(tmp_path, "record"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.views.get(run) is not None and app.views[run].state.train.checkpoints)
        for key, command in (("e", ["eval"]), ("x", ["export", "onnx"])):
            await pilot.press("2", key)
            await wait_for(pilot, lambda: (tmp_path / "argv.json").exists(), what=f"the {command[0]} job")
            argv = json.loads((tmp_path / "argv.json").read_text())
            assert argv[: len(command) + 1] == [*command, str(run / "checkpoints" / "best.pt")]
            (tmp_path / "argv.json").unlink()


@pilot_test
async def test_a_checkpoint_missing_from_the_followed_run_is_said_and_nothing_is_launched(tmp_path):
    """A copy without its checkpoints used to evaluate the original's best.pt, silently."""
    original = tmp_path / "original" / "train-a"
    (original / "checkpoints").mkdir(parents=True)
    (original / "checkpoints" / "best.pt").write_bytes(b"the original's weights")
    copy = tmp_path / "copies" / "train-a"
    synced_train_run(copy, str(original))
    app = DashboardApp(RunsSource(root=copy.parent), poll_interval=0.05, python=fake_python(tmp_path, "record"))
    said: list[str] = []
    app.notify = lambda message, **options: said.append(message)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.views.get(copy) is not None and app.views[copy].state.train.checkpoints)
        await pilot.press("2", "e")
        await pilot.pause()
        assert app.jobs == {}
    assert f"checkpoint not found: {copy / 'checkpoints' / 'best.pt'}" in " ".join(said)


# --- issue 28: what a newcomer's first hour tripped on -----------------------------------------------------------
@pytest.mark.parametrize("follow", ["the run", "the runs folder"])
@pilot_test
async def test_the_dashboard_opens_on_the_panel_of_the_run_it_follows(tmp_path, follow):
    run = tmp_path / "train-1"
    write_train_run(run, [0.5, 0.75], epochs=4, finished=False)
    app = make_app(run if follow == "the run" else tmp_path, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.followed == run, what="the training followed")
        await wait_for(pilot, lambda: app.query_one("#panels").active == "training", what="the training panel")
        assert "epoch 2/4" in shown(app, "#train-stats")


@pilot_test
async def test_a_new_form_asks_for_the_job_kind_and_takes_the_commands_defaults(tmp_path):
    """After x (an ONNX export), n + ctrl+s started another export: the form kept the last job's kind."""
    from snasnet.train.recipe import train_config

    run = tmp_path / "train-gpu"
    synced_train_run(run, str(run))
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "best.pt").write_bytes(b"weights")
    app = DashboardApp(RunsSource(root=tmp_path), poll_interval=0.05, python=fake_python(tmp_path, "record"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.views.get(run) is not None and app.views[run].state.train.checkpoints)
        await pilot.press("2", "x")
        await wait_for(pilot, lambda: len(app.jobs) == 1 and list(app.jobs.values())[0].returncode is not None)
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, LaunchScreen)
        assert form.query_one("#job").is_blank()
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, LaunchScreen) and len(app.jobs) == 1  # nothing started
        assert "choose a job: search, train, eval, export" in text(form.query_one("#launch-error", Static))
        # empty numbers are the command line's defaults, which the form shows: the dataset's recipe
        epochs = form.query_one("#epochs")
        assert epochs.value == ""
        assert epochs.placeholder == f"default: {train_config('digits').epochs} (digits's default)"
        await wait_for(pilot, lambda: "cifar10" in form.dataset_choices, timeout=120, what="the datasets")
        form.query_one("#dataset").value = "cifar10"
        await pilot.pause()
        assert epochs.placeholder == "default: 300 (cifar10's default)"
        form.query_one("#dataset").value = "digits"
        form.query_one("#job").value = "search"
        form.query_one("#seed").value = "7"
        form.query_one("#data-dir").value = str(tmp_path / "data")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: len(app.jobs) == 2, what="the search")
    search = list(app.jobs.values())[-1]
    assert search.argv[3:7] == ["search", "--dataset", "digits", "--data-dir"] and "--num-search" not in search.argv
    assert search.argv[search.argv.index("--seed") + 1] == "7"


@pilot_test
async def test_a_new_search_with_nothing_scored_shows_no_cell_of_the_last_one(tmp_path):
    old = tmp_path / "search-old"
    write_search_run(old, [12.5, 431.25])
    app = make_app(old, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "(0)──skip───▶(1)" in shown(app, "#cell"), what="the old search's best cell")
        new = tmp_path / "search-new"
        write_search_run(new, [], finished=False, total=10)
        app.source.add(new)
        app.poll()
        await wait_for(pilot, lambda: new in app.views, what="the new search read")
        app.focus_run(new)
        await pilot.pause()
        assert "skip" not in shown(app, "#cell") and "no candidate scored yet" in shown(app, "#cell")
        assert app.query_one("#cell", Static).border_title == "cell"
        assert "best -" in shown(app, "#search-stats")


@pilot_test
async def test_the_cost_scatter_writes_its_counts_as_counts(tmp_path):
    run = tmp_path / "search-costs"
    write_search_run(run, [431.25, 430.0, 88.0, 12.5], finished=False, total=4)
    sops = [1235298.2, 987654.3, 2345678.9, 1500000.0]
    append_events(run, [dict(candidate_event(4 + i, 100.0 + i, T0 + 9 + i), sops=s) for i, s in enumerate(sops)])
    app = make_app(run, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        plot = app.query_one("#distribution", PlotextPlot)
        await wait_for(pilot, lambda: plot.border_title.startswith("score vs SOPs"), what="the scatter")
        await pilot.pause(0.2)
        drawn = plot.render().plain
        assert "1M" in drawn and "2M" in drawn, drawn
        assert not any(f"{s:.1f}"[:5] in drawn for s in sops), drawn  # no raw floats such as 1235298.2


@pilot_test
async def test_cancel_on_a_run_that_has_ended_says_so(tmp_path):
    write_train_run(tmp_path / "train-1", [0.5, 0.75])
    app = make_app(tmp_path, poll_interval=0.05)
    said: list[str] = []
    app.notify = lambda message, **options: said.append(message)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.followed == tmp_path / "train-1" and app.views)
        await pilot.press("c")
        await pilot.pause()
    assert "train-1 has already ended (ok): nothing to cancel" in said


@pilot_test
async def test_the_training_header_shows_best_pts_test_accuracy_in_lines_that_fit_80_columns(tmp_path):
    run = tmp_path / "train-20260101-120000"
    events = [dict(e, lr=0.0123456) if e["event"] == "train_step" else e for e in train_events([0.61, 0.875], 300)]
    write_train_run(run, [])
    append_events(run, events[1:] + [event("test_finished", T0 + 30, top1=0.8722, top5=0.99, images=360, epoch=2,
                                           selected_on="val")])  # fmt: skip
    app = make_app(run, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "test 87.2% (best.pt)" in shown(app, "#train-stats"), what="the test figure")
        lines = shown(app, "#train-stats").splitlines()
        assert len(lines) == 3 and max(len(line) for line in lines) <= SIZE[0] - 2, lines
        assert "val acc 87.5% (best 87.5% at epoch 2)" in lines[1] and "lr 0.01235" in lines[2]


@pilot_test
async def test_an_eval_is_listed_under_the_training_run_whose_checkpoint_it_read(tmp_path):
    # issue 28: each eval or export was a run of its own, apart from its training run
    write_train_run(tmp_path / "train-b", [0.5, 0.75])
    write_search_run(tmp_path / "search-a", [3.0, 4.0])
    source = str((tmp_path / "train-b").resolve())
    write_run_json(tmp_path / "eval-c", "eval", "ok", started=T0 + 10_000, source_run=source)  # the newest
    (tmp_path / "eval-c" / "events.jsonl").write_text("")
    app = make_app(tmp_path, poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        table = app.query_one("#runs-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3, what="three runs")
        names = [str(table.get_row_at(i)[0]).strip("▶ ") for i in range(3)]
        assert names.index("└ eval-c") == names.index("train-b") + 1, names
