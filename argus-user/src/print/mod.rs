//! ra-compatible text output (argus-clients 3.0.8.2 `ra`), plus JSON lines.
//!
//! Records are printed from the wire form: the REVERSE bit is applied here, then ra's client-side
//! direction correction (TCP SYN/SYN-ACK, well-known ports with `?` marks, ICMP echo replies).

mod ethertypes;

use crate::record::*;
use std::borrow::Cow;
// foldhash, not SipHash: a port name is looked up for most lines printed.
use hashbrown::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

/// Output options (the ra command line).
#[derive(Clone, Debug)]
pub struct PrintOpts {
    /// Count of `-n` flags modulo 4 (0 names, 1 no port names, 2 no protocol names either).
    pub numeric: u8,
    pub unix_time: bool,
    pub precision: usize,
    /// `-c SEP`.
    pub sep: Option<String>,
    pub header: bool,
    pub print_man: bool,
    pub json: bool,
    pub fields: Vec<FieldSpec>,
    /// Socket owners from `ralsof` events, for the fields `pid`, `comm` and `user`
    /// (docs/correlation.md); empty without them.
    pub owners: Option<std::sync::Arc<crate::correlate::Owners>>,
}

impl Default for PrintOpts {
    fn default() -> Self {
        PrintOpts {
            numeric: 0,
            unix_time: false,
            precision: 6,
            sep: None,
            header: true,
            print_man: true,
            json: false,
            fields: default_fields(),
            owners: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldSpec {
    pub field: Field,
    /// Explicit width (`field:N`).
    pub width: Option<usize>,
    /// Printed without a header label (ra's `+N` beyond the end of the list).
    pub no_label: bool,
}

macro_rules! fields {
    ($($v:ident $name:literal $label:literal $w:literal $al:ident;)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Field { $($v,)* }
        const FIELD_TABLE: &[(Field, &str, &str, usize, Align)] = &[$((Field::$v, $name, $label, $w, Align::$al),)*];
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Align {
    R,
    L,
    C,
}

fields! {
    SrcId "srcid" "SrcId" 18 R;
    Seq "seq" "Seq" 12 C;
    CauseF "cause" "Cause" 7 R;
    STime "stime" "StartTime" 0 R;
    LTime "ltime" "LastTime" 0 R;
    Dur "dur" "Dur" 10 R;
    Flgs "flgs" "Flgs" 9 R;
    Proto "proto" "Proto" 6 R;
    SAddr "saddr" "SrcAddr" 18 R;
    SPort "sport" "Sport" 6 R;
    Dir "dir" "Dir" 5 R;
    DAddr "daddr" "DstAddr" 18 R;
    DPort "dport" "Dport" 6 R;
    Pkts "pkts" "TotPkts" 8 R;
    SPkts "spkts" "SrcPkts" 8 R;
    DPkts "dpkts" "DstPkts" 8 R;
    Bytes "bytes" "TotBytes" 10 R;
    SBytes "sbytes" "SrcBytes" 12 R;
    DBytes "dbytes" "DstBytes" 12 R;
    AppBytes "appbytes" "TotAppByte" 10 R;
    SAppBytes "sappbytes" "SAppBytes" 12 R;
    DAppBytes "dappbytes" "DAppBytes" 12 R;
    State "state" "State" 5 R;
    STtl "sttl" "sTtl" 4 R;
    DTtl "dttl" "dTtl" 4 R;
    STos "stos" "sTos" 5 R;
    DTos "dtos" "dTos" 5 R;
    SIpId "sipid" "sIpId" 7 R;
    DIpId "dipid" "dIpId" 7 R;
    SVid "svid" "sVid" 6 R;
    DVid "dvid" "dVid" 6 R;
    SVpri "svpri" "sVpri" 6 R;
    DVpri "dvpri" "dVpri" 6 R;
    SMpls "smpls" "sMpls" 8 R;
    DMpls "dmpls" "dMpls" 8 R;
    SWin "swin" "SrcWin" 6 R;
    DWin "dwin" "DstWin" 6 R;
    STcpb "stcpb" "SrcTCPBase" 12 R;
    DTcpb "dtcpb" "DstTCPBase" 12 R;
    TcpRtt "tcprtt" "TcpRtt" 12 R;
    SynAck "synack" "SynAck" 12 R;
    AckDat "ackdat" "AckDat" 12 R;
    SRetrans "sretrans" "SrcRetra" 8 R;
    DRetrans "dretrans" "DstRetra" 8 R;
    Dups "dups" "Dups" 8 R;
    SDups "sdups" "SrcDups" 8 R;
    DDups "ddups" "DstDups" 8 R;
    SDupBytes "sdupbytes" "SDupBytes" 12 R;
    DDupBytes "ddupbytes" "DDupBytes" 12 R;
    DupVlan "dupvlan" "DupVlan" 14 R;
    SGap "sgap" "SrcGap" 8 R;
    DGap "dgap" "DstGap" 8 R;
    Inode "inode" "Inode" 18 R;
    TcpOpt "tcpopt" "TcpOpt" 12 R;
    Trans "trans" "Trans" 6 R;
    Pid "pid" "Pid" 8 R;
    Comm "comm" "Command" 16 R;
    User "user" "User" 10 R;
    SMac "smac" "SrcMac" 18 R;
    DMac "dmac" "DstMac" 18 R;
    SIntPkt "sintpkt" "SIntPkt" 12 R;
    DIntPkt "dintpkt" "DIntPkt" 12 R;
    SJit "sjit" "SrcJitter" 12 R;
    DJit "djit" "DstJitter" 12 R;
    SMeanSz "smeansz" "sMeanPktSz" 12 R;
    DMeanSz "dmeansz" "dMeanPktSz" 12 R;
    SMaxSz "smaxsz" "sMaxPktSz" 12 R;
    DMaxSz "dmaxsz" "dMaxPktSz" 12 R;
    SMinSz "sminsz" "sMinPktSz" 12 R;
    DMinSz "dminsz" "dMinPktSz" 12 R;
    SUser "suser" "srcUdata" 0 L;
    DUser "duser" "dstUdata" 0 L;
    Load "load" "Load" 8 R;
    SLoad "sload" "SrcLoad" 8 R;
    DLoad "dload" "DstLoad" 8 R;
    Rate "rate" "Rate" 12 R;
    SRate "srate" "SrcRate" 12 R;
    DRate "drate" "DstRate" 12 R;
    Loss "loss" "Loss" 10 R;
    SLoss "sloss" "SrcLoss" 10 R;
    DLoss "dloss" "DstLoss" 10 R;
    PLoss "ploss" "pLoss" 8 R;
}

impl Field {
    pub fn by_name(name: &str) -> Option<Field> {
        FIELD_TABLE.iter().find(|e| e.1 == name).map(|e| e.0)
    }
    fn entry(self) -> &'static (Field, &'static str, &'static str, usize, Align) {
        // `fields!` lists the variants and the table rows in the same order, so a variant's
        // number is its row (asked for every column of every line: no search; test
        // `field_rows_are_in_variant_order`).
        &FIELD_TABLE[self as usize]
    }
    pub fn name(self) -> &'static str {
        self.entry().1
    }
    pub fn label(self) -> &'static str {
        self.entry().2
    }
}

/// ra's default column list.
pub fn default_fields() -> Vec<FieldSpec> {
    use Field::*;
    [
        STime, Flgs, Proto, SAddr, SPort, Dir, DAddr, DPort, Pkts, Bytes, State,
    ]
    .iter()
    .map(|&f| FieldSpec {
        field: f,
        width: None,
        no_label: false,
    })
    .collect()
}

/// Parses one `-s` item (`name`, `name:len`). Returns None for unknown names.
pub fn parse_field(item: &str) -> Option<FieldSpec> {
    let mut it = item.split(':');
    let name = it.next()?;
    let width = match it.next() {
        Some(w) => Some(w.parse::<usize>().ok().filter(|&w| w > 0)?),
        None => None,
    };
    Some(FieldSpec {
        field: Field::by_name(name)?,
        width,
        no_label: false,
    })
}

/// Applies a `-s` argument list to the default field list, ra style: `+name` appends,
/// `+Nname` inserts at column N (1-based), `-name` removes, and a plain name replaces the
/// default list when it comes before any other change (later plain names append). Unknown
/// names are ignored, as ra does (a list of only unknown names prints empty lines).
pub fn apply_field_args(args: &[String]) -> Result<Vec<FieldSpec>, String> {
    let mut list = default_fields();
    let mut modified = false;
    for a in args {
        if let Some(rest) = a.strip_prefix('-') {
            if let Some(f) = parse_field(rest) {
                list.retain(|x| x.field != f.field);
            }
        } else if let Some(rest) = a.strip_prefix('+') {
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            let name = &rest[digits.len()..];
            if let Some(f) = parse_field(name) {
                match digits.parse::<usize>() {
                    // `+N` puts the field after the first N columns; beyond the end ra
                    // appends it to the values but leaves it out of the header.
                    Ok(n) if n <= list.len() => list.insert(n, f),
                    Ok(_) => list.push(FieldSpec {
                        no_label: true,
                        ..f
                    }),
                    _ => list.push(f),
                }
            }
        } else {
            if !modified {
                list.clear();
            }
            if let Some(f) = parse_field(a) {
                list.push(f);
            }
        }
        modified = true;
    }
    Ok(list)
}

// ---------------------------------------------------------------------------------------------
// Name tables

fn services() -> &'static HashMap<(u16, bool), String> {
    static S: OnceLock<HashMap<(u16, bool), String>> = OnceLock::new();
    S.get_or_init(|| {
        let mut m = HashMap::new();
        if let Ok(t) = std::fs::read_to_string("/etc/services") {
            for line in t.lines() {
                let line = line.split('#').next().unwrap_or("");
                let mut it = line.split_whitespace();
                let (Some(name), Some(pp)) = (it.next(), it.next()) else {
                    continue;
                };
                let Some((port, proto)) = pp.split_once('/') else {
                    continue;
                };
                let Ok(port) = port.parse::<u16>() else {
                    continue;
                };
                let tcp = match proto {
                    "tcp" => true,
                    "udp" => false,
                    _ => continue,
                };
                m.entry((port, tcp)).or_insert_with(|| name.to_string());
            }
        }
        m
    })
}

/// ra's IP protocol names (argus-clients `ip_proto_string`), index = protocol number.
const IP_PROTO_NAMES: [&str; 135] = [
    "ip",
    "icmp",
    "igmp",
    "ggp",
    "ipnip",
    "st2",
    "tcp",
    "cbt",
    "egp",
    "igp",
    "bbn-rcc",
    "nvp",
    "pup",
    "argus",
    "emcon",
    "xnet",
    "chaos",
    "udp",
    "mux",
    "dcn",
    "hmp",
    "prm",
    "xns-idp",
    "trunk-1",
    "trunk-2",
    "leaf-1",
    "leaf-2",
    "rdp",
    "irtp",
    "iso-tp4",
    "netblt",
    "mfe-nsp",
    "merit-inp",
    "sep",
    "3pc",
    "idpr",
    "xtp",
    "ddp",
    "idpr-cmtp",
    "tp++",
    "il",
    "ipv6",
    "sdrp",
    "ipv6-route",
    "ipv6-frag",
    "idrp",
    "rsvp",
    "gre",
    "mhrp",
    "bna",
    "esp",
    "ah",
    "i-nlsp",
    "swipe",
    "narp",
    "mobile",
    "tlsp",
    "skip",
    "ipv6-icmp",
    "ipv6-no",
    "ipv6-opts",
    "any",
    "cftp",
    "any",
    "sat-expak",
    "kryptolan",
    "rvd",
    "ippc",
    "any",
    "sat-mon",
    "visa",
    "ipcv",
    "cpnx",
    "cphb",
    "wsn",
    "pvp",
    "br-sat-mon",
    "sun-nd",
    "wb-mon",
    "wb-expak",
    "iso-ip",
    "vmtp",
    "secure-vmtp",
    "vines",
    "ttp",
    "nsfnet-igp",
    "dgp",
    "tcf",
    "eigrp",
    "ospf",
    "sprite-rpc",
    "larp",
    "mtp",
    "ax.25",
    "ipip",
    "micp",
    "aes-sp3-d",
    "etherip",
    "encap",
    "pri-enc",
    "gmtp",
    "ifmp",
    "pnni",
    "pim",
    "aris",
    "scps",
    "qnx",
    "a/n",
    "ipcomp",
    "snp",
    "compaq-peer",
    "ipx-n-ip",
    "vrrp",
    "pgm",
    "zero",
    "l2tp",
    "ddx",
    "iatp",
    "stp",
    "srp",
    "uti",
    "smp",
    "sm",
    "ptp",
    "isis",
    "fire",
    "crtp",
    "crudp",
    "sccopmce",
    "iplt",
    "sps",
    "pipe",
    "sctp",
    "fc",
    "rsvp",
];

fn proto_name(p: u8) -> String {
    proto_name_str(p).into()
}

fn proto_name_str(p: u8) -> &'static str {
    match IP_PROTO_NAMES.get(p as usize) {
        Some(n) => n,
        None if p == 253 => "ib",
        None => "unas",
    }
}

