//! Cache-line prefetch hints, for the loops that know which memory they will touch next
//! before they touch it (the flow table, the engine's frame batches, the record reader, the
//! aggregation table). Nothing here changes what a program reads; a hint that is wrong costs
//! only a little memory bandwidth.

/// Ask the CPU to start loading the cache line holding `r` (no effect where unsupported).
#[inline(always)]
pub(crate) fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults and reads nothing into the program.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            (r as *const T).cast::<i8>(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

/// Every cache line of `r`.
#[inline(always)]
pub(crate) fn prefetch_all<T>(r: &T) {
    prefetch_span(r, std::mem::size_of::<T>());
}

/// The cache lines of the first `n` bytes of `r` (at most its size).
#[inline(always)]
pub(crate) fn prefetch_span<T>(r: &T, n: usize) {
    let n = n.min(std::mem::size_of::<T>());
    let p = (r as *const T).cast::<u8>();
    let mut off = 0;
    while off < n {
        // SAFETY: `p + off` stays inside `*r`.
        prefetch(unsafe { &*p.add(off) });
        off += 64;
    }
    if n > 0 {
        // SAFETY: the last byte of the span (it may straddle one more line).
        prefetch(unsafe { &*p.add(n - 1) });
    }
}

/// The cache lines of `b[at..at + n]` that are inside `b`.
#[inline(always)]
pub(crate) fn prefetch_bytes(b: &[u8], at: usize, n: usize) {
    let end = at.saturating_add(n).min(b.len());
    let mut off = at;
    while off < end {
        prefetch(&b[off]);
        off += 64;
    }
}
