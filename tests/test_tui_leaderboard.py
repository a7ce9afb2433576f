"""The leaderboard's data (snasnet_cli.tui.leaderboard): orders by any objective, the live Pareto front of score
against SOPs, and the scatter reduced to the plot's cells; and the search panel showing them at 80x24."""

from __future__ import annotations

import json
import random
from pathlib import Path

from prepared_runs import T0, append_events, candidate_event, event, write_run_json, write_search_run
from test_tui_app import SIZE, fake_python, leaderboard, pilot_test, shown, wait_for
from textual_plotext import PlotextPlot

from snasnet.search.pareto import front_ranks
from snasnet_cli.tui.app import DashboardApp
from snasnet_cli.tui.leaderboard import SORTS, Board, LiveFront
from snasnet_cli.tui.source import RunsSource
from snasnet_cli.tui.state import Candidate

BY = {s.column: s for s in SORTS}


def cand(index: int, score: float | None, sops: float | None, params: int | None = None) -> Candidate:
    return Candidate(index=index, arch=f"000{index % 5} 0000 0000 0000", score=score, sops=sops, params=params)


def test_the_live_front_is_the_non_dominated_set_whatever_the_order_of_arrival():
    rng = random.Random(2)
    points = [(float(rng.randint(0, 9)), float(rng.randint(0, 9))) for _ in range(200)]  # ties and duplicates
    expected = {i for i, r in enumerate(front_ranks([(-s, c) for s, c in points])) if r == 1}
    for _ in range(5):
        order = list(range(len(points)))
        rng.shuffle(order)
        front = LiveFront()
        for i in order:
            front.add(i, *points[i])
        assert set(front.members) == expected


def test_the_live_front_leaves_out_singular_scores_and_missing_sops():
    front = LiveFront()
    front.add(0, float("-inf"), 0.0)  # a silent network: no spikes, no cost, no use
    front.add(1, 5.0, None)
    front.add(2, 1.0, 10.0)
    assert front.members == [2]


def test_orders_by_any_column_both_ways_ties_by_index_and_missing_values_last():
    board = Board()
    board.extend([cand(0, 2.0, 30.0, 7), cand(1, 9.0, None, 5), cand(2, 4.0, 10.0, 5), cand(3, None, 20.0, 9)])
    assert [c.index for c in board.top(BY["score"])] == [1, 2, 0, 3]
    assert [c.index for c in board.top(BY["score"], reverse=True)] == [3, 0, 2, 1]
    assert [c.index for c in board.top(BY["sops"])] == [2, 3, 0, 1]  # cheapest first, unknown cost last
    assert [c.index for c in board.top(BY["params"])] == [1, 2, 0, 3]
    assert [c.index for c in board.top(BY["score"], k=2)] == [1, 2]
    board.extend([cand(4, 10.0, 5.0, 1)])  # a new batch: the cached orders are redone
    assert [c.index for c in board.top(BY["score"], k=2)] == [4, 1]
    assert [c.index for c in board.top(BY["score"], front_only=True)] == [4]
    assert board.on_front(board.candidates[4]) and not board.on_front(board.candidates[2])


def test_the_scatter_has_one_point_per_plot_cell_and_every_front_member():
    board = Board()
    rng = random.Random(0)
    board.extend([cand(i, rng.uniform(0, 100), rng.uniform(0, 1e6)) for i in range(20000)])
    xs, ys, fx, fy = board.scatter(columns=40, rows=20)
    assert 700 < len(xs) <= 40 * 20  # nearly every cell of a uniform cloud is occupied
    assert len(fx) == len(board.front.members) >= 1
    assert max(fy) == max(c.score for c in board.candidates)


def cost_event(index: int, score: float, sops: float, ts: float) -> dict:
    return {**candidate_event(index, score, ts), "sops": sops, "macs": 1e7 + index, "params": 1000 + index}


def write_cost_search(path: Path, points: list[tuple[float, float]]) -> None:
    write_run_json(path, "search", "running", config={"dataset": "digits"})
    started = event("run_started", T0, job="search", total=len(points), dataset="digits", objectives=["sahd", "sops"])
    append_events(path, [started] + [cost_event(i, s, c, T0 + 0.5 * (i + 1)) for i, (s, c) in enumerate(points)])


POINTS = [(5.0, 400.0), (9.0, 900.0), (7.0, 300.0), (1.0, 100.0), (4.0, 800.0)]  # front: 1, 2, 3


@pilot_test
async def test_the_search_panel_plots_score_against_sops_with_the_front_and_sorts_by_sops(tmp_path):
    run = tmp_path / "search-costs"
    write_cost_search(run, POINTS)
    app = DashboardApp(RunsSource.for_path(run), poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(leaderboard(app)) == 5, what="5 rows")
        plot = app.query_one("#distribution", PlotextPlot)
        await wait_for(pilot, lambda: plot.border_title.startswith("score vs SOPs"), what="the scatter")
        assert plot.border_title == "score vs SOPs (◆ front 3)"
        rows = leaderboard(app)
        assert [r[0] for r in rows] == ["1", "2", "0", "4", "3"]
        assert {r[0] for r in rows if r[3] == "◆"} == {"1", "2", "3"}
        assert rows[0][4] == "900"
        await pilot.press("s", "s")  # score -> # -> SOPs
        assert [r[0] for r in leaderboard(app)] == ["3", "2", "0", "4", "1"]
        append_events(run, [cost_event(5, 8.0, 200.0, T0 + 3.0)])  # a new member pushes 2 (7, 300) off the front
        await wait_for(pilot, lambda: len(leaderboard(app)) == 6, what="6 rows")
        assert plot.border_title == "score vs SOPs (◆ front 3)"
        assert {r[0] for r in leaderboard(app) if r[3] == "◆"} == {"1", "5", "3"}


