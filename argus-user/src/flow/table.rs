//! One worker's share of the flow table, with argus' queue discipline.
//!
//! argus keeps every active flow on a *status queue* in the order it was (re)inserted; a flow
//! whose insertion is one status interval old is reported and moved to a *timeout queue*, where
//! it is forgotten after its protocol's idle timeout unless a packet brings it back. Reports
//! therefore come every status interval from the start of a reporting period, whatever the
//! packet rate. The queues here are intrusive doubly linked lists over a slab of flows (no
//! allocation per packet once the slab has grown), indexed by a hashbrown map on the key bytes.

use super::key::{KeyBytes, PacketKey, L4};
use super::tcp::{TcpAction, TcpTracker};
use super::{Flow, ModelConfig, ProtoState};
use crate::record::{
    Cause, DataDsr, EncapsDsr, FlowRecord, IpAttrDir, IpAttrDsr, MacDsr, MplsDsr, PsizeDsr, Ts,
    VlanDsr,
};
use crate::wire::Decoded;
use hashbrown::HashMap;

const NIL: u32 = u32::MAX;
/// Queue ids: 0 = status queue, 1.. = timeout queue for that many seconds.
const STATUS_Q: u16 = 0;

#[derive(Clone, Copy, Default)]
struct Link {
    qidx: u64,
    prev: u32,
    next: u32,
    queue: u16,
    qtime: Ts,
}

#[derive(Clone, Copy)]
struct Queue {
    /// Oldest element (argus `queue->start->prv`) ...
    head: u32,
    /// ... and newest.
    tail: u32,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            head: NIL,
            tail: NIL,
        }
    }
}

/// A record leaving the table, with what the merger needs to order it.
#[derive(Debug)]
pub struct Emitted {
    pub rec: FlowRecord,
    /// The flow had no sequence number yet: the merger assigns one.
    pub first: bool,
    /// Flow identity within this shard (slab index and generation), to tie later records of
    /// the same flow to its sequence number.
    pub flow_id: u64,
    /// Packet index at which the flow was last put on the status queue (argus queue order).
    pub queued_at: u64,
    /// The flow is being deleted: no further records carry its id.
    pub last: bool,
}

/// Counters the sensor reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShardStats {
    pub packets: u64,
    pub flows_created: u64,
    pub records: u64,
    pub unmodelled: u64,
}

pub struct Shard {
    cfg: ModelConfig,
    map: HashMap<KeyBytes, u32>,
    flows: Vec<Flow>,
    keys: Vec<KeyBytes>,
    links: Vec<Link>,
    gens: Vec<u32>,
    free: Vec<u32>,
    queues: Vec<Queue>,
    /// Timeout queue ids in first-use order (argus processes them in that order).
    tq_order: Vec<u16>,
    pub stats: ShardStats,
    /// Index of the packet being processed (for queue order tags).
    pub cur_idx: u64,
}

impl Shard {
    pub fn new(cfg: ModelConfig) -> Shard {
        Shard {
            cfg,
            map: HashMap::new(),
            flows: Vec::new(),
            keys: Vec::new(),
            links: Vec::new(),
            gens: Vec::new(),
            free: Vec::new(),
            queues: vec![Queue::default()],
            tq_order: Vec::new(),
            stats: ShardStats::default(),
            cur_idx: 0,
        }
    }

    pub fn active_flows(&self) -> usize {
        self.map.len()
    }

    fn q(&mut self, id: u16) -> &mut Queue {
        if self.queues.len() <= id as usize {
            self.queues.resize(id as usize + 1, Queue::default());
        }
        &mut self.queues[id as usize]
    }

    fn push(&mut self, i: u32, qid: u16, now: Ts) {
        if qid != STATUS_Q && !self.tq_order.contains(&qid) {
            self.tq_order.push(qid);
        }
        let tail = self.q(qid).tail;
        self.links[i as usize] = Link {
            prev: tail,
            next: NIL,
            queue: qid,
            qtime: now,
            qidx: self.cur_idx,
        };
        if tail != NIL {
            self.links[tail as usize].next = i;
        } else {
            self.q(qid).head = i;
        }
        self.q(qid).tail = i;
    }

    fn unlink(&mut self, i: u32) {
        let l = self.links[i as usize];
        if l.prev != NIL {
            self.links[l.prev as usize].next = l.next;
        } else {
            self.q(l.queue).head = l.next;
        }
        if l.next != NIL {
            self.links[l.next as usize].prev = l.prev;
        } else {
            self.q(l.queue).tail = l.prev;
        }
    }

