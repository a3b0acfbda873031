//! Classic libpcap files: micro- and nanosecond magics in both byte orders, and the "modified"
//! (Kuznetzov) variant whose 24-byte record headers carry ifindex/protocol/pkt_type.

use super::input::{rd32, Input};
use super::{
    CaptureError, CaptureErrorKind, FrameMeta, FrameSource, Warning, WarningSink, MAX_CAPLEN,
};

pub(crate) const MAGIC_USEC: u32 = 0xa1b2_c3d4;
pub(crate) const MAGIC_NSEC: u32 = 0xa1b2_3c4d;
pub(crate) const MAGIC_MODIFIED: u32 = 0xa1b2_cd34;
pub(crate) const FILE_HEADER_LEN: usize = 24;

pub(crate) struct PcapReader {
    name: String,
    inp: Input,
    be: bool,
    nano: bool,
    rec_hdr_len: usize,
    snaplen: u32,
    /// Largest accepted caplen: max(snaplen, 256 KiB), as libpcap does.
    limit: u32,
    linktype: u32,
    done: bool,
    warnings: WarningSink,
}

impl PcapReader {
    /// `inp` is positioned at the start of the file; the caller has identified `magic` (as read
    /// little-endian) as one of ours.
    pub(crate) fn new(name: String, mut inp: Input) -> Result<Self, CaptureError> {
        let have = inp
            .fill(FILE_HEADER_LEN)
            .map_err(|e| CaptureError::io(&name, 0, e))?;
        if have < FILE_HEADER_LEN {
            return Err(CaptureError::new(
                &name,
                0,
                CaptureErrorKind::TruncatedFileHeader {
                    want: FILE_HEADER_LEN as u32,
                    have: have as u32,
                },
            ));
        }
        let h = inp.peek();
        let le = rd32(h, 0, false);
        let be_magic = rd32(h, 0, true);
        let (be, magic) = if matches!(le, MAGIC_USEC | MAGIC_NSEC | MAGIC_MODIFIED) {
            (false, le)
        } else if matches!(be_magic, MAGIC_USEC | MAGIC_NSEC | MAGIC_MODIFIED) {
            (true, be_magic)
        } else {
            return Err(CaptureError::new(
                &name,
                0,
                CaptureErrorKind::BadMagic(be_magic),
            ));
        };
        let snaplen = rd32(h, 16, be);
        let network = rd32(h, 20, be);
        inp.consume(FILE_HEADER_LEN);
        Ok(PcapReader {
            warnings: WarningSink::new(&name),
            name,
            inp,
            be,
            nano: magic == MAGIC_NSEC,
            rec_hdr_len: if magic == MAGIC_MODIFIED { 24 } else { 16 },
            snaplen,
            limit: snaplen.clamp(MAX_CAPLEN, super::MAX_SNAPLEN),
            // The upper 16 bits carry FCS information (LT_FCS_* in libpcap); the link type is
            // the lower 16.
            linktype: network & 0xffff,
            done: false,
        })
    }

    fn fail(&mut self, offset: u64, kind: CaptureErrorKind) -> CaptureError {
        self.done = true;
        CaptureError::new(&self.name, offset, kind)
    }
}

impl FrameSource for PcapReader {
    fn next_frame(&mut self) -> Result<Option<(FrameMeta, &[u8])>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let off = self.inp.pos();
        let hl = self.rec_hdr_len;
        let have = match self.inp.fill(hl) {
            Ok(h) => h,
            Err(e) => {
                self.done = true;
                return Err(CaptureError::io(&self.name, off, e));
            }
        };
        if have == 0 {
            self.done = true;
            return Ok(None);
        }
        if have < hl {
            return Err(self.fail(
                off,
                CaptureErrorKind::TruncatedHeader {
                    want: hl as u32,
                    have: have as u32,
                },
            ));
        }
        let h = self.inp.peek();
        let be = self.be;
        let mut sec = i64::from(rd32(h, 0, be));
        let mut frac = rd32(h, 4, be);
        let caplen = rd32(h, 8, be);
        let len = rd32(h, 12, be);

        if caplen > self.limit {
            return Err(self.fail(
                off,
                CaptureErrorKind::CaplenTooLarge {
                    caplen,
                    snaplen: self.snaplen,
                },
            ));
        }
        if caplen > self.snaplen && self.snaplen != 0 {
            self.warnings.push(
                off,
                format_args!(
                    "captured length {caplen} > snap length {}: accepted",
                    self.snaplen
                ),
            );
        }
        self.warnings.frame_lengths(off, caplen, len);
        let unit = if self.nano { 1_000_000_000 } else { 1_000_000 };
        if frac >= unit {
            self.warnings.push(
                off,
                format_args!(
                    "{} {frac} >= {unit}: carried into seconds",
                    if self.nano {
                        "nanoseconds"
                    } else {
                        "microseconds"
                    }
                ),
            );
            sec += i64::from(frac / unit);
            frac %= unit;
        }
        let ts_nsec = if self.nano { frac } else { frac * 1000 };

        let need = hl + caplen as usize;
        let have = match self.inp.fill(need) {
            Ok(h) => h,
            Err(e) => {
                self.done = true;
                return Err(CaptureError::io(&self.name, off, e));
            }
        };
        if have < need {
            return Err(self.fail(
                off,
                CaptureErrorKind::TruncatedRecord {
                    want: u64::from(caplen),
                    have: (have - hl) as u64,
                },
            ));
        }
        let s = self.inp.start() + hl;
        self.inp.consume(need);
        let meta = FrameMeta {
            ts_sec: sec,
            ts_nsec,
            caplen,
            len,
            linktype: self.linktype,
            iface: 0,
        };
        Ok(Some((meta, &self.inp.buf()[s..s + caplen as usize])))
    }

    fn take_warnings(&mut self) -> Vec<Warning> {
        self.warnings.take()
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn mapping(&self) -> Option<&std::sync::Arc<super::Mapped>> {
        self.inp.mapping()
    }
}
