// Lua scripts: each one a single atomic step on Redis (the bullmq way). Headers list KEYS/ARGV/returns.
//
// Scripts that write start with the `#!lua` shebang: Redis (7+) then treats them as writing scripts and
// refuses them whole, before they run, when it is out of memory (noeviction) or cannot persist. A
// script without it is refused only at its first "denyoom" command, after earlier writes (DEL, ZREM,
// PEXPIRE) took effect: half a transition. RENEW and RELEASE keep the old form on purpose: they only
// extend or drop a lease, which must keep working while Redis is full.
//
// Bounds (see create-redis-store.ts for the numbers): a record and its events get a TTL when the record
// reaches a terminal state; the recent lists are trimmed by age and count on every insert; an event
// stream stops taking progress lines past its cap (state changes are always recorded).

/**
 * create
 * KEYS: 1 deployment lock, 2 record, 3 events, 4 active set, 5 recent zset, 6 recent-of-service zset,
 *       7 dry-run quota zset of the requester, 8 automatic rollbacks of the Deployment (zset),
 *       9 rollbacks of the Deployment that undid it (zset)
 * ARGV: 1 id, 2 record (stored form), 3 event JSON, 4 state, 5 score = request time (ms), 6 lock ("1"/"0"),
 *       7 dry run ("1"/"0"), 8 automatic and not a dry run ("1"/"0"), 9 retention (ms),
 *       10 max members of KEYS[5], 11 max members of KEYS[6], 12 dry runs allowed per window,
 *       13 dry-run window (ms), 14 max members of KEYS[8] and KEYS[9],
 *       15 the record already has an undo and is not a dry run ("1"/"0"), 16 terminal ("1"/"0")
 * A record stored in a terminal state (imported history, tests) is not active and starts its retention.
 * returns: {"ok"} | {"held", holderId} | {"dry_limit", oldest dry run's score}
 */
export const CREATE = `#!lua
local now = tonumber(ARGV[5])
local retention = tonumber(ARGV[9])
if ARGV[7] == "1" then
  redis.call("ZREMRANGEBYSCORE", KEYS[7], "-inf", now - tonumber(ARGV[13]))
  if redis.call("ZCARD", KEYS[7]) >= tonumber(ARGV[12]) then
    local oldest = redis.call("ZRANGE", KEYS[7], 0, 0, "WITHSCORES")
    return {"dry_limit", oldest[2] or ""}
  end
end
if ARGV[6] == "1" then
  local holder = redis.call("GET", KEYS[1])
  if holder then return {"held", holder} end
  redis.call("SET", KEYS[1], ARGV[1])
end
redis.call("HSET", KEYS[2], "state", ARGV[4], "version", "1", "record", ARGV[2])
redis.call("XADD", KEYS[3], "*", "e", ARGV[3])
if ARGV[16] == "1" then
  redis.call("PEXPIRE", KEYS[2], retention)
  redis.call("PEXPIRE", KEYS[3], retention)
else
  redis.call("SADD", KEYS[4], ARGV[1])
end
local function remember(key, max)
  redis.call("ZADD", key, now, ARGV[1])
  redis.call("ZREMRANGEBYSCORE", key, "-inf", "(" .. (now - retention))
  redis.call("ZREMRANGEBYRANK", key, 0, -(tonumber(max) + 1))
  -- Every member is younger than the newest; once that is past retention, all are.
  redis.call("PEXPIRE", key, retention)
end
remember(KEYS[5], ARGV[10])
remember(KEYS[6], ARGV[11])
if ARGV[8] == "1" then remember(KEYS[8], ARGV[14]) end
if ARGV[15] == "1" then remember(KEYS[9], ARGV[14]) end
if ARGV[7] == "1" then
  redis.call("ZADD", KEYS[7], now, ARGV[1])
  redis.call("PEXPIRE", KEYS[7], ARGV[13])
end
return {"ok"}
`;

