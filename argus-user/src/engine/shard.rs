//! Which worker gets a frame.
//!
//! Every packet argus accounts to one flow carries the same two network addresses (later IP
//! fragments have no ports, DNS flows are keyed on the transaction id, ICMP on type and id), so
//! the shard is chosen from the address pair alone, with the symmetric
//! [`argus_common::shard_hash_v4`]/[`shard_hash_v6`](argus_common::shard_hash_v6): both
//! directions of a flow, and all its fragments, meet in one worker. Keys without IP addresses
//! (layer 2, ARP, IS-IS, ...) hash their whole normalised key instead.
//!
//! The reader thread must not spend a full decode on each frame (the worker decodes it again),
//! so [`fast_shard_hash`] reads the addresses straight from the common frame shapes (Ethernet,
//! up to two VLAN tags, IPv4 that is not GRE, IPv6 carrying TCP or UDP) and gives up on
//! anything else; [`frame_shard_hash`] then falls back to decoding and classifying the frame and
//! hashing its key with [`key_shard_hash`]. The two must agree on every frame the fast path
//! accepts: `tests/shard_hash.rs` checks that over the whole capture corpus.

use crate::flow::key::{classify, KeyBytes};
use crate::wire::{self, linktype};
use argus_common::{shard_hash_v4, shard_hash_v6};

/// Shard hash of a normalised flow key.
pub fn key_shard_hash(k: &KeyBytes) -> u32 {
    let b = &k.b;
    match (k.kind, k.qual & 0x1f) {
        (0x01, 0x01) => shard_hash_v4(word(b, 0), word(b, 4)),
        (0x01, 0x02) => shard_hash_v6(words(b, 0), words(b, 16)),
        _ => {
            let mut h: u32 = 0x811c_9dc5;
            for &x in [k.kind, k.qual & 0x1f]
                .iter()
                .chain(&b[..(k.len as usize).min(b.len())])
            {
                h = (h ^ x as u32).wrapping_mul(0x0100_0193);
            }
            argus_common::fmix32(h)
        }
    }
}

