//! `argus_xdp`: the in-kernel pre-classifier of the Argus sensor.
//!
//! Per frame: parse Ethernet, up to two 802.1Q/802.1ad tags, IPv4/IPv6 and TCP/UDP ports; put a
//! 32-byte [`XdpMeta`] in front of the frame with the symmetric flow hash and, for the frame
//! shapes user space's fast shard path reads, the shard hash of the address pair
//! (`meta_flags::SHARD_HASH`), the duplicate-detection content hash
//! (`argus_common::content_hash`, the same function user space runs) and the time; redirect to
//! the AF_XDP socket bound to this rx queue (`XSKS`), or pass/drop (per `CONFIG`) when there is
//! none.
//!
//! Three entry points differ only in how the metadata reaches user space
//! (`argus_common::xdp_programs`): the metadata area (`bpf_xdp_adjust_meta`), a prepended header
//! (`bpf_xdp_adjust_head`) that user space strips, or none at all (user space computes it).
//! User space loads the first one the kernel's verifier accepts.
//! Everything is bounded and loop-free so the verifier accepts it without unrolling surprises.
#![no_std]
#![no_main]

use core::mem::size_of;

use argus_common::{
    class, content_hash_block, content_window, ipv6_ext_len, meta_flags, shard_hash_v4,
    shard_hash_v6, sym_hash_mac, sym_hash_v4, sym_hash_v6,
    xdp_maps::{config, stat, XSKS_MAX},
    XdpMeta, CONTENT_BOUND, CONTENT_WORDS, IPV6_EXT_MAX, XDP_META_LEN, XDP_META_MAGIC,
};
use aya_ebpf::{
    bindings::xdp_action,
    btf_maps::{Array, PerCpuArray, XskMap},
    helpers::{
        bpf_ktime_get_ns, bpf_xdp_adjust_head, bpf_xdp_adjust_meta, bpf_xdp_get_buff_len,
        bpf_xdp_load_bytes,
    },
    macros::{btf_map, xdp},
    programs::XdpContext,
};

/// AF_XDP sockets keyed by rx queue index.
#[btf_map]
static XSKS: XskMap<{ XSKS_MAX as usize }> = XskMap::new();

/// Per-CPU counters, indexed by `argus_common::xdp_maps::stat`.
#[btf_map]
static STATS: PerCpuArray<u64, { stat::COUNT as usize }> = PerCpuArray::new();

/// Configuration words, indexed by `argus_common::xdp_maps::config`.
#[btf_map]
static CONFIG: Array<u32, { config::COUNT as usize }> = Array::new();

const ETH_HLEN: usize = 14;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88A8;
/// Pre-standard QinQ TPID; user space's decoder and shard path take it as a VLAN tag too.
const ETH_P_QINQ_OLD: u16 = 0x9100;
/// EtherType values below this are 802.3 length fields (LLC/SNAP frames follow).
const ETH_P_802_3_MIN: u16 = 0x0600;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMPV6: u8 = 58;
const IPPROTO_GRE: u8 = 47;
const IPPROTO_FRAGMENT: u8 = 44;
const IPV6_HLEN: usize = 40;

/// The metadata area (`bpf_xdp_adjust_meta`): the preferred way where the kernel and the
/// driver allow it.
#[xdp]
pub fn argus_xdp_meta(ctx: XdpContext) -> u32 {
    run(&ctx, Delivery::Area)
}

/// A prepended header (`bpf_xdp_adjust_head`), for kernels that refuse the metadata helper to
/// XDP programs.
#[xdp]
pub fn argus_xdp_head(ctx: XdpContext) -> u32 {
    run(&ctx, Delivery::Header)
}

/// No metadata: count and redirect; user space computes the values.
#[xdp]
pub fn argus_xdp_user(ctx: XdpContext) -> u32 {
    run(&ctx, Delivery::User)
}

/// How an entry point hands the metadata over (`argus_common::xdp_programs`). A constant in
/// each entry point, so each program holds only its own path (a program that never calls
/// `bpf_xdp_adjust_meta` loads where that helper is refused).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Area,
    Header,
    User,
}

