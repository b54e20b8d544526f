"""The Lua scripts behind every job-record change. Each runs atomically in Redis.

Statuses, stages, answers and the record's field names are written `$NAME` below and filled in
from constants.py and models.Field when this module loads, so each is spelled once; each script
names its KEYS and ARGV (LuaScript), and a job's id comes as an argument, never parsed from a
key. Every script that changes a record ends by rendering its status document
(``RENDER_FUNCTION``, made from models.STATUS_DOCUMENT) into the record, so that a status poll
is a single ``HGET``."""

from modeltrain.constants import ClaimOutcome, HeartbeatVerdict, JobStatus, Stage
from modeltrain.jobs.models import STATUS_DOCUMENT, Field, Kind
from modeltrain.lua import LuaScript

_WORDS = {
    **{status.name: status.value for status in JobStatus},
    **{stage.name: stage.value for stage in Stage},
    **{f"C_{outcome.name}": outcome.value for outcome in ClaimOutcome},
    **{f"H_{verdict.name}": verdict.value for verdict in HeartbeatVerdict},
    **{f"F_{field.name}": field.value for field in Field},
}


def _render_function() -> str:
    """``render(key, id)``: the status document of the record at ``key``, also stored in it."""
    names = ", ".join(f"'{field.value}'" for _, field, _ in STATUS_DOCUMENT)
    parts = []
    for i, (key, _, kind) in enumerate(STATUS_DOCUMENT, start=1):
        convert = "text" if kind is Kind.TEXT else "raw"
        parts.append(f"out[#out + 1] = ',\"{key}\":' .. {convert}(v[{i}])")
    lines = "\n  ".join(parts)
    return f"""
local function text(s) if s and s ~= '' then return cjson.encode(s) end return 'null' end
local function raw(s) if s and s ~= '' then return s end return 'null' end
local function render(key, id)
  local v = redis.call('HMGET', key, {names})
  local out = {{'{{"trackingId":', cjson.encode(id)}}
  {lines}
  out[#out + 1] = '}}'
  local doc = table.concat(out)
  redis.call('HSET', key, '$F_STATUS_JSON', doc)
  return doc
end
"""


RENDER_FUNCTION = _render_function()

# ``ended(key, due, id)``: a job just ended; when it has a callbackUrl, its call is due now.
ENDED_FUNCTION = """
local function ended(key, due, id)
  if redis.call('HGET', key, '$F_CALLBACK_URL') then
    redis.call('ZADD', due, redis.call('TIME')[1], id)
  end
end
"""


def _job_script(
    keys: tuple[str, ...], args: tuple[str, ...], source: str, pairs: bool = False
) -> LuaScript:
    """A job script: its source sees render() and ended(), and the $NAME words above."""
    return LuaScript(keys, args, RENDER_FUNCTION + ENDED_FUNCTION + source, pairs, _WORDS)


# A new record (its fields beside status, stage, progress, attempts and times come as pairs);
# ttl in seconds, epoch in seconds since 1970.
CREATE = _job_script(
    keys=("job", "index"),
    args=("now", "ttl", "epoch", "id"),
    pairs=True,
    source="""
redis.call('HSET', $k_job, '$F_STATUS', '$PENDING', '$F_STAGE', '$UPLOADING', '$F_PROGRESS', 0,
  '$F_ATTEMPTS', 0, '$F_CREATED_AT', $a_now, '$F_UPDATED_AT', $a_now)
for i = $a_pairs, #ARGV, 2 do redis.call('HSET', $k_job, ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', $k_job, tonumber($a_ttl))
redis.call('ZADD', $k_index, tonumber($a_epoch), $a_id)
render($k_job, $a_id)
return 1
""",
)

# The status document of a record written before documents were kept in it (rendered and
# stored now); false for no such job.
RENDER = _job_script(
    keys=("job",),
    args=("id",),
    source="""
if redis.call('EXISTS', $k_job) == 0 then return false end
return render($k_job, $a_id)
""",
)

