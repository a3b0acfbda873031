//! The engine: one reader feeding N workers that each own a shard of the flow table, and one
//! merger that orders their records and serialises them once.
//!
//! ```text
//! reader ──(batches of frames + clock ticks)──► worker k (Shard k) ──(records)──► merger ─► sink
//! ```
//!
//! * The **reader** pulls frames from a [`FrameSource`](crate::capture::FrameSource), computes the
//!   flow key to pick the shard (both directions of a flow normalise to the same key, so they
//!   meet in one shard) and copies the frame into that worker's batch. It also runs argus'
//!   200 ms housekeeping clock on packet time and broadcasts each tick to every worker, so
//!   status reports come at the same packet-time instants whatever the number of workers.
//! * A **worker** owns its [`Shard`]: per packet it decodes the frame, updates the flow and
//!   emits records when argus would.
//! * The **merger** receives each worker's records in that worker's order and merges them by
//!   (packet index, phase, queue order), which is the order argus' single queue would have
//!   produced; it assigns flow sequence numbers in that order and hands records to the sink.
//!
//! Live sources (issue 3) feed the same workers through the same message type.

pub mod live;
pub mod shard;

pub use live::{run_live, LiveEngineReport};

use crate::capture::{FrameMeta, FrameSource, LiveStats, Mapped};
use crate::flow::key::{classify_with, PacketKey};
use crate::flow::table::{key_hash, Emitted, Shard, ShardStats, Trigger};
use crate::flow::ModelConfig;
use crate::record::{FlowRecord, Ts};
use crate::wire;
use crossbeam_channel::{bounded, Receiver, Sender};
use std::sync::Arc;
use std::thread;

/// Frames per batch handed to a worker.
const BATCH: usize = 512;

/// A frame copied into a batch buffer.
#[derive(Clone, Copy)]
struct FrameRef {
    idx: u64,
    ts: Ts,
    linktype: u32,
    len: u32,
    /// Where the captured bytes are: `caplen` bytes at `start` in `Batch::maps[map]`, or in
    /// `Batch::data` when `map` is [`COPIED`].
    start: u64,
    caplen: u32,
    map: u32,
    /// Capture interface (index into the sensor's interfaces; 0 for files).
    ifx: u16,
    /// The content hash the XDP program computed; 0: none, computed in `classify`.
    chash: u32,
    /// What the worker does with the frame: [`ACCOUNT`] it to its flow, [`MAP`] it onto the
    /// flow an ICMP error quotes, or both when one shard holds both flows.
    role: u8,
}

/// [`FrameRef::role`]: the frame's flow is in this worker's shard.
const ACCOUNT: u8 = 1;
/// [`FrameRef::role`]: the frame may be an ICMP error quoting a flow of this worker's shard
/// (`flow::icmp_map`).
const MAP: u8 = 2;

/// [`FrameRef::map`] of a frame copied into the batch.
const COPIED: u32 = u32::MAX;

enum Item {
    Frame(FrameRef),
    /// argus housekeeping tick after packet `idx` at packet time `now`.
    Tick {
        idx: u64,
        now: Ts,
    },
}

struct Batch {
    items: Vec<Item>,
    /// Frames of sources read as a stream, copied.
    data: Vec<u8>,
    /// Mapped files the frames point into (frames of mapped files are not copied).
    maps: Vec<Arc<Mapped>>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            items: Vec::with_capacity(BATCH),
            data: Vec::with_capacity(BATCH * 256),
            maps: Vec::new(),
        }
    }

    fn frame(&self, f: &FrameRef) -> &[u8] {
        let (s, e) = (f.start as usize, f.start as usize + f.caplen as usize);
        let bytes: &[u8] = match self.maps.get(f.map as usize) {
            Some(m) => m,
            None => &self.data,
        };
        bytes.get(s..e).unwrap_or_default()
    }

    /// A used batch back from a worker (its memory is already faulted in), or a new one.
    fn recycled(pool: &Receiver<Batch>) -> Batch {
        match pool.try_recv() {
            Ok(mut b) => {
                b.items.clear();
                b.data.clear();
                b.maps.clear();
                b
            }
            Err(_) => Batch::new(),
        }
    }
}

enum WorkerMsg {
    Batch(Batch),
    /// End of input: flush every flow.
    End,
}

/// Ordering tag of a record: where argus' single-threaded modeler would have written it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Tag {
    idx: u64,
    phase: u8,
    sub: u64,
}

/// A worker's records with their merge tags, in tag order (`tags[i]` is the tag of `ems[i]`).
/// The shard appends records to `ems` directly, so a record is moved once after it is built.
#[derive(Default)]
struct Records {
    tags: Vec<Tag>,
    ems: Vec<Emitted>,
    /// Packets that found their flow expired (see [`merge`]).
    triggers: Vec<Trigger>,
    /// Housekeeping ticks processed: (packet index, packet time µs).
    ticks: Vec<(u64, i64)>,
}