#[inline(always)]
fn run(ctx: &XdpContext, how: Delivery) -> u32 {
    count(stat::SEEN);

    let mut meta = XdpMeta::default();
    if how != Delivery::User {
        meta = classify(ctx);
        // SAFETY: bpf_ktime_get_ns takes no arguments and cannot fail.
        let now = unsafe { bpf_ktime_get_ns() };
        (meta.ktime_lo, meta.ktime_hi) = (now as u32, (now >> 32) as u32);
    }

    // Debug logging (`log` feature only; the default build has none of this): malformed
    // frames, each; redirect failures and frames without metadata, rate-limited to the 1st,
    // 2nd, 4th, 8th, ... per CPU.
    #[cfg(feature = "log")]
    if meta.flags & meta_flags::MALFORMED != 0 {
        aya_log_ebpf::debug!(
            ctx,
            "malformed frame: class {} flags {:x} l3 {} l4 {} len {}",
            meta.class,
            meta.flags,
            meta.l3_off,
            meta.l4_off,
            unsafe { bpf_xdp_get_buff_len(ctx.ctx) }
        );
    }

    match how {
        Delivery::Area => write_meta(ctx, &meta),
        Delivery::Header => {
            if !push_header(ctx, &meta) {
                // User space could not tell this frame from one with a header: it is not
                // redirected (and counted as passed or dropped besides NO_META).
                count(stat::NO_META);
                return unredirected(ctx);
            }
        }
        Delivery::User => {}
    }

    match XSKS.redirect(ctx.rx_queue_index(), 0) {
        Ok(action) => {
            count(stat::REDIRECTED);
            action
        }
        Err(_) => {
            // The kernel stack must get the frame as it came: take the header off again
            // (it was just pushed, so the headroom is there).
            if how == Delivery::Header {
                unsafe { bpf_xdp_adjust_head(ctx.ctx, XDP_META_LEN as i32) };
            }
            unredirected(ctx)
        }
    }
}

/// A frame no AF_XDP socket takes: passed to the kernel stack, or dropped where `CONFIG` says
/// so (a dedicated SPAN port).
#[inline(always)]
fn unredirected(ctx: &XdpContext) -> u32 {
    #[cfg(feature = "log")]
    {
        let n = count_get(stat::PASSED) + count_get(stat::DROPPED) + 1;
        if n & (n - 1) == 0 {
            aya_log_ebpf::debug!(
                ctx,
                "frame not redirected on rx queue {} ({} so far on this cpu)",
                ctx.rx_queue_index(),
                n
            );
        }
    }
    #[cfg(not(feature = "log"))]
    let _ = ctx;
    let drop = CONFIG
        .get(config::DROP_UNREDIRECTED)
        .map(|v| *v != 0)
        .unwrap_or(false);
    if drop {
        count(stat::DROPPED);
        xdp_action::XDP_DROP
    } else {
        count(stat::PASSED);
        xdp_action::XDP_PASS
    }
}

/// The current per-CPU value of counter `idx` (for the log feature's rate limit).
#[cfg(feature = "log")]
#[inline(always)]
fn count_get(idx: u32) -> u64 {
    match STATS.get_ptr_mut(idx) {
        Some(p) => unsafe { *p },
        None => 0,
    }
}

#[inline(always)]
fn count(idx: u32) {
    if let Some(p) = STATS.get_ptr_mut(idx) {
        // Per-CPU slot: no other writer, a plain add is enough.
        unsafe { *p += 1 };
    }
}

/// Bounds-checked unaligned load of `T` at `off` bytes from the start of the frame.
#[inline(always)]
fn load<T: Copy>(ctx: &XdpContext, off: usize) -> Option<T> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + off + size_of::<T>() > end {
        return None;
    }
    Some(unsafe { core::ptr::read_unaligned((start + off) as *const T) })
}

#[inline(always)]
fn be16(b: [u8; 2]) -> u16 {
    u16::from_be_bytes(b)
}

#[inline(always)]
fn be32(b: [u8; 4]) -> u32 {
    u32::from_be_bytes(b)
}

