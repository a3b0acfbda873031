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
        /// A frame the program could not attach its metadata to: with the metadata area
        /// (`bpf_xdp_adjust_meta` failed at run time) the frame is redirected without it and
        /// user space computes the values; with the prepended header (`bpf_xdp_adjust_head`
        /// failed: no headroom) the frame is not redirected (counted in `PASSED` or
        /// `DROPPED` as well), because user space could not tell it from one with a header.
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

/// The XDP program's entry points, one per way of handing [`XdpMeta`] to user space. They run
/// the same classification; user space loads the first one the kernel accepts (see
/// `argus-user/src/capture/xdp.rs`, `Delivery`, and docs/operations.md).
pub mod xdp_programs {
    /// The metadata area in front of the frame (`bpf_xdp_adjust_meta`): the frame itself is
    /// untouched. Some kernels refuse the helper to XDP programs, some drivers the area.
    pub const AREA: &str = "argus_xdp_meta";
    /// A header of [`XDP_META_LEN`](super::XDP_META_LEN) bytes prepended to the frame
    /// (`bpf_xdp_adjust_head`), which user space strips.
    pub const HEADER: &str = "argus_xdp_head";
    /// No metadata: the program counts and redirects, user space computes the hashes from
    /// the frame with the same functions (and stamps it when it reads it).
    pub const USER: &str = "argus_xdp_user";
}

/// Size of [`XdpMeta`] in front of a frame (metadata area or prepended header).
pub const XDP_META_LEN: usize = core::mem::size_of::<XdpMeta>();

/// 32 bytes of metadata that the XDP program puts in front of each frame, in the metadata area
/// (`bpf_xdp_adjust_meta`) or as a prepended header (`bpf_xdp_adjust_head`), see
/// [`xdp_programs`]. Layout is fixed: `#[repr(C)]`, no implicit padding.
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
    /// Duplicate-detection content hash: [`content_hash`] of the frame from `l3_off` (the bytes
    /// a SPAN mirror does not change: IP header without TTL/hop limit, IPv4 checksum and ECN
    /// bits, the IPv4 identification, the L4 header and payload up to [`CONTENT_BOUND`] bytes
    /// after the L3 start, bounded by the IP length; see docs/capture.md, "Content hash").
    /// 0 when the frame ends before the L3 header starts (`MALFORMED` with `l3_off` 0).
    pub content_hash: u32,
    /// Outer 802.1Q TCI, 0 when untagged.
    pub vlan_tci: u16,
    pub ip_proto: u8,
    pub _pad0: u8,
    /// Shard hash ([`shard_hash_v4`]/[`shard_hash_v6`] of the address pair), valid when
    /// `flags` has [`meta_flags::SHARD_HASH`]; 0 otherwise.
    pub shard_hash: u32,
    /// When the program saw the frame: `bpf_ktime_get_ns()` (CLOCK_MONOTONIC, nanoseconds),
    /// low and high words ([`XdpMeta::ktime_ns`]). AF_XDP delivers no timestamp of its own;
    /// user space turns this into wall-clock time, so frames of several queues can be put in
    /// arrival order. 0 where user space computed the metadata.
    pub ktime_lo: u32,
    pub ktime_hi: u32,
}

impl XdpMeta {
    /// [`XdpMeta::ktime_lo`] and [`XdpMeta::ktime_hi`] as one value (0: none).
    #[inline(always)]
    pub const fn ktime_ns(&self) -> u64 {
        (self.ktime_hi as u64) << 32 | self.ktime_lo as u64
    }
}

const _: () = assert!(core::mem::size_of::<XdpMeta>() == 32);
const _: () = assert!(core::mem::offset_of!(XdpMeta, shard_hash) == 20);

/// IPv6 extension headers the pre-classifier walks before it looks for the transport header.
/// Bounded for the verifier; argus' own walk (user space, `wire`) goes further.
pub const IPV6_EXT_MAX: usize = 4;

/// Length of IPv6 extension header `nh` whose second byte is `len_byte`, or `None` when `nh`
/// is not one the pre-classifier walks: hop-by-hop options (0), routing (43) and destination
/// options (60) count 8-octet units beyond the first; fragment (44) is 8 bytes; AH (51)
/// counts 4-octet units beyond the first two. ESP (50) is not walked: what follows is
/// encrypted.
#[inline(always)]
pub const fn ipv6_ext_len(nh: u8, len_byte: u8) -> Option<usize> {
    match nh {
        0 | 43 | 60 => Some((len_byte as usize + 1) * 8),
        44 => Some(8),
        51 => Some((len_byte as usize + 2) * 4),
        _ => None,
    }
}

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

