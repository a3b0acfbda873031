//! Live capture through XDP and AF_XDP: the fast path for NICs with XDP support.
//!
//! [`Xdp::open`] loads the XDP program (`argus-ebpf`, see below for where the object comes from)
//! with aya, attaches it to the interface in driver (native) mode, falling back to generic (SKB)
//! mode ([`XdpMode`] forces one), and opens one AF_XDP socket per rx queue, each inserted into
//! the program's `XSKS` map at its queue index. The program puts a 32-byte [`XdpMeta`] in front
//! of every frame (class, offsets, symmetric flow hash, shard hash, content hash, time) and
//! redirects the frame to the socket of its queue. Dropping the [`Xdp`] detaches the program and
//! closes the sockets.
//!
//! **How the metadata reaches user space** ([`XdpDelivery`]) depends on what the kernel allows:
//! the object holds one entry point per way (`argus_common::xdp_programs`), and `open` loads
//! the first one the verifier accepts, in this order: the metadata area
//! (`bpf_xdp_adjust_meta`), a header prepended to the frame (`bpf_xdp_adjust_head`, stripped in
//! [`Xsk::drain`]), or no metadata (the engine computes the hashes from the frame, with the
//! same `argus_common` functions, and the frame is stamped when it is read). Why a way was
//! refused is kept ([`Xdp::refused`]) and logged; `--xdp-meta` forces one.
//!
//! **Where the XDP object comes from**: `argus-user/build.rs` embeds
//! `<workspace>/target/bpf/argus-xdp.o` (what `cargo xtask build-ebpf` writes; `cargo xtask
//! test` builds it before the workspace) into the binary when the file exists at build time. At
//! run time the environment variable `ARGUS_XDP_OBJECT=/path/to/argus-xdp.o` overrides the
//! embedded object. A binary built without the object and run without the variable reports that
//! in the error of [`Xdp::open`].
//!
//! **AF_XDP sockets** are a small wrapper over the raw socket (no libxdp): one UMEM of
//! [`NUM_FRAMES`] chunks of [`FRAME_SIZE`] bytes per socket, a fill, a completion and an rx ring
//! (`XDP_UMEM_REG`, ring sizes via setsockopt, `XDP_MMAP_OFFSETS` + mmap), bound with
//! `XDP_ZEROCOPY` where the program runs in native mode and the driver offers it, else
//! `XDP_COPY` (veth, generic mode). Every chunk sits in the fill ring or the rx ring at all
//! times: a frame read from the rx ring goes back to the fill ring once the callback returned.
//! All `unsafe` of the XDP path is in this module, each block with its SAFETY reasoning.
//!
//! AF_XDP gives no timestamps: frames are stamped with the wall clock (`CLOCK_REALTIME`) when a
//! batch is taken from the rx ring.

use super::sys::{add_promiscuous, getsockopt, last_err, setsockopt};
use super::{FrameMeta, HashedCallback, KernelHashes, LiveSource, LiveStats};
use crate::config::{XdpDelivery, XdpMode};
use argus_common::xdp_maps::{self, stat};
use argus_common::{xdp_programs, XdpMeta, XDP_META_LEN, XDP_META_MAGIC};
use aya::maps::{MapData, PerCpuArray, XskMap};
use aya::programs::{Xdp as XdpProgram, XdpMode as AyaXdpMode};
use aya::{Ebpf, EbpfLoader};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Bytes per UMEM chunk: one frame (plus the kernel's headroom and the metadata) per chunk.
pub const FRAME_SIZE: u32 = 4096;
/// Chunks per socket (16 MiB of UMEM); also the size of the fill and rx rings.
pub const NUM_FRAMES: u32 = 4096;
/// Completion ring size (nothing is sent; the kernel requires the ring).
const COMP_SIZE: u32 = 64;
/// How long `bind` may find the queue still held by a socket closed just before (EBUSY).
const BIND_BUSY_WAIT: Duration = Duration::from_secs(2);
/// Environment variable naming an XDP object to load instead of the embedded one.
pub const OBJECT_ENV: &str = "ARGUS_XDP_OBJECT";
const META_LEN: usize = XDP_META_LEN;

impl XdpDelivery {
    /// The entry point of the XDP object that delivers the metadata this way.
    pub fn program(self) -> &'static str {
        match self {
            XdpDelivery::Area => xdp_programs::AREA,
            XdpDelivery::Header => xdp_programs::HEADER,
            XdpDelivery::User => xdp_programs::USER,
        }
    }

    /// For the log: how the metadata reaches user space.
    pub fn describe(self) -> &'static str {
        match self {
            XdpDelivery::Area => "metadata in the metadata area (bpf_xdp_adjust_meta)",
            XdpDelivery::Header => "metadata in a prepended header (bpf_xdp_adjust_head)",
            XdpDelivery::User => "no kernel metadata (hashes computed in user space)",
        }
    }
}

#[cfg(argus_xdp_embedded)]
static EMBEDDED: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/argus-xdp.o"));

/// True when this binary carries the XDP program (built after `cargo xtask build-ebpf`).
pub const fn has_embedded_program() -> bool {
    cfg!(argus_xdp_embedded)
}

