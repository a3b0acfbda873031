//! Wire decoder (client side).
//!
//! [`decode`] parses one record from a byte slice; [`RecordReader`] streams records out of any
//! `Read`, accepts START MARs anywhere (appended files), and resynchronises after damage by
//! scanning forward word by word for the next plausible record header. Records are kept as on
//! the wire (the REVERSE bit is not applied here; printing does the swap, as `ra` does).
//!
//! Nothing here panics on any input.

use super::*;
use std::fmt;
use std::io::Read;

/// Why a record could not be decoded. Offsets are relative to the slice given to [`decode`];
/// [`RecordReader`] rebases them to the stream offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer than 4 bytes, or the record length runs past the end of the data.
    Truncated {
        len_words: u16,
        offset: u64,
        available: usize,
    },
    /// Record length 0 (or too small for its type).
    BadLength { len_words: u16, offset: u64 },
    /// Version nibble is not 3.
    BadVersion { byte: u8, offset: u64 },
    /// Type nibble not one we decode (INDEX, NETFLOW, ...): skippable.
    UnknownType {
        byte: u8,
        len_words: u16,
        offset: u64,
    },
    /// A DSR with length 0 or running past the record end.
    BadDsr { dsr_offset: usize, offset: u64 },
}

impl DecodeError {
    pub fn offset(&self) -> u64 {
        match *self {
            DecodeError::Truncated { offset, .. }
            | DecodeError::BadLength { offset, .. }
            | DecodeError::BadVersion { offset, .. }
            | DecodeError::UnknownType { offset, .. }
            | DecodeError::BadDsr { offset, .. } => offset,
        }
    }
    fn rebase(self, base: u64) -> DecodeError {
        match self {
            DecodeError::Truncated {
                len_words,
                offset,
                available,
            } => DecodeError::Truncated {
                len_words,
                offset: offset + base,
                available,
            },
            DecodeError::BadLength { len_words, offset } => DecodeError::BadLength {
                len_words,
                offset: offset + base,
            },
            DecodeError::BadVersion { byte, offset } => DecodeError::BadVersion {
                byte,
                offset: offset + base,
            },
            DecodeError::UnknownType {
                byte,
                len_words,
                offset,
            } => DecodeError::UnknownType {
                byte,
                len_words,
                offset: offset + base,
            },
            DecodeError::BadDsr { dsr_offset, offset } => DecodeError::BadDsr {
                dsr_offset,
                offset: offset + base,
            },
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { len_words, offset, available } => write!(
                f,
                "malformed argus record len {len_words} at offset {offset} (runs past the end: {available} bytes left)"
            ),
            DecodeError::BadLength { len_words, offset } => {
                write!(f, "malformed argus record len {len_words} at offset {offset}")
            }
            DecodeError::BadVersion { byte, offset } => {
                write!(f, "malformed argus record header 0x{byte:02x} at offset {offset}")
            }
            DecodeError::UnknownType { byte, offset, .. } => {
                write!(f, "unknown argus record type 0x{byte:02x} at offset {offset}")
            }
            DecodeError::BadDsr { dsr_offset, offset } => {
                write!(f, "malformed argus record at offset {offset}: bad DSR at byte {dsr_offset}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Bounds-checked big-endian reader over a slice.
struct Cur<'a> {
    b: &'a [u8],
    p: usize,
}

impl<'a> Cur<'a> {
    fn new(b: &'a [u8]) -> Self {
        Cur { b, p: 0 }
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let s = self.p.min(self.b.len());
        let e = self.p.saturating_add(n).min(self.b.len());
        self.p = self.p.saturating_add(n);
        &self.b[s..e]
    }
    /// The next N bytes; past the end, the bytes that are left padded with zeros (the
    /// caller checks lengths; a short read must not panic).
    #[inline(always)]
    fn arr<const N: usize>(&mut self) -> [u8; N] {
        // Fixed-size loads when all N bytes are there (the copy below has a run-time length,
        // which compiles to a call of memcpy per field).
        if let Some(a) = self
            .p
            .checked_add(N)
            .and_then(|e| self.b.get(self.p..e))
            .and_then(|s| <[u8; N]>::try_from(s).ok())
        {
            self.p += N;
            return a;
        }
        let mut a = [0u8; N];
        let s = self.take(N);
        a[..s.len()].copy_from_slice(s);
        a
    }
    fn u8(&mut self) -> u8 {
        self.arr::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.arr())
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.arr())
    }
    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.arr())
    }
    fn ts(&mut self) -> Ts {
        Ts {
            sec: self.u32(),
            usec: self.u32(),
        }
    }
    fn u16le(&mut self) -> u16 {
        u16::from_le_bytes(self.arr())
    }
    fn u32le(&mut self) -> u32 {
        u32::from_le_bytes(self.arr())
    }
    fn counter(&mut self, w: u8) -> u64 {
        match w {
            0 => self.u8() as u64,
            1 => self.u16() as u64,
            2 => self.u32() as u64,
            _ => self.u64(),
        }
    }
}

