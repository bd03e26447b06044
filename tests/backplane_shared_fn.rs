//! The shared tier of `#[ttl_cached]` functions (`shared_tier = ..`), and a function that
//! serves stale, across replica processes: run by `backplane.rs`, with its harness.

use std::time::{Duration, Instant};

use super::{field, poll, read_together, tier_fleet, Redis, Replica, FAST};

/// Three replicas read the same 20 keys of a cached function with `shared_tier`, each in its
/// own order, all at once: 20 upstream calls in all, where the same function without the tier
/// (`folder`) makes one per key per replica; then a new replica reads them all from the tier.
pub(super) fn a_cached_function_shares_across_replicas(redis: &Redis) {
    const KEYS: usize = 20;
    let mut fleet = tier_fleet(redis, &[]);
    for replica in &mut fleet {
        replica.version(1);
    }
    let (shared, answers) = read_together(&mut fleet, "shared", KEYS, 1);
    println!("  shared_tier: {shared} upstream calls for {KEYS} keys; {answers:?}");
    let (alone, _) = read_together(&mut fleet, "folder", KEYS, 2);
    println!("  without: {alone} upstream calls");
    assert_eq!(
        shared, KEYS as u64,
        "one upstream call per key across the fleet"
    );
    assert_eq!(alone, 3 * KEYS as u64, "each replica fetches for itself");
    let hits: u64 = fleet
        .iter_mut()
        .map(|r| field(&r.ask("tier shared"), "hits"))
        .sum();
    let writes: u64 = fleet
        .iter_mut()
        .map(|r| field(&r.ask("tier shared"), "writes"))
        .sum();
    assert_eq!(writes, KEYS as u64, "each value written once");
    assert!(hits > 0, "the other replicas read from the tier");
    let mut d = Replica::start_with("D", redis, FAST, &[]);
    d.version(2);
    let (calls, values) = d.many("shared", KEYS);
    assert_eq!(calls, 0, "a new replica reads every key from the tier");
    assert!(values.iter().all(|v| v.ends_with("@v1")), "{values:?}");
    assert_eq!(field(&d.ask("tier shared"), "hits"), KEYS as u64);
}

/// Each kind of invalidation of a cached function (its group, its key, its cache cleared, and
/// its scope's group), made on B and delivered, bumps the tier's generation it covers: C, which
/// never held the value A wrote, fetches anew.
pub(super) fn every_invalidation_of_a_cached_function_reaches_the_tier(redis: &Redis) {
    let [mut a, mut b, mut c] = tier_fleet(redis, &[]);
    let kinds = [
        ("shared-group", "shared"),
        ("shared-key", "shared"),
        ("shared-clear", "shared"),
        ("scope", "shared-account"),
    ];
    for (round, (invalidation, kind)) in kinds.into_iter().enumerate() {
        let user = format!("y{round}");
        for replica in [&mut a, &mut b, &mut c] {
            replica.version(1);
        }
        let writes = field(&a.ask(&format!("tier {kind}")), "writes");
        assert_eq!(a.get(kind, &user).0, format!("{user}@v1"));
        poll(|| field(&a.ask(&format!("tier {kind}")), "writes") == writes + 1);
        // Written and readable: D, fresh, reads it from the tier without an upstream call.
        let calls = b.stat("calls");
        assert_eq!(b.get(kind, &user), (format!("{user}@v1"), calls));
        for replica in [&mut a, &mut b, &mut c] {
            replica.version(2);
        }
        assert!(b
            .ask(&format!("inv {invalidation} {user}"))
            .starts_with("ok"));
        assert_eq!(
            c.get(kind, &user).0,
            format!("{user}@v2"),
            "C read back a value {invalidation} invalidated"
        );
    }
}

/// A cached function with `stale = ".."` takes part in the backplane: B holds an expired value
/// inside its stale window; A invalidates the user's group; B then fetches anew rather than
/// serving the revoked value stale.
pub(super) fn a_function_that_serves_stale_hears_remote_invalidations(redis: &Redis) {
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    b.version(1);
    assert_eq!(b.get("stale-fn", "revoked").0, "revoked@v1");
    assert_eq!(b.get("stale-fn", "other").0, "other@v1");
    // Past the 60 ms TTL, well inside the hour's window.
    std::thread::sleep(std::time::Duration::from_millis(150));
    b.version(2);
    let applied = b.stat("applied");
    let answer = a.ask("inv stale-fn-group revoked");
    assert!(answer.starts_with("ok"), "{answer}");
    assert_eq!(b.ask(&format!("wait_applied {}", applied + 1)), "ok");
    assert_eq!(
        b.get("stale-fn", "other").0,
        "other@v1",
        "the other user's expired value is served stale: the window is open"
    );
    assert_eq!(
        b.get("stale-fn", "revoked").0,
        "revoked@v2",
        "B served the revoked user's value from before A's invalidation"
    );
}

