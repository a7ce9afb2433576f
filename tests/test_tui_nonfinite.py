"""The dashboard over a run whose numbers are not all finite (issue 13, item 4): NaN and Infinity literals (older
versions and hand-written files), and the nulls that strict events write for them now. The Training tab draws
what is finite and says how many points it skipped; the app keeps running."""

from __future__ import annotations

import json

from prepared_runs import T0, event, write_train_run
from test_tui_app import SIZE, pilot_test, shown, wait_for
from textual_plotext import PlotextPlot

from snasnet_cli.tui.app import DashboardApp
from snasnet_cli.tui.source import RunsSource

# what Python's json.dumps wrote before events were strict (and what a hand-edited file may hold)
LITERALS = [
    '{"v":1,"ts":%s,"event":"train_step","epoch":3,"step":1,"steps":4,"loss":NaN,"acc":0.5,"lr":0.01,'
    '"images_per_s":800.0}' % (T0 + 22.5),
    '{"v":1,"ts":%s,"event":"train_step","epoch":3,"step":2,"steps":4,"loss":Infinity,"acc":-Infinity,'
    '"lr":0.01,"images_per_s":800.0}' % (T0 + 25.0),
]


@pilot_test
async def test_nan_infinity_and_nulls_are_skipped_by_the_curves_and_said(tmp_path):
    run = tmp_path / "train-1"
    write_train_run(run, [0.5, 0.7], epochs=4, finished=False)
    with open(run / "events.jsonl", "a", encoding="utf-8") as f:
        f.write("\n".join(LITERALS) + "\n")
        strict = event(
            "train_step",
            T0 + 27.5,
            epoch=3,
            step=3,
            steps=4,
            loss=None,
            acc=0.6,
            lr=0.01,
            images_per_s=800.0,
            nonfinite={"loss": "nan"},
        )
        f.write(json.dumps(strict) + "\n")
    app = DashboardApp(RunsSource.for_path(run), poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await wait_for(pilot, lambda: "epoch 3/4" in shown(app, "#train-stats"), what="epoch 3")
        loss_plot = app.query_one("#loss-plot", PlotextPlot)
        acc_plot = app.query_one("#acc-plot", PlotextPlot)
        await wait_for(pilot, lambda: bool(loss_plot.border_subtitle), what="the loss plot's note")
        await pilot.pause(0.2)
        assert app.is_running
        # loss: NaN, Infinity and the strict null are skipped; accuracy: -Infinity
        assert loss_plot.border_subtitle == "3 non-finite points skipped"
        assert acc_plot.border_subtitle == "1 non-finite point skipped"
        drawn = loss_plot.render().plain
        assert "train" in drawn and "2.10" in drawn  # the finite points are drawn: epoch 1's val loss tops the axis
