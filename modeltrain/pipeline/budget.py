"""A training job's ``timeBudget`` is its running time, as its client sees it: the search gets
what is left of it once the CSV is read, less an estimate of what follows the search (the
final fits overrunning it a little, logging the run, the model and the stored CSV to MLflow,
registering, the gate). Measured on 2 cores (bench/quality.py's service part): 1.3–1.6 s
after a 1,000-row job's search, about 1.6 s after a 25 MB job's (its CSV is stored while the
rest is logged)."""

from __future__ import annotations

AFTER_SEARCH_SECONDS = 1.5  # what follows any search
AFTER_SEARCH_SECONDS_PER_MB = 0.02  # and per MB of CSV (the stored CSV, the final fits)
MIN_SEARCH_SHARE = 0.5  # the search keeps at least this share of the budget


def search_budget(budget: float, csv_bytes: int, elapsed: float) -> float:
    """Seconds of search for a job of ``budget`` seconds on ``csv_bytes`` bytes of CSV,
    ``elapsed`` seconds after the job started running."""
    after = AFTER_SEARCH_SECONDS + AFTER_SEARCH_SECONDS_PER_MB * csv_bytes / 1e6
    return max(MIN_SEARCH_SHARE * budget, budget - elapsed - after)
