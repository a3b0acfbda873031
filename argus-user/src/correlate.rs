//! Flow attribution: which process and user own a flow's local endpoint, taken from the
//! `ralsof` event records of the same source (issue 5; argus never did this). See
//! docs/correlation.md.
//!
//! A client first reads every `ralsof` event of its inputs ([`Owners::add_event`]): each is a
//! snapshot of the sensor host's TCP/UDP sockets with their owners at the event's time. A flow
//! (TCP or UDP over IPv4/IPv6) then finds its owner in the snapshots of its source id nearest in
//! time to it ([`Owners::lookup`]):
//!
//! 1. a socket whose local and remote endpoints are the flow's two endpoints (either way round:
//!    the host may be the flow's source or its destination);
//! 2. else a listening or unconnected socket bound to one of the flow's endpoints (its address,
//!    or the wildcard address, and its port): the server process of an accepted connection that
//!    came and went between two snapshots, a UDP service.
//!
//! Snapshots taken while the flow was active come first, then the others by their distance
//! from the flow's time span, up to [`SLACK_US`] away; an exact match in any of them wins over a
//! listener match. Sockets whose process could not be read (another user's, without the
//! privilege to read its /proc entries) still give the user (the socket's uid).

use crate::gen::lsof::{self, Proto, SocketOwner};
use crate::record::{EventRecord, FlowRecord, SrcId};
use std::collections::HashMap;
use std::net::SocketAddr;

/// How far from a flow's time span a snapshot may be and still attribute it (µs): two minutes,
/// twice the usual `ralsof` interval of one minute.
pub const SLACK_US: i64 = 120_000_000;

/// One `ralsof` run: its time (the run's start, µs) and the sockets it listed.
#[derive(Clone, Debug)]
struct Snapshot {
    time_us: i64,
    owners: Vec<SocketOwner>,
}

/// The socket owners of every `ralsof` event read, by source id.
#[derive(Clone, Debug, Default)]
pub struct Owners {
    by_src: HashMap<(u8, u32), Vec<Snapshot>>,
    /// `ralsof` events read, and those whose text could not be parsed (with the reason).
    pub events: u64,
    pub errors: Vec<String>,
    sorted: bool,
}

fn src_key(s: SrcId) -> (u8, u32) {
    let tag = match s {
        SrcId::None => 0,
        SrcId::Ipv4(_) => 1,
        SrcId::Int(_) => 2,
        SrcId::Str(_) => 3,
    };
    (tag, s.value())
}

/// The `ralsof` document in an event's text (after the label line), if it is one: XML as
/// `ralsof` prints it by default or JSON (`ralsof -M json`). A trailing `argus: event error:`
/// line (the program failed after printing) is left out.
fn lsof_document(text: &str) -> Option<Result<Vec<SocketOwner>, String>> {
    let (_label, body) = text.split_once('\n').unwrap_or(("", text));
    let body = match body.rfind("\nargus: event error:") {
        Some(k) => &body[..k],
        None => body,
    };
    let b = body.trim();
    if b.starts_with('<') && b.contains("type=\"lsof\"") {
        Some(lsof::parse_xml(b))
    } else if b.starts_with('{') && b.contains("\"lsof\"") {
        Some(lsof::parse_json(b))
    } else {
        None
    }
}

impl Owners {
    pub fn new() -> Owners {
        Owners::default()
    }

    /// Take the sockets of `e` if it is a `ralsof` event. Returns whether it was one.
    pub fn add_event(&mut self, e: &EventRecord) -> bool {
        let Ok(text) = crate::event::event_text(e) else {
            return false;
        };
        let text = String::from_utf8_lossy(&text);
        let Some(doc) = lsof_document(&text) else {
            return false;
        };
        self.events += 1;
        match doc {
            Ok(owners) => {
                self.by_src
                    .entry(src_key(e.srcid))
                    .or_default()
                    .push(Snapshot {
                        time_us: e.start.as_micros(),
                        owners,
                    });
                self.sorted = false;
            }
            Err(err) => self.errors.push(format!(
                "ralsof event of {}: {err}",
                crate::event::time_str(e.start, false, 6)
            )),
        }
        true
    }

    /// Snapshots read, all sources.
    pub fn snapshots(&self) -> usize {
        self.by_src.values().map(Vec::len).sum()
    }

