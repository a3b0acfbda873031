//! Argus 3 records in memory, and their wire codec (`encode`, `decode`).
//!
//! The in-memory form mirrors the DSR structure of the wire format (ref/argus-format.md): one
//! optional field per DSR the sensor writes. The sensor fills a [`FlowRecord`] from its flow state
//! and calls [`encode`]; clients call [`decode`] and print. All multi-byte values here are host
//! numbers; byte order is the codec's business.

pub mod decode;
pub mod encode;

use std::borrow::Cow;

/// Record type nibbles (byte 0, high nibble).
pub const RT_FAR: u8 = 0x10;
pub const RT_MAR: u8 = 0x80;
pub const RT_EVENT: u8 = 0x40;
pub const VERSION: u8 = 3;
pub const MAR_COOKIE: u32 = 0xE571_2DCB;

/// Record cause (byte 1, high nibble).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Cause {
    #[default]
    Start = 0x10,
    Status = 0x20,
    Stop = 0x30,
    Timeout = 0x40,
    Flush = 0x50,
    Shutdown = 0x60,
    Closed = 0x70,
    Error = 0x80,
    Supplemental = 0x90,
}

impl Cause {
    pub fn from_byte(b: u8) -> Option<Cause> {
        Some(match b & 0xF0 {
            0x10 => Cause::Start,
            0x20 => Cause::Status,
            0x30 => Cause::Stop,
            0x40 => Cause::Timeout,
            0x50 => Cause::Flush,
            0x60 => Cause::Shutdown,
            0x70 => Cause::Closed,
            0x80 => Cause::Error,
            0x90 => Cause::Supplemental,
            _ => return None,
        })
    }
}

/// Seconds + microseconds, as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Ts {
    pub sec: u32,
    pub usec: u32,
}

impl Ts {
    pub fn as_micros(self) -> i64 {
        self.sec as i64 * 1_000_000 + self.usec as i64
    }
    pub fn from_micros(us: i64) -> Ts {
        Ts {
            sec: us.div_euclid(1_000_000) as u32,
            usec: us.rem_euclid(1_000_000) as u32,
        }
    }
    pub fn is_zero(self) -> bool {
        self.sec == 0 && self.usec == 0
    }
}

/// Source id as carried by the TRANSPORT DSR and MARs (qualifier selects the type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SrcId {
    /// No `-e` given: qualifier 0, printed as 0.0.0.0.
    #[default]
    None,
    Ipv4(u32),
    Int(u32),
    Str([u8; 4]),
}

impl SrcId {
    pub fn value(self) -> u32 {
        match self {
            SrcId::None => 0,
            SrcId::Ipv4(v) | SrcId::Int(v) => v,
            SrcId::Str(b) => u32::from_be_bytes(b),
        }
    }
    pub fn qualifier(self) -> u8 {
        match self {
            SrcId::None => 0x00,
            SrcId::Ipv4(_) => 0x01,
            SrcId::Int(_) => 0x20,
            SrcId::Str(_) => 0x21,
        }
    }
}

