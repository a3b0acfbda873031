//! An open-addressing index from a 32-bit hash to a `u32` slot of the caller's own arrays (the
//! sensor's flow table, racluster's groups), and the 2 MiB-page vectors such tables live in.
//! The index holds no keys: a lookup compares the caller's key at each slot whose hash matches,
//! and [`Index::candidate`] names the slot a lookup will most likely compare, so a caller can
//! prefetch it a few lookups ahead.

use crate::prefetch::prefetch;

const EMPTY: u64 = u64::MAX;

/// Open-addressing index from key hash to slab slot: one `u64` per bucket (hash in the high
/// half, slot in the low half), linear probing, at most half full, backward-shift deletion (no
/// tombstones). Eight buckets share a cache line, so a lookup costs one line of the index plus
/// the key it compares.
pub(crate) struct Index {
    buckets: Vec<u64>,
    mask: usize,
    len: usize,
}

impl Index {
    pub(crate) fn with_buckets(n: usize) -> Index {
        let mut buckets = huge_vec(n);
        buckets.resize(n, EMPTY);
        Index {
            buckets,
            mask: n - 1,
            len: 0,
        }
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    fn home(&self, h: u32) -> usize {
        h as usize & self.mask
    }

    #[inline(always)]
    pub(crate) fn prefetch(&self, h: u32) {
        prefetch(&self.buckets[self.home(h)]);
    }

    #[inline]
    pub(crate) fn find(&self, h: u32, mut is_key: impl FnMut(u32) -> bool) -> Option<u32> {
        let mut i = self.home(h);
        loop {
            let b = self.buckets[i];
            if b == EMPTY {
                return None;
            }
            if (b >> 32) as u32 == h && is_key(b as u32) {
                return Some(b as u32);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Where a lookup of `h` would find its flow, without comparing keys (a prefetch hint).
    #[inline]
    pub(crate) fn candidate(&self, h: u32) -> Option<u32> {
        let mut i = self.home(h);
        loop {
            let b = self.buckets[i];
            if b == EMPTY {
                return None;
            }
            if (b >> 32) as u32 == h {
                return Some(b as u32);
            }
            i = (i + 1) & self.mask;
        }
    }

    pub(crate) fn insert(&mut self, h: u32, slot: u32) {
        if (self.len + 1) * 2 > self.buckets.len() {
            self.grow();
        }
        self.place(((h as u64) << 32) | slot as u64);
        self.len += 1;
    }

    fn place(&mut self, b: u64) {
        let mut i = self.home((b >> 32) as u32);
        while self.buckets[i] != EMPTY {
            i = (i + 1) & self.mask;
        }
        self.buckets[i] = b;
    }

    fn grow(&mut self) {
        let mut bigger = huge_vec(self.buckets.len() * 2);
        bigger.resize(self.buckets.len() * 2, EMPTY);
        let old = std::mem::replace(&mut self.buckets, bigger);
        self.mask = self.buckets.len() - 1;
        for b in old.into_iter().filter(|&b| b != EMPTY) {
            self.place(b);
        }
    }

    pub(crate) fn remove(&mut self, h: u32, slot: u32) {
        let want = ((h as u64) << 32) | slot as u64;
        let mut i = self.home(h);
        loop {
            let b = self.buckets[i];
            if b == EMPTY {
                return;
            }
            if b == want {
                break;
            }
            i = (i + 1) & self.mask;
        }
        self.len -= 1;
        // Backward shift: pull later members of the cluster into the hole when their home
        // position allows it.
        let mut hole = i;
        let mut j = (i + 1) & self.mask;
        loop {
            let b = self.buckets[j];
            if b == EMPTY {
                break;
            }
            let home = self.home((b >> 32) as u32);
            // Can `b` (at j, home `home`) move back to `hole`? Only if `hole` lies cyclically
            // in [home, j).
            let dist_hole = hole.wrapping_sub(home) & self.mask;
            let dist_j = j.wrapping_sub(home) & self.mask;
            if dist_hole < dist_j {
                self.buckets[hole] = b;
                hole = j;
            }
            j = (j + 1) & self.mask;
        }
        self.buckets[hole] = EMPTY;
    }
}

/// Ask the kernel to back a large table with 2 MiB pages: a flow table spans tens of MiB, and
/// with 4 KiB pages nearly every flow access would also miss the TLB. Called when a vector has
/// grown (its buffer moved); a no-op for small tables and where unsupported.
pub(crate) fn advise_huge<T>(v: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = v.as_ptr() as usize;
        let len = v.capacity() * std::mem::size_of::<T>();
        let from = (start + HUGE - 1) & !(HUGE - 1);
        let to = (start + len) & !(HUGE - 1);
        if to > from {
            // SAFETY: the range lies inside the vector's own allocation; MADV_HUGEPAGE only
            // changes how the kernel backs it, never its contents.
            unsafe {
                libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// An empty vector with room for `cap` elements, advised to 2 MiB pages before any is touched.
pub(crate) fn huge_vec<T>(cap: usize) -> Vec<T> {
    let v = Vec::with_capacity(cap);
    advise_huge(&v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index against a model, with deliberately colliding hashes so clusters form, wrap
    /// around the end of the bucket array and are shifted back on removal.
    #[test]
    fn index_matches_a_model_under_collisions() {
        let mut idx = Index::with_buckets(1024);
        let mut keys: Vec<u32> = Vec::new();
        let mut live: std::collections::HashMap<u32, u32> = Default::default();
        let mut rng = 0x1234_5678_u64;
        let hash_of = |n: u32| (n % 37).wrapping_mul(0x9E37_79B9) | 0x3ff; // few homes, at the end
        for step in 0..20_000u32 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let n = (rng % 3000) as u32;
            if let Some(slot) = live.remove(&n) {
                idx.remove(hash_of(n), slot);
            } else {
                let slot = keys.len() as u32;
                keys.push(n);
                idx.insert(hash_of(n), slot);
                live.insert(n, slot);
            }
            if step % 997 == 0 {
                for m in 0..3000u32 {
                    let found = idx.find(hash_of(m), |i| keys[i as usize] == m);
                    assert_eq!(found, live.get(&m).copied(), "key {m} at step {step}");
                }
                assert_eq!(idx.len(), live.len());
            }
        }
    }
}
