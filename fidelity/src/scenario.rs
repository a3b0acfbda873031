//! Scenarios: small captures, deterministic from a seed, that walk the branches of argus'
//! model class by class instead of sampling traffic.
//!
//! A scenario mixes one to three classes. Each class uses its own address block (IPv4
//! `10.C.0.0/16`, IPv6 `2001:db8:C::/48`, MACs `02:00:00:00:C:xx`, where C is the class's
//! number), so every record can be told to the class it came from.

use crate::pkt::{self, flags::*, V4};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One frame of a scenario.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Capture time, microseconds.
    pub t_us: u64,
    /// Position in the capture (frames are written in this order; equal to `t_us` except for
    /// frames whose time goes backwards).
    pub order: u64,
    /// Captured bytes.
    pub data: Vec<u8>,
    /// Length on the wire (more than `data` for a truncated capture).
    pub wire_len: u32,
}

/// A generated capture and the classes in it.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    pub classes: Vec<Class>,
    pub frames: Vec<Frame>,
}

/// A class of argus behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// TCP: handshakes, simultaneous open, resets, half and full closes, retransmissions,
    /// reordering, zero windows, keep-alives, window probes, options, flows without a SYN.
    Tcp,
    /// UDP, DNS keyed on its transaction id.
    Udp,
    /// ICMP echo (requests, replies alone) and errors quoting flows that are tracked, not
    /// tracked, or expired.
    Icmp,
    /// IPv4 fragments: in order, out of order, overlapping, duplicated, first one missing.
    Frag,
    /// IPv6 with extension headers and fragments, ICMPv6 echo and neighbour discovery.
    Ipv6,
    /// ARP and RARP, in and out of VLANs, replies seen alone.
    Arp,
    /// ESP, GRE, SCTP, IGMP and other protocols argus keys on addresses.
    Other,
    /// Times at status-interval and idle-timeout edges, equal and backwards timestamps.
    Timing,
    /// Truncated captures (snap lengths shorter than the headers), tiny frames.
    Trunc,
}

impl Class {
    pub const ALL: [Class; 9] = [
        Class::Tcp,
        Class::Udp,
        Class::Icmp,
        Class::Frag,
        Class::Ipv6,
        Class::Arp,
        Class::Other,
        Class::Timing,
        Class::Trunc,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::Tcp => "tcp",
            Class::Udp => "udp",
            Class::Icmp => "icmp",
            Class::Frag => "frag",
            Class::Ipv6 => "ipv6",
            Class::Arp => "arp",
            Class::Other => "other",
            Class::Timing => "timing",
            Class::Trunc => "trunc",
        }
    }

    /// The class's number: its address block.
    pub fn number(self) -> u8 {
        Class::ALL.iter().position(|&c| c == self).unwrap_or(0) as u8 + 1
    }

    /// The class whose address block appears in a printed record line.
    pub fn of_line(line: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| {
            let n = c.number();
            line.contains(&format!(",10.{n}."))
                || line.contains(&format!(",2001:db8:{n}:"))
                || line.contains(&format!(",02:00:00:00:{n:02x}:"))
        })
    }
}

/// Start of every capture: 2023-11-14.
const T0: u64 = 1_700_000_000_000_000;

/// The scenario of `seed`.
pub fn generate(seed: u64) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = rng.gen_range(1..=3);
    let mut classes: Vec<Class> = Class::ALL.choose_multiple(&mut rng, n).copied().collect();
    classes.sort();
    let mut frames = Vec::new();
    for &c in &classes {
        let mut g = Gen {
            rng: &mut rng,
            c: c.number(),
            t: T0 + 1000,
            out: Vec::new(),
        };
        match c {
            Class::Tcp => g.tcp(),
            Class::Udp => g.udp(),
            Class::Icmp => g.icmp(),
            Class::Frag => g.frag(),
            Class::Ipv6 => g.ipv6(),
            Class::Arp => g.arp(),
            Class::Other => g.other(),
            Class::Timing => g.timing(),
            Class::Trunc => g.trunc(),
        }
        frames.extend(g.out);
    }
    frames.sort_by_key(|f| f.order);
    Scenario {
        seed,
        classes,
        frames,
    }
}

