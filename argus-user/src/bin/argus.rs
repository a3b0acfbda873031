//! `argus`: the flow sensor. This build reads captures (`-r`); live capture follows.
//! Configuration: `/etc/argus.conf` (unless `-X`), `-F` files, then the flags (`argus::config`).
//!
//! Exit status: 0 success; 1 usage or output error; 2 an input was damaged or unreadable
//! (records of everything read before the damage were still written).
use argus::capture;
use argus::config::{self, CaptureMethod, SensorConfig, XdpDelivery, XdpMode};
use argus::engine::{self, EngineConfig};
use argus::output::StreamWriter;
use argus::server::{Outputs, Server, ServerOptions};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

const USAGE: &str = "usage: argus [-X] [-F conf] [-r file ...] [-i iface ...] [-u user] [-g group] [-w file|-] [-P port] [-B addr] [-e srcid] [-S secs] [-M secs] [-m] [-A] [-J] [-Z] [-R] [-U bytes] [-p] [--workers N] [--capture xdp|afpacket] [--xdp-mode native|skb] [--xdp-meta auto|area|header|user] [--xdp-unwanted drop|pass] [--dedup count|yes|report|no] [--dedup-window secs] [filter expression]";

/// The command line over the configuration files: `-X` and `-F` first (files are read before
/// any flag applies, so flags win), then every other flag in order.
fn configure(args: &[String]) -> Result<(SensorConfig, Vec<String>), String> {
    let mut cfg = SensorConfig::default();
    let mut warnings = Vec::new();
    let takes_value = |a: &str| {
        matches!(
            a,
            "-r" | "-w"
                | "-e"
                | "-S"
                | "-M"
                | "-U"
                | "-i"
                | "-P"
                | "-B"
                | "-F"
                | "--workers"
                | "-u"
                | "-g"
                | "--capture"
                | "--xdp-mode"
                | "--xdp-meta"
                | "--xdp-unwanted"
                | "--dedup"
                | "--dedup-window"
        )
    };
    let mut conf_files = Vec::new();
    let mut skip_default = false;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-X" => skip_default = true,
            "-F" => conf_files.extend(args.get(i + 1).cloned()),
            "-" => break,
            _ => {}
        }
        i += if takes_value(&args[i]) { 2 } else { 1 };
    }
    if !skip_default && std::path::Path::new(config::DEFAULT_CONF).exists() {
        warnings.extend(
            cfg.apply_conf_file(std::path::Path::new(config::DEFAULT_CONF))
                .map_err(|e| format!("argus: {e}"))?,
        );
    }
    for f in &conf_files {
        warnings.extend(
            cfg.apply_conf_file(std::path::Path::new(f))
                .map_err(|e| format!("argus: {e}"))?,
        );
    }
    let mut i = 0;
    let mut output_flag = false;
    let need = |i: &mut usize, flag: &str| -> Result<String, String> {
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| format!("argus: option {flag} needs a value\n{USAGE}"))
    };
    let mut filter_words: Vec<String> = Vec::new();
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-r" => cfg.inputs.push(need(&mut i, a)?),
            "-u" => cfg.user = Some(need(&mut i, a)?),
            "-g" => cfg.group = Some(need(&mut i, a)?),
            "-i" => cfg.interfaces.push(need(&mut i, a)?),
            "-w" => {
                cfg.output = Some(need(&mut i, a)?);
                output_flag = true;
            }
            "-e" => {
                let v = need(&mut i, a)?;
                cfg.model.srcid = config::parse_srcid(&v).map_err(|e| format!("argus: -e: {e}"))?
            }
            "-S" => {
                let v = need(&mut i, a)?;
                cfg.model.status_interval_us =
                    config::parse_interval_us(&v).map_err(|e| format!("argus: -S: {e}"))?;
            }
            "-M" => {
                let v = need(&mut i, a)?;
                let us = config::parse_interval_us(&v).map_err(|e| format!("argus: -M: {e}"))?;
                if us < 1_000_000 {
                    return Err(format!("argus: -M: '{v}' is shorter than one second"));
                }
                cfg.mar_interval_s = (us / 1_000_000) as u32;
            }
            "-U" => {
                let v = need(&mut i, a)?;
                cfg.model.user_len = v
                    .parse()
                    .map_err(|_| format!("argus: -U: bad length '{v}'"))?;
            }
            "-P" => {
                let v = need(&mut i, a)?;
                cfg.access_port = Some(
                    v.parse()
                        .map_err(|_| format!("argus: -P: bad port '{v}'"))?,
                );
            }
            "-B" => {
                let v = need(&mut i, a)?;
                cfg.bind_ip = Some(
                    v.parse()
                        .map_err(|_| format!("argus: -B: bad address '{v}'"))?,
                );
            }
            "--workers" => {
                let v = need(&mut i, a)?;
                cfg.workers = v
                    .parse()
                    .ok()
                    .filter(|&n: &usize| (1..=256).contains(&n))
                    .ok_or_else(|| format!("argus: --workers: bad count '{v}'"))?;
            }
            "--capture" => {
                cfg.capture = match need(&mut i, a)?.as_str() {
                    "xdp" => CaptureMethod::Xdp,
                    "afpacket" => CaptureMethod::AfPacket,
                    v => return Err(format!("argus: --capture: '{v}' is not xdp or afpacket")),
                }
            }
            "--xdp-mode" => {
                cfg.xdp_mode = match need(&mut i, a)?.as_str() {
                    "native" => XdpMode::Native,
                    "skb" => XdpMode::Skb,
                    v => return Err(format!("argus: --xdp-mode: '{v}' is not native or skb")),
                }
            }
            "--xdp-meta" => {
                let v = need(&mut i, a)?;
                cfg.xdp_delivery =
                    XdpDelivery::parse(&v).map_err(|e| format!("argus: {a}: {e}"))?;
            }
            "--xdp-unwanted" => {
                let v = need(&mut i, a)?;
                cfg.xdp_drop_unwanted =
                    config::parse_drop_pass(&v).map_err(|e| format!("argus: {a}: {e}"))?;
            }
            "--dedup" => {
                let v = need(&mut i, a)?;
                cfg.model.dedup = argus::flow::dup::DedupMode::parse(&v)
                    .map_err(|e| format!("argus: {a}: {e}"))?;
            }
            "--dedup-window" => {
                let v = need(&mut i, a)?;
                cfg.model.dedup_window_us =
                    config::parse_dedup_window(&v).map_err(|e| format!("argus: {a}: {e}"))?;
            }
            "-F" => {
                need(&mut i, a)?;
            }
            "-m" => cfg.model.mac = true,
            "-A" => cfg.model.appbytes = true,
            "-J" => cfg.model.jitter = true,
            "-Z" => cfg.model.psize = true,
            "-p" => cfg.promiscuous = false,
            "-R" | "-X" | "-d" => {}
            "-h" | "--help" => return Err(USAGE.to_string()),
            "-" => {
                filter_words.extend(args[i + 1..].iter().cloned());
                break;
            }
            _ if a.starts_with('-') => return Err(format!("argus: unknown option '{a}'\n{USAGE}")),
            _ => {
                filter_words.extend(args[i..].iter().cloned());
                break;
            }
        }
        i += 1;
    }
    if !filter_words.is_empty() {
        cfg.filter = Some(filter_words.join(" "));
    }
    // argus: ARGUS_OUTPUT_FILE applies only when no -w is given; reading files with neither
    // writes to standard output.
    if !output_flag && !cfg.inputs.is_empty() && cfg.interfaces.is_empty() {
        cfg.output = None;
    }
    Ok((cfg, warnings))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut cfg, warnings) = match configure(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    for w in &warnings {
        eprintln!("argus: warning: {w}");
    }
    if let Some(f) = &cfg.filter {
        // Compiled for packets once, before any capture starts: a bad filter stops the sensor.
        match argus::filter::CompiledFilter::compile(f, argus::filter::Target::Packets) {
            Ok(c) => {
                eprintln!("argus: filter '{f}'");
                cfg.model.filter = Some(std::sync::Arc::new(c));
            }
            Err(e) => {
                eprintln!(
                    "argus: {e}
argus: refusing to start with filter '{f}'"
                );
                return ExitCode::from(1);
            }
        }
    }
    if !cfg.interfaces.is_empty() && !cfg.inputs.is_empty() {
        eprintln!("argus: give either -r files or -i interfaces, not both\n{USAGE}");
        return ExitCode::from(1);
    }
    if !cfg.interfaces.is_empty() {
        return live(&cfg);
    }
    let inputs = cfg.inputs.clone();
    if inputs.is_empty() {
        eprintln!("argus: no input: give -r FILE\n{USAGE}");
        return ExitCode::from(1);
    }
    // Before the inputs are opened: `-r -` waits for stdin, and clients may connect first.
    let (mut outputs, out_path) = match open_outputs(&cfg) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let (model, workers) = (cfg.model.clone(), cfg.workers);
    let mut damaged = false;
    let mut sources = Vec::new();
    for p in &inputs {
        match capture::open(p) {
            Ok(s) => sources.push(s),
            Err(e) => {
                eprintln!("argus: {e}");
                damaged = true;
            }
        }
    }
    let events = start_events(&cfg, &mut outputs);
    let cfg = EngineConfig { workers, model };
    let report = engine::run(&cfg, sources, &mut outputs);
    stop_events(events);
    if cfg.model.filter.is_some() {
        eprintln!(
            "argus: filter: {} of {} packets rejected ({} read, {} not modelled)",
            report.filtered,
            report.packets - report.unmodelled,
            report.packets,
            report.unmodelled
        );
    }
    for w in &report.warnings {
        eprintln!("argus: warning: {w}");
    }
    for e in &report.errors {
        eprintln!("argus: error: {e}");
        damaged = true;
    }
    if !finish_outputs(outputs, out_path) {
        return ExitCode::from(1);
    }
    if damaged {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// Set by SIGINT/SIGTERM: stop capturing, report every flow, exit.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Live capture on one interface: its capture queues, and what must stay alive while they are
/// read (the XDP program).
struct LiveCapture {
    program: Option<argus::capture::xdp::Xdp>,
    queues: Vec<Box<dyn argus::capture::LiveSource>>,
}

/// Open live capture on one interface: XDP + AF_XDP (a socket per rx queue) unless `--capture
/// afpacket`; when XDP cannot be attached and the method was not forced, AF_PACKET rings (one
/// per worker, in a PACKET_FANOUT_HASH group). Says which path is in use.
fn open_live(cfg: &SensorConfig, iface: &str) -> std::io::Result<LiveCapture> {
    use argus::capture::{afpacket::AfPacket, xdp::Xdp, LiveSource};
    if cfg.capture != CaptureMethod::AfPacket {
        match Xdp::open(iface, cfg.promiscuous, cfg.xdp_mode, cfg.xdp_delivery).and_then(|mut x| {
            x.set_drop_unwanted(cfg.xdp_drop_unwanted)?;
            Ok(x)
        }) {
            Ok(x) => {
                eprintln!(
                    "argus: capturing on {iface} with XDP + AF_XDP: {}",
                    x.describe()
                );
                let (program, queues) = x.split();
                return Ok(LiveCapture {
                    program: Some(program),
                    queues: queues
                        .into_iter()
                        .map(|q| Box::new(q) as Box<dyn LiveSource>)
                        .collect(),
                });
            }
            Err(e) if cfg.capture == CaptureMethod::Xdp => return Err(e),
            Err(e) => {
                eprintln!("argus: {iface}: XDP not available ({e}); falling back to AF_PACKET")
            }
        }
    }
    let n = cfg.workers.max(1);
    let mut queues: Vec<Box<dyn LiveSource>> = Vec::with_capacity(n);
    // One fanout group per interface and process (group ids are shared by the namespace).
    let group = (std::process::id() as u16) ^ (ifindex(iface) as u16).rotate_left(11);
    for _ in 0..n {
        let fanout = (n > 1).then_some(group);
        queues.push(Box::new(AfPacket::open(iface, cfg.promiscuous, fanout)?));
    }
    eprintln!(
        "argus: capturing on {iface} with AF_PACKET (TPACKET_V3 ring{})",
        if n > 1 {
            format!("s: {n}, fanout by flow hash")
        } else {
            String::new()
        }
    );
    Ok(LiveCapture {
        program: None,
        queues,
    })
}

fn ifindex(iface: &str) -> u32 {
    std::ffi::CString::new(iface)
        // SAFETY: if_nametoindex reads a NUL-terminated string.
        .map(|c| unsafe { libc::if_nametoindex(c.as_ptr()) })
        .unwrap_or(0)
}

/// Live capture on `cfg.interfaces` until SIGINT or SIGTERM.
fn live(cfg: &SensorConfig) -> ExitCode {
    let mut captures: Vec<LiveCapture> = Vec::new();
    for i in &cfg.interfaces {
        match open_live(cfg, i) {
            Ok(c) => captures.push(c),
            Err(e) => {
                eprintln!("argus: cannot capture on {i}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    // SAFETY: installing a handler that only stores to an atomic (async-signal-safe).
    unsafe {
        let h = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::signal(libc::SIGINT, h);
        libc::signal(libc::SIGTERM, h);
    }
    let (mut writer, out_path) = match open_outputs(cfg) {
        Ok(x) => x,
        Err(code) => return code,
    };
    // Sockets, rings and outputs are open: nothing privileged is left to do.
    match argus::privs::drop_privileges(cfg.user.as_deref(), cfg.group.as_deref(), &[]) {
        Ok(d) => match d.user {
            Some((u, g)) => {
                eprintln!("argus: privileges dropped: running as uid {u} gid {g}, no capabilities")
            }
            None => eprintln!("argus: privileges dropped: no capabilities left"),
        },
        Err(e) => {
            eprintln!("argus: cannot drop privileges: {e}");
            return ExitCode::from(1);
        }
    }
    let ecfg = EngineConfig {
        workers: cfg.workers,
        model: cfg.model.clone(),
    };
    let mut stats = Vec::new();
    let queues = captures
        .iter_mut()
        .flat_map(|c| std::mem::take(&mut c.queues))
        .collect();
    // After the privileges were dropped: the programs run without them.
    let events = start_events(cfg, &mut writer);
    let (report, spread) = engine::run_live(
        &ecfg,
        queues,
        &mut writer,
        &STOP,
        cfg.mar_interval_s,
        &mut stats,
    );
    stop_events(events);
    for s in &stats {
        eprintln!(
            "argus: {}: {} packets received by the kernel, {} dropped by it",
            s.iface, s.stats.received, s.stats.dropped
        );
    }
    for (iface, c) in cfg.interfaces.iter().zip(&mut captures) {
        if let Some(p) = &mut c.program {
            eprintln!("argus: {iface}: {}", p.summary());
        }
    }
    eprintln!(
        "argus: {} workers ({} pinned to a core): {} frames handed to the worker owning their flow, {} dropped on a full hand-off ring",
        spread.workers, spread.pinned, spread.handed_off, spread.ring_dropped
    );
    if cfg.filter.is_some() {
        eprintln!(
            "argus: filter: {} of {} packets rejected ({} read, {} not modelled)",
            report.filtered,
            report.packets - report.unmodelled,
            report.packets,
            report.unmodelled
        );
    }
    eprintln!(
        "argus: {} packets, {} flows, {} records",
        report.packets, report.flows, report.records
    );
    // Detach the programs only now: the queues were read until the end.
    drop(captures);
    let mut failed = false;
    for e in &report.errors {
        eprintln!("argus: error: {e}");
        failed = true;
    }
    if !finish_outputs(writer, out_path) {
        return ExitCode::from(1);
    }
    if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// Start the ARGUS_EVENT_DATA threads (if any); their records reach the outputs through the
/// merger.
fn start_events(cfg: &SensorConfig, outputs: &mut Outputs) -> Option<argus::event::EventThreads> {
    if cfg.events.is_empty() {
        return None;
    }
    for e in &cfg.events {
        eprintln!(
            "argus: event {} every {} s{}",
            e.label(),
            e.interval.as_secs(),
            if e.compress { ", compressed" } else { "" }
        );
    }
    let (threads, rx) = argus::event::EventThreads::start(&cfg.events, cfg.model.srcid);
    outputs.set_event_source(rx);
    Some(threads)
}

fn stop_events(events: Option<argus::event::EventThreads>) {
    if let Some(t) = events {
        let dropped = t.stop();
        if dropped > 0 {
            eprintln!("argus: {dropped} event records dropped (the output was behind)");
        }
    }
}

/// The outputs: `-w` file (standard output when there is neither `-w` nor `-P`) and the `-P`
/// client listener (port 0: none, as in argus; unlike argus, `-r` with `-P` serves too).
fn open_outputs(cfg: &SensorConfig) -> Result<(Outputs, Option<String>), ExitCode> {
    let interval = (cfg.model.status_interval_us / 1_000_000).clamp(0, u16::MAX as i64) as u16;
    let server = match cfg.access_port.filter(|&p| p != 0) {
        Some(port) => {
            let opts = ServerOptions::from_env(cfg.model.srcid, interval);
            match Server::bind(port, cfg.bind_ip, opts) {
                Ok(s) => {
                    eprintln!("argus: serving clients on {}", s.local_addr());
                    Some(s)
                }
                Err(e) => {
                    eprintln!("argus: -P {port}: cannot listen: {e}");
                    return Err(ExitCode::from(1));
                }
            }
        }
        None => None,
    };
    let out_path = match (&cfg.output, &server) {
        (Some(p), _) => Some(p.clone()),
        (None, None) => Some("-".to_string()),
        (None, Some(_)) => None,
    };
    let writer = match &out_path {
        Some(p) => match StreamWriter::open(p, cfg.model.srcid, interval) {
            Ok(w) => Some(w),
            Err(e) => {
                eprintln!("argus: cannot write {p}: {e}");
                return Err(ExitCode::from(1));
            }
        },
        None => None,
    };
    Ok((Outputs::new(writer, server), out_path))
}

/// Stop MARs to the file and the clients, per-client figures on stderr; false on a write error
/// of the file.
fn finish_outputs(outputs: Outputs, out_path: Option<String>) -> bool {
    let done = outputs.finish();
    if let Some(r) = &done.server {
        for c in &r.clients {
            eprintln!(
                "argus: client {}: {} records written, {} dropped",
                c.peer, c.written, c.dropped
            );
        }
        eprintln!("argus: clients: {} records dropped in all", r.dropped_total);
    }
    if let Some(e) = done.file_error {
        eprintln!(
            "argus: write error on {}: {e}",
            out_path.unwrap_or_default()
        );
        return false;
    }
    true
}
