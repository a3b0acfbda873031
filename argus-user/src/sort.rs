//! rasort's ordering (docs/clients.md, "rasort"): flow records sorted by one or more fields,
//! in the direction Debian's rasort 3.0.8 uses for each (times, addresses, ports and ids
//! ascending; counters, rates and the protocol number descending); ties keep the input order.
//!
//! Each record's key is computed once (a few integers per field, addresses as numbers with
//! IPv4 before IPv6 before other address kinds), then the records are sorted by it.

use crate::print::{orientation, parse_field, PrintOpts};
use crate::record::*;
use std::borrow::Borrow;

/// One sort field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortField {
    Stime,
    Ltime,
    Dur,
    Trans,
    Pkts,
    SPkts,
    DPkts,
    Bytes,
    SBytes,
    DBytes,
    Saddr,
    Daddr,
    Sport,
    Dport,
    Proto,
    SrcId,
    Seq,
    /// Any other field `ra` prints, by its printed value (numbers as numbers).
    Printed(crate::print::Field),
}

#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    pub field: SortField,
    /// Largest first.
    pub descending: bool,
}

/// Fields sorted largest first by Debian's rasort.
const DESCENDING: &[&str] = &[
    "trans",
    "pkts",
    "spkts",
    "dpkts",
    "bytes",
    "sbytes",
    "dbytes",
    "appbytes",
    "sappbytes",
    "dappbytes",
    "rate",
    "srate",
    "drate",
    "load",
    "sload",
    "dload",
    "proto",
    "loss",
    "sloss",
    "dloss",
];

/// Parses `-m` words (each may hold several names separated by commas); an unknown field
/// is an error naming it.
pub fn parse_keys<S: AsRef<str>>(words: &[S]) -> Result<Vec<SortKey>, String> {
    let mut keys = Vec::new();
    for w in words {
        for name in w.as_ref().split(',').filter(|n| !n.is_empty()) {
            let field = match name {
                "stime" => SortField::Stime,
                "ltime" => SortField::Ltime,
                "dur" => SortField::Dur,
                "trans" => SortField::Trans,
                "pkts" => SortField::Pkts,
                "spkts" => SortField::SPkts,
                "dpkts" => SortField::DPkts,
                "bytes" => SortField::Bytes,
                "sbytes" => SortField::SBytes,
                "dbytes" => SortField::DBytes,
                "saddr" => SortField::Saddr,
                "daddr" => SortField::Daddr,
                "sport" => SortField::Sport,
                "dport" => SortField::Dport,
                "proto" => SortField::Proto,
                "srcid" => SortField::SrcId,
                "seq" => SortField::Seq,
                other => match parse_field(other) {
                    Some(f) if !other.starts_with(['+', '-']) && f.width.is_none() => {
                        SortField::Printed(f.field)
                    }
                    _ => return Err(format!("-m {other}: unknown sort field")),
                },
            };
            keys.push(SortKey {
                field,
                descending: DESCENDING.contains(&name),
            });
        }
    }
    if keys.is_empty() {
        return Err("-m: no sort field given".into());
    }
    Ok(keys)
}

/// Orders floats as their bits do (NaN and negative values first).
fn float_key(x: f64) -> u128 {
    if x.is_nan() {
        return 0;
    }
    let b = x.to_bits();
    let ordered = if b >> 63 == 1 { !b } else { b | (1 << 63) };
    ordered as u128
}

fn addr_key(r: &FlowRecord, src: bool) -> u128 {
    let o = orientation(r);
    let Some(f) = &r.flow else { return u128::MAX };
    let want_first = src != o.key_flip;
    let (class, bytes): (u128, Vec<u8>) = match &f.key {
        FlowKey::Ipv4 { src, dst, .. } => (0, if want_first { src } else { dst }.to_vec()),
        FlowKey::Ipv6 { src, dst, .. } => {
            let a = if want_first { src } else { dst };
            // IPv6 after every IPv4 address: class 1, then the top 112 bits.
            return (1u128 << 120) | (u128::from_be_bytes(*a) >> 8);
        }
        FlowKey::Ether { src: s, dst: d, .. } => (2, if src { s } else { d }.to_vec()),
        FlowKey::Arp { spa, tpa, .. } => (3, if src { spa } else { tpa }.to_vec()),
        FlowKey::Raw(b) => (4, b.iter().take(12).copied().collect()),
    };
    let mut v: u128 = 0;
    for (i, x) in bytes.iter().take(14).enumerate() {
        v |= (*x as u128) << (8 * (13 - i));
    }
    (class << 120) | v
}

fn port_key(r: &FlowRecord, src: bool) -> u128 {
    let o = orientation(r);
    let Some(f) = &r.flow else { return 0 };
    let (s, d) = match &f.key {
        FlowKey::Ipv4 { sport, dport, .. } | FlowKey::Ipv6 { sport, dport, .. } => (*sport, *dport),
        FlowKey::Ether { ssap, dsap, .. } => return (if src { *ssap } else { *dsap }) as u128,
        _ => return 0,
    };
    let (s, d) = if o.port_flip { (d, s) } else { (s, d) };
    (if src { s } else { d }) as u128
}