fn rd_u16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(s) => u16::from_be_bytes([s[0], s[1]]),
        None => 0,
    }
}

/// Which DSRs of a flow record to decode, by DSR type byte. A reader that only has to decide
/// whether a record is wanted (a filter on its key) decodes those DSRs and skips the rest: the
/// record's structure is still checked whole, so a damaged record is reported either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DsrSet(u128);

impl DsrSet {
    /// Every DSR (what [`decode`] does).
    pub const ALL: DsrSet = DsrSet(u128::MAX);
    /// The transport DSR (srcid, sequence) and the flow key: always decoded.
    pub const KEY: DsrSet = DsrSet(bit(0x01) | bit(0x02));

    /// The set with DSR type `t` added.
    pub const fn with(self, t: u8) -> DsrSet {
        DsrSet(self.0 | bit(t))
    }
    pub const fn union(self, o: DsrSet) -> DsrSet {
        DsrSet(self.0 | o.0)
    }
    pub const fn contains(self, t: u8) -> bool {
        self.0 & bit(t) != 0
    }
    pub fn is_all(self) -> bool {
        self == DsrSet::ALL
    }
    /// Every DSR not in the set.
    pub const fn rest(self) -> DsrSet {
        DsrSet(!self.0)
    }
}

/// One bit per DSR type (the type byte without its short-DSR bit 0x80).
const fn bit(t: u8) -> u128 {
    1u128 << (t & 0x7f)
}

/// Length in bytes of the record starting at `buf[0]` per its header (0 if no header).
pub fn record_len(buf: &[u8]) -> usize {
    rd_u16(buf, 2) as usize * 4
}

/// Decodes one record from the start of `buf` (trailing bytes are ignored).
pub fn decode(buf: &[u8]) -> Result<Record, DecodeError> {
    if buf.len() < 4 {
        return Err(DecodeError::Truncated {
            len_words: 0,
            offset: 0,
            available: buf.len(),
        });
    }
    let t = buf[0];
    let len_words = rd_u16(buf, 2);
    if t & 0x0F != VERSION {
        return Err(DecodeError::BadVersion { byte: t, offset: 0 });
    }
    let len = len_words as usize * 4;
    if len_words == 0 {
        return Err(DecodeError::BadLength {
            len_words,
            offset: 0,
        });
    }
    if len > buf.len() {
        return Err(DecodeError::Truncated {
            len_words,
            offset: 0,
            available: buf.len(),
        });
    }
    let rec = &buf[..len];
    let cause = Cause::from_byte(buf[1]).unwrap_or(Cause::Status);
    match t & 0xF0 {
        RT_MAR => {
            if len != 128 {
                return Err(DecodeError::BadLength {
                    len_words,
                    offset: 0,
                });
            }
            Ok(Record::Mar(decode_mar(rec, cause)))
        }
        RT_FAR => {
            // Decoded in place: the record is large, and moving it into a box cost a copy.
            let mut f = Box::<FlowRecord>::default();
            decode_flow_into(&mut f, rec, cause, DsrSet::ALL).map(|_| Record::Flow(f))
        }
        RT_EVENT => decode_event(rec, cause).map(|e| Record::Event(Box::new(e))),
        _ => Err(DecodeError::UnknownType {
            byte: t,
            len_words,
            offset: 0,
        }),
    }
}

fn decode_mar(rec: &[u8], cause: Cause) -> Mar {
    let mut c = Cur::new(&rec[4..]);
    let mut m = Mar {
        cause,
        ..Default::default()
    };
    m.status = c.u32();
    m.argusid = c.u32();
    m.localnet = c.u32();
    m.netmask = c.u32();
    m.next_seq = c.u32();
    m.startime = c.ts();
    m.now = c.ts();
    m.major = c.u8();
    m.minor = c.u8();
    m.iftype = c.u8();
    m.ifstatus = c.u8();
    m.report_interval = c.u16();
    m.mar_interval = c.u16();
    m.pkts_rcvd = c.u64();
    m.bytes_rcvd = c.u64();
    m.drift = c.u64() as i64;
    m.records = c.u32();
    m.flows = c.u32();
    m.dropped = c.u32();
    m.queue = c.u32();
    m.output = c.u32();
    m.clients = c.u32();
    m.bufs = c.u32();
    m.bytes = c.u32();
    m.suserlen = c.u16();
    m.duserlen = c.u16();
    m.dups = MarDups {
        pkts: c.u32(),
        vid: c.u16(),
        dirs: c.u8(),
        vlans: c.u8(),
        permille: c.u16(),
    };
    c.take(2);
    m.thisid = c.u32();
    m
}