impl Records {
    fn len(&self) -> usize {
        self.tags.len()
    }

    /// Tag the records the shard appended since the last call.
    fn tag_new(&mut self, mut tag: impl FnMut(usize, &Emitted) -> Tag) {
        let from = self.tags.len();
        for (k, em) in self.ems[from..].iter().enumerate() {
            self.tags.push(tag(k, em));
        }
    }

    /// Put `from..` in tag order (a housekeeping pass emits in queue order, which almost
    /// always is already tag order).
    fn sort_from(&mut self, from: usize) {
        if self.tags[from..].is_sorted() {
            return;
        }
        let mut order: Vec<usize> = (from..self.len()).collect();
        order.sort_by_key(|&i| self.tags[i]);
        let mut ems: Vec<Option<Emitted>> = self.ems.drain(from..).map(Some).collect();
        let tags: Vec<Tag> = order.iter().map(|&i| self.tags[i]).collect();
        self.tags.truncate(from);
        self.tags.extend(tags);
        self.ems
            .extend(order.iter().filter_map(|&i| ems[i - from].take()));
    }
}

enum MergeMsg {
    Records(Records),
    /// The worker has processed everything up to this tag.
    Progress(Tag),
    Done(ShardStats),
}

/// Where records go (file writer, stdout, TCP clients...). Called from the merger thread only.
pub trait RecordSink: Send {
    fn flow(&mut self, rec: &FlowRecord) -> std::io::Result<()>;
    /// A periodic sensor status report (live capture, every MAR interval): write a MAR status
    /// record. Sinks that keep no MARs ignore it.
    fn status(&mut self, _st: &SensorStatus) -> std::io::Result<()> {
        Ok(())
    }
    /// An event record (ARGUS_EVENT_DATA, `crate::event`), its sequence number assigned.
    fn event(&mut self, _ev: &crate::record::EventRecord) -> std::io::Result<()> {
        Ok(())
    }
    /// Where the merger takes event records from; asked once when the merger starts.
    fn event_source(&mut self) -> Option<Receiver<crate::record::EventRecord>> {
        None
    }
}

/// What a MAR status record reports: the interval it covers and the sensor's counters over it
/// (argus reports packets, bytes and drops of the interval, and the current flows).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SensorStatus {
    /// Start of the interval (the previous report, or the sensor's start).
    pub since: Ts,
    pub now: Ts,
    /// Frames and bytes received in the interval.
    pub packets: u64,
    pub bytes: u64,
    /// Frames the capture dropped in the interval (kernel or ring).
    pub dropped: u64,
    /// Flows in the flow tables now.
    pub flows: u64,
    /// Flow records written in the interval.
    pub records: u64,
    /// Clients connected now, and records dropped for them in the interval (filled in by
    /// the output that serves clients).
    pub clients: u32,
    pub client_drops: u64,
    /// Mirror copies in the interval and the VLAN most affected.
    pub dups: crate::record::MarDups,
    /// Every interface and VLAN with copies in the interval (supplemental MARs).
    pub dup_detail: Vec<crate::flow::dup::IfVlanDups>,
}

/// Counters the reader and the workers share with the merger for status reports: written once
/// per batch or per second, never per packet.
#[derive(Debug, Default)]
pub struct EngineCounters {
    pub packets: std::sync::atomic::AtomicU64,
    pub bytes: std::sync::atomic::AtomicU64,
    pub dropped: std::sync::atomic::AtomicU64,
    /// Of `dropped`: frames dropped because a hand-off ring between live workers stayed full.
    pub ring_dropped: std::sync::atomic::AtomicU64,
    /// Active flows of each worker.
    pub flows: Vec<std::sync::atomic::AtomicU64>,
    /// Packets and mirror copies per interface and VLAN (added once per batch;
    /// docs/duplicates.md).
    pub vlan_dups: crate::flow::dup::VlanDupCounters,
}

/// Problems met while reading input, reported after the run.
#[derive(Debug, Default)]
pub struct RunReport {
    pub packets: u64,
    pub bytes: u64,
    pub records: u64,
    pub flows: u64,
    pub unmodelled: u64,
    /// Packets the sensor filter rejected (not tracked).
    pub filtered: u64,
    /// Fatal errors of an input (the file stopped there; what came before was used).
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl RunReport {
    /// Fold the workers' shard counters in (flows, unmodelled and filtered packets).
    fn add_shards(&mut self, stats: &[ShardStats]) {
        for st in stats {
            self.flows += st.flows_created;
            self.unmodelled += st.unmodelled;
            self.filtered += st.filtered;
        }
    }
}

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub workers: usize,
    pub model: ModelConfig,
}

