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

use crate::capture::FrameSource;
use crate::flow::key::{classify, KeyBytes};
use crate::flow::table::{Emitted, Shard, ShardStats};
use crate::flow::ModelConfig;
use crate::record::{FlowRecord, Ts};
use crate::wire;
use crossbeam_channel::{bounded, Receiver, Sender};
use std::collections::BinaryHeap;
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
    start: u32,
    end: u32,
}

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
    data: Vec<u8>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            items: Vec::with_capacity(BATCH),
            data: Vec::with_capacity(BATCH * 256),
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

struct Out {
    tag: Tag,
    em: Emitted,
}

enum MergeMsg {
    Records(Vec<Out>),
    /// The worker has processed everything up to this tag.
    Progress(Tag),
    Done(ShardStats),
}

/// Where records go (file writer, stdout, TCP clients...). Called from the merger thread only.
pub trait RecordSink: Send {
    fn flow(&mut self, rec: &FlowRecord) -> std::io::Result<()>;
}

/// Problems met while reading input, reported after the run.
#[derive(Debug, Default)]
pub struct RunReport {
    pub packets: u64,
    pub bytes: u64,
    pub records: u64,
    pub flows: u64,
    pub unmodelled: u64,
    /// Fatal errors of an input (the file stopped there; what came before was used).
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub workers: usize,
    pub model: ModelConfig,
}