/// ra's LLC SAP names; SAP 0 prints as an empty field.
fn llc_sap_name(sap: u8) -> Option<&'static str> {
    Some(match sap {
        0x00 => "",
        0x02 => "gsap",
        0x03 => "isap",
        0x04 => "snapath",
        0x06 => "ipsap",
        0x08 => "sna1",
        0x0c => "sna2",
        0x0e => "p-nm",
        0x18 => "ti",
        0x42 => "stp",
        0x4e => "eia",
        0x7e => "x25",
        0x80 => "xns",
        0x86 => "nestar",
        0x8e => "p-aslm",
        0x98 => "arp",
        0xaa => "snap",
        0xba => "vine1",
        0xbc => "vine2",
        0xe0 => "netware",
        0xf0 => "netbios",
        0xf4 => "ibmnm",
        0xf8 => "rpl1",
        0xfa => "ub",
        0xfc => "rpl2",
        0xfe => "clns",
        0xff => "gbl",
        _ => return None,
    })
}

fn ether_name(t: u16) -> &'static str {
    ethertypes::name(t).unwrap_or("")
}

// ---------------------------------------------------------------------------------------------
// Oriented view of a flow record

#[derive(Clone, Debug, PartialEq)]
enum Addr {
    None,
    V4([u8; 4]),
    V6([u8; 16]),
    Mac([u8; 6]),
    /// Preformatted (IS-IS system/LAN/LSP ids).
    Text(String),
}

struct View<'a> {
    r: &'a FlowRecord,
    /// Swap src/dst of all per-direction metrics.
    swap: bool,
    /// The direction was guessed (`?` in Dir).
    guess: bool,
    saddr: Addr,
    daddr: Addr,
    sport: Option<u16>,
    dport: Option<u16>,
    proto: u8,
    /// Kind of key: 4 IPv4, 6 IPv6, 'e' ether, 'a' ARP, 'i' IS-IS, 'w' 802.11, 'r' raw.
    kind: char,
    /// IS-IS PDU type (kind 'i').
    isis_pdu: u32,
    /// The TCP object ([`NetworkDsr::tcp_object`]), found once: borrowed from the record when it is the
    /// full DSR; the bool says whether it has a source block.
    tcpo: Option<(Cow<'a, TcpDsr>, bool)>,
}

/// RA_PORT_DIRECTION (rarc): which ports ra takes for a service's when it orients a TCP flow
/// seen without its handshake. Process-wide, set once from the rc files by the command line
/// parser (every client that orients records reads the same rc files).
pub struct PortDirection;

static PORT_DIRECTION: std::sync::atomic::AtomicU8 =
    std::sync::atomic::AtomicU8::new(PortDirection::SERVICES | PortDirection::WELLKNOWN);

/// ra's own direction pass (`ra` only; Debian's racluster prints records without it): a
/// SYN-ACK seen without its SYN turns an established record and reads `CLO`, and an ICMPv4
/// reply keyed as its request prints in request order with the reply's type. Set once by
/// the client at start.
static RA_DIRECTION: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Turns ra's own direction pass ([`RA_DIRECTION`]) on or off for this process.
pub fn set_ra_direction(on: bool) {
    RA_DIRECTION.store(on, std::sync::atomic::Ordering::Relaxed);
}

fn ra_direction() -> bool {
    RA_DIRECTION.load(std::sync::atomic::Ordering::Relaxed)
}

impl PortDirection {
    /// A port named in /etc/services.
    pub const SERVICES: u8 = 1;
    /// A port below 1024.
    pub const WELLKNOWN: u8 = 2;
    /// A port below 49152.
    pub const REGISTERED: u8 = 4;

