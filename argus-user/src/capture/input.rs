//! A large, reusable read buffer with a running file offset.
//!
//! Records are parsed in place: `fill(n)` makes `n` bytes contiguous at the read position
//! (compacting or, for an oversized record, growing the buffer), `consume(n)` moves past them.
//! Bytes that were consumed stay where they are until the next `fill` that has to compact, so a
//! slice handed out for the last frame stays valid until the reader is called again.

use std::io::{self, Read};

/// Default buffer size: 1 MiB, a few hundred full-size frames per `read` system call.
pub(crate) const BUF_SIZE: usize = 1 << 20;

pub(crate) struct Input {
    src: Box<dyn Read + Send>,
    buf: Vec<u8>,
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
            start: 0,
            end: 0,
            pos: 0,
            eof: false,
        }
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
        &self.buf[self.start..self.end]
    }

    /// Index in `buf()` of the read position.
    #[inline]
    pub(crate) fn start(&self) -> usize {
        self.start
    }

    #[inline]
    pub(crate) fn buf(&self) -> &[u8] {
        &self.buf
    }

    /// Skip `n` bytes, which must have been made available by `fill`.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.pos += n as u64;
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
