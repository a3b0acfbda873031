//! The flow model: turns decoded packets into per-flow state and Argus 3 flow records, with
//! argus 3.0.8.2's defaults (bidirectional classic 5-tuple, 5 s status interval).
//!
//! * [`key`] builds argus' normalised flow key (and the REVERSE direction) from a frame;
//! * [`Flow`] holds one flow's metrics between two records, reset the way argus'
//!   `ArgusZeroRecord` resets them;
//! * [`table::Shard`] is one worker's share of the flow table with argus' status and timeout
//!   queues;
//! * [`tcp`] is the TCP connection tracker.

pub mod dup;
#[cfg(test)]
mod dup_tests;
pub mod frag_join;
pub mod icmp_map;
pub mod key;
pub mod table;
pub mod tcp;

use crate::record::{
    DataDsr, DirCounters, EncapsDsr, FlowDsr, FlowRecord, IcmpDsr, IpAttrDir, IpAttrDsr, JitterDsr,
    JitterStats, MacDsr, MeterDsr, MplsDsr, NetworkDsr, PsizeDsr, SrcId, TimeDsr, Ts, VlanDsr,
};
use key::PacketKey;

/// Sensor options that shape the records (the `argus` flags of the same meaning).
#[derive(Clone, Debug)]
pub struct ModelConfig {
    /// Flow status interval in microseconds (`-S`, ARGUS_FLOW_STATUS_INTERVAL).
    pub status_interval_us: i64,
    /// Source id (`-e`).
    pub srcid: SrcId,
    /// `-m`: MAC DSR.
    pub mac: bool,
    /// `-A`: application byte counters.
    pub appbytes: bool,
    /// `-J`: jitter DSR.
    pub jitter: bool,
    /// `-Z`: packet size DSR.
    pub psize: bool,
    /// `-U n`: user data bytes per direction (0 = off).
    pub user_len: u16,
    /// The sensor's filter (trailing arguments, ARGUS_FILTER), compiled for packets: a packet
    /// it rejects is not tracked (docs/filter.md).
    pub filter: Option<std::sync::Arc<crate::filter::CompiledFilter>>,
    /// Duplicate (mirror copy) detection and whether copies stay in the totals (ARGUS_DEDUP,
    /// `--dedup`; docs/duplicates.md).
    pub dedup: dup::DedupMode,
    /// Duplicate window in µs where no RTT is known (ARGUS_DEDUP_WINDOW, `--dedup-window`).
    pub dedup_window_us: u32,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            status_interval_us: 5_000_000,
            srcid: SrcId::None,
            mac: false,
            appbytes: false,
            jitter: false,
            psize: false,
            user_len: 0,
            filter: None,
            dedup: dup::DedupMode::Count,
            dedup_window_us: dup::DEFAULT_WINDOW_US,
        }
    }
}

/// argus' protocol idle timeouts (seconds) after which a reported flow is forgotten.
pub mod timeouts {
    pub const IP: u32 = 30;
    pub const TCP: u32 = 60;
    pub const ICMP: u32 = 5;
    pub const ARP: u32 = 5;
    pub const OTHER: u32 = 30;
}

/// Running inter-packet time statistics for one direction (argus `ArgusTimeStats`).
#[derive(Clone, Copy, Debug, Default)]
pub struct TimeStats {
    pub n: u32,
    pub min: u64,
    pub max: u64,
    pub sum: u64,
    pub sumsq: f64,
}

impl TimeStats {
    fn to_jitter(self) -> Option<JitterStats> {
        if self.n == 0 {
            return None;
        }
        // argus keeps the mean in single precision and takes the variance in double
        // precision from that rounded mean (matches Debian's jitter to the last printed
        // digit, fidelity seeds 6, 7 and 8; the exact mean is a few ulps away).
        let mean = self.sum as f32 / self.n as f32;
        let m = mean as f64;
        let var = self.sumsq / self.n as f64 - m * m;
        Some(JitterStats {
            n: self.n as i32,
            min: self.min as f32,
            mean,
            stdev: if var > 0.0 { var.sqrt() as f32 } else { 0.0 },
            max: self.max as f32,
        })
    }
}

/// Protocol state kept per flow.
#[derive(Clone, Debug, Default)]
pub enum ProtoState {
    #[default]
    None,
    Tcp(Box<tcp::TcpTracker>),
    /// The ICMP NETWORK object (written in host order, set by the first packet).
    Icmp {
        icmp_type: u8,
        code: u8,
        seq: u16,
        addrs: [u32; 5],
    },
    /// ARP reply seen: the responder's hardware address.
    Arp {
        ha: [u8; 6],
    },
}

