//! Duplicate detection through the whole flow update: the packet orders, the variations a
//! mirror introduces, IPv6, retransmissions after one RTT and copies after the window.

use super::dup::DedupMode;
use super::key::classify;
use super::table::{Emitted, Shard};
use super::ModelConfig;
use crate::record::{FlowRecord, NetworkDsr, Ts};
use crate::wire;

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;

/// Frame builder: Ethernet (optional 802.1Q tag) + IPv4/IPv6 + TCP/UDP.
#[derive(Clone)]
struct P {
    v6: bool,
    from_client: bool,
    vlan: Option<u16>,
    mac: u8,
    ttl: u8,
    ipid: u16,
    udp: bool,
    seq: u32,
    ack: u32,
    flags: u8,
    data: usize,
    /// TCP timestamp option (TSval, TSecr).
    ts: Option<(u32, u32)>,
}

impl P {
    fn tcp(from_client: bool, seq: u32, ack: u32, flags: u8, data: usize) -> P {
        P {
            v6: false,
            from_client,
            vlan: None,
            mac: 1,
            ttl: 64,
            ipid: (seq as u16) ^ (data as u16) ^ if from_client { 0 } else { 0x8000 },
            udp: false,
            seq,
            ack,
            flags,
            data,
            ts: None,
        }
    }

    fn frame(&self) -> Vec<u8> {
        let (sp, dp) = if self.from_client {
            (40000u16, 80u16)
        } else {
            (80, 40000)
        };
        let mut l4 = Vec::new();
        l4.extend_from_slice(&sp.to_be_bytes());
        l4.extend_from_slice(&dp.to_be_bytes());
        if self.udp {
            l4.extend_from_slice(&((8 + self.data) as u16).to_be_bytes());
            l4.extend_from_slice(&[0, 0]);
        } else {
            l4.extend_from_slice(&self.seq.to_be_bytes());
            l4.extend_from_slice(&self.ack.to_be_bytes());
            let off = if self.ts.is_some() { 0x80 } else { 0x50 };
            l4.extend_from_slice(&[off, self.flags, 0x20, 0x00, 0, 0, 0, 0]);
            if let Some((v, e)) = self.ts {
                l4.extend_from_slice(&[1, 1, 8, 10]);
                l4.extend_from_slice(&v.to_be_bytes());
                l4.extend_from_slice(&e.to_be_bytes());
            }
        }
        l4.extend((0..self.data).map(|k| (k as u32).wrapping_add(self.seq) as u8));
        let proto = if self.udp { 17 } else { 6 };
        let (a, b) = if self.from_client { (1u8, 2u8) } else { (2, 1) };
        let (ip, et) = if self.v6 {
            let mut h = vec![0x60, 0, 0, 0];
            h.extend_from_slice(&(l4.len() as u16).to_be_bytes());
            h.extend_from_slice(&[proto, self.ttl]);
            for x in [a, b] {
                let mut ad = [0u8; 16];
                ad[0] = 0x20;
                ad[1] = 0x01;
                ad[15] = x;
                h.extend_from_slice(&ad);
            }
            h.extend_from_slice(&l4);
            (h, 0x86DDu16)
        } else {
            let mut h = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, self.ttl, proto, 0, 0];
            h[2..4].copy_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
            h[4..6].copy_from_slice(&self.ipid.to_be_bytes());
            h.extend_from_slice(&[10, 0, 0, a, 10, 0, 0, b]);
            h.extend_from_slice(&l4);
            (h, 0x0800)
        };
        let mut f = vec![0, 0, 0, 0, 0, if self.from_client { 2 } else { 1 }];
        f.extend_from_slice(&[0, 0, 0, 0, self.mac, if self.from_client { 1 } else { 2 }]);
        if let Some(v) = self.vlan {
            f.extend_from_slice(&[0x81, 0x00]);
            f.extend_from_slice(&v.to_be_bytes());
        }
        f.extend_from_slice(&et.to_be_bytes());
        f.extend_from_slice(&ip);
        f
    }
}

