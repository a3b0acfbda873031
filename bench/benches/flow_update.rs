//! Per-packet cost of the sensor's hot path over an in-memory synthetic capture
//! (100k packets over 10k flows, looped):
//!   decode_classify  `wire::decode` + `flow::key::classify`, walking all 100k frames (51 MB):
//!                    includes the cache miss on each frame's first bytes
//!   decode_classify_warm  the same over the first 512 frames only (about 256 KB, cache
//!                    resident), as in the sensor where the reader has just copied the frame
//!   shard_packet     decode + classify + `Shard::packet` (the full flow-table update, records
//!                    built for status/close, a housekeeping `tick` every 200 ms of packet time
//!                    as the engine does)
//!   shard_batch      the same work a batch of 512 frames at a time, the way the engine's
//!                    worker does it: decode and classify the batch and prefetch the index
//!                    buckets, then update in order while prefetching flow state 8 packets
//!                    and TCP state 4 packets ahead
//! Throughput is one element per packet, so criterion prints time per packet.
use argus::flow::key::classify;
use argus::flow::table::{key_hash, Emitted, Shard};
use argus::flow::ModelConfig;
use argus::record::Ts;
use argus::wire;
use argus_bench::{Config, FrameSet};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;

const LINKTYPE_ETHERNET: u32 = 1;

fn frames() -> FrameSet {
    let mut cfg = Config::new(100_000, 10_000, 42);
    // All 10k flows active at once; the 100k packets span 10 s of packet time.
    cfg.concurrency = 10_000;
    cfg.duration_us = 10_000_000;
    FrameSet::generate(cfg)
}

fn bench(c: &mut Criterion) {
    let fs = frames();
    let n = fs.frames.len();
    let mut g = c.benchmark_group("per_packet");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));

    let mut i = 0usize;
    g.bench_function("decode_classify", |b| {
        b.iter(|| {
            let fr = fs.frame(i);
            i += 1;
            if i == n {
                i = 0;
            }
            let d = wire::decode(LINKTYPE_ETHERNET, fr, fr.len() as u32);
            black_box(classify(fr, &d).map(|pk| pk.key.len));
        })
    });

    let warm = n.min(512);
    let mut i = 0usize;
    g.bench_function("decode_classify_warm", |b| {
        b.iter(|| {
            let fr = fs.frame(i);
            i += 1;
            if i == warm {
                i = 0;
            }
            let d = wire::decode(LINKTYPE_ETHERNET, fr, fr.len() as u32);
            black_box(classify(fr, &d).map(|pk| pk.key.len));
        })
    });

    // Time keeps advancing across loops of the frame set (each loop is shifted by the
    // set's span plus 1 s), so flows age, time out and are re-created as in a long capture.
    let first = fs.frames[0].2 as i64 * 1_000_000 + fs.frames[0].3 as i64;
    let last = fs.frames[n - 1].2 as i64 * 1_000_000 + fs.frames[n - 1].3 as i64;
    let loop_span = last - first + 1_000_000;
    let mut shard = Shard::new(ModelConfig::default());
    let mut out: Vec<Emitted> = Vec::with_capacity(1024);
    let mut i = 0usize;
    let mut shift = 0i64;
    let mut idx = 0u64;
    let mut next_tick = first + 200_000;
    let mut records = 0u64;
    g.bench_function("shard_packet", |b| {
        b.iter(|| {
            let (o, l, s, u) = fs.frames[i];
            let fr = &fs.data[o as usize..(o + l) as usize];
            let now_us = s as i64 * 1_000_000 + u as i64 + shift;
            let now = Ts::from_micros(now_us);
            if now_us >= next_tick {
                shard.tick(now, &mut out);
                next_tick = now_us + 200_000;
            }
            let d = wire::decode(LINKTYPE_ETHERNET, fr, l);
            if let Some(pk) = classify(fr, &d) {
                shard.packet(idx, now, &d, &pk, &mut out);
            }
            idx += 1;
            records += out.len() as u64;
            out.clear();
            i += 1;
            if i == n {
                i = 0;
                shift += loop_span;
            }
        })
    });
    let mut shard2 = Shard::new(ModelConfig::default());
    let mut i = 0usize;
    let mut shift = 0i64;
    let mut idx2 = 0u64;
    let mut next_tick = first + 200_000;
    const BATCH: usize = 512;
    const AHEAD: usize = 8;
    let mut cand: Vec<Option<u32>> = Vec::with_capacity(BATCH);
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("shard_batch", |b| {
        b.iter(|| {
            let mut pre = Vec::with_capacity(BATCH);
            for _ in 0..BATCH {
                let (o, l, s, u) = fs.frames[i];
                let fr = &fs.data[o as usize..(o + l) as usize];
                let now_us = s as i64 * 1_000_000 + u as i64 + shift;
                let d = wire::decode(LINKTYPE_ETHERNET, fr, l);
                let pk = classify(fr, &d).map(|pk| {
                    let h = key_hash(&pk.key);
                    shard2.prefetch_index(h);
                    (d, pk, h)
                });
                pre.push((now_us, pk));
                i += 1;
                if i == n {
                    i = 0;
                    shift += loop_span;
                }
            }
            cand.clear();
            cand.extend(
                pre.iter()
                    .take(AHEAD)
                    .map(|(_, p)| p.as_ref().and_then(|p| shard2.prefetch_flow(p.2))),
            );
            cand.resize(BATCH, None);
            for j in 0..BATCH {
                if let Some((_, Some(p))) = pre.get(j + AHEAD) {
                    cand[j + AHEAD] = shard2.prefetch_flow(p.2);
                }
                if let Some(&Some(c)) = cand.get(j + AHEAD / 2) {
                    shard2.prefetch_proto(c);
                }
                let (now_us, p) = &pre[j];
                let now = Ts::from_micros(*now_us);
                if *now_us >= next_tick {
                    shard2.tick(now, &mut out);
                    next_tick = now_us + 200_000;
                }
                if let Some((d, pk, h)) = p {
                    shard2.packet_hashed(idx2, now, d, pk, *h, &mut out);
                }
                idx2 += 1;
                out.clear();
            }
        })
    });
    g.finish();
    let active = shard.active_flows();
    let mut tail = Vec::new();
    shard.flush(&mut tail);
    eprintln!(
        "shard_packet: {} packets, {} records emitted, {} flows active at the end",
        idx,
        records + tail.len() as u64,
        active
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
