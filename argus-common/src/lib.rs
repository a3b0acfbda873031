//! Types and functions shared by the XDP program (`argus-ebpf`) and user space (`argus-user`).
//!
//! Everything here is `no_std`, allocation-free and loop-bounded so that the BPF verifier accepts
//! it. User space computes the very same values for frames that did not pass through XDP (pcap
//! files, AF_PACKET), so a flow lands on the same shard whichever source delivered it.
#![no_std]

/// Magic value in [`XdpMeta::magic`] so user space can tell that the kernel filled the metadata.
pub const XDP_META_MAGIC: u16 = 0xA53C;

/// Frame classes computed by the pre-classifier.
pub mod class {
    pub const OTHER: u8 = 0;
    pub const IPV4: u8 = 1;
    pub const IPV6: u8 = 2;
    pub const ARP: u8 = 3;
    pub const LLC: u8 = 4;
}

/// Bits of [`XdpMeta::flags`].
pub mod meta_flags {
    /// One 802.1Q/802.1ad tag was present (`vlan_tci` holds it).
    pub const VLAN: u8 = 0x01;
    /// Two tags (QinQ); `vlan_tci` holds the outer one.
    pub const QINQ: u8 = 0x02;
    /// IP fragment (IPv4 MF set or offset != 0). Ports are only parsed for the first fragment.
    pub const FRAG: u8 = 0x04;
    /// Not the first fragment: no transport header, ports are 0 in the flow hash.
    pub const FRAG_LATER: u8 = 0x08;
    /// Header truncated or inconsistent (e.g. IHL < 5, short frame); parsing stopped there.
    pub const MALFORMED: u8 = 0x10;
    /// More than two VLAN tags: parsing stopped after two.
    pub const TOO_MANY_TAGS: u8 = 0x20;
    /// [`XdpMeta::shard_hash`](super::XdpMeta::shard_hash) holds the shard hash. Set exactly
    /// for the frame shapes user space's `engine::shard::fast_shard_hash` reads (Ethernet, up
    /// to two tags, IPv4 version 4 with total length >= 20 that is not GRE, IPv6 carrying TCP or
    /// UDP right after the fixed header); for those the two hashes are equal. Other frames need
    /// user space's decoder (`frame_shard_hash`).
    pub const SHARD_HASH: u8 = 0x40;
}

/// Names and layout of the maps in the XDP object, shared with the user-space loader.
pub mod xdp_maps {
    /// `XSKMAP` keyed by rx queue index, value: AF_XDP socket fd.
    pub const XSKS: &str = "XSKS";
    /// Max entries of `XSKS` (rx queues). User space may resize before load.
    pub const XSKS_MAX: u32 = 64;
    /// `PerCpuArray<u64>` of counters, indexed by [`stat`].
    pub const STATS: &str = "STATS";
    /// `Array<u32>` of configuration words, indexed by [`config`].
    pub const CONFIG: &str = "CONFIG";

    /// Indexes into `STATS`.
    pub mod stat {
        pub const SEEN: u32 = 0;
        pub const REDIRECTED: u32 = 1;
        pub const PASSED: u32 = 2;
        pub const DROPPED: u32 = 3;
        /// `bpf_xdp_adjust_meta` failed: frame delivered without metadata.
        pub const NO_META: u32 = 4;
        pub const COUNT: u32 = 5;
    }

    /// Indexes into `CONFIG`.
    pub mod config {
        /// Non-zero: drop frames that could not be redirected (no socket on the queue).
        /// Zero (default): `XDP_PASS` them to the kernel stack.
        pub const DROP_UNREDIRECTED: u32 = 0;
        pub const COUNT: u32 = 1;
    }
}

/// 32 bytes of metadata that the XDP program writes in front of each frame
/// (`bpf_xdp_adjust_meta`). Layout is fixed: `#[repr(C)]`, no implicit padding.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpMeta {
    pub magic: u16,
    pub class: u8,
    pub flags: u8,
    /// Offset of the network header from the start of the frame.
    pub l3_off: u16,
    /// Offset of the transport header from the start of the frame (0 if none).
    pub l4_off: u16,
    /// Symmetric flow hash: identical for both directions of a flow.
    pub flow_hash: u32,
    /// Duplicate-detection content hash (issue 4).
    pub content_hash: u32,
    /// Outer 802.1Q TCI, 0 when untagged.
    pub vlan_tci: u16,
    pub ip_proto: u8,
    pub _pad0: u8,
    /// Shard hash ([`shard_hash_v4`]/[`shard_hash_v6`] of the address pair), valid when
    /// `flags` has [`meta_flags::SHARD_HASH`]; 0 otherwise.
    pub shard_hash: u32,
    pub _reserved: [u32; 2],
}

const _: () = assert!(core::mem::size_of::<XdpMeta>() == 32);
const _: () = assert!(core::mem::offset_of!(XdpMeta, shard_hash) == 20);

