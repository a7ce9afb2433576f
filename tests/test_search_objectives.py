"""A search with several objectives (score up, SOPs down): costs of every candidate, the Pareto front, the chosen
cell (budgets or the knee), NSGA-II selection in evolution, resume, and mistakes in the options."""

from __future__ import annotations

import csv
import json
import math

import pytest
from test_search import SMALL, config, csv_rows, events, ranking_of
from test_search_cli import run_cli

from snasnet.core.errors import ConfigError
from snasnet.measure.complexity import complexity
from snasnet.network.model import build_model
from snasnet.search.job import resume_config, run_search
from snasnet.search.objectives import minimised, parse_objectives
from snasnet.search.pareto import dominates, front_ranks, knee
from snasnet.search.strategies import AgingEvolution, _merit

pytestmark = pytest.mark.usefixtures("one_thread")
TWO = ("sahd", "sops")


@pytest.fixture(scope="module")
def front_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("front") / "run"
    return run_search(config(num_search=10, objectives=TWO), run_dir)


def test_one_objective_is_the_search_of_before(tmp_path):
    plain = run_search(config(), tmp_path / "plain")
    named = run_search(config(objectives=("sahd",)), tmp_path / "named")
    assert ranking_of(named) == ranking_of(plain)
    assert (tmp_path / "named" / "best_arch.json").read_text() == (tmp_path / "plain" / "best_arch.json").read_text()
    assert not (tmp_path / "named" / "pareto.csv").exists() and plain.front == [] and plain.chosen is None
    assert [r["front"] for r in csv_rows(tmp_path / "plain")] == [""] * 6
    # naming the score alone is the default: a search made without --objectives resumes with it
    assert resume_config(tmp_path / "plain", objectives=("sahd",), num_search=7).objectives is None


def test_every_candidate_carries_its_cost_in_events_and_candidates_csv(front_run):
    scored = [e for e in events(front_run.run_dir) if e["event"] == "candidate_scored"]
    rows = {int(r["index"]): r for r in csv_rows(front_run.run_dir)}
    assert len(scored) == len(rows) == 10
    for event in scored:
        model = build_model("digits", event["arch"], celltype=event["celltype"], **SMALL)
        dense = complexity(model)
        assert event["macs"] == dense.macs_per_image and event["params"] == dense.params
        assert event["sops"] > 0
        row = rows[event["index"]]
        assert (float(row["sops"]), float(row["macs"]), int(row["params"])) == (
            event["sops"], event["macs"], event["params"],
        )  # fmt: skip
    # SOPs differ between cells (a front of one point would test nothing)
    assert len({e["sops"] for e in scored}) == 10


def test_the_front_is_the_non_dominated_set_and_every_candidate_has_its_front_rank(front_run):
    objectives = parse_objectives(TWO)
    points = {c.index: minimised(objectives, c) for c in front_run.candidates}
    expected = dict(zip(points, front_ranks(list(points.values())), strict=True))
    assert front_run.fronts == expected
    on_front = {c.index for c in front_run.front}
    assert on_front == {i for i, r in expected.items() if r == 1} and len(on_front) >= 2
    for i in on_front:
        assert not any(dominates(points[j], points[i]) for j in points)
    assert {int(r["index"]): int(r["front"]) for r in csv_rows(front_run.run_dir)} == expected
    # ranked by front, then by score
    assert [front_run.fronts[c.index] for c in front_run.ranking] == sorted(expected.values())


