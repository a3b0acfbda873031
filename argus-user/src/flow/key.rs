//! Flow key construction (argus `ArgusCreateFlow` and friends): from a decoded frame to the
//! normalised key argus stores, the direction of this packet relative to that key, and the
//! per-packet facts the flow update needs. No allocation.

use super::tcp::TcpSeg;
use super::timeouts;
use crate::record::{FlowDsr, FlowKey, NetworkDsr};
use crate::wire::{self, be16, be32, Decoded, Ipv4, Net};

/// Normalised key bytes as written in the FLOW DSR body (hash key of the flow table).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyBytes {
    pub kind: u8,
    pub qual: u8,
    pub len: u8,
    pub b: [u8; 52],
}

impl Default for KeyBytes {
    fn default() -> Self {
        KeyBytes {
            kind: 0,
            qual: 0,
            len: 0,
            b: [0; 52],
        }
    }
}

impl std::fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Key({:02x}/{:02x} {:02x?})",
            self.kind,
            self.qual,
            &self.b[..self.len as usize]
        )
    }
}

/// Layer-4 facts of one packet.
#[derive(Clone, Copy, Debug, Default)]
pub enum L4<'a> {
    #[default]
    None,
    Tcp(TcpSeg<'a>),
    Icmp {
        icmp_type: u8,
        code: u8,
        seq: u16,
        inner: Option<(u32, u32, u32)>,
        /// ICMPv4 errors: the quoted datagram as captured, from its IP header on (at least
        /// the 20 bytes of that header; empty otherwise), for [`super::icmp_map`].
        quote: &'a [u8],
    },
    ArpReply {
        sha: [u8; 6],
    },
}

/// Everything the flow update needs to know about one packet.
#[derive(Clone, Copy, Debug, Default)]
pub struct PacketKey<'a> {
    pub key: KeyBytes,
    /// argus `model->state & ARGUS_DIRECTION`: the key holds this packet's addresses swapped.
    pub reverse: bool,
    pub timeout: u32,
    pub is_ip: bool,
    pub ttl: u8,
    pub tos: u8,
    pub ipid: u16,
    pub ip_options: u32,
    pub l4: L4<'a>,
    /// argus `ArgusThisLength` after the transport header: application bytes of this packet.
    pub app_len: u32,
    /// Captured application bytes (for `-U`).
    pub payload: &'a [u8],
    pub fragment: bool,
    /// argus sets the DIRECTION qualifier bit on keys it reversed for ICMP replies and fragments
    /// (not part of the hash key).
    pub dir_qual: bool,
    /// A non-first IPv4 fragment: what argus' fragment object accounts.
    pub frag: Option<FragInfo>,
    /// The first fragment of an IPv4 datagram (more-fragments set, offset 0): it carries the
    /// transport header and keys like an unfragmented packet, and marks its direction of the
    /// flow as fragmented (argus `ARGUS_IPATTR_SRC/DST_FRAGMENTS`, ArgusModeler.c).
    pub first_fragment: bool,
    /// Leading 32-bit words of `payload` that argus byte-swapped in place before taking its
    /// user data (ESP's SPI and sequence number).
    pub swapped_words: u8,
    /// IP packets: the captured bytes from the IP header on, and the EtherType they hash
    /// under (0x0800 / 0x86DD), for the duplicate detector's content hash. Empty otherwise.
    pub l3: &'a [u8],
    pub l3_type: u16,
    /// The content hash, computed by [`classify`] while the frame is in cache when duplicate
    /// detection is on ([`super::dup::set_hashing`]); 0 otherwise.
    pub chash: u32,
}

impl PacketKey<'_> {
    /// The duplicate-detection content hash of this packet (`capture::meta::content_hash` of
    /// the frame at its IP header); 0 for packets that are not IP.
    #[inline]
    pub fn content_hash(&self) -> u32 {
        if self.chash != 0 {
            self.chash
        } else if self.l3.is_empty() {
            0
        } else {
            argus_common::content_hash(self.l3, 0, self.l3_type)
        }
    }
}

/// One non-first IPv4 fragment: byte offset, payload length, more-fragments flag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FragInfo {
    pub offset: u32,
    pub len: u32,
    pub more: bool,
}

/// argus' fragment object (`ArgusFragObject`, `ArgusUpdateFRAGState` in ArgusFrag.c) of a flow
/// keyed on IPv4 fragments: fragment count, new and total payload bytes, the datagram length
/// once the last fragment is seen, the largest fragment, the covered byte ranges, and the
/// parent flow it is linked to ([`super::frag_join`]). It is written as NETWORK DSR subtype
/// 0x45 when the fragment flow is reported alone.
///
/// Overlap qualifiers are not kept, and when the covered range is not contiguous argus writes
/// a heap pointer in the object where we write zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FragState {
    fragnum: u32,
    bytes: u32,
    totbytes: u32,
    totlen: u16,
    maxfraglen: u16,
    /// Disjoint covered ranges, ascending; `n` of them in use.
    chunks: [(u32, u32); 8],
    n: u8,
    /// A fragment overlapped bytes seen before without repeating a covered range exactly
    /// (argus `ARGUS_FRAGOVERLAP`, ra's `V`).
    overlap: bool,
    /// The datagram's flow, once its first fragment was seen.
    pub link: Option<super::frag_join::Link>,
}

impl FragState {
    pub fn update(&mut self, f: FragInfo) {
        self.add(f, f.len);
    }

    /// The first fragment, counted in its own flow: its `len` bytes of IP payload cover the
    /// datagram's start; argus' total counts its `app_len` bytes past the transport header.
    pub fn add_first(&mut self, len: u32, app_len: u32) {
        self.add(
            FragInfo {
                offset: 0,
                len,
                more: true,
            },
            app_len,
        );
    }

    /// argus `ArgusZeroRecord` of a fragment flow: everything but the link to its parent.
    pub fn clear(&mut self) {
        *self = FragState {
            link: self.link,
            ..Default::default()
        };
    }

    /// Every byte of the datagram seen (argus: `totlen == bytes` once the last fragment gave
    /// the length).
    pub fn complete(&self) -> bool {
        self.totlen != 0 && self.totlen as u32 == self.bytes
    }

