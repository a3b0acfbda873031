//! `rasnmp`: interface counters (IF-MIB ifTable, and ifXTable's 64-bit counters where the
//! agent has them) and the ARP table (IP-MIB ipNetToPhysicalTable, else the older
//! ipNetToMediaTable) of a device, over SNMP v2c with GETBULK walks (the `snmp2` crate does
//! the encoding and the UDP exchange).

use super::{root, Node};
use snmp2::{Oid, SyncSession, Value};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

pub const SYS_DESCR: &[u64] = &[1, 3, 6, 1, 2, 1, 1, 1, 0];
pub const SYS_UPTIME: &[u64] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];
pub const SYS_NAME: &[u64] = &[1, 3, 6, 1, 2, 1, 1, 5, 0];
/// ifEntry
pub const IF_TABLE: &[u64] = &[1, 3, 6, 1, 2, 1, 2, 2, 1];
/// ifXEntry
pub const IFX_TABLE: &[u64] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1];
/// ipNetToPhysicalEntry
pub const IP_NET_TO_PHYSICAL: &[u64] = &[1, 3, 6, 1, 2, 1, 4, 35, 1];
/// ipNetToMediaEntry
pub const IP_NET_TO_MEDIA: &[u64] = &[1, 3, 6, 1, 2, 1, 4, 22, 1];

/// A walk stops with an error past this many values (a misbehaving agent).
const MAX_WALK: usize = 1_000_000;

#[derive(Clone, Debug)]
pub struct Options {
    pub host: String,
    pub port: u16,
    pub community: String,
    /// Per request.
    pub timeout: Duration,
    /// Requests are sent again this many times when no answer comes.
    pub retries: u32,
    /// GETBULK max-repetitions.
    pub max_repetitions: u32,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            host: String::new(),
            port: 161,
            community: "public".into(),
            timeout: Duration::from_secs(2),
            retries: 1,
            max_repetitions: 32,
        }
    }
}

/// A value of a variable binding, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SVal {
    Int(i64),
    Bytes(Vec<u8>),
    Oid(Vec<u64>),
    Ip([u8; 4]),
    Counter32(u32),
    Counter64(u64),
    Unsigned(u32),
    Ticks(u32),
    Null,
    /// endOfMibView, noSuchObject, noSuchInstance
    End,
    Other,
}

