//! `radium`: the collector that merges the record streams of many sensors into one stream
//! (docs/radium.md).
//!
//! Shape:
//! * one **source thread** per sensor (`-S`, RADIUM_ARGUS_SERVER) connects with
//!   [`crate::client::connect`], frames the records it reads (no decoding: the header's length
//!   and a walk over the DSR headers for the record's time) and hands them to the merger in
//!   [`Batch`]es (one per socket read; batches come back through a pool, so the steady state
//!   allocates nothing per record). A source that goes away is reconnected with exponential
//!   backoff ([`BACKOFF_START`] doubling to [`BACKOFF_MAX`]). With `-r` a single source thread
//!   reads the files one after the other.
//! * the **merger** (the caller's thread, [`run`]) keeps a FIFO per source and releases records
//!   in time order across sources ([`Merge`]): each record's key is its last time, made
//!   monotonic per source (so a source's own order is never changed); the smallest head leaves
//!   when every other connected source has already delivered something at least as late (its
//!   *mark*) or has records queued, or when it has waited [`Config::window`] (a stalled source
//!   never holds the others longer). Records leave as they arrived, byte for byte, with their
//!   own srcid, to the `-w` file and to [`crate::server::Server`] (per-client bounded queues:
//!   a stuck client loses records, counted, and never slows the others).
//! * sources' init and stop MARs are not relayed (radium writes its own init MAR, with
//!   RADIUM_MONITOR_ID, and its own status MARs every RADIUM_MAR_STATUS_INTERVAL); their status
//!   MARs are relayed unchanged, as Debian's radium 3.0.8 does.
use crate::record::{encode, Cause, Mar, SrcId, MAR_COOKIE};
use crate::server::{Server, ServerOptions};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufWriter, Read, Write};
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// First wait before reconnecting to a source that went away (or refused us).
pub const BACKOFF_START: Duration = Duration::from_millis(250);
/// The wait doubles after each failed attempt up to this.
pub const BACKOFF_MAX: Duration = Duration::from_secs(8);
/// Default reorder window.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(1);
/// Records held by the merger beyond which the oldest leave whatever the window says.
pub const MAX_HELD: usize = 1 << 20;
/// Default client port (argus' and radium's).
pub const DEFAULT_PORT: u16 = 561;
/// Read timeout of a source socket: how often a source thread looks at the stop flag and hands
/// over a partial batch.
const READ_TICK: Duration = Duration::from_millis(100);
/// The merger's tick: forced releases, status MARs and file flushes happen at this resolution.
const TICK: Duration = Duration::from_millis(50);

/// radium's settings: /etc/radium.conf (unless `-X`), `-f` files, then the flags.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Sensors to collect (`host:port`, `[v6]:port`, `host` = port 561).
    pub servers: Vec<String>,
    /// Files to read and relay instead (`-r`).
    pub files: Vec<String>,
    /// Client port; `None` = [`DEFAULT_PORT`] when collecting sensors, no server with `-r`.
    pub port: Option<u16>,
    pub bind: Option<IpAddr>,
    /// Source id of radium's own MARs.
    pub srcid: SrcId,
    /// Seconds between radium's status MARs.
    pub mar_interval: u16,
    /// `-w`: the merged stream, appended to.
    pub output: Option<String>,
    /// Filter expression applied to the relayed flow and event records.
    pub filter: Option<String>,
    /// Reorder window.
    pub window: Duration,
    /// RADIUM_DAEMON / `-d`: accepted; radium stays in the foreground.
    pub daemon: bool,
    /// Configuration lines accepted without effect.
    pub warnings: Vec<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            servers: Vec::new(),
            files: Vec::new(),
            port: None,
            bind: None,
            srcid: SrcId::None,
            mar_interval: 60,
            output: None,
            filter: None,
            window: DEFAULT_WINDOW,
            daemon: false,
            warnings: Vec::new(),
        }
    }
}

/// A bad configuration line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfError {
    pub file: String,
    pub line: usize,
    pub msg: String,
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.msg)
    }
}

/// Variables of Debian's radium.conf accepted without effect (a warning is printed).
const IGNORED_KEYS: &[&str] = &[
    "RADIUM_DEBUG_LEVEL",
    "RADIUM_FILTER_OPTIMIZER",
    "RADIUM_ADJUST_TIME",
    "RADIUM_CLASSIFIER_FILE",
    "RADIUM_MONITOR_ID_INCLUDE_INF",
    "RADIUM_ZEROCONF_REGISTER",
];
/// Variables of Debian's radium.conf this radium does not implement and will not ignore
/// (privileges, authentication, other transports): an error.
const REFUSED_KEYS: &[&str] = &[
    "RADIUM_SETUSER_ID",
    "RADIUM_SETGROUP_ID",
    "RADIUM_CHROOT_DIR",
    "RADIUM_USER_AUTH",
    "RADIUM_AUTH_PASS",
    "RADIUM_CISCONETFLOW_PORT",
    "RADIUM_OUTPUT_STREAM",
];

