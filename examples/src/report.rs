//! The report: the two phases side by side, then the checks.
//!
//! A demo that only printed the cache's own counters would be asking to be trusted. So the
//! figures come from three independent places — what the users saw (timed per request), what
//! the upstream saw (counted by the fake API), and what the cache says (`stats()`) — and the
//! correctness claims are recomputed from every request's timestamps: a stale listing or a
//! cached error would show up here even if the cache's counters said otherwise.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use cache_core::CacheStats;

use crate::providers::ErrorKind;
use crate::workload::{Config, Outcome, PhaseResult, Sample};

/// Listings served after a user's rotation completed that were fetched with an older credential.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RotationCheck {
    pub(crate) users: usize,
    pub(crate) evicted: usize,
    /// Listings served to rotated users from requests that started after their rotation.
    pub(crate) checked: usize,
    pub(crate) stale: usize,
}

/// Whether a failed upstream call was ever served again instead of retried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ErrorCheck {
    pub(crate) errors: usize,
    /// Errors that reached a request which started after the failed call had already answered
    /// its own caller: only a stored error can do that.
    pub(crate) served_from_cache: usize,
    /// Failed upstream calls followed by another request for the same key...
    pub(crate) followed_up: usize,
    /// ...whose answer came from an upstream call made after the failure.
    pub(crate) retried_upstream: usize,
}

/// One phase, reduced to what the report shows.
#[derive(Debug, Clone)]
pub(crate) struct PhaseSummary {
    pub(crate) requests: usize,
    pub(crate) listings: usize,
    pub(crate) errors: HashMap<ErrorKind, usize>,
    pub(crate) mean: Duration,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) wall: Duration,
    pub(crate) upstream: crate::api::ApiTotals,
    pub(crate) cache: CacheStats,
    pub(crate) rotation: RotationCheck,
    pub(crate) rotation_failures: Vec<String>,
    pub(crate) error_check: ErrorCheck,
    pub(crate) wrong_owner: usize,
}

impl PhaseSummary {
    pub(crate) fn new(phase: &PhaseResult) -> Self {
        let samples = &phase.samples;
        let mut errors = HashMap::new();
        let mut wrong_owner = 0;
        for sample in samples {
            match sample.outcome {
                Outcome::Error(kind) => *errors.entry(kind).or_insert(0) += 1,
                Outcome::Listing { right_owner, .. } => wrong_owner += usize::from(!right_owner),
            }
        }
        let mut latencies: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
        latencies.sort_unstable();
        let [drive, dropbox] = phase.cache;
        Self {
            requests: samples.len(),
            listings: samples.len() - errors.values().sum::<usize>(),
            errors,
            mean: latencies.iter().sum::<Duration>() / latencies.len().max(1) as u32,
            p50: percentile(&latencies, 0.50),
            p99: percentile(&latencies, 0.99),
            wall: phase.wall,
            upstream: phase.api,
            cache: drive + dropbox,
            rotation: rotation_check(phase),
            rotation_failures: phase.rotation_failures.clone(),
            error_check: error_check(samples),
            wrong_owner,
        }
    }

    fn errors(&self, kind: ErrorKind) -> usize {
        self.errors.get(&kind).copied().unwrap_or(0)
    }

    /// Whether every claim the report makes about this phase holds.
    pub(crate) fn checks_pass(&self) -> bool {
        self.rotation.stale == 0
            && self.rotation_failures.is_empty()
            && self.error_check.served_from_cache == 0
            && self.error_check.retried_upstream == self.error_check.followed_up
            && self.wrong_owner == 0
    }
}

pub(crate) fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank: the smallest value with at least q of the samples at or below it.
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn rotation_check(phase: &PhaseResult) -> RotationCheck {
    let mut check = RotationCheck {
        users: phase.rotations.len(),
        evicted: phase.rotations.iter().map(|r| r.evicted).sum(),
        ..RotationCheck::default()
    };
    let by_user: HashMap<usize, _> = phase.rotations.iter().map(|r| (r.user, r)).collect();
    for sample in &phase.samples {
        let (
            Some(rotation),
            Outcome::Listing {
                credential_generation,
                ..
            },
        ) = (by_user.get(&sample.user), &sample.outcome)
        else {
            continue;
        };
        if sample.start >= rotation.completed {
            check.checked += 1;
            if *credential_generation < rotation.generation {
                check.stale += 1;
            }
        }
    }
    check
}

type Key = (usize, usize, usize);

fn key(sample: &Sample) -> Key {
    (sample.user, sample.provider, sample.folder)
}

