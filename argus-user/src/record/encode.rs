//! Wire encoder (sensor side).
//!
//! Writes records byte-for-byte the way argus 3.0.8.2 does (ref/argus-format.md): DSRs in the
//! sensor's index order, the sensor's metric-width choice, time form 1 (one timestamp) or 2
//! (range), big-endian except the documented host-order fields. Two deliberate differences:
//! a non-reversed ARP flow key is written with its full length (7 words for Ethernet, so the
//! sender MAC survives), and the u64 meter forms carry their counters.
//!
//! Nothing here allocates except by growing `out`.

use super::*;

#[inline]
fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}
#[inline]
fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}
#[inline]
fn put_ts(out: &mut Vec<u8>, t: Ts) {
    put_u32(out, t.sec);
    put_u32(out, t.usec);
}
#[inline]
fn pad4(out: &mut Vec<u8>, start: usize) {
    while !(out.len() - start).is_multiple_of(4) {
        out.push(0);
    }
}
/// Writes a normal (8-bit length) DSR header; the length byte is patched by `end_dsr`.
#[inline]
fn begin_dsr(out: &mut Vec<u8>, t: u8, sub: u8, qual: u8) -> usize {
    let at = out.len();
    out.extend_from_slice(&[t, sub, qual, 0]);
    at
}
#[inline]
fn end_dsr(out: &mut [u8], at: usize) {
    let words = (out.len() - at) / 4;
    out[at + 3] = words.min(255) as u8;
}

/// Encodes any record.
pub fn encode(rec: &Record, out: &mut Vec<u8>) {
    match rec {
        Record::Mar(m) => encode_mar(m, out),
        Record::Flow(f) => encode_flow(f, out),
        Record::Event(e) => encode_event(e, out),
    }
}

fn begin_record(out: &mut Vec<u8>, rtype: u8, cause: Cause) -> usize {
    let at = out.len();
    out.extend_from_slice(&[rtype | VERSION, cause as u8, 0, 0]);
    at
}
fn end_record(out: &mut [u8], at: usize) {
    let words = ((out.len() - at) / 4).min(u16::MAX as usize) as u16;
    out[at + 2..at + 4].copy_from_slice(&words.to_be_bytes());
}

fn encode_transport(srcid: SrcId, seq: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&[0x01, 0x03, srcid.qualifier(), 0x03]);
    match srcid {
        SrcId::Str(b) => out.extend_from_slice(&b),
        other => put_u32(out, other.value()),
    }
    put_u32(out, seq);
}

/// Management record: always 128 bytes.
pub fn encode_mar(m: &Mar, out: &mut Vec<u8>) {
    let at = begin_record(out, RT_MAR, m.cause);
    put_u32(out, m.status);
    put_u32(out, m.argusid);
    put_u32(out, m.localnet);
    put_u32(out, m.netmask);
    put_u32(out, m.next_seq);
    put_ts(out, m.startime);
    put_ts(out, m.now);
    out.extend_from_slice(&[m.major, m.minor, m.iftype, m.ifstatus]);
    put_u16(out, m.report_interval);
    put_u16(out, m.mar_interval);
    out.extend_from_slice(&m.pkts_rcvd.to_be_bytes());
    out.extend_from_slice(&m.bytes_rcvd.to_be_bytes());
    out.extend_from_slice(&m.drift.to_be_bytes());
    for v in [
        m.records, m.flows, m.dropped, m.queue, m.output, m.clients, m.bufs, m.bytes,
    ] {
        put_u32(out, v);
    }
    put_u16(out, m.suserlen);
    put_u16(out, m.duserlen);
    put_u32(out, m.dups.pkts);
    put_u16(out, m.dups.vid);
    out.extend_from_slice(&[m.dups.dirs, m.dups.vlans]);
    put_u16(out, m.dups.permille);
    put_u16(out, 0);
    put_u32(out, m.thisid);
    put_u32(out, 0xFFFF_FFFF);
    end_record(out, at);
}

/// Event record: TRANSPORT, TIME (single form, start/end stamps), DATA.
pub fn encode_event(e: &EventRecord, out: &mut Vec<u8>) {
    let at = begin_record(out, RT_EVENT, e.cause);
    encode_transport(e.srcid, e.seq, out);
    out.extend_from_slice(&[0x03, 0x19, 0x18, 0x05]);
    put_ts(out, e.start);
    put_ts(out, e.end);
    encode_data(&e.data, 0x10, out);
    end_record(out, at);
}

