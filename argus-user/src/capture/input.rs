//! A large, reusable read buffer with a running file offset.
//!
//! Records are parsed in place: `fill(n)` makes `n` bytes contiguous at the read position
//! (compacting or, for an oversized record, growing the buffer), `consume(n)` moves past them.
//! Bytes that were consumed stay where they are until the next `fill` that has to compact, so a
//! slice handed out for the last frame stays valid until the reader is called again.

use std::io::{self, Read};
use std::sync::Arc;

/// A capture file mapped into memory. Frames are read in place and the engine hands workers
/// references into it instead of copies.
pub type Mapped = memmap2::Mmap;

/// Default buffer size: 1 MiB, a few hundred full-size frames per `read` system call.
pub(crate) const BUF_SIZE: usize = 1 << 20;

pub(crate) struct Input {
    src: Box<dyn Read + Send>,
    buf: Vec<u8>,
    /// A mapped file: `buf` is unused, all of the file is "buffered" from the start.
    map: Option<Arc<Mapped>>,
    start: usize,
    end: usize,
    /// Offset in the (decompressed) input of `buf[start]`.
    pos: u64,
    eof: bool,
}

impl Input {
    pub(crate) fn new(src: Box<dyn Read + Send>) -> Self {
        Self::with_capacity(src, BUF_SIZE)
    }

    pub(crate) fn with_capacity(src: Box<dyn Read + Send>, cap: usize) -> Self {
        Input {
            src,
            buf: vec![0; cap.max(64)],
            map: None,
            start: 0,
            end: 0,
            pos: 0,
            eof: false,
        }
    }

    /// Read a mapped file in place.
    pub(crate) fn mapped(map: Arc<Mapped>) -> Self {
        Input {
            src: Box::new(io::empty()),
            buf: Vec::new(),
            start: 0,
            end: map.len(),
            map: Some(map),
            pos: 0,
            eof: true,
        }
    }

    pub(crate) fn mapping(&self) -> Option<&Arc<Mapped>> {
        self.map.as_ref()
    }

    /// The underlying stream (bytes already buffered are not included).
    pub(crate) fn into_source(self) -> Box<dyn Read + Send> {
        self.src
    }

    /// Offset of the next unread byte.
    #[inline]
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// Make at least `n` bytes available at the read position. Returns how many bytes are
    /// available, which is less than `n` only at end of input.
    #[inline]
    pub(crate) fn fill(&mut self, n: usize) -> io::Result<usize> {
        let have = self.end - self.start;
        if have >= n {
            return Ok(have);
        }
        self.fill_slow(n)
    }

    #[cold]
    fn fill_slow(&mut self, n: usize) -> io::Result<usize> {
        if self.map.is_some() {
            return Ok(self.end - self.start);
        }
        if self.start + n > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if n > self.buf.len() {
                self.buf.resize(n.next_power_of_two(), 0);
            }
        }
        while self.end - self.start < n && !self.eof {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.start)
    }

    /// The bytes available at the read position (as made available by the last `fill`).
    #[inline]
    pub(crate) fn peek(&self) -> &[u8] {
        &self.buf()[self.start..self.end]
    }

    /// Index in `buf()` of the read position.
    #[inline]
    pub(crate) fn start(&self) -> usize {
        self.start
    }

    #[inline]
    pub(crate) fn buf(&self) -> &[u8] {
        match &self.map {
            Some(m) => m,
            None => &self.buf,
        }
    }

    /// Skip `n` bytes, which must have been made available by `fill`.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        if let Some(m) = &self.map {
            prefetch_range(m, self.start + MAP_PREFETCH, n);
        }
        self.start += n;
        self.pos += n as u64;
    }
}

/// How far ahead of the read position a mapped file is pulled into the cache: a mapped file is
/// read straight from the page cache, and without this every record header would wait for
/// memory (the kernel's copy in `read` used to hide that).
const MAP_PREFETCH: usize = 4096;

/// Prefetch the cache lines of `b[at..at + n]` (the part that exists).
#[inline]
fn prefetch_range(b: &[u8], at: usize, n: usize) {
    let end = (at + n).min(b.len());
    let mut i = at & !63;
    while i < end {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `i < b.len()`; a prefetch is a hint that never faults.
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                b.as_ptr().add(i).cast::<i8>(),
            );
        }
        i += 64;
    }
}

/// Read a `u16` at `off` in the byte order given by `be`. The caller checks bounds.
#[inline]
pub(crate) fn rd16(b: &[u8], off: usize, be: bool) -> u16 {
    let a = [b[off], b[off + 1]];
    if be {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    }
}

/// Read a `u32` at `off` in the byte order given by `be`. The caller checks bounds.
#[inline]
pub(crate) fn rd32(b: &[u8], off: usize, be: bool) -> u32 {
    let a = [b[off], b[off + 1], b[off + 2], b[off + 3]];
    if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}
