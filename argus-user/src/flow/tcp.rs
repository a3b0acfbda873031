//! Per-flow TCP tracker: the argus 3.0.8 TCP model (`ArgusTcp.c`).
//!
//! # Model
//!
//! Argus keeps one `ArgusTCPObject` per TCP flow: a connection-wide `status` bit set, a BSD
//! `state` (`TCPS_*` numbering), the TCP option bits seen, the SYN→SYN-ACK and SYN-ACK→ACK
//! times, and one block of counters per direction ([`TcpDir`]). "Source" is the flow's
//! originator; each packet updates the block of the direction it travels in (`this`) and reads
//! the opposite one (`that`).
//!
//! * The **first** packet of a flow initialises the object (TCP *init* object, subtype 3): its
//!   flags choose the initial state (SYN → SYN_SENT, SYN-ACK → SYN_RECEIVED, plain ACK/PSH →
//!   ESTABLISHED, FIN → FIN_WAIT_1, RST → LISTEN, anything else → CLOSING) and the base sequence
//!   number (the SYN's ISN, or `seq - 1` for a flow picked up mid-stream).
//! * Every later packet (unless the flow started with a RST, "LISTEN") turns the object into a
//!   performance object (subtype 5) and runs two steps: *sequence tracking*
//!   (window-shut, payload and in-flight byte counting, sequence roll-over, retransmission and
//!   out-of-order detection, ack/window-update bookkeeping) then the *state machine* (reset,
//!   SYN-ACK, established, FIN, FIN-ACK, close, and the SYN→SYN-ACK / SYN-ACK→ACK timers).
//! * Per-direction status words hold the "both directions" masks (e.g. `0x300` for
//!   retransmissions); when a record is generated (`ArgusTCPFlowRecord`) they are folded into
//!   the connection status as separate src/dst bits. The TCP *init* object is written as is.
//! * After a record is written (`ArgusZeroRecord`) the per-record counters are cleared and
//!   `seqbase` moves up to `seq`; state, status, options, timers, windows, acks persist.
//!
//! `ra` derives its columns from the performance object: `stcpb`/`dtcpb` = `seqbase`,
//! `swin`/`dwin` = `win << winshift`, `sretrans`/`dretrans` = `retrans`,
//! `tcprtt` = `synack + ackdat`, and the gaps as `sgap = (dst.ack - src.seqbase) - src.bytes`
//! (symmetrically for `dgap`), so `seqbase`, `bytes` and the opposite direction's `ack`
//! (stored as `th_ack - 1`) are kept exactly as argus keeps them.
//!
//! Arithmetic is on `u32` with wrap-around, as in the C code, including its quirks (e.g. the
//! unscaled window shifted *right* by the window-scale in the retransmission tests, and the
//! TCP init object's window field, which argus never fills in and is written here as 0).

use crate::record::{NetworkDsr, TcpDir, TcpDsr, Ts};

// TCP header flags.
const TH_FIN: u8 = 0x01;
const TH_SYN: u8 = 0x02;
const TH_RST: u8 = 0x04;
const TH_PUSH: u8 = 0x08;
const TH_ACK: u8 = 0x10;
const TH_URG: u8 = 0x20;
const TH_ECE: u8 = 0x40;
const TH_CWR: u8 = 0x80;

/// BSD `TCPS_*` connection states, as written in the `state` word.
pub mod tcps {
    pub const CLOSED: u32 = 0;
    pub const LISTEN: u32 = 1;
    pub const SYN_SENT: u32 = 2;
    pub const SYN_RECEIVED: u32 = 3;
    pub const ESTABLISHED: u32 = 4;
    pub const CLOSE_WAIT: u32 = 5;
    pub const FIN_WAIT_1: u32 = 6;
    pub const CLOSING: u32 = 7;
    pub const LAST_ACK: u32 = 8;
    pub const FIN_WAIT_2: u32 = 9;
    pub const TIME_WAIT: u32 = 10;
}
use tcps::*;

/// Connection status bits (`status` word) and TCP option bits (`options` word).
pub mod bits {
    pub const SAW_SYN: u32 = 0x0000_0001;
    pub const SAW_SYN_SENT: u32 = 0x0000_0002;
    pub const CON_ESTABLISHED: u32 = 0x0000_0004;
    pub const FIN: u32 = 0x0000_0008;
    pub const FIN_ACK: u32 = 0x0000_0010;
    pub const NORMAL_CLOSE: u32 = 0x0000_0020;
    pub const CLOSE_WAITING: u32 = 0x0000_0040;
    pub const PKTS_RETRANS: u32 = 0x0000_0300;
    pub const SRC_PKTS_RETRANS: u32 = 0x0000_0100;
    pub const DST_PKTS_RETRANS: u32 = 0x0000_0200;
    pub const WINDOW_SHUT: u32 = 0x0000_0C00;
    pub const SRC_WINDOW_SHUT: u32 = 0x0000_0400;
    pub const DST_WINDOW_SHUT: u32 = 0x0000_0800;
    pub const RESET: u32 = 0x0000_3000;
    pub const SRC_RESET: u32 = 0x0000_1000;
    pub const DST_RESET: u32 = 0x0000_2000;
    pub const ECN_CONGESTED: u32 = 0x0000_C000;
    pub const SRC_CONGESTED: u32 = 0x0000_4000;
    pub const DST_CONGESTED: u32 = 0x0000_8000;
    pub const OUTOFORDER: u32 = 0x0003_0000;
    pub const SRC_OUTOFORDER: u32 = 0x0001_0000;
    pub const DST_OUTOFORDER: u32 = 0x0002_0000;
    pub const DUPLICATES: u32 = 0x000C_0000;
    pub const SRC_DUPLICATES: u32 = 0x0004_0000;
    pub const DST_DUPLICATES: u32 = 0x0008_0000;

