"""The training-free search: scores (``score``), strategies that propose cells (``strategies``), objectives
and their Pareto ranking (``objectives``, ``pareto``), and the search job that writes a run (``job``).

Imports ``snasnet.core``, ``snasnet.network``, ``snasnet.data`` and ``snasnet.measure``. The job's names are
offered here too, as the module ``snasnet.search`` offered them before the package existed
(``from snasnet.search import SearchConfig, run_search``); they are imported on first use, so
``import snasnet.search.pareto`` loads only that module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from snasnet.core.lazy import lazy_dir, lazy_exports

__all__ = [
    "CANDIDATES_CSV",
    "CSV_FIELDS",
    "PARETO_CSV",
    "PARETO_FIELDS",
    "RESUMABLE_CHANGES",
    "Candidate",
    "SearchConfig",
    "SearchResult",
    "candidate_seed",
    "load_search_config",
    "ranked",
    "read_scored",
    "resume_config",
    "run_search",
    "score_candidate",
    "scoring_batches",
    "write_best_arch",
    "write_candidates_csv",
    "write_pareto_csv",
]

if TYPE_CHECKING:
    from snasnet.search.job import (
        CANDIDATES_CSV,
        CSV_FIELDS,
        PARETO_CSV,
        PARETO_FIELDS,
        RESUMABLE_CHANGES,
        Candidate,
        SearchConfig,
        SearchResult,
        candidate_seed,
        load_search_config,
        ranked,
        read_scored,
        resume_config,
        run_search,
        score_candidate,
        scoring_batches,
        write_best_arch,
        write_candidates_csv,
        write_pareto_csv,
    )

__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "snasnet.search.job"))
__dir__ = lazy_dir(__name__, dict.fromkeys(__all__, "snasnet.search.job"))