fn encode_data(d: &DataDsr, dir: u8, out: &mut Vec<u8>) {
    let at = out.len();
    let sub = 0x80 | dir | if d.compressed { 0x08 } else { 0 };
    out.extend_from_slice(&[0x50, sub, 0, 0]);
    let count = d.data.len().min(u16::MAX as usize - 8);
    put_u16(out, d.size);
    put_u16(out, count as u16);
    out.extend_from_slice(&d.data[..count]);
    pad4(out, at);
    let words = ((out.len() - at) / 4) as u16;
    out[at + 2..at + 4].copy_from_slice(&words.to_be_bytes());
}

fn encode_flow_dsr(f: &FlowDsr, out: &mut Vec<u8>) {
    let sub = (f.kind & 0x3F) | if f.reverse { 0x40 } else { 0 };
    let at = begin_dsr(out, 0x02, sub, f.qual);
    match &f.key {
        FlowKey::Ipv4 {
            src,
            dst,
            proto,
            tp_p,
            sport,
            dport,
            smask,
            dmask,
        } => {
            out.extend_from_slice(src);
            out.extend_from_slice(dst);
            out.extend_from_slice(&[*proto, *tp_p]);
            put_u16(out, *sport);
            put_u16(out, *dport);
            out.extend_from_slice(&[*smask, *dmask]);
        }
        FlowKey::Ipv6 {
            src,
            dst,
            proto,
            flow_label,
            sport,
            dport,
            masks,
        } => {
            out.extend_from_slice(src);
            out.extend_from_slice(dst);
            put_u32(out, (*proto as u32) << 24 | (flow_label & 0x00FF_FFFF));
            put_u16(out, *sport);
            put_u16(out, *dport);
            if let Some(m) = masks {
                out.extend_from_slice(m);
            }
        }
        FlowKey::Ether {
            dst,
            src,
            etype,
            dsap,
            ssap,
        } => {
            out.extend_from_slice(dst);
            out.extend_from_slice(src);
            put_u16(out, *etype);
            out.extend_from_slice(&[*dsap, *ssap]);
        }
        FlowKey::Arp {
            hrd,
            pro,
            hln,
            pln,
            op,
            spa,
            tpa,
            sha,
        } => {
            put_u16(out, *hrd);
            put_u16(out, *pro);
            out.extend_from_slice(&[*hln, *pln]);
            put_u16(out, *op);
            out.extend_from_slice(spa);
            out.extend_from_slice(tpa);
            out.extend_from_slice(sha);
            if f.reverse {
                // argus copies the whole structure: a 32-byte hardware address area.
                out.extend_from_slice(&[0u8; 26]);
            }
            pad4(out, at);
        }
        FlowKey::Raw(b) => {
            out.extend_from_slice(b);
            pad4(out, at);
        }
    }
    end_dsr(out, at);
}

fn encode_time(t: &TimeDsr, out: &mut Vec<u8>) {
    let dirs = [t.src_start, t.src_last, t.dst_start, t.dst_last];
    if dirs.iter().any(|d| d.is_some()) {
        let mut sub = 0x02u8;
        for (i, d) in dirs.iter().enumerate() {
            if d.is_some() {
                sub |= 0x08 << i;
            }
        }
        let at = begin_dsr(out, 0x03, sub, 0x18);
        for d in dirs.iter().flatten() {
            put_ts(out, *d);
        }
        end_dsr(out, at);
    } else if t.start == t.last {
        let form = if t.form == 0 { 0x01 } else { t.form & 0x07 };
        out.extend_from_slice(&[0x03, form, 0x18, 0x03]);
        put_ts(out, t.start);
    } else {
        let form = if t.form == 0 { 0x02 } else { t.form & 0x07 };
        out.extend_from_slice(&[0x03, form, 0x18, 0x05]);
        put_ts(out, t.start);
        put_ts(out, t.last);
    }
}

/// Counter width class: 0 = u8, 1 = u16, 2 = u32, 3 = u64.
fn meter_width(m: &MeterDsr) -> (u8, u8) {
    let fits = |v: u64, max: u64| v <= max;
    let s = &m.src;
    let d = &m.dst;
    if s.pkts > 0 && d.pkts > 0 {
        let w = if s.pkts <= 255 && s.bytes <= 255 && d.pkts <= 255 && d.bytes <= 255 {
            0
        } else if fits(s.bytes, 0xFFFF) && fits(d.bytes, 0xFFFF) {
            1
        } else if fits(s.bytes, 0xFFFF_FFFF) && fits(d.bytes, 0xFFFF_FFFF) {
            2
        } else {
            3
        };
        (0x01 + w, w)
    } else {
        let (base, c) = if d.pkts > 0 { (0x09, d) } else { (0x05, s) };
        let w = if fits(c.bytes, 0xFFFF) {
            1
        } else if fits(c.bytes, 0xFFFF_FFFF) {
            2
        } else {
            3
        };
        (base + w, w)
    }
}