fn t(us: i64) -> Ts {
    Ts::from_micros(1_700_000_000_000_000 + us)
}

/// Run `pkts` (time in µs, packet) through a shard in `mode`; all records, in order.
fn run(mode: DedupMode, pkts: &[(i64, P)]) -> Vec<FlowRecord> {
    let cfg = ModelConfig {
        dedup: mode,
        ..Default::default()
    };
    let mut sh = Shard::new(cfg);
    let mut out: Vec<Emitted> = Vec::new();
    for (n, (us, p)) in pkts.iter().enumerate() {
        let f = p.frame();
        let d = wire::decode(1, &f, f.len() as u32);
        let pk = classify(&f, &d).expect("classified");
        sh.packet(n as u64, t(*us), &d, &pk, &mut out);
    }
    sh.flush(&mut out);
    out.into_iter().map(|e| e.rec).collect()
}

/// (src pkts, dst pkts, src dups, dst dups, src retrans, dst retrans) over all records.
fn tally(recs: &[FlowRecord]) -> [u64; 6] {
    let mut v = [0u64; 6];
    for r in recs {
        let m = r.meter.expect("meter");
        v[0] += m.src.pkts;
        v[1] += m.dst.pkts;
        if let Some(u) = r.dups {
            v[2] += u.src_pkts as u64;
            v[3] += u.dst_pkts as u64;
        }
        if let Some(NetworkDsr::Tcp(t)) = &r.net {
            v[4] += t.src.retrans as u64;
            v[5] += t.dst.map(|d| d.retrans as u64).unwrap_or(0);
        }
    }
    v
}

fn status(recs: &[FlowRecord]) -> u32 {
    recs.iter()
        .filter_map(|r| match &r.net {
            Some(NetworkDsr::Tcp(t)) => Some(t.status),
            _ => None,
        })
        .fold(0, |a, b| a | b)
}

/// Handshake with a 10 ms RTT (5 ms synack + 5 ms ackdat), starting at 0.
fn handshake(v6: bool) -> Vec<(i64, P)> {
    let mut h = vec![
        (0, P::tcp(true, 1000, 0, SYN, 0)),
        (5_000, P::tcp(false, 5000, 1001, SYN | ACK, 0)),
        (10_000, P::tcp(true, 1001, 5001, ACK, 0)),
    ];
    for p in &mut h {
        p.1.v6 = v6;
    }
    h
}

/// Three 100-byte client segments at 20, 20.5, 21 ms.
fn segs(v6: bool) -> Vec<(i64, P)> {
    (0..3)
        .map(|k| {
            let mut p = P::tcp(true, 1001 + 100 * k, 5001, ACK | PSH, 100);
            p.v6 = v6;
            (20_000 + 500 * k as i64, p)
        })
        .collect()
}

/// Copies of `orig` shifted by `dt` µs and changed by `f`.
fn copies(orig: &[(i64, P)], dt: i64, f: impl Fn(&mut P)) -> Vec<(i64, P)> {
    orig.iter()
        .map(|(us, p)| {
            let mut c = p.clone();
            f(&mut c);
            (us + dt, c)
        })
        .collect()
}

fn sorted(mut v: Vec<(i64, P)>) -> Vec<(i64, P)> {
    v.sort_by_key(|x| x.0);
    v
}

