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
//!   shard_batch_nodedup / shard_batch_dedup_remove  the same with duplicate detection off,
//!                    and removing copies (`shard_batch` runs the default, report)
//! Throughput is one element per packet, so criterion prints time per packet.
use argus::flow::dup::DedupMode;
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
    if std::env::var_os("DEDUP_CPU").is_some() {
        dedup_cpu(&fs);
    }
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
    // The batch form with duplicate detection off, in its default (report) mode, and removing
    // copies: the cost of the content hash and the history (docs/duplicates.md, "Cost").
    const BATCH: usize = 512;
    g.throughput(Throughput::Elements(BATCH as u64));
    for (name, mode) in [
        ("shard_batch_nodedup", DedupMode::Off),
        ("shard_batch", DedupMode::Report),
        ("shard_batch_dedup_remove", DedupMode::Remove),
    ] {
        let cfg = ModelConfig {
            dedup: mode,
            ..Default::default()
        };
        batch(&mut g, name, &fs, cfg, first, loop_span);
    }
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

/// `shard_batch`: the engine worker's two passes over batches of 512 frames.
fn batch(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    fs: &FrameSet,
    cfg: ModelConfig,
    first: i64,
    loop_span: i64,
) {
    const BATCH: usize = 512;
    let n = fs.frames.len();
    let mut shard2 = Shard::new(cfg);
    let mut out: Vec<Emitted> = Vec::with_capacity(1024);
    let mut i = 0usize;
    let mut shift = 0i64;
    let mut idx2 = 0u64;
    let mut next_tick = first + 200_000;
    const AHEAD: usize = 8;
    let mut cand: Vec<Option<u32>> = Vec::with_capacity(BATCH);
    g.bench_function(name, |b| {
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
}

/// This thread's CPU time in ns (not wall time: the benchmark machine is shared).
fn cpu_ns() -> u64 {
    let mut ts = std::mem::MaybeUninit::<[i64; 2]>::uninit();
    // SAFETY: clock_gettime writes a timespec (two longs on 64-bit Linux) into `ts`.
    let r = unsafe {
        clock_gettime(3 /* CLOCK_THREAD_CPUTIME_ID */, ts.as_mut_ptr())
    };
    assert_eq!(r, 0, "clock_gettime");
    // SAFETY: initialised by the successful call above.
    let [s, n] = unsafe { ts.assume_init() };
    s as u64 * 1_000_000_000 + n as u64
}

extern "C" {
    fn clock_gettime(clk: i32, ts: *mut [i64; 2]) -> i32;
}

/// `DEDUP_CPU=1 cargo bench -p argus-bench --bench flow_update -- shard_batch`: the batch
/// update over the whole frame set in each dedup mode, interleaved, 15 rounds (`DEDUP_CPU=N`:
/// N) of 100k packets each, best CPU time per packet of each mode (docs/perf.md, docs/duplicates.md).
fn dedup_cpu(fs: &FrameSet) {
    let n = fs.frames.len();
    let modes = [
        ("off", DedupMode::Off),
        ("report", DedupMode::Report),
        ("count", DedupMode::Count),
        ("remove", DedupMode::Remove),
    ];
    let mut shards: Vec<Shard> = modes
        .iter()
        .map(|m| {
            Shard::new(ModelConfig {
                dedup: m.1,
                ..Default::default()
            })
        })
        .collect();
    let mut best = [u64::MAX; 4];
    let mut out: Vec<Emitted> = Vec::with_capacity(1 << 16);
    let first = fs.frames[0].2 as i64 * 1_000_000 + fs.frames[0].3 as i64;
    let last = fs.frames[n - 1].2 as i64 * 1_000_000 + fs.frames[n - 1].3 as i64;
    let span = last - first + 1_000_000;
    let mut pre = Vec::with_capacity(512);
    let rounds: i64 = std::env::var("DEDUP_CPU")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&r| r > 1)
        .unwrap_or(15);
    for round in 0..rounds {
        for (k, sh) in shards.iter_mut().enumerate() {
            // The content hash is computed by classify only for shards with detection on.
            argus::flow::dup::set_hashing(k != 0);
            let t0 = cpu_ns();
            let mut next_tick = first + round * span + 200_000;
            let mut i = 0usize;
            while i < n {
                pre.clear();
                for _ in 0..512.min(n - i) {
                    let (o, l, s, u) = fs.frames[i];
                    let fr = &fs.data[o as usize..(o + l) as usize];
                    let now_us = s as i64 * 1_000_000 + u as i64 + round * span;
                    let d = wire::decode(LINKTYPE_ETHERNET, fr, l);
                    let pk = classify(fr, &d).map(|pk| {
                        let h = key_hash(&pk.key);
                        sh.prefetch_index(h);
                        (d, pk, h)
                    });
                    pre.push((i as u64, now_us, pk));
                    i += 1;
                }
                for j in 0..pre.len() {
                    if let Some((_, _, Some(p))) = pre.get(j + 8) {
                        if let Some(c) = sh.prefetch_flow(p.2) {
                            sh.prefetch_proto(c);
                        }
                    }
                    let (idx, now_us, p) = &pre[j];
                    let now = Ts::from_micros(*now_us);
                    if *now_us >= next_tick {
                        sh.tick(now, &mut out);
                        next_tick = now_us + 200_000;
                    }
                    if let Some((d, pk, h)) = p {
                        sh.packet_hashed(*idx, now, d, pk, *h, &mut out);
                    }
                    out.clear();
                }
            }
            best[k] = best[k].min(cpu_ns() - t0);
        }
    }
    // The content hash alone: decode + classify with and without it, same frames.
    let mut hb = [u64::MAX; 2];
    let mut sink = 0u32;
    argus::flow::dup::set_hashing(false);
    for _ in 0..15 {
        for (k, b) in hb.iter_mut().enumerate() {
            let t0 = cpu_ns();
            for i in 0..n {
                let fr = fs.frame(i);
                let d = wire::decode(LINKTYPE_ETHERNET, fr, fr.len() as u32);
                if let Some(pk) = classify(fr, &d) {
                    sink ^= if k == 1 {
                        pk.content_hash()
                    } else {
                        pk.key.len as u32
                    };
                }
            }
            *b = (*b).min(cpu_ns() - t0);
        }
    }
    eprintln!(
        "dedup_cpu content hash: {:.1} ns/packet (decode+classify {:.1} without, {:.1} with; {sink})",
        (hb[1] as f64 - hb[0] as f64) / n as f64,
        hb[0] as f64 / n as f64,
        hb[1] as f64 / n as f64
    );
    argus::flow::dup::set_hashing(true);
    for (k, m) in modes.iter().enumerate() {
        eprintln!(
            "dedup_cpu {:>6}: {:6.1} ns/packet (best of {rounds}, CPU time), {} copies found",
            m.0,
            best[k] as f64 / n as f64,
            shards[k].stats.dup_pkts
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