# progress and status: '' keeps them; ttl: seconds a finished record is kept; then field/value
# pairs. Returns 1 applied, 0 no such job, -1 already finished (nothing changes).
UPDATE = _job_script(
    keys=("job", "lease", "running", "due"),
    args=("now", "progress", "ttl", "status", "id"),
    pairs=True,
    source="""
if redis.call('EXISTS', $k_job) == 0 then return 0 end
local status = redis.call('HGET', $k_job, '$F_STATUS')
if status == '$COMPLETED' or status == '$FAILED' then return -1 end
local progress = tonumber($a_progress)
if progress then
  local current = tonumber(redis.call('HGET', $k_job, '$F_PROGRESS') or '0')
  if progress > current then redis.call('HSET', $k_job, '$F_PROGRESS', progress) end
end
if $a_status ~= '' then redis.call('HSET', $k_job, '$F_STATUS', $a_status) end
for i = $a_pairs, #ARGV, 2 do redis.call('HSET', $k_job, ARGV[i], ARGV[i + 1]) end
redis.call('HSET', $k_job, '$F_UPDATED_AT', $a_now)
if $a_status == '$COMPLETED' or $a_status == '$FAILED' then
  redis.call('EXPIRE', $k_job, tonumber($a_ttl))
  redis.call('DEL', $k_lease)
  redis.call('SREM', $k_running, $a_id)
  ended($k_job, $k_due, $a_id)
end
render($k_job, $a_id)
return 1
""",
)

# retention in seconds, options as JSON, epoch in seconds since 1970.
# Moves an upload's job to `queued` exactly once (and notes it as not yet sent to Celery);
# returns 1 when this call did it.
QUEUE = _job_script(
    keys=("job", "undispatched"),
    args=("now", "progress", "retention", "options", "epoch", "id"),
    source="""
if redis.call('HGET', $k_job, '$F_STAGE') ~= '$UPLOADING' then return 0 end
if redis.call('HGET', $k_job, '$F_STATUS') ~= '$PENDING' then return 0 end
redis.call('HSET', $k_job, '$F_STAGE', '$QUEUED', '$F_PROGRESS', $a_progress,
           '$F_OPTIONS', $a_options, '$F_UPDATED_AT', $a_now)
redis.call('EXPIRE', $k_job, tonumber($a_retention))
redis.call('ZADD', $k_undispatched, tonumber($a_epoch), $a_id)
render($k_job, $a_id)
return 1
""",
)

# lease_ttl and retention in seconds.
# A worker takes a queued job, or a running one whose lease lapsed (its worker was lost).
CLAIM = _job_script(
    keys=("job", "lease", "running", "due"),
    args=("now", "owner", "lease_ttl", "max_attempts", "progress", "retention", "id"),
    source="""
if redis.call('EXISTS', $k_job) == 0 then return '$C_MISSING' end
local status = redis.call('HGET', $k_job, '$F_STATUS')
if status == '$COMPLETED' or status == '$FAILED' then return '$C_FINISHED' end
if redis.call('HGET', $k_job, '$F_STAGE') == '$UPLOADING' then return '$C_UPLOADING' end
if status == '$RUNNING' and redis.call('EXISTS', $k_lease) == 1 then return '$C_LEASED' end
local id = $a_id
local attempts = tonumber(redis.call('HGET', $k_job, '$F_ATTEMPTS') or '0') + 1
if attempts > tonumber($a_max_attempts) then
  redis.call('HSET', $k_job, '$F_STATUS', '$FAILED', '$F_UPDATED_AT', $a_now, '$F_ERROR',
    'the worker running this job was lost ' .. (attempts - 1) .. ' time(s); giving up')
  redis.call('EXPIRE', $k_job, tonumber($a_retention))
  redis.call('SREM', $k_running, id)
  ended($k_job, $k_due, id)
  render($k_job, id)
  return '$C_EXHAUSTED'
end
redis.call('HSET', $k_job, '$F_STATUS', '$RUNNING', '$F_STAGE', '$LOADING',
  '$F_ATTEMPTS', attempts, '$F_WORKER', $a_owner, '$F_UPDATED_AT', $a_now)
local current = tonumber(redis.call('HGET', $k_job, '$F_PROGRESS') or '0')
if tonumber($a_progress) > current then redis.call('HSET', $k_job, '$F_PROGRESS', $a_progress) end
redis.call('SET', $k_lease, $a_owner, 'EX', tonumber($a_lease_ttl))
redis.call('SADD', $k_running, id)
render($k_job, id)
return '$C_CLAIMED'
""",
)

# lease_ttl in seconds.
# Refreshes the lease while this worker owns the running job (the record does not change).
# Returns a HeartbeatVerdict.
HEARTBEAT = _job_script(
    keys=("job", "lease"),
    args=("owner", "lease_ttl"),
    source="""
local status = redis.call('HGET', $k_job, '$F_STATUS')
if not status or status == '$COMPLETED' or status == '$FAILED' then return '$H_JOB_ENDED' end
if redis.call('HGET', $k_job, '$F_WORKER') ~= $a_owner then return '$H_TAKEN_OVER' end
redis.call('SET', $k_lease, $a_owner, 'EX', tonumber($a_lease_ttl))
if redis.call('HGET', $k_job, '$F_FINISH_REQUESTED') == '1' then return '$H_END_SEARCH' end
return '$H_CONTINUE'
""",
)

