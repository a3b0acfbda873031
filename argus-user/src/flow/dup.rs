//! Duplicate detection: tell a mirror's (SPAN's) copy of a packet from a TCP retransmission.
//!
//! A copy has the same content hash (`argus_common::content_hash`: IP header without TTL/hop
//! limit, checksum and ECN, the L4 header and up to 128 bytes of the L3 packet; MACs and VLAN
//! tags are not covered) as a packet the same flow carried in the same direction shortly
//! before. A real retransmission cannot come sooner than one RTT after its original, so a
//! repeated hash within one RTT is a copy; with no RTT known (UDP, ICMP, TCP picked up
//! mid-connection, the handshake itself) the configured default window applies. See
//! docs/duplicates.md.
//!
//! Each flow has one [`DupHist`] in a side array of the shard, indexed by the flow's slab slot
//! (the hot flow state stays as it was): one cache line with the last [`HIST`] hashes and
//! their times per direction, and apart from it the record's copy counters ([`DupCounts`],
//! touched only by copies and records): 64 + 32 bytes a flow.

/// Hashes remembered per flow and direction.
pub const HIST: usize = 4;

/// What the sensor does about duplicates (ARGUS_DEDUP, `--dedup`; docs/duplicates.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DedupMode {
    /// No detection.
    Off,
    /// Detect and report duplicates (DUP DSR, the TCP duplicate status bits, sensor counters)
    /// and change nothing else: every field argus 3.0.8 writes stays as argus writes it.
    Report,
    /// Report, and keep copies out of the TCP state machine (retransmissions, loss, gaps,
    /// state), but count them in the packet and byte totals, as argus does (the default).
    Count,
    /// Report, and keep copies out of everything: totals are what the wire carried once.
    Remove,
}

impl DedupMode {
    pub fn parse(v: &str) -> Result<DedupMode, String> {
        match v.trim().to_ascii_lowercase().as_str() {
            "yes" | "y" | "1" | "true" | "on" | "remove" => Ok(DedupMode::Remove),
            "count" => Ok(DedupMode::Count),
            "report" => Ok(DedupMode::Report),
            "no" | "n" | "0" | "false" | "off" => Ok(DedupMode::Off),
            _ => Err(format!("'{v}' is not yes, count, report or no")),
        }
    }

    /// Copies stay out of the TCP state machine.
    pub fn skips_tcp(self) -> bool {
        matches!(self, DedupMode::Count | DedupMode::Remove)
    }
}

/// Packets and copies seen on one interface and VLAN (0: untagged) since the worker last
/// published them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VlanDups {
    /// The capture interface (index into the sensor's interface list; 0 for files).
    pub ifx: u16,
    pub vid: u16,
    /// Packets by flow direction (source to destination, the reverse), copies included.
    pub pkts: [u64; 2],
    /// Copies by flow direction.
    pub dups: [u64; 2],
}

/// Interface-VLAN pairs a shard tallies separately between two publications; later ones share
/// the last slot (vid [`VLAN_OTHER`]).
pub const VLAN_SLOTS: usize = 16;
/// The slot of VLANs beyond [`VLAN_SLOTS`].
pub const VLAN_OTHER: u16 = 0xFFFF;

/// The slot of interface `ifx`, VLAN `vid` in `t` (a vector of at most [`VLAN_SLOTS`] entries,
/// reserved up front: nothing is allocated per packet).
#[inline]
pub fn vlan_slot(t: &mut Vec<VlanDups>, ifx: u16, vid: u16) -> &mut VlanDups {
    let k = match t.iter().position(|v| v.vid == vid && v.ifx == ifx) {
        Some(k) => k,
        None if t.len() + 1 < VLAN_SLOTS => {
            t.push(VlanDups {
                ifx,
                vid,
                ..Default::default()
            });
            t.len() - 1
        }
        None => match t.iter().position(|v| v.vid == VLAN_OTHER && v.ifx == ifx) {
            Some(k) => k,
            None => {
                t.push(VlanDups {
                    ifx,
                    vid: VLAN_OTHER,
                    ..Default::default()
                });
                t.len() - 1
            }
        },
    };
    &mut t[k]
}