    fn add(&mut self, f: FragInfo, total: u32) {
        let (off, end) = (f.offset, f.offset.saturating_add(f.len));
        self.totbytes = self.totbytes.wrapping_add(total);
        // New bytes: the part of [off, end) no chunk covers yet.
        let mut covered = 0u32;
        let mut exact = false;
        for &(s, e) in &self.chunks[..self.n as usize] {
            let (a, b) = (s.max(off), e.min(end));
            if a < b {
                covered += b - a;
            }
            exact |= (s, e) == (off, end);
        }
        if covered > 0 && !exact {
            self.overlap = true;
        }
        self.bytes = self.bytes.wrapping_add((end - off) - covered);
        self.insert(off, end);
        self.fragnum = self.fragnum.wrapping_add(1);
        if f.len > self.maxfraglen as u32 {
            self.maxfraglen = f.len as u16;
        }
        if !f.more {
            self.totlen = end as u16;
        }
    }

    fn insert(&mut self, mut off: u32, mut end: u32) {
        let n = self.n as usize;
        let mut out = [(0u32, 0u32); 8];
        let mut m = 0;
        let mut placed = false;
        for &(s, e) in &self.chunks[..n] {
            if e < off {
                out[m] = (s, e);
                m += 1;
            } else if end < s {
                if !placed && m < out.len() {
                    out[m] = (off, end);
                    m += 1;
                    placed = true;
                }
                if m < out.len() {
                    out[m] = (s, e);
                    m += 1;
                }
            } else {
                off = off.min(s);
                end = end.max(e);
            }
        }
        if !placed {
            if m < out.len() {
                out[m] = (off, end);
                m += 1;
            } else if let Some(last) = out.last_mut() {
                last.1 = last.1.max(end);
            }
        }
        self.chunks = out;
        self.n = m as u8;
    }

    /// The NETWORK DSR argus writes: its in-memory object, host (little-endian) order.
    pub fn to_dsr(&self) -> NetworkDsr {
        let mut b = Vec::with_capacity(52);
        b.extend_from_slice(&self.fragnum.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes()); // frag_id: set only on expected fragments
        b.extend_from_slice(&0u32.to_le_bytes()); // startbytes
        b.extend_from_slice(&self.bytes.to_le_bytes());
        b.extend_from_slice(&self.totbytes.to_le_bytes());
        b.extend_from_slice(&self.totlen.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes()); // currlen
        b.extend_from_slice(&self.maxfraglen.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes()); // pad
        b.extend_from_slice(&[0u8; 16]); // parent and next-chunk pointers
        let (s, e) = if self.n > 0 { self.chunks[0] } else { (0, 0) };
        b.extend_from_slice(&s.to_le_bytes());
        b.extend_from_slice(&e.to_le_bytes());
        NetworkDsr::Other {
            subtype: 0x45,
            qual: if self.overlap { 0x02 } else { 0 },
            body: b,
        }
    }
}

impl PacketKey<'_> {
    /// The FLOW DSR for a new flow created by this packet.
    pub fn dsr(&self) -> FlowDsr {
        let b = &self.key.b;
        let key = match self.key.qual & 0x1f {
            0x01 => FlowKey::Ipv4 {
                src: [b[0], b[1], b[2], b[3]],
                dst: [b[4], b[5], b[6], b[7]],
                proto: b[8],
                tp_p: b[9],
                sport: u16::from_be_bytes([b[10], b[11]]),
                dport: u16::from_be_bytes([b[12], b[13]]),
                smask: b[14],
                dmask: b[15],
            },
            0x02 => {
                let mut src = [0u8; 16];
                let mut dst = [0u8; 16];
                src.copy_from_slice(&b[0..16]);
                dst.copy_from_slice(&b[16..32]);
                FlowKey::Ipv6 {
                    src,
                    dst,
                    proto: b[32],
                    flow_label: u32::from_be_bytes([0, b[33] & 0x0f, b[34], b[35]]),
                    sport: u16::from_be_bytes([b[36], b[37]]),
                    dport: u16::from_be_bytes([b[38], b[39]]),
                    masks: None,
                }
            }
            0x03 => FlowKey::Ether {
                dst: [b[0], b[1], b[2], b[3], b[4], b[5]],
                src: [b[6], b[7], b[8], b[9], b[10], b[11]],
                etype: u16::from_be_bytes([b[12], b[13]]),
                dsap: b[14],
                ssap: b[15],
            },
            0x04 if self.key.kind == 0x06 => FlowKey::Arp {
                hrd: u16::from_be_bytes([b[0], b[1]]),
                pro: u16::from_be_bytes([b[2], b[3]]),
                hln: b[4],
                pln: b[5],
                op: u16::from_be_bytes([b[6], b[7]]),
                spa: [b[8], b[9], b[10], b[11]],
                tpa: [b[12], b[13], b[14], b[15]],
                sha: [b[16], b[17], b[18], b[19], b[20], b[21]],
            },
            _ => FlowKey::Raw(b[..self.key.len as usize].to_vec()),
        };
        let qual = if self.dir_qual {
            self.key.qual | 0x20
        } else {
            self.key.qual
        };
        FlowDsr {
            kind: self.key.kind,
            reverse: self.reverse,
            qual,
            key,
        }
    }
}

/// Build the key for a decoded frame, or `None` if argus would not model it.
pub fn classify<'a>(frame: &'a [u8], d: &Decoded) -> Option<PacketKey<'a>> {
    classify_with(frame, d, 0)
}

/// [`classify`] with the content hash the XDP program computed for the frame (0: none). The
/// kernel's hash is taken only for frames of the shapes whose L3 start it agrees on with
/// user space (`KernelHashes`); otherwise it is computed here.
#[inline]
pub fn classify_with<'a>(frame: &'a [u8], d: &Decoded, kernel_chash: u32) -> Option<PacketKey<'a>> {
    let mut pk = classify_only(frame, d);
    if super::dup::hashing() {
        if let Some(p) = pk.as_mut() {
            if kernel_chash != 0 {
                p.chash = kernel_chash;
            } else if !p.l3.is_empty() {
                p.chash = argus_common::content_hash(p.l3, 0, p.l3_type);
            }
        }
    }
    pk
}

