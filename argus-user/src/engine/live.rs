//! Live capture: one worker per capture queue, each pinned to a core, with hand-off rings so
//! that both directions of a flow meet in one shard.
//!
//! ```text
//! queue q ─► worker q ── frame of its own shard ──────────────► Shard q ─┐
//!               │                                                        ├─► merger ─► sinks
//!               └─ frame of shard r ─► ring q→r (SPSC) ─► worker r ─► Shard r ─┘
//! ```
//!
//! * Each worker polls the capture queues it was given (an AF_XDP socket per rx queue, or an
//!   AF_PACKET socket of a fanout group) and owns shard `w` of the flow table.
//! * A frame belongs to shard `shard_hash % n`. The XDP program computed that hash in the
//!   kernel (the metadata's `shard_hash`); for other frames the worker computes the same value
//!   ([`super::shard::frame_shard_hash`]). RSS is not symmetric on most NICs, so the two
//!   directions of a flow often arrive on different queues: a frame of another worker's shard
//!   is copied into a batch for that worker and handed over through a lock-free single-producer
//!   single-consumer ring ([`ArrayQueue`]), one per ordered pair of workers. Used batches go
//!   back through a second ring of the pair, so batches are allocated only while warming up.
//!   Where the NIC hashes symmetrically the rings stay idle.
//! * A full ring is not waited on for ever: capture must not stall. The worker keeps working on
//!   its own inbound rings (which is what frees the peer) for up to [`HANDOFF_PATIENCE`], then
//!   drops the batch and counts its frames (`EngineCounters::ring_dropped`, reported in MAR
//!   status records as drops and at exit).
//! * Each worker runs argus' 200 ms housekeeping clock on the wall clock, so idle flows are
//!   reported and status records written even when no packet arrives. Records are ordered by
//!   the frames' capture times (microseconds since the engine started stand in for the packet
//!   index of file input); the merger is the same as for files.
//! * At SIGINT/SIGTERM every worker takes what its queues still hold, hands over its last
//!   batches and says so; once all have, each empties its inbound rings and reports every
//!   flow. Nothing captured is lost on the way out.

use super::{
    merge, shard, Batch, Clock, EngineConfig, EngineCounters, FrameRef, Item, LiveReport, MergeMsg,
    RecordSink, RunReport, WorkerState, ACCOUNT, BATCH, COALESCE_BELOW, COALESCE_WAIT, COPIED,
    FLUSH_EVERY, MAP,
};
use crate::capture::{FrameMeta, KernelHashes, LiveSource};
use crate::record::Ts;
use crossbeam_channel::{bounded, Sender};
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Batches in flight from one worker to another.
const RING: usize = 32;

/// With several workers: longest time a captured frame waits in a partial batch, and how
/// often each worker advances its mark.
const SHARED_FLUSH: Duration = Duration::from_millis(2);

/// How long a worker keeps trying to hand a batch to a full ring before dropping it.
const HANDOFF_PATIENCE: Duration = Duration::from_millis(5);

/// The two rings from worker `a` to worker `b`.
struct Lane {
    /// Batches of frames for `b`.
    full: ArrayQueue<Batch>,
    /// Batches `b` has finished with, for `a` to fill again.
    empty: ArrayQueue<Batch>,
}

/// All lanes between the workers, and what they need to coordinate the end.
struct Mesh {
    n: usize,
    /// `lanes[a * n + b]`: from `a` to `b` (the diagonal is unused).
    lanes: Vec<Lane>,
    /// Workers' threads, to wake one that sleeps for want of a queue of its own.
    threads: Vec<OnceLock<thread::Thread>>,
    /// Per worker: every frame it captured with a timestamp (µs) before this has been handed
    /// over. Owners put frames in order up to the smallest mark.
    marks: Vec<AtomicI64>,
    /// Workers that have handed over their last batch.
    finished: AtomicUsize,
}

impl Mesh {
    fn new(n: usize) -> Mesh {
        Mesh {
            n,
            lanes: (0..n * n)
                .map(|_| Lane {
                    full: ArrayQueue::new(RING),
                    empty: ArrayQueue::new(RING),
                })
                .collect(),
            threads: (0..n).map(|_| OnceLock::new()).collect(),
            marks: (0..n).map(|_| AtomicI64::new(i64::MIN)).collect(),
            finished: AtomicUsize::new(0),
        }
    }

