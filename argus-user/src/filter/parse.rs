//! Lexer and parser of the argus/tcpdump filter language (see docs/filter.md).
//!
//! `and` and `or` have equal precedence and associate left to right, `not`/`!` binds tightest
//! (ra(1) and tcpdump: `a or b and c` is `(a or b) and c`). A bare value after `and`/`or`
//! repeats the qualifiers of the previous primitive (`host a or b`, `tcp dst port 80 or 443`).

use super::{Class, FilterError, Metric, Node, Op, Side, Test};

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Tok<'a> {
    Word(&'a str),
    LParen,
    RParen,
    Not,
    And,
    Or,
    Cmp(Op),
    End,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Token<'a> {
    pub tok: Tok<'a>,
    pub off: usize,
    pub text: &'a str,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '/' | '-' | '_' | '+')
}

pub(super) fn lex(s: &str) -> Result<Vec<Token<'_>>, FilterError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let two = s.get(i..i + 2).unwrap_or("");
        let (tok, n) = match two {
            "&&" => (Tok::And, 2),
            "||" => (Tok::Or, 2),
            "!=" => (Tok::Cmp(Op::Ne), 2),
            "==" => (Tok::Cmp(Op::Eq), 2),
            ">=" => (Tok::Cmp(Op::Ge), 2),
            "<=" => (Tok::Cmp(Op::Le), 2),
            _ => match c {
                '(' => (Tok::LParen, 1),
                ')' => (Tok::RParen, 1),
                '!' => (Tok::Not, 1),
                '=' => (Tok::Cmp(Op::Eq), 1),
                '>' => (Tok::Cmp(Op::Gt), 1),
                '<' => (Tok::Cmp(Op::Lt), 1),
                c if is_word_char(c) => {
                    let start = i;
                    let mut j = i;
                    while j < b.len() && is_word_char(b[j] as char) {
                        j += 1;
                    }
                    let w = &s[start..j];
                    let t = match w.to_ascii_lowercase().as_str() {
                        "and" => Tok::And,
                        "or" => Tok::Or,
                        "not" => Tok::Not,
                        _ => Tok::Word(w),
                    };
                    (t, j - start)
                }
                _ => {
                    let ch_len = s[i..].chars().next().map(char::len_utf8).unwrap_or(1);
                    return Err(FilterError::new(
                        i,
                        &s[i..i + ch_len],
                        "unexpected character",
                    ));
                }
            },
        };
        out.push(Token {
            tok,
            off: i,
            text: &s[i..i + n],
        });
        i += n;
    }
    out.push(Token {
        tok: Tok::End,
        off: s.len(),
        text: "",
    });
    Ok(out)
}

/// What a bare value after `and`/`or` repeats: the previous primitive's qualifiers.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Host,
    Net,
    Port,
    Proto { ether: bool },
    EtherHost,
    SrcId,
    Metric(Metric),
}

#[derive(Clone, Copy, Debug)]
struct Template {
    class: Option<Class>,
    side: Side,
    kind: Kind,
    /// Comparison operator of a metric primitive.
    op: Op,
}

pub(super) struct Parser<'a> {
    toks: Vec<Token<'a>>,
    pos: usize,
    last: Option<Template>,
}

fn err(t: &Token, msg: &str) -> FilterError {
    FilterError::new(t.off, t.text, msg)
}

/// Protocol keywords that stand alone (`tcp`) and qualify a following primitive (`tcp port 80`).
fn class_word(w: &str) -> Option<Class> {
    Some(match w {
        "ip" => Class::Ip,
        "ipv4" => Class::Ipv4,
        "ip6" | "ipv6" => Class::Ipv6,
        "arp" => Class::Arp,
        "rarp" => Class::Rarp,
        "llc" => Class::Llc,
        "loop" => Class::Loop,
        "stp" => Class::Stp,
        "isis" => Class::Isis,
        "tcp" => Class::IpProto(6),
        "udp" => Class::IpProto(17),
        "icmp" => Class::IpProto(1),
        "icmp6" | "icmpv6" => Class::IpProto(58),
        "igmp" => Class::IpProto(2),
        "ospf" => Class::IpProto(89),
        "pim" => Class::IpProto(103),
        "sctp" => Class::IpProto(132),
        "esp" => Class::IpProto(50),
        "ah" => Class::IpProto(51),
        "gre" => Class::IpProto(47),
        _ => return None,
    })
}