    fn alloc(&mut self, f: Flow, key: KeyBytes) -> u32 {
        if let Some(i) = self.free.pop() {
            self.flows[i as usize] = f;
            self.keys[i as usize] = key;
            self.gens[i as usize] = self.gens[i as usize].wrapping_add(1);
            i
        } else {
            self.flows.push(f);
            self.keys.push(key);
            self.links.push(Link::default());
            self.gens.push(0);
            (self.flows.len() - 1) as u32
        }
    }

    fn delete(&mut self, i: u32) {
        self.unlink(i);
        let key = self.keys[i as usize];
        self.map.remove(&key);
        self.flows[i as usize].proto = ProtoState::None;
        self.free.push(i);
    }

    fn send(&mut self, i: u32, cause: u8, out: &mut Vec<Emitted>) {
        let f = &mut self.flows[i as usize];
        if !f.has_packets() {
            return;
        }
        f.written = true;
        self.emit(i, cause, out);
    }

    /// Build flow `i`'s record with `cause` and hand it to the merger.
    fn emit(&mut self, i: u32, cause: u8, out: &mut Vec<Emitted>) {
        let f = &mut self.flows[i as usize];
        let first = !f.reported;
        f.reported = true;
        let rec = f.to_record(&self.cfg, cause);
        self.stats.records += 1;
        let queued_at = self.links[i as usize].qidx;
        out.push(Emitted {
            rec,
            first,
            flow_id: ((self.gens[i as usize] as u64) << 32) | i as u64,
            queued_at,
            last: false,
        });
    }

    /// Record the sequence number the merger assigned to a flow's first record.
    pub fn set_seq(&mut self, flow_id: u64, seq: u32) {
        let i = (flow_id & 0xffff_ffff) as usize;
        if self.gens.get(i).copied() == Some((flow_id >> 32) as u32) {
            self.flows[i].seq = seq;
        }
    }

    fn timed_out(now: Ts, qtime: Ts, us: i64) -> bool {
        us <= 0 || now.as_micros() - qtime.as_micros() >= us
    }

    /// argus `ArgusProcessQueueTimeout` on the status queue, then on each timeout queue.
    pub fn tick(&mut self, now: Ts, out: &mut Vec<Emitted>) {
        self.process_status_queue(now, out);
        for qi in 0..self.tq_order.len() {
            let qid = self.tq_order[qi];
            let us = qid as i64 * 1_000_000;
            loop {
                let h = self.queues[qid as usize].head;
                if h == NIL || !Self::timed_out(now, self.links[h as usize].qtime, us) {
                    break;
                }
                self.delete(h);
            }
        }
    }

    fn process_status_queue(&mut self, now: Ts, out: &mut Vec<Emitted>) {
        let us = self.cfg.status_interval_us;
        loop {
            let h = self.queues[STATUS_Q as usize].head;
            if h == NIL || !Self::timed_out(now, self.links[h as usize].qtime, us) {
                break;
            }
            self.unlink(h);
            if !self.flows[h as usize].written {
                let c = self.flows[h as usize].cause;
                self.send(h, c, out);
            }
            let to = self.flows[h as usize].timeout.min(u16::MAX as u32) as u16;
            if to > 0 {
                self.push(h, to, now);
            } else {
                let key = self.keys[h as usize];
                self.map.remove(&key);
                self.flows[h as usize].proto = ProtoState::None;
                self.free.push(h);
            }
        }
    }

    /// End of input: report every flow not yet reported, oldest first (argus
    /// `ArgusModelerCleanUp`).
    pub fn flush(&mut self, out: &mut Vec<Emitted>) {
        for qi in 0..self.tq_order.len() {
            let qid = self.tq_order[qi];
            while self.queues[qid as usize].head != NIL {
                let h = self.queues[qid as usize].head;
                if !self.flows[h as usize].written {
                    let c = self.flows[h as usize].cause;
                    self.send(h, c, out);
                }
                self.delete(h);
            }
        }
        while self.queues[STATUS_Q as usize].head != NIL {
            let h = self.queues[STATUS_Q as usize].head;
            if !self.flows[h as usize].written {
                let c = self.flows[h as usize].cause;
                self.send(h, c, out);
            }
            self.delete(h);
        }
    }

