//! The table schema from `-s` (docs/database.md, "Columns"): `autoid` (an auto-increment
//! key), `record` (the binary Argus record, what `rasql` reads back) and any `ra` field. Times,
//! ports, counters and `seq`/`trans` are typed numbers computed from the record as `ra`
//! orients it (`print::orientation`); the other fields are `ra`'s text for them (`-n`: protocol
//! names, numeric ports), so the database shows what `ra` prints.
//!
//! Column names are the `ra` field names for SQLite and MySQL (as argus-clients' rasqlinsert
//! names them) and IPFIX (RFC 7012 / RFC 5103 biflow) names for ClickHouse where one exists
//! (`sbytes` = `octetDeltaCount`, `dbytes` = `reverseOctetDeltaCount`, `stime` =
//! `flowStartMilliseconds`, ...).

use super::url::Engine;
use crate::print::{format_record, orientation, parse_field, Field, FieldSpec, PrintOpts};
use crate::record::{FlowKey, FlowRecord, Record};

/// The value type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColType {
    /// The auto-increment key (not written by us).
    AutoId,
    Int,
    /// ClickHouse: UInt8 / UInt16 / UInt32 / UInt64 for numbers known to be that small.
    UInt(u8),
    Real,
    Text,
    Blob,
}

/// Where a column's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    AutoId,
    Record,
    /// The i-th text value of the record's `ra` line (see [`Columns::text_opts`]).
    Text(usize),
    /// A text address kept only when it is of this family (ClickHouse's split
    /// sourceIPv4Address / sourceIPv6Address columns).
    Addr {
        text: usize,
        v6: bool,
    },
    Num(Num),
}

/// Numbers computed from the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Num {
    Seq,
    /// Seconds (REAL) for SQL, milliseconds for ClickHouse.
    STime,
    LTime,
    Dur,
    SPort,
    DPort,
    ProtoNum,
    SrcIdNum,
    Pkts,
    SPkts,
    DPkts,
    Bytes,
    SBytes,
    DBytes,
    AppBytes,
    SAppBytes,
    DAppBytes,
    Trans,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: ColType,
    pub src: Src,
}

/// One value of a row, borrowing the record's text and bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// The columns of a table and how to fill them.
#[derive(Clone, Debug)]
pub struct Columns {
    pub engine: Engine,
    pub cols: Vec<Column>,
    /// The `ra` fields printed for the text columns (one `format_record` per record).
    text_opts: Option<PrintOpts>,
    pub has_record: bool,
    pub has_autoid: bool,
}

/// The field list when `-s` is not given.
pub const DEFAULT_FIELDS: &[&str] = &[
    "autoid", "srcid", "stime", "ltime", "flgs", "proto", "saddr", "sport", "dir", "daddr",
    "dport", "spkts", "dpkts", "sbytes", "dbytes", "state", "record",
];

const SEP: char = '\u{1f}';