@pilot_test
async def test_f_shows_the_front_and_t_trains_the_selected_front_member(tmp_path):
    run = tmp_path / "search-costs"
    write_cost_search(run, POINTS)
    app = DashboardApp(RunsSource(root=tmp_path), poll_interval=0.05, python=fake_python(tmp_path, "record"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(leaderboard(app)) == 5)
        await pilot.press("f")
        assert [r[0] for r in leaderboard(app)] == ["1", "2", "3"]  # the front, by score
        await pilot.press("down", "down", "t")  # candidate 3: the cheapest member
        await wait_for(pilot, lambda: (tmp_path / "argv.json").exists(), what="the train job")
        argv = json.loads((tmp_path / "argv.json").read_text())
        arch_file = Path(argv[argv.index("--arch-file") + 1])
        assert json.loads(arch_file.read_text())["arch"] == candidate_event(3, 1.0, T0)["arch"]


@pilot_test
async def test_a_run_made_before_costs_were_measured_still_opens_with_its_histogram(tmp_path):
    run = tmp_path / "search-old"
    write_search_run(run, [2.0, 9.0, 4.0])  # candidate_scored without sops, macs, params
    app = DashboardApp(RunsSource.for_path(run), poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(leaderboard(app)) == 3)
        assert [r[0] for r in leaderboard(app)] == ["1", "2", "0"]
        assert [r[4] for r in leaderboard(app)] == ["-", "-", "-"]
        assert app.query_one("#distribution", PlotextPlot).border_title == "score distribution (n=3)"
        await pilot.press("f")  # no costs: no front
        assert leaderboard(app) == []
        await pilot.press("f")
        assert len(leaderboard(app)) == 3


def test_a_finished_multi_objective_search_names_the_chosen_cell_as_its_best():
    from snasnet_cli.tui.state import replay

    events = [event("run_started", T0, job="search", total=3, objectives=["sahd", "sops"])]
    events += [cost_event(i, s, c, T0 + i) for i, (s, c) in enumerate([(9.0, 900.0), (5.0, 100.0), (1.0, 950.0)])]
    top = [{"index": 0, "arch": events[1]["arch"], "score": 9.0}, {"index": 1, "arch": events[2]["arch"], "score": 5.0}]
    events.append(
        event("search_finished", T0 + 5, candidates=3, top=top, front=top, chosen={"index": 1, "rule": "knee: ..."})
    )
    state = replay(events)
    search = state.search
    assert search.best.index == 1 and search.best.sops == 100.0  # what best_arch.json holds, not the top score
    assert search.front == (0, 1) and search.chosen_rule == "knee: ..." and search.objectives == ("sahd", "sops")


def test_orders_merged_batch_by_batch_equal_one_sort_of_everything():
    rng = random.Random(4)
    cands = [cand(i, float(rng.randint(0, 20)), float(rng.randint(0, 20)), rng.randint(0, 3)) for i in range(500)]
    cands[7] = cand(7, None, None)  # missing values
    whole, batched = Board(), Board()
    whole.extend(cands)
    for start in range(0, 500, 37):
        batched.extend(cands[start : start + 37])
        for sort in SORTS:
            batched.order(sort, reverse=start % 2 == 1)  # an order kept from batch to batch
    for sort in SORTS:
        for reverse in (False, True):
            expected = sorted(cands, key=lambda c: (sort.value(c) if sort.value else c.arch, c.index))
            if sort.descending != reverse:
                expected = sorted(cands, key=lambda c: (-(sort.value(c) if sort.value else 0), c.index))
            got = [c.index for c in batched.top(sort, reverse, k=500)]
            assert got == [c.index for c in whole.top(sort, reverse, k=500)], (sort.column, reverse)
            if sort.value is not None:
                assert got == [c.index for c in expected], (sort.column, reverse)


def test_the_scatter_kept_batch_by_batch_equals_one_made_at_once():
    rng = random.Random(1)
    cands = [cand(i, rng.uniform(0, 100), rng.uniform(0, 1e6)) for i in range(3000)]
    whole, batched = Board(), Board()
    whole.extend(cands)
    for start in range(0, 3000, 250):
        batched.extend(cands[start : start + 250])
        batched.scatter(columns=30, rows=12)
    assert batched.scatter(columns=30, rows=12) == whole.scatter(columns=30, rows=12)


@pilot_test
async def test_a_finished_multi_objective_search_shows_its_chosen_cell(tmp_path):
    run = tmp_path / "search-costs"
    write_cost_search(run, POINTS)
    top = [{"index": 1, "arch": candidate_event(1, 9.0, T0)["arch"], "score": 9.0}]
    finished = event("search_finished", T0 + 9, candidates=5, top=top, front=top, chosen={"index": 2, "rule": "knee"})
    append_events(run, [finished, event("run_finished", T0 + 9, status="ok", error=None)])
    app = DashboardApp(RunsSource.for_path(run), poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "chosen #2 7.00" in shown(app, "#search-stats"), what="the chosen cell")