/// An error that revokes (`revoke_if`) on one replica invalidates the user's group on every
/// replica: B, which holds the user's other key, fetches it anew.
pub(super) fn a_revoking_error_invalidates_the_group_on_every_replica(redis: &Redis) {
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    for replica in [&mut a, &mut b] {
        replica.version(1);
    }
    assert_eq!(b.get("revocable", "u").0, "u@v1");
    assert_eq!(b.get("revocable", "other").0, "other@v1");
    for replica in [&mut a, &mut b] {
        replica.version(2);
    }
    assert_eq!(a.ask("revoked on"), "ok");
    let applied = b.stat("applied");
    assert_eq!(a.get("revocable-2", "u").0, "revoked");
    assert_eq!(b.ask(&format!("wait_applied {}", applied + 1)), "ok");
    assert_eq!(
        b.get("revocable", "other").0,
        "other@v1",
        "another user's value stays"
    );
    assert_eq!(
        b.get("revocable", "u").0,
        "u@v2",
        "B served the user's value after A's upstream revoked the user"
    );
}

/// A replica waiting on another's fetch lease is woken by the write's announcement on the
/// tier's channel, not by its poll (which, after a second's wait, reads every 100 ms): A holds
/// the fetch of a cold key; B misses it and waits; A's fetch is released. B's answer, timed
/// from the release, must come well inside the poll's interval in at least 6 of 7 rounds
/// (by polling alone, each round would have a 40 % chance). The figures are printed.
pub(super) fn a_waiter_is_woken_when_the_value_is_written(redis: &Redis) {
    let [mut a, mut b, _c] = tier_fleet(redis, &[]);
    let mut latencies = Vec::new();
    for round in 1..=7u64 {
        let user = format!("w{round}");
        a.version(round);
        b.version(round);
        assert_eq!(a.ask(&format!("slowget tiered {user}")), "started");
        let calls = b.stat("calls");
        b.send(&format!("get tiered {user}"));
        std::thread::sleep(Duration::from_millis(1200));
        let released = Instant::now();
        assert_eq!(a.ask("release"), format!("val {user}@v{round}"));
        let answer = b.recv("get");
        latencies.push(released.elapsed());
        assert_eq!(
            answer,
            format!("val {user}@v{round} calls {calls}"),
            "B read A's value"
        );
    }
    latencies.sort_unstable();
    println!("  a waiter's answer after the lease holder's release: {latencies:?}");
    let quick = latencies
        .iter()
        .filter(|l| **l < Duration::from_millis(40))
        .count();
    assert!(
        quick >= 6,
        "woken by polling, not by the write: {latencies:?}"
    );
    assert_eq!(field(&b.ask("tier"), "waited"), 7);
}

/// A tier read not answered in time (Redis frozen for 300 ms, three times the timeout): the
/// miss fetches without the tier, and the read, still queued, runs once Redis thaws and takes
/// the key's lease, which nobody will give back by a write. Another replica missing the key
/// must not wait for a fetch nobody runs: the unanswered read's lease is given back.
pub(super) fn an_unanswered_read_leaves_no_lease_behind(redis: &Redis) {
    let [mut a, mut b, _c] = tier_fleet(redis, &[("TTL_BP_TIER_LEASE_MS", "3000")]);
    for replica in [&mut a, &mut b] {
        replica.version(1);
    }
    let _ = a.get("tiered", "warm");
    // Its write (sent in the background) landed, and gave back its lease, before Redis is
    // frozen: the only lease left afterwards can be the unanswered read's.
    poll(|| {
        redis
            .command_lines(&["KEYS", "backplane-test:tier:*:l:*"])
            .is_empty()
            && !redis
                .command_lines(&["KEYS", "backplane-test:tier:*:v:*"])
                .is_empty()
    });
    redis.signal("-STOP");
    assert_eq!(a.ask("spawnget tiered gone"), "spawned");
    std::thread::sleep(Duration::from_millis(300));
    redis.signal("-CONT");
    assert_eq!(
        a.ask("cancel"),
        "finished gone@v1",
        "A fetched without the tier"
    );
    assert_eq!(field(&a.ask("tier"), "unavailable"), 1);
    // By now the read ran (and took the lease), and the release after it, in order on one
    // connection; without the release the lease would hold for 3 s.
    std::thread::sleep(Duration::from_millis(200));
    let leases = redis.command_lines(&["KEYS", "backplane-test:tier:*:l:*"]);
    assert!(
        leases.is_empty(),
        "the unanswered read's lease is held: {leases:?}"
    );
    let started = Instant::now();
    let (value, _) = b.get("tiered", "gone");
    println!(
        "  B's miss after A's unanswered read: {:?}",
        started.elapsed()
    );
    assert_eq!(value, "gone@v1");
    assert_eq!(
        field(&b.ask("tier"), "waited"),
        0,
        "B waited on the lease of A's unanswered read"
    );
}