fn classify_only<'a>(frame: &'a [u8], d: &Decoded) -> Option<PacketKey<'a>> {
    match d.net {
        Net::Ipv4 { off } => match ipv4(frame, off, d.up) {
            Some(pk) => Some(pk),
            None => ether_key(frame, d, None),
        },
        // argus drops an IPv6 packet it cannot key; we account it as a layer-2 flow
        // (docs/compat.md, deliberate differences).
        Net::Ipv6 { off } => match ipv6(frame, off, d.len_at(off)) {
            Some(pk) => Some(pk),
            None => ether_key(frame, d, None),
        },
        Net::Arp { off, rarp } => arp(frame, off, rarp)
            .map(|mut pk| {
                // argus: the frame length less the 28-byte Ethernet/IPv4 ARP body.
                pk.app_len = d.wire_len.saturating_sub(28);
                // Its user data starts past the 28-byte body, in the padding.
                pk.payload = frame.get(off + 28..).unwrap_or(&[]);
                pk
            })
            .or_else(|| ether_key(frame, d, None)),
        Net::Ether { llc } => ether_key(frame, d, llc),
        Net::Isis { off } => isis(frame, off, d),
        Net::Wlan { key_off, .. } => Some(wlan(frame, key_off, d)),
        Net::None => None,
    }
}

fn ether_key<'a>(frame: &'a [u8], d: &Decoded, llc: Option<(u8, u8)>) -> Option<PacketKey<'a>> {
    let e = d.eth?;
    let mut k = KeyBytes {
        kind: 0x01,
        qual: 0x03,
        len: 16,
        b: [0; 52],
    };
    // argus: reverse when the source MAC is greater than the destination at the first
    // differing byte.
    let reverse = e.src > e.dst;
    let (a, b) = if reverse {
        (e.src, e.dst)
    } else {
        (e.dst, e.src)
    };
    k.b[0..6].copy_from_slice(&a);
    k.b[6..12].copy_from_slice(&b);
    let etype = if llc.is_some() || d.encaps & wire::encaps::LLC != 0 {
        0
    } else {
        e.etype
    };
    k.b[12..14].copy_from_slice(&etype.to_be_bytes());
    if let Some((dsap, ssap)) = llc {
        if reverse {
            k.b[14] = ssap;
            k.b[15] = dsap;
        } else {
            k.b[14] = dsap;
            k.b[15] = ssap;
        }
    }
    Some(PacketKey {
        key: k,
        reverse,
        timeout: timeouts::OTHER,
        // argus resets its length to the whole frame for layer-2 flows; user data starts where
        // its header walk stopped.
        app_len: d.wire_len,
        payload: frame.get(d.up..).unwrap_or(&[]),
        ..Default::default()
    })
}

/// 802.11 flow key (argus `ArgusCreate80211Flow`, qual 0x08): the three address fields of a
/// management header read at `p` (destination, source, BSSID, as they stand: not normalised)
/// and, for association, probe and beacon frames, the SSID element. argus reads all of it at its
/// current header pointer, which for data frames is past the LLC/SNAP header; bytes past the
/// captured frame count as zero (argus reads whatever its capture buffer holds there).
fn wlan<'a>(frame: &'a [u8], p: usize, d: &Decoded) -> PacketKey<'a> {
    let byte = |o: usize| frame.get(o).copied().unwrap_or(0);
    let mut k = KeyBytes {
        kind: 0x01,
        qual: 0x08,
        len: 52,
        b: [0; 52],
    };
    for i in 0..18 {
        k.b[i] = byte(p + 4 + i);
    }
    let fc = u16::from_le_bytes([byte(p), byte(p + 1)]);
    if (fc >> 2) & 3 == 0 {
        let body = p + wire::wlan_header_len(fc);
        let fixed = match (fc >> 4) & 0xF {
            0 | 2 => Some(4),
            1 | 3 => Some(6),
            4 => Some(0),
            5 | 8 => Some(12),
            _ => None,
        };
        if let Some(fixed) = fixed {
            if let Some(ssid) = wlan_ssid(frame, body + fixed) {
                k.b[18..18 + ssid.len()].copy_from_slice(ssid);
            }
        }
    }
    PacketKey {
        key: k,
        reverse: false,
        timeout: timeouts::OTHER,
        // argus resets its length to the 802.11 frame length for these flows.
        app_len: d.wire_len,
        payload: frame.get(p..).unwrap_or(&[]),
        ..Default::default()
    }
}

/// The SSID found by argus' `ArgusParse80211MgmtBody` walk over the information elements at
/// `o`: it follows SSID, rates, DS, CF, TIM and challenge elements and stops at any other (or
/// at an oversized one); the last complete SSID element wins.
fn wlan_ssid(frame: &[u8], mut o: usize) -> Option<&[u8]> {
    let mut ssid = None;
    loop {
        let (Some(&id), Some(&len)) = (frame.get(o), frame.get(o + 1)) else {
            return ssid;
        };
        let len = len as usize;
        match id {
            0 => {
                if len > 32 {
                    return ssid;
                }
                ssid = Some(frame.get(o + 2..o + 2 + len).unwrap_or(&[]));
                o += 2 + len;
            }
            16 => {
                if len > 253 {
                    return ssid;
                }
                o += 2 + len;
            }
            1 => {
                if len > 16 {
                    return ssid;
                }
                o += 2 + len;
            }
            3 => o += 3,
            4 => o += 8,
            5 => {
                o += 5;
                if len > 3 {
                    if len - 3 > 251 {
                        return ssid;
                    }
                    o += len - 3;
                }
            }
            _ => return ssid,
        }
    }
}