/// Per-direction counters and attributes gathered since the last record.
///
/// `repr(C)` with the fields every packet touches first: the hot part spans three cache
/// lines, which is all the worker prefetches ([`Flow::HOT_BYTES`]); the key and the optional
/// metrics of `-m -J -Z -U` come after it.
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Flow {
    pub src: DirCounters,
    pub dst: DirCounters,
    pub src_start: Ts,
    pub src_end: Ts,
    pub dst_start: Ts,
    pub dst_end: Ts,
    pub proto: ProtoState,
    pub seq: u32,
    pub timeout: u32,
    /// The key holds this flow's source as its destination (argus DIRECTION); the FLOW DSR
    /// written takes it from here.
    pub reverse: bool,
    /// A record of this flow was emitted (the merger knows its sequence number).
    pub reported: bool,
    /// argus `status & 0xF0`: the cause of the next record (START for a new flow).
    pub cause: u8,
    /// A record has been emitted since the last packet (argus ARGUS_RECORD_WRITTEN).
    pub written: bool,
    /// TIME DSR form (1 single timestamp, 2 range), which argus keeps across records.
    pub time_form: u8,
    /// Copies were counted since the last record: the shard's `DupCounts` of this flow are
    /// valid (they are not cleared otherwise, so records and new flows need not touch them).
    pub dups_pending: bool,
    pub encaps: Option<EncapsDsr>,
    pub ipattr: Option<IpAttrDsr>,
    // Cold: present only on some flows or with extended options.
    pub vlan: Option<VlanDsr>,
    pub mpls: Option<MplsDsr>,
    pub key: FlowDsr,
    pub mac: Option<MacDsr>,
    pub psize: Option<PsizeDsr>,
    pub src_data: Option<DataDsr>,
    pub dst_data: Option<DataDsr>,
    /// argus' fragment object, for flows keyed on IPv4 fragments (boxed: rare).
    pub frag: Option<Box<key::FragState>>,
    /// The ICMP error last mapped onto this flow in this interval ([`icmp_map`]; boxed: rare).
    pub icmp: Option<Box<IcmpDsr>>,
    pub jit_last_src: Ts,
    pub jit_last_dst: Ts,
    pub jit_src_act: TimeStats,
    pub jit_dst_act: TimeStats,
    /// Intervals argus files as idle (TCP only: [`tcp::TcpTracker::idle`]).
    pub jit_src_idle: TimeStats,
    pub jit_dst_idle: TimeStats,
}

impl Flow {
    /// Bytes at the start of a flow that the per-packet update touches.
    pub const HOT_BYTES: usize = std::mem::offset_of!(Flow, vlan);

    pub fn new(pk: &PacketKey) -> Flow {
        let key = pk.dsr();
        Flow {
            reverse: key.reverse,
            key,
            seq: 0,
            reported: false,
            cause: crate::record::Cause::Start as u8,
            written: false,
            timeout: pk.timeout,
            src: DirCounters::default(),
            dst: DirCounters::default(),
            src_start: Ts::default(),
            src_end: Ts::default(),
            dst_start: Ts::default(),
            dst_end: Ts::default(),
            time_form: 1,
            dups_pending: false,
            encaps: None,
            ipattr: None,
            vlan: None,
            mpls: None,
            mac: None,
            psize: None,
            proto: ProtoState::None,
            src_data: None,
            dst_data: None,
            frag: None,
            icmp: None,
            jit_last_src: Ts::default(),
            jit_last_dst: Ts::default(),
            jit_src_act: TimeStats::default(),
            jit_dst_act: TimeStats::default(),
            jit_src_idle: TimeStats::default(),
            jit_dst_idle: TimeStats::default(),
        }
    }

