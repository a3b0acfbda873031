//! The argus filter language (ra(1) "filter-expression", tcpdump-like), compiled once and
//! evaluated either on flow records (`ra - EXPR`, remote `FILTER:`) or on packets (the
//! sensor's filter, before flow tracking). Grammar and semantics: docs/filter.md.
//!
//! ```
//! use argus::filter::{CompiledFilter, Target};
//! let f = CompiledFilter::compile("tcp and (port 80 or 443) and not src net 10.0.0.0/8",
//!                                 Target::Records).unwrap();
//! assert!(CompiledFilter::compile("pkts gt", Target::Records).is_err());
//! ```
//!
//! Evaluation walks a tree built at compile time over borrowed record/packet data: it does not
//! allocate, except for the record fields ra computes in floating point (`dur`, `rate`, `load`),
//! which are taken from `print` (ra's own arithmetic) once per record when the filter uses them.

mod eval;
mod parse;

use crate::record::decode::DsrSet;
use std::fmt;

pub use eval::PacketView;

/// Where a compiled filter is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Flow records and MARs (ra, the server's per-client filter).
    Records,
    /// Packets in the sensor, before flow tracking.
    Packets,
}

/// A syntax or compile error: where (character offset into the expression) and near which
/// token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    pub offset: usize,
    pub token: String,
    pub msg: String,
}

impl FilterError {
    fn new(offset: usize, token: &str, msg: &str) -> FilterError {
        FilterError {
            offset,
            token: token.to_string(),
            msg: msg.to_string(),
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.token.is_empty() {
            write!(
                f,
                "filter: syntax error at offset {} (end of expression): {}",
                self.offset, self.msg
            )
        } else {
            write!(
                f,
                "filter: syntax error at offset {} near '{}': {}",
                self.offset, self.token, self.msg
            )
        }
    }
}

impl std::error::Error for FilterError {}

/// Direction qualifier. Without one, `src or dst` is assumed (ra(1)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Src,
    Dst,
    Either,
    Both,
}

/// Comparison operators (`eq ne gt ge/gte lt le/lte`, `= == != > >= < <=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn apply(self, a: f64, b: f64) -> bool {
        match self {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Lt => a < b,
            Op::Le => a <= b,
        }
    }
}

/// Protocol classes (standalone keywords and qualifiers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// IPv4 or IPv6 (ra: "'ip' reduces to 'ipv4 or ipv6'").
    Ip,
    Ipv4,
    Ipv6,
    Arp,
    Rarp,
    /// 802.3/LLC frames (length field instead of an EtherType).
    Llc,
    /// Ethernet loopback (EtherType 0x9000).
    Loop,
    /// Spanning tree: LLC SAP 0x42.
    Stp,
    Isis,
    /// IP protocol number, IPv4 or IPv6.
    IpProto(u8),
}

/// Numeric fields of comparisons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Metric {
    Pkts,
    Bytes,
    /// Packets: the frame length; records: like `bytes`.
    Len,
    AppBytes,
    Ttl,
    Tos,
    Rate,
    Load,
    Dur,
    Trans,
    Seq,
    Vid,
    Mpls,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::Pkts => "pkts",
            Metric::Bytes => "bytes",
            Metric::Len => "len",
            Metric::AppBytes => "appbytes",
            Metric::Ttl => "ttl",
            Metric::Tos => "tos",
            Metric::Rate => "rate",
            Metric::Load => "load",
            Metric::Dur => "dur",
            Metric::Trans => "trans",
            Metric::Seq => "seq",
            Metric::Vid => "vid",
            Metric::Mpls => "mid",
        }
    }
    /// Meaningful for a single packet.
    fn per_packet(self) -> bool {
        matches!(
            self,
            Metric::Bytes | Metric::Len | Metric::Ttl | Metric::Tos | Metric::Vid | Metric::Mpls
        )
    }
    /// The flow-record DSRs its value comes from (dur, rate and load: print's arithmetic over
    /// the whole record).
    fn dsrs(self) -> DsrSet {
        match self {
            Metric::Pkts | Metric::Bytes | Metric::Len | Metric::AppBytes => DsrSet::KEY.with(0x10),
            Metric::Ttl | Metric::Tos => DsrSet::KEY.with(0x48),
            Metric::Vid => DsrSet::KEY.with(0x40),
            Metric::Mpls => DsrSet::KEY.with(0x44),
            Metric::Trans => DsrSet::KEY.with(0x60),
            Metric::Seq => DsrSet::KEY,
            Metric::Rate | Metric::Load | Metric::Dur => DsrSet::ALL,
        }
    }
    /// No direction: `src`/`dst` do not apply.
    fn directionless(self) -> bool {
        matches!(self, Metric::Dur | Metric::Trans | Metric::Seq)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Test {
    Man,
    Far,
    Class(Class),
    EtherProto(u16),
    /// Address (IPv4 in the first four bytes) and whether it is IPv4.
    Host(Side, [u8; 16], bool),
    /// Network, mask, IPv4.
    Net(Side, [u8; 16], [u8; 16], bool),
    /// Port range (TCP and UDP only).
    Port(Side, u16, u16),
    EtherHost(Side, [u8; 6]),
    Multicast,
    EtherMulticast,
    SrcId(u32),
    Cmp(Side, Metric, Op, f64),
}

/// The compiled expression: a tree; `Test` carries the offset of its primitive.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    True,
    Test(Test, usize),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
}

