//! SPAN duplicate injection with ground truth: takes a capture's Ethernet frames and adds
//! copies the way a mis-configured mirror port does, recording exactly which copies it made.
//!
//! A copy is the original frame with the changes a mirror may make to it, and nothing else:
//! * [`Mutation::Mac`]: other source and destination MAC addresses;
//! * [`Mutation::AddVlan`]: an 802.1Q tag added (untagged originals only; tagged ones are copied
//!   unchanged), or [`Mutation::RemoveVlan`]: the outer tag removed (tagged originals only);
//! * [`Mutation::Ttl`]: TTL (IPv4, header checksum fixed up incrementally) or hop limit (IPv6)
//!   minus one, as a routed mirror does.
//!
//! Copies arrive after their original by a delay between 1 µs and [`Config::max_delay_us`], and
//! with at most [`Config::reach`] later packets of the same flow and direction in between, in
//! one of two orders ([`Order`]): each copy right behind its original (1,1',2,2',3,3'), or the
//! copies of a run of up to three frames of one flow and direction after the run
//! (1,2,3,1',2',3'), as a mirror that buffers does. Either both directions of a flow are
//! mirrored twice, or one only ([`Config::one_way`]: the direction of the flow's first frame).
//!
//! Only TCP and UDP frames (IPv4 or IPv6, not fragments, behind up to two VLAN tags or a PPPoE
//! session) are copied, so every copy belongs to a flow with ports that the truth can name.
//! Everything is deterministic for a given seed.

use crate::SplitMix64;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::net::IpAddr;

/// How a copy differs from its original.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    None,
    Mac,
    AddVlan(u16),
    RemoveVlan,
    Ttl,
}

/// Where copies go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Right behind the original: 1,1',2,2',3,3'.
    Adjacent,
    /// After a run of up to three frames of the flow and direction: 1,2,3,1',2',3'.
    Runs,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub seed: u64,
    /// Percentage (0..=100) of eligible frames (or runs) that are copied.
    pub percent: u64,
    /// Longest delay of a copy after its original, µs (at least 1).
    pub max_delay_us: u32,
    pub order: Order,
    /// Copy only the direction of each flow's first frame.
    pub one_way: bool,
    /// At most this many later packets of the copied packet's flow and direction come between
    /// a packet and its copy (the reach of a detector's history; usize::MAX: no limit; runs
    /// need at least 3).
    pub reach: usize,
    /// Mutations, chosen at random per copy (an empty list: exact copies).
    pub mutations: Vec<Mutation>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 1,
            percent: 30,
            max_delay_us: 50,
            order: Order::Adjacent,
            one_way: false,
            reach: usize::MAX - 1,
            mutations: vec![
                Mutation::None,
                Mutation::Mac,
                Mutation::AddVlan(20),
                Mutation::RemoveVlan,
                Mutation::Ttl,
            ],
        }
    }
}

/// One endpoint of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.addr, self.port)
    }
}

/// A flow without direction: `a < b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowKey {
    pub proto: u8,
    pub a: Endpoint,
    pub b: Endpoint,
}

/// Copies made of one flow: packets and bytes (original frame lengths), from `a` to `b` and
/// from `b` to `a`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Copies {
    pub a_to_b: (u64, u64),
    pub b_to_a: (u64, u64),
}

/// What was injected.
#[derive(Clone, Debug, Default)]
pub struct Truth {
    pub flows: BTreeMap<FlowKey, Copies>,
    /// Copies by mutation: none, MAC, VLAN added, VLAN removed, TTL.
    pub by_mutation: [u64; 5],
}

impl Truth {
    pub fn copies(&self) -> u64 {
        self.flows.values().map(|c| c.a_to_b.0 + c.b_to_a.0).sum()
    }
}

/// A frame of a capture: time (µs since the epoch), original length, captured bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub ts_us: i64,
    pub len: u32,
    pub data: Vec<u8>,
}

/// Where the parts of an Ethernet frame are.
struct Parsed {
    /// Offset of the first VLAN tag's TPID, if tagged (the outer one).
    vlan_at: Option<usize>,
    l3: usize,
    v6: bool,
    key: FlowKey,
    /// The frame goes from `key.a` to `key.b`.
    a_to_b: bool,
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]))
}