fn error_check(samples: &[Sample]) -> ErrorCheck {
    let mut by_key: HashMap<Key, Vec<&Sample>> = HashMap::new();
    for sample in samples {
        by_key.entry(key(sample)).or_default().push(sample);
    }
    for requests in by_key.values_mut() {
        requests.sort_by_key(|s| s.start);
    }

    // A failed upstream call is known by its key and the instant it began. Its answer was
    // delivered when the request that made it (one that started before the call began)
    // returned; after that, the call is over and only a stored error could still be served.
    let mut delivered: HashMap<(Key, Instant), Instant> = HashMap::new();
    for s in samples
        .iter()
        .filter(|s| is_error(s) && s.start <= s.fetched_at)
    {
        let at = delivered.entry((key(s), s.fetched_at)).or_insert(s.end());
        *at = (*at).max(s.end());
    }
    let mut check = ErrorCheck::default();
    for s in samples.iter().filter(|s| is_error(s)) {
        check.errors += 1;
        match delivered.get(&(key(s), s.fetched_at)) {
            Some(&at) if s.start <= at => {}
            _ => check.served_from_cache += 1,
        }
    }
    for (&(key, _), &at) in &delivered {
        if let Some(next) = by_key[&key].iter().find(|s| s.start > at) {
            check.followed_up += 1;
            check.retried_upstream += usize::from(next.fetched_at > at);
        }
    }
    check
}

fn is_error(sample: &Sample) -> bool {
    matches!(sample.outcome, Outcome::Error(_))
}

/// Both phases, printed side by side.
#[derive(Debug)]
pub(crate) struct Report<'a> {
    pub(crate) config: &'a Config,
    pub(crate) off: PhaseSummary,
    pub(crate) on: PhaseSummary,
}

impl Report<'_> {
    pub(crate) fn checks_pass(&self) -> bool {
        self.off.checks_pass() && self.on.checks_pass()
    }
}