/// The XDP object to load: `$ARGUS_XDP_OBJECT`, else the embedded one.
fn object() -> io::Result<std::borrow::Cow<'static, [u8]>> {
    if let Some(p) = std::env::var_os(OBJECT_ENV) {
        return std::fs::read(&p)
            .map(std::borrow::Cow::Owned)
            .map_err(|e| io::Error::new(e.kind(), format!("{OBJECT_ENV}={}: {e}", p.display())));
    }
    #[cfg(argus_xdp_embedded)]
    {
        Ok(std::borrow::Cow::Borrowed(EMBEDDED))
    }
    #[cfg(not(argus_xdp_embedded))]
    {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "this argus was built without the XDP program (target/bpf/argus-xdp.o was \
                 missing at build time): run `cargo xtask build-ebpf` and rebuild, or set \
                 {OBJECT_ENV}=/path/to/argus-xdp.o"
            ),
        ))
    }
}

/// Callback of [`Xdp::poll_meta`]: frame metadata, the kernel's [`XdpMeta`] (if valid), bytes.
pub type MetaCallback<'a> = dyn FnMut(FrameMeta, Option<&XdpMeta>, &[u8]) + 'a;

/// How the program ended up attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attached {
    /// Driver (native) mode.
    Native,
    /// Generic (SKB) mode.
    Skb,
}

impl Attached {
    /// For the log.
    pub fn describe(self) -> &'static str {
        match self {
            Attached::Native => "native (driver) mode",
            Attached::Skb => "SKB (generic) mode",
        }
    }
}

/// The XDP program `name` of the object.
fn xdp_program<'a>(ebpf: &'a mut Ebpf, iface: &str, name: &str) -> io::Result<&'a mut XdpProgram> {
    ebpf.program_mut(name)
        .ok_or_else(|| err(iface, "XDP object", format!("no program `{name}`")))?
        .try_into()
        .map_err(|e| err(iface, "XDP object", chain(&e)))
}

/// Loads the entry point of `want`, or (`None`) the first of [`XdpDelivery::ALL`] the kernel
/// accepts: the probe. Returns it with the ways refused before it and why. When none loads,
/// the error gives every reason.
fn load_program(
    ebpf: &mut Ebpf,
    iface: &str,
    want: Option<XdpDelivery>,
) -> io::Result<(XdpDelivery, Vec<(XdpDelivery, String)>)> {
    let order = match want {
        Some(d) => vec![d],
        None => XdpDelivery::ALL.to_vec(),
    };
    let mut refused = Vec::new();
    for d in order {
        match xdp_program(ebpf, iface, d.program())?.load() {
            Ok(()) => return Ok((d, refused)),
            Err(e) => refused.push((d, verifier_reason(&e))),
        }
    }
    let why: Vec<String> = refused
        .iter()
        .map(|(d, why)| format!("{} ({}): {why}", d.name(), d.program()))
        .collect();
    Err(err(
        iface,
        "loading the XDP program (verifier)",
        why.join("; "),
    ))
}

/// Why the kernel refused a program, in one line: the syscall's error and the verifier's
/// last words (its log ends with the instruction it stopped at and the reason).
fn verifier_reason(e: &aya::programs::ProgramError) -> String {
    match e {
        aya::programs::ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let log = verifier_log.to_string();
            let last = log.lines().map(str::trim).rfind(|l| {
                !l.is_empty()
                    && !l.starts_with("processed ")
                    && !l.starts_with("verification time")
                    && !l.starts_with("stack depth")
                    && !l.starts_with("-- END PROG LOAD LOG --")
            });
            match last {
                Some(l) => format!("{io_error}: {l}"),
                None => io_error.to_string(),
            }
        }
        e => chain(e),
    }
}

/// Counters of one XDP capture since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpStats {
    /// Frames the program saw (per-CPU `STATS`, summed).
    pub seen: u64,
    /// Frames redirected to an AF_XDP socket.
    pub redirected: u64,
    /// Frames passed to the kernel stack (no socket on their queue).
    pub passed: u64,
    /// Frames dropped by the program (no socket, `DROP_UNREDIRECTED` set).
    pub dropped: u64,
    /// Frames the program could not attach metadata to (`stat::NO_META`: the area was
    /// refused at run time, or no headroom for the header).
    pub no_meta: u64,
    /// Frames the sockets dropped (rx ring full, no fill buffer, too large), `XDP_STATISTICS`.
    pub rx_dropped: u64,
    /// Of those: rx ring full.
    pub rx_ring_full: u64,
    /// Times the fill ring was empty when a frame arrived.
    pub fill_ring_empty: u64,
    /// Frames handed to the callback.
    pub received: u64,
    /// Of those: without valid metadata (wrong magic) where the program was to attach it.
    pub bad_meta: u64,
}

fn err(iface: &str, what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{iface}: {what}: {e}"))
}

