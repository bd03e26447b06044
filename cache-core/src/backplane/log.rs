//! The invalidation log: a Redis Stream beside the channel, and how a replica tells whether it
//! can replay what it missed.
//!
//! Every message is appended to the stream `<prefix>:log` (trimmed to about `log_length`
//! entries, `XADD MAXLEN ~`) and published on the channel by one script, so both hold the same
//! messages in the same order, the channel's framed with the entry's id (`message.rs`). A
//! replica remembers the log's epoch and the last id it applied. When it subscribes again, it
//! asks (in one script) for the epoch, the stream's last id, whether the entry it applied last
//! is still there, and the largest id deleted by `XDEL` (`max-deleted-entry-id`, Redis 7.0),
//! and replays from where it stopped when the log covers the gap; otherwise it clears every
//! attached cache. Trimming removes the oldest entries only, so while the last entry applied is
//! in the log, every later one is too (unless deleted by hand, which the largest deleted id
//! shows). The gap is uncovered, for certain, when:
//!
//! - the epoch differs: `<prefix>:epoch` holds a random value set once (`SET NX`) by whoever
//!   first finds it missing, so a Redis that restarted without its data, or was flushed, has a
//!   new one;
//! - the last entry applied was trimmed (or, for a replica that found the log empty when it
//!   first subscribed, any entry was: `entries-added` exceeds the length), or an entry after it
//!   deleted;
//! - the log went back (its last id is before ours: restored from an older snapshot); the
//!   replica also sets a new epoch, so that every other replica clears too;
//! - the server does not say what it trimmed (before Redis 7.0);
//! - this is the replica's first subscription (it cannot know what it missed before).

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::OnceLock;

use redis::{Script, Value};

/// Entries per `XRANGE` of a replay.
pub(super) const REPLAY_BATCH: usize = 512;

/// A stream entry's id: milliseconds and sequence, ordered as the server orders them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct LogId(u64, u64);

impl FromStr for LogId {
    type Err = ();
    fn from_str(text: &str) -> Result<Self, ()> {
        let (ms, seq) = text.split_once('-').ok_or(())?;
        Ok(Self(ms.parse().map_err(drop)?, seq.parse().map_err(drop)?))
    }
}

impl fmt::Display for LogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

/// What this replica applied: the log's epoch (none before its first subscription) and the
/// last entry.
#[derive(Debug, Default)]
pub(super) struct Position {
    pub(super) epoch: Option<Vec<u8>>,
    pub(super) applied: LogId,
}

/// The log as the server describes it when a replica subscribes.
#[derive(Debug)]
pub(super) struct State {
    pub(super) epoch: Vec<u8>,
    pub(super) last: LogId,
    /// The largest id deleted, if the server says (Redis 7.0 and later).
    pub(super) deleted: Option<LogId>,
    /// Whether the entry the replica applied last is still in the log (for one that found it
    /// empty, whether no entry was ever trimmed).
    pub(super) ours_kept: bool,
}

/// Why the log cannot cover a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gap {
    FirstSubscription,
    NewEpoch,
    WentBack,
    Trimmed,
    Untraceable,
}

impl Position {
    /// `None` when the log holds every entry after the last one applied.
    pub(super) fn gap(&self, state: &State) -> Option<Gap> {
        let Some(epoch) = &self.epoch else {
            return Some(Gap::FirstSubscription);
        };
        if *epoch != state.epoch {
            return Some(Gap::NewEpoch);
        }
        if state.last < self.applied {
            return Some(Gap::WentBack);
        }
        match state.deleted {
            None => Some(Gap::Untraceable),
            Some(deleted) if deleted > self.applied || !state.ours_kept => Some(Gap::Trimmed),
            Some(_) => None,
        }
    }
}

impl State {
    /// The connect script's reply: `[epoch, last id, largest deleted id or "", "1" if ours is
    /// kept]`.
    pub(super) fn parse(reply: &Value) -> Result<Self, String> {
        let bad = || format!("unexpected reply to the log's state: {reply:?}");
        let Value::Array(items) = reply else {
            return Err(bad());
        };
        let [epoch, last, deleted, kept] = items.as_slice() else {
            return Err(bad());
        };
        let epoch = bytes(epoch).ok_or_else(bad)?.to_vec();
        let last = id(last).ok_or_else(bad)?;
        let deleted = match bytes(deleted).ok_or_else(bad)? {
            b"" => None,
            _ => Some(id(deleted).ok_or_else(bad)?),
        };
        Ok(Self {
            epoch,
            last,
            deleted,
            ours_kept: bytes(kept).ok_or_else(bad)? == b"1",
        })
    }
}

fn bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.as_bytes()),
        _ => None,
    }
}

fn id(value: &Value) -> Option<LogId> {
    std::str::from_utf8(bytes(value)?).ok()?.parse().ok()
}

/// An `XRANGE` reply: each entry's id and its message (field `m`).
pub(super) fn entries(reply: &Value) -> Result<Vec<(LogId, Vec<u8>)>, String> {
    let bad = || "unexpected XRANGE reply".to_owned();
    let Value::Array(entries) = reply else {
        return Err(bad());
    };
    entries
        .iter()
        .map(|entry| {
            let Value::Array(parts) = entry else {
                return Err(bad());
            };
            let [entry_id, Value::Array(fields)] = parts.as_slice() else {
                return Err(bad());
            };
            let entry_id = id(entry_id).ok_or_else(bad)?;
            let message = fields
                .chunks(2)
                .find(|pair| pair.first().and_then(bytes) == Some(b"m"))
                .and_then(|pair| pair.get(1).and_then(bytes))
                .ok_or_else(bad)?;
            Ok((entry_id, message.to_vec()))
        })
        .collect()
}

