//! An index whose records' types are erased: what a table off the hit path is built on, so that
//! scc's hash-table code is compiled once, in this crate, instead of once per cache key type
//! in every crate that uses a cache.
//!
//! A table keyed by a generic type (`HashIndex<GroupKey<G, N>, ..>`) is generic code: in a
//! release build, each crate that reaches it compiles its own copy of scc's lookup, insertion,
//! resizing and drop code for its key types (instantiations are not shared between crates).
//! Here the index holds `Arc<dyn Record>` under the hash each record was stored with (the maps
//! are pre-hashed: see `probe.rs`), and every operation is a non-generic function taking its
//! typed parts (a match, what to do under the bucket lock) as `dyn Fn`: the caller's generic
//! code compiles only those small closures, and downcasts what it gets back.
//!
//! The cost is a virtual call and a type check per record compared, only where the index is
//! used: never on a hit. [`Map`] is the same for a map from a record to another (the flights).

use std::any::Any;
use std::hash::{Hash, Hasher};
use std::mem::ManuallyDrop;
use std::sync::Arc;

use scc::hash_index::Entry;
use scc::{hash_map, Equivalent, HashIndex, HashMap};

use crate::engine::probe::PreHashed;

/// A record of an erased index: it knows the hash it is stored under and compares its key with
/// another record's.
pub(crate) trait Record: Any + Send + Sync {
    /// The hash the record is stored under.
    fn record_hash(&self) -> u64;
    /// Whether `other` (of any type) has the same key.
    fn same_key(&self, other: &dyn Record) -> bool;
}

/// `record` as its concrete type; `None` if it is another type (an index holds one type).
#[inline]
pub(crate) fn downcast<T: Record>(record: &dyn Record) -> Option<&T> {
    (record as &dyn Any).downcast_ref::<T>()
}

/// `record` as an `Arc` of its concrete type, which the index that gave it holds only.
pub(crate) fn downcast_arc<T: Record>(record: Arc<dyn Record>) -> Arc<T> {
    let any: Arc<dyn Any + Send + Sync> = record;
    match any.downcast::<T>() {
        Ok(record) => record,
        Err(_) => unreachable!("an erased index holds records of one type"),
    }
}

/// An index entry: the record itself, hashed by its stored hash and compared by its key.
struct Keyed(Arc<dyn Record>);

impl Hash for Keyed {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.record_hash());
    }
}

impl PartialEq for Keyed {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.same_key(&*other.0)
    }
}

impl Eq for Keyed {}

/// A lookup: the hash, and which record matches.
struct Find<'a> {
    hash: u64,
    matches: &'a dyn Fn(&dyn Record) -> bool,
}

impl Hash for Find<'_> {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl Equivalent<Keyed> for Find<'_> {
    #[inline]
    fn equivalent(&self, key: &Keyed) -> bool {
        (self.matches)(&*key.0)
    }
}

/// The erased index. Its map is dropped by its own `Drop`, out of line (see there).
pub(crate) struct Index {
    map: ManuallyDrop<HashIndex<Keyed, (), PreHashed>>,
}

impl Index {
    pub(crate) fn new() -> Self {
        Self {
            map: ManuallyDrop::new(HashIndex::with_hasher(PreHashed::default())),
        }
    }

    /// The record under `hash` that `matches`, after running `under` on it while its bucket
    /// is locked.
    #[inline(never)]
    pub(crate) fn find(
        &self,
        hash: u64,
        matches: &dyn Fn(&dyn Record) -> bool,
        under: &dyn Fn(&dyn Record),
    ) -> Option<Arc<dyn Record>> {
        let entry = self.map.get_sync(&Find { hash, matches })?;
        under(&*entry.key().0);
        Some(Arc::clone(&entry.key().0))
    }

