"""The search from Python: reproducible, deduplicated, resumable, and its run directory."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch

from snasnet.core.errors import ConfigError, DataError
from snasnet.core.runs import EventReader
from snasnet.data.datasets import get_dataset
from snasnet.network.arch import Architecture
from snasnet.search.job import (
    SearchConfig,
    candidate_seed,
    read_scored,
    resume_config,
    run_search,
    score_candidate,
    scoring_batches,
)

pytestmark = pytest.mark.usefixtures("one_thread")

# a small network and small batches keep a candidate well under a second
SMALL = {"channels": 8, "classifier_width": 32}


def config(**changes) -> SearchConfig:
    base = SearchConfig(dataset="digits", num_search=6, batch_size=32, repeat=2, seed=3, device="cpu")
    return base.replace(**{"model_options": SMALL, **changes})


def ranking_of(result) -> list[tuple[int, str, float]]:
    return [(c.index, str(c.arch), c.score) for c in result.ranking]


def csv_rows(run_dir) -> list[dict]:
    with open(run_dir / "candidates.csv", newline="") as f:
        return list(csv.DictReader(f))


def events(run_dir) -> list[dict]:
    return EventReader(run_dir / "events.jsonl").read_new()


def test_the_same_seed_gives_the_same_candidates_scores_and_ranking(tmp_path):
    first = run_search(config(), tmp_path / "a")
    second = run_search(config(), tmp_path / "b")
    assert ranking_of(first) == ranking_of(second)
    assert [c.firing_rates for c in first.candidates] == [c.firing_rates for c in second.candidates]
    other = run_search(config(seed=4), tmp_path / "c")
    assert [c.arch for c in other.candidates] != [c.arch for c in first.candidates]
    # no canonical cell twice, and what is recorded is canonical
    archs = [c.arch for c in first.candidates]
    assert len(set(archs)) == len(archs) == 6 and all(a == a.canonical() for a in archs)
    assert all(math.isfinite(c.score) for c in first.candidates)
    assert [c.score for c in first.ranking] == sorted((c.score for c in first.candidates), reverse=True)


def test_a_score_depends_on_the_seed_and_the_cell_only_not_on_when_it_is_scored(tmp_path):
    result = run_search(config(num_search=3), tmp_path / "run")
    bundle = get_dataset("digits")
    batches = scoring_batches(bundle.search_set, 32, 2, seed=3)
    last = result.candidates[-1]
    again = score_candidate(last.arch, batches, preset="digits", seed=3, **SMALL)
    assert again.score == last.score and again.firing_rates == last.firing_rates
    assert candidate_seed(3, last.arch) != candidate_seed(4, last.arch)


def test_the_run_directory_holds_events_candidates_csv_and_best_arch(tmp_path):
    run_dir = tmp_path / "run"
    result = run_search(config(top_k=3), run_dir)
    log = events(run_dir)
    assert [e["event"] for e in log] == ["run_started"] + ["candidate_scored"] * 6 + ["search_finished", "run_finished"]
    started, scored, finished = log[0], log[1:7], log[7]
    assert started["total"] == 6 and started["strategy"] == "random" and started["dataset"] == "digits"
    assert [e["index"] for e in scored] == list(range(6))
    for event, candidate in zip(scored, result.candidates, strict=True):
        assert event["arch"] == event["canonical"] == str(candidate.arch) and event["celltype"] == "backward"
        assert event["score"] == candidate.score and event["seconds"] > 0
        rates = event["firing_rates"]
        assert set(rates) >= {"downconv1.1", "last_act.1", "classifier.2"}
        assert all(0 <= r <= 1 for r in rates.values()) and max(rates.values()) > 0
    assert [t["index"] for t in finished["top"]] == [c.index for c in result.ranking[:3]]
    assert log[-1]["status"] == "ok"

    rows = csv_rows(run_dir)
    assert [int(r["index"]) for r in rows] == list(range(6))
    by_rank = sorted(rows, key=lambda r: int(r["rank"]))
    assert [float(r["score"]) for r in by_rank] == [c.score for c in result.ranking]

    best = json.loads((run_dir / "best_arch.json").read_text())
    assert Architecture.from_dict(best) == result.ranking[0].arch
    assert best["score"] == result.ranking[0].score and best["dataset"] == "digits" and best["seed"] == 3
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "ok" and info["job"] == "search" and info["config"]["num_search"] == 6


def test_resuming_a_finished_part_scores_only_the_rest_and_ranks_like_one_run(tmp_path):
    whole = run_search(config(num_search=8), tmp_path / "whole")
    run_dir = tmp_path / "parts"
    run_search(config(num_search=5), run_dir)
    # a torn line, as a process killed while writing leaves it
    with open(run_dir / "events.jsonl", "a") as f:
        f.write('{"v": 1, "event": "candidate_sco')
    resumed = run_search(resume_config(run_dir, num_search=8), run_dir, resume=True)
    assert ranking_of(resumed) == ranking_of(whole)
    log = events(run_dir)
    scored = [e["index"] for e in log if e["event"] == "candidate_scored"]
    assert scored == list(range(8)), "each candidate scored once"
    assert log[-1]["event"] == "run_finished" and log[-1]["status"] == "ok"
    restarted = [e for e in log if e["event"] == "run_started"]
    assert restarted[-1]["resumed"] == 5
    assert len(read_scored(run_dir)) == 8
    assert len(csv_rows(run_dir)) == 8


def test_resume_keeps_the_settings_that_decide_the_scores(tmp_path):
    run_search(config(num_search=2), tmp_path / "run")
    with pytest.raises(
        ConfigError,
        match="searched with seed=3.*only num_search, device, data_dir, download, top_k, max_sops, max_params may",
    ):
        resume_config(tmp_path / "run", seed=4)
    assert resume_config(tmp_path / "run", top_k=2, seed=3).top_k == 2
    with pytest.raises(ConfigError, match="holds no run"):
        resume_config(tmp_path / "nothing")
    with pytest.raises(ConfigError, match="no run.json"):
        run_search(config(), tmp_path / "nothing", resume=True)


def stop_after(count: int):
    """An ``on_event`` that presses Ctrl-C once ``count`` candidates are scored."""
    seen = []

    def listener(event: dict) -> None:
        seen.append(event["event"])
        if seen.count("candidate_scored") == count:
            raise KeyboardInterrupt

    return listener


def test_a_resume_with_another_num_search_continues_the_same_order(tmp_path):
    # -n 7012 is the whole forward space: its order used to be another one than any smaller -n's
    forward = {"celltype": "forward", "seed": 0}
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_search(config(num_search=7012, **forward), run_dir, on_event=stop_after(3))
    resumed = run_search(resume_config(run_dir, num_search=5), run_dir, resume=True)
    fresh = run_search(config(num_search=5, **forward), tmp_path / "fresh")
    assert ranking_of(resumed) == ranking_of(fresh)
    assert [e["index"] for e in events(run_dir) if e["event"] == "candidate_scored"] == list(range(5))


def test_a_resume_whose_events_do_not_match_names_the_option_that_differs(tmp_path):
    run_dir = tmp_path / "run"
    run_search(config(num_search=2), run_dir)
    with pytest.raises(
        ConfigError, match="recorded candidate 0 as .*its events were made with seed=3, this search seed=5"
    ):
        run_search(config(num_search=3, seed=5), run_dir, resume=True)
    # run.json edited by hand (or events copied from another run): the same message
    info = json.loads((run_dir / "run.json").read_text())
    info["config"]["celltype"] = "forward"
    (run_dir / "run.json").write_text(json.dumps(info))
    with pytest.raises(
        ConfigError, match="its events were made with celltype='backward', this search celltype='forward'"
    ):
        run_search(resume_config(run_dir, num_search=3), run_dir, resume=True)


def test_a_new_search_never_overwrites_a_run(tmp_path):
    run_search(config(num_search=1), tmp_path / "run")
    with pytest.raises(Exception, match="already holds a run"):
        run_search(config(num_search=1), tmp_path / "run")


@pytest.mark.parametrize("strategy", ["evolution", "exhaustive"])
def test_other_strategies_run_to_their_budget(tmp_path, strategy):
    result = run_search(config(strategy=strategy, num_search=5, population=2, tournament=2), tmp_path / "run")
    archs = [c.arch for c in result.candidates]
    assert len(set(archs)) == 5
    assert events(tmp_path / "run")[0]["strategy"] == strategy


def test_a_network_that_never_fires_is_ranked_last_with_a_null_score(tmp_path):
    result = run_search(config(num_search=2, model_options={**SMALL, "threshold": 1e9}), tmp_path / "run")
    assert all(c.score == -math.inf for c in result.candidates)
    scored = [e for e in events(tmp_path / "run") if e["event"] == "candidate_scored"]
    assert all(e["score"] is None for e in scored)  # JSON has no -inf


def test_scoring_batches_hold_distinct_images_and_depend_on_the_seed():
    data = get_dataset("digits").search_set
    a = scoring_batches(data, 64, 2, seed=1)
    assert [b.shape for b in a] == [torch.Size([64, 1, 8, 8])] * 2
    assert len({tuple(img.flatten().tolist()) for img in a[0]}) == 64
    assert not torch.equal(a[0], a[1])
    assert torch.equal(a[0], scoring_batches(data, 64, 2, seed=1)[0])
    assert not torch.equal(a[0], scoring_batches(data, 64, 2, seed=2)[0])
    with pytest.raises(ConfigError, match="--batch-size 5000 is larger than the 1437 images"):
        scoring_batches(data, 5000, 1, seed=1)


def test_bad_settings_are_refused_before_any_work(tmp_path):
    for changes, message in (
        ({"num_search": 0}, "--num-search must be at least 1"),
        ({"celltype": "sideways"}, "unknown cell type"),
        ({"score": "nwot"}, "unknown score 'nwot'"),
        ({"strategy": "grid"}, "unknown strategy 'grid'"),
        ({"batch_size": 1}, "--batch-size must be at least 2"),
    ):
        with pytest.raises(ConfigError, match=message):
            run_search(config(**changes), tmp_path / "run")
    with pytest.raises(DataError, match="unknown dataset 'mnist'"):
        run_search(config(dataset="mnist"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_resume_with_a_smaller_num_search_is_refused_and_the_products_are_left_whole(tmp_path):
    """`search -n 8; search --resume -n 3` used to rewrite candidates.csv with 3 rows and best_arch.json with a
    worse cell."""
    run_dir = tmp_path / "run"
    whole = run_search(config(num_search=6), run_dir)
    products = {name: (run_dir / name).read_bytes() for name in ("run.json", "events.jsonl", "candidates.csv",
                                                                  "best_arch.json")}  # fmt: skip
    with pytest.raises(ConfigError, match=r"holds 6 scored candidates .*-n 3 would leave 3 of them out .*give -n 6"):
        run_search(resume_config(run_dir, num_search=3), run_dir, resume=True)
    assert {name: (run_dir / name).read_bytes() for name in products} == products
    again = run_search(resume_config(run_dir, num_search=6), run_dir, resume=True)  # the same -n: nothing lost
    assert ranking_of(again) == ranking_of(whole) and len(csv_rows(run_dir)) == 6


def test_an_interrupted_search_may_be_resumed_to_stop_at_what_it_has(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_search(config(num_search=8), run_dir, on_event=stop_after(3))
    with pytest.raises(ConfigError, match="holds 3 scored candidates"):
        run_search(resume_config(run_dir, num_search=2), run_dir, resume=True)
    resumed = run_search(resume_config(run_dir, num_search=3), run_dir, resume=True)
    assert len(resumed.candidates) == 3 and len(csv_rows(run_dir)) == 3
