//! Packet decoding: typed, zero-copy views over a captured frame, in the style of smoltcp's
//! `wire` module, and a single-pass [`decode`] that walks link, encapsulation, network and
//! transport headers the way argus 3.0.8 models them.
//!
//! The decoder never allocates and never reads past the captured bytes: every header access is
//! bounds-checked against the slice, and a frame cut short by the snap length yields whatever
//! layers were complete (argus' `STRUCTCAPTURED` rule).

pub mod linktype;

/// Encapsulation bits of the ENCAPS DSR (ref/argus-format.md section 10).
pub mod encaps {
    pub const MPLS: u32 = 0x1;
    pub const ETHER: u32 = 0x2;
    pub const DOT1Q: u32 = 0x4;
    pub const LLC: u32 = 0x8;
    pub const PPP: u32 = 0x10;
    pub const GRE: u32 = 0x40;
    pub const AH: u32 = 0x80;
    pub const SLL: u32 = 0x2000;
    pub const FDDI: u32 = 0x4000;
    pub const IEEE80211: u32 = 0x20000;
    pub const ERSPAN2: u32 = 0x0400_0000;
}

pub const ETHERTYPE_IP: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_REVARP: u16 = 0x8035;
pub const ETHERTYPE_8021Q: u16 = 0x8100;
pub const ETHERTYPE_8021AD: u16 = 0x88a8;
pub const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_MPLS: u16 = 0x8847;
pub const ETHERTYPE_MPLS_MULTI: u16 = 0x8848;
pub const ETHERTYPE_PPPOED: u16 = 0x8863;
pub const ETHERTYPE_PPPOES: u16 = 0x8864;
pub const ETHERTYPE_TEB: u16 = 0x6558;
pub const ETHERTYPE_ERSPAN2: u16 = 0x88be;

#[inline(always)]
pub fn be16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(off)?, *b.get(off + 1)?]))
}

#[inline(always)]
pub fn be32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

#[inline(always)]
fn mac_at(b: &[u8], off: usize) -> Option<[u8; 6]> {
    let s = b.get(off..off + 6)?;
    let mut m = [0u8; 6];
    m.copy_from_slice(s);
    Some(m)
}

/// Ethernet-like link header: what the MAC DSR and non-IP flow keys need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EtherHdr {
    pub dst: [u8; 6],
    pub src: [u8; 6],
    /// EtherType, or the 802.3 length field for LLC frames.
    pub etype: u16,
}

/// The network layer argus keys the flow on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Net {
    /// Nothing usable (truncated, unknown link type).
    #[default]
    None,
    /// IPv4 header at `off`.
    Ipv4 { off: usize },
    /// IPv6 header at `off`.
    Ipv6 { off: usize },
    /// ARP / RARP body at `off`.
    Arp { off: usize, rarp: bool },
    /// Non-IP frame keyed on the MAC header (LLC frames carry their SAPs).
    Ether { llc: Option<(u8, u8)> },
    /// IS-IS PDU (LLC SAP 0xFE) at `off`.
    Isis { off: usize },
    /// 802.11 frame without an IP payload: 802.11 header at `off`, and where argus reads the
    /// flow key (`key_off`, see `decode_80211`).
    Wlan { off: usize, key_off: usize },
}

/// One decoded frame. Offsets index into the frame slice it was decoded from.
///
/// argus' running length (`ArgusThisLength`) at a header at offset `off` is
/// [`Decoded::len_at`]`(off)`: the original frame length less everything before it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Decoded {
    pub net: Net,
    /// Link header to report (MAC DSR, non-IP keys); `None` for links without one.
    pub eth: Option<EtherHdr>,
    pub encaps: u32,
    /// 802.1Q TCI of the innermost tag seen.
    pub vlan_tci: Option<u16>,
    /// First MPLS label stack entry and the number of entries.
    pub mpls: Option<u32>,
    pub mpls_count: u8,
    /// Bytes argus counts for this frame (wire length minus headers argus does not count).
    pub wire_len: u32,
    /// The frame's original length (link header included), plus the header bytes argus' walk
    /// fails to subtract from its running length (a GRE key: see `gre`).
    pub frame_len: u32,
    /// Where argus' header pointer (`ArgusThisUpHdr`) stopped: the first byte after the headers
    /// it walked. Layer-2 flows take their user data from here.
    pub up: usize,
}

