//! `raevent`: prints the event records (ARGUS_EVENT_DATA) of an Argus 3 stream the way Debian's
//! raevent 3.0.8 does (`event[N]=`, `TIME:srcid=ID:LABEL`, the text), and its MARs the way `ra`
//! does; `-M json` prints one JSON object per event instead; `-w` writes the events (and
//! MARs) as an Argus 3 stream. See `docs/events.md`; the common options are `argus::cli`.

use argus::cli::{exit_code, Options, Output, Spec};
use argus::event::{format_event, format_event_json};
use argus::record::Record;
use std::process::ExitCode;

const SPEC: Spec = Spec {
    prog: "raevent",
    usage: "raevent [-u] [-p N] [-L N] [-M noman|json] [-X] [-t range] [-w FILE] -r FILE|- ... | -S host[:port] ... [- filter]",
    flags: &[],
    opts: &[],
    modes: &[],
};

fn main() -> ExitCode {
    let o = Options::from_env(&SPEC);
    let mut out = match Output::open(&o) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("raevent: {e}");
            return ExitCode::from(2);
        }
    };
    let mut bad_events: u64 = 0;
    let mut records = o.inputs.open_all();
    while let Some((name, item)) = records.next() {
        let rec = match item {
            Ok(r) => r,
            Err(e) => {
                let _ = out.flush();
                eprintln!("raevent: {e}");
                continue;
            }
        };
        if matches!(rec, Record::Flow(_)) || !o.selects(&rec) {
            continue;
        }
        let res = match &rec {
            Record::Event(e) if !out.is_argus() => {
                let text = if o.print.json {
                    format_event_json(e, o.print.unix_time, o.print.precision).map(|mut s| {
                        s.push('\n');
                        s.into_bytes()
                    })
                } else {
                    format_event(e, o.print.unix_time, o.print.precision)
                };
                match text {
                    Ok(b) => out.raw(&b),
                    Err(err) => {
                        bad_events += 1;
                        let _ = out.flush();
                        eprintln!("raevent: {name}: event record seq {}: {err}", e.seq);
                        continue;
                    }
                }
            }
            _ => out.record(&rec, &o.print).map(|_| ()),
        };
        // A live stream is printed as it comes (a client is often stopped by a signal).
        if res
            .and_then(|_| if records.live() { out.flush() } else { Ok(()) })
            .is_err()
        {
            return ExitCode::from(1);
        }
    }
    if out.flush().is_err() {
        return ExitCode::from(1);
    }
    let damaged = records.damaged() + bad_events;
    records.close();
    exit_code(damaged)
}
