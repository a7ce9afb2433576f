"""How long the dashboard takes to take in a large run: the reducer, the file source and the search panel.

    python benchmarks/bench_tui.py [--candidates 102596] [--polls 20] [--presses 5]

A search over every backward cell (102,596 candidates, each with its SOPs, MACs and params) is replayed: in one
batch (opening a finished run), in the batches a live poll sees, and one event per call (what a reducer that copies
its state per event would cost); then read from events.jsonl by ``RunsSource.poll``; then shown in the search panel
at 80x24 (leaderboard and score-vs-SOPs scatter). Then, on top of it, the two costs a person feels while a long
search runs: a poll that brings 10 new candidates (read, reduced and shown: ``app.poll`` until the panel has them),
and a key press in the search panel (sort, reverse, front only, cursor down), each until the screen is idle again.
Times are wall-clock on this machine; the aim is under 50 ms each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from snasnet_cli.tui.source import RunsSource  # noqa: E402
from snasnet_cli.tui.state import RunState, reduce, replay  # noqa: E402

LAYERS = [f"cell{c}.cell_architecture.{i}.0" for c in (1, 2) for i in range(4)] + ["downconv1.1", "last_act.1"]


def search_events(n: int, first: int = 0) -> list[dict]:
    events = [{"v": 1, "ts": 0.0, "event": "run_started", "job": "search", "total": n, "dataset": "digits",
               "objectives": ["sahd", "sops"]}] if first == 0 else []  # fmt: skip
    for i in range(first, n):
        # scores and SOPs spread out and loosely related, as a search's are
        score, sops = float((i * 7919) % 1000), 4e5 + float((i * 104729) % 2_000_000) + 500.0 * ((i * 7919) % 1000)
        events.append({"v": 1, "ts": 0.5 * (i + 1), "event": "candidate_scored", "index": i,
                       "arch": "0302 0030 3003 0000", "celltype": "backward", "canonical": "0302 0030 3003 0000",
                       "score": score, "firing_rates": dict.fromkeys(LAYERS, 0.1), "mean_firing_rate": 0.1,
                       "seconds": 0.5, "worker": 0, "sops": sops, "macs": 2e7, "params": 200000})  # fmt: skip
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


def repaint(app) -> float:
    """Seconds to draw the next frame now (what Textual's update timer would do next): lay out what changed and
    render the regions of the widgets that changed."""
    start = time.perf_counter()
    app.screen._on_timer_update()
    return time.perf_counter() - start


async def panel_times(run_dir: Path, n: int, polls: int, presses: int) -> tuple[float, list[float], dict]:
    """Per poll: read (the worker thread's part), reduce and show (the UI's), repaint. Per key: the key's
    handler, then the repaint. Both then run through Textual's test pilot, whose own waiting is the baseline of
    a key that does nothing (``z``)."""
    from snasnet_cli.tui.app import DashboardApp
    from snasnet_cli.tui.widgets.search import SearchPanel

    app = DashboardApp(RunsSource(runs=[run_dir]), poll_interval=3600)  # polls driven by hand below
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(SearchPanel)
        start = time.perf_counter()
        while len(panel.board) < n:
            await pilot.pause(0.01)
        await pilot.pause()
        first = time.perf_counter() - start
        poll_times, done = [], n
        for _ in range(polls):
            with open(run_dir / "events.jsonl", "a") as f:
                for e in search_events(done + 10, first=done):
                    f.write(json.dumps(e) + "\n")
            done += 10
            start = time.perf_counter()
            views, changed = app.source.poll()
            app._apply(views, changed)
            elapsed = time.perf_counter() - start
            poll_times.append(elapsed + repaint(app))
            await pilot.pause()
            assert len(panel.board) == done
        key_times: dict[str, list[float]] = {}
        actions = {"s": panel.action_cycle_sort, "r": panel.action_reverse_sort, "f": panel.action_toggle_front}
        table = panel.query_one("#leaderboard")
        actions["down"] = table.action_cursor_down
        for _ in range(presses):
            for key, action in actions.items():
                start = time.perf_counter()
                action()
                elapsed = time.perf_counter() - start
                key_times.setdefault(key, []).append(elapsed + repaint(app))
                await pilot.pause()
        table.focus()
        for _ in range(presses):
            for key in ("z", "s", "r", "f", "down"):
                start = time.perf_counter()
                await pilot.press(key)
                key_times.setdefault(f"{key} through the pilot", []).append(time.perf_counter() - start)
        return first, poll_times, key_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=102596)
    parser.add_argument("--polls", type=int, default=20)
    parser.add_argument("--presses", type=int, default=5)
    args = parser.parse_args()
    n = args.candidates
    events = search_events(n)

    once = timed(lambda: replay(events))
    polls = timed(lambda: in_batches(events, 20))
    print(f"reducer, {n} candidates: one batch {once * 1e3:.0f} ms | batches of 20 {polls * 1e3:.0f} ms "
          f"({polls / once:.1f}x)")  # fmt: skip

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
        first, poll_times, key_times = asyncio.run(panel_times(run_dir, n, args.polls, args.presses))
        print(f"search panel at 80x24: {n} candidates shown in {first * 1e3:.0f} ms")
        print(f"a poll bringing 10 candidates (read, reduced, shown, repainted): {_spread(poll_times)}")
        baseline = statistics.median(key_times.pop("z through the pilot"))
        print(f"a key that does nothing (z), through Textual's pilot: median {baseline * 1e3:.1f} ms (its waiting)")
        for key, times in key_times.items():
            if key.endswith("through the pilot"):
                print(f"key {key}, less that: {_spread([t - baseline for t in times])}")
            else:
                print(f"key {key}, the handler and the next frame: {_spread(times)}")


def _spread(times: list[float]) -> str:
    ordered = sorted(times)
    return (f"median {statistics.median(ordered) * 1e3:.1f} ms, max {ordered[-1] * 1e3:.1f} ms "
            f"({len(ordered)} times)")  # fmt: skip


if __name__ == "__main__":
    main()