/// IS-IS PDU at `off` (argus `ArgusCreateIsisFlow`): keyed on the PDU type, the MAC
/// addresses as seen (not normalised), the protocol version, the PDU's identifiers and a
/// checksum, so every distinct hello or sequence-number PDU is its own flow. A PDU argus does
/// not recognise falls back to argus' IS-IS flavour of the Ethernet key.
fn isis<'a>(frame: &'a [u8], off: usize, d: &Decoded) -> Option<PacketKey<'a>> {
    let e = d.eth?;
    // argus `ArgusThisLength` at the IS-IS header: the frame length less the headers before it.
    let this_len = d.len_at(off);
    let payload = frame.get(off..).unwrap_or(&[]);
    let mut k = KeyBytes {
        kind: 0x01,
        qual: 0x0a,
        len: 40,
        b: [0; 52],
    };
    let h = frame.get(off..off + 8);
    let mut ok = false;
    if let Some(h) = h {
        let (fixed_len, version, id_len, pdu_type, pdu_version) = (h[1], h[2], h[3], h[4], h[5]);
        if version == 1 && pdu_version == 1 && (id_len == 6 || id_len == 0) {
            let p = off + 8;
            let at = |o: usize, n: usize| frame.get(p + o..p + o + n);
            match pdu_type {
                // L1/L2 LAN hello: source id (6) and LAN id (7).
                15 | 16 if fixed_len == 8 + 19 => {
                    if let (Some(src), Some(lan)) = (at(1, 6), at(12, 7)) {
                        k.b[20..26].copy_from_slice(src);
                        k.b[26..33].copy_from_slice(lan);
                        k.b[36..38].copy_from_slice(&isis_cksum(frame, p, this_len).to_be_bytes());
                        ok = true;
                    }
                }
                // L1/L2 LSP: LSP id (8), sequence number (kept in host order by argus) and the
                // PDU's own checksum.
                18 | 20 if fixed_len == 8 + 19 => {
                    if let (Some(id), Some(seq), Some(ck)) =
                        (at(4, 8), be32(frame, p + 12), at(16, 2))
                    {
                        k.b[20..28].copy_from_slice(id);
                        k.b[28..32].copy_from_slice(&seq.to_le_bytes());
                        k.b[36..38].copy_from_slice(ck);
                        ok = true;
                    }
                }
                // L1/L2 CSNP and PSNP: source id (7).
                24..=27 if fixed_len == if pdu_type < 26 { 8 + 25 } else { 8 + 9 } => {
                    if let Some(src) = at(2, 7) {
                        k.b[20..27].copy_from_slice(src);
                        k.b[36..38].copy_from_slice(&isis_cksum(frame, p, this_len).to_be_bytes());
                        ok = true;
                    }
                }
                _ => {}
            }
            if ok {
                k.b[0..4].copy_from_slice(&(pdu_type as u32).to_be_bytes());
                k.b[4..10].copy_from_slice(&e.src);
                k.b[10..16].copy_from_slice(&e.dst);
                k.b[16] = version;
            }
        }
    }
    if !ok {
        // argus `ArgusCreateEtherFlow` (ArgusIsis.c): only the first address byte decides the
        // order, and the EtherType slot holds the IS-IS network type (131).
        k = KeyBytes {
            kind: 0x01,
            qual: 0x03,
            len: 16,
            b: [0; 52],
        };
        let reverse = e.src[0] > e.dst[0];
        let (a, b, s0, s1) = if reverse {
            (e.src, e.dst, 0xfe, 0xfe)
        } else {
            (e.dst, e.src, 0xfe, 0xfe)
        };
        k.b[0..6].copy_from_slice(&a);
        k.b[6..12].copy_from_slice(&b);
        k.b[12..14].copy_from_slice(&131u16.to_be_bytes());
        k.b[14] = s0;
        k.b[15] = s1;
        return Some(PacketKey {
            key: k,
            reverse,
            timeout: timeouts::OTHER,
            app_len: this_len,
            payload,
            ..Default::default()
        });
    }
    Some(PacketKey {
        key: k,
        reverse: false,
        timeout: timeouts::OTHER,
        app_len: this_len,
        payload,
        ..Default::default()
    })
}

/// argus' `isis_cksum` over the PDU after the common header: 16-bit big-endian words summed
/// Fletcher-style modulo 0xffff, the two sums ORed. argus starts at the even address at or
/// before the body (the frame buffer is aligned) and covers `ArgusThisLength - 8` bytes; bytes
/// past the captured frame count as zero.
fn isis_cksum(frame: &[u8], body: usize, this_len: u32) -> u16 {
    let start = body & !1;
    let tlen = this_len.saturating_sub(8) as usize;
    let words = tlen.div_ceil(2);
    // Words past the captured frame are zero: they leave c0 alone and add c0 to c1 each, so
    // they are folded in at once (a bogus length cannot make this loop long).
    let captured = frame.len().saturating_sub(start).div_ceil(2).min(words);
    let (mut c0, mut c1) = (0u64, 0u64);
    for i in 0..captured {
        let o = start + 2 * i;
        let w = u16::from_be_bytes([
            frame.get(o).copied().unwrap_or(0),
            frame.get(o + 1).copied().unwrap_or(0),
        ]);
        c0 = (c0 + w as u64) % 0xffff;
        c1 = (c1 + c0) % 0xffff;
    }
    let rest = (words - captured) as u64 % 0xffff;
    c1 = (c1 + c0 * rest) % 0xffff;
    (c0 | c1) as u16
}

fn arp(frame: &[u8], off: usize, rarp: bool) -> Option<PacketKey<'_>> {
    let a = frame.get(off..off + 8)?;
    let hrd = u16::from_be_bytes([a[0], a[1]]);
    let pro = u16::from_be_bytes([a[2], a[3]]);
    let hln = a[4] as usize;
    let pln = a[5] as usize;
    let op = u16::from_be_bytes([a[6], a[7]]);
    // argus requires the whole Ethernet/IPv4 ARP body (struct ether_arp) to be captured.
    let body = frame.get(off + 8..off + 8 + 2 * hln + 2 * pln)?;
    if rarp && (op == 3 || op == 4) && hln == 6 && pln == 4 {
        return Some(rarp_key(body, hrd, pro, op));
    }
    if !(op == 1 || op == 2) || pln != 4 || hln > 32 {
        return None;
    }
    let sha = &body[0..hln];
    let spa = &body[hln..hln + 4];
    let tha = &body[hln + 4..2 * hln + 4];
    let tpa = &body[2 * hln + 4..2 * hln + 8];
    let mut k = KeyBytes {
        kind: 0x06,
        qual: 0x04,
        len: 48,
        b: [0; 52],
    };
    k.b[0..2].copy_from_slice(&hrd.to_be_bytes());
    k.b[2..4].copy_from_slice(&pro.to_be_bytes());
    k.b[4] = hln as u8;
    k.b[5] = pln as u8;
    k.b[6..8].copy_from_slice(&1u16.to_be_bytes());
    let (reverse, l4) = if op == 1 {
        k.b[8..12].copy_from_slice(spa);
        k.b[12..16].copy_from_slice(tpa);
        k.b[16..16 + hln].copy_from_slice(sha);
        (false, L4::None)
    } else {
        k.b[8..12].copy_from_slice(tpa);
        k.b[12..16].copy_from_slice(spa);
        k.b[16..16 + hln].copy_from_slice(tha);
        let mut s = [0u8; 6];
        s[..hln.min(6)].copy_from_slice(&sha[..hln.min(6)]);
        (true, L4::ArpReply { sha: s })
    };
    Some(PacketKey {
        key: k,
        reverse,
        timeout: timeouts::ARP,
        l4,
        ..Default::default()
    })
}