/// A new random epoch, should the log have none.
pub(super) fn fresh_epoch() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// Appends a message and publishes it, framed with its id; for a cache with a shared tier,
/// sets the generation the message bumps to the entry's id (`tier.rs`). KEYS: epoch, log, and
/// optionally the cache's tier life and the generation; ARGV: message, log length, a fresh
/// epoch (set if none), channel.
pub(super) fn append_script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        Script::new(
            r"
redis.call('SET', KEYS[1], ARGV[3], 'NX')
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[1])
if KEYS[4] then
  local life = redis.call('GET', KEYS[3])
  if life then
    local px = tonumber(life)
    local left = redis.call('PTTL', KEYS[4])
    if left > px then px = left end
    redis.call('SET', KEYS[4], id, 'PX', px)
  end
end
redis.call('PUBLISH', ARGV[4], string.char(242, #id) .. id .. ARGV[1])
return id
",
        )
    })
}

/// The log's state for a replica that subscribes. KEYS: epoch, log; ARGV: a fresh epoch (set
/// if none), the last id the replica applied (`0-0` if none).
pub(super) fn connect_script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        Script::new(
            r"
redis.call('SET', KEYS[1], ARGV[1], 'NX')
local epoch = redis.call('GET', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 0 then return {epoch, '0-0', '0-0', '1'} end
local info = redis.call('XINFO', 'STREAM', KEYS[2])
local last, deleted, added, length = '0-0', nil, nil, nil
for i = 1, #info, 2 do
  local field = info[i]
  if field == 'last-generated-id' then last = info[i + 1]
  elseif field == 'max-deleted-entry-id' then deleted = info[i + 1]
  elseif field == 'entries-added' then added = info[i + 1]
  elseif field == 'length' then length = info[i + 1] end
end
if deleted == nil or added == nil then return {epoch, last, '', '0'} end
local kept
if ARGV[2] == '0-0' then
  kept = added == length
else
  kept = #redis.call('XRANGE', KEYS[2], ARGV[2], ARGV[2]) == 1
end
return {epoch, last, deleted, kept and '1' or '0'}
",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(epoch: &[u8], last: &str, deleted: Option<&str>) -> State {
        State {
            epoch: epoch.to_vec(),
            last: last.parse().unwrap(),
            deleted: deleted.map(|t| t.parse().unwrap()),
            ours_kept: true,
        }
    }

    #[test]
    fn ids_order_as_the_server_orders_them() {
        let a: LogId = "1700000000000-9".parse().unwrap();
        let b: LogId = "1700000000000-10".parse().unwrap();
        let c: LogId = "1700000000001-0".parse().unwrap();
        assert!(a < b && b < c);
        assert_eq!(b.to_string(), "1700000000000-10");
        assert!("17-".parse::<LogId>().is_err() && "x".parse::<LogId>().is_err());
    }

    /// Every way the log can fail to cover a gap is told apart from the one way it covers it.
    #[test]
    fn a_gap_is_covered_only_when_nothing_after_ours_was_lost() {
        let fresh = Position::default();
        assert_eq!(
            fresh.gap(&state(b"e", "5-0", Some("0-0"))),
            Some(Gap::FirstSubscription)
        );
        let ours = Position {
            epoch: Some(b"e".to_vec()),
            applied: "5-0".parse().unwrap(),
        };
        assert_eq!(ours.gap(&state(b"e", "9-0", Some("4-0"))), None);
        assert_eq!(
            ours.gap(&state(b"e", "9-0", Some("5-0"))),
            None,
            "only ours deleted"
        );
        let trimmed = State {
            ours_kept: false,
            ..state(b"e", "9-0", Some("0-0"))
        };
        assert_eq!(ours.gap(&trimmed), Some(Gap::Trimmed));
        assert_eq!(
            ours.gap(&state(b"e", "5-0", Some("0-0"))),
            None,
            "nothing new"
        );
        assert_eq!(
            ours.gap(&state(b"e", "9-0", Some("5-1"))),
            Some(Gap::Trimmed)
        );
        assert_eq!(
            ours.gap(&state(b"f", "9-0", Some("0-0"))),
            Some(Gap::NewEpoch)
        );
        assert_eq!(
            ours.gap(&state(b"e", "4-9", Some("0-0"))),
            Some(Gap::WentBack)
        );
        assert_eq!(ours.gap(&state(b"e", "9-0", None)), Some(Gap::Untraceable));
    }

    #[test]
    fn replies_parse() {
        let reply = Value::Array(vec![
            Value::BulkString(b"abc".to_vec()),
            Value::BulkString(b"7-1".to_vec()),
            Value::BulkString(b"".to_vec()),
            Value::BulkString(b"1".to_vec()),
        ]);
        let parsed = State::parse(&reply).unwrap();
        assert_eq!(
            (
                parsed.epoch.as_slice(),
                parsed.last,
                parsed.deleted,
                parsed.ours_kept
            ),
            (&b"abc"[..], LogId(7, 1), None, true)
        );
        assert!(State::parse(&Value::Nil).is_err());
        let range = Value::Array(vec![Value::Array(vec![
            Value::BulkString(b"7-2".to_vec()),
            Value::Array(vec![
                Value::BulkString(b"m".to_vec()),
                Value::BulkString(vec![1, 2]),
            ]),
        ])]);
        assert_eq!(entries(&range).unwrap(), vec![(LogId(7, 2), vec![1, 2])]);
        assert!(entries(&Value::Array(vec![Value::Nil])).is_err());
    }
}