/**
 * commit: compare-and-set on (state, version), fenced by the lease, with the event and the notices it
 * causes (the outbox) in the same step.
 * KEYS: 1 record, 2 events, 3 active set, 4 lease, 5 deployment lock, 6 fence,
 *       7 rollbacks of the Deployment that changed it (zset), 8 outbox list, 9 outbox seq,
 *       10 pending-outbox set
 * ARGV: 1 expected state, 2 expected version, 3 new state, 4 record (stored form), 5 event JSON,
 *       6 lease value ("" = none required), 7 terminal ("1"/"0"), 8 id, 9 retention (ms),
 *       10 the record has an undo and is not a dry run ("1"/"0"), 11 its request time (ms),
 *       12 max members of KEYS[7], 13 events cap for this event ("0" = always recorded),
 *       14 the note recorded instead of the first event over the cap, 15 notices (JSON array)
 * returns: {"ok", newVersion} | {"conflict", state, version} | {"lease"}
 */
export const COMMIT = `#!lua
local st = redis.call("HGET", KEYS[1], "state")
local ver = redis.call("HGET", KEYS[1], "version")
if st ~= ARGV[1] or ver ~= ARGV[2] then return {"conflict", st or "", ver or ""} end
if ARGV[6] ~= "" and redis.call("GET", KEYS[4]) ~= ARGV[6] then return {"lease"} end
local nv = tostring(tonumber(ver) + 1)
local retention = tonumber(ARGV[9])
redis.call("HSET", KEYS[1], "state", ARGV[3], "version", nv, "record", ARGV[4])
local cap = tonumber(ARGV[13])
local n = redis.call("XLEN", KEYS[2])
if cap == 0 or n < cap then
  redis.call("XADD", KEYS[2], "*", "e", ARGV[5])
elseif n == cap then
  redis.call("XADD", KEYS[2], "*", "e", ARGV[14])
end
if ARGV[10] == "1" then
  local now = tonumber(ARGV[11])
  redis.call("ZADD", KEYS[7], now, ARGV[8])
  redis.call("ZREMRANGEBYSCORE", KEYS[7], "-inf", "(" .. (now - retention))
  redis.call("ZREMRANGEBYRANK", KEYS[7], 0, -(tonumber(ARGV[12]) + 1))
  redis.call("PEXPIRE", KEYS[7], retention)
end
local notices = cjson.decode(ARGV[15])
for _, notice in ipairs(notices) do
  notice.seq = redis.call("INCR", KEYS[9])
  redis.call("RPUSH", KEYS[8], cjson.encode(notice))
end
if #notices > 0 then redis.call("SADD", KEYS[10], ARGV[8]) end
if ARGV[7] == "1" then
  redis.call("SREM", KEYS[3], ARGV[8])
  if redis.call("GET", KEYS[5]) == ARGV[8] then redis.call("DEL", KEYS[5]) end
  -- Finished: kept for the retention period (counted from the last change), then gone with its trail.
  redis.call("PEXPIRE", KEYS[1], retention)
  redis.call("PEXPIRE", KEYS[2], retention)
  redis.call("PEXPIRE", KEYS[6], retention)
  redis.call("PEXPIRE", KEYS[9], retention)
  if redis.call("EXISTS", KEYS[8]) == 1 then redis.call("PEXPIRE", KEYS[8], retention) end
end
return {"ok", nv}
`;

/**
 * append: an event without a state change, unless the stream is at its cap; the stream lives as long
 * as its record (a note on a finished rollback must not leave a stream without a TTL behind).
 * KEYS: 1 events, 2 record
 * ARGV: 1 event JSON, 2 cap, 3 the note recorded instead of the first event over the cap, 4 retention (ms)
 * returns: 1 recorded | 0 dropped (over the cap)
 */
export const APPEND = `#!lua
local cap = tonumber(ARGV[2])
local n = redis.call("XLEN", KEYS[1])
local added = 0
if n < cap then
  redis.call("XADD", KEYS[1], "*", "e", ARGV[1])
  added = 1
elseif n == cap then
  redis.call("XADD", KEYS[1], "*", "e", ARGV[3])
end
local ttl = redis.call("PTTL", KEYS[2])
if ttl > 0 then
  redis.call("PEXPIRE", KEYS[1], ttl)
elseif ttl == -2 then
  redis.call("PEXPIRE", KEYS[1], ARGV[4])
end
return added
`;

/**
 * acquire: a lease only if none is held; the fencing token grows with every acquisition. The fence of a
 * finished record expires with it.
 * KEYS: 1 lease, 2 fence, 3 record   ARGV: 1 owner, 2 ttl ms   returns: token | false
 */