impl Decoded {
    /// argus' `ArgusThisLength` at the header at `off`.
    pub fn len_at(&self, off: usize) -> u32 {
        self.frame_len.saturating_sub(off as u32)
    }
}

/// Decode a frame of the given pcap link type. `len` is the original wire length.
pub fn decode(linktype: u32, frame: &[u8], len: u32) -> Decoded {
    let mut d = Decoded {
        wire_len: len,
        frame_len: len,
        ..Default::default()
    };
    match linktype {
        linktype::ETHERNET => {
            decode_ether(&mut d, frame, 0, 0);
        }
        linktype::NULL | linktype::LOOP => {
            d.wire_len = len.saturating_sub(4);
            if frame.len() >= 4 {
                // DLT_NULL carries the AF in host order of the writer; DLT_LOOP in network order.
                let raw = [frame[0], frame[1], frame[2], frame[3]];
                let af = if linktype == linktype::LOOP {
                    u32::from_be_bytes(raw)
                } else {
                    let le = u32::from_le_bytes(raw);
                    if le < 256 {
                        le
                    } else {
                        u32::from_be_bytes(raw)
                    }
                };
                match af {
                    2 => d.net = ip_at(frame, 4),
                    10 | 24 | 28 | 30 => d.net = ip_at(frame, 4),
                    _ => {}
                }
            }
        }
        linktype::RAW | linktype::IPV4 | linktype::IPV6 | linktype::RAW_OLD => {
            d.net = ip_at(frame, 0);
        }
        linktype::LINUX_SLL => {
            d.wire_len = len.saturating_sub(16);
            // argus turns the cooked header into an Ethernet header before modelling.
            d.encaps |= encaps::SLL | encaps::ETHER;
            if let (Some(proto), Some(pkttype)) = (be16(frame, 14), be16(frame, 0)) {
                // argus (ArgusSllPacket): source = the first 6 address bytes whatever the
                // address length; destination made up from the packet type.
                let src = mac_at(frame, 6).unwrap_or_default();
                let dst = match pkttype {
                    1 => [0xff; 6],          // broadcast
                    2 => [1, 0, 0, 0, 0, 0], // multicast
                    4 => [0; 6],             // outgoing
                    _ => [0, 0, 0, 0, 0, 1], // to us, to another host
                };
                d.eth = Some(EtherHdr {
                    dst,
                    src,
                    etype: proto,
                });
                decode_ethertype(&mut d, frame, 16, proto, 0);
            }
        }
        linktype::LINUX_SLL2 => {
            d.wire_len = len.saturating_sub(20);
            d.encaps |= encaps::SLL | encaps::ETHER;
            if let (Some(proto), Some(&halen)) = (be16(frame, 0), frame.get(11)) {
                let mut src = [0u8; 6];
                if let Some(a) = frame.get(12..12 + (halen as usize).min(6)) {
                    src[..a.len()].copy_from_slice(a);
                }
                d.eth = Some(EtherHdr {
                    dst: [0; 6],
                    src,
                    etype: proto,
                });
                decode_ethertype(&mut d, frame, 20, proto, 0);
            }
        }
        linktype::PPP | linktype::PPP_HDLC | linktype::PPP_ETHER => {
            d.encaps |= encaps::PPP;
            decode_ppp(&mut d, frame, 0, len);
        }
        linktype::FDDI => {
            d.encaps |= encaps::FDDI;
            // FC (1) + dst (6) + src (6), then LLC.
            if let (Some(dst), Some(src)) = (mac_at(frame, 1), mac_at(frame, 7)) {
                let (dst, src) = (bitswap_mac(dst), bitswap_mac(src));
                d.eth = Some(EtherHdr { dst, src, etype: 0 });
                decode_llc(&mut d, frame, 13);
            }
        }
        linktype::IEEE802_11 => decode_80211(&mut d, frame, 0, false),
        linktype::IEEE802_11_RADIOTAP => {
            // argus strips the radiotap header before modelling: it is not counted.
            if let Some((hlen, datapad)) = radiotap(frame) {
                d.wire_len = len.saturating_sub(hlen as u32);
                decode_80211(&mut d, frame, hlen, datapad);
            }
        }
        _ => {}
    }
    d
}

/// FDDI captures store MAC addresses bit-reversed per byte (libpcap's "bit-swapped" FDDI).
fn bitswap_mac(m: [u8; 6]) -> [u8; 6] {
    m.map(|b| b.reverse_bits())
}