    /// Put each source's snapshots in time order (needed before [`Owners::lookup`]; done
    /// by it when forgotten, on a mutable reference).
    pub fn finish(&mut self) {
        for v in self.by_src.values_mut() {
            v.sort_by_key(|s| s.time_us);
        }
        self.sorted = true;
    }

    /// The owner of `r`'s local endpoint, if a snapshot of its source tells it.
    pub fn lookup(&self, r: &FlowRecord) -> Option<&SocketOwner> {
        let (proto, a, b) = flow_endpoints(r)?;
        let snaps = self.by_src.get(&src_key(r.srcid))?;
        let t = r.time.as_ref()?;
        let (start, last) = (
            t.start.as_micros(),
            t.last.as_micros().max(t.start.as_micros()),
        );
        let dist = |s: &Snapshot| {
            if s.time_us < start {
                start - s.time_us
            } else {
                (s.time_us - last).max(0)
            }
        };
        let mut near: Vec<&Snapshot> = snaps.iter().filter(|s| dist(s) <= SLACK_US).collect();
        if !self.sorted {
            near.sort_by_key(|s| s.time_us);
        }
        near.sort_by_key(|s| dist(s));
        let exact = |o: &SocketOwner| {
            let (l, r) = (lsof::unmapped(o.local), o.remote.map(lsof::unmapped));
            o.proto == proto && (r == Some(b) && l == a || r == Some(a) && l == b)
        };
        let bound = |o: &SocketOwner| {
            let l = lsof::unmapped(o.local);
            let unconnected = o
                .remote
                .is_none_or(|r| r.ip().is_unspecified() && r.port() == 0);
            let hit = |e: SocketAddr| {
                l.port() == e.port() && (l.ip() == e.ip() || l.ip().is_unspecified())
            };
            o.proto == proto && unconnected && (hit(a) || hit(b))
        };
        near.iter()
            .find_map(|s| s.owners.iter().find(|o| exact(o)))
            .or_else(|| near.iter().find_map(|s| s.owners.iter().find(|o| bound(o))))
    }
}

