//! `radium`: collect the record streams of many sensors (ours and Debian's argus) into one
//! time-ordered stream, served to clients with the argus protocol and written with `-w`.
//! See docs/radium.md; the logic is `argus::collect`.

use argus::collect::{run, Config};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const USAGE: &str = "usage: radium [-X] [-f radium.conf] [-S host[:port]]... [-P port] [-B addr] [-e srcid] [-M secs] [-w FILE] [--window secs] [-d] [-r FILE...] [- filter]";

/// Set by SIGINT/SIGTERM.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let cfg = match Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("radium: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    for w in &cfg.warnings {
        eprintln!("radium: {w}");
    }
    if cfg.daemon {
        eprintln!(
            "radium: RADIUM_DAEMON/-d: staying in the foreground (run it under a supervisor)"
        );
    }
    // SAFETY: installing a handler that only stores to an atomic (async-signal-safe).
    unsafe {
        let h = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::signal(libc::SIGINT, h);
        libc::signal(libc::SIGTERM, h);
    }
    // The library's stop flag follows the signal flag.
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let _ = std::thread::Builder::new()
        .name("radium-signal".into())
        .spawn(move || loop {
            if STOP.load(Ordering::Relaxed) {
                s2.store(true, Ordering::Release);
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        });
    match run(&cfg, stop) {
        Ok(r) => {
            for s in &r.sources {
                eprintln!(
                    "radium: source {}: {} connections, {} disconnections, {} records relayed, {} late",
                    s.name, s.connects, s.disconnects, s.relayed, s.late
                );
            }
            eprintln!(
                "radium: {} records relayed, {} filtered out, {} dropped for slow clients",
                r.relayed, r.filtered, r.client_drops
            );
            if r.file_error.is_some() || r.damaged > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("radium: {e}");
            ExitCode::from(1)
        }
    }
}
