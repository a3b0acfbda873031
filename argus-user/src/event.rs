//! Event data (ARGUS_EVENT_DATA): programs run and files read on a schedule, their output
//! carried as Argus 3 EVENT records (type 0x43, ref/argus-format.md §11) in the sensor's record
//! stream. See `docs/events.md`.
//!
//! * [`EventSpec::parse`] reads one `method:path:interval[:compress]` entry;
//! * [`collect`] runs one entry once (a program with a timeout and an output cap, or a file
//!   read) and builds the [`EventRecord`] (sequence number left to the merger);
//! * [`EventThreads`] runs every entry on its own schedule, on its own thread, and hands the
//!   records to the merger through a bounded channel: a slow or hung program never blocks
//!   capture, and never another entry.

use crate::record::{Cause, DataDsr, EventRecord, SrcId, Ts};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Most text (label line included) one event carries: argus' ARGUS_MAX_OS_STATUS. The DATA
/// DSR's `size` and `count` are 16-bit, so this also keeps the record within the format.
pub const MAX_TEXT: usize = 64512;

/// Longest a program may run: its interval, at most this.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);

/// How an entry gets its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Run a program and take its standard output.
    Prog,
    /// Read a file.
    File,
}

/// One ARGUS_EVENT_DATA entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSpec {
    pub method: Method,
    /// Program (with arguments, split on white space) or file path.
    pub path: String,
    pub interval: Duration,
    pub compress: bool,
}

impl EventSpec {
    /// Parses `prog:PATH:INTERVAL[:compress]` or `file:PATH:INTERVAL[:compress]`; INTERVAL is
    /// a whole number with `s`, `m` or `h` (a bare number is seconds), greater than zero.
    pub fn parse(text: &str) -> Result<EventSpec, String> {
        let t = text.trim();
        let bad = |why: &str| {
            format!("'{t}': {why} (expected prog:PATH:INTERVAL[:compress] or file:PATH:INTERVAL[:compress])")
        };
        let (method, rest) = t.split_once(':').ok_or_else(|| bad("no method"))?;
        let method = match method {
            "prog" => Method::Prog,
            "file" => Method::File,
            m => return Err(bad(&format!("unknown method '{m}'"))),
        };
        let mut parts: Vec<&str> = rest.rsplitn(3, ':').collect();
        parts.reverse();
        let compress = match parts.as_slice() {
            [_, _, "compress"] => true,
            [_, _, o] => return Err(bad(&format!("unknown option '{o}'"))),
            [_, _] => false,
            _ => return Err(bad("no interval")),
        };
        let (path, iv) = match (compress, parts.as_slice()) {
            // "file:/p:30s" splits as [file-part.., interval]; with an option, the interval is
            // the middle part.
            (true, [p, iv, _]) => (p.to_string(), *iv),
            (false, [p, iv]) => (p.to_string(), *iv),
            _ => return Err(bad("no interval")),
        };
        let path = path.trim().to_string();
        if path.is_empty() {
            return Err(bad("empty path"));
        }
        let interval = parse_interval(iv).map_err(|e| bad(&e))?;
        Ok(EventSpec {
            method,
            path,
            interval,
            compress,
        })
    }

    /// The label the record carries: `prog:PATH` or `file:PATH`.
    pub fn label(&self) -> String {
        match self.method {
            Method::Prog => format!("prog:{}", self.path),
            Method::File => format!("file:{}", self.path),
        }
    }

    /// How long a program may run.
    pub fn timeout(&self) -> Duration {
        self.interval.min(MAX_TIMEOUT)
    }
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mul) = match s.as_bytes().last() {
        Some(b's') => (&s[..s.len() - 1], 1),
        Some(b'm') => (&s[..s.len() - 1], 60),
        Some(b'h') => (&s[..s.len() - 1], 3600),
        Some(b) if b.is_ascii_digit() => (s, 1),
        _ => return Err(format!("interval '{s}' is not a number with s, m or h")),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("interval '{s}' is not a number with s, m or h"))?;
    if n == 0 {
        return Err(format!("interval '{s}' must be greater than zero"));
    }
    Ok(Duration::from_secs(n * mul))
}