def test_pareto_csv_and_best_arch_hold_the_front_and_the_knee(front_run):
    with open(front_run.run_dir / "pareto.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["index"]) for r in rows] == [c.index for c in front_run.front]
    best = json.loads((front_run.run_dir / "best_arch.json").read_text())
    objectives = parse_objectives(TWO)
    at = knee([minimised(objectives, c) for c in front_run.front])
    assert best["index"] == front_run.front[at].index == front_run.chosen.index
    assert best["arch"] == str(front_run.front[at].arch) and best["rule"].startswith("knee:")
    assert [m["index"] for m in best["front"]] == [c.index for c in front_run.front]
    assert best["objectives"] == list(TWO) and best["sops"] == front_run.front[at].sops
    assert [r["chosen"] for r in rows].count("1") == 1
    finished = [e for e in events(front_run.run_dir) if e["event"] == "search_finished"][-1]
    assert finished["chosen"]["index"] == best["index"]
    assert [m["index"] for m in finished["front"]] == [m["index"] for m in best["front"]]


def test_a_sops_budget_chooses_the_best_score_within_it(front_run, tmp_path):
    costs = sorted(c.sops for c in front_run.candidates)
    limit = costs[4]  # five candidates are within it
    within = [c for c in front_run.candidates if c.sops <= limit]
    result = run_search(config(num_search=10, objectives=TWO, max_sops=limit), tmp_path / "budget")
    best = max(within, key=lambda c: (c.score, -c.index))
    assert result.chosen.index == best.index
    stored = json.loads((tmp_path / "budget" / "best_arch.json").read_text())
    assert stored["index"] == best.index and stored["rule"].startswith("budget:")
    assert stored["budgets"] == {"max_sops": limit}
    # below every candidate's cost: the one that exceeds it least, and the file says so
    tight = run_search(config(num_search=10, objectives=TWO, max_sops=costs[0] / 2), tmp_path / "tight")
    assert tight.chosen.sops == costs[0] and "no candidate" in tight.rule


def test_a_params_budget(tmp_path):
    result = run_search(config(num_search=8, objectives=("sahd", "params"), max_params=10**9), tmp_path / "run")
    assert result.chosen.index == max(result.candidates, key=lambda c: (c.score, -c.index)).index


def test_resuming_a_multi_objective_evolution_gives_the_same_front(tmp_path):
    options = {"objectives": TWO, "strategy": "evolution", "population": 3, "tournament": 2}
    # (a budget under twice the population shrinks evolution's population: both budgets keep it whole)
    whole = run_search(config(num_search=10, **options), tmp_path / "whole")
    run_search(config(num_search=6, **options), tmp_path / "part")
    resumed = run_search(resume_config(tmp_path / "part", num_search=10), tmp_path / "part", resume=True)
    assert ranking_of(resumed) == ranking_of(whole)
    assert [c.index for c in resumed.front] == [c.index for c in whole.front]
    assert resumed.chosen.index == whole.chosen.index
    for name in ("best_arch.json", "pareto.csv"):
        assert (tmp_path / "part" / name).read_text() == (tmp_path / "whole" / name).read_text()


def test_a_resume_with_a_larger_budget_keeps_the_population_evolution_started_with(tmp_path):
    # 6 candidates halve the default population of 50 to 3; 10 would make it 5 and breed other children
    options = {"objectives": TWO, "strategy": "evolution", "tournament": 2}
    run_search(config(num_search=6, **options), tmp_path / "part")
    resumed = run_search(resume_config(tmp_path / "part", num_search=10), tmp_path / "part", resume=True)
    whole = run_search(config(num_search=10, population=3, **options), tmp_path / "whole")
    assert len(resumed.candidates) == 10
    assert [str(c.arch) for c in resumed.candidates] == [str(c.arch) for c in whole.candidates]
    assert ranking_of(resumed) == ranking_of(whole)


def test_nsga_tournament_prefers_the_better_front_then_the_less_crowded_member():
    # front 1: (0, 4), (1, 3), (2, 2), (4, 0); front 2: (3, 3); a singular score (inf) after every front
    values = [(3.0, 3.0), (0.0, 4.0), (1.0, 3.0), (2.0, 2.0), (4.0, 0.0), (math.inf, 0.0)]
    merit = _merit(values)
    assert merit[0] < merit[2] < merit[3] < merit[1] == merit[4]  # crowding 1.0 < 1.5 < inf
    assert merit[5] < merit[0]
    # one objective: the score itself, as before
    assert _merit([1.0, 3.0]) == [1.0, 3.0]


def test_evolution_breeds_from_the_tournament_winner_by_front_and_crowding():
    strategy = AgingEvolution("backward", seed=1, budget=20, population=4, tournament=4)
    founders = strategy.propose(4)
    values = [(3.0, 3.0), (0.0, 4.0), (2.0, 2.0), (4.0, 0.0)]  # (2, 2) is the only inner front member
    for arch, value in zip(founders, values, strict=True):
        strategy.observe(arch, value)
    (child,) = strategy.propose(1)
    # the whole population is in the tournament: the boundary members (0, 4) and (4, 0) have infinite crowding;
    # the first of them in the population's order is the parent (comparing the tuples would take (4, 0))
    assert strategy.parent_of[child] == founders[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--objectives", "sahd,latency"], "unknown objective 'latency': choose one of sahd, sahd_v1, hamming, sops"),
        (["--objectives", "sahd,hamming"], "--objectives names 2 scores (sahd, hamming): a search computes one"),
        (["--objectives", "sahd,sops,sops"], "--objectives names an objective twice"),
        (["--objectives", "sahd,"], "--objectives wants names separated by commas"),
        (["--max-sops", "1e6"], "--max-sops bounds the sops of a search with several objectives: give --objectives"),
        (["--objectives", "sahd,sops", "--max-params", "5"], "--max-params bounds the params of a search with several"),
        (["--objectives", "sahd,sops", "--max-sops", "0"], "--max-sops must be a positive number (got 0.0)"),
        (
            ["--objectives", "hamming,sops", "--score", "sahd"],
            "--objectives names the score hamming but --score is sahd",
        ),
    ],
)
def test_bad_objectives_and_budgets_exit_2_with_one_line(capsys, tmp_path, args, message):
    code, out, err = run_cli(capsys, "search", "--run-dir", str(tmp_path / "run"), *args)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert message in err
    assert not (tmp_path / "run").exists()


def test_objectives_naming_a_score_set_the_searchs_score(capsys, tmp_path):
    run_dir = tmp_path / "run"
    args = ["--dataset", "digits", "-n", "3", "--batch-size", "32", "--seed", "3", "--device", "cpu", "--quiet"]
    code, out, err = run_cli(capsys, "search", *args, "--objectives", "hamming,sops", "--run-dir", str(run_dir))
    assert code == 0, err
    assert "Pareto front" in out and "chosen: #" in out
    stored = json.loads((run_dir / "run.json").read_text())["config"]
    assert stored["score"] == "hamming" and stored["objectives"] == ["hamming", "sops"]
    with pytest.raises(ConfigError, match="searched with objectives"):
        resume_config(run_dir, objectives=("hamming", "params"))
