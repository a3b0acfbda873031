//! Frame builders for the scenarios: Ethernet (with VLAN tags), IPv4 (options, fragments),
//! IPv6 (extension headers, fragments), TCP (flags, options), UDP, ICMP/ICMPv6, ARP, GRE,
//! SCTP, ESP. Checksums are left zero: argus does not look at them.

/// A MAC address whose last byte names the host.
pub fn mac(host: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, host]
}

/// An Ethernet header with 802.1Q tags (VLAN ids).
pub fn eth(src: [u8; 6], dst: [u8; 6], vlans: &[u16], ethertype: u16) -> Vec<u8> {
    let mut e = dst.to_vec();
    e.extend_from_slice(&src);
    for v in vlans {
        e.extend_from_slice(&0x8100u16.to_be_bytes());
        e.extend_from_slice(&v.to_be_bytes());
    }
    e.extend_from_slice(&ethertype.to_be_bytes());
    e
}

/// IPv4 header fields a scenario varies.
#[derive(Clone, Debug)]
pub struct V4 {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub proto: u8,
    pub id: u16,
    pub ttl: u8,
    pub tos: u8,
    /// Flags and fragment offset word (DF 0x4000, MF 0x2000, offset in 8-byte units).
    pub frag: u16,
    /// Options (padded to a word).
    pub options: Vec<u8>,
    /// Total length to write instead of the real one.
    pub total_len: Option<u16>,
}

impl V4 {
    pub fn new(src: [u8; 4], dst: [u8; 4], proto: u8) -> V4 {
        V4 {
            src,
            dst,
            proto,
            id: 1,
            ttl: 64,
            tos: 0,
            frag: 0,
            options: Vec::new(),
            total_len: None,
        }
    }

    /// The header followed by `payload`.
    pub fn packet(&self, payload: &[u8]) -> Vec<u8> {
        let mut opts = self.options.clone();
        while !opts.len().is_multiple_of(4) {
            opts.push(0);
        }
        let hl = 20 + opts.len();
        let mut h = vec![0x40 | (hl / 4) as u8, self.tos];
        let total = self
            .total_len
            .unwrap_or((hl + payload.len()).min(65535) as u16);
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&self.id.to_be_bytes());
        h.extend_from_slice(&self.frag.to_be_bytes());
        h.extend_from_slice(&[self.ttl, self.proto, 0, 0]);
        h.extend_from_slice(&self.src);
        h.extend_from_slice(&self.dst);
        h.extend_from_slice(&opts);
        h.extend_from_slice(payload);
        h
    }
}

/// An IPv6 header (hop limit 64) between `src` and `dst`, then extension headers given as
/// (type, body of a multiple of 8 bytes less 2) and the upper-layer payload `next`/`payload`.
pub fn ipv6(
    src: [u8; 16],
    dst: [u8; 16],
    ext: &[(u8, Vec<u8>)],
    next: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut body = Vec::new();
    for (i, (_, b)) in ext.iter().enumerate() {
        let nh = ext.get(i + 1).map_or(next, |e| e.0);
        let mut b = b.clone();
        while (b.len() + 2) % 8 != 0 {
            b.push(0);
        }
        body.push(nh);
        body.push(((b.len() + 2) / 8 - 1) as u8);
        body.extend_from_slice(&b);
    }
    body.extend_from_slice(payload);
    let first = ext.first().map_or(next, |e| e.0);
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(&[first, 64]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(&body);
    h
}

/// An IPv6 fragment header body (offset in 8-byte units, more fragments, id) as an `ipv6`
/// extension entry of type 44. Its length field is fixed (0), unlike other options.
pub fn v6_frag(offset: u16, more: bool, id: u32) -> Vec<u8> {
    let mut b = ((offset << 3) | u16::from(more)).to_be_bytes().to_vec();
    b.extend_from_slice(&id.to_be_bytes());
    b
}

/// TCP flag bits.
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// A TCP segment with `options` (padded) and `data` bytes of payload.
#[allow(clippy::too_many_arguments)]
pub fn tcp(
    sp: u16,
    dp: u16,
    seq: u32,
    ack: u32,
    fl: u8,
    win: u16,
    options: &[u8],
    data: usize,
) -> Vec<u8> {
    let mut opts = options.to_vec();
    while !opts.len().is_multiple_of(4) {
        opts.push(1);
    }
    let off = (20 + opts.len()) / 4;
    let mut h = Vec::with_capacity(20 + opts.len() + data);
    h.extend_from_slice(&sp.to_be_bytes());
    h.extend_from_slice(&dp.to_be_bytes());
    h.extend_from_slice(&seq.to_be_bytes());
    h.extend_from_slice(&ack.to_be_bytes());
    h.extend_from_slice(&[(off as u8) << 4, fl]);
    h.extend_from_slice(&win.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 0]);
    h.extend_from_slice(&opts);
    h.extend(std::iter::repeat_n(0x61, data));
    h
}