    /// Sets the rule (0: ra's compiled-in default, no port rule; `-X` gives that).
    pub fn set(bits: u8) {
        PORT_DIRECTION.store(bits, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The port is a service's port under RA_PORT_DIRECTION `bits`.
fn is_wellknown(bits: u8, port: u16, tcp: bool) -> bool {
    (bits & PortDirection::WELLKNOWN != 0 && port < 1024)
        || (bits & PortDirection::REGISTERED != 0 && port < 49152)
        || (bits & PortDirection::SERVICES != 0 && in_services(port, tcp))
}

/// The port has a name in /etc/services. Asked for most TCP records when orienting them and
/// for every port printed: a bit per port, and the name looked up only when there is one.
fn in_services(port: u16, tcp: bool) -> bool {
    static BITS: OnceLock<Box<[[u64; 1024]; 2]>> = OnceLock::new();
    let bits = BITS.get_or_init(|| {
        let mut b = Box::new([[0u64; 1024]; 2]);
        for &(p, t) in services().keys() {
            b[t as usize][p as usize / 64] |= 1 << (p % 64);
        }
        b
    });
    bits[tcp as usize][port as usize / 64] & (1 << (port % 64)) != 0
}

impl<'a> View<'a> {
    fn new(r: &'a FlowRecord) -> View<'a> {
        let mut v = View {
            r,
            swap: false,
            guess: false,
            saddr: Addr::None,
            daddr: Addr::None,
            sport: None,
            dport: None,
            proto: 0,
            kind: 'r',
            isis_pdu: 0,
            tcpo: r.net.as_ref().and_then(NetworkDsr::tcp_object),
        };
        let Some(f) = &r.flow else { return v };
        match &f.key {
            FlowKey::Ipv4 {
                src,
                dst,
                proto,
                sport,
                dport,
                ..
            } => {
                v.kind = '4';
                v.proto = *proto;
                v.saddr = Addr::V4(*src);
                v.daddr = Addr::V4(*dst);
                v.sport = Some(*sport);
                v.dport = Some(*dport);
            }
            FlowKey::Ipv6 {
                src,
                dst,
                proto,
                sport,
                dport,
                ..
            } => {
                v.kind = '6';
                v.proto = *proto;
                v.saddr = Addr::V6(*src);
                v.daddr = Addr::V6(*dst);
                v.sport = Some(*sport);
                v.dport = Some(*dport);
            }
            FlowKey::Ether {
                dst,
                src,
                etype,
                dsap,
                ssap,
            } => {
                v.kind = 'e';
                v.saddr = Addr::Mac(*src);
                v.daddr = Addr::Mac(*dst);
                let _ = etype;
                v.sport = Some(*ssap as u16);
                v.dport = Some(*dsap as u16);
            }
            FlowKey::Arp { spa, tpa, .. } => {
                v.kind = 'a';
                v.saddr = Addr::V4(*spa);
                v.daddr = Addr::V4(*tpa);
            }
            FlowKey::Raw(b) => {
                // RARP (flow::key::rarp_key): the target MAC, then the sender's.
                if f.kind == 0x06 && f.qual & 0x1f == 0x05 && b.len() >= 24 {
                    v.kind = 'a';
                    let mac = |o: usize| {
                        Addr::Mac([b[o], b[o + 1], b[o + 2], b[o + 3], b[o + 4], b[o + 5]])
                    };
                    v.saddr = mac(18);
                    v.daddr = mac(12);
                }
                if f.qual & 0x1f == 0x0a {
                    v.kind = 'i';
                    v.isis(b);
                }
                // 802.11 key: destination, source, BSSID, SSID.
                if f.qual & 0x1f == 0x08 {
                    let mac = |off: usize| -> Addr {
                        match b.get(off..off + 6) {
                            Some(x) => Addr::Mac([x[0], x[1], x[2], x[3], x[4], x[5]]),
                            None => Addr::None,
                        }
                    };
                    v.kind = 'w';
                    v.saddr = mac(6);
                    v.daddr = mac(0);
                }
            }
        }
        // ra's orientation of the record (see `orientation`).
        let o = orientation(r);
        if o.key_flip {
            std::mem::swap(&mut v.saddr, &mut v.daddr);
        }
        if o.port_flip {
            std::mem::swap(&mut v.sport, &mut v.dport);
        }
        v.swap = o.swap;
        v.guess = o.guess;
        // A reply keyed as its request: ra prints the type and code of the ICMP object (the
        // first packet's, the reply's), not the key's.
        if v.kind == '4' && v.proto == 1 && f.reverse && ra_direction() {
            if let Some(NetworkDsr::Icmp {
                icmp_type, code, ..
            }) = &r.net
            {
                v.sport = Some(u16::from_be_bytes([*icmp_type, *code]));
            }
        }
        v
    }

    /// IS-IS key (argus `isis_flow`): PDU type (u32), the two MAC addresses, then per PDU
    /// type the source/LAN/LSP ids, the LSP sequence number and the checksum at byte 36.
    fn isis(&mut self, b: &[u8]) {
        let Some(pdu) = b
            .get(..4)
            .map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]))
        else {
            return;
        };
        self.isis_pdu = pdu;
        let id = |off: usize, n: usize| -> String {
            let Some(x) = b.get(off..off + n) else {
                return String::new();
            };
            let mut s = String::new();
            for (i, c) in x.chunks(2).enumerate() {
                if i > 0 {
                    s.push('.');
                }
                for byte in c {
                    let _ = write!(s, "{byte:02x}");
                }
            }
            s
        };
        match pdu {
            // LAN hellos: source system id -> LAN id.
            15 | 16 => {
                self.saddr = Addr::Text(id(20, 6));
                self.daddr = Addr::Text(id(26, 7));
            }
            // LSPs: LSP id (system.pseudonode-fragment) -> sequence number.
            18 | 20 => {
                let mut lsp = id(20, 7);
                if let Some(frag) = b.get(27) {
                    let _ = write!(lsp, "-{frag:02x}");
                }
                self.saddr = Addr::Text(lsp);
                if let Some(x) = b.get(28..32) {
                    let seq = u32::from_be_bytes([x[0], x[1], x[2], x[3]]);
                    self.daddr = Addr::Text(format!("0x{seq:08x}"));
                }
            }
            // CSNP/PSNP: source id only.
            24..=27 => self.saddr = Addr::Text(id(20, 7)),
            _ => {}
        }
        if let Some(x) = b.get(36..38) {
            self.dport = Some(u16::from_be_bytes([x[0], x[1]]));
        }
    }

    fn pick<T: Copy>(&self, s: T, d: T) -> (T, T) {
        if self.swap {
            (d, s)
        } else {
            (s, d)
        }
    }
    fn meter(&self) -> (DirCounters, DirCounters) {
        let m = self.r.meter.unwrap_or_default();
        self.pick(m.src, m.dst)
    }
    /// The TCP object with its direction blocks in print order (a block is None when the
    /// record does not carry it).
    fn tcp(&self) -> Option<(&TcpDsr, Option<&TcpDir>, Option<&TcpDir>)> {
        let (t, has_src) = self.tcpo.as_ref()?;
        let src = has_src.then_some(&t.src);
        if self.swap {
            Some((t, t.dst.as_ref(), src))
        } else {
            Some((t, src, t.dst.as_ref()))
        }
    }
}

/// ra's client-side direction rules for an IP flow whose ports are in originator order:
/// `Some(guessed)` when ra prints it the other way round (`guessed`: by the port rule, shown
/// as `?` in Dir), None when as it is. `status`: the TCP status word (0 without one);
/// `ports`: RA_PORT_DIRECTION ([`PortDirection`] bits); `ra_pass`: ra's own direction pass.
fn turn_rule(
    v6: bool,
    proto: u8,
    sp: u16,
    dp: u16,
    status: u32,
    ports: u8,
    ra_pass: bool,
) -> Option<bool> {
    let turn = match proto {
        6 => {
            // Debian's ra leaves IPv6 TCP flows as they are (seen on ::1 flows, where the
            // port and SYN-ACK rules below would have turned them).
            if v6 {
                return None;
            }
            // SYN seen: originator order. A SYN-ACK seen without the SYN: the responder's
            // record, turned once the connection got established or closing (status bits
            // 0x04..0x20); before that (a lone SYN-ACK, or one answered by a reset), and
            // always without ra's own pass (`ra_pass`, see `set_ra_direction`), the handshake
            // fixes it as it is.
            if status & 0x1 != 0 {
                return None;
            }
            if status & 0x2 != 0 {
                return (ra_pass && status & 0x3c != 0).then_some(false);
            }
            if is_wellknown(ports, sp, true) && !is_wellknown(ports, dp, true) {
                return Some(true);
            }
            false
        }
        1 => sp >> 8 == 0 && !v6,
        58 => sp >> 8 == 129,
        _ => false,
    };
    turn.then_some(false)
}

/// How `ra` orients a flow record when printing it (`View::new`, and the aggregating clients
/// `argus::aggregate`): `key_flip` = the printed source address is the FLOW DSR's second
/// address, `port_flip` = the same for the ports (ICMP type and id never move), `swap` = the
/// per-direction metrics are printed the other way round, `guess` = the direction is marked
/// as a guess (`?`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Orientation {
    pub key_flip: bool,
    pub port_flip: bool,
    pub swap: bool,
    pub guess: bool,
}