/// What one run produced: the text (label line first) and whether something went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collected {
    pub text: Vec<u8>,
    /// Why the run failed (program missing, non-zero exit, timeout, output cut), if it did.
    pub error: Option<String>,
}

/// Runs `spec` once with the given limits and returns its text: `LABEL\n`, the output, and, on
/// failure, a last line `argus: event error: REASON`.
pub fn collect_with(spec: &EventSpec, timeout: Duration, cap: usize) -> Collected {
    collect_until(spec, timeout, cap, &AtomicBool::new(false))
}

/// [`collect_with`], a program also killed as soon as `stop` is set (the sensor is stopping).
fn collect_until(spec: &EventSpec, timeout: Duration, cap: usize, stop: &AtomicBool) -> Collected {
    let mut text = format!("{}\n", spec.label()).into_bytes();
    let room = cap.saturating_sub(text.len());
    let (out, error) = match spec.method {
        Method::File => read_file(&spec.path, room),
        Method::Prog => run_prog(&spec.path, timeout, room, stop),
    };
    let mut out = out;
    if let Some(e) = &error {
        // The error line always fits: the output gives way to it.
        let line = format!("argus: event error: {e}\n");
        out.truncate(room.saturating_sub(line.len() + 1));
        if !out.is_empty() && !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.extend_from_slice(line.as_bytes());
    }
    text.extend_from_slice(&out);
    Collected { text, error }
}

fn read_file(path: &str, room: usize) -> (Vec<u8>, Option<String>) {
    let mut out = Vec::new();
    let r = std::fs::File::open(path)
        .and_then(|f| f.take(room as u64 + 1).read_to_end(&mut out))
        .map_err(|e| format!("cannot read {path}: {e}"));
    match r {
        Err(e) => (out, Some(e)),
        Ok(_) if out.len() > room => {
            out.truncate(room);
            (
                out,
                Some(format!("{path} is longer than {room} bytes: cut")),
            )
        }
        Ok(_) => (out, None),
    }
}

/// Runs a program (no shell: the command is split on white space), collecting at most `room`
/// bytes of its standard output within `timeout`. A program that writes more is killed, as
/// is one that runs too long.
fn run_prog(
    cmd: &str,
    timeout: Duration,
    room: usize,
    stop: &AtomicBool,
) -> (Vec<u8>, Option<String>) {
    let mut words = cmd.split_whitespace();
    let Some(prog) = words.next() else {
        return (Vec::new(), Some("empty command".into()));
    };
    let mut child = match Command::new(prog)
        .args(words)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return (Vec::new(), Some(format!("cannot run {prog}: {e}"))),
    };
    let buf = Arc::new(Mutex::new(Vec::new()));
    let overflow = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(1);
    if let Some(mut so) = child.stdout.take() {
        let (buf, overflow) = (Arc::clone(&buf), Arc::clone(&overflow));
        thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match so.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut b = buf.lock().unwrap_or_else(|p| p.into_inner());
                        let take = n.min(room.saturating_sub(b.len()));
                        b.extend_from_slice(&chunk[..take]);
                        if take < n {
                            overflow.store(true, Ordering::Relaxed);
                            break;
                        }
                    }
                }
            }
            let _ = done_tx.send(());
        });
    } else {
        drop(done_tx);
    }
    let deadline = Instant::now() + timeout;
    let mut error = None;
    let mut status = None;
    let mut reader_done = false;
    loop {
        if !reader_done {
            // Ok: the reader saw the end; Disconnected: there was no pipe to read.
            reader_done = !matches!(
                done_rx.recv_timeout(Duration::from_millis(5)),
                Err(crossbeam_channel::RecvTimeoutError::Timeout)
            );
        }
        if overflow.load(Ordering::Relaxed) {
            let _ = child.kill();
            error = Some(format!(
                "output longer than {room} bytes: cut, program killed"
            ));
            break;
        }
        match child.try_wait() {
            Ok(Some(st)) => {
                status = Some(st);
                if reader_done {
                    break;
                }
            }
            Ok(None) => {}
            Err(e) => {
                error = Some(format!("cannot wait for {prog}: {e}"));
                let _ = child.kill();
                break;
            }
        }
        if stop.load(Ordering::Relaxed) {
            let _ = child.kill();
            error = Some("the sensor is stopping: program killed".into());
            break;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            error = Some(format!(
                "timed out after {:.1} s: program killed",
                timeout.as_secs_f64()
            ));
            break;
        }
        if reader_done {
            thread::sleep(Duration::from_millis(5));
        }
    }
    let st = match status {
        Some(s) => Some(s),
        None => child.wait().ok(),
    };
    // A grandchild may hold the pipe open: wait for the reader briefly, then take what it has.
    if !reader_done {
        let _ = done_rx.recv_timeout(Duration::from_millis(200));
    }
    let out = std::mem::take(&mut *buf.lock().unwrap_or_else(|p| p.into_inner()));
    if error.is_none() {
        if let Some(st) = st {
            if !st.success() {
                error = Some(match st.code() {
                    Some(c) => format!("{prog} exited with status {c}"),
                    None => {
                        use std::os::unix::process::ExitStatusExt;
                        format!("{prog} killed by signal {}", st.signal().unwrap_or(0))
                    }
                });
            }
        }
    }
    (out, error)
}