/// The error and its sources, `: `-joined (aya's errors keep the syscall error as a source).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// XDP program plus one AF_XDP socket per rx queue of one interface.
pub struct Xdp {
    // Field order is drop order: the program is detached (links dropped with `ebpf`) before
    // the sockets are closed.
    // Owns the program and its XDP link: dropping it detaches the program.
    _ebpf: Ebpf,
    xsks: XskMap<MapData>,
    stats_map: PerCpuArray<MapData, u64>,
    sockets: Vec<Xsk>,
    /// Socket to drain first on the next poll (round robin, so no queue starves).
    next: usize,
    name: String,
    attached: Attached,
    /// Why native mode was not used, when `Auto` fell back to SKB mode.
    native_error: Option<String>,
    /// How the metadata reaches user space.
    delivery: XdpDelivery,
    /// The ways the probe tried before `delivery`, each with the verifier's reason.
    refused: Vec<(XdpDelivery, String)>,
    received: u64,
    bad_meta: u64,
    /// Keeps the interface promiscuous while open (an AF_PACKET socket with a membership).
    _promisc: Option<OwnedFd>,
    pollfds: Vec<libc::pollfd>,
    /// Reader of the program's debug log (objects built with `--log` only).
    _xdp_log: Option<super::xdp_log::XdpLog>,
    /// Rx queues with a socket in `XSKS` (also after [`Xdp::split`] moved the sockets out).
    nqueues: u32,
}