/// The orientation `ra` prints `r` in (see [`Orientation`]): the one place that decides it.
///
/// A REVERSE key is first put in originator order (the metrics already are), then ra's
/// client-side direction rules ([`turn_rule`]) may turn the whole record around. ra turns
/// only IP flows: ARP, Ethernet and IS-IS keys print in wire order.
pub fn orientation(r: &FlowRecord) -> Orientation {
    let Some(f) = &r.flow else {
        return Orientation::default();
    };
    let guess = f.qual & 0x20 != 0 && f.qual & 0x80 == 0;
    let (v6, proto, sport, dport) = match &f.key {
        FlowKey::Ipv4 {
            proto,
            sport,
            dport,
            ..
        } => (false, *proto, *sport, *dport),
        FlowKey::Ipv6 {
            proto,
            sport,
            dport,
            ..
        } => (true, *proto, *sport, *dport),
        // An ARP flow first seen as a reply is keyed as the request and REVERSE: ra keeps the
        // key and prints the reply's metrics as the destination's (state RSP).
        FlowKey::Arp { .. } if f.reverse => {
            return Orientation {
                swap: true,
                guess,
                ..Default::default()
            }
        }
        _ => {
            return Orientation {
                guess,
                ..Default::default()
            }
        }
    };
    let icmp = proto == 1 || proto == 58;
    let (sp, dp) = if f.reverse && !icmp {
        (dport, sport)
    } else {
        (sport, dport)
    };
    let status = if proto == 6 {
        r.net
            .as_ref()
            .and_then(NetworkDsr::tcp_object)
            .map_or(0, |t| t.0.status)
    } else {
        0
    };
    let ports = PORT_DIRECTION.load(std::sync::atomic::Ordering::Relaxed);
    let ra_pass = ra_direction();
    let (mut swap, mut guess) = match turn_rule(v6, proto, sp, dp, status, ports, ra_pass) {
        Some(guessed) => (true, guess | guessed),
        None => (false, guess),
    };
    let mut key_flip = f.reverse != swap;
    // An ICMPv4 flow first seen as a reply is keyed as its request and REVERSE
    // (argus ArgusCreateICMPFlow). ra turns its key like any REVERSE key when the request was
    // seen too; with replies alone it keeps the request order and prints the replies as the
    // destination's metrics (`<-`). It marks neither as a guess.
    if !v6 && proto == 1 && f.reverse {
        guess = false;
        if ra_pass && r.meter.as_ref().is_none_or(|m| m.dst.pkts == 0) {
            key_flip = !key_flip;
            swap = true;
        }
    }
    Orientation {
        key_flip,
        port_flip: key_flip && !icmp,
        swap,
        guess,
    }
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers

fn fmt_addr(a: Addr, o: &PrintOpts) -> String {
    match a {
        Addr::None => String::new(),
        Addr::V4(b) => std::net::Ipv4Addr::from(b).to_string(),
        Addr::V6(b) => std::net::Ipv6Addr::from(b).to_string(),
        Addr::Mac(m) => fmt_mac(m, o),
        Addr::Text(t) => t,
    }
}

/// A MAC address. ra loads its Ethernet name table (which names the broadcast address) only
/// when a SrcMac/DstMac column is selected, and -nn turns names off.
fn fmt_mac(m: [u8; 6], o: &PrintOpts) -> String {
    let names = o.numeric != 2
        && o.fields
            .iter()
            .any(|f| matches!(f.field, Field::SMac | Field::DMac));
    if names && m == [0xff; 6] {
        return "Broadcast".into();
    }
    fmt_mac_hex(m)
}

fn fmt_mac_hex(m: [u8; 6]) -> String {
    let mut s = String::with_capacity(17);
    for (i, b) in m.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `fmt_time` into `out`, digit by digit (it is most of every line).
fn put_time(t: Ts, o: &PrintOpts, out: &mut String) {
    let p = o.precision.min(6);
    if o.unix_time {
        put_u64(out, t.sec as u64);
    } else {
        // ra's time_t comes from a signed 32-bit second count.
        let secs = t.sec as i32 as i64;
        let tod = secs.rem_euclid(86400) as u32;
        let mut b = *b"00:00:00";
        for (i, x) in [tod / 3600, (tod / 60) % 60, tod % 60]
            .into_iter()
            .enumerate()
        {
            b[3 * i] = b'0' + (x / 10) as u8;
            b[3 * i + 1] = b'0' + (x % 10) as u8;
        }
        put_ascii(out, &b);
    }
    if p > 0 {
        let mut u = t.usec.min(999_999);
        let mut d = *b".000000";
        for slot in d[1..].iter_mut().rev() {
            *slot = b'0' + (u % 10) as u8;
            u /= 10;
        }
        put_ascii(out, &d[..=p]);
    }
}

/// A decimal number into `out` without the formatting machinery.
fn put_u64(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// ASCII digits and punctuation built in a buffer, into `out` at once.
fn put_ascii(out: &mut String, b: &[u8]) {
    out.push_str(std::str::from_utf8(b).unwrap_or_default());
}

fn fmt_time(t: Ts, o: &PrintOpts) -> String {
    let p = o.precision.min(6);
    let mut s = if o.unix_time {
        format!("{}", t.sec)
    } else {
        // ra's time_t comes from a signed 32-bit second count.
        let secs = t.sec as i32 as i64;
        let tod = secs.rem_euclid(86400);
        format!("{:02}:{:02}:{:02}", tod / 3600, (tod / 60) % 60, tod % 60)
    };
    if p > 0 {
        let frac = format!("{:06}", t.usec.min(999_999));
        s.push('.');
        s.push_str(&frac[..p]);
    }
    s
}

/// `%.*f` as C prints it (NaN and infinities spelled like glibc, with their sign).
fn fmt_f(v: f64, o: &PrintOpts) -> String {
    if v.is_nan() {
        return if v.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if v.is_infinite() {
        return if v < 0.0 { "-inf" } else { "inf" }.into();
    }
    format!("{:.*}", o.precision, v)
}

fn tos_str(b: &[u8]) -> String {
    b.iter()
        .map(|&c| {
            if (0x20..0x7f).contains(&c) {
                c as char
            } else {
                '.'
            }
        })
        .collect()
}

fn user_str(pfx: char, d: &Option<DataDsr>, width: usize) -> String {
    match d {
        Some(d) if !d.data.is_empty() => {
            let n = d.data.len().min(width);
            // The count is the number of bytes shown (the field width caps it).
            format!("{}[{}]={}", pfx, n, tos_str(&d.data[..n]))
        }
        _ => String::new(),
    }
}

/// ra's RaGetFloatDuration: 32-bit second and microsecond differences, summed in double and
/// stored as a float.
fn dur_secs(t: &TimeDsr) -> f64 {
    // A last time before the start time (damaged records) gives no duration.
    if t.last < t.start {
        return 0.0;
    }
    let sec = (t.last.sec as i32).wrapping_sub(t.start.sec as i32);
    let usec = t.last.usec as i32 - t.start.usec as i32;
    (sec as f64 + usec as f64 / 1e6) as f32 as f64
}

/// Bits per second of one direction as ra prints it: the mean packet size (integer division)
/// is left out, (bytes - bytes / pkts) * 8 over the duration, in float.
fn dir_load(c: &[DirCounters], dur: f64) -> f64 {
    if dur <= 0.0 {
        return 0.0;
    }
    let bits: u64 = c
        .iter()
        .filter(|c| c.pkts > 0)
        .map(|c| (c.bytes - c.bytes / c.pkts) * 8)
        .sum();
    (bits as f64 / dur) as f32 as f64
}

/// Retransmissions ra counts as loss: TCP flows with a connection state, per direction only
/// when that direction (for the total: the source) sent packets.
fn tcp_loss(v: &View, which: Field) -> u64 {
    if !(v.proto == 6 && (v.kind == '4' || v.kind == '6')) {
        return 0;
    }
    let Some((t, sd, dd)) = v.tcp() else { return 0 };
    if t.state == 0 {
        return 0;
    }
    let (s, d) = v.meter();
    let retrans = |x: Option<&TcpDir>| x.map(|x| x.retrans as u64).unwrap_or(0);
    let (sr, dr) = (retrans(sd), retrans(dd));
    match which {
        Field::SLoss if s.pkts > 0 => sr,
        Field::DLoss if d.pkts > 0 => dr,
        Field::Loss | Field::PLoss if s.pkts > 0 => sr + dr,
        _ => 0,
    }
}

fn encaps_char(bits: u32) -> char {
    if bits == 0 {
        return ' ';
    }
    if bits.count_ones() > 1 {
        return '*';
    }
    match bits {
        0x1 => 'm',
        0x2 => 'e',
        0x4 => 'v',
        0x8 => 'l',
        0x10 => 'p',
        0x20 => 'i',
        0x40 => 'G',
        0x80 => 'a',
        0x100 => 'P',
        0x200 => '6',
        0x400 => 'H',
        0x800 => 'C',
        0x1000 => 'A',
        0x2000 => 'S',
        0x4000 => 'F',
        0x8000 => 's',
        0x10000 => 'R',
        0x20000 => 'w',
        _ => '*',
    }
}

/// The Flgs column (ra's ArgusGetIndicatorString): [1] encapsulation, [2] ICMP mapping,
/// [3] loss/retransmission/gap/out-of-order, [4] window shut, [5] ECN, [6] fragments,
/// [7] IP options.
fn flags_str(v: &View) -> String {
    String::from_utf8_lossy(&flags(v)).into_owned()
}

/// ra's ten flag columns (ASCII).
fn flags(v: &View) -> [u8; 10] {
    let r = v.r;
    let mut f = [b' '; 10];
    match &r.encaps {
        Some(e) => f[1] = encaps_char(e.src | e.dst) as u8,
        None => {
            if r.mpls.is_some() {
                f[1] = b'm';
            }
            if r.mac.is_some() {
                f[1] = b'e';
            }
            if r.vlan.is_some() {
                f[1] = b'v';
            }
        }
    }
    if let Some(m) = &r.mac {
        if m.qual & 0x03 != 0 {
            f[1] = b'M';
        }
    }
    if let Some((t, _, _)) = v.tcp() {
        let st = t.status;
        // Two-sided indicators: (src bit, dst bit) -> (both, src only, dst only).
        let pair = |sb: u32, db: u32, both: u8, so: u8, dof: u8| -> Option<u8> {
            let (s, d) = v.pick(st & sb != 0, st & db != 0);
            match (s, d) {
                (true, true) => Some(both),
                (true, false) => Some(so),
                (false, true) => Some(dof),
                _ => None,
            }
        };
        if v.kind == '4' {
            if let Some(c) = pair(0x100, 0x200, b'*', b's', b'd') {
                f[3] = c;
            } else if src_gap(v).unwrap_or(0) > 0 || dst_gap(v).unwrap_or(0) > 0 {
                f[3] = b'g';
            } else if let Some(c) = pair(0x1_0000, 0x2_0000, b'&', b'i', b'r') {
                f[3] = c;
            }
            if let Some(c) = pair(0x400, 0x800, b'@', b'S', b'D') {
                f[4] = c;
            }
            if let Some(c) = pair(0x4000, 0x8000, b'E', b'x', b't') {
                f[5] = c;
            }
        } else if v.kind == '6' && t.src.status & 0x300 != 0 {
            if let Some(c) = pair(0x100, 0x200, b'*', b's', b'd') {
                f[3] = c;
            }
        }
    }
    // An ICMP error mapped onto the flow (flow::icmp_map): the DSR's qualifier says which.
    if let Some(i) = &r.icmp {
        if i.qual & 0x01 != 0 {
            f[2] = b'U';
        } else if i.qual & 0x02 != 0 {
            f[2] = b'R';
        } else if i.qual & 0x04 != 0 {
            f[2] = b'T';
        }
    }
    // Fragments seen in either direction (IPATTR qualifier ARGUS_IPATTR_SRC/DST_FRAGMENTS);
    // a flow of fragments alone (below) shows 'f' instead.
    if r.ipattr.is_some_and(|a| a.frag_bits & 0x30 != 0) {
        f[6] = b'F';
    }
    if let Some(f0) = &r.flow {
        if f0.qual & 0x80 != 0 {
            f[6] = b'f';
        }
    }
    // A fragment flow: `V` when argus saw its fragments overlap (ARGUS_FRAGOVERLAP).
    if let Some(NetworkDsr::Other {
        subtype: 0x45,
        qual,
        ..
    }) = &r.net
    {
        f[6] = if qual & 0x02 != 0 { b'V' } else { b'f' };
    }
    if let Some(a) = &r.ipattr {
        let opts = (a.src_options.unwrap_or(0) | a.dst_options.unwrap_or(0)) as u8;
        f[7] = match opts {
            0 => b' ',
            0x40 => b'A',
            0x02 => b'T',
            0x01 => b'R',
            0x04 => b'+',
            0x08 => b'L',
            0x20 => b'S',
            0x10 => b'D',
            o if o.count_ones() > 1 => b'O',
            _ => b'U',
        };
    }
    f
}

/// Bytes missing from one direction's sequence space (ra's SrcGap/DstGap): sequence span
/// minus bytes seen, minus one; 0 when the direction retransmitted. None for non-TCP flows.
fn dir_gap(d: Option<&TcpDir>) -> Option<u64> {
    let d = d?;
    if d.retrans > 0 {
        return Some(0);
    }
    let span = d.seq.wrapping_sub(d.seqbase) as i64;
    Some((span - d.bytes as i64 - 1).max(0) as u64)
}

fn src_gap(v: &View) -> Option<u64> {
    if !(v.proto == 6 && (v.kind == '4' || v.kind == '6')) {
        return None;
    }
    v.tcp().map(|(_, s, _)| dir_gap(s).unwrap_or(0))
}

fn dst_gap(v: &View) -> Option<u64> {
    if !(v.proto == 6 && (v.kind == '4' || v.kind == '6')) {
        return None;
    }
    v.tcp().map(|(_, _, d)| dir_gap(d).unwrap_or(0))
}

/// The State of an ICMPv4 flow as Debian's ra prints it, by type and code (read off its
/// output for every pair; `oracle_cases::icmp_states_as_debian_ra_prints_them`). Types 1, 2
/// and 7 print empty.
fn icmp_state(t: u8, c: u8) -> &'static str {
    const UNREACH: [&str; 16] = [
        "URN", "URH", "URO", "URP", "URF", "URS", "URNU", "URHU", "URISO", "URNPRO", "URHPRO",
        "URNTOS", "URHTOS", "URFIL", "URPRE", "URCUT",
    ];
    const NAMED: [&str; 46] = [
        "ECR", "", "", "", "SRC", "RED", "AHA", "", "ECO", "RTA", "RTS", "TXD", "PAR", "TST",
        "TSR", "IRQ", "IRR", "MAS", "MSR", "SEC", "ROB", "ROB", "ROB", "ROB", "ROB", "ROB", "ROB",
        "ROB", "ROB", "ROB", "TRC", "DCE", "MHR", "WAY", "IAH", "MRQ", "MRP", "DNQ", "DNP", "SKP",
        "PHO", "NRS", "NRA", "NNS", "NNA", "PTB",
    ];
    match t {
        3 => UNREACH.get(c as usize).copied().unwrap_or(UNREACH_OTHER),
        _ => NAMED.get(t as usize).copied().unwrap_or("UNK"),
    }
}

/// ICMPv4 unreachable codes past 15.
const UNREACH_OTHER: &str = "UR";

/// The State of an ICMPv6 flow as Debian's ra prints it, by the key's type and code (replies
/// are keyed as their requests).
fn icmp6_state(t: u8, c: u8) -> &'static str {
    const UNREACH: [&str; 8] = [
        "URNR", "URAD", "URBS", "URAR", "URP", "URSF", "URRR", "URES",
    ];
    const TIMXCEED: [&str; 2] = ["TXT", "TXR"];
    const PARAM: [&str; 3] = ["PPH", "PPNH", "PPO"];
    let by_code = |names: &[&'static str]| names.get(c as usize).copied().unwrap_or("UNK");
    match t {
        1 => by_code(&UNREACH),
        2 => "PTB",
        3 => by_code(&TIMXCEED),
        4 => by_code(&PARAM),
        128 => "ECO",
        130 => "MRQ",
        133 => "NRS",
        135 => "NNS",
        137 => "RED",
        143 => "MHR",
        _ => "UNK",
    }
}

fn state_str(v: &View) -> &'static str {
    let r = v.r;
    let (s, d) = v.meter();
    if v.kind == 'i' {
        return match v.isis_pdu {
            15 => "L1-IIH",
            16 => "L2-IIH",
            18 => "L1-LSP",
            20 => "L2-LSP",
            24 => "L1-CSNP",
            25 => "L2-CSNP",
            26 => "L1-PSNP",
            27 => "L2-PSNP",
            _ => "UNK",
        };
    }
    // A TCP record without a TCP object (no TCP header captured: an empty NETWORK DSR, or
    // none) is CON with packets both ways and INT otherwise, whatever its cause.
    if v.proto == 6 && (v.kind == '4' || v.kind == '6') {
        let Some((t, _, _)) = v.tcp() else {
            return if s.pkts > 0 && d.pkts > 0 {
                "CON"
            } else {
                "INT"
            };
        };
        let st = t.status;
        return if st & 0x3000 != 0 {
            "RST"
        } else if st & 0x38 != 0 {
            "FIN"
        } else if st & 0x7 == 0x6 && v.kind == '4' && ra_direction() {
            // IPv4, established after a SYN-ACK whose SYN was not seen (Debian's ra leaves
            // IPv6 TCP flows as they are, see `turn_rule`).
            "CLO"
        } else if st & 0x4 != 0 {
            "CON"
        } else if st & 0x2 != 0 {
            "ACC"
        } else if st & 0x1 != 0 {
            "REQ"
        } else {
            "CON"
        };
    }
    if (v.kind == '4' && v.proto == 1) || (v.kind == '6' && v.proto == 58) {
        let sp = v.sport.unwrap_or(0);
        // A flow an ICMP error was mapped onto shows that error's state.
        let (t, c) = match &r.icmp {
            Some(i) if v.kind == '4' => (i.icmp_type, i.code),
            _ => ((sp >> 8) as u8, sp as u8),
        };
        let st = if v.kind == '4' {
            icmp_state(t, c)
        } else {
            icmp6_state(t, c)
        };
        if v.kind == '4' && t == 8 && d.pkts > 0 {
            return "ECO";
        }
        return st;
    }
    if s.pkts > 0 && d.pkts > 0 {
        return "CON";
    }
    if v.kind == 'a' && s.pkts == 0 && d.pkts > 0 {
        return "RSP";
    }
    if v.kind == 'a' || r.cause == Cause::Start {
        return "INT";
    }
    if s.pkts > 0 {
        "REQ"
    } else {
        "RSP"
    }
}

fn dir_str(v: &View) -> &'static str {
    if v.kind == 'a' {
        return "who";
    }
    let (s, d) = v.meter();
    let mut g = v.guess;
    let tcp_net = !matches!(v.r.net, Some(NetworkDsr::Empty));
    if v.proto == 6 && (v.kind == '4' || v.kind == '6') && tcp_net {
        let status = v.tcp().map(|t| t.0.status).unwrap_or(0);
        if status & 0x3 != 0 {
            return "->";
        }
        // No handshake seen: ra marks the direction as a guess.
        g = true;
    }
    match (s.pkts > 0, d.pkts > 0) {
        (true, true) => {
            if g {
                "<?>"
            } else {
                "<->"
            }
        }
        // ra's left arrows carry a trailing blank (visible in fixed-width output).
        (false, true) => {
            if g {
                "<? "
            } else {
                "<- "
            }
        }
        _ => {
            if g {
                "?>"
            } else {
                "->"
            }
        }
    }
}

fn proto_str(v: &View, o: &PrintOpts) -> String {
    match v.kind {
        '4' | '6' => {
            if o.numeric >= 2 {
                v.proto.to_string()
            } else {
                proto_name(v.proto)
            }
        }
        'a' => {
            // Debian's ra names RARP even under -nn.
            let rarp = v.r.flow.as_ref().is_some_and(|f| f.qual & 0x1f == 0x05);
            match (o.numeric >= 2, rarp) {
                (true, false) => "2054".into(),
                (true, true) => "rarp".into(),
                (false, false) => "arp".into(),
                (false, true) => "rarp".into(),
            }
        }
        'e' => {
            let et = match &v.r.flow {
                Some(FlowDsr {
                    key: FlowKey::Ether { etype, .. },
                    ..
                }) => *etype,
                _ => 0,
            };
            let n = ether_name(et);
            if o.numeric >= 2 {
                et.to_string()
            } else if et <= 1500 {
                "llc".into()
            } else if !n.is_empty() {
                n.into()
            } else if o.numeric == 1 {
                et.to_string()
            } else {
                "unknown".into()
            }
        }
        _ => match v.r.flow.as_ref().map(|f| f.qual & 0x1f) {
            Some(0x0a) => "isis".into(),
            Some(0x08) => "wlan".into(),
            _ => "unknown".into(),
        },
    }
}

fn port_str(v: &View, port: Option<u16>, is_src: bool, o: &PrintOpts) -> String {
    let Some(p) = port else { return String::new() };
    match v.kind {
        '4' | '6' => match v.proto {
            // ICMPv6 under -n: decimal type and id.
            58 if o.numeric > 0 && is_src => (p >> 8).to_string(),
            // ... and the code as the destination "port".
            58 if o.numeric > 0 => (v.sport.unwrap_or(0) & 0xff).to_string(),
            // ESP: the SPI as the destination "port" (Debian's ra overwrites its upper half
            // with two spaces, 0x2020...: docs/compat.md).
            50 if !is_src => esp_spi(v.r)
                .map(|s| format!("0x{s:08x}"))
                .unwrap_or_default(),
            // ra prints the type/code pair as a little-endian number and the id as stored.
            1 | 58 if is_src => format!("0x{:04x}", p.swap_bytes()),
            1 | 58 => format!("0x{p:04x}"),
            6 | 17 => {
                if o.numeric > 0 {
                    return p.to_string();
                }
                if p == 0 {
                    return String::new();
                }
                match services().get(&(p, v.proto == 6)) {
                    Some(n) => n.clone(),
                    None => p.to_string(),
                }
            }
            _ => String::new(),
        },
        'i' => format!("0x{p:04x}"),
        'e' => {
            let sap = p as u8;
            if o.numeric > 0 {
                return sap.to_string();
            }
            match llc_sap_name(sap) {
                Some(n) => n.into(),
                None => format!("0x{sap:02x}"),
            }
        }
        _ => String::new(),
    }
}

/// The security parameter index of an IPv4 ESP flow: argus keeps it where the destination
/// port and the two mask bytes of other IPv4 keys lie (`ArgusESPFlow`).
fn esp_spi(r: &FlowRecord) -> Option<u32> {
    match r.flow.as_ref()?.key {
        FlowKey::Ipv4 {
            proto: 50,
            dport,
            smask,
            dmask,
            ..
        } => Some(u32::from(dport) << 16 | u32::from(smask) << 8 | u32::from(dmask)),
        _ => None,
    }
}

fn opt_u<T: ToString>(x: Option<T>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

fn mean_sz(c: DirCounters) -> f64 {
    if c.pkts == 0 {
        0.0
    } else {
        (c.bytes as f32 / c.pkts as f32) as f64
    }
}

/// Inter-packet statistics of one direction, active and idle parts merged as ra does:
/// (n, mean in ms, stdev in ms). ra works in f32 for the mean and pools the two parts' sums
/// of squares (in ms*us) for the deviation; a lone part's values are used as they are.
fn jit(j: &Option<JitterDsr>, src: bool) -> Option<(u32, f64, f64)> {
    let j = j.as_ref()?;
    let (a, i) = if src {
        (j.src_act, j.src_idle)
    } else {
        (j.dst_act, j.dst_idle)
    };
    let a = a.unwrap_or_default();
    let i = i.unwrap_or_default();
    let (na, ni) = (a.n.max(0) as u32, i.n.max(0) as u32);
    let n = na + ni;
    if n == 0 {
        return None;
    }
    // The source mean is always pooled in f32; the destination's only when both parts exist.
    let mean = if src || (na > 0 && ni > 0) {
        (a.mean * na as f32 + i.mean * ni as f32) / n as f32
    } else if na > 0 {
        a.mean
    } else {
        i.mean
    };
    if na > 0 && ni > 0 {
        let part = |s: JitterStats, k: u32| {
            let k = k as f64;
            k * (s.stdev as f64).powi(2) + ((s.mean * k as f32) as f64).powi(2) / k
        };
        let sumsq = (part(a, na) + part(i, ni)) / 1000.0;
        let mean_ms = (mean as f64 / 1000.0) as f32 as f64;
        let stdev = (sumsq / n as f64 - mean_ms.powi(2)).sqrt();
        Some((n, mean as f64 / 1000.0, stdev))
    } else {
        let s = if na > 0 { a } else { i };
        Some((n, mean as f64 / 1000.0, s.stdev as f64 / 1000.0))
    }
}

/// Value of one field of a flow record (unpadded).
/// The fields of ra's default line written straight into `out`, for speed; `false` = not one
/// of them here (the caller falls back to [`flow_value`], which gives the same text).
fn flow_value_into(v: &View, f: Field, o: &PrintOpts, out: &mut String) -> bool {
    use Field::*;
    let ip = v.kind == '4' || v.kind == '6';
    match f {
        STime | LTime => {
            let t = v.r.time.unwrap_or_default();
            put_time(if f == STime { t.start } else { t.last }, o, out);
        }
        Pkts | SPkts | DPkts | Bytes | SBytes | DBytes => {
            let (s, d) = v.meter();
            put_u64(
                out,
                match f {
                    Pkts => s.pkts + d.pkts,
                    SPkts => s.pkts,
                    DPkts => d.pkts,
                    Bytes => s.bytes + d.bytes,
                    SBytes => s.bytes,
                    _ => d.bytes,
                },
            );
        }
        SAddr | DAddr => match if f == SAddr { &v.saddr } else { &v.daddr } {
            Addr::V4(b) => {
                for (i, x) in b.iter().enumerate() {
                    if i > 0 {
                        out.push('.');
                    }
                    put_u64(out, *x as u64);
                }
            }
            Addr::V6(b) => {
                let _ = write!(out, "{}", std::net::Ipv6Addr::from(*b));
            }
            Addr::None => {}
            _ => return false,
        },
        SPort | DPort if ip && matches!(v.proto, 6 | 17) => {
            let Some(p) = (if f == SPort { v.sport } else { v.dport }) else {
                return true;
            };
            if o.numeric > 0 {
                put_u64(out, p as u64);
            } else if p != 0 {
                let tcp = v.proto == 6;
                match in_services(p, tcp)
                    .then(|| services().get(&(p, tcp)))
                    .flatten()
                {
                    Some(n) => out.push_str(n),
                    None => put_u64(out, p as u64),
                }
            }
        }
        Proto if ip => {
            if o.numeric >= 2 {
                put_u64(out, v.proto as u64);
            } else {
                out.push_str(proto_name_str(v.proto));
            }
        }
        Dir => out.push_str(dir_str(v)),
        State => out.push_str(state_str(v)),
        Flgs => {
            for c in flags(v) {
                out.push(c as char);
            }
        }
        _ => return false,
    }
    true
}

fn flow_value(v: &View, f: Field, spec_w: usize, o: &PrintOpts) -> String {
    let r = v.r;
    let (s, d) = v.meter();
    let t = r.time.unwrap_or_default();
    // Only the TCP fields need the TCP object (copying it for every field cost 12 % of a
    // line).
    let tcp = || v.tcp();
    let ip = r.ipattr.map(|a| v.pick(a.src, a.dst));
    let ps = r.psize.map(|p| v.pick(p.src, p.dst));
    let fl = |x: f64| fmt_f(x, o);
    use Field::*;
    match f {
        SrcId => match r.srcid {
            crate::record::SrcId::Int(n) => n.to_string(),
            crate::record::SrcId::Str(b) => String::from_utf8_lossy(&b)
                .trim_end_matches('\0')
                .to_string(),
            other => std::net::Ipv4Addr::from(other.value()).to_string(),
        },
        Seq => r.seq.to_string(),
        CauseF => cause_str(r.cause).into(),
        STime => fmt_time(t.start, o),
        LTime => fmt_time(t.last, o),
        Dur => fl(dur_secs(&t)),
        Flgs => flags_str(v),
        Proto => proto_str(v, o),
        SAddr => fmt_addr(v.saddr.clone(), o),
        DAddr => fmt_addr(v.daddr.clone(), o),
        SPort => port_str(v, v.sport, true, o),
        DPort => port_str(v, v.dport, false, o),
        Dir => dir_str(v).into(),
        Pkts => (s.pkts + d.pkts).to_string(),
        SPkts => s.pkts.to_string(),
        DPkts => d.pkts.to_string(),
        Bytes => (s.bytes + d.bytes).to_string(),
        SBytes => s.bytes.to_string(),
        DBytes => d.bytes.to_string(),
        AppBytes => (s.appbytes + d.appbytes).to_string(),
        SAppBytes => s.appbytes.to_string(),
        DAppBytes => d.appbytes.to_string(),
        State => state_str(v).into(),
        STtl => opt_u(ip.and_then(|x| x.0).map(|a| a.ttl)),
        DTtl => opt_u(ip.and_then(|x| x.1).map(|a| a.ttl)),
        STos => opt_u(ip.and_then(|x| x.0).map(|a| a.tos)),
        DTos => opt_u(ip.and_then(|x| x.1).map(|a| a.tos)),
        SIpId => ip
            .and_then(|x| x.0)
            .map(|a| format!("0x{:04x}", a.ipid))
            .unwrap_or_default(),
        DIpId => ip
            .and_then(|x| x.1)
            .map(|a| format!("0x{:04x}", a.ipid))
            .unwrap_or_default(),
        SVid | DVid | SVpri | DVpri => {
            let vl = r.vlan.map(|x| v.pick(x.src, x.dst));
            let tci = vl.and_then(|x| if matches!(f, SVid | SVpri) { x.0 } else { x.1 });
            match f {
                SVid | DVid => opt_u(tci.map(|t| t & 0x0fff)),
                // Debian's ra prints the VLAN priority columns empty.
                _ => String::new(),
            }
        }
        SMpls | DMpls => {
            let m = r.mpls.map(|x| v.pick(x.src, x.dst));
            let e = m.and_then(|x| if f == SMpls { x.0 } else { x.1 });
            opt_u(e.map(|e| e >> 12))
        }
        // ra prints a window only for a direction that sent packets, and the destination's
        // only when the source sent packets too.
        SWin | DWin if s.pkts == 0 || (f == DWin && d.pkts == 0) => String::new(),
        SWin | DWin => match &tcp() {
            Some((_, a, b)) => {
                let dd = if f == SWin { a } else { b };
                dd.map(|x| ((x.win as u64) << x.winshift).to_string())
                    .unwrap_or_default()
            }
            None => String::new(),
        },
        STcpb | DTcpb => match &tcp() {
            Some((_, a, b)) => {
                let dd = if f == STcpb { a } else { b };
                // Debian's ra leaves a zero base sequence blank for IPv4; for IPv6 it prints
                // 0 then, and for a direction the TCP object has no block of.
                if v.kind == '6' {
                    dd.map_or(0, |x| x.seqbase).to_string()
                } else {
                    opt_u(dd.map(|x| x.seqbase).filter(|&b| b != 0))
                }
            }
            None => String::new(),
        },
        TcpRtt => fl(tcp()
            .map(|x| (x.0.synack as f64 + x.0.ackdat as f64) / 1e6)
            .unwrap_or(0.0)),
        SynAck => fl(tcp().map(|x| x.0.synack as f64 / 1e6).unwrap_or(0.0)),
        AckDat => fl(tcp().map(|x| x.0.ackdat as f64 / 1e6).unwrap_or(0.0)),
        // Debian's ra 3.0.8.2 always prints 0 here (its retransmission fetch finds nothing).
        SRetrans | DRetrans => "0".into(),
        // Mirror copies (our DUP DSR, docs/duplicates.md); 0 for records without one.
        Dups | SDups | DDups | SDupBytes | DDupBytes => {
            let u = r.dups.unwrap_or_default();
            let (sp, dp) = v.pick(u.src_pkts as u64, u.dst_pkts as u64);
            let (sb, db) = v.pick(u.src_bytes, u.dst_bytes);
            match f {
                Dups => sp + dp,
                SDups => sp,
                DDups => dp,
                SDupBytes => sb,
                _ => db,
            }
            .to_string()
        }
        DupVlan => String::new(),
        SGap => opt_u(src_gap(v)),
        DGap => opt_u(dst_gap(v)),
        // The node that reported an ICMP error about the flow (ARGUS_ICMP_MAPPED set).
        Inode => match &r.icmp {
            Some(i) if i.qual & 0x07 != 0 => std::net::Ipv4Addr::from(i.osrc).to_string(),
            _ => String::new(),
        },
        TcpOpt => match &tcp() {
            Some((t, _, _)) => tcpopt_str(t.options),
            None => String::new(),
        },
        // Records merged into this one (the AGR DSR of racluster's output), else 1.
        Trans => r.agr.as_ref().map_or(1, |a| a.count).to_string(),
        Pid | Comm | User => owner_value(r, f, o),
        SMac | DMac => match &r.mac {
            Some(m) => {
                let (a, b) = v.pick(m.src, m.dst);
                fmt_mac(if f == SMac { a } else { b }, o)
            }
            None => String::new(),
        },
        // ra prints the source interval whenever the record has a jitter DSR (0 without
        // source intervals); the destination interval only when there are some.
        SIntPkt => match (jit(&r.jitter, !v.swap), &r.jitter) {
            (Some(j), _) => fl(j.1),
            (None, Some(_)) => fl(0.0),
            _ => String::new(),
        },
        DIntPkt => jit(&r.jitter, v.swap).map(|j| fl(j.1)).unwrap_or_default(),
        SJit => jit(&r.jitter, !v.swap).map(|j| fl(j.2)).unwrap_or_default(),
        DJit => jit(&r.jitter, v.swap).map(|j| fl(j.2)).unwrap_or_default(),
        SMeanSz => fl(mean_sz(s)),
        DMeanSz => fl(mean_sz(d)),
        SMaxSz => opt_u(ps.and_then(|p| p.0).map(|p| p.1)),
        DMaxSz => opt_u(ps.and_then(|p| p.1).map(|p| p.1)),
        SMinSz => opt_u(ps.and_then(|p| p.0).map(|p| p.0)),
        DMinSz => opt_u(ps.and_then(|p| p.1).map(|p| p.0)),
        SUser | DUser => {
            let (a, b) = v.pick(&r.src_data, &r.dst_data);
            if f == SUser {
                user_str('s', a, spec_w)
            } else {
                user_str('d', b, spec_w)
            }
        }
        // ra computes loads from its canonical copy of the record, which its direction rules
        // do not turn around: originator-ordered counters.
        Load | SLoad | DLoad => {
            let du = dur_secs(&t);
            let m = r.meter.unwrap_or_default();
            fl(match f {
                SLoad => dir_load(&[m.src], du),
                DLoad => dir_load(&[m.dst], du),
                _ => dir_load(&[m.src, m.dst], du),
            })
        }
        Rate | SRate | DRate => {
            let du = dur_secs(&t) as f32;
            let p = match f {
                Rate => s.pkts + d.pkts,
                SRate => s.pkts,
                _ => d.pkts,
            };
            fl(if du > 0.0 && p > 1 {
                ((p - 1) as f32 / du) as f64
            } else {
                0.0
            })
        }
        Loss | SLoss | DLoss => tcp_loss(v, f).to_string(),
        PLoss => {
            let loss = tcp_loss(v, f) as f64;
            let pkts = (s.pkts + d.pkts) as f64;
            fl(if pkts > 0.0 {
                loss * 100.0 / (pkts + loss)
            } else {
                0.0
            })
        }
    }
}

/// The process and user owning a flow's local endpoint (docs/correlation.md); empty when no
/// `ralsof` snapshot tells it.
fn owner_value(r: &FlowRecord, f: Field, o: &PrintOpts) -> String {
    let Some(w) = o.owners.as_ref().and_then(|x| x.lookup(r)) else {
        return String::new();
    };
    match f {
        Field::Pid => opt_u(w.pid),
        Field::Comm => w.comm.clone().unwrap_or_default(),
        _ => w.user.clone(),
    }
}

/// Whether the fields need socket owners (`pid`, `comm`, `user`).
pub fn wants_owners(o: &PrintOpts) -> bool {
    o.fields
        .iter()
        .any(|f| matches!(f.field, Field::Pid | Field::Comm | Field::User))
}

fn tcpopt_str(o: u32) -> String {
    const C: &[u8] = b"MwsSeETcNO";
    let mut s: Vec<u8> = vec![b' '; 7];
    for (i, ch) in C.iter().enumerate() {
        if o & (0x0010_0000 << i) != 0 {
            if i >= s.len() {
                s.resize(i + 1, b' ');
            }
            s[i] = *ch;
        }
    }
    if o & 0xC000_0000 != 0 {
        s.resize(12, b' ');
        // ECN seen from the source / the destination (Debian's ra: 'S', 'D').
        s[10] = if o & 0x4000_0000 != 0 { b'S' } else { b' ' };
        s[11] = if o & 0x8000_0000 != 0 { b'D' } else { b' ' };
    }
    String::from_utf8_lossy(&s).trim_end().to_string()
}

fn cause_str(c: Cause) -> &'static str {
    match c {
        Cause::Start => "Start",
        Cause::Status => "Status",
        Cause::Stop => "Stop",
        Cause::Timeout => "Timeout",
        Cause::Flush => "Flush",
        Cause::Shutdown => "Shutdown",
        Cause::Closed => "Close",
        Cause::Error => "Error",
        Cause::Supplemental => "Supplemental",
    }
}

/// Value of one field of a MAR line.
fn mar_value(m: &Mar, f: Field, o: &PrintOpts) -> String {
    use Field::*;
    let fl = |x: f64| fmt_f(x, o);
    if m.is_dup_detail() {
        if let Some(v) = dup_detail_value(m, f) {
            return v;
        }
    }
    match f {
        SrcId => std::net::Ipv4Addr::from(if m.cause == Cause::Start {
            m.thisid
        } else {
            m.argusid
        })
        .to_string(),
        Seq => "0".into(),
        CauseF => cause_str(m.cause).into(),
        STime => fmt_time(m.now, o),
        LTime => fmt_time(m.startime, o),
        Dur => fl((m.now.as_micros() - m.startime.as_micros()) as f64 / 1e6),
        Flgs => " ".repeat(10),
        Proto => "man".into(),
        SAddr | SPort => "0".into(),
        DAddr => m.bufs.to_string(),
        DPort => m.clients.to_string(),
        Dir => String::new(),
        Pkts => m.pkts_rcvd.to_string(),
        Bytes => m.bytes.to_string(),
        SPkts => m.pkts_rcvd.to_string(),
        DPkts => m.records.to_string(),
        SBytes => m.bytes_rcvd.to_string(),
        DBytes => "0".into(),
        AppBytes => m.bytes.to_string(),
        SAppBytes => m.bufs.to_string(),
        DAppBytes => "0".into(),
        State => match m.cause {
            Cause::Start => "STA",
            Cause::Stop | Cause::Shutdown => "STP",
            _ => "CON",
        }
        .into(),
        TcpRtt | SynAck | AckDat | SMeanSz | DMeanSz | PLoss | Load | SLoad | DLoad | SRate
        | DRate | Rate => fl(0.0),
        SRetrans | DRetrans | Loss | SLoss | DLoss => "0".into(),
        // Mirror copies in the interval (docs/duplicates.md) and the VLAN most affected.
        Dups => m.dups.pkts.to_string(),
        DupVlan => dup_vlan_str(&m.dups),
        _ => String::new(),
    }
}

/// Fields of a duplicate-detail MAR (one interface and VLAN's copies in a status interval,
/// docs/duplicates.md) that differ from a status MAR's: the interface as source address, the
/// VLAN as source port, packets and copies by flow direction, state `DUP`.
fn dup_detail_value(m: &Mar, f: Field) -> Option<String> {
    use Field::*;
    let (p, c) = (m.dup_pkts(), m.dup_copies());
    Some(match f {
        SAddr => match m.dup_iface() {
            i if i.is_empty() => "-".into(),
            i => i,
        },
        SPort => vid_str(m.dups.vid),
        DAddr | DPort | Bytes | SBytes | DBytes | AppBytes | SAppBytes | DAppBytes => "0".into(),
        Pkts => (p[0] + p[1]).to_string(),
        SPkts => p[0].to_string(),
        DPkts => p[1].to_string(),
        SDups => c[0].to_string(),
        DDups => c[1].to_string(),
        State => "DUP".into(),
        _ => return None,
    })
}

fn vid_str(vid: u16) -> String {
    match vid {
        0 => "-".to_string(),
        0xFFFF => "*".to_string(),
        v => v.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Lines

/// A status MAR's most duplicated VLAN, or a duplicate-detail MAR's VLAN: `vid:dirs:percent`
/// (`20:s:50.0%`: on VLAN 20, half the packets of the flows' source-to-destination direction
/// were copies; vid `-` untagged, `*` the VLANs beyond the ones tallied; dirs `s`, `d` or `sd`
/// where copies were seen; percent of the direction with the highest share); empty without
/// copies.
fn dup_vlan_str(d: &crate::record::MarDups) -> String {
    if d.pkts == 0 {
        return String::new();
    }
    let vid = vid_str(d.vid);
    let dirs = match d.dirs & 3 {
        1 => "s",
        2 => "d",
        3 => "sd",
        _ => "",
    };
    format!("{vid}:{dirs}:{:.1}%", d.permille as f64 / 10.0)
}

/// Column width of a field under the options.
fn width(spec: &FieldSpec, o: &PrintOpts) -> usize {
    let e = spec.field.entry();
    match spec.field {
        Field::STime | Field::LTime => spec.width.unwrap_or(12 + o.precision),
        // ra's user-data column: the length, one more above 10, plus 8.
        Field::SUser | Field::DUser => {
            let len = spec.width.unwrap_or(16);
            len + 8 + usize::from(len > 10)
        }
        _ => spec.width.unwrap_or(e.3),
    }
}

/// [`fit_at`] for a value not in `out` yet. (Written out rather than as `push_str` and
/// `fit_at`: that wrapper measured 3 % more instructions per `ra` line.)
fn fit(s: &str, w: usize, al: Align, out: &mut String) {
    let n = if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    };
    if n > w {
        out.extend(s.chars().take(w.saturating_sub(1)));
        out.push('*');
        return;
    }
    let pad = w - n;
    match al {
        Align::R => {
            spaces(out, pad);
            out.push_str(s);
        }
        Align::L => {
            out.push_str(s);
            spaces(out, pad);
        }
        Align::C => {
            let l = pad / 2;
            spaces(out, l);
            out.push_str(s);
            spaces(out, pad - l);
        }
    }
}

/// The value in `out` from byte `at` on, fitted to `w` columns there: padded (aligned by
/// `al`), or cut to `w - 1` characters and a `*`.
fn fit_at(out: &mut String, at: usize, w: usize, al: Align) {
    let s = &out[at..];
    let n = if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    };
    if n > w {
        let keep = w.saturating_sub(1);
        let cut = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
        out.truncate(at + cut);
        out.push('*');
        return;
    }
    let pad = w - n;
    match al {
        Align::R => insert_spaces(out, at, pad),
        Align::L => spaces(out, pad),
        Align::C => {
            let l = pad / 2;
            insert_spaces(out, at, l);
            spaces(out, pad - l);
        }
    }
}

/// `n` spaces inserted at byte `at` (before a right-aligned value: a few bytes move).
fn insert_spaces(out: &mut String, at: usize, mut n: usize) {
    while n > 0 {
        let k = n.min(SPACES.len());
        out.insert_str(at, &SPACES[..k]);
        n -= k;
    }
}

const SPACES: &str = "                                                                ";

/// `n` spaces at the end (a column's padding: most of a line's bytes; `push_str`, which
/// [`insert_spaces`] at the end would also do, costs fewer instructions per line).
fn spaces(out: &mut String, mut n: usize) {
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

/// The header line (None with `-L -1`, handled by the caller).
pub fn header(o: &PrintOpts) -> String {
    let mut out = String::new();
    if let Some(sep) = &o.sep {
        for (i, f) in o.fields.iter().filter(|f| !f.no_label).enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            out.push_str(f.field.label());
        }
        return out;
    }
    for f in o.fields.iter().filter(|f| !f.no_label) {
        let w = width(f, o);
        let al = match f.field.entry().4 {
            Align::C => Align::C,
            _ if matches!(f.field, Field::SUser | Field::DUser) => Align::C,
            _ => Align::R,
        };
        // ra cuts a long label to the width without the '*' it puts on values.
        let label: String = f.field.label().chars().take(w).collect();
        fit(&label, w, al, &mut out);
        out.push(' ');
    }
    out
}

enum Rec<'a> {
    Flow(View<'a>),
    Mar(&'a Mar),
}

fn value(r: &Rec, spec: &FieldSpec, o: &PrintOpts) -> String {
    match r {
        Rec::Flow(v) => {
            let uw = if matches!(spec.field, Field::SUser | Field::DUser) {
                spec.width.unwrap_or(16)
            } else {
                0
            };
            flow_value(v, spec.field, uw, o)
        }
        Rec::Mar(m) => mar_value(m, spec.field, o),
    }
}

/// `value` into `v` (cleared first): the hot flow fields without a String of their own.
fn value_into(r: &Rec, spec: &FieldSpec, o: &PrintOpts, v: &mut String) {
    v.clear();
    value_append(r, spec, o, v);
}

/// `value` appended to `v`.
fn value_append(r: &Rec, spec: &FieldSpec, o: &PrintOpts, v: &mut String) {
    if let Rec::Flow(fv) = r {
        if spec.field != Field::SUser
            && spec.field != Field::DUser
            && flow_value_into(fv, spec.field, o, v)
        {
            return;
        }
    }
    v.push_str(&value(r, spec, o));
}

fn line(r: &Rec, o: &PrintOpts) -> String {
    let mut out = String::with_capacity(256);
    line_into(r, o, &mut out);
    out
}

/// One line into `out` (appended).
fn line_into(r: &Rec, o: &PrintOpts, out: &mut String) {
    thread_local! {
        /// Each value is formatted here before it is fitted to its column (one buffer per
        /// thread, not an allocation per line).
        static VALUE: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
    }
    let mut v = VALUE.take();
    line_with(r, o, out, &mut v);
    VALUE.set(v);
}

fn line_with(r: &Rec, o: &PrintOpts, out: &mut String, v: &mut String) {
    let start = out.len();
    if o.json {
        out.push('{');
        for (i, f) in o.fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            value_into(r, f, o, v);
            let _ = write!(
                out,
                "{}:{}",
                serde_json::Value::String(f.field.name().into()),
                serde_json::Value::String(v.trim().to_string())
            );
        }
        out.push('}');
        return;
    }
    if let Some(sep) = &o.sep {
        for (i, f) in o.fields.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            value_into(r, f, o, v);
            match f.field {
                Field::Dir => {
                    let mut d = String::new();
                    fit(v, 5, Align::R, &mut d);
                    out.push_str(d.trim_end());
                }
                // ra's sprintf of a missing IS-IS destination id.
                Field::DAddr if v.is_empty() && matches!(r, Rec::Flow(fv) if fv.kind == 'i') => {
                    out.push_str("(null)")
                }
                Field::Flgs => fit(v, 10, Align::L, out),
                Field::SUser | Field::DUser => out.push_str(v.trim_end()),
                _ => out.push_str(v),
            }
            // ra's IS-IS destination port leaves an extra empty field behind it in CSV.
            if f.field == Field::DPort && matches!(r, Rec::Flow(fv) if fv.kind == 'i') {
                out.push_str(sep);
            }
        }
        return;
    }
    let is_mar = matches!(r, Rec::Mar(_));
    let mut prev: Option<Field> = None;
    // Each value is formatted straight into the line, then fitted to its column there.
    for f in &o.fields {
        let w = width(f, o);
        let joined = !is_mar
            && matches!(
                (prev, f.field),
                (Some(Field::SAddr), Field::SPort) | (Some(Field::DAddr), Field::DPort)
            );
        if joined {
            // ra joins an address and its port: "addr.port" / "addr " + padding.
            out.pop();
            let dot = out.len();
            out.push('.');
            value_append(r, f, o, out);
            if out.len() == dot + 1 {
                out.truncate(dot);
                out.push(' ');
            }
            fit_at(out, dot + 1, w, Align::L);
        } else {
            let at = out.len();
            value_append(r, f, o, out);
            if f.field == Field::Flgs {
                out.truncate(at + w.min(out.len() - at));
            }
            let al = match f.field {
                Field::Flgs => Align::L,
                Field::SUser | Field::DUser => Align::L,
                Field::SPort | Field::DPort if !is_mar => Align::L,
                Field::TcpOpt => Align::L,
                _ => Align::R,
            };
            fit_at(out, at, w, al);
        }
        out.push(' ');
        prev = Some(f.field);
    }
    let t = out[start..].trim_end().len();
    out.truncate(start + t);
}

