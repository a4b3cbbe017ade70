import { createHash } from 'node:crypto';

/**
 * The fields of a breaker's state hash, in the order every script returns them after the
 * `applied` flag: state, epoch, openedAt, nextAttemptAt, openCount, probe owner, lease end,
 * the instance that wrote it, and why.
 */
const READ_STATE = `
local s = redis.call('HMGET', KEYS[1], 's', 'e', 'o', 'n', 'c', 'w', 'l', 'i', 'r')
local function reply(applied, ...)
  return {applied, s[1] or '', s[2] or '0', s[3] or '0', s[4] or '0', s[5] or '0', s[6] or '', s[7] or '0',
    s[8] or '', s[9] or '', ...}
end
`;

/**
 * Applies one breaker's state change, or refuses it and returns the state that stands.
 * KEYS: state, counts. ARGV: channel, tag, instance, known epoch, from, to, openedAt,
 * nextAttemptAt, openCount, reason, force, now, lease ms, closed-state ttl ms.
 *
 * A change applies when the caller saw the latest epoch, when it is an operator's (force), when
 * nothing is stored yet, when the caller knows a newer epoch than the one stored (Redis lost
 * history: a restart from an older snapshot, a failover to a replica that was behind; what the
 * caller holds is newer), or when it trips a circuit that is still CLOSED and has not changed
 * since the trip (field \`a\`: when the stored state was written), so that a trip made during a
 * partition does not re-open a circuit the others have since seen recover. A move to HALF_OPEN
 * also hands the caller the probe lease; asking for HALF_OPEN while it stands renews the
 * caller's lease or takes over one that has lapsed.
 */
export const TRANSITION = `${READ_STATE}
local function publish(reason)
  redis.call('PUBLISH', ARGV[1], cjson.encode({k = 's', t = ARGV[2], e = s[2], s = s[1], o = s[3], n = s[4],
    c = s[5], w = s[6], l = s[7], i = s[8], r = reason}))
end
local me, known, from, to, force = ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[11] == '1'
local now, leaseMs = tonumber(ARGV[12]), tonumber(ARGV[13])
local cur, epoch = s[1], tonumber(s[2]) or 0
if to == 'HALF_OPEN' and cur == 'HALF_OPEN' and not force then
  local lease = tonumber(s[7]) or 0
  if s[6] ~= me and now < lease then return reply('0') end
  if s[6] == me then lease = math.max(lease, now + leaseMs) else lease = now + leaseMs end
  local takeover = s[6] ~= me
  s[6] = me
  s[7] = string.format('%.0f', lease)
  redis.call('HSET', KEYS[1], 'w', s[6], 'l', s[7])
  if takeover then publish('probe_lease') end
  return reply('1')
end
local changedAt = tonumber(redis.call('HGET', KEYS[1], 'a')) or 0
local lost = cur and known > epoch
local trip = to == 'OPEN' and from == 'CLOSED' and cur == 'CLOSED' and (tonumber(ARGV[7]) or 0) >= changedAt
if not (force or not cur or lost or epoch == known or trip) then
  return reply('0')
end
local nextEpoch = math.max(epoch, known) + 1
if not cur then
  local t = redis.call('TIME')
  nextEpoch = math.max(nextEpoch, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
s = {to, string.format('%.0f', nextEpoch), ARGV[7], ARGV[8], ARGV[9], '', '0', me, ARGV[10]}
if to == 'HALF_OPEN' then
  s[6] = me
  s[7] = string.format('%.0f', now + leaseMs)
end
redis.call('HSET', KEYS[1], 's', s[1], 'e', s[2], 'o', s[3], 'n', s[4], 'c', s[5], 'w', s[6], 'l', s[7],
  'i', s[8], 'r', s[9], 'a', ARGV[12])
if to == 'CLOSED' then
  redis.call('DEL', KEYS[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[14])
else
  redis.call('PERSIST', KEYS[1])
end
publish(ARGV[10])
return reply('1')
`;

/**
 * Adds one instance's window counts, while the circuit is CLOSED (or nothing is stored), and
 * publishes them. KEYS: state, counts. ARGV: channel, tag, instance, bucket index, counts ttl
 * ms, calls, failures, slow, timeouts, trailing failures, oldest bucket kept.
 */
export const FLUSH = `${READ_STATE}
if s[1] and s[1] ~= 'CLOSED' then return reply('0') end
local b = ARGV[4]
redis.call('HINCRBY', KEYS[2], b .. ':c', ARGV[6])
if ARGV[7] ~= '0' then redis.call('HINCRBY', KEYS[2], b .. ':f', ARGV[7]) end
if ARGV[8] ~= '0' then redis.call('HINCRBY', KEYS[2], b .. ':s', ARGV[8]) end
if ARGV[9] ~= '0' then redis.call('HINCRBY', KEYS[2], b .. ':t', ARGV[9]) end
redis.call('PEXPIRE', KEYS[2], ARGV[5])
if redis.call('HLEN', KEYS[2]) > 48 then
  local oldest = tonumber(ARGV[11])
  for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do
    local index = tonumber(string.match(field, '^(%-?%d+):'))
    if index == nil or index < oldest then redis.call('HDEL', KEYS[2], field) end
  end
end
redis.call('PUBLISH', ARGV[1], cjson.encode({k = 'c', t = ARGV[2], i = ARGV[3], c = ARGV[6], f = ARGV[7],
  s = ARGV[8], x = ARGV[9], z = ARGV[10]}))
return reply('1')
`;

/**
 * Reads a breaker's state and, while it is CLOSED, the window counts of every instance.
 * KEYS: state, counts. ARGV: oldest bucket, newest bucket. Returns the state, then calls,
 * failures, slow and timeouts.
 */
export const LOAD = `${READ_STATE}
local sums = {c = 0, f = 0, s = 0, t = 0}
if not s[1] or s[1] == 'CLOSED' then
  local oldest, newest = tonumber(ARGV[1]), tonumber(ARGV[2])
  local all = redis.call('HGETALL', KEYS[2])
  for i = 1, #all, 2 do
    local index, kind = string.match(all[i], '^(%-?%d+):(%a)$')
    index = tonumber(index)
    if index and index >= oldest and index <= newest and sums[kind] then
      sums[kind] = sums[kind] + tonumber(all[i + 1])
    end
  end
end
return reply('1', tostring(sums.c), tostring(sums.f), tostring(sums.s), tostring(sums.t))
`;

/** A Lua script run by EVALSHA, sent whole by EVAL when the server does not know it (NOSCRIPT). */
export class Script {
  readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }
}

export const scripts = {
  transition: new Script(TRANSITION),
  flush: new Script(FLUSH),
  load: new Script(LOAD),
};