fn metric_word(w: &str) -> Option<(Metric, Option<Side>)> {
    let (m, s) = match w {
        "pkt" | "pkts" | "packets" => (Metric::Pkts, None),
        "spkts" => (Metric::Pkts, Some(Side::Src)),
        "dpkts" => (Metric::Pkts, Some(Side::Dst)),
        "byte" | "bytes" => (Metric::Bytes, None),
        "sbytes" => (Metric::Bytes, Some(Side::Src)),
        "dbytes" => (Metric::Bytes, Some(Side::Dst)),
        "len" | "length" => (Metric::Len, None),
        "appbyte" | "appbytes" | "data" => (Metric::AppBytes, None),
        "sappbytes" => (Metric::AppBytes, Some(Side::Src)),
        "dappbytes" => (Metric::AppBytes, Some(Side::Dst)),
        "ttl" => (Metric::Ttl, None),
        "sttl" => (Metric::Ttl, Some(Side::Src)),
        "dttl" => (Metric::Ttl, Some(Side::Dst)),
        "tos" => (Metric::Tos, None),
        "stos" => (Metric::Tos, Some(Side::Src)),
        "dtos" => (Metric::Tos, Some(Side::Dst)),
        "rate" => (Metric::Rate, None),
        "srate" => (Metric::Rate, Some(Side::Src)),
        "drate" => (Metric::Rate, Some(Side::Dst)),
        "load" => (Metric::Load, None),
        "sload" => (Metric::Load, Some(Side::Src)),
        "dload" => (Metric::Load, Some(Side::Dst)),
        "dur" => (Metric::Dur, None),
        "trans" => (Metric::Trans, None),
        "seq" => (Metric::Seq, None),
        "vid" => (Metric::Vid, None),
        "svid" => (Metric::Vid, Some(Side::Src)),
        "dvid" => (Metric::Vid, Some(Side::Dst)),
        "mid" => (Metric::Mpls, None),
        _ => return None,
    };
    Some((m, s))
}

fn op_word(w: &str) -> Option<Op> {
    Some(match w {
        "eq" | "equal" => Op::Eq,
        "ne" | "neq" => Op::Ne,
        "gt" | "greater" => Op::Gt,
        "ge" | "gte" => Op::Ge,
        "lt" | "less" => Op::Lt,
        "le" | "lte" => Op::Le,
        _ => return None,
    })
}

/// Words that start a primitive (so they are never taken as a repeated value).
fn is_keyword(w: &str) -> bool {
    class_word(w).is_some()
        || metric_word(w).is_some()
        || op_word(w).is_some()
        || matches!(
            w,
            "src"
                | "dst"
                | "host"
                | "net"
                | "mask"
                | "port"
                | "portrange"
                | "proto"
                | "ether"
                | "man"
                | "mar"
                | "far"
                | "srcid"
                | "multicast"
        )
}

/// `N`, `0xN`, `N.M` (floats for durations and rates).
pub(super) fn parse_number(w: &str) -> Option<f64> {
    if let Some(h) = w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).ok().map(|v| v as f64);
    }
    if w.is_empty() || !w.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return None;
    }
    w.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn parse_u16(w: &str) -> Option<u16> {
    parse_number(w)
        .filter(|v| v.fract() == 0.0 && *v >= 0.0 && *v <= 65535.0)
        .map(|v| v as u16)
}

/// IPv4 or IPv6 address as 16 bytes (IPv4 in the first four) and its family.
pub(super) fn parse_addr(w: &str) -> Option<([u8; 16], bool)> {
    if let Ok(a) = w.parse::<std::net::Ipv4Addr>() {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&a.octets());
        return Some((b, true));
    }
    w.parse::<std::net::Ipv6Addr>()
        .ok()
        .map(|a| (a.octets(), false))
}