/// Parse an Ethernet frame down to TCP/UDP ports; `None` for anything not copied.
fn parse(d: &[u8]) -> Option<Parsed> {
    let mut at = 12;
    let mut vlan_at = None;
    let mut et = be16(d, at)?;
    let mut tags = 0;
    while matches!(et, 0x8100 | 0x88a8 | 0x9100) && tags < 2 {
        vlan_at.get_or_insert(at);
        at += 4;
        et = be16(d, at)?;
        tags += 1;
    }
    at += 2;
    if et == 0x8864 {
        // PPPoE session: 6-byte header, then the PPP protocol.
        let ppp = be16(d, at + 6)?;
        at += 8;
        et = match ppp {
            0x0021 => 0x0800,
            0x0057 => 0x86dd,
            _ => return None,
        };
    }
    let (v6, proto, src, dst, l4) = match et {
        0x0800 => {
            let vihl = *d.get(at)?;
            let ihl = (vihl & 0x0f) as usize * 4;
            if vihl >> 4 != 4 || ihl < 20 {
                return None;
            }
            let frag = be16(d, at + 6)?;
            if frag & 0x3fff != 0 {
                return None;
            }
            let s: [u8; 4] = d.get(at + 12..at + 16)?.try_into().ok()?;
            let t: [u8; 4] = d.get(at + 16..at + 20)?.try_into().ok()?;
            (
                false,
                *d.get(at + 9)?,
                IpAddr::from(s),
                IpAddr::from(t),
                at + ihl,
            )
        }
        0x86dd => {
            if *d.get(at)? >> 4 != 6 {
                return None;
            }
            let s: [u8; 16] = d.get(at + 8..at + 24)?.try_into().ok()?;
            let t: [u8; 16] = d.get(at + 24..at + 40)?.try_into().ok()?;
            (
                true,
                *d.get(at + 6)?,
                IpAddr::from(s),
                IpAddr::from(t),
                at + 40,
            )
        }
        _ => return None,
    };
    if proto != 6 && proto != 17 {
        return None;
    }
    let sp = Endpoint {
        addr: src,
        port: be16(d, l4)?,
    };
    let dp = Endpoint {
        addr: dst,
        port: be16(d, l4 + 2)?,
    };
    let a_to_b = sp <= dp;
    let (a, b) = if a_to_b { (sp, dp) } else { (dp, sp) };
    Some(Parsed {
        vlan_at,
        l3: at,
        v6,
        key: FlowKey { proto, a, b },
        a_to_b,
    })
}

/// The copy of `f` with mutation `m`; returns the mutation actually applied (a VLAN change
/// that does not apply to this frame leaves it unchanged).
fn mutate(f: &Frame, p: &Parsed, m: Mutation) -> (Frame, Mutation) {
    let mut c = f.clone();
    match m {
        Mutation::None => {}
        Mutation::Mac => {
            for b in c.data.iter_mut().take(12) {
                *b ^= 0x5a;
            }
            // Keep the source MAC unicast (bit 0 of byte 6 clear), as a switch's would be.
            c.data[6] &= 0xfe;
        }
        Mutation::AddVlan(vid) => {
            if p.vlan_at.is_some() {
                return (c, Mutation::None);
            }
            let tag = [0x81, 0x00, (vid >> 8) as u8 & 0x0f, vid as u8];
            c.data.splice(12..12, tag);
            c.len += 4;
        }
        Mutation::RemoveVlan => {
            let Some(at) = p.vlan_at else {
                return (c, Mutation::None);
            };
            c.data.drain(at..at + 4);
            c.len -= 4;
        }
        Mutation::Ttl => {
            if p.v6 {
                let hl = p.l3 + 7;
                if c.data[hl] == 0 {
                    return (c, Mutation::None);
                }
                c.data[hl] -= 1;
            } else {
                let ttl = p.l3 + 8;
                if c.data.len() < p.l3 + 12 || c.data[ttl] == 0 {
                    return (c, Mutation::None);
                }
                // RFC 1624 incremental update: the TTL is the high byte of its 16-bit word.
                let old = u16::from_be_bytes([c.data[ttl], c.data[ttl + 1]]);
                c.data[ttl] -= 1;
                let new = u16::from_be_bytes([c.data[ttl], c.data[ttl + 1]]);
                let ck = u16::from_be_bytes([c.data[p.l3 + 10], c.data[p.l3 + 11]]);
                let mut sum = (!ck as u32) + (!old as u32 & 0xffff) + new as u32;
                while sum > 0xffff {
                    sum = (sum & 0xffff) + (sum >> 16);
                }
                let ck = !(sum as u16);
                c.data[p.l3 + 10..p.l3 + 12].copy_from_slice(&ck.to_be_bytes());
            }
        }
    }
    (c, m)
}