/// Fill the TCP segment, application length and payload of `pk` from the TCP header at `l4b`
/// (`len`: transport length per the IP header). Needs the 20-byte fixed header captured.
fn tcp_segment<'a>(pk: &mut PacketKey<'a>, l4b: &'a [u8], len: u32, ip_ecn: u8, ipid: u16) {
    // argus ArgusUpdateTCPState moves its user-data pointer past the header only when the
    // fixed header is captured: otherwise the user data starts at the TCP header.
    pk.payload = l4b;
    let (Some(seq), Some(ack), Some(win), Some(&off_flags), Some(&flags)) = (
        be32(l4b, 4),
        be32(l4b, 8),
        be16(l4b, 14),
        l4b.get(12),
        l4b.get(13),
    ) else {
        return;
    };
    if l4b.len() < 20 {
        return;
    }
    let thl = ((off_flags >> 4) as usize) * 4;
    let options = l4b.get(20..thl.max(20).min(l4b.len())).unwrap_or(&[]);
    let payload_len = len.saturating_sub(thl as u32);
    pk.l4 = L4::Tcp(TcpSeg {
        seq,
        ack,
        flags,
        win,
        options,
        payload_len,
        ip_ecn,
        ipid,
    });
    pk.app_len = payload_len;
    pk.payload = l4b.get(thl.min(l4b.len())..).unwrap_or(&[]);
}

/// Application length and user data of a UDP datagram (`len`: transport length per the IP
/// header). argus ArgusUpdateUDPState steps past the header only when all 8 bytes of it are
/// captured; otherwise the whole transport length is application bytes and the user data
/// starts at the UDP header.
fn udp_payload<'a>(pk: &mut PacketKey<'a>, l4b: &'a [u8], len: u32) {
    if l4b.len() >= 8 {
        pk.app_len = len.saturating_sub(8);
        pk.payload = &l4b[8..];
    } else {
        pk.app_len = len;
        pk.payload = l4b;
    }
}

/// IPv4 at `off`; `up`: where argus' header pointer stopped (user data of fragments).
pub(crate) fn ipv4(frame: &[u8], off: usize, up: usize) -> Option<PacketKey<'_>> {
    let ip = Ipv4::new(frame.get(off..)?)?;
    if ip.total_len() < 20 {
        return None;
    }
    let hlen = ip.ihl();
    let len = (ip.total_len() as u32).saturating_sub(hlen as u32);
    let src = u32::from_be_bytes(ip.src());
    let dst = u32::from_be_bytes(ip.dst());
    let mut pk = PacketKey {
        is_ip: true,
        l3: frame.get(off..).unwrap_or_default(),
        l3_type: 0x0800,
        ttl: ip.ttl(),
        tos: ip.tos(),
        ipid: ip.id().swap_bytes(),
        ip_options: wire::ip_option_bits(ip.options()),
        timeout: timeouts::IP,
        app_len: len,
        ..Default::default()
    };
    let mut k = KeyBytes {
        kind: 0x01,
        qual: 0x01,
        len: 16,
        b: [0; 52],
    };
    let mut proto = ip.proto();
    let frag_off = ip.frag_off() & 0x1fff;
    if frag_off != 0 {
        // Non-first fragment: keyed on addresses, protocol and IP id.
        pk.fragment = true;
        let (k, reverse) = fragment_key(src, dst, proto, ip.id());
        pk.dir_qual = reverse;
        pk.reverse = reverse;
        pk.key = k;
        pk.frag = Some(FragInfo {
            offset: frag_off as u32 * 8,
            len,
            more: ip.frag_off() & 0x2000 != 0,
        });
        // argus takes their user data where its header walk stopped: the IP header, or past
        // what it took for a GRE header.
        pk.payload = frame.get(up..).unwrap_or(&[]);
        return Some(pk);
    }
    pk.first_fragment = ip.frag_off() & 0x2000 != 0;
    let mut l4 = off + hlen;
    if proto == 51 {
        // AH: argus looks through it to the next header.
        if let (Some(&nxt), Some(&alen)) = (frame.get(l4), frame.get(l4 + 1)) {
            proto = nxt;
            l4 += 12;
            let _ = alen;
        }
    }
    let l4b = frame.get(l4..).unwrap_or(&[]);
    let (mut sport, mut dport) = (0u16, 0u16);
    match proto {
        1 => return icmp4(frame, off, l4b, pk, src, dst, len),
        2 => {
            // IGMP (argus ArgusCreateIGMPFlow): the destination is the group the message
            // names, or the IP destination when it names none (a general query); then type,
            // code, pad, and the IP id in the port words.
            let reverse = false;
            let group = be32(l4b, 4).unwrap_or(0);
            k.b[0..4].copy_from_slice(&src.to_be_bytes());
            k.b[4..8].copy_from_slice(&if group != 0 { group } else { dst }.to_be_bytes());
            k.b[8] = proto;
            if let (Some(&t), Some(&c)) = (l4b.first(), l4b.get(1)) {
                k.b[10] = t;
                k.b[11] = c;
            }
            k.b[14..16].copy_from_slice(&ip.id().to_le_bytes());
            pk.reverse = reverse;
            pk.key = k;
            pk.timeout = timeouts::IP;
            // Its user data is the message itself.
            pk.payload = l4b;
            return Some(pk);
        }
        6 => {
            if len >= 20 && l4b.len() >= 4 {
                sport = be16(l4b, 0)?;
                dport = be16(l4b, 2)?;
            }
            if len >= 20 {
                tcp_segment(&mut pk, l4b, len, ip.tos() & 3, ip.id());
            } else {
                pk.payload = l4b;
            }
            pk.timeout = timeouts::TCP;
        }
        17 => {
            if len >= 8 && l4b.len() >= 4 {
                sport = be16(l4b, 0)?;
                dport = be16(l4b, 2)?;
                if sport == 53 || dport == 53 {
                    // argus copies the DNS id into the mask bytes in host (little-endian) order.
                    if let Some(id) = be16(l4b, 8) {
                        k.b[14..16].copy_from_slice(&id.to_le_bytes());
                    }
                }
            }
            udp_payload(&mut pk, l4b, len);
        }
        50 => {
            // ESP: keyed on the SPI. argus (ArgusUpdateESPState) turns the SPI and sequence
            // number to host order in the packet, so its user data holds them byte-swapped.
            if let Some(spi) = be32(l4b, 0) {
                sport = (spi >> 16) as u16;
                dport = spi as u16;
            }
            pk.payload = l4b;
            pk.swapped_words = 2;
        }
        // Other protocols' user data starts at their header. (argus' GRE user data stops
        // short, which is not reproduced, docs/compat.md.)
        47 => {}
        _ => pk.payload = l4b,
    }
    let reverse = if proto == 50 {
        src > dst
    } else {
        src > dst || (src == dst && sport > dport)
    };
    let (a, b, sp, dp) = if reverse {
        (dst, src, dport, sport)
    } else {
        (src, dst, sport, dport)
    };
    k.b[0..4].copy_from_slice(&a.to_be_bytes());
    k.b[4..8].copy_from_slice(&b.to_be_bytes());
    k.b[8] = proto;
    if proto == 50 {
        k.b[12..14].copy_from_slice(&sp.to_be_bytes());
        k.b[14..16].copy_from_slice(&dp.to_be_bytes());
    } else {
        k.b[10..12].copy_from_slice(&sp.to_be_bytes());
        k.b[12..14].copy_from_slice(&dp.to_be_bytes());
    }
    pk.reverse = reverse;
    pk.key = k;
    Some(pk)
}

