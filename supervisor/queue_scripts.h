/* The Lua scripts of the Redis queue (claim, renew, finish, retry, maintenance); see queue_redis.c. */
#ifndef OV_SUP_QUEUE_SCRIPTS_H
#define OV_SUP_QUEUE_SCRIPTS_H

/* Every script reads the clock with TIME on the server, so leases mean the same thing on every
 * host whatever their clocks say. Token-checked scripts return 0 when the caller no longer owns
 * the claim (a reaper or another supervisor took it): the caller must then drop its work. */

#define OV_LUA_NOW                                                                                           \
    "local t = redis.call('TIME')\n"                                                                         \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

/* CLAIM: move one payload from this supervisor's processing list into a leased claim record.
 * KEYS: proc, claim, leases, attempts, status
 * ARGV: payload, cid, token, sid, queue, lease_ms, attempt_key, job_id ("" if none), status_ttl_s
 * Returns the attempt number (>= 1), or 0 when the payload is no longer in the processing list
 * (the list was reaped back to the queue: someone else will run it). Idempotent for a resend
 * with the same token (a reply lost to a disconnect); the resend also restarts the lease, since
 * RENEW skips claims whose CLAIM is unanswered and the lease may have run out meanwhile (the
 * MAINT that follows a reconnect would otherwise reap a job its owner is about to run). */
#define OV_LUA_CLAIM                                                                                         \
    OV_LUA_NOW                                                                                               \
    "if redis.call('HGET', KEYS[2], 'token') == ARGV[3] then\n"                                              \
    "  redis.call('ZADD', KEYS[3], 'XX', now + tonumber(ARGV[6]), ARGV[2])\n"                                \
    "  return tonumber(redis.call('HGET', KEYS[2], 'attempts'))\n"                                           \
    "end\n"                                                                                                  \
    "if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end\n"                                   \
    "local n = redis.call('HINCRBY', KEYS[4], ARGV[7], 1)\n"                                                 \
    "redis.call('HSET', KEYS[2], 'payload', ARGV[1], 'token', ARGV[3], 'owner', ARGV[4], 'queue', ARGV[5],\n" \
    "  'state', 'run', 'attempts', n, 'akey', ARGV[7], 'job_id', ARGV[8], 'claimed_ms', now)\n"              \
    "redis.call('ZADD', KEYS[3], now + tonumber(ARGV[6]), ARGV[2])\n"                                        \
    "if ARGV[8] ~= '' then\n"                                                                                \
    "  redis.call('HSET', KEYS[5], 'state', 'running', 'attempts', n, 'queue', ARGV[5], 'owner', ARGV[4],\n" \
    "    'updated_ms', now)\n"                                                                               \
    "  redis.call('EXPIRE', KEYS[5], tonumber(ARGV[9]))\n"                                                   \
    "end\n"                                                                                                  \
    "return n\n"

/* RENEW (all claims of one supervisor at once), refreshing its liveness key and registering its
 * processing lists. KEYS: leases, alive, procs
 * ARGV: prefix, lease_ms, sid, nprocs, proc_key_1, queue_1, ..., then cid_1, token_1, ...
 * Returns the cids whose token no longer matches (lost claims). */
#define OV_LUA_RENEW                                                                                         \
    OV_LUA_NOW                                                                                               \
    "local lease = tonumber(ARGV[2])\n"                                                                      \
    "redis.call('SET', KEYS[2], '1', 'PX', lease)\n"                                                         \
    "local np = tonumber(ARGV[4])\n"                                                                         \
    "local i = 5\n"                                                                                          \
    "for _ = 1, np do\n"                                                                                     \
    "  redis.call('HSET', KEYS[3], ARGV[i], ARGV[3] .. '|' .. ARGV[i + 1])\n"                                \
    "  i = i + 2\n"                                                                                          \
    "end\n"                                                                                                  \
    "local lost = {}\n"                                                                                      \
    "while i < #ARGV do\n"                                                                                   \
    "  local ck = ARGV[1] .. ':claim:' .. ARGV[i]\n"                                                         \
    "  if redis.call('HGET', ck, 'token') == ARGV[i + 1] then\n"                                             \
    "    redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[i])\n"                                          \
    "  else\n"                                                                                               \
    "    lost[#lost + 1] = ARGV[i]\n"                                                                        \
    "  end\n"                                                                                                \
    "  i = i + 2\n"                                                                                          \
    "end\n"                                                                                                  \
    "return lost\n"

