//! Evaluation of a compiled filter on records and on packets. Both targets first reduce their
//! input to a [`Subject`] (family, protocol, addresses and ports in one order, MACs), built on
//! the stack from borrowed data; the tree walk then needs no allocation.

use super::{Class, CompiledFilter, Metric, Node, Side, Test};
use crate::flow::key::{KeyBytes, PacketKey};
use crate::print::{format_flow, parse_field, PrintOpts};
use crate::record::{FlowKey, FlowRecord, Record};
use crate::wire::Decoded;

/// A packet as the sensor sees it before flow tracking: its decoded layers and its flow key.
#[derive(Clone, Copy)]
pub struct PacketView<'a> {
    pub decoded: &'a Decoded,
    pub key: &'a PacketKey<'a>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fam {
    V4,
    V6,
    Ether,
    Arp,
    Rarp,
    Isis,
    Other,
    Mar,
    Event,
}

/// What the primitives look at, in one order: for records the originator order (the REVERSE
/// bit applied, not ra's print-time direction guesses), for packets the packet's own order.
#[derive(Clone, Copy)]
struct Subject {
    fam: Fam,
    proto: u8,
    sa: [u8; 16],
    da: [u8; 16],
    sport: u16,
    dport: u16,
    /// EtherType (or 802.3 length) of non-IP keys.
    etype: u16,
    /// LLC SAPs (source, destination) of LLC keys.
    saps: Option<(u8, u8)>,
    smac: Option<[u8; 6]>,
    dmac: Option<[u8; 6]>,
}

impl Subject {
    fn empty(fam: Fam) -> Subject {
        Subject {
            fam,
            proto: 0,
            sa: [0; 16],
            da: [0; 16],
            sport: 0,
            dport: 0,
            etype: 0,
            saps: None,
            smac: None,
            dmac: None,
        }
    }
    fn swap(&mut self) {
        std::mem::swap(&mut self.sa, &mut self.da);
        std::mem::swap(&mut self.sport, &mut self.dport);
        std::mem::swap(&mut self.smac, &mut self.dmac);
        if let Some((s, d)) = self.saps {
            self.saps = Some((d, s));
        }
    }
    fn is_ip(&self) -> bool {
        matches!(self.fam, Fam::V4 | Fam::V6)
    }
    /// Families whose addresses are IPv4 (IPv4 flows, ARP protocol addresses).
    fn v4_addrs(&self) -> bool {
        matches!(self.fam, Fam::V4 | Fam::Arp | Fam::Rarp)
    }
    fn ether_type(&self) -> Option<u16> {
        match self.fam {
            Fam::V4 => Some(0x0800),
            Fam::V6 => Some(0x86dd),
            Fam::Arp => Some(0x0806),
            Fam::Rarp => Some(0x8035),
            Fam::Ether => Some(self.etype),
            _ => None,
        }
    }
}

fn mac(b: &[u8]) -> [u8; 6] {
    let mut m = [0u8; 6];
    m.copy_from_slice(&b[..6]);
    m
}

fn ip4(a: [u8; 4]) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&a);
    b
}

/// Subject of a flow key given as the FLOW DSR body bytes (the sensor's [`KeyBytes`]).
fn from_key_bytes(k: &KeyBytes) -> Subject {
    let b = &k.b;
    let mut s;
    match k.qual & 0x1f {
        0x01 if k.kind != 0x06 => {
            s = Subject::empty(Fam::V4);
            s.sa[..4].copy_from_slice(&b[0..4]);
            s.da[..4].copy_from_slice(&b[4..8]);
            s.proto = b[8];
            s.sport = u16::from_be_bytes([b[10], b[11]]);
            s.dport = u16::from_be_bytes([b[12], b[13]]);
        }
        0x02 => {
            s = Subject::empty(Fam::V6);
            s.sa.copy_from_slice(&b[0..16]);
            s.da.copy_from_slice(&b[16..32]);
            s.proto = b[32];
            s.sport = u16::from_be_bytes([b[36], b[37]]);
            s.dport = u16::from_be_bytes([b[38], b[39]]);
        }
        0x03 => {
            s = Subject::empty(Fam::Ether);
            s.dmac = Some(mac(&b[0..6]));
            s.smac = Some(mac(&b[6..12]));
            s.etype = u16::from_be_bytes([b[12], b[13]]);
            if s.etype <= 1500 {
                s.saps = Some((b[15], b[14]));
            }
        }
        q @ (0x04 | 0x05) if k.kind == 0x06 => {
            s = Subject::empty(if q == 0x05 { Fam::Rarp } else { Fam::Arp });
            s.sa[..4].copy_from_slice(&b[8..12]);
            s.da[..4].copy_from_slice(&b[12..16]);
        }
        0x0a => s = Subject::empty(Fam::Isis),
        0x08 => {
            s = Subject::empty(Fam::Other);
            s.dmac = Some(mac(&b[0..6]));
            s.smac = Some(mac(&b[6..12]));
        }
        _ => s = Subject::empty(Fam::Other),
    }
    s
}