/// One DSR: type, subtype, qualifier, body.
struct Dsr<'a> {
    t: u8,
    sub: u8,
    qual: u8,
    body: &'a [u8],
}

/// The DSR starting at `rec[p]` (which must hold its 4-byte header) and its length in bytes;
/// None when that length is 0 or runs past the record.
#[inline(always)]
fn dsr_at(rec: &[u8], p: usize) -> Option<(Dsr<'_>, usize)> {
    let (t, sub, qual, l8) = (rec[p], rec[p + 1], rec[p + 2], rec[p + 3]);
    let dlen = if t & 0x80 != 0 {
        4
    } else if sub & 0x80 != 0 {
        rd_u16(rec, p + 2) as usize * 4
    } else {
        l8 as usize * 4
    };
    if dlen == 0 || p + dlen > rec.len() {
        return None;
    }
    let body = &rec[p + 4..p + dlen];
    Some((Dsr { t, sub, qual, body }, dlen))
}

/// Splits a record body into DSRs; error on length 0 or overrun.
fn for_each_dsr<'a>(rec: &'a [u8], mut f: impl FnMut(Dsr<'a>)) -> Result<(), DecodeError> {
    let mut p = 4;
    while p + 4 <= rec.len() {
        let Some((d, dlen)) = dsr_at(rec, p) else {
            return Err(DecodeError::BadDsr {
                dsr_offset: p,
                offset: 0,
            });
        };
        f(d);
        p += dlen;
    }
    Ok(())
}

/// The FLOW DSR of a flow record given as its bytes (header included): subtype, qualifier and
/// body. The walk stops at the key: None when the DSRs up to it are damaged (the caller then
/// decodes the record and reports the damage) or there is no key. Damage past the key is not
/// looked for. (A malformed record with two keys gives its first here; `decode` keeps the
/// last.)
pub fn flow_key_dsr(rec: &[u8]) -> Option<(u8, u8, &[u8])> {
    let mut p = 4;
    while p + 4 <= rec.len() {
        let (d, dlen) = dsr_at(rec, p)?;
        if d.t == 0x02 {
            return Some((d.sub, d.qual, d.body));
        }
        p += dlen;
    }
    None
}

fn decode_srcid(sub: u8, qual: u8, c: &mut Cur) -> SrcId {
    if sub & 0x01 == 0 {
        return SrcId::None;
    }
    match qual {
        0x01 => SrcId::Ipv4(c.u32()),
        0x20 => SrcId::Int(c.u32()),
        0x21 => SrcId::Str(c.arr()),
        0x02 => {
            // IPv6 source id: keep the first word.
            let v = c.u32();
            c.take(12);
            SrcId::Int(v)
        }
        _ => {
            c.u32();
            SrcId::None
        }
    }
}

fn decode_data(d: &Dsr) -> DataDsr {
    let mut c = Cur::new(d.body);
    let size = c.u16();
    let count = c.u16() as usize;
    let rest = &d.body[d.body.len().min(4)..];
    let n = count.min(rest.len());
    DataDsr {
        size,
        data: rest[..n].to_vec(),
        compressed: d.sub & 0x08 != 0,
    }
}