impl SVal {
    fn from_value(v: &Value<'_>) -> SVal {
        match v {
            Value::Integer(i) => SVal::Int(*i),
            Value::OctetString(b) | Value::Opaque(b) => SVal::Bytes(b.to_vec()),
            Value::ObjectIdentifier(o) => SVal::Oid(arcs(o)),
            Value::IpAddress(a) => SVal::Ip(*a),
            Value::Counter32(c) => SVal::Counter32(*c),
            Value::Counter64(c) => SVal::Counter64(*c),
            Value::Unsigned32(c) => SVal::Unsigned(*c),
            Value::Timeticks(c) => SVal::Ticks(*c),
            Value::Null => SVal::Null,
            Value::EndOfMibView | Value::NoSuchObject | Value::NoSuchInstance => SVal::End,
            _ => SVal::Other,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            SVal::Int(i) => u64::try_from(i).ok(),
            SVal::Counter32(c) | SVal::Unsigned(c) | SVal::Ticks(c) => Some(c.into()),
            SVal::Counter64(c) => Some(c),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            SVal::Int(i) => Some(i),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            SVal::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// An OCTET STRING as text (invalid UTF-8 replaced, trailing NULs dropped).
    pub fn as_text(&self) -> Option<String> {
        let b = self.as_bytes()?;
        let n = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
        Some(String::from_utf8_lossy(&b[..n]).into_owned())
    }
}

fn arcs(o: &Oid<'_>) -> Vec<u64> {
    o.iter().map(|i| i.collect()).unwrap_or_default()
}

pub fn oid_string(a: &[u64]) -> String {
    a.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

/// A MAC address `02:00:00:00:00:02`; None for an empty string.
pub fn mac_string(b: &[u8]) -> Option<String> {
    (!b.is_empty()).then(|| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    })
}

type Rows = Vec<(Vec<u64>, SVal)>;

/// `HOST:PORT`, `[V6]:PORT` for an IPv6 literal.
pub fn agent_string(o: &Options) -> String {
    if o.host.contains(':') {
        format!("[{}]:{}", o.host, o.port)
    } else {
        format!("{}:{}", o.host, o.port)
    }
}

enum Req {
    Get,
    Bulk,
}

/// An SNMP v2c session to one agent, with retries and errors that name the agent.
pub struct Client {
    sess: Box<SyncSession>,
    pub target: String,
    timeout: Duration,
    retries: u32,
    reps: u32,
}

impl Client {
    pub fn connect(o: &Options) -> Result<Client, String> {
        let target = agent_string(o);
        if o.timeout.is_zero() {
            return Err("timeout must be more than 0".into());
        }
        let sess = SyncSession::new_v2c(
            (o.host.as_str(), o.port),
            o.community.as_bytes(),
            Some(o.timeout),
            1,
        )
        .map_err(|e| format!("{target}: {e}"))?;
        Ok(Client {
            sess: Box::new(sess),
            target,
            timeout: o.timeout,
            retries: o.retries,
            reps: o.max_repetitions.max(1),
        })
    }

    fn describe(&self, e: snmp2::Error, started: Instant, tries: u32) -> String {
        let t = &self.target;
        let waited = started.elapsed();
        match e {
            snmp2::Error::Receive if waited >= self.timeout.mul_f64(0.9 * f64::from(tries)) => {
                format!(
                    "{t}: no answer within {:.1} s ({tries} tries of {:.1} s): no SNMP agent \
                     there, a wrong community, or a filter in the way",
                    waited.as_secs_f64(),
                    self.timeout.as_secs_f64()
                )
            }
            snmp2::Error::Receive => format!(
                "{t}: no answer: receive failed after {} ms ({tries} tries; port unreachable, \
                 no SNMP agent listening?)",
                waited.as_millis()
            ),
            snmp2::Error::Send => format!("{t}: cannot send the request"),
            snmp2::Error::CommunityMismatch => format!("{t}: answer with another community"),
            other => format!("{t}: bad answer: {other:?}"),
        }
    }

    /// One request, sent again up to `retries` times when no answer comes. Returns the error
    /// status and the variable bindings.
    fn exchange(&mut self, kind: Req, oids: &[&[u64]]) -> Result<(u32, Rows), String> {
        let oids: Vec<Oid<'static>> = oids
            .iter()
            .map(|o| Oid::from(o).map_err(|e| format!("bad OID {}: {e:?}", oid_string(o))))
            .collect::<Result<_, _>>()?;
        let refs: Vec<&Oid<'_>> = oids.iter().collect();
        let started = Instant::now();
        let mut tries = 0;
        loop {
            tries += 1;
            let r = match kind {
                Req::Get => self.sess.get_many(&refs),
                Req::Bulk => self.sess.getbulk(&refs, 0, self.reps),
            };
            match r {
                Ok(pdu) => {
                    let status = pdu.error_status;
                    let rows = pdu
                        .varbinds
                        .map(|(name, v)| (arcs(&name), SVal::from_value(&v)))
                        .collect();
                    return Ok((status, rows));
                }
                Err(snmp2::Error::Receive | snmp2::Error::RequestIdMismatch)
                    if tries <= self.retries => {}
                Err(e) => return Err(self.describe(e, started, tries)),
            }
        }
    }

    /// GET of several scalars; absent ones are left out.
    pub fn get(&mut self, oids: &[&[u64]]) -> Result<HashMap<Vec<u64>, SVal>, String> {
        let (status, rows) = self.exchange(Req::Get, oids)?;
        if status != 0 {
            return Err(format!(
                "{}: GET answered with error status {status}",
                self.target
            ));
        }
        Ok(rows.into_iter().filter(|(_, v)| *v != SVal::End).collect())
    }

    /// Every value under `base`, in OID order (GETBULK walk).
    pub fn walk(&mut self, base: &[u64]) -> Result<Rows, String> {
        let mut out = Vec::new();
        let mut cur = base.to_vec();
        loop {
            let (status, rows) = self.exchange(Req::Bulk, &[&cur])?;
            if status != 0 {
                return Err(format!(
                    "{}: walk of {} answered with error status {status}",
                    self.target,
                    oid_string(base)
                ));
            }
            let mut progressed = false;
            for (name, v) in rows {
                if !name.starts_with(base) || v == SVal::End {
                    return Ok(out);
                }
                if name <= cur {
                    return Err(format!(
                        "{}: walk of {}: the agent answered {} after {} (OIDs not increasing)",
                        self.target,
                        oid_string(base),
                        oid_string(&name),
                        oid_string(&cur)
                    ));
                }
                cur.clone_from(&name);
                out.push((name, v));
                progressed = true;
            }
            if !progressed {
                return Ok(out);
            }
            if out.len() > MAX_WALK {
                return Err(format!(
                    "{}: walk of {}: more than {MAX_WALK} values",
                    self.target,
                    oid_string(base)
                ));
            }
        }
    }
}

/// An interface row of ifTable joined with ifXTable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interface {
    pub index: u32,
    /// ifName (ifXTable), else ifDescr.
    pub name: Option<String>,
    pub descr: Option<String>,
    pub if_type: Option<i64>,
    pub mtu: Option<i64>,
    /// bits per second (ifHighSpeed × 10⁶ where present and non-zero, else ifSpeed)
    pub speed: Option<u64>,
    pub mac: Option<String>,
    pub admin_status: Option<i64>,
    pub oper_status: Option<i64>,
    /// The octet and packet counters are ifXTable's 64-bit ones.
    pub hc: bool,
    pub in_octets: Option<u64>,
    pub in_packets: Option<u64>,
    pub in_errors: Option<u64>,
    pub in_discards: Option<u64>,
    pub out_octets: Option<u64>,
    pub out_packets: Option<u64>,
    pub out_errors: Option<u64>,
    pub out_discards: Option<u64>,
}

/// Groups table rows `base.col.index...` by index: index arcs -> column -> value.
fn by_index(base: &[u64], rows: &Rows) -> BTreeMap<Vec<u64>, HashMap<u64, SVal>> {
    let mut m: BTreeMap<Vec<u64>, HashMap<u64, SVal>> = BTreeMap::new();
    for (name, v) in rows {
        let Some(rest) = name.strip_prefix(base) else {
            continue;
        };
        let Some((&col, idx)) = rest.split_first() else {
            continue;
        };
        if !idx.is_empty() {
            m.entry(idx.to_vec()).or_default().insert(col, v.clone());
        }
    }
    m
}

fn sum(cols: &HashMap<u64, SVal>, which: &[u64]) -> Option<u64> {
    let vals: Vec<u64> = which
        .iter()
        .filter_map(|c| cols.get(c).and_then(SVal::as_u64))
        .collect();
    (!vals.is_empty()).then(|| vals.iter().fold(0u64, |a, b| a.wrapping_add(*b)))
}

/// Joins the ifTable and ifXTable walks into interfaces, by ifIndex.
pub fn interfaces(if_rows: &Rows, ifx_rows: &Rows) -> Vec<Interface> {
    let ift = by_index(IF_TABLE, if_rows);
    let ifx = by_index(IFX_TABLE, ifx_rows);
    let empty = HashMap::new();
    let mut out = Vec::new();
    for (idx, c) in &ift {
        let [i] = idx.as_slice() else { continue };
        let Ok(index) = u32::try_from(*i) else {
            continue;
        };
        let x = ifx.get(idx).unwrap_or(&empty);
        let u = |m: &HashMap<u64, SVal>, col: u64| m.get(&col).and_then(SVal::as_u64);
        let hc = u(x, 6).is_some();
        let descr = c.get(&2).and_then(SVal::as_text);
        let high = u(x, 15)
            .filter(|&s| s > 0)
            .map(|s| s.saturating_mul(1_000_000));
        out.push(Interface {
            index,
            name: x
                .get(&1)
                .and_then(SVal::as_text)
                .filter(|s| !s.is_empty())
                .or_else(|| descr.clone()),
            descr,
            if_type: c.get(&3).and_then(SVal::as_i64),
            mtu: c.get(&4).and_then(SVal::as_i64),
            speed: high.or_else(|| u(c, 5)),
            mac: c.get(&6).and_then(SVal::as_bytes).and_then(mac_string),
            admin_status: c.get(&7).and_then(SVal::as_i64),
            oper_status: c.get(&8).and_then(SVal::as_i64),
            hc,
            in_octets: if hc { u(x, 6) } else { u(c, 10) },
            in_packets: if hc {
                sum(x, &[7, 8, 9])
            } else {
                sum(c, &[11, 12])
            },
            in_discards: u(c, 13),
            in_errors: u(c, 14),
            out_octets: if hc { u(x, 10) } else { u(c, 16) },
            out_packets: if hc {
                sum(x, &[11, 12, 13])
            } else {
                sum(c, &[17, 18])
            },
            out_discards: u(c, 19),
            out_errors: u(c, 20),
        });
    }
    out
}

/// One ARP (neighbour) entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArpEntry {
    pub if_index: u32,
    pub ip: IpAddr,
    pub mac: Option<String>,
    /// other, invalid, dynamic, static, local (or the number)
    pub kind: Option<String>,
}