/// The key argus gives the later fragments of an IPv4 datagram: addresses (in order), protocol
/// and IP id, FRAGMENT qualifier; and whether `src` is the key's second address.
pub fn fragment_key(src: u32, dst: u32, proto: u8, id: u16) -> (KeyBytes, bool) {
    let mut k = KeyBytes {
        kind: 0x01,
        qual: 0x81,
        len: 16,
        b: [0; 52],
    };
    let reverse = src > dst;
    let (a, b) = if reverse { (dst, src) } else { (src, dst) };
    k.b[0..4].copy_from_slice(&a.to_be_bytes());
    k.b[4..8].copy_from_slice(&b.to_be_bytes());
    k.b[8] = proto;
    // argus keeps the IP id as it lies in the packet and byte-swaps it on output.
    k.b[14..16].copy_from_slice(&id.to_le_bytes());
    (k, reverse)
}

/// For the first fragment of an IPv4 datagram (its IP header in `l3`): the packet key its
/// later fragments have ([`fragment_key`]; argus `ArgusCreateFRAGFlow`), and the bytes of IP
/// payload it carries.
pub fn later_fragments_key<'a>(l3: &[u8], timeout: u32) -> Option<(PacketKey<'a>, u32)> {
    let ip = Ipv4::new(l3)?;
    let (src, dst) = (u32::from_be_bytes(ip.src()), u32::from_be_bytes(ip.dst()));
    let (key, reverse) = fragment_key(src, dst, ip.proto(), ip.id());
    let len = (ip.total_len() as u32).saturating_sub(ip.ihl() as u32);
    Some((
        PacketKey {
            key,
            reverse,
            dir_qual: reverse,
            timeout,
            is_ip: true,
            fragment: true,
            ..Default::default()
        },
        len,
    ))
}

/// A RARP request or reply (argus `ArgusCreateArpFlow`, ARGUS_TYPE_RARP): hardware and
/// protocol types, lengths, the request's op (3), the target protocol address of a reply (0
/// in a request), then two hardware addresses: a reply's sender and target, a request's
/// target and sender. Requests and replies are flows of their own; ra prints the second
/// address as the source and the first as the destination.
fn rarp_key<'a>(body: &[u8], hrd: u16, pro: u16, op: u16) -> PacketKey<'a> {
    let mut k = KeyBytes {
        kind: 0x06,
        qual: 0x05,
        len: 24,
        b: [0; 52],
    };
    k.b[0..2].copy_from_slice(&hrd.to_be_bytes());
    k.b[2..4].copy_from_slice(&pro.to_be_bytes());
    k.b[4] = 6;
    k.b[5] = 4;
    k.b[6..8].copy_from_slice(&3u16.to_be_bytes());
    if op == 4 {
        k.b[8..12].copy_from_slice(&body[16..20]);
    }
    let (first, second) = if op == 4 {
        (&body[0..6], &body[10..16])
    } else {
        (&body[10..16], &body[0..6])
    };
    k.b[12..18].copy_from_slice(first);
    k.b[18..24].copy_from_slice(second);
    PacketKey {
        key: k,
        timeout: timeouts::ARP,
        ..Default::default()
    }
}

