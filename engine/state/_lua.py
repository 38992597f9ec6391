"""The Redis scripts.  Every multi-key change is one of these (registered once, reloaded on NOSCRIPT by redis-py's
`Script`); every key of one call carries the tenant's hash tag, so a call touches one Redis Cluster slot.

Keys of a tenant ``T`` (prefix ``dlr``): ``dlr:{t:T}:msgs`` (message key -> state JSON), ``:ver`` (-> version),
``:links`` (provider id -> key), ``:sup`` (entry id -> JSON), ``:sched`` / ``:due`` / ``:tokens`` / ``:ltok``
(the schedule: entries; a sorted set of when each is next claimable — its due time, or its lease's end while a
worker holds it, as SQLite's ``ready`` column; token <-> key while leased), ``:inc`` / ``:incopen`` /
``:incrcpt`` (incidents, open incident per group, recipients seen), ``:held`` / ``:heldz`` (key -> incident;
``incident|key`` by hold time), ``:holds`` (open account-wide incidents), ``:audit`` (operator actions),
``:fc:<route>`` (flood counters and breaker)."""

from __future__ import annotations

from typing import Final

#: The order of the tenant keys every write-side script receives.
TENANT_KEYS: Final = ("msgs", "ver", "links", "sup", "sched", "due", "tokens", "ltok", "inc", "incopen", "incrcpt",
                      "held", "heldz", "holds", "audit")

_MERGE: Final = """
local function merge(raw, new)
  local mark = new.import
  new.import = nil
  local old
  if raw then
    old = cjson.decode(raw)
    if mark then
      for _, seen in ipairs(old.imports or {}) do
        if seen == mark then return old end
      end
    end
    if old['until'] == cjson.null or new['until'] == cjson.null then old['until'] = cjson.null
    elseif new['until'] > old['until'] then old['until'] = new['until'] end
    old.hits = (old.hits or 1) + (new.hits or 1)
    old.updated = new.updated
    if old.liftable ~= false or new.liftable == false then  -- an opt-out's reason stays (see merge_suppression)
      old.reason = new.reason
      old.source = new.source
    end
    old.liftable = (old.liftable ~= false) and (new.liftable ~= false)
  else
    old = new
  end
  if mark then
    local marks = {}
    for _, seen in ipairs(old.imports or {}) do marks[#marks + 1] = seen end
    marks[#marks + 1] = mark
    while #marks > 20 do table.remove(marks, 1) end
    old.imports = marks
  end
  return old
end
"""

_HELPERS: Final = _MERGE + """
local MSGS, VER, LINKS, SUP, SCHED, DUE, TOKENS, LTOK, INC, INCOPEN, INCRCPT, HELD, HELDZ, HOLDS, AUDIT =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12],
  KEYS[13], KEYS[14], KEYS[15]
local function unhold(key)
  local id = redis.call('HGET', HELD, key)
  if not id then return end
  redis.call('HDEL', HELD, key)
  redis.call('ZREM', HELDZ, id .. '|' .. key)
  local raw = redis.call('HGET', INC, id)
  if raw then
    local inc = cjson.decode(raw)
    inc.held = math.max(0, (inc.held or 0) - 1)
    redis.call('HSET', INC, id, cjson.encode(inc))
  end
end
local function unsched(key)
  redis.call('HDEL', SCHED, key)
  redis.call('ZREM', DUE, key)
  local t = redis.call('HGET', LTOK, key)
  if t then
    redis.call('HDEL', TOKENS, t)
    redis.call('HDEL', LTOK, key)
  end
end
"""