export const ACQUIRE = `#!lua
if redis.call("EXISTS", KEYS[1]) == 1 then return false end
local token = redis.call("INCR", KEYS[2])
redis.call("SET", KEYS[1], ARGV[1] .. "|" .. token, "PX", ARGV[2])
local ttl = redis.call("PTTL", KEYS[3])
if ttl > 0 then redis.call("PEXPIRE", KEYS[2], ttl) end
return token
`;

/** renew — KEYS: 1 lease   ARGV: 1 value, 2 ttl ms   returns: 1 | 0 */
export const RENEW = `
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
return 0
`;

/** release — KEYS: 1 lease   ARGV: 1 value   returns: 1 | 0 */
export const RELEASE = `
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0
`;

/**
 * unlock: compare-and-delete of a workload lock, with its audit entry in the same step.
 * KEYS: 1 deployment lock, 2 audit stream   ARGV: 1 expected holder, 2 audit JSON
 * returns: 1 | 0
 */
/**
 * pause: sets (or replaces) a workload's pause until ARGV[2], notes when it lapses, and audits it.
 * KEYS: 1 pause key, 2 due zset, 3 due info hash, 4 audit stream
 * ARGV: 1 pause JSON, 2 until (epoch ms), 3 member (namespace/name), 4 audit entry JSON
 */
export const PAUSE = `
redis.call("SET", KEYS[1], ARGV[1], "PXAT", ARGV[2])
redis.call("ZADD", KEYS[2], ARGV[2], ARGV[3])
redis.call("HSET", KEYS[3], ARGV[3], ARGV[1])
redis.call("XADD", KEYS[4], "MAXLEN", "~", "10000", "*", "e", ARGV[4])
return 1
`;

/**
 * lift a pause: deletes it and audits who lifted it, only if there is one.
 * KEYS: 1 pause key, 2 audit stream, 3 due zset, 4 due info hash
 * ARGV: 1 audit entry (JSON, without the pause), 2 member   returns: the pause | false
 */
export const LIFT_PAUSE = `
local p = redis.call("GET", KEYS[1])
if not p then return false end
redis.call("DEL", KEYS[1])
redis.call("ZREM", KEYS[3], ARGV[2])
redis.call("HDEL", KEYS[4], ARGV[2])
local e = cjson.decode(ARGV[1])
e.pause = cjson.decode(p)
redis.call("XADD", KEYS[2], "MAXLEN", "~", "10000", "*", "e", cjson.encode(e))
return p
`;

/**
 * claim lapsed pauses: takes the pauses whose time is up off the due set (so one replica alone says
 * so) and audits each lapse. A pause lifted or replaced meanwhile is no longer due, so is not taken.
 * KEYS: 1 due zset, 2 due info hash, 3 audit stream   ARGV: 1 now (epoch ms), 2 now (ISO)
 * returns: the lapsed pauses (JSON)
 */
export const CLAIM_LAPSED_PAUSES = `
local due = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[1], "LIMIT", 0, 50)
local out = {}
for _, m in ipairs(due) do
  redis.call("ZREM", KEYS[1], m)
  local p = redis.call("HGET", KEYS[2], m)
  redis.call("HDEL", KEYS[2], m)
  if p then
    local e = { action = "pause_lapsed", at = ARGV[2], pause = cjson.decode(p) }
    redis.call("XADD", KEYS[3], "MAXLEN", "~", "10000", "*", "e", cjson.encode(e))
    table.insert(out, p)
  end
end
return out
`;

export const UNLOCK = `
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
redis.call("DEL", KEYS[1])
redis.call("XADD", KEYS[2], "MAXLEN", "~", "10000", "*", "e", ARGV[2])
return 1
`;

/**
 * ack: drops the delivered notice `seq` (the oldest, or a root update delivered beside the thread's
 * notices); forgets the outbox once it is empty.
 * KEYS: 1 outbox list, 2 pending-outbox set   ARGV: 1 seq, 2 id   returns: 1 | 0
 */
export const ACK = `
local done = 0
for _, raw in ipairs(redis.call("LRANGE", KEYS[1], 0, -1)) do
  if tonumber(cjson.decode(raw).seq) == tonumber(ARGV[1]) then
    redis.call("LREM", KEYS[1], 1, raw)
    done = 1
    break
  end
end
if redis.call("LLEN", KEYS[1]) == 0 then redis.call("SREM", KEYS[2], ARGV[2]) end
return done
`;