    fn lane(&self, a: usize, b: usize) -> &Lane {
        &self.lanes[a * self.n + b]
    }
}

/// Pin the calling thread to `cpu`. Returns false where the kernel refused.
fn pin_to_cpu(cpu: usize) -> bool {
    // SAFETY: cpu_set_t is plain data (all zero is the empty set); CPU_SET writes inside it;
    // sched_setaffinity(0, ...) affects only the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// A frame (or tick) waiting to be put in capture-time order.
#[derive(Clone, Copy)]
struct Pending {
    /// Capture time, µs.
    ts: i64,
    /// Arrival order here: ties keep it.
    seq: u64,
    /// Where the frame is: `held[slot]`, item `item`; [`TICK`] for a housekeeping tick.
    slot: u32,
    item: u32,
}

/// [`Pending::slot`] of a housekeeping tick.
const TICK: u32 = u32::MAX;

/// A batch whose frames wait in `pending`, and how many of them are left.
struct Held {
    from: usize,
    b: Batch,
    left: usize,
}

/// One live worker: its shard, its outgoing batches (one per worker, its own included), the
/// inputs it puts in time order, and its counters.
struct LiveWorker<'m> {
    w: usize,
    n: usize,
    st: WorkerState,
    out: Vec<Batch>,
    /// Frames have to be put in time order: several workers, or several queues.
    ordered: bool,
    /// Batches (own and handed over) whose frames are not all processed yet.
    held: Vec<Option<Held>>,
    free: Vec<u32>,
    /// Their frames not processed yet, and the housekeeping ticks (which wait for the
    /// frames before them).
    pending: Vec<Pending>,
    seq: u64,
    /// The mark and the number of waiting frames at the last [`LiveWorker::advance`].
    last_upto: i64,
    last_pending: usize,
    /// Frames put in time order, for the shard.
    merged: Batch,
    /// Empty batches of this worker's own.
    spare: Vec<Batch>,
    mesh: &'m Mesh,
    /// Wall-clock time (µs) the engine started: frame and tick times are ordered from it.
    origin_us: i64,
    packets: u64,
    bytes: u64,
    handed_off: u64,
    ring_dropped: u64,
    /// Something was processed since the merger last heard from this worker.
    dirty: bool,
}