    /// Account one packet (argus `ArgusProcessEtherPacket` for an existing or new flow).
    pub fn packet(
        &mut self,
        idx: u64,
        now: Ts,
        d: &Decoded,
        pk: &PacketKey,
        out: &mut Vec<Emitted>,
    ) {
        self.stats.packets += 1;
        self.cur_idx = idx;
        let us = self.cfg.status_interval_us;
        let idx = match self.map.get(&pk.key) {
            Some(&i) => {
                let l = self.links[i as usize];
                if l.queue == STATUS_Q {
                    if Self::timed_out(now, l.qtime, us) {
                        if self.queues[STATUS_Q as usize].head != i {
                            self.process_status_queue(now, out);
                        }
                        if self.links[i as usize].queue == STATUS_Q {
                            if !self.flows[i as usize].written {
                                let c = self.flows[i as usize].cause;
                                self.send(i, c, out);
                            }
                            self.unlink(i);
                        } else {
                            self.unlink(i);
                        }
                        self.push(i, STATUS_Q, now);
                    }
                } else {
                    self.unlink(i);
                    self.push(i, STATUS_Q, now);
                }
                i
            }
            None => {
                let f = Flow::new(pk);
                let i = self.alloc(f, pk.key);
                self.map.insert(pk.key, i);
                self.push(i, STATUS_Q, now);
                self.stats.flows_created += 1;
                i
            }
        };
        self.update(idx, now, d, pk, out);
    }