fn decode_time(d: &Dsr) -> TimeDsr {
    let mut c = Cur::new(d.body);
    let form = d.sub & 0x07;
    let nano = d.qual & 0x01 != 0;
    let fix = |t: Ts| {
        if nano {
            Ts {
                sec: t.sec,
                usec: t.usec / 1000,
            }
        } else {
            t
        }
    };
    let mut t = TimeDsr {
        form,
        ..Default::default()
    };
    let bits = (d.sub >> 3) & 0x0F;
    if bits == 0 {
        let a = fix(c.ts());
        t.start = a;
        t.last = match form {
            1 if d.body.len() < 16 => a,
            3..=5 => {
                let off = c.u32() as i32 as i64;
                Ts::from_micros(a.as_micros() + if nano { off / 1000 } else { off })
            }
            _ => {
                if d.body.len() >= 16 {
                    fix(c.ts())
                } else {
                    a
                }
            }
        };
        return t;
    }
    let mut stamps: [Option<Ts>; 4] = [None; 4];
    let mut first: Option<Ts> = None;
    for (i, s) in stamps.iter_mut().enumerate() {
        if bits & (1 << i) != 0 {
            let v = match (form, first) {
                (3..=5, Some(f)) => {
                    let off = c.u32() as i32 as i64;
                    Ts::from_micros(f.as_micros() + if nano { off / 1000 } else { off })
                }
                _ => fix(c.ts()),
            };
            if first.is_none() {
                first = Some(v);
            }
            *s = Some(v);
        }
    }
    t.src_start = stamps[0];
    t.src_last = stamps[1];
    t.dst_start = stamps[2];
    t.dst_last = stamps[3];
    let present = stamps.iter().flatten().filter(|x| !x.is_zero());
    t.start = present.clone().min().copied().unwrap_or_default();
    t.last = present.max().copied().unwrap_or_default();
    t
}

fn decode_meter(d: &Dsr) -> MeterDsr {
    let q = d.qual & 0x0F;
    let (dirs, w): (u8, u8) = match q {
        0x01..=0x04 => (3, q - 1),
        0x05..=0x08 => (1, q - 5),
        0x09..=0x0C => (2, q - 9),
        _ => (0, 0),
    };
    let has_app = d.sub & 0x04 != 0;
    let mut c = Cur::new(d.body);
    let mut m = MeterDsr {
        has_app,
        ..Default::default()
    };
    let rd = |c: &mut Cur| DirCounters {
        pkts: c.counter(w),
        bytes: c.counter(w),
        appbytes: if has_app { c.counter(w) } else { 0 },
    };
    if dirs & 1 != 0 {
        m.src = rd(&mut c);
    }
    if dirs & 2 != 0 {
        m.dst = rd(&mut c);
    }
    m
}

/// One direction of the TCP object: 48 bytes taken at once (a short body reads as zeros, as
/// field by field), then fields at fixed offsets; a quarter of ra's decoding time went to
/// reading them one bounds-checked field at a time.
fn tcp_dir(c: &mut Cur) -> TcpDir {
    let b: [u8; 48] = c.arr();
    let u = |o: usize| u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    TcpDir {
        lasttime: Ts {
            sec: u(0),
            usec: u(4),
        },
        status: u(8),
        seqbase: u(12),
        seq: u(16),
        ack: u(20),
        winnum: u(24),
        bytes: u(28),
        retrans: u(32),
        ackbytes: u(36),
        winbytes: u(40),
        win: u16::from_be_bytes([b[44], b[45]]),
        flags: b[46],
        winshift: b[47],
    }
}

fn decode_net(d: &Dsr) -> NetworkDsr {
    let mut c = Cur::new(d.body);
    match (d.sub, d.body.len()) {
        (0x00, 0) => NetworkDsr::Empty,
        (0x05, n) if n == 116 || n == 68 => {
            let mut t = TcpDsr {
                status: c.u32(),
                state: c.u32(),
                options: c.u32(),
                synack: c.u32(),
                ackdat: c.u32(),
                ..Default::default()
            };
            t.src = tcp_dir(&mut c);
            if n == 116 {
                t.dst = Some(tcp_dir(&mut c));
            }
            NetworkDsr::Tcp(t)
        }
        (0x34, 24) => {
            let icmp_type = c.u8();
            let code = c.u8();
            let value = c.u16le();
            let mut addrs = [0u32; 5];
            for a in addrs.iter_mut() {
                *a = c.u32le();
            }
            NetworkDsr::Icmp {
                icmp_type,
                code,
                value,
                addrs,
            }
        }
        (0x10, 172) if d.body[6..].iter().all(|&b| b == 0) => NetworkDsr::Arp { ha: c.arr() },
        _ => NetworkDsr::Other {
            subtype: d.sub,
            qual: d.qual,
            body: d.body.to_vec(),
        },
    }
}