/// Computes the metadata for the frame. Never fails: on a short or odd frame it returns what it
/// learned so far with `MALFORMED` set, and user space treats the frame accordingly.
#[inline(always)]
fn classify(ctx: &XdpContext) -> XdpMeta {
    let mut m = XdpMeta {
        magic: XDP_META_MAGIC,
        ..XdpMeta::default()
    };

    let (dst, src, mut ethertype) = match load::<[u8; ETH_HLEN]>(ctx, 0) {
        Some(h) => (
            [h[0], h[1], h[2], h[3], h[4], h[5]],
            [h[6], h[7], h[8], h[9], h[10], h[11]],
            be16([h[12], h[13]]),
        ),
        None => {
            m.flags |= meta_flags::MALFORMED;
            return m;
        }
    };
    let mut l3 = ETH_HLEN;

    // Up to two VLAN tags, written out rather than looped.
    if is_tag(ethertype) {
        let Some(t) = load::<[u8; 4]>(ctx, l3) else {
            m.flags |= meta_flags::MALFORMED;
            return m;
        };
        m.vlan_tci = be16([t[0], t[1]]);
        ethertype = be16([t[2], t[3]]);
        l3 += 4;
        m.flags |= meta_flags::VLAN;
        if is_tag(ethertype) {
            let Some(t) = load::<[u8; 4]>(ctx, l3) else {
                m.flags |= meta_flags::MALFORMED;
                return m;
            };
            ethertype = be16([t[2], t[3]]);
            l3 += 4;
            m.flags |= meta_flags::QINQ;
            if is_tag(ethertype) {
                m.flags |= meta_flags::TOO_MANY_TAGS;
            }
        }
    }
    m.l3_off = l3 as u16;

    match ethertype {
        ETH_P_IP => parse_ipv4(ctx, l3, &mut m),
        ETH_P_IPV6 => parse_ipv6(ctx, l3, &mut m),
        _ => {
            m.class = if ethertype == ETH_P_ARP {
                class::ARP
            } else if ethertype < ETH_P_802_3_MIN {
                class::LLC
            } else {
                class::OTHER
            };
            m.flow_hash = sym_hash_mac(dst, src, ethertype);
        }
    }
    m.content_hash = content_hash(ctx, l3, ethertype);
    m
}

/// `argus_common::content_hash` of the frame: the window bytes are copied with
/// `bpf_xdp_load_bytes` into a zeroed stack block and hashed there, so the verifier sees
/// constant stack offsets instead of one packet bounds check per word.
#[inline(always)]
fn content_hash(ctx: &XdpContext, l3: usize, ethertype: u16) -> u32 {
    let total = unsafe { bpf_xdp_get_buff_len(ctx.ctx) } as usize;
    let avail = total.saturating_sub(l3);
    let w = content_window(ethertype, avail, |o| load::<[u8; 2]>(ctx, l3 + o).map(be16));
    // Zeroed with 16 plain stores: `[0u64; 16]` becomes a call to a byte-wise `memset`
    // sub-program (about 100 ns per frame in BPF_PROG_TEST_RUN).
    let mut block = core::mem::MaybeUninit::<[u64; CONTENT_WORDS]>::uninit();
    let p = block.as_mut_ptr() as *mut u64;
    unsafe {
        p.write_volatile(0);
        p.add(1).write_volatile(0);
        p.add(2).write_volatile(0);
        p.add(3).write_volatile(0);
        p.add(4).write_volatile(0);
        p.add(5).write_volatile(0);
        p.add(6).write_volatile(0);
        p.add(7).write_volatile(0);
        p.add(8).write_volatile(0);
        p.add(9).write_volatile(0);
        p.add(10).write_volatile(0);
        p.add(11).write_volatile(0);
        p.add(12).write_volatile(0);
        p.add(13).write_volatile(0);
        p.add(14).write_volatile(0);
        p.add(15).write_volatile(0);
    }
    // SAFETY: all 16 words were written just above (a reference, not a move: a move would
    // be a `memcpy` call again).
    let block: &mut [u64; CONTENT_WORDS] = unsafe { &mut *block.as_mut_ptr() };
    const _: () = assert!(CONTENT_WORDS == 16);
    // Masked and re-checked so the verifier sees 1..=CONTENT_BOUND as the helper's size.
    let len = (w.len & 0xff) as u32;
    if len > 0 && len <= CONTENT_BOUND as u32 {
        let r =
            unsafe { bpf_xdp_load_bytes(ctx.ctx, l3 as u32, block.as_mut_ptr() as *mut _, len) };
        if r != 0 {
            // Cannot happen (len <= what the frame holds); the value then still is a hash of
            // something, and the user-space comparison in the tests would show it.
            return 0;
        }
    }
    content_hash_block(&w, block)
}