/// How many bytes after the start of the L3 header [`content_hash`] covers at most: 128 bytes
/// take in an IPv4 header with options up to 16 bytes plus a TCP header with options up to
/// 40 bytes (timestamps, SACK) and still 52+ bytes of payload (IPv6 + TCP with timestamps: 56
/// bytes of payload). Two different segments of one flow with equal headers, sequence numbers
/// and IPv4 ID and the same first 50-odd payload bytes do not occur in practice; 64 bytes would
/// leave IPv6 + TCP with timestamps 12 bytes of payload. Cost: at most 16 64-bit word steps.
pub const CONTENT_BOUND: usize = 128;
/// [`CONTENT_BOUND`] in 64-bit words.
pub const CONTENT_WORDS: usize = CONTENT_BOUND / 8;

/// Masks applied to the first two little-endian 64-bit words of the window (bytes 0..16 after
/// the L3 start); later words are taken whole.
/// IPv4: word 0 = version/IHL, TOS, total length, identification, flags/fragment offset: only
/// the ECN bits (TOS & 3) cleared. Word 1 = TTL, protocol, checksum, source address: TTL and
/// checksum cleared.
const V4_MASKS: [u64; 2] = [0xffff_ffff_ffff_fcff, 0xffff_ffff_0000_ff00];
/// IPv6: word 0 = version, traffic class, flow label, payload length, next header, hop limit:
/// ECN bits (traffic class & 3, bits 4-5 of byte 1) and the hop limit (byte 7) cleared.
/// Word 1 (source address): whole.
const V6_MASKS: [u64; 2] = [0x00ff_ffff_ffff_cfff, u64::MAX];
const NO_MASKS: [u64; 2] = [u64::MAX; 2];

/// What [`content_hash`] covers of one frame: `len` bytes from the L3 start, hashed with
/// `seed` (the EtherType) and the masks of the L3 protocol. [`content_window`] computes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentWindow {
    /// Bytes covered from the L3 start: at most [`CONTENT_BOUND`].
    pub len: usize,
    pub seed: u32,
    masks: [u64; 2],
}

/// The window of [`content_hash`] for a frame whose L3 header (EtherType `ethertype`: the one
/// after the VLAN tags, or an 802.3 length field) starts at `l3`, with `avail` bytes of the
/// frame from `l3` on (0 if the frame ends before). `be16(o)` reads the big-endian 16-bit
/// field at `o` bytes after the L3 start (`None` past the frame's end).
///
/// `len` = the smallest of [`CONTENT_BOUND`], `avail` and the L3 length the frame declares
/// (so Ethernet padding never counts, and a copy cut by a snap length covers what is there):
/// - IPv4 (0x0800): total length (if it is < 20 or unreadable: no limit);
/// - IPv6 (0x86DD): 40 + payload length (unreadable: no limit);
/// - ARP (0x0806): 8 + 2 × (hardware length + protocol length) (unreadable: no limit);
/// - 802.3 length field (< 0x0600): that length (the LLC header and data);
/// - anything else: no limit.
#[inline(always)]
pub fn content_window(
    ethertype: u16,
    avail: usize,
    be16: impl Fn(usize) -> Option<u16>,
) -> ContentWindow {
    let (declared, masks) = if ethertype == 0x0800 {
        let t = be16(2).unwrap_or(0) as usize;
        (if t >= 20 { t } else { CONTENT_BOUND }, V4_MASKS)
    } else if ethertype == 0x86dd {
        (
            match be16(4) {
                Some(p) => 40 + p as usize,
                None => CONTENT_BOUND,
            },
            V6_MASKS,
        )
    } else if ethertype == 0x0806 {
        (
            match be16(4) {
                Some(hp) => 8 + 2 * ((hp >> 8) as usize + (hp & 0xff) as usize),
                None => CONTENT_BOUND,
            },
            NO_MASKS,
        )
    } else if ethertype < 0x0600 {
        (ethertype as usize, NO_MASKS)
    } else {
        (CONTENT_BOUND, NO_MASKS)
    };
    let mut len = if declared < CONTENT_BOUND {
        declared
    } else {
        CONTENT_BOUND
    };
    if avail < len {
        len = avail;
    }
    ContentWindow {
        len,
        seed: ethertype as u32,
        masks,
    }
}

const CH_K1: u64 = 0x9e37_79b9_7f4a_7c15;
const CH_K2: u64 = 0xc2b2_ae3d_27d4_eb4f;

/// One step of a lane: a bijection of the lane state for a fixed word (xor, odd multiply,
/// rotate), so a difference in one word always reaches the final state.
#[inline(always)]
const fn ch_step(h: u64, w: u64) -> u64 {
    (h ^ w).wrapping_mul(CH_K1).rotate_left(29)
}