fn proto_key(r: &FlowRecord) -> u128 {
    match r.flow.as_ref().map(|f| &f.key) {
        Some(FlowKey::Ipv4 { proto, .. }) | Some(FlowKey::Ipv6 { proto, .. }) => *proto as u128,
        // Non-IP records after the IP ones (Debian's rasort lists them last).
        _ => 0,
    }
}

fn meter(r: &FlowRecord) -> (DirCounters, DirCounters) {
    let m = r.meter.unwrap_or_default();
    if orientation(r).swap {
        (m.dst, m.src)
    } else {
        (m.src, m.dst)
    }
}

/// The value of one field for ordering (ascending).
fn value(r: &FlowRecord, f: SortField, po: &mut PrintOpts) -> u128 {
    let t = r.time.unwrap_or_default();
    match f {
        SortField::Stime => t.start.as_micros() as u128,
        SortField::Ltime => t.last.as_micros() as u128,
        SortField::Dur => (t.last.as_micros() - t.start.as_micros()).max(0) as u128,
        SortField::Trans => r.agr.as_ref().map_or(1, |a| a.count) as u128,
        SortField::Pkts => {
            let (s, d) = meter(r);
            (s.pkts + d.pkts) as u128
        }
        SortField::SPkts => meter(r).0.pkts as u128,
        SortField::DPkts => meter(r).1.pkts as u128,
        SortField::Bytes => {
            let (s, d) = meter(r);
            (s.bytes + d.bytes) as u128
        }
        SortField::SBytes => meter(r).0.bytes as u128,
        SortField::DBytes => meter(r).1.bytes as u128,
        SortField::Saddr => addr_key(r, true),
        SortField::Daddr => addr_key(r, false),
        SortField::Sport => port_key(r, true),
        SortField::Dport => port_key(r, false),
        SortField::Proto => proto_key(r),
        SortField::SrcId => ((r.srcid.qualifier() as u128) << 32) | r.srcid.value() as u128,
        SortField::Seq => r.seq as u128,
        SortField::Printed(field) => {
            po.fields[0].field = field;
            let rec = Record::Flow(Box::new(r.clone()));
            let text = crate::print::format_record(&rec, po).unwrap_or_default();
            let text = text.trim();
            match text.parse::<f64>() {
                Ok(x) => float_key(x),
                // Text values (names, flags): by their first 15 bytes.
                Err(_) => {
                    let mut v: u128 = 1 << 127;
                    for (i, b) in text.bytes().take(15).enumerate() {
                        v |= (b as u128) << (8 * (14 - i));
                    }
                    v
                }
            }
        }
    }
}

/// Sorts `recs` by `keys` (stable: equal records keep their input order). The records may be
/// boxed (`Box<FlowRecord>`): rasort keeps them in the boxes they were decoded into.
pub fn sort_records<R: Borrow<FlowRecord>>(recs: Vec<R>, keys: &[SortKey]) -> Vec<R> {
    let mut po = PrintOpts {
        header: false,
        sep: Some("\u{1}".into()),
        numeric: 2,
        unix_time: true,
        fields: parse_field("stime").into_iter().collect(),
        ..PrintOpts::default()
    };
    // Sort keys and indices, not the records: moving records (hundreds of bytes each) in the
    // sort was a third of rasort's time. The first key is kept inline, the others (if any) in
    // a vector: one key, the usual case, allocates nothing per record.
    let key = |r: &FlowRecord, k: &SortKey, po: &mut PrintOpts| {
        let v = value(r, k.field, po);
        if k.descending {
            !v
        } else {
            v
        }
    };
    let mut keyed: Vec<(u128, Vec<u128>, u32)> = recs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let r = r.borrow();
            let first = keys.first().map_or(0, |k| key(r, k, &mut po));
            let rest = keys.iter().skip(1).map(|k| key(r, k, &mut po)).collect();
            (first, rest, i as u32)
        })
        .collect();
    keyed.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut slots: Vec<Option<R>> = recs.into_iter().map(Some).collect();
    keyed
        .into_iter()
        .filter_map(|(_, _, i)| slots.get_mut(i as usize).and_then(Option::take))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields() {
        let k = parse_keys(&["bytes,stime", "saddr"]).unwrap();
        assert_eq!(k.len(), 3);
        assert!(k[0].descending && !k[1].descending && !k[2].descending);
        let e = parse_keys(&["bogus"]).unwrap_err();
        assert!(e.contains("bogus"), "{e}");
        assert!(matches!(
            parse_keys(&["sttl"]).unwrap()[0].field,
            SortField::Printed(_)
        ));
    }

    #[test]
    fn floats_order() {
        assert!(float_key(-1.0) < float_key(0.0));
        assert!(float_key(0.5) < float_key(2.0));
    }
}