fn arp_kind(v: Option<&SVal>) -> Option<String> {
    let n = v?.as_i64()?;
    Some(
        match n {
            1 => "other",
            2 => "invalid",
            3 => "dynamic",
            4 => "static",
            5 => "local",
            n => return Some(n.to_string()),
        }
        .to_string(),
    )
}

/// ipNetToPhysicalTable rows (index: ifIndex, address type, length, address bytes).
pub fn arp_from_physical(rows: &Rows) -> Vec<ArpEntry> {
    by_index(IP_NET_TO_PHYSICAL, rows)
        .into_iter()
        .filter_map(|(idx, c)| {
            let (&ifi, rest) = idx.split_first()?;
            let (&atype, rest) = rest.split_first()?;
            let (&len, bytes) = rest.split_first()?;
            let b: Option<Vec<u8>> = bytes.iter().map(|&x| u8::try_from(x).ok()).collect();
            let b = b?;
            if usize::try_from(len).ok()? != b.len() {
                return None;
            }
            let ip = match (atype, b.len()) {
                (1, 4) => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
                (2, 16) => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(&b);
                    IpAddr::V6(Ipv6Addr::from(a))
                }
                _ => return None,
            };
            Some(ArpEntry {
                if_index: u32::try_from(ifi).ok()?,
                ip,
                mac: c.get(&4).and_then(SVal::as_bytes).and_then(mac_string),
                kind: arp_kind(c.get(&6)),
            })
        })
        .collect()
}