#[test]
fn order_112233_is_caught_and_kept_out_of_retransmissions() {
    let mut pk = handshake(false);
    for (us, p) in segs(false) {
        pk.push((us, p.clone()));
        pk.push((us + 20, p));
    }
    let [sp, dp, sd, dd, sr, dr] = tally(&run(DedupMode::Remove, &pk));
    assert_eq!((sp, dp, sd, dd, sr, dr), (5, 1, 3, 0, 0, 0));
    let recs = run(DedupMode::Remove, &pk);
    assert_ne!(status(&recs) & super::tcp::bits::SRC_DUPLICATES, 0);
    assert_eq!(status(&recs) & super::tcp::bits::DST_DUPLICATES, 0);
    // Without detection argus' model calls some of these copies retransmissions.
    let off = tally(&run(DedupMode::Off, &pk));
    assert_eq!((off[0], off[2]), (8, 0));
    assert!(
        off[4] > 0,
        "argus' model counts the copies as retransmissions"
    );
    // count: copies in the totals, not in the TCP state machine
    assert_eq!(tally(&run(DedupMode::Count, &pk)), [8, 1, 3, 0, 0, 0]);
    // report: everything as argus, plus the counts
    let rep = tally(&run(DedupMode::Report, &pk));
    assert_eq!(rep, [off[0], off[1], 3, 0, off[4], off[5]]);
}

#[test]
fn order_123123_is_caught() {
    let s = segs(false);
    let mut pk = handshake(false);
    pk.extend(s.iter().cloned());
    // the whole burst again 1.2 ms later (after all three originals)
    pk.extend(copies(&s, 1_200, |_| {}));
    let pk = sorted(pk);
    assert_eq!(tally(&run(DedupMode::Remove, &pk)), [5, 1, 3, 0, 0, 0]);
}

#[test]
fn one_direction_only() {
    let mut pk = handshake(false);
    pk.extend(segs(false));
    let acks: Vec<(i64, P)> = (0..3)
        .map(|k| {
            (
                20_300 + 500 * k,
                P::tcp(false, 5001, 1101 + 100 * k as u32, ACK, 0),
            )
        })
        .collect();
    pk.extend(acks.iter().cloned());
    // only the server's ACKs are mirrored twice
    pk.extend(copies(&acks, 40, |_| {}));
    let v = tally(&run(DedupMode::Remove, &sorted(pk)));
    assert_eq!(v, [5, 4, 0, 3, 0, 0]);
}

#[test]
fn copies_differing_in_vlan_mac_or_ttl() {
    for (name, f) in [
        ("vlan", (|p: &mut P| p.vlan = Some(20)) as fn(&mut P)),
        ("mac", |p: &mut P| p.mac = 0x77),
        ("ttl", |p: &mut P| p.ttl = 63),
        ("all", |p: &mut P| {
            p.vlan = Some(10);
            p.mac = 9;
            p.ttl = 1
        }),
    ] {
        let mut pk = handshake(false);
        pk.extend(segs(false));
        let all = pk.clone();
        pk.extend(copies(&all, 100, f));
        let v = tally(&run(DedupMode::Remove, &sorted(pk)));
        assert_eq!(v, [5, 1, 5, 1, 0, 0], "{name}");
    }
}

#[test]
fn ipv6_tcp_and_udp() {
    let mut pk = handshake(true);
    pk.extend(segs(true));
    let all = pk.clone();
    pk.extend(copies(&all, 30, |p| p.ttl = 60));
    assert_eq!(
        tally(&run(DedupMode::Remove, &sorted(pk))),
        [5, 1, 5, 1, 0, 0]
    );
    let mut u = P::tcp(true, 0, 0, 0, 40);
    u.udp = true;
    u.v6 = true;
    let mut u2 = u.clone();
    u2.data = 41;
    let pk = vec![(0, u.clone()), (100, u.clone()), (200, u2), (300, u)];
    let r = run(DedupMode::Remove, &pk);
    assert_eq!(tally(&r)[..4], [2, 0, 2, 0]);
    assert_eq!(r[0].dups.map(|d| d.src_bytes), Some(2 * (14 + 40 + 8 + 40)));
}