struct Gen<'a> {
    rng: &'a mut ChaCha8Rng,
    /// The class's number (address block).
    c: u8,
    /// Time of the next frame, microseconds.
    t: u64,
    out: Vec<Frame>,
}

impl Gen<'_> {
    fn v4(&self, host: u8) -> [u8; 4] {
        [10, self.c, 0, host]
    }

    fn v6(&self, host: u8) -> [u8; 16] {
        let mut a = [0u8; 16];
        a[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, self.c]);
        a[15] = host;
        a
    }

    fn mac(&self, host: u8) -> [u8; 6] {
        [2, 0, 0, 0, self.c, host]
    }

    /// Advance the clock by a gap typical of a conversation (mostly milliseconds, sometimes
    /// across a status interval).
    fn step(&mut self) {
        let gap = match self.rng.gen_range(0..20) {
            0 => self.rng.gen_range(4_000_000..7_000_000),
            1 => 0,
            _ => self.rng.gen_range(1..300_000),
        };
        self.t += gap;
    }

    fn push(&mut self, data: Vec<u8>) {
        let wire_len = data.len().max(60) as u32;
        let mut data = data;
        // Ethernet pads short frames on the wire; captures show the padding.
        if data.len() < 60 {
            data.resize(60, 0);
        }
        self.out.push(Frame {
            t_us: self.t,
            order: self.t,
            data,
            wire_len,
        });
    }

    /// An IPv4 packet from host `s` to host `d` of this class's block.
    fn ip(&mut self, s: u8, d: u8, ip: &V4, l4: &[u8]) {
        let mut f = pkt::eth(self.mac(s), self.mac(d), &[], 0x0800);
        f.extend(ip.packet(l4));
        self.push(f);
    }

    fn ip4(&mut self, s: u8, d: u8, proto: u8, l4: &[u8]) {
        let mut h = V4::new(self.v4(s), self.v4(d), proto);
        h.id = self.rng.gen();
        h.ttl = *[64u8, 128, 255, 1].choose(self.rng).unwrap_or(&64);
        self.ip(s, d, &h, l4);
    }

    fn tcp(&mut self) {
        let (cl, sv) = (1u8, 2u8);
        let sport: u16 = self.rng.gen_range(1024..65535);
        let dport = *[80u16, 443, 22, 179, 25, 8080, 3306, 40000]
            .choose(self.rng)
            .unwrap_or(&80);
        let mut cs: u32 = self.rng.gen();
        let mut ss: u32 = self.rng.gen();
        let opts: Vec<u8> = if self.rng.gen_bool(0.5) {
            // MSS, SACK permitted, timestamps, window scale.
            vec![
                2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
            ]
        } else {
            Vec::new()
        };
        let seg = |g: &mut Gen,
                   from_client: bool,
                   seq: u32,
                   ack: u32,
                   fl: u8,
                   win: u16,
                   o: &[u8],
                   n: usize| {
            let (s, d, sp, dp) = if from_client {
                (cl, sv, sport, dport)
            } else {
                (sv, cl, dport, sport)
            };
            let l4 = pkt::tcp(sp, dp, seq, ack, fl, win, o, n);
            g.ip4(s, d, 6, &l4);
            g.step();
        };
        let variant = self.rng.gen_range(0..11);
        let handshake = |g: &mut Gen, cs: &mut u32, ss: &mut u32| {
            seg(g, true, *cs, 0, SYN, 64240, &opts, 0);
            seg(
                g,
                false,
                *ss,
                cs.wrapping_add(1),
                SYN | ACK,
                65160,
                &opts,
                0,
            );
            *cs = cs.wrapping_add(1);
            *ss = ss.wrapping_add(1);
            seg(g, true, *cs, *ss, ACK, 502, &[], 0);
        };
        match variant {
            // Full conversation, closed by FINs or a reset.
            0..=2 => {
                handshake(self, &mut cs, &mut ss);
                for _ in 0..self.rng.gen_range(1..6) {
                    let n = self.rng.gen_range(0..1400);
                    let c = self.rng.gen_bool(0.5);
                    if c {
                        seg(self, true, cs, ss, ACK | PSH, 502, &[], n);
                        cs = cs.wrapping_add(n as u32);
                    } else {
                        seg(self, false, ss, cs, ACK | PSH, 509, &[], n);
                        ss = ss.wrapping_add(n as u32);
                    }
                }
                match self.rng.gen_range(0..3) {
                    0 => {
                        seg(self, true, cs, ss, FIN | ACK, 502, &[], 0);
                        seg(self, false, ss, cs.wrapping_add(1), FIN | ACK, 509, &[], 0);
                        seg(
                            self,
                            true,
                            cs.wrapping_add(1),
                            ss.wrapping_add(1),
                            ACK,
                            502,
                            &[],
                            0,
                        );
                    }
                    1 => {
                        seg(self, false, ss, cs, FIN | ACK, 509, &[], 0);
                        seg(self, true, cs, ss.wrapping_add(1), FIN | ACK, 502, &[], 0);
                        seg(
                            self,
                            false,
                            ss.wrapping_add(1),
                            cs.wrapping_add(1),
                            ACK,
                            509,
                            &[],
                            0,
                        );
                    }
                    _ => {
                        let c = self.rng.gen_bool(0.5);
                        seg(self, c, cs, ss, RST | ACK, 0, &[], 0)
                    }
                }
            }
            // Simultaneous open.
            3 => {
                seg(self, true, cs, 0, SYN, 64240, &opts, 0);
                seg(self, false, ss, 0, SYN, 64240, &opts, 0);
                seg(
                    self,
                    true,
                    cs,
                    ss.wrapping_add(1),
                    SYN | ACK,
                    64240,
                    &opts,
                    0,
                );
                seg(
                    self,
                    false,
                    ss,
                    cs.wrapping_add(1),
                    SYN | ACK,
                    64240,
                    &opts,
                    0,
                );
                seg(
                    self,
                    true,
                    cs.wrapping_add(1),
                    ss.wrapping_add(1),
                    ACK,
                    502,
                    &[],
                    10,
                );
            }
            // Refused, or a SYN retried.
            4 => {
                seg(self, true, cs, 0, SYN, 64240, &opts, 0);
                if self.rng.gen_bool(0.5) {
                    seg(self, false, 0, cs.wrapping_add(1), RST | ACK, 0, &[], 0);
                } else {
                    self.t += 1_000_000;
                    seg(self, true, cs, 0, SYN, 64240, &opts, 0);
                    self.t += 3_000_000;
                    seg(self, true, cs, 0, SYN, 64240, &opts, 0);
                }
            }
            // Half close: the server keeps sending after the client's FIN.
            5 => {
                handshake(self, &mut cs, &mut ss);
                seg(self, true, cs, ss, FIN | ACK, 502, &[], 0);
                cs = cs.wrapping_add(1);
                seg(self, false, ss, cs, ACK | PSH, 509, &[], 700);
                ss = ss.wrapping_add(700);
                seg(self, true, cs, ss, ACK, 502, &[], 0);
                seg(self, false, ss, cs, FIN | ACK, 509, &[], 0);
                seg(self, true, cs, ss.wrapping_add(1), ACK, 502, &[], 0);
            }
            // Retransmission and reordering.
            6 => {
                handshake(self, &mut cs, &mut ss);
                let (a, b) = (self.rng.gen_range(1..1400), self.rng.gen_range(1..1400));
                if self.rng.gen_bool(0.5) {
                    seg(self, true, cs, ss, ACK | PSH, 502, &[], a);
                    seg(self, true, cs, ss, ACK | PSH, 502, &[], a);
                } else {
                    seg(
                        self,
                        true,
                        cs.wrapping_add(a as u32),
                        ss,
                        ACK | PSH,
                        502,
                        &[],
                        b,
                    );
                    seg(self, true, cs, ss, ACK | PSH, 502, &[], a);
                }
                seg(
                    self,
                    false,
                    ss,
                    cs.wrapping_add((a + b) as u32),
                    ACK,
                    509,
                    &[],
                    0,
                );
            }
            // Zero window and a window probe.
            7 => {
                handshake(self, &mut cs, &mut ss);
                seg(self, true, cs, ss, ACK | PSH, 502, &[], 1000);
                cs = cs.wrapping_add(1000);
                seg(self, false, ss, cs, ACK, 0, &[], 0);
                seg(self, true, cs, ss, ACK, 502, &[], 1);
                seg(self, false, ss, cs, ACK, 0, &[], 0);
                seg(self, false, ss, cs, ACK, 4000, &[], 0);
            }
            // Keep-alive: one byte below the next sequence number.
            8 => {
                handshake(self, &mut cs, &mut ss);
                self.t += self.rng.gen_range(1_000_000..8_000_000);
                let n = self.rng.gen_range(0..2);
                seg(self, true, cs.wrapping_sub(1), ss, ACK, 502, &[], n);
                seg(self, false, ss, cs, ACK, 509, &[], 0);
            }
            // ECN negotiated, congestion experienced.
            9 => {
                seg(self, true, cs, 0, SYN | ECE | CWR, 64240, &opts, 0);
                seg(
                    self,
                    false,
                    ss,
                    cs.wrapping_add(1),
                    SYN | ACK | ECE,
                    65160,
                    &opts,
                    0,
                );
                seg(
                    self,
                    true,
                    cs.wrapping_add(1),
                    ss.wrapping_add(1),
                    ACK | ECE,
                    502,
                    &[],
                    100,
                );
                seg(
                    self,
                    false,
                    ss.wrapping_add(1),
                    cs.wrapping_add(101),
                    ACK | CWR,
                    509,
                    &[],
                    0,
                );
            }
            // Mid-stream: no handshake seen.
            _ => {
                for _ in 0..self.rng.gen_range(1..5) {
                    let n = self.rng.gen_range(0..1400);
                    if self.rng.gen_bool(0.6) {
                        seg(self, true, cs, ss, ACK | PSH, 502, &[], n);
                        cs = cs.wrapping_add(n as u32);
                    } else {
                        seg(self, false, ss, cs, ACK | PSH, 509, &[], n);
                        ss = ss.wrapping_add(n as u32);
                    }
                }
            }
        }
    }

    fn udp(&mut self) {
        let dns = self.rng.gen_bool(0.5);
        let sport: u16 = self.rng.gen_range(1024..65535);
        let dport = if dns {
            53
        } else {
            *[123u16, 161, 514, 9999, 5353, 40001]
                .choose(self.rng)
                .unwrap_or(&9999)
        };
        let ids: Vec<u16> = (0..self.rng.gen_range(1..4))
            .map(|_| self.rng.gen())
            .collect();
        for _ in 0..self.rng.gen_range(1..8) {
            let id = *ids.choose(self.rng).unwrap_or(&1);
            let from_client = self.rng.gen_bool(0.6);
            let body = if dns {
                pkt::dns(id, !from_client, self.rng.gen_range(0..200))
            } else {
                vec![0x62; self.rng.gen_range(0..600)]
            };
            let l4 = if from_client {
                pkt::udp(sport, dport, &body)
            } else {
                pkt::udp(dport, sport, &body)
            };
            let (s, d) = if from_client { (1, 2) } else { (2, 1) };
            if dns && self.rng.gen_bool(0.15) {
                // A first fragment: the UDP header and the DNS id are in it.
                let mut h = V4::new(self.v4(s), self.v4(d), 17);
                h.frag = 0x2000;
                self.ip(s, d, &h, &l4);
            } else {
                self.ip4(s, d, 17, &l4);
            }
            self.step();
        }
    }

    /// An error from a router (host 254) or the destination quoting `quoted`.
    fn icmp_error(&mut self, from: u8, to: u8, quoted: &[u8]) {
        let (t, code) = *[
            (3u8, 0u8),
            (3, 1),
            (3, 2),
            (3, 3),
            (3, 4),
            (3, 9),
            (3, 13),
            (4, 0),
            (5, 0),
            (5, 1),
            (5, 2),
            (11, 0),
            (11, 1),
            (12, 0),
            (12, 1),
        ]
        .choose(self.rng)
        .unwrap_or(&(3, 3));
        let n = *[20usize, 24, 28, 28, 28, quoted.len()]
            .choose(self.rng)
            .unwrap_or(&28);
        let word = if t == 5 {
            u32::from_be_bytes(self.v4(253))
        } else {
            0
        };
        let body = pkt::icmp(t, code, word, &quoted[..n.min(quoted.len())]);
        self.ip4(from, to, 1, &body);
    }

    fn icmp(&mut self) {
        match self.rng.gen_range(0..4) {
            // Echo requests and replies, or replies alone.
            0 | 1 => {
                let id: u16 = self.rng.gen();
                let replies_only = self.rng.gen_bool(0.3);
                for seq in 0..self.rng.gen_range(1..5u16) {
                    let body = vec![0x55; 56];
                    if !replies_only {
                        self.ip4(
                            1,
                            2,
                            1,
                            &pkt::icmp(8, 0, (id as u32) << 16 | seq as u32, &body),
                        );
                        self.step();
                    }
                    if replies_only || self.rng.gen_bool(0.8) {
                        self.ip4(
                            2,
                            1,
                            1,
                            &pkt::icmp(0, 0, (id as u32) << 16 | seq as u32, &body),
                        );
                        self.step();
                    }
                }
            }
            // An error about a flow: tracked, or seen only in the quote, or expired.
            _ => {
                let tcp = self.rng.gen_bool(0.4);
                let sp: u16 = self.rng.gen_range(1024..65535);
                let l4 = if tcp {
                    pkt::tcp(sp, 80, self.rng.gen(), 0, SYN, 64240, &[], 0)
                } else {
                    pkt::udp(sp, 33434, &[0x40; 24])
                };
                let mut h = V4::new(self.v4(1), self.v4(2), if tcp { 6 } else { 17 });
                h.ttl = self.rng.gen_range(1..4);
                let quoted = h.packet(&l4);
                let seen = self.rng.gen_range(0..3);
                if seen > 0 {
                    self.ip(1, 2, &h, &l4);
                    self.step();
                }
                if seen == 2 {
                    // Long enough for the flow to be reported and forgotten.
                    self.t += self.rng.gen_range(5_000_000..70_000_000);
                }
                let (from, reply) = if self.rng.gen_bool(0.5) {
                    (254, true)
                } else {
                    (2, false)
                };
                self.icmp_error(from, 1, &quoted);
                self.step();
                if reply && self.rng.gen_bool(0.5) {
                    self.ip(1, 2, &h, &l4);
                }
            }
        }
    }

    fn frag(&mut self) {
        let size = self.rng.gen_range(100..3000);
        let sp: u16 = self.rng.gen_range(1024..65535);
        let dp = if self.rng.gen_bool(0.3) { 53 } else { 7000 };
        let body = if dp == 53 {
            pkt::dns(self.rng.gen(), false, size)
        } else {
            vec![0x66; size]
        };
        let dgram = pkt::udp(sp, dp, &body);
        let id: u16 = self.rng.gen();
        let piece = 8 * self.rng.gen_range(20..120);
        let mut frags: Vec<(usize, usize)> = Vec::new();
        let mut off = 0;
        while off < dgram.len() {
            let end = (off + piece).min(dgram.len());
            frags.push((off, end));
            off = end;
        }
        match self.rng.gen_range(0..6) {
            0 | 1 => {}
            2 => frags.reverse(),
            3 => frags.shuffle(self.rng),
            4 => {
                if frags.len() > 1 {
                    frags.remove(0);
                }
            }
            _ => {
                // A duplicate, or an overlap of half a fragment.
                let i = self.rng.gen_range(0..frags.len());
                let (a, b) = frags[i];
                let dup = if self.rng.gen_bool(0.5) {
                    (a, b)
                } else {
                    ((a + (b - a) / 16 * 8).min(b), b)
                };
                frags.insert(i + 1, dup);
            }
        }
        let last = dgram.len();
        for (a, b) in frags {
            let mut h = V4::new(self.v4(1), self.v4(2), 17);
            h.id = id;
            h.frag = (a / 8) as u16 | if b < last { 0x2000 } else { 0 };
            self.ip(1, 2, &h, &dgram[a..b]);
            self.step();
        }
        if self.rng.gen_bool(0.5) {
            self.ip4(2, 1, 17, &pkt::udp(dp, sp, &[0x67; 40]));
        }
    }

    fn v6_frame(&mut self, s: u8, d: u8, ext: &[(u8, Vec<u8>)], next: u8, payload: &[u8]) {
        let mut f = pkt::eth(self.mac(s), self.mac(d), &[], 0x86dd);
        f.extend(pkt::ipv6(self.v6(s), self.v6(d), ext, next, payload));
        self.push(f);
    }

    fn ipv6(&mut self) {
        match self.rng.gen_range(0..4) {
            // TCP or UDP behind extension headers.
            0 | 1 => {
                let mut ext: Vec<(u8, Vec<u8>)> = Vec::new();
                for _ in 0..self.rng.gen_range(0..3) {
                    let t = *[0u8, 43, 60].choose(self.rng).unwrap_or(&60);
                    let body = if t == 43 {
                        // Type 0 routing header with segments left 0.
                        vec![0, 0, 0, 0, 0, 0]
                    } else {
                        vec![1, 4, 0, 0, 0, 0]
                    };
                    ext.push((t, body));
                }
                let tcp = self.rng.gen_bool(0.5);
                let sp: u16 = self.rng.gen_range(1024..65535);
                for i in 0..self.rng.gen_range(1..5) {
                    let from_client = i % 2 == 0;
                    let (s, d, a, b) = if from_client {
                        (1, 2, sp, 443)
                    } else {
                        (2, 1, 443, sp)
                    };
                    let l4 = if tcp {
                        let fl = if i == 0 {
                            SYN
                        } else if i == 1 {
                            SYN | ACK
                        } else {
                            ACK
                        };
                        pkt::tcp(a, b, 1000 + i, 2000, fl, 64000, &[], 0)
                    } else {
                        pkt::udp(a, b, &[0x68; 30])
                    };
                    let e = if from_client { ext.clone() } else { Vec::new() };
                    self.v6_frame(s, d, &e, if tcp { 6 } else { 17 }, &l4);
                    self.step();
                }
            }
            // A fragmented UDP datagram.
            2 => {
                let dg = pkt::udp(self.rng.gen_range(1024..65535), 5000, &[0x69; 1800]);
                let id: u32 = self.rng.gen();
                let cut = 8 * self.rng.gen_range(40..150);
                let mut parts = vec![(0usize, cut.min(dg.len())), (cut.min(dg.len()), dg.len())];
                if self.rng.gen_bool(0.3) {
                    parts.reverse();
                }
                for (a, b) in parts {
                    let ext = vec![(44u8, pkt::v6_frag((a / 8) as u16, b < dg.len(), id))];
                    self.v6_frame(1, 2, &ext, 17, &dg[a..b]);
                    self.step();
                }
            }
            // ICMPv6 echo and neighbour discovery.
            _ => {
                let (a, b) = *[(128u8, 129u8), (133, 134), (135, 136), (130, 131)]
                    .choose(self.rng)
                    .unwrap_or(&(128, 129));
                for _ in 0..self.rng.gen_range(1..4) {
                    if self.rng.gen_bool(0.8) {
                        self.v6_frame(1, 2, &[], 58, &pkt::icmp(a, 0, 0x0001_0001, &[0; 24]));
                        self.step();
                    }
                    if self.rng.gen_bool(0.7) {
                        self.v6_frame(2, 1, &[], 58, &pkt::icmp(b, 0, 0x0001_0001, &[0; 24]));
                        self.step();
                    }
                }
            }
        }
    }

    fn arp(&mut self) {
        let vlans: Vec<u16> = if self.rng.gen_bool(0.3) {
            vec![self.rng.gen_range(1..4095)]
        } else {
            Vec::new()
        };
        let rarp = self.rng.gen_bool(0.15);
        let (ha, hb) = (self.mac(1), self.mac(2));
        let (ia, ib) = (self.v4(1), self.v4(2));
        let bcast = [0xff; 6];
        let frame = |g: &mut Gen, src: [u8; 6], dst: [u8; 6], body: Vec<u8>| {
            let mut f = pkt::eth(src, dst, &vlans, if rarp { 0x8035 } else { 0x0806 });
            f.extend(body);
            g.push(f);
            g.step();
        };
        let (req, rep) = if rarp { (3, 4) } else { (1, 2) };
        match self.rng.gen_range(0..4) {
            0 | 1 => {
                frame(self, ha, bcast, pkt::arp(req, ha, ia, [0; 6], ib));
                if self.rng.gen_bool(0.8) {
                    frame(self, hb, ha, pkt::arp(rep, hb, ib, ha, ia));
                }
            }
            // A reply seen alone.
            2 => frame(self, hb, ha, pkt::arp(rep, hb, ib, ha, ia)),
            // Gratuitous.
            _ => frame(self, ha, bcast, pkt::arp(req, ha, ia, [0; 6], ia)),
        }
    }

    fn other(&mut self) {
        match self.rng.gen_range(0..5) {
            0 => {
                let spi: u32 = self.rng.gen();
                for i in 0..self.rng.gen_range(1..4) {
                    self.ip4(1, 2, 50, &pkt::esp(spi, i + 1, 80));
                    self.step();
                }
            }
            1 => {
                let inner = V4::new([192, 168, self.c, 1], [192, 168, self.c, 2], 17)
                    .packet(&pkt::udp(5000, 6000, &[0x70; 20]));
                self.ip4(1, 2, 47, &pkt::gre(0x0800, &inner));
                self.step();
            }
            2 => {
                let vtag: u32 = self.rng.gen();
                self.ip4(1, 2, 132, &pkt::sctp(5000, 38412, 0, 1, 16));
                self.step();
                self.ip4(2, 1, 132, &pkt::sctp(38412, 5000, vtag, 2, 16));
                self.step();
            }
            3 => {
                // IGMP report to a group.
                self.ip4(1, 2, 2, &[0x16, 0, 0, 0, 224, 0, 0, 251]);
                self.step();
            }
            _ => {
                let proto = *[89u8, 103, 112, 253, 0, 41].choose(self.rng).unwrap_or(&89);
                for _ in 0..self.rng.gen_range(1..3) {
                    self.ip4(1, 2, proto, &[0x71; 40]);
                    self.step();
                }
            }
        }
    }

    fn timing(&mut self) {
        let tcp = self.rng.gen_bool(0.3);
        let sp: u16 = self.rng.gen_range(1024..65535);
        let edges: [i64; 9] = [
            0, 4_999_999, 5_000_000, 5_000_001, 1, 29_999_999, 30_000_000, 30_000_001, 60_000_001,
        ];
        let mut prev_order = 0;
        for i in 0..self.rng.gen_range(2..6) {
            let l4 = if tcp {
                let fl = if i == 0 { SYN } else { ACK };
                pkt::tcp(sp, 80, 100 + i, 1, fl, 1000, &[], 0)
            } else {
                pkt::udp(sp, 7777, &[0x72; 16])
            };
            let from_client = i == 0 || self.rng.gen_bool(0.5);
            let (s, d) = if from_client { (1, 2) } else { (2, 1) };
            let l4 = if from_client {
                l4
            } else if tcp {
                pkt::tcp(80, sp, 500 + i, 101, SYN | ACK, 1000, &[], 0)
            } else {
                pkt::udp(7777, sp, &[0x72; 16])
            };
            let backwards = i > 0 && self.rng.gen_range(0..8) == 0;
            self.ip4(s, d, if tcp { 6 } else { 17 }, &l4);
            if backwards {
                // Written after the previous frame with an earlier time.
                if let Some(f) = self.out.last_mut() {
                    f.order = prev_order + 1;
                    f.t_us = f.t_us.saturating_sub(self.rng.gen_range(1..2_000_000));
                }
            }
            prev_order = self.out.last().map_or(0, |f| f.order);
            let gap = *edges.choose(self.rng).unwrap_or(&1);
            self.t += gap as u64;
        }
    }

    fn trunc(&mut self) {
        // A short conversation of another class, cut.
        let before = self.out.len();
        if self.rng.gen_bool(0.5) {
            self.tcp();
        } else {
            self.udp();
        }
        let snap = *[14usize, 18, 30, 34, 38, 42, 54, 0]
            .choose(self.rng)
            .unwrap_or(&34);
        for f in &mut self.out[before..] {
            f.wire_len = f.wire_len.max(f.data.len() as u32);
            f.data.truncate(snap);
        }
    }
}