/// Guess IPv4/IPv6 from the version nibble.
fn ip_at(frame: &[u8], off: usize) -> Net {
    match frame.get(off).map(|b| b >> 4) {
        Some(4) => Net::Ipv4 { off },
        Some(6) => Net::Ipv6 { off },
        _ => Net::None,
    }
}

fn decode_ether(d: &mut Decoded, frame: &[u8], off: usize, depth: u8) {
    let (dst, src, etype) = match (
        mac_at(frame, off),
        mac_at(frame, off + 6),
        be16(frame, off + 12),
    ) {
        (Some(dst), Some(src), Some(etype)) => (dst, src, etype),
        // A frame captured shorter than its Ethernet header (down to nothing at all): argus
        // (ArgusEtherPacket) reads the header from its zeroed packet buffer, so the missing
        // bytes are zero. Its buffer is zeroed only before the first packet; afterwards it
        // reads the previous frame's bytes (docs/compat.md). A record of wire length 0 is no
        // packet at all, for argus as for us.
        _ if off == 0 && depth == 0 && d.wire_len > 0 => {
            let mut h = [0u8; 14];
            let n = frame.len().min(14);
            h[..n].copy_from_slice(&frame[..n]);
            let mac = |o: usize| [h[o], h[o + 1], h[o + 2], h[o + 3], h[o + 4], h[o + 5]];
            (mac(0), mac(6), u16::from_be_bytes([h[12], h[13]]))
        }
        _ => return,
    };
    d.encaps |= encaps::ETHER;
    d.up = off + 14;
    if d.eth.is_none() || depth > 0 {
        d.eth = Some(EtherHdr { dst, src, etype });
    }
    if etype <= 1500 {
        d.net = Net::Ether { llc: None };
        decode_llc(d, frame, off + 14);
    } else {
        decode_ethertype(d, frame, off + 14, etype, depth);
    }
}

/// 802.2 LLC (and SNAP) at `off`.
fn decode_llc(d: &mut Decoded, frame: &[u8], off: usize) {
    let (Some(&dsap), Some(&ssap), Some(&ctl)) =
        (frame.get(off), frame.get(off + 1), frame.get(off + 2))
    else {
        if d.net == Net::None {
            d.net = Net::Ether { llc: None };
        }
        return;
    };
    d.encaps |= encaps::LLC;
    // argus' pointer: past a SNAP header, 3 bytes for IS-IS, 3 (U format, 6 for an XID with
    // its format byte) or 4 bytes for other LLC; unmoved for IPX and a SNAP without UI.
    d.up = if (dsap, ssap) == (0xFF, 0xFF) || (dsap, ssap) == (0xAA, 0xAA) {
        off
    } else if ctl & 3 == 3 {
        if ctl & !0x10 == 0xAF && frame.get(off + 3) == Some(&0x81) {
            off + 6
        } else {
            off + 3
        }
    } else {
        off + 4
    };
    if dsap == 0xAA && ssap == 0xAA && ctl == 0x03 {
        if let Some(etype) = be16(frame, off + 6) {
            // argus rebuilds FDDI frames as Ethernet with the SNAP type; an Ethernet header
            // keeps its own type/length field (the MAC DSR reports it).
            if d.encaps & encaps::FDDI != 0 {
                if let Some(e) = d.eth.as_mut() {
                    e.etype = etype;
                }
            }
            d.net = Net::Ether { llc: None };
            decode_ethertype(d, frame, off + 8, etype, 0);
            // A SNAP frame argus does not model further stays a layer-2 flow keyed on its SAPs.
            if d.net == (Net::Ether { llc: None }) {
                d.net = Net::Ether {
                    llc: Some((dsap, ssap)),
                };
            }
            return;
        }
    }
    if dsap == 0xFE && ssap == 0xFE && ctl == 0x03 && frame.get(off + 3) == Some(&0x83) {
        d.net = Net::Isis { off: off + 3 };
        return;
    }
    d.net = Net::Ether {
        llc: Some((dsap, ssap)),
    };
}