#[inline(always)]
fn is_tag(ethertype: u16) -> bool {
    ethertype == ETH_P_8021Q || ethertype == ETH_P_8021AD || ethertype == ETH_P_QINQ_OLD
}

#[inline(always)]
fn parse_ipv4(ctx: &XdpContext, l3: usize, m: &mut XdpMeta) {
    m.class = class::IPV4;
    let Some(h) = load::<[u8; 20]>(ctx, l3) else {
        m.flags |= meta_flags::MALFORMED;
        return;
    };
    let ihl = (h[0] & 0x0f) as usize * 4;
    let proto = h[9];
    let frag = be16([h[6], h[7]]);
    let saddr = be32([h[12], h[13], h[14], h[15]]);
    let daddr = be32([h[16], h[17], h[18], h[19]]);
    m.ip_proto = proto;
    // The shard hash, on exactly the frames user space's fast shard path accepts.
    let tot_len = be16([h[2], h[3]]);
    if h[0] >> 4 == 4 && tot_len >= 20 && proto != IPPROTO_GRE {
        m.shard_hash = shard_hash_v4(saddr, daddr);
        m.flags |= meta_flags::SHARD_HASH;
    }
    if ihl < 20 {
        m.flags |= meta_flags::MALFORMED;
        m.flow_hash = sym_hash_v4(saddr, daddr, 0, 0, proto);
        return;
    }
    let mut first_frag = true;
    if frag & 0x3fff != 0 {
        m.flags |= meta_flags::FRAG;
        if frag & 0x1fff != 0 {
            m.flags |= meta_flags::FRAG_LATER;
            first_frag = false;
        }
    }
    let (mut sport, mut dport) = (0u16, 0u16);
    if first_frag {
        let l4 = l3 + ihl;
        m.l4_off = l4 as u16;
        if proto == IPPROTO_TCP || proto == IPPROTO_UDP {
            match load::<[u8; 4]>(ctx, l4) {
                Some(p) => {
                    sport = be16([p[0], p[1]]);
                    dport = be16([p[2], p[3]]);
                }
                None => m.flags |= meta_flags::MALFORMED,
            }
        } else if load::<u8>(ctx, l4).is_none() {
            // ICMP and others: transport offset only if something is there.
            m.l4_off = 0;
        }
    }
    m.flow_hash = sym_hash_v4(saddr, daddr, sport, dport, proto);
}

#[inline(always)]
fn parse_ipv6(ctx: &XdpContext, l3: usize, m: &mut XdpMeta) {
    m.class = class::IPV6;
    let Some(h) = load::<[u8; IPV6_HLEN]>(ctx, l3) else {
        m.flags |= meta_flags::MALFORMED;
        return;
    };
    let nh = h[6];
    let mut s = [0u32; 4];
    let mut d = [0u32; 4];
    // Fixed-count copies; the compiler unrolls these.
    s[0] = be32([h[8], h[9], h[10], h[11]]);
    s[1] = be32([h[12], h[13], h[14], h[15]]);
    s[2] = be32([h[16], h[17], h[18], h[19]]);
    s[3] = be32([h[20], h[21], h[22], h[23]]);
    d[0] = be32([h[24], h[25], h[26], h[27]]);
    d[1] = be32([h[28], h[29], h[30], h[31]]);
    d[2] = be32([h[32], h[33], h[34], h[35]]);
    d[3] = be32([h[36], h[37], h[38], h[39]]);
    m.ip_proto = nh;
    if nh == IPPROTO_TCP || nh == IPPROTO_UDP {
        m.shard_hash = shard_hash_v6(s, d);
        m.flags |= meta_flags::SHARD_HASH;
    }
    let (mut sport, mut dport) = (0u16, 0u16);
    // Bounded extension-header walk (the same in `capture::meta`): up to IPV6_EXT_MAX headers;
    // a fragment that is not the first ends it (no transport header follows).
    let mut nh = nh;
    let mut l4 = l3 + IPV6_HLEN;
    for _ in 0..IPV6_EXT_MAX {
        if ipv6_ext_len(nh, 0).is_none() {
            break;
        }
        let Some(e) = load::<[u8; 4]>(ctx, l4) else {
            m.flags |= meta_flags::MALFORMED;
            m.ip_proto = nh;
            m.flow_hash = sym_hash_v6(s, d, 0, 0, nh);
            return;
        };
        let len = match ipv6_ext_len(nh, e[1]) {
            Some(n) => n,
            None => break,
        };
        let later = if nh == IPPROTO_FRAGMENT {
            let fo = be16([e[2], e[3]]);
            if fo & 0xfff9 != 0 {
                m.flags |= meta_flags::FRAG;
            }
            fo & 0xfff8 != 0
        } else {
            false
        };
        nh = e[0];
        l4 += len;
        if later {
            m.flags |= meta_flags::FRAG_LATER;
            m.ip_proto = nh;
            m.flow_hash = sym_hash_v6(s, d, 0, 0, nh);
            return;
        }
    }
    m.ip_proto = nh;
    if nh == IPPROTO_TCP || nh == IPPROTO_UDP {
        m.l4_off = l4 as u16;
        match load::<[u8; 4]>(ctx, l4) {
            Some(p) => {
                sport = be16([p[0], p[1]]);
                dport = be16([p[2], p[3]]);
            }
            None => m.flags |= meta_flags::MALFORMED,
        }
    } else if nh == IPPROTO_ICMPV6 {
        m.l4_off = l4 as u16;
    }
    m.flow_hash = sym_hash_v6(s, d, sport, dport, nh);
}