/// Builds the event record of one run: compressed (zlib) when the entry says `compress` *and*
/// that makes the payload smaller; the DATA DSR's subtype says which (0x98 / 0x90).
pub fn make_record(
    spec: &EventSpec,
    c: &Collected,
    srcid: SrcId,
    start: Ts,
    end: Ts,
) -> EventRecord {
    let text = &c.text[..c.text.len().min(MAX_TEXT)];
    let (data, compressed) = if spec.compress {
        match zlib(text) {
            Some(z) if z.len() < text.len() => (z, true),
            _ => (text.to_vec(), false),
        }
    } else {
        (text.to_vec(), false)
    };
    EventRecord {
        cause: if c.error.is_some() {
            Cause::Error
        } else {
            Cause::Status
        },
        srcid,
        seq: 0,
        start,
        end,
        data: DataDsr {
            size: text.len() as u16,
            data,
            compressed,
        },
    }
}

/// zlib stream at the default level (what argus' `compress()` writes: `78 9c ...`).
pub fn zlib(text: &[u8]) -> Option<Vec<u8>> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(text).ok()?;
    z.finish().ok()
}

/// The text an event record carries, decompressed if need be. `Err` names the problem.
pub fn event_text(e: &EventRecord) -> Result<Vec<u8>, String> {
    if !e.data.compressed {
        return Ok(e.data.data.clone());
    }
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(&e.data.data[..])
        .take(1 << 20)
        .read_to_end(&mut out)
        .map_err(|err| format!("bad zlib payload: {err}"))?;
    Ok(out)
}

/// Runs `spec` once now and returns its record.
pub fn collect(spec: &EventSpec, srcid: SrcId) -> EventRecord {
    collect_stoppable(spec, srcid, &AtomicBool::new(false))
}

fn collect_stoppable(spec: &EventSpec, srcid: SrcId, stop: &AtomicBool) -> EventRecord {
    let start = crate::output::now();
    let c = collect_until(spec, spec.timeout(), MAX_TEXT, stop);
    let end = crate::output::now();
    make_record(spec, &c, srcid, start, end)
}

/// The event threads: one per entry, each running its entry every interval (the first time
/// one interval after start, as argus does) until stopped.
pub struct EventThreads {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
    /// Records dropped because the merger's channel was full.
    pub dropped: Arc<AtomicU64>,
}

/// Records waiting for the merger, at most.
pub const CHANNEL: usize = 1024;

impl EventThreads {
    /// Starts one thread per entry; records go to the returned receiver.
    pub fn start(specs: &[EventSpec], srcid: SrcId) -> (EventThreads, Receiver<EventRecord>) {
        let (tx, rx) = crossbeam_channel::bounded(CHANNEL);
        let stop = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicU64::new(0));
        let threads = specs
            .iter()
            .map(|spec| {
                let (spec, tx, stop, dropped) = (
                    spec.clone(),
                    tx.clone(),
                    Arc::clone(&stop),
                    Arc::clone(&dropped),
                );
                thread::spawn(move || run_entry(spec, srcid, tx, stop, dropped))
            })
            .collect();
        (
            EventThreads {
                stop,
                threads,
                dropped,
            },
            rx,
        )
    }

    /// Stops the threads (a program still running is killed) and waits for them.
    pub fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        self.dropped.load(Ordering::Relaxed)
    }
}