/// ipNetToMediaTable rows (index: ifIndex, IPv4 address).
pub fn arp_from_media(rows: &Rows) -> Vec<ArpEntry> {
    by_index(IP_NET_TO_MEDIA, rows)
        .into_iter()
        .filter_map(|(idx, c)| {
            let [ifi, a, b, cc, d] = idx.as_slice() else {
                return None;
            };
            let o = |x: &u64| u8::try_from(*x).ok();
            Some(ArpEntry {
                if_index: u32::try_from(*ifi).ok()?,
                ip: IpAddr::V4(Ipv4Addr::new(o(a)?, o(b)?, o(cc)?, o(d)?)),
                mac: c.get(&2).and_then(SVal::as_bytes).and_then(mac_string),
                kind: arp_kind(c.get(&4)),
            })
        })
        .collect()
}

/// What `rasnmp` collects from one agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub agent: String,
    pub sys_name: Option<String>,
    pub sys_descr: Option<String>,
    /// sysUpTime, hundredths of a second
    pub uptime: Option<u64>,
    pub interfaces: Vec<Interface>,
    pub arp: Vec<ArpEntry>,
    /// The table the ARP entries came from (`ipNetToPhysicalTable` or `ipNetToMediaTable`).
    pub arp_table: Option<&'static str>,
}

