//! Serving the record stream to clients over TCP (`argus -P port [-B addr]`).
//!
//! The protocol is argus 3.0.8's (ref/argus-format.md section 13): on connect the server sends
//! the 128-byte init MAR; the client may send `FILTER: <expr>` (answered with two bytes) and
//! then `START: `, after which it receives every record the sensor writes, in the file format;
//! `DONE: ` (or closing) ends the session. On exit each started client gets the stop MAR.
//!
//! Shape:
//! * an **accept thread** (`poll` on the listener, so it notices shutdown) starts one **session
//!   thread** per client. The session thread writes the init MAR, runs the handshake, then
//!   becomes the client's writer; after `START: ` a small **reader thread** watches the socket
//!   for `DONE: `, garbage or a close.
//! * every client has a **bounded queue** of encoded records (`Arc<[u8]>`: a record is encoded
//!   once and shared by all clients). The merger thread, through [`Outputs`], only ever
//!   `try_send`s: a full queue drops the record for that client and counts it
//!   ([`Server::dropped_total`], [`Server::clients`]), so a slow or stuck client never slows
//!   capture.
//! * [`Server::finish`] hands every started client the stop MAR (written after its queue),
//!   waits up to the drain time for the writers to finish, then shuts the remaining sockets.
//!
//! Remote filters (`FILTER: <expr>`, docs/filter.md): compiled with [`crate::filter`] for
//! records; on success the reply is `OK` and the client's writer applies the filter to the
//! records it takes from the client's queue (decoding each one), so filtering costs the
//! client's thread, never the capture path. A filter that does not compile is answered `ER`,
//! logged with the error (offset and token) and the connection closed, as argus does
//! (`ArgusCheckClientMessage` returns < 0, the socket is deleted). An empty `FILTER: ` is
//! answered `OK` (nothing to apply). The stop MAR at the end is not filtered.
use crate::engine::RecordSink;
use crate::filter::{CompiledFilter, Target};
use crate::output::{self, StreamWriter};
use crate::record::{encode, Cause, FlowRecord, SrcId, Ts, MAR_COOKIE};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Clients served at once (argus: `ARGUS_MAXLISTEN`); more are refused with an ERROR MAR.
pub const MAX_CLIENTS: usize = 10;
/// A client that has not sent `START: ` after this long is dropped (argus:
/// `ARGUS_CLIENT_STARTUP_TIMEOUT`).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(5);
/// Departed clients whose figures are kept for [`Server::clients`].
pub const MAX_DEPARTED: usize = 256;
/// MAR option nibble: too many clients.
const OPT_TOO_MANY: u8 = 0x02;

/// Settings of a [`Server`].
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub srcid: SrcId,
    /// Flow status interval in seconds, for the MARs.
    pub report_interval: u16,
    /// Records queued per client before records are dropped for it.
    pub queue_records: usize,
    /// How long [`Server::finish`] waits for client queues to drain.
    pub drain: Duration,
    /// See [`STARTUP_TIMEOUT`].
    pub startup_timeout: Duration,
}

impl ServerOptions {
    /// Defaults: 65 536 records per client, 5 s drain. Two environment variables override them
    /// (meant for tests and tuning, documented in docs/operations.md):
    /// `ARGUS_CLIENT_QUEUE` (records, ≥ 1) and `ARGUS_CLIENT_DRAIN_MS`.
    pub fn from_env(srcid: SrcId, report_interval: u16) -> ServerOptions {
        let env = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        ServerOptions {
            srcid,
            report_interval,
            queue_records: env("ARGUS_CLIENT_QUEUE")
                .map_or(65_536, |n| n.clamp(1, 1 << 24) as usize),
            drain: Duration::from_millis(env("ARGUS_CLIENT_DRAIN_MS").unwrap_or(5_000)),
            startup_timeout: STARTUP_TIMEOUT,
        }
    }
}

/// What one client got; see [`Server::clients`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientStats {
    pub peer: SocketAddr,
    /// Sent `START: ` (only started clients are offered records).
    pub started: bool,
    /// Flow records written to the client's socket.
    pub written: u64,
    /// Flow records dropped for this client: its queue was full, or it was still queued when
    /// the client went away or the drain time ran out.
    pub dropped: u64,
    /// The session is over.
    pub closed: bool,
}