/// `12,345`
fn n(value: impl Into<u64>) -> String {
    let digits = value.into().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn count(value: usize) -> String {
    n(value as u64)
}

pub(crate) fn time(d: Duration) -> String {
    if d < Duration::from_micros(10) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else if d < Duration::from_millis(1) {
        format!("{} µs", d.as_micros())
    } else if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

pub(crate) fn mark(ok: bool) -> &'static str {
    if ok {
        "[ok]"
    } else {
        "[FAIL]"
    }
}

/// One line of the side-by-side table.
fn row(f: &mut fmt::Formatter<'_>, label: &str, off: &str, on: &str, note: &str) -> fmt::Result {
    let line = format!("  {label:<56} {off:>10} {on:>10}   {note}");
    writeln!(f, "{}", line.trim_end())
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (c, off, on) = (self.config, &self.off, &self.on);
        let api = &c.api;
        writeln!(
            f,
            "folder-browser: {} users x {} folder listings each, {} credential rotations halfway, seed {}",
            c.users, c.requests_per_user, c.rotate, c.seed
        )?;
        writeln!(
            f,
            "fake API on 127.0.0.1: {}-{} ms per call, rate limit {}/s per user and provider \
             (burst {}), {:.1}% of calls hang past the {} client timeout",
            api.latency.0.as_millis(),
            api.latency.1.as_millis(),
            api.rate_per_sec,
            api.burst,
            api.stall_chance * 100.0,
            time(c.client_timeout),
        )?;
        writeln!(f)?;
        row(f, "", "cache OFF", "cache ON", "")?;
        writeln!(f, "what the users saw")?;
        row(
            f,
            "folder listings requested",
            &count(off.requests),
            &count(on.requests),
            "",
        )?;
        row(
            f,
            "listings shown",
            &count(off.listings),
            &count(on.listings),
            "",
        )?;
        let errors = |s: &PhaseSummary| count(s.requests - s.listings);
        row(f, "errors shown", &errors(off), &errors(on), "")?;
        for kind in ErrorKind::ALL {
            let (a, b) = (off.errors(kind), on.errors(kind));
            if a + b > 0 || matches!(kind, ErrorKind::RateLimited | ErrorKind::Unauthorized) {
                row(f, &format!("  {}", kind.label()), &count(a), &count(b), "")?;
            }
        }
        row(f, "latency mean", &time(off.mean), &time(on.mean), "")?;
        row(f, "latency p50", &time(off.p50), &time(on.p50), "")?;
        row(f, "latency p99", &time(off.p99), &time(on.p99), "")?;
        let speedup = off.wall.as_secs_f64() / on.wall.as_secs_f64().max(1e-9);
        row(
            f,
            "wall time",
            &time(off.wall),
            &time(on.wall),
            &format!("{speedup:.1}x faster"),
        )?;

        writeln!(f, "what the upstream saw (counted by the fake API)")?;
        let (uo, un) = (off.upstream, on.upstream);
        let fewer = 100.0 - percent(un.requests, uo.requests);
        row(
            f,
            "listing calls",
            &n(uo.requests),
            &n(un.requests),
            &format!("{fewer:.0}% fewer"),
        )?;
        row(f, "  answered 200", &n(uo.ok), &n(un.ok), "")?;
        let avoided = n(uo.rate_limited.saturating_sub(un.rate_limited));
        row(
            f,
            "  answered 429 rate limited",
            &n(uo.rate_limited),
            &n(un.rate_limited),
            &format!("{avoided} avoided"),
        )?;
        row(
            f,
            "  answered 401 unauthorized",
            &n(uo.unauthorized),
            &n(un.unauthorized),
            "",
        )?;
        row(
            f,
            "  answered 404 not found",
            &n(uo.not_found),
            &n(un.not_found),
            "",
        )?;
        row(
            f,
            "  hung past the client timeout",
            &n(uo.stalled),
            &n(un.stalled),
            "",
        )?;
        writeln!(f)?;

        let s = on.cache;
        writeln!(
            f,
            "the cache (list_folders_cache().stats() of GoogleDrive + Dropbox, cache ON)"
        )?;
        writeln!(
            f,
            "  hit rate {:.1}%: {} hits, {} misses (one upstream call each), {} coalesced onto a call in flight",
            s.hit_ratio() * 100.0,
            n(s.hits),
            n(s.misses),
            n(s.coalesced),
        )?;
        writeln!(
            f,
            "  {} listings stored, {} invalidated on rotation, {} expired, {} evicted for capacity",
            n(s.inserts),
            n(s.invalidated),
            n(s.evicted_expired),
            n(s.evicted_capacity),
        )?;
        writeln!(f)?;

        writeln!(
            f,
            "checks (recomputed from every request's timestamps, not from the cache's counters)"
        )?;
        let both = |ok: fn(&PhaseSummary) -> bool| mark(ok(off) && ok(on));
        let rotation_ok =
            |p: &PhaseSummary| p.rotation.stale == 0 && p.rotation_failures.is_empty();
        row(
            f,
            &format!(
                "{} credential rotation: users rotated halfway",
                both(rotation_ok)
            ),
            &count(off.rotation.users),
            &count(on.rotation.users),
            "",
        )?;
        row(
            f,
            "         entries evicted by User::invalidate",
            &count(off.rotation.evicted),
            &count(on.rotation.evicted),
            "",
        )?;
        row(
            f,
            "         listings served to them after it completed",
            &count(off.rotation.checked),
            &count(on.rotation.checked),
            "",
        )?;
        row(
            f,
            "         ...fetched under old credentials",
            &count(off.rotation.stale),
            &count(on.rotation.stale),
            "",
        )?;
        for failure in off.rotation_failures.iter().chain(&on.rotation_failures) {
            writeln!(f, "         rotation failed: {failure}")?;
        }
        let errors_ok = |p: &PhaseSummary| {
            let e = p.error_check;
            e.served_from_cache == 0 && e.retried_upstream == e.followed_up
        };
        let (eo, en) = (off.error_check, on.error_check);
        row(
            f,
            &format!("{} errors are not cached: errors shown", both(errors_ok)),
            &count(eo.errors),
            &count(en.errors),
            "",
        )?;
        row(
            f,
            "         ...served from the cache",
            &count(eo.served_from_cache),
            &count(en.served_from_cache),
            "",
        )?;
        row(
            f,
            "         failed calls whose key was requested again",
            &count(eo.followed_up),
            &count(en.followed_up),
            "",
        )?;
        row(
            f,
            "         ...and that request went upstream again",
            &count(eo.retried_upstream),
            &count(en.retried_upstream),
            "",
        )?;
        row(
            f,
            &format!(
                "{} isolation: listings served to the wrong user",
                both(|p| p.wrong_owner == 0)
            ),
            &count(off.wrong_owner),
            &count(on.wrong_owner),
            "",
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let ms = |v: u64| Duration::from_millis(v);
        let sorted: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&sorted, 0.50), ms(50));
        assert_eq!(percentile(&sorted, 0.99), ms(99));
        assert_eq!(percentile(&sorted[..1], 0.99), ms(1));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn numbers_read_at_a_glance() {
        assert_eq!(n(0u64), "0");
        assert_eq!(n(999u64), "999");
        assert_eq!(n(1_234_567u64), "1,234,567");
        assert_eq!(time(Duration::from_nanos(420)), "0.4 µs");
        assert_eq!(time(Duration::from_micros(250)), "250 µs");
        assert_eq!(time(Duration::from_micros(101_500)), "101.5 ms");
        assert_eq!(time(Duration::from_millis(8_810)), "8.81 s");
    }
}
