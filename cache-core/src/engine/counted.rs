//! For the tests of values' lifetimes (`slot.rs`, `node.rs`): a value that counts its live
//! copies in one process-wide count, and the lock under which the tests that read the count
//! run one at a time.

use std::sync::atomic::{AtomicIsize, Ordering::SeqCst};
use std::sync::Mutex;

/// Live copies of [`Counted`] values.
pub(crate) static LIVE: AtomicIsize = AtomicIsize::new(0);

/// Held by every test that reads [`LIVE`].
pub(crate) static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A value that counts its live copies in [`LIVE`].
#[derive(Debug)]
pub(crate) struct Counted(pub(crate) u64);

impl Counted {
    pub(crate) fn new(n: u64) -> Self {
        LIVE.fetch_add(1, SeqCst);
        Self(n)
    }
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        Self::new(self.0)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, SeqCst);
    }
}