fn word(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn words(b: &[u8], at: usize) -> [u32; 4] {
    [
        word(b, at),
        word(b, at + 4),
        word(b, at + 8),
        word(b, at + 12),
    ]
}

/// The shard hash read directly from an Ethernet frame of a common shape, or `None` when the
/// frame needs the full decoder (tunnels, MPLS, LLC, ARP, ICMPv6, short or odd headers).
#[inline]
pub fn fast_shard_hash(link: u32, frame: &[u8]) -> Option<u32> {
    let (etype, ip) = ether_payload(link, frame)?;
    match etype {
        wire::ETHERTYPE_IP => {
            let h = frame.get(ip..ip + 20)?;
            // Same acceptance as the classifier: 20 bytes captured and a total length of at
            // least 20. Other version nibbles (argus reads a 6 as IPv6) and GRE (the flow's key
            // may be inside) take the decoder.
            if h[0] >> 4 != 4 || u16::from_be_bytes([h[2], h[3]]) < 20 || h[9] == 47 {
                return None;
            }
            Some(shard_hash_v4(word(h, 12), word(h, 16)))
        }
        wire::ETHERTYPE_IPV6 => {
            let h = frame.get(ip..ip + 40)?;
            if !matches!(h[6], 6 | 17) {
                return None;
            }
            Some(shard_hash_v6(words(h, 8), words(h, 24)))
        }
        _ => None,
    }
}

/// The shard hash of any frame: [`fast_shard_hash`], else the decoded key's. Frames argus does
/// not model hash to 0.
pub fn frame_shard_hash(link: u32, frame: &[u8], len: u32) -> u32 {
    if let Some(h) = fast_shard_hash(link, frame) {
        return h;
    }
    let d = wire::decode(link, frame, len);
    classify(frame, &d).map_or(0, |pk| key_shard_hash(&pk.key))
}

/// The shard hash of the flow an ICMPv4 error quotes (see `flow::icmp_map`): the worker that
/// holds the quoted flow must see the error too.
/// `None` for every other frame; only IPv4 ICMP frames pay for a decode here.
pub fn quoted_shard_hash(link: u32, frame: &[u8], len: u32) -> Option<u32> {
    if !maybe_icmp_error(link, frame) {
        return None;
    }
    let d = wire::decode(link, frame, len);
    let pk = classify(frame, &d)?;
    let q = crate::flow::icmp_map::quoted(&pk)?;
    Some(key_shard_hash(&q.key))
}

/// The EtherType and offset of the payload of an Ethernet frame with at most two VLAN tags,
/// or `None` for other link types, more tags or a frame too short to say.
#[inline(always)]
fn ether_payload(link: u32, frame: &[u8]) -> Option<(u16, usize)> {
    if link != linktype::ETHERNET {
        return None;
    }
    let mut off = 12;
    let mut etype = be16(frame, off)?;
    let mut tags = 0;
    while matches!(
        etype,
        wire::ETHERTYPE_8021Q | wire::ETHERTYPE_8021AD | wire::ETHERTYPE_QINQ_OLD
    ) {
        tags += 1;
        if tags > 2 {
            return None;
        }
        off += 4;
        etype = be16(frame, off)?;
    }
    Some((etype, off + 2))
}

/// The workers of a frame among `n`: the one that owns its flow (`own`, its shard hash when
/// the XDP program computed it) and, for an ICMPv4 error quoting a flow of another shard, that
/// shard's worker too ([`quoted_shard_hash`]).
pub fn frame_workers(
    n: usize,
    own: Option<u32>,
    link: u32,
    frame: &[u8],
    len: u32,
) -> (usize, Option<usize>) {
    if n <= 1 {
        return (0, None);
    }
    let w = own.unwrap_or_else(|| frame_shard_hash(link, frame, len)) as usize % n;
    let q = quoted_shard_hash(link, frame, len)
        .map(|h| h as usize % n)
        .filter(|&q| q != w);
    (w, q)
}

/// Could `frame` be an ICMPv4 error? True for IPv4 ICMP messages of a type that is not
/// informational in the common frame shapes, and for any frame of a shape the quick walk does
/// not know (the decoder decides).
fn maybe_icmp_error(link: u32, frame: &[u8]) -> bool {
    let Some((etype, ip)) = ether_payload(link, frame) else {
        return true;
    };
    match etype {
        wire::ETHERTYPE_IP => {}
        // IPv6 (ICMPv6 errors are not mapped), ARP: nothing to map; other encapsulations
        // (MPLS, PPPoE, ...) go to the decoder.
        wire::ETHERTYPE_IPV6 | wire::ETHERTYPE_ARP => return false,
        _ => return true,
    }
    let Some(h) = frame.get(ip..ip + 20) else {
        return false;
    };
    if h[0] >> 4 != 4 {
        return true;
    }
    match h[9] {
        1 => {
            let l4 = ip + ((h[0] & 0x0f) as usize) * 4;
            // argus ICMP_INFOTYPE: echo, router advertisement/solicitation, timestamp,
            // information and mask request/reply.
            !matches!(
                frame.get(l4),
                None | Some(0 | 8 | 9 | 10 | 13 | 14 | 15 | 16 | 17 | 18)
            )
        }
        // Tunnels: the inner packet may be one.
        4 | 41 | 47 => true,
        _ => false,
    }
}

#[inline(always)]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|x| u16::from_be_bytes([x[0], x[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth_ipv4(vlan: bool, src: [u8; 4], dst: [u8; 4], proto: u8) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        if vlan {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x14]);
        }
        f.extend_from_slice(&[0x08, 0x00]);
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&40u16.to_be_bytes());
        ip[9] = proto;
        ip[12..16].copy_from_slice(&src);
        ip[16..20].copy_from_slice(&dst);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[0u8; 20]);
        f
    }

    #[test]
    fn both_directions_and_tagging_agree() {
        let a = eth_ipv4(false, [10, 0, 0, 1], [10, 0, 0, 2], 6);
        let b = eth_ipv4(true, [10, 0, 0, 2], [10, 0, 0, 1], 17);
        let ha = fast_shard_hash(linktype::ETHERNET, &a);
        assert!(ha.is_some());
        assert_eq!(ha, fast_shard_hash(linktype::ETHERNET, &b));
        assert_eq!(
            ha.unwrap_or(0),
            frame_shard_hash(linktype::ETHERNET, &a, a.len() as u32)
        );
    }

    #[test]
    fn gre_and_short_frames_take_the_decoder() {
        let g = eth_ipv4(false, [10, 0, 0, 1], [10, 0, 0, 2], 47);
        assert_eq!(fast_shard_hash(linktype::ETHERNET, &g), None);
        let short = &eth_ipv4(false, [1, 1, 1, 1], [2, 2, 2, 2], 6)[..30];
        assert_eq!(fast_shard_hash(linktype::ETHERNET, short), None);
    }
}