/// Capture time between the starts of two scenarios written into one file: longer than every
/// timeout of argus, so that they cannot meet.
pub const SPACING_S: u64 = 1000;

/// The scenario of a record printed with `-u`: from its start time, in a file written by
/// [`write_batch`] (0 for a file of one scenario).
pub fn index_of_stime(stime: &str) -> usize {
    let sec: u64 = stime
        .split('.')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (sec.saturating_sub(T0 / 1_000_000) / SPACING_S) as usize
}

/// The captures of `batch` in one pcap file, scenario `k` moved `k * SPACING_S` later.
pub fn write_batch(batch: &[Scenario], path: &std::path::Path) -> anyhow::Result<()> {
    let mut all = Scenario {
        seed: batch.first().map_or(0, |s| s.seed),
        classes: Vec::new(),
        frames: Vec::new(),
    };
    for (k, s) in batch.iter().enumerate() {
        let d = k as u64 * SPACING_S * 1_000_000;
        all.frames.extend(s.frames.iter().map(|f| Frame {
            t_us: f.t_us + d,
            order: f.order + d,
            ..f.clone()
        }));
    }
    write_pcap(&all, path)
}

/// The capture of `s` as a pcap file (Ethernet, microseconds).
pub fn write_pcap(s: &Scenario, path: &std::path::Path) -> anyhow::Result<()> {
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    use pcap_file::DataLink;
    let f = std::fs::File::create(path)?;
    let header = PcapHeader {
        snaplen: 65535,
        datalink: DataLink::ETHERNET,
        ..Default::default()
    };
    let mut w = PcapWriter::with_header(f, header)?;
    for fr in &s.frames {
        let ts = std::time::Duration::from_micros(fr.t_us);
        w.write_packet(&PcapPacket::new(ts, fr.wire_len, &fr.data))?;
    }
    Ok(())
}