impl Xdp {
    /// Load and attach the XDP program on `iface` and open a socket per rx queue. `mode`:
    /// `Auto` tries driver mode and falls back to SKB mode; `Native` and `Skb` force one.
    /// `delivery`: how the metadata reaches user space; `None` probes [`XdpDelivery::ALL`] in
    /// order and takes the first program the kernel loads. Needs root (CAP_BPF,
    /// CAP_NET_ADMIN, CAP_NET_RAW).
    pub fn open(
        iface: &str,
        promiscuous: bool,
        mode: XdpMode,
        delivery: Option<XdpDelivery>,
    ) -> io::Result<Xdp> {
        let cname = CString::new(iface)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name"))?;
        // SAFETY: if_nametoindex reads a NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if ifindex == 0 {
            return Err(last_err("no such interface", iface));
        }
        let queues = rx_queue_count(iface).clamp(1, 1024);
        let obj = object()?;
        let mut ebpf = EbpfLoader::new()
            .map_max_entries(xdp_maps::XSKS, queues.max(xdp_maps::XSKS_MAX))
            .load(&obj)
            .map_err(|e| err(iface, "loading the XDP object", chain(&e)))?;
        // The debug log of an object built with `--log` (none for the default object).
        let xdp_log = super::xdp_log::XdpLog::start(&mut ebpf, iface);
        let (delivery, refused) = load_program(&mut ebpf, iface, delivery)?;
        let prog = xdp_program(&mut ebpf, iface, delivery.program())?;
        let mut native_error = None;
        let attached = match mode {
            XdpMode::Native => {
                prog.attach(iface, AyaXdpMode::Driver)
                    .map_err(|e| err(iface, "attaching XDP in native (driver) mode", chain(&e)))?;
                Attached::Native
            }
            XdpMode::Skb => {
                prog.attach(iface, AyaXdpMode::Skb)
                    .map_err(|e| err(iface, "attaching XDP in SKB mode", chain(&e)))?;
                Attached::Skb
            }
            XdpMode::Auto => match prog.attach(iface, AyaXdpMode::Driver) {
                Ok(_) => Attached::Native,
                Err(e) => {
                    native_error = Some(chain(&e));
                    prog.attach(iface, AyaXdpMode::Skb).map_err(|e2| {
                        err(
                            iface,
                            "attaching XDP",
                            format!(
                                "native mode: {}; SKB mode: {}",
                                native_error.as_deref().unwrap_or(""),
                                chain(&e2)
                            ),
                        )
                    })?;
                    Attached::Skb
                }
            },
        };
        let mut xsks: XskMap<MapData> = ebpf
            .take_map(xdp_maps::XSKS)
            .ok_or_else(|| err(iface, "XDP object", "no XSKS map"))?
            .try_into()
            .map_err(|e| err(iface, "XSKS map", chain(&e)))?;
        let stats_map: PerCpuArray<MapData, u64> = ebpf
            .take_map(xdp_maps::STATS)
            .ok_or_else(|| err(iface, "XDP object", "no STATS map"))?
            .try_into()
            .map_err(|e| err(iface, "STATS map", chain(&e)))?;
        let mut sockets = Vec::with_capacity(queues as usize);
        for q in 0..queues {
            let s = if attached == Attached::Native {
                match Xsk::open(iface, ifindex, q, libc::XDP_ZEROCOPY, delivery) {
                    Ok(s) => s,
                    Err(_) => Xsk::open(iface, ifindex, q, libc::XDP_COPY, delivery)?,
                }
            } else {
                Xsk::open(iface, ifindex, q, libc::XDP_COPY, delivery)?
            };
            xsks.set(q, s.fd.as_raw_fd(), 0)
                .map_err(|e| err(iface, &format!("XSKS[{q}]"), chain(&e)))?;
            sockets.push(s);
        }
        let promisc = if promiscuous {
            Some(promiscuous_socket(iface, ifindex)?)
        } else {
            None
        };
        let pollfds = sockets
            .iter()
            .map(|s| libc::pollfd {
                fd: s.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        Ok(Xdp {
            _ebpf: ebpf,
            xsks,
            stats_map,
            sockets,
            next: 0,
            name: iface.to_string(),
            attached,
            native_error,
            delivery,
            refused,
            received: 0,
            bad_meta: 0,
            _promisc: promisc,
            pollfds,
            _xdp_log: xdp_log,
            nqueues: queues,
        })
    }

    /// Move the sockets out, one [`XdpQueue`] per rx queue, so that each can be polled by its
    /// own thread (the live engine gives each to a worker). The returned `Xdp` keeps the
    /// program attached and its counters readable: keep it until the queues are done with.
    pub fn split(mut self) -> (Xdp, Vec<XdpQueue>) {
        let queues = std::mem::take(&mut self.sockets)
            .into_iter()
            .enumerate()
            .map(|(q, xsk)| XdpQueue {
                pollfd: libc::pollfd {
                    fd: xsk.fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                xsk,
                name: self.name.clone(),
                queue: q as u32,
                bad_meta: 0,
            })
            .collect();
        self.pollfds.clear();
        (self, queues)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// How the program is attached.
    pub fn attached(&self) -> Attached {
        self.attached
    }

    /// Why driver mode was not used (`XdpMode::Auto` fell back to SKB mode).
    pub fn native_error(&self) -> Option<&str> {
        self.native_error.as_deref()
    }

    /// How the program hands its metadata to user space.
    pub fn delivery(&self) -> XdpDelivery {
        self.delivery
    }

    /// The ways of delivering the metadata that the kernel refused before [`Xdp::delivery`]
    /// was chosen, each with the verifier's reason (empty when the first one tried loaded).
    pub fn refused(&self) -> &[(XdpDelivery, String)] {
        &self.refused
    }

    /// Number of AF_XDP sockets (rx queues).
    pub fn queues(&self) -> usize {
        self.sockets.len()
    }

    /// Per queue: true where the socket is bound in zero-copy mode.
    pub fn zero_copy(&self) -> Vec<bool> {
        self.sockets.iter().map(|s| s.zero_copy).collect()
    }

    /// Frames delivered per rx queue since the sockets were opened.
    pub fn received_per_queue(&self) -> Vec<u64> {
        self.sockets.iter().map(|s| s.received).collect()
    }

    /// What the program does with a frame for which no AF_XDP socket is bound on its queue:
    /// drop it (`true`: a dedicated SPAN port, nothing else wants its frames) or pass it to
    /// the kernel stack (`false`, the default: a host interface).
    pub fn set_drop_unwanted(&mut self, drop: bool) -> io::Result<()> {
        let map = self
            ._ebpf
            .map_mut(xdp_maps::CONFIG)
            .ok_or_else(|| err(&self.name, "XDP object", "no CONFIG map"))?;
        let mut cfg: aya::maps::Array<&mut MapData, u32> = aya::maps::Array::try_from(map)
            .map_err(|e| err(&self.name, "CONFIG map", chain(&e)))?;
        cfg.set(xdp_maps::config::DROP_UNREDIRECTED, u32::from(drop), 0)
            .map_err(|e| err(&self.name, "CONFIG map", chain(&e)))
    }

    /// One line for the log: attach mode, how the metadata arrives (and what the kernel
    /// refused), sockets, zero-copy.
    pub fn describe(&self) -> String {
        let zc = self.sockets.iter().filter(|s| s.zero_copy).count();
        let mut s = format!(
            "XDP in {}, {}",
            self.attached.describe(),
            self.delivery.describe()
        );
        for (d, why) in &self.refused {
            s.push_str(&format!(" ({} refused: {why})", d.name()));
        }
        s.push_str(&format!(
            ", {} AF_XDP socket(s), {zc} zero-copy",
            self.sockets.len()
        ));
        if let Some(e) = &self.native_error {
            s.push_str(&format!(" (native mode refused: {e})"));
        }
        s
    }

    /// One line for the exit report: the program's counters since it was loaded.
    pub fn summary(&mut self) -> String {
        let st = self.stats();
        format!(
            "XDP program in {} with {}: {} frames seen, {} redirected to AF_XDP, {} passed, \
             {} dropped, {} without metadata",
            self.attached.describe(),
            self.delivery.name(),
            st.seen,
            st.redirected,
            st.passed,
            st.dropped,
            st.no_meta
        )
    }

    /// Wait up to `timeout` for frames, then hand every frame waiting on any queue to `f`.
    /// Returns the number of frames delivered. Same contract as `AfPacket::poll`.
    pub fn poll(
        &mut self,
        timeout: Duration,
        f: &mut dyn FnMut(FrameMeta, &[u8]),
    ) -> io::Result<usize> {
        self.poll_meta(timeout, &mut |m, _, d| f(m, d))
    }

    /// [`Xdp::poll`] that also hands over the kernel's metadata (`None` when the frame came
    /// without it: the program delivers none ([`XdpDelivery::User`]), or the metadata area
    /// was refused at run time). A prepended header is not part of the frame handed over.
    pub fn poll_meta(&mut self, timeout: Duration, f: &mut MetaCallback<'_>) -> io::Result<usize> {
        let mut n = self.drain(f);
        if n > 0 || timeout.is_zero() {
            return Ok(n);
        }
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: poll(2) on our own array of valid pollfds.
        let rc = unsafe {
            libc::poll(
                self.pollfds.as_mut_ptr(),
                self.pollfds.len() as libc::nfds_t,
                ms,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(e);
        }
        n += self.drain(f);
        Ok(n)
    }

    fn drain(&mut self, f: &mut MetaCallback<'_>) -> usize {
        let k = self.sockets.len();
        let mut n = 0;
        for i in 0..k {
            let q = (self.next + i) % k;
            let (got, bad) = self.sockets[q].drain(f);
            n += got;
            self.bad_meta += bad;
        }
        self.next = (self.next + 1) % k.max(1);
        self.received += n as u64;
        n
    }

    /// Counters since the program was loaded: the program's per-CPU `STATS` and the sockets'
    /// `XDP_STATISTICS`.
    pub fn stats(&mut self) -> XdpStats {
        let sum = |i: u32| -> u64 {
            self.stats_map
                .get(&i, 0)
                .map(|v| v.iter().copied().sum())
                .unwrap_or(0)
        };
        let mut s = XdpStats {
            seen: sum(stat::SEEN),
            redirected: sum(stat::REDIRECTED),
            passed: sum(stat::PASSED),
            dropped: sum(stat::DROPPED),
            no_meta: sum(stat::NO_META),
            received: self.received,
            bad_meta: self.bad_meta,
            ..XdpStats::default()
        };
        for x in &self.sockets {
            if let Some(st) = x.statistics() {
                s.rx_dropped += st.rx_dropped;
                s.rx_ring_full += st.rx_ring_full;
                s.fill_ring_empty += st.rx_fill_ring_empty_descs;
            }
        }
        s
    }
}

impl Drop for Xdp {
    fn drop(&mut self) {
        // Empty the map first so no frame is redirected to a closing socket; the program is
        // detached when `ebpf` drops (its links are closed).
        for q in 0..self.nqueues {
            let _ = self.xsks.unset(q);
        }
    }
}

/// The engine's view: frames (metadata dropped, see [`Xdp::poll_meta`]) and loss counters.
impl LiveSource for Xdp {
    fn name(&self) -> &str {
        Xdp::name(self)
    }

    fn poll(
        &mut self,
        timeout: Duration,
        f: &mut dyn FnMut(FrameMeta, &[u8]),
    ) -> io::Result<usize> {
        Xdp::poll(self, timeout, f)
    }

    /// `received`: frames delivered plus frames the sockets dropped; `dropped`: the latter.
    fn stats(&mut self) -> LiveStats {
        let s = Xdp::stats(self);
        LiveStats {
            received: s.received + s.rx_dropped,
            dropped: s.rx_dropped,
        }
    }
}

/// The AF_XDP socket of one rx queue, split off an [`Xdp`] ([`Xdp::split`]) to be polled by a
/// thread of its own. Its frames carry the kernel's shard hash to the engine
/// ([`LiveSource::poll_hashed`]).
pub struct XdpQueue {
    xsk: Xsk,
    pollfd: libc::pollfd,
    name: String,
    queue: u32,
    bad_meta: u64,
}

impl XdpQueue {
    /// The rx queue index.
    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// [`Xdp::poll_meta`] for this queue alone.
    pub fn poll_meta(&mut self, timeout: Duration, f: &mut MetaCallback<'_>) -> io::Result<usize> {
        let (mut n, bad) = self.xsk.drain(f);
        self.bad_meta += bad;
        if n > 0 || timeout.is_zero() {
            return Ok(n);
        }
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: poll(2) on one valid pollfd of ours.
        let rc = unsafe { libc::poll(&mut self.pollfd, 1, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(e);
        }
        let (got, bad) = self.xsk.drain(f);
        self.bad_meta += bad;
        n += got;
        Ok(n)
    }
}

impl LiveSource for XdpQueue {
    fn name(&self) -> &str {
        &self.name
    }

    fn poll(
        &mut self,
        timeout: Duration,
        f: &mut dyn FnMut(FrameMeta, &[u8]),
    ) -> io::Result<usize> {
        self.poll_meta(timeout, &mut |m, _, d| f(m, d))
    }

    fn poll_hashed(&mut self, timeout: Duration, f: &mut HashedCallback<'_>) -> io::Result<usize> {
        self.poll_meta(timeout, &mut |m, x, d| {
            let k = x.and_then(|x| {
                shard_hash(x).map(|shard| KernelHashes {
                    shard,
                    content: x.content_hash,
                })
            });
            f(m, k, d)
        })
    }

    /// The program stamps a frame before the redirect; in copy mode the frame reaches the
    /// ring when the driver's poll round ends.
    fn visibility_lag(&self) -> Duration {
        Duration::from_millis(1)
    }

    /// As for [`Xdp`]: frames delivered plus the ones the socket dropped; the latter.
    fn stats(&mut self) -> LiveStats {
        let dropped = self.xsk.statistics().map_or(0, |s| s.rx_dropped);
        LiveStats {
            received: self.xsk.received + dropped,
            dropped,
        }
    }
}

/// Number of rx queues of `iface`: `/sys/class/net/IFACE/queues/rx-*` when that directory
/// describes this network namespace's interface, else `ETHTOOL_GCHANNELS`, else 1.
pub fn rx_queue_count(iface: &str) -> u32 {
    let cname = match CString::new(iface) {
        Ok(c) => c,
        Err(_) => return 1,
    };
    // SAFETY: if_nametoindex reads a NUL-terminated string.
    let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    let sys = format!("/sys/class/net/{iface}");
    let same = std::fs::read_to_string(format!("{sys}/ifindex"))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        == Some(ifindex);
    if same {
        if let Ok(rd) = std::fs::read_dir(format!("{sys}/queues")) {
            let n = rd
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
                .count() as u32;
            if n > 0 {
                return n;
            }
        }
    }
    ethtool_rx_queues(iface).unwrap_or(1).max(1)
}

#[repr(C)]
#[derive(Default)]
struct EthtoolChannels {
    cmd: u32,
    max_rx: u32,
    max_tx: u32,
    max_other: u32,
    max_combined: u32,
    rx_count: u32,
    tx_count: u32,
    other_count: u32,
    combined_count: u32,
}

fn ethtool_rx_queues(iface: &str) -> Option<u32> {
    const ETHTOOL_GCHANNELS: u32 = 0x3c;
    let mut ch = EthtoolChannels {
        cmd: ETHTOOL_GCHANNELS,
        ..EthtoolChannels::default()
    };
    // SAFETY: ifreq is plain data; zeroed is valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    let name = iface.as_bytes();
    if name.len() >= ifr.ifr_name.len() {
        return None;
    }
    for (d, s) in ifr.ifr_name.iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }
    ifr.ifr_ifru.ifru_data = (&mut ch as *mut EthtoolChannels).cast();
    // SAFETY: a datagram socket for the ioctl, closed by OwnedFd.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return None;
    }
    // SAFETY: fresh descriptor, owned here.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: SIOCETHTOOL with an ifreq pointing at a live ethtool_channels.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCETHTOOL, &mut ifr) };
    if rc < 0 {
        return None;
    }
    Some(ch.rx_count + ch.combined_count)
}

/// An AF_PACKET socket that receives nothing (protocol 0) and holds a promiscuous membership
/// on `iface` while it is open.
fn promiscuous_socket(iface: &str, ifindex: u32) -> io::Result<OwnedFd> {
    // SAFETY: socket(2); owned right away.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(last_err("AF_PACKET socket for promiscuous mode", iface));
    }
    // SAFETY: fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    add_promiscuous(fd.as_raw_fd(), ifindex, iface)?;
    Ok(fd)
}

/// One memory-mapped AF_XDP ring (single producer, single consumer).
struct Ring {
    map: *mut libc::c_void,
    map_len: usize,
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    flags: *const AtomicU32,
    desc: *mut u8,
    mask: u32,
}

impl Ring {
    /// Map the ring of `size` entries of `entry` bytes at page offset `pgoff` of socket `fd`.
    fn map(
        fd: RawFd,
        off: &libc::xdp_ring_offset,
        size: u32,
        entry: usize,
        pgoff: u64,
    ) -> io::Result<Ring> {
        let map_len = off.desc as usize + size as usize * entry;
        // SAFETY: mapping a ring the kernel created for this socket (size set by setsockopt).
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                pgoff as libc::off_t,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = map.cast::<u8>();
        // SAFETY: the kernel's offsets lie inside the mapping (it sized it); the producer,
        // consumer and flags words are 4-byte aligned u32s, accessed only atomically.
        unsafe {
            Ok(Ring {
                map,
                map_len,
                producer: base.add(off.producer as usize).cast(),
                consumer: base.add(off.consumer as usize).cast(),
                flags: base.add(off.flags as usize).cast(),
                desc: base.add(off.desc as usize),
                mask: size - 1,
            })
        }
    }

    fn producer(&self) -> &AtomicU32 {
        // SAFETY: points into the mapping, alive as long as `self`.
        unsafe { &*self.producer }
    }

    fn consumer(&self) -> &AtomicU32 {
        // SAFETY: as above.
        unsafe { &*self.consumer }
    }

    fn needs_wakeup(&self) -> bool {
        // SAFETY: as above.
        unsafe { &*self.flags }.load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping; no reference into it outlives the ring.
        unsafe {
            libc::munmap(self.map, self.map_len);
        }
    }
}

/// One AF_XDP socket with its own UMEM, bound to one rx queue.
struct Xsk {
    // Drop order: rings are unmapped, then the socket closes, then the UMEM is unmapped.
    rx: Ring,
    fill: Ring,
    _comp: Ring,
    fd: OwnedFd,
    umem: Umem,
    zero_copy: bool,
    /// Where the program puts the metadata.
    delivery: XdpDelivery,
    /// Frames handed to callbacks.
    received: u64,
}

/// The UMEM mapping, unmapped on drop (after the socket and its rings, being the last field).
struct Umem {
    ptr: *mut u8,
    len: usize,
}

impl Drop for Umem {
    fn drop(&mut self) {
        // SAFETY: unmapping the anonymous mapping made in `Xsk::open`; the socket that used it
        // is closed and no slice into it outlives `Xsk::drain`.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

// SAFETY: the rings and the UMEM are mapped for this value alone and unmapped in drop; nothing
// else holds the pointers, so moving the socket to another thread is sound.
unsafe impl Send for Xsk {}

impl Xsk {
    fn open(
        iface: &str,
        ifindex: u32,
        queue: u32,
        bind_flags: u16,
        delivery: XdpDelivery,
    ) -> io::Result<Xsk> {
        let ctx = |what: &str| last_err(&format!("AF_XDP queue {queue}: {what}"), iface);
        let umem_len = (FRAME_SIZE as usize) * (NUM_FRAMES as usize);
        // SAFETY: anonymous private mapping for the UMEM, owned by the Xsk built below.
        let umem = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                umem_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if umem == libc::MAP_FAILED {
            return Err(ctx("mmap of the UMEM"));
        }
        // Owned from here: unmapped if anything below fails.
        let umem = Umem {
            ptr: umem.cast::<u8>(),
            len: umem_len,
        };

        // SAFETY: socket(2); owned right away.
        let raw = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(ctx("socket(AF_XDP) (needs root and CONFIG_XDP_SOCKETS)"));
        }
        // SAFETY: fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let s = fd.as_raw_fd();
        let reg = libc::xdp_umem_reg {
            addr: umem.ptr as u64,
            len: umem_len as u64,
            chunk_size: FRAME_SIZE,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        if setsockopt(s, libc::SOL_XDP, libc::XDP_UMEM_REG, &reg) < 0 {
            return Err(ctx("XDP_UMEM_REG"));
        }
        for (opt, size, what) in [
            (libc::XDP_UMEM_FILL_RING, NUM_FRAMES, "XDP_UMEM_FILL_RING"),
            (
                libc::XDP_UMEM_COMPLETION_RING,
                COMP_SIZE,
                "XDP_UMEM_COMPLETION_RING",
            ),
            (libc::XDP_RX_RING, NUM_FRAMES, "XDP_RX_RING"),
        ] {
            if setsockopt(s, libc::SOL_XDP, opt, &size) < 0 {
                return Err(ctx(what));
            }
        }
        // SAFETY: plain data; zeroed is valid.
        let mut off: libc::xdp_mmap_offsets = unsafe { std::mem::zeroed() };
        let got = getsockopt(s, libc::SOL_XDP, libc::XDP_MMAP_OFFSETS, &mut off)
            .map_err(|_| ctx("XDP_MMAP_OFFSETS"))?;
        if got < std::mem::size_of::<libc::xdp_mmap_offsets>() {
            return Err(io::Error::other(format!(
                "{iface}: AF_XDP: kernel too old (XDP_MMAP_OFFSETS without ring flags; needs 5.4+)"
            )));
        }
        let desc = std::mem::size_of::<libc::xdp_desc>();
        let rx = Ring::map(s, &off.rx, NUM_FRAMES, desc, libc::XDP_PGOFF_RX_RING as u64)
            .map_err(|_| ctx("mmap of the rx ring"))?;
        let fill = Ring::map(s, &off.fr, NUM_FRAMES, 8, libc::XDP_UMEM_PGOFF_FILL_RING)
            .map_err(|_| ctx("mmap of the fill ring"))?;
        let comp = Ring::map(
            s,
            &off.cr,
            COMP_SIZE,
            8,
            libc::XDP_UMEM_PGOFF_COMPLETION_RING,
        )
        .map_err(|_| ctx("mmap of the completion ring"))?;

        // Every chunk into the fill ring.
        for i in 0..NUM_FRAMES {
            // SAFETY: i <= mask: the slot is inside the fill ring's descriptor array.
            unsafe {
                fill.desc
                    .cast::<u64>()
                    .add(i as usize)
                    .write(i as u64 * FRAME_SIZE as u64)
            };
        }
        fill.producer().store(NUM_FRAMES, Ordering::Release);

        let sxdp = libc::sockaddr_xdp {
            sxdp_family: libc::AF_XDP as u16,
            sxdp_flags: bind_flags | libc::XDP_USE_NEED_WAKEUP,
            sxdp_ifindex: ifindex,
            sxdp_queue_id: queue,
            sxdp_shared_umem_fd: 0,
        };
        // A socket that was bound to this queue and has just been closed (a sensor restarted,
        // or the attach mode changed) keeps the queue until the kernel's deferred release of
        // its buffer pool has run (xp_release_deferred, a work item): bind fails with EBUSY
        // until then, for a few milliseconds. Wait for it, bounded.
        let busy_until = std::time::Instant::now() + BIND_BUSY_WAIT;
        let rc = loop {
            // SAFETY: bind(2) with a sockaddr_xdp of the right size.
            let rc = unsafe {
                libc::bind(
                    s,
                    (&sxdp as *const libc::sockaddr_xdp).cast(),
                    std::mem::size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
                )
            };
            let busy = rc < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EBUSY);
            if !busy || std::time::Instant::now() >= busy_until {
                break rc;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        if rc < 0 {
            let mode = if bind_flags & libc::XDP_ZEROCOPY != 0 {
                "bind (zero-copy)"
            } else {
                "bind (copy mode)"
            };
            return Err(ctx(mode));
        }
        let mut opts = libc::xdp_options { flags: 0 };
        let zero_copy = getsockopt(s, libc::SOL_XDP, libc::XDP_OPTIONS, &mut opts).is_ok()
            && opts.flags & libc::XDP_OPTIONS_ZEROCOPY != 0;
        Ok(Xsk {
            rx,
            fill,
            _comp: comp,
            fd,
            umem,
            zero_copy,
            delivery,
            received: 0,
        })
    }

    /// Hand every frame waiting in the rx ring to `f` (with the program's metadata where it
    /// put it, and without a prepended header), then give the chunks back through the fill
    /// ring. Returns (frames, frames without the metadata the program was to attach).
    fn drain(&mut self, f: &mut MetaCallback<'_>) -> (usize, u64) {
        let cons = self.rx.consumer().load(Ordering::Relaxed);
        let prod = self.rx.producer().load(Ordering::Acquire);
        let n = prod.wrapping_sub(cons);
        if n == 0 {
            self.wake_if_needed();
            return (0, 0);
        }
        let (ts_sec, ts_nsec) = wall_clock();
        // The kernel stamps frames on the monotonic clock; this turns them into wall-clock
        // time (frames without a stamp get the time of this drain).
        let to_wall = (ts_sec as i128 * 1_000_000_000 + ts_nsec as i128) - monotonic_ns() as i128;
        let fprod = self.fill.producer().load(Ordering::Relaxed);
        let mut bad = 0;
        for i in 0..n {
            let idx = (cons.wrapping_add(i) & self.rx.mask) as usize;
            // SAFETY: idx <= mask: the slot is inside the rx descriptor array; the kernel
            // published it (producer read with Acquire above).
            let d = unsafe { std::ptr::read(self.rx.desc.cast::<libc::xdp_desc>().add(idx)) };
            let addr = d.addr as usize;
            let len = d.len as usize;
            let chunk = addr - addr % FRAME_SIZE as usize;
            let ok = addr < self.umem.len && addr + len <= chunk + FRAME_SIZE as usize;
            if ok {
                // SAFETY: the frame lies inside its chunk of the UMEM (checked above), which
                // the kernel handed to us through the rx ring and does not touch until we put
                // the chunk back into the fill ring below.
                let data = unsafe { std::slice::from_raw_parts_mut(self.umem.ptr.add(addr), len) };
                let (meta, frame) = match self.delivery {
                    XdpDelivery::Area if addr - chunk >= META_LEN => {
                        // SAFETY: the 32 bytes in front of the frame are inside the same
                        // chunk, which is ours until it goes back to the fill ring.
                        let area = unsafe {
                            std::slice::from_raw_parts_mut(
                                self.umem.ptr.add(addr - META_LEN),
                                META_LEN,
                            )
                        };
                        (take_meta(area), &*data)
                    }
                    XdpDelivery::Header if len >= META_LEN => {
                        let (head, frame) = data.split_at_mut(META_LEN);
                        match take_meta(head) {
                            Some(m) => (Some(m), &*frame),
                            None => (None, &*data),
                        }
                    }
                    _ => (None, &*data),
                };
                if meta.is_none() && self.delivery != XdpDelivery::User {
                    bad += 1;
                }
                let (ts_sec, ts_nsec) = match meta.map(|m| m.ktime_ns()) {
                    Some(k) if k != 0 => {
                        let t = k as i128 + to_wall;
                        (
                            t.div_euclid(1_000_000_000) as i64,
                            t.rem_euclid(1_000_000_000) as u32,
                        )
                    }
                    _ => (ts_sec, ts_nsec),
                };
                let fm = FrameMeta {
                    ts_sec,
                    ts_nsec,
                    caplen: frame.len() as u32,
                    len: frame.len() as u32,
                    linktype: crate::wire::linktype::ETHERNET,
                    iface: 0,
                };
                f(fm, meta.as_ref(), frame);
            }
            let fidx = (fprod.wrapping_add(i) & self.fill.mask) as usize;
            // SAFETY: fidx <= mask: a slot of the fill ring. It is free: every chunk is in the
            // fill ring or the rx ring, so the fill ring has room for every chunk we hold.
            unsafe { self.fill.desc.cast::<u64>().add(fidx).write(chunk as u64) };
        }
        // Release the rx slots, then publish the refilled chunks.
        self.rx
            .consumer()
            .store(cons.wrapping_add(n), Ordering::Release);
        self.fill
            .producer()
            .store(fprod.wrapping_add(n), Ordering::Release);
        self.wake_if_needed();
        self.received += n as u64;
        (n as usize, bad)
    }

    /// With `XDP_USE_NEED_WAKEUP`, a driver that went to sleep waiting for fill buffers must be
    /// kicked.
    fn wake_if_needed(&self) {
        if self.fill.needs_wakeup() {
            // SAFETY: recvfrom(2) of nothing, non-blocking, on our socket: only a wakeup.
            unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    std::ptr::null_mut(),
                    0,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                );
            }
        }
    }

    fn statistics(&self) -> Option<libc::xdp_statistics> {
        // SAFETY: plain data; zeroed is valid.
        let mut st: libc::xdp_statistics = unsafe { std::mem::zeroed() };
        getsockopt(
            self.fd.as_raw_fd(),
            libc::SOL_XDP,
            libc::XDP_STATISTICS,
            &mut st,
        )
        .ok()?;
        Some(st)
    }
}

/// The program's [`XdpMeta`] from the 32 bytes `at` (metadata area or prepended header), when
/// they hold one (its magic). The magic is cleared: a chunk's area is not rewritten for a frame
/// that came without metadata, and a later frame in the same chunk must not take this one's.
fn take_meta(at: &mut [u8]) -> Option<XdpMeta> {
    let at: &mut [u8; META_LEN] = at.try_into().ok()?;
    // SAFETY: XdpMeta is plain old data of exactly META_LEN bytes (asserted in argus_common);
    // any bit pattern is a valid value.
    let m = unsafe { std::ptr::read_unaligned(at.as_ptr().cast::<XdpMeta>()) };
    if m.magic != XDP_META_MAGIC {
        return None;
    }
    at[..2].fill(0);
    Some(m)
}

/// CLOCK_MONOTONIC in nanoseconds: the clock of `bpf_ktime_get_ns`.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime(2) into a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn wall_clock() -> (i64, u32) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime(2) into a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    (ts.tv_sec, ts.tv_nsec as u32)
}

// The user-space reimplementation of the metadata lives in `meta.rs`.
pub use super::meta::{compute_meta, shard_hash};
