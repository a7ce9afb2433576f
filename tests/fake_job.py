"""A stand-in for ``python -m snasnet_cli <command> ...`` in dashboard tests that must not depend on PyTorch work:
it follows the run-directory protocol with ``snasnet.core.runs`` (no torch) and behaves as its first argument says.

    fake_job.py MODE -m snasnet_cli <command> ... --run-dir DIR ...

MODE ``die``: print a traceback's last line to stderr and exit 1 before making the run directory.
MODE ``slow``: a search that scores a candidate every 0.05 s until interrupted (SIGINT: records cancelled).
MODE ``record``: write the command line to ``argv.json`` beside the run directory and finish at once.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from snasnet.core.runs import RunDir


def main() -> int:
    mode, args = sys.argv[1], sys.argv[4:]  # drop MODE, -m, snasnet_cli
    command = sys.argv[4] if len(sys.argv) > 4 else "?"
    run_dir = Path(args[args.index("--run-dir") + 1])
    if mode == "die":
        print("Traceback (most recent call last):", file=sys.stderr)
        print("RuntimeError: CUDA out of memory (fake)", file=sys.stderr)
        return 1
    if mode == "record":
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        (run_dir.parent / "argv.json").write_text(json.dumps(args))
        run = RunDir.create(command, {}, run_dir)
        with run.job(job=command):
            pass
        return 0
    run = RunDir.create("search", {"dataset": "digits"}, run_dir)
    print("fake search started", file=sys.stderr)
    try:
        with run.job(job="search", total=100000, strategy="random", dataset="digits"):
            for i in range(100000):
                time.sleep(0.05)
                run.emit("candidate_scored", index=i, arch="0302 0030 3003 0000", celltype="backward",
                         canonical="0302 0030 3003 0000", score=float(i % 13), firing_rates={"lif1": 0.1},
                         seconds=0.05)  # fmt: skip
    except KeyboardInterrupt:
        print("interrupted: checkpointed", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
