//! Offline capture input: classic pcap (micro/nano, both byte orders, the "modified" Kuznetzov
//! variant) and pcapng (any number of sections in either byte order, many interfaces), optionally
//! gzip-compressed, from a file or from standard input (`-`).
//!
//! Frames are returned as slices into one large read buffer: no allocation per frame. Malformed
//! input gives a [`CaptureError`] naming the file and the byte offset of the offending record
//! (frames before it have already been returned) or, where the frame is still usable, a
//! [`Warning`]. See `docs/capture.md`.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};

#[cfg(target_os = "linux")]
pub mod afpacket;
mod input;
pub mod meta;
mod pcap;
mod pcapng;
#[cfg(target_os = "linux")]
mod sys;
#[cfg(target_os = "linux")]
pub mod xdp;
#[cfg(target_os = "linux")]
pub mod xdp_log;

use input::Input;
pub use input::Mapped;

/// Captured lengths up to this are accepted whatever the snap length says (libpcap's
/// `max(snaplen, 262144)` rule).
pub const MAX_CAPLEN: u32 = 256 * 1024;
/// A header's snap length raises the caplen limit above [`MAX_CAPLEN`] at most to this.
pub const MAX_SNAPLEN: u32 = 16 * 1024 * 1024;
/// Largest pcapng block accepted (blocks are buffered whole).
pub const MAX_BLOCK: u32 = MAX_SNAPLEN + 1024;
/// At most this many warnings are kept between two `take_warnings` calls; the rest are counted.
pub const MAX_WARNINGS: usize = 10_000;

/// Per-frame metadata. `linktype` is the LINKTYPE_* value of the frame's interface; `iface` is
/// the pcapng interface index within its section (0 for classic pcap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameMeta {
    pub ts_sec: i64,
    pub ts_nsec: u32,
    pub caplen: u32,
    pub len: u32,
    pub linktype: u32,
    pub iface: u32,
}

/// What went wrong; see `docs/capture.md`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureErrorKind {
    #[error("I/O error: {msg}")]
    Io { kind: io::ErrorKind, msg: String },
    #[error("file too short for a capture file header ({have} of {want} bytes)")]
    TruncatedFileHeader { want: u32, have: u32 },
    #[error("unknown file magic 0x{0:08x} (not pcap, pcapng or gzip)")]
    BadMagic(u32),
    #[error("record header truncated at end of file ({have} of {want} bytes)")]
    TruncatedHeader { want: u32, have: u32 },
    #[error("record truncated at end of file ({have} of {want} bytes present)")]
    TruncatedRecord { want: u64, have: u64 },
    #[error("captured length {caplen} exceeds both the snap length {snaplen} and 262144")]
    CaplenTooLarge { caplen: u32, snaplen: u32 },
    #[error("pcapng block length {len} invalid (must be a multiple of 4 and at least 12)")]
    BadBlockLength { len: u32 },
    #[error("pcapng block length {len} exceeds the {max}-byte limit")]
    BlockTooLarge { len: u32, max: u32 },
    #[error("pcapng trailing block length {tail} differs from the leading length {head}")]
    BlockLengthMismatch { head: u32, tail: u32 },
    #[error("pcapng block type 0x{block_type:08x} too short ({len} bytes) for its fields")]
    BlockTooShort { block_type: u32, len: u32 },
    #[error("pcapng captured length {caplen} exceeds the {room} bytes of its block")]
    CaplenBeyondBlock { caplen: u32, room: u32 },
    #[error("pcapng packet refers to interface {iface}, section defines {count}")]
    UnknownInterface { iface: u32, count: u32 },
    #[error("pcapng: {0}")]
    BadBlock(&'static str),
}

/// A fatal input error: reading of this source stops (`next_frame` then returns `Ok(None)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureError {
    pub file: String,
    /// Byte offset (in the decompressed stream for gzip input) of the record or block at fault.
    pub offset: u64,
    pub kind: CaptureErrorKind,
}

impl CaptureError {
    pub fn new(file: &str, offset: u64, kind: CaptureErrorKind) -> Self {
        CaptureError {
            file: file.to_string(),
            offset,
            kind,
        }
    }

    pub(crate) fn io(file: &str, offset: u64, e: io::Error) -> Self {
        Self::new(
            file,
            offset,
            CaptureErrorKind::Io {
                kind: e.kind(),
                msg: e.to_string(),
            },
        )
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: offset {}: {}", self.file, self.offset, self.kind)
    }
}