_APPLY: Final = _HELPERS + """
local order = {info = 1, warning = 2, error = 3, critical = 4}
-- Flood counts: at once (acc nil), or summed per key and field into acc and written by flush at the end of a
-- batch's script (a report's counts are summed only once its version check passed, as they were written).
local function count(acc, FC, field, n)
  if not acc then
    redis.call('HINCRBY', FC, field, n)
    return
  end
  local a = acc[FC]
  if not a then
    a = {add = {}, fields = {}, old = {}, olds = {}, ttl = 0}
    acc[FC] = a
    acc[#acc + 1] = FC
  end
  if not a.add[field] then
    a.add[field] = 0
    a.fields[#a.fields + 1] = field
  end
  a.add[field] = a.add[field] + n
end
local function flush(acc)
  for _, FC in ipairs(acc) do
    local a = acc[FC]
    for _, field in ipairs(a.fields) do redis.call('HINCRBY', FC, field, a.add[field]) end
    for _, old in ipairs(a.olds) do redis.call('HDEL', FC, 'r' .. old, 'x' .. old, 'f' .. old) end
    redis.call('EXPIRE', FC, a.ttl)
  end
end
local function apply(ops, FC, tenant, acc)
for _, op in ipairs(ops) do  -- every message the ops name, at the version it was read at, before any write
  if op.op == 'msg' or op.op == 'ver' or op.op == 'drop' then
    local v = tonumber(redis.call('HGET', VER, op.key) or '0')
    if v ~= op.expect then return {0} end
  end
end
local hits = {}
for _, op in ipairs(ops) do
  local k = op.op
  if k == 'msg' then
    redis.call('HSET', MSGS, op.key, op.state)
    redis.call('HSET', VER, op.key, op.expect + 1)
  elseif k == 'ver' then
  elseif k == 'drop' then
    -- The version goes on counting (a writer that read the message before it went must not recreate it).
    redis.call('HDEL', MSGS, op.key)
    redis.call('HINCRBY', VER, op.key, 1)
  elseif k == 'movehold' then
    local id = redis.call('HGET', HELD, op.src)
    if id then
      if redis.call('HEXISTS', HELD, op.dst) == 1 then unhold(op.src)
      else
        local since = redis.call('ZSCORE', HELDZ, id .. '|' .. op.src)
        redis.call('HDEL', HELD, op.src)
        redis.call('ZREM', HELDZ, id .. '|' .. op.src)
        redis.call('HSET', HELD, op.dst, id)
        redis.call('ZADD', HELDZ, since, id .. '|' .. op.dst)
      end
    end
  elseif k == 'link' then
    redis.call('HSET', LINKS, op.pid, op.key)
  elseif k == 'sup' then
    redis.call('HSET', SUP, op.id, cjson.encode(merge(redis.call('HGET', SUP, op.id), op.entry)))
  elseif k == 'sched' then
    unsched(op.key)
    redis.call('HSET', SCHED, op.key, op.raw)
    redis.call('ZADD', DUE, op.due, op.key)
  elseif k == 'unsched' then
    unsched(op.key)
  elseif k == 'unhold' then
    unhold(op.key)
  elseif k == 'inc' then
    local id = redis.call('HGET', INCOPEN, op.group)
    local opened = 0
    local inc
    if not id then
      id, opened = op.id, 1
      local e = op.entry
      inc = {id = id, tenant = tenant, route = e.route, cause = e.cause, rule = e.rule, severity = e.severity,
             account_wide = e.account_wide, state = 'open', count = 0, recipients = 0, first = op.now,
             last = op.now, samples = {}, held = 0}
      redis.call('HSET', INCOPEN, op.group, id)
      if e.account_wide then redis.call('SADD', HOLDS, id) end
    else
      inc = cjson.decode(redis.call('HGET', INC, id))
      if (order[op.entry.severity] or 0) > (order[inc.severity] or 0) then inc.severity = op.entry.severity end
    end
    inc.count = inc.count + 1
    inc.last = op.now
    if op.recipient ~= '' and redis.call('SADD', INCRCPT, id .. '|' .. op.recipient) == 1 then
      inc.recipients = inc.recipients + 1
    end
    local samples, present = {}, false
    for _, s in ipairs(inc.samples) do
      samples[#samples + 1] = s
      if s == op.key then present = true end
    end
    if #samples < 5 and not present then samples[#samples + 1] = op.key end
    inc.samples = samples
    if op.hold then
      local prev = redis.call('HGET', HELD, op.key)
      if prev ~= id then
        if prev then unhold(op.key) end
        redis.call('HSET', HELD, op.key, id)
        redis.call('ZADD', HELDZ, op.now, id .. '|' .. op.key)
        inc.held = inc.held + 1
      end
    end
    redis.call('HSET', INC, id, cjson.encode(inc))
    hits[#hits + 1] = {id, inc.count, opened}
  elseif k == 'fc' then
    local b = string.format('%d', op.bucket)
    count(acc, FC, 'r' .. b, op.add[1])
    if op.add[2] > 0 then count(acc, FC, 'x' .. b, op.add[2]) end
    if op.xb ~= nil and op.xb ~= cjson.null then count(acc, FC, 'x' .. string.format('%d', op.xb), 1) end
    if op.add[3] > 0 then count(acc, FC, 'f' .. b, op.add[3]) end
    local old = string.format('%d', op.keep - 1)
    if acc then
      local a = acc[FC]
      if not a.old[old] then a.old[old] = true; a.olds[#a.olds + 1] = old end
      a.ttl = op.ttl
    else
      redis.call('HDEL', FC, 'r' .. old, 'x' .. old, 'f' .. old)
      redis.call('EXPIRE', FC, op.ttl)
    end
  elseif k == 'brk' then
    local gen = tonumber(redis.call('HGET', FC, 'gen') or '0')
    if gen == op.gen then
      redis.call('HSET', FC, 'until', string.format('%.17g', op['until']), 'brk', string.format('%.17g', op.brk),
                 'since', string.format('%.17g', op.since), 'gen', gen + 1)
      redis.call('EXPIRE', FC, op.ttl)
    end
  else
    return redis.error_reply('unknown op ' .. tostring(k))
  end
end
return {1, hits}
end
"""