/// Subject of a flow record: the key in originator order (REVERSE applied, as ra does before
/// filtering), MACs from the MAC DSR when there is one.
fn from_record(r: &FlowRecord) -> Subject {
    let Some(f) = &r.flow else {
        return Subject::empty(Fam::Other);
    };
    let mut s = match &f.key {
        FlowKey::Ipv4 {
            src,
            dst,
            proto,
            sport,
            dport,
            ..
        } => {
            let mut s = Subject::empty(Fam::V4);
            s.sa = ip4(*src);
            s.da = ip4(*dst);
            s.proto = *proto;
            s.sport = *sport;
            s.dport = *dport;
            s
        }
        FlowKey::Ipv6 {
            src,
            dst,
            proto,
            sport,
            dport,
            ..
        } => {
            let mut s = Subject::empty(Fam::V6);
            s.sa = *src;
            s.da = *dst;
            s.proto = *proto;
            s.sport = *sport;
            s.dport = *dport;
            s
        }
        FlowKey::Ether {
            dst,
            src,
            etype,
            dsap,
            ssap,
        } => {
            let mut s = Subject::empty(Fam::Ether);
            s.smac = Some(*src);
            s.dmac = Some(*dst);
            s.etype = *etype;
            if *etype <= 1500 {
                s.saps = Some((*ssap, *dsap));
            }
            s
        }
        FlowKey::Arp { spa, tpa, .. } => {
            let mut s = Subject::empty(if f.qual & 0x1f == 0x05 {
                Fam::Rarp
            } else {
                Fam::Arp
            });
            s.sa = ip4(*spa);
            s.da = ip4(*tpa);
            s
        }
        FlowKey::Raw(b) => {
            let mut s = Subject::empty(match f.qual & 0x1f {
                0x0a => Fam::Isis,
                0x05 if f.kind == 0x06 => Fam::Rarp,
                _ => Fam::Other,
            });
            // RARP (flow::key::rarp_key): a reply's target protocol address.
            if s.fam == Fam::Rarp && b.len() >= 12 {
                s.da[..4].copy_from_slice(&b[8..12]);
            }
            if f.qual & 0x1f == 0x08 && b.len() >= 12 {
                s.dmac = Some(mac(&b[0..6]));
                s.smac = Some(mac(&b[6..12]));
            }
            s
        }
    };
    if f.reverse && s.is_ip() {
        s.swap();
    }
    if let Some(m) = &r.mac {
        s.smac = Some(m.src);
        s.dmac = Some(m.dst);
    }
    s
}

/// Numeric fields of the thing being filtered; `None` = not present (the comparison is false).
trait Metrics {
    fn metric(&self, m: Metric, src: bool) -> Option<f64>;
    fn srcid(&self) -> Option<u32>;
}

struct RecordMetrics<'a> {
    r: &'a FlowRecord,
    /// ra's print-time direction rules turned the record (the filter sees it turned, as ra's).
    turned: bool,
    /// dur, srate, drate (print order), sload, dload (originator order), from `print`; computed
    /// when a test first needs them.
    floats: std::cell::OnceCell<[f64; 5]>,
}