fn decode_ethertype(d: &mut Decoded, frame: &[u8], off: usize, etype: u16, depth: u8) {
    d.up = off;
    match etype {
        ETHERTYPE_IP => {
            // argus models an IPv4-typed header whose version nibble says 6 as IPv6.
            if frame.len() >= off + 20
                && frame[off] >> 4 == 6
                && be16(frame, off + 2).unwrap_or(0) >= 20
            {
                d.net = Net::Ipv6 { off };
                return;
            }
            d.net = Net::Ipv4 { off };
            if depth < 8 {
                gre(d, frame, off, depth);
            }
        }
        ETHERTYPE_IPV6 => d.net = Net::Ipv6 { off },
        ETHERTYPE_ERSPAN2 if depth < 8 => {
            // ERSPAN type II: 8-byte header (version 1) then the mirrored Ethernet frame.
            if frame.get(off).map(|b| b >> 4) == Some(1) && frame.len() > off + 8 {
                d.encaps |= encaps::ERSPAN2;
                decode_ether(d, frame, off + 8, depth + 1);
            }
        }
        ETHERTYPE_ARP | ETHERTYPE_REVARP => {
            d.net = Net::Arp {
                off,
                rarp: etype == ETHERTYPE_REVARP,
            };
        }
        ETHERTYPE_8021Q | ETHERTYPE_8021AD | ETHERTYPE_QINQ_OLD => {
            d.encaps |= encaps::DOT1Q;
            let (Some(tci), Some(inner)) = (be16(frame, off), be16(frame, off + 2)) else {
                d.net = Net::Ether { llc: None };
                return;
            };
            d.vlan_tci = Some(tci);
            if inner <= 1500 {
                d.net = Net::Ether { llc: None };
                decode_llc(d, frame, off + 4);
            } else if depth < 8 {
                decode_ethertype(d, frame, off + 4, inner, depth + 1);
            }
        }
        ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTI => {
            let mut o = off;
            let mut n = 0u8;
            loop {
                let Some(lse) = be32(frame, o) else {
                    d.net = Net::None;
                    return;
                };
                if n == 0 {
                    d.mpls = Some(lse);
                }
                n = n.saturating_add(1);
                d.encaps |= encaps::MPLS;
                o += 4;
                // argus walks the stack until the bottom-of-stack bit, however deep.
                if lse & 0x100 != 0 {
                    break;
                }
            }
            d.mpls_count = n;
            d.up = o;
            // argus guesses the payload (ArgusDiscoverNetworkProtocol): IPv4 with a sane header
            // length, IPv6 with a payload length up to 2048, an 802.1Q tag, else Ethernet.
            let v = frame.get(o).copied().unwrap_or(0);
            if v >> 4 == 4 && v & 0x0f >= 5 && be16(frame, o + 2).unwrap_or(0) >= 20 {
                decode_ethertype(d, frame, o, ETHERTYPE_IP, depth + 1);
            } else if v >> 4 == 6 && be16(frame, o + 4).unwrap_or(u16::MAX) <= 2048 {
                d.net = Net::Ipv6 { off: o };
            } else if matches!(
                be16(frame, o + 2),
                Some(ETHERTYPE_IP) | Some(ETHERTYPE_IPV6)
            ) {
                if depth < 8 {
                    decode_ethertype(d, frame, o, ETHERTYPE_8021Q, depth + 1);
                }
            } else if depth < 8 {
                decode_ether(d, frame, o, depth + 1);
            }
        }
        ETHERTYPE_PPPOES => {
            d.encaps |= encaps::ETHER | encaps::PPP;
            let Some(pproto) = be16(frame, off + 6) else {
                return;
            };
            d.up = off + 8;
            match pproto {
                0x0021 => d.net = Net::Ipv4 { off: off + 8 },
                0x0057 => d.net = Net::Ipv6 { off: off + 8 },
                _ => d.net = Net::Ether { llc: None },
            }
        }
        ETHERTYPE_TEB if depth < 8 => decode_ether(d, frame, off, depth + 1),
        _ => d.net = Net::Ether { llc: None },
    }
}