/// The flow key (FLOW DSR, type 0x02), stored in the *wire* (normalised) order; `reverse` says
/// the originator is the second address. Clients swap when `reverse` is set.
impl FlowKey {
    /// An IPv4 or IPv6 key as (protocol, source, destination, source port, destination port),
    /// in wire order; `None` for other keys.
    pub fn ip_endpoints(&self) -> Option<(u8, std::net::IpAddr, std::net::IpAddr, u16, u16)> {
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
        match self {
            FlowKey::Ipv4 {
                src,
                dst,
                proto,
                sport,
                dport,
                ..
            } => Some((
                *proto,
                IpAddr::V4(Ipv4Addr::from(*src)),
                IpAddr::V4(Ipv4Addr::from(*dst)),
                *sport,
                *dport,
            )),
            FlowKey::Ipv6 {
                src,
                dst,
                proto,
                sport,
                dport,
                ..
            } => Some((
                *proto,
                IpAddr::V6(Ipv6Addr::from(*src)),
                IpAddr::V6(Ipv6Addr::from(*dst)),
                *sport,
                *dport,
            )),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowDsr {
    /// Subtype low 6 bits (0x01 classic 5-tuple, 0x06 ARP, ...).
    pub kind: u8,
    /// REVERSE bit (subtype 0x40).
    pub reverse: bool,
    /// Full qualifier byte (address family in the low 5 bits; 0x20 DIRECTION, 0x40 MASKLEN,
    /// 0x80 FRAGMENT).
    pub qual: u8,
    pub key: FlowKey,
}

#[cfg(test)]
impl FlowDsr {
    /// A classic IPv4 5-tuple key in wire order (the tests' usual record).
    pub(crate) fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, sport: u16, dport: u16) -> FlowDsr {
        FlowDsr {
            kind: 1,
            reverse: false,
            qual: 1,
            key: FlowKey::Ipv4 {
                src,
                dst,
                proto,
                tp_p: 0,
                sport,
                dport,
                smask: 0,
                dmask: 0,
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowKey {
    /// qual 0x01. For ICMP, `sport` = type<<8|code, `dport` = ICMP id and `smask,dmask` = IP id
    /// bytes; for UDP/53, smask/dmask hold the DNS id bytes (host order, as argus does).
    Ipv4 {
        src: [u8; 4],
        dst: [u8; 4],
        proto: u8,
        tp_p: u8,
        sport: u16,
        dport: u16,
        smask: u8,
        dmask: u8,
    },
    /// qual 0x02. `word` = proto<<24 | flow label; ports in the last word.
    Ipv6 {
        src: [u8; 16],
        dst: [u8; 16],
        proto: u8,
        flow_label: u32,
        sport: u16,
        dport: u16,
        masks: Option<[u8; 4]>,
    },
    /// qual 0x03: non-IP Ethernet / LLC frames.
    Ether {
        dst: [u8; 6],
        src: [u8; 6],
        etype: u16,
        dsap: u8,
        ssap: u8,
    },
    /// qual 0x04 (ARP) / 0x05 (RARP).
    Arp {
        hrd: u16,
        pro: u16,
        hln: u8,
        pln: u8,
        op: u16,
        spa: [u8; 4],
        tpa: [u8; 4],
        sha: [u8; 6],
    },
    /// Any other key, kept as raw body bytes (IS-IS, 802.11, ...).
    Raw(Vec<u8>),
}

/// TIME DSR (type 0x03). `last == start` is written in the one-timestamp form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TimeDsr {
    pub start: Ts,
    pub last: Ts,
    /// Per-direction timestamps when present on the wire (bidirectional form / client records).
    pub src_start: Option<Ts>,
    pub src_last: Option<Ts>,
    pub dst_start: Option<Ts>,
    pub dst_last: Option<Ts>,
    /// Subtype form as written (1 = timestamp, 2 = range, ...). 0 = choose automatically:
    /// 1 when `start == last`, else 2. argus keeps form 2 once a second packet was seen, even
    /// when all timestamps are equal, and can keep form 1 with two stamps; the decoder records
    /// what it read so re-encoding is byte-exact.
    pub form: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DirCounters {
    pub pkts: u64,
    pub bytes: u64,
    pub appbytes: u64,
}

/// METER DSR (type 0x10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MeterDsr {
    pub src: DirCounters,
    pub dst: DirCounters,
    /// Subtype 0x04: application byte counters present (`argus -A`).
    pub has_app: bool,
}

/// One direction of the TCP performance object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpDir {
    pub lasttime: Ts,
    pub status: u32,
    pub seqbase: u32,
    pub seq: u32,
    pub ack: u32,
    pub winnum: u32,
    pub bytes: u32,
    pub retrans: u32,
    pub ackbytes: u32,
    pub winbytes: u32,
    pub win: u16,
    pub flags: u8,
    pub winshift: u8,
}

/// TCP performance object (NETWORK DSR subtype 0x05).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpDsr {
    pub status: u32,
    pub state: u32,
    pub options: u32,
    pub synack: u32,
    pub ackdat: u32,
    pub src: TcpDir,
    /// `None` when only the source half is written (length 18).
    pub dst: Option<TcpDir>,
}

/// NETWORK DSR (type 0x30).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkDsr {
    /// Subtype 0, 4 bytes.
    Empty,
    Tcp(TcpDsr),
    /// Subtype 0x34, HOST ORDER on the wire: type, code, 16-bit value, then 5 addresses.
    Icmp {
        icmp_type: u8,
        code: u8,
        value: u16,
        addrs: [u32; 5],
    },
    /// Subtype 0x10: responder hardware address (argus copies a 44-word union).
    Arp {
        ha: [u8; 6],
    },
    /// Anything else, raw (subtype, qualifier and body).
    Other {
        subtype: u8,
        /// The DSR header's qualifier (for argus' fragment object: `ARGUS_FRAGOVERLAP` 0x02).
        qual: u8,
        body: Vec<u8>,
    },
}

impl NetworkDsr {
    /// The record's TCP object: the full performance object, or the short forms argus writes
    /// for flows that never got established (0x03 "init": status, base sequence, options,
    /// window, flags, shift; 0x04 "status": status and flags) widened to it. The second value
    /// says whether it has a source block (the widened 0x03 form has, 0x04 has not).
    pub fn tcp_object(&self) -> Option<(Cow<'_, TcpDsr>, bool)> {
        let u32_at = |b: &[u8], o: usize| {
            b.get(o..o + 4)
                .map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]))
        };
        match self {
            NetworkDsr::Tcp(t) => Some((Cow::Borrowed(t), true)),
            NetworkDsr::Other {
                subtype: 0x03,
                body,
                ..
            } => {
                let win = body.get(12..14).map(|x| u16::from_be_bytes([x[0], x[1]]))?;
                let base = u32_at(body, 4)?;
                // No sequence progress recorded: the last sequence number is the base.
                let src = TcpDir {
                    seqbase: base,
                    seq: base,
                    win,
                    flags: *body.get(14)?,
                    winshift: *body.get(15)?,
                    ..Default::default()
                };
                let t = TcpDsr {
                    status: u32_at(body, 0)?,
                    options: u32_at(body, 8)?,
                    src,
                    dst: None,
                    ..Default::default()
                };
                Some((Cow::Owned(t), true))
            }
            NetworkDsr::Other {
                subtype: 0x04,
                body,
                ..
            } => {
                let t = TcpDsr {
                    status: u32_at(body, 0)?,
                    dst: None,
                    ..Default::default()
                };
                Some((Cow::Owned(t), false))
            }
            _ => None,
        }
    }
}