#[allow(clippy::too_many_arguments)]
fn icmp4<'a>(
    frame: &'a [u8],
    off: usize,
    l4b: &'a [u8],
    mut pk: PacketKey<'a>,
    src: u32,
    dst: u32,
    len: u32,
) -> Option<PacketKey<'a>> {
    let _ = (frame, off);
    let mut k = KeyBytes {
        kind: 0x01,
        qual: 0x01,
        len: 16,
        b: [0; 52],
    };
    let t = *l4b.first()?;
    let code = l4b.get(1).copied().unwrap_or(0);
    let mut ktype = t;
    let mut kcode = 0u8;
    let mut tp_p = 0u8;
    let mut id = [0u8; 2];
    let mut ipid = [0u8; 2];
    let mut reverse = false;
    // argus ICMP_INFOTYPE (netinet/ip_icmp.h): echo, router advertisement and solicitation,
    // timestamp, information and address mask request/reply.
    let info = matches!(t, 0 | 8 | 9 | 10 | 13 | 14 | 15 | 16 | 17 | 18);
    if info {
        match t {
            0 | 8 => {
                reverse = t == 0;
                ktype = 8;
                // argus stores id and sequence in host order and writes them unswapped.
                if let Some(v) = be16(l4b, 4) {
                    id = v.to_le_bytes();
                }
                if let Some(v) = be16(l4b, 6) {
                    ipid = v.to_le_bytes();
                }
            }
            13 | 14 => {
                reverse = t == 14;
                ktype = 13;
            }
            15 | 16 => {
                reverse = t == 16;
                ktype = 15;
            }
            17 | 18 => {
                reverse = t == 18;
                ktype = 17;
            }
            _ => {}
        }
    } else {
        kcode = code;
        if let Some(oip) = l4b.get(8..28) {
            match (t, code) {
                (3, 2) => id = [oip[9], 0],
                (3, 3) => {
                    let ohl = ((oip[0] & 0x0f) as usize) * 4;
                    tp_p = oip[9];
                    if let Some(dp) = be16(l4b, 8 + ohl + 2) {
                        id = dp.to_le_bytes();
                    }
                }
                (3, 0) | (3, 1) | (5, 0) | (5, 1) => {
                    // argus copies the inner destination address raw over id and IP id.
                    id = [oip[16], oip[17]];
                    ipid = [oip[18], oip[19]];
                }
                (5, 2) | (5, 3) => tp_p = oip[1],
                _ => {}
            }
        }
    }
    let (a, b) = if reverse { (dst, src) } else { (src, dst) };
    k.b[0..4].copy_from_slice(&a.to_be_bytes());
    k.b[4..8].copy_from_slice(&b.to_be_bytes());
    k.b[8] = 1;
    k.b[9] = tp_p;
    k.b[10] = ktype;
    k.b[11] = kcode;
    k.b[12..14].copy_from_slice(&id);
    k.b[14..16].copy_from_slice(&ipid);
    pk.dir_qual = reverse;
    // The quoted datagram's IP header, for errors: what argus re-parses (`ArgusCreateFlow`
    // on the inner header).
    let oip = l4b.get(8..28).filter(|_| !info);
    pk.l4 = L4::Icmp {
        icmp_type: t,
        code,
        seq: be16(l4b, 6).unwrap_or(0),
        inner: oip.map(|oip| {
            (
                u32::from_be_bytes([oip[12], oip[13], oip[14], oip[15]]),
                u32::from_be_bytes([oip[16], oip[17], oip[18], oip[19]]),
                be32(l4b, 4).unwrap_or(0),
            )
        }),
        quote: match oip {
            Some(_) => l4b.get(8..).unwrap_or_default(),
            None => &[],
        },
    };
    pk.reverse = reverse;
    pk.key = k;
    pk.timeout = timeouts::ICMP;
    // For ICMP errors argus re-parses the quoted datagram: its length becomes this packet's
    // application byte count, and its user data starts where that walk stopped, past the
    // quoted IP header.
    (pk.app_len, pk.payload) = match oip {
        Some(oip) if oip[0] >> 4 == 4 => {
            let ohl = ((oip[0] & 0x0f) as usize) * 4;
            (
                (u16::from_be_bytes([oip[2], oip[3]]) as u32).saturating_sub(ohl as u32),
                l4b.get(8 + ohl..).unwrap_or_default(),
            )
        }
        _ => (len, l4b),
    };
    Some(pk)
}