    fn update(&mut self, i: u32, now: Ts, d: &Decoded, pk: &PacketKey, out: &mut Vec<Emitted>) {
        let flow = &mut self.flows[i as usize];
        if flow.written {
            flow.zero();
        }
        let mut from_src = flow.key.reverse == pk.reverse;

        // TCP first: a new connection on a finished one ends the current record.
        if let L4::Tcp(seg) = &pk.l4 {
            let t = match &mut flow.proto {
                ProtoState::Tcp(t) => t,
                _ => {
                    flow.proto = ProtoState::Tcp(Box::new(TcpTracker::new()));
                    match &mut flow.proto {
                        ProtoState::Tcp(t) => t,
                        _ => unreachable!(),
                    }
                }
            };
            match t.update(seg, from_src, now) {
                TcpAction::Restart => {
                    if flow.has_packets() {
                        self.emit(i, Cause::Stop as u8, out);
                    }
                    let flow = &mut self.flows[i as usize];
                    flow.zero();
                    flow.cause = Cause::Start as u8;
                    if !from_src {
                        flow.key.reverse = !flow.key.reverse;
                        from_src = true;
                    }
                    if let ProtoState::Tcp(t) = &mut flow.proto {
                        t.restart(seg, now);
                    }
                }
                TcpAction::Closed | TcpAction::None => {}
            }
        }
        let cfg = &self.cfg;
        let flow = &mut self.flows[i as usize];

        // Encapsulations of this packet, per direction.
        let e = flow.encaps.get_or_insert(EncapsDsr::default());
        if from_src {
            e.src |= d.encaps;
        } else {
            e.dst |= d.encaps;
        }

        // Times.
        let (start, end, other_start) = if from_src {
            (&mut flow.src_start, &mut flow.src_end, flow.dst_start)
        } else {
            (&mut flow.dst_start, &mut flow.dst_end, flow.src_start)
        };
        if start.sec == 0 {
            *start = now;
            if other_start.sec != 0 {
                flow.time_form = 2;
            }
        } else {
            *end = now;
            flow.time_form = 2;
        }

        // MAC addresses (kept across records; multipath bits when they change).
        if cfg.mac {
            if let Some(eh) = d.eth {
                match flow.mac.as_mut() {
                    None => {
                        let (dst, src) = if from_src {
                            (eh.dst, eh.src)
                        } else {
                            (eh.src, eh.dst)
                        };
                        flow.mac = Some(MacDsr {
                            qual: 0,
                            dst,
                            src,
                            etype: eh.etype,
                            dsap: 0,
                            ssap: 0,
                        });
                    }
                    Some(m) => {
                        if from_src {
                            if m.src != eh.src || m.dst != eh.dst || m.etype != eh.etype {
                                m.qual |= 0x01;
                            }
                        } else if m.src != eh.dst || m.dst != eh.src || m.etype != eh.etype {
                            m.qual |= 0x02;
                        }
                    }
                }
            }
        }

        if let Some(lse) = d.mpls {
            let m = flow.mpls.get_or_insert(MplsDsr::default());
            if from_src {
                m.src = Some(lse);
            } else {
                m.dst = Some(lse);
            }
        }
        if let Some(tci) = d.vlan_tci {
            let v = flow.vlan.get_or_insert(VlanDsr::default());
            if from_src {
                v.src = Some(tci);
            } else {
                v.dst = Some(tci);
            }
        }

        if pk.is_ip {
            let a = flow.ipattr.get_or_insert(IpAttrDsr::default());
            let attr = IpAttrDir {
                ttl: pk.ttl,
                tos: pk.tos,
                ipid: pk.ipid,
            };
            if from_src {
                a.src = Some(attr);
                if pk.ip_options != 0 {
                    a.src_options = Some(pk.ip_options);
                } else if a.src_options.is_some() {
                    a.src_options = Some(0);
                }
            } else {
                a.dst = Some(attr);
                if pk.ip_options != 0 {
                    a.dst_options = Some(pk.ip_options);
                } else if a.dst_options.is_some() {
                    a.dst_options = Some(0);
                }
            }
        }

        match &pk.l4 {
            L4::Icmp {
                icmp_type,
                code,
                seq,
                inner,
            } => {
                if matches!(flow.proto, ProtoState::None) {
                    let (osrc, odst) =
                        if let crate::record::FlowKey::Ipv4 { src, dst, .. } = &flow.key.key {
                            let (s, dd) = (u32::from_be_bytes(*src), u32::from_be_bytes(*dst));
                            if flow.key.reverse {
                                (dd, s)
                            } else {
                                (s, dd)
                            }
                        } else {
                            (0, 0)
                        };
                    let (isrc, idst, igw) = inner.unwrap_or((0, 0, 0));
                    let (osrc, odst) = if pk.reverse {
                        (odst, osrc)
                    } else {
                        (osrc, odst)
                    };
                    let _ = (osrc, odst);
                    flow.proto = ProtoState::Icmp {
                        icmp_type: *icmp_type,
                        code: *code,
                        seq: *seq,
                        addrs: [pk_src_dst(pk).0, pk_src_dst(pk).1, isrc, idst, igw],
                    };
                } else if let (has, ProtoState::Icmp { icmp_type: t, .. }) =
                    (flow.has_packets(), &mut flow.proto)
                {
                    if !has && matches!(*icmp_type, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18) {
                        *t = *icmp_type;
                    }
                    if matches!(*icmp_type, 8 | 13 | 15 | 17) {
                        *t = *icmp_type;
                    }
                }
            }
            L4::ArpReply { sha } => flow.proto = ProtoState::Arp { ha: *sha },
            _ => {}
        }

        // Counters (argus ArgusTallyStats).
        let bytes = d.wire_len as u64;
        let c = if from_src {
            &mut flow.src
        } else {
            &mut flow.dst
        };
        c.pkts += 1;
        c.bytes += bytes;
        if cfg.psize {
            let p = flow.psize.get_or_insert(PsizeDsr::default());
            let slot = if from_src { &mut p.src } else { &mut p.dst };
            let b = bytes.min(u16::MAX as u64) as u16;
            *slot = Some(match *slot {
                None => (b, b),
                Some((mn, mx)) => (mn.min(b), mx.max(b)),
            });
        }
        if cfg.jitter {
            let (last, st) = if from_src {
                (&mut flow.jit_last_src, &mut flow.jit_src_act)
            } else {
                (&mut flow.jit_last_dst, &mut flow.jit_dst_act)
            };
            if *last < now {
                if last.sec > 0 {
                    let iv = (now.as_micros() - last.as_micros()) as u64;
                    if iv > 0 && (iv as i64) < cfg.status_interval_us * 2 {
                        if st.n == 0 || iv < st.min {
                            st.min = iv;
                        }
                        st.max = st.max.max(iv);
                        st.sum += iv;
                        st.sumsq += (iv as f64) * (iv as f64);
                        st.n += 1;
                    }
                }
                *last = now;
            }
        }
        // Application bytes and user data (argus ArgusUpdateAppState).
        if pk.app_len > 0 && !pk.fragment {
            c.appbytes += pk.app_len as u64;
            if cfg.user_len > 0 {
                let slot = if from_src {
                    &mut flow.src_data
                } else {
                    &mut flow.dst_data
                };
                let dd = slot.get_or_insert_with(|| DataDsr {
                    size: cfg.user_len,
                    data: Vec::new(),
                    compressed: false,
                });
                let room = (dd.size as usize).saturating_sub(dd.data.len());
                let take = room.min(pk.app_len as usize).min(pk.payload.len());
                dd.data.extend_from_slice(&pk.payload[..take]);
            }
        }
    }
}

fn pk_src_dst(pk: &PacketKey) -> (u32, u32) {
    let b = &pk.key.b;
    let a = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let c = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
    if pk.reverse {
        (c, a)
    } else {
        (a, c)
    }
}