/// ra's floating-point fields of a flow record, with `print`'s own arithmetic: printed
/// numerically as CSV and read back (only for filters that test dur, rate or load).
fn print_floats(r: &FlowRecord) -> [f64; 5] {
    static FIELDS: std::sync::OnceLock<Vec<crate::print::FieldSpec>> = std::sync::OnceLock::new();
    let fields = FIELDS.get_or_init(|| {
        ["dur", "srate", "drate", "sload", "dload"]
            .iter()
            .filter_map(|n| parse_field(n))
            .collect()
    });
    let o = PrintOpts {
        numeric: 2,
        sep: Some(",".into()),
        header: false,
        print_man: false,
        fields: fields.clone(),
        ..PrintOpts::default()
    };
    let line = format_flow(r, &o);
    let v: Vec<&str> = line.split(',').map(str::trim).collect();
    let num = |i: usize| -> f64 { v.get(i).and_then(|x| x.parse().ok()).unwrap_or(0.0) };
    [num(0), num(1), num(2), num(3), num(4)]
}

impl Metrics for RecordMetrics<'_> {
    fn metric(&self, m: Metric, src_asked: bool) -> Option<f64> {
        let r = self.r;
        // The record's own blocks are in originator order; ra's turn swaps them.
        let src = src_asked ^ self.turned;
        let pick = |s: u64, d: u64| Some(if src { s } else { d } as f64);
        match m {
            Metric::Pkts => r.meter.and_then(|x| pick(x.src.pkts, x.dst.pkts)),
            Metric::Bytes | Metric::Len => r.meter.and_then(|x| pick(x.src.bytes, x.dst.bytes)),
            Metric::AppBytes => r.meter.and_then(|x| pick(x.src.appbytes, x.dst.appbytes)),
            Metric::Ttl | Metric::Tos => {
                let a = r.ipattr?;
                let d = if src { a.src } else { a.dst }?;
                Some(if m == Metric::Ttl { d.ttl } else { d.tos } as f64)
            }
            Metric::Vid => {
                let v = r.vlan?;
                (if src { v.src } else { v.dst }).map(|t| (t & 0x0fff) as f64)
            }
            Metric::Mpls => {
                let v = r.mpls?;
                (if src { v.src } else { v.dst }).map(|t| (t >> 12) as f64)
            }
            Metric::Trans => Some(r.agr.as_ref().map(|a| a.count).unwrap_or(1) as f64),
            Metric::Seq => Some(r.seq as f64),
            Metric::Dur | Metric::Rate | Metric::Load => {
                let f = *self.floats.get_or_init(|| print_floats(self.r));
                // Rates come in print order (turned); loads in originator order (ra computes
                // them from its canonical copy).
                Some(match (m, if m == Metric::Rate { src_asked } else { src }) {
                    (Metric::Dur, _) => f[0],
                    (Metric::Rate, true) => f[1],
                    (Metric::Rate, false) => f[2],
                    (_, true) => f[3],
                    (_, false) => f[4],
                })
            }
        }
    }
    fn srcid(&self) -> Option<u32> {
        Some(self.r.srcid.value())
    }
}

struct PacketMetrics<'a>(&'a PacketView<'a>);

impl Metrics for PacketMetrics<'_> {
    /// A packet has one value per field: `src`/`dst` both name it.
    fn metric(&self, m: Metric, _src: bool) -> Option<f64> {
        let (d, k) = (self.0.decoded, self.0.key);
        match m {
            Metric::Bytes | Metric::Len => Some(d.wire_len as f64),
            Metric::Ttl if k.is_ip => Some(k.ttl as f64),
            Metric::Tos if k.is_ip => Some(k.tos as f64),
            Metric::Vid => d.vlan_tci.map(|t| (t & 0x0fff) as f64),
            Metric::Mpls => d.mpls.map(|l| (l >> 12) as f64),
            _ => None,
        }
    }
    fn srcid(&self) -> Option<u32> {
        None
    }
}