/// A filter compiled for one [`Target`].
#[derive(Clone, Debug)]
pub struct CompiledFilter {
    root: Node,
    text: String,
    target: Target,
    /// Record evaluation needs `print`'s view of the record: a field ra computes in floating
    /// point (`dur`, `rate`, `load`) or a `src`/`dst` qualified primitive (ra filters records
    /// after its direction rules turned them around).
    needs_print: bool,
    /// The flow-record DSRs evaluation reads (`RecordReader::set_prefilter`).
    dsrs: DsrSet,
    /// Every primitive reads only the flow key (class, protocol, host, net, port): the filter
    /// can be evaluated on the FLOW DSR's bytes ([`CompiledFilter::matches_flow_bytes`]).
    key_only: bool,
    /// The IP protocols for which an IP flow can match at all (a bit per protocol number):
    /// a necessary condition, checked before anything else on a record's bytes.
    ip_protos: ProtoSet,
}

/// A set of IP protocol numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProtoSet([u64; 4]);

impl ProtoSet {
    const ALL: ProtoSet = ProtoSet([u64::MAX; 4]);
    const NONE: ProtoSet = ProtoSet([0; 4]);
    fn of(protos: &[u8]) -> ProtoSet {
        let mut s = ProtoSet::NONE;
        for &p in protos {
            s.0[p as usize >> 6] |= 1 << (p & 63);
        }
        s
    }
    fn and(self, o: ProtoSet) -> ProtoSet {
        ProtoSet(std::array::from_fn(|i| self.0[i] & o.0[i]))
    }
    fn or(self, o: ProtoSet) -> ProtoSet {
        ProtoSet(std::array::from_fn(|i| self.0[i] | o.0[i]))
    }
    pub(crate) fn contains(self, p: u8) -> bool {
        self.0[p as usize >> 6] & (1 << (p & 63)) != 0
    }

    /// The protocols for which an IPv4 or IPv6 flow can satisfy `n` (more is allowed, never
    /// fewer: `not` gives all of them).
    fn possible(n: &Node) -> ProtoSet {
        match n {
            Node::Test(t, _) => match t {
                Test::Class(Class::IpProto(p)) => ProtoSet::of(&[*p]),
                // False for every IP flow (see `eval::class`, `eval::test`).
                Test::Class(
                    Class::Arp | Class::Rarp | Class::Llc | Class::Loop | Class::Stp | Class::Isis,
                )
                | Test::Man => ProtoSet::NONE,
                Test::EtherProto(e) if !matches!(*e, 0x0800 | 0x86dd) => ProtoSet::NONE,
                Test::Port(..) => ProtoSet::of(&[6, 17]),
                _ => ProtoSet::ALL,
            },
            Node::And(a, b) => Self::possible(a).and(Self::possible(b)),
            Node::Or(a, b) => Self::possible(a).or(Self::possible(b)),
            Node::True | Node::Not(_) => ProtoSet::ALL,
        }
    }
}

fn walk<'n>(
    n: &'n Node,
    f: &mut impl FnMut(&'n Test, usize) -> Result<(), FilterError>,
) -> Result<(), FilterError> {
    match n {
        Node::True => Ok(()),
        Node::Test(t, off) => f(t, *off),
        Node::Not(a) => walk(a, f),
        Node::And(a, b) | Node::Or(a, b) => {
            walk(a, f)?;
            walk(b, f)
        }
    }
}

