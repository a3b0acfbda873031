//! `ra`: read Argus 3 records from files, stdin or streams and print them like argus-clients
//! 3.0.8.2 (or write them with `-w`). See docs/ra.md for the options and exit codes; the
//! common client plumbing is `argus::cli`.

use argus::cli::{exit_code, Options, Output, Spec};
use argus::record::Record;
use std::process::ExitCode;

const SPEC: Spec = Spec {
    prog: "ra",
    usage: "ra [-n] [-u] [-p N] [-c SEP] [-L N] [-M noman|json|events] [-N n] [-X] [-F rcfile] [-t range] [-w FILE] [-s fields...] -r FILE|- ... | -S host[:port] ... [- filter]",
    flags: &[],
    opts: &[],
    // Event records (skipped by default), printed as raevent prints them.
    modes: &["events"],
};

fn main() -> ExitCode {
    let o = Options::from_env(&SPEC);
    let print_events = o.mode("events");
    let mut out = match Output::open(&o) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("ra: {e}");
            return ExitCode::from(2);
        }
    };
    let mut printed_flows: u64 = 0;
    // Event records that could not be printed.
    let mut bad_events: u64 = 0;
    let mut records = o.inputs.open_all();
    while let Some((name, item)) = records.next() {
        let rec = match item {
            Ok(r) => r,
            Err(e) => {
                let _ = out.flush();
                eprintln!("ra: {e}");
                continue;
            }
        };
        if !o.selects(&rec) {
            continue;
        }
        if let Record::Event(e) = &rec {
            if out.is_argus() {
                if out.record(&rec, &o.print).is_err() {
                    return ExitCode::from(1);
                }
                continue;
            }
            if !print_events {
                // Skipped: Debian's ra crashes on them with its default rc file.
                continue;
            }
            let text = if o.print.json {
                argus::event::format_event_json(e, o.print.unix_time, o.print.precision)
                    .map(|s| s + "\n")
                    .map(String::into_bytes)
            } else {
                argus::event::format_event(e, o.print.unix_time, o.print.precision)
            };
            match text {
                Ok(b) => {
                    if out.raw(&b).is_err() {
                        return ExitCode::from(1);
                    }
                }
                Err(err) => {
                    bad_events += 1;
                    let _ = out.flush();
                    eprintln!("ra: {name}: event record: {err}");
                }
            }
            continue;
        }
        let flow = matches!(rec, Record::Flow(_));
        if let (Some(n), true) = (o.limit, flow) {
            if printed_flows >= n {
                break;
            }
        }
        match out.record(&rec, &o.print) {
            Ok(true) if flow => printed_flows += 1,
            Ok(_) => {}
            Err(_) => return ExitCode::from(1),
        }
        if records.live() && out.flush().is_err() {
            return ExitCode::from(1);
        }
    }
    if out.flush().is_err() {
        return ExitCode::from(1);
    }
    let damaged = records.damaged() + bad_events;
    // Tell servers we are done, as ra does.
    records.close();
    exit_code(damaged)
}
