//! Later IPv4 fragments and the flow of their datagram: argus' fragment flows with a parent
//! (`ArgusCreateFRAGFlow`, `ArgusUpdateFRAGState`, `ArgusUpdateParentFlow` in ArgusFrag.c; the
//! fragment block of `ArgusUpdateFlow`, the fragment walk of `ArgusProcessQueueTimeout` and of
//! `ArgusSendFlowRecord` in ArgusModeler.c; `ArgusDeleteObject` in ArgusUtil.c).
//!
//! The first fragment of a datagram (offset 0, more fragments) carries the transport header:
//! it is counted in its flow like any packet, the *parent*. Later fragments carry no ports and
//! key on (addresses, protocol, IP id) ([`super::key::fragment_key`]): they are counted in a
//! *fragment flow* of that key, a child of the parent once the first fragment was seen.
//!
//! * The first fragment finds or creates the datagram's fragment flow (with no packets of its
//!   own), links it to the parent and takes it off the status queue: a linked fragment flow
//!   is never reported or timed out by itself. Its byte ranges ([`super::key::FragState`])
//!   include the first fragment's.
//! * Later fragments are counted in the fragment flow (found linked, or an orphan flow of its
//!   own on the status queue when the first fragment has not come yet or never comes: ports
//!   0, ra's `f`).
//! * Its packets and bytes move into the parent ([`fold`]) when the datagram is complete
//!   (the flow is then deleted: a copy of a fragment after that starts an orphan), whenever
//!   the parent is reported, and at the parent's status interval; there, fragment flows
//!   linked more than [`LINK_LIFETIME_US`] ago are deleted after the move.
//! * When the parent is deleted, fragment flows still holding packets are reported alone.
//!
//! Per shard, [`FragTable`] lists each parent's fragment flows; each fragment flow keeps its
//! [`Link`] in its `FragState`. Fragmented traffic is rare: the table is empty otherwise, and
//! a parent with no fragment flows costs one `is_empty` test when it is reported.

use super::Flow;
use crate::record::Ts;

/// A linked fragment flow's parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// The parent's slot and generation in the shard's slab.
    pub parent: u32,
    pub gen: u32,
    /// The datagram travels in the parent's source direction.
    pub from_src: bool,
    /// When the fragment flow was linked (argus: put on the parent's fragment queue).
    pub at: Ts,
}

/// argus deletes a parent's fragment flows linked at least this long ago when the parent's
/// status interval expires (`ArgusCheckTimeout(&frag->qhdr.qtime, 2 s)`).
pub const LINK_LIFETIME_US: i64 = 2_000_000;

/// The fragment flows of each parent of a shard, by parent slot.
#[derive(Default)]
pub struct FragTable {
    pub(super) children: hashbrown::HashMap<u32, Vec<u32>>,
}

impl FragTable {
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// Fragment flows of `parent` (none: empty).
    pub fn children(&self, parent: u32) -> &[u32] {
        if self.children.is_empty() {
            return &[];
        }
        self.children.get(&parent).map_or(&[], |v| v.as_slice())
    }

    pub fn link(&mut self, parent: u32, child: u32) {
        let v = self.children.entry(parent).or_default();
        if !v.contains(&child) {
            v.push(child);
        }
    }

    /// Remove `parent`'s list and return it.
    pub fn take(&mut self, parent: u32) -> Vec<u32> {
        if self.children.is_empty() {
            return Vec::new();
        }
        self.children.remove(&parent).unwrap_or_default()
    }

    pub fn unlink(&mut self, parent: u32, child: u32) {
        if let Some(v) = self.children.get_mut(&parent) {
            v.retain(|&c| c != child);
            if v.is_empty() {
                self.children.remove(&parent);
            }
        }
    }
}

/// argus `ArgusUpdateParentFlow`: move fragment flow `child`'s packets and bytes into
/// `parent`, on the datagram's side, and stretch that side's times. Returns whether anything
/// moved (a fragment flow without packets moves nothing).
///
/// argus compares the parent's TIME object as it is now: a parent with a single timestamp
/// takes the fragment flow's first time if earlier and its *last* time as its end, even when
/// that is earlier than the parent's own packet; a parent with a range only extends its end.
pub fn fold(parent: &mut Flow, child: &mut Flow, from_src: bool) -> bool {
    if !child.has_packets() {
        return false;
    }
    if parent.written {
        parent.zero();
    }
    let (pkts, bytes) = (
        child.src.pkts + child.dst.pkts,
        child.src.bytes + child.dst.bytes,
    );
    child.src.pkts = 0;
    child.src.bytes = 0;
    child.dst.pkts = 0;
    child.dst.bytes = 0;
    // The fragment flow's times (argus keeps them across moves: a later move compares the
    // fragment flow's whole span again).
    let (fstart, fend) = span(child);
    let single = parent.time_form == 1;
    parent.time_form = 2;
    let (side, start, end) = if from_src {
        (&mut parent.src, &mut parent.src_start, &mut parent.src_end)
    } else {
        (&mut parent.dst, &mut parent.dst_start, &mut parent.dst_end)
    };
    side.pkts += pkts;
    side.bytes += bytes;
    if single {
        if *start > fstart {
            *start = fstart;
        }
        *end = fend;
    } else {
        // argus' end of a side with one packet is its start.
        let cur = if end.sec != 0 { *end } else { *start };
        if cur < fend {
            *end = fend;
        }
    }
    if let Some(a) = parent.ipattr.as_mut() {
        a.frag_bits |= if from_src { 0x10 } else { 0x20 };
    }
    true
}

/// First and last time of a fragment flow (argus' `src.start`, `src.end`; the end of a flow of
/// one packet is its start).
fn span(f: &Flow) -> (Ts, Ts) {
    let mut start = Ts::default();
    let mut end = Ts::default();
    for (s, e) in [(f.src_start, f.src_end), (f.dst_start, f.dst_end)] {
        if s.sec == 0 {
            continue;
        }
        if start.sec == 0 || s < start {
            start = s;
        }
        let e = if e.sec != 0 { e } else { s };
        if e > end {
            end = e;
        }
    }
    (start, end)
}