/// IPv6 at `off`; `this_len`: argus' running length there. argus counts IPv6 application
/// bytes from the frame, not from the payload length field (padding and bogus lengths count).
fn ipv6(frame: &[u8], off: usize, this_len: u32) -> Option<PacketKey<'_>> {
    let h = frame.get(off..off + 40)?;
    let mut nxt = h[6];
    let hlim = h[7];
    // argus reads the traffic class from the wrong bytes of the first word (see docs/compat.md).
    let tos = ((((h[2] as u16) << 8) | h[3] as u16) >> 4) as u8;
    let src = &h[8..24];
    let dst = &h[24..40];
    // argus: larger address first; ports are not consulted when addresses are equal.
    let reverse = src < dst;
    let mut pk = PacketKey {
        is_ip: true,
        l3: frame.get(off..).unwrap_or_default(),
        l3_type: 0x86DD,
        ttl: hlim,
        tos,
        timeout: timeouts::IP,
        ..Default::default()
    };
    let mut k = KeyBytes {
        kind: 0x01,
        qual: 0x02,
        len: 40,
        b: [0; 52],
    };
    if reverse {
        k.b[0..16].copy_from_slice(dst);
        k.b[16..32].copy_from_slice(src);
    } else {
        k.b[0..16].copy_from_slice(src);
        k.b[16..32].copy_from_slice(dst);
    }
    let mut p = off + 40;
    let mut len = this_len.saturating_sub(40);
    let mut frag_id: Option<(u32, u16)> = None;
    for _ in 0..8 {
        match nxt {
            0 | 43 | 60 | 44 => {
                let (Some(&n), Some(&l)) = (frame.get(p), frame.get(p + 1)) else {
                    break;
                };
                let elen = if nxt == 44 { 8 } else { (l as usize + 1) * 8 };
                if nxt == 44 {
                    let offlg = be16(frame, p + 2).unwrap_or(0);
                    if offlg & 0xfff8 != 0 {
                        frag_id = Some((be32(frame, p + 4).unwrap_or(0), offlg));
                        nxt = n;
                        break;
                    }
                }
                nxt = n;
                p += elen;
                len = len.saturating_sub(elen as u32);
            }
            _ => break,
        }
    }
    k.b[32] = nxt;
    if let Some((id, offlg)) = frag_id {
        // A later fragment (argus ArgusCreateIPv6Flow): keyed on the addresses, the next
        // header and the identification, which argus keeps in host (little-endian) order in
        // the port words. Its payload past the fragment header is application bytes and user
        // data, and it feeds the fragment object. argus never joins IPv6 fragments to the
        // first one's flow.
        k.qual |= 0x80;
        k.b[36..40].copy_from_slice(&id.to_le_bytes());
        let flen = len.saturating_sub(8);
        pk.frag = Some(FragInfo {
            offset: (offlg & 0xfff8) as u32,
            len: flen,
            more: offlg & 1 != 0,
        });
        pk.app_len = flen;
        pk.payload = frame.get(p + 8..).unwrap_or(&[]);
        pk.fragment = true;
        pk.reverse = reverse;
        pk.key = k;
        return Some(pk);
    }
    // argus 3.0.8's ArgusCreateESPv6Flow is an empty stub: argus drops IPv6 ESP packets. We
    // keep them as address-pair flows (docs/compat.md, deliberate differences).
    let l4b = frame.get(p..).unwrap_or(&[]);
    pk.app_len = len;
    let (mut sport, mut dport) = (0u16, 0u16);
    match nxt {
        6 => {
            if l4b.len() >= 4 {
                sport = be16(l4b, 0)?;
                dport = be16(l4b, 2)?;
            }
            tcp_segment(&mut pk, l4b, len, 0, 0);
            pk.timeout = timeouts::TCP;
        }
        17 => {
            if l4b.len() >= 4 {
                sport = be16(l4b, 0)?;
                dport = be16(l4b, 2)?;
            }
            udp_payload(&mut pk, l4b, len);
        }
        58 => {
            let t = l4b.first().copied().unwrap_or(0);
            let code = l4b.get(1).copied().unwrap_or(0);
            let ktype = match t {
                129 => 128,
                131 | 132 => 130,
                134 => 133,
                136 => 135,
                145 => 144,
                _ => t,
            };
            k.b[36] = ktype;
            k.b[37] = code;
            pk.l4 = L4::Icmp {
                icmp_type: t,
                code,
                // The ICMPv6 object keeps the checksum where the ICMPv4 one has the sequence.
                seq: be16(l4b, 2).unwrap_or(0),
                inner: None,
                // argus 3.0.8 maps no ICMPv6 error onto a flow (docs/compat.md).
                quote: &[],
            };
            pk.timeout = timeouts::ICMP;
            pk.payload = l4b;
            pk.reverse = reverse;
            pk.key = k;
            return Some(pk);
        }
        _ => {}
    }
    let (sp, dp) = if reverse {
        (dport, sport)
    } else {
        (sport, dport)
    };
    k.b[36..38].copy_from_slice(&sp.to_be_bytes());
    k.b[38..40].copy_from_slice(&dp.to_be_bytes());
    pk.reverse = reverse;
    pk.key = k;
    Some(pk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{decode, linktype};

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
            .collect()
    }

    #[test]
    fn isis_hello_key() {
        let f = hex(concat!(
            "0180c2000014c201299800000030fefe03",
            "831b01060f010000",
            "01222222222222001e003040222222222222010102030405060708090a0b0c0d"
        ));
        let d = decode(linktype::ETHERNET, &f, f.len() as u32);
        let pk = classify(&f, &d).expect("key");
        let b = &pk.key.b;
        assert_eq!((pk.key.qual, pk.key.len), (0x0a, 40));
        assert_eq!(&b[0..4], &[0, 0, 0, 15]);
        assert_eq!(&b[4..10], &[0xc2, 0x01, 0x29, 0x98, 0, 0]);
        assert_eq!(&b[10..16], &[0x01, 0x80, 0xc2, 0, 0, 0x14]);
        assert_eq!(b[16], 1);
        assert_eq!(&b[20..26], &[0x22; 6]);
        assert_eq!(&b[26..33], &[0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x01]);
        // argus' isis_cksum over the PDU body from the even address before it.
        assert_eq!(&b[36..40], &[0xbd, 0x77, 0, 0]);
        assert_eq!(pk.app_len, f.len() as u32 - 17);
    }

    #[test]
    fn isis_cksum_folds_uncaptured_words() {
        let f: Vec<u8> = (0..57u8).map(|b| b.wrapping_mul(37)).collect();
        let mut padded = f.clone();
        padded.resize(200_000, 0);
        for this_len in [40u32, 41, 1000, 150_000] {
            assert_eq!(
                isis_cksum(&f, 25, this_len),
                isis_cksum(&padded, 25, this_len),
                "{this_len}"
            );
        }
    }

    #[test]
    fn wlan_beacon_key_has_ssid() {
        let mut f = vec![0x80, 0, 0, 0];
        f.extend_from_slice(&[0xff; 6]);
        f.extend_from_slice(&[2; 6]);
        f.extend_from_slice(&[3; 6]);
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(&[0; 12]); // timestamp, interval, capabilities
        f.extend_from_slice(&[0, 4, b'n', b'e', b't', b'1', 1, 1, 0x82, 0x2a, 1, 0]);
        let d = decode(linktype::IEEE802_11, &f, f.len() as u32);
        let pk = classify(&f, &d).expect("key");
        assert_eq!((pk.key.qual, pk.key.len), (0x08, 52));
        assert_eq!(&pk.key.b[0..6], &[0xff; 6]);
        assert_eq!(&pk.key.b[6..12], &[2; 6]);
        assert_eq!(&pk.key.b[12..18], &[3; 6]);
        assert_eq!(&pk.key.b[18..23], b"net1\0");
    }

    #[test]
    fn fragment_object_as_argus_writes_it() {
        // Two trailing fragments of a datagram whose first fragment went elsewhere (erspan.pcap).
        let mut f = FragState::default();
        f.update(FragInfo {
            offset: 1480,
            len: 1480,
            more: true,
        });
        f.update(FragInfo {
            offset: 2960,
            len: 22,
            more: false,
        });
        let NetworkDsr::Other { subtype, body, .. } = f.to_dsr() else {
            panic!("not a raw DSR");
        };
        assert_eq!(subtype, 0x45);
        let want = hex(concat!(
            "020000000000000000000000de050000de050000a60b0000c8050000",
            "00000000000000000000000000000000c8050000a60b0000"
        ));
        assert_eq!(body, want);
        // A repeated fragment adds no new bytes.
        f.update(FragInfo {
            offset: 2960,
            len: 22,
            more: false,
        });
        let NetworkDsr::Other { body, .. } = f.to_dsr() else {
            panic!("not a raw DSR");
        };
        assert_eq!(&body[12..16], &1502u32.to_le_bytes());
        assert_eq!(&body[16..20], &1524u32.to_le_bytes());
    }

    #[test]
    fn ipv6_app_bytes_count_padding() {
        let mut f = hex("00112233445566778899aabb86dd");
        let mut ip = vec![0x60, 0, 0, 0, 0, 12, 17, 64];
        ip.extend_from_slice(&[1; 16]);
        ip.extend_from_slice(&[2; 16]);
        ip.extend_from_slice(&[0x03, 0xe8, 0x07, 0xd0, 0, 12, 0, 0, b'a', b'b', b'c', b'd']);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[0; 20]);
        let d = decode(linktype::ETHERNET, &f, f.len() as u32);
        let pk = classify(&f, &d).expect("key");
        assert_eq!(pk.app_len, 24);
    }
}
