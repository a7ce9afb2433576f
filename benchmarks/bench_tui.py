"""How long the dashboard takes to take in a large run: the reducer, the file source and the leaderboard.

    python benchmarks/bench_tui.py [--candidates 7012]

A search over every forward cell (7012 candidates) is replayed: in one batch (opening a finished run), in the
batches a live poll sees, and one event per call (what a reducer that copies its state per event would cost);
then read from events.jsonl by ``RunsSource.poll``; then shown in the leaderboard, and one poll of 10 new rows
on top of it (the cost paid every half second while a long search runs). Times are wall-clock on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from snasnet_cli.tui.source import RunsSource  # noqa: E402
from snasnet_cli.tui.state import RunState, reduce, replay  # noqa: E402

LAYERS = [f"cell{c}.cell_architecture.{i}.0" for c in (1, 2) for i in range(4)] + ["downconv1.1", "last_act.1"]


def search_events(n: int) -> list[dict]:
    events = [{"v": 1, "ts": 0.0, "event": "run_started", "job": "search", "total": n, "dataset": "digits"}]
    for i in range(n):
        events.append({"v": 1, "ts": 0.5 * (i + 1), "event": "candidate_scored", "index": i,
                       "arch": "0302 0030 3003 0000", "celltype": "forward", "canonical": "0302 0030 3003 0000",
                       "score": float((i * 7919) % 1000), "firing_rates": dict.fromkeys(LAYERS, 0.1),
                       "seconds": 0.5})  # fmt: skip
    return events


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def in_batches(events: list[dict], size: int) -> RunState:
    state = RunState()
    for i in range(0, len(events), size):
        state = reduce(state, events[i : i + size])
    return state


async def leaderboard_times(run_dir: Path, n: int) -> tuple[float, float]:
    from snasnet_cli.tui.app import DashboardApp
    from snasnet_cli.tui.widgets.search import SearchPanel

    app = DashboardApp(RunsSource(runs=[run_dir]), poll_interval=3600)  # polls driven by hand below
    async with app.run_test(size=(80, 24)) as pilot:
        start = time.perf_counter()
        while app.query_one(SearchPanel).query_one("#leaderboard").row_count < n:
            await pilot.pause(0.01)
        first = time.perf_counter() - start
        with open(run_dir / "events.jsonl", "a") as f:
            for e in search_events(n + 10)[n + 1 :]:
                f.write(json.dumps(e) + "\n")
        start = time.perf_counter()
        app.poll()
        while app.query_one(SearchPanel).query_one("#leaderboard").row_count < n + 10:
            await pilot.pause(0.001)
        return first, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=7012)
    n = parser.parse_args().candidates
    events = search_events(n)

    once = timed(lambda: replay(events))
    polls = timed(lambda: in_batches(events, 20))
    per_event = timed(lambda: in_batches(events, 1))
    print(f"reducer, {n} candidates: one batch {once * 1e3:.0f} ms | batches of 20 {polls * 1e3:.0f} ms "
          f"({polls / once:.1f}x) | one event per call {per_event * 1e3:.0f} ms ({per_event / once:.1f}x)")  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "search"
        run_dir.mkdir()
        with open(run_dir / "events.jsonl", "w") as f:
            for e in events:
                f.write(json.dumps(e) + "\n")
        size = (run_dir / "events.jsonl").stat().st_size
        source = RunsSource(runs=[run_dir])
        read = timed(source.poll)
        again = timed(source.poll)
        print(f"source: first poll of {size / 1e6:.1f} MB {read * 1e3:.0f} ms | a poll with nothing new "
              f"{again * 1e3:.2f} ms")  # fmt: skip
        first, update = asyncio.run(leaderboard_times(run_dir, n))
        print(f"leaderboard: {n} rows shown in {first * 1e3:.0f} ms | 10 more (re-sorted) {update * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
