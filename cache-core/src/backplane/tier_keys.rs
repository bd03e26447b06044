//! The names of the shared tier's keys in Redis (feature `redis-tier`; see `tier.rs`): for the
//! tier's scripts, and for the publisher, whose append script bumps a generation.

use std::fmt::Write as _;

use super::message::Kind;
use crate::seam::TierKey;

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `<len>:<name>`: a cache's name, unambiguous whatever it contains.
fn cache(name: &str) -> String {
    format!("{}:{name}", name.len())
}

/// The key of the life of `target`'s values, and of the generation an invalidation of `kind`
/// bumps: for the publisher, which passes them to the append script.
pub(super) fn generation_keys(
    prefix: &str,
    kind: Kind,
    target: &str,
    group: &[u8],
    key: &[u8],
) -> Option<[String; 2]> {
    let c = cache(target);
    Some(match kind {
        Kind::Group => [
            format!("{prefix}:tier:{c}:life"),
            format!("{prefix}:gen:{c}:g:{}", hex(group)),
        ],
        Kind::Key => [
            format!("{prefix}:tier:{c}:life"),
            format!("{prefix}:gen:{c}:k:{}:{}", hex(group), hex(key)),
        ],
        Kind::Clear => [
            format!("{prefix}:tier:{c}:life"),
            format!("{prefix}:gen:{c}"),
        ],
        // `target` is the scope's path: one generation per group of the scope, and one for the
        // whole scope, bumped by the message that clears every member (`[0xff]`, which no
        // group encodes to: `publish.rs`), each kept as long as the longest lifetime written
        // by any member.
        Kind::Scope if group == [0xff] => [
            format!("{prefix}:tier:scope:{c}:life"),
            format!("{prefix}:gen:scope:{c}"),
        ],
        Kind::Scope => [
            format!("{prefix}:tier:scope:{c}:life"),
            format!("{prefix}:gen:scope:{c}:g:{}", hex(group)),
        ],
    })
}

/// The keys of one value: value, lease, life, then the three generations; for a member of a
/// scope, then the scope's life and its two generations, the whole scope's and the group's. (A cache's name is
/// preceded by its length and a scope's by `scope:`, so neither can name the other's keys.)
pub(super) fn value_keys(prefix: &str, at: TierKey<'_>) -> Vec<String> {
    let c = cache(at.cache);
    let (g, k) = (hex(at.group), hex(at.key));
    let mut keys = vec![
        format!("{prefix}:tier:{c}:v:{g}:{k}"),
        format!("{prefix}:tier:{c}:l:{g}:{k}"),
        format!("{prefix}:tier:{c}:life"),
        format!("{prefix}:gen:{c}"),
        format!("{prefix}:gen:{c}:g:{g}"),
        format!("{prefix}:gen:{c}:k:{g}:{k}"),
    ];
    if let Some(scope) = at.scope {
        let s = cache(scope);
        keys.push(format!("{prefix}:tier:scope:{s}:life"));
        keys.push(format!("{prefix}:gen:scope:{s}"));
        keys.push(format!("{prefix}:gen:scope:{s}:g:{g}"));
    }
    keys
}