/// One client's state, shared by its threads, the merger and the server.
struct Client {
    peer: SocketAddr,
    /// For `shutdown` from other threads (ends blocked reads and writes).
    sock: TcpStream,
    tx: Sender<Arc<[u8]>>,
    started: AtomicBool,
    /// Client left or failed: stop offering records.
    gone: AtomicBool,
    /// Session thread finished.
    closed: AtomicBool,
    written: AtomicU64,
    dropped: AtomicU64,
    drop_logged: AtomicBool,
}

impl Client {
    fn stats(&self) -> ClientStats {
        ClientStats {
            peer: self.peer,
            started: self.started.load(Ordering::Acquire),
            written: self.written.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            closed: self.closed.load(Ordering::Acquire),
        }
    }
}

struct Shared {
    opts: ServerOptions,
    init_mar: Vec<u8>,
    start: Ts,
    stop: AtomicBool,
    /// Set by `finish`: write the queue, then this, then close.
    stop_mar: Mutex<Option<Arc<[u8]>>>,
    closing: AtomicBool,
    /// Clients connected now.
    clients: Mutex<Vec<Arc<Client>>>,
    /// Final figures of the clients that left (the latest [`MAX_DEPARTED`]).
    departed: Mutex<std::collections::VecDeque<ClientStats>>,
    /// Bumped when a client starts or goes, so the merger refreshes its list.
    generation: AtomicU64,
    dropped_total: AtomicU64,
    sessions: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn count_drop(&self, c: &Client, n: u64) {
        if n == 0 {
            return;
        }
        c.dropped.fetch_add(n, Ordering::Relaxed);
        self.dropped_total.fetch_add(n, Ordering::Relaxed);
        if !c.drop_logged.swap(true, Ordering::Relaxed) {
            eprintln!(
                "argus: client {}: queue full, dropping records for it (counted)",
                c.peer
            );
        }
    }

    /// A finished session: keep its figures, release its socket and queue.
    fn retire(&self, c: &Arc<Client>) {
        let mut d = lock(&self.departed);
        if d.len() >= MAX_DEPARTED {
            d.pop_front();
        }
        d.push_back(c.stats());
        drop(d);
        lock(&self.clients).retain(|x| !Arc::ptr_eq(x, c));
    }

    /// Figures of the clients that left, then of those connected.
    fn all_stats(&self) -> Vec<ClientStats> {
        let mut v: Vec<ClientStats> = lock(&self.departed).iter().cloned().collect();
        v.extend(lock(&self.clients).iter().map(|c| c.stats()));
        v
    }

