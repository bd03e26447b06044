//! The Redis backplane against a real `redis-server`, with two replica processes.
//!
//! This binary has no libtest harness: run plainly, it starts `redis-server` on a free loopback
//! port and two copies of itself as replicas A and B (selected by `TTL_BP_REPLICA`), drives
//! them over stdin/stdout, kills, freezes (SIGSTOP) and restarts the server, and checks what
//! each replica serves. Without `redis-server` on the PATH it fails under CI (`CI` or
//! `TTL_CACHED_REQUIRE_REDIS` set) and skips loudly elsewhere.
//!
//! `TTL_BP_ROUNDS` sets the propagation rounds (default 1000); the figures are printed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[path = "backplane_replica.rs"]
mod replica;
#[path = "backplane_shared_fn.rs"]
mod shared_fn;

/// A test: its name and body.
type Test = (&'static str, fn(&Redis));

fn main() {
    if std::env::var_os("TTL_BP_REPLICA").is_some() {
        replica::run();
        return;
    }
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let tests: &[Test] = &[
        (
            "every_kind_of_invalidation_crosses",
            every_kind_of_invalidation_crosses,
        ),
        ("propagation_rounds", propagation_rounds),
        (
            "a_fetch_in_flight_on_the_receiver_is_not_stored",
            a_fetch_in_flight_on_the_receiver_is_not_stored,
        ),
        (
            "killed_redis_bypasses_then_recovers",
            killed_redis_bypasses_then_recovers,
        ),
        (
            "a_redis_killed_with_persistence_is_replayed",
            a_redis_killed_with_persistence_is_replayed,
        ),
        (
            "a_redis_killed_without_persistence_clears",
            a_redis_killed_without_persistence_clears,
        ),
        (
            "frozen_redis_is_noticed_then_replayed",
            frozen_redis_is_noticed_then_replayed,
        ),
        (
            "a_message_missed_while_unsubscribed_is_replayed",
            a_message_missed_while_unsubscribed_is_replayed,
        ),
        (
            "a_paused_replica_serves_nothing_invalidated_meanwhile",
            a_paused_replica_serves_nothing_invalidated_meanwhile,
        ),
        (
            "replicas_sharing_an_id_still_hear_each_other",
            replicas_sharing_an_id_still_hear_each_other,
        ),
        (
            "a_previous_version_message_is_applied",
            a_previous_version_message_is_applied,
        ),
        (
            "a_gap_longer_than_the_log_clears",
            a_gap_longer_than_the_log_clears,
        ),
        (
            "a_failed_publish_is_queued_and_delivered",
            a_failed_publish_is_queued_and_delivered,
        ),
        (
            "a_full_publish_queue_publishes_a_clear_instead",
            a_full_publish_queue_publishes_a_clear_instead,
        ),
        (
            "chaos_storm_serves_nothing_invalidated_past_the_bound",
            chaos_storm_serves_nothing_invalidated_past_the_bound,
        ),
        (
            "chaos_storm_with_the_shared_tier",
            chaos_storm_with_the_shared_tier,
        ),
        (
            "chaos_storm_with_a_shared_function",
            chaos_storm_with_a_shared_function,
        ),
        (
            "chaos_storm_with_shared_stale_windows",
            chaos_storm_with_shared_stale_windows,
        ),
        ("the_backplane_runs_over_tls", the_backplane_runs_over_tls),
        (
            "a_replica_needs_only_the_documented_acl",
            a_replica_needs_only_the_documented_acl,
        ),
        (
            "the_backplane_follows_a_sentinel_failover",
            the_backplane_follows_a_sentinel_failover,
        ),
        (
            "an_undecodable_message_clears_what_it_was_about",
            an_undecodable_message_clears_what_it_was_about,
        ),
        (
            "a_remote_invalidation_leaves_nothing_to_serve_stale",
            a_remote_invalidation_leaves_nothing_to_serve_stale,
        ),
        (
            "a_stampede_makes_one_upstream_call_while_remote_invalidations_stream_in",
            a_stampede_makes_one_upstream_call_while_remote_invalidations_stream_in,
        ),
        (
            "a_late_attach_drops_what_the_cache_held",
            a_late_attach_drops_what_the_cache_held,
        ),
        (
            "replicas_share_what_they_fetch",
            replicas_share_what_they_fetch,
        ),
        (
            "a_cold_key_is_fetched_once_across_replicas",
            a_cold_key_is_fetched_once_across_replicas,
        ),
        (
            "a_fetch_begun_before_an_invalidation_is_never_written_back",
            a_fetch_begun_before_an_invalidation_is_never_written_back,
        ),
        (
            "a_value_invalidated_in_redis_is_never_read_back",
            a_value_invalidated_in_redis_is_never_read_back,
        ),
        (
            "the_tier_never_blocks_a_call_past_its_timeout",
            the_tier_never_blocks_a_call_past_its_timeout,
        ),
        (
            "garbage_in_the_tier_is_a_miss",
            garbage_in_the_tier_is_a_miss,
        ),
        (
            "a_value_over_the_size_limit_is_not_shared",
            a_value_over_the_size_limit_is_not_shared,
        ),
        (
            "an_invalidation_anywhere_reaches_the_tier",
            an_invalidation_anywhere_reaches_the_tier,
        ),
        (
            "a_miss_after_an_undelivered_invalidation_skips_the_tier",
            a_miss_after_an_undelivered_invalidation_skips_the_tier,
        ),
        (
            "a_cached_function_shares_across_replicas",
            shared_fn::a_cached_function_shares_across_replicas,
        ),
        (
            "every_invalidation_of_a_cached_function_reaches_the_tier",
            shared_fn::every_invalidation_of_a_cached_function_reaches_the_tier,
        ),
        (
            "a_function_that_serves_stale_hears_remote_invalidations",
            shared_fn::a_function_that_serves_stale_hears_remote_invalidations,
        ),
        (
            "a_revoking_error_invalidates_the_group_on_every_replica",
            shared_fn::a_revoking_error_invalidates_the_group_on_every_replica,
        ),
        (
            "a_waiter_is_woken_when_the_value_is_written",
            shared_fn::a_waiter_is_woken_when_the_value_is_written,
        ),
        (
            "an_unanswered_read_leaves_no_lease_behind",
            shared_fn::an_unanswered_read_leaves_no_lease_behind,
        ),
        (
            "a_new_replicas_first_seconds",
            shared_fn::a_new_replicas_first_seconds,
        ),
        (
            "a_replica_falls_back_on_another_replicas_expired_value",
            shared_fn::a_replica_falls_back_on_another_replicas_expired_value,
        ),
        (
            "an_invalidated_expired_value_is_never_a_fallback",
            shared_fn::an_invalidated_expired_value_is_never_a_fallback,
        ),
        (
            "a_replica_serves_another_replicas_expired_value_while_the_fleet_refreshes_it_once",
            shared_fn::a_replica_serves_another_replicas_expired_value_while_the_fleet_refreshes_it_once,
        ),
        (
            "a_refreshed_value_reaches_the_tier",
            shared_fn::a_refreshed_value_reaches_the_tier,
        ),
        (
            "a_refresh_begun_before_an_invalidation_is_never_written_back",
            shared_fn::a_refresh_begun_before_an_invalidation_is_never_written_back,
        ),
    ];
    let Some(server) = redis_server() else {
        return;
    };
    let mut failed = Vec::new();
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        println!("test {name} ...");
        let redis = Redis::start(&server);
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(&redis)));
        drop(redis);
        match outcome {
            Ok(()) => println!("test {name} ... ok ({:.1?})", started.elapsed()),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed.push(*name);
            }
        }
    }
    assert!(failed.is_empty(), "failed: {failed:?}");
}

/// The `redis-server` binary, or `None` (after saying so) where it may be missing.
fn redis_server() -> Option<String> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("redis-server"))
            .find(|path| path.is_file())
    });
    match found {
        Some(path) => Some(path.to_string_lossy().into_owned()),
        None if std::env::var_os("CI").is_some()
            || std::env::var_os("TTL_CACHED_REQUIRE_REDIS").is_some() =>
        {
            panic!("redis-server is not installed: the backplane tests need it in CI (apt-get install -y redis-server)")
        }
        None => {
            eprintln!();
            eprintln!(
                "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
            );
            eprintln!("!! SKIPPED: the Redis backplane tests (redis-server is not on the PATH).        !!");
            eprintln!(
                "!! Install it (apt-get install -y redis-server) to run them; CI requires it.   !!"
            );
            eprintln!(
                "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
            );
            None
        }
    }
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos()
}

/// A `redis-server` on a free loopback port, killed when dropped.
struct Redis {
    binary: String,
    port: u16,
    process: std::cell::RefCell<Option<Child>>,
    /// Where it keeps its append-only file, once [`persist`](Self::persist) turned it on.
    persistent: std::cell::Cell<bool>,
}

impl Redis {
    fn start(binary: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let redis = Self {
            binary: binary.to_owned(),
            port,
            process: std::cell::RefCell::new(None),
            persistent: std::cell::Cell::new(false),
        };
        redis.restart();
        redis
    }

