//! The metadata the XDP program puts in front of each frame ([`XdpMeta`]), recomputed in user
//! space for frames that came without it (pcap files, AF_PACKET, XDP without kernel
//! metadata) and to check the kernel's values in tests (`tests/live_xdp.rs`). Re-exported from
//! `capture::xdp`.

use argus_common::{class, meta_flags, XdpMeta, XDP_META_MAGIC};

/// The duplicate-detection content hash of `frame` (see `argus_common::content_hash` and
/// docs/capture.md, "Content hash"): `l3_off` is where the L3 header starts (after the VLAN
/// tags), `ethertype` the EtherType there (or the 802.3 length field). Equal to
/// `XdpMeta::content_hash` of frames that came through XDP. Copies of one packet that differ
/// only in MACs, VLAN tags, TTL/hop limit (and the IPv4 checksum) or ECN bits hash the same.
#[inline]
pub fn content_hash(frame: &[u8], l3_off: usize, ethertype: u16) -> u32 {
    argus_common::content_hash(frame, l3_off, ethertype)
}

/// The shard hash the program computed, when it did (see [`meta_flags::SHARD_HASH`]): equal to
/// `engine::shard::frame_shard_hash` of the frame.
pub fn shard_hash(meta: &XdpMeta) -> Option<u32> {
    (meta.flags & meta_flags::SHARD_HASH != 0).then_some(meta.shard_hash)
}