/// Follow a GRE tunnel in the IPv4 packet at `off` (argus keys the flow on the inner packet).
fn gre(d: &mut Decoded, frame: &[u8], off: usize, depth: u8) {
    let Some(ip) = Ipv4::new(frame.get(off..).unwrap_or(&[])) else {
        return;
    };
    if ip.proto() != 47 || ip.total_len() < 20 {
        return;
    }
    let g = off + ip.ihl();
    let (Some(flags), Some(proto)) = (be16(frame, g), be16(frame, g + 2)) else {
        return;
    };
    d.encaps |= encaps::GRE;
    let mut p = g + 4;
    match flags & 7 {
        0 => {
            if flags & 0xC000 != 0 {
                p += 4;
            }
            if flags & 0x2000 != 0 {
                p += 4;
            }
            if flags & 0x1000 != 0 {
                p += 4;
            }
        }
        1 => {
            if flags & 0x2000 != 0 {
                p += 4;
            }
            if flags & 0x1000 != 0 {
                p += 4;
            }
            if flags & 0x0080 != 0 {
                p += 4;
            }
        }
        _ => {}
    }
    d.up = p;
    if flags & 7 <= 1 && flags & 0x2000 != 0 {
        // argus steps over a GRE key but subtracts 4 from the header length instead of adding
        // 4: its running length ends up 8 bytes longer than what follows.
        d.frame_len = d.frame_len.saturating_add(8);
    }
    match proto {
        ETHERTYPE_IP | ETHERTYPE_IPV6 | ETHERTYPE_TEB | ETHERTYPE_ERSPAN2 | ETHERTYPE_MPLS
        | ETHERTYPE_8021Q | ETHERTYPE_ARP => {
            if proto == ETHERTYPE_TEB {
                decode_ether(d, frame, p, depth + 1);
            } else {
                decode_ethertype(d, frame, p, proto, depth + 1);
            }
        }
        _ => {}
    }
}

fn decode_ppp(d: &mut Decoded, frame: &[u8], mut off: usize, len: u32) {
    let mut hdr = 0u32;
    if be16(frame, off) == Some(0xff03) {
        off += 2;
        hdr += 2;
    }
    let proto = match frame.get(off) {
        Some(&b) if b & 1 == 1 => {
            off += 1;
            hdr += 1;
            b as u16
        }
        Some(_) => {
            let Some(p) = be16(frame, off) else { return };
            off += 2;
            hdr += 2;
            p
        }
        None => return,
    };
    d.wire_len = len.saturating_sub(hdr);
    match proto {
        0x0021 => d.net = Net::Ipv4 { off },
        0x0057 => d.net = Net::Ipv6 { off },
        0x0281 | 0x0283 => decode_ethertype(d, frame, off, ETHERTYPE_MPLS, 0),
        _ => {}
    }
}

