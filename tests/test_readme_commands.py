"""README's shell snippets run as written (issue 28): every ```bash block of README.md is read from the file
itself, and each command in it is either run here, with a check of what it claims to write, or listed in
``NOT_RUN`` with the reason. A command that README gains and this file does not know fails the fast test, so the
snippets cannot drift from what is tested.

``-m slow`` runs the blocks one after another in one working directory, as a user pasting them would: a
``<time>`` is the run directory that the newest ``runs/search-*`` / ``runs/train-*`` of the session is. The
original's checkpoint is written from the golden weights recipe (tests/golden_weights.py) and CIFAR-100 as a
tiny folder in torchvision's format under ./data (nothing can be downloaded here). The benchmarks against the
original code need a checkout of it, which a test cannot have offline: they are run on an empty folder (one line
that says what is missing, a non-zero exit) and their documented flags are checked in ``--help``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from dataset_files import write_cifar100
from golden_weights import make_state_dict

ROOT = Path(__file__).resolve().parents[1]
ORIGINAL_CHECKPOINT = "save_cifar100_bw.pth.tar"
#: the longest one README command may take here, in seconds
COMMAND_LIMIT_S = 3 * 3600
#: README's stand-in for a checkout of the original code
ORIGINAL_DIR = "DIR"

#: commands of README's bash blocks that no test can run, with the reason
NOT_RUN = {
    "python3 -m venv .venv": "the environment: the tests run in one made this way",
    ".venv/bin/pip install -e .": "the environment: the tests run in one made this way",
    ".venv/bin/pip install -e .[dev]": "the environment: the tests run in one made this way",
    ".venv/bin/python -m pytest": "the test suite itself, which this test is part of (.ci/run runs the line)",
    "pip install --no-deps --target DIR/sj14 spikingjelly==0.0.0.0.14": "installs from PyPI into a checkout of "
    "the original code, which a test cannot have offline",
    "tensorboard --logdir runs": "a server; the TensorBoard files it reads are checked (--tensorboard, export-tb)",
    "snasnet tui": "interactive; the dashboard has its own tests (tests/test_tui_*.py, at 80x24 in tmux)",
}


# --- README's commands ---------------------------------------------------------------------------------------------
@dataclass
class Block:
    section: str  # the heading above the block
    commands: list[list[str]]  # each a command's words (``a && b`` is two commands), comments dropped

    @property
    def name(self) -> str:
        return re.sub(r"\W+", "-", self.section.lower()).strip("-")


def bash_blocks() -> list[Block]:
    """README's ```bash blocks, in order, each with the ``##`` heading it is under."""
    blocks, section = [], ""
    for part in re.split(r"(^## .*$)", (ROOT / "README.md").read_text(), flags=re.M):
        if part.startswith("## "):
            section = part[3:].strip()
            continue
        for body in re.findall(r"^```bash\n(.*?)^```", part, re.S | re.M):
            commands = []
            for line in body.splitlines():
                words = shlex.split(line, comments=True)
                while words:
                    end = words.index("&&") if "&&" in words else len(words)
                    commands.append(words[:end])
                    words = words[end + 1 :]
            blocks.append(Block(section, commands))
    return blocks


def text(words: list[str]) -> str:
    return " ".join(words)


def is_snasnet(words: list[str]) -> bool:
    return Path(words[0]).name == "snasnet"


def is_benchmark(words: list[str]) -> bool:
    return words[0] == "python" and words[1].startswith("benchmarks/")


# --- the checks: README's line -> what it claims ---------------------------------------------------------------------
@dataclass
class Session:
    """The working directory the blocks run in, and the run directories made there, oldest first."""

    cwd: Path
    runs: list[Path] = field(default_factory=list)

    def newest(self, job: str) -> Path:
        made = [run for run in self.runs if run.name.startswith(f"{job}-")]
        assert made, f"no runs/{job}-* was made before a line that names runs/{job}-<time>"
        return made[-1]

    def resolve(self, word: str) -> str:
        for job in ("search", "train"):
            if f"runs/{job}-<time>" in word:
                word = word.replace(f"runs/{job}-<time>", f"runs/{self.newest(job).name}")
        return word