/// A UDP datagram with `data` as payload.
pub fn udp(sp: u16, dp: u16, data: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(8 + data.len());
    h.extend_from_slice(&sp.to_be_bytes());
    h.extend_from_slice(&dp.to_be_bytes());
    h.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(data);
    h
}

/// A DNS message header with transaction `id` (query or response) and `extra` bytes after it.
pub fn dns(id: u16, response: bool, extra: usize) -> Vec<u8> {
    let mut h = id.to_be_bytes().to_vec();
    h.extend_from_slice(&[
        if response { 0x81 } else { 0x01 },
        0x00,
        0,
        1,
        0,
        u8::from(response),
        0,
        0,
        0,
        0,
    ]);
    h.extend(std::iter::repeat_n(0x03, extra));
    h
}

/// An ICMP or ICMPv6 message: type, code, the 4-byte rest-of-header word, then `body`.
pub fn icmp(t: u8, code: u8, word: u32, body: &[u8]) -> Vec<u8> {
    let mut h = vec![t, code, 0, 0];
    h.extend_from_slice(&word.to_be_bytes());
    h.extend_from_slice(body);
    h
}

/// An Ethernet/IPv4 ARP message (op 1 request, 2 reply, 3/4 RARP).
pub fn arp(op: u16, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
    let mut h = vec![0, 1, 8, 0, 6, 4];
    h.extend_from_slice(&op.to_be_bytes());
    h.extend_from_slice(&sha);
    h.extend_from_slice(&spa);
    h.extend_from_slice(&tha);
    h.extend_from_slice(&tpa);
    h
}

/// A GRE header (no options) carrying `proto` (0x0800 for IPv4).
pub fn gre(proto: u16, inner: &[u8]) -> Vec<u8> {
    let mut h = vec![0, 0];
    h.extend_from_slice(&proto.to_be_bytes());
    h.extend_from_slice(inner);
    h
}

/// An SCTP common header and one chunk of `ctype` with `data` bytes.
pub fn sctp(sp: u16, dp: u16, vtag: u32, ctype: u8, data: usize) -> Vec<u8> {
    let mut h = sp.to_be_bytes().to_vec();
    h.extend_from_slice(&dp.to_be_bytes());
    h.extend_from_slice(&vtag.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 0]);
    h.extend_from_slice(&[ctype, 0]);
    h.extend_from_slice(&((4 + data) as u16).to_be_bytes());
    h.extend(std::iter::repeat_n(0x5a, data));
    h
}

/// An ESP header (SPI, sequence) and `data` bytes of ciphertext.
pub fn esp(spi: u32, seq: u32, data: usize) -> Vec<u8> {
    let mut h = spi.to_be_bytes().to_vec();
    h.extend_from_slice(&seq.to_be_bytes());
    h.extend(std::iter::repeat_n(0x5b, data));
    h
}