/// Writes the metadata into the metadata area (`bpf_xdp_adjust_meta`). If the driver does not
/// support the area the frame goes on without it (user space then computes the same values)
/// and `NO_META` is counted.
#[inline(always)]
fn write_meta(ctx: &XdpContext, m: &XdpMeta) {
    if unsafe { bpf_xdp_adjust_meta(ctx.ctx, -(XDP_META_LEN as i32)) } != 0 {
        #[cfg(feature = "log")]
        {
            let n = count_get(stat::NO_META) + 1;
            if n & (n - 1) == 0 {
                aya_log_ebpf::debug!(
                    ctx,
                    "bpf_xdp_adjust_meta failed: no metadata ({} so far on this cpu)",
                    n
                );
            }
        }
        count(stat::NO_META);
        return;
    }
    // adjust_meta invalidated all packet pointers: reload and re-check.
    let meta = ctx.metadata();
    if meta + XDP_META_LEN > ctx.data() {
        count(stat::NO_META);
        return;
    }
    // The metadata area starts 4-byte aligned (it sits right in front of `data`, and the size
    // is a multiple of 4).
    store(meta, m);
}

/// Prepends the metadata as a header of the frame (`bpf_xdp_adjust_head`); false (nothing
/// changed) when the frame has no headroom for it.
#[inline(always)]
fn push_header(ctx: &XdpContext, m: &XdpMeta) -> bool {
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, -(XDP_META_LEN as i32)) } != 0 {
        #[cfg(feature = "log")]
        aya_log_ebpf::debug!(ctx, "bpf_xdp_adjust_head failed: frame not redirected");
        return false;
    }
    // adjust_head invalidated all packet pointers: reload and re-check.
    let start = ctx.data();
    if start + XDP_META_LEN > ctx.data_end() {
        // Cannot happen (the frame just grew by that much); undo so the stack sees it whole.
        unsafe { bpf_xdp_adjust_head(ctx.ctx, XDP_META_LEN as i32) };
        return false;
    }
    store(start, m);
    true
}

/// Eight plain 32-bit stores of `m` at `at`: a struct copy would be lowered to byte stores
/// plus a `memset` sub-program call.
#[inline(always)]
fn store(at: usize, m: &XdpMeta) {
    let w: [u32; 8] = unsafe { core::mem::transmute(*m) };
    let p = at as *mut u32;
    unsafe {
        p.write_volatile(w[0]);
        p.add(1).write_volatile(w[1]);
        p.add(2).write_volatile(w[2]);
        p.add(3).write_volatile(w[3]);
        p.add(4).write_volatile(w[4]);
        p.add(5).write_volatile(w[5]);
        p.add(6).write_volatile(w[6]);
        p.add(7).write_volatile(w[7]);
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