/// 802.11 frame at `off` (argus `ArgusProcess80211Hdr` + `ArgusProcessLLCHdr`). `datapad`:
/// the radiotap DATAPAD flag (the body starts on a 4-byte boundary).
///
/// argus models IP, IPv6 and ARP carried in LLC/SNAP; every other frame becomes an 802.11 flow
/// whose key argus reads at its current header pointer (`Net::Wlan::key_off`): the 802.11
/// header itself for management, control, protected and null frames, but the bytes after the
/// SNAP header for other data frames (and, for non-SNAP LLC, 3 or 4 bytes into the 802.11
/// header: argus advances its pointer from the frame start there).
fn decode_80211(d: &mut Decoded, frame: &[u8], off: usize, datapad: bool) {
    d.encaps |= encaps::IEEE80211;
    let Some(fc) = frame
        .get(off..off + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
    else {
        return;
    };
    d.net = Net::Wlan { off, key_off: off };
    let ftype = (fc >> 2) & 3;
    let subtype = (fc >> 4) & 0xF;
    if ftype != 2 || subtype & 0x4 != 0 {
        return;
    }
    let mut hlen = wlan_header_len(fc);
    if datapad {
        hlen = hlen.div_ceil(4) * 4;
    }
    if fc & 0x4000 != 0 {
        return;
    }
    let llc = off + hlen;
    let (Some(&dsap), Some(&ssap), Some(&ctl)) =
        (frame.get(llc), frame.get(llc + 1), frame.get(llc + 2))
    else {
        return;
    };
    d.encaps |= encaps::LLC;
    if dsap == 0xAA && ssap == 0xAA {
        if ctl != 0x03 {
            return;
        }
        let Some(etype) = be16(frame, llc + 6) else {
            return;
        };
        d.net = Net::Wlan {
            off,
            key_off: llc + 8,
        };
        match etype {
            ETHERTYPE_IP | ETHERTYPE_IPV6 | ETHERTYPE_ARP | ETHERTYPE_REVARP => {
                decode_ethertype(d, frame, llc + 8, etype, 0)
            }
            _ => {}
        }
    } else if dsap == 0xFF && ssap == 0xFF {
        // IPX: argus stops without moving its pointer.
    } else if ctl & 3 == 3 {
        let mut k = off + 3;
        if ctl & !0x10 == 0xAF && frame.get(k) == Some(&0x81) {
            k += 3;
        }
        d.net = Net::Wlan { off, key_off: k };
    } else {
        d.net = Net::Wlan {
            off,
            key_off: off + 4,
        };
    }
}

/// argus `ArgusExtract802_11HeaderLength`.
pub fn wlan_header_len(fc: u16) -> usize {
    match (fc >> 2) & 3 {
        0 => 24,
        1 => match (fc >> 4) & 0xF {
            10 | 11 | 14 | 15 => 16,
            12 | 13 => 10,
            _ => 0,
        },
        2 => {
            let mut len = if fc & 0x0300 == 0x0300 { 30 } else { 24 };
            if (fc >> 4) & 0x8 != 0 {
                len += 2;
            }
            len
        }
        _ => 0,
    }
}

/// Radiotap header: its length and whether the flags field says the 802.11 body is padded to a
/// 4-byte boundary (IEEE80211_RADIOTAP_F_DATAPAD). `None` if the header is unusable.
fn radiotap(frame: &[u8]) -> Option<(usize, bool)> {
    let hlen = u16::from_le_bytes([*frame.get(2)?, *frame.get(3)?]) as usize;
    if hlen < 8 || frame.len() < hlen {
        return None;
    }
    // Present bitmaps chain through bit 31; fields follow the last one, naturally aligned.
    let mut p = 4;
    let first = u32::from_le_bytes(frame.get(4..8)?.try_into().ok()?);
    let mut word = first;
    while word & 0x8000_0000 != 0 {
        p += 4;
        word = u32::from_le_bytes(frame.get(p..p + 4)?.try_into().ok()?);
    }
    p += 4;
    let mut datapad = false;
    if first & 0x2 != 0 {
        if first & 0x1 != 0 {
            p = p.div_ceil(8) * 8 + 8; // TSFT, u64
        }
        if p < hlen {
            datapad = frame.get(p).is_some_and(|f| f & 0x20 != 0);
        }
    }
    Some((hlen, datapad))
}

/// IPv4 header view.
pub struct Ipv4<'a>(pub &'a [u8]);

impl<'a> Ipv4<'a> {
    /// A view if at least the 20-byte fixed header is captured.
    pub fn new(b: &'a [u8]) -> Option<Self> {
        (b.len() >= 20).then_some(Ipv4(b))
    }
    pub fn ihl(&self) -> usize {
        ((self.0[0] & 0x0f) as usize) * 4
    }
    pub fn tos(&self) -> u8 {
        self.0[1]
    }
    pub fn total_len(&self) -> u16 {
        u16::from_be_bytes([self.0[2], self.0[3]])
    }
    pub fn id(&self) -> u16 {
        u16::from_be_bytes([self.0[4], self.0[5]])
    }
    pub fn frag_off(&self) -> u16 {
        u16::from_be_bytes([self.0[6], self.0[7]])
    }
    pub fn ttl(&self) -> u8 {
        self.0[8]
    }
    pub fn proto(&self) -> u8 {
        self.0[9]
    }
    pub fn src(&self) -> [u8; 4] {
        [self.0[12], self.0[13], self.0[14], self.0[15]]
    }
    pub fn dst(&self) -> [u8; 4] {
        [self.0[16], self.0[17], self.0[18], self.0[19]]
    }
    /// Option bytes (may be cut short by the snap length).
    pub fn options(&self) -> &'a [u8] {
        let end = self.ihl().min(self.0.len());
        if end > 20 {
            &self.0[20..end]
        } else {
            &[]
        }
    }
}

