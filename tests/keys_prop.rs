//! Property tests: keys are injective (two different keys never share an entry) and group
//! invalidation is exact (it removes every entry of the group and nothing else), for the runtime
//! (`TtlCache<(String, String), String, _>`) and for a `#[ttl_cached]` function with a 3-part key
//! and a 2-part group.
//!
//! Key parts are drawn to be hostile to string-joined keys: the separator `:` inside parts, empty
//! parts, non-ASCII characters, one part a prefix of another (`("u1", "box")` and
//! `("u1", "boxnote")`), and the same joined string split at different separators
//! (`("a:b", "c")` and `("a", "b:c")`).
//!
//! 256 cases per property by default; `TTL_CACHED_SOAK=1` runs 5 000.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use cache_core::{ttl_cached, Borrowed, TtlCache};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;

type Triple = (String, String, String);

fn config() -> Config {
    let soak = std::env::var("TTL_CACHED_SOAK").is_ok_and(|v| v == "1");
    Config {
        // Shrunk counterexamples are printed; nothing is written next to the sources.
        failure_persistence: None,
        ..Config::with_cases(if soak { 5_000 } else { 256 })
    }
}

/// A key part: short strings over an alphabet with the separator and non-ASCII characters, so
/// that empty parts, separators inside parts and prefixes come up often.
fn part() -> impl Strategy<Value = String> {
    "[ab:é日]{0,4}"
}

/// `joined` split into `n` parts at separators (`n - 1` of its `:`), every way there is.
fn splits(joined: &str, n: usize) -> Vec<Vec<String>> {
    let seps: Vec<usize> = joined.match_indices(':').map(|(i, _)| i).collect();
    let mut out = Vec::new();
    let mut choose = |cuts: &[usize]| {
        let mut parts = Vec::new();
        let mut from = 0;
        for &cut in cuts {
            parts.push(joined[from..cut].to_string());
            from = cut + 1;
        }
        parts.push(joined[from..].to_string());
        out.push(parts);
    };
    match n {
        2 => {
            for &i in &seps {
                choose(&[i]);
            }
        }
        3 => {
            for (x, &i) in seps.iter().enumerate() {
                for &j in &seps[x + 1..] {
                    choose(&[i, j]);
                }
            }
        }
        _ => unreachable!("two or three parts"),
    }
    out
}

/// A set of keys: random triples, plus keys that a joined string would confuse with them.
fn keys() -> impl Strategy<Value = Vec<Triple>> {
    (
        proptest::collection::vec((part(), part(), part()), 1..6),
        "[ab:é]{0,7}",
        "[ab]{1,2}",
    )
        .prop_map(|(mut keys, joined, suffix)| {
            // The same joined string split differently: ("a:b", "c", f) vs ("a", "b:c", f).
            for split in splits(&joined, 2) {
                keys.push((split[0].clone(), split[1].clone(), "f".to_string()));
            }
            for split in splits(&joined, 3) {
                keys.push((split[0].clone(), split[1].clone(), split[2].clone()));
            }
            // Prefixes: ("u1", "box") and ("u1", "boxnote").
            let (u, p, f) = keys[0].clone();
            keys.push((u.clone(), format!("{p}{suffix}"), f.clone()));
            keys.push((format!("{u}{suffix}"), p, f));
            keys
        })
}

/// The value a key's fetch returns: the key itself, quoted, so two keys never share a value.
fn label(a: &str, b: &str, c: &str) -> String {
    format!("{a:?}|{b:?}|{c:?}")
}

