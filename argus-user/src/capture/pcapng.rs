//! pcapng: sections in either byte order, per-section interface tables (link type, snap length,
//! `if_tsresol`, `if_tsoffset`), Enhanced/Simple/legacy Packet Blocks. Every other block type is
//! checked for a sane length and skipped.

use super::input::{rd16, rd32, Input};
use super::{
    CaptureError, CaptureErrorKind, FrameMeta, FrameSource, Warning, WarningSink, MAX_BLOCK,
    MAX_CAPLEN,
};

pub(crate) const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
const PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const BOM: u32 = 0x1a2b_3c4d;

#[derive(Clone, Copy)]
enum TsRes {
    /// Units per second, a power of ten (10^0 ..= 10^19).
    Pow10(u64),
    /// Units are 2^-shift seconds (shift 0 ..= 63).
    Pow2(u32),
}

#[derive(Clone, Copy)]
struct Iface {
    linktype: u32,
    snaplen: u32,
    limit: u32,
    res: TsRes,
    offset_sec: i64,
}

pub(crate) struct PcapngReader {
    name: String,
    inp: Input,
    be: bool,
    ifaces: Vec<Iface>,
    /// Timestamp of the last packet with one: used for Simple Packet Blocks, which carry none.
    last_ts: (i64, u32),
    done: bool,
    warnings: WarningSink,
}

fn ts_convert(units: u64, res: TsRes, offset_sec: i64) -> (i64, u32) {
    let (sec, nsec) = match res {
        TsRes::Pow10(1_000_000) => (units / 1_000_000, (units % 1_000_000) as u32 * 1000),
        TsRes::Pow10(ups) => {
            let frac = u128::from(units % ups);
            (units / ups, (frac * 1_000_000_000 / u128::from(ups)) as u32)
        }
        TsRes::Pow2(shift) => {
            let frac = u128::from(units & ((1u64 << shift) - 1));
            (units >> shift, ((frac * 1_000_000_000) >> shift) as u32)
        }
    };
    let sec = i64::try_from(sec).unwrap_or(i64::MAX);
    (sec.saturating_add(offset_sec), nsec)
}

impl PcapngReader {
    pub(crate) fn new(name: String, inp: Input) -> Self {
        PcapngReader {
            warnings: WarningSink::new(&name),
            name,
            inp,
            be: false,
            ifaces: Vec::new(),
            last_ts: (0, 0),
            done: false,
        }
    }

    fn fail(&mut self, offset: u64, kind: CaptureErrorKind) -> CaptureError {
        self.done = true;
        CaptureError::new(&self.name, offset, kind)
    }

    fn fill(&mut self, n: usize, off: u64) -> Result<usize, CaptureError> {
        match self.inp.fill(n) {
            Ok(h) => Ok(h),
            Err(e) => {
                self.done = true;
                Err(CaptureError::io(&self.name, off, e))
            }
        }
    }
}

/// Parse an Interface Description Block (`b` is the whole block, lengths already checked).
fn parse_idb(
    b: &[u8],
    be: bool,
    off: u64,
    warnings: &mut WarningSink,
) -> Result<Iface, CaptureErrorKind> {
    if b.len() < 20 {
        return Err(CaptureErrorKind::BlockTooShort {
            block_type: IDB,
            len: b.len() as u32,
        });
    }
    let linktype = u32::from(rd16(b, 8, be));
    let snaplen = rd32(b, 12, be);
    let mut res = TsRes::Pow10(1_000_000);
    let mut offset_sec = 0i64;
    // Options: code u16, length u16, value padded to 4 bytes; the block ends with its 4-byte
    // trailing length.
    let end = b.len() - 4;
    let mut p = 16;
    while p + 4 <= end {
        let code = rd16(b, p, be);
        let olen = usize::from(rd16(b, p + 2, be));
        let v = p + 4;
        if code == 0 {
            break;
        }
        if v + olen > end {
            warnings.push(
                off,
                format_args!("interface option {code} overruns its block: later options ignored"),
            );
            break;
        }
        match (code, olen) {
            (9, 1) => {
                let r = b[v];
                let exp = u32::from(r & 0x7f);
                if r & 0x80 != 0 {
                    if exp > 63 {
                        return Err(CaptureErrorKind::BadBlock("if_tsresol out of range"));
                    }
                    res = TsRes::Pow2(exp);
                } else {
                    if exp > 19 {
                        return Err(CaptureErrorKind::BadBlock("if_tsresol out of range"));
                    }
                    res = TsRes::Pow10(10u64.pow(exp));
                }
            }
            (14, 8) => {
                let a = [
                    b[v],
                    b[v + 1],
                    b[v + 2],
                    b[v + 3],
                    b[v + 4],
                    b[v + 5],
                    b[v + 6],
                    b[v + 7],
                ];
                offset_sec = if be {
                    i64::from_be_bytes(a)
                } else {
                    i64::from_le_bytes(a)
                };
            }
            _ => {}
        }
        p = v + ((olen + 3) & !3);
    }
    Ok(Iface {
        linktype,
        snaplen,
        limit: snaplen.clamp(MAX_CAPLEN, super::MAX_SNAPLEN),
        res,
        offset_sec,
    })
}