fn mutation_index(m: Mutation) -> usize {
    match m {
        Mutation::None => 0,
        Mutation::Mac => 1,
        Mutation::AddVlan(_) => 2,
        Mutation::RemoveVlan => 3,
        Mutation::Ttl => 4,
    }
}

/// Add copies to `frames` (Ethernet, in capture order) as `cfg` says. Returns the new frame
/// list (originals in their order, copies placed by time behind them) and the truth.
pub fn inject(frames: &[Frame], cfg: &Config) -> (Vec<Frame>, Truth) {
    let mut rng = SplitMix64::new(cfg.seed);
    let max_delay = cfg.max_delay_us.max(1) as u64;
    let parsed: Vec<Option<Parsed>> = frames.iter().map(|f| parse(&f.data)).collect();
    // The direction of each flow's first frame (one-way mirroring copies only that one).
    let mut first_dir: BTreeMap<FlowKey, bool> = BTreeMap::new();
    for p in parsed.iter().flatten() {
        first_dir.entry(p.key).or_insert(p.a_to_b);
    }
    let eligible = |p: &Parsed| !cfg.one_way || first_dir.get(&p.key) == Some(&p.a_to_b);
    // A copy must arrive before the (reach + 1)-th next packet of its flow and direction.
    let reach = cfg.reach.max(1);
    let mut limit = vec![i64::MAX; frames.len()];
    {
        let mut by_dir: BTreeMap<(FlowKey, bool), Vec<usize>> = BTreeMap::new();
        for (i, p) in parsed.iter().enumerate() {
            if let Some(p) = p {
                by_dir.entry((p.key, p.a_to_b)).or_default().push(i);
            }
        }
        for idx in by_dir.values() {
            for (k, &i) in idx.iter().enumerate() {
                if let Some(&j) = k.checked_add(reach + 1).and_then(|x| idx.get(x)) {
                    limit[i] = frames[j].ts_us;
                }
            }
        }
    }
    // (original index, copy time): copies, each keyed to sort right after its anchor.
    let mut copies: Vec<(usize, i64, Frame)> = Vec::new();
    let mut truth = Truth::default();
    let record = |truth: &mut Truth, p: &Parsed, f: &Frame, m: Mutation| {
        let c = truth.flows.entry(p.key).or_default();
        let d = if p.a_to_b {
            &mut c.a_to_b
        } else {
            &mut c.b_to_a
        };
        d.0 += 1;
        d.1 += f.len as u64;
        truth.by_mutation[mutation_index(m)] += 1;
    };
    let pick = |rng: &mut SplitMix64| -> Mutation {
        if cfg.mutations.is_empty() {
            Mutation::None
        } else {
            cfg.mutations[rng.below(cfg.mutations.len() as u64) as usize]
        }
    };
    match cfg.order {
        Order::Adjacent => {
            for (i, (f, p)) in frames.iter().zip(&parsed).enumerate() {
                let Some(p) = p else { continue };
                if !eligible(p) || !rng.pct(cfg.percent) {
                    continue;
                }
                let delay = 1 + rng.below(max_delay) as i64;
                // Right behind the original: never after the next frame of the capture.
                let next = frames.get(i + 1).map_or(i64::MAX, |n| n.ts_us);
                let ts = (f.ts_us + delay).min(next).min(limit[i]).max(f.ts_us);
                let (mut c, m) = mutate(f, p, pick(&mut rng));
                c.ts_us = ts;
                record(&mut truth, p, f, m);
                copies.push((i, ts, c));
            }
        }
        Order::Runs => {
            // Runs of up to three consecutive frames of one flow and direction (consecutive
            // within the flow), spanning at most half the delay bound; the copies follow the
            // run's last frame.
            let mut last_of: BTreeMap<(FlowKey, bool), Vec<usize>> = BTreeMap::new();
            let mut runs: Vec<Vec<usize>> = Vec::new();
            for (i, p) in parsed.iter().enumerate() {
                let Some(p) = p else { continue };
                let run = last_of.entry((p.key, p.a_to_b)).or_default();
                let fits = run
                    .first()
                    .is_none_or(|&s| frames[i].ts_us - frames[s].ts_us <= max_delay as i64 / 2);
                if run.len() == 3 || !fits {
                    runs.push(std::mem::take(run));
                }
                run.push(i);
            }
            runs.extend(last_of.into_values());
            runs.retain(|r| !r.is_empty());
            runs.sort();
            for run in runs {
                let Some(p0) = parsed[run[0]].as_ref() else {
                    continue;
                };
                if !eligible(p0) || !rng.pct(cfg.percent) {
                    continue;
                }
                let end = *run.last().unwrap_or(&run[0]);
                let span = frames[end].ts_us - frames[run[0]].ts_us;
                let room = (max_delay as i64 - span).max(1);
                let mut ts = frames[end].ts_us + 1 + rng.below(room as u64 / 2 + 1) as i64;
                for &i in &run {
                    let Some(p) = parsed[i].as_ref() else {
                        continue;
                    };
                    let (mut c, m) = mutate(&frames[i], p, pick(&mut rng));
                    c.ts_us = ts.min(limit[i]).max(frames[end].ts_us);
                    record(&mut truth, p, &frames[i], m);
                    copies.push((end, c.ts_us, c));
                    ts += 1;
                }
            }
        }
    }
    // Merge: originals in order; a copy goes after its anchor and after every original
    // earlier than it, in time order among copies.
    copies.sort_by_key(|c| (c.1, c.0));
    let mut out = Vec::with_capacity(frames.len() + copies.len());
    let mut k = 0;
    for (i, f) in frames.iter().enumerate() {
        while k < copies.len() && copies[k].0 < i && copies[k].1 <= f.ts_us {
            out.push(copies[k].2.clone());
            k += 1;
        }
        out.push(f.clone());
    }
    out.extend(copies[k..].iter().map(|c| c.2.clone()));
    (out, truth)
}

