//! ICMP errors mapped onto the flows they quote: argus `ArgusUpdateICMPState` (ArgusIcmp.c),
//! the part after the ICMP flow's own update.
//!
//! An ICMPv4 message that is not informational (unreachable, source quench, redirect, time
//! exceeded, parameter problem, ...) and carries at least the 20-byte IP header of the datagram
//! it complains about is accounted as a flow of its own, like any packet, and then argus keys
//! the quoted datagram as if it had been captured (`ArgusCreateFlow` on the inner header) and,
//! when a flow of that key is in the table, marks it:
//!
//! * the ICMP DSR (0x34) goes on the flow: qualifier `ARGUS_ICMPUNREACH_MAPPED` (0x01) for
//!   unreachable, `ARGUS_ICMPREDIREC_MAPPED` (0x02) for redirect, `ARGUS_ICMPTIMXCED_MAPPED`
//!   (0x04) for time exceeded; other types leave the qualifier the flow had (0 on a fresh one).
//!   `ra` prints it as the `U`/`R`/`T` flag and the reporting node as `inode`;
//! * the flow's source-side time moves to the error's (its last time, or its start when the
//!   interval has none), so the record's last time covers the error. No packet or byte is
//!   counted there and the flow is not queued again: a flow whose record was already written
//!   and that sees no packet after the error shows nothing of it, as in argus.
//!
//! The mapping is cleared with the rest of the interval's state (`Flow::zero`).
//!
//! One difference, on purpose (docs/compat.md): argus copies the ICMP *flow's* object, set by
//! that flow's first packet, so a second error of the same ICMP flow quoting another datagram
//! tells the mapped flow the first error's inner addresses. Here the DSR carries this error's
//! own type, code, sequence word, addresses and gateway. The fields `ra` prints (flags, inode)
//! are the same, and a worker that holds the quoted flow but not the ICMP flow can map without
//! asking another worker.
//!
//! ICMPv6 errors are not mapped: argus 3.0.8 does not, and the DSR holds IPv4 addresses only.

use super::key::{self, PacketKey, L4};
use super::Flow;
use crate::record::{IcmpDsr, Ts};

/// The flow key of the datagram an ICMPv4 error quotes, or `None` for packets that quote none.
pub fn quoted<'a>(pk: &PacketKey<'a>) -> Option<PacketKey<'a>> {
    match pk.l4 {
        L4::Icmp { quote, .. } if quote.len() >= 20 => key::ipv4(quote, 0, 20),
        _ => None,
    }
}

/// The DSR an error leaves on the flow it quotes; `prev`: the qualifier that flow's DSR had.
pub fn dsr(pk: &PacketKey, prev: u8) -> Option<IcmpDsr> {
    let L4::Icmp {
        icmp_type,
        code,
        seq,
        inner: Some((isrc, idst, gateway)),
        ..
    } = pk.l4
    else {
        return None;
    };
    let qual = match icmp_type {
        3 => 0x01,
        5 => 0x02,
        11 => 0x04,
        _ => prev,
    };
    let (osrc, odst) = match pk.l3.get(12..20) {
        Some(a) => (
            u32::from_be_bytes([a[0], a[1], a[2], a[3]]),
            u32::from_be_bytes([a[4], a[5], a[6], a[7]]),
        ),
        None => (0, 0),
    };
    Some(IcmpDsr {
        qual,
        icmp_type,
        code,
        seq,
        osrc,
        odst,
        isrc,
        idst,
        gateway,
    })
}

impl Flow {
    /// Put the error `pk` (seen at `now`) on this flow, the flow its datagram quotes.
    pub fn map_icmp(&mut self, now: Ts, pk: &PacketKey) {
        let prev = self.icmp.as_ref().map_or(0, |i| i.qual);
        let Some(d) = dsr(pk, prev) else {
            return;
        };
        match self.icmp.as_mut() {
            Some(i) => **i = d,
            None => self.icmp = Some(Box::new(d)),
        }
        // argus: `time->src.start` when the interval has none yet, else `time->src.end` (the
        // TIME DSR becomes a range).
        if self.src_start.sec == 0 {
            self.src_start = now;
            self.time_form = 1;
        } else {
            self.src_end = now;
            self.time_form = 2;
        }
    }
}