    pub const TCP_MAXSEG: u32 = 0x0010_0000;
    pub const TCP_WSCALE: u32 = 0x0020_0000;
    pub const TCP_SACKOK: u32 = 0x0040_0000;
    pub const TCP_SACK: u32 = 0x0080_0000;
    pub const TCP_ECHO: u32 = 0x0100_0000;
    pub const TCP_ECHOREPLY: u32 = 0x0200_0000;
    pub const TCP_TIMESTAMP: u32 = 0x0400_0000;
    pub const TCP_CC: u32 = 0x0800_0000;
    pub const TCP_CCNEW: u32 = 0x1000_0000;
    pub const TCP_CCECHO: u32 = 0x2000_0000;
    pub const TCP_SRC_ECN: u32 = 0x4000_0000;
    pub const TCP_DST_ECN: u32 = 0x8000_0000;
}
use bits::*;

/// NETWORK DSR subtypes used for TCP.
const SUB_TCP_INIT: u8 = 0x03;
const SUB_TCP_STATUS: u8 = 0x04;
const SUB_TCP_PERF: u8 = 0x05;

/// Timeout (seconds) argus assigns when a connection closes. Note that in 3.0.8
/// `ArgusUpdateState` immediately restores the configured TCP timeout afterwards, so this value
/// is informational only.
pub const CLOSED_TIMEOUT_SECS: u32 = 10;

/// One TCP segment as seen by the modeler.
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpSeg<'a> {
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub win: u16,
    /// Raw TCP option bytes (header bytes after the fixed 20), possibly truncated by the
    /// snap length; parsed defensively.
    pub options: &'a [u8],
    /// IP total length - IP header - TCP header (as argus computes it).
    pub payload_len: u32,
    /// `tos & 3` (unused by the argus 3.0.8 TCP model; kept for the engine's convenience).
    pub ip_ecn: u8,
    /// IPv4 identification in host order (0 for IPv6). Argus compares successive IP ids of a
    /// direction to flag out-of-order segments; it does so on the raw (network-order) 16-bit
    /// value read on a little-endian host, which this tracker reproduces.
    pub ipid: u16,
}

/// What the engine must do around this packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpAction {
    /// Nothing special: count the packet in the current record as usual.
    None,
    /// The connection reached CLOSED (or TIME_WAIT) with this packet; `NORMAL_CLOSE` was set
    /// unless it was reset. Argus sets the flow timeout to [`CLOSED_TIMEOUT_SECS`] here, but
    /// 3.0.8 then immediately restores the TCP timeout, so the engine may ignore it. Count the
    /// packet as usual.
    Closed,
    /// A new connection (a bare SYN) arrived on a finished/reset connection. The engine must:
    /// 1. **not** count this packet in the current record;
    /// 2. emit the current record with cause STOP (using [`TcpTracker::to_dsr`]) and reset the
    ///    flow's other DSRs as after any record;
    /// 3. re-orient the flow so that the sender of this SYN is the source (argus's
    ///    `ArgusInitializeTCP` clears the flow key's REVERSE/direction bits when the SYN came
    ///    from the responder side and sets `ArgusThisDir = 1`);
    /// 4. call [`TcpTracker::restart`] with this segment, then count the packet as the first
    ///    (source-direction) packet of the new flow, which starts a new record (START).
    Restart,
}

/// Per-flow TCP state, as argus's `ArgusTCPObject` plus the bits of the flow struct it uses.
#[derive(Clone, Default, Debug)]
pub struct TcpTracker {
    started: bool,
    /// Argus `-R`-less mode: write TCP status objects instead of performance objects.
    status_only: bool,
    /// Set with [`TcpAction::Restart`] when argus's post-restart flag update hits the
    /// destination block (see `restart`).
    restart_to_dst: bool,
    subtype: u8,
    status: u32,
    state: u32,
    options: u32,
    synack: u32,
    ackdat: u32,
    src: TcpDir,
    dst: TcpDir,
    /// Last IP id (raw, as argus stores it) per direction, for out-of-order detection.
    sipid: u16,
    dipid: u16,
    /// argus `model->ArgusInProtocol == 0` after this flow's last segment: the interval that
    /// segment ended counts as *idle* (else *active*) in the jitter statistics
    /// ([`TcpTracker::idle`]).
    idle: bool,
    /// RTT from TCP timestamps, for the duplicate detector (not part of argus' model).
    pub ts_rtt: TsRtt,
}

/// Round-trip time from TCP timestamps as seen at the sensor: per direction the latest TSval
/// and when it was first seen; when the other side echoes it (TSecr), the time since is that
/// side's half of the RTT (sensor -> endpoint -> sensor). The RTT is the sum of the two
/// smallest halves seen. Used by the duplicate detector only (docs/duplicates.md).
#[derive(Clone, Copy, Debug, Default)]
pub struct TsRtt {
    tsval: [u32; 2],
    time: [u32; 2],
    half: [u32; 2],
}

impl TsRtt {
    /// The RTT (µs) once both halves were measured.
    #[inline]
    pub fn rtt_us(&self) -> Option<u32> {
        (self.half[0] > 0 && self.half[1] > 0).then(|| self.half[0].saturating_add(self.half[1]))
    }

    /// A segment of direction `dir` (0 source, 1 destination) at `now_us` with `options`.
    #[inline]
    pub fn update(&mut self, dir: usize, options: &[u8], now_us: i64) {
        let Some((val, ecr)) = timestamps(options) else {
            return;
        };
        let (d, o) = (dir & 1, (dir & 1) ^ 1);
        let now = now_us as u32;
        if val != self.tsval[d] {
            self.tsval[d] = val;
            self.time[d] = now;
        }
        if ecr != 0 && ecr == self.tsval[o] {
            let sample = now.wrapping_sub(self.time[o]);
            // one sample per echoed TSval: later echoes of it would only be longer
            self.tsval[o] = 0;
            if sample > 0 && sample < 60_000_000 && (self.half[o] == 0 || sample < self.half[o]) {
                self.half[o] = sample;
            }
        }
    }
}

