"""The Lua scripts behind every job-record change. Each runs atomically in Redis.

Statuses, stages, answers and the record's field names are written `$NAME` below and filled in
from constants.py and models.Field when this module loads, so each is spelled once; a job's id
comes as an argument, never parsed from a key. Every script that changes a record ends by
rendering its status document (``RENDER_FUNCTION``, made from models.STATUS_DOCUMENT) into the
record, so that a status poll is a single ``HGET``."""

from string import Template

from modeltrain.constants import ClaimOutcome, HeartbeatVerdict, JobStatus, Stage
from modeltrain.jobs.models import STATUS_DOCUMENT, Field, Kind

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


def _lua(text: str) -> str:
    prelude = RENDER_FUNCTION + ENDED_FUNCTION
    return Template(prelude + text).substitute(_WORDS)  # a misspelt $NAME fails here


# KEYS: job hash, jobs index. ARGV: now, ttl (s), epoch s, job id, field/value...
# A new record (its fields beside status, stage, progress, attempts and times come as pairs).
CREATE = _lua("""
redis.call('HSET', KEYS[1], '$F_STATUS', '$PENDING', '$F_STAGE', '$UPLOADING', '$F_PROGRESS', 0,
  '$F_ATTEMPTS', 0, '$F_CREATED_AT', ARGV[1], '$F_UPDATED_AT', ARGV[1])
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), ARGV[4])
render(KEYS[1], ARGV[4])
return 1
""")

# KEYS: job hash. ARGV: job id. The status document of a record written before documents were
# kept in it (rendered and stored now); false for no such job.
RENDER = _lua("""
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return render(KEYS[1], ARGV[1])
""")

# KEYS: job hash, lease, running set, due callbacks.
# ARGV: now, progress ('' = keep), ttl for finished records (s), status ('' = keep), job id,
# field/value...
# Returns 1 applied, 0 no such job, -1 already finished (nothing changes).
UPDATE = _lua("""
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local status = redis.call('HGET', KEYS[1], '$F_STATUS')
if status == '$COMPLETED' or status == '$FAILED' then return -1 end
local progress = tonumber(ARGV[2])
if progress then
  local current = tonumber(redis.call('HGET', KEYS[1], '$F_PROGRESS') or '0')
  if progress > current then redis.call('HSET', KEYS[1], '$F_PROGRESS', progress) end
end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], '$F_STATUS', ARGV[4]) end
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], '$F_UPDATED_AT', ARGV[1])
if ARGV[4] == '$COMPLETED' or ARGV[4] == '$FAILED' then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  redis.call('DEL', KEYS[2])
  redis.call('SREM', KEYS[3], ARGV[5])
  ended(KEYS[1], KEYS[4], ARGV[5])
end
render(KEYS[1], ARGV[5])
return 1
""")

# KEYS: job hash, undispatched set. ARGV: now, progress, retention (s), options json, epoch s,
# job id.
# Moves an upload's job to `queued` exactly once (and notes it as not yet sent to Celery);
# returns 1 when this call did it.
QUEUE = _lua("""
if redis.call('HGET', KEYS[1], '$F_STAGE') ~= '$UPLOADING' then return 0 end
if redis.call('HGET', KEYS[1], '$F_STATUS') ~= '$PENDING' then return 0 end
redis.call('HSET', KEYS[1], '$F_STAGE', '$QUEUED', '$F_PROGRESS', ARGV[2], '$F_OPTIONS', ARGV[4],
           '$F_UPDATED_AT', ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
redis.call('ZADD', KEYS[2], tonumber(ARGV[5]), ARGV[6])
render(KEYS[1], ARGV[6])
return 1
""")

# KEYS: job hash, lease, running set, due callbacks. ARGV: now, owner, lease ttl (s), max
# attempts, progress, retention (s), job id.
# A worker takes a queued job, or a running one whose lease lapsed (its worker was lost).
CLAIM = _lua("""
if redis.call('EXISTS', KEYS[1]) == 0 then return '$C_MISSING' end
local status = redis.call('HGET', KEYS[1], '$F_STATUS')
if status == '$COMPLETED' or status == '$FAILED' then return '$C_FINISHED' end
if redis.call('HGET', KEYS[1], '$F_STAGE') == '$UPLOADING' then return '$C_UPLOADING' end
if status == '$RUNNING' and redis.call('EXISTS', KEYS[2]) == 1 then return '$C_LEASED' end
local id = ARGV[7]
local attempts = tonumber(redis.call('HGET', KEYS[1], '$F_ATTEMPTS') or '0') + 1
if attempts > tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], '$F_STATUS', '$FAILED', '$F_UPDATED_AT', ARGV[1], '$F_ERROR',
    'the worker running this job was lost ' .. (attempts - 1) .. ' time(s); giving up')
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
  redis.call('SREM', KEYS[3], id)
  ended(KEYS[1], KEYS[4], id)
  render(KEYS[1], id)
  return '$C_EXHAUSTED'
end
redis.call('HSET', KEYS[1], '$F_STATUS', '$RUNNING', '$F_STAGE', '$LOADING',
  '$F_ATTEMPTS', attempts, '$F_WORKER', ARGV[2], '$F_UPDATED_AT', ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], '$F_PROGRESS') or '0')
if tonumber(ARGV[5]) > current then redis.call('HSET', KEYS[1], '$F_PROGRESS', ARGV[5]) end
redis.call('SET', KEYS[2], ARGV[2], 'EX', tonumber(ARGV[3]))
redis.call('SADD', KEYS[3], id)
render(KEYS[1], id)
return '$C_CLAIMED'
""")