/// IPATTR DSR (0x48): TTL, TOS, IP id per direction and IP-option masks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct IpAttrDir {
    pub ttl: u8,
    pub tos: u8,
    pub ipid: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct IpAttrDsr {
    pub src: Option<IpAttrDir>,
    pub dst: Option<IpAttrDir>,
    pub src_options: Option<u32>,
    pub dst_options: Option<u32>,
    /// Extra qualifier bits (0x10/0x20 fragment flags).
    pub frag_bits: u8,
}

/// VLAN DSR (0x40): full TCI per direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct VlanDsr {
    pub src: Option<u16>,
    pub dst: Option<u16>,
}

/// MPLS DSR (0x44): first label stack entry per direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MplsDsr {
    pub src: Option<u32>,
    pub dst: Option<u32>,
}

/// MAC DSR (0x42).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MacDsr {
    pub qual: u8,
    pub dst: [u8; 6],
    pub src: [u8; 6],
    /// EtherType as a number (written in host order on the wire, as argus does).
    pub etype: u16,
    pub dsap: u8,
    pub ssap: u8,
}

/// n, min, mean, stdev, max of inter-packet times in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct JitterStats {
    pub n: i32,
    pub min: f32,
    pub mean: f32,
    pub stdev: f32,
    pub max: f32,
}

/// JITTER DSR (0x46).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct JitterDsr {
    pub src_act: Option<JitterStats>,
    pub src_idle: Option<JitterStats>,
    pub dst_act: Option<JitterStats>,
    pub dst_idle: Option<JitterStats>,
}

/// PSIZE DSR (0x12): min/max frame size per direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PsizeDsr {
    pub src: Option<(u16, u16)>,
    pub dst: Option<(u16, u16)>,
}

/// DATA DSR (0x50) with user data of one direction.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DataDsr {
    /// Configured capture length (`size`).
    pub size: u16,
    /// Stored bytes (`count` = len()).
    pub data: Vec<u8>,
    pub compressed: bool,
}

/// ENCAPS DSR (0x20): encapsulation bit masks per direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EncapsDsr {
    pub src: u32,
    pub dst: u32,
    /// Qualifier byte as written by the sensor (usually 0; seen 0x04/0x0c).
    pub qual: u8,
}

/// Duplicate DSR (type 0x58, our extension; docs/duplicates.md, docs/compat.md): mirror copies
/// of this flow's packets per direction since the last record. Written only when there were
/// copies; argus-clients 3.0.8 skip the unknown type by its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DupDsr {
    pub src_pkts: u32,
    pub dst_pkts: u32,
    pub src_bytes: u64,
    pub dst_bytes: u64,
}

/// DSR type byte of [`DupDsr`].
pub const DUP_DSR_TYPE: u8 = 0x58;

/// ICMP mapped-error DSR (0x34).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct IcmpDsr {
    pub qual: u8,
    pub icmp_type: u8,
    pub code: u8,
    pub seq: u16,
    pub osrc: u32,
    pub odst: u32,
    pub isrc: u32,
    pub idst: u32,
    pub gateway: u32,
}

/// AGR DSR (0x60), written by aggregating clients.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct AgrDsr {
    pub count: u32,
    /// The rest of the DSR body (host-order statistics), kept verbatim.
    pub raw: Vec<u8>,
}