impl LiveWorker<'_> {
    /// Order of an instant among this run's frames and ticks.
    fn idx(&self, ts: Ts) -> u64 {
        (ts.as_micros() - self.origin_us).max(0) as u64
    }

    /// One captured frame: into the batch of the worker that owns its shard.
    fn frame(&mut self, ifx: u16, meta: &FrameMeta, kh: Option<KernelHashes>, data: &[u8]) {
        self.packets += 1;
        self.bytes += meta.len as u64;
        let ts = Ts {
            sec: meta.ts_sec as u32,
            usec: meta.ts_nsec / 1000,
        };
        let idx = self.idx(ts);
        let (k, quoted) =
            shard::frame_workers(self.n, kh.map(|k| k.shard), meta.linktype, data, meta.len);
        let fr = FrameRef {
            idx,
            ts,
            linktype: meta.linktype,
            len: meta.len,
            start: 0,
            caplen: data.len() as u32,
            map: COPIED,
            ifx,
            chash: kh.map_or(0, |k| k.content),
            role: ACCOUNT | MAP,
        };
        match quoted {
            None => self.put(k, fr, data),
            Some(q) => {
                self.put(
                    k,
                    FrameRef {
                        role: ACCOUNT,
                        ..fr
                    },
                    data,
                );
                self.put(q, FrameRef { role: MAP, ..fr }, data);
            }
        }
    }

    /// Copy a frame into the batch for worker `k`.
    fn put(&mut self, k: usize, fr: FrameRef, data: &[u8]) {
        let b = &mut self.out[k];
        let start = b.data.len() as u64;
        b.data.extend_from_slice(data);
        b.items.push(Item::Frame(FrameRef { start, ..fr }));
        if b.items.len() >= BATCH || b.data.len() >= BATCH * 2048 {
            self.ship(k, false);
        }
    }

    /// Batch `k` is due: to the own input (and, with a single worker, straight to the shard),
    /// or to worker `k` through the ring. `patient`: wait for room in the ring as long as it
    /// takes (at the end, when every worker drains).
    fn ship(&mut self, k: usize, patient: bool) {
        if self.out[k].items.is_empty() {
            return;
        }
        if k == self.w {
            let fresh = self.spare.pop().unwrap_or_else(Batch::new);
            let b = std::mem::replace(&mut self.out[k], fresh);
            if self.ordered {
                self.hold(k, b);
            } else {
                // One queue, one worker: the frames are in order already.
                self.st.batch(&b);
                self.dirty = true;
                self.recycle(k, b);
            }
            return;
        }
        let mesh = self.mesh;
        let lane = mesh.lane(self.w, k);
        let fresh = lane.empty.pop().unwrap_or_else(Batch::new);
        let mut b = std::mem::replace(&mut self.out[k], fresh);
        // Captured frames; an ICMP error's copy for the shard of the flow it quotes is not one.
        let frames = b
            .items
            .iter()
            .filter(|it| matches!(it, Item::Frame(f) if f.role & ACCOUNT != 0))
            .count() as u64;
        let since = Instant::now();
        loop {
            match lane.full.push(b) {
                Ok(()) => {
                    self.handed_off += frames;
                    if let Some(t) = mesh.threads[k].get() {
                        t.unpark();
                    }
                    return;
                }
                Err(back) => b = back,
            }
            // The peer may be waiting on a ring towards this worker: keep those moving.
            self.drain_inbound();
            if !patient && since.elapsed() >= HANDOFF_PATIENCE {
                self.ring_dropped += frames;
                clear(&mut b);
                let _ = lane.empty.push(b);
                return;
            }
            thread::yield_now();
        }
    }

    /// A batch this worker is done with goes back to its producer.
    fn recycle(&mut self, a: usize, mut b: Batch) {
        clear(&mut b);
        if a == self.w {
            self.spare.push(b);
        } else {
            let _ = self.mesh.lane(a, self.w).empty.push(b);
        }
    }

    /// Take every batch the other workers handed over (the rings are free again at once).
    fn drain_inbound(&mut self) -> usize {
        let mut got = 0;
        let mesh = self.mesh;
        for a in 0..self.n {
            if a == self.w {
                continue;
            }
            let lane = mesh.lane(a, self.w);
            while let Some(b) = lane.full.pop() {
                got += b.items.len();
                self.hold(a, b);
            }
        }
        got
    }

    /// Hand every partial batch on (latency bound, or the end).
    fn ship_all(&mut self, patient: bool) {
        for k in 0..self.n {
            self.ship(k, patient);
        }
    }

    /// Keep batch `b` from worker `from` until its frames' turn comes.
    fn hold(&mut self, from: usize, b: Batch) {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.held.push(None);
                (self.held.len() - 1) as u32
            }
        };
        let mut left = 0;
        for (i, it) in b.items.iter().enumerate() {
            if let Item::Frame(f) = it {
                left += 1;
                self.pending.push(Pending {
                    ts: f.ts.as_micros(),
                    seq: self.seq,
                    slot,
                    item: i as u32,
                });
                self.seq += 1;
            }
        }
        if left == 0 {
            self.free.push(slot);
            self.recycle(from, b);
            return;
        }
        self.held[slot as usize] = Some(Held { from, b, left });
    }

    /// A housekeeping tick at `now`, after every frame captured before it.
    fn tick(&mut self, now: Ts) {
        if !self.ordered {
            // The frames before the tick go first.
            self.ship(self.w, false);
            let idx = self.idx(now);
            self.merged.items.push(Item::Tick { idx, now });
            self.process_merged();
            return;
        }
        self.pending.push(Pending {
            ts: now.as_micros(),
            seq: self.seq,
            slot: TICK,
            item: 0,
        });
        self.seq += 1;
    }

    /// Feed the shard, in capture-time order, every frame and tick older than every worker's
    /// mark: by then no frame older than that can still be on its way here (each worker's
    /// frames come from several queues, and their batches overlap in time, so the frames are
    /// sorted, not merged; they are mostly in order, which the sort is quick on). Frames are
    /// copied into one batch in that order.
    fn advance(&mut self) {
        if !self.ordered {
            return;
        }
        let upto = self
            .mesh
            .marks
            .iter()
            .map(|m| m.load(Ordering::Acquire))
            .min()
            .unwrap_or(i64::MAX);
        // Everything shipped before the marks were set is in the rings now.
        self.drain_inbound();
        // Nothing new and no mark moved: nothing can have become ready.
        if upto == self.last_upto && self.pending.len() == self.last_pending {
            return;
        }
        self.last_upto = upto;
        let mut pending = std::mem::take(&mut self.pending);
        if !pending.is_sorted_by_key(|p| (p.ts, p.seq)) {
            pending.sort_by_key(|p| (p.ts, p.seq));
        }
        let ready = pending.partition_point(|p| p.ts < upto);
        for p in pending.drain(..ready) {
            if p.slot == TICK {
                let now = Ts::from_micros(p.ts);
                let idx = self.idx(now);
                self.merged.items.push(Item::Tick { idx, now });
            } else if let Some(h) = self.held.get_mut(p.slot as usize).and_then(Option::as_mut) {
                if let Some(Item::Frame(f)) = h.b.items.get(p.item as usize) {
                    let m = &mut self.merged;
                    let start = m.data.len() as u64;
                    m.data.extend_from_slice(h.b.frame(f));
                    m.items.push(Item::Frame(FrameRef {
                        start,
                        map: COPIED,
                        ..*f
                    }));
                }
                h.left -= 1;
                if h.left == 0 {
                    if let Some(done) = self.held[p.slot as usize].take() {
                        self.free.push(p.slot);
                        self.recycle(done.from, done.b);
                    }
                }
            }
            if self.merged.items.len() >= BATCH {
                self.process_merged();
            }
        }
        self.last_pending = pending.len();
        self.pending = pending;
        self.process_merged();
    }

    fn process_merged(&mut self) {
        if self.merged.items.is_empty() {
            return;
        }
        self.st.batch(&self.merged);
        clear(&mut self.merged);
        self.dirty = true;
    }
}