/// Queries the agent: system group, interfaces, ARP table. Any failure to get an answer is an
/// error naming the agent.
pub fn query(o: &Options) -> Result<Device, String> {
    let mut c = Client::connect(o)?;
    let sys = c.get(&[SYS_DESCR, SYS_UPTIME, SYS_NAME])?;
    let if_rows = c.walk(IF_TABLE)?;
    let ifx_rows = c.walk(IFX_TABLE)?;
    let mut arp = arp_from_physical(&c.walk(IP_NET_TO_PHYSICAL)?);
    let mut arp_table = Some("ipNetToPhysicalTable");
    if arp.is_empty() {
        arp = arp_from_media(&c.walk(IP_NET_TO_MEDIA)?);
        arp_table = (!arp.is_empty()).then_some("ipNetToMediaTable");
    }
    Ok(Device {
        agent: c.target.clone(),
        sys_name: sys.get(SYS_NAME).and_then(SVal::as_text),
        sys_descr: sys.get(SYS_DESCR).and_then(SVal::as_text),
        uptime: sys.get(SYS_UPTIME).and_then(SVal::as_u64),
        interfaces: interfaces(&if_rows, &ifx_rows),
        arp,
        arp_table,
    })
}

fn oper_name(v: i64) -> String {
    match v {
        1 => "up",
        2 => "down",
        3 => "testing",
        4 => "unknown",
        5 => "dormant",
        6 => "notPresent",
        7 => "lowerLayerDown",
        n => return n.to_string(),
    }
    .to_string()
}

/// The `snmp` document of a device.
pub fn document(d: &Device) -> Node {
    let mut doc = root("snmp")
        .attr("agent", &d.agent)
        .opt("arpTable", d.arp_table)
        .list("interfaces")
        .list("arp");
    doc.push(
        Node::one("System", "system")
            .opt("name", d.sys_name.as_deref())
            .opt("descr", d.sys_descr.as_deref())
            .opt("upTime", d.uptime),
    );
    for i in &d.interfaces {
        doc.push(
            Node::many("Interface", "interfaces")
                .opt("name", i.name.as_deref())
                .attr("index", i.index)
                .opt("descr", i.descr.as_deref())
                .opt("ifType", i.if_type)
                .opt("mtu", i.mtu)
                .opt("speed", i.speed)
                .opt("mac", i.mac.as_deref())
                .opt("adminStatus", i.admin_status.map(oper_name))
                .opt("operStatus", i.oper_status.map(oper_name))
                .attr("counters", if i.hc { 64u32 } else { 32 })
                .opt("inOctets", i.in_octets)
                .opt("inPackets", i.in_packets)
                .opt("inErrors", i.in_errors)
                .opt("inDiscards", i.in_discards)
                .opt("outOctets", i.out_octets)
                .opt("outPackets", i.out_packets)
                .opt("outErrors", i.out_errors)
                .opt("outDiscards", i.out_discards),
        );
    }
    for a in &d.arp {
        doc.push(
            Node::many("Arp", "arp")
                .attr("ifIndex", a.if_index)
                .attr("ip", a.ip.to_string())
                .opt("mac", a.mac.as_deref())
                .opt("type", a.kind.as_deref()),
        );
    }
    doc
}

