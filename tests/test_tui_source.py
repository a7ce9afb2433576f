"""The dashboard's data source on run directories from elsewhere: one bad run, runs synced from a GPU server or
copied, and a last line cut off; no terminal needed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from prepared_runs import T0, append_events, event, write_run_json, write_search_run, write_train_run

from snasnet_cli.tui.source import RunsSource, local_checkpoint


def views_by_name(source: RunsSource) -> dict:
    views, _ = source.poll()
    return {v.name: v for v in views}


def test_a_run_whose_events_file_is_a_directory_is_marked_and_the_others_listed(tmp_path):
    """It used to make every poll fail ("reading the runs failed: IsADirectoryError") and so hide every run."""
    write_search_run(tmp_path / "search-good", [3.0, 4.0])
    write_train_run(tmp_path / "train-good", [0.5])
    bad = tmp_path / "search-bad"
    write_run_json(bad, "search", "ok")
    (bad / "events.jsonl").mkdir()
    views = views_by_name(RunsSource(root=tmp_path))
    assert sorted(views) == ["search-bad", "search-good", "train-good"]
    assert views["search-bad"].error == "events.jsonl: Is a directory"
    assert views["search-good"].error is None and views["search-good"].state.search.best.score == 4.0
    assert views["train-good"].state.train.final_val_acc == 0.5


def test_a_run_that_becomes_readable_again_loses_its_mark(tmp_path):
    bad = tmp_path / "search-bad"
    write_run_json(bad, "search", "running")
    (bad / "events.jsonl").mkdir()
    source = RunsSource(root=tmp_path)
    assert views_by_name(source)["search-bad"].error == "events.jsonl: Is a directory"
    (bad / "events.jsonl").rmdir()
    write_search_run(bad, [1.0, 2.0])
    view = views_by_name(source)["search-bad"]
    assert view.error is None and len(view.state.search.candidates) == 2


def test_a_finished_runs_cut_off_last_line_is_counted_as_skipped(tmp_path):
    run = tmp_path / "search-cut"
    write_search_run(run, [1.0, 2.0])  # finished: run_finished is in the file
    with open(run / "events.jsonl", "a") as f:
        f.write('not json\n{"v":1,"ts":1,"event":"candidate_sco')  # one malformed line, one cut off
    source = RunsSource(root=tmp_path)
    assert views_by_name(source)["search-cut"].skipped == 2
    assert views_by_name(source)["search-cut"].skipped == 2  # counted once, whatever the number of polls


def test_a_running_runs_unfinished_last_line_waits_and_counts_once_the_run_ends_without_it(tmp_path):
    run = tmp_path / "search-live"
    write_search_run(run, [1.0], finished=False, total=4)
    with open(run / "events.jsonl", "a") as f:
        f.write('{"v":1,"ts":1,"event":"candidate_sco')  # the writer may still finish it
    source = RunsSource(root=tmp_path)
    assert views_by_name(source)["search-live"].skipped == 0
    write_run_json(run, "search", "failed")  # the job died mid-line: run.json has the last word
    assert views_by_name(source)["search-live"].skipped == 1


@pytest.mark.parametrize(
    ("recorded", "local"),
    [
        ("/srv/runs/train-gpu/checkpoints/best.pt", "checkpoints/best.pt"),  # synced from a GPU server
        ("runs/train-a/checkpoints/last.pt", "checkpoints/last.pt"),  # relative to the job's working directory
        ("/data/checkpoints/x/runs/train-a/checkpoints/best.pt", "checkpoints/best.pt"),  # the last checkpoints/
        ("best.pt", "checkpoints/best.pt"),
    ],
)
def test_a_recorded_checkpoint_is_found_in_the_followed_run_directory(tmp_path, recorded, local):
    assert local_checkpoint(tmp_path / "here", recorded) == tmp_path / "here" / local


def test_a_copied_runs_checkpoint_is_the_copys_not_the_originals(tmp_path):
    original = tmp_path / "original" / "train-a"
    write_train_run(original, [0.5])
    append_events(original, [event("checkpoint_saved", T0 + 9, path=str(original / "checkpoints" / "best.pt"),
                                   kind="best", epoch=1)])  # fmt: skip
    copy = tmp_path / "copy" / "train-a"
    copy.parent.mkdir()
    shutil.copytree(original, copy)
    (view,) = RunsSource(root=copy.parent).poll()[0]
    best = next(c for c in view.state.train.checkpoints if c.kind == "best")
    assert Path(best.path).is_relative_to(original)  # what the events say
    assert local_checkpoint(view.path, best.path) == copy / "checkpoints" / "best.pt"