/// 32-bit finaliser (murmur3 fmix32): cheap and good enough to spread flows over shards.
#[inline(always)]
pub const fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

#[inline(always)]
const fn mix(h: u32, v: u32) -> u32 {
    let k = v
        .wrapping_mul(0xcc9e_2d51)
        .rotate_left(15)
        .wrapping_mul(0x1b87_3593);
    (h ^ k)
        .rotate_left(13)
        .wrapping_mul(5)
        .wrapping_add(0xe654_6b64)
}

/// Symmetric hash of an IPv4 5-tuple: `sym_hash_v4(a, b, pa, pb, p) == sym_hash_v4(b, a, pb, pa, p)`.
/// Addresses are the raw big-endian words as read from the header.
/// Convention used by the XDP program (user space must do the same): each address word is
/// `u32::from_be_bytes(bytes)` (so 10.0.0.1 is `0x0a00_0001`) and ports are in host order
/// (`u16::from_be_bytes`). For non-first fragments the ports are 0.
#[inline(always)]
pub const fn sym_hash_v4(saddr: u32, daddr: u32, sport: u16, dport: u16, proto: u8) -> u32 {
    let (lo, hi, plo, phi) = if saddr < daddr || (saddr == daddr && sport <= dport) {
        (saddr, daddr, sport, dport)
    } else {
        (daddr, saddr, dport, sport)
    };
    let mut h = mix(proto as u32, lo);
    h = mix(h, hi);
    h = mix(h, ((plo as u32) << 16) | phi as u32);
    fmix32(h)
}

/// Fold an IPv6 address (four 32-bit words) into one word.
#[inline(always)]
pub const fn fold_v6(a: [u32; 4]) -> u32 {
    fmix32(a[0] ^ a[1].rotate_left(8) ^ a[2].rotate_left(16) ^ a[3].rotate_left(24))
}

/// Symmetric hash of an IPv6 5-tuple, over folded addresses.
#[inline(always)]
pub const fn sym_hash_v6(
    saddr: [u32; 4],
    daddr: [u32; 4],
    sport: u16,
    dport: u16,
    proto: u8,
) -> u32 {
    sym_hash_v4(fold_v6(saddr), fold_v6(daddr), sport, dport, proto)
}

/// Symmetric hash for non-IP frames keyed on the two MAC addresses and the EtherType.
#[inline(always)]
pub const fn sym_hash_mac(a: [u8; 6], b: [u8; 6], ethertype: u16) -> u32 {
    let wa = u32::from_be_bytes([a[2], a[3], a[4], a[5]]) ^ ((a[0] as u32) << 8 | a[1] as u32);
    let wb = u32::from_be_bytes([b[2], b[3], b[4], b[5]]) ^ ((b[0] as u32) << 8 | b[1] as u32);
    sym_hash_v4(wa, wb, 0, 0, (ethertype ^ (ethertype >> 8)) as u8)
}

/// Symmetric hash of an IPv4 address pair only: the *shard hash*. Every packet argus accounts
/// to one flow carries the same two addresses (later fragments have no ports, DNS flows are
/// keyed on the transaction id), so a flow's packets meet in one shard whatever else its key
/// holds. Both the XDP program and user space pick shards with it.
#[inline(always)]
pub const fn shard_hash_v4(a: u32, b: u32) -> u32 {
    sym_hash_v4(a, b, 0, 0, 0)
}

/// [`shard_hash_v4`] for IPv6 addresses (folded words, as [`fold_v6`]).
#[inline(always)]
pub const fn shard_hash_v6(a: [u32; 4], b: [u32; 4]) -> u32 {
    sym_hash_v4(fold_v6(a), fold_v6(b), 0, 0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_hash_is_symmetric() {
        let a = 0x0a00_0001;
        let b = 0xc0a8_0102;
        assert_eq!(
            sym_hash_v4(a, b, 1234, 80, 6),
            sym_hash_v4(b, a, 80, 1234, 6)
        );
        assert_ne!(
            sym_hash_v4(a, b, 1234, 80, 6),
            sym_hash_v4(a, b, 1235, 80, 6)
        );
        assert_eq!(sym_hash_v4(a, a, 1, 2, 17), sym_hash_v4(a, a, 2, 1, 17));
    }

    #[test]
    fn v6_hash_is_symmetric() {
        let a = [0x2001_0db8, 0, 0, 1];
        let b = [0xfe80_0000, 0, 0x1111, 0x2222];
        assert_eq!(sym_hash_v6(a, b, 5, 6, 17), sym_hash_v6(b, a, 6, 5, 17));
        assert_eq!(shard_hash_v6(a, b), shard_hash_v6(b, a));
        assert_ne!(shard_hash_v6(a, b), shard_hash_v6(a, a));
    }

    #[test]
    fn shard_hash_is_symmetric() {
        assert_eq!(shard_hash_v4(1, 2), shard_hash_v4(2, 1));
        assert_ne!(shard_hash_v4(1, 2), shard_hash_v4(1, 3));
    }
}