fn decode_flow_key(d: &Dsr) -> FlowDsr {
    let kind = d.sub & 0x3F;
    let reverse = d.sub & 0x40 != 0;
    let mut c = Cur::new(d.body);
    let n = d.body.len();
    let key = match (kind, d.qual & 0x1F) {
        (0x01 | 0x03, 0x01) if n == 16 => FlowKey::Ipv4 {
            src: c.arr(),
            dst: c.arr(),
            proto: c.u8(),
            tp_p: c.u8(),
            sport: c.u16(),
            dport: c.u16(),
            smask: c.u8(),
            dmask: c.u8(),
        },
        (0x01 | 0x03, 0x02) if n == 40 || n == 44 => {
            let src = c.arr();
            let dst = c.arr();
            let w = c.u32();
            FlowKey::Ipv6 {
                src,
                dst,
                proto: (w >> 24) as u8,
                flow_label: w & 0x00FF_FFFF,
                sport: c.u16(),
                dport: c.u16(),
                masks: if n == 44 { Some(c.arr()) } else { None },
            }
        }
        (0x01 | 0x02 | 0x07, 0x03) if n == 16 => FlowKey::Ether {
            dst: c.arr(),
            src: c.arr(),
            etype: c.u16(),
            dsap: c.u8(),
            ssap: c.u8(),
        },
        (0x06, 0x04) if n >= 20 => {
            let hrd = c.u16();
            let pro = c.u16();
            let hln = c.u8();
            let pln = c.u8();
            let op = c.u16();
            let spa = c.arr();
            let tpa = c.arr();
            // A 6-word key (argus's short length) holds only 4 bytes of the sender MAC.
            let mut sha = [0u8; 6];
            let avail = &d.body[16..];
            let k = avail.len().min(6).min(hln as usize);
            sha[..k].copy_from_slice(&avail[..k]);
            FlowKey::Arp {
                hrd,
                pro,
                hln,
                pln,
                op,
                spa,
                tpa,
                sha,
            }
        }
        _ => FlowKey::Raw(d.body.to_vec()),
    };
    FlowDsr {
        kind,
        reverse,
        qual: d.qual,
        key,
    }
}

fn jitter(c: &mut Cur) -> JitterStats {
    JitterStats {
        n: c.u32() as i32,
        min: f32::from_bits(c.u32()),
        mean: f32::from_bits(c.u32()),
        stdev: f32::from_bits(c.u32()),
        max: f32::from_bits(c.u32()),
    }
}

/// Decodes into `f`, which must be `FlowRecord::default()`.
fn decode_flow_into(
    f: &mut FlowRecord,
    rec: &[u8],
    cause: Cause,
    set: DsrSet,
) -> Result<(), DecodeError> {
    f.cause = cause;
    for_each_dsr(rec, |d| {
        if !set.contains(d.t) {
            return;
        }
        let mut c = Cur::new(d.body);
        match d.t {
            0x01 => {
                f.srcid = decode_srcid(d.sub, d.qual, &mut c);
                f.seq = c.u32();
            }
            0x02 => f.flow = Some(decode_flow_key(&d)),
            0x03 => f.time = Some(decode_time(&d)),
            0x10 => f.meter = Some(decode_meter(&d)),
            0x60 => {
                let count = c.u32();
                f.agr = Some(AgrDsr {
                    count,
                    raw: d.body.get(4..).unwrap_or(&[]).to_vec(),
                });
            }
            0x30 => f.net = Some(decode_net(&d)),
            0x40 => {
                let s = c.u16();
                let t = c.u16();
                f.vlan = Some(VlanDsr {
                    src: (d.qual & 1 != 0).then_some(s),
                    dst: (d.qual & 2 != 0).then_some(t),
                });
            }
            0x44 => {
                let ns = d.qual >> 4;
                let mut m = MplsDsr::default();
                if ns > 0 {
                    m.src = Some(c.u32());
                    c.take((ns as usize - 1) * 4);
                }
                if d.qual & 0x0F > 0 {
                    m.dst = Some(c.u32());
                }
                f.mpls = Some(m);
            }
            0x46 => {
                let mut j = JitterDsr::default();
                let slots = [
                    &mut j.src_act,
                    &mut j.src_idle,
                    &mut j.dst_act,
                    &mut j.dst_idle,
                ];
                for (i, s) in slots.into_iter().enumerate() {
                    if d.qual & (1 << i) != 0 {
                        *s = Some(jitter(&mut c));
                    }
                }
                f.jitter = Some(j);
            }
            0x48 => {
                let mut a = IpAttrDsr {
                    frag_bits: d.qual & 0xF0,
                    ..Default::default()
                };
                let attr = |c: &mut Cur| IpAttrDir {
                    ttl: c.u8(),
                    tos: c.u8(),
                    ipid: c.u16(),
                };
                if d.qual & 0x01 != 0 {
                    a.src = Some(attr(&mut c));
                }
                if d.qual & 0x04 != 0 {
                    a.src_options = Some(c.u32());
                }
                if d.qual & 0x02 != 0 {
                    a.dst = Some(attr(&mut c));
                }
                if d.qual & 0x08 != 0 {
                    a.dst_options = Some(c.u32());
                }
                f.ipattr = Some(a);
            }
            0x12 => {
                let mut p = PsizeDsr::default();
                let (s, t) = match d.qual & 0x0F {
                    0x06..=0x08 => (true, false),
                    0x0A..=0x0C => (false, true),
                    _ => (true, true),
                };
                if s {
                    p.src = Some((c.u16(), c.u16()));
                }
                if t {
                    p.dst = Some((c.u16(), c.u16()));
                }
                f.psize = Some(p);
            }
            0x50 => {
                let dd = decode_data(&d);
                if d.sub & 0x20 != 0 {
                    f.dst_data = Some(dd);
                } else {
                    f.src_data = Some(dd);
                }
            }
            0x42 => {
                f.mac = Some(MacDsr {
                    qual: d.qual,
                    dst: c.arr(),
                    src: c.arr(),
                    etype: c.u16le(),
                    dsap: c.u8(),
                    ssap: c.u8(),
                })
            }
            0x34 => {
                f.icmp = Some(IcmpDsr {
                    qual: d.qual,
                    icmp_type: c.u8(),
                    code: c.u8(),
                    seq: c.u16(),
                    osrc: c.u32(),
                    odst: c.u32(),
                    isrc: c.u32(),
                    idst: c.u32(),
                    gateway: c.u32(),
                })
            }
            0x20 => {
                f.encaps = Some(EncapsDsr {
                    src: c.u32(),
                    dst: c.u32(),
                    qual: d.qual,
                })
            }
            super::DUP_DSR_TYPE => {
                f.dups = Some(DupDsr {
                    src_pkts: c.u32(),
                    dst_pkts: c.u32(),
                    src_bytes: c.u64(),
                    dst_bytes: c.u64(),
                })
            }
            _ => f.unknown_dsrs = f.unknown_dsrs.saturating_add(1),
        }
    })
}