fn shard_of(k: &KeyBytes, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    // IP keys shard on addresses and protocol only, so that fragments (no ports) and their
    // first fragment meet in one shard; the key is normalised, so both directions agree.
    let span = match k.qual & 0x1f {
        0x01 => 8,
        0x02 => 32,
        _ => k.len as usize,
    };
    let mut h: u32 = 0x811c_9dc5;
    for &b in &k.b[..span] {
        h = (h ^ b as u32).wrapping_mul(0x0100_0193);
    }
    (argus_common::fmix32(h) as usize) % n
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

fn worker(cfg: ModelConfig, rx: Receiver<WorkerMsg>, tx: Sender<MergeMsg>) {
    let mut shard = Shard::new(cfg);
    let mut emitted: Vec<Emitted> = Vec::new();
    let mut outs: Vec<Out> = Vec::new();
    let mut last = Tag {
        idx: 0,
        phase: 0,
        sub: 0,
    };
    for msg in rx {
        match msg {
            WorkerMsg::Batch(b) => {
                for it in &b.items {
                    match *it {
                        Item::Frame(f) => {
                            let frame = &b.data[f.start as usize..f.end as usize];
                            let d = wire::decode(f.linktype, frame, f.len);
                            match classify(frame, &d) {
                                Some(pk) => shard.packet(f.idx, f.ts, &d, &pk, &mut emitted),
                                None => shard.stats.unmodelled += 1,
                            }
                            for (k, em) in emitted.drain(..).enumerate() {
                                outs.push(Out {
                                    tag: Tag {
                                        idx: f.idx,
                                        phase: 0,
                                        sub: k as u64,
                                    },
                                    em,
                                });
                            }
                            last = Tag {
                                idx: f.idx,
                                phase: 0,
                                sub: u64::MAX,
                            };
                        }
                        Item::Tick { idx, now } => {
                            shard.tick(now, &mut emitted);
                            for (k, em) in emitted.drain(..).enumerate() {
                                outs.push(Out {
                                    tag: Tag {
                                        idx,
                                        phase: 1,
                                        sub: em.rec_order(k),
                                    },
                                    em,
                                });
                            }
                            last = Tag {
                                idx,
                                phase: 1,
                                sub: u64::MAX,
                            };
                        }
                    }
                }
                if !outs.is_empty() {
                    let _ = tx.send(MergeMsg::Records(std::mem::take(&mut outs)));
                }
                let _ = tx.send(MergeMsg::Progress(last));
            }
            WorkerMsg::End => {
                shard.flush(&mut emitted);
                for (k, em) in emitted.drain(..).enumerate() {
                    outs.push(Out {
                        tag: Tag {
                            idx: u64::MAX,
                            phase: 2,
                            sub: em.rec_order(k),
                        },
                        em,
                    });
                }
                let _ = tx.send(MergeMsg::Records(std::mem::take(&mut outs)));
                let _ = tx.send(MergeMsg::Done(shard.stats));
                return;
            }
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

struct HeapItem {
    tag: Tag,
    worker: usize,
    em: Emitted,
}
impl PartialEq for HeapItem {
    fn eq(&self, o: &Self) -> bool {
        (self.tag, self.worker) == (o.tag, o.worker)
    }
}
impl Eq for HeapItem {}
impl PartialOrd for HeapItem {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for HeapItem {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        // min-heap on (tag, worker)
        (o.tag, o.worker).cmp(&(self.tag, self.worker))
    }
}

/// Run the engine over `sources` in order, writing records to `sink`.
pub fn run(
    cfg: &EngineConfig,
    sources: Vec<Box<dyn FrameSource>>,
    sink: &mut dyn RecordSink,
) -> RunReport {
    let n = cfg.workers.max(1);
    let mut report = RunReport::default();
    let (mtx, mrx) = bounded::<(usize, MergeMsg)>(n * 64);
    thread::scope(|s| {
        let mut wtx = Vec::with_capacity(n);
        for w in 0..n {
            let (tx, rx) = bounded::<WorkerMsg>(64);
            let (otx, orx) = bounded::<MergeMsg>(64);
            let model = cfg.model.clone();
            s.spawn(move || worker(model, rx, otx));
            let mtx = mtx.clone();
            s.spawn(move || {
                for m in orx {
                    if mtx.send((w, m)).is_err() {
                        break;
                    }
                }
            });
            wtx.push(tx);
        }
        drop(mtx);

        // Merger on its own thread; the reader runs here.
        let merger = s.spawn(move || merge(n, mrx, sink));

        let mut batches: Vec<Batch> = (0..n).map(|_| Batch::new()).collect();
        let mut clock = Clock { timer: None };
        let mut idx: u64 = 0;
        for mut src in sources {
            loop {
                for w in src.take_warnings() {
                    report.warnings.push(w.to_string());
                }
                let (meta, data) = match src.next_frame() {
                    Ok(Some(x)) => x,
                    Ok(None) => {
                        for w in src.take_warnings() {
                            report.warnings.push(w.to_string());
                        }
                        break;
                    }
                    Err(e) => {
                        report.errors.push(e.to_string());
                        break;
                    }
                };
                idx += 1;
                report.packets += 1;
                report.bytes += meta.len as u64;
                let ts = Ts {
                    sec: meta.ts_sec as u32,
                    usec: meta.ts_nsec / 1000,
                };
                let d = wire::decode(meta.linktype, data, meta.len);
                let w = match classify(data, &d) {
                    Some(pk) => shard_of(&pk.key, n),
                    None => 0,
                };
                {
                    let b = &mut batches[w];
                    let start = b.data.len() as u32;
                    b.data.extend_from_slice(data);
                    b.items.push(Item::Frame(FrameRef {
                        idx,
                        ts,
                        linktype: meta.linktype,
                        len: meta.len,
                        start,
                        end: b.data.len() as u32,
                    }));
                }
                if clock.tick(ts) {
                    for b in batches.iter_mut() {
                        b.items.push(Item::Tick { idx, now: ts });
                    }
                }
                // Ticks must not pile up in idle workers' batches.
                for (k, b) in batches.iter_mut().enumerate() {
                    if b.items.len() >= BATCH || b.data.len() >= BATCH * 2048 {
                        let full = std::mem::replace(b, Batch::new());
                        let _ = wtx[k].send(WorkerMsg::Batch(full));
                    }
                }
            }
        }
        for (k, b) in batches.into_iter().enumerate() {
            if !b.items.is_empty() {
                let _ = wtx[k].send(WorkerMsg::Batch(b));
            }
            let _ = wtx[k].send(WorkerMsg::End);
        }
        drop(wtx);
        let (stats, records) = merger.join().unwrap_or_default();
        for st in stats {
            report.flows += st.flows_created;
            report.unmodelled += st.unmodelled;
        }
        report.records = records;
    });
    report
}

fn merge(
    n: usize,
    rx: Receiver<(usize, MergeMsg)>,
    sink: &mut dyn RecordSink,
) -> (Vec<ShardStats>, u64) {
    let mut heap: BinaryHeap<HeapItem> = BinaryHeap::new();
    let mut progress: Vec<Option<Tag>> = vec![None; n];
    let mut done = vec![false; n];
    let mut stats = Vec::new();
    let mut seqs: hashbrown::HashMap<(usize, u64), u32> = hashbrown::HashMap::new();
    let mut next_seq: u32 = 1;
    let mut written: u64 = 0;
    let mut emit = |it: HeapItem, seqs: &mut hashbrown::HashMap<(usize, u64), u32>| {
        let mut rec = it.em.rec;
        let key = (it.worker, it.em.flow_id);
        if it.em.first {
            rec.seq = next_seq;
            seqs.insert(key, next_seq);
            next_seq = next_seq.wrapping_add(1).max(1);
        } else if let Some(&s) = seqs.get(&key) {
            rec.seq = s;
        }
        if it.em.last {
            seqs.remove(&key);
        }
        written += 1;
        let _ = sink.flow(&rec);
    };
    for (w, msg) in rx {
        match msg {
            MergeMsg::Records(v) => {
                for o in v {
                    heap.push(HeapItem {
                        tag: o.tag,
                        worker: w,
                        em: o.em,
                    });
                }
            }
            MergeMsg::Progress(t) => progress[w] = Some(t),
            MergeMsg::Done(st) => {
                done[w] = true;
                stats.push(st);
            }
        }
        // Everything at or before the slowest worker's progress is final.
        let floor = (0..n)
            .filter(|&k| !done[k])
            .map(|k| {
                progress[k].unwrap_or(Tag {
                    idx: 0,
                    phase: 0,
                    sub: 0,
                })
            })
            .min();
        while let Some(top) = heap.peek() {
            let ok = match floor {
                None => true,
                Some(f) => top.tag.idx < f.idx,
            };
            if !ok {
                break;
            }
            if let Some(it) = heap.pop() {
                emit(it, &mut seqs);
            }
        }
    }
    while let Some(it) = heap.pop() {
        emit(it, &mut seqs);
    }
    (stats, written)
}