impl Columns {
    /// The columns for the `-s` names (`autoid`, `record` or `ra` fields); an unknown name
    /// or one given twice is an error naming it.
    pub fn new<S: AsRef<str>>(engine: Engine, names: &[S]) -> Result<Columns, String> {
        let mut cols: Vec<Column> = Vec::new();
        let mut text_fields: Vec<FieldSpec> = Vec::new();
        let ch = engine == Engine::ClickHouse;
        for n in names {
            let n = n.as_ref();
            let n = n.strip_prefix('+').unwrap_or(n);
            let base = n.split(':').next().unwrap_or(n);
            let mut push = |name: &str, ty: ColType, src: Src| -> Result<(), String> {
                if cols.iter().any(|c| c.name == name) {
                    return Err(format!("-s {base}: column '{name}' given twice"));
                }
                cols.push(Column {
                    name: name.to_string(),
                    ty,
                    src,
                });
                Ok(())
            };
            match base {
                "autoid" if ch => {
                    return Err(
                        "-s autoid: ClickHouse has no auto-increment column; leave it out".into(),
                    )
                }
                "autoid" => push("autoid", ColType::AutoId, Src::AutoId)?,
                "record" => push("record", ColType::Blob, Src::Record)?,
                _ => {
                    let spec = parse_field(n).ok_or_else(|| {
                        format!("-s {n}: not a field (ra field, autoid or record)")
                    })?;
                    let (num, chname, chty): (Option<Num>, Option<&str>, Option<ColType>) =
                        match spec.field {
                            Field::Seq => (Some(Num::Seq), None, Some(ColType::UInt(32))),
                            Field::STime => (Some(Num::STime), Some("flowStartMilliseconds"), None),
                            Field::LTime => (Some(Num::LTime), Some("flowEndMilliseconds"), None),
                            Field::Dur => (Some(Num::Dur), Some("flowDurationMilliseconds"), None),
                            Field::SPort => (
                                Some(Num::SPort),
                                Some("sourceTransportPort"),
                                Some(ColType::UInt(16)),
                            ),
                            Field::DPort => (
                                Some(Num::DPort),
                                Some("destinationTransportPort"),
                                Some(ColType::UInt(16)),
                            ),
                            Field::Pkts => (Some(Num::Pkts), None, None),
                            Field::SPkts => (Some(Num::SPkts), Some("packetDeltaCount"), None),
                            Field::DPkts => {
                                (Some(Num::DPkts), Some("reversePacketDeltaCount"), None)
                            }
                            Field::Bytes => (Some(Num::Bytes), None, None),
                            Field::SBytes => (Some(Num::SBytes), Some("octetDeltaCount"), None),
                            Field::DBytes => {
                                (Some(Num::DBytes), Some("reverseOctetDeltaCount"), None)
                            }
                            Field::AppBytes => (Some(Num::AppBytes), None, None),
                            Field::SAppBytes => (Some(Num::SAppBytes), None, None),
                            Field::DAppBytes => (Some(Num::DAppBytes), None, None),
                            Field::Trans => (Some(Num::Trans), None, Some(ColType::UInt(32))),
                            Field::Proto if ch => (
                                Some(Num::ProtoNum),
                                Some("protocolIdentifier"),
                                Some(ColType::UInt(8)),
                            ),
                            Field::SrcId if ch => (
                                Some(Num::SrcIdNum),
                                Some("observationDomainId"),
                                Some(ColType::UInt(32)),
                            ),
                            _ => (None, None, None),
                        };
                    let name = if ch { chname.unwrap_or(base) } else { base };
                    if let Some(num) = num {
                        let ty = match (ch, num) {
                            (false, Num::STime | Num::LTime | Num::Dur) => ColType::Real,
                            (false, _) => ColType::Int,
                            (true, _) => chty.unwrap_or(ColType::UInt(64)),
                        };
                        push(name, ty, Src::Num(num))?;
                        continue;
                    }
                    let i = text_fields.len();
                    let addr_names = match spec.field {
                        Field::SAddr if ch => Some(("sourceIPv4Address", "sourceIPv6Address")),
                        Field::DAddr if ch => {
                            Some(("destinationIPv4Address", "destinationIPv6Address"))
                        }
                        _ => None,
                    };
                    if let Some((v4, v6)) = addr_names {
                        push(v4, ColType::Text, Src::Addr { text: i, v6: false })?;
                        push(v6, ColType::Text, Src::Addr { text: i, v6: true })?;
                    } else {
                        let name = if ch {
                            ch_text_name(spec.field).unwrap_or(base)
                        } else {
                            base
                        };
                        push(name, ColType::Text, Src::Text(i))?;
                    }
                    text_fields.push(FieldSpec {
                        width: None,
                        ..spec
                    });
                }
            }
        }
        if cols.iter().all(|c| c.ty == ColType::AutoId) {
            return Err("-s: no column to write (give ra fields and/or record)".into());
        }
        let text_opts = (!text_fields.is_empty()).then(|| PrintOpts {
            numeric: 1,
            unix_time: true,
            precision: 6,
            sep: Some(SEP.to_string()),
            header: false,
            print_man: false,
            json: false,
            fields: text_fields,
            owners: None,
        });
        Ok(Columns {
            engine,
            has_record: cols.iter().any(|c| c.src == Src::Record),
            has_autoid: cols.iter().any(|c| c.src == Src::AutoId),
            cols,
            text_opts,
        })
    }

    /// The columns we write (all but `autoid`).
    pub fn written(&self) -> impl Iterator<Item = &Column> {
        self.cols.iter().filter(|c| c.ty != ColType::AutoId)
    }

    /// The names of the columns a time filter can use (start, last), if present.
    pub fn time_columns(&self) -> Option<(&str, &str)> {
        let find = |n: Num| {
            self.cols
                .iter()
                .find(|c| c.src == Src::Num(n))
                .map(|c| c.name.as_str())
        };
        Some((find(Num::STime)?, find(Num::LTime)?))
    }