/// Copies per thousand packets in the direction with the highest share of copies, and that
/// direction's bit (0x01 flow source to destination, 0x02 the reverse). 500: half the
/// packets of that direction were copies, i.e. each was seen twice; 1000: the VLAN carried
/// nothing but copies in that direction (the originals came on another VLAN or interface).
pub fn dup_ratio(pkts: [u64; 2], dups: [u64; 2]) -> (u32, u8) {
    let mut best = (0u32, 0u8);
    for d in 0..2 {
        if dups[d] == 0 {
            continue;
        }
        let pm = (dups[d].saturating_mul(1000) / pkts[d].max(dups[d])) as u32;
        if pm > best.0 {
            best = (pm, 1 << d);
        }
    }
    best
}

/// One interface and VLAN with copies in a status interval (a supplemental MAR,
/// docs/duplicates.md "Showing a faulty SPAN").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IfVlanDups {
    pub iface: String,
    pub vid: u16,
    pub pkts: [u64; 2],
    pub dups: [u64; 2],
}

/// Per-interface counters of [`VlanDupCounters`]: index VLAN id, 4096 for [`VLAN_OTHER`].
#[derive(Debug)]
struct IfCounters {
    pkts: Box<[[AtomicU64; 2]]>,
    dups: Box<[[AtomicU64; 2]]>,
}

impl IfCounters {
    fn new() -> IfCounters {
        IfCounters {
            pkts: (0..4097).map(|_| Default::default()).collect(),
            dups: (0..4097).map(|_| Default::default()).collect(),
        }
    }
}

/// The sensor's packet and copy counters per interface and VLAN between two status MARs:
/// workers add their tallies once per batch ([`VlanDupCounters::add`]), the merger takes the
/// interval's figures ([`VlanDupCounters::take`]).
#[derive(Debug)]
pub struct VlanDupCounters {
    names: Vec<String>,
    ifs: Vec<IfCounters>,
}

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

impl Default for VlanDupCounters {
    fn default() -> Self {
        VlanDupCounters::new(Vec::new())
    }
}

impl VlanDupCounters {
    /// Counters for the capture interfaces `names` (interface index `i` is `names[i]`; with
    /// none, one unnamed interface).
    pub fn new(mut names: Vec<String>) -> VlanDupCounters {
        if names.is_empty() {
            names.push(String::new());
        }
        let ifs = names.iter().map(|_| IfCounters::new()).collect();
        VlanDupCounters { names, ifs }
    }

    pub fn add(&self, v: &VlanDups) {
        let Some(c) = self.ifs.get(v.ifx as usize).or(self.ifs.last()) else {
            return;
        };
        let i = if v.vid == VLAN_OTHER {
            4096
        } else {
            (v.vid & 0x0fff) as usize
        };
        for d in 0..2 {
            if v.pkts[d] > 0 {
                c.pkts[i][d].fetch_add(v.pkts[d], Relaxed);
            }
            if v.dups[d] > 0 {
                c.dups[i][d].fetch_add(v.dups[d], Relaxed);
            }
        }
    }

    /// The interval's figures (and reset): the summary of a status MAR (all copies; the VLAN
    /// with the highest ratio of copies, more copies breaking ties) and every interface and
    /// VLAN with copies, in interface then VLAN order.
    pub fn take(&self) -> (crate::record::MarDups, Vec<IfVlanDups>) {
        let mut m = crate::record::MarDups::default();
        let mut detail = Vec::new();
        let (mut total, mut best) = (0u64, (0u32, 0u64));
        for (name, c) in self.names.iter().zip(&self.ifs) {
            for i in 0..4097 {
                let take2 = |a: &[AtomicU64; 2]| [a[0].swap(0, Relaxed), a[1].swap(0, Relaxed)];
                let p = take2(&c.pkts[i]);
                if p == [0, 0] {
                    continue;
                }
                let d = take2(&c.dups[i]);
                let n = d[0] + d[1];
                if n == 0 {
                    continue;
                }
                let vid = if i == 4096 { VLAN_OTHER } else { i as u16 };
                total += n;
                m.vlans = m.vlans.saturating_add(1);
                let (pm, _) = dup_ratio(p, d);
                if (pm, n) > best {
                    best = (pm, n);
                    m.vid = vid;
                    m.dirs = u8::from(d[0] > 0) | (u8::from(d[1] > 0) << 1);
                    m.permille = pm.min(u16::MAX as u32) as u16;
                }
                detail.push(IfVlanDups {
                    iface: name.clone(),
                    vid,
                    pkts: p,
                    dups: d,
                });
            }
        }
        m.pkts = total.min(u32::MAX as u64) as u32;
        (m, detail)
    }
}