# KEYS: job hash, lease. ARGV: owner, lease ttl (s).
# Refreshes the lease while this worker owns the running job (the record does not change).
# Returns a HeartbeatVerdict.
HEARTBEAT = _lua("""
local status = redis.call('HGET', KEYS[1], '$F_STATUS')
if not status or status == '$COMPLETED' or status == '$FAILED' then return '$H_JOB_ENDED' end
if redis.call('HGET', KEYS[1], '$F_WORKER') ~= ARGV[1] then return '$H_TAKEN_OVER' end
redis.call('SET', KEYS[2], ARGV[1], 'EX', tonumber(ARGV[2]))
if redis.call('HGET', KEYS[1], '$F_FINISH_REQUESTED') == '1' then return '$H_END_SEARCH' end
return '$H_CONTINUE'
""")

# KEYS: job hash. ARGV: now, job id. Asks a running job to end its model search now and keep
# the best model so far; returns 1 when the job is running (and so will finish early).
REQUEST_FINISH = _lua("""
if redis.call('HGET', KEYS[1], '$F_STATUS') ~= '$RUNNING' then return 0 end
redis.call('HSET', KEYS[1], '$F_FINISH_REQUESTED', '1', '$F_UPDATED_AT', ARGV[1])
render(KEYS[1], ARGV[2])
return 1
""")

# KEYS: job hash, lease, running set. ARGV: now, job id.
# A running job whose lease lapsed goes back to `pending/queued`; returns 1 when this call did it.
REQUEUE_STALE = _lua("""
local id = ARGV[2]
local status = redis.call('HGET', KEYS[1], '$F_STATUS')
if status ~= '$RUNNING' then redis.call('SREM', KEYS[3], id) return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], '$F_STATUS', '$PENDING', '$F_STAGE', '$QUEUED',
  '$F_UPDATED_AT', ARGV[1], '$F_WORKER', '')
redis.call('SREM', KEYS[3], id)
render(KEYS[1], id)
return 1
""")

# KEYS: job hash, lease, running set. ARGV: now, owner, job id.
# The worker running a job gives it back (it is shutting down); returns 1 when it did.
HAND_BACK = _lua("""
if redis.call('HGET', KEYS[1], '$F_STATUS') ~= '$RUNNING' then return 0 end
if redis.call('HGET', KEYS[1], '$F_WORKER') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], '$F_STATUS', '$PENDING', '$F_STAGE', '$QUEUED',
  '$F_UPDATED_AT', ARGV[1], '$F_WORKER', '')
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[3])
render(KEYS[1], ARGV[3])
return 1
""")

# KEYS: job hash, jobs index. ARGV: job id.
# Forgets a finished job (its record and its entry in the index); returns 1 when it did, 0 for
# no such job, -1 while the job has not finished (nothing changes).
FORGET = _lua("""
local status = redis.call('HGET', KEYS[1], '$F_STATUS')
if not status then return 0 end
if status ~= '$COMPLETED' and status ~= '$FAILED' then return -1 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
""")

# KEYS: due callbacks. ARGV: job id, now, held until (epoch s).
# A sender takes a due call, holding it until it is recorded (or the hold lapses, when the
# sender died: then another takes it); returns 1 when this call took it.
TAKE_CALLBACK = _lua("""
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
""")

# KEYS: job hash, due callbacks. ARGV: job id, the attempt (JSON object), retry at (epoch s;
# '' = no more tries).
# Appends one call of the job's callbackUrl to its `callbacks` — the one change a finished record
# takes — and schedules the next try, if any. Returns 0 when the job is gone (forgotten).
RECORD_CALLBACK = _lua("""
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('ZREM', KEYS[2], ARGV[1]) return 0 end
local raw = redis.call('HGET', KEYS[1], '$F_CALLBACKS')
local calls = (raw and raw ~= '') and cjson.decode(raw) or {}
table.insert(calls, cjson.decode(ARGV[2]))
redis.call('HSET', KEYS[1], '$F_CALLBACKS', cjson.encode(calls))
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
end
render(KEYS[1], ARGV[1])
return 1
""")
