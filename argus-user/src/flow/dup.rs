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
//! (the hot flow state stays as it was): per direction one cache line with the last [`HIST`]
//! hashes, their times and the duplicate counters of the current record (128 bytes a flow).

/// Hashes remembered per flow and direction.
pub const HIST: usize = 6;

/// What the sensor does about duplicates (ARGUS_DEDUP, `--dedup`; docs/duplicates.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DedupMode {
    /// No detection.
    Off,
    /// Detect and report duplicates (DUP DSR, the TCP duplicate status bits, sensor counters)
    /// and change nothing else: every field argus 3.0.8 writes stays as argus writes it (the
    /// default).
    Report,
    /// Report, and keep copies out of the TCP state machine (retransmissions, loss, gaps,
    /// state), but count them in the packet and byte totals, as argus does.
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

/// Default duplicate window (µs) where no RTT is known: see docs/duplicates.md, "Window".
pub const DEFAULT_WINDOW_US: u32 = 2_000;

/// Duplicate packets and bytes of one direction since the last record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DupCount {
    pub pkts: u32,
    pub bytes: u64,
}

/// One direction's state, one cache line: a ring of the last [`HIST`] hashes and their times
/// (low 32 bits of the packet time in µs: ages are taken with wrapping arithmetic, and windows
/// are far shorter than the 71 minutes a `u32` spans), and the duplicate counters of the
/// current record.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
struct Dir {
    hash: [u32; HIST],
    time: [u32; HIST],
    pkts: u32,
    next: u8,
    bytes: u64,
}

/// A flow's duplicate state: 2 × 64 bytes.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct DupHist {
    dir: [Dir; 2],
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
        let r = &mut self.dir[dir & 1];
        let now = now_us as u32;
        for k in 0..HIST {
            if r.hash[k] == hash && now.wrapping_sub(r.time[k]) < window_us {
                return true;
            }
        }
        let n = r.next as usize % HIST;
        r.hash[n] = hash;
        r.time[n] = now;
        r.next = ((n + 1) % HIST) as u8;
        false
    }

    /// Count a copy of `bytes` bytes in direction `dir`.
    #[inline]
    pub fn count(&mut self, dir: usize, bytes: u64) {
        let c = &mut self.dir[dir & 1];
        c.pkts = c.pkts.saturating_add(1);
        c.bytes = c.bytes.saturating_add(bytes);
    }

    /// Duplicates of direction `dir` since the last record.
    pub fn counts(&self, dir: usize) -> DupCount {
        let c = &self.dir[dir & 1];
        DupCount {
            pkts: c.pkts,
            bytes: c.bytes,
        }
    }

    pub fn has_dups(&self) -> bool {
        self.dir[0].pkts > 0 || self.dir[1].pkts > 0
    }

    /// After a record: counters restart, the history stays (a copy may straddle two records).
    pub fn zero_counts(&mut self) {
        for d in &mut self.dir {
            d.pkts = 0;
            d.bytes = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_is_two_cache_lines() {
        assert_eq!(std::mem::size_of::<DupHist>(), 128);
        assert_eq!(std::mem::align_of::<DupHist>(), 64);
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