    /// The values of one flow record's written columns, in [`Columns::written`] order, passed
    /// to `f` (no allocation per field: one line of `ra` text per record when there are text
    /// columns, and one small vector of its pieces). Returns false (and calls nothing) for a
    /// record that is not a flow.
    pub fn each_value(&self, rec: &Record, bytes: &[u8], mut f: impl FnMut(&Column, Val)) -> bool {
        let Record::Flow(flow) = rec else {
            return false;
        };
        let line = self.text_opts.as_ref().and_then(|o| format_record(rec, o));
        let mut pieces: Vec<&str> = Vec::new();
        if let Some(l) = &line {
            pieces.extend(l.split(SEP).map(str::trim));
        }
        let o = orientation(flow);
        let ms = self.engine == Engine::ClickHouse;
        for c in self.written() {
            let v = match c.src {
                Src::AutoId => continue,
                Src::Record => Val::Blob(bytes),
                Src::Text(i) => Val::Text(pieces.get(i).copied().unwrap_or("")),
                Src::Addr { text, v6 } => {
                    let t = pieces.get(text).copied().unwrap_or("");
                    let is_v6 = t.contains(':');
                    let is_v4 = !is_v6 && t.parse::<std::net::Ipv4Addr>().is_ok();
                    Val::Text(if (v6 && is_v6) || (!v6 && is_v4) {
                        t
                    } else {
                        ""
                    })
                }
                Src::Num(n) => num_value(flow, n, o, ms),
            };
            f(c, v);
        }
        true
    }
}

fn ch_text_name(f: Field) -> Option<&'static str> {
    Some(match f {
        Field::STos => "ipClassOfService",
        Field::DTos => "reverseIpClassOfService",
        Field::STtl => "ipTTL",
        Field::DTtl => "reverseIpTTL",
        Field::SMac => "sourceMacAddress",
        Field::DMac => "destinationMacAddress",
        Field::SVid => "vlanId",
        Field::DVid => "reverseVlanId",
        Field::Flgs => "argusFlags",
        Field::State => "argusState",
        Field::Dir => "argusDir",
        _ => return None,
    })
}

fn num_value(r: &FlowRecord, n: Num, o: crate::print::Orientation, ms: bool) -> Val<'static> {
    let meter = r.meter.unwrap_or_default();
    let (s, d) = if o.swap {
        (meter.dst, meter.src)
    } else {
        (meter.src, meter.dst)
    };
    let t = r.time.unwrap_or_default();
    let time = |us: i64| {
        if ms {
            Val::Int(us.div_euclid(1000))
        } else {
            Val::Real(us as f64 / 1e6)
        }
    };
    let ports = || {
        r.flow.as_ref().and_then(|f| match f.key {
            FlowKey::Ipv4 { sport, dport, .. } | FlowKey::Ipv6 { sport, dport, .. } => {
                Some(if o.port_flip {
                    (dport, sport)
                } else {
                    (sport, dport)
                })
            }
            _ => None,
        })
    };
    let u = |x: u64| Val::Int(x.min(i64::MAX as u64) as i64);
    match n {
        Num::Seq => Val::Int(r.seq as i64),
        Num::STime => time(t.start.as_micros()),
        Num::LTime => time(t.last.as_micros()),
        Num::Dur => time((t.last.as_micros() - t.start.as_micros()).max(0)),
        Num::SPort => ports().map_or(Val::Null, |p| Val::Int(p.0 as i64)),
        Num::DPort => ports().map_or(Val::Null, |p| Val::Int(p.1 as i64)),
        Num::ProtoNum => Val::Int(match r.flow.as_ref().map(|f| &f.key) {
            Some(FlowKey::Ipv4 { proto, .. }) | Some(FlowKey::Ipv6 { proto, .. }) => *proto as i64,
            _ => 0,
        }),
        Num::SrcIdNum => Val::Int(r.srcid.value() as i64),
        Num::Pkts => u(s.pkts + d.pkts),
        Num::SPkts => u(s.pkts),
        Num::DPkts => u(d.pkts),
        Num::Bytes => u(s.bytes + d.bytes),
        Num::SBytes => u(s.bytes),
        Num::DBytes => u(d.bytes),
        Num::AppBytes => u(s.appbytes + d.appbytes),
        Num::SAppBytes => u(s.appbytes),
        Num::DAppBytes => u(d.appbytes),
        Num::Trans => Val::Int(r.agr.as_ref().map_or(1, |a| a.count as i64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_lists() {
        let c = Columns::new(
            Engine::Sqlite,
            &["autoid", "srcid", "stime", "saddr", "record"],
        )
        .unwrap();
        let names: Vec<_> = c.cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["autoid", "srcid", "stime", "saddr", "record"]);
        assert!(c.has_autoid && c.has_record);
        assert_eq!(c.written().count(), 4);
        let c = Columns::new(Engine::ClickHouse, &["stime", "saddr", "sbytes", "dbytes"]).unwrap();
        let names: Vec<_> = c.cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "flowStartMilliseconds",
                "sourceIPv4Address",
                "sourceIPv6Address",
                "octetDeltaCount",
                "reverseOctetDeltaCount"
            ]
        );
        assert!(Columns::new(Engine::Sqlite, &["bogus"]).is_err());
        assert!(Columns::new(Engine::Sqlite, &["saddr", "saddr"]).is_err());
        assert!(Columns::new(Engine::ClickHouse, &["autoid", "saddr"]).is_err());
        assert!(Columns::new(Engine::Sqlite, &["autoid"]).is_err());
    }
}