@dataclass
class Done:
    """One command's process and the run directories it made."""

    words: list[str]
    process: subprocess.CompletedProcess
    made: list[Path]

    def run(self, job: str) -> Path:
        found = [run for run in self.made if run.name.startswith(f"{job}-") or job == "*"]
        assert len(found) == 1, f"{text(self.words)} made {[r.name for r in self.made]}, expected one {job} run"
        return found[0]


def events(run: Path, name: str) -> list[dict]:
    lines = (run / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == name]


def finished_ok(run: Path) -> dict:
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "ok", (run, info["status"], info["error"])
    return info


def check_search(done: Done, session: Session, candidates: int) -> None:
    run = done.run("search")
    finished_ok(run)
    rows = (run / "candidates.csv").read_text().splitlines()[1:]
    assert 0 < len(rows) <= candidates, f"{len(rows)} candidates scored, -n {candidates}"
    best = json.loads((run / "best_arch.json").read_text())
    assert re.fullmatch(r"[0-4]{4}( [0-4]{4}){3}", best["arch"]), best


def check_train(done: Done, session: Session, arch_from: Path | None = None, chance: float = 0.1) -> Path:
    """best.pt and last.pt written, best.pt tested once, far above chance; the trained cell the searched one."""
    run = done.run("*") if done.made else None
    assert run is not None, f"{text(done.words)} made no run directory"
    finished_ok(run)
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "checkpoints" / "best.pt").is_file()
    assert (run / "config.yaml").is_file()
    (tested,) = events(run, "test_finished")
    assert tested["top1"] > 3 * chance, f"best.pt scored {tested['top1']:.2%} on the test split: near chance"
    if arch_from is not None:
        searched = json.loads((arch_from / "best_arch.json").read_text())
        (started,) = events(run, "run_started")
        assert (started["arch"], started["celltype"]) == (searched["arch"], searched["celltype"]), started
    return run


def check_eval(done: Done, session: Session) -> None:
    """The test accuracy of best.pt, the one its training run measured."""
    out = " ".join(done.process.stdout.split())
    checkpoint = Path(done.words[-1])
    (tested,) = events(session.cwd / checkpoint.parents[1], "test_finished")
    assert f"{tested['images']:,} test images" in out, out[:500]
    assert f"{100 * tested['top1']:.2f}%" in out, (tested["top1"], out[:800])
    finished_ok(done.run("eval"))


def check_onnx(done: Done, session: Session) -> None:
    import onnx

    path = session.cwd / done.words[done.words.index("-o") + 1]
    onnx.checker.check_model(onnx.load(str(path)))  # (the command itself ran it in onnxruntime against torch)
    finished_ok(done.run("export"))