/// argus' IP-option indicator bits (IPATTR options mask).
pub fn ip_option_bits(mut opts: &[u8]) -> u32 {
    let mut bits = 0u32;
    while let Some(&kind) = opts.first() {
        bits |= match kind {
            148 => 0x40, // router alert
            68 => 0x02,  // timestamp
            7 => 0x01,   // record route
            130 => 0x04, // security
            131 => 0x08, // loose source route
            137 => 0x20, // strict source route
            136 => 0x10, // SATID
            _ => 0,
        };
        if kind == 0 || kind == 1 {
            opts = &opts[1..];
            continue;
        }
        match opts.get(1) {
            Some(&l) if l as usize >= 1 && (l as usize) <= opts.len() => opts = &opts[l as usize..],
            _ => break,
        }
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(etype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        f.extend_from_slice(&etype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn vlan_qinq_mpls() {
        let mut inner = vec![0x45u8; 20];
        inner[0] = 0x45;
        let mut p = vec![
            0x20, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x88, 0x47, 0x00, 0x01, 0xd1, 0xff,
        ];
        p.extend_from_slice(&inner);
        let f = eth(0x88a8, &p);
        let d = decode(linktype::ETHERNET, &f, f.len() as u32);
        assert_eq!(d.vlan_tci, Some(0x0014));
        assert_eq!(d.mpls, Some(0x0001_d1ff));
        assert_eq!(d.net, Net::Ipv4 { off: 26 });
        assert_eq!(d.encaps, encaps::ETHER | encaps::DOT1Q | encaps::MPLS);
    }

    #[test]
    fn truncated_frames_do_not_panic() {
        let f = eth(0x0800, &[0x45]);
        for n in 0..f.len() {
            for lt in [0u32, 1, 9, 10, 101, 105, 113, 127, 276] {
                let _ = decode(lt, &f[..n], 60);
            }
        }
    }

    #[test]
    fn deep_mpls_stack_is_walked_to_bottom_of_stack() {
        // 16 labels without the bottom-of-stack bit, then one with it, then IPv4.
        let mut p = Vec::new();
        for _ in 0..16 {
            p.extend_from_slice(&[0x00, 0x01, 0x00, 0x40]);
        }
        p.extend_from_slice(&[0x00, 0x01, 0x01, 0x40]);
        let mut ip = vec![0u8; 20];
        ip[0] = 0x45;
        ip[3] = 20;
        p.extend_from_slice(&ip);
        let f = eth(ETHERTYPE_MPLS, &p);
        let d = decode(linktype::ETHERNET, &f, f.len() as u32);
        assert_eq!(d.net, Net::Ipv4 { off: 14 + 17 * 4 });
        assert_eq!(d.mpls, Some(0x0001_0040));
    }

    #[test]
    fn ipv4_type_with_version_6_is_ipv6() {
        let mut ip = vec![0u8; 40];
        ip[0] = 0x67;
        ip[3] = 0x34;
        let f = eth(ETHERTYPE_IP, &ip);
        let d = decode(linktype::ETHERNET, &f, f.len() as u32);
        assert_eq!(d.net, Net::Ipv6 { off: 14 });
    }

    #[test]
    fn wlan_key_pointer() {
        // Radiotap (8 bytes, no fields), then a data frame with LLC/SNAP EAPOL: argus reads its
        // key after the SNAP header.
        let mut f = vec![0, 0, 8, 0, 0, 0, 0, 0];
        f.extend_from_slice(&[0x08, 0x01, 0, 0]);
        f.extend_from_slice(&[1; 18]);
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(&[0xAA, 0xAA, 0x03, 0, 0, 0, 0x88, 0x8e, 1, 2, 3]);
        let d = decode(linktype::IEEE802_11_RADIOTAP, &f, f.len() as u32);
        assert_eq!(
            d.net,
            Net::Wlan {
                off: 8,
                key_off: 8 + 24 + 8
            }
        );
        assert_eq!(d.wire_len, f.len() as u32 - 8);
        assert_eq!(d.encaps, encaps::IEEE80211 | encaps::LLC);
        // A protected data frame is keyed on its own header.
        f[9] = 0x41;
        let d = decode(linktype::IEEE802_11_RADIOTAP, &f, f.len() as u32);
        assert_eq!(d.net, Net::Wlan { off: 8, key_off: 8 });
    }

    #[test]
    fn llc_stp() {
        let mut f = vec![1, 0x80, 0xc2, 0, 0, 0, 0, 0x19, 6, 0xea, 0xb8, 0x8c, 0, 39];
        f.extend_from_slice(&[0x42, 0x42, 0x03, 0, 0]);
        let d = decode(linktype::ETHERNET, &f, 60);
        assert_eq!(
            d.net,
            Net::Ether {
                llc: Some((0x42, 0x42))
            }
        );
        assert_eq!(d.encaps, encaps::ETHER | encaps::LLC);
    }
}