fn parse_mac(w: &str) -> Option<[u8; 6]> {
    let mut m = [0u8; 6];
    let mut n = 0;
    for part in w.split(':') {
        if n == 6 || part.is_empty() || part.len() > 2 {
            return None;
        }
        m[n] = u8::from_str_radix(part, 16).ok()?;
        n += 1;
    }
    (n == 6).then_some(m)
}

fn ip_proto_name(w: &str) -> Option<u8> {
    if let Some(Class::IpProto(p)) = class_word(w) {
        return Some(p);
    }
    Some(match w {
        "ipnip" | "ipencap" | "ipip" => 4,
        "ipv6" => 41,
        "ipv6-icmp" => 58,
        "eigrp" => 88,
        "vrrp" => 112,
        _ => return lookup_file("/etc/protocols", w, 1).and_then(|v| v.parse().ok()),
    })
}

fn ether_proto_name(w: &str) -> Option<u16> {
    Some(match w {
        "ip" | "ipv4" => 0x0800,
        "arp" => 0x0806,
        "rarp" => 0x8035,
        "ip6" | "ipv6" => 0x86dd,
        "loop" | "loopback" => 0x9000,
        "vlan" | "8021q" => 0x8100,
        "mpls" => 0x8847,
        "pppoe" => 0x8864,
        _ => return None,
    })
}

/// The `col`th column of the line of a services/protocols file whose first column (or an
/// alias) is `name`.
fn lookup_file(path: &str, name: &str, col: usize) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() > col && (cols[0] == name || cols[col + 1..].contains(&name)) {
            return Some(cols[col].to_string());
        }
    }
    None
}

fn port_name(w: &str) -> Option<u16> {
    lookup_file("/etc/services", w, 1)
        .and_then(|pp| pp.split('/').next().and_then(|p| p.parse().ok()))
}

impl<'a> Parser<'a> {
    pub fn new(toks: Vec<Token<'a>>) -> Self {
        Parser {
            toks,
            pos: 0,
            last: None,
        }
    }

