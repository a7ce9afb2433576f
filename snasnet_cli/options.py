"""Options shared by the job commands (Typer ``Annotated`` aliases), so they read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

RunDirOption = Annotated[
    Path | None, typer.Option("--run-dir", help="Run directory to write (default runs/<job>-<YYYYmmdd-HHMMSS>).")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
DeviceOption = Annotated[str, typer.Option("--device", help="auto (CUDA if present), cpu, cuda or cuda:N.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same result.")]
DatasetOption = Annotated[
    str, typer.Option("--dataset", help="cifar10, cifar100, tinyimagenet, imagefolder, digits, synthetic.")
]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Where the dataset lies (or is downloaded to).")]
CelltypeOption = Annotated[str, typer.Option("--celltype", help="forward or backward.")]
TimestepsOption = Annotated[int, typer.Option("--timesteps", help="Timesteps T.")]