    /// argus `ArgusZeroRecord`: what a new reporting interval starts from.
    pub fn zero(&mut self) {
        self.written = false;
        self.cause = crate::record::Cause::Status as u8;
        self.src = DirCounters::default();
        self.dst = DirCounters::default();
        self.src_start = Ts::default();
        self.src_end = Ts::default();
        self.dst_start = Ts::default();
        self.dst_end = Ts::default();
        self.encaps = None;
        self.vlan = None;
        self.mpls = None;
        self.psize = None;
        self.icmp = None;
        // A fragment flow forgets its datagram's byte ranges and length too (argus clears the
        // whole fragment object): a datagram reported mid-way never completes. Its link to a
        // parent stays: the shard's fragment table lists it under that parent.
        if let Some(f) = self.frag.as_deref_mut() {
            f.clear();
        }
        if let Some(a) = self.ipattr.as_mut() {
            a.frag_bits = 0;
            if a.src_options.is_some() {
                a.src_options = Some(0);
            }
            if a.dst_options.is_some() {
                a.dst_options = Some(0);
            }
        }
        if let ProtoState::Tcp(t) = &mut self.proto {
            t.after_record_written();
        }
        for d in [&mut self.src_data, &mut self.dst_data]
            .into_iter()
            .flatten()
        {
            d.data.clear();
        }
        self.jit_src_act = TimeStats::default();
        self.jit_dst_act = TimeStats::default();
        self.jit_src_idle = TimeStats::default();
        self.jit_dst_idle = TimeStats::default();
    }

    pub fn has_packets(&self) -> bool {
        self.src.pkts > 0 || self.dst.pkts > 0
    }

    /// Build the record argus would write now (`ArgusGenerateListRecord` + `ArgusGenerateRecord`).
    pub fn to_record(&self, cfg: &ModelConfig, cause: u8) -> FlowRecord {
        let mut rec = FlowRecord {
            cause: crate::record::Cause::from_byte(cause).unwrap_or_default(),
            srcid: cfg.srcid,
            seq: self.seq,
            flow: Some(FlowDsr {
                reverse: self.reverse,
                ..self.key.clone()
            }),
            ..Default::default()
        };
        // TIME: min over the present start/end stamps (argus compares only seconds when picking
        // the minimum, so among stamps of the same second the first in src-start, src-end,
        // dst-start, dst-end order wins), max over all.
        let mut tmin: Option<Ts> = None;
        let mut tmax = Ts::default();
        for t in [self.src_start, self.src_end, self.dst_start, self.dst_end] {
            if t.sec == 0 {
                continue;
            }
            if t > tmax {
                tmax = t;
            }
            match tmin {
                None => tmin = Some(t),
                Some(m) if m.sec > t.sec => tmin = Some(t),
                _ => {}
            }
        }
        // No stamp with non-zero seconds: argus' minimum stays at the 0xEFFFFFFF it starts from.
        let tmin = tmin.unwrap_or(Ts {
            sec: 0xEFFF_FFFF,
            ..Default::default()
        });
        rec.time = Some(TimeDsr {
            start: tmin,
            last: tmax,
            form: self.time_form,
            ..Default::default()
        });
        rec.meter = Some(MeterDsr {
            src: self.src,
            dst: self.dst,
            has_app: cfg.appbytes && (self.src.appbytes > 0 || self.dst.appbytes > 0),
        });
        rec.net = Some(match &self.proto {
            ProtoState::None => NetworkDsr::Empty,
            ProtoState::Tcp(t) => t.to_dsr(),
            ProtoState::Icmp {
                icmp_type,
                code,
                seq,
                addrs,
            } => NetworkDsr::Icmp {
                icmp_type: *icmp_type,
                code: *code,
                value: *seq,
                addrs: *addrs,
            },
            ProtoState::Arp { ha } => NetworkDsr::Arp { ha: *ha },
        });
        if let Some(f) = &self.frag {
            rec.net = Some(f.to_dsr());
        }
        rec.vlan = self.vlan;
        rec.mpls = self.mpls;
        if cfg.jitter {
            let j = JitterDsr {
                src_act: self.jit_src_act.to_jitter(),
                src_idle: self.jit_src_idle.to_jitter(),
                dst_act: self.jit_dst_act.to_jitter(),
                dst_idle: self.jit_dst_idle.to_jitter(),
            };
            if j.src_act.is_some()
                || j.dst_act.is_some()
                || j.src_idle.is_some()
                || j.dst_idle.is_some()
            {
                rec.jitter = Some(j);
            }
        }
        rec.ipattr = self.ipattr;
        rec.psize = self.psize.filter(|p| p.src.is_some() || p.dst.is_some());
        rec.src_data = self.src_data.clone().filter(|d| !d.data.is_empty());
        rec.dst_data = self.dst_data.clone().filter(|d| !d.data.is_empty());
        rec.mac = self.mac;
        rec.icmp = self.icmp.as_deref().copied();
        rec.encaps = self.encaps;
        rec
    }
}

/// Keep `IpAttrDir` reachable for the key module.
pub type IpAttr = IpAttrDir;