/// TSval and TSecr of a TCP timestamp option (kind 8, length 10), if the options hold one.
fn timestamps(opts: &[u8]) -> Option<(u32, u32)> {
    let mut i = 0usize;
    while i < opts.len() {
        match opts[i] {
            0 => return None,
            1 => i += 1,
            8 => {
                let b = opts.get(i + 2..i + 10)?;
                if opts.get(i + 1) != Some(&10) {
                    return None;
                }
                return Some((
                    u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                    u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                ));
            }
            _ => {
                let l = *opts.get(i + 1)? as usize;
                if l < 2 {
                    return None;
                }
                i += l;
            }
        }
    }
    None
}

fn abs_diff_us(a: Ts, b: Ts) -> u32 {
    (a.as_micros() - b.as_micros()).unsigned_abs() as u32
}

/// Parse TCP options as `ArgusParseTCPOptions`: sets option bits and the window shift.
fn parse_options(opts: &[u8], options: &mut u32, this: &mut TcpDir) {
    let mut i = 0usize;
    while i < opts.len() {
        let opt = opts[i];
        i += 1;
        let zerolen = opt == 0 || opt == 1;
        let alen = if zerolen {
            1
        } else {
            let Some(&alen) = opts.get(i) else { return };
            i += 1;
            if alen < 2 {
                return;
            }
            alen as usize
        };
        // Data length argus assumes for the option (fixed for the known ones).
        let (bit, datalen) = match opt {
            0 | 1 => (0, 0),
            2 => (TCP_MAXSEG, 2),
            3 => (TCP_WSCALE, 1),
            4 => (TCP_SACKOK, 0),
            5 => (TCP_SACK, alen - 2),
            6 => (TCP_ECHO, 4),
            7 => (TCP_ECHOREPLY, 4),
            8 => (TCP_TIMESTAMP, 8),
            11 => (TCP_CC, 4),
            12 => (TCP_CCNEW, 4),
            13 => (TCP_CCECHO, 4),
            _ => (0, alen - 2),
        };
        *options |= bit;
        if opt == 3 {
            match opts.get(i) {
                Some(&shift) => this.winshift = shift,
                None => return,
            }
        }
        if i + datalen > opts.len() {
            return; // truncated: argus stops at the snap length
        }
        i += datalen;
        if opt == 0 {
            return;
        }
    }
}