/// A sensor address as radium.conf and `-S` give it: `host`, `host:port`, `[v6]:port`,
/// optionally with the `argus://` or `argus-tcp://` scheme. Returns it without the scheme.
pub fn parse_server(s: &str) -> Result<String, String> {
    let t = s.trim();
    let t = t
        .strip_prefix("argus://")
        .or_else(|| t.strip_prefix("argus-tcp://"))
        .unwrap_or(t);
    if let Some((scheme, _)) = t.split_once("://") {
        return Err(format!(
            "'{s}': only argus:// (TCP) sources are supported, not {scheme}://"
        ));
    }
    let t = t.trim_end_matches('/');
    if t.is_empty() || t.contains(char::is_whitespace) {
        return Err(format!("'{s}' is not host[:port]"));
    }
    // A port, when given, must be a port.
    if let Some((h, p)) = t.rsplit_once(':') {
        let v6_bare = h.contains(':') && !h.ends_with(']');
        if !v6_bare && p.parse::<u16>().is_err() {
            return Err(format!("'{s}': bad port '{p}'"));
        }
    }
    Ok(t.to_string())
}

fn parse_port(v: &str) -> Result<u16, String> {
    v.trim()
        .parse::<u16>()
        .map_err(|_| format!("'{v}' is not a port number"))
}

fn parse_bind(v: &str) -> Result<IpAddr, String> {
    v.trim()
        .parse::<IpAddr>()
        .map_err(|_| format!("'{v}' is not an IP address"))
}

fn parse_secs(v: &str) -> Result<Duration, String> {
    match v.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && (0.0..=3600.0).contains(&x) => Ok(Duration::from_secs_f64(x)),
        _ => Err(format!("'{v}' is not a number of seconds (0 to 3600)")),
    }
}

fn parse_yes_no(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "1" | "true" | "on" => Ok(true),
        "no" | "0" | "false" | "off" => Ok(false),
        _ => Err(format!("'{v}' is not yes or no")),
    }
}