/// A new replica's first seconds (`TTL_BP_FIRST_SECONDS`, default 6; 60 for the issue's
/// minute): three replicas serve 50 keys (TTL 5 s) with the tier; D starts, and every half
/// second each of the four reads every key in its own order, all at once. Upstream calls are
/// counted at the source, in each replica; D's reads are split into local hits, tier hits and
/// upstream calls. The fleet's calls must stay within 1.05x one per key per TTL.
pub(super) fn a_new_replicas_first_seconds(redis: &Redis) {
    const KEYS: usize = 50;
    const TTL_MS: u64 = 5_000;
    let seconds: u64 = std::env::var("TTL_BP_FIRST_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let env = [("TTL_BP_TIER_TTL_MS", "5000")];
    let mut fleet = tier_fleet(redis, &env);
    for replica in &mut fleet {
        replica.version(1);
    }
    let warmed = Instant::now();
    let (mut calls, _) = read_together(&mut fleet, "tiered", KEYS, 1);
    let mut d = Replica::start_with("D", redis, FAST, &env);
    d.version(1);
    let started = Instant::now();
    let (mut d_calls, mut d_reads, mut round) = (0, 0, 0u64);
    while started.elapsed() < Duration::from_secs(seconds) {
        round += 1;
        let tick = Instant::now();
        for (i, replica) in fleet.iter_mut().chain(std::iter::once(&mut d)).enumerate() {
            replica.send(&format!(
                "timed tiered {} 1",
                super::shuffled(KEYS, round * 10 + i as u64)
            ));
        }
        for (i, replica) in fleet.iter_mut().chain(std::iter::once(&mut d)).enumerate() {
            let answer = replica.recv("timed");
            let n: u64 = answer
                .split(' ')
                .nth(1)
                .and_then(|c| c.parse().ok())
                .expect("calls");
            calls += n;
            if i == 3 {
                d_calls += n;
                d_reads += KEYS as u64;
            }
        }
        std::thread::sleep(Duration::from_millis(500).saturating_sub(tick.elapsed()));
    }
    let elapsed = warmed.elapsed();
    let tier = d.ask("tier");
    let (from_tier, waited) = (field(&tier, "hits"), field(&tier, "waited"));
    let periods = 1 + elapsed.as_millis() as u64 / TTL_MS;
    println!(
        "  D's first {:.1} s: {d_reads} reads, {} from its memory, {from_tier} from the tier \
         ({waited} after waiting on another replica's fetch), {d_calls} upstream calls; the \
         fleet's upstream calls: {calls} for {KEYS} keys over {:.1} s (TTL 5 s)",
        started.elapsed().as_secs_f64(),
        d_reads - from_tier - d_calls,
        elapsed.as_secs_f64()
    );
    assert!(from_tier > 0, "D read nothing from the tier: {tier}");
    assert!(
        calls as f64 <= 1.05 * (KEYS as u64 * periods) as f64,
        "{calls} upstream calls for {KEYS} keys over {periods} TTL periods"
    );
}

/// Stale-if-error across the fleet: A fetched a value of a shared function with an hour of
/// stale-if-error; past its TTL, B, which never held it, finds its upstream failing and falls
/// back on A's expired value, which the tier kept for the window. B keeps it as its own
/// expired value: the fail-safe throttle then leaves B's upstream alone.
pub(super) fn a_replica_falls_back_on_another_replicas_expired_value(redis: &Redis) {
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    for replica in [&mut a, &mut b] {
        replica.version(1);
    }
    assert_eq!(a.get("shared-fallback", "f").0, "f@v1");
    poll(|| field(&a.ask("tier shared-fallback"), "writes") == 1);
    // Past the 300 ms TTL, well inside the hour's window.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(b.ask("failing on"), "ok");
    assert_eq!(
        b.get("shared-fallback", "f"),
        ("f@v1".to_owned(), 1),
        "B's upstream failed once, and B fell back on A's expired value"
    );
    let tier = b.ask("tier shared-fallback");
    assert_eq!(field(&tier, "stale"), 1, "{tier}");
    assert_eq!(
        b.get("shared-fallback", "f"),
        ("f@v1".to_owned(), 1),
        "throttled: B's upstream left alone, the expired value served"
    );
}

/// An expired value in the tier is a fallback only under the current generations: A's value,
/// expired, then invalidated by A, is not B's fallback; and an expired value B took from the
/// tier as its fallback is removed by A's invalidation, delivered, as B's own would be.
pub(super) fn an_invalidated_expired_value_is_never_a_fallback(redis: &Redis) {
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    for replica in [&mut a, &mut b] {
        replica.version(1);
    }
    for user in ["g", "h"] {
        assert_eq!(a.get("shared-fallback", user).0, format!("{user}@v1"));
    }
    poll(|| field(&a.ask("tier shared-fallback"), "writes") == 2);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(b.ask("failing on"), "ok");
    // h: B falls back on A's expired value, and keeps it.
    assert_eq!(b.get("shared-fallback", "h").0, "h@v1");
    // Both invalidated on A, and delivered to B.
    for user in ["g", "h"] {
        let applied = b.stat("applied");
        let answer = a.ask(&format!("inv shared-fallback-group {user}"));
        assert!(answer.starts_with("ok"), "{answer}");
        assert_eq!(b.ask(&format!("wait_applied {}", applied + 1)), "ok");
    }
    assert_eq!(
        b.get("shared-fallback", "g").0,
        "err:down",
        "B fell back on a value A had invalidated in the tier"
    );
    assert_eq!(
        b.get("shared-fallback", "h").0,
        "err:down",
        "B served the expired value it took from the tier after A invalidated it"
    );
    let tier = b.ask("tier shared-fallback");
    assert_eq!(field(&tier, "stale"), 1, "{tier}");
}

/// Stale-while-revalidate across the fleet: past the TTL of A's value, B, which never held it,
/// serves A's expired value at once from the tier and refreshes it under the key's lease; C
/// does the same while B's refresh runs, and A serves its own expired copy: their refreshes
/// take B's value from the tier. One upstream call for the fleet.
pub(super) fn a_replica_serves_another_replicas_expired_value_while_the_fleet_refreshes_it_once(
    redis: &Redis,
) {
    let mut fleet = [
        Replica::start("A", redis, FAST),
        Replica::start("B", redis, FAST),
        Replica::start("C", redis, FAST),
    ];
    for replica in &mut fleet {
        replica.version(1);
    }
    let [a, b, c] = &mut fleet;
    assert_eq!(a.get("shared-swr", "s").0, "s@v1");
    poll(|| field(&a.ask("tier shared-swr"), "writes") == 1);
    std::thread::sleep(Duration::from_millis(400));
    let mut before = 0;
    for replica in [&mut *a, &mut *b, &mut *c] {
        replica.version(2);
        // Refreshes last long enough for the others to find B's running.
        assert_eq!(replica.ask("slow 300"), "ok");
        before += replica.stat("calls");
    }
    for (name, replica) in [("B", &mut *b), ("C", &mut *c), ("A", &mut *a)] {
        assert_eq!(
            replica.get("shared-swr", "s").0,
            "s@v1",
            "{name} fetched inline instead of serving the expired value"
        );
    }
    for replica in [&mut *a, &mut *b, &mut *c] {
        let seen = replica.ask("await shared-swr s s@v2");
        assert!(seen.starts_with("seen"), "{seen}");
    }
    let after: u64 = [&mut *a, &mut *b, &mut *c]
        .into_iter()
        .map(|r| r.stat("calls"))
        .sum();
    let (tb, tc) = (b.ask("tier shared-swr"), c.ask("tier shared-swr"));
    println!(
        "  refreshes: {} upstream calls; B: {tb}; C: {tc}",
        after - before
    );
    assert_eq!(
        after - before,
        1,
        "one refresh for the fleet; B: {tb}; C: {tc}"
    );
    assert_eq!((field(&tb, "stale"), field(&tc, "stale")), (1, 1));
}

/// A refresh writes its value to the tier: `refresh_<fn>` of a shared function, and
/// `TtlCache::refresh` of a tiered cache, on A. B, which held the old value, drops it (the
/// refresh's key invalidation) and reads A's new one from the tier, as does C, which never
/// held it: no upstream call but A's.
pub(super) fn a_refreshed_value_reaches_the_tier(redis: &Redis) {
    // See `a_refresh_begun_before_an_invalidation_is_never_written_back` (the tiered cache's
    // timeout; the function's is its `SHARED` setting's).
    let [mut a, mut b, mut c] = tier_fleet(redis, &[("TTL_BP_TIER_TIMEOUT_MS", "2000")]);
    for (kind, refresh, stats) in [
        ("shared", "shared-refresh", "tier shared"),
        ("tiered", "tiered-refresh", "tier"),
    ] {
        let user = format!("r-{kind}");
        for replica in [&mut a, &mut b, &mut c] {
            replica.version(1);
        }
        let writes = field(&a.ask(stats), "writes");
        assert_eq!(a.get(kind, &user).0, format!("{user}@v1"));
        poll(|| field(&a.ask(stats), "writes") == writes + 1);
        let calls = b.stat("calls");
        assert_eq!(b.get(kind, &user), (format!("{user}@v1"), calls));
        for replica in [&mut a, &mut b, &mut c] {
            replica.version(2);
        }
        let applied = b.stat("applied");
        let answer = a.ask(&format!("inv {refresh} {user}"));
        assert!(answer.starts_with("ok"), "{answer}");
        poll(|| field(&a.ask(stats), "writes") == writes + 2);
        assert_eq!(b.ask(&format!("wait_applied {}", applied + 1)), "ok");
        let before = b.stat("calls") + c.stat("calls");
        assert_eq!(b.get(kind, &user).0, format!("{user}@v2"), "{kind}");
        assert_eq!(c.get(kind, &user).0, format!("{user}@v2"), "{kind}");
        assert_eq!(
            b.stat("calls") + c.stat("calls"),
            before,
            "{kind}: B and C did not read A's refreshed value from the tier"
        );
        assert_eq!(field(&a.ask(stats), "writes_refused"), 0);
    }
}

/// A's refresh of u has read the generations and holds its upstream call; an invalidation of
/// u's group then reaches Redis (its generation set, as the backplane's script sets it) but
/// not A. B fetches v2 and writes it; A's refresh completes and stores its v1 (A, not told,
/// sees no invalidation), but the tier refuses to write it back: C reads B's v2.
pub(super) fn a_refresh_begun_before_an_invalidation_is_never_written_back(redis: &Redis) {
    // A generous timeout: under load, a refresh whose key invalidation takes longer than it to
    // reach Redis writes nothing, and the test would wait for a write that never comes.
    let env = [
        ("TTL_BP_TIER_LEASE_MS", "300"),
        ("TTL_BP_TIER_TIMEOUT_MS", "2000"),
    ];
    let [mut a, mut b, mut c] = tier_fleet(redis, &env);
    for replica in [&mut a, &mut b, &mut c] {
        replica.version(1);
    }
    // A value written (the cache's tier life), then u's group invalidated once: its
    // generation's key exists.
    let _ = a.get("tiered", "w");
    poll(|| field(&a.ask("tier"), "writes") == 1);
    // The cache's tier life is what makes the log's script keep generations: wait until Redis
    // shows it, as `a_fetch_begun_before_an_invalidation_is_never_written_back` does (under
    // load, the write's count could be seen first).
    poll(|| {
        !redis
            .command_lines(&["KEYS", "backplane-test:tier:*:life"])
            .is_empty()
    });
    assert!(b.ask("inv tiered-group u").starts_with("ok"));
    poll(|| {
        !redis
            .command_lines(&["KEYS", "backplane-test:gen:*:g:*"])
            .is_empty()
    });
    let generation = super::only_key(redis, "backplane-test:gen:*:g:*");
    assert_eq!(a.ask("slowinv tiered-refresh u"), "started");
    redis.command(&["SET", &generation, "9999999999999-0", "PX", "3600000"]);
    b.version(2);
    c.version(3);
    assert_eq!(b.get("tiered", "u").0, "u@v2");
    poll(|| field(&b.ask("tier"), "writes") == 1);
    let released = a.ask("release");
    assert!(released.starts_with("val ok"), "{released}");
    poll(|| field(&a.ask("tier"), "writes") == 2);
    poll(|| field(&a.ask("tier"), "writes_refused") == 1);
    let calls = c.stat("calls");
    assert_eq!(
        c.get("tiered", "u"),
        ("u@v2".to_owned(), calls),
        "C did not read B's value from the tier: A's refresh, begun before the invalidation, \
         was written over it"
    );
}
