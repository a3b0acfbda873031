//! Later IPv4 fragments joined to the flow of their datagram: argus' fragment flows with a
//! parent (`ArgusCreateFRAGFlow`, `ArgusUpdateParentFlow` in ArgusFrag.c).
//!
//! The first fragment of a datagram (offset 0, more fragments) carries the transport header
//! and is accounted to its flow like any packet. Its later fragments carry no ports and key on
//! (addresses, protocol, IP id) ([`super::key::fragment_key`]). argus links that key to the
//! first fragment's flow, the *parent*:
//!
//! * fragments that come after the first one are counted in the parent (packets, bytes,
//!   times, attributes), as packets of the first fragment's direction;
//! * fragments that came before it formed a fragment flow of their own; when the first one
//!   arrives that flow is folded into the parent (its counters added, its times taken) and
//!   disappears without a record;
//! * fragments whose first one is never seen stay a fragment flow (ports 0, ra's `f`).
//!
//! Per shard, a small table maps fragment keys to their parent's key and direction; entries
//! live one IP idle timeout (30 s) after the first fragment. It holds one entry per datagram
//! in flight whose first fragment was seen: fragmented traffic is rare, and the table is
//! emptied as entries age out (`Shard::tick`).

use super::key::KeyBytes;
use crate::record::Ts;

/// Where the later fragments of one datagram go.
#[derive(Clone, Copy, Debug)]
pub struct Parent {
    /// The parent flow's key.
    pub key: KeyBytes,
    /// The first fragment's `PacketKey::reverse` (its direction in the parent).
    pub reverse: bool,
    /// When the first fragment was seen.
    pub at: Ts,
}

/// How long a datagram's later fragments are joined to its first one (argus' IP timeout).
pub const LIFETIME_US: i64 = 30_000_000;

/// The fragment table of a shard.
#[derive(Default)]
pub struct FragTable {
    map: hashbrown::HashMap<KeyBytes, Parent>,
}

impl FragTable {
    pub fn get(&self, k: &KeyBytes) -> Option<&Parent> {
        if self.map.is_empty() {
            return None;
        }
        self.map.get(k)
    }

    pub fn insert(&mut self, k: KeyBytes, p: Parent) {
        self.map.insert(k, p);
    }

    /// Forget datagrams whose first fragment is older than [`LIFETIME_US`] at `now`.
    pub fn expire(&mut self, now: Ts) {
        if !self.map.is_empty() {
            let n = now.as_micros();
            self.map.retain(|_, p| n - p.at.as_micros() < LIFETIME_US);
        }
    }
}