/// The metadata the XDP program writes for `frame`, computed in user space the same way (for
/// frames that did not pass through XDP, and to check the kernel's values in tests).
pub fn compute_meta(frame: &[u8]) -> XdpMeta {
    use argus_common::{
        ipv6_ext_len, shard_hash_v4, shard_hash_v6, sym_hash_mac, sym_hash_v4, sym_hash_v6,
        IPV6_EXT_MAX,
    };
    let be16 = |o: usize| {
        frame
            .get(o..o + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    let be32 = |b: &[u8], o: usize| u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let is_tag = |t: u16| matches!(t, 0x8100 | 0x88a8 | 0x9100);
    let mut m = XdpMeta {
        magic: XDP_META_MAGIC,
        ..XdpMeta::default()
    };
    if frame.len() < 14 {
        m.flags |= meta_flags::MALFORMED;
        return m;
    }
    let dst: [u8; 6] = frame[0..6].try_into().unwrap_or_default();
    let src: [u8; 6] = frame[6..12].try_into().unwrap_or_default();
    let mut et = be16(12).unwrap_or(0);
    let mut l3 = 14;
    if is_tag(et) {
        let (Some(tci), Some(e)) = (be16(l3), be16(l3 + 2)) else {
            m.flags |= meta_flags::MALFORMED;
            return m;
        };
        m.vlan_tci = tci;
        et = e;
        l3 += 4;
        m.flags |= meta_flags::VLAN;
        if is_tag(et) {
            let Some(e) = be16(l3 + 2) else {
                m.flags |= meta_flags::MALFORMED;
                return m;
            };
            et = e;
            l3 += 4;
            m.flags |= meta_flags::QINQ;
            if is_tag(et) {
                m.flags |= meta_flags::TOO_MANY_TAGS;
            }
        }
    }
    m.l3_off = l3 as u16;
    m.content_hash = content_hash(frame, l3, et);
    let ports = |l4: usize| be16(l4).zip(be16(l4 + 2));
    match et {
        0x0800 => {
            m.class = class::IPV4;
            let Some(h) = frame.get(l3..l3 + 20) else {
                m.flags |= meta_flags::MALFORMED;
                return m;
            };
            let ihl = (h[0] & 0x0f) as usize * 4;
            let proto = h[9];
            let frag = u16::from_be_bytes([h[6], h[7]]);
            let (sa, da) = (be32(h, 12), be32(h, 16));
            m.ip_proto = proto;
            if h[0] >> 4 == 4 && u16::from_be_bytes([h[2], h[3]]) >= 20 && proto != 47 {
                m.shard_hash = shard_hash_v4(sa, da);
                m.flags |= meta_flags::SHARD_HASH;
            }
            if ihl < 20 {
                m.flags |= meta_flags::MALFORMED;
                m.flow_hash = sym_hash_v4(sa, da, 0, 0, proto);
                return m;
            }
            let mut first = true;
            if frag & 0x3fff != 0 {
                m.flags |= meta_flags::FRAG;
                if frag & 0x1fff != 0 {
                    m.flags |= meta_flags::FRAG_LATER;
                    first = false;
                }
            }
            let (mut sp, mut dp) = (0, 0);
            if first {
                let l4 = l3 + ihl;
                m.l4_off = l4 as u16;
                if proto == 6 || proto == 17 {
                    match ports(l4) {
                        Some((a, b)) => (sp, dp) = (a, b),
                        None => m.flags |= meta_flags::MALFORMED,
                    }
                } else if frame.len() <= l4 {
                    m.l4_off = 0;
                }
            }
            m.flow_hash = sym_hash_v4(sa, da, sp, dp, proto);
        }
        0x86dd => {
            m.class = class::IPV6;
            let Some(h) = frame.get(l3..l3 + 40) else {
                m.flags |= meta_flags::MALFORMED;
                return m;
            };
            let nh = h[6];
            let s = [be32(h, 8), be32(h, 12), be32(h, 16), be32(h, 20)];
            let d = [be32(h, 24), be32(h, 28), be32(h, 32), be32(h, 36)];
            m.ip_proto = nh;
            if nh == 6 || nh == 17 {
                m.shard_hash = shard_hash_v6(s, d);
                m.flags |= meta_flags::SHARD_HASH;
            }
            let (mut sp, mut dp) = (0, 0);
            // The bounded extension-header walk of the XDP program.
            let mut nh = nh;
            let mut l4 = l3 + 40;
            for _ in 0..IPV6_EXT_MAX {
                if ipv6_ext_len(nh, 0).is_none() {
                    break;
                }
                let Some(e) = frame.get(l4..l4 + 4) else {
                    m.flags |= meta_flags::MALFORMED;
                    m.ip_proto = nh;
                    m.flow_hash = sym_hash_v6(s, d, 0, 0, nh);
                    return m;
                };
                let Some(len) = ipv6_ext_len(nh, e[1]) else {
                    break;
                };
                let later = if nh == 44 {
                    let fo = u16::from_be_bytes([e[2], e[3]]);
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
                    return m;
                }
            }
            m.ip_proto = nh;
            if nh == 6 || nh == 17 {
                m.l4_off = l4 as u16;
                match ports(l4) {
                    Some((a, b)) => (sp, dp) = (a, b),
                    None => m.flags |= meta_flags::MALFORMED,
                }
            } else if nh == 58 {
                m.l4_off = l4 as u16;
            }
            m.flow_hash = sym_hash_v6(s, d, sp, dp, nh);
        }
        _ => {
            m.class = if et == 0x0806 {
                class::ARP
            } else if et < 0x0600 {
                class::LLC
            } else {
                class::OTHER
            };
            m.flow_hash = sym_hash_mac(dst, src, et);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compute_meta_matches_the_fast_shard_path() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x14, 0x08, 0x00]);
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&28u16.to_be_bytes());
        ip[9] = 17;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[0x13, 0x88, 0x00, 0x35, 0, 8, 0, 0]);
        let m = compute_meta(&f);
        assert_eq!(m.class, class::IPV4);
        assert_eq!(m.vlan_tci, 0x14);
        assert_eq!((m.l3_off, m.l4_off), (18, 38));
        assert_eq!(
            shard_hash(&m),
            crate::engine::shard::fast_shard_hash(crate::wire::linktype::ETHERNET, &f)
        );
        assert_eq!(
            m.flow_hash,
            argus_common::sym_hash_v4(0x0a00_0002, 0x0a00_0001, 53, 5000, 17)
        );
    }

    // --- content hash ---------------------------------------------------------------------

    fn eth(dst: u8, src: u8, tags: &[u16], et: u16) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, dst, 2, 0, 0, 0, 0, src];
        for &t in tags {
            f.extend_from_slice(&t.to_be_bytes());
            f.extend_from_slice(&0x0014u16.to_be_bytes());
        }
        f.extend_from_slice(&et.to_be_bytes());
        f
    }

    /// IPv4 header (with a correct checksum) + TCP header with timestamps + `payload`.
    fn v4_tcp(ttl: u8, id: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let tcp_len = 32;
        let tot = 20 + tcp_len + payload.len();
        let mut h = vec![0x45, 0x02, 0, 0, 0, 0, 0x40, 0, ttl, 6, 0, 0];
        h[2..4].copy_from_slice(&(tot as u16).to_be_bytes());
        h[4..6].copy_from_slice(&id.to_be_bytes());
        h.extend_from_slice(&[10, 0, 0, 1, 192, 168, 7, 9]);
        let mut sum: u32 = h
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]) as u32)
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        h[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        h.extend_from_slice(&[0xc3, 0x50, 0x01, 0xbb]);
        h.extend_from_slice(&seq.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0x30, 0x39, 0x80, 0x18, 0x01, 0xf6, 0x12, 0x34, 0, 0]);
        h.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9]);
        h.extend_from_slice(payload);
        h
    }

    fn v6_tcp(hlim: u8, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut h = vec![0x60, 0x00, 0x12, 0x34, 0, 0, 6, hlim];
        h[4..6].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
        h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        h.extend_from_slice(&[0xc3, 0x50, 0x00, 0x50]);
        h.extend_from_slice(&seq.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x18, 0x01, 0xf6, 0, 0, 0, 0]);
        h.extend_from_slice(payload);
        h
    }

    fn frame(l2: Vec<u8>, l3: &[u8]) -> Vec<u8> {
        let mut f = l2;
        f.extend_from_slice(l3);
        f
    }

    fn ch(f: &[u8]) -> u32 {
        let m = compute_meta(f);
        assert_ne!(m.l3_off, 0);
        // The slice function and compute_meta agree.
        let et = u16::from_be_bytes([f[m.l3_off as usize - 2], f[m.l3_off as usize - 1]]);
        assert_eq!(content_hash(f, m.l3_off as usize, et), m.content_hash);
        m.content_hash
    }

    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn content_hash_ignores_what_a_mirror_changes_v4() {
        let p = payload(300);
        let ip = v4_tcp(64, 0x1234, 1000, &p);
        let base = ch(&frame(eth(1, 2, &[], 0x0800), &ip));
        // Other MACs.
        assert_eq!(ch(&frame(eth(7, 9, &[], 0x0800), &ip)), base);
        // 802.1Q tag, QinQ (88a8 + 8100), old QinQ.
        assert_eq!(ch(&frame(eth(1, 2, &[0x8100], 0x0800), &ip)), base);
        assert_eq!(ch(&frame(eth(1, 2, &[0x88a8, 0x8100], 0x0800), &ip)), base);
        assert_eq!(ch(&frame(eth(1, 2, &[0x9100], 0x0800), &ip)), base);
        // TTL decremented by a router, checksum fixed.
        let routed = v4_tcp(63, 0x1234, 1000, &p);
        assert_ne!(routed[10..12], ip[10..12], "checksum changed with the TTL");
        assert_eq!(ch(&frame(eth(3, 4, &[0x8100], 0x0800), &routed)), base);
        // ECN CE marked on the way.
        let mut ce = ip.clone();
        ce[1] |= 3;
        assert_eq!(ch(&frame(eth(1, 2, &[], 0x0800), &ce)), base);
        // Ethernet padding (a short frame) does not count: the IP length bounds the window.
        let ack = v4_tcp(64, 7, 5, &[]);
        let a = ch(&frame(eth(1, 2, &[], 0x0800), &ack));
        let mut padded = frame(eth(1, 2, &[], 0x0800), &ack);
        padded.extend_from_slice(&[0xee; 6]);
        assert_eq!(ch(&padded), a);
        let mut padded_tagged = frame(eth(1, 2, &[0x8100], 0x0800), &ack);
        padded_tagged.extend_from_slice(&[0x55; 2]);
        assert_eq!(ch(&padded_tagged), a);
        // A copy cut by the snap length hashes like the same cut of another copy.
        let full = frame(eth(1, 2, &[], 0x0800), &ip);
        let cut = &full[..14 + 70];
        let other = frame(eth(5, 6, &[], 0x0800), &routed);
        assert_eq!(ch(cut), ch(&other[..14 + 70]));
        assert_ne!(ch(cut), base, "a cut copy covers fewer bytes");
    }

    #[test]
    fn content_hash_sees_what_a_retransmission_or_another_segment_changes_v4() {
        let p = payload(300);
        let base = ch(&frame(
            eth(1, 2, &[], 0x0800),
            &v4_tcp(64, 0x1234, 1000, &p),
        ));
        // Another IPv4 identification (a retransmission usually has one).
        assert_ne!(
            ch(&frame(
                eth(1, 2, &[], 0x0800),
                &v4_tcp(64, 0x1235, 1000, &p)
            )),
            base
        );
        // Another sequence number.
        assert_ne!(
            ch(&frame(
                eth(1, 2, &[], 0x0800),
                &v4_tcp(64, 0x1234, 1001, &p)
            )),
            base
        );
        // A payload byte within the bound (the last one: L3 offset 127), and one past it.
        let ip = v4_tcp(64, 0x1234, 1000, &p);
        for (at, differs) in [(52, true), (127, true), (128, false), (250, false)] {
            let mut q = ip.clone();
            q[at] ^= 0x40;
            assert_eq!(
                ch(&frame(eth(1, 2, &[], 0x0800), &q)) != base,
                differs,
                "byte {at} after the L3 start"
            );
        }
        // Another length (same first 128 bytes, longer payload).
        let longer = v4_tcp(64, 0x1234, 1000, &payload(301));
        assert_ne!(ch(&frame(eth(1, 2, &[], 0x0800), &longer)), base);
        // A payload byte in a short packet (partial last word).
        let a = v4_tcp(64, 1, 1, &[1, 2, 3]);
        let b = v4_tcp(64, 1, 1, &[1, 2, 4]);
        assert_ne!(
            ch(&frame(eth(1, 2, &[], 0x0800), &a)),
            ch(&frame(eth(1, 2, &[], 0x0800), &b))
        );
    }

    #[test]
    fn content_hash_v6() {
        let p = payload(200);
        let ip = v6_tcp(64, 77, &p);
        let base = ch(&frame(eth(1, 2, &[], 0x86dd), &ip));
        assert_eq!(ch(&frame(eth(8, 9, &[0x88a8, 0x8100], 0x86dd), &ip)), base);
        assert_eq!(
            ch(&frame(eth(1, 2, &[], 0x86dd), &v6_tcp(63, 77, &p))),
            base
        );
        let mut ce = ip.clone();
        ce[1] |= 0x30;
        assert_eq!(ch(&frame(eth(1, 2, &[], 0x86dd), &ce)), base);
        assert_ne!(
            ch(&frame(eth(1, 2, &[], 0x86dd), &v6_tcp(64, 78, &p))),
            base
        );
        let mut fl = ip.clone();
        fl[3] ^= 1;
        assert_ne!(
            ch(&frame(eth(1, 2, &[], 0x86dd), &fl)),
            base,
            "flow label counts"
        );
        let mut q = ip.clone();
        q[100] ^= 1;
        assert_ne!(ch(&frame(eth(1, 2, &[], 0x86dd), &q)), base);
        let mut q = ip.clone();
        q[128] ^= 1;
        assert_eq!(ch(&frame(eth(1, 2, &[], 0x86dd), &q)), base);
        // Padding of a short IPv6 frame does not count.
        let short = v6_tcp(64, 1, &[]);
        let mut padded = frame(eth(1, 2, &[], 0x86dd), &short);
        let h = ch(&padded);
        padded.extend_from_slice(&[9; 4]);
        assert_eq!(ch(&padded), h);
    }

    #[test]
    fn ipv6_extension_headers_are_walked_up_to_the_bound() {
        let v6 = |nh: u8, rest: &[u8]| {
            let mut f = vec![
                2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd, 0x60, 0, 0, 0,
            ];
            f.extend_from_slice(&(rest.len() as u16).to_be_bytes());
            f.extend_from_slice(&[nh, 64]);
            f.extend_from_slice(&[0x20; 16]);
            f.extend_from_slice(&[0x21; 16]);
            f.extend_from_slice(rest);
            f
        };
        let tcp_hdr = [
            0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 2, 0, 0, 0, 0, 0, 0,
        ];
        let hop = [6, 0, 1, 4, 0, 0, 0, 0];
        let m = compute_meta(&v6(0, &[&hop[..], &tcp_hdr[..]].concat()));
        assert_eq!((m.ip_proto, m.l4_off), (6, 14 + 40 + 8));
        let plain = compute_meta(&v6(6, &tcp_hdr));
        assert_eq!(
            m.flow_hash, plain.flow_hash,
            "the ports behind the header count"
        );
        assert_eq!(
            m.flags & meta_flags::SHARD_HASH,
            0,
            "not the fast shard shape"
        );
        // A later fragment: no transport header, ports 0, FRAG and FRAG_LATER.
        let m = compute_meta(&v6(44, &[17, 0, 0, 0xb9, 0, 0, 0, 9, 1, 2, 3, 4]));
        assert_eq!(
            m.flags & (meta_flags::FRAG | meta_flags::FRAG_LATER),
            meta_flags::FRAG | meta_flags::FRAG_LATER
        );
        assert_eq!((m.ip_proto, m.l4_off), (17, 0));
        // A first fragment: FRAG only, ports read.
        let m = compute_meta(&v6(
            44,
            &[17, 0, 0, 1, 0, 0, 0, 9, 0x17, 0x70, 0, 53, 0, 8, 0, 0],
        ));
        assert_eq!(
            m.flags & (meta_flags::FRAG | meta_flags::FRAG_LATER),
            meta_flags::FRAG
        );
        assert_eq!((m.ip_proto, m.l4_off), (17, 14 + 48));
        // Cut short inside the header: malformed.
        let m = compute_meta(&v6(60, &[17, 9]));
        assert_ne!(m.flags & meta_flags::MALFORMED, 0);
        // Five headers: the walk stops at the fourth; the fifth is the protocol.
        let five = [&hop[..]; 4].concat();
        let mut five: Vec<u8> = five
            .iter()
            .enumerate()
            .map(|(k, &b)| if k % 8 == 0 { 0 } else { b })
            .collect();
        five.extend_from_slice(&hop);
        five.extend_from_slice(&tcp_hdr);
        let m = compute_meta(&v6(0, &five));
        assert_eq!(m.ip_proto, 0);
    }

    #[test]
    fn content_hash_non_ip() {
        // ARP: the 28-byte body, not the padding; MACs in the Ethernet header do not count.
        let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1];
        arp.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
        let a = ch(&frame(eth(0xff, 1, &[], 0x0806), &arp));
        let mut padded = frame(eth(0xff, 3, &[0x8100], 0x0806), &arp);
        padded.extend_from_slice(&[0xab; 14]);
        assert_eq!(ch(&padded), a);
        let mut other = arp.clone();
        other[27] = 3;
        assert_ne!(ch(&frame(eth(0xff, 1, &[], 0x0806), &other)), a);
        // 802.3 + LLC: bounded by the length field.
        let llc = [0x42, 0x42, 0x03, 0, 0, 0, 0, 0];
        let l = ch(&frame(eth(1, 2, &[], 8), &llc));
        let mut padded = frame(eth(1, 2, &[], 8), &llc);
        padded.extend_from_slice(&[1; 30]);
        assert_eq!(ch(&padded), l);
        // Too short for an L2 header: 0.
        assert_eq!(compute_meta(&[0; 10]).content_hash, 0);
        // An IPv4 frame ending right after the Ethernet header still has a (fixed) hash.
        let e = eth(1, 2, &[], 0x0800);
        assert_eq!(content_hash(&e, 14, 0x0800), ch(&eth(3, 4, &[], 0x0800)));
    }

    #[test]
    fn content_hash_slice_equals_block_form() {
        // The XDP program hashes a zero-padded block (argus_common::content_hash_block); the
        // slice form must give the same for every window length and cut.
        let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
        arp.extend(payload(40));
        for (et, ip) in [
            (0x0800u16, v4_tcp(64, 9, 9, &payload(200))),
            (0x86dd, v6_tcp(64, 9, &payload(200))),
            (0x0806, arp),
            (0x88cc, payload(200)),
            (60, payload(200)),
        ] {
            for cut in 0..ip.len() {
                let f = &ip[..cut];
                let w = argus_common::content_window(et, f.len(), |o| {
                    f.get(o..o + 2).map(|b| u16::from_be_bytes([b[0], b[1]]))
                });
                let mut bytes = [0u8; argus_common::CONTENT_BOUND];
                bytes[..w.len].copy_from_slice(&f[..w.len]);
                let mut block = [0u64; argus_common::CONTENT_WORDS];
                for (k, b) in block.iter_mut().enumerate() {
                    // Memory order, as the kernel's buffer holds the bytes.
                    *b = u64::from_ne_bytes(bytes[8 * k..8 * k + 8].try_into().unwrap());
                }
                assert_eq!(
                    argus_common::content_hash_block(&w, &block),
                    content_hash(f, 0, et),
                    "ethertype {et:#x} cut {cut}"
                );
            }
        }
    }

    /// On every Ethernet frame of the corpus (IPv4 and IPv6 ones): the copy a mirror on a
    /// routed path would show (other MACs, one more or one less VLAN tag, TTL / hop limit
    /// decremented with the IPv4 checksum fixed) hashes the same; another IPv4 ID does not.
    #[test]
    fn content_hash_invariances_on_the_corpus() {
        let dir = std::env::var_os("ARGUS_PCAPS")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pcaps")
            });
        let Ok(rd) = std::fs::read_dir(&dir) else {
            eprintln!(
                "\n*** content_hash corpus test SKIPPED: {} missing ***\n",
                dir.display()
            );
            return;
        };
        let (mut v4, mut v6, mut files) = (0, 0, 0);
        for e in rd.flatten() {
            let p = e.path();
            let Ok(mut src) = crate::capture::open(p.to_str().unwrap_or("")) else {
                continue;
            };
            files += 1;
            while let Ok(Some((m, f))) = src.next_frame() {
                if m.linktype != 1 {
                    continue;
                }
                let meta = compute_meta(f);
                let l3 = meta.l3_off as usize;
                if l3 == 0 || meta.flags & meta_flags::MALFORMED != 0 {
                    continue;
                }
                let et = u16::from_be_bytes([f[l3 - 2], f[l3 - 1]]);
                if et != 0x0800 && et != 0x86dd {
                    continue;
                }
                let ip = &f[l3..];
                // The mirrored copy: new MACs, tags toggled (none -> one, any -> none).
                let tags: &[u16] = if l3 == 14 { &[0x8100] } else { &[] };
                let mut l2 = eth(0x77, 0x88, tags, et);
                let mut ip2 = ip.to_vec();
                if et == 0x0800 && ip2.len() >= 20 && ip2[8] > 0 {
                    // TTL - 1, checksum updated incrementally (RFC 1624).
                    ip2[8] -= 1;
                    let old = u16::from_be_bytes([ip2[10], ip2[11]]);
                    let mut sum = (!old as u32) + (!0x0100u16 as u32);
                    sum = (sum & 0xffff) + (sum >> 16);
                    sum = (sum & 0xffff) + (sum >> 16);
                    ip2[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
                } else if et == 0x86dd && ip2.len() >= 8 && ip2[7] > 0 {
                    ip2[7] -= 1;
                }
                l2.extend_from_slice(&ip2);
                assert_eq!(
                    compute_meta(&l2).content_hash,
                    meta.content_hash,
                    "{}: mirrored copy",
                    p.display()
                );
                if et == 0x0800 {
                    v4 += 1;
                    if ip2.len() >= 6 {
                        let mut l2 = eth(0x77, 0x88, &[], et);
                        ip2[5] ^= 1;
                        l2.extend_from_slice(&ip2);
                        assert_ne!(
                            compute_meta(&l2).content_hash,
                            meta.content_hash,
                            "{}: other IPv4 ID",
                            p.display()
                        );
                    }
                } else {
                    v6 += 1;
                }
            }
        }
        eprintln!("content_hash on the corpus: {files} files, {v4} IPv4 and {v6} IPv6 frames");
        assert!(v4 > 1000 && v6 > 10, "the corpus has IP frames");
    }
}