fn put_counter(out: &mut Vec<u8>, v: u64, w: u8) {
    match w {
        0 => out.push(v as u8),
        1 => put_u16(out, v as u16),
        2 => put_u32(out, v as u32),
        _ => out.extend_from_slice(&v.to_be_bytes()),
    }
}

fn encode_meter(m: &MeterDsr, out: &mut Vec<u8>) {
    let (qual, w) = meter_width(m);
    let sub = if m.has_app { 0x04 } else { 0x01 };
    let at = begin_dsr(out, 0x10, sub, qual);
    let dirs: &[&DirCounters] = match qual {
        0x01..=0x04 => &[&m.src, &m.dst],
        0x05..=0x08 => &[&m.src],
        _ => &[&m.dst],
    };
    for c in dirs {
        put_counter(out, c.pkts, w);
        put_counter(out, c.bytes, w);
        if m.has_app {
            put_counter(out, c.appbytes, w);
        }
    }
    pad4(out, at);
    end_dsr(out, at);
}

fn put_tcp_dir(out: &mut Vec<u8>, d: &TcpDir) {
    put_ts(out, d.lasttime);
    for v in [
        d.status, d.seqbase, d.seq, d.ack, d.winnum, d.bytes, d.retrans, d.ackbytes, d.winbytes,
    ] {
        put_u32(out, v);
    }
    put_u16(out, d.win);
    out.extend_from_slice(&[d.flags, d.winshift]);
}

fn encode_net(n: &NetworkDsr, out: &mut Vec<u8>) {
    match n {
        NetworkDsr::Empty => out.extend_from_slice(&[0x30, 0x00, 0x00, 0x01]),
        NetworkDsr::Tcp(t) => {
            let at = begin_dsr(out, 0x30, 0x05, 0);
            for v in [t.status, t.state, t.options, t.synack, t.ackdat] {
                put_u32(out, v);
            }
            put_tcp_dir(out, &t.src);
            if let Some(d) = &t.dst {
                put_tcp_dir(out, d);
            }
            end_dsr(out, at);
        }
        NetworkDsr::Icmp {
            icmp_type,
            code,
            value,
            addrs,
        } => {
            let at = begin_dsr(out, 0x30, 0x34, 0);
            out.extend_from_slice(&[*icmp_type, *code]);
            out.extend_from_slice(&value.to_le_bytes());
            for a in addrs {
                out.extend_from_slice(&a.to_le_bytes());
            }
            end_dsr(out, at);
        }
        NetworkDsr::Arp { ha } => {
            let at = begin_dsr(out, 0x30, 0x10, 0);
            out.extend_from_slice(ha);
            out.extend_from_slice(&[0u8; 43 * 4 - 6]);
            end_dsr(out, at);
        }
        NetworkDsr::Other {
            subtype,
            qual,
            body,
        } => {
            let at = begin_dsr(out, 0x30, *subtype, *qual);
            out.extend_from_slice(body);
            pad4(out, at);
            end_dsr(out, at);
        }
    }
}

fn put_jitter(out: &mut Vec<u8>, j: &JitterStats) {
    out.extend_from_slice(&j.n.to_be_bytes());
    for f in [j.min, j.mean, j.stdev, j.max] {
        out.extend_from_slice(&f.to_bits().to_be_bytes());
    }
}