/// argus `ArgusUpdateTime`: a housekeeping tick every 200 ms of packet time.
struct Clock {
    timer: Option<i64>,
}

impl Clock {
    const IVAL: i64 = 200_000;
    fn tick(&mut self, now: Ts) -> bool {
        let n = now.as_micros();
        let t = *self.timer.get_or_insert(n);
        let diff = n - t;
        if diff >= 0 {
            let base = if diff > Self::IVAL { n } else { t };
            self.timer = Some(base + Self::IVAL);
            true
        } else {
            false
        }
    }
}

/// Start loading the headers of a frame the worker will decode soon.
#[inline(always)]
fn prefetch_frame(frame: &[u8]) {
    crate::prefetch::prefetch_bytes(frame, 0, 128);
}

/// A frame of a batch, decoded and classified, with its key's index hash (`None`: a tick, or a
/// frame argus does not model).
type Pre<'a> = Option<(wire::Decoded, PacketKey<'a>, u32)>;

/// How many packets ahead of the one being updated the worker prefetches flow state: enough to
/// cover a memory access with the work of the packets in between.
const AHEAD: usize = 8;

/// An empty vector reusing `v`'s allocation for another lifetime of the same type (the
/// per-batch scratch space of the worker, so that batches allocate nothing).
fn reuse<'a, 'b>(mut v: Vec<Pre<'a>>) -> Vec<Pre<'b>> {
    v.clear();
    v.into_iter().map(|_| None).collect()
}

/// A worker's shard and its per-batch scratch space. The offline worker thread and the live
/// per-queue workers (see [`live`]) drive it the same way: [`WorkerState::batch`] per batch,
/// [`WorkerState::publish`] after it, [`WorkerState::end`] at the end of input.
struct WorkerState {
    w: usize,
    shard: Shard,
    outs: Records,
    pre_store: Vec<Pre<'static>>,
    cand: Vec<Option<u32>>,
    /// Tag of the last item processed.
    last: Tag,
}

impl WorkerState {
    fn new(w: usize, cfg: ModelConfig) -> WorkerState {
        WorkerState {
            w,
            shard: Shard::new(cfg),
            outs: Records::default(),
            pre_store: Vec::with_capacity(BATCH + 64),
            cand: Vec::with_capacity(BATCH + 64),
            last: Tag {
                idx: 0,
                phase: 0,
                sub: 0,
            },
        }
    }

    /// Update the flows with every frame of `b` and run its housekeeping ticks, in order.
    fn batch(&mut self, b: &Batch) {
        let shard = &mut self.shard;
        let outs = &mut self.outs;
        // Pass 1: decode and classify every frame of the batch and start loading the index
        // buckets of their keys.
        let mut pre: Vec<Pre<'_>> = reuse(std::mem::take(&mut self.pre_store));
        for (j, it) in b.items.iter().enumerate() {
            if let Some(Item::Frame(f)) = b.items.get(j + 4) {
                prefetch_frame(b.frame(f));
            }
            pre.push(match *it {
                Item::Frame(f) => {
                    let frame = b.frame(&f);
                    let d = wire::decode(f.linktype, frame, f.len);
                    classify_with(frame, &d, f.chash).map(|pk| {
                        let h = key_hash(&pk.key);
                        shard.prefetch_index(h);
                        (d, pk, h)
                    })
                }
                Item::Tick { .. } => None,
            });
        }
        // Pass 2: update flows in order. AHEAD packets before its turn a packet's flow lines
        // are requested, AHEAD/2 before it the TCP state they point to.
        let cand = &mut self.cand;
        cand.clear();
        cand.resize(pre.len(), None);
        for j in 0..AHEAD.min(pre.len()) {
            cand[j] = pre[j].as_ref().and_then(|p| shard.prefetch_flow(p.2));
        }
        for (j, it) in b.items.iter().enumerate() {
            if let Some(Some(p)) = pre.get(j + AHEAD) {
                cand[j + AHEAD] = shard.prefetch_flow(p.2);
            }
            if let Some(&Some(i)) = cand.get(j + AHEAD / 2) {
                shard.prefetch_proto(i);
            }
            match *it {
                Item::Frame(f) => {
                    match &pre[j] {
                        Some((d, pk, h)) => {
                            if f.role & ACCOUNT != 0 {
                                shard.cur_ifx = f.ifx;
                                shard.packet_hashed(f.idx, f.ts, d, pk, *h, &mut outs.ems);
                            }
                            if f.role & MAP != 0 {
                                shard.icmp_map(f.ts, d, pk);
                            }
                        }
                        None if f.role & ACCOUNT != 0 => shard.stats.unmodelled += 1,
                        None => {}
                    }
                    if !shard.triggers.is_empty() {
                        outs.triggers.append(&mut shard.triggers);
                    }
                    outs.tag_new(|k, _| Tag {
                        idx: f.idx,
                        phase: 0,
                        sub: k as u64,
                    });
                    self.last = self.last.max(Tag {
                        idx: f.idx,
                        phase: 0,
                        sub: u64::MAX,
                    });
                }
                Item::Tick { idx, now } => {
                    let from = outs.len();
                    outs.ticks.push((idx, now.as_micros()));
                    shard.tick(now, &mut outs.ems);
                    outs.tag_new(|k, em| Tag {
                        idx,
                        phase: 1,
                        sub: em.rec_order(k),
                    });
                    // The merger expects each worker's records in tag order.
                    outs.sort_from(from);
                    self.last = self.last.max(Tag {
                        idx,
                        phase: 1,
                        sub: u64::MAX,
                    });
                }
            }
        }
        self.pre_store = reuse(pre);
    }

    /// Hand the records made since the last call and the progress mark to the merger.
    fn publish(&mut self, tx: &Sender<(usize, MergeMsg)>, counters: &EngineCounters) {
        let o = &self.outs;
        if o.len() > 0 || !o.ticks.is_empty() || !o.triggers.is_empty() {
            let _ = tx.send((self.w, MergeMsg::Records(std::mem::take(&mut self.outs))));
        }
        if let Some(c) = counters.flows.get(self.w) {
            c.store(
                self.shard.active_flows() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        self.shard.take_vlan_dups(|v| counters.vlan_dups.add(v));
        let _ = tx.send((self.w, MergeMsg::Progress(self.last)));
    }

    /// End of input: report every flow, then say so.
    fn end(mut self, tx: &Sender<(usize, MergeMsg)>) {
        let from = self.outs.len();
        self.shard.flush(&mut self.outs.ems);
        self.outs.tag_new(|k, em| Tag {
            idx: u64::MAX,
            phase: 2,
            sub: em.rec_order(k),
        });
        self.outs.sort_from(from);
        let _ = tx.send((self.w, MergeMsg::Records(std::mem::take(&mut self.outs))));
        let _ = tx.send((self.w, MergeMsg::Done(self.shard.stats)));
    }
}

/// The offline worker thread: batches from the reader until the end of input.
fn worker(
    w: usize,
    cfg: ModelConfig,
    rx: Receiver<WorkerMsg>,
    tx: Sender<(usize, MergeMsg)>,
    pool: Sender<Batch>,
    counters: Arc<EngineCounters>,
) {
    let mut st = WorkerState::new(w, cfg);
    for msg in rx {
        match msg {
            WorkerMsg::Batch(mut b) => {
                st.batch(&b);
                st.publish(&tx, &counters);
                b.maps.clear();
                let _ = pool.try_send(b);
            }
            WorkerMsg::End => return st.end(&tx),
        }
    }
}

impl Emitted {
    /// Order among records emitted by one housekeeping pass: argus walks its single status
    /// queue oldest first, i.e. by the packet index at which each flow was queued.
    fn rec_order(&self, k: usize) -> u64 {
        (self.queued_at << 16) | (k as u64 & 0xffff)
    }
}

/// The reader side of the engine: turns frames into per-worker batches, runs argus' clock and
/// hands batches to the workers. Offline and live sources both feed it.
struct Feeder<'a> {
    n: usize,
    batches: Vec<Batch>,
    clock: Clock,
    idx: u64,
    wtx: Vec<Sender<WorkerMsg>>,
    pool: &'a Receiver<Batch>,
    packets: u64,
    bytes: u64,
    counters: Arc<EngineCounters>,
}

impl Feeder<'_> {
    /// One frame: pick its worker, append it (a reference into `map` when the bytes lie in
    /// it, else a copy), run the clock on its time.
    fn frame(&mut self, meta: &FrameMeta, data: &[u8], map: Option<&Arc<Mapped>>) {
        self.idx += 1;
        self.packets += 1;
        self.bytes += meta.len as u64;
        let idx = self.idx;
        let ts = Ts {
            sec: meta.ts_sec as u32,
            usec: meta.ts_nsec / 1000,
        };
        let (w, quoted) = shard::frame_workers(self.n, None, meta.linktype, data, meta.len);
        match quoted {
            None => self.put(w, ACCOUNT | MAP, idx, ts, meta, data, map),
            Some(q) => {
                self.put(w, ACCOUNT, idx, ts, meta, data, map);
                self.put(q, MAP, idx, ts, meta, data, map);
            }
        }
        self.clock_at(ts);
        // Ticks must not pile up in idle workers' batches.
        for k in 0..self.n {
            let b = &self.batches[k];
            if b.items.len() >= BATCH || b.data.len() >= BATCH * 2048 {
                self.send(k);
            }
        }
    }

    /// Append the frame to worker `w`'s batch, for `role` (a reference into `map` when the
    /// bytes lie in it, else a copy).
    #[allow(clippy::too_many_arguments)]
    fn put(
        &mut self,
        w: usize,
        role: u8,
        idx: u64,
        ts: Ts,
        meta: &FrameMeta,
        data: &[u8],
        map: Option<&Arc<Mapped>>,
    ) {
        let b = &mut self.batches[w];
        let (start, caplen) = (b.data.len() as u64, data.len() as u32);
        let in_map = map.and_then(|m| {
            let off = (data.as_ptr() as usize).wrapping_sub(m.as_ptr() as usize);
            (off + data.len() <= m.len()).then_some((m, off))
        });
        let (start, map_i) = match in_map {
            Some((m, off)) => {
                if !b.maps.last().is_some_and(|x| Arc::ptr_eq(x, m)) {
                    b.maps.push(Arc::clone(m));
                }
                (off as u64, (b.maps.len() - 1) as u32)
            }
            None => {
                b.data.extend_from_slice(data);
                (start, COPIED)
            }
        };
        b.items.push(Item::Frame(FrameRef {
            idx,
            ts,
            linktype: meta.linktype,
            len: meta.len,
            start,
            caplen,
            map: map_i,
            ifx: 0,
            chash: 0,
            role,
        }));
    }

    /// Run argus' 200 ms clock at `now`: a tick goes to every worker.
    fn clock_at(&mut self, now: Ts) {
        if self.clock.tick(now) {
            let idx = self.idx;
            for b in self.batches.iter_mut() {
                b.items.push(Item::Tick { idx, now });
            }
        }
    }

    fn send(&mut self, k: usize) {
        let full = std::mem::replace(&mut self.batches[k], Batch::recycled(self.pool));
        let _ = self.wtx[k].send(WorkerMsg::Batch(full));
    }

    /// Hand every non-empty batch to its worker now (live capture: bounded latency).
    fn flush(&mut self) {
        use std::sync::atomic::Ordering::Relaxed;
        self.counters.packets.store(self.packets, Relaxed);
        self.counters.bytes.store(self.bytes, Relaxed);
        for k in 0..self.n {
            if !self.batches[k].items.is_empty() {
                self.send(k);
            }
        }
    }

    /// End of input: the last batches, then every worker flushes its flows.
    fn finish(mut self) {
        self.flush();
        for tx in &self.wtx {
            let _ = tx.send(WorkerMsg::End);
        }
    }
}

/// Start the workers and the merger, let `feed` push frames through a [`Feeder`] on this
/// thread, then end the input and collect the counts.
fn run_with(
    cfg: &EngineConfig,
    sink: &mut dyn RecordSink,
    mar_interval_us: Option<i64>,
    feed: impl FnOnce(&mut Feeder, &mut RunReport),
) -> RunReport {
    let n = cfg.workers.max(1);
    let counters = Arc::new(EngineCounters {
        flows: (0..n).map(|_| Default::default()).collect(),
        ..Default::default()
    });
    let mut report = RunReport::default();
    let (mtx, mrx) = bounded::<(usize, MergeMsg)>(n * 128);
    // Used batches go back to the reader so that their memory is reused, not faulted in anew.
    let (pool_tx, pool_rx) = bounded::<Batch>(n * 72);
    thread::scope(|s| {
        let mut wtx = Vec::with_capacity(n);
        for w in 0..n {
            let (tx, rx) = bounded::<WorkerMsg>(64);
            let model = cfg.model.clone();
            let (mtx, pool_tx) = (mtx.clone(), pool_tx.clone());
            let counters = Arc::clone(&counters);
            s.spawn(move || worker(w, model, rx, mtx, pool_tx, counters));
            wtx.push(tx);
        }
        drop(mtx);
        drop(pool_tx);

        // Merger on its own thread; the reader runs here.
        let mc = Arc::clone(&counters);
        let merger = s.spawn(move || merge(n, mrx, sink, mc, mar_interval_us));
        let mut feeder = Feeder {
            n,
            batches: (0..n).map(|_| Batch::new()).collect(),
            clock: Clock { timer: None },
            idx: 0,
            wtx,
            pool: &pool_rx,
            packets: 0,
            bytes: 0,
            counters: Arc::clone(&counters),
        };
        feed(&mut feeder, &mut report);
        report.packets = feeder.packets;
        report.bytes = feeder.bytes;
        feeder.finish();
        let (stats, records) = merger.join().unwrap_or_default();
        report.add_shards(&stats);
        report.records = records;
    });
    report
}

/// Run the engine over `sources` in order, writing records to `sink`.
pub fn run(
    cfg: &EngineConfig,
    sources: Vec<Box<dyn FrameSource>>,
    sink: &mut dyn RecordSink,
) -> RunReport {
    run_with(cfg, sink, None, |feed, report| {
        for mut src in sources {
            let map = src.mapping().cloned();
            let mut k: u32 = 0;
            loop {
                // Warnings are collected now and then and before an error, so they keep their
                // order without a call per frame.
                k = k.wrapping_add(1);
                if k & 0x3ff == 0 {
                    report
                        .warnings
                        .extend(src.take_warnings().iter().map(|w| w.to_string()));
                }
                match src.next_frame() {
                    Ok(Some((meta, data))) => feed.frame(&meta, data, map.as_ref()),
                    Ok(None) => {
                        report
                            .warnings
                            .extend(src.take_warnings().iter().map(|w| w.to_string()));
                        break;
                    }
                    Err(e) => {
                        report
                            .warnings
                            .extend(src.take_warnings().iter().map(|w| w.to_string()));
                        report.errors.push(e.to_string());
                        break;
                    }
                }
            }
        }
    })
}

/// Poll rounds that return fewer frames than this are followed by a [`COALESCE_WAIT`] pause.
const COALESCE_BELOW: usize = 256;
const COALESCE_WAIT: std::time::Duration = std::time::Duration::from_micros(500);

/// Longest time a captured frame waits in a partial batch before the workers get it.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(10);

/// Counters of a live capture source, by interface.
#[derive(Clone, Debug, Default)]
pub struct LiveReport {
    pub iface: String,
    pub stats: LiveStats,
}

/// One worker's records as received: batches in order, each sorted by tag, with a read cursor.
#[derive(Default)]
struct Stream {
    bufs: std::collections::VecDeque<Records>,
    /// Read position in `bufs[0]`.
    pos: usize,
    progress: Option<Tag>,
    done: bool,
}

/// A record of a merge window: its (possibly corrected) tag and where it is.
struct Ref {
    tag: Tag,
    w: usize,
    buf: usize,
    i: usize,
}

/// The merger: merges the workers' record streams in argus' order, assigns sequence numbers,
/// and hands records to the sink without moving them.
///
/// Records are released one *window* at a time: everything up to a housekeeping tick, once
/// every worker has processed that tick. Within a window the merger corrects one thing the
/// shards cannot know. argus keeps one status queue for all flows; when a packet finds its
/// flow's interval expired and that flow is not the queue's oldest, argus reports every expired
/// flow there and then. A shard sees only its own queue, so flows of other shards that expired
/// by then would be reported later (at their next packet or tick) and receive later sequence
/// numbers. Every status report due to expiry carries the moment it became due, and shards
/// report every such packet ([`Trigger`]); replaying the window's triggers in packet order
/// over all shards' expired reports puts each report at the instant argus would have written
/// it. With that, the records do not depend on the number of workers.
fn merge(
    n: usize,
    rx: Receiver<(usize, MergeMsg)>,
    sink: &mut dyn RecordSink,
    counters: Arc<EngineCounters>,
    mar_interval_us: Option<i64>,
) -> (Vec<ShardStats>, u64) {
    let mut mar = mar_interval_us.map(|iv| MarClock::new(iv, crate::output::now()));
    let mut streams: Vec<Stream> = (0..n).map(|_| Stream::default()).collect();
    let mut stats = Vec::new();
    let mut out = Numbered {
        sink,
        seqs: vec![Vec::new(); n],
        next_seq: 1,
        written: 0,
    };
    // Housekeeping ticks not yet closed (every worker sees all of them; worker 0's are kept).
    let mut ticks: std::collections::VecDeque<(u64, i64)> = Default::default();
    let mut triggers: Vec<Trigger> = Vec::new();
    let mut all_done = false;
    // Event records wait here until a closed window reaches their end time.
    let events = out.sink.event_source();
    let mut pending_events: Vec<crate::record::EventRecord> = Vec::new();
    loop {
        match if all_done { None } else { rx.recv().ok() } {
            Some((w, MergeMsg::Records(mut v))) => {
                triggers.append(&mut v.triggers);
                if w == 0 {
                    ticks.extend(v.ticks.drain(..));
                }
                if v.len() > 0 {
                    streams[w].bufs.push_back(v);
                }
            }
            Some((w, MergeMsg::Progress(t))) => streams[w].progress = Some(t),
            Some((w, MergeMsg::Done(st))) => {
                streams[w].done = true;
                stats.push(st);
            }
            None => all_done = true,
        }
        // Close every window whose tick all workers have passed.
        while let Some(&(tidx, tnow)) = ticks.front() {
            let end = Tag {
                idx: tidx,
                phase: 1,
                sub: u64::MAX,
            };
            let passed = all_done
                || streams
                    .iter()
                    .all(|s| s.done || s.progress.is_some_and(|p| p >= end));
            if !passed {
                break;
            }
            ticks.pop_front();
            close_window(&mut streams, end, &mut triggers, &mut |r, st| {
                out.write(r, st)
            });
            out.events(events.as_ref(), &mut pending_events, Some(tnow));
            if let Some(m) = mar.as_mut() {
                if let Some(st) = m.due(tnow, &counters, out.written) {
                    let _ = out.sink.status(&st);
                }
            }
        }
        if all_done {
            let end = Tag {
                idx: u64::MAX,
                phase: u8::MAX,
                sub: u64::MAX,
            };
            close_window(&mut streams, end, &mut triggers, &mut |r, st| {
                out.write(r, st)
            });
            out.events(events.as_ref(), &mut pending_events, None);
            break;
        }
    }
    (stats, out.written)
}

/// The merger's output side: gives each record its flow's sequence number and writes it.
struct Numbered<'a> {
    sink: &'a mut dyn RecordSink,
    /// Sequence number of each worker's flows, indexed by slab slot and checked against the
    /// slot's generation: bounded by the flow tables' size, never searched.
    seqs: Vec<Vec<(u32, u32)>>,
    next_seq: u32,
    written: u64,
}