    fn mark_gone(&self, c: &Client) {
        if !c.gone.swap(true, Ordering::AcqRel) {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// The TCP record server. Owned by the output side (see [`Outputs`]); its `publish` is called
/// from the merger thread only.
pub struct Server {
    shared: Arc<Shared>,
    local: SocketAddr,
    accept: Option<JoinHandle<()>>,
    /// The merger's copy of the started clients, refreshed when `generation` moves.
    snapshot: Vec<Arc<Client>>,
    seen_generation: u64,
}

/// Final figures of a server run.
#[derive(Clone, Debug, Default)]
pub struct ServerReport {
    pub clients: Vec<ClientStats>,
    pub dropped_total: u64,
}

impl Server {
    /// Listen on `port` at `addr` (all addresses when `None`: IPv6 and IPv4 through a dual-stack
    /// socket, or IPv4 only where IPv6 is unavailable) and start accepting clients.
    pub fn bind(port: u16, addr: Option<IpAddr>, opts: ServerOptions) -> io::Result<Server> {
        let listener = match addr {
            Some(a) => TcpListener::bind(SocketAddr::new(a, port))?,
            None => TcpListener::bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port))
                .or_else(|_| {
                    TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))
                })?,
        };
        let local = listener.local_addr()?;
        let start = output::now();
        let mut m = output::base_mar(opts.srcid, opts.report_interval, start);
        m.argusid = MAR_COOKIE;
        let mut init_mar = Vec::with_capacity(128);
        encode::encode_mar(&m, &mut init_mar);
        let shared = Arc::new(Shared {
            opts,
            init_mar,
            start,
            stop: AtomicBool::new(false),
            stop_mar: Mutex::new(None),
            closing: AtomicBool::new(false),
            clients: Mutex::new(Vec::new()),
            departed: Mutex::new(Default::default()),
            generation: AtomicU64::new(0),
            dropped_total: AtomicU64::new(0),
            sessions: Mutex::new(Vec::new()),
        });
        let sh = shared.clone();
        let accept = thread::Builder::new()
            .name("argus-accept".into())
            .spawn(move || accept_loop(listener, sh))?;
        Ok(Server {
            shared,
            local,
            accept: Some(accept),
            snapshot: Vec::new(),
            seen_generation: u64::MAX,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Records dropped for all clients so far.
    /// Source id and status interval of this sensor's MARs.
    pub fn srcid(&self) -> SrcId {
        self.shared.opts.srcid
    }

    pub fn report_interval(&self) -> u16 {
        self.shared.opts.report_interval
    }

    pub fn dropped_total(&self) -> u64 {
        self.shared.dropped_total.load(Ordering::Relaxed)
    }

    /// The clients connected now and the last [`MAX_DEPARTED`] that left, with their counters.
    pub fn clients(&self) -> Vec<ClientStats> {
        self.shared.all_stats()
    }

    fn refresh(&mut self) {
        let g = self.shared.generation.load(Ordering::Acquire);
        if g != self.seen_generation {
            self.seen_generation = g;
            self.snapshot.clear();
            self.snapshot.extend(
                lock(&self.shared.clients)
                    .iter()
                    .filter(|c| {
                        c.started.load(Ordering::Acquire) && !c.gone.load(Ordering::Acquire)
                    })
                    .cloned(),
            );
        }
    }

    /// Whether any client would receive a record now (callers skip encoding otherwise).
    pub fn wants_records(&mut self) -> bool {
        self.refresh();
        !self.snapshot.is_empty()
    }

    /// Offer one encoded flow record to every started client; never blocks.
    pub fn publish(&mut self, rec: &[u8]) {
        self.refresh();
        if self.snapshot.is_empty() {
            return;
        }
        let shared: Arc<[u8]> = Arc::from(rec);
        for c in &self.snapshot {
            if c.gone.load(Ordering::Relaxed) {
                continue;
            }
            match c.tx.try_send(shared.clone()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => self.shared.count_drop(c, 1),
                Err(TrySendError::Disconnected(_)) => self.shared.mark_gone(c),
            }
        }
    }

    /// Stop accepting, give every started client the stop MAR after its queued records, wait
    /// up to the drain time for the writers, then close what is left. `records` is the
    /// `records` field of the stop MAR.
    pub fn finish(mut self, records: u32) -> ServerReport {
        let sh = self.shared.clone();
        sh.stop.store(true, Ordering::Release);
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
        let n_clients = lock(&sh.clients)
            .iter()
            .filter(|c| !c.gone.load(Ordering::Acquire))
            .count();
        let mut m = output::base_mar(sh.opts.srcid, sh.opts.report_interval, sh.start);
        m.cause = Cause::Stop;
        m.argusid = sh.opts.srcid.value();
        m.records = records;
        m.clients = n_clients as u32;
        let mut buf = Vec::with_capacity(128);
        encode::encode_mar(&m, &mut buf);
        *lock(&sh.stop_mar) = Some(Arc::from(buf));
        sh.closing.store(true, Ordering::Release);

        let deadline = Instant::now() + sh.opts.drain;
        let handles: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&sh.sessions));
        loop {
            if handles.iter().all(|h| h.is_finished()) || Instant::now() >= deadline {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        // Whoever is still writing is too slow: cut it off (its queued records count as
        // dropped, by its writer).
        for c in lock(&sh.clients).iter() {
            if !c.closed.load(Ordering::Acquire) {
                sh.mark_gone(c);
                let _ = c.sock.shutdown(Shutdown::Both);
            }
        }
        for h in handles {
            let _ = h.join();
        }
        self.snapshot.clear();
        ServerReport {
            clients: sh.all_stats(),
            dropped_total: sh.dropped_total.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // `finish` not called (error paths): at least stop the accept thread.
        self.shared.stop.store(true, Ordering::Release);
    }
}

fn accept_loop(listener: TcpListener, sh: Arc<Shared>) {
    let fd = listener.as_raw_fd();
    while !sh.stop.load(Ordering::Acquire) {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, 100) };
        if r <= 0 {
            continue;
        }
        let (sock, peer) = match listener.accept() {
            Ok(x) => x,
            Err(e) => {
                eprintln!("argus: accept: {e}");
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        let active = lock(&sh.clients)
            .iter()
            .filter(|c| !c.closed.load(Ordering::Acquire))
            .count();
        if active >= MAX_CLIENTS {
            eprintln!("argus: client {peer}: refused, {MAX_CLIENTS} clients already");
            refuse(sock, &sh);
            continue;
        }
        if let Err(e) = start_session(sock, peer, &sh) {
            eprintln!("argus: client {peer}: {e}");
        }
    }
}

/// argus' answer to one client too many: an ERROR MAR with option "too many clients".
fn refuse(mut sock: TcpStream, sh: &Shared) {
    let mut m = output::base_mar(sh.opts.srcid, sh.opts.report_interval, sh.start);
    m.cause = Cause::Error;
    m.argusid = MAR_COOKIE;
    let mut buf = Vec::with_capacity(128);
    encode::encode_mar(&m, &mut buf);
    if buf.len() > 1 {
        buf[1] |= OPT_TOO_MANY;
    }
    let _ = sock.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = sock.write_all(&buf);
}

fn start_session(sock: TcpStream, peer: SocketAddr, sh: &Arc<Shared>) -> io::Result<()> {
    let (tx, rx) = bounded(sh.opts.queue_records);
    let client = Arc::new(Client {
        peer,
        sock: sock.try_clone()?,
        tx,
        started: AtomicBool::new(false),
        gone: AtomicBool::new(false),
        closed: AtomicBool::new(false),
        written: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        drop_logged: AtomicBool::new(false),
    });
    eprintln!("argus: client {peer}: connected");
    lock(&sh.clients).push(client.clone());
    let sh2 = sh.clone();
    let h = thread::Builder::new()
        .name("argus-client".into())
        .spawn(move || {
            session(sock, &client, rx, &sh2);
            sh2.mark_gone(&client);
            // The peer sees the end now (the fd itself closes with the last `Arc`).
            let _ = client.sock.shutdown(Shutdown::Both);
            client.closed.store(true, Ordering::Release);
            sh2.retire(&client);
        })?;
    let mut sessions = lock(&sh.sessions);
    sessions.retain(|h| !h.is_finished());
    sessions.push(h);
    Ok(())
}

/// A client message, as argus reads it: one `recv` is one message, NUL-terminated.
#[derive(Debug, PartialEq, Eq)]
enum Msg<'a> {
    Start,
    Done,
    Filter(&'a str),
    /// `MODEL:`, `PROJECT:`, `FILE:`: accepted by argus 3.0.8 and ignored.
    Ignored(&'a str),
    Garbage,
}

fn parse_msg(raw: &[u8]) -> Msg<'_> {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let Ok(s) = std::str::from_utf8(&raw[..end]) else {
        return Msg::Garbage;
    };
    let s = s.trim_end_matches(['\r', '\n']);
    if s.starts_with("START:") {
        Msg::Start
    } else if s.starts_with("DONE:") {
        Msg::Done
    } else if let Some(f) = s.strip_prefix("FILTER:") {
        Msg::Filter(f.trim())
    } else if s.starts_with("MODEL:") || s.starts_with("PROJECT:") || s.starts_with("FILE:") {
        Msg::Ignored(s)
    } else {
        Msg::Garbage
    }
}

/// Printable excerpt of client input for a log line.
fn excerpt(raw: &[u8]) -> String {
    let mut s: String = raw
        .iter()
        .take(64)
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    if raw.len() > 64 {
        s.push_str("...");
    }
    s
}

fn session(mut sock: TcpStream, c: &Arc<Client>, rx: Receiver<Arc<[u8]>>, sh: &Arc<Shared>) {
    let peer = c.peer;
    let _ = sock.set_write_timeout(Some(Duration::from_secs(5)));
    if let Err(e) = sock.write_all(&sh.init_mar) {
        eprintln!("argus: client {peer}: writing the init MAR: {e}");
        return;
    }
    // Handshake: read messages until START.
    let deadline = Instant::now() + sh.opts.startup_timeout;
    let mut buf = [0u8; 4096];
    let mut filter: Option<CompiledFilter> = None;
    loop {
        if sh.stop.load(Ordering::Acquire) {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            eprintln!("argus: client {peer}: never started: timed out");
            return;
        }
        let _ = sock.set_read_timeout(Some(left.min(Duration::from_millis(200))));
        let n = match sock.read(&mut buf) {
            Ok(0) => {
                eprintln!("argus: client {peer}: closed before START");
                return;
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => {
                eprintln!("argus: client {peer}: {e}");
                return;
            }
        };
        match parse_msg(&buf[..n]) {
            Msg::Start => break,
            Msg::Done => {
                eprintln!("argus: client {peer}: sent DONE");
                return;
            }
            Msg::Filter(f) => match CompiledFilter::compile(f, Target::Records) {
                Ok(cf) => {
                    if sock.write_all(b"OK").is_err() {
                        return;
                    }
                    filter = (!cf.is_empty()).then_some(cf);
                    if let Some(cf) = &filter {
                        eprintln!("argus: client {peer}: filter '{}'", cf.text());
                    }
                }
                Err(e) => {
                    // argus' answer to a filter it cannot compile.
                    eprintln!("argus: client {peer}: remote filter '{f}' refused: {e}; closing");
                    let _ = sock.write_all(b"ER");
                    return;
                }
            },
            Msg::Ignored(m) => {
                eprintln!("argus: client {peer}: ignored '{}'", excerpt(m.as_bytes()))
            }
            Msg::Garbage => {
                eprintln!(
                    "argus: client {peer}: sent '{}': not a command; closing",
                    excerpt(&buf[..n])
                );
                return;
            }
        }
    }
    let _ = sock.set_read_timeout(None);
    c.started.store(true, Ordering::Release);
    sh.generation.fetch_add(1, Ordering::AcqRel);
    eprintln!("argus: client {peer}: started");

    // The reader: after START, only DONE, a close or garbage can come.
    if let Ok(mut rsock) = sock.try_clone() {
        let (c2, sh2) = (c.clone(), sh.clone());
        let _ = thread::Builder::new()
            .name("argus-client-rd".into())
            .spawn(move || {
                let mut buf = [0u8; 4096];
                let why = match rsock.read(&mut buf) {
                    Ok(0) => "closed the connection".to_string(),
                    Ok(n) => match parse_msg(&buf[..n]) {
                        Msg::Done => "sent DONE".to_string(),
                        Msg::Filter(f) => {
                            format!("sent filter '{f}' while streaming (a filter is set before START); closing")
                        }
                        _ => format!("sent '{}'; closing", excerpt(&buf[..n])),
                    },
                    Err(e) => e.to_string(),
                };
                if !c2.gone.load(Ordering::Acquire) {
                    eprintln!("argus: client {}: {why}", c2.peer);
                }
                sh2.mark_gone(&c2);
                let _ = rsock.shutdown(Shutdown::Both);
            });
    }
    let _ = sock.set_write_timeout(None);
    writer(sock, c, rx, sh, filter.as_ref());
}

/// The client's filter on one encoded record (undecodable records are not sent to a client
/// that asked for a selection).
fn selected(f: Option<&CompiledFilter>, rec: &[u8]) -> bool {
    match f {
        None => true,
        Some(f) => crate::record::decode::decode(rec).is_ok_and(|r| f.matches_record(&r)),
    }
}

/// Write queued records in batches (one copy into a reused buffer, one `write` per batch);
/// after `finish`, the stop MAR once the queue is empty.
fn writer(
    mut sock: TcpStream,
    c: &Client,
    rx: Receiver<Arc<[u8]>>,
    sh: &Shared,
    filter: Option<&CompiledFilter>,
) {
    let mut out: Vec<u8> = Vec::with_capacity(1 << 16);
    // End offset in `out` of each record of the batch.
    let mut ends: Vec<usize> = Vec::with_capacity(1024);
    let lost = |rx: &Receiver<Arc<[u8]>>, in_batch: u64| {
        let mut n = in_batch;
        while rx.try_recv().is_ok() {
            n += 1;
        }
        sh.count_drop(c, n);
    };
    loop {
        if c.gone.load(Ordering::Acquire) {
            lost(&rx, 0);
            return;
        }
        let first = match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => {
                if sh.closing.load(Ordering::Acquire) && rx.is_empty() {
                    let stop = lock(&sh.stop_mar).clone();
                    if let Some(m) = stop {
                        let _ = sock.write_all(&m);
                    }
                    let _ = sock.flush();
                    let _ = sock.shutdown(Shutdown::Write);
                    return;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        out.clear();
        ends.clear();
        if selected(filter, &first) {
            out.extend_from_slice(&first);
            ends.push(out.len());
        }
        while out.len() < (1 << 16) {
            match rx.try_recv() {
                Ok(r) => {
                    if selected(filter, &r) {
                        out.extend_from_slice(&r);
                        ends.push(out.len());
                    }
                }
                Err(_) => break,
            }
        }
        let mut done = 0usize;
        let mut failed = None;
        while done < out.len() {
            match sock.write(&out[done..]) {
                Ok(0) => {
                    failed = Some(io::Error::from(io::ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let whole = ends.iter().take_while(|&&e| e <= done).count();
        c.written.fetch_add(whole as u64, Ordering::Relaxed);
        if let Some(e) = failed {
            if !c.gone.load(Ordering::Acquire) {
                eprintln!("argus: client {}: write failed: {e}; closing", c.peer);
            }
            sh.mark_gone(c);
            lost(&rx, (ends.len() - whole) as u64);
            let _ = sock.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// The merger's sink when records go to a file and/or to clients: encodes each record once
/// for all clients.
pub struct Outputs {
    pub file: Option<StreamWriter>,
    pub server: Option<Server>,
    buf: Vec<u8>,
    /// Flow records seen.
    pub records: u64,
    /// Client drops at the last status report.
    drops_reported: u64,
    /// Event records for the merger (`set_event_source`).
    events: Option<crossbeam_channel::Receiver<crate::record::EventRecord>>,
}

/// What [`Outputs::finish`] found.
#[derive(Debug, Default)]
pub struct OutputsReport {
    /// Error finishing the file output.
    pub file_error: Option<io::Error>,
    pub server: Option<ServerReport>,
}

impl Outputs {
    pub fn new(file: Option<StreamWriter>, server: Option<Server>) -> Outputs {
        Outputs {
            file,
            server,
            buf: Vec::with_capacity(4096),
            records: 0,
            drops_reported: 0,
            events: None,
        }
    }

    /// Event records (`crate::event::EventThreads`) to be written between the flows by the
    /// merger, in time order.
    pub fn set_event_source(
        &mut self,
        rx: crossbeam_channel::Receiver<crate::record::EventRecord>,
    ) {
        self.events = Some(rx);
    }

    /// Stop MARs everywhere: the file's, then the clients' (bounded drain), then close.
    pub fn finish(self) -> OutputsReport {
        let file_error = self.file.and_then(|f| f.finish().err());
        // records field: the init MAR plus the flow records, as in the file's stop MAR.
        let records = (self.records + 1).min(u32::MAX as u64) as u32;
        let server = self.server.map(|s| s.finish(records));
        OutputsReport { file_error, server }
    }
}

impl RecordSink for Outputs {
    /// A MAR status record to the file and to every client, with the clients connected and the
    /// records dropped for them since the last one.
    fn status(&mut self, st: &crate::engine::SensorStatus) -> io::Result<()> {
        let mut st = st.clone();
        if let Some(s) = &self.server {
            let total = s.dropped_total();
            st.client_drops = total.saturating_sub(self.drops_reported);
            self.drops_reported = total;
            st.clients = s.clients().iter().filter(|c| !c.closed).count() as u32;
        }
        let r = match &mut self.file {
            Some(f) => f.status(&st),
            None => Ok(()),
        };
        if let Some(s) = &mut self.server {
            if s.wants_records() {
                let (srcid, interval) = (s.srcid(), s.report_interval());
                self.buf.clear();
                encode::encode_mar(&output::status_mar(srcid, interval, &st), &mut self.buf);
                s.publish(&self.buf);
                for d in output::dup_mars(srcid, interval, &st) {
                    self.buf.clear();
                    encode::encode_mar(&d, &mut self.buf);
                    s.publish(&self.buf);
                }
            }
        }
        r
    }

    fn flow(&mut self, rec: &FlowRecord) -> io::Result<()> {
        self.records += 1;
        let r = match &mut self.file {
            Some(f) => f.flow(rec),
            None => Ok(()),
        };
        if let Some(s) = &mut self.server {
            if s.wants_records() {
                self.buf.clear();
                encode::encode_flow(rec, &mut self.buf);
                s.publish(&self.buf);
            }
        }
        r
    }

    fn event(&mut self, ev: &crate::record::EventRecord) -> io::Result<()> {
        self.records += 1;
        let r = match &mut self.file {
            Some(f) => f.event(ev),
            None => Ok(()),
        };
        if let Some(s) = &mut self.server {
            if s.wants_records() {
                self.buf.clear();
                encode::encode_event(ev, &mut self.buf);
                s.publish(&self.buf);
            }
        }
        r
    }

    fn event_source(&mut self) -> Option<crossbeam_channel::Receiver<crate::record::EventRecord>> {
        self.events.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        assert_eq!(parse_msg(b"START: "), Msg::Start);
        assert_eq!(parse_msg(b"START: user=x\0"), Msg::Start);
        assert_eq!(parse_msg(b"DONE: "), Msg::Done);
        assert_eq!(
            parse_msg(b"FILTER: man or (tcp)\0"),
            Msg::Filter("man or (tcp)")
        );
        assert_eq!(parse_msg(b"FILTER: "), Msg::Filter(""));
        assert_eq!(
            parse_msg(b"FILE: /etc/passwd"),
            Msg::Ignored("FILE: /etc/passwd")
        );
        assert_eq!(parse_msg(b"\xff\xfe"), Msg::Garbage);
        assert_eq!(parse_msg(b"GET / HTTP/1.0\r\n"), Msg::Garbage);
    }

    /// The merger side never blocks on a client that does not read, and counts what it loses.
    #[test]
    fn publish_never_blocks_and_counts_drops() {
        let opts = ServerOptions {
            srcid: SrcId::None,
            report_interval: 5,
            queue_records: 4,
            drain: Duration::from_millis(200),
            startup_timeout: STARTUP_TIMEOUT,
        };
        let mut srv = Server::bind(0, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), opts).expect("bind");
        let mut c = TcpStream::connect(srv.local_addr()).expect("connect");
        let mut mar = [0u8; 128];
        c.read_exact(&mut mar).expect("init MAR");
        assert_eq!(&mar[8..12], &MAR_COOKIE.to_be_bytes());
        c.write_all(b"START: ").expect("start");
        let t0 = Instant::now();
        while !srv.wants_records() {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "client never started"
            );
            thread::sleep(Duration::from_millis(5));
        }
        // 20 000 records of 1 KiB: far more than the socket buffers and the queue hold.
        let mut rec = vec![0u8; 1024];
        rec[0] = 0x13;
        rec[2..4].copy_from_slice(&256u16.to_be_bytes());
        let t0 = Instant::now();
        for _ in 0..20_000 {
            srv.publish(&rec);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "publish waited for the client"
        );
        let dropped = srv.dropped_total();
        assert!(dropped > 0);
        let st = srv.clients();
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].dropped, dropped);
        let t0 = Instant::now();
        let report = srv.finish(20_001);
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "finish is bounded by the drain time"
        );
        let st = &report.clients[0];
        assert_eq!(st.written + st.dropped, 20_000, "{st:?}");
        assert_eq!(report.dropped_total, st.dropped);
    }

    #[test]
    fn excerpt_is_printable() {
        assert_eq!(excerpt(b"a\x00b\n"), "a.b.");
        assert!(excerpt(&[b'x'; 100]).ends_with("..."));
    }
}