/// A flow record (type 0x13), one field per DSR, in the sensor's emission order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct FlowRecord {
    pub cause: Cause,
    pub srcid: SrcId,
    pub seq: u32,
    pub flow: Option<FlowDsr>,
    pub time: Option<TimeDsr>,
    pub meter: Option<MeterDsr>,
    pub agr: Option<AgrDsr>,
    pub net: Option<NetworkDsr>,
    pub vlan: Option<VlanDsr>,
    pub mpls: Option<MplsDsr>,
    pub jitter: Option<JitterDsr>,
    pub ipattr: Option<IpAttrDsr>,
    pub psize: Option<PsizeDsr>,
    pub src_data: Option<DataDsr>,
    pub dst_data: Option<DataDsr>,
    pub mac: Option<MacDsr>,
    pub icmp: Option<IcmpDsr>,
    pub encaps: Option<EncapsDsr>,
    /// Mirror copies (duplicates) counted per direction.
    pub dups: Option<DupDsr>,
    /// DSRs the decoder did not know (type byte, skipped) - counted, not fatal.
    pub unknown_dsrs: u16,
}

/// Management record (type 0x83), 128 bytes; see ref/argus-format.md section 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Mar {
    pub cause: Cause,
    pub status: u32,
    /// Cookie in the init MAR, the source id otherwise.
    pub argusid: u32,
    pub localnet: u32,
    pub netmask: u32,
    pub next_seq: u32,
    pub startime: Ts,
    pub now: Ts,
    pub major: u8,
    pub minor: u8,
    pub iftype: u8,
    pub ifstatus: u8,
    pub report_interval: u16,
    pub mar_interval: u16,
    pub pkts_rcvd: u64,
    pub bytes_rcvd: u64,
    pub drift: i64,
    pub records: u32,
    pub flows: u32,
    pub dropped: u32,
    pub queue: u32,
    pub output: u32,
    pub clients: u32,
    pub bufs: u32,
    pub bytes: u32,
    pub suserlen: u16,
    pub duserlen: u16,
    /// Duplicate summary of a status MAR (our use of the 12 pad bytes at offset 108, which
    /// argus-clients 3.0.8 ignore; all zero when the interval had no copies, as argus writes
    /// them; docs/duplicates.md).
    pub dups: MarDups,
    pub thisid: u32,
}

impl Mar {
    /// A supplemental MAR (cause 0x90) carrying one interface and VLAN's copies in a status
    /// interval (docs/duplicates.md, "Showing a faulty SPAN"): written after the status MAR
    /// of the interval, one per interface and VLAN with copies.
    pub fn is_dup_detail(&self) -> bool {
        self.cause == Cause::Supplemental && self.dups.pkts > 0
    }

    /// Packets by flow direction of a duplicate-detail MAR (`records`, `flows`).
    pub fn dup_pkts(&self) -> [u64; 2] {
        [self.records as u64, self.flows as u64]
    }

    /// Copies by flow direction of a duplicate-detail MAR (`dropped`, `queue`).
    pub fn dup_copies(&self) -> [u64; 2] {
        [self.dropped as u64, self.queue as u64]
    }

    /// The interface name of a duplicate-detail MAR: up to 16 bytes, NUL-padded, in the
    /// `output`, `clients`, `bufs` and `bytes` words.
    pub fn dup_iface(&self) -> String {
        let mut b = Vec::with_capacity(16);
        for w in [self.output, self.clients, self.bufs, self.bytes] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    }

    /// Store `name` (cut to 16 bytes) as [`Mar::dup_iface`] reads it.
    pub fn set_dup_iface(&mut self, name: &str) {
        let mut b = [0u8; 16];
        let n = name.len().min(16);
        b[..n].copy_from_slice(&name.as_bytes()[..n]);
        let w = |k: usize| u32::from_be_bytes([b[k], b[k + 1], b[k + 2], b[k + 3]]);
        (self.output, self.clients, self.bufs, self.bytes) = (w(0), w(4), w(8), w(12));
    }
}

/// The MAR pad's duplicate summary: copies in the interval, and the VLAN with the highest
/// share of copies among its packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MarDups {
    /// Mirror copies found in the interval (all VLANs).
    pub pkts: u32,
    /// The VLAN id with the highest share of copies (0: untagged or priority-tagged).
    pub vid: u16,
    /// Directions its copies ran in: 0x01 flow source to destination, 0x02 the reverse.
    pub dirs: u8,
    /// VLANs (untagged counted as one) with copies in the interval, saturating at 255.
    pub vlans: u8,
    /// Copies per thousand packets of that VLAN.
    pub permille: u16,
}

/// Event record (type 0x43).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct EventRecord {
    pub cause: Cause,
    pub srcid: SrcId,
    pub seq: u32,
    pub start: Ts,
    pub end: Ts,
    pub data: DataDsr,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Mar(Mar),
    Flow(Box<FlowRecord>),
    Event(Box<EventRecord>),
}