/// The hash over the window's words: `word(k)` is the little-endian 64-bit word at byte `8k`
/// of the window (`u64::from_le_bytes`), zero-padded past `w.len` (only the last word can be
/// partial). Words `0..ceil(len/8)` are masked (words 0 and 1, see `V4_MASKS`/`V6_MASKS`) and
/// fed alternately to two lanes (even words to `a`, odd to `b`: two independent multiply
/// chains, half the latency), `a` seeded with the EtherType, `b` with `!0`. Result: the
/// murmur3 fmix64 finaliser of `a ^ rotl(b, 32) ^ len·K2`, high half xor low half.
#[inline(always)]
pub fn content_hash_words(w: &ContentWindow, word: impl Fn(usize) -> u64) -> u32 {
    let mut a = w.seed as u64;
    let mut b = u64::MAX;
    let mut k = 0;
    while k < CONTENT_WORDS {
        if 8 * k >= w.len {
            break;
        }
        let m = if k == 0 {
            w.masks[0]
        } else if k == 1 {
            w.masks[1]
        } else {
            u64::MAX
        };
        let x = word(k) & m;
        if k & 1 == 0 {
            a = ch_step(a, x);
        } else {
            b = ch_step(b, x);
        }
        k += 1;
    }
    ch_finish(a, b, w.len)
}

#[inline(always)]
const fn ch_finish(a: u64, b: u64, len: usize) -> u32 {
    let mut h = a ^ b.rotate_left(32) ^ (len as u64).wrapping_mul(CH_K2);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    (h ^ (h >> 32)) as u32
}

/// [`content_hash_words`] over a [`CONTENT_BOUND`]-byte block holding the window, zero past
/// `w.len`, as 64-bit words in memory order (how the XDP program computes it:
/// `bpf_xdp_load_bytes` into a zeroed buffer). Written out word by word: constant stack
/// offsets and no loop for the verifier, and half the instructions of the loop form in BPF.
#[inline(always)]
pub fn content_hash_block(w: &ContentWindow, block: &[u64; CONTENT_WORDS]) -> u32 {
    const _: () = assert!(CONTENT_WORDS == 16);
    let n = w.len.div_ceil(8);
    let mut a = w.seed as u64;
    let mut b = u64::MAX;
    'done: {
        macro_rules! word {
            ($k:expr, $lane:ident, $m:expr) => {
                if n <= $k {
                    break 'done;
                }
                $lane = ch_step($lane, u64::from_le(block[$k]) & $m);
            };
        }
        word!(0, a, w.masks[0]);
        word!(1, b, w.masks[1]);
        word!(2, a, u64::MAX);
        word!(3, b, u64::MAX);
        word!(4, a, u64::MAX);
        word!(5, b, u64::MAX);
        word!(6, a, u64::MAX);
        word!(7, b, u64::MAX);
        word!(8, a, u64::MAX);
        word!(9, b, u64::MAX);
        word!(10, a, u64::MAX);
        word!(11, b, u64::MAX);
        word!(12, a, u64::MAX);
        word!(13, b, u64::MAX);
        word!(14, a, u64::MAX);
        word!(15, b, u64::MAX);
    }
    ch_finish(a, b, w.len)
}

/// The duplicate-detection content hash of `frame`, whose L3 header (EtherType `ethertype`,
/// the one after the VLAN tags, or an 802.3 length field) starts at `l3`.
///
/// Covered: the [`content_window`] (at most [`CONTENT_BOUND`] bytes from `l3`, bounded by the
/// IP/ARP/802.3 length the frame declares and by the frame's end), read as little-endian
/// 64-bit words, of which the first two are masked so that TTL/hop limit, the IPv4 header
/// checksum and the ECN bits do not count; hashed by [`content_hash_words`]. Everything else in
/// the window counts: the IPv4 identification, flags, fragment offset and options, the
/// addresses, the L4 header with sequence numbers and options, the payload. L2 (MACs, VLAN
/// tags) is outside the window, so a mirrored copy with other MACs, tags or TTL hashes the
/// same. The XDP program computes the same value ([`content_hash_block`]).
#[inline]
pub fn content_hash(frame: &[u8], l3: usize, ethertype: u16) -> u32 {
    let rest = frame.get(l3..).unwrap_or(&[]);
    let w = content_window(ethertype, rest.len(), |o| {
        rest.get(o..o + 2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    });
    let win = &rest[..w.len];
    // The same steps as `content_hash_words`, over the slice in pairs of words (no per-word
    // index checks; `content_hash_slice_equals_block_form` checks both forms agree).
    let le = |c: &[u8]| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
    let mut a = w.seed as u64;
    let mut b = u64::MAX;
    let mut pairs = win.chunks_exact(16);
    let mut first = true;
    for p in &mut pairs {
        let (mut x, mut y) = (le(&p[..8]), le(&p[8..]));
        if first {
            x &= w.masks[0];
            y &= w.masks[1];
            first = false;
        }
        a = ch_step(a, x);
        b = ch_step(b, y);
    }
    let rest = pairs.remainder();
    if !rest.is_empty() {
        // Up to one whole word and one partial one, zero-padded.
        let mut t = [0u8; 16];
        t[..rest.len()].copy_from_slice(rest);
        let (mut x, mut y) = (le(&t[..8]), le(&t[8..]));
        if first {
            x &= w.masks[0];
            y &= w.masks[1];
        }
        a = ch_step(a, x);
        if rest.len() > 8 {
            b = ch_step(b, y);
        }
    }
    ch_finish(a, b, w.len)
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
