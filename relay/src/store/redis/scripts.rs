//! The server-side steps, each one atomic Lua script so that no interleaving of instances can
//! give a seq twice, skip one, or store a message id twice. Every key of a script shares the
//! `{onair}` hash tag, so a Redis Cluster would keep them in one slot.
//!
//! A stream entry's id is `<seq>-0` and its fields are, in this order: `b` the stored body (EVENT
//! with `"seq":null`), `t` type, `c` channel login, `r` received (ms), `m` message id. The
//! scripts read fields by position (`f[2]` is the body, `f[4]` the type, ...).

/// KEYS: dedupe key, seq counter, events stream, channel logins by id.
/// ARGV: body, type, channel login, received ms, message id, dedupe ttl (s), channel id.
/// Returns `{1, seq}` for a new event, `{0, seq}` for a message id seen before.
pub(super) const APPEND: &str = r"
local dup = redis.call('GET', KEYS[1])
if dup then return {0, tonumber(dup)} end
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[3], seq .. '-0',
  'b', ARGV[1], 't', ARGV[2], 'c', ARGV[3], 'r', ARGV[4], 'm', ARGV[5])
redis.call('SET', KEYS[1], seq, 'EX', ARGV[6])
if ARGV[7] ~= '' and ARGV[3] ~= '' then redis.call('HSET', KEYS[4], ARGV[7], ARGV[3]) end
return {1, seq}
";