/// Runs one case on a fresh runtime; a case that hangs fails after 30 s.
fn run_case<F>(case: F) -> Result<(), TestCaseError>
where
    F: std::future::Future<Output = Result<(), TestCaseError>>,
{
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(30), case)
                .await
                .unwrap_or_else(|_| Err(TestCaseError::fail("the case hung for 30 s")))
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn runtime_keys_are_injective_and_group_invalidation_exact(keys in keys(), pick in any::<Index>()) {
        run_case(async {
            let cache: TtlCache<(String, String), String, String> = TtlCache::builder()
                .ttl(Duration::from_secs(600))
                .capacity(1_000)
                .build()
                .unwrap();
            let distinct: BTreeSet<Triple> = keys.iter().cloned().collect();
            for (u, p, f) in &keys {
                let got = cache
                    .get_with(&Borrowed((u.as_str(), p.as_str())), f.as_str(), || async {
                        label(u, p, f)
                    })
                    .await;
                prop_assert_eq!(got, label(u, p, f), "a key was served another key's value");
            }
            prop_assert_eq!(cache.len(), distinct.len(), "distinct keys, distinct entries");
            for (u, p, f) in &distinct {
                let got = cache.get(&Borrowed((u.as_str(), p.as_str())), f.as_str());
                prop_assert_eq!(got, Some(label(u, p, f)));
            }

            let (gu, gp, _) = pick.get(&keys).clone();
            let in_group = distinct.iter().filter(|(u, p, _)| *u == gu && *p == gp).count();
            let removed = cache
                .invalidate_group(&Borrowed((gu.as_str(), gp.as_str())))
                .await;
            prop_assert_eq!(removed, in_group, "removed exactly the group's entries");
            prop_assert_eq!(cache.len(), distinct.len() - in_group);
            for (u, p, f) in &distinct {
                let got = cache.get(&Borrowed((u.as_str(), p.as_str())), f.as_str());
                if *u == gu && *p == gp {
                    prop_assert_eq!(got, None, "an entry of the invalidated group survived");
                } else {
                    prop_assert_eq!(
                        got,
                        Some(label(u, p, f)),
                        "invalidating ({:?}, {:?}) removed an entry of another group",
                        gu,
                        gp
                    );
                }
            }
            Ok(())
        })?;
    }
}

/// Runs of `three`'s body.
static RUNS: AtomicUsize = AtomicUsize::new(0);

#[ttl_cached(ttl = 600, capacity = 1_000, key = "<a>:<b>:<c>", group = "<a>:<b>")]
async fn three(a: &str, b: &str, c: &str) -> String {
    RUNS.fetch_add(1, SeqCst);
    label(a, b, c)
}

/// Calls `three` and reports whether its body ran.
async fn call_three(a: &str, b: &str, c: &str) -> (String, bool) {
    let before = RUNS.load(SeqCst);
    let got = three(a, b, c).await;
    (got, RUNS.load(SeqCst) != before)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn macro_keys_are_injective_and_group_invalidation_exact(keys in keys(), pick in any::<Index>()) {
        run_case(async {
            // One cache for the whole binary, and cases run one after another: start empty.
            let _ = three_cache().clear().await;
            let distinct: BTreeSet<Triple> = keys.iter().cloned().collect();
            let mut seen = BTreeSet::new();
            for (a, b, c) in &keys {
                let (got, ran) = call_three(a, b, c).await;
                prop_assert_eq!(got, label(a, b, c), "a key was served another key's value");
                let first = seen.insert((a.clone(), b.clone(), c.clone()));
                prop_assert_eq!(ran, first, "the body runs once per distinct key, only then");
            }
            prop_assert_eq!(three_cache().len(), distinct.len());

            let (ga, gb, _) = pick.get(&keys).clone();
            let in_group = distinct.iter().filter(|(a, b, _)| *a == ga && *b == gb).count();
            let removed = invalidate_three(&ga, &gb).await;
            prop_assert_eq!(removed, in_group, "removed exactly the group's entries");
            for (a, b, c) in &distinct {
                let (got, ran) = call_three(a, b, c).await;
                prop_assert_eq!(got, label(a, b, c));
                let in_it = *a == ga && *b == gb;
                prop_assert_eq!(
                    ran,
                    in_it,
                    "after invalidate_three({:?}, {:?}): key ({:?}, {:?}, {:?}) {}",
                    ga,
                    gb,
                    a,
                    b,
                    c,
                    if in_it { "was still cached" } else { "was evicted" }
                );
            }
            Ok(())
        })?;
    }
}
