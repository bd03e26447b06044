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
    let generation = match kind {
        Kind::Group => format!("{prefix}:gen:{c}:g:{}", hex(group)),
        Kind::Key => format!("{prefix}:gen:{c}:k:{}:{}", hex(group), hex(key)),
        Kind::Clear => format!("{prefix}:gen:{c}"),
        // Scopes group `#[ttl_cached]` functions, which have no tier.
        Kind::Scope => return None,
    };
    Some([format!("{prefix}:tier:{c}:life"), generation])
}

/// The keys of one value: value, lease, life, then the three generations.
pub(super) fn value_keys(prefix: &str, at: TierKey<'_>) -> [String; 6] {
    let c = cache(at.cache);
    let (g, k) = (hex(at.group), hex(at.key));
    [
        format!("{prefix}:tier:{c}:v:{g}:{k}"),
        format!("{prefix}:tier:{c}:l:{g}:{k}"),
        format!("{prefix}:tier:{c}:life"),
        format!("{prefix}:gen:{c}"),
        format!("{prefix}:gen:{c}:g:{g}"),
        format!("{prefix}:gen:{c}:k:{g}:{k}"),
    ]
}