    /// The record with `fresh`'s key, after running `under` on it while its bucket is locked,
    /// if there is one; else `fresh`, inserted.
    #[inline(never)]
    pub(crate) fn find_or_insert(
        &self,
        fresh: Arc<dyn Record>,
        under: &dyn Fn(&dyn Record),
    ) -> Arc<dyn Record> {
        match self.map.entry_sync(Keyed(Arc::clone(&fresh))) {
            Entry::Occupied(entry) => {
                under(&*entry.key().0);
                Arc::clone(&entry.key().0)
            }
            Entry::Vacant(entry) => {
                entry.insert_entry(());
                fresh
            }
        }
    }

    /// Removes the record under `hash` that `matches`, if `remove` (run while its bucket is
    /// locked) says so.
    #[inline(never)]
    pub(crate) fn remove_if(
        &self,
        hash: u64,
        matches: &dyn Fn(&dyn Record) -> bool,
        remove: &dyn Fn(&dyn Record) -> bool,
    ) {
        if let Some(entry) = self.map.get_sync(&Find { hash, matches }) {
            if remove(&*entry.key().0) {
                entry.remove_entry();
            }
        }
    }

    /// Every record.
    #[inline(never)]
    pub(crate) fn all(&self) -> Vec<Arc<dyn Record>> {
        let guard = scc::Guard::new();
        self.map
            .iter(&guard)
            .map(|(key, ())| Arc::clone(&key.0))
            .collect()
    }

    #[inline(never)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

impl Drop for Index {
    /// Out of line and not generic: an index is dropped by its cache's drop glue, which is
    /// compiled in every crate that drops a cache; scc's drop code is compiled once, here.
    #[inline(never)]
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: `map` is dropped once, here, and nothing reads it afterwards: `self` is
        // being dropped, and `Drop::drop` runs once.
        unsafe {
            ManuallyDrop::drop(&mut self.map);
        }
    }
}

/// What to do with a [`Map`] entry, decided while its bucket is locked.
pub(crate) enum Then {
    /// Leave the entry as it is (or absent).
    Keep,
    /// Give the entry this value, inserting it if absent.
    Put(Arc<dyn Record>),
    /// Remove the entry, if present.
    Remove,
}

/// What decides a [`Map`] entry's fate, given its value (`None`: absent).
pub(crate) type Decide<'a> = &'a mut dyn FnMut(Option<&Arc<dyn Record>>) -> Then;

/// An erased map from a record (the entry's key: the record that created it) to a record (its
/// value, which may be replaced). Dropped out of line, like [`Index`].
pub(crate) struct Map {
    map: ManuallyDrop<HashMap<Keyed, Arc<dyn Record>, PreHashed>>,
}

impl Map {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            map: ManuallyDrop::new(HashMap::with_capacity_and_hasher(
                capacity,
                PreHashed::default(),
            )),
        }
    }

    /// Locks the entry of `key`'s key, present or not, runs `decide` on its value and does
    /// what it says. Returns the value replaced or removed, if any.
    #[inline(never)]
    pub(crate) fn entry(
        &self,
        key: Arc<dyn Record>,
        decide: Decide<'_>,
    ) -> Option<Arc<dyn Record>> {
        match self.map.entry_sync(Keyed(key)) {
            hash_map::Entry::Occupied(entry) => Self::apply(entry, decide),
            hash_map::Entry::Vacant(entry) => {
                if let Then::Put(value) = decide(None) {
                    entry.insert_entry(value);
                }
                None
            }
        }
    }

    /// Locks the entry under `hash` whose key `matches`, if any, runs `decide` on its value
    /// (`None` if there is no such entry: nothing is inserted then) and does what it says.
    /// Returns the value replaced or removed, if any.
    #[inline(never)]
    pub(crate) fn find(
        &self,
        hash: u64,
        matches: &dyn Fn(&dyn Record) -> bool,
        decide: Decide<'_>,
    ) -> Option<Arc<dyn Record>> {
        match self.map.get_sync(&Find { hash, matches }) {
            Some(entry) => Self::apply(entry, decide),
            None => {
                decide(None);
                None
            }
        }
    }

    fn apply(
        mut entry: hash_map::OccupiedEntry<'_, Keyed, Arc<dyn Record>, PreHashed>,
        decide: Decide<'_>,
    ) -> Option<Arc<dyn Record>> {
        match decide(Some(entry.get())) {
            Then::Keep => None,
            Then::Put(value) => Some(entry.insert(value)),
            Then::Remove => Some(entry.remove_entry().1),
        }
    }

    #[inline(never)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