static HASHING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Have [`super::key::classify`] compute each IP packet's content hash (set by a shard with
/// detection on). Computing it there, while decoding has the frame in cache, costs a fraction
/// of what it costs at the flow update, where the bytes past the headers are a cache miss.
pub fn set_hashing(on: bool) {
    HASHING.store(on, Relaxed);
}

#[inline]
pub fn hashing() -> bool {
    HASHING.load(Relaxed)
}

/// Default duplicate window (µs) where no RTT is known: see docs/duplicates.md, "Window".
pub const DEFAULT_WINDOW_US: u32 = 2_000;

/// Duplicate packets and bytes of one direction since the last record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DupCount {
    pub pkts: u32,
    pub bytes: u64,
}

/// A flow's duplicate history, one cache line: per direction the last [`HIST`] hashes and their
/// times (low 32 bits of the packet time in µs: ages are taken with wrapping arithmetic, and
/// windows are far shorter than the 71 minutes a `u32` spans). A new hash replaces the oldest
/// entry. The counters live apart ([`DupCounts`]): they are touched only by copies and records.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
pub struct DupHist {
    hash: [[u32; HIST]; 2],
    time: [[u32; HIST]; 2],
}

impl DupHist {
    /// Look `hash` up in direction `dir` (0 source, 1 destination) at time `now_us`: `true` if
    /// it is a copy (same hash seen less than `window_us` ago). Otherwise the hash is
    /// remembered. Hash 0 (not computed, or frame too short) never matches.
    #[inline]
    pub fn check(&mut self, dir: usize, hash: u32, now_us: i64, window_us: u32) -> bool {
        if hash == 0 {
            return false;
        }
        let d = dir & 1;
        let now = now_us as u32;
        let (mut oldest, mut age_max) = (0, 0u32);
        for k in 0..HIST {
            let age = now.wrapping_sub(self.time[d][k]);
            if self.hash[d][k] == hash && age < window_us {
                return true;
            }
            if self.hash[d][k] == 0 {
                // an empty entry: use it first
                (oldest, age_max) = (k, u32::MAX);
            } else if age >= age_max {
                (oldest, age_max) = (k, age);
            }
        }
        self.hash[d][oldest] = hash;
        self.time[d][oldest] = now;
        false
    }
}

/// A flow's copies per direction since its last record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DupCounts(pub [DupCount; 2]);

impl DupCounts {
    /// Count a copy of `bytes` bytes in direction `dir`.
    #[inline]
    pub fn count(&mut self, dir: usize, bytes: u64) {
        let c = &mut self.0[dir & 1];
        c.pkts = c.pkts.saturating_add(1);
        c.bytes = c.bytes.saturating_add(bytes);
    }

    /// Copies of direction `dir` since the last record.
    pub fn counts(&self, dir: usize) -> DupCount {
        self.0[dir & 1]
    }

    pub fn has_dups(&self) -> bool {
        self.0[0].pkts > 0 || self.0[1].pkts > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<DupHist>(), 64);
        assert_eq!(std::mem::align_of::<DupHist>(), 64);
        assert_eq!(std::mem::size_of::<DupCounts>(), 32);
    }

    #[test]
    fn window_and_ring() {
        let mut h = DupHist::default();
        assert!(!h.check(0, 7, 1_000, 100));
        assert!(h.check(0, 7, 1_050, 100));
        // the other direction has its own history
        assert!(!h.check(1, 7, 1_060, 100));
        // after the window: not a copy (and remembered anew)
        assert!(!h.check(0, 7, 1_200, 100));
        assert!(h.check(0, 7, 1_250, 100));
        // hash 0 is never a copy
        assert!(!h.check(0, 0, 1_300, 100));
        assert!(!h.check(0, 0, 1_300, 100));
        // HIST other hashes push 7 out
        for k in 0..HIST as u32 {
            assert!(!h.check(0, 100 + k, 1_260, 100));
        }
        assert!(!h.check(0, 7, 1_270, 100));
    }

    #[test]
    fn modes_parse() {
        assert_eq!(DedupMode::parse("yes"), Ok(DedupMode::Remove));
        assert_eq!(DedupMode::parse("count"), Ok(DedupMode::Count));
        assert_eq!(DedupMode::parse("Report"), Ok(DedupMode::Report));
        assert_eq!(DedupMode::parse("no"), Ok(DedupMode::Off));
        assert!(DedupMode::parse("maybe").is_err());
    }
}
