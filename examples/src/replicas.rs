//! `replicas`: two replicas of a service, one Redis backplane, and a credential rotation.
//!
//! Each replica is a process of its own (this binary, started again with `REPLICA=A` or `B`)
//! with an in-memory `#[ttl_cached]` cache of folder listings. The upstream is shared: a
//! directory of credential files. The coordinator (this process) starts a `redis-server` of its
//! own on a free loopback port, then:
//!
//! 1. both replicas cache user u1's listing, fetched with credential v1;
//! 2. the credentials rotate on A, which invalidates: B stops serving the old listing within
//!    the propagation delay (measured);
//! 3. Redis is killed: both replicas notice, serve nothing they hold (every call fetches), and
//!    a rotation made meanwhile is still never served stale; A's invalidation reports that it
//!    is not published yet (it stays queued, retried until Redis is back);
//! 4. Redis comes back empty (it keeps no data here): its invalidation log has a new epoch, so
//!    both replicas know they cannot replay what they missed, clear their caches, resubscribe
//!    and cache again. (With a Redis that keeps its data, they would replay the log and keep
//!    every listing nobody invalidated: see the README's backplane section.)
//! 5. Sharing across replicas: both replicas browse the same 20 folders of one user, first
//!    through a cached function of their own (each fetches every folder), then through one with
//!    `shared_tier = true` (feature `redis-tier`: what one replica fetched, the other reads from
//!    Redis).
//!
//! Run: `cargo run --release -p ttl-cached-examples --bin replicas` (needs `redis-server` on
//! the PATH, e.g. `apt-get install redis-server`).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use cache_core::backplane::{self, BackplaneOptions, Health};
use cache_core::ttl_cached;

/// Upstream calls this replica made.
static UPSTREAM_CALLS: AtomicU64 = AtomicU64::new(0);

fn credentials_dir() -> PathBuf {
    PathBuf::from(std::env::var("CREDENTIALS_DIR").expect("set by the coordinator"))
}

/// The listing, as the provider returns it with the user's current credential.
#[ttl_cached(ttl = 3600, group = "<user>")]
async fn list_folders(user: &str) -> String {
    UPSTREAM_CALLS.fetch_add(1, SeqCst);
    let credential = std::fs::read_to_string(credentials_dir().join(user)).unwrap_or_default();
    format!("listing-of-{user}-with-credential-{}", credential.trim())
}

/// A folder's listing, as the provider returns it (the same on every replica).
async fn fetch_folder(user: &str, folder: u32) -> String {
    UPSTREAM_CALLS.fetch_add(1, SeqCst);
    format!("{user}/folder-{folder}")
}

/// Folder listings by (user, folder), in a cache of this replica's own.
#[ttl_cached(ttl = 60, key = "<user>:<folder>", group = "<user>")]
async fn own_folder(user: &str, folder: u32) -> String {
    fetch_folder(user, folder).await
}

/// The same, sharing what it fetches with the other replicas through Redis (feature
/// `redis-tier`): a miss reads the tier before calling the provider.
#[ttl_cached(
    ttl = 60,
    key = "<user>:<folder>",
    group = "<user>",
    shared_tier = true
)]
async fn shared_folder(user: &str, folder: u32) -> String {
    fetch_folder(user, folder).await
}