impl std::error::Error for CaptureError {}

/// A non-fatal oddity: the frame was still returned (possibly normalised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub file: String,
    pub offset: u64,
    pub what: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: offset {}: {}", self.file, self.offset, self.what)
    }
}

/// Collects warnings, bounded by [`MAX_WARNINGS`].
pub(crate) struct WarningSink {
    file: String,
    list: Vec<Warning>,
    suppressed: u64,
    last_suppressed_offset: u64,
}

impl WarningSink {
    pub(crate) fn new(file: &str) -> Self {
        WarningSink {
            file: file.to_string(),
            list: Vec::new(),
            suppressed: 0,
            last_suppressed_offset: 0,
        }
    }

    #[cold]
    /// Warnings every format raises about a frame's lengths: captured beyond the original
    /// length, or nothing captured at all.
    pub(crate) fn frame_lengths(&mut self, offset: u64, caplen: u32, len: u32) {
        if caplen > len {
            self.push(
                offset,
                format_args!("captured length {caplen} > original length {len}"),
            );
        }
        if caplen == 0 {
            self.push(offset, format_args!("zero-length frame"));
        }
    }

    pub(crate) fn push(&mut self, offset: u64, what: fmt::Arguments<'_>) {
        if self.list.len() >= MAX_WARNINGS {
            self.suppressed += 1;
            self.last_suppressed_offset = offset;
            return;
        }
        self.list.push(Warning {
            file: self.file.clone(),
            offset,
            what: what.to_string(),
        });
    }

    pub(crate) fn take(&mut self) -> Vec<Warning> {
        if self.suppressed > 0 {
            self.list.push(Warning {
                file: self.file.clone(),
                offset: self.last_suppressed_offset,
                what: format!("{} more warnings suppressed", self.suppressed),
            });
            self.suppressed = 0;
        }
        std::mem::take(&mut self.list)
    }
}

/// A source of frames with metadata: a capture file now, a live ring later.
pub trait FrameSource: Send {
    /// Next frame, or Ok(None) at end of input. The slice is valid until the next call.
    /// After an error the source is finished: later calls return Ok(None).
    fn next_frame(&mut self) -> Result<Option<(FrameMeta, &[u8])>, CaptureError>;
    /// Drain non-fatal warnings collected so far.
    fn take_warnings(&mut self) -> Vec<Warning>;
    fn name(&self) -> &str;
    /// The mapped file that the frames of `next_frame` point into, when the source reads one
    /// in place (the engine then passes workers references instead of copies).
    fn mapping(&self) -> Option<&std::sync::Arc<Mapped>> {
        None
    }
}

/// Counters of a live source since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Frames the kernel passed to the source (including the ones it dropped).
    pub received: u64,
    /// Frames the kernel dropped because the source's ring was full.
    pub dropped: u64,
}

/// Callback of [`LiveSource::poll_hashed`]: frame metadata, shard hash if known, bytes.
pub type HashedCallback<'a> = dyn FnMut(FrameMeta, Option<KernelHashes>, &[u8]) + 'a;

/// Hashes the XDP program computed for a frame of the shapes user space's fast path reads
/// (`argus_common::meta_flags::SHARD_HASH`): for those both equal what user space would compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelHashes {
    /// The shard hash (`engine::shard::frame_shard_hash`).
    pub shard: u32,
    /// The duplicate-detection content hash (`flow::key::PacketKey::content_hash`).
    pub content: u32,
}