impl Numbered<'_> {
    fn write(&mut self, r: &Ref, streams: &mut [Stream]) {
        if let Some(em) = streams[r.w]
            .bufs
            .get_mut(r.buf)
            .and_then(|b| b.ems.get_mut(r.i))
        {
            assign_seq(em, &mut self.seqs[r.w], &mut self.next_seq);
            self.written += 1;
            let _ = self.sink.flow(&em.rec);
        }
    }

    /// Write the event records that ended by `upto` (µs; all with `None`) in end-time order,
    /// numbered from the flows' counter (argus: `ArgusSeqNum++`).
    fn events(
        &mut self,
        rx: Option<&Receiver<crate::record::EventRecord>>,
        pending: &mut Vec<crate::record::EventRecord>,
        upto: Option<i64>,
    ) {
        if let Some(rx) = rx {
            pending.extend(rx.try_iter());
        }
        pending.sort_by_key(|e| e.end);
        let n = pending
            .iter()
            .take_while(|e| upto.is_none_or(|t| e.end.as_micros() <= t))
            .count();
        for mut ev in pending.drain(..n) {
            ev.seq = self.next_seq;
            self.next_seq = self.next_seq.wrapping_add(1).max(1);
            self.written += 1;
            let _ = self.sink.event(&ev);
        }
    }
}