/// A replica: installs the backplane, then answers one command per line.
fn replica(name: &str) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let url = std::env::var("REDIS_URL").expect("set by the coordinator");
    runtime.block_on(async {
        let options = BackplaneOptions::default()
            .prefix("replicas-example")
            .heartbeat(Duration::from_millis(200), Duration::from_millis(800))
            .replica_id(name);
        backplane::install(&url, options).expect("a valid URL");
    });
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let answer = runtime.block_on(async {
            match line.split_once(' ') {
                Some(("list", user)) => {
                    let listing = list_folders(user).await;
                    format!("{listing} upstream_calls={}", UPSTREAM_CALLS.load(SeqCst))
                }
                Some(("rotated", user)) => match invalidate_list_folders(user).published().await {
                    Ok(n) => {
                        format!("invalidated {n} entries here, published to the other replicas")
                    }
                    Err(e) => format!("invalidated here; {e}"),
                },
                Some(("await", rest)) => {
                    // Serves from the cache until the invalidation arrives.
                    let (user, credential) = rest.split_once(' ').expect("user and credential");
                    let deadline = Instant::now() + Duration::from_secs(10);
                    let mut stale_answers = 0;
                    loop {
                        let listing = list_folders(user).await;
                        if listing.ends_with(credential) || Instant::now() > deadline {
                            break format!("{listing} after {stale_answers} stale answers");
                        }
                        stale_answers += 1;
                        tokio::task::yield_now().await;
                    }
                }
                // `browse own|shared USER N`: folders 0..N of USER; the upstream calls they made.
                Some(("browse", rest)) => {
                    let mut words = rest.split(' ');
                    let shared = words.next() == Some("shared");
                    let user = words.next().expect("a user").to_owned();
                    let n: u32 = words.next().and_then(|n| n.parse().ok()).expect("a count");
                    let before = UPSTREAM_CALLS.load(SeqCst);
                    for folder in 0..n {
                        if shared {
                            shared_folder(&user, folder).await;
                        } else {
                            own_folder(&user, folder).await;
                        }
                    }
                    format!("upstream_calls={}", UPSTREAM_CALLS.load(SeqCst) - before)
                }
                Some(("health", want)) => {
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while format!("{:?}", backplane::health()) != want && Instant::now() < deadline
                    {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    format!("{:?}", backplane::health())
                }
                _ => format!("unknown command {line}"),
            }
        });
        println!("@@ {answer}");
    }
}

