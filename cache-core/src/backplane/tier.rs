//! The shared tier's Redis side (feature `redis-tier`): values, generations and fetch leases,
//! each read and write one script, so that a value is read or written only under the
//! generations current at that instant in Redis's order.
//!
//! Keys (`<c>` is the cache's name preceded by its length, `<g>` and `<k>` the key's parts in
//! the wire encoding, in hex):
//!
//! - `<prefix>:tier:<c>:v:<g>:<k>`: the value, `tag \n window \n payload`, expiring a stale
//!   `window` (ms) after its lifetime;
//! - `<prefix>:tier:<c>:l:<g>:<k>`: the key's fetch lease, the holder's instance;
//! - `<prefix>:tier:<c>:life`: the longest lifetime written for the cache, kept as long;
//! - `<prefix>:gen:<c>`, `<prefix>:gen:<c>:g:<g>`, `<prefix>:gen:<c>:k:<g>:<k>`: the
//!   generations of the cache, of a group and of a key;
//! - for the members of a scope (`<s>`, its path preceded by its length):
//!   `<prefix>:tier:scope:<s>:life`, the longest lifetime written by any member, and
//!   `<prefix>:gen:scope:<s>`, `<prefix>:gen:scope:<s>:g:<g>`, the generations of the whole
//!   scope and of one of its groups.
//!
//! A generation is the id of the log entry of the last invalidation that covered it, set by
//! the script that appends that entry (`log.rs`): ids never repeat, so a generation that
//! expired and was set again never matches an old tag. The tag of a value is its three
//! generations (five in a scope) as they were when its fetch began. Every key a value's tag names lives at least
//! as long as the value: a write extends the generations to its lifetime, and an invalidation
//! sets a generation for at least the longest lifetime written (`life`), so no value outlives
//! the generation it was checked against. Without `life` (nothing written for the longest
//! lifetime), there is nothing to invalidate and nothing is set.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{Script, Value};
use tokio::sync::Notify;

use super::health::storing_allowed;
use super::publish::OUTBOX;
use super::task::Shared;
use super::tier_keys::value_keys;
use crate::seam::{self, Life, ReadFuture, TierKey, TierRead, TierStore, WriteFuture};

/// The tier, set by `install`.
pub(super) struct RedisTier {
    shared: Arc<Shared>,
    prefix: String,
    connection: tokio::sync::Mutex<Option<ConnectionManager>>,
}

static TIER: OnceLock<RedisTier> = OnceLock::new();

/// Makes the tier available to the caches built with one.
pub(super) fn install(shared: Arc<Shared>, prefix: String) {
    let tier = TIER.get_or_init(|| RedisTier {
        shared,
        prefix,
        connection: tokio::sync::Mutex::new(None),
    });
    seam::set_tier(tier);
}

/// The current tag, in Lua: the three generations (and a scope's two, `KEYS[8]` and `KEYS[9]`),
/// `|`-separated.
const TAG: &str = "local tag = (redis.call('GET', KEYS[4]) or '') .. '|' .. (redis.call('GET', KEYS[5]) or '') .. '|' .. (redis.call('GET', KEYS[6]) or '')\nif #KEYS >= 9 then tag = tag .. '|' .. (redis.call('GET', KEYS[8]) or '') .. '|' .. (redis.call('GET', KEYS[9]) or '') end\n";

/// Reads a value. KEYS: `value_keys`; ARGV: instance, lease ms. A record is `tag \n window
/// \n payload`, `window` the ms it is kept past its lifetime to be served stale. Returns `{1,
/// payload, ms left of its lifetime, tag}` for a live value under the current generations;
/// else, after trying to take the lease, `{2, payload, ms since its lifetime ran out, tag,
/// leased}` for an expired one under them (inside its window: it is still there), or `{0,
/// tag, leased}`.
fn read_script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        Script::new(&format!(
            "{TAG}{}",
            r"
local v = redis.call('GET', KEYS[1])
local stale = nil
if v then
  local nl = string.find(v, '\n', 1, true)
  local nl2 = nl and string.find(v, '\n', nl + 1, true)
  local window = nl2 and tonumber(string.sub(v, nl + 1, nl2 - 1))
  if window and string.sub(v, 1, nl - 1) == tag then
    local left = redis.call('PTTL', KEYS[1]) - window
    if left > 0 then
      return {1, string.sub(v, nl2 + 1), left, tag}
    end
    if left > -window then stale = {string.sub(v, nl2 + 1), -left} end
  end
end
local leased = redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2])
if stale then return {2, stale[1], stale[2], tag, leased and 1 or 0} end
return {0, tag, leased and 1 or 0}
"
        ))
    })
}

