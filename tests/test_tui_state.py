"""The dashboard's reducer (events -> what is shown), without any terminal: numbers from hand-written events."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from prepared_runs import T0, candidate_event, epoch_event, event, search_events, train_events

from snasnet_cli.tui.state import (
    MAX_STEP_POINTS,
    RunState,
    format_duration,
    format_score,
    reduce,
    replay,
    summarize,
    with_info,
)


def test_search_progress_best_rate_and_eta_come_from_the_events():
    # 4 of 10 candidates, one every 0.5 s from T0: 4 in 2.0 s is 2 per second, 6 left take 3 s
    state = replay(search_events([1.0, 5.0, 3.0, 2.0], total=10, finished=False))
    s = state.search
    assert (state.job, state.status) == ("search", "running")
    assert (s.done, s.total, s.progress) == (4, 10, 0.4)
    assert s.rate == pytest.approx(2.0) and s.eta_seconds == pytest.approx(3.0)
    assert s.best.index == 1 and s.best.score == 5.0
    assert s.best.firing_rates == candidate_event(1, 5.0, 0)["firing_rates"]


def test_search_finished_names_the_best_from_its_top_list_and_keeps_the_firing_rates():
    events = search_events([1.0, 5.0, 3.0, 2.0])
    state = replay(events)
    assert state.status == "ok" and state.search.finished and state.search.eta_seconds == 0.0
    assert [c.index for c in state.search.top] == [1, 2, 3]
    assert state.search.best_arch_file == "best_arch.json"
    assert state.search.top[0].firing_rates == events[2]["firing_rates"]  # candidate 1 is the 3rd event


def test_replaying_in_chunks_gives_the_same_state_as_replaying_at_once():
    events = search_events([3.0, 1.0, 4.0, 1.5, 9.0]) + train_events([0.5, 0.6], epochs=3)
    whole = replay(events)
    for cut in range(len(events) + 1):
        assert reduce(reduce(RunState(), events[:cut]), events[cut:]) == whole, f"split at {cut}"


def test_reduce_leaves_the_old_state_untouched():
    first = replay(search_events([1.0, 2.0], total=5, finished=False))
    later = reduce(first, [candidate_event(2, 7.0, T0 + 1.5)])
    assert first.search.done == 2 and first.search.best.score == 2.0
    assert later.search.done == 3 and later.search.best.score == 7.0


def test_training_progress_eta_lr_and_accuracies():
    # 3 of 5 epochs of 4 steps, a step every 2.5 s: 12 steps in 30 s, 8 left take 20 s
    state = replay(train_events([0.5, 0.8, 0.7], epochs=5, finished=False))
    t = state.train
    assert (t.current_epoch, t.epochs, t.steps_done) == (3, 5, 12)
    assert t.progress == pytest.approx(0.6) and t.eta_seconds == pytest.approx(20.0)
    assert t.final_val_acc == 0.7 and t.best_val_acc == 0.8
    assert t.lr == pytest.approx(0.1 / 3, abs=1e-5) and t.images_per_s == 820.0
    assert len(t.steps) == 12 and t.steps[5].position == pytest.approx(1.5)
    assert [c.epoch for c in t.checkpoints] == [1, 2, 3]


def test_spikes_are_the_last_epochs_per_layer_rates_and_counts():
    state = replay(train_events([0.5, 0.8], epochs=2))
    spikes = state.spikes
    expected = epoch_event(2, 2, 0.8, 0)
    assert spikes.label == "epoch 2"
    assert [name for name, _, _ in spikes.layers()] == list(expected["firing_rates"])
    assert spikes.layers()[0] == ("cell1.cell_architecture.0.0", 0.022, 22.0)
    assert spikes.mean_firing_rate == pytest.approx(sum(expected["firing_rates"].values()) / 5)
    assert spikes.total_spikes_per_image == expected["total_spikes_per_image"]


def test_an_epoch_without_validation_leaves_the_last_measured_spikes_in_view():
    unvalidated = dict(epoch_event(3, 3, 0.9, T0 + 40), val_acc=None, val_loss=None, firing_rates=None,
                       spikes_per_image=None, total_spikes_per_image=None)  # fmt: skip
    state = replay(train_events([0.5, 0.8], epochs=3, finished=False) + [unvalidated])
    assert state.spikes.label == "epoch 2" and state.train.final_val_acc == 0.8
    assert state.train.current_epoch == 3


def test_an_evaluation_shows_its_accuracy_and_spikes():
    rates = {"lif1": 0.1, "lif2": 0.3}
    state = replay([
        event("run_started", T0, job="eval", checkpoint="runs/t/checkpoints/best.pt"),
        event("eval_finished", T0 + 3, checkpoint="runs/t/checkpoints/best.pt", dataset="digits", top1=0.91,
              top5=0.99, loss=0.3, firing_rates=rates, spikes_per_image={"lif1": 10.0, "lif2": 30.0},
              total_spikes_per_image=40.0, images=360),
        event("run_finished", T0 + 3, status="ok", error=None),
    ])  # fmt: skip
    assert state.evaluation.top1 == 0.91 and state.evaluation.images == 360
    assert state.spikes.label == "evaluation" and state.spikes.mean_firing_rate == pytest.approx(0.2)
    assert summarize(state).headline == "top1 91.0%, top5 99.0%"


def test_unknown_events_and_fields_of_the_wrong_type_are_ignored_not_fatal():
    events = search_events([1.0], total=3, finished=False) + [
        event("something_new", T0 + 2, whatever=1),
        event("candidate_scored", T0 + 2, arch="0302 0030 3003 0000"),  # no index: cannot be placed
        event("candidate_scored", T0 + 2, index=5, arch="0302 0030 3003 0000", score="high", firing_rates=[1, 2]),
        event("train_step", T0 + 2, epoch="one", step=1),
    ]
    state = replay(events)
    assert state.unknown_events == 3 and state.events == len(events)
    assert state.search.done == 2
    assert state.search.candidates[1].score is None and dict(state.search.candidates[1].firing_rates) == {}
    assert state.search.best.index == 0  # a missing score ranks below every real one


def test_a_minus_infinite_score_ranks_last_and_stays_out_of_the_histogram():
    state = replay(search_events([-math.inf, 2.0, 1.0], total=3, finished=False))
    assert state.search.best.score == 2.0
    assert sorted(state.search.finite_scores()) == [1.0, 2.0]
    assert format_score(-math.inf) == "-inf" and format_score(2.0) == "2.00" and format_score(None) == "-"


def test_a_failed_run_carries_its_error():
    state = replay([event("run_started", T0, job="train", epochs=3, steps_per_epoch=4),
                    event("run_finished", T0 + 1, status="failed", error="DataError: no digits")])  # fmt: skip
    assert state.status == "failed" and state.finished and state.error == "DataError: no digits"
    assert summarize(state).headline.endswith("DataError: no digits")


def test_run_json_speaks_for_a_run_whose_events_are_silent():
    empty = with_info(RunState(), {"job": "search", "status": "running", "started": T0})
    assert (empty.job, empty.status, empty.started_ts) == ("search", "running", T0)
    died = with_info(replay(search_events([1.0], total=3, finished=False)), {"status": "failed", "error": "killed"})
    assert (died.status, died.error) == ("failed", "killed")
    # the events' own ending wins over a run.json not yet rewritten
    done = with_info(replay(search_events([1.0])), {"status": "running"})
    assert done.status == "ok"


def test_a_resumed_training_restarts_the_rate_clock_and_replaces_a_repeated_epoch():
    first = train_events([0.5, 0.6], epochs=4, finished=False)
    resumed_at = T0 + 1000
    resumed = [
        event("run_started", resumed_at, job="train", epochs=4, steps_per_epoch=4),
        event("train_step", resumed_at + 10, epoch=2, step=4, steps=4, loss=1.0, acc=0.7, lr=0.05, images_per_s=1),
        epoch_event(2, 4, 0.65, resumed_at + 10),
    ]
    t = replay(first + resumed).train
    assert [e.epoch for e in t.epoch_log] == [1, 2] and t.epoch_log[-1].val_acc == 0.65
    # the clock restarted at the resume: 0 new steps beyond the 8 done, so no rate yet
    assert t.steps_done == 8 and t.eta_seconds is None


def test_training_steps_kept_for_the_curves_are_bounded_but_span_the_whole_run():
    n = 3 * MAX_STEP_POINTS
    events = [event("run_started", T0, job="train", epochs=1, steps_per_epoch=n)]
    events += [event("train_step", T0 + i, epoch=1, step=i, steps=n, loss=1.0 / i, acc=0.5, lr=0.1,
                     images_per_s=1.0) for i in range(1, n + 1)]  # fmt: skip
    t = replay(events).train
    assert MAX_STEP_POINTS // 2 <= len(t.steps) <= MAX_STEP_POINTS
    assert t.steps[0].step == 1 and t.steps[-1].step > n - 10
    assert t.last_step.step == n and t.steps_done == n


def test_headlines_of_the_runs_panel():
    assert summarize(replay(search_events([1.0, 5.0], total=4, finished=False))).headline == (
        "best 5.00 (0100 0020 0003 1000), 2/4 scored"
    )
    assert summarize(replay(train_events([0.5, 0.8], epochs=3, finished=False))).headline == (
        "best val 80.0% (epoch 2), epoch 2/3"
    )
    assert format_duration(3725) == "1:02:05" and format_duration(65) == "1:05" and format_duration(None) == "-"


def test_a_trainings_headline_is_its_best_epoch_and_best_pts_test_accuracy_not_the_last_epoch():
    """Issue 28: the runs panel showed the last epoch's 85.0% where best.pt holds 87.5%."""
    state = replay(train_events([0.61, 0.875, 0.83, 0.85], epochs=4, test=0.8722))
    assert summarize(state).headline == "best val 87.5% (epoch 2), test 87.2%, epoch 4/4"
    t = state.train
    assert (t.best_epoch.epoch, t.test.top1, t.test.epoch, t.test.images) == (2, 0.8722, 2, 360)
    assert (t.select_on, t.val_images) == ("val", 144)
    # chosen on the test split (--select-on test): no second "test" figure, and the label says which split
    original = [dict(e, select_on="test") if e["event"] == "run_started" else e for e in train_events([0.5], 1)]
    assert summarize(replay(original)).headline == "best test split 50.0% (epoch 1), epoch 1/1"