/// The document of a query that failed: the agent and an `<Error>` with the reason.
pub fn error_document(o: &Options, reason: &str) -> Node {
    let mut doc = root("snmp")
        .attr("agent", agent_string(o))
        .list("interfaces")
        .list("arp");
    doc.push(super::error_node("snmp", reason));
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(base: &[u64], tail: &[u64], v: SVal) -> (Vec<u64>, SVal) {
        let mut n = base.to_vec();
        n.extend_from_slice(tail);
        (n, v)
    }

    #[test]
    fn gen_snmp_tables_join() {
        let ift = vec![
            row(IF_TABLE, &[1, 1], SVal::Int(1)),
            row(IF_TABLE, &[1, 2], SVal::Int(2)),
            row(IF_TABLE, &[2, 1], SVal::Bytes(b"lo\0".to_vec())),
            row(IF_TABLE, &[2, 2], SVal::Bytes(b"eth0".to_vec())),
            row(IF_TABLE, &[6, 2], SVal::Bytes(vec![2, 0, 0, 0, 0, 1])),
            row(IF_TABLE, &[8, 1], SVal::Int(1)),
            row(IF_TABLE, &[8, 2], SVal::Int(2)),
            row(IF_TABLE, &[10, 1], SVal::Counter32(100)),
            row(IF_TABLE, &[10, 2], SVal::Counter32(5)),
            row(IF_TABLE, &[11, 2], SVal::Counter32(3)),
            row(IF_TABLE, &[12, 2], SVal::Counter32(1)),
            row(IF_TABLE, &[14, 2], SVal::Counter32(9)),
            row(IF_TABLE, &[99], SVal::Int(0)),
            row(&[1, 3], &[], SVal::Int(0)),
        ];
        let ifx = vec![
            row(IFX_TABLE, &[1, 1], SVal::Bytes(b"lo".to_vec())),
            row(IFX_TABLE, &[6, 1], SVal::Counter64(1 << 40)),
            row(IFX_TABLE, &[7, 1], SVal::Counter64(10)),
            row(IFX_TABLE, &[8, 1], SVal::Counter64(1)),
            row(IFX_TABLE, &[15, 1], SVal::Unsigned(10)),
        ];
        let v = interfaces(&ift, &ifx);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].name.as_deref(), Some("lo"));
        assert_eq!(v[0].descr.as_deref(), Some("lo"));
        assert!(v[0].hc);
        assert_eq!((v[0].in_octets, v[0].in_packets), (Some(1 << 40), Some(11)));
        assert_eq!(v[0].speed, Some(10_000_000));
        assert!(!v[1].hc);
        assert_eq!(v[1].name.as_deref(), Some("eth0"));
        assert_eq!(v[1].mac.as_deref(), Some("02:00:00:00:00:01"));
        assert_eq!(
            (v[1].in_octets, v[1].in_packets, v[1].in_errors),
            (Some(5), Some(4), Some(9))
        );
        assert_eq!(v[1].oper_status, Some(2));

        let phys = vec![
            row(
                IP_NET_TO_PHYSICAL,
                &[4, 3, 1, 4, 10, 9, 0, 2],
                SVal::Bytes(vec![2, 0, 0, 0, 0, 2]),
            ),
            row(IP_NET_TO_PHYSICAL, &[6, 3, 1, 4, 10, 9, 0, 2], SVal::Int(4)),
            row(
                IP_NET_TO_PHYSICAL,
                &[4, 3, 1, 5, 10, 9, 0, 2],
                SVal::Bytes(vec![1]),
            ),
            row(
                IP_NET_TO_PHYSICAL,
                &[4, 3, 1, 4, 10, 9, 0, 300],
                SVal::Bytes(vec![1]),
            ),
            row(
                IP_NET_TO_PHYSICAL,
                &[
                    4, 3, 2, 16, 254, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                ],
                SVal::Bytes(vec![2, 0, 0, 0, 0, 3]),
            ),
        ];
        let a = arp_from_physical(&phys);
        assert_eq!(a.len(), 2, "{a:?}");
        assert_eq!(a[0].ip, "10.9.0.2".parse::<IpAddr>().expect("ip"));
        assert_eq!((a[0].if_index, a[0].kind.as_deref()), (3, Some("static")));
        assert_eq!(a[0].mac.as_deref(), Some("02:00:00:00:00:02"));
        assert_eq!(a[1].ip, "fe80::1".parse::<IpAddr>().expect("ip"));

        let media = vec![
            row(
                IP_NET_TO_MEDIA,
                &[2, 3, 10, 9, 0, 2],
                SVal::Bytes(vec![2, 0, 0, 0, 0, 2]),
            ),
            row(IP_NET_TO_MEDIA, &[4, 3, 10, 9, 0, 2], SVal::Int(3)),
            row(IP_NET_TO_MEDIA, &[2, 3, 10, 9], SVal::Bytes(vec![1])),
        ];
        let m = arp_from_media(&media);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].kind.as_deref(), Some("dynamic"));

        let d = Device {
            agent: "127.0.0.1:161".into(),
            sys_name: Some("box & <co>".into()),
            sys_descr: None,
            uptime: Some(123),
            interfaces: v,
            arp: a,
            arp_table: Some("ipNetToPhysicalTable"),
        };
        let x = document(&d).to_xml();
        let p = roxmltree::Document::parse(&x).expect("well-formed");
        assert_eq!(
            p.root_element()
                .children()
                .filter(|n| n.has_tag_name("Arp"))
                .count(),
            2
        );
        let j = document(&d).to_json();
        assert_eq!(j["interfaces"][1]["operStatus"], "down");
        assert_eq!(j["system"]["name"], "box & <co>");
    }
}