    fn dir(&self) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("ttl-cached-backplane-{}", self.port))
    }

    /// Restarts the server with an append-only file written before each reply
    /// (`appendfsync always`): a kill -9 loses nothing it acknowledged.
    fn persist(&self) {
        if let Some(mut child) = self.process.borrow_mut().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(self.dir());
        std::fs::create_dir_all(self.dir()).expect("a data directory");
        self.persistent.set(true);
        self.restart();
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server (again, on the same port) and waits until it answers.
    fn restart(&self) {
        let mut command = Command::new(&self.binary);
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--protected-mode", "no"]);
        if self.persistent.get() {
            let dir = self.dir();
            command
                .args(["--appendonly", "yes", "--appendfsync", "always"])
                .arg("--dir")
                .arg(&dir);
        } else {
            command.args(["--appendonly", "no"]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        *self.process.borrow_mut() = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.command(&["PING"]).as_deref() != Some("+PONG") {
            assert!(Instant::now() < deadline, "redis-server did not answer");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the server (SIGKILL) and waits for it; returns when.
    fn kill(&self) -> u128 {
        let mut child = self.process.borrow_mut().take().expect("redis-server runs");
        let at = now_ns();
        child.kill().expect("redis-server killed");
        child.wait().expect("redis-server reaped");
        at
    }

    fn signal(&self, signal: &str) -> u128 {
        let pid = self
            .process
            .borrow()
            .as_ref()
            .expect("redis-server runs")
            .id();
        let at = now_ns();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        at
    }

    /// One command, in RESP; every line of the reply that is not a type or length line (the
    /// elements of an array of text).
    fn command_lines(&self, args: &[&str]) -> Vec<String> {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return Vec::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(300)));
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        if stream.write_all(request.as_bytes()).is_err() {
            return Vec::new();
        }
        let mut reply = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stream.read(&mut chunk) {
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&reply)
            .lines()
            .filter(|l| !(l.starts_with('*') || l.starts_with('$')))
            .map(str::to_owned)
            .collect()
    }

    /// One command, in RESP; the first line of the reply.
    fn command(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).ok()?;
        let mut reply = [0u8; 256];
        let n = stream.read(&mut reply).ok()?;
        let reply = String::from_utf8_lossy(&reply[..n]).into_owned();
        reply.lines().next().map(str::to_owned)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.process.borrow_mut().take() {
            // A frozen server must be thawed to die cleanly.
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
        if self.persistent.get() {
            let _ = std::fs::remove_dir_all(self.dir());
        }
    }
}

/// A replica process, driven line by line.
struct Replica {
    name: &'static str,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Replica {
    fn start(name: &'static str, redis: &Redis, heartbeat_ms: (u64, u64)) -> Self {
        Self::start_with(name, redis, heartbeat_ms, &[])
    }

    /// A replica with more environment: `TTL_BP_ID` (its replica id), `TTL_BP_LOG_LENGTH`.
    fn start_with(
        name: &'static str,
        redis: &Redis,
        heartbeat_ms: (u64, u64),
        env: &[(&str, &str)],
    ) -> Self {
        Self::start_at(name, &redis.url(), heartbeat_ms, env)
    }

    /// A replica of the backplane at `url`.
    fn start_at(
        name: &'static str,
        url: &str,
        heartbeat_ms: (u64, u64),
        env: &[(&str, &str)],
    ) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("the test binary"))
            .envs(env.iter().copied())
            .env("TTL_BP_REPLICA", name)
            .env("TTL_BP_URL", url)
            .env(
                "TTL_BP_HEARTBEAT_MS",
                format!("{},{}", heartbeat_ms.0, heartbeat_ms.1),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("replica starts");
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut replica = Self {
            name,
            child,
            stdin,
            stdout,
        };
        assert_eq!(
            replica.ask("wait_health Healthy").split(' ').next(),
            Some("at")
        );
        replica
    }

    /// Sends one command; its one-line answer.
    fn ask(&mut self, command: &str) -> String {
        self.send(command);
        self.recv(command)
    }

    /// Sends one command without waiting for its answer (see [`recv`](Self::recv)), so that
    /// several replicas run theirs at once.
    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").expect("replica reads");
        self.stdin.flush().expect("replica reads");
    }

    /// The answer to the command sent last.
    fn recv(&mut self, command: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.stdout.read_line(&mut line).expect("replica writes");
            assert!(n > 0, "replica {} exited during `{command}`", self.name);
            if let Some(answer) = line.trim_end().strip_prefix("@@ ") {
                return answer.to_owned();
            }
        }
    }

    fn get(&mut self, kind: &str, user: &str) -> (String, u64) {
        let answer = self.ask(&format!("get {kind} {user}"));
        let mut words = answer.split(' ');
        assert_eq!(words.next(), Some("val"), "{answer}");
        let value = words.next().expect("a value").to_owned();
        let calls = words.nth(1).and_then(|c| c.parse().ok()).expect("calls");
        (value, calls)
    }

    fn version(&mut self, version: u64) {
        assert_eq!(self.ask(&format!("ver {version}")), "ok");
    }

    fn stat(&mut self, name: &str) -> u64 {
        let answer = self.ask("stats");
        answer
            .split(' ')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {answer}"))
    }

    /// Sends a signal to the replica's process (`-STOP`, `-CONT`).
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// `many <kind> <n>`: the upstream calls and the values of `k0`..`k<n-1>`.
    fn many(&mut self, kind: &str, n: usize) -> (u64, Vec<String>) {
        let answer = self.ask(&format!("many {kind} {n}"));
        let rest = answer.strip_prefix("calls ").expect("an answer to many");
        let (calls, values) = rest.split_once(" values ").expect("values");
        (
            calls.parse().expect("a count"),
            values.split(',').map(str::to_owned).collect(),
        )
    }

    fn wait_stat(&mut self, stat: &str, at_least: u64) {
        let answer = self.ask(&format!("wait_stat {stat} {at_least}"));
        assert_eq!(
            answer, "ok",
            "replica {} never reached {stat} {at_least}",
            self.name
        );
    }

    fn wait_health(&mut self, health: &str) -> u128 {
        let answer = self.ask(&format!("wait_health {health}"));
        let at = answer
            .strip_prefix("at ")
            .unwrap_or_else(|| panic!("replica {} never {health}: {answer}", self.name));
        at.parse().expect("a time")
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Heartbeat interval and timeout, in ms: short for quick tests, with room for a loaded CI machine.
const FAST: (u64, u64) = (200, 1000);

/// Both replicas serve `version` for every cache, each having fetched it once.
fn warm(a: &mut Replica, b: &mut Replica, version: u64, user: &str) {
    for replica in [a, b] {
        replica.version(version);
        for kind in ["listing", "folder", "builder"] {
            let (first, _) = replica.get(kind, user);
            let (again, _) = replica.get(kind, user);
            assert_eq!(first, again, "{kind} is cached on {}", replica.name);
            assert!(first.ends_with(&format!("v{version}")), "{first}");
        }
    }
}

fn every_kind_of_invalidation_crosses(redis: &Redis) {
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    let kinds = [
        ("listing-group", "listing"),
        ("scope", "listing"),
        ("clear-handle", "listing"),
        ("folder-key", "folder"),
        ("folder-group", "folder"),
        ("refresh-folder", "folder"),
        ("builder-group", "builder"),
        ("builder-key", "builder"),
        ("builder-clear", "builder"),
        ("builder-refresh", "builder"),
        ("builder-insert", "builder"),
    ];
    for (round, (invalidation, cache)) in kinds.into_iter().enumerate() {
        let old = 10 * round as u64 + 1;
        let user = format!("user{round}");
        warm(&mut a, &mut b, old, &user);
        // The upstream changed (both replicas read the same upstream).
        a.version(old + 1);
        b.version(old + 1);
        // B still serves the old value from its cache until told.
        let (stale, _) = b.get(cache, &user);
        assert!(stale.ends_with(&format!("v{old}")), "{stale}");
        let answer = a.ask(&format!("inv {invalidation} {user}"));
        assert!(answer.starts_with("ok"), "{invalidation}: {answer}");
        let seen = b.ask(&format!("await {cache} {user} {user}@v{}", old + 1));
        assert!(
            seen.starts_with("seen"),
            "{invalidation} did not cross: {seen}"
        );
    }
    // A's own messages came back to it and were ignored (each arrives asynchronously).
    let ignored = a.ask(&format!("wait_ignored_own {}", kinds.len()));
    assert_eq!(ignored, "ok", "A did not see its own messages come back");
    assert_eq!(b.stat("rejected"), 0);
}

/// Serving stale must not paper over an invalidation from another replica: B holds expired
/// values inside their stale windows; A invalidates one user's group; B then answers that user
/// with a fresh fetch, not the stale value, while another user's stale value is still served
/// (so the windows were open).
fn a_remote_invalidation_leaves_nothing_to_serve_stale(redis: &Redis) {
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    b.version(1);
    assert_eq!(b.get("stale", "revoked").0, "revoked@v1");
    assert_eq!(b.get("stale", "other").0, "other@v1");
    // Past the 50 ms TTL, well inside the windows.
    std::thread::sleep(std::time::Duration::from_millis(150));
    b.version(2);
    let applied = b.stat("applied");
    let answer = a.ask("inv stale-group revoked");
    assert!(answer.starts_with("ok"), "{answer}");
    assert_eq!(b.ask(&format!("wait_applied {}", applied + 1)), "ok");
    assert_eq!(
        b.get("stale", "other").0,
        "other@v1",
        "the other user's expired value is served stale: the windows are open"
    );
    assert_eq!(
        b.get("stale", "revoked").0,
        "revoked@v2",
        "B served the revoked user's value from before A's invalidation"
    );
}

fn propagation_rounds(redis: &Redis) {
    let rounds: usize = std::env::var("TTL_BP_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1000);
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    let mut delays = Vec::with_capacity(rounds);
    for round in 0..rounds as u64 {
        let version = 100 + round;
        a.version(version);
        b.version(version);
        a.get("listing", "u1");
        b.get("listing", "u1");
        a.version(version + 1_000_000);
        b.version(version + 1_000_000);
        // B spins on its cache until it serves the new value; A then invalidates.
        writeln!(b.stdin, "await listing u1 u1@v{}", version + 1_000_000).expect("B reads");
        b.stdin.flush().expect("B reads");
        let answer = a.ask("inv listing-group u1");
        let sent: u128 = answer
            .strip_prefix("ok ")
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("{answer}"));
        let mut line = String::new();
        let seen: u128 = loop {
            line.clear();
            assert!(b.stdout.read_line(&mut line).expect("B writes") > 0);
            if let Some(at) = line.trim_end().strip_prefix("@@ seen ") {
                break at.parse().expect("a time");
            }
            assert!(!line.starts_with("@@ "), "{line}");
        };
        delays.push(seen.saturating_sub(sent));
    }
    // B timed each of A's messages from its send time: the lag it reports is about the one
    // measured here (both clocks are this machine's).
    assert!(b.stat("lag_samples") >= rounds as u64);
    assert!(
        b.stat("lag_last_micros") < 1_000_000,
        "a lag over a second on loopback"
    );
    delays.sort_unstable();
    let pct = |p: f64| delays[((delays.len() - 1) as f64 * p).round() as usize] as f64 / 1e3;
    println!(
        "propagation over {rounds} rounds (invalidation call on A -> B serves the new value): \
         p50 {:.0} us, p99 {:.0} us, max {:.0} us",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}

fn a_fetch_in_flight_on_the_receiver_is_not_stored(redis: &Redis) {
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    a.version(1);
    b.version(1);
    // B's fetch reads the upstream (v1) and is held before it returns.
    assert_eq!(b.ask("slowget u1"), "started");
    a.version(2);
    b.version(2);
    let applied = b.stat("applied");
    assert!(a.ask("inv listing-group u1").starts_with("ok"));
    assert_eq!(b.ask(&format!("wait_applied {}", applied + 1)), "ok");
    // The fetch began before the invalidation reached B: its caller gets it...
    assert_eq!(b.ask("release"), "val u1@v1");
    // ...but it was not stored: the next call fetches the new value.
    let (value, _) = b.get("listing", "u1");
    assert_eq!(value, "u1@v2");
}

/// Upstream calls a burst of `n` gets makes.
fn burst(replica: &mut Replica, n: u64) -> (Vec<String>, u64) {
    let (_, before) = replica.get("listing", "u1");
    let mut values = Vec::new();
    let mut after = before;
    for _ in 0..n {
        let (value, calls) = replica.get("listing", "u1");
        values.push(value);
        after = calls;
    }
    (values, after - before)
}

fn killed_redis_bypasses_then_recovers(redis: &Redis) {
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    warm(&mut a, &mut b, 1, "u1");
    let killed = redis.kill();
    let detected = [a.wait_health("Down"), b.wait_health("Down")];
    for (replica, at) in ["A", "B"].iter().zip(detected) {
        println!(
            "killed redis: replica {replica} closed its caches {:.1} ms after the kill",
            at.saturating_sub(killed) as f64 / 1e6
        );
    }
    // The upstream changes during the outage, and nobody can tell the other replica.
    for (i, replica) in [&mut a, &mut b].into_iter().enumerate() {
        replica.version(2);
        let (values, calls) = burst(replica, 20);
        assert!(
            values.iter().all(|v| v == "u1@v2"),
            "stale during the outage: {values:?}"
        );
        // Nothing is served from the cache: every call went upstream.
        assert_eq!(
            calls, 20,
            "replica {i} served from its cache during the outage"
        );
        println!("outage: 20 calls on replica {i} made {calls} upstream calls");
    }
    // A cache with no name does not take part: it keeps caching through the outage.
    let (_, before) = a.get("unnamed", "u1");
    let (_, after) = a.get("unnamed", "u1");
    assert_eq!(after, before, "an unnamed cache was gated");
    redis.restart();
    a.wait_health("Healthy");
    b.wait_health("Healthy");
    for replica in [&mut a, &mut b] {
        replica.version(3);
        let (values, calls) = burst(replica, 20);
        assert!(values.iter().all(|v| v == "u1@v3"), "{values:?}");
        // Caching again: at most the first call went upstream.
        assert!(
            calls <= 1,
            "not caching after recovery: {calls} upstream calls"
        );
    }
    // And invalidations cross again.
    a.version(4);
    b.version(4);
    assert!(a.ask("inv listing-group u1").starts_with("ok"));
    assert!(b.ask("await listing u1 u1@v4").starts_with("seen"));
}

/// Listings B holds in the blip tests (users `k0`..), and how many of them (the first ones) A
/// invalidates during the blip.
const KEYS: usize = 40;
const INVALIDATED: usize = 4;

/// B holds `KEYS` listings at v1, each fetched once.
fn warm_many(b: &mut Replica) {
    b.version(1);
    let (calls, _) = b.many("listing", KEYS);
    assert_eq!(calls, KEYS as u64);
    let (calls, _) = b.many("listing", KEYS);
    assert_eq!(calls, 0, "B caches them");
}

/// B reads every listing after a blip in which the upstream moved to v2 and A invalidated the
/// first `INVALIDATED`: each of those must be v2 (never the invalidated v1), each other one v1
/// if `kept`. The upstream calls the reads made.
fn read_after_blip(b: &mut Replica, kept: bool) -> u64 {
    let (calls, values) = b.many("listing", KEYS);
    for (i, value) in values.iter().enumerate() {
        if i < INVALIDATED || !kept {
            assert_eq!(
                value,
                &format!("k{i}@v2"),
                "B served a listing invalidated during the blip"
            );
        } else {
            assert_eq!(
                value,
                &format!("k{i}@v1"),
                "B dropped a listing nobody invalidated"
            );
        }
    }
    calls
}

/// During a blip, B serves nothing it holds: its `n` reads all go upstream.
fn closed(b: &mut Replica, n: usize) {
    let (calls, _) = b.many("listing", n);
    assert_eq!(calls, n as u64, "B served from its caches during the blip");
}

/// Redis killed (kill -9) and restarted with its data (an append-only file written before each
/// reply): B replays the log and keeps every listing nobody invalidated; A's invalidations made
/// during the outage were queued and are delivered when Redis is back.
fn a_redis_killed_with_persistence_is_replayed(redis: &Redis) {
    redis.persist();
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    warm_many(&mut b);
    let (replays, clears) = (b.stat("replays"), b.stat("gap_clears"));
    let (published, applied) = (a.stat("published"), b.stat("applied"));
    redis.kill();
    a.wait_health("Down");
    b.wait_health("Down");
    a.version(2);
    b.version(2);
    closed(&mut b, 5);
    for i in 0..INVALIDATED {
        assert_eq!(a.ask(&format!("invq listing-group k{i}")), "ok");
    }
    redis.restart();
    a.wait_stat("published", published + INVALIDATED as u64);
    b.wait_stat("applied", applied + INVALIDATED as u64);
    b.wait_health("Healthy");
    assert!(b.stat("replays") > replays, "B did not replay the log");
    assert_eq!(b.stat("gap_clears"), clears, "B cleared its caches");
    let calls = read_after_blip(&mut b, true);
    println!("kill -9 of redis with persistence: {calls} upstream calls for {KEYS} listings, {INVALIDATED} invalidated meanwhile");
    assert_eq!(
        calls, INVALIDATED as u64,
        "extra upstream calls for listings nobody invalidated"
    );
}

/// Redis killed and restarted empty: the log's epoch is new, so B cannot tell what it missed
/// and clears every attached cache.
fn a_redis_killed_without_persistence_clears(redis: &Redis) {
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    warm_many(&mut b);
    let clears = b.stat("gap_clears");
    let published = a.stat("published");
    redis.kill();
    b.wait_health("Down");
    a.version(2);
    b.version(2);
    for i in 0..INVALIDATED {
        assert_eq!(a.ask(&format!("invq listing-group k{i}")), "ok");
    }
    redis.restart();
    a.wait_stat("published", published + INVALIDATED as u64);
    b.wait_health("Healthy");
    assert_eq!(
        b.stat("gap_clears"),
        clears + 1,
        "B did not detect the lost log"
    );
    let calls = read_after_blip(&mut b, false);
    assert_eq!(calls, KEYS as u64);
}

/// Redis frozen (SIGSTOP): the heartbeat notices, nothing cached is served meanwhile; thawed,
/// B replays what it missed and keeps the rest.
fn frozen_redis_is_noticed_then_replayed(redis: &Redis) {
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    warm_many(&mut b);
    let (published, applied) = (a.stat("published"), b.stat("applied"));
    let clears = b.stat("gap_clears");
    let frozen = redis.signal("-STOP");
    let detected = [a.wait_health("Down"), b.wait_health("Down")];
    for (replica, at) in ["A", "B"].iter().zip(detected) {
        let ms = at.saturating_sub(frozen) as f64 / 1e6;
        println!(
            "frozen redis: replica {replica} closed its caches {ms:.1} ms after SIGSTOP \
             (heartbeat every {} ms, timeout {} ms)",
            FAST.0, FAST.1
        );
    }
    a.version(2);
    b.version(2);
    closed(&mut b, 5);
    for i in 0..INVALIDATED {
        assert_eq!(a.ask(&format!("invq listing-group k{i}")), "ok");
    }
    redis.signal("-CONT");
    a.wait_stat("published", published + INVALIDATED as u64);
    b.wait_stat("applied", applied + INVALIDATED as u64);
    b.wait_health("Healthy");
    assert_eq!(b.stat("gap_clears"), clears);
    let calls = read_after_blip(&mut b, true);
    assert_eq!(calls, INVALIDATED as u64);
    let fenced = b.stat("fenced_micros");
    assert!(fenced > 0, "B was fenced during the freeze");
    assert_eq!(
        b.stat("fenced_micros"),
        fenced,
        "healthy again: no longer counting"
    );
}

/// B's subscription is killed (`CLIENT KILL TYPE pubsub`) and B takes a while to come back:
/// the invalidations A published meanwhile never reach B on the channel; B replays them from
/// the log. A fetch B began before one of them is not stored.
fn a_message_missed_while_unsubscribed_is_replayed(redis: &Redis) {
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, (1000, 3000));
    warm_many(&mut b);
    let (replays, clears) = (b.stat("replays"), b.stat("gap_clears"));
    let killed = redis.command(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    assert!(
        killed.as_deref().is_some_and(|r| r.starts_with(':')),
        "{killed:?}"
    );
    b.wait_health("Down");
    // While B is not subscribed, it starts a fetch (of v1), held until released...
    assert_eq!(b.ask("slowget u1"), "started");
    a.version(2);
    b.version(2);
    // ...and A invalidates: the messages reach Redis, and not B.
    for user in ["u1", "k0", "k1", "k2", "k3"] {
        let answer = a.ask(&format!("inv listing-group {user}"));
        assert!(answer.starts_with("ok"), "{answer}");
    }
    b.wait_health("Healthy");
    assert!(b.stat("replays") > replays, "B did not replay the log");
    assert_eq!(b.stat("gap_clears"), clears);
    // B's fetch began before A's invalidation, which B replayed: it is not stored.
    assert_eq!(b.ask("release"), "val u1@v1");
    assert_eq!(
        b.get("listing", "u1").0,
        "u1@v2",
        "B served a value the missed message invalidated"
    );
    let calls = read_after_blip(&mut b, true);
    assert_eq!(calls, INVALIDATED as u64);
}

/// B frozen (SIGSTOP: a stalled VM or container) past its heartbeat timeout while A
/// invalidates: on waking, B reads at once, before its subscriber may have applied A's message.
/// Its lease lapsed while it slept, so it serves nothing it held.
fn a_paused_replica_serves_nothing_invalidated_meanwhile(redis: &Redis) {
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    for round in 0..5u64 {
        let old = 10 + 2 * round;
        b.version(old);
        let _ = b.get("listing", "u1");
        let (_, calls) = b.get("listing", "u1");
        let (_, again) = b.get("listing", "u1");
        assert_eq!(calls, again, "B caches u1");
        b.signal("-STOP");
        std::thread::sleep(Duration::from_millis(FAST.1 + 300));
        assert!(a.ask("inv listing-group u1").starts_with("ok"));
        // Queued in B's stdin while it sleeps: run as soon as it wakes.
        writeln!(b.stdin, "ver {}", old + 1).expect("B reads");
        writeln!(b.stdin, "reads listing u1 3000").expect("B reads");
        b.stdin.flush().expect("B reads");
        b.signal("-CONT");
        let mut answers = Vec::new();
        let mut line = String::new();
        while answers.len() < 2 {
            line.clear();
            assert!(b.stdout.read_line(&mut line).expect("B writes") > 0);
            if let Some(answer) = line.trim_end().strip_prefix("@@ ") {
                answers.push(answer.to_owned());
            }
        }
        let seen = answers[1].strip_prefix("seen ").expect("reads");
        println!("paused replica, round {round}: B read {seen}");
        assert!(
            !seen.contains(&format!("u1@v{old}x")),
            "B served the listing A invalidated while B slept: {seen}"
        );
        b.wait_health("Healthy");
    }
}

/// Two processes given the same replica id still apply each other's invalidations, and each
/// is told about the other.
fn replicas_sharing_an_id_still_hear_each_other(redis: &Redis) {
    let mut a = Replica::start_with("A", redis, FAST, &[("TTL_BP_ID", "api")]);
    let mut b = Replica::start_with("B", redis, FAST, &[("TTL_BP_ID", "api")]);
    warm(&mut a, &mut b, 1, "u1");
    a.version(2);
    b.version(2);
    assert!(a.ask("inv listing-group u1").starts_with("ok"));
    assert!(
        b.ask("await listing u1 u1@v2").starts_with("seen"),
        "B ignored A's invalidation"
    );
    b.wait_stat("duplicate_ids", 1);
    a.wait_stat("duplicate_ids", 1);
}

/// A rolling deploy: a replica of the previous version publishes format 1, unframed, on the
/// channel; B applies it like any other message, clearing nothing else.
fn a_previous_version_message_is_applied(redis: &Redis) {
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    warm(&mut a, &mut b, 1, "u1");
    b.version(2);
    let target = "backplane-test::builder";
    // Version 1, kind group, origin "old", the builder cache, group "u1" (a `String`: tag
    // 0x20, u32 length, bytes), no key.
    let mut message = String::from("\u{1}\u{1}\u{3}\u{0}old");
    message.push(char::from(
        u8::try_from(target.len()).expect("a short name"),
    ));
    message.push('\u{0}');
    message.push_str(target);
    message.push_str("\u{7}\u{0}\u{0}\u{0}\u{20}\u{2}\u{0}\u{0}\u{0}u1\u{0}\u{0}\u{0}\u{0}");
    let (applied, rejected) = (b.stat("applied"), b.stat("rejected"));
    assert_eq!(
        redis
            .command(&["PUBLISH", "backplane-test:invalidations", &message])
            .as_deref(),
        Some(":2")
    );
    b.wait_stat("applied", applied + 1);
    assert_eq!(b.stat("rejected"), rejected);
    assert_eq!(b.get("builder", "u1").0, "u1@v2");
    assert_eq!(
        b.get("listing", "u1").0,
        "u1@v1",
        "another cache was cleared"
    );
}

/// B away while the fleet made more invalidations than the log keeps: the entries after B's
/// last one were trimmed, so B clears instead of replaying a log with a hole.
fn a_gap_longer_than_the_log_clears(redis: &Redis) {
    let short = [("TTL_BP_LOG_LENGTH", "10")];
    let mut a = Replica::start_with("A", redis, FAST, &short);
    let mut b = Replica::start_with("B", redis, (1000, 3000), &short);
    warm_many(&mut b);
    let clears = b.stat("gap_clears");
    let killed = redis.command(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    assert!(killed.as_deref().is_some_and(|r| r.starts_with(':')));
    b.wait_health("Down");
    a.version(2);
    b.version(2);
    for i in 0..INVALIDATED {
        assert!(a.ask(&format!("inv listing-group k{i}")).starts_with("ok"));
    }
    // 600 more invalidations of other users: the log keeps about 10 (whole nodes of 100).
    assert_eq!(a.ask("spray 600"), "ok");
    assert_eq!(a.ask("spray_wait"), "sprayed 600");
    b.wait_health("Healthy");
    assert_eq!(
        b.stat("gap_clears"),
        clears + 1,
        "B did not see the log was trimmed"
    );
    let calls = read_after_blip(&mut b, false);
    assert_eq!(calls, KEYS as u64);
}

/// A's publish queue holds 2 messages; Redis frozen, A invalidates 4 of B's listings: the
/// first 2 wait in the queue, the other 2 are replaced by one clear of the listing cache. When
/// Redis thaws, B applies them all and drops every listing: nothing invalidated survives.
fn a_full_publish_queue_publishes_a_clear_instead(redis: &Redis) {
    let mut a = Replica::start_with("A", redis, FAST, &[("TTL_BP_PUBLISH_QUEUE", "2")]);
    let mut b = Replica::start("B", redis, FAST);
    warm_many(&mut b);
    let published = a.stat("published");
    let failures = a.stat("publish_failures");
    let applied = b.stat("applied");
    redis.signal("-STOP");
    a.wait_health("Down");
    b.wait_health("Down");
    for i in 0..INVALIDATED {
        assert_eq!(a.ask(&format!("invq listing-group k{i}")), "ok");
    }
    assert_eq!(
        a.stat("publish_failures"),
        failures + 2,
        "two refused by the full queue"
    );
    a.version(2);
    b.version(2);
    redis.signal("-CONT");
    // Two invalidations and one clear.
    a.wait_stat("published", published + 3);
    b.wait_health("Healthy");
    b.wait_stat("applied", applied + 3);
    let calls = read_after_blip(&mut b, false);
    assert_eq!(
        calls, KEYS as u64,
        "B kept a listing the refused invalidations stood for"
    );
}

/// The listings of the chaos storm (users `k0`..).
const CHAOS_KEYS: usize = 12;

/// What the chaos storm's oracle knows of one listing: the version every read must at least
/// return once `after` has passed (an invalidation's delivery to Redis, plus the bound).
#[derive(Clone, Copy, Default)]
struct Required {
    version: u64,
    after: Option<Instant>,
}

/// A seeded storm against a model: three replicas, a Redis that keeps what it acknowledges,
/// invalidations on random replicas (awaited when Redis is up, queued while it is down), reads
/// of every listing on every replica, and a random fault each round: Redis killed (-9) and
/// restarted, Redis frozen, the subscriptions killed, a replica frozen. A read that starts past
/// an invalidation's delivery plus the bound (the heartbeat timeout, with 300 ms of slack for
/// the test's own clock) must return at least the version the upstream had when it was
/// invalidated. `TTL_BP_CHAOS_ROUNDS` (default 6) and `TTL_BP_CHAOS_SEED` (default 1).
fn chaos_storm_serves_nothing_invalidated_past_the_bound(redis: &Redis) {
    chaos_storm(redis, "listing");
}

/// The same storm on the cache with the shared tier: a value one replica wrote must obey the
/// bound on every replica that reads it back.
fn chaos_storm_with_the_shared_tier(redis: &Redis) {
    chaos_storm(redis, "tiered");
}

/// The same storm on a `#[ttl_cached]` function with `shared_tier`.
fn chaos_storm_with_a_shared_function(redis: &Redis) {
    chaos_storm(redis, "shared");
}

/// The same storm on a `shared_tier` function that serves stale (300 ms TTL, an hour of
/// stale-while-revalidate): expired values read from the tier and served at once, refreshed in
/// the background, must obey the bound too.
fn chaos_storm_with_shared_stale_windows(redis: &Redis) {
    chaos_storm(redis, "shared-swr");
}

/// The chaos storm on the cache `kind` (its group invalidation is `<kind>-group`).
fn chaos_storm(redis: &Redis, kind: &str) {
    let rounds: u64 = std::env::var("TTL_BP_CHAOS_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(6);
    let seed: u64 = std::env::var("TTL_BP_CHAOS_SEED")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let mut rng = ttl_cached_tests::SplitMix::new(seed);
    let bound = Duration::from_millis(FAST.1 + 300);
    redis.persist();
    let mut replicas = [
        Replica::start("A", redis, FAST),
        Replica::start("B", redis, FAST),
        Replica::start("C", redis, FAST),
    ];
    let mut required = [Required::default(); CHAOS_KEYS];
    let mut version = 1u64;
    let mut reads = 0u64;
    let mut checked = 0u64;
    let set_version = |replicas: &mut [Replica; 3], v: u64| {
        for r in replicas.iter_mut() {
            r.version(v);
        }
    };
    set_version(&mut replicas, version);
    // Reads of every listing on replica `i`, checked against the model.
    let mut read = |replicas: &mut [Replica; 3], required: &[Required; CHAOS_KEYS], i: usize| {
        if kind == "shared-swr" && (reads / CHAOS_KEYS as u64 + i as u64).is_multiple_of(2) {
            // Every other read drops the replica's own copies first, telling nobody: it then
            // finds the keys in the tier, expired ones inside the window.
            assert_eq!(replicas[i].ask("forget shared-swr"), "ok");
        }
        let started = Instant::now();
        let (_, values) = replicas[i].many(kind, CHAOS_KEYS);
        for (k, value) in values.iter().enumerate() {
            reads += 1;
            let got: u64 = value
                .rsplit_once("@v")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or_else(|| panic!("a version in {value}"));
            let want = required[k];
            if want.after.is_some_and(|after| started >= after) {
                checked += 1;
                assert!(
                    got >= want.version,
                    "seed {seed}: replica {} served k{k}@v{got}, invalidated at v{} more than the bound ago",
                    replicas[i].name,
                    want.version
                );
            }
        }
    };
    for round in 0..rounds {
        // Healthy traffic: invalidations, each awaited (delivered), and reads everywhere.
        for _ in 0..3 {
            version += 1;
            set_version(&mut replicas, version);
            let k = rng.below(CHAOS_KEYS as u64) as usize;
            let who = rng.below(3) as usize;
            let answer = replicas[who].ask(&format!("inv {kind}-group k{k}"));
            assert!(answer.starts_with("ok"), "seed {seed}: {answer}");
            required[k] = Required {
                version,
                after: Some(Instant::now() + bound),
            };
            for i in 0..3 {
                read(&mut replicas, &required, i);
            }
        }
        let fault = rng.below(4);
        let hold = Duration::from_millis(300 + rng.below(1700));
        let who = rng.below(3) as usize;
        let published: Vec<u64> = replicas.iter_mut().map(|r| r.stat("published")).collect();
        let mut queued = Vec::new();
        let mut invalidate_queued =
            |replicas: &mut [Replica; 3], queued: &mut Vec<(usize, usize, u64)>, version: u64| {
                let k = rng.below(CHAOS_KEYS as u64) as usize;
                let by = rng.below(3) as usize;
                assert_eq!(replicas[by].ask(&format!("invq {kind}-group k{k}")), "ok");
                queued.push((by, k, version));
            };
        println!("chaos round {round}: fault {fault} for {hold:?} (replica {who})");
        match fault {
            0 | 1 => {
                if fault == 0 {
                    redis.kill();
                } else {
                    redis.signal("-STOP");
                }
                std::thread::sleep(hold / 2);
                version += 1;
                set_version(&mut replicas, version);
                invalidate_queued(&mut replicas, &mut queued, version);
                for i in 0..3 {
                    read(&mut replicas, &required, i);
                }
                std::thread::sleep(hold / 2);
                if fault == 0 {
                    redis.restart();
                } else {
                    redis.signal("-CONT");
                }
            }
            2 => {
                let killed = redis.command(&["CLIENT", "KILL", "TYPE", "pubsub"]);
                assert!(killed.as_deref().is_some_and(|r| r.starts_with(':')));
                version += 1;
                set_version(&mut replicas, version);
                invalidate_queued(&mut replicas, &mut queued, version);
                for i in 0..3 {
                    read(&mut replicas, &required, i);
                }
            }
            _ => {
                replicas[who].signal("-STOP");
                std::thread::sleep(hold / 2);
                version += 1;
                for (i, r) in replicas.iter_mut().enumerate() {
                    if i != who {
                        r.version(version);
                    }
                }
                let k = rng.below(CHAOS_KEYS as u64) as usize;
                let by = (who + 1 + rng.below(2) as usize) % 3;
                let answer = replicas[by].ask(&format!("inv {kind}-group k{k}"));
                assert!(answer.starts_with("ok"), "seed {seed}: {answer}");
                required[k] = Required {
                    version,
                    after: Some(Instant::now() + bound),
                };
                // Asleep past the bound: its first reads are held to the invalidation.
                std::thread::sleep(bound + hold / 4);
                // Queued in its stdin while it sleeps: it reads as soon as it wakes.
                writeln!(replicas[who].stdin, "ver {version}").expect("reads");
                replicas[who].stdin.flush().expect("reads");
                replicas[who].signal("-CONT");
                let mut line = String::new();
                while !line.starts_with("@@ ") {
                    line.clear();
                    assert!(replicas[who].stdout.read_line(&mut line).expect("writes") > 0);
                }
                read(&mut replicas, &required, who);
            }
        }
        // Every queued invalidation is delivered: it counts from then on.
        for (by, k, v) in queued {
            replicas[by].wait_stat("published", published[by] + 1);
            let entry = &mut required[k];
            if v >= entry.version {
                *entry = Required {
                    version: v,
                    after: Some(Instant::now() + bound),
                };
            }
        }
        for r in replicas.iter_mut() {
            r.wait_health("Healthy");
        }
        for i in 0..3 {
            read(&mut replicas, &required, i);
        }
    }
    println!("chaos storm on {kind}, seed {seed}: {rounds} faults, {reads} reads, {checked} past an invalidation's bound, 0 stale");
    assert!(checked > 0, "the storm checked nothing");
    if kind == "shared-swr" {
        // The storm must have served expired values from the tier, or it tested nothing new.
        let stale: u64 = replicas
            .iter_mut()
            .map(|r| field(&r.ask(&format!("tier {kind}")), "stale"))
            .sum();
        println!("  expired values taken from the tier: {stale}");
        assert!(stale > 0, "no replica took an expired value from the tier");
    }
}

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Runs `program` with `args`, which must succeed.
fn run(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    assert!(status.success(), "{program} {args:?} failed");
}

/// A child process killed when dropped, and a directory removed with it.
struct Guard(Child, std::path::PathBuf);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// Waits until `port` answers PING (plain TCP).
fn wait_ping(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pong = TcpStream::connect(("127.0.0.1", port))
            .ok()
            .and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
                s.write_all(b"*1\r\n$4\r\nPING\r\n").ok()?;
                let mut reply = [0u8; 16];
                let n = s.read(&mut reply).ok()?;
                Some(reply[..n].starts_with(b"+PONG"))
            });
        if pong == Some(true) {
            return;
        }
        assert!(Instant::now() < deadline, "port {port} never answered");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The backplane over TLS (`rediss://`, feature `redis-tls`): a redis-server with a certificate
/// a test CA signed, replicas that trust that CA, an invalidation that crosses.
fn the_backplane_runs_over_tls(redis: &Redis) {
    let dir = std::env::temp_dir().join(format!("ttl-cached-tls-{}", redis.port));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a directory");
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(
        "openssl",
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                &path("ca.key"),
                "-out",
                &path("ca.pem"),
                "-days",
                "2",
                "-subj",
                "/CN=ttl-cached test CA",
            ],
        ]
        .concat(),
    );
    run(
        "openssl",
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                &path("server.key"),
                "-out",
                &path("server.csr"),
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("written");
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &path("server.csr"),
            "-CA",
            &path("ca.pem"),
            "-CAkey",
            &path("ca.key"),
            "-CAcreateserial",
            "-out",
            &path("server.pem"),
            "-days",
            "2",
            "-extfile",
            &path("ext"),
        ],
    );
    let (plain, tls) = (free_port(), free_port());
    let server = Command::new(&redis.binary)
        .args([
            "--port",
            &plain.to_string(),
            "--tls-port",
            &tls.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .args([
            "--tls-cert-file",
            &path("server.pem"),
            "--tls-key-file",
            &path("server.key"),
        ])
        .args([
            "--tls-ca-cert-file",
            &path("ca.pem"),
            "--tls-auth-clients",
            "no",
        ])
        .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let _server = Guard(server, dir.clone());
    wait_ping(plain);
    let url = format!("rediss://localhost:{tls}/");
    let ca = path("ca.pem");
    let env = [("TTL_BP_CA", ca.as_str())];
    let mut a = Replica::start_at("A", &url, FAST, &env);
    let mut b = Replica::start_at("B", &url, FAST, &env);
    warm(&mut a, &mut b, 1, "u1");
    a.version(2);
    b.version(2);
    assert!(a.ask("inv listing-group u1").starts_with("ok"));
    assert!(b.ask("await listing u1 u1@v2").starts_with("seen"));
    // A replica that does not trust the CA never becomes healthy.
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .env("TTL_BP_REPLICA", "C")
        .env("TTL_BP_URL", &url)
        .env("TTL_BP_HEARTBEAT_MS", "200,1000")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("replica starts");
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    writeln!(stdin, "healthy_within 2000").expect("C reads");
    stdin.flush().expect("C reads");
    let mut line = String::new();
    while !line.starts_with("@@ ") {
        line.clear();
        assert!(stdout.read_line(&mut line).expect("C writes") > 0);
    }
    assert!(
        line.contains("not healthy"),
        "C trusted a certificate it has no root for: {line}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// One RESP command to `port`; the whole reply, as text.
fn ask_port(port: u16, args: &[&str]) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes()).ok()?;
    let mut reply = [0u8; 4096];
    let n = stream.read(&mut reply).ok()?;
    Some(String::from_utf8_lossy(&reply[..n]).into_owned())
}

/// The backplane through Sentinel (`redis+sentinel://`, feature `redis-sentinel`), across a
/// failover: a Redis replica of the test's server and a sentinel watching both; the replicas of
/// the service ask the sentinel for the master; the master is killed, the sentinel promotes the
/// Redis replica, and the service's replicas follow it, replay its copy of the log (same epoch:
/// nothing cleared, nothing refetched) and carry invalidations again.
fn the_backplane_follows_a_sentinel_failover(redis: &Redis) {
    let dir = std::env::temp_dir().join(format!("ttl-cached-sentinel-{}", redis.port));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a directory");
    let standby_port = free_port();
    let standby = Command::new(&redis.binary)
        .args(["--port", &standby_port.to_string(), "--bind", "127.0.0.1"])
        .args(["--replicaof", "127.0.0.1", &redis.port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the standby starts");
    let _standby = Guard(standby, dir.join("standby"));
    wait_ping(standby_port);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ask_port(standby_port, &["INFO", "replication"])
        .is_some_and(|info| info.contains("master_link_status:up"))
    {
        assert!(Instant::now() < deadline, "the standby never synced");
        std::thread::sleep(Duration::from_millis(20));
    }
    let port = free_port();
    let conf = dir.join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {}\n\
             sentinel monitor mymaster 127.0.0.1 {} 1\n\
             sentinel down-after-milliseconds mymaster 500\n\
             sentinel failover-timeout mymaster 5000\n",
            dir.display(),
            redis.port
        ),
    )
    .expect("written");
    let sentinel = Command::new(&redis.binary)
        .arg(&conf)
        .arg("--sentinel")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the sentinel starts");
    let _sentinel = Guard(sentinel, dir);
    wait_ping(port);
    let url = format!("redis+sentinel://127.0.0.1:{port}/mymaster");
    let mut a = Replica::start_at("A", &url, FAST, &[]);
    let mut b = Replica::start_at("B", &url, FAST, &[]);
    warm(&mut a, &mut b, 1, "u1");
    a.version(2);
    b.version(2);
    assert!(a.ask("inv listing-group u1").starts_with("ok"));
    assert!(b.ask("await listing u1 u1@v2").starts_with("seen"));
    // Everything written so far is on the standby before the master dies.
    assert_eq!(redis.command(&["WAIT", "1", "2000"]).as_deref(), Some(":1"));
    let (clears, replays) = (b.stat("gap_clears"), b.stat("replays"));
    let (_, calls) = b.get("folder", "u1");
    let killed = redis.kill();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ask_port(port, &["SENTINEL", "get-master-addr-by-name", "mymaster"])
        .is_some_and(|reply| reply.contains(&standby_port.to_string()))
    {
        assert!(
            Instant::now() < deadline,
            "the sentinel never promoted the standby"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    b.wait_stat("replays", replays + 1);
    a.wait_health("Healthy");
    let healthy = b.wait_health("Healthy");
    println!(
        "sentinel failover: B healthy on the new master {:.0} ms after the old one was killed",
        healthy.saturating_sub(killed) as f64 / 1e6
    );
    assert_eq!(
        b.stat("gap_clears"),
        clears,
        "B cleared across the failover"
    );
    let (value, after) = b.get("folder", "u1");
    assert_eq!(
        (value.as_str(), after),
        ("u1@v1", calls),
        "B refetched what nobody invalidated"
    );
    a.version(3);
    b.version(3);
    assert!(a.ask("inv listing-group u1").starts_with("ok"));
    assert!(
        b.ask("await listing u1 u1@v3").starts_with("seen"),
        "no invalidation crosses the new master"
    );
}

/// The ACL the README documents is all a replica needs: replicas logged in as a user with
/// exactly those commands, keys and channels publish, receive and replay.
fn a_replica_needs_only_the_documented_acl(redis: &Redis) {
    let acl = [
        "ACL",
        "SETUSER",
        "cache",
        "on",
        ">secret",
        "resetkeys",
        "~backplane-test:*",
        "resetchannels",
        "&backplane-test:*",
        "-@all",
        "+evalsha",
        "+script|load",
        "+xadd",
        "+xinfo|stream",
        "+xrange",
        "+exists",
        "+get",
        "+set",
        "+publish",
        "+subscribe",
        "+ping",
        "+hello",
        "+pttl",
        "+pexpire",
        "+del",
    ];
    assert_eq!(redis.command(&acl).as_deref(), Some("+OK"));
    let url = format!("redis://cache:secret@127.0.0.1:{}/", redis.port);
    let mut a = Replica::start_at("A", &url, FAST, &[]);
    let mut b = Replica::start_at("B", &url, (1000, 3000), &[]);
    warm(&mut a, &mut b, 1, "u1");
    a.version(2);
    b.version(2);
    assert!(a.ask("inv listing-group u1").starts_with("ok"));
    assert!(b.ask("await listing u1 u1@v2").starts_with("seen"));
    // And the replay after a lost subscription.
    let replays = b.stat("replays");
    let killed = redis.command(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    assert!(killed.as_deref().is_some_and(|r| r.starts_with(':')));
    b.wait_health("Down");
    a.version(3);
    b.version(3);
    assert!(a.ask("inv listing-group u1").starts_with("ok"));
    b.wait_health("Healthy");
    assert!(b.stat("replays") > replays);
    assert_eq!(b.get("listing", "u1").0, "u1@v3");
    assert_eq!(
        b.get("folder", "u1").0,
        "u1@v1",
        "B cleared what nobody invalidated"
    );
    // The shared tier's scripts: A writes, B reads it back, an invalidation bumps.
    let (value, _) = a.get("tiered", "acl");
    poll(|| field(&a.ask("tier"), "writes") == 1);
    let calls = b.stat("calls");
    assert_eq!(b.get("tiered", "acl"), (value, calls));
    assert!(a.ask("inv tiered-group acl").starts_with("ok"));
    assert_eq!(field(&a.ask("tier"), "write_errors"), 0);
}

fn a_failed_publish_is_queued_and_delivered(redis: &Redis) {
    redis.persist();
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    warm(&mut a, &mut b, 1, "u1");
    let published = a.stat("published");
    redis.kill();
    a.wait_health("Down");
    // Awaited, the publish reports that it is queued, after the heartbeat timeout.
    let answer = a.ask("inv listing-group u1");
    assert!(
        answer.starts_with("err") && answer.contains("queued"),
        "a publish that did not reach Redis was not reported: {answer}"
    );
    assert!(a.stat("publish_retries") > 0);
    b.version(2);
    redis.restart();
    a.wait_stat("published", published + 1);
    b.wait_health("Healthy");
    assert!(
        b.ask("await listing u1 u1@v2").starts_with("seen"),
        "the queued invalidation never reached B"
    );
    assert_eq!(
        b.get("folder", "u1").0,
        "u1@v1",
        "B cleared what nobody invalidated"
    );
}

fn an_undecodable_message_clears_what_it_was_about(redis: &Redis) {
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    warm(&mut a, &mut b, 1, "u1");
    a.version(2);
    b.version(2);
    let channel = "backplane-test:invalidations";
    // A message for B's listing cache whose group does not decode as the cache's key type:
    // version 1, kind group, origin "X", target the cache, group "zzz", no key.
    let name = b.ask("name");
    let mut message = String::from("\u{1}\u{1}\u{1}\u{0}X");
    message.push(char::from(u8::try_from(name.len()).expect("a short name")));
    message.push('\u{0}');
    message.push_str(&name);
    message.push_str("\u{3}\u{0}\u{0}\u{0}zzz\u{0}\u{0}\u{0}\u{0}");
    let rejected = b.stat("rejected");
    assert_eq!(
        redis.command(&["PUBLISH", channel, &message]).as_deref(),
        Some(":2")
    );
    assert!(b
        .ask(&format!("wait_rejected {}", rejected + 1))
        .starts_with("ok"));
    // B could not tell which entries it meant: it cleared that cache, and only that one.
    assert_eq!(b.get("listing", "u1").0, "u1@v2");
    assert_eq!(b.get("folder", "u1").0, "u1@v1");
    // A message not even of this format: every attached cache is cleared.
    let rejected = b.stat("rejected");
    assert_eq!(
        redis
            .command(&["PUBLISH", channel, "not a message"])
            .as_deref(),
        Some(":2")
    );
    assert!(b
        .ask(&format!("wait_rejected {}", rejected + 1))
        .starts_with("ok"));
    assert_eq!(b.get("folder", "u1").0, "u1@v2");
    assert_eq!(b.get("builder", "u1").0, "u1@v2");
}

/// While B applies a steady stream of A's invalidations of other users (about 1 000 a second:
/// groups, scope groups, keys), 50 concurrent misses of one key on B make one upstream call,
/// counted by B's upstream, and the value is stored. Invalidations fence only what they
/// invalidate; with one fence for the whole cache, misses that overlapped the application of
/// a remote invalidation ran unshared.
fn a_stampede_makes_one_upstream_call_while_remote_invalidations_stream_in(redis: &Redis) {
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    b.version(1);
    assert_eq!(b.ask("slow 20"), "ok");
    let applied = b.stat("applied");
    assert_eq!(a.ask("spray 4000"), "ok");
    let started = Instant::now();
    let mut rounds = 0;
    for round in 0..20 {
        for kind in ["builder", "listing"] {
            let answer = b.ask(&format!("stampede {kind} s{round} 50"));
            assert_eq!(answer, "calls 1 values 1", "{kind}, round {round}");
            let (_, before) = b.get(kind, &format!("s{round}"));
            let (_, after) = b.get(kind, &format!("s{round}"));
            assert_eq!(before, after, "{kind}, round {round}: the value was stored");
            rounds += 1;
        }
    }
    let during = b.stat("applied") - applied;
    let rate = during as f64 / started.elapsed().as_secs_f64();
    assert!(a.ask("spray_wait").starts_with("sprayed"));
    println!(
        "{rounds} stampedes of 50, one upstream call each, while B applied {during} remote \
         invalidations ({rate:.0} a second)"
    );
    // About 900 a second here; the bound only checks that they streamed in meanwhile.
    assert!(
        rate > 400.0,
        "too few remote invalidations applied meanwhile: {rate:.0}/s"
    );
}

/// A named `TtlCache` that held a value before it was attached missed every invalidation made
/// meanwhile: attaching it drops what it held, so B does not serve the listing A invalidated
/// before B's attach.
fn a_late_attach_drops_what_the_cache_held(redis: &Redis) {
    let mut a = Replica::start("A", redis, FAST);
    let mut b = Replica::start("B", redis, FAST);
    a.version(1);
    b.version(1);
    let (held, _) = b.get("late", "u1");
    assert_eq!(held, "u1@v1");
    assert_eq!(a.ask("late_attach"), "ok");
    a.version(2);
    b.version(2);
    assert!(a.ask("inv late-group u1").starts_with("ok"));
    // B was not attached: the message did not reach its cache.
    assert_eq!(
        b.get("late", "u1").0,
        "u1@v1",
        "served from B's unattached cache"
    );
    assert_eq!(b.ask("late_attach"), "ok");
    let (after, _) = b.get("late", "u1");
    assert_eq!(
        after, "u1@v2",
        "B served a value invalidated before its attach"
    );
}

/// Three replicas with the tiered cache, `env` added.
fn tier_fleet(redis: &Redis, env: &[(&str, &str)]) -> [Replica; 3] {
    [
        Replica::start_with("A", redis, FAST, env),
        Replica::start_with("B", redis, FAST, env),
        Replica::start_with("C", redis, FAST, env),
    ]
}

/// `k0`..`k<n-1>` in an order drawn from `seed`, comma-separated.
fn shuffled(n: usize, seed: u64) -> String {
    let mut keys: Vec<usize> = (0..n).collect();
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    for i in (1..n).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = usize::try_from(state >> 33).expect("fits") % (i + 1);
        keys.swap(i, j);
    }
    keys.iter()
        .map(|k| format!("k{k}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Each replica of `fleet` reads `keys` keys of `kind` three times, in its own order, all at
/// once; the upstream calls each made, and each one's answer.
fn read_together(fleet: &mut [Replica], kind: &str, keys: usize, seed: u64) -> (u64, Vec<String>) {
    for (i, replica) in fleet.iter_mut().enumerate() {
        replica.send(&format!(
            "timed {kind} {} 3",
            shuffled(keys, seed * 10 + i as u64)
        ));
    }
    let answers: Vec<String> = fleet.iter_mut().map(|r| r.recv("timed")).collect();
    let calls = answers
        .iter()
        .map(|a| {
            a.split(' ')
                .nth(1)
                .and_then(|c| c.parse::<u64>().ok())
                .expect("calls")
        })
        .sum();
    (calls, answers)
}

/// The field `name` of an answer made of `name=value` words.
fn field(answer: &str, name: &str) -> u64 {
    answer
        .split(' ')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {answer}"))
}

/// Three replicas, one seeded workload on each (50 keys, each replica in its own order, all at
/// once), over two TTL periods: the upstream calls per key per TTL, with the tier and without
/// (the same workload on an attached cache without one); then a new replica's reads of the
/// same keys, all from the tier, timed.
fn replicas_share_what_they_fetch(redis: &Redis) {
    const KEYS: usize = 50;
    const TTL_MS: u64 = 2_000;
    let mut fleet = tier_fleet(redis, &[("TTL_BP_TIER_TTL_MS", "2000")]);
    let (mut shared, mut alone) = (0, 0);
    let mut late: Option<Replica> = None;
    for period in 0..2u64 {
        let started = Instant::now();
        if let Some(d) = &mut late {
            // The values D read from the tier expired when they did there, not a TTL after D
            // read them: D serves the upstream's new version.
            for replica in fleet.iter_mut().chain(std::iter::once(&mut *d)) {
                replica.version(2);
            }
            let (calls, values) = d.many("tiered", KEYS);
            assert!(
                values.iter().all(|v| v.ends_with("@v2")),
                "D served a value past its deadline in the tier: {values:?}"
            );
            shared += calls;
        }
        let (calls, answers) = read_together(&mut fleet, "tiered", KEYS, period);
        println!("  tiered, period {period}: {calls} upstream calls; {answers:?}");
        shared += calls;
        let (calls, _) = read_together(&mut fleet, "untiered", KEYS, period + 100);
        alone += calls;
        assert!(
            started.elapsed() < Duration::from_millis(TTL_MS / 2),
            "the workload outlasted half the TTL: {:?}",
            started.elapsed()
        );
        if period == 0 {
            // A new replica, started well into the TTL: the keys are in the tier, with less
            // than a TTL left.
            std::thread::sleep(Duration::from_millis(TTL_MS / 2).saturating_sub(started.elapsed()));
            let mut d = Replica::start_with("D", redis, FAST, &[("TTL_BP_TIER_TTL_MS", "2000")]);
            let answer = d.ask(&format!("timed tiered {} 1", shuffled(KEYS, 7)));
            println!("  a new replica's first reads (from the tier, in µs): {answer}");
            assert!(answer.starts_with("calls 0 "), "{answer}");
            assert_eq!(field(&d.ask("tier"), "hits"), KEYS as u64);
            late = Some(d);
        }
        // Past the TTL: every value has expired everywhere, in the tier too.
        std::thread::sleep(Duration::from_millis(TTL_MS + 100).saturating_sub(started.elapsed()));
    }
    let per_key = |calls: u64| calls as f64 / (KEYS as f64 * 2.0);
    println!(
        "  upstream calls per key per TTL, 3 replicas: {:.2} with the tier, {:.2} without",
        per_key(shared),
        per_key(alone)
    );
    for replica in &mut fleet {
        let tier = replica.ask("tier");
        println!("  {}: {tier}", replica.name);
    }
    assert!(
        per_key(shared) <= 1.05,
        "{} upstream calls for {KEYS} keys over 2 TTLs",
        shared
    );
}

/// Three replicas miss one cold key at once, the upstream taking 300 ms: one upstream call in
/// all (the others wait on the first one's lease); and when the lease's holder dies (kill -9)
/// with its fetch running, another replica fetches once the lease expires.
fn a_cold_key_is_fetched_once_across_replicas(redis: &Redis) {
    let mut fleet = tier_fleet(redis, &[("TTL_BP_TIER_LEASE_MS", "1000")]);
    for replica in &mut fleet {
        assert_eq!(replica.ask("slow 300"), "ok");
        replica.version(1);
    }
    for round in 0..3 {
        let user = format!("cold{round}");
        for replica in &mut fleet {
            replica.send(&format!("get tiered {user}"));
        }
        let answers: Vec<String> = fleet.iter_mut().map(|r| r.recv("get")).collect();
        let calls: u64 = fleet.iter_mut().map(|r| r.stat("calls")).sum();
        println!("  round {round}: {answers:?}, upstream calls in all: {calls}");
        assert_eq!(
            calls,
            round + 1,
            "one upstream call per cold key: {answers:?}"
        );
    }
    let [mut a, mut b, _c] = fleet;
    let before = b.stat("calls");
    assert_eq!(a.ask("slowget tiered dies"), "started");
    let _ = a.child.kill();
    let _ = a.child.wait();
    let started = Instant::now();
    let (value, calls) = b.get("tiered", "dies");
    let waited = started.elapsed();
    println!("  the lease's holder killed: B fetched after {waited:?}");
    assert_eq!(value, "dies@v1");
    assert_eq!(calls, before + 1, "B fetched the key itself");
    assert!(waited < Duration::from_millis(1000 + 1500), "{waited:?}");
}

/// The key `pattern` matches, the one there is.
fn only_key(redis: &Redis, pattern: &str) -> String {
    let keys = redis.command_lines(&["KEYS", pattern]);
    assert_eq!(keys.len(), 1, "{pattern}: {keys:?}");
    keys[0].clone()
}

/// A fetches u's v1 and holds it (its tier read took the key's lease, 300 ms); an
/// invalidation of u's group reaches Redis (its generation set as the backplane's script sets
/// it) but not A yet. B misses u, waits out A's lease, fetches v2 and writes it under the new
/// generation. Then A's fetch completes (its caller began before the invalidation and gets v1;
/// A, not told, stores it and writes it back under the old generation). The tier must refuse
/// A's write: B's v2 stays, and C, which never held u, reads it from the tier.
fn a_fetch_begun_before_an_invalidation_is_never_written_back(redis: &Redis) {
    let [mut a, mut b, mut c] = tier_fleet(redis, &[("TTL_BP_TIER_LEASE_MS", "300")]);
    for replica in [&mut a, &mut b, &mut c] {
        replica.version(1);
    }
    // A value written (the cache's tier life), then u's group invalidated once: its
    // generation's key exists.
    let _ = a.get("tiered", "w");
    poll(|| {
        !redis
            .command_lines(&["KEYS", "backplane-test:tier:*:life"])
            .is_empty()
    });
    assert!(b.ask("inv tiered-group u").starts_with("ok"));
    let generation = only_key(redis, "backplane-test:gen:*:g:*");
    assert_eq!(a.ask("slowget tiered u"), "started");
    redis.command(&["SET", &generation, "9999999999999-0", "PX", "3600000"]);
    b.version(2);
    c.version(3);
    assert_eq!(b.get("tiered", "u").0, "u@v2");
    poll(|| field(&b.ask("tier"), "writes") == 1);
    poll(|| {
        redis
            .command_lines(&["KEYS", "backplane-test:tier:*:v:*"])
            .len()
            == 2
    });
    assert_eq!(a.ask("release"), "val u@v1");
    // A's write sent (its second), and answered (on loopback, well within 300 ms).
    poll(|| field(&a.ask("tier"), "writes") == 2);
    std::thread::sleep(Duration::from_millis(300));
    let calls = c.stat("calls");
    assert_eq!(
        c.get("tiered", "u"),
        ("u@v2".to_owned(), calls),
        "C did not read B's value from the tier: A's write of a value fetched before the \
         invalidation replaced it"
    );
    assert_eq!(field(&a.ask("tier"), "writes_refused"), 1);
}

/// A value in the tier under the current generations; then the cache's generation is set in
/// Redis (an invalidation that reached Redis and no replica yet): a replica that never held the
/// value must not read it back.
fn a_value_invalidated_in_redis_is_never_read_back(redis: &Redis) {
    let [mut a, mut b, _c] = tier_fleet(redis, &[]);
    a.version(1);
    b.version(2);
    let _ = a.get("tiered", "r");
    poll(|| field(&a.ask("tier"), "writes") == 1);
    poll(|| {
        redis
            .command_lines(&["KEYS", "backplane-test:tier:*:v:*"])
            .len()
            == 1
    });
    let cache = format!(
        "backplane-test:gen:{}:backplane-test::tiered",
        "backplane-test::tiered".len()
    );
    redis.command(&["SET", &cache, "9999999999999-0", "PX", "3600000"]);
    let (value, _) = b.get("tiered", "r");
    assert_eq!(
        value, "r@v2",
        "B read back a value the generations no longer cover"
    );
}

/// Redis frozen (SIGSTOP): a miss on the tiered cache waits for the tier at most its timeout
/// (100 ms), then fetches; once the backplane is down, it does not ask the tier at all.
fn the_tier_never_blocks_a_call_past_its_timeout(redis: &Redis) {
    let [mut a, ..] = tier_fleet(redis, &[]);
    a.version(1);
    let _ = a.get("tiered", "warm");
    redis.signal("-STOP");
    let answer = a.ask("timed tiered f1,f2,f3 1");
    redis.signal("-CONT");
    println!("  three misses with Redis frozen: {answer}");
    let max: u64 = answer
        .split(' ')
        .nth(7)
        .and_then(|m| m.parse().ok())
        .expect("max");
    assert!(max < 400_000, "a call waited {max} µs for a frozen tier");
    let tier = a.ask("tier");
    assert!(
        field(&tier, "unavailable") + field(&tier, "skipped") >= 3,
        "{tier}"
    );
}

/// A value in the tier whose payload is not the cache's (garbage under a current tag): a miss,
/// counted, fetched, and written over.
fn garbage_in_the_tier_is_a_miss(redis: &Redis) {
    let [mut a, mut b, _c] = tier_fleet(redis, &[]);
    a.version(1);
    b.version(2);
    let _ = a.get("tiered", "g");
    poll(|| {
        redis
            .command_lines(&["KEYS", "backplane-test:tier:*:v:*"])
            .len()
            == 1
    });
    let key = only_key(redis, "backplane-test:tier:*:v:*");
    // The record is `tag \n window \n payload`: the payload is spoilt.
    let spoil =
        "local v = redis.call('GET', KEYS[1]) local nl = string.find(v, string.char(10), 1, true) \
                 nl = string.find(v, string.char(10), nl + 1, true) \
                 return redis.call('SET', KEYS[1], string.sub(v, 1, nl) .. 'garbage', 'KEEPTTL')";
    assert_eq!(
        redis.command(&["EVAL", spoil, "1", &key]).as_deref(),
        Some("+OK")
    );
    let (value, _) = b.get("tiered", "g");
    assert_eq!(value, "g@v2");
    let tier = b.ask("tier");
    assert_eq!(field(&tier, "undecodable"), 1, "{tier}");
    poll(|| field(&b.ask("tier"), "writes") == 1);
    let mut c = Replica::start("D", redis, FAST);
    c.version(3);
    assert_eq!(
        c.get("tiered", "g").0,
        "g@v2",
        "B's value written over the garbage"
    );
}

/// Polls `done` for up to 10 s.
fn poll(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "never happened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Each kind of invalidation (group, key, clear), made on B and delivered, bumps the tier's
/// generation it covers: C, which never held the value A wrote, fetches anew.
fn an_invalidation_anywhere_reaches_the_tier(redis: &Redis) {
    let [mut a, mut b, mut c] = tier_fleet(redis, &[]);
    for (round, kind) in ["tiered-group", "tiered-key", "tiered-clear"]
        .iter()
        .enumerate()
    {
        let user = format!("x{round}");
        for replica in [&mut a, &mut b, &mut c] {
            replica.version(1);
        }
        let writes = field(&a.ask("tier"), "writes");
        assert_eq!(a.get("tiered", &user).0, format!("{user}@v1"));
        poll(|| field(&a.ask("tier"), "writes") == writes + 1);
        for replica in [&mut a, &mut b, &mut c] {
            replica.version(2);
        }
        assert!(b.ask(&format!("inv {kind} {user}")).starts_with("ok"));
        assert_eq!(
            c.get("tiered", &user).0,
            format!("{user}@v2"),
            "C read back a value {kind} invalidated"
        );
    }
}

/// A runs as a user that may do everything but `XADD`, so that it cannot append to the log: its invalidations stay queued
/// (retried), while its heartbeat keeps it healthy and the tier answers. A invalidates a value
/// the tier holds; A's next miss must not read it back from the tier (Redis has not heard of
/// the invalidation).
fn a_miss_after_an_undelivered_invalidation_skips_the_tier(redis: &Redis) {
    let acl = [
        "ACL",
        "SETUSER",
        "nolog",
        "on",
        ">secret",
        "resetkeys",
        "~backplane-test:*",
        "resetchannels",
        "&backplane-test:*",
        "+@all",
        "-xadd",
    ];
    assert_eq!(redis.command(&acl).as_deref(), Some("+OK"));
    let url = format!("redis://nolog:secret@127.0.0.1:{}/", redis.port);
    let mut a = Replica::start_at("A", &url, FAST, &[]);
    a.version(1);
    assert_eq!(a.get("tiered", "q").0, "q@v1");
    poll(|| field(&a.ask("tier"), "writes") == 1);
    a.version(2);
    assert!(
        a.ask("inv tiered-group q").starts_with("err"),
        "the append is refused"
    );
    assert_eq!(
        a.get("tiered", "q").0,
        "q@v2",
        "A read back from the tier a value it had invalidated"
    );
    assert!(field(&a.ask("tier"), "skipped") >= 1);
}

/// With values shared up to 24 bytes encoded (13 of header): `u@v1` is shared, a long user's
/// value is not (counted), and the other replica fetches it itself.
fn a_value_over_the_size_limit_is_not_shared(redis: &Redis) {
    let env = [("TTL_BP_TIER_MAX_BYTES", "24")];
    let [mut a, mut b, _c] = tier_fleet(redis, &env);
    a.version(1);
    b.version(1);
    let long = "a-user-whose-listing-is-longer-than-the-limit";
    let _ = a.get("tiered", "u");
    let _ = a.get("tiered", long);
    let tier = a.ask("tier");
    assert_eq!(field(&tier, "too_large"), 1, "{tier}");
    assert_eq!(field(&tier, "writes"), 1, "{tier}");
    poll(|| {
        redis
            .command_lines(&["KEYS", "backplane-test:tier:*:v:*"])
            .len()
            == 1
    });
    let calls = b.stat("calls");
    assert_eq!(b.get("tiered", "u"), ("u@v1".to_owned(), calls), "shared");
    assert_eq!(
        b.get("tiered", long),
        (format!("{long}@v1"), calls + 1),
        "not shared: fetched by B itself"
    );
}