#[test]
fn a_retransmission_after_one_rtt_is_not_a_duplicate() {
    // IPv6 (no IP id) and byte-identical: only the time tells them apart. The RTT is 10 ms;
    // the server acknowledges the first segment only, and segment 2 comes again 15 ms later.
    let mut pk = handshake(true);
    let s = segs(true);
    pk.extend(s.iter().cloned());
    let mut a = P::tcp(false, 5001, 1201, ACK, 0);
    a.v6 = true;
    pk.push((20_400, a));
    let before = tally(&run(DedupMode::Remove, &sorted(pk.clone())))[4];
    pk.push((35_500, s[1].1.clone()));
    let v = tally(&run(DedupMode::Remove, &sorted(pk.clone())));
    assert_eq!(v[..4], [6, 2, 0, 0]);
    assert_eq!(v[4], before + 1, "the resend is a retransmission");
    // the same resend 5 ms after the original (less than the RTT) is a copy
    let n = pk.len();
    pk[n - 1].0 = 25_500;
    let v = tally(&run(DedupMode::Remove, &sorted(pk)));
    assert_eq!(v, [5, 2, 1, 0, before, 0]);
}

#[test]
fn a_copy_after_the_window_is_not_a_duplicate() {
    // UDP: no RTT, the default window (2 ms) applies.
    let mut u = P::tcp(true, 7, 0, 0, 60);
    u.udp = true;
    let w = super::dup::DEFAULT_WINDOW_US as i64;
    let pk = vec![(0, u.clone()), (w - 1, u.clone()), (3 * w, u)];
    let v = tally(&run(DedupMode::Remove, &pk));
    assert_eq!(v[..4], [2, 0, 1, 0]);
}

#[test]
fn records_without_copies_are_unchanged() {
    let mut pk = handshake(false);
    pk.extend(segs(false));
    let a = run(DedupMode::Off, &pk);
    for m in [DedupMode::Report, DedupMode::Count, DedupMode::Remove] {
        assert_eq!(run(m, &pk), a, "{m:?}");
    }
    assert!(a.iter().all(|r| r.dups.is_none()));
}

#[test]
fn vlan_tallies_show_the_mirrored_vlan_and_direction() {
    // Flow traffic untagged; the SPAN adds copies of the client's packets on VLAN 20.
    let mut pk = handshake(false);
    pk.extend(segs(false));
    let all: Vec<(i64, P)> = pk.iter().filter(|p| p.1.from_client).cloned().collect();
    pk.extend(copies(&all, 50, |p| p.vlan = Some(20)));
    let cfg = ModelConfig::default();
    let mut sh = Shard::new(cfg);
    let mut out = Vec::new();
    for (n, (us, p)) in sorted(pk).iter().enumerate() {
        let f = p.frame();
        let d = wire::decode(1, &f, f.len() as u32);
        let k = classify(&f, &d).expect("classified");
        sh.packet(n as u64, t(*us), &d, &k, &mut out);
    }
    let counters = super::dup::VlanDupCounters::default();
    let mut seen = Vec::new();
    sh.take_vlan_dups(|v| {
        seen.push(*v);
        counters.add(v);
    });
    seen.sort_by_key(|v| v.vid);
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (seen[0].vid, seen[0].pkts, seen[0].dups),
        (0, [5, 1], [0, 0])
    );
    assert_eq!(
        (seen[1].vid, seen[1].pkts, seen[1].dups),
        (20, [5, 0], [5, 0])
    );
    let (m, detail) = counters.take();
    assert_eq!(
        detail,
        [super::dup::IfVlanDups {
            iface: String::new(),
            vid: 20,
            pkts: [5, 0],
            dups: [5, 0],
        }],
        "only the VLAN with copies is detailed"
    );
    assert_eq!(
        m,
        crate::record::MarDups {
            pkts: 5,
            vid: 20,
            dirs: 1,
            vlans: 1,
            permille: 1000,
        }
    );
    // taken: the next interval starts from zero
    assert_eq!(counters.take(), Default::default());
    // and the shard's tally was handed over
    let mut again = 0;
    sh.take_vlan_dups(|_| again += 1);
    assert_eq!(again, 0);
}