fn decode_event(rec: &[u8], cause: Cause) -> Result<EventRecord, DecodeError> {
    let mut e = EventRecord {
        cause,
        ..Default::default()
    };
    for_each_dsr(rec, |d| {
        let mut c = Cur::new(d.body);
        match d.t {
            0x01 => {
                e.srcid = decode_srcid(d.sub, d.qual, &mut c);
                e.seq = c.u32();
            }
            0x03 => {
                e.start = c.ts();
                e.end = c.ts();
            }
            0x50 => e.data = decode_data(&d),
            _ => {}
        }
    })
    .map(|_| e)
}

/// Whether `buf` starts with something that looks like a record header we can trust for
/// resynchronisation: version 3, a known type, a sane length, and DSRs that parse.
fn plausible(buf: &[u8]) -> bool {
    if buf.len() < 8 {
        return false;
    }
    let t = buf[0];
    let len = record_len(buf);
    let ok_type = matches!(t, 0x83 | 0x13 | 0x43);
    if !ok_type || len < 8 || len > buf.len() {
        return false;
    }
    if t == 0x83 {
        return len == 128;
    }
    // Flow/event records start with the TRANSPORT DSR.
    if buf[4] != 0x01 {
        return false;
    }
    decode(buf).is_ok()
}

/// Counters kept by [`RecordReader`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub records: u64,
    pub errors: u64,
    pub skipped_bytes: u64,
    pub unknown_records: u64,
    pub unknown_dsrs: u64,
    /// Flow records a prefilter rejected (included in `records`; their unknown DSRs are not
    /// counted in `unknown_dsrs`).
    pub filtered: u64,
}

/// Streams records from a reader, resynchronising after damage.
pub struct RecordReader<R: Read> {
    inner: R,
    buf: Vec<u8>,
    /// A mapped file ([`RecordReader::mapped`]): all of it is "buffered" from the start and
    /// `buf` is unused.
    map: Option<crate::capture::Mapped>,
    /// Mapped file: where the page tables are filled up to (`read_ahead`).
    populated: usize,
    /// Mapped file: where cache lines were asked for up to (`read_ahead`).
    prefetched: usize,
    /// Start of unconsumed data in `buf`.
    pos: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    io_error: Option<std::io::Error>,
    /// After an error: scan for the next plausible header before decoding again.
    resync: bool,
    /// Flow records the reader's user does not want, told from a partial decode.
    prefilter: Option<Prefilter>,
    /// A cleared record for the prefilter's next partial decode.
    spare: Option<Box<FlowRecord>>,
    pub stats: ReadStats,
}