impl CompiledFilter {
    /// Parses `expr` and checks it against `target`: a packet filter refuses record-only
    /// primitives (`dur`, `rate`, `load`, `pkts`, `trans`, `seq`, `appbytes`, `srcid`, `man`,
    /// `far`) with an error naming the keyword and its offset. An empty expression matches
    /// everything.
    pub fn compile(expr: &str, target: Target) -> Result<CompiledFilter, FilterError> {
        // Offsets are counted in characters (the same as bytes for ASCII expressions).
        Self::compile_bytes(expr, target).map_err(|mut e| {
            e.offset = expr.get(..e.offset).map_or(e.offset, |p| p.chars().count());
            e
        })
    }

    fn compile_bytes(expr: &str, target: Target) -> Result<CompiledFilter, FilterError> {
        let toks = parse::lex(expr)?;
        let root = parse::Parser::new(toks).parse_all()?;
        let mut needs_print = false;
        let mut key_only = true;
        // The key and the MAC DSR always; ra's orientation rules read the TCP status.
        let mut dsrs = DsrSet::KEY.with(0x42).with(0x30);
        walk(&root, &mut |t, off| {
            let kw = expr.get(off..).unwrap_or("");
            let kw = kw
                .split(|c: char| c.is_whitespace() || "()!=<>&|".contains(c))
                .next()
                .unwrap_or("");
            let record_only = |name: &str| {
                FilterError::new(
                    off,
                    kw,
                    &format!(
                        "'{name}' is a flow record field; the sensor's packet filter cannot use it"
                    ),
                )
            };
            key_only &= matches!(
                t,
                Test::Man
                    | Test::Far
                    | Test::Class(_)
                    | Test::EtherProto(_)
                    | Test::Host(..)
                    | Test::Net(..)
                    | Test::Port(..)
                    | Test::Multicast
            );
            match t {
                Test::Host(Side::Src | Side::Dst, ..)
                | Test::Net(Side::Src | Side::Dst, ..)
                | Test::Port(Side::Src | Side::Dst, ..)
                | Test::EtherHost(Side::Src | Side::Dst, ..) => needs_print = true,
                Test::Cmp(side, m, _, _) => {
                    dsrs = dsrs.union(m.dsrs());
                    if matches!(m, Metric::Dur | Metric::Rate | Metric::Load)
                        || (matches!(side, Side::Src | Side::Dst) && !m.directionless())
                    {
                        needs_print = true;
                    }
                    if target == Target::Packets && !m.per_packet() {
                        return Err(record_only(m.name()));
                    }
                }
                Test::Man | Test::Far | Test::SrcId(_) if target == Target::Packets => {
                    return Err(record_only(match t {
                        Test::Man => "man",
                        Test::Far => "far",
                        _ => "srcid",
                    }));
                }
                _ => {}
            }
            Ok(())
        })?;
        let ip_protos = ProtoSet::possible(&root);
        Ok(CompiledFilter {
            root,
            text: expr.to_string(),
            target,
            needs_print,
            dsrs,
            key_only,
            ip_protos,
        })
    }

    /// The expression as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn target(&self) -> Target {
        self.target
    }

    /// True when the expression is empty (matches everything).
    pub fn is_empty(&self) -> bool {
        self.root == Node::True
    }

    /// Evaluates on a record: MARs match `man` (every other primitive is false for them, so
    /// `not tcp` selects MARs too, as in ra); event records match nothing but `not ...`.
    pub fn matches_record(&self, rec: &crate::record::Record) -> bool {
        eval::record(self, rec)
    }

    /// Evaluates on a flow record (as `matches_record` on `Record::Flow`); the record needs
    /// only the DSRs in [`CompiledFilter::record_dsrs`].
    pub fn matches_flow(&self, r: &crate::record::FlowRecord) -> bool {
        eval::flow(self, r)
    }

    /// Evaluates on a flow record given as its bytes (header included), without decoding it,
    /// when the filter reads only the flow key: the answer [`CompiledFilter::matches_flow`]
    /// gives on the decoded record, or None when the bytes alone cannot tell (the filter reads
    /// more than the key; a key other than IPv4/IPv6; a damaged record; ra's direction rules
    /// would decide).
    pub fn matches_flow_bytes(&self, rec: &[u8]) -> Option<bool> {
        if !self.key_only || self.target != Target::Records {
            return None;
        }
        eval::flow_bytes(self, rec)
    }

    /// The flow-record DSRs the evaluation reads: a record decoded with only these gives the
    /// same answer.
    pub fn record_dsrs(&self) -> DsrSet {
        self.dsrs
    }

    /// Evaluates on a decoded, classified packet (`Target::Packets`).
    pub fn matches_packet(&self, p: &PacketView) -> bool {
        eval::packet(self, p)
    }
}

#[cfg(test)]
mod tests;