impl TcpTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Write TCP status objects (subtype 4) instead of performance objects (subtype 5), as
    /// argus does when TCP performance metrics are disabled. Default: performance objects.
    pub fn set_status_only(&mut self, on: bool) {
        self.status_only = on;
    }

    /// Whether the inter-packet interval the last segment ended is *idle* for argus' jitter
    /// statistics (`ArgusTallyStats` files it under `ArgusInProtocol`, which
    /// `ArgusUpdateTCPSequence` sets per segment): a data segment that continues a burst the
    /// other side has not yet acknowledged, after the other side showed a window, is active;
    /// the first segment of a burst, pure ACKs, zero-window segments and retransmissions are
    /// idle; a pure SYN leaves the flag as it was.
    pub fn idle(&self) -> bool {
        self.idle
    }

    /// Whether the tracker has seen a segment (and so has a NETWORK DSR to write).
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Current `TCPS_*` state (see [`tcps`]).
    pub fn state(&self) -> u32 {
        self.state
    }

    /// The round-trip time measured on the handshake (`synack + ackdat`, µs), once both halves
    /// are known.
    #[inline]
    pub fn rtt_us(&self) -> Option<u32> {
        (self.synack > 0 && self.ackdat > 0).then(|| self.synack.saturating_add(self.ackdat))
    }

    /// Raw connection status word (before the per-direction folding done for records).
    pub fn status(&self) -> u32 {
        self.status
    }

    /// The connection reached CLOSED/TIME_WAIT (normal close or in-window reset).
    pub fn is_closed(&self) -> bool {
        self.started && (self.state == CLOSED || self.state == TIME_WAIT)
    }

    /// The flow timeout argus leaves in place after this packet: always the configured TCP
    /// timeout in 3.0.8 (the 10 s close timeout is overwritten right away).
    pub fn timeout(&self, tcp_timeout: u32) -> u32 {
        tcp_timeout
    }

    fn dirs(&mut self, from_src: bool) -> (&mut TcpDir, &mut TcpDir) {
        if from_src {
            (&mut self.src, &mut self.dst)
        } else {
            (&mut self.dst, &mut self.src)
        }
    }

    /// Update with one segment. `from_src`: the packet travels originator -> responder
    /// (argus `ArgusThisDir`). `now`: packet time.
    pub fn update(&mut self, seg: &TcpSeg, from_src: bool, now: Ts) -> TcpAction {
        if !self.started {
            self.start(seg, from_src, now);
            return TcpAction::None;
        }
        let flags = seg.flags;
        if self.state == LISTEN {
            if flags & TH_SYN != 0 {
                self.restart_to_dst = !from_src;
                return TcpAction::Restart;
            }
            let (this, _) = self.dirs(from_src);
            this.flags |= flags;
            this.lasttime = now;
            return TcpAction::None;
        }

        self.subtype = if self.status_only {
            SUB_TCP_STATUS
        } else {
            SUB_TCP_PERF
        };
        {
            let mut options = self.options;
            let (this, _) = self.dirs(from_src);
            parse_options(seg.options, &mut options, this);
            this.flags |= flags;
            self.options = options;
        }
        if self.options & (TCP_SRC_ECN | TCP_DST_ECN) != 0
            && flags & TH_ECE != 0
            && flags & TH_ACK != 0
        {
            self.status |= if from_src {
                SRC_CONGESTED
            } else {
                DST_CONGESTED
            };
        }

        let mut action = TcpAction::None;
        // Sequence tracking never rejects a packet here (duplicate tracking is off).
        self.update_sequence(seg, from_src);
        match self.update_state_machine(seg, from_src, now) {
            LISTEN if flags == TH_SYN => {
                let (this, _) = self.dirs(from_src);
                this.bytes = this.bytes.wrapping_sub(seg.payload_len);
                self.restart_to_dst = false;
                return TcpAction::Restart;
            }
            CLOSED | TIME_WAIT => {
                if self.status & RESET == 0 {
                    self.status |= NORMAL_CLOSE;
                }
                action = TcpAction::Closed;
            }
            _ => {}
        }
        let (this, _) = self.dirs(from_src);
        this.lasttime = now;
        action
    }

    /// Start a new connection after [`TcpAction::Restart`]: reset everything (keeping the
    /// configuration) and process `seg` as the first, source-direction packet of the new flow.
    pub fn restart(&mut self, seg: &TcpSeg, now: Ts) {
        let to_dst = self.restart_to_dst;
        *self = TcpTracker {
            status_only: self.status_only,
            ts_rtt: self.ts_rtt,
            ..TcpTracker::default()
        };
        self.start(seg, true, now);
        if to_dst {
            // argus ORs the flags into the block its stale direction pointer designates.
            self.dst.flags |= seg.flags;
            self.dst.lasttime = now;
        }
    }

    /// First packet of a flow (argus `*state == ARGUS_START`).
    fn start(&mut self, seg: &TcpSeg, from_src: bool, now: Ts) {
        self.started = true;
        self.subtype = SUB_TCP_INIT;
        let flags = seg.flags;
        let len = seg.payload_len;
        let mut options = 0;
        let mut status = 0;
        let state;
        let (this, that) = self.dirs(from_src);
        parse_options(seg.options, &mut options, this);

        if flags & TH_RST != 0 {
            status |= RESET;
            this.status |= RESET;
            state = LISTEN;
            this.bytes = this.bytes.wrapping_add(len);
            this.flags |= flags;
            if seg.seq != 0 {
                this.seqbase = seg.seq.wrapping_sub(1);
                this.seq = seg.seq.wrapping_add(len);
            } else {
                this.seqbase = seg.ack.wrapping_sub(1);
                this.seq = seg.ack.wrapping_sub(1);
            }
            that.ack = seg.ack.wrapping_sub(1);
        } else {
            this.bytes = this.bytes.wrapping_add(len);
            this.flags |= flags;
            match flags & (TH_SYN | TH_ACK | TH_FIN | TH_PUSH | TH_URG) {
                TH_SYN => {
                    status |= SAW_SYN;
                    state = SYN_SENT;
                    this.seqbase = seg.seq;
                    this.seq = seg.seq;
                    this.win = seg.win;
                    if flags & (TH_ECE | TH_CWR) == TH_ECE | TH_CWR {
                        options |= TCP_SRC_ECN;
                    }
                }
                f if f == TH_SYN | TH_ACK => {
                    status |= SAW_SYN_SENT;
                    state = SYN_RECEIVED;
                    this.seqbase = seg.seq;
                    this.seq = seg.seq;
                    this.win = seg.win;
                    that.ack = seg.ack.wrapping_sub(1);
                    if flags & (TH_ECE | TH_CWR) == TH_ECE {
                        options |= TCP_DST_ECN;
                    }
                }
                f => {
                    let data_like = f & !(TH_PUSH | TH_URG | TH_ACK) == 0;
                    if data_like && f & TH_ACK != 0 {
                        that.ack = seg.ack.wrapping_sub(1);
                    }
                    state = if data_like && f != 0 {
                        status |= CON_ESTABLISHED;
                        ESTABLISHED
                    } else if f == TH_FIN || f == TH_FIN | TH_ACK {
                        status |= FIN;
                        FIN_WAIT_1
                    } else {
                        status |= CON_ESTABLISHED;
                        CLOSING
                    };
                    this.seqbase = seg.seq.wrapping_sub(1);
                    this.seq = seg.seq.wrapping_add(len);
                    this.win = seg.win;
                }
            }
        }
        this.lasttime = now;
        self.options |= options;
        self.status |= status;
        self.state = state;
    }

    /// `ArgusUpdateTCPSequence` (duplicate tracking disabled, as by default).
    fn update_sequence(&mut self, seg: &TcpSeg, from_src: bool) {
        let flags = seg.flags;
        if flags == TH_SYN {
            return; // we started over
        }
        let len = seg.payload_len;
        let seq = seg.seq;
        // Argus reads the IP id straight out of the header on a little-endian host.
        let ipid = seg.ipid.swap_bytes();
        let mut last_ipid = if from_src { self.sipid } else { self.dipid };
        let (this, that) = self.dirs(from_src);
        let mut idle = false;

        if seg.win == 0 && flags & (TH_FIN | TH_RST) == 0 {
            this.status |= WINDOW_SHUT;
            idle = true;
        } else if flags & (TH_FIN | TH_RST) == 0 {
            this.win = seg.win;
        }

        if len != 0 && that.win != 0 {
            // The first segment of a burst (nothing of this side unacknowledged) is idle.
            idle |= this.winbytes == 0;
            this.bytes = this.bytes.wrapping_add(len);
            if this.flags & TH_FIN != 0 {
                if seq < this.seq {
                    this.retrans = this.retrans.wrapping_add(1);
                    this.status |= PKTS_RETRANS;
                } else if flags & TH_FIN == 0 {
                    this.status |= OUTOFORDER;
                }
            }
            if flags & TH_SYN == 0 {
                this.winbytes = this.winbytes.wrapping_add(len);
            }
        } else {
            idle = true;
        }

        let newseq = seq.wrapping_add(len);
        if newseq < seq {
            // sequence roll-over: ackbytes carries the bytes before the wrap
            this.ackbytes = this
                .ackbytes
                .wrapping_add(this.seq.wrapping_sub(this.seqbase));
            this.seqbase = newseq;
            this.seq = newseq;
        } else if this.seqbase == 0 {
            this.seqbase = seq;
            this.seq = newseq;
        } else if len != 0 {
            if that.win != 0 {
                let scaled_win = u32::from(this.win >> this.winshift);
                if seq < that.ack {
                    if that.ack - seq < scaled_win {
                        this.retrans = this.retrans.wrapping_add(1);
                        this.status |= PKTS_RETRANS;
                        this.winbytes = this.winbytes.wrapping_sub(len);
                        idle = true;
                    }
                } else {
                    let maxseq = if newseq > this.seq { newseq } else { this.seq };
                    if this.win != 0 {
                        let dipid = i32::from(ipid) - i32::from(last_ipid);
                        if last_ipid != 0 && dipid < 0 && dipid > -5000 {
                            this.status |= OUTOFORDER;
                        } else if this.winbytes > maxseq.wrapping_sub(1).wrapping_sub(that.ack) {
                            this.retrans = this.retrans.wrapping_add(1);
                            this.status |= PKTS_RETRANS;
                            this.winbytes = this.winbytes.wrapping_sub(len);
                            idle = true;
                        } else if newseq < this.seq {
                            if seq == that.ack.wrapping_add(1) {
                                this.retrans = this.retrans.wrapping_add(1);
                                this.status |= PKTS_RETRANS;
                                this.winbytes = this.winbytes.wrapping_sub(len);
                            } else {
                                this.status |= OUTOFORDER;
                            }
                        }
                    }
                    this.seq = maxseq;
                }
            }
            last_ipid = ipid;
        }

        if seg.ack != 0 && flags & TH_ACK != 0 {
            let ack1 = seg.ack.wrapping_sub(1);
            if this.ack != 0 && that.seq > this.ack {
                that.winbytes = that.seq.wrapping_sub(1).wrapping_sub(this.ack);
            }
            if this.ack != ack1 {
                if this.ack == 0 || that.seq == seg.ack {
                    that.winbytes = 0;
                    if that.seq == seg.ack {
                        that.winnum = that.winnum.wrapping_add(1);
                    }
                } else if flags & TH_SYN == 0 {
                    let acked = ack1.wrapping_sub(this.ack);
                    let win = that.winbytes.min(acked);
                    that.winbytes = that.winbytes.wrapping_sub(win);
                    that.winnum = that.winnum.wrapping_add(1);
                }
                this.ack = ack1;
            }
        }

        if from_src {
            self.sipid = last_ipid;
        } else {
            self.dipid = last_ipid;
        }
        self.idle = idle;
    }

    /// `ArgusUpdateTCPStateMachine`: returns the computed state (LISTEN is returned but never
    /// stored).
    fn update_state_machine(&mut self, seg: &TcpSeg, from_src: bool, now: Ts) -> u32 {
        let flags = seg.flags;
        let len = seg.payload_len;
        let mut state = self.state;
        let mut status = 0u32;
        let mut synack = None;
        let mut ackdat = None;
        let (this, that) = self.dirs(from_src);

        if flags & TH_RST != 0 {
            status |= RESET;
            this.status |= RESET;
            state = if state == SYN_SENT {
                if that.seq == this.ack {
                    LISTEN
                } else {
                    CLOSING
                }
            } else {
                let hi = this.ack.wrapping_add(u32::from(this.win >> this.winshift));
                if seg.seq >= this.ack && seg.seq < hi {
                    CLOSED
                } else {
                    CLOSING
                }
            };
        } else {
            match state {
                LISTEN | SYN_SENT => {
                    if flags == TH_SYN {
                        this.status |= PKTS_RETRANS;
                        this.retrans = this.retrans.wrapping_add(1);
                    } else if flags == TH_SYN | TH_ACK {
                        status |= SAW_SYN_SENT;
                        this.status |= SAW_SYN_SENT;
                        if this.status & SAW_SYN != 0 {
                            state = LISTEN;
                        } else {
                            state = SYN_RECEIVED;
                            if that.seq == this.ack {
                                synack = Some(abs_diff_us(now, that.lasttime));
                            }
                        }
                    } else if flags & TH_FIN != 0 {
                        state = FIN_WAIT_1;
                        status |= FIN;
                        this.status |= FIN;
                    } else if flags & TH_ACK != 0 {
                        state = ESTABLISHED;
                        status |= CON_ESTABLISHED;
                        this.status |= CON_ESTABLISHED;
                    }
                }
                SYN_RECEIVED => {
                    if flags & TH_FIN != 0 {
                        state = FIN_WAIT_1;
                        status |= FIN;
                        this.status |= FIN;
                    } else if flags & TH_SYN == 0 {
                        if flags & TH_ACK != 0 {
                            state = ESTABLISHED;
                            status |= CON_ESTABLISHED;
                            this.status |= CON_ESTABLISHED;
                            if this.seq == that.ack {
                                ackdat = Some(abs_diff_us(now, that.lasttime));
                            }
                        }
                    } else {
                        this.status |= PKTS_RETRANS;
                        this.retrans = this.retrans.wrapping_add(1);
                    }
                }
                ESTABLISHED => {
                    if flags & TH_FIN != 0 {
                        state = FIN_WAIT_1;
                        status |= FIN;
                        this.status |= FIN;
                    } else if flags & TH_SYN != 0 {
                        if flags & TH_ACK != 0 {
                            status |= SAW_SYN_SENT | CON_ESTABLISHED;
                        }
                        this.status |= PKTS_RETRANS;
                        this.retrans = this.retrans.wrapping_add(1);
                    }
                }
                CLOSE_WAIT | FIN_WAIT_1 | LAST_ACK | FIN_WAIT_2 => {
                    let new_syn = flags & TH_SYN != 0 && flags & TH_ACK == 0;
                    if new_syn && (state == CLOSE_WAIT || state == FIN_WAIT_1) {
                        state = LISTEN;
                    } else if flags & TH_FIN != 0 {
                        if flags & TH_ACK == 0 {
                            if that.status & FIN_ACK != 0 {
                                this.status |= PKTS_RETRANS;
                                this.retrans = this.retrans.wrapping_add(1);
                            }
                        } else {
                            status |= FIN;
                            this.status |= FIN;
                        }
                    }
                    if flags & TH_ACK != 0
                        && len == 0
                        && that.status & FIN != 0
                        && that.seq == this.ack
                    {
                        state = FIN_WAIT_2;
                        status |= FIN_ACK;
                        that.status |= FIN_ACK;
                    }
                }
                CLOSING | TIME_WAIT => {
                    if flags & TH_SYN != 0 && flags & TH_ACK == 0 {
                        state = LISTEN;
                    } else if flags & TH_ACK != 0 && this.seq == this.ack && that.seq == this.ack {
                        state = CLOSED;
                    }
                }
                CLOSED if flags & TH_SYN != 0 && flags & TH_ACK == 0 => state = LISTEN,
                _ => {}
            }
        }

        self.status |= status;
        if let Some(us) = synack {
            self.synack = us;
        }
        if let Some(us) = ackdat {
            self.ackdat = us;
        }
        if state != LISTEN {
            self.state = state;
        }
        state
    }

    /// Connection status as written in a status/performance object (`ArgusTCPFlowRecord`):
    /// per-direction reset/retransmission/window-shut/out-of-order/duplicate bits folded into
    /// separate src/dst bits.
    pub fn record_status(&self) -> u32 {
        let mut st = self.status & !(RESET | PKTS_RETRANS | WINDOW_SHUT | OUTOFORDER | DUPLICATES);
        let map = [
            (RESET, SRC_RESET, DST_RESET),
            (PKTS_RETRANS, SRC_PKTS_RETRANS, DST_PKTS_RETRANS),
            (WINDOW_SHUT, SRC_WINDOW_SHUT, DST_WINDOW_SHUT),
            (OUTOFORDER, SRC_OUTOFORDER, DST_OUTOFORDER),
            (DUPLICATES, SRC_DUPLICATES, DST_DUPLICATES),
        ];
        for (mask, s, d) in map {
            if self.src.status & mask != 0 {
                st |= s;
            }
            if self.dst.status & mask != 0 {
                st |= d;
            }
        }
        st
    }

    /// The NETWORK DSR to write for a record: a performance object (subtype 5, both halves),
    /// a status object (subtype 4) when [`set_status_only`](Self::set_status_only), or the
    /// init object (subtype 3) while the flow has seen only its first packet (or started with
    /// a reset). Returns [`NetworkDsr::Empty`] if no segment was seen.
    pub fn to_dsr(&self) -> NetworkDsr {
        if !self.started {
            return NetworkDsr::Empty;
        }
        match self.subtype {
            SUB_TCP_INIT => {
                // status, seqbase, options (u32), window (u16, never filled in by argus),
                // flags, window shift; the status word is not folded for this object.
                let mut body = Vec::with_capacity(16);
                body.extend_from_slice(&self.status.to_be_bytes());
                body.extend_from_slice(&self.src.seqbase.to_be_bytes());
                body.extend_from_slice(&self.options.to_be_bytes());
                body.extend_from_slice(&[0, 0, self.src.flags, self.src.winshift]);
                NetworkDsr::Other {
                    subtype: SUB_TCP_INIT,
                    qual: 0,
                    body,
                }
            }
            SUB_TCP_STATUS => {
                let mut body = Vec::with_capacity(8);
                body.extend_from_slice(&self.record_status().to_be_bytes());
                body.extend_from_slice(&[self.src.flags, self.dst.flags, 0, 0]);
                NetworkDsr::Other {
                    subtype: SUB_TCP_STATUS,
                    qual: 0,
                    body,
                }
            }
            _ => NetworkDsr::Tcp(TcpDsr {
                status: self.record_status(),
                state: self.state,
                options: self.options,
                synack: self.synack,
                ackdat: self.ackdat,
                src: self.src,
                dst: Some(self.dst),
            }),
        }
    }

    /// Like [`to_dsr`](Self::to_dsr) but `None` when no segment was seen.
    pub fn dsr(&self) -> Option<NetworkDsr> {
        self.started.then(|| self.to_dsr())
    }

    /// Reset what `ArgusZeroRecord` resets after a record is written: per-direction
    /// reset/retransmission/window-shut/out-of-order/congestion status bits, retransmission,
    /// flag, byte, window-byte and ack-byte counters, the remembered IP ids; `seqbase` moves
    /// up to `seq`. State, connection status, options, timers, windows, acks are kept.
    pub fn after_record_written(&mut self) {
        for d in [&mut self.src, &mut self.dst] {
            d.status &= !(RESET | PKTS_RETRANS | WINDOW_SHUT | OUTOFORDER | ECN_CONGESTED);
            d.retrans = 0;
            d.flags = 0;
            d.bytes = 0;
            d.winbytes = 0;
            d.ackbytes = 0;
            d.seqbase = d.seq;
        }
        self.sipid = 0;
        self.dipid = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS_SYN: &[u8] = &[
        2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
    ];

    fn t(us: i64) -> Ts {
        Ts::from_micros(1_000_000_000_000_000 + us)
    }

    fn seg(seq: u32, ack: u32, flags: u8, win: u16, len: u32, ipid: u16) -> TcpSeg<'static> {
        TcpSeg {
            seq,
            ack,
            flags,
            win,
            options: &[],
            payload_len: len,
            ip_ecn: 0,
            ipid,
        }
    }

    fn perf(tr: &TcpTracker) -> TcpDsr {
        match tr.to_dsr() {
            NetworkDsr::Tcp(t) => t,
            other => panic!("expected perf object, got {other:?}"),
        }
    }

    /// SYN, SYN-ACK, ACK at t=0/100/150 µs.
    fn handshake() -> TcpTracker {
        let mut tr = TcpTracker::new();
        let syn = TcpSeg {
            options: OPTS_SYN,
            ..seg(1000, 0, TH_SYN, 65535, 0, 1)
        };
        assert_eq!(tr.update(&syn, true, t(0)), TcpAction::None);
        let sa = TcpSeg {
            options: OPTS_SYN,
            ..seg(5000, 1001, TH_SYN | TH_ACK, 28960, 0, 0)
        };
        assert_eq!(tr.update(&sa, false, t(100)), TcpAction::None);
        assert_eq!(
            tr.update(&seg(1001, 5001, TH_ACK, 512, 0, 2), true, t(150)),
            TcpAction::None
        );
        tr
    }

    #[test]
    fn syn_only_is_init_object() {
        let mut tr = TcpTracker::new();
        let syn = TcpSeg {
            options: OPTS_SYN,
            ..seg(1000, 0, TH_SYN, 65535, 0, 1)
        };
        tr.update(&syn, true, t(0));
        assert_eq!(tr.state(), SYN_SENT);
        let body = vec![
            0, 0, 0, 1, 0, 0, 0x03, 0xe8, 0x04, 0x70, 0, 0, 0, 0, TH_SYN, 7,
        ];
        assert_eq!(
            tr.to_dsr(),
            NetworkDsr::Other {
                subtype: 3,
                qual: 0,
                body
            }
        );
        // A retransmitted SYN makes it a performance object with a src retransmission.
        tr.update(&syn, true, t(1_000_000));
        let p = perf(&tr);
        assert_eq!(p.status, SAW_SYN | SRC_PKTS_RETRANS);
        assert_eq!(p.src.retrans, 1);
        assert_eq!(p.src.lasttime, t(1_000_000));
    }

    #[test]
    fn handshake_data_fin_close() {
        let mut tr = handshake();
        let p = perf(&tr);
        assert_eq!(p.state, ESTABLISHED);
        assert_eq!(p.status, SAW_SYN | SAW_SYN_SENT | CON_ESTABLISHED);
        assert_eq!(
            p.options,
            TCP_MAXSEG | TCP_WSCALE | TCP_SACKOK | TCP_TIMESTAMP
        );
        assert_eq!((p.synack, p.ackdat), (100, 50));

        tr.update(
            &seg(1001, 5001, TH_PUSH | TH_ACK, 512, 100, 3),
            true,
            t(200),
        );
        tr.update(&seg(5001, 1101, TH_ACK, 227, 0, 1), false, t(250));
        tr.update(
            &seg(5001, 1101, TH_PUSH | TH_ACK, 227, 200, 2),
            false,
            t(300),
        );
        tr.update(&seg(1101, 5201, TH_ACK, 512, 0, 4), true, t(350));
        tr.update(&seg(1101, 5201, TH_FIN | TH_ACK, 512, 0, 5), true, t(400));
        assert_eq!(tr.state(), FIN_WAIT_1);
        tr.update(&seg(5201, 1102, TH_FIN | TH_ACK, 227, 0, 3), false, t(450));
        assert_eq!(tr.state(), FIN_WAIT_2);
        let a = tr.update(&seg(1102, 5202, TH_ACK, 512, 0, 6), true, t(500));
        assert_eq!(a, TcpAction::None);
        assert!(!tr.is_closed());

        let p = perf(&tr);
        assert_eq!(p.state, FIN_WAIT_2);
        assert_eq!(
            p.status,
            SAW_SYN | SAW_SYN_SENT | CON_ESTABLISHED | FIN | FIN_ACK
        );
        let s = p.src;
        let d = p.dst.unwrap();
        assert_eq!(
            (s.seqbase, s.seq, s.ack, s.bytes, s.winnum),
            (1000, 1101, 5201, 100, 2)
        );
        assert_eq!((s.flags, s.win, s.winshift, s.retrans), (0x1b, 512, 7, 0));
        assert_eq!(s.status, CON_ESTABLISHED | FIN | FIN_ACK);
        assert_eq!(s.lasttime, t(500));
        assert_eq!(
            (d.seqbase, d.seq, d.ack, d.bytes, d.winnum),
            (5000, 5201, 1101, 200, 2)
        );
        assert_eq!((d.flags, d.win, d.winshift), (0x1b, 227, 7));
        assert_eq!(d.status, SAW_SYN_SENT | FIN | FIN_ACK);
        assert_eq!(d.lasttime, t(450));
        // ra: sgap = (dst.ack - src.seqbase) - src.bytes
        assert_eq!(d.ack.wrapping_sub(s.seqbase).wrapping_sub(s.bytes), 1);

        tr.after_record_written();
        let p = perf(&tr);
        assert_eq!((p.src.seqbase, p.src.bytes, p.src.flags), (1101, 0, 0));
        assert_eq!(p.dst.unwrap().seqbase, 5201);
        assert_eq!(p.state, FIN_WAIT_2);
        assert_eq!((p.synack, p.ackdat), (100, 50));
    }

    #[test]
    fn retransmission_counted_and_cleared() {
        let mut tr = handshake();
        tr.update(
            &seg(1001, 5001, TH_PUSH | TH_ACK, 512, 100, 3),
            true,
            t(200),
        );
        tr.update(
            &seg(1001, 5001, TH_PUSH | TH_ACK, 512, 100, 4),
            true,
            t(300),
        );
        let p = perf(&tr);
        assert_eq!(p.src.retrans, 1);
        assert_eq!(p.src.bytes, 200);
        assert_eq!(
            p.status & (SRC_PKTS_RETRANS | DST_PKTS_RETRANS),
            SRC_PKTS_RETRANS
        );
        assert_eq!(p.src.status & PKTS_RETRANS, PKTS_RETRANS);
        tr.after_record_written();
        let p = perf(&tr);
        assert_eq!(p.src.retrans, 0);
        assert_eq!(p.status & PKTS_RETRANS, 0);
    }

    #[test]
    fn out_of_order_by_ip_id() {
        let mut tr = handshake();
        tr.update(&seg(1101, 5001, TH_ACK, 512, 100, 0x0500), true, t(200));
        // A later segment carrying a lower IP id (argus compares the raw, swapped values).
        tr.update(&seg(1001, 5001, TH_ACK, 512, 100, 0x0400), true, t(210));
        assert_eq!(perf(&tr).status & OUTOFORDER, SRC_OUTOFORDER);
    }

    #[test]
    fn syn_then_rst() {
        let mut tr = TcpTracker::new();
        tr.update(&seg(1000, 0, TH_SYN, 1024, 0, 1), true, t(0));
        let a = tr.update(&seg(0, 1001, TH_RST | TH_ACK, 0, 0, 0), false, t(40));
        assert_eq!(a, TcpAction::None);
        let p = perf(&tr);
        assert_eq!(p.state, SYN_SENT);
        assert_eq!(p.status, SAW_SYN | DST_RESET);
        let d = p.dst.unwrap();
        assert_eq!(
            (d.seqbase, d.seq, d.ack, d.flags),
            (0, 0, 1000, TH_RST | TH_ACK)
        );
        assert_eq!(d.status, RESET);
        // Raw status keeps both reset bits; the record folds them per direction.
        assert_eq!(tr.status() & RESET, RESET);
    }

    #[test]
    fn in_window_reset_closes() {
        let mut tr = handshake();
        // argus tests the RST's seq against the sender's own last ack (minus one) plus its
        // unscaled window shifted right by the window scale: [5000, 5000 + (512 >> 7)).
        let a = tr.update(&seg(5001, 5001, TH_RST, 512, 0, 3), true, t(200));
        assert_eq!(a, TcpAction::Closed);
        assert!(tr.is_closed());
        let p = perf(&tr);
        assert_eq!(p.state, CLOSED);
        // a reset connection is not a normal close
        assert_eq!(p.status & (NORMAL_CLOSE | RESET), SRC_RESET);
    }

    #[test]
    fn rst_first_then_syn_restarts() {
        let mut tr = TcpTracker::new();
        tr.update(&seg(7000, 9001, TH_RST | TH_ACK, 0, 0, 0), true, t(0));
        assert_eq!(tr.state(), LISTEN);
        match tr.to_dsr() {
            NetworkDsr::Other {
                subtype: 3, body, ..
            } => {
                assert_eq!(&body[0..4], &RESET.to_be_bytes());
                assert_eq!(&body[4..8], &6999u32.to_be_bytes());
            }
            other => panic!("{other:?}"),
        }
        // Non-SYN packets on a LISTEN flow only OR in flags.
        assert_eq!(
            tr.update(&seg(9001, 0, TH_ACK, 10, 5, 0), true, t(10)),
            TcpAction::None
        );
        let syn = seg(42, 0, TH_SYN, 1024, 0, 0);
        assert_eq!(tr.update(&syn, true, t(20)), TcpAction::Restart);
        tr.restart(&syn, t(20));
        assert_eq!(tr.state(), SYN_SENT);
        assert_eq!(tr.status(), SAW_SYN);
        match tr.to_dsr() {
            NetworkDsr::Other {
                subtype: 3, body, ..
            } => assert_eq!(&body[4..8], &42u32.to_be_bytes()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn new_syn_after_reset_closing_restarts() {
        let mut tr = handshake();
        // Out-of-window reset: CLOSING.
        tr.update(&seg(99, 5001, TH_RST, 512, 0, 3), true, t(200));
        assert_eq!(tr.state(), CLOSING);
        let syn = seg(77, 0, TH_SYN, 1024, 0, 0);
        assert_eq!(tr.update(&syn, false, t(300)), TcpAction::Restart);
        // The old record carries the SYN flag (argus ORs it before sending).
        assert_eq!(perf(&tr).dst.unwrap().flags & TH_SYN, TH_SYN);
        tr.restart(&syn, t(300));
        assert_eq!(tr.state(), SYN_SENT);
        assert_eq!(tr.to_dsr(), tr.dsr().unwrap());
    }

    #[test]
    fn truncated_options_are_safe() {
        let mut o = 0;
        let mut d = TcpDir::default();
        parse_options(&[2, 4, 5], &mut o, &mut d);
        assert_eq!(o, TCP_MAXSEG);
        parse_options(&[3, 3], &mut o, &mut d);
        assert_eq!(o, TCP_MAXSEG | TCP_WSCALE);
        assert_eq!(d.winshift, 0);
        parse_options(&[8, 1], &mut o, &mut d);
        assert_eq!(o & TCP_TIMESTAMP, 0);
        parse_options(
            &[1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 9, 9],
            &mut o,
            &mut d,
        );
        assert_eq!(o & TCP_SACK, TCP_SACK);
    }
}