/// The reader's bytes: the mapped file or the buffer (a function of the two fields, so that the
/// rest of the reader can be borrowed alongside).
fn data<'a>(map: &'a Option<crate::capture::Mapped>, buf: &'a [u8]) -> &'a [u8] {
    match map {
        Some(m) => m,
        None => buf,
    }
}

/// A test on a flow record's undecoded bytes ([`Prefilter::raw`]).
pub type RawTest = std::sync::Arc<dyn Fn(&[u8]) -> Option<bool> + Send + Sync>;

/// Decides from some of a flow record's DSRs (`dsrs`) whether its reader's user wants it;
/// records it rejects are never decoded whole (`RecordReader::set_prefilter`).
#[derive(Clone)]
pub struct Prefilter {
    pub dsrs: DsrSet,
    pub keep: std::sync::Arc<dyn Fn(&FlowRecord) -> bool + Send + Sync>,
    /// Asked first, on the record's bytes (header included): `Some(false)` rejects the record
    /// without decoding anything; `Some(true)` or `None` (cannot tell) goes on to `keep`.
    pub raw: Option<RawTest>,
    /// `raw`'s `Some(true)` is the whole answer: such a record is decoded whole at once,
    /// without asking `keep`.
    pub raw_final: bool,
}

const MAX_RECORD: usize = 65535 * 4;

impl<R: Read> RecordReader<R> {
    pub fn new(inner: R) -> Self {
        RecordReader {
            inner,
            buf: Vec::with_capacity(1 << 16),
            map: None,
            populated: 0,
            prefetched: 0,
            pos: 0,
            base: 0,
            eof: false,
            io_error: None,
            resync: false,
            prefilter: None,
            spare: None,
            stats: ReadStats::default(),
        }
    }

    /// Reads the records of a mapped file in place, without copying them into a buffer
    /// (`inner` is not read). See `capture::map_file` for the one hazard of a mapping.
    pub fn mapped(inner: R, map: crate::capture::Mapped) -> Self {
        let mut r = RecordReader::new(inner);
        r.map = Some(map);
        r.eof = true;
        r
    }

    /// Flow records that `p` rejects are skipped (counted in `stats.filtered`). `p.keep` must
    /// give on a record decoded with `p.dsrs` what the caller's own test gives on the whole
    /// record; MARs and events always come through.
    pub fn set_prefilter(&mut self, p: Option<Prefilter>) {
        self.prefilter = p;
    }

    /// Mapped file: keeps the pages ahead of `pos` mapped (a page fault each 64 KiB costs more
    /// than filling the page tables a few MiB at a time) and their cache lines on the way
    /// (records are read in order, and the hardware's own prefetcher stops at each 4 KiB page).
    #[inline]
    fn read_ahead(&mut self) {
        const POPULATE: usize = 4 << 20;
        const PREFETCH: usize = 2048;
        let Some(m) = &self.map else { return };
        if self.pos + POPULATE / 2 > self.populated && self.populated < m.len() {
            let n = POPULATE.min(m.len() - self.populated);
            // Linux 5.14 and later; elsewhere the pages are faulted in as they are read.
            let _ = m.advise_range(memmap2::Advice::PopulateRead, self.populated, n);
            self.populated += n;
        }
        let want = (self.pos + PREFETCH).min(m.len());
        self.prefetched = self.prefetched.max(self.pos);
        if self.prefetched < want {
            crate::prefetch::prefetch_bytes(m, self.prefetched, want - self.prefetched);
            self.prefetched = want;
        }
    }

    /// Stream offset of the next unconsumed byte.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// An I/O error that ended the stream, if any.
    pub fn take_io_error(&mut self) -> Option<std::io::Error> {
        self.io_error.take()
    }