/// MARs: ra reads their packet/byte counts, duration, rate and load as 0 (so `pkts lt 10`
/// selects MARs in ra); other fields are absent.
struct MarMetrics;
impl Metrics for MarMetrics {
    fn metric(&self, m: Metric, _: bool) -> Option<f64> {
        matches!(
            m,
            Metric::Pkts
                | Metric::Bytes
                | Metric::Len
                | Metric::AppBytes
                | Metric::Dur
                | Metric::Rate
                | Metric::Load
        )
        .then_some(0.0)
    }
    fn srcid(&self) -> Option<u32> {
        None
    }
}

struct PacketlessNone;
impl Metrics for PacketlessNone {
    fn metric(&self, _: Metric, _: bool) -> Option<f64> {
        None
    }
    fn srcid(&self) -> Option<u32> {
        None
    }
}

fn side(s: Side, f: impl Fn(bool) -> bool) -> bool {
    match s {
        Side::Src => f(true),
        Side::Dst => f(false),
        Side::Either => f(true) || f(false),
        Side::Both => f(true) && f(false),
    }
}

fn class(c: Class, s: &Subject) -> bool {
    match c {
        Class::Ip => s.is_ip(),
        Class::Ipv4 => s.fam == Fam::V4,
        Class::Ipv6 => s.fam == Fam::V6,
        // Debian's "arp" selects RARP flows too (ARGUS_TYPE_ARP and _RARP keys alike).
        Class::Arp => s.fam == Fam::Arp || s.fam == Fam::Rarp,
        Class::Rarp => s.fam == Fam::Rarp || (s.fam == Fam::Ether && s.etype == 0x8035),
        Class::Llc => s.fam == Fam::Ether && s.etype <= 1500,
        Class::Loop => s.fam == Fam::Ether && s.etype == 0x9000,
        Class::Stp => s.saps.is_some_and(|(a, b)| a == 0x42 || b == 0x42),
        Class::Isis => s.fam == Fam::Isis,
        Class::IpProto(p) => s.is_ip() && s.proto == p,
    }
}

fn test<M: Metrics>(t: &Test, s: &Subject, m: &M) -> bool {
    match t {
        Test::Man => s.fam == Fam::Mar,
        Test::Far => !matches!(s.fam, Fam::Mar | Fam::Event),
        Test::Class(c) => class(*c, s),
        Test::EtherProto(p) => s.ether_type() == Some(*p),
        Test::Host(sd, a, v4) => {
            let fam_ok = if *v4 { s.v4_addrs() } else { s.fam == Fam::V6 };
            let n = if *v4 { 4 } else { 16 };
            fam_ok && side(*sd, |src| (if src { &s.sa } else { &s.da })[..n] == a[..n])
        }
        Test::Net(sd, net, mask, v4) => {
            let fam_ok = if *v4 { s.v4_addrs() } else { s.fam == Fam::V6 };
            let n = if *v4 { 4 } else { 16 };
            fam_ok
                && side(*sd, |src| {
                    let a = if src { &s.sa } else { &s.da };
                    (0..n).all(|i| a[i] & mask[i] == net[i])
                })
        }
        Test::Port(sd, lo, hi) => {
            s.is_ip()
                && matches!(s.proto, 6 | 17)
                && side(*sd, |src| {
                    let p = if src { s.sport } else { s.dport };
                    (*lo..=*hi).contains(&p)
                })
        }
        Test::EtherHost(sd, mac) => side(*sd, |src| {
            (if src { s.smac } else { s.dmac }).is_some_and(|x| x == *mac)
        }),
        Test::Multicast => match s.fam {
            Fam::V4 => s.sa[0] & 0xf0 == 0xe0 || s.da[0] & 0xf0 == 0xe0,
            Fam::V6 => s.sa[0] == 0xff || s.da[0] == 0xff,
            _ => false,
        },
        Test::EtherMulticast => {
            s.smac.is_some_and(|x| x[0] & 1 != 0) || s.dmac.is_some_and(|x| x[0] & 1 != 0)
        }
        Test::SrcId(id) => m.srcid() == Some(*id) && !matches!(s.fam, Fam::Mar | Fam::Event),
        Test::Cmp(sd, metric, op, v) => {
            if metric.directionless() {
                return m.metric(*metric, true).is_some_and(|x| op.apply(x, *v));
            }
            side(*sd, |src| {
                m.metric(*metric, src).is_some_and(|x| op.apply(x, *v))
            })
        }
    }
}