#: Apply one report's ops (see `_apply`).  KEYS: the tenant keys, then the route's flood key.  ARGV: ops JSON
#: (the ``msg`` op without its state), tenant, the message's state text.  Returns {0} on a version conflict,
#: {1, {{incident, count, opened}, ...}} otherwise.
WRITE: Final = _APPLY + """
local ops = cjson.decode(ARGV[1])
ops[1].state = ARGV[3]
return apply(ops, KEYS[16], ARGV[2])
"""

#: Apply many reports' ops, each checked against its own version (a conflict skips only that report).  KEYS:
#: the tenant keys, then the batch's flood keys.  ARGV: tenant, then per report a JSON {ops, fc} (``fc``: the
#: 1-based index of its flood key after the tenant keys) and the message's state text (kept out of the JSON so
#: it is neither escaped nor decoded).  Returns {flags, hits}: one character per report, "1" applied or "0" a
#: version conflict, and the incidents hit as a flat list of (report's 1-based position, incident, count after,
#: opened) — two replies to parse, not three per report.  The reports' flood counts are summed and written once
#: per route at the end (HINCRBY per bucket, not per report).
WRITE_MANY: Final = _APPLY + """
local flags, found, acc = {}, {}, {}
for i = 2, #ARGV, 2 do
  local report = cjson.decode(ARGV[i])
  report.ops[1].state = ARGV[i + 1]
  local result = apply(report.ops, KEYS[15 + report.fc], ARGV[1], acc)
  flags[#flags + 1] = tostring(result[1])
  for _, hit in ipairs(result[2] or {}) do
    found[#found + 1] = i / 2
    found[#found + 1] = hit[1]
    found[#found + 1] = hit[2]
    found[#found + 1] = hit[3]
  end
end
flush(acc)
return {table.concat(flags), found}
"""

#: Read a batch: per report (ARGV: one JSON [key, provider id, key otherwise] each) its resolved key, state and
#: version, one flat list (three replies per report), then every flood key's counters.  KEYS: links, msgs, ver,
#: then the flood keys.
READ_MANY: Final = """
local out, fcs = {}, {}
for i = 1, #ARGV do
  local item = cjson.decode(ARGV[i])
  local key = item[1]
  if key == '' then
    key = item[3]
    if item[2] ~= '' then
      local linked = redis.call('HGET', KEYS[1], item[2])
      if linked then key = linked end
    end
  end
  out[#out + 1] = key
  out[#out + 1] = redis.call('HGET', KEYS[2], key) or ''
  out[#out + 1] = redis.call('HGET', KEYS[3], key) or '0'
end
for i = 4, #KEYS do fcs[#fcs + 1] = redis.call('HGETALL', KEYS[i]) end
return {out, fcs}
"""