/// A live capture source (AF_PACKET ring, AF_XDP sockets): frames as they arrive.
pub trait LiveSource: Send {
    /// Interface name, for messages.
    fn name(&self) -> &str;
    /// Wait up to `timeout` for frames, then hand every frame available to `f`. Returns how
    /// many were delivered.
    fn poll(
        &mut self,
        timeout: std::time::Duration,
        f: &mut dyn FnMut(FrameMeta, &[u8]),
    ) -> io::Result<usize>;
    /// Counters since the source was opened.
    fn stats(&mut self) -> LiveStats;
    /// [`LiveSource::poll`] that also hands over each frame's shard and content hashes when
    /// the capture path computed them already (the XDP program does, in the kernel); `None`
    /// otherwise, and the engine computes them.
    fn poll_hashed(
        &mut self,
        timeout: std::time::Duration,
        f: &mut HashedCallback<'_>,
    ) -> io::Result<usize> {
        self.poll(timeout, &mut |m, d| f(m, None, d))
    }
    /// How much older than the moment it becomes readable a frame's timestamp can be (an
    /// AF_PACKET block is handed over when full or after its retire timeout). The engine
    /// orders frames of several queues by timestamp and waits this long for stragglers.
    fn visibility_lag(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

/// Name used for standard input in messages.
pub const STDIN_NAME: &str = "<stdin>";

/// Open a capture file (`-` = standard input). The format is sniffed from the magic number:
/// pcap, pcapng, or either one gzip-compressed.
pub fn open(path: &str) -> Result<Box<dyn FrameSource>, CaptureError> {
    if path == "-" {
        return from_reader(STDIN_NAME, Box::new(io::stdin()));
    }
    let f = File::open(path).map_err(|e| CaptureError::io(path, 0, e))?;
    if let Some(map) = map_file(&f) {
        // Compressed files are read as a stream; their decompressed frames are copied.
        if !map.starts_with(&[0x1f, 0x8b]) {
            return from_input(path, Input::mapped(std::sync::Arc::new(map)), false);
        }
    }
    from_reader(path, Box::new(f))
}

/// Map a regular, non-empty capture file for reading in place. Anything else (pipes, devices,
/// empty files, or a failed mapping) is read as a stream.
///
/// A mapped file must not be truncated while it is read: the kernel would kill the process
/// with SIGBUS on the first access past the new end. Capture tools append to their files and
/// never truncate them, and argus reads a file once from start to end, so this only matters
/// for a file that is rewritten in place during a run; `docs/capture.md` says so.
pub fn map_file(f: &File) -> Option<Mapped> {
    let md = f.metadata().ok()?;
    if !md.is_file() || md.len() == 0 {
        return None;
    }
    // SAFETY: the mapping is read-only and private to this process; see above for the one way
    // another process can invalidate it (truncation), which is documented.
    let map = unsafe { memmap2::MmapOptions::new().map(f) }.ok()?;
    let _ = map.advise(memmap2::Advice::Sequential);
    Some(map)
}

/// Read a capture from any byte stream; `name` is used in errors and warnings.
pub fn from_reader(
    name: &str,
    src: Box<dyn Read + Send>,
) -> Result<Box<dyn FrameSource>, CaptureError> {
    from_input(name, Input::new(src), true)
}

/// Like [`from_reader`] with a small buffer of `cap` bytes (for tests of buffer refills).
#[doc(hidden)]
pub fn from_reader_with_capacity(
    name: &str,
    src: Box<dyn Read + Send>,
    cap: usize,
) -> Result<Box<dyn FrameSource>, CaptureError> {
    from_input(name, Input::with_capacity(src, cap), true)
}

fn from_input(
    name: &str,
    mut inp: Input,
    allow_gzip: bool,
) -> Result<Box<dyn FrameSource>, CaptureError> {
    let have = inp.fill(4).map_err(|e| CaptureError::io(name, 0, e))?;
    let h = inp.peek();
    if allow_gzip && have >= 2 && h[0] == 0x1f && h[1] == 0x8b {
        // Hand the bytes already read plus the rest of the stream to the decompressor.
        let prefix = h.to_vec();
        let rest = inp.into_source();
        let gz = flate2::read::MultiGzDecoder::new(io::Cursor::new(prefix).chain(rest));
        return from_input(name, Input::new(Box::new(gz)), false);
    }
    if have < 4 {
        return Err(CaptureError::new(
            name,
            0,
            CaptureErrorKind::TruncatedFileHeader {
                want: 24,
                have: have as u32,
            },
        ));
    }
    let le = input::rd32(h, 0, false);
    let be = input::rd32(h, 0, true);
    let pcap_magics = [pcap::MAGIC_USEC, pcap::MAGIC_NSEC, pcap::MAGIC_MODIFIED];
    if le == pcapng::SHB {
        Ok(Box::new(pcapng::PcapngReader::new(name.to_string(), inp)))
    } else if pcap_magics.contains(&le) || pcap_magics.contains(&be) {
        Ok(Box::new(pcap::PcapReader::new(name.to_string(), inp)?))
    } else {
        Err(CaptureError::new(name, 0, CaptureErrorKind::BadMagic(be)))
    }
}
