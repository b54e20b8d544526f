"""The job store: the only code that reads or writes job records in Redis."""

from modeltrain.jobs.models import Job, JobOptions
from modeltrain.jobs.store import AsyncJobReader, JobStore

__all__ = ["AsyncJobReader", "Job", "JobOptions", "JobStore"]