/// When the next MAR status report is due, and the counters at the previous one.
struct MarClock {
    interval_us: i64,
    next_us: i64,
    since: Ts,
    packets: u64,
    bytes: u64,
    dropped: u64,
    records: u64,
}

impl MarClock {
    fn new(interval_us: i64, start: Ts) -> MarClock {
        MarClock {
            interval_us: interval_us.max(1_000_000),
            next_us: start.as_micros() + interval_us.max(1_000_000),
            since: start,
            packets: 0,
            bytes: 0,
            dropped: 0,
            records: 0,
        }
    }

    /// At tick time `now_us`: the report to write, if one is due.
    fn due(&mut self, now_us: i64, c: &EngineCounters, records: u64) -> Option<SensorStatus> {
        use std::sync::atomic::Ordering::Relaxed;
        if now_us < self.next_us {
            return None;
        }
        let now = Ts::from_micros(now_us);
        let (p, b, d) = (
            c.packets.load(Relaxed),
            c.bytes.load(Relaxed),
            c.dropped.load(Relaxed),
        );
        let mut st = SensorStatus {
            since: self.since,
            now,
            packets: p.saturating_sub(self.packets),
            bytes: b.saturating_sub(self.bytes),
            dropped: d.saturating_sub(self.dropped),
            flows: c.flows.iter().map(|f| f.load(Relaxed)).sum(),
            records: records.saturating_sub(self.records),
            clients: 0,
            client_drops: 0,
            dups: Default::default(),
            dup_detail: Vec::new(),
        };
        (st.dups, st.dup_detail) = c.vlan_dups.take();
        (self.packets, self.bytes, self.dropped, self.records) = (p, b, d, records);
        self.since = now;
        while self.next_us <= now_us {
            self.next_us += self.interval_us;
        }
        Some(st)
    }
}