    /// Makes at least `n` bytes available after `pos` unless EOF.
    fn fill(&mut self, n: usize) {
        if self.map.is_some() {
            return;
        }
        if self.pos > 0 && (self.pos >= self.buf.len() || self.buf.len() - self.pos < n) {
            self.buf.drain(..self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
        while !self.eof && self.buf.len() - self.pos < n {
            let old = self.buf.len();
            let want = (n - (old - self.pos)).max(1 << 16);
            self.buf.resize(old + want, 0);
            match self.inner.read(&mut self.buf[old..]) {
                Ok(0) => {
                    self.buf.truncate(old);
                    self.eof = true;
                }
                Ok(k) => self.buf.truncate(old + k),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => self.buf.truncate(old),
                Err(e) => {
                    self.buf.truncate(old);
                    self.eof = true;
                    self.io_error = Some(e);
                }
            }
        }
    }

    fn avail(&self) -> &[u8] {
        &data(&self.map, &self.buf)[self.pos..]
    }

    /// Scans forward (word-aligned) to the next plausible record header; counts skipped bytes.
    fn do_resync(&mut self) {
        self.resync = false;
        loop {
            self.fill(MAX_RECORD + 8);
            let a = self.avail();
            // Candidates up to `limit` have their whole record buffered (or we are at EOF).
            let limit = if self.eof {
                a.len().saturating_sub(8)
            } else {
                a.len().saturating_sub(MAX_RECORD + 8)
            };
            let mut k = 4;
            while k <= limit {
                if plausible(&a[k..]) {
                    self.pos += k;
                    self.stats.skipped_bytes += k as u64;
                    return;
                }
                k += 4;
            }
            let skip = if self.eof { a.len() } else { k.min(a.len()) };
            self.pos += skip;
            self.stats.skipped_bytes += skip as u64;
            if self.eof {
                return;
            }
        }
    }

    /// Next record, or an error (after which reading continues with the next plausible
    /// record), or `None` at the end of the stream.
    pub fn next_record(&mut self) -> Option<Result<Record, DecodeError>> {
        loop {
            if self.resync {
                self.do_resync();
            }
            self.read_ahead();
            self.fill(4);
            let a = self.avail();
            if a.is_empty() {
                return None;
            }
            let off = self.offset();
            if a.len() < 4 {
                let n = a.len();
                self.pos += n;
                self.stats.errors += 1;
                self.stats.skipped_bytes += n as u64;
                return Some(Err(DecodeError::Truncated {
                    len_words: 0,
                    offset: off,
                    available: n,
                }));
            }
            let len = record_len(a);
            if len > 0 {
                self.fill(len);
            }
            let a = self.avail();
            if let Some(p) = &self.prefilter {
                if len >= 8 && len <= a.len() && a[0] == RT_FAR | VERSION {
                    // Fields borrowed one by one: the record bytes stay borrowed from `buf`.
                    let rec = &data(&self.map, &self.buf)[self.pos..self.pos + len];
                    let verdict = p.raw.as_ref().and_then(|raw| raw(rec));
                    if verdict == Some(false) {
                        self.pos += len;
                        self.stats.records += 1;
                        self.stats.filtered += 1;
                        continue;
                    }
                    // Wanted, told from its bytes: decoded whole below.
                    let wanted = verdict == Some(true) && p.raw_final;
                    if !wanted {
                        let cause = Cause::from_byte(rec[1]).unwrap_or(Cause::Status);
                        let mut f = self.spare.take().unwrap_or_default();
                        if decode_flow_into(&mut f, rec, cause, p.dsrs).is_ok() {
                            let keep = (p.keep)(&f);
                            if keep {
                                // The other DSRs complete the same record (its structure was
                                // checked whole by the first pass).
                                let _ = decode_flow_into(&mut f, rec, cause, p.dsrs.rest());
                            }
                            self.pos += len;
                            self.stats.records += 1;
                            if keep {
                                self.stats.unknown_dsrs += f.unknown_dsrs as u64;
                                return Some(Ok(Record::Flow(f)));
                            }
                            self.stats.filtered += 1;
                            *f = FlowRecord::default();
                            self.spare = Some(f);
                            continue;
                        }
                        *f = FlowRecord::default();
                        self.spare = Some(f);
                    }
                }
            }
            let a = self.avail();
            match decode(a) {
                Ok(r) => {
                    self.pos += len;
                    self.stats.records += 1;
                    if let Record::Flow(f) = &r {
                        self.stats.unknown_dsrs += f.unknown_dsrs as u64;
                    }
                    return Some(Ok(r));
                }
                Err(DecodeError::UnknownType { .. }) if len >= 4 && len <= a.len() => {
                    self.pos += len;
                    self.stats.unknown_records += 1;
                    continue;
                }
                Err(e) => {
                    self.stats.errors += 1;
                    self.resync = true;
                    return Some(Err(e.rebase(off)));
                }
            }
        }
    }
}

impl<R: Read> Iterator for RecordReader<R> {
    type Item = Result<Record, DecodeError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record()
    }
}