impl FrameSource for PcapngReader {
    fn next_frame(&mut self) -> Result<Option<(FrameMeta, &[u8])>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        loop {
            let off = self.inp.pos();
            let have = self.fill(12, off)?;
            if have == 0 {
                self.done = true;
                return Ok(None);
            }
            if have < 8 {
                return Err(self.fail(
                    off,
                    CaptureErrorKind::TruncatedHeader {
                        want: 8,
                        have: have as u32,
                    },
                ));
            }
            let h = self.inp.peek();
            if rd32(h, 0, false) == SHB {
                if have < 12 {
                    return Err(self.fail(
                        off,
                        CaptureErrorKind::TruncatedHeader {
                            want: 12,
                            have: have as u32,
                        },
                    ));
                }
                if rd32(h, 8, false) == BOM {
                    self.be = false;
                } else if rd32(h, 8, true) == BOM {
                    self.be = true;
                } else {
                    return Err(self.fail(
                        off,
                        CaptureErrorKind::BadBlock("section header byte-order magic invalid"),
                    ));
                }
                self.ifaces.clear();
            }
            let be = self.be;
            let btype = rd32(h, 0, be);
            let blen = rd32(h, 4, be);
            if blen < 12 || !blen.is_multiple_of(4) {
                return Err(self.fail(off, CaptureErrorKind::BadBlockLength { len: blen }));
            }
            if blen > MAX_BLOCK {
                return Err(self.fail(
                    off,
                    CaptureErrorKind::BlockTooLarge {
                        len: blen,
                        max: MAX_BLOCK,
                    },
                ));
            }
            let n = blen as usize;
            let have = self.fill(n, off)?;
            if have < n {
                return Err(self.fail(
                    off,
                    CaptureErrorKind::TruncatedRecord {
                        want: n as u64,
                        have: have as u64,
                    },
                ));
            }
            let b = &self.inp.peek()[..n];
            let tail = rd32(b, n - 4, be);
            if tail != blen {
                return Err(self.fail(
                    off,
                    CaptureErrorKind::BlockLengthMismatch { head: blen, tail },
                ));
            }
            let too_short = CaptureErrorKind::BlockTooShort {
                block_type: btype,
                len: blen,
            };
            // (iface, ts units or none, caplen, len, data offset in block, room for data)
            let (iface_id, ts, caplen_raw, len, data_off, room) = match btype {
                SHB => {
                    if n < 28 {
                        return Err(self.fail(off, too_short));
                    }
                    if rd16(b, 12, be) != 1 {
                        return Err(self.fail(
                            off,
                            CaptureErrorKind::BadBlock("unsupported pcapng major version"),
                        ));
                    }
                    self.inp.consume(n);
                    continue;
                }
                IDB => {
                    match parse_idb(b, be, off, &mut self.warnings) {
                        Ok(i) => self.ifaces.push(i),
                        Err(k) => return Err(self.fail(off, k)),
                    }
                    self.inp.consume(n);
                    continue;
                }
                EPB | PB => {
                    if n < 32 {
                        return Err(self.fail(off, too_short));
                    }
                    let iface = if btype == EPB {
                        rd32(b, 8, be)
                    } else {
                        u32::from(rd16(b, 8, be))
                    };
                    let units = (u64::from(rd32(b, 12, be)) << 32) | u64::from(rd32(b, 16, be));
                    (
                        iface,
                        Some(units),
                        rd32(b, 20, be),
                        rd32(b, 24, be),
                        28,
                        n - 32,
                    )
                }
                SPB => {
                    if n < 16 {
                        return Err(self.fail(off, too_short));
                    }
                    let len = rd32(b, 8, be);
                    (0, None, len, len, 12, n - 16)
                }
                _ => {
                    // NRB, ISB, DSB, custom and unknown blocks.
                    self.inp.consume(n);
                    continue;
                }
            };
            let Some(ifc) = self.ifaces.get(iface_id as usize).copied() else {
                let count = self.ifaces.len() as u32;
                return Err(self.fail(
                    off,
                    CaptureErrorKind::UnknownInterface {
                        iface: iface_id,
                        count,
                    },
                ));
            };
            let caplen = if btype == SPB {
                // The SPB has no captured length: it is the original length cut by the snap
                // length and by the block.
                let mut c = caplen_raw.min(room as u32);
                if ifc.snaplen != 0 {
                    c = c.min(ifc.snaplen);
                }
                c
            } else {
                caplen_raw
            };
            if caplen > ifc.limit {
                return Err(self.fail(
                    off,
                    CaptureErrorKind::CaplenTooLarge {
                        caplen,
                        snaplen: ifc.snaplen,
                    },
                ));
            }
            if caplen as usize > room {
                return Err(self.fail(
                    off,
                    CaptureErrorKind::CaplenBeyondBlock {
                        caplen,
                        room: room as u32,
                    },
                ));
            }
            if caplen > ifc.snaplen && ifc.snaplen != 0 {
                self.warnings.push(
                    off,
                    format_args!(
                        "captured length {caplen} > snap length {} of interface {iface_id}: accepted",
                        ifc.snaplen
                    ),
                );
            }
            self.warnings.frame_lengths(off, caplen, len);
            let (ts_sec, ts_nsec) = match ts {
                Some(units) => {
                    let t = ts_convert(units, ifc.res, ifc.offset_sec);
                    self.last_ts = t;
                    t
                }
                None => self.last_ts,
            };
            let s = self.inp.start() + data_off;
            self.inp.consume(n);
            let meta = FrameMeta {
                ts_sec,
                ts_nsec,
                caplen,
                len,
                linktype: ifc.linktype,
                iface: iface_id,
            };
            return Ok(Some((meta, &self.inp.buf()[s..s + caplen as usize])));
        }
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