/// Prints one record as a line (without newline). Returns None for records ra would not print
/// (MARs with `-M noman`, events).
pub fn format_record(rec: &Record, o: &PrintOpts) -> Option<String> {
    match rec {
        Record::Mar(m) => {
            if o.print_man {
                Some(line(&Rec::Mar(m), o))
            } else {
                None
            }
        }
        Record::Flow(f) => Some(format_flow(f, o)),
        Record::Event(_) => None,
    }
}

/// Prints one flow record as a line (without newline).
pub fn format_flow(f: &FlowRecord, o: &PrintOpts) -> String {
    line(&Rec::Flow(View::new(f)), o)
}

/// [`format_record`] appended to `out` (a buffer the caller reuses); false = nothing printed.
pub fn format_record_into(rec: &Record, o: &PrintOpts, out: &mut String) -> bool {
    match rec {
        Record::Mar(m) if o.print_man => line_into(&Rec::Mar(m), o, out),
        Record::Flow(f) => line_into(&Rec::Flow(View::new(f)), o, out),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_rows_are_in_variant_order() {
        for (i, e) in FIELD_TABLE.iter().enumerate() {
            assert_eq!(e.0 as usize, i, "{:?}", e.0);
            assert_eq!(e.0.entry().1, e.1);
        }
    }

    fn ipv4_record(proto: u8, sport: u16, dport: u16, reverse: bool) -> FlowRecord {
        let mut flow = FlowDsr::ipv4([10, 0, 0, 1], [10, 0, 0, 2], proto, sport, dport);
        flow.reverse = reverse;
        FlowRecord {
            flow: Some(flow),
            ..Default::default()
        }
    }

    /// How Debian's ra turns ICMPv4 replies keyed as their request (seen with Debian's argus
    /// and ra on generated echo replies, fidelity seeds 14 and 75).
    #[test]
    fn icmp_replies_print_as_debian_ra_turns_them() {
        let mut r = ipv4_record(1, 0x0800, 7, true);
        r.meter = Some(MeterDsr {
            src: DirCounters {
                pkts: 1,
                ..Default::default()
            },
            ..Default::default()
        });
        // Replies alone: request order, the replies as the destination's metrics.
        let alone = orientation(&r);
        assert!(!alone.key_flip && alone.swap && !alone.guess, "{alone:?}");
        // The request seen too: the key turned like any REVERSE key.
        if let Some(m) = &mut r.meter {
            m.dst.pkts = 1;
        }
        let both = orientation(&r);
        assert!(both.key_flip && !both.port_flip && !both.swap, "{both:?}");
    }

    /// The TCP handshake and port rules as Debian's ra applies them (generated SYN-ACK and
    /// mid-stream flows, and fidelity seed 173 read with `-X`).
    #[test]
    fn tcp_direction_rules() {
        let sw = PortDirection::SERVICES | PortDirection::WELLKNOWN;
        // A SYN seen fixes the direction whatever the ports.
        assert_eq!(turn_rule(false, 6, 80, 40000, 0x7, sw, true), None);
        // A SYN-ACK without its SYN: turned once established or closing, not before.
        assert_eq!(turn_rule(false, 6, 80, 40000, 0x6, sw, true), Some(false));
        assert_eq!(turn_rule(false, 6, 80, 40000, 0xa, sw, true), Some(false));
        assert_eq!(turn_rule(false, 6, 80, 40000, 0x2, sw, true), None);
        assert_eq!(turn_rule(false, 6, 80, 40000, 0x2002, sw, true), None);
        // Without ra's own pass (racluster under most `-m` keys) a SYN-ACK turns nothing.
        assert_eq!(turn_rule(false, 6, 80, 40000, 0x6, sw, false), None);
        // No handshake: the port rule, as a guess, only when RA_PORT_DIRECTION names it.
        assert_eq!(turn_rule(false, 6, 25, 53625, 0x4, sw, true), Some(true));
        assert_eq!(turn_rule(false, 6, 25, 53625, 0x4, 0, true), None);
        assert_eq!(turn_rule(false, 6, 53625, 25, 0x4, sw, true), None);
        assert_eq!(
            turn_rule(false, 6, 8080, 53625, 0x4, PortDirection::REGISTERED, true),
            Some(true)
        );
        // IPv6 TCP flows are never turned.
        assert_eq!(turn_rule(true, 6, 25, 53625, 0x4, sw, true), None);
        // A REVERSE lone SYN-ACK prints in packet order: the key turned, the metrics not.
        let mut r = ipv4_record(6, 40000, 80, true);
        r.net = Some(NetworkDsr::Tcp(TcpDsr {
            status: 0x2,
            ..Default::default()
        }));
        let o = orientation(&r);
        assert!(o.key_flip && o.port_flip && !o.swap, "{o:?}");
    }
}
