//! The XDP program's debug log: an object built with `cargo xtask build-ebpf --log` has the
//! aya-log ring buffer `AYA_LOGS`; [`XdpLog::start`] (called by `Xdp::open` right
//! after loading the object) reads it with `aya_log` on a thread and prints each record to
//! standard error as `argus: xdp <iface>: [LEVEL] message`, filtered by `ARGUS_XDP_LOG`
//! (`off`, `error`, `warn`, `info`, `debug` (default), `trace`). The default object has no
//! log map and no log code: then nothing is started.

use aya::Ebpf;
use aya_log::EbpfLogger;
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Environment variable: the most verbose level printed (`debug` when unset).
pub const LEVEL_ENV: &str = "ARGUS_XDP_LOG";

/// Lines captured for tests ([`capture`]): `None` unless capturing.
static CAPTURED: Mutex<Option<Vec<String>>> = Mutex::new(None);

/// Start (or stop, with `false`) keeping every XDP log line in memory as well, for
/// [`take_captured`]. For tests.
pub fn capture(on: bool) {
    *CAPTURED.lock().unwrap_or_else(|e| e.into_inner()) = on.then(Vec::new);
}

/// The lines captured since the last call.
pub fn take_captured() -> Vec<String> {
    CAPTURED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .map(std::mem::take)
        .unwrap_or_default()
}

fn level_filter() -> LevelFilter {
    match std::env::var(LEVEL_ENV)
        .as_deref()
        .map(str::to_ascii_lowercase)
    {
        Ok(s) if s == "off" || s == "0" => LevelFilter::Off,
        Ok(s) if s == "error" => LevelFilter::Error,
        Ok(s) if s == "warn" => LevelFilter::Warn,
        Ok(s) if s == "info" => LevelFilter::Info,
        Ok(s) if s == "trace" => LevelFilter::Trace,
        _ => LevelFilter::Debug,
    }
}

/// Forwards aya-log records of one interface's program to standard error.
struct Forward {
    iface: String,
    max: LevelFilter,
}

impl Log for Forward {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= self.max
    }
    fn log(&self, r: &Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let level = match r.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        };
        let line = format!("argus: xdp {}: [{level}] {}", self.iface, r.args());
        eprintln!("{line}");
        if let Some(v) = CAPTURED.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            v.push(line);
        }
    }
    fn flush(&self) {}
}

/// The reader thread; stopping it (drop) joins it.
pub struct XdpLog {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl XdpLog {
    /// Take the log ring buffer of `ebpf` and read it on a thread until the returned value
    /// is dropped. `None` when the object has no `AYA_LOGS` map (the default build) or
    /// `ARGUS_XDP_LOG=off`; a map that is there but cannot be read is reported on
    /// standard error and logging is off.
    pub fn start(ebpf: &mut Ebpf, iface: &str) -> Option<XdpLog> {
        ebpf.map("AYA_LOGS")?;
        let max = level_filter();
        if max == LevelFilter::Off {
            return None;
        }
        let fwd = Forward {
            iface: iface.to_string(),
            max,
        };
        let mut logger = match EbpfLogger::init_with_logger(ebpf, fwd) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("argus: xdp {iface}: cannot read the XDP debug log: {e}");
                return None;
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("xdp-log-{iface}"))
            .spawn(move || {
                let mut pfd = libc::pollfd {
                    fd: logger.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                while !s2.load(Ordering::Relaxed) {
                    // SAFETY: poll(2) on one pollfd that lives on this stack; the fd is
                    // the ring buffer's, owned by `logger` for the whole loop.
                    unsafe { libc::poll(&mut pfd, 1, 50) };
                    logger.flush();
                }
                logger.flush();
            })
            .ok()?;
        Some(XdpLog {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for XdpLog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