/// Give a record its flow's sequence number (a new one for a flow's first record).
fn assign_seq(em: &mut Emitted, table: &mut Vec<(u32, u32)>, next_seq: &mut u32) {
    let (slot, gen) = (em.flow_id as u32 as usize, (em.flow_id >> 32) as u32);
    if em.first {
        em.rec.seq = *next_seq;
        if table.len() <= slot {
            table.resize(slot + 1, (u32::MAX, 0));
        }
        table[slot] = (gen, *next_seq);
        *next_seq = next_seq.wrapping_add(1).max(1);
    } else if let Some(&(g, s)) = table.get(slot) {
        if g == gen {
            em.rec.seq = s;
        }
    }
}

/// Release every record tagged up to `end`, in argus' order (see [`merge`]).
fn close_window(
    streams: &mut [Stream],
    end: Tag,
    triggers: &mut Vec<Trigger>,
    emit: &mut dyn FnMut(&Ref, &mut [Stream]),
) {
    let mut refs: Vec<Ref> = Vec::new();
    let mut stop: Vec<(usize, usize)> = Vec::with_capacity(streams.len());
    for (w, st) in streams.iter().enumerate() {
        let (mut buf, mut i) = (0, st.pos);
        while let Some(b) = st.bufs.get(buf) {
            match b.tags.get(i) {
                Some(&tag) if tag <= end => {
                    refs.push(Ref { tag, w, buf, i });
                    i += 1;
                }
                Some(_) => break,
                None => {
                    buf += 1;
                    i = 0;
                }
            }
        }
        stop.push((buf, i));
    }
    // Expired reports (window index, due time, queue position) in queue order; other records
    // of a packet go after its reports.
    let mut due: Vec<(usize, i64, u64)> = Vec::new();
    for (k, r) in refs.iter_mut().enumerate() {
        let e = &streams[r.w].bufs[r.buf].ems[r.i];
        if r.tag.phase <= 1 && e.due_us != 0 {
            due.push((k, e.due_us, e.queued_at));
        } else if r.tag.phase == 0 {
            r.tag.sub |= 1 << 63;
        }
    }
    due.sort_by_key(|d| d.2);
    let mut placed = vec![false; due.len()];
    let mut mine: Vec<Trigger> = Vec::new();
    triggers.retain(|t| {
        let now = t.idx <= end.idx;
        if now {
            mine.push(*t);
        }
        !now
    });
    mine.sort_by_key(|t| t.idx);
    let mut rank = 0u64;
    for t in &mine {
        // A flow argus already reported here sits on a timeout queue by now: its packet does
        // not look at the status queue at all.
        let reported = due
            .iter()
            .zip(&placed)
            .any(|(d, &p)| p && d.2 == t.queued_at);
        if reported {
            continue;
        }
        let is_due = |d: &(usize, i64, u64)| d.1 <= t.now_us && d.2 < t.idx;
        // argus reports all expired flows only when this packet's flow is not the oldest.
        let pass = due
            .iter()
            .zip(&placed)
            .any(|(d, &p)| !p && is_due(d) && d.2 < t.queued_at);
        for (j, d) in due.iter().enumerate() {
            if !placed[j] && ((pass && is_due(d)) || (!pass && d.2 == t.queued_at)) {
                placed[j] = true;
                refs[d.0].tag = Tag {
                    idx: t.idx,
                    phase: 0,
                    sub: rank,
                };
                rank += 1;
            }
        }
    }
    // The rest were reported by the tick that closes the window (or, in the last window, at
    // the end of input), in queue order.
    for (j, d) in due.iter().enumerate() {
        if !placed[j] {
            let t = &mut refs[d.0].tag;
            if end.phase == 1 {
                (t.idx, t.phase) = (end.idx, 1);
            }
            t.sub = rank;
            rank += 1;
        }
    }
    refs.sort_by_key(|r| (r.tag, r.w));
    for r in &refs {
        emit(r, streams);
    }
    for (st, (buf, i)) in streams.iter_mut().zip(stop) {
        for _ in 0..buf {
            st.bufs.pop_front();
        }
        st.pos = i;
        if st.bufs.front().is_some_and(|b| st.pos >= b.len()) {
            st.bufs.pop_front();
            st.pos = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn em(flow_id: u64) -> Emitted {
        Emitted {
            rec: FlowRecord::default(),
            first: false,
            flow_id,
            queued_at: 0,
            due_us: 0,
        }
    }

    #[test]
    fn records_sort_keeps_tags_and_records_together() {
        let mut r = Records::default();
        let tag = |idx, sub| Tag { idx, phase: 1, sub };
        r.ems.push(em(100));
        r.tag_new(|_, _| tag(1, 0));
        let from = r.len();
        for id in [7, 3, 5] {
            r.ems.push(em(id));
        }
        r.tag_new(|_, e| tag(2, e.flow_id));
        r.sort_from(from);
        let ids: Vec<u64> = r.ems.iter().map(|e| e.flow_id).collect();
        assert_eq!(ids, [100, 3, 5, 7]);
        let subs: Vec<u64> = r.tags.iter().map(|t| t.sub).collect();
        assert_eq!(subs, [0, 3, 5, 7]);
    }
}