/// Writes a value if its tag is current, and gives the lease back; either, announced on the
/// tier's channel (the value's key), wakes the replicas waiting for it. KEYS: `value_keys`;
/// ARGV: tag, payload, lifetime ms, instance, channel, stale window ms. The value is kept for
/// its lifetime and the window, and so are the generations its tag names. Returns 1 if
/// written.
fn write_script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        Script::new(&format!(
            "{TAG}{}",
            r"
local released = redis.call('GET', KEYS[2]) == ARGV[4]
if released then redis.call('DEL', KEYS[2]) end
if tag ~= ARGV[1] then
  if released then redis.call('PUBLISH', ARGV[5], KEYS[1]) end
  return 0
end
local window = tonumber(ARGV[6])
local px = tonumber(ARGV[3]) + window
redis.call('SET', KEYS[1], ARGV[1] .. '\n' .. window .. '\n' .. ARGV[2], 'PX', px)
local gens = {4, 5, 6}
local lives = {3}
if #KEYS >= 9 then gens[4] = 8; gens[5] = 9; lives[2] = 7 end
for _, i in ipairs(gens) do
  local left = redis.call('PTTL', KEYS[i])
  if left >= 0 and left < px then redis.call('PEXPIRE', KEYS[i], px) end
end
for _, i in ipairs(lives) do
  local life = tonumber(redis.call('GET', KEYS[i]) or '0')
  local left = redis.call('PTTL', KEYS[i])
  if life < px or left < px then
    if life < px then life = px end
    if left < px then left = px end
    redis.call('SET', KEYS[i], life, 'PX', left)
  end
end
redis.call('PUBLISH', ARGV[5], KEYS[1])
return 1
"
        ))
    })
}

/// Gives a lease back if it is ours, and says so on the tier's channel (the value's key), so
/// that a waiting replica takes it at once. KEYS: lease, value; ARGV: instance, channel.
fn release_script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        Script::new(
            r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], KEYS[2])
  return 1
end
return 0
",
        )
    })
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

impl RedisTier {
    fn instance(&self) -> u64 {
        self.shared.instance
    }

    /// The tier's connection, made on first use (it reconnects by itself).
    async fn connection(&self) -> Option<ConnectionManager> {
        let mut slot = self.connection.lock().await;
        if slot.is_none() {
            *slot = self.shared.manager().await.ok();
        }
        slot.clone()
    }
}

fn bytes(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        _ => None,
    }
}

fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) => Some(*i),
        _ => None,
    }
}

/// The read script's reply.
fn parse_read(reply: &Value) -> Option<TierRead> {
    let Value::Array(items) = reply else {
        return None;
    };
    match (int(items.first()?)?, items.len()) {
        (1, 4) => Some(TierRead::Hit {
            payload: bytes(&items[1])?,
            remaining: Duration::from_millis(u64::try_from(int(&items[2])?).ok()?),
            tag: bytes(&items[3])?,
        }),
        (2, 5) => Some(TierRead::Stale {
            payload: bytes(&items[1])?,
            expired: Duration::from_millis(u64::try_from(int(&items[2])?).ok()?),
            tag: bytes(&items[3])?,
            leased: int(&items[4])? == 1,
        }),
        (0, 3) => Some(TierRead::Miss {
            tag: bytes(&items[1])?,
            leased: int(&items[2])? == 1,
        }),
        _ => None,
    }
}

impl TierStore for RedisTier {
    fn read(&self, at: TierKey<'_>, lease: Duration) -> ReadFuture {
        let keys = value_keys(&self.prefix, at);
        let instance = self.instance();
        let tier = TIER.get();
        Box::pin(async move {
            let Some(tier) = tier else {
                return TierRead::Unavailable;
            };
            let Some(mut conn) = tier.connection().await else {
                return TierRead::Unavailable;
            };
            let mut call = read_script().prepare_invoke();
            for key in &keys {
                call.key(key);
            }
            call.arg(instance).arg(millis(lease));
            match call.invoke_async::<Value>(&mut conn).await {
                Ok(reply) => parse_read(&reply).unwrap_or(TierRead::Unavailable),
                Err(_) => TierRead::Unavailable,
            }
        })
    }

    fn write(&self, at: TierKey<'_>, tag: Vec<u8>, payload: Vec<u8>, life: Life) -> WriteFuture {
        let keys = value_keys(&self.prefix, at);
        let instance = self.instance();
        let tier = TIER.get();
        Box::pin(async move {
            let tier = tier?;
            let mut conn = tier.connection().await?;
            let mut call = write_script().prepare_invoke();
            for key in &keys {
                call.key(key);
            }
            call.arg(tag)
                .arg(payload)
                .arg(millis(life.fresh))
                .arg(instance)
                .arg(&tier.shared.tier_channel)
                .arg(u64::try_from(life.window.as_millis()).unwrap_or(u64::MAX));
            call.invoke_async::<i64>(&mut conn)
                .await
                .ok()
                .map(|n| n == 1)
        })
    }

    fn release(&self, at: TierKey<'_>) {
        let mut keys = value_keys(&self.prefix, at);
        keys.truncate(2);
        let instance = self.instance();
        let Some(tier) = TIER.get() else { return };
        crate::cache::tier::spawn(async move {
            if let Some(mut conn) = tier.connection().await {
                let mut call = release_script().prepare_invoke();
                call.key(&keys[1])
                    .key(&keys[0])
                    .arg(instance)
                    .arg(&tier.shared.tier_channel);
                let _ =
                    tokio::time::timeout(tier.shared.timeout, call.invoke_async::<i64>(&mut conn))
                        .await;
            }
        });
    }

    fn watch(&self, at: TierKey<'_>) -> Arc<Notify> {
        super::tier_waiters::watch(value_keys(&self.prefix, at).swap_remove(0))
    }

    fn usable(&self) -> bool {
        storing_allowed()
            && super::health::health() == super::Health::Healthy
            && OUTBOX
                .get()
                .is_some_and(|o| o.queued.load(std::sync::atomic::Ordering::SeqCst) == 0)
    }
}