# Asks a running job to end its model search now and keep
# the best model so far; returns 1 when the job is running (and so will finish early).
REQUEST_FINISH = _job_script(
    keys=("job",),
    args=("now", "id"),
    source="""
if redis.call('HGET', $k_job, '$F_STATUS') ~= '$RUNNING' then return 0 end
redis.call('HSET', $k_job, '$F_FINISH_REQUESTED', '1', '$F_UPDATED_AT', $a_now)
render($k_job, $a_id)
return 1
""",
)

# A running job whose lease lapsed goes back to `pending/queued`; returns 1 when this call did it.
REQUEUE_STALE = _job_script(
    keys=("job", "lease", "running"),
    args=("now", "id"),
    source="""
local id = $a_id
local status = redis.call('HGET', $k_job, '$F_STATUS')
if status ~= '$RUNNING' then redis.call('SREM', $k_running, id) return 0 end
if redis.call('EXISTS', $k_lease) == 1 then return 0 end
redis.call('HSET', $k_job, '$F_STATUS', '$PENDING', '$F_STAGE', '$QUEUED',
  '$F_UPDATED_AT', $a_now, '$F_WORKER', '')
redis.call('SREM', $k_running, id)
render($k_job, id)
return 1
""",
)

# The worker running a job gives it back (it is shutting down); returns 1 when it did.
HAND_BACK = _job_script(
    keys=("job", "lease", "running"),
    args=("now", "owner", "id"),
    source="""
if redis.call('HGET', $k_job, '$F_STATUS') ~= '$RUNNING' then return 0 end
if redis.call('HGET', $k_job, '$F_WORKER') ~= $a_owner then return 0 end
redis.call('HSET', $k_job, '$F_STATUS', '$PENDING', '$F_STAGE', '$QUEUED',
  '$F_UPDATED_AT', $a_now, '$F_WORKER', '')
redis.call('DEL', $k_lease)
redis.call('SREM', $k_running, $a_id)
render($k_job, $a_id)
return 1
""",
)

# Forgets a finished job (its record and its entry in the index); returns 1 when it did, 0 for
# no such job, -1 while the job has not finished (nothing changes).
FORGET = _job_script(
    keys=("job", "index"),
    args=("id",),
    source="""
local status = redis.call('HGET', $k_job, '$F_STATUS')
if not status then return 0 end
if status ~= '$COMPLETED' and status ~= '$FAILED' then return -1 end
redis.call('DEL', $k_job)
redis.call('ZREM', $k_index, $a_id)
return 1
""",
)

# now and held_until in seconds since 1970.
# A sender takes a due call, holding it until it is recorded (or the hold lapses, when the
# sender died: then another takes it); returns 1 when this call took it.
TAKE_CALLBACK = _job_script(
    keys=("due",),
    args=("id", "now", "held_until"),
    source="""
local due = redis.call('ZSCORE', $k_due, $a_id)
if not due or tonumber(due) > tonumber($a_now) then return 0 end
redis.call('ZADD', $k_due, $a_held_until, $a_id)
return 1
""",
)

# attempt: a JSON object; retry_at: seconds since 1970, '' for no more tries.
# Appends one call of the job's callbackUrl to its `callbacks` — the one change a finished record
# takes — and schedules the next try, if any. Returns 0 when the job is gone (forgotten).
RECORD_CALLBACK = _job_script(
    keys=("job", "due"),
    args=("id", "attempt", "retry_at"),
    source="""
if redis.call('EXISTS', $k_job) == 0 then redis.call('ZREM', $k_due, $a_id) return 0 end
local raw = redis.call('HGET', $k_job, '$F_CALLBACKS')
local calls = (raw and raw ~= '') and cjson.decode(raw) or {}
table.insert(calls, cjson.decode($a_attempt))
redis.call('HSET', $k_job, '$F_CALLBACKS', cjson.encode(calls))
if $a_retry_at == '' then
  redis.call('ZREM', $k_due, $a_id)
else
  redis.call('ZADD', $k_due, $a_retry_at, $a_id)
end
render($k_job, $a_id)
return 1
""",
)