    fn peek(&self) -> Token<'a> {
        self.toks[self.pos.min(self.toks.len() - 1)]
    }
    fn peek_at(&self, n: usize) -> Token<'a> {
        self.toks[(self.pos + n).min(self.toks.len() - 1)]
    }
    fn bump(&mut self) -> Token<'a> {
        let t = self.peek();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }
    fn word(&self) -> Option<String> {
        match self.peek().tok {
            Tok::Word(w) => Some(w.to_ascii_lowercase()),
            _ => None,
        }
    }

    pub fn parse_all(&mut self) -> Result<Node, FilterError> {
        if self.peek().tok == Tok::End {
            return Ok(Node::True);
        }
        let n = self.expr()?;
        let t = self.peek();
        match t.tok {
            Tok::End => Ok(n),
            Tok::RParen => Err(err(&t, "unbalanced ')'")),
            _ => Err(err(&t, "expected 'and', 'or' or the end of the expression")),
        }
    }

    fn expr(&mut self) -> Result<Node, FilterError> {
        let mut left = self.unary()?;
        loop {
            let t = self.peek();
            let and = match t.tok {
                Tok::And => true,
                Tok::Or => false,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.operand()?;
            left = if and {
                Node::And(Box::new(left), Box::new(right))
            } else {
                Node::Or(Box::new(left), Box::new(right))
            };
        }
    }

    /// The right side of `and`/`or`: a bare value repeats the last primitive's qualifiers.
    fn operand(&mut self) -> Result<Node, FilterError> {
        if let (Some(w), Some(tpl)) = (self.word(), self.last) {
            if !is_keyword(&w) {
                let t = self.bump();
                return self.value(tpl, &t);
            }
        }
        self.unary()
    }

    fn unary(&mut self) -> Result<Node, FilterError> {
        let t = self.peek();
        match t.tok {
            Tok::Not => {
                self.bump();
                Ok(Node::Not(Box::new(self.unary()?)))
            }
            Tok::LParen => {
                self.bump();
                let n = self.expr()?;
                let c = self.peek();
                if c.tok != Tok::RParen {
                    return Err(err(&c, "expected ')'"));
                }
                self.bump();
                Ok(n)
            }
            Tok::Word(_) => self.primitive(),
            Tok::End => Err(err(&t, "expression ends too early: expected a primitive")),
            _ => Err(err(&t, "expected a primitive")),
        }
    }

    /// `[src|dst|src or dst|src and dst]`: the direction qualifier, if any.
    fn side(&mut self) -> Option<Side> {
        let w = self.word()?;
        let first = match w.as_str() {
            "src" => Side::Src,
            "dst" => Side::Dst,
            _ => return None,
        };
        self.bump();
        // `src or dst X` / `src and dst X`.
        let (t1, t2) = (self.peek(), self.peek_at(1));
        if let (Tok::Or | Tok::And, Tok::Word(w2)) = (t1.tok, t2.tok) {
            let w2 = w2.to_ascii_lowercase();
            if (w2 == "dst" && first == Side::Src) || (w2 == "src" && first == Side::Dst) {
                self.bump();
                self.bump();
                return Some(if t1.tok == Tok::Or {
                    Side::Either
                } else {
                    Side::Both
                });
            }
        }
        Some(first)
    }

    fn primitive(&mut self) -> Result<Node, FilterError> {
        let start = self.peek();
        let w = self.word().unwrap_or_default();
        match w.as_str() {
            "man" | "mar" => {
                self.bump();
                self.last = None;
                return Ok(Node::Test(Test::Man, start.off));
            }
            "far" => {
                self.bump();
                self.last = None;
                return Ok(Node::Test(Test::Far, start.off));
            }
            "multicast" => {
                self.bump();
                self.last = None;
                return Ok(Node::Test(Test::Multicast, start.off));
            }
            _ => {}
        }
        // Protocol qualifier (`tcp`, `ip`, `ether`).
        let mut class = None;
        if w == "ether" {
            self.bump();
            let side = self.side();
            let t = self.peek();
            let kw = self.word().unwrap_or_default();
            return match (kw.as_str(), side) {
                ("proto", None) => {
                    self.bump();
                    let tpl = Template {
                        class: None,
                        side: Side::Either,
                        kind: Kind::Proto { ether: true },
                        op: Op::Eq,
                    };
                    let v = self.bump();
                    self.value(tpl, &v)
                }
                ("host", _) => {
                    self.bump();
                    let tpl = Template {
                        class: None,
                        side: side.unwrap_or(Side::Either),
                        kind: Kind::EtherHost,
                        op: Op::Eq,
                    };
                    let v = self.bump();
                    self.value(tpl, &v)
                }
                ("multicast", None) => {
                    self.bump();
                    self.last = None;
                    Ok(Node::Test(Test::EtherMulticast, t.off))
                }
                (_, Some(side)) => {
                    let tpl = Template {
                        class: None,
                        side,
                        kind: Kind::EtherHost,
                        op: Op::Eq,
                    };
                    let v = self.bump();
                    self.value(tpl, &v)
                }
                _ => Err(err(
                    &t,
                    "expected 'proto', 'host', 'src', 'dst' or 'multicast' after 'ether'",
                )),
            };
        }
        if let Some(c) = class_word(&w) {
            self.bump();
            class = Some(c);
            // `ip proto N` / `ip6 proto N`.
            let next = self.word().unwrap_or_default();
            let continues = matches!(
                next.as_str(),
                "src" | "dst" | "host" | "net" | "port" | "portrange" | "proto"
            ) || (metric_word(&next).is_some());
            if !continues {
                self.last = None;
                return Ok(Node::Test(Test::Class(c), start.off));
            }
        }
        let side_tok = self.peek();
        let side = self.side();
        let t = self.peek();
        let kw = self.word().unwrap_or_default();
        let (kind, side) = match kw.as_str() {
            "host" => (Kind::Host, side.unwrap_or(Side::Either)),
            "net" => (Kind::Net, side.unwrap_or(Side::Either)),
            "port" | "portrange" => (Kind::Port, side.unwrap_or(Side::Either)),
            "proto" => {
                if side.is_some() {
                    return Err(err(&side_tok, "'proto' takes no direction qualifier"));
                }
                (Kind::Proto { ether: false }, Side::Either)
            }
            "srcid" if side.is_none() && class.is_none() => (Kind::SrcId, Side::Either),
            _ => {
                if let Some((m, implied)) = metric_word(&kw) {
                    let side = match (side, implied) {
                        (Some(_), Some(_)) => {
                            return Err(err(&t, "direction given twice"));
                        }
                        (Some(s), None) => s,
                        (None, Some(s)) => s,
                        (None, None) => Side::Either,
                    };
                    self.bump();
                    // Optional operator, then a number.
                    let ot = self.peek();
                    let op = match ot.tok {
                        Tok::Cmp(op) => {
                            self.bump();
                            op
                        }
                        Tok::Word(ow) => match op_word(&ow.to_ascii_lowercase()) {
                            Some(op) => {
                                self.bump();
                                op
                            }
                            None => Op::Eq,
                        },
                        _ => Op::Eq,
                    };
                    let tpl = Template {
                        class,
                        side,
                        kind: Kind::Metric(m),
                        op,
                    };
                    let v = self.bump();
                    return self.value_at(tpl, &v, t.off);
                }
                if side.is_some() && matches!(t.tok, Tok::Word(_)) && !is_keyword(&kw) {
                    // `src 1.2.3.4`: host is assumed.
                    (Kind::Host, side.unwrap_or(Side::Either))
                } else if side.is_none() && class.is_none() && !is_keyword(&kw) {
                    // A bare value: repeat the last primitive, else host.
                    let v = self.bump();
                    let tpl = self.last.unwrap_or(Template {
                        class: None,
                        side: Side::Either,
                        kind: Kind::Host,
                        op: Op::Eq,
                    });
                    return self.value(tpl, &v);
                } else if t.tok == Tok::End {
                    return Err(err(&t, "expression ends too early: expected a primitive"));
                } else {
                    return Err(err(&t, "unknown primitive"));
                }
            }
        };
        if !matches!(kind, Kind::Host) || kw == "host" {
            self.bump();
        }
        let tpl = Template {
            class,
            side,
            kind,
            op: Op::Eq,
        };
        let v = self.bump();
        self.value_at(tpl, &v, t.off)
    }

    fn value(&mut self, tpl: Template, v: &Token<'a>) -> Result<Node, FilterError> {
        self.value_at(tpl, v, v.off)
    }

    /// Builds the primitive of `tpl` for the value token `v`; `kw_off` is where the
    /// primitive's keyword is (named by errors about the keyword itself).
    fn value_at(
        &mut self,
        tpl: Template,
        v: &Token<'a>,
        kw_off: usize,
    ) -> Result<Node, FilterError> {
        let Tok::Word(raw) = v.tok else {
            let what = match tpl.kind {
                Kind::Host => "expected an address",
                Kind::Net => "expected a network (A/len or A mask M)",
                Kind::Port => "expected a port or a port range",
                Kind::Proto { .. } => "expected a protocol",
                Kind::EtherHost => "expected a MAC address",
                Kind::SrcId => "expected a source id",
                Kind::Metric(_) => "expected a number",
            };
            return Err(err(v, what));
        };
        let w = raw.to_ascii_lowercase();
        let test = match tpl.kind {
            Kind::Host => {
                let (a, v4) = parse_addr(&w).ok_or_else(|| err(v, "expected an address"))?;
                Test::Host(tpl.side, a, v4)
            }
            Kind::Net => {
                let (a, v4, len) = if let Some((a, l)) = w.split_once('/') {
                    let (a, v4) =
                        parse_addr(a).ok_or_else(|| err(v, "expected a network address"))?;
                    let max = if v4 { 32 } else { 128 };
                    let len: u8 = l
                        .parse()
                        .ok()
                        .filter(|&n: &u8| n <= max)
                        .ok_or_else(|| err(v, "bad prefix length"))?;
                    (a, v4, len)
                } else {
                    let (a, v4) =
                        parse_addr(&w).ok_or_else(|| err(v, "expected a network address"))?;
                    let next = self.word();
                    if next.as_deref() == Some("mask") {
                        self.bump();
                        let mt = self.bump();
                        let m = match mt.tok {
                            Tok::Word(m) => parse_addr(m),
                            _ => None,
                        };
                        let (m, mv4) = m.ok_or_else(|| err(&mt, "expected a netmask"))?;
                        if mv4 != v4 {
                            return Err(err(&mt, "netmask of another address family"));
                        }
                        let n = if v4 { 4 } else { 16 };
                        let bits: u32 = m[..n].iter().map(|b| b.count_ones()).sum();
                        // Only contiguous masks.
                        let mut expect = [0u8; 16];
                        prefix_mask(&mut expect[..n], bits as u8);
                        if expect[..n] != m[..n] {
                            return Err(err(&mt, "netmask is not contiguous"));
                        }
                        (a, v4, bits as u8)
                    } else {
                        (a, v4, if v4 { 32 } else { 128 })
                    }
                };
                let mut mask = [0u8; 16];
                prefix_mask(&mut mask[..if v4 { 4 } else { 16 }], len);
                let mut net = a;
                for (n, m) in net.iter_mut().zip(mask.iter()) {
                    *n &= m;
                }
                Test::Net(tpl.side, net, mask, v4)
            }
            Kind::Port => {
                let (lo, hi) = match w.split_once('-') {
                    Some((a, b)) if parse_u16(a).is_some() => (
                        parse_u16(a).ok_or_else(|| err(v, "bad port"))?,
                        parse_u16(b).ok_or_else(|| err(v, "bad port range end"))?,
                    ),
                    _ => {
                        let p = parse_u16(&w)
                            .or_else(|| port_name(&w))
                            .ok_or_else(|| err(v, "expected a port or a port range"))?;
                        (p, p)
                    }
                };
                if lo > hi {
                    return Err(err(v, "port range runs backwards"));
                }
                Test::Port(tpl.side, lo, hi)
            }
            Kind::Proto { ether: false } => {
                let p = parse_number(&w)
                    .filter(|n| n.fract() == 0.0 && *n <= 255.0)
                    .map(|n| n as u8)
                    .or_else(|| ip_proto_name(&w))
                    .ok_or_else(|| err(v, "unknown protocol"))?;
                Test::Class(Class::IpProto(p))
            }
            Kind::Proto { ether: true } => {
                let p = parse_u16(&w)
                    .or_else(|| ether_proto_name(&w))
                    .ok_or_else(|| err(v, "unknown ether protocol"))?;
                Test::EtherProto(p)
            }
            Kind::EtherHost => Test::EtherHost(
                tpl.side,
                parse_mac(&w).ok_or_else(|| err(v, "expected a MAC address"))?,
            ),
            Kind::SrcId => {
                let id = if let Some((a, true)) = parse_addr(&w) {
                    u32::from_be_bytes([a[0], a[1], a[2], a[3]])
                } else {
                    parse_number(&w)
                        .filter(|n| n.fract() == 0.0 && *n <= u32::MAX as f64)
                        .map(|n| n as u32)
                        .ok_or_else(|| err(v, "expected a source id (address or number)"))?
                };
                Test::SrcId(id)
            }
            Kind::Metric(m) => {
                let n = parse_number(&w).ok_or_else(|| err(v, "expected a number"))?;
                Test::Cmp(tpl.side, m, tpl.op, n)
            }
        };
        self.last = Some(tpl);
        let off = if matches!(tpl.kind, Kind::Metric(_) | Kind::SrcId) {
            kw_off
        } else {
            v.off
        };
        let node = Node::Test(test, off);
        Ok(match tpl.class {
            Some(c) => Node::And(Box::new(Node::Test(Test::Class(c), off)), Box::new(node)),
            None => node,
        })
    }
}

fn prefix_mask(m: &mut [u8], len: u8) {
    let mut left = len as usize;
    for b in m.iter_mut() {
        let n = left.min(8);
        *b = if n == 0 { 0 } else { 0xffu8 << (8 - n) };
        left -= n;
    }
}