impl Config {
    /// Apply one radium.conf text (`name` is the file name for errors). Lines are
    /// `NAME=VALUE` (double quotes removed, `#` comments, blank lines); an unknown variable, a
    /// line that is not `NAME=VALUE` or a bad value is an error naming the file and line.
    pub fn apply_conf(&mut self, name: &str, text: &str) -> Result<(), ConfError> {
        for (i, raw) in text.lines().enumerate() {
            let err = |msg: String| ConfError {
                file: name.to_string(),
                line: i + 1,
                msg,
            };
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                return Err(err(format!("'{line}' is not NAME=VALUE")));
            };
            let k = k.trim();
            let v = v.trim();
            // A comment after a value outside quotes.
            let v = if v.starts_with('"') {
                v
            } else {
                v.split_once(" #").map_or(v, |(a, _)| a).trim()
            };
            let v = v.strip_prefix('"').unwrap_or(v);
            let v = v.strip_suffix('"').unwrap_or(v);
            if v.is_empty() {
                // `NAME=""` leaves the variable unset, as in the other argus conf files.
                if !k.starts_with("RADIUM_") {
                    return Err(err(format!("unknown variable '{k}'")));
                }
                continue;
            }
            let r: Result<(), String> = match k {
                "RADIUM_ARGUS_SERVER" => parse_server(v).map(|s| self.servers.push(s)),
                "RADIUM_ACCESS_PORT" => parse_port(v).map(|p| self.port = Some(p)),
                "RADIUM_BIND_IP" => parse_bind(v).map(|a| self.bind = Some(a)),
                "RADIUM_MONITOR_ID" => {
                    if v.starts_with('`') {
                        Err(format!("'{v}': the `command` form is not supported; give an address, a number or up to four characters"))
                    } else {
                        crate::config::parse_srcid(v).map(|s| self.srcid = s)
                    }
                }
                "RADIUM_MAR_STATUS_INTERVAL" => match v.parse::<u16>() {
                    Ok(n) if n > 0 => {
                        self.mar_interval = n;
                        Ok(())
                    }
                    _ => Err(format!("'{v}' is not a number of seconds (1 to 65535)")),
                },
                "RADIUM_DAEMON" => parse_yes_no(v).map(|d| self.daemon = d),
                "RADIUM_OUTPUT_FILE" => {
                    self.output = Some(v.to_string());
                    Ok(())
                }
                "RADIUM_FILTER" => {
                    self.filter = Some(v.to_string());
                    Ok(())
                }
                "RADIUM_MERGE_WINDOW" => parse_secs(v).map(|w| self.window = w),
                k if IGNORED_KEYS.contains(&k) => {
                    self.warnings
                        .push(format!("{name}:{}: {k} has no effect here", i + 1));
                    Ok(())
                }
                k if REFUSED_KEYS.contains(&k) => {
                    Err(format!("{k} is not supported by this radium"))
                }
                k => Err(format!("unknown variable '{k}'")),
            };
            r.map_err(err)?;
        }
        Ok(())
    }

    /// Read one conf file.
    pub fn apply_conf_file(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        self.apply_conf(&path.display().to_string(), &text)
            .map_err(|e| e.to_string())
    }

    /// The command line (without the program name): `/etc/radium.conf` unless `-X`, the `-f`
    /// files, then the flags. Errors are usage errors (exit 2).
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        Config::from_args_with(args, Path::new("/etc/radium.conf"))
    }

    /// [`Config::from_args`] with another system file (tests).
    pub fn from_args_with(args: &[String], system: &Path) -> Result<Config, String> {
        let mut c = Config::default();
        // Pass 1: -X and -f, so that files come before the flags whatever their place.
        let no_system = args.iter().any(|a| a == "-X");
        if !no_system && system.exists() {
            c.apply_conf_file(system)?;
        }
        let mut i = 0;
        while i < args.len() {
            if args[i] == "-" {
                break;
            }
            if args[i] == "-f" {
                let f = args.get(i + 1).ok_or("-f needs a file")?;
                c.apply_conf_file(Path::new(f))?;
                i += 1;
            }
            i += 1;
        }
        // Pass 2: the flags win over the files.
        let mut i = 0;
        let need = |i: usize, flag: &str| -> Result<&String, String> {
            args.get(i + 1)
                .ok_or_else(|| format!("{flag} needs an argument"))
        };
        while i < args.len() {
            let a = args[i].as_str();
            match a {
                "-" => {
                    let expr = args[i + 1..].join(" ");
                    if !expr.trim().is_empty() {
                        c.filter = Some(expr);
                    }
                    break;
                }
                "-X" | "-d" => {
                    if a == "-d" {
                        c.daemon = true;
                    }
                }
                "-f" => i += 1,
                "-S" => {
                    c.servers
                        .push(parse_server(need(i, a)?).map_err(|e| format!("-S {e}"))?);
                    i += 1;
                }
                "-P" => {
                    c.port = Some(parse_port(need(i, a)?).map_err(|e| format!("-P {e}"))?);
                    i += 1;
                }
                "-B" => {
                    c.bind = Some(parse_bind(need(i, a)?).map_err(|e| format!("-B {e}"))?);
                    i += 1;
                }
                "-e" => {
                    c.srcid =
                        crate::config::parse_srcid(need(i, a)?).map_err(|e| format!("-e {e}"))?;
                    i += 1;
                }
                "-w" => {
                    c.output = Some(need(i, a)?.clone());
                    i += 1;
                }
                "-M" => {
                    c.mar_interval = match need(i, a)?.parse::<u16>() {
                        Ok(n) if n > 0 => n,
                        _ => return Err(format!("-M '{}': not a number of seconds", args[i + 1])),
                    };
                    i += 1;
                }
                "--window" => {
                    c.window = parse_secs(need(i, a)?).map_err(|e| format!("--window {e}"))?;
                    i += 1;
                }
                "-r" => {
                    need(i, a)?;
                    while i + 1 < args.len() && !args[i + 1].starts_with('-') {
                        c.files.push(args[i + 1].clone());
                        i += 1;
                    }
                }
                _ => return Err(format!("unknown option '{a}'")),
            }
            i += 1;
        }
        if !c.files.is_empty() && args.iter().any(|a| a == "-S") {
            return Err("-r and -S cannot be used together".into());
        }
        if c.files.is_empty() && c.servers.is_empty() {
            return Err("no source: give -S host:port (or RADIUM_ARGUS_SERVER) or -r FILE".into());
        }
        if let Some(f) = &c.filter {
            crate::filter::CompiledFilter::compile(f, crate::filter::Target::Records)
                .map_err(|e| format!("filter '{f}': {e}"))?;
        }
        Ok(c)
    }
}

// ---------------------------------------------------------------------------------------------
// Framing and record times

/// What the merger does with a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Flow, event and other non-MAR records: relayed, filtered.
    Record,
    /// A source's status (or supplemental) MAR: relayed, never filtered.
    Mar,
}

/// One record in a [`Batch`].
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    off: u32,
    len: u32,
    /// Merge key: µs since the epoch.
    pub key: u64,
    pub kind: Kind,
}

/// Records of one source, in arrival order, in one buffer.
#[derive(Debug)]
pub struct Batch {
    data: Vec<u8>,
    recs: Vec<Entry>,
    /// When the batch reached radium.
    pub arrived: Instant,
}

impl Default for Batch {
    fn default() -> Batch {
        Batch::new()
    }
}

impl Batch {
    pub fn new() -> Batch {
        Batch {
            data: Vec::with_capacity(1 << 16),
            recs: Vec::with_capacity(256),
            arrived: Instant::now(),
        }
    }

    pub fn push(&mut self, key: u64, kind: Kind, rec: &[u8]) {
        self.recs.push(Entry {
            off: self.data.len() as u32,
            len: rec.len() as u32,
            key,
            kind,
        });
        self.data.extend_from_slice(rec);
    }

    pub fn len(&self) -> usize {
        self.recs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// The records with their keys and kinds, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Entry, &[u8])> + '_ {
        self.recs.iter().map(|e| (e, self.bytes(e)))
    }

    fn clear(&mut self) {
        self.data.clear();
        self.recs.clear();
    }

