"""The help screen: what each panel shows and every key."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# snasnet dashboard

Follows run directories (`events.jsonl`, `run.json`) live, whether a job runs here or on another machine and the
directory is synced; starts jobs as `snasnet` processes of their own.

| key | does |
| --- | --- |
| `1` - `5` | search, training, spikes, log, runs panel |
| `n` | new job: search, train, eval or export, with its main options |
| `t` | train the candidate selected in the leaderboard (the best one if none is) |
| `e` / `x` | evaluate / export to ONNX the checkpoint of the training in focus |
| `c` | cancel the job in focus (it checkpoints and records *cancelled*) |
| `s` / `r` | leaderboard: next sort column (score, #, SOPs, MACs, params, ...) / reverse order (or click a header) |
| `f` | leaderboard: only the Pareto front of score vs SOPs (◆), e.g. to train one with `t` / everything |
| `Enter` | runs panel: follow that run |
| `?` | this help; `Esc` closes it |
| `q` | quit (asks first while jobs run) |

**Search**: progress, candidates per second, ETA, best score so far, the leaderboard, the selected candidate's
cell (forward edges above the nodes, backward edges - the value of step t-1 - dashed below) and the scores.
**Training**: epoch progress, lr, images/s, ETA, loss and accuracy curves (train per step, val per epoch).
**Spikes**: firing rate of every LIF layer (bar), its sparsity (1 - rate) and spikes per image, each epoch.
**Log**: what the job printed, how it ended, and malformed lines of `events.jsonl` that were skipped.
**Runs**: every run with its job, status and main figure.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Markdown(HELP)