def check_energy(done: Done, session: Session) -> None:
    run = done.run("export")
    finished_ok(run)
    report = json.loads((run / "energy.json").read_text())
    assert report, "energy.json is empty"
    assert len((run / "energy.csv").read_text().splitlines()) > 2, "energy.csv has no layer rows"
    assert (run / "energy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def check_nir(done: Done, session: Session) -> None:
    import nir

    graph = nir.read(str(session.cwd / done.words[done.words.index("-o") + 1]))
    assert graph.nodes and graph.edges
    finished_ok(done.run("export"))


def check_same_weights(done: Done, session: Session) -> None:
    """``--config runs/train-<time>/config.yaml --run-dir runs/again``: the same best.pt as the run it repeats."""
    repeated = session.cwd / Path(done.words[done.words.index("--config") + 1]).parent
    again = check_train(done, session)
    assert again == session.cwd / "runs" / "again"
    first, second = (torch.load(r / "checkpoints" / "best.pt", weights_only=False) for r in (repeated, again))
    assert first["best_epoch"] == second["best_epoch"]
    differ = [k for k in first["state_dict"] if not torch.equal(first["state_dict"][k], second["state_dict"][k])]
    assert not differ, f"runs/again's best.pt differs from {repeated.name}'s in {differ[:5]}"


def check_tensorboard(done: Done, session: Session) -> None:
    run = check_train(done, session)
    assert "lr: 0.005" in (run / "config.yaml").read_text()
    assert list((run / "tb").glob("events.out.tfevents.*")), f"no TensorBoard file in {run / 'tb'}"


def check_export_tb(done: Done, session: Session) -> None:
    run = session.cwd / done.words[-1]
    assert list((run / "tb").glob("events.out.tfevents.*")), f"no TensorBoard file in {run / 'tb'}"


def check_models(done: Done, session: Session) -> None:
    for name in ("snasnet-cifar10-bw", "snasnet-cifar100-bw", "https://"):
        assert name in done.process.stdout, name


def check_original_eval(done: Done, session: Session) -> None:
    out = " ".join(done.process.stdout.split())
    assert f"{ORIGINAL_CHECKPOINT}: 4 test images" in out, out[:500]  # the tiny CIFAR-100's test split
    (started,) = events(done.run("eval"), "run_started")
    assert (started["arch"], started["dataset"]) == ("0302 0030 3003 0000", "cifar100"), started


def check_env(done: Done, session: Session) -> None:
    out = done.process.stdout
    assert f"data root: {session.cwd / 'data'} (from ./data)" in out, out
    assert re.search(r"datasets found: .*cifar100", out), out
    assert re.search(r"^torch: \d", out, re.M), out


def searched_by_previous(check: Callable) -> Callable[[Done, Session], object]:
    """A training of the cell the newest search found."""
    return lambda done, session: check(done, session, arch_from=session.newest("search"))


#: README's commands as written -> what to check after they exit 0
CHECKS: dict[str, Callable[[Done, Session], object]] = {
    # Quickstart
    ".venv/bin/snasnet train --dataset digits": check_train,
    # A whole workflow on digits
    "snasnet search --dataset digits -n 40 --seed 3": lambda d, s: check_search(d, s, 40),
    "snasnet train --from-search runs/search-<time>": searched_by_previous(check_train),
    "snasnet eval runs/train-<time>/checkpoints/best.pt": check_eval,
    "snasnet export onnx runs/train-<time>/checkpoints/best.pt -o model.onnx": check_onnx,
    "snasnet export energy runs/train-<time>/checkpoints/best.pt --dataset digits": check_energy,
    "snasnet export nir runs/train-<time>/checkpoints/best.pt -o model.nir": check_nir,
    # config files, TensorBoard, the paper's networks, the environment
    "snasnet train --config runs/train-<time>/config.yaml --run-dir runs/again": check_same_weights,
    "snasnet train --config runs/train-<time>/config.yaml --lr 0.005 --tensorboard": check_tensorboard,
    "snasnet runs export-tb runs/search-<time>": check_export_tb,
    "snasnet models": check_models,
    "snasnet eval --model snasnet-cifar100-bw save_cifar100_bw.pth.tar": check_original_eval,
    "snasnet env": check_env,
    # digits-dvs
    "snasnet search --dataset digits-dvs -n 20": lambda d, s: check_search(d, s, 20),
    "snasnet train --dataset digits-dvs --arch-file runs/search-<time>/best_arch.json": searched_by_previous(
        check_train
    ),
    "snasnet export onnx runs/train-<time>/checkpoints/best.pt -o dvs.onnx --mode step": check_onnx,
    "snasnet export energy runs/train-<time>/checkpoints/best.pt --dataset digits-dvs": check_energy,
}

#: lines that read the test-made CIFAR folder, whose files cannot have the official md5 sums
READS_CIFAR = {"snasnet eval --model snasnet-cifar100-bw save_cifar100_bw.pth.tar"}

# torchvision checks the official files' md5 sums; test-made files cannot match them. Replaced in that process
# only (as tests/dataset_files.skip_cifar_md5 does in-process): the loader itself is torchvision's, unchanged.
SKIP_MD5 = (
    "import sys, torchvision.datasets.cifar as cifar; cifar.check_integrity = lambda *a, **k: True; "
    "from snasnet_cli.app import main; main(sys.argv[1:])"
)


def test_every_command_of_the_readme_is_run_or_listed_with_a_reason():
    written = [text(words) for block in bash_blocks() for words in block.commands]
    assert written, "README has no bash block"
    known = set(CHECKS) | set(NOT_RUN)
    unknown = [
        line for line in written if line not in known and not (is_benchmark(line.split()) and ORIGINAL_DIR in line)
    ]
    assert not unknown, (
        f"README's commands {unknown} are neither run by {Path(__file__).name} (CHECKS) nor listed in NOT_RUN: "
        "add a check of what each writes, or the reason it cannot run"
    )
    stale = sorted(known - set(written))
    assert not stale, f"{Path(__file__).name} checks or skips commands that README no longer has: {stale}"
    assert any(is_benchmark(line.split()) for line in written), "README runs no benchmark against the original"


# --- the benchmarks against the original code ------------------------------------------------------------------------
def benchmark_sections() -> list[tuple[str, list[str], str]]:
    """(section, the benchmark's command, the section's text) of each section that runs one on the original."""
    found = []
    readme = (ROOT / "README.md").read_text()
    for block in bash_blocks():
        for words in block.commands:
            if is_benchmark(words):
                section = readme.split(f"## {block.section}\n", 1)[1].split("\n## ", 1)[0]
                found.append((block.section, words, section))
    return found


BENCHMARKS = benchmark_sections()


@pytest.mark.parametrize("section, words, prose", BENCHMARKS, ids=[Path(words[1]).stem for _, words, _ in BENCHMARKS])
def test_a_benchmark_without_the_original_says_what_is_missing_and_takes_its_documented_flags(
    section, words, prose, tmp_path
):
    assert words[2:] == ["--original", ORIGINAL_DIR], words
    empty = tmp_path / "original"
    empty.mkdir()
    command = [sys.executable, words[1], "--original", str(empty)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(empty) in lines[0], done.stderr
    assert "Neural-Architecture-Search-for-Spiking-Neural-Networks" in lines[0], "the line does not say what to get"

    # the flags the section documents for the script (not pip's), as its --help lists them
    script_lines = [line for line in prose.splitlines() if "pip install" not in line]
    flags = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", "\n".join(script_lines))) - {"--original"}
    assert flags, f"README's {section} documents no flag of {words[1]}"
    shown = subprocess.run([sys.executable, words[1], "--help"], cwd=ROOT, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    missing = sorted(flag for flag in flags if flag not in shown.stdout)
    assert not missing, f"README's {section} documents {missing}, which {words[1]} --help does not list"


# --- running the blocks ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def session(tmp_path_factory, golden_dir) -> Session:
    """The working directory the blocks run in: the original's checkpoint (the golden weights) and a tiny
    CIFAR-100 under ./data; the other datasets are digits' (bundled) and digits-dvs (made on first use)."""
    cwd = tmp_path_factory.mktemp("readme")
    layout = json.loads((golden_dir / "cifar100_bw.layout.json").read_text())
    torch.save({"state_dict": make_state_dict(layout)}, cwd / ORIGINAL_CHECKPOINT)
    write_cifar100(cwd / "data")
    return Session(cwd)


def run_line(session: Session, words: list[str]) -> Done:
    line = text(words)
    args = [session.resolve(word) for word in words[1:]]
    script = Path(sys.executable).with_name("snasnet")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "snasnet_cli"]
    if line in READS_CIFAR:
        command = [sys.executable, "-c", SKIP_MD5]
    env = {k: v for k, v in os.environ.items() if k != "SNASNET_DATA"}  # ./data, as README's lines assume
    before = set((session.cwd / "runs").glob("*"))
    # a training of README's takes 2 to 4 min on 2 idle cores and was seen to take over 30 on busy ones: the limit
    # only keeps a hung command from holding the test run for ever
    process = subprocess.run(
        command + args, cwd=session.cwd, capture_output=True, text=True, env=env, timeout=COMMAND_LIMIT_S
    )
    assert process.returncode == 0, f"`{line}` exited {process.returncode}:\n{process.stdout[-3000:]}\n{process.stderr}"
    made = sorted(set((session.cwd / "runs").glob("*")) - before, key=lambda p: p.stat().st_mtime)
    session.runs += made
    return Done([words[0], *args], process, made)


RUN_BLOCKS = [block for block in bash_blocks() if any(text(words) in CHECKS for words in block.commands)]


@pytest.mark.slow
@pytest.mark.parametrize("block", RUN_BLOCKS, ids=[block.name for block in RUN_BLOCKS])
def test_the_block_runs_as_written(block, session):
    """The blocks in README's order, in one working directory: a later block uses the runs of an earlier one."""
    ran = 0
    for words in block.commands:
        if text(words) in CHECKS:
            CHECKS[text(words)](run_line(session, words), session)
            ran += 1
    assert ran, block.section