    fn bytes(&self, e: &Entry) -> &[u8] {
        &self.data[e.off as usize..(e.off + e.len) as usize]
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// The latest time a record carries, in µs since the epoch: for a flow or event record the
/// largest timestamp of its TIME DSR, for a MAR its `now` field. `None` when there is none
/// (or the record is damaged). Walks DSR headers only; never allocates.
pub fn record_key(rec: &[u8]) -> Option<u64> {
    let t = *rec.first()?;
    let us = |sec: u32, frac: u32, nano: bool| {
        sec as u64 * 1_000_000
            + if nano {
                frac as u64 / 1000
            } else {
                frac as u64
            }
    };
    if t >> 4 == 0x8 {
        return Some(us(be32(rec, 32)?, be32(rec, 36)?, false));
    }
    let end = rec.len().min(crate::record::decode::record_len(rec));
    let mut at = 4;
    while at + 4 <= end {
        let (ty, sub) = (rec[at], rec[at + 1]);
        let len = if ty & 0x80 != 0 {
            4
        } else if sub & 0x80 != 0 {
            u16::from_be_bytes([rec[at + 2], rec[at + 3]]) as usize * 4
        } else {
            rec[at + 3] as usize * 4
        };
        if len == 0 || at + len > end {
            return None;
        }
        if ty == 0x03 {
            let d = &rec[at..at + len];
            let nano = matches!(d[2], 0x19 | 0x1B);
            let first = us(be32(d, 4)?, be32(d, 8)?, nano);
            let mut best = first;
            match sub & 0x07 {
                // Absolute pairs.
                1 | 2 => {
                    let mut k = 12;
                    while k + 8 <= d.len() {
                        best = best.max(us(be32(d, k)?, be32(d, k + 4)?, nano));
                        k += 8;
                    }
                }
                // Absolute start, then signed offsets.
                3 | 5 => {
                    let mut k = 12;
                    while k + 4 <= d.len() {
                        let off = be32(d, k)? as i32 as i64;
                        let off = if nano { off / 1000 } else { off };
                        best = best.max((first as i64 + off).max(0) as u64);
                        k += 4;
                    }
                }
                _ => {}
            }
            return Some(best);
        }
        at += len;
    }
    None
}

/// A damaged stream: what was wrong and at which stream offset.
#[derive(Debug)]
pub struct Damage {
    pub offset: u64,
    pub what: String,
}

/// Splits a byte stream into records: keeps a source's merge mark (keys made monotonic),
/// drops init and stop MARs, and appends the rest to batches.
pub struct Framer {
    buf: Vec<u8>,
    filled: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// The source's merge mark: the largest key seen.
    pub mark: u64,
    /// Records framed (relayed or not).
    pub records: u64,
    pub bytes: u64,
}

impl Default for Framer {
    fn default() -> Framer {
        Framer::new()
    }
}

impl Framer {
    pub fn new() -> Framer {
        Framer {
            buf: vec![0; 1 << 18],
            filled: 0,
            base: 0,
            mark: 0,
            records: 0,
            bytes: 0,
        }
    }

    /// Start of a new stream (a reconnection or the next file): the mark stays.
    pub fn reset(&mut self) {
        self.filled = 0;
        self.base = 0;
    }

    /// Bytes buffered but not yet framed (an incomplete record).
    pub fn pending(&self) -> usize {
        self.filled
    }

    /// Read once from `r` and frame what is complete into `out`. `Ok(0)` is the end of the
    /// stream; errors of `r` are returned as they are (timeouts included).
    pub fn read_from(
        &mut self,
        r: &mut dyn Read,
        out: &mut Batch,
    ) -> io::Result<Result<usize, Damage>> {
        if self.filled == self.buf.len() {
            // Room for the largest record (65535 words).
            let n = self.buf.len() * 2;
            self.buf.resize(n, 0);
        }
        let n = r.read(&mut self.buf[self.filled..])?;
        if n == 0 {
            return Ok(Ok(0));
        }
        self.filled += n;
        self.bytes += n as u64;
        Ok(self.frame(out).map(|()| n))
    }

    /// Frame the complete records buffered; the rest waits for more bytes.
    pub fn frame(&mut self, out: &mut Batch) -> Result<(), Damage> {
        let mut pos = 0;
        let result = loop {
            let a = &self.buf[pos..self.filled];
            if a.len() < 4 {
                break Ok(());
            }
            let (t, v) = (a[0] >> 4, a[0] & 0x0f);
            let len = u16::from_be_bytes([a[2], a[3]]) as usize * 4;
            if v != 3 || !matches!(t, 0x1..=0x6 | 0x8) {
                break Err(Damage {
                    offset: self.base + pos as u64,
                    what: format!("byte 0x{:02x} is not an Argus 3 record header", a[0]),
                });
            }
            if len < 4 || (t == 0x8 && len < 128) {
                break Err(Damage {
                    offset: self.base + pos as u64,
                    what: format!("record length {len} bytes is too short"),
                });
            }
            if a.len() < len {
                break Ok(());
            }
            let rec = &a[..len];
            self.records += 1;
            let relay = if t == 0x8 {
                // Init (START) and STOP MARs describe the source's own stream.
                match Cause::from_byte(rec[1]) {
                    Some(Cause::Start | Cause::Stop) | None => None,
                    Some(_) => Some(Kind::Mar),
                }
            } else {
                Some(Kind::Record)
            };
            if let Some(kind) = relay {
                let key = record_key(rec).unwrap_or(0).max(self.mark);
                self.mark = key;
                out.push(key, kind, rec);
            }
            pos += len;
        };
        // Keep the incomplete tail at the front.
        self.buf.copy_within(pos..self.filled, 0);
        self.filled -= pos;
        self.base += pos as u64;
        result
    }
}

// ---------------------------------------------------------------------------------------------
// The merge

/// Per-source figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceStats {
    pub name: String,
    pub connects: u64,
    pub disconnects: u64,
    /// Records relayed (after the filter: those written).
    pub relayed: u64,
    /// Records that left after a later record of another source (the window ran out).
    pub late: u64,
}

struct Source {
    stats: SourceStats,
    queue: VecDeque<Batch>,
    /// Next record of `queue[0]`.
    cursor: usize,
    connected: bool,
    mark: u64,
}

impl Source {
    fn head(&self) -> Option<u64> {
        self.queue.front().map(|b| b.recs[self.cursor].key)
    }
}

/// The time-ordered merge of several sources' batches (see the module documentation).
pub struct Merge {
    sources: Vec<Source>,
    window: Duration,
    held: usize,
    /// Largest key released.
    last: u64,
    /// Batches emptied, for the sources' pools.
    spent: Vec<(usize, Batch)>,
}

impl Merge {
    pub fn new(names: &[String], window: Duration) -> Merge {
        Merge {
            sources: names
                .iter()
                .map(|n| Source {
                    stats: SourceStats {
                        name: n.clone(),
                        ..Default::default()
                    },
                    queue: VecDeque::new(),
                    cursor: 0,
                    connected: false,
                    mark: 0,
                })
                .collect(),
            window,
            held: 0,
            last: 0,
            spent: Vec::new(),
        }
    }

