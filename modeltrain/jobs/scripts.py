"""The Lua scripts behind every job-record change. Each runs atomically in Redis."""

# KEYS: job hash, lease, running set.
# ARGV: now, progress ('' = keep), ttl for finished records (s), status ('' = keep), field/value...
# Returns 1 applied, 0 no such job, -1 already finished (nothing changes).
UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'completed' or status == 'failed' then return -1 end
local progress = tonumber(ARGV[2])
if progress then
  local current = tonumber(redis.call('HGET', KEYS[1], 'progress') or '0')
  if progress > current then redis.call('HSET', KEYS[1], 'progress', progress) end
end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'status', ARGV[4]) end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[1])
if ARGV[4] == 'completed' or ARGV[4] == 'failed' then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  redis.call('DEL', KEYS[2])
  redis.call('SREM', KEYS[3], string.match(KEYS[1], '[^:]+$'))
end
return 1
"""

# KEYS: job hash, undispatched set. ARGV: now, progress, retention (s), options json, epoch s.
# Moves an upload's job to `queued` exactly once (and notes it as not yet sent to Celery);
# returns 1 when this call did it.
QUEUE = """
if redis.call('HGET', KEYS[1], 'stage') ~= 'uploading' then return 0 end
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], 'stage', 'queued', 'progress', ARGV[2], 'options', ARGV[4],
           'updatedAt', ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
redis.call('ZADD', KEYS[2], tonumber(ARGV[5]), string.match(KEYS[1], '[^:]+$'))
return 1
"""

# KEYS: job hash, lease, running set. ARGV: now, owner, lease ttl (s), max attempts, progress,
# retention (s).
# A worker takes a queued job, or a running one whose lease lapsed (its worker was lost).
CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'completed' or status == 'failed' then return 'finished' end
if redis.call('HGET', KEYS[1], 'stage') == 'uploading' then return 'uploading' end
if status == 'running' and redis.call('EXISTS', KEYS[2]) == 1 then return 'leased' end
local id = string.match(KEYS[1], '[^:]+$')
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') + 1
if attempts > tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'status', 'failed', 'updatedAt', ARGV[1], 'error',
    'the worker running this job was lost ' .. (attempts - 1) .. ' time(s); giving up')
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
  redis.call('SREM', KEYS[3], id)
  return 'exhausted'
end
redis.call('HSET', KEYS[1], 'status', 'running', 'stage', 'loading', 'attempts', attempts,
  'worker', ARGV[2], 'updatedAt', ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'progress') or '0')
if tonumber(ARGV[5]) > current then redis.call('HSET', KEYS[1], 'progress', ARGV[5]) end
redis.call('SET', KEYS[2], ARGV[2], 'EX', tonumber(ARGV[3]))
redis.call('SADD', KEYS[3], id)
return 'claimed'
"""

# KEYS: job hash, lease. ARGV: owner, lease ttl (s).
# Refreshes the lease while this worker owns the running job. Returns 'ok', 'finished' (the job
# ended, e.g. cancelled: stop working) or 'lost' (another worker took it over: stop working).
HEARTBEAT = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'completed' or status == 'failed' then return 'finished' end
if redis.call('HGET', KEYS[1], 'worker') ~= ARGV[1] then return 'lost' end
redis.call('SET', KEYS[2], ARGV[1], 'EX', tonumber(ARGV[2]))
if redis.call('HGET', KEYS[1], 'finishRequested') == '1' then return 'finish' end
return 'ok'
"""

# KEYS: job hash. ARGV: now. Asks a running job to end its model search now and keep the best
# model so far; returns 1 when the job is running (and so will finish early).
REQUEST_FINISH = """
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'finishRequested', '1', 'updatedAt', ARGV[1])
return 1
"""

# KEYS: job hash, lease, running set. ARGV: now.
# A running job whose lease lapsed goes back to `pending/queued`; returns 1 when this call did it.
REQUEUE_STALE = """
local id = string.match(KEYS[1], '[^:]+$')
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'running' then redis.call('SREM', KEYS[3], id) return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'status', 'pending', 'stage', 'queued', 'updatedAt', ARGV[1],
  'worker', '')
redis.call('SREM', KEYS[3], id)
return 1
"""

# KEYS: job hash, lease, running set. ARGV: now, owner.
# The worker running a job gives it back (it is shutting down); returns 1 when it did.
HAND_BACK = """
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
if redis.call('HGET', KEYS[1], 'worker') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'pending', 'stage', 'queued', 'updatedAt', ARGV[1],
  'worker', '')
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], string.match(KEYS[1], '[^:]+$'))
return 1
"""