fn run_entry(
    spec: EventSpec,
    srcid: SrcId,
    tx: Sender<EventRecord>,
    stop: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
) {
    let mut due = Instant::now() + spec.interval;
    loop {
        while Instant::now() < due {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            thread::sleep((due - Instant::now()).min(Duration::from_millis(50)));
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let rec = collect_stoppable(&spec, srcid, &stop);
        if stop.load(Ordering::Relaxed) {
            return;
        }
        if let Some(e) = rec_error(&rec) {
            eprintln!("argus: event {}: {e}", spec.label());
        }
        match tx.try_send(rec) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
        // Next run one interval after this one ended (argus: after the record was built).
        due = Instant::now() + spec.interval;
    }
}

fn rec_error(rec: &EventRecord) -> Option<String> {
    if rec.cause != Cause::Error {
        return None;
    }
    let t = event_text(rec).ok()?;
    let t = String::from_utf8_lossy(&t);
    t.lines()
        .rev()
        .find_map(|l| l.strip_prefix("argus: event error: ").map(str::to_string))
}

/// The source id as the clients print it.
pub fn srcid_str(id: SrcId) -> String {
    match id {
        SrcId::Int(n) => n.to_string(),
        SrcId::Str(b) => String::from_utf8_lossy(&b)
            .trim_end_matches('\0')
            .to_string(),
        other => std::net::Ipv4Addr::from(other.value()).to_string(),
    }
}

/// A time as `ra` prints it (`%T` plus `precision` digits, or Unix seconds with `-u`).
pub fn time_str(t: Ts, unix: bool, precision: usize) -> String {
    let p = precision.min(6);
    let mut s = if unix {
        t.sec.to_string()
    } else {
        let tod = (t.sec as i32 as i64).rem_euclid(86400);
        format!("{:02}:{:02}:{:02}", tod / 3600, (tod / 60) % 60, tod % 60)
    };
    if p > 0 {
        s.push('.');
        s.push_str(&format!("{:06}", t.usec.min(999_999))[..p]);
    }
    s
}

/// The text as Debian's raevent prints it: a C string, so it ends at the first NUL; at most
/// `count` stored bytes (uncompressed) or the decompressed text.
fn printable(e: &EventRecord) -> Result<Vec<u8>, String> {
    let mut t = event_text(e)?;
    if let Some(z) = t.iter().position(|&b| b == 0) {
        t.truncate(z);
    }
    Ok(t)
}

/// One event record the way Debian's `raevent` prints it:
/// `event[N]=\nTIME:srcid=ID:TEXT\n`, N the `size` field for a compressed payload and the
/// stored byte count otherwise, TIME the start of the run, TEXT the label line and the output.
pub fn format_event(e: &EventRecord, unix: bool, precision: usize) -> Result<Vec<u8>, String> {
    let n = if e.data.compressed {
        e.data.size as usize
    } else {
        e.data.data.len()
    };
    let mut out = format!(
        "event[{n}]=\n{}:srcid={}:",
        time_str(e.start, unix, precision),
        srcid_str(e.srcid)
    )
    .into_bytes();
    out.extend_from_slice(&printable(e)?);
    out.push(b'\n');
    Ok(out)
}

/// One event record as a JSON object on one line (`raevent -M json`, `ra -M events,json`).
pub fn format_event_json(e: &EventRecord, unix: bool, precision: usize) -> Result<String, String> {
    let text = event_text(e)?;
    let text = String::from_utf8_lossy(&text);
    let (label, body) = text.split_once('\n').unwrap_or((&text, ""));
    let cause = match e.cause {
        Cause::Error => "error",
        Cause::Status => "status",
        _ => "other",
    };
    Ok(format!(
        "{{\"type\":\"event\",\"stime\":{},\"ltime\":{},\"srcid\":{},\"seq\":{},\"cause\":\"{cause}\",\"label\":{},\"size\":{},\"compressed\":{},\"text\":{}}}",
        json_str(&time_str(e.start, unix, precision)),
        json_str(&time_str(e.end, unix, precision)),
        json_str(&srcid_str(e.srcid)),
        e.seq,
        json_str(label),
        e.data.size,
        e.data.compressed,
        json_str(body)
    ))
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}