    pub fn up(&mut self, i: usize) {
        let s = &mut self.sources[i];
        s.connected = true;
        s.stats.connects += 1;
    }

    pub fn down(&mut self, i: usize) {
        let s = &mut self.sources[i];
        if s.connected {
            s.connected = false;
            s.stats.disconnects += 1;
        }
    }

    pub fn push(&mut self, i: usize, b: Batch) {
        if b.is_empty() {
            self.spent.push((i, b));
            return;
        }
        let s = &mut self.sources[i];
        if let Some(k) = b.recs.last().map(|e| e.key) {
            s.mark = s.mark.max(k);
        }
        self.held += b.len();
        s.queue.push_back(b);
    }

    /// Records waiting.
    pub fn held(&self) -> usize {
        self.held
    }

    pub fn stats(&self) -> Vec<SourceStats> {
        self.sources.iter().map(|s| s.stats.clone()).collect()
    }

    pub fn connected(&self) -> usize {
        self.sources.iter().filter(|s| s.connected).count()
    }

    /// Emptied batches to give back to their sources.
    pub fn take_spent(&mut self) -> std::vec::Drain<'_, (usize, Batch)> {
        self.spent.drain(..)
    }

    /// Release every record that may leave at `now` (all of them with `force`), in order,
    /// to `f(source, kind, bytes)`; `f` says whether the record was relayed (for the
    /// counters). Returns the number released.
    pub fn release(
        &mut self,
        now: Instant,
        force: bool,
        mut f: impl FnMut(usize, Kind, &[u8]) -> bool,
    ) -> usize {
        let mut n = 0;
        loop {
            let mut best: Option<(u64, usize)> = None;
            for (i, s) in self.sources.iter().enumerate() {
                if let Some(k) = s.head() {
                    if best.is_none_or(|(bk, _)| k < bk) {
                        best = Some((k, i));
                    }
                }
            }
            let Some((key, i)) = best else { break };
            let may =
                force
                    || self.held > MAX_HELD
                    || self.sources.iter().enumerate().all(|(j, s)| {
                        j == i || !s.connected || !s.queue.is_empty() || s.mark >= key
                    })
                    || self.sources[i]
                        .queue
                        .front()
                        .is_some_and(|b| now.saturating_duration_since(b.arrived) >= self.window);
            if !may {
                break;
            }
            let s = &mut self.sources[i];
            let Some(b) = s.queue.front() else { break };
            let e = b.recs[s.cursor];
            if f(i, e.kind, b.bytes(&e)) {
                s.stats.relayed += 1;
            }
            if key < self.last {
                s.stats.late += 1;
            }
            self.last = self.last.max(key);
            s.cursor += 1;
            self.held -= 1;
            n += 1;
            if s.cursor == b.recs.len() {
                s.cursor = 0;
                if let Some(b) = s.queue.pop_front() {
                    self.spent.push((i, b));
                }
            }
        }
        n
    }

    /// When the oldest held batch reaches the window.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.sources
            .iter()
            .filter_map(|s| s.queue.front().map(|b| b.arrived + self.window))
            .min()
    }
}

// ---------------------------------------------------------------------------------------------
// Sources

enum Event {
    Up(usize),
    Batch(usize, Batch),
    Down(usize),
    /// A `-r` file was damaged (counted for the exit code).
    Damaged,
}

