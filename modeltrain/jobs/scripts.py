"""The Lua scripts behind every job-record change. Each runs atomically in Redis.

Statuses, stages and answers are written `$NAME` below and filled in from constants.py when this
module loads, so each is spelled once; a job's id comes as an argument, never parsed from a key."""

from string import Template

from modeltrain.constants import ClaimOutcome, HeartbeatVerdict, JobStatus, Stage

_WORDS = {
    **{status.name: status.value for status in JobStatus},
    **{stage.name: stage.value for stage in Stage},
    **{f"C_{outcome.name}": outcome.value for outcome in ClaimOutcome},
    **{f"H_{verdict.name}": verdict.value for verdict in HeartbeatVerdict},
}


def _lua(text: str) -> str:
    return Template(text).substitute(_WORDS)  # a misspelt $NAME fails at import


# KEYS: job hash, lease, running set.
# ARGV: now, progress ('' = keep), ttl for finished records (s), status ('' = keep), job id,
# field/value...
# Returns 1 applied, 0 no such job, -1 already finished (nothing changes).
UPDATE = _lua("""
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local status = redis.call('HGET', KEYS[1], 'status')
if status == '$COMPLETED' or status == '$FAILED' then return -1 end
local progress = tonumber(ARGV[2])
if progress then
  local current = tonumber(redis.call('HGET', KEYS[1], 'progress') or '0')
  if progress > current then redis.call('HSET', KEYS[1], 'progress', progress) end
end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'status', ARGV[4]) end
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[1])
if ARGV[4] == '$COMPLETED' or ARGV[4] == '$FAILED' then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  redis.call('DEL', KEYS[2])
  redis.call('SREM', KEYS[3], ARGV[5])
end
return 1
""")

# KEYS: job hash, undispatched set. ARGV: now, progress, retention (s), options json, epoch s,
# job id.
# Moves an upload's job to `queued` exactly once (and notes it as not yet sent to Celery);
# returns 1 when this call did it.
QUEUE = _lua("""
if redis.call('HGET', KEYS[1], 'stage') ~= '$UPLOADING' then return 0 end
if redis.call('HGET', KEYS[1], 'status') ~= '$PENDING' then return 0 end
redis.call('HSET', KEYS[1], 'stage', '$QUEUED', 'progress', ARGV[2], 'options', ARGV[4],
           'updatedAt', ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
redis.call('ZADD', KEYS[2], tonumber(ARGV[5]), ARGV[6])
return 1
""")

# KEYS: job hash, lease, running set. ARGV: now, owner, lease ttl (s), max attempts, progress,
# retention (s), job id.
# A worker takes a queued job, or a running one whose lease lapsed (its worker was lost).
CLAIM = _lua("""
if redis.call('EXISTS', KEYS[1]) == 0 then return '$C_MISSING' end
local status = redis.call('HGET', KEYS[1], 'status')
if status == '$COMPLETED' or status == '$FAILED' then return '$C_FINISHED' end
if redis.call('HGET', KEYS[1], 'stage') == '$UPLOADING' then return '$C_UPLOADING' end
if status == '$RUNNING' and redis.call('EXISTS', KEYS[2]) == 1 then return '$C_LEASED' end
local id = ARGV[7]
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') + 1
if attempts > tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'status', '$FAILED', 'updatedAt', ARGV[1], 'error',
    'the worker running this job was lost ' .. (attempts - 1) .. ' time(s); giving up')
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
  redis.call('SREM', KEYS[3], id)
  return '$C_EXHAUSTED'
end
redis.call('HSET', KEYS[1], 'status', '$RUNNING', 'stage', '$LOADING', 'attempts', attempts,
  'worker', ARGV[2], 'updatedAt', ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'progress') or '0')
if tonumber(ARGV[5]) > current then redis.call('HSET', KEYS[1], 'progress', ARGV[5]) end
redis.call('SET', KEYS[2], ARGV[2], 'EX', tonumber(ARGV[3]))
redis.call('SADD', KEYS[3], id)
return '$C_CLAIMED'
""")

# KEYS: job hash, lease. ARGV: owner, lease ttl (s).
# Refreshes the lease while this worker owns the running job. Returns a HeartbeatVerdict.
HEARTBEAT = _lua("""
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == '$COMPLETED' or status == '$FAILED' then return '$H_JOB_ENDED' end
if redis.call('HGET', KEYS[1], 'worker') ~= ARGV[1] then return '$H_TAKEN_OVER' end
redis.call('SET', KEYS[2], ARGV[1], 'EX', tonumber(ARGV[2]))
if redis.call('HGET', KEYS[1], 'finishRequested') == '1' then return '$H_END_SEARCH' end
return '$H_CONTINUE'
""")

# KEYS: job hash. ARGV: now. Asks a running job to end its model search now and keep the best
# model so far; returns 1 when the job is running (and so will finish early).
REQUEST_FINISH = _lua("""
if redis.call('HGET', KEYS[1], 'status') ~= '$RUNNING' then return 0 end
redis.call('HSET', KEYS[1], 'finishRequested', '1', 'updatedAt', ARGV[1])
return 1
""")

# KEYS: job hash, lease, running set. ARGV: now, job id.
# A running job whose lease lapsed goes back to `pending/queued`; returns 1 when this call did it.
REQUEUE_STALE = _lua("""
local id = ARGV[2]
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= '$RUNNING' then redis.call('SREM', KEYS[3], id) return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'status', '$PENDING', 'stage', '$QUEUED', 'updatedAt', ARGV[1],
  'worker', '')
redis.call('SREM', KEYS[3], id)
return 1
""")

# KEYS: job hash, lease, running set. ARGV: now, owner, job id.
# The worker running a job gives it back (it is shutting down); returns 1 when it did.
HAND_BACK = _lua("""
if redis.call('HGET', KEYS[1], 'status') ~= '$RUNNING' then return 0 end
if redis.call('HGET', KEYS[1], 'worker') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'status', '$PENDING', 'stage', '$QUEUED', 'updatedAt', ARGV[1],
  'worker', '')
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[3])
return 1
""")