fn clear(b: &mut Batch) {
    b.items.clear();
    b.data.clear();
    b.maps.clear();
}

/// What a worker gives back when it ends.
struct WorkerEnd {
    sources: Vec<Box<dyn LiveSource>>,
    handed_off: u64,
    pinned: bool,
}

#[allow(clippy::too_many_arguments)]
fn live_worker(
    w: usize,
    cfg: &EngineConfig,
    mut sources: Vec<(u16, Box<dyn LiveSource>)>,
    mesh: &Mesh,
    tx: Sender<(usize, MergeMsg)>,
    counters: &EngineCounters,
    stop: &AtomicBool,
    origin_us: i64,
    pin: bool,
    errors: &Mutex<Vec<String>>,
) -> WorkerEnd {
    let n = mesh.n;
    let _ = mesh.threads[w].set(thread::current());
    let pinned = pin && pin_to_cpu(w);
    let mut lw = LiveWorker {
        w,
        n,
        st: WorkerState::new(w, cfg.model.clone()),
        out: (0..n).map(|_| Batch::new()).collect(),
        ordered: n > 1 || sources.len() > 1,
        held: Vec::new(),
        free: Vec::new(),
        pending: Vec::new(),
        seq: 0,
        last_upto: i64::MIN,
        last_pending: 0,
        merged: Batch::new(),
        spare: Vec::new(),
        mesh,
        origin_us,
        packets: 0,
        bytes: 0,
        handed_off: 0,
        ring_dropped: 0,
        dirty: false,
    };
    // A worker with queues waits in poll(2); a short wait bounds how long handed-over batches
    // sit in its inbound rings. One without queues sleeps until a peer wakes it.
    let wait = if n > 1 {
        Duration::from_millis(2)
    } else {
        Duration::from_millis((50 / sources.len().max(1)).max(1) as u64)
    };
    // With several workers, partial batches leave every SHARED_FLUSH: the owner of a shard
    // waits for every worker's mark before it puts frames in order, so this bounds latency.
    let flush_every = if lw.ordered {
        SHARED_FLUSH
    } else {
        FLUSH_EVERY
    };
    let lag_us = sources
        .iter()
        .map(|(_, s)| s.visibility_lag())
        .max()
        .unwrap_or_default()
        .as_micros() as i64;
    let mut clock = Clock { timer: None };
    let mut last_flush = Instant::now();
    let mut last_stats = Instant::now();
    let mut dropped_seen = 0u64;
    let (mut packets_told, mut bytes_told, mut ring_told) = (0u64, 0u64, 0u64);
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        // Every frame stamped before this instant (less the sources' lag) is delivered by the
        // polls below.
        let poll_start = crate::output::now().as_micros();
        let mut got = 0;
        for (ifx, src) in sources.iter_mut() {
            let timeout = if stopping { Duration::ZERO } else { wait };
            let ifx = *ifx;
            let mut deliver =
                |m: FrameMeta, h: Option<KernelHashes>, d: &[u8]| lw.frame(ifx, &m, h, d);
            match src.poll_hashed(timeout, &mut deliver) {
                Ok(k) => got += k,
                Err(e) => {
                    if let Ok(mut v) = errors.lock() {
                        v.push(format!("{}: {e}", src.name()));
                    }
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
        if sources.is_empty() && !stopping {
            thread::park_timeout(wait);
        }
        got += lw.drain_inbound();
        if stopping {
            break;
        }
        // A trickle of frames would wake this thread once per frame (AF_XDP sockets signal
        // every frame): let a few hundred microseconds of traffic gather instead. Rings hold
        // thousands of frames, so nothing is lost; at high rates this never sleeps.
        if got > 0 && got < COALESCE_BELOW && !sources.is_empty() {
            thread::sleep(COALESCE_WAIT);
        }
        let now = crate::output::now();
        if clock.tick(now) {
            lw.tick(now);
        }
        // Partial batches leave at most every flush_every: handing over after every poll
        // would wake the peers once per frame at low rates. Full batches leave at once.
        if last_flush.elapsed() >= flush_every {
            last_flush = Instant::now();
            lw.ship_all(false);
            mesh.marks[w].store(poll_start - lag_us, Ordering::Release);
        }
        lw.advance();
        if last_stats.elapsed() >= Duration::from_secs(1) {
            last_stats = Instant::now();
            let dropped: u64 = sources.iter_mut().map(|(_, s)| s.stats().dropped).sum();
            counters
                .dropped
                .fetch_add(dropped.saturating_sub(dropped_seen), Ordering::Relaxed);
            dropped_seen = dropped.max(dropped_seen);
        }
        if lw.packets != packets_told {
            counters
                .packets
                .fetch_add(lw.packets - packets_told, Ordering::Relaxed);
            counters
                .bytes
                .fetch_add(lw.bytes - bytes_told, Ordering::Relaxed);
            (packets_told, bytes_told) = (lw.packets, lw.bytes);
        }
        if lw.ring_dropped != ring_told {
            let d = lw.ring_dropped - ring_told;
            counters.ring_dropped.fetch_add(d, Ordering::Relaxed);
            counters.dropped.fetch_add(d, Ordering::Relaxed);
            ring_told = lw.ring_dropped;
        }
        if lw.dirty {
            lw.dirty = false;
            lw.st.publish(&tx, counters);
        }
    }
    // The end: the last batches go out (waiting for room: every worker drains until all are
    // done), then this worker empties its inbound rings until every peer has finished too,
    // and puts everything in order.
    lw.ship_all(true);
    mesh.marks[w].store(i64::MAX, Ordering::Release);
    mesh.finished.fetch_add(1, Ordering::AcqRel);
    while mesh.finished.load(Ordering::Acquire) < n {
        if lw.drain_inbound() == 0 {
            thread::sleep(Duration::from_micros(100));
        }
    }
    lw.advance();
    counters
        .packets
        .fetch_add(lw.packets - packets_told, Ordering::Relaxed);
    counters
        .bytes
        .fetch_add(lw.bytes - bytes_told, Ordering::Relaxed);
    let d = lw.ring_dropped - ring_told;
    counters.ring_dropped.fetch_add(d, Ordering::Relaxed);
    counters.dropped.fetch_add(d, Ordering::Relaxed);
    let handed_off = lw.handed_off;
    lw.st.end(&tx);
    WorkerEnd {
        sources: sources.into_iter().map(|(_, s)| s).collect(),
        handed_off,
        pinned,
    }
}

/// Run the engine on live sources until `stop` is set (SIGINT/SIGTERM), then report every flow
/// and return. `sources` are capture queues (an AF_XDP socket per rx queue, AF_PACKET fanout
/// members): source `i` goes to worker `i % workers`. The clock runs on the wall clock, so
/// idle flows are reported and forgotten on time; a MAR status record is written every
/// `mar_interval_s`. `live` receives the capture counters, one entry per interface.
pub fn run_live(
    cfg: &EngineConfig,
    sources: Vec<Box<dyn LiveSource>>,
    sink: &mut dyn RecordSink,
    stop: &AtomicBool,
    mar_interval_s: u32,
    live: &mut Vec<LiveReport>,
) -> (RunReport, LiveEngineReport) {
    let n = cfg.workers.max(1);
    // Interfaces in the order they were given: duplicate tallies are kept per interface.
    let mut names: Vec<String> = Vec::new();
    let mut per_worker: Vec<Vec<(u16, Box<dyn LiveSource>)>> = (0..n).map(|_| Vec::new()).collect();
    for (i, s) in sources.into_iter().enumerate() {
        let ifx = match names.iter().position(|x| x == s.name()) {
            Some(k) => k,
            None => {
                names.push(s.name().to_string());
                names.len() - 1
            }
        };
        per_worker[i % n].push((ifx.min(u16::MAX as usize) as u16, s));
    }
    let counters = Arc::new(EngineCounters {
        flows: (0..n).map(|_| Default::default()).collect(),
        vlan_dups: crate::flow::dup::VlanDupCounters::new(names),
        ..Default::default()
    });
    let cpus = thread::available_parallelism().map_or(1, |c| c.get());
    let pin = n > 1 && n <= cpus;
    let mesh = Mesh::new(n);
    let errors = Mutex::new(Vec::new());
    let origin_us = crate::output::now().as_micros();
    let mar = Some(mar_interval_s as i64 * 1_000_000);
    let (mtx, mrx) = bounded::<(usize, MergeMsg)>(n * 128);
    let mut report = RunReport::default();
    let mut engine = LiveEngineReport {
        workers: n,
        ..Default::default()
    };
    let mut back: Vec<Box<dyn LiveSource>> = Vec::new();
    thread::scope(|s| {
        let mc = Arc::clone(&counters);
        let merger = s.spawn(move || merge(n, mrx, sink, mc, mar));
        let handles: Vec<_> = per_worker
            .into_iter()
            .enumerate()
            .map(|(w, srcs)| {
                let (tx, mesh, counters, errors) = (mtx.clone(), &mesh, &*counters, &errors);
                s.spawn(move || {
                    live_worker(
                        w, cfg, srcs, mesh, tx, counters, stop, origin_us, pin, errors,
                    )
                })
            })
            .collect();
        drop(mtx);
        for h in handles {
            match h.join() {
                Ok(end) => {
                    engine.handed_off += end.handed_off;
                    engine.pinned += usize::from(end.pinned);
                    back.extend(end.sources);
                }
                Err(_) => report.errors.push("a capture worker panicked".into()),
            }
        }
        let (stats, records) = merger.join().unwrap_or_default();
        report.add_shards(&stats);
        report.records = records;
    });
    report.packets = counters.packets.load(Ordering::Relaxed);
    report.bytes = counters.bytes.load(Ordering::Relaxed);
    engine.ring_dropped = counters.ring_dropped.load(Ordering::Relaxed);
    report
        .errors
        .extend(errors.into_inner().unwrap_or_default());
    live.clear();
    for src in back.iter_mut() {
        let st = src.stats();
        match live.iter_mut().find(|r| r.iface == src.name()) {
            Some(r) => {
                r.stats.received += st.received;
                r.stats.dropped += st.dropped;
            }
            None => live.push(LiveReport {
                iface: src.name().to_string(),
                stats: st,
            }),
        }
    }
    (report, engine)
}

/// How the live workers shared the work.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveEngineReport {
    pub workers: usize,
    /// Workers pinned to their core.
    pub pinned: usize,
    /// Frames handed from the worker that captured them to the one owning their shard.
    pub handed_off: u64,
    /// Frames dropped because a hand-off ring stayed full.
    pub ring_dropped: u64,
}