struct SourceCtx {
    idx: usize,
    name: String,
    tx: Sender<Event>,
    pool: Receiver<Batch>,
    stop: Arc<AtomicBool>,
}

impl SourceCtx {
    fn batch(&self) -> Batch {
        let mut b = self.pool.try_recv().unwrap_or_default();
        b.clear();
        b
    }

    /// Send a non-empty batch; false when the merger is gone.
    fn flush(&self, b: &mut Batch) -> bool {
        if b.is_empty() {
            return true;
        }
        let mut full = self.batch();
        std::mem::swap(&mut full, b);
        full.arrived = Instant::now();
        self.tx.send(Event::Batch(self.idx, full)).is_ok()
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Sleep `d`, waking early on stop.
    fn sleep(&self, d: Duration) {
        let end = Instant::now() + d;
        while !self.stopped() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            thread::sleep(left.min(READ_TICK));
        }
    }

    /// Pump one stream into the merger until it ends; the reason it ended.
    fn pump(&self, r: &mut dyn Read, fr: &mut Framer, what: &str) -> Result<(), String> {
        let mut b = self.batch();
        loop {
            if self.stopped() {
                self.flush(&mut b);
                return Err("radium is stopping".into());
            }
            match fr.read_from(r, &mut b) {
                Ok(Ok(0)) => {
                    self.flush(&mut b);
                    return if fr.pending() > 0 {
                        Err(format!(
                            "{what} ended inside a record ({} bytes of it lost)",
                            fr.pending()
                        ))
                    } else {
                        Ok(())
                    };
                }
                Ok(Ok(_)) => {
                    if !self.flush(&mut b) {
                        return Err("radium is stopping".into());
                    }
                }
                Ok(Err(d)) => {
                    self.flush(&mut b);
                    return Err(format!("damaged at stream offset {}: {}", d.offset, d.what));
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    self.flush(&mut b);
                    return Err(e.to_string());
                }
            }
        }
    }
}

/// One sensor: connect, relay, reconnect with backoff, until stop.
fn stream_source(ctx: SourceCtx) {
    let mut fr = Framer::new();
    let mut backoff = BACKOFF_START;
    let mut connects = 0u64;
    let mut failures = 0u64;
    while !ctx.stopped() {
        match crate::client::connect(&ctx.name) {
            Err(e) => {
                failures += 1;
                if failures == 1 || backoff >= BACKOFF_MAX {
                    eprintln!(
                        "radium: source {}: connect failed: {e}; retrying in {:.2} s",
                        ctx.name,
                        backoff.as_secs_f64()
                    );
                }
            }
            Ok((mut reader, mut sock)) => {
                connects += 1;
                failures = 0;
                let _ = sock.set_read_timeout(Some(READ_TICK));
                eprintln!(
                    "radium: source {}: connected (connection {connects})",
                    ctx.name
                );
                if ctx.tx.send(Event::Up(ctx.idx)).is_err() {
                    return;
                }
                fr.reset();
                let before = fr.records;
                let why = match ctx.pump(&mut reader, &mut fr, "the stream") {
                    Ok(()) => "closed by the sensor".to_string(),
                    Err(e) => e,
                };
                let got = fr.records - before;
                if !ctx.stopped() {
                    let _ = sock.write_all(b"DONE: ");
                }
                let _ = sock.shutdown(std::net::Shutdown::Both);
                eprintln!(
                    "radium: source {}: disconnected after {got} records: {why}",
                    ctx.name
                );
                if ctx.tx.send(Event::Down(ctx.idx)).is_err() {
                    return;
                }
                // A session that delivered records was healthy: start the backoff again.
                if got > 1 {
                    backoff = BACKOFF_START;
                }
            }
        }
        ctx.sleep(backoff);
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// A gzip-compressed input is decompressed (recognised by its magic bytes).
fn gunzip(mut r: Box<dyn Read + Send>) -> Result<Box<dyn Read + Send>, String> {
    let mut head = [0u8; 2];
    let mut n = 0;
    while n < 2 {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let whole: Box<dyn Read + Send> = Box::new(io::Cursor::new(head[..n].to_vec()).chain(r));
    if head[..n] == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(
            io::BufReader::with_capacity(1 << 16, whole),
        )))
    } else {
        Ok(whole)
    }
}

/// `-r`: the files one after the other, then the end.
fn file_source(ctx: SourceCtx, files: Vec<String>) {
    let mut fr = Framer::new();
    let _ = ctx.tx.send(Event::Up(ctx.idx));
    for f in files {
        if ctx.stopped() {
            break;
        }
        let opened: Result<Box<dyn Read + Send>, String> = if f == "-" {
            Ok(Box::new(io::stdin()))
        } else {
            std::fs::File::open(&f)
                .map(|x| Box::new(x) as Box<dyn Read + Send>)
                .map_err(|e| e.to_string())
        };
        let mut r = match opened.and_then(gunzip) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("radium: {f}: {e}");
                let _ = ctx.tx.send(Event::Damaged);
                continue;
            }
        };
        fr.reset();
        if let Err(e) = ctx.pump(&mut r, &mut fr, "the file") {
            eprintln!("radium: {f}: {e}; the rest of the file is skipped");
            let _ = ctx.tx.send(Event::Damaged);
        }
    }
    let _ = ctx.tx.send(Event::Down(ctx.idx));
}