fn eval<M: Metrics>(n: &Node, s: &Subject, m: &M) -> bool {
    match n {
        Node::True => true,
        Node::Test(t, _) => test(t, s, m),
        Node::Not(a) => !eval(a, s, m),
        Node::And(a, b) => eval(a, s, m) && eval(b, s, m),
        Node::Or(a, b) => eval(a, s, m) || eval(b, s, m),
    }
}

pub(super) fn record(f: &CompiledFilter, rec: &Record) -> bool {
    match rec {
        Record::Mar(_) => eval(&f.root, &Subject::empty(Fam::Mar), &MarMetrics),
        Record::Event(_) => eval(&f.root, &Subject::empty(Fam::Event), &PacketlessNone),
        Record::Flow(r) => flow(f, r),
    }
}

pub(super) fn flow(f: &CompiledFilter, r: &FlowRecord) -> bool {
    let mut s = from_record(r);
    let mut m = RecordMetrics {
        r,
        turned: false,
        floats: std::cell::OnceCell::new(),
    };
    // Whether ra's print rules turn the record around (it then filters it turned): exactly
    // when print swaps the per-direction blocks of an IP flow.
    if f.needs_print && s.is_ip() && crate::print::orientation(r).swap {
        m.turned = true;
        s.swap();
    }
    eval(&f.root, &s, &m)
}

/// [`flow`] for a key-only filter, on the record's bytes: the key as `from_record` builds it
/// (IPv4 and IPv6 keys only, as `decode_flow_key` reads them), and, when ra's direction rules
/// could turn the record, the answer both ways round (None if they differ: only the whole
/// record tells which way ra prints it).
pub(super) fn flow_bytes(f: &CompiledFilter, rec: &[u8]) -> Option<bool> {
    let (sub, qual, b) = crate::record::decode::flow_key_dsr(rec)?;
    let be16 = |o: usize| u16::from_be_bytes([b[o], b[o + 1]]);
    let (v4, proto) = match (sub & 0x3f, qual & 0x1f, b.len()) {
        (0x01 | 0x03, 0x01, 16) => (true, b[8]),
        (0x01 | 0x03, 0x02, 40 | 44) => (false, b[32]),
        _ => return None,
    };
    if !f.ip_protos.contains(proto) {
        return Some(false);
    }
    let mut s;
    if v4 {
        s = Subject::empty(Fam::V4);
        s.sa[..4].copy_from_slice(&b[0..4]);
        s.da[..4].copy_from_slice(&b[4..8]);
        s.sport = be16(10);
        s.dport = be16(12);
    } else {
        s = Subject::empty(Fam::V6);
        s.sa.copy_from_slice(&b[0..16]);
        s.da.copy_from_slice(&b[16..32]);
        s.sport = be16(36);
        s.dport = be16(38);
    }
    s.proto = proto;
    if sub & 0x40 != 0 {
        s.swap();
    }
    // Key-only primitives read no metric.
    let yes = eval(&f.root, &s, &PacketlessNone);
    // ra's direction rules turn only IPv4 TCP and ICMP flows and ICMPv6 flows
    // (`print::View::should_turn`).
    let may_turn = proto == 58 || (v4 && matches!(proto, 1 | 6));
    if f.needs_print && may_turn {
        s.swap();
        if eval(&f.root, &s, &PacketlessNone) != yes {
            return None;
        }
    }
    Some(yes)
}

pub(super) fn packet(f: &CompiledFilter, p: &PacketView) -> bool {
    let mut s = from_key_bytes(&p.key.key);
    // The key is normalised; `reverse` says this packet runs against it.
    if p.key.reverse {
        s.swap();
    }
    if let Some(e) = &p.decoded.eth {
        if s.fam != Fam::Ether {
            s.smac = Some(e.src);
            s.dmac = Some(e.dst);
        }
    }
    eval(&f.root, &s, &PacketMetrics(p))
}