def test_a_cancelled_or_failed_run_has_no_eta():
    """Issue 28: a cancelled run kept the ETA it had when it stopped."""
    for status in ("cancelled", "failed"):
        stopped = event("run_finished", T0 + 100, status=status, error="interrupted")
        train = train_events([0.5, 0.6], epochs=4, finished=False)
        assert replay(train).train.eta_seconds is not None
        assert replay([*train, stopped]).train.eta_seconds is None
        search = search_events([1.0, 2.0], total=10, finished=False)
        assert replay(search).search.eta_seconds is not None
        assert replay([*search, stopped]).search.eta_seconds is None
    # resumed: the clock runs again
    resumed = event("run_started", T0 + 200, job="train", epochs=4, steps_per_epoch=4)
    step = event("train_step", T0 + 210, epoch=3, step=1, steps=4, loss=1.0, acc=0.5, lr=0.1, images_per_s=1.0)
    again = replay([*train_events([0.5, 0.6], epochs=4, finished=False), stopped, resumed, step])
    assert again.train.eta_seconds == pytest.approx(70.0)  # 1 step in 10 s, 7 left


@pytest.mark.parametrize("module", ["snasnet_cli.tui.state", "snasnet_cli.tui.source", "snasnet_cli.tui.jobs"])
def test_the_reducer_source_and_jobs_import_neither_textual_nor_torch(module):
    code = f"import sys, {module}; print(sorted({{'torch', 'textual'}} & {{m.split('.')[0] for m in sys.modules}}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- the mean firing rate: the library's (all spikes over all neuron-steps), not an average of the layers --------
