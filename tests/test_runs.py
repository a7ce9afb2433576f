"""The run-directory protocol: run.json, events.jsonl, and a reader that tolerates a live writer."""

from __future__ import annotations

import json

import pytest

from snasnet.core.errors import SnasnetError
from snasnet.core.runs import EventReader, RunDir, default_run_dir, list_runs


def test_run_json_and_events(tmp_path):
    run = RunDir.create(
        "search", {"num_search": 3}, tmp_path / "r", arch="0302 0030 3003 0000", celltype="backward", seed=7
    )
    info = json.loads((run.path / "run.json").read_text())
    assert info["job"] == "search" and info["status"] == "running" and info["seed"] == 7
    assert info["config"] == {"num_search": 3} and "torch" in info["versions"]
    seen = []
    run.subscribe(seen.append)
    with run.job(total=3):
        run.emit("candidate_scored", index=0, arch="0302 0030 3003 0000", celltype="backward", score=1.5)
    events = [json.loads(line) for line in (run.path / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["run_started", "candidate_scored", "run_finished"]
    assert all(e["v"] == 1 and isinstance(e["ts"], float) for e in events)
    assert events[-1]["status"] == "ok" and events[-1]["error"] is None
    assert [e["event"] for e in seen] == [e["event"] for e in events]
    assert run.read_info()["status"] == "ok"


@pytest.mark.parametrize(
    ("exc", "status"), [(KeyboardInterrupt, "cancelled"), (RuntimeError, "failed"), (SnasnetError, "failed")]
)
def test_job_records_how_it_ended(tmp_path, exc, status):
    run = RunDir.create("train", {}, tmp_path / "r")
    with pytest.raises(exc), run.job():
        raise exc("boom")
    last = run.events()[-1]
    assert last["event"] == "run_finished" and last["status"] == status
    assert run.read_info()["status"] == status
    if status == "failed":
        assert "boom" in last["error"]


def test_an_existing_run_is_never_overwritten(tmp_path):
    first = RunDir.create("train", {}, tmp_path / "r")
    first.emit("x")
    with pytest.raises(SnasnetError, match="already holds a run"):
        RunDir.create("train", {}, tmp_path / "r")
    first.close()  # its job ended: the directory may be resumed
    resumed = RunDir.create("train", {"epochs": 2}, tmp_path / "r", resume=True)
    assert len(resumed.read_info()["resumed"]) == 1 and [e["event"] for e in resumed.events()] == ["x"]


def test_reader_skips_malformed_and_waits_for_partial_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"v":1,"event":"a"}\nnot json\n[1,2]\n{"v":1,"no_event":1}\n{"v":1,"ev')
    reader = EventReader(path)
    assert [e["event"] for e in reader.read_new()] == ["a"]
    assert reader.skipped == 3
    with open(path, "a") as f:
        f.write('ent":"b"}\n{"v":1,"event":"c"}\n')
    assert [e["event"] for e in reader.read_new()] == ["b", "c"]
    assert reader.read_new() == [] and reader.skipped == 3


def test_disabled_run_writes_nothing(tmp_path):
    run = RunDir.create("search", {}, tmp_path / "r", enabled=False)
    run.emit("x")
    assert not (tmp_path / "r").exists()


def test_default_names_and_listing(tmp_path):
    a = default_run_dir("search", tmp_path)
    assert a.name.startswith("search-") and len(a.name) == len("search-20261127-141500")
    RunDir.create("search", {}, a)
    b = default_run_dir("search", tmp_path)
    assert b != a
    RunDir.create("train", {}, b)
    assert set(list_runs(tmp_path)) == {a, b}
    assert list_runs(tmp_path / "none") == []


def test_events_hold_plain_json(tmp_path):
    import torch

    run = RunDir.create("x", {}, tmp_path / "r")
    record = run.emit("e", t=torch.tensor([1.0, 2.0]), s=torch.tensor(3), p=tmp_path, nan=float("nan"))
    assert record["t"] == [1.0, 2.0] and record["s"] == 3 and record["nan"] is None
    assert run.events()[0]["p"] == str(tmp_path)


def test_resuming_ends_a_line_torn_by_a_killed_writer(tmp_path):
    run = RunDir.create("search", {}, tmp_path / "r")
    run.emit("candidate_scored", index=0)
    run.close()
    with open(run.path / "events.jsonl", "a") as f:
        f.write('{"v":1,"event":"candidate_sco')  # the process died here
    resumed = RunDir.create("search", {}, tmp_path / "r", resume=True)
    resumed.emit("candidate_scored", index=1)
    reader = EventReader(run.path / "events.jsonl")
    assert [e["index"] for e in reader.read_new()] == [0, 1]
    assert reader.skipped == 1


def strict(line: str) -> dict:
    """What a strict JSON reader accepts: no NaN, Infinity or -Infinity."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(line, parse_constant=refuse)


def test_non_finite_numbers_are_written_as_null_and_named(tmp_path):
    import torch

    run = RunDir.create("train", {"lr": float("inf"), "ok": 1.0}, tmp_path / "r")
    record = run.emit(
        "epoch_finished",
        train_loss=float("inf"),
        val_loss=float("-inf"),
        lr=float("nan"),
        firing_rates={"lif1": 0.25, "lif2": float("nan")},
        top=[{"score": 1.5}, {"score": float("-inf")}],
        t=torch.tensor([1.0, float("inf")]),
    )
    run.set_status("ok")
    (line,) = (run.path / "events.jsonl").read_text().splitlines()
    event = strict(line)
    assert event == record
    assert (event["train_loss"], event["val_loss"], event["lr"]) == (None, None, None)
    assert event["firing_rates"] == {"lif1": 0.25, "lif2": None} and event["t"] == [1.0, None]
    assert event["top"] == [{"score": 1.5}, {"score": None}]
    assert event["nonfinite"] == {
        "train_loss": "inf",
        "val_loss": "-inf",
        "lr": "nan",
        "firing_rates": {"lif2": "nan"},
        "top": {"1": {"score": "-inf"}},
        "t": {"1": "inf"},
    }
    info = strict((run.path / "run.json").read_text())
    assert info["config"] == {"lr": None, "ok": 1.0} and info["nonfinite"] == {"config": {"lr": "inf"}}
    assert info["status"] == "ok"
    assert "nonfinite" not in run.emit("candidate_scored", score=1.0)  # only when there is something to say