/// Flow record (FAR), DSRs in the sensor's order.
pub fn encode_flow(rec: &FlowRecord, out: &mut Vec<u8>) {
    let at = begin_record(out, RT_FAR, rec.cause);
    encode_transport(rec.srcid, rec.seq, out);
    if let Some(f) = &rec.flow {
        encode_flow_dsr(f, out);
    }
    if let Some(t) = &rec.time {
        encode_time(t, out);
    }
    if let Some(m) = &rec.meter {
        encode_meter(m, out);
    }
    if let Some(a) = &rec.agr {
        let d = begin_dsr(out, 0x60, 0x04, 0x01);
        put_u32(out, a.count);
        out.extend_from_slice(&a.raw);
        pad4(out, d);
        end_dsr(out, d);
    }
    if let Some(n) = &rec.net {
        encode_net(n, out);
    }
    if let Some(v) = &rec.vlan {
        let q = u8::from(v.src.is_some()) | (u8::from(v.dst.is_some()) << 1);
        out.extend_from_slice(&[0x40, 0x00, q, 0x02]);
        put_u16(out, v.src.unwrap_or(0));
        put_u16(out, v.dst.unwrap_or(0));
    }
    if let Some(m) = &rec.mpls {
        let sub = u8::from(m.src.is_some()) | (u8::from(m.dst.is_some()) << 1);
        let q = (u8::from(m.src.is_some()) << 4) | u8::from(m.dst.is_some());
        let d = begin_dsr(out, 0x44, sub, q);
        for l in [m.src, m.dst].iter().flatten() {
            put_u32(out, *l);
        }
        end_dsr(out, d);
    }
    if let Some(j) = &rec.jitter {
        let blocks = [j.src_act, j.src_idle, j.dst_act, j.dst_idle];
        let mut q = 0u8;
        for (i, b) in blocks.iter().enumerate() {
            if b.is_some() {
                q |= 1 << i;
            }
        }
        let d = begin_dsr(out, 0x46, 0, q);
        for b in blocks.iter().flatten() {
            put_jitter(out, b);
        }
        end_dsr(out, d);
    }
    if let Some(a) = &rec.ipattr {
        let q = u8::from(a.src.is_some())
            | (u8::from(a.dst.is_some()) << 1)
            | (u8::from(a.src_options.is_some()) << 2)
            | (u8::from(a.dst_options.is_some()) << 3)
            | (a.frag_bits & 0xF0);
        let d = begin_dsr(out, 0x48, 0, q);
        if let Some(s) = a.src {
            out.extend_from_slice(&[s.ttl, s.tos]);
            put_u16(out, s.ipid);
        }
        if let Some(o) = a.src_options {
            put_u32(out, o);
        }
        if let Some(s) = a.dst {
            out.extend_from_slice(&[s.ttl, s.tos]);
            put_u16(out, s.ipid);
        }
        if let Some(o) = a.dst_options {
            put_u32(out, o);
        }
        end_dsr(out, d);
    }
    if let Some(p) = &rec.psize {
        let q = match (p.src, p.dst) {
            (Some(_), None) => 0x06,
            (None, Some(_)) => 0x0A,
            _ => 0x02,
        };
        let d = begin_dsr(out, 0x12, 0, q);
        for (mn, mx) in [p.src, p.dst].iter().flatten() {
            put_u16(out, *mn);
            put_u16(out, *mx);
        }
        end_dsr(out, d);
    }
    if let Some(s) = &rec.src_data {
        encode_data(s, 0x10, out);
    }
    if let Some(s) = &rec.dst_data {
        encode_data(s, 0x20, out);
    }
    if let Some(m) = &rec.mac {
        out.extend_from_slice(&[0x42, 0x00, m.qual, 0x05]);
        out.extend_from_slice(&m.dst);
        out.extend_from_slice(&m.src);
        out.extend_from_slice(&m.etype.to_le_bytes());
        out.extend_from_slice(&[m.dsap, m.ssap]);
    }
    if let Some(i) = &rec.icmp {
        let d = begin_dsr(out, 0x34, 0, i.qual);
        out.extend_from_slice(&[i.icmp_type, i.code]);
        put_u16(out, i.seq);
        for v in [i.osrc, i.odst, i.isrc, i.idst, i.gateway] {
            put_u32(out, v);
        }
        put_u32(out, 0);
        end_dsr(out, d);
    }
    if let Some(e) = &rec.encaps {
        out.extend_from_slice(&[0x20, 0x00, e.qual, 0x03]);
        put_u32(out, e.src);
        put_u32(out, e.dst);
    }
    if let Some(u) = &rec.dups {
        // 58 00 03 07: both directions, 7 words.
        out.extend_from_slice(&[super::DUP_DSR_TYPE, 0x00, 0x03, 0x07]);
        put_u32(out, u.src_pkts);
        put_u32(out, u.dst_pkts);
        out.extend_from_slice(&u.src_bytes.to_be_bytes());
        out.extend_from_slice(&u.dst_bytes.to_be_bytes());
    }
    end_record(out, at);
}