/* FINISH: the job is done for good (completed, or failed and dead-lettered); remove the claim.
 * KEYS: claim, leases, attempts, status, dead
 * ARGV: token, cid, final_state, dead_entry ("" = none), dead_max, status_ttl_s, error, has_status
 * Returns 1, or 0 when the token does not match (nothing changed). */
#define OV_LUA_FINISH                                                                                        \
    OV_LUA_NOW                                                                                               \
    "if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end\n"                                 \
    "local akey = redis.call('HGET', KEYS[1], 'akey')\n"                                                     \
    "local n = redis.call('HGET', KEYS[1], 'attempts')\n"                                                    \
    "redis.call('DEL', KEYS[1])\n"                                                                           \
    "redis.call('ZREM', KEYS[2], ARGV[2])\n"                                                                 \
    "if akey then redis.call('HDEL', KEYS[3], akey) end\n"                                                   \
    "if ARGV[4] ~= '' then\n"                                                                                \
    "  redis.call('LPUSH', KEYS[5], ARGV[4])\n"                                                              \
    "  redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[5]) - 1)\n"                                             \
    "end\n"                                                                                                  \
    "if ARGV[8] == '1' then\n"                                                                               \
    "  redis.call('HSET', KEYS[4], 'state', ARGV[3], 'error', ARGV[7], 'attempts', n or 0, 'updated_ms', now)\n" \
    "  redis.call('EXPIRE', KEYS[4], tonumber(ARGV[6]))\n"                                                   \
    "end\n"                                                                                                  \
    "return 1\n"

/* RETRY: give the job back for a later attempt (backoff). The claim record stays, without an owner,
 * in the delayed set; maintenance pushes its payload back onto the queue when due.
 * KEYS: claim, leases, delayed, status
 * ARGV: token, cid, delay_ms, reason, status_ttl_s, has_status
 * Returns 1, or 0 when the token does not match. */
#define OV_LUA_RETRY                                                                                         \
    OV_LUA_NOW                                                                                               \
    "if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end\n"                                 \
    "redis.call('HSET', KEYS[1], 'token', '', 'owner', '', 'state', 'delayed', 'reason', ARGV[4])\n"         \
    "redis.call('ZREM', KEYS[2], ARGV[2])\n"                                                                 \
    "redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), ARGV[2])\n"                                        \
    "if ARGV[6] == '1' then\n"                                                                               \
    "  redis.call('HSET', KEYS[4], 'state', 'retrying', 'error', ARGV[4], 'updated_ms', now)\n"              \
    "  redis.call('EXPIRE', KEYS[4], tonumber(ARGV[5]))\n"                                                   \
    "end\n"                                                                                                  \
    "return 1\n"

/* MAINT: (1) due delayed retries go back onto the consuming end of their queue; (2) expired
 * leases: with attempts left the payload goes back onto the queue and the claim is deleted, with
 * none left the caller takes the claim over (new token, state dead) to send its `failed` callback
 * and dead-letter it; (3) processing lists of supervisors whose liveness key expired go back
 * onto their queues (jobs moved by a blocking pop that died before its claim).
 * KEYS: leases, delayed, procs
 * ARGV: prefix, max_attempts, sid, lease_ms, token_prefix, limit, status_ttl_s
 * Returns {promoted, requeued, orphans, {cid, token, payload, job_id, attempts, queue, reason}...}. */