/// A TCP or UDP flow's protocol and its two endpoints.
fn flow_endpoints(r: &FlowRecord) -> Option<(Proto, SocketAddr, SocketAddr)> {
    let (proto, s, d, sp, dp) = r.flow.as_ref()?.key.ip_endpoints()?;
    let p = match proto {
        6 => Proto::Tcp,
        17 => Proto::Udp,
        _ => return None,
    };
    Some((p, SocketAddr::new(s, sp), SocketAddr::new(d, dp)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{DataDsr, FlowDsr, TimeDsr, Ts};

    fn owner(proto: Proto, local: &str, remote: Option<&str>, pid: u32, comm: &str) -> SocketOwner {
        SocketOwner {
            proto,
            local: local.parse().expect("addr"),
            remote: remote.map(|r| r.parse().expect("addr")),
            state: if remote.is_some() {
                "ESTABLISHED"
            } else {
                "LISTEN"
            }
            .into(),
            uid: 1000,
            user: "alice".into(),
            pid: Some(pid),
            comm: Some(comm.into()),
            inode: pid as u64,
        }
    }

    fn event(sec: u32, owners: &[SocketOwner]) -> EventRecord {
        let doc = lsof::document(owners, &[]);
        let text = format!("prog:/usr/bin/ralsof\n{}", doc.to_xml());
        EventRecord {
            srcid: SrcId::Ipv4(7),
            start: Ts { sec, usec: 0 },
            end: Ts { sec, usec: 5 },
            data: DataDsr {
                size: text.len() as u16,
                data: text.into_bytes(),
                compressed: false,
            },
            ..Default::default()
        }
    }

    fn flow(s: [u8; 4], sp: u16, d: [u8; 4], dp: u16, proto: u8, t0: u32, t1: u32) -> FlowRecord {
        FlowRecord {
            srcid: SrcId::Ipv4(7),
            flow: Some(FlowDsr::ipv4(s, d, proto, sp, dp)),
            time: Some(TimeDsr {
                start: Ts { sec: t0, usec: 0 },
                last: Ts { sec: t1, usec: 0 },
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn exact_then_listener_then_nothing() {
        let mut o = Owners::new();
        let snap = [
            owner(
                Proto::Tcp,
                "10.0.0.1:40000",
                Some("10.0.0.2:80"),
                11,
                "curl",
            ),
            owner(Proto::Tcp, "0.0.0.0:22", None, 12, "sshd"),
            owner(Proto::Udp, "[::ffff:10.0.0.1]:5353", None, 13, "avahi"),
        ];
        assert!(o.add_event(&event(1000, &snap)));
        o.finish();
        // The client end, either way round.
        let f = flow([10, 0, 0, 1], 40000, [10, 0, 0, 2], 80, 6, 999, 1001);
        assert_eq!(o.lookup(&f).and_then(|x| x.pid), Some(11));
        let f = flow([10, 0, 0, 2], 80, [10, 0, 0, 1], 40000, 6, 999, 1001);
        assert_eq!(o.lookup(&f).and_then(|x| x.pid), Some(11));
        // A connection to the listener, accepted and gone between snapshots.
        let f = flow([10, 0, 0, 9], 5555, [10, 0, 0, 1], 22, 6, 1010, 1020);
        assert_eq!(
            o.lookup(&f).and_then(|x| x.comm.clone()).as_deref(),
            Some("sshd")
        );
        // A UDP service on an IPv4-mapped wildcard-bound socket.
        let f = flow([10, 0, 0, 1], 5353, [224, 0, 0, 251], 5353, 17, 1000, 1000);
        assert_eq!(o.lookup(&f).and_then(|x| x.pid), Some(13));
        // Not TCP on the UDP socket, not another port, not too far in time.
        let f = flow([10, 0, 0, 1], 5353, [224, 0, 0, 251], 5353, 6, 1000, 1000);
        assert!(o.lookup(&f).is_none());
        let f = flow([10, 0, 0, 1], 40001, [10, 0, 0, 2], 80, 6, 999, 1001);
        assert!(o.lookup(&f).is_none());
        let f = flow([10, 0, 0, 1], 40000, [10, 0, 0, 2], 80, 6, 1200, 1300);
        assert!(o.lookup(&f).is_none(), "snapshot 200 s before the flow");
        // Another source id sees nothing.
        let mut f = flow([10, 0, 0, 1], 40000, [10, 0, 0, 2], 80, 6, 999, 1001);
        f.srcid = SrcId::Ipv4(8);
        assert!(o.lookup(&f).is_none());
    }

    #[test]
    fn nearest_snapshot_wins_and_exact_beats_listener() {
        let mut o = Owners::new();
        // The port changed hands: pid 21 before, pid 22 later.
        o.add_event(&event(
            1000,
            &[owner(
                Proto::Tcp,
                "10.0.0.1:40000",
                Some("10.0.0.2:80"),
                21,
                "old",
            )],
        ));
        o.add_event(&event(
            1100,
            &[
                owner(Proto::Tcp, "10.0.0.1:40000", Some("10.0.0.2:80"), 22, "new"),
                owner(Proto::Tcp, "0.0.0.0:40000", None, 23, "listener"),
            ],
        ));
        o.finish();
        let f = flow([10, 0, 0, 1], 40000, [10, 0, 0, 2], 80, 6, 1090, 1095);
        assert_eq!(o.lookup(&f).and_then(|x| x.pid), Some(22));
        let f = flow([10, 0, 0, 1], 40000, [10, 0, 0, 2], 80, 6, 1001, 1002);
        assert_eq!(o.lookup(&f).and_then(|x| x.pid), Some(21));
        assert_eq!(o.snapshots(), 2);
        assert_eq!(o.events, 2);
    }

    #[test]
    fn other_events_are_not_taken_and_bad_documents_are_reported() {
        let mut o = Owners::new();
        let mut e = event(1000, &[]);
        e.data.data = b"file:/proc/loadavg\n0.00 0.01 0.05 1/100 42\n".to_vec();
        assert!(!o.add_event(&e));
        e.data.data = b"prog:/usr/bin/ralsof\n<ArgusEvent type=\"lsof\"><Socket/>".to_vec();
        assert!(o.add_event(&e));
        assert_eq!(o.errors.len(), 1, "{:?}", o.errors);
        // compressed ralsof output is read too
        let good = event(1000, &[owner(Proto::Udp, "0.0.0.0:53", None, 5, "dns")]);
        let z = crate::event::zlib(&good.data.data).expect("zlib");
        let mut c = good.clone();
        c.data.data = z;
        c.data.compressed = true;
        assert!(o.add_event(&c));
        assert_eq!(o.snapshots(), 1);
    }
}
