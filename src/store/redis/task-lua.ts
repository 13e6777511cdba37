/**
 * Lua functions over one task's keys (all in the slot of its hash tag `{t:<id>}`), shared by
 * the scripts that append events, save the snapshot, close the log, and do all three in
 * one round trip (a run's commit). Each is idempotent under a command re-sent after a
 * dropped connection.
 */

/**
 * append_events(events, seq, expected, list): appends the JSON events of `list` with
 * consecutive sequence numbers (stream ids `0-<seq>`) and returns the first. A batch whose
 * first event is already at the sequence the writer expected is not recorded again.
 */
export const APPEND_EVENTS_FN = `
local function append_events(events, seq, expected, list)
  if expected > 0 then
    local at = redis.call('XRANGE', events, '0-' .. expected, '0-' .. expected)
    if at[1] and at[1][2][2] == list[1] then return expected end
  end
  local last = redis.call('INCRBY', seq, #list)
  local first = last - #list + 1
  for i = 1, #list do
    redis.call('XADD', events, '0-' .. (first + i - 1), 'e', list[i])
  end
  return first
end`;

/**
 * close_events(events, seq, ttl): marks an existing stream closed with the entry `1-0`
 * (after every `0-<seq>`) and, when ttl > 0, lets it and its counter expire after ttl ms.
 */
export const CLOSE_EVENTS_FN = `
local function close_events(events, seq, ttl)
  if redis.call('EXISTS', events) == 0 then return 0 end
  local last = redis.call('XREVRANGE', events, '+', '-', 'COUNT', 1)
  if not (last[1] and last[1][1] == '1-0') then redis.call('XADD', events, '1-0', 'closed', '1') end
  if ttl > 0 then
    redis.call('PEXPIRE', events, ttl)
    redis.call('PEXPIRE', seq, ttl)
  end
  return 1
end`;

/**
 * save_task(keys, a): replaces the task hash keys[1] if its version is a[1] (0: creates it,
 * as it must not exist); a[2..8] are
 * agent, tenant, lastSeq, updatedAt, state, ctx, task JSON; when a[9] > 0 (terminal) every
 * key in `keys` (task, events, seq, push, steps) expires after that many ms; a[10] is the
 * owner (kept in the record so every replica enforces it). Returns
 * {newVersion, oldUpdatedAt, oldState, oldCtx}, or {0, foundVersion} on a version mismatch.
 * A save re-sent after a dropped connection, finding exactly its own write one version up,
 * succeeds (the old values it returns are then the current ones).
 */
export const SAVE_TASK_FN = `
local function save_task(keys, a)
  local cur = redis.call('HMGET', keys[1], 'v', 'updatedAt', 'state', 'ctx', 'task', 'lastSeq')
  if cur[1] and tonumber(cur[1]) == tonumber(a[1]) + 1 and cur[5] == a[8]
    and cur[2] == a[5] and cur[6] == a[4] then
    return {tonumber(cur[1]), cur[2], cur[3], cur[4]}
  end
  -- Version 0 expected: the task must not exist yet (a create).
  if (cur[1] or '0') ~= a[1] then return {0, cur[1] or ''} end
  local v = tonumber(a[1]) + 1
  redis.call('HSET', keys[1], 'v', v, 'agent', a[2], 'tenant', a[3], 'lastSeq', a[4],
    'updatedAt', a[5], 'state', a[6], 'ctx', a[7], 'task', a[8], 'owner', a[10])
  local ttl = tonumber(a[9])
  if ttl > 0 then
    for i = 1, #keys do redis.call('PEXPIRE', keys[i], ttl) end
  end
  return {v, cur[2], cur[3], cur[4]}
end`;

/** How many arguments save_task takes (see SAVE_TASK_FN). */
export const SAVE_ARGS = 10;

/**
 * A run's commit: append ARGV events, save the snapshot (when ARGV[3] is 1, with the ten
 * save arguments from ARGV[5]), close the log (when ARGV[4] >= 0, with that ttl), in that
 * order. ARGV[1]: expected first sequence, ARGV[2]: number of events, then the events.
 * Returns {first sequence or 0, save result or {}}. KEYS: task, events, seq, push, steps.
 */
export const COMMIT = `${APPEND_EVENTS_FN}
${CLOSE_EVENTS_FN}
${SAVE_TASK_FN}
local n = tonumber(ARGV[2])
local at = 5
local save_args = nil
if ARGV[3] == '1' then
  save_args = {}
  for i = 1, 10 do save_args[i] = ARGV[4 + i] end
  at = 15
end
local first = 0
if n > 0 then
  local list = {}
  for i = 1, n do list[i] = ARGV[at + i - 1] end
  first = append_events(KEYS[2], KEYS[3], tonumber(ARGV[1]), list)
end
local saved = {}
if save_args then saved = save_task(KEYS, save_args) end
if tonumber(ARGV[4]) >= 0 then close_events(KEYS[2], KEYS[3], tonumber(ARGV[4])) end
return {first, saved}`;