#[test]
fn status_mar_carries_the_summary_in_its_pad() {
    use crate::record::{decode, encode, Mar, MarDups};
    let m = Mar {
        dups: MarDups {
            pkts: 112,
            vid: 20,
            dirs: 1,
            vlans: 2,
            permille: 500,
        },
        ..Default::default()
    };
    let mut b = Vec::new();
    encode::encode_mar(&m, &mut b);
    assert_eq!(b.len(), 128);
    assert_eq!(&b[108..120], &[0, 0, 0, 112, 0, 20, 1, 2, 1, 0xf4, 0, 0]);
    let mut plain = Vec::new();
    encode::encode_mar(&Mar::default(), &mut plain);
    assert_eq!(&plain[108..120], &[0; 12], "no copies: the pad stays zero");
    match decode::decode(&b) {
        Ok(crate::record::Record::Mar(d)) => assert_eq!(d.dups, m.dups),
        other => panic!("not a MAR: {other:?}"),
    }
}

#[test]
fn the_hot_flow_state_keeps_its_size() {
    // `dups_pending` sits in padding: the lines every packet touches stay as they were.
    assert_eq!(super::Flow::HOT_BYTES, 176);
}

#[test]
fn rtt_from_tcp_timestamps_without_a_handshake() {
    // Picked up mid-connection (IPv6, no handshake): the timestamps give the RTT. The client
    // sends TSval 100 at 0; the server echoes it 4 ms later (its half: 4 ms) with TSval 900;
    // the client echoes 900 6 ms after that (its half: 6 ms): RTT 10 ms, not the 2 ms default.
    let mk = |c: bool, seq: u32, ack: u32, n: usize, ts: (u32, u32)| {
        let mut p = P::tcp(c, seq, ack, ACK | PSH, n);
        p.v6 = true;
        p.ts = Some(ts);
        p
    };
    let seg = mk(true, 1000, 5000, 100, (100, 800));
    let base = vec![
        (0, seg.clone()),
        (4_000, mk(false, 5000, 1100, 0, (900, 100))),
        (10_000, mk(true, 1100, 5000, 100, (101, 900))),
    ];
    // a copy of the first segment 5 ms after it (inside the RTT, outside the default window)
    let mut pk = base.clone();
    pk.push((12_000, mk(true, 1200, 5000, 100, (102, 900))));
    pk.push((15_000, mk(true, 1200, 5000, 100, (102, 900))));
    let v = tally(&run(DedupMode::Remove, &sorted(pk)));
    assert_eq!(
        v[..4],
        [3, 1, 1, 0],
        "a resend 3 ms later is a copy with a 10 ms RTT"
    );
    // without the timestamps' RTT the 2 ms default window would not catch it
    let mut pk = base;
    pk.push((12_000, mk(true, 1200, 5000, 100, (102, 900))));
    pk.push((22_500, mk(true, 1200, 5000, 100, (102, 900))));
    let v = tally(&run(DedupMode::Remove, &sorted(pk)));
    assert_eq!(
        v[..4],
        [4, 1, 0, 0],
        "10.5 ms later (more than the RTT): not a copy"
    );
}

#[test]
fn timestamp_rtt_halves() {
    let mut r = super::tcp::TsRtt::default();
    let ts = |v: u32, e: u32| {
        let mut o = vec![1, 1, 8, 10];
        o.extend_from_slice(&v.to_be_bytes());
        o.extend_from_slice(&e.to_be_bytes());
        o
    };
    r.update(0, &ts(10, 0), 1_000);
    assert_eq!(r.rtt_us(), None);
    r.update(1, &ts(50, 10), 3_000); // server half 2 ms
    assert_eq!(r.rtt_us(), None);
    r.update(0, &ts(11, 50), 4_500); // client half 1.5 ms
    assert_eq!(r.rtt_us(), Some(3_500));
    // garbage options are ignored
    r.update(0, &[8, 3, 0], 5_000);
    r.update(0, &[2, 0], 5_000);
    assert_eq!(r.rtt_us(), Some(3_500));
}