def test_a_candidates_mean_firing_rate_is_the_one_its_event_carries():
    # layers of 0.1 and 0.5 whose mean over all their neurons the search computed as 0.15 (the first is 7x bigger)
    scored = dict(candidate_event(0, 1.0, T0), firing_rates={"lif1": 0.1, "lif2": 0.5}, mean_firing_rate=0.15)
    state = replay([event("run_started", T0, job="search", total=1), scored])
    (candidate,) = state.search.candidates
    assert candidate.mean_firing_rate == 0.15  # an unweighted mean would say 0.3
    assert state.spikes.mean_firing_rate == 0.15  # the best candidate's reading says the same


def test_an_epochs_mean_firing_rate_weights_each_layer_by_its_neurons_as_the_library_does():
    import torch
    from helpers import lively_weights

    from snasnet.measure.spikes import SpikeMonitor
    from snasnet.network.model import build_model

    model = lively_weights(build_model("digits", "0302 0030 3003 0000"), 4).eval()
    with SpikeMonitor(model) as monitor, torch.no_grad():
        model(torch.randn(16, 1, 8, 8, generator=torch.Generator().manual_seed(0)))
    summary = monitor.summary()
    assert all(rate > 0 for rate in summary["firing_rates"].values())  # every layer's size shows in the event
    rates = list(summary["firing_rates"].values())
    assert abs(summary["mean_firing_rate"] - sum(rates) / len(rates)) > 1e-3  # the weighting matters here
    # epoch_finished carries the per-layer figures but no mean_firing_rate
    finished = dict(epoch_event(1, 1, 0.5, T0 + 1), firing_rates=summary["firing_rates"],
                    spikes_per_image=summary["spikes_per_image"])  # fmt: skip
    state = replay([event("run_started", T0, job="train", epochs=1, steps_per_epoch=4), finished])
    assert state.spikes.mean_firing_rate == pytest.approx(summary["mean_firing_rate"], rel=1e-9)


def test_hand_computed_weighting_and_an_evaluations_own_figure():
    # lif1: 100 spikes per image at rate 0.1 is 1000 neuron-steps; lif2: 5 at 0.5 is 10; silent lif3 adds nothing
    finished = dict(epoch_event(1, 1, 0.5, T0 + 1), firing_rates={"lif1": 0.1, "lif2": 0.5, "lif3": 0.0},
                    spikes_per_image={"lif1": 100.0, "lif2": 5.0, "lif3": 0.0})  # fmt: skip
    state = replay([event("run_started", T0, job="train", epochs=1, steps_per_epoch=4), finished])
    assert state.spikes.mean_firing_rate == pytest.approx(105 / 1010)
    evaluated = event("eval_finished", T0 + 2, top1=0.9, firing_rates={"lif1": 0.1, "lif2": 0.5},
                      spikes_per_image={"lif1": 100.0, "lif2": 5.0}, mean_firing_rate=0.104)  # fmt: skip
    assert replay([event("run_started", T0, job="eval"), evaluated]).spikes.mean_firing_rate == 0.104