impl Drop for Map {
    /// Out of line and not generic, like [`Index`]'s.
    #[inline(never)]
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: `map` is dropped once, here, and nothing reads it afterwards: `self` is
        // being dropped, and `Drop::drop` runs once.
        unsafe {
            ManuallyDrop::drop(&mut self.map);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named {
        name: &'static str,
        hash: u64,
    }

    impl Record for Named {
        fn record_hash(&self) -> u64 {
            self.hash
        }
        fn same_key(&self, other: &dyn Record) -> bool {
            downcast::<Self>(other).is_some_and(|other| other.name == self.name)
        }
    }

    fn named(name: &'static str, hash: u64) -> Arc<dyn Record> {
        Arc::new(Named { name, hash })
    }

    fn is(name: &'static str) -> impl Fn(&dyn Record) -> bool {
        move |record| downcast::<Named>(record).is_some_and(|r| r.name == name)
    }

    #[test]
    fn records_are_found_by_hash_and_key_inserted_once_and_removed_on_request() {
        let index = Index::new();
        // Two keys under one hash: told apart by their key.
        let a = index.find_or_insert(named("a", 7), &|_| panic!("a is new"));
        let b = index.find_or_insert(named("b", 7), &|_| panic!("b is new"));
        assert_eq!(index.len(), 2);
        let seen = std::cell::Cell::new(0);
        let again = index.find_or_insert(named("a", 7), &|_| seen.set(seen.get() + 1));
        assert!(Arc::ptr_eq(&again, &a));
        assert_eq!((seen.get(), index.len()), (1, 2));
        let found = index.find(7, &is("b"), &|_| seen.set(seen.get() + 1));
        assert!(found.is_some_and(|found| Arc::ptr_eq(&found, &b)));
        assert_eq!(seen.get(), 2);
        assert!(index.find(8, &is("b"), &|_| {}).is_none());
        assert_eq!(downcast_arc::<Named>(b).name, "b");
        index.remove_if(7, &is("a"), &|_| false);
        assert_eq!(index.len(), 2);
        index.remove_if(7, &is("a"), &|_| true);
        assert_eq!(index.len(), 1);
        assert!(index.find(7, &is("a"), &|_| {}).is_none());
        assert_eq!(index.all().len(), 1);
    }

    #[test]
    fn a_map_entry_is_decided_under_its_lock() {
        let map = Map::with_capacity(4);
        let first = named("a", 3);
        let put = |value: &Arc<dyn Record>| {
            let value = Arc::clone(value);
            move |_: Option<&Arc<dyn Record>>| Then::Put(Arc::clone(&value))
        };
        // Absent: inserted, nothing returned.
        assert!(map.entry(Arc::clone(&first), &mut put(&first)).is_none());
        assert_eq!(map.len(), 1);
        // Present under an equal key: replaced, the old value returned.
        let second = named("a", 3);
        let old = map.entry(Arc::clone(&second), &mut put(&second));
        assert!(old.is_some_and(|old| Arc::ptr_eq(&old, &first)));
        assert_eq!(map.len(), 1);
        // Found by hash and key: kept, then removed.
        let mut seen = None;
        let kept = map.find(3, &is("a"), &mut |value| {
            seen = value.map(Arc::clone);
            Then::Keep
        });
        assert!(kept.is_none());
        assert!(seen.is_some_and(|seen| Arc::ptr_eq(&seen, &second)));
        let mut absent = false;
        map.find(4, &is("a"), &mut |value| {
            absent = value.is_none();
            Then::Put(named("x", 4))
        });
        assert!(absent);
        assert_eq!(map.len(), 1);
        let removed = map.find(3, &is("a"), &mut |_| Then::Remove);
        assert!(removed.is_some_and(|removed| Arc::ptr_eq(&removed, &second)));
        assert_eq!(map.len(), 0);
    }
}
