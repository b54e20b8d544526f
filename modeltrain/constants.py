"""Job statuses, stages, the Redis key layout and limits that are not settings."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """Our job status (not Celery's task state)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED)


class JobKind(StrEnum):
    """What a job does with its upload."""

    TRAIN = "train"  # trains and registers a model (POST /api/model-train/start)
    BATCH = "batch"  # predicts every row with a registered model (POST .../batch)


class Stage(StrEnum):
    UPLOADING = "uploading"
    QUEUED = "queued"
    LOADING = "loading"
    PROFILING = "profiling"
    TRAINING = "training"
    PREDICTING = "predicting"  # a batch job: its rows, block by block
    EVALUATING = "evaluating"
    LOGGING = "logging"
    REGISTERING = "registering"
    DONE = "done"


class ClaimOutcome(StrEnum):
    """What a worker's claim of a job came to (the CLAIM script's answer)."""

    CLAIMED = "claimed"  # the job is this worker's to run
    MISSING = "missing"  # no such job (expired)
    FINISHED = "finished"  # already completed or failed
    UPLOADING = "uploading"  # its upload has not ended
    LEASED = "leased"  # running on a live worker
    EXHAUSTED = "exhausted"  # lost its worker too often: the claim failed the job


class HeartbeatVerdict(StrEnum):
    """What the HEARTBEAT script tells the worker running a job."""

    CONTINUE = "ok"
    END_SEARCH = "finish"  # a client asked to finish early: keep going, end the model search
    JOB_ENDED = "finished"  # the job was cancelled (or ended otherwise): stop now
    TAKEN_OVER = "lost"  # another worker runs it now: stop now

    @property
    def stops(self) -> bool:
        return self in (HeartbeatVerdict.JOB_ENDED, HeartbeatVerdict.TAKEN_OVER)


class Task(StrEnum):
    AUTO = "auto"
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


# Progress (percent) at which each stage starts; progress never goes down.
STAGE_PROGRESS: dict[Stage, int] = {
    Stage.UPLOADING: 0,
    Stage.QUEUED: 5,
    Stage.LOADING: 8,
    Stage.PROFILING: 12,
    Stage.TRAINING: 15,
    Stage.PREDICTING: 15,  # a batch job: then up to 95 as its blocks are predicted
    Stage.EVALUATING: 80,
    Stage.LOGGING: 85,
    Stage.REGISTERING: 92,
    Stage.DONE: 100,
}


class Keys:
    """Redis key layout; every key starts with the configured prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def job(self, job_id: str) -> str:  # hash: the job record
        return f"{self.prefix}:job:{job_id}"

    def jobs_index(self) -> str:  # sorted set: job ids scored by creation time (epoch seconds)
        return f"{self.prefix}:jobs"

    def upload_meta(self, job_id: str) -> str:  # hash: chunk bookkeeping of one upload
        return f"{self.prefix}:upload:{job_id}:meta"

    def upload_data(self, job_id: str) -> str:  # list: the upload's chunks, in order
        return f"{self.prefix}:upload:{job_id}:data"

    def uploads_in_flight(self) -> str:  # sorted set: upload ids scored by expiry (epoch s)
        return f"{self.prefix}:uploads:inflight"

    def lease(self, job_id: str) -> str:  # string: the worker holding a running job; has a TTL
        return f"{self.prefix}:lease:{job_id}"

    def running(self) -> str:  # set: ids of jobs in `running`, for the reaper
        return f"{self.prefix}:jobs:running"

    def undispatched(self) -> str:  # sorted set: queued job ids whose Celery message is not
        return f"{self.prefix}:jobs:undispatched"  # known to be sent, scored by queue time

    def duplicate(self, digest: str) -> str:  # string: the completed job with these bytes
        return f"{self.prefix}:dup:{digest}"  # and options (jobs/duplicates.py)

    def callbacks_due(self) -> str:  # sorted set: ended jobs whose callbackUrl is still to
        return f"{self.prefix}:callbacks:due"  # be called, scored by when (epoch s)

    def drift(self, name: str, version: str) -> str:  # hash: served rows counted into the
        return f"{self.prefix}:drift:{name}/{version}"  # version's profile bins, and `since`

    def batch_result(self, job_id: str) -> str:  # list: a batch job's result CSV in blocks
        return f"{self.prefix}:batch:{job_id}:result"  # (the first holds the header)

    def model_events(self) -> str:  # pub/sub channel: "<name>/<version>" of new model versions
        return f"{self.prefix}:events:models"


# Celery task name (the API sends it by name, so it never imports the worker).
TRAIN_TASK_NAME = "modeltrain.train_job"
CELERY_APP_NAME = "celery-app"
CELERY_QUEUE = "modeltrain"

# Leases (length: the `lease_seconds` setting): a running job's worker refreshes its lease this
# many times per lease length; the reaper looks for lapsed leases this many times per length.
HEARTBEATS_PER_LEASE = 6
# A queued job whose Celery message was not confirmed sent this long after (the API died in
# between) is sent again by a reaper; the claim makes a duplicate message harmless.
DISPATCH_GRACE_SECONDS = 30
REAPS_PER_LEASE = 3

# Webhooks: a failed call is tried again after 1 s, 2 s, 4 s … (at most a minute), and a sender
# holds a due call this much longer than its timeout before another worker may take it.
WEBHOOK_BACKOFF_SECONDS = 1.0
WEBHOOK_BACKOFF_MAX_SECONDS = 60.0
WEBHOOK_HOLD_SECONDS = 30.0
# Seconds a job may run beyond its time budget (loading, logging, registering) before Celery's
# soft time limit stops it; the hard limit follows HARD_LIMIT_GRACE_SECONDS later.
JOB_OVERHEAD_SECONDS = 600
HARD_LIMIT_GRACE_SECONDS = 60

# `modeltrain up` writes what it knows of its children here, under the data folder; the API's
# /readyz reads it (MODELTRAIN_SUPERVISOR_STATE_FILE).
SUPERVISOR_STATE_FILENAME = "up-state.json"

CANCELLED_MESSAGE = "the job was cancelled on request"

# Early CSV checks look at the start of the upload only.
CSV_SNIFF_BYTES = 64 * 1024  # bytes
MAX_COLUMNS = 2_000  # columns in a header
MAX_FIELD_BYTES = CSV_SNIFF_BYTES  # bytes in one CSV field
MIN_TRAIN_ROWS = 10  # rows with a usable target
BATCH_BLOCK_ROWS = 20_000  # rows a batch job predicts (and stores) at a time

# `task=auto`: an integer target with at most this many distinct values is treated as classes.
MAX_AUTO_CLASSES = 20

MAX_FILENAME_CHARS = 255  # characters kept of a display file name
MAX_MODEL_NAME_CHARS = 100  # characters in a registered model name
EVENTS_POLL_SECONDS = 0.5  # how often an events stream looks at its job
EVENTS_KEEPALIVE_SECONDS = 15.0  # a comment line this often keeps proxies from closing a stream
DEFAULT_LIST_LIMIT = 100  # jobs in GET /status when no limit is given
MAX_LIST_LIMIT = 1000