// ---------------------------------------------------------------------------------------------
// Output

/// The `-w` file: radium's init MAR, the relayed records as they came, radium's status MARs,
/// radium's stop MAR. An existing file is appended to (as argus does).
struct FileOut {
    out: BufWriter<Box<dyn Write + Send>>,
    records: u32,
    dirty: bool,
}

impl FileOut {
    fn open(path: &str, init: &[u8]) -> io::Result<FileOut> {
        let w: Box<dyn Write + Send> = if path == "-" {
            Box::new(io::stdout())
        } else {
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            )
        };
        let mut f = FileOut {
            out: BufWriter::with_capacity(1 << 20, w),
            records: 1,
            dirty: true,
        };
        f.out.write_all(init)?;
        Ok(f)
    }

    fn write(&mut self, rec: &[u8]) -> io::Result<()> {
        self.records = self.records.saturating_add(1);
        self.dirty = true;
        self.out.write_all(rec)
    }
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    pub sources: Vec<SourceStats>,
    /// Records written to the outputs (flows, events and relayed MARs).
    pub relayed: u64,
    /// Records dropped by the filter.
    pub filtered: u64,
    /// Records dropped for slow clients.
    pub client_drops: u64,
    /// `-r` files damaged or unreadable.
    pub damaged: u64,
    /// First error writing the `-w` file.
    pub file_error: Option<String>,
}

fn mar_bytes(m: &Mar) -> Vec<u8> {
    let mut v = Vec::with_capacity(128);
    encode::encode_mar(m, &mut v);
    v
}