/// Write `frames` as a classic pcap (microseconds, Ethernet).
pub fn write_pcap(w: &mut impl Write, frames: &[Frame]) -> io::Result<()> {
    let mut h = Vec::with_capacity(24);
    h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&0i32.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&262_144u32.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    w.write_all(&h)?;
    for f in frames {
        let mut r = Vec::with_capacity(16);
        r.extend_from_slice(&(f.ts_us.div_euclid(1_000_000) as u32).to_le_bytes());
        r.extend_from_slice(&(f.ts_us.rem_euclid(1_000_000) as u32).to_le_bytes());
        r.extend_from_slice(&(f.data.len() as u32).to_le_bytes());
        r.extend_from_slice(&f.len.to_le_bytes());
        w.write_all(&r)?;
        w.write_all(&f.data)?;
    }
    Ok(())
}

/// Read a capture's frames (any format `argus -r` reads). Errors name the file; frames of a
/// link type other than Ethernet are refused.
pub fn read_ethernet(path: &str) -> Result<Vec<Frame>, String> {
    let mut src = argus::capture::open(path).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    loop {
        match src.next_frame() {
            Ok(Some((m, d))) => {
                if m.linktype != 1 {
                    return Err(format!(
                        "{path}: frame {}: link type {} is not Ethernet",
                        out.len() + 1,
                        m.linktype
                    ));
                }
                out.push(Frame {
                    ts_us: m.ts_sec * 1_000_000 + (m.ts_nsec / 1000) as i64,
                    len: m.len,
                    data: d.to_vec(),
                });
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_frame(vlan: Option<u16>, v6: bool, src_last: u8, ts_us: i64, id: u16) -> Frame {
        let mut d = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        if let Some(v) = vlan {
            d.extend_from_slice(&[0x81, 0x00, (v >> 8) as u8, v as u8]);
        }
        let tcp = {
            let mut t = vec![0u8; 20];
            t[0..2].copy_from_slice(&40000u16.to_be_bytes());
            t[2..4].copy_from_slice(&80u16.to_be_bytes());
            t[12] = 0x50;
            t
        };
        if v6 {
            d.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 20, 6, 64]);
            let mut a = [0u8; 16];
            a[0] = 0x20;
            a[15] = src_last;
            d.extend_from_slice(&a);
            a[15] = 9;
            d.extend_from_slice(&a);
        } else {
            d.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 40]);
            d.extend_from_slice(&id.to_be_bytes());
            d.extend_from_slice(&[0x40, 0, 64, 6, 0, 0, 10, 0, 0, src_last, 10, 0, 0, 9]);
            // A valid header checksum, so the incremental update can be checked.
            let l3 = d.len() - 20;
            let mut s = 0u32;
            for k in (l3..l3 + 20).step_by(2) {
                s += u16::from_be_bytes([d[k], d[k + 1]]) as u32;
            }
            while s > 0xffff {
                s = (s & 0xffff) + (s >> 16);
            }
            let ck = !(s as u16);
            d[l3 + 10..l3 + 12].copy_from_slice(&ck.to_be_bytes());
        }
        d.extend_from_slice(&tcp);
        Frame {
            ts_us,
            len: d.len() as u32,
            data: d,
        }
    }

    fn checksum_ok(d: &[u8], l3: usize) -> bool {
        let mut s = 0u32;
        for k in (l3..l3 + 20).step_by(2) {
            s += u16::from_be_bytes([d[k], d[k + 1]]) as u32;
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s == 0xffff
    }

    #[test]
    fn mutations_change_only_what_a_mirror_changes() {
        let f = tcp_frame(None, false, 1, 1_000, 7);
        let p = parse(&f.data).expect("parses");
        let (c, m) = mutate(&f, &p, Mutation::Ttl);
        assert_eq!(m, Mutation::Ttl);
        assert_eq!(c.data[14 + 8], 63);
        assert!(checksum_ok(&c.data, 14), "checksum fixed up");
        let (c, _) = mutate(&f, &p, Mutation::AddVlan(20));
        assert_eq!(&c.data[12..16], &[0x81, 0, 0, 20]);
        assert_eq!(&c.data[16..], &f.data[12..]);
        assert_eq!(c.len, f.len + 4);
        let t = tcp_frame(Some(5), false, 1, 1_000, 7);
        let pt = parse(&t.data).expect("parses");
        let (c, m) = mutate(&t, &pt, Mutation::RemoveVlan);
        assert_eq!(m, Mutation::RemoveVlan);
        assert_eq!(c.data, f.data, "untagged again");
        let (c, _) = mutate(&f, &p, Mutation::Mac);
        assert_ne!(&c.data[..12], &f.data[..12]);
        assert_eq!(&c.data[12..], &f.data[12..]);
        let v6 = tcp_frame(None, true, 1, 1_000, 0);
        let p6 = parse(&v6.data).expect("parses v6");
        let (c, _) = mutate(&v6, &p6, Mutation::Ttl);
        assert_eq!(c.data[14 + 7], 63);
    }

    #[test]
    fn orders_and_truth() {
        // Three frames one way, three back, 1 ms apart.
        let frames: Vec<Frame> = (0..6)
            .map(|k| {
                tcp_frame(
                    None,
                    k % 2 == 1,
                    if k < 3 { 1 } else { 9 },
                    1_000 * k,
                    k as u16,
                )
            })
            .collect();
        let cfg = Config {
            percent: 100,
            max_delay_us: 100,
            mutations: vec![Mutation::None],
            ..Config::default()
        };
        let (out, truth) = inject(&frames, &cfg);
        assert_eq!(out.len(), 12);
        assert_eq!(truth.copies(), 6);
        // Adjacent: each copy right behind its original.
        for k in 0..6 {
            assert_eq!(out[2 * k].data, frames[k].data);
            assert_eq!(out[2 * k + 1].data, frames[k].data);
            assert!(out[2 * k + 1].ts_us > frames[k].ts_us);
        }
        // Runs with frames 10 µs apart: 1,2,3,1',2',3'.
        let close: Vec<Frame> = (0..3)
            .map(|k| tcp_frame(None, false, 1, 10 * k, k as u16))
            .collect();
        let cfg = Config {
            order: Order::Runs,
            ..cfg
        };
        let (out, truth) = inject(&close, &cfg);
        assert_eq!(truth.copies(), 3);
        let ids: Vec<u16> = out
            .iter()
            .map(|f| u16::from_be_bytes([f.data[18], f.data[19]]))
            .collect();
        assert_eq!(ids, [0, 1, 2, 0, 1, 2]);
        // One way: only the first frame's direction.
        let both: Vec<Frame> = (0..4)
            .map(|k| {
                tcp_frame(
                    None,
                    false,
                    if k % 2 == 0 { 1 } else { 9 },
                    1_000 * k,
                    k as u16,
                )
            })
            .collect();
        let cfg = Config {
            one_way: true,
            order: Order::Adjacent,
            ..cfg
        };
        let (_, truth) = inject(&both, &cfg);
        let c = truth.flows.values().next().expect("one flow");
        assert_eq!(c.a_to_b.0 + c.b_to_a.0, 2);
        assert!(c.a_to_b.0 == 0 || c.b_to_a.0 == 0, "{c:?}");
    }
}