/// KEYS: dedupe key, revocations hash, status stream.
/// ARGV: message id, record JSON, status frame, dedupe ttl (s).
/// Returns 1 when recorded, 0 for a message id seen before.
pub(super) const REVOKE: &str = r"
if not redis.call('SET', KEYS[1], 0, 'NX', 'EX', ARGV[4]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', 1000, '*', 'f', ARGV[3])
return 1
";

/// The first and last seq, as the head of a page. Shared by the scripts below.
const HEAD: &str = r"
local function seq_of(id) return tonumber(string.match(id, '^(%d+)')) end
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
local first = last + 1
if #oldest > 0 then first = seq_of(oldest[1][1]) end
";

/// KEYS: events stream, seq counter.
/// ARGV: after (exclusive), limit, scan budget, number of channels, channels..., types...
/// Returns `{first_seq, last_seq, scanned_to, seq, body, seq, body, ...}`: matching events after
/// `after`, at most `limit`, looking at no more than `budget` entries (so one call never holds
/// the server long); the caller goes on from `scanned_to` while it is below `last_seq`.
pub(super) fn page() -> String {
    format!(
        "{HEAD}{}",
        r"
local limit = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local nc = tonumber(ARGV[4])
local chans, types, nt = {}, {}, 0
for i = 1, nc do chans[ARGV[4 + i]] = true end
for i = 5 + nc, #ARGV do types[ARGV[i]] = true; nt = nt + 1 end
local out = {first, last, 0}
local cursor = ARGV[1]
local found, scanned = 0, 0
while found < limit and scanned < budget do
  local batch = redis.call('XRANGE', KEYS[1], '(' .. cursor .. '-0', '+', 'COUNT',
    math.min(budget - scanned, 512))
  if #batch == 0 then break end
  for _, e in ipairs(batch) do
    scanned = scanned + 1
    cursor = tostring(seq_of(e[1]))
    local f = e[2]
    if (nc == 0 or chans[string.lower(f[6])]) and (nt == 0 or types[f[4]]) then
      out[#out + 1] = cursor
      out[#out + 1] = f[2]
      found = found + 1
      if found >= limit then break end
    end
  end
end
out[3] = cursor
return out
"
    )
}

/// KEYS: events stream, seq counter. Returns `{first_seq, last_seq}`.
pub(super) fn head() -> String {
    format!("{HEAD}return {{first, last}}")
}

/// KEYS: events stream. ARGV: ms.
/// Returns the lowest seq from which every entry was received at or after `ms` (one past the
/// newest entry when none was), by binary search on the seqs: receipt times follow the seqs up
/// to the clock skew between instances.
pub(super) const SEEK: &str = r"
local function seq_of(id) return tonumber(string.match(id, '^(%d+)')) end
local ms = tonumber(ARGV[1])
local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #oldest == 0 then return 0 end
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local lo, hi = seq_of(oldest[1][1]), seq_of(newest[1][1]) + 1
while lo < hi do
  local mid = math.floor((lo + hi) / 2)
  local e = redis.call('XRANGE', KEYS[1], mid .. '-0', '+', 'COUNT', 1)[1]
  if tonumber(e[2][8]) >= ms then hi = mid else lo = seq_of(e[1]) + 1 end
end
return lo
";

/// KEYS: events stream. ARGV: after (exclusive), budget, since ms, channel (or '').
/// Returns `{scanned_to, done, type, count, type, count, ...}` counting entries received since
/// `since`, without sending any body over the network.
pub(super) const COUNT: &str = r"
local budget = tonumber(ARGV[2])
local since = tonumber(ARGV[3])
local counts = {}
local cursor = ARGV[1]
local scanned = 0
local done = 0
while scanned < budget do
  local batch = redis.call('XRANGE', KEYS[1], '(' .. cursor .. '-0', '+', 'COUNT', 512)
  if #batch == 0 then done = 1; break end
  for _, e in ipairs(batch) do
    scanned = scanned + 1
    cursor = string.match(e[1], '^(%d+)')
    local f = e[2]
    if tonumber(f[8]) >= since and (ARGV[4] == '' or f[6] == ARGV[4]) then
      counts[f[4]] = (counts[f[4]] or 0) + 1
    end
  end
end
local out = {cursor, done}
for t, n in pairs(counts) do out[#out + 1] = t; out[#out + 1] = n end
return out
";

/// KEYS: events stream, seq counter, channel logins by id.
/// ARGV: the dedupe key prefix, then for each event (8 each, ascending seqs): seq, body, type,
/// channel login, received ms, message id, channel id, dedupe ttl (s; 0 for an event too old for
/// Twitch to redeliver). Refuses (error `IMPORT`) a seq at or below the counter; else appends
/// every entry under its own seq, remembers recent ids as an append would, and moves the
/// counter to the last seq.
pub(super) const IMPORT: &str = r"
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[2]) <= last then
  return redis.error_reply('IMPORT seq ' .. ARGV[2] .. ' is at or below the last seq ' .. last)
end
local top = last
for i = 2, #ARGV, 8 do
  redis.call('XADD', KEYS[1], ARGV[i] .. '-0', 'b', ARGV[i + 1], 't', ARGV[i + 2],
    'c', ARGV[i + 3], 'r', ARGV[i + 4], 'm', ARGV[i + 5])
  if ARGV[i + 6] ~= '' and ARGV[i + 3] ~= '' then
    redis.call('HSET', KEYS[3], ARGV[i + 6], ARGV[i + 3])
  end
  if tonumber(ARGV[i + 7]) > 0 then
    redis.call('SET', ARGV[1] .. ARGV[i + 5], ARGV[i], 'EX', ARGV[i + 7])
  end
  top = tonumber(ARGV[i])
end
redis.call('SET', KEYS[2], top)
return top
";

/// KEYS: epoch, seq counter. ARGV: the reader's epoch, the last seq it fed, a new epoch name.
/// Returns `{epoch, last_seq}` after starting a new epoch when the server has none (flushed) or
/// its counter went back below what a reader already fed under the same epoch (a restore from
/// an older file, or a failover to a replica that was behind): seqs would be given twice.
/// Compare-and-set, so several readers noticing at once start one new epoch, not several.
pub(super) const CHECK: &str = r"
local epoch = redis.call('GET', KEYS[1])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if (not epoch) or (epoch == ARGV[1] and last < tonumber(ARGV[2])) then
  redis.call('SET', KEYS[1], ARGV[3])
  epoch = ARGV[3]
end
return {epoch, last}
";

/// KEYS: clients by name, client ids by token hash, client id counter.
/// ARGV: name, token hash, created at. Returns the new id, or 0 when the name is taken.
pub(super) const ADD_CLIENT: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local id = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], ARGV[1], id .. '\t' .. ARGV[2] .. '\t' .. ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], id)
return id
";

/// KEYS: clients by name, client ids by token hash. ARGV: name. Returns 1 when removed.
pub(super) const REMOVE_CLIENT: &str = r"
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then return 0 end
local hash = string.match(record, '^[^\t]*\t([^\t]*)\t')
redis.call('HDEL', KEYS[1], ARGV[1])
if hash then redis.call('HDEL', KEYS[2], hash) end
return 1
";
