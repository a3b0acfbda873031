//! `ra`: read Argus 3 records from files, stdin or streams and print them like argus-clients
//! 3.0.8.2 (or write them with `-w`). See docs/ra.md for the options and exit codes; the
//! common client plumbing is `argus::cli`.

use argus::cli::{exit_code, Input, Inputs, Options, Output, Spec};
use argus::correlate::Owners;
use argus::record::Record;
use std::process::ExitCode;
use std::sync::Arc;

const SPEC: Spec = Spec {
    prog: "ra",
    usage: "ra [-n] [-u] [-p N] [-c SEP] [-L N] [-M noman|json|events] [-N n] [-X] [-F rcfile] [-t range] [-w FILE] [-s fields...] -r FILE|- ... | -S host[:port] ... [- filter]",
    flags: &[],
    opts: &[],
    // Event records (skipped by default), printed as raevent prints them.
    modes: &["events"],
};

/// The socket owners of every `ralsof` event in the file inputs, for the fields `pid`, `comm`
/// and `user` (docs/correlation.md): a pre-pass, since an event may come after the flows it
/// explains. Standard input and streams are read once: their events are added as they come.
fn owners_of_files(o: &Options) -> Owners {
    let files: Vec<Input> = o
        .inputs
        .list
        .iter()
        .filter(|i| matches!(i, Input::File(_) | Input::Glob(_)))
        .cloned()
        .collect();
    let mut owners = Owners::new();
    let mut records = Inputs::new(files).open_all();
    for (_, item) in records.by_ref() {
        if let Ok(Record::Event(e)) = item {
            owners.add_event(&e);
        }
    }
    for e in &owners.errors {
        eprintln!("ra: {e}");
    }
    owners.finish();
    owners
}

fn main() -> ExitCode {
    let mut o = Options::from_env(&SPEC);
    if argus::print::wants_owners(&o.print) {
        o.print.owners = Some(Arc::new(owners_of_files(&o)));
    }
    // Inputs read once (stdin, streams), whose ralsof events count from where they come.
    let once: Vec<String> = o
        .inputs
        .list
        .iter()
        .filter(|i| matches!(i, Input::Stdin | Input::Stream(_)))
        .map(Input::name)
        .collect();
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
    let mut records = o.open_selected();
    while let Some((name, item)) = records.next() {
        let rec = match item {
            Ok(r) => r,
            Err(e) => {
                let _ = out.flush();
                eprintln!("ra: {e}");
                continue;
            }
        };
        if let (Record::Event(e), Some(ow)) = (&rec, o.print.owners.as_mut()) {
            if once.iter().any(|n| **n == *name) {
                let ow = Arc::make_mut(ow);
                if ow.add_event(e) {
                    ow.finish();
                }
            }
        }
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
