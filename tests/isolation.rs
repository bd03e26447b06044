//! Keys are structured values, never joined strings: no collision across separators, no prefix
//! over-match on invalidation.

use std::time::Duration;

use cache_core::TtlCache;

fn tuple_cache() -> TtlCache<(String, String), String, String> {
    TtlCache::builder()
        .ttl(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

#[tokio::test]
async fn separators_inside_parts_do_not_make_keys_collide() {
    let cache = tuple_cache();
    // "a:b" + "c" and "a" + "b:c" would both be "a:b:c" as a joined string.
    let first = cache
        .get_with(&pair("a:b", "c"), "f", || async { "user a:b".to_string() })
        .await;
    let second = cache
        .get_with(&pair("a", "b:c"), "f", || async { "user a".to_string() })
        .await;
    assert_eq!(first, "user a:b");
    assert_eq!(second, "user a", "a different key, fetched on its own");
    assert_eq!(cache.len(), 2);
    assert_eq!(
        cache.get(&pair("a:b", "c"), "f").as_deref(),
        Some("user a:b")
    );
}

#[tokio::test]
async fn invalidating_a_group_does_not_touch_a_group_it_prefixes() {
    let cache = tuple_cache();
    cache
        .get_with(&pair("u1", "box"), "f", || async { "box".to_string() })
        .await;
    cache
        .get_with(&pair("u1", "boxnote"), "f", || async {
            "boxnote".to_string()
        })
        .await;
    cache
        .get_with(&pair("u10", "box"), "f", || async { "u10".to_string() })
        .await;
    assert_eq!(cache.invalidate_group(&pair("u1", "box")).await, 1);
    assert_eq!(
        cache.get(&pair("u1", "boxnote"), "f").as_deref(),
        Some("boxnote")
    );
    assert_eq!(cache.get(&pair("u10", "box"), "f").as_deref(), Some("u10"));
    assert_eq!(cache.get(&pair("u1", "box"), "f"), None);
}

#[tokio::test]
async fn the_rest_part_is_structured_too() {
    let cache: TtlCache<String, (String, String), u32> = TtlCache::builder()
        .ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    cache.get_with("u", &pair("x:y", "z"), || async { 1 }).await;
    cache.get_with("u", &pair("x", "y:z"), || async { 2 }).await;
    assert_eq!(cache.get("u", &pair("x:y", "z")), Some(1));
    assert_eq!(cache.get("u", &pair("x", "y:z")), Some(2));
}

#[tokio::test]
async fn borrowed_tuples_find_owned_tuple_keys_without_mixing_them_up() {
    use cache_core::Borrowed;
    let cache = tuple_cache();
    cache
        .get_with(&Borrowed(("a:b", "c")), "f", || async {
            "ab-c".to_string()
        })
        .await;
    cache
        .get_with(&Borrowed(("a", "b:c")), "f", || async {
            "a-bc".to_string()
        })
        .await;
    assert_eq!(cache.get(&pair("a:b", "c"), "f").as_deref(), Some("ab-c"));
    assert_eq!(
        cache.get(&Borrowed(("a", "b:c")), "f").as_deref(),
        Some("a-bc")
    );
    assert_eq!(cache.invalidate_group(&Borrowed(("a", "b:c"))).await, 1);
    assert_eq!(
        cache.get(&Borrowed(("a:b", "c")), "f").as_deref(),
        Some("ab-c")
    );
}