#define OV_LUA_MAINT                                                                                         \
    OV_LUA_NOW                                                                                               \
    "local p, maxa, lim = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[6])\n"                                   \
    "local ttl = tonumber(ARGV[7])\n"                                                                        \
    "local function status(id, st)\n"                                                                        \
    "  if id and id ~= '' then\n"                                                                            \
    "    local sk = p .. ':status:' .. id\n"                                                                 \
    "    redis.call('HSET', sk, 'state', st, 'updated_ms', now)\n"                                           \
    "    redis.call('EXPIRE', sk, ttl)\n"                                                                    \
    "  end\n"                                                                                                \
    "end\n"                                                                                                  \
    "local promoted, requeued, orphans = 0, 0, 0\n"                                                          \
    "for _, cid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, lim)) do\n"          \
    "  local ck = p .. ':claim:' .. cid\n"                                                                   \
    "  local h = redis.call('HMGET', ck, 'payload', 'queue', 'job_id', 'state')\n"                           \
    "  if h[1] and h[4] == 'delayed' then\n"                                                                 \
    "    redis.call('RPUSH', h[2], h[1])\n"                                                                  \
    "    redis.call('DEL', ck)\n"                                                                            \
    "    status(h[3], 'queued')\n"                                                                           \
    "    promoted = promoted + 1\n"                                                                          \
    "  end\n"                                                                                                \
    "  redis.call('ZREM', KEYS[2], cid)\n"                                                                   \
    "end\n"                                                                                                  \
    "local dead = {}\n"                                                                                      \
    "for _, cid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, lim)) do\n"          \
    "  local ck = p .. ':claim:' .. cid\n"                                                                   \
    "  local h = redis.call('HMGET', ck, 'payload', 'queue', 'job_id', 'attempts', 'state', 'owner')\n"      \
    "  if not h[1] then\n"                                                                                   \
    "    redis.call('ZREM', KEYS[1], cid)\n"                                                                 \
    "  elseif h[5] ~= 'dead' and tonumber(h[4]) < maxa then\n"                                               \
    "    redis.call('RPUSH', h[2], h[1])\n"                                                                  \
    "    redis.call('DEL', ck)\n"                                                                            \
    "    redis.call('ZREM', KEYS[1], cid)\n"                                                                 \
    "    status(h[3], 'queued')\n"                                                                           \
    "    requeued = requeued + 1\n"                                                                          \
    "  else\n"                                                                                               \
    "    local tok = ARGV[5] .. cid\n"                                                                       \
    "    local why = 'lease expired (owner ' .. (h[6] or '?') .. ') after ' .. h[4] .. ' attempts'\n"        \
    "    redis.call('HSET', ck, 'token', tok, 'owner', ARGV[3], 'state', 'dead', 'reason', why)\n"           \
    "    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), cid)\n"                                        \
    "    dead[#dead + 1] = {cid, tok, h[1], h[3] or '', tonumber(h[4]), h[2], why}\n"                        \
    "  end\n"                                                                                                \
    "end\n"                                                                                                  \
    "for _, f in ipairs(redis.call('HKEYS', KEYS[3])) do\n"                                                  \
    "  local v = redis.call('HGET', KEYS[3], f)\n"                                                           \
    "  local sid, q = string.match(v, '^([^|]*)|(.*)$')\n"                                                   \
    "  if sid and redis.call('EXISTS', p .. ':alive:' .. sid) == 0 then\n"                                   \
    "    while redis.call('LMOVE', f, q, 'LEFT', 'RIGHT') do orphans = orphans + 1 end\n"                    \
    "    redis.call('HDEL', KEYS[3], f)\n"                                                                   \
    "  end\n"                                                                                                \
    "end\n"                                                                                                  \
    "return {promoted, requeued, orphans, dead}\n"

/* RETURN_PROC: a live supervisor's own processing list, when its pop connection comes back. A
 * BLMOVE that the server executed but whose reply was lost (connection killed, server restarted
 * after persisting the move, client-side timeout) leaves a payload there that no CLAIM will take
 * and no MAINT will return while this supervisor stays alive (MAINT returns dead supervisors'
 * lists only, I3). Move everything back to the consuming end of the queue, the oldest to be
 * popped first (as MAINT does for orphans). A CLAIM of ours still in flight for one of them then
 * finds it gone and returns 0: its record is dropped and the payload is fetched again.
 * KEYS: proc, queue. Returns the number of payloads moved. */
#define OV_LUA_RETURN_PROC                                                                                   \
    "local n = 0\n"                                                                                          \
    "while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do n = n + 1 end\n"                        \
    "return n\n"

#endif
