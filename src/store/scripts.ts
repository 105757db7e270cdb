// Lua scripts: each one a single atomic step on Redis (the bullmq way). Headers list KEYS/ARGV/returns.

/**
 * create
 * KEYS: 1 deployment lock, 2 record, 3 events, 4 active set, 5 recent zset, 6 recent-of-service zset
 * ARGV: 1 id, 2 record JSON, 3 event JSON, 4 state, 5 score (ms), 6 lock ("1"/"0")
 * returns: {"ok"} | {"held", holderId}
 */
export const CREATE = `
if ARGV[6] == "1" then
  local holder = redis.call("GET", KEYS[1])
  if holder then return {"held", holder} end
  redis.call("SET", KEYS[1], ARGV[1])
end
redis.call("HSET", KEYS[2], "state", ARGV[4], "version", "1", "record", ARGV[2])
redis.call("XADD", KEYS[3], "*", "e", ARGV[3])
redis.call("SADD", KEYS[4], ARGV[1])
redis.call("ZADD", KEYS[5], ARGV[5], ARGV[1])
redis.call("ZADD", KEYS[6], ARGV[5], ARGV[1])
return {"ok"}
`;

/**
 * commit: compare-and-set on (state, version), fenced by the lease, with the event and the notices it
 * causes (the outbox) in the same step.
 * KEYS: 1 record, 2 events, 3 active set, 4 lease, 5 deployment lock, 6 outbox list, 7 outbox seq,
 *       8 pending-outbox set
 * ARGV: 1 expected state, 2 expected version, 3 new state, 4 record JSON, 5 event JSON,
 *       6 lease value ("" = none required), 7 terminal ("1"/"0"), 8 id, 9 notices (JSON array)
 * returns: {"ok", newVersion} | {"conflict", state, version} | {"lease"}
 */
export const COMMIT = `
local st = redis.call("HGET", KEYS[1], "state")
local ver = redis.call("HGET", KEYS[1], "version")
if st ~= ARGV[1] or ver ~= ARGV[2] then return {"conflict", st or "", ver or ""} end
if ARGV[6] ~= "" and redis.call("GET", KEYS[4]) ~= ARGV[6] then return {"lease"} end
local nv = tostring(tonumber(ver) + 1)
redis.call("HSET", KEYS[1], "state", ARGV[3], "version", nv, "record", ARGV[4])
redis.call("XADD", KEYS[2], "*", "e", ARGV[5])
local notices = cjson.decode(ARGV[9])
for _, n in ipairs(notices) do
  n.seq = redis.call("INCR", KEYS[7])
  redis.call("RPUSH", KEYS[6], cjson.encode(n))
end
if #notices > 0 then redis.call("SADD", KEYS[8], ARGV[8]) end
if ARGV[7] == "1" then
  redis.call("SREM", KEYS[3], ARGV[8])
  if redis.call("GET", KEYS[5]) == ARGV[8] then redis.call("DEL", KEYS[5]) end
end
return {"ok", nv}
`;

/**
 * acquire: a lease only if none is held; the fencing token grows with every acquisition.
 * KEYS: 1 lease, 2 fence   ARGV: 1 owner, 2 ttl ms   returns: token | false
 */
export const ACQUIRE = `
if redis.call("EXISTS", KEYS[1]) == 1 then return false end
local token = redis.call("INCR", KEYS[2])
redis.call("SET", KEYS[1], ARGV[1] .. "|" .. token, "PX", ARGV[2])
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
export const UNLOCK = `
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
redis.call("DEL", KEYS[1])
redis.call("XADD", KEYS[2], "MAXLEN", "~", "10000", "*", "e", ARGV[2])
return 1
`;

/**
 * ack: drops the oldest notice if it is the one delivered; forgets the outbox once it is empty.
 * KEYS: 1 outbox list, 2 pending-outbox set   ARGV: 1 seq, 2 id   returns: 1 | 0
 */
export const ACK = `
local head = redis.call("LINDEX", KEYS[1], 0)
local done = 0
if head and tonumber(cjson.decode(head).seq) == tonumber(ARGV[1]) then
  redis.call("LPOP", KEYS[1])
  done = 1
end
if redis.call("LLEN", KEYS[1]) == 0 then redis.call("SREM", KEYS[2], ARGV[2]) end
return done
`;