#: The suppression entries among ARGV (ids) and the open account-wide incidents (their JSON), in one call.  KEYS:
#: sup, holds, inc.
CHECK: Final = """
local holds = redis.call('SMEMBERS', KEYS[2])
local incidents = {}
if #holds > 0 then incidents = redis.call('HMGET', KEYS[3], unpack(holds)) end
return {redis.call('HMGET', KEYS[1], unpack(ARGV)), incidents}
"""

#: Claim chosen entries (the caller read them as due, earliest first across tenants).  KEYS: sched, due, tokens,
#: ltok.  ARGV: now, lease until, then (key, fresh token) pairs.  Each key is checked to be still due (another
#: worker may have claimed it since it was read); an expired lease's old token stops working.  Returns
#: {token, entry JSON} per entry claimed.
CLAIM: Final = """
local now = tonumber(ARGV[1])
local out = {}
for i = 3, #ARGV, 2 do
  local k, t = ARGV[i], ARGV[i + 1]
  local ready = redis.call('ZSCORE', KEYS[2], k)
  if ready and tonumber(ready) <= now then
    local old = redis.call('HGET', KEYS[4], k)
    if old then redis.call('HDEL', KEYS[3], old) end
    redis.call('ZADD', KEYS[2], ARGV[2], k)
    redis.call('HSET', KEYS[3], t, k)
    redis.call('HSET', KEYS[4], k, t)
    out[#out + 1] = {t, redis.call('HGET', KEYS[1], k) or ''}
  end
end
return out
"""

#: Ack (ARGV[2] == '') or extend (ARGV[2]: the new lease end) a lease.  KEYS: sched, due, tokens, ltok.
LEASE: Final = """
local k = redis.call('HGET', KEYS[3], ARGV[1])
if not k then return 0 end
if ARGV[2] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[2], k)
  return 1
end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], k)
redis.call('ZREM', KEYS[2], k)
redis.call('HDEL', KEYS[1], k)
return 1
"""

#: Import entries (ARGV: entry JSON each), merging like policy suppressions.  KEYS: sup.
IMPORT: Final = _MERGE + """
for i = 1, #ARGV do
  local new = cjson.decode(ARGV[i])
  redis.call('HSET', KEYS[1], new.id, cjson.encode(merge(redis.call('HGET', KEYS[1], new.id), new)))
end
return #ARGV
"""

#: Delete the entries among ARGV[2..] that expired at or before ARGV[1].  KEYS: sup.
PRUNE: Final = """
local now, n = tonumber(ARGV[1]), 0
for i = 2, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if raw then
    local e = cjson.decode(raw)
    if e['until'] ~= cjson.null and e['until'] ~= nil and e['until'] <= now then
      redis.call('HDEL', KEYS[1], ARGV[i])
      n = n + 1
    end
  end
end
return n
"""

#: Lift: delete entry ARGV[1] if it still is ARGV[2], and append the audit line ARGV[3].  KEYS: sup, audit.
LIFT: Final = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[3])
return 1
"""

#: Resolve incident ARGV[1] at ARGV[2] by ARGV[3] with note ARGV[4]; audit line ARGV[5].  KEYS: inc, incopen,
#: holds, audit.  Returns the incident's JSON (false when unknown).
CLOSE: Final = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local inc = cjson.decode(raw)
if inc.state ~= 'resolved' then
  inc.state, inc.resolved, inc.by, inc.note = 'resolved', tonumber(ARGV[2]), ARGV[3], ARGV[4]
  local group = inc.route .. '|' .. inc.cause
  if redis.call('HGET', KEYS[2], group) == ARGV[1] then redis.call('HDEL', KEYS[2], group) end
  redis.call('SREM', KEYS[3], ARGV[1])
  raw = cjson.encode(inc)
  redis.call('HSET', KEYS[1], ARGV[1], raw)
  redis.call('RPUSH', KEYS[4], ARGV[5])
end
return raw
"""
