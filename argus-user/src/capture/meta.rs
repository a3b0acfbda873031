//! The metadata the XDP program writes in front of each frame ([`XdpMeta`]), recomputed in user
//! space for frames that did not pass through XDP (pcap files, AF_PACKET) and to check the
//! kernel's values in tests (`tests/live_xdp.rs`). Re-exported from `capture::xdp`.

use argus_common::{class, meta_flags, XdpMeta, XDP_META_MAGIC};

/// The shard hash the program computed, when it did (see [`meta_flags::SHARD_HASH`]): equal to
/// `engine::shard::frame_shard_hash` of the frame.
pub fn shard_hash(meta: &XdpMeta) -> Option<u32> {
    (meta.flags & meta_flags::SHARD_HASH != 0).then_some(meta.shard_hash)
}

/// The metadata the XDP program writes for `frame`, computed in user space the same way (for
/// frames that did not pass through XDP, and to check the kernel's values in tests).
pub fn compute_meta(frame: &[u8]) -> XdpMeta {
    use argus_common::{shard_hash_v4, shard_hash_v6, sym_hash_mac, sym_hash_v4, sym_hash_v6};
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
            let l4 = l3 + 40;
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
}