/// Run radium until `stop` is set (or, with `-r`, until the files are read). Setup errors
/// (binding the port, opening the file) are returned.
pub fn run(cfg: &Config, stop: Arc<AtomicBool>) -> Result<Report, String> {
    let filter = match &cfg.filter {
        Some(f) => Some(
            crate::filter::CompiledFilter::compile(f, crate::filter::Target::Records)
                .map_err(|e| format!("filter '{f}': {e}"))?,
        ),
        None => None,
    }
    .filter(|f| !f.is_empty());
    let start = crate::output::now();
    const REPORT_INTERVAL: u16 = 5;
    let base = |cause: Cause| {
        let mut m = crate::output::base_mar(cfg.srcid, REPORT_INTERVAL, start);
        m.cause = cause;
        m.mar_interval = cfg.mar_interval;
        m.argusid = if cause == Cause::Start {
            MAR_COOKIE
        } else {
            cfg.srcid.value()
        };
        m
    };
    let mut file = match &cfg.output {
        Some(p) => Some(
            FileOut::open(p, &mar_bytes(&base(Cause::Start)))
                .map_err(|e| format!("cannot write {p}: {e}"))?,
        ),
        None => None,
    };
    let port = match (cfg.port, cfg.files.is_empty()) {
        (Some(p), _) => Some(p),
        (None, true) => Some(DEFAULT_PORT),
        (None, false) => None,
    };
    let mut server = match port {
        Some(p) => {
            let s = Server::bind(
                p,
                cfg.bind,
                ServerOptions::from_env(cfg.srcid, REPORT_INTERVAL),
            )
            .map_err(|e| {
                let at = cfg.bind.map_or("*".to_string(), |a| a.to_string());
                format!("cannot listen on {at} port {p}: {e}")
            })?;
            eprintln!("radium: serving clients on {}", s.local_addr());
            Some(s)
        }
        None => None,
    };

    let names: Vec<String> = if cfg.files.is_empty() {
        cfg.servers.clone()
    } else {
        vec![cfg.files.join(" ")]
    };
    let (tx, rx) = bounded::<Event>(256);
    let mut pools: Vec<Sender<Batch>> = Vec::new();
    let mut threads = Vec::new();
    for (idx, name) in names.iter().enumerate() {
        let (ptx, prx) = bounded::<Batch>(64);
        pools.push(ptx);
        let ctx = SourceCtx {
            idx,
            name: name.clone(),
            tx: tx.clone(),
            pool: prx,
            stop: stop.clone(),
        };
        let files = cfg.files.clone();
        let h = thread::Builder::new()
            .name(format!("radium-src{idx}"))
            .spawn(move || {
                if files.is_empty() {
                    stream_source(ctx)
                } else {
                    file_source(ctx, files)
                }
            })
            .map_err(|e| format!("cannot start a source thread: {e}"))?;
        threads.push(h);
    }
    drop(tx);

    let mut merge = Merge::new(&names, cfg.window);
    let mut report = Report::default();
    let mut interval_in = 0u64;
    let mut interval_bytes = 0u64;
    let mut interval_out = 0u64;
    let mut interval_downs = 0u64;
    let mut drops_reported = 0u64;
    let mut last_status = Instant::now();
    let mut last_flush = Instant::now();
    let mar_every = Duration::from_secs(cfg.mar_interval as u64);
    let mut status_since = start;
    let mut stopping_since: Option<Instant> = None;
    let mut decode_fail_logged = false;

    let mut emit = |file: &mut Option<FileOut>,
                    server: &mut Option<Server>,
                    report: &mut Report,
                    kind: Kind,
                    rec: &[u8]|
     -> bool {
        if let (Some(f), Kind::Record) = (&filter, kind) {
            let keep = match crate::record::decode::decode(rec) {
                Ok(r) => f.matches_record(&r),
                Err(e) => {
                    if !decode_fail_logged {
                        eprintln!("radium: a record the filter cannot read is dropped: {e}");
                        decode_fail_logged = true;
                    }
                    false
                }
            };
            if !keep {
                report.filtered += 1;
                return false;
            }
        }
        if let Some(fo) = file {
            if let Err(e) = fo.write(rec) {
                if report.file_error.is_none() {
                    eprintln!("radium: writing the output file: {e}");
                    report.file_error = Some(e.to_string());
                }
            }
        }
        if let Some(s) = server {
            s.publish(rec);
        }
        report.relayed += 1;
        true
    };

    let mut open = true;
    loop {
        let now = Instant::now();
        if stop.load(Ordering::Acquire) && stopping_since.is_none() {
            eprintln!("radium: stopping");
            stopping_since = Some(now);
        }
        // Sources have a bounded time to notice the stop.
        if stopping_since.is_some_and(|t| now.duration_since(t) > Duration::from_secs(3)) {
            eprintln!("radium: a source did not stop in time; leaving it");
            break;
        }
        let wait = merge
            .next_deadline()
            .map_or(TICK, |d| d.saturating_duration_since(now).min(TICK));
        let first = if open {
            match rx.recv_timeout(wait) {
                Ok(ev) => Some(ev),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    None
                }
            }
        } else {
            None
        };
        let mut next = first;
        while let Some(ev) = next.take() {
            match ev {
                Event::Up(i) => merge.up(i),
                Event::Down(i) => {
                    merge.down(i);
                    interval_downs += 1;
                }
                Event::Batch(i, b) => {
                    interval_in += b.len() as u64;
                    interval_bytes += b.data.len() as u64;
                    merge.push(i, b);
                }
                Event::Damaged => report.damaged += 1,
            }
            next = match rx.try_recv() {
                Ok(ev) => Some(ev),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => {
                    open = false;
                    None
                }
            };
        }
        let now = Instant::now();
        let force = !open;
        interval_out += merge.release(now, force, |_, kind, rec| {
            emit(&mut file, &mut server, &mut report, kind, rec)
        }) as u64;
        for (i, mut b) in merge.take_spent() {
            b.clear();
            let _ = pools[i].try_send(b);
        }
        if now.duration_since(last_status) >= mar_every {
            last_status = now;
            let mut m = base(Cause::Status);
            m.startime = status_since;
            m.now = crate::output::now();
            status_since = m.now;
            m.records = interval_out.min(u32::MAX as u64) as u32;
            m.pkts_rcvd = interval_in;
            m.bytes_rcvd = interval_bytes;
            m.flows = merge.connected() as u32;
            m.dropped = interval_downs.min(u32::MAX as u64) as u32;
            if let Some(s) = &server {
                let total = s.dropped_total();
                m.queue = total.saturating_sub(drops_reported).min(u32::MAX as u64) as u32;
                drops_reported = total;
                m.clients = s.clients().iter().filter(|c| !c.closed).count() as u32;
            }
            (interval_in, interval_bytes, interval_out, interval_downs) = (0, 0, 0, 0);
            let b = mar_bytes(&m);
            if let Some(f) = &mut file {
                let _ = f.write(&b);
            }
            if let Some(s) = &mut server {
                s.publish(&b);
            }
        }
        if let Some(f) = &mut file {
            if f.dirty && now.duration_since(last_flush) >= Duration::from_millis(100) {
                last_flush = now;
                f.dirty = false;
                if let Err(e) = f.out.flush() {
                    if report.file_error.is_none() {
                        eprintln!("radium: writing the output file: {e}");
                        report.file_error = Some(e.to_string());
                    }
                }
            }
        }
        if !open && merge.held() == 0 {
            break;
        }
    }
    // What is still held leaves now.
    merge.release(Instant::now(), true, |_, kind, rec| {
        emit(&mut file, &mut server, &mut report, kind, rec)
    });
    for h in threads {
        if h.is_finished() {
            let _ = h.join();
        }
    }
    report.sources = merge.stats();
    let records = report.relayed + 1;
    if let Some(mut f) = file {
        let mut m = base(Cause::Stop);
        m.records = f.records.saturating_add(1);
        m.clients = 1;
        let r = f.out.write_all(&mar_bytes(&m)).and_then(|()| f.out.flush());
        if let Err(e) = r {
            report.file_error.get_or_insert(e.to_string());
        }
    }
    if let Some(s) = server {
        let r = s.finish(records.min(u32::MAX as u64) as u32);
        report.client_drops = r.dropped_total;
    }
    Ok(report)
}

impl Report {
    /// Records of all sources that left late.
    pub fn late_total(&self) -> u64 {
        self.sources.iter().map(|s| s.late).sum()
    }
}
