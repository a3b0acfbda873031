//! Per-packet cost of the duplicate-detection content hash in user space
//! (`capture::meta::content_hash`, the same definition as `XdpMeta::content_hash`):
//!   corpus       every Ethernet frame of the corpus' `test.pcap`, `long-connection.pcap`,
//!                `http-vlan-0.pcap` and `http-qinq-0.pcap` (ARGUS_PCAPS or ../shared/pcaps),
//!                L3 offset found as the flow engine would have it (after up to two tags)
//!   synthetic    a fixed mix: 54-byte TCP ACK (padded to 60), 1514-byte TCP segment with
//!                timestamps, 80-byte DNS query, IPv6 TCP segment, ARP request
//!   compute_meta the full user-space `XdpMeta` (L2/L3/L4 parse, flow hash, shard hash and
//!                content hash) over the synthetic mix, for comparison
//! Throughput is one element per packet, so criterion prints time per packet.
use argus::capture::meta::{compute_meta, content_hash};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::path::PathBuf;
use std::time::Duration;

/// (frame, l3 offset, EtherType at the L3 start).
type Item = (Vec<u8>, usize, u16);

fn l3_of(f: &[u8]) -> Option<(usize, u16)> {
    let et = |o: usize| f.get(o..o + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let (mut l3, mut t) = (14, et(12)?);
    for _ in 0..2 {
        if matches!(t, 0x8100 | 0x88a8 | 0x9100) {
            t = et(l3 + 2)?;
            l3 += 4;
        }
    }
    Some((l3, t))
}

fn corpus() -> Vec<Item> {
    let dir = std::env::var_os("ARGUS_PCAPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/pcaps"));
    let mut v = Vec::new();
    for name in [
        "test.pcap",
        "long-connection.pcap",
        "http-vlan-0.pcap",
        "http-qinq-0.pcap",
    ] {
        let p = dir.join(name);
        let Ok(mut src) = argus::capture::open(p.to_str().unwrap_or("")) else {
            eprintln!("content_hash bench: {} missing, skipped", p.display());
            continue;
        };
        while let Ok(Some((m, d))) = src.next_frame() {
            if m.linktype != 1 {
                continue;
            }
            if let Some((l3, t)) = l3_of(d) {
                v.push((d.to_vec(), l3, t));
            }
        }
    }
    v
}

fn synthetic() -> Vec<Item> {
    let eth = |et: u16| {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        f.extend_from_slice(&et.to_be_bytes());
        f
    };
    let v4 = |proto: u8, l4: &[u8]| {
        let mut h = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, proto, 0xab, 0xcd];
        h[2..4].copy_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
        h.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        h.extend_from_slice(l4);
        h
    };
    let tcp = |opts: usize, payload: usize| {
        let mut t = vec![0xc3, 0x50, 0, 80, 0, 0, 1, 0, 0, 0, 2, 0];
        t.push((((20 + opts) / 4) << 4) as u8);
        t.extend_from_slice(&[0x10, 0xff, 0xff, 0, 0, 0, 0]);
        t.extend(std::iter::repeat_n(1u8, opts));
        t.extend((0..payload).map(|i| i as u8));
        t
    };
    let mut out = Vec::new();
    let mut ack = eth(0x0800);
    ack.extend(v4(6, &tcp(0, 0)));
    ack.extend_from_slice(&[0; 6]);
    out.push((ack, 14, 0x0800));
    let mut data = eth(0x0800);
    data.extend(v4(6, &tcp(12, 1448)));
    out.push((data, 14, 0x0800));
    let mut dns = eth(0x0800);
    let mut udp = vec![0xd4, 0x31, 0, 53, 0, 46, 0, 0];
    udp.extend((0..38).map(|i| i as u8));
    dns.extend(v4(17, &udp));
    out.push((dns, 14, 0x0800));
    let mut v6 = eth(0x86dd);
    let t = tcp(12, 1000);
    v6.extend_from_slice(&[0x60, 0, 0, 0]);
    v6.extend_from_slice(&(t.len() as u16).to_be_bytes());
    v6.extend_from_slice(&[6, 64]);
    v6.extend((0..32).map(|i| i as u8));
    v6.extend(t);
    out.push((v6, 14, 0x86dd));
    let mut arp = eth(0x0806);
    arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1]);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&[10, 0, 0, 2]);
    arp.extend_from_slice(&[0; 18]);
    out.push((arp, 14, 0x0806));
    // Weighted like traffic: ACKs and data segments dominate.
    let w = [4, 4, 1, 1, 0];
    let mut mix = Vec::new();
    for (i, it) in out.iter().enumerate() {
        for _ in 0..w[i].max(1) {
            mix.push(it.clone());
        }
    }
    mix
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("content_hash");
    g.throughput(Throughput::Elements(1));
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    let corpus = corpus();
    if corpus.is_empty() {
        eprintln!("\n*** content_hash bench: corpus not found, corpus case SKIPPED ***\n");
    } else {
        eprintln!("content_hash bench: {} corpus frames", corpus.len());
        let mut i = 0;
        g.bench_function("corpus", |b| {
            b.iter(|| {
                let (f, l3, t) = &corpus[i];
                i = if i + 1 == corpus.len() { 0 } else { i + 1 };
                black_box(content_hash(black_box(f), *l3, *t))
            })
        });
    }
    let syn = synthetic();
    let mut i = 0;
    g.bench_function("synthetic", |b| {
        b.iter(|| {
            let (f, l3, t) = &syn[i];
            i = if i + 1 == syn.len() { 0 } else { i + 1 };
            black_box(content_hash(black_box(f), *l3, *t))
        })
    });
    let mut i = 0;
    g.bench_function("compute_meta", |b| {
        b.iter(|| {
            let (f, _, _) = &syn[i];
            i = if i + 1 == syn.len() { 0 } else { i + 1 };
            black_box(compute_meta(black_box(f)))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