struct Replica {
    name: &'static str,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Replica {
    fn start(name: &'static str, url: &str, dir: &std::path::Path) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("this binary"))
            .env("REPLICA", name)
            .env("REDIS_URL", url)
            .env("CREDENTIALS_DIR", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("a replica starts");
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        Self {
            name,
            child,
            stdin,
            stdout,
        }
    }

    fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").expect("the replica reads");
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                self.stdout
                    .read_line(&mut line)
                    .expect("the replica writes")
                    > 0
            );
            if let Some(answer) = line.trim_end().strip_prefix("@@ ") {
                println!("  {} <- {command:<12} -> {answer}", self.name);
                return answer.to_owned();
            }
        }
    }

    fn calls(&mut self, user: &str) -> (String, u64) {
        let answer = self.ask(&format!("list {user}"));
        let (listing, calls) = answer.split_once(" upstream_calls=").expect("an answer");
        (listing.to_owned(), calls.parse().expect("a count"))
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_redis(port: u16) -> Child {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server on the PATH (apt-get install redis-server)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

fn check(ok: bool, what: &str, failures: &mut u32) {
    println!("  [{}] {what}", if ok { "ok" } else { "FAILED" });
    if !ok {
        *failures += 1;
    }
}

fn main() -> ExitCode {
    if let Ok(name) = std::env::var("REPLICA") {
        replica(&name);
        return ExitCode::SUCCESS;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("redis://127.0.0.1:{port}/");
    let dir = std::env::temp_dir().join(format!("replicas-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let rotate = |credential: &str| std::fs::write(dir.join("u1"), credential).expect("written");
    let mut failures = 0;

    let mut redis = start_redis(port);
    rotate("v1");
    let mut a = Replica::start("A", &url, &dir);
    let mut b = Replica::start("B", &url, &dir);
    a.ask("health Healthy");
    b.ask("health Healthy");

    println!("\n1. Both replicas cache u1's listing (credential v1).");
    a.calls("u1");
    b.calls("u1");
    let (listing, before) = b.calls("u1");
    let (_, after) = b.calls("u1");
    check(
        listing.ends_with("v1") && after == before,
        "B serves v1 from its cache",
        &mut failures,
    );

    println!("\n2. u1's credentials rotate; A handles it and invalidates.");
    rotate("v2");
    let (stale, _) = b.calls("u1");
    println!("  (before the invalidation, B still has {stale})");
    // B keeps asking its cache while A invalidates: the answers it gives before the message
    // arrives are the propagation window.
    writeln!(b.stdin, "await u1 v2").expect("B reads");
    let started = Instant::now();
    a.ask("rotated u1");
    let mut line = String::new();
    while !line.starts_with("@@ ") {
        line.clear();
        assert!(b.stdout.read_line(&mut line).expect("B writes") > 0);
    }
    println!(
        "  B <- await u1 v2  -> {}",
        line.trim_end().trim_start_matches("@@ ")
    );
    println!(
        "  B served the new listing within {:.1?} of A's invalidation (pipe round trips included)",
        started.elapsed()
    );
    check(
        line.contains("credential-v2 "),
        "the invalidation crossed over to B",
        &mut failures,
    );

    println!("\n3. Redis goes away.");
    redis.kill().expect("killed");
    redis.wait().expect("reaped");
    check(
        a.ask("health Down") == "Down" && b.ask("health Down") == "Down",
        "both replicas noticed and closed their caches",
        &mut failures,
    );
    let (_, before) = b.calls("u1");
    rotate("v3");
    let published = a.ask("rotated u1");
    check(
        published.contains("not published"),
        "A's invalidation reports that it is not published yet (queued)",
        &mut failures,
    );
    let (listing, _) = b.calls("u1");
    let (_, after) = b.calls("u1");
    check(
        listing.ends_with("v3"),
        "B never serves the rotated-away listing, though A's message was lost",
        &mut failures,
    );
    check(
        after == before + 2,
        "during the outage every call goes upstream (the cost of failing closed)",
        &mut failures,
    );

    println!("\n4. Redis comes back.");
    redis = start_redis(port);
    check(
        a.ask("health Healthy") == "Healthy" && b.ask("health Healthy") == "Healthy",
        "both replicas resubscribed",
        &mut failures,
    );
    let (_, before) = b.calls("u1");
    let (listing, after) = b.calls("u1");
    check(
        listing.ends_with("v3") && after == before,
        "B caches again",
        &mut failures,
    );

    println!("\n5. Sharing across replicas: A, then B, browse u2's 20 folders.");
    let browse = |replica: &mut Replica, how: &str| -> u64 {
        let answer = replica.ask(&format!("browse {how} u2 20"));
        answer
            .strip_prefix("upstream_calls=")
            .and_then(|n| n.parse().ok())
            .expect("a count")
    };
    let own = browse(&mut a, "own") + browse(&mut b, "own");
    let shared_a = browse(&mut a, "shared");
    let shared_b = browse(&mut b, "shared");
    println!("  | cache | upstream calls for 20 folders on 2 replicas |");
    println!("  |---|---|");
    println!("  | each replica's own | {own} |");
    println!(
        "  | shared tier | {} (A {shared_a}, B {shared_b}: B read A's from Redis) |",
        shared_a + shared_b
    );
    check(
        own == 40,
        "without the tier, each replica fetched every folder",
        &mut failures,
    );
    check(
        shared_a == 20 && shared_b == 0,
        "with the tier, B made no upstream call",
        &mut failures,
    );

    drop((a, b));
    let _ = redis.kill();
    let _ = redis.wait();
    let _ = std::fs::remove_dir_all(&dir);
    if failures == 0 {
        println!("\nall checks passed");
        ExitCode::SUCCESS
    } else {
        println!("\n{failures} checks FAILED");
        ExitCode::FAILURE
    }
}

// `Health` is named in the commands as its `Debug` form.
const _: fn() -> Health = backplane::health;
