//! `rasort -m FIELD ...`: reads flow records, sorts them by the fields (in the direction
//! Debian's rasort uses for each; ties keep the input order) and prints them like `ra`, or
//! writes them with `-w`. The ordering: `argus::sort`; differences from Debian: docs/clients.md.

use argus::aggregate::join_option_words;
use argus::cli::{exit_code, Options, Output, Spec};
use argus::sort::{parse_keys, sort_records};
use std::process::ExitCode;

const SPEC: Spec = Spec {
    prog: "rasort",
    usage: "rasort [-m FIELD ...] [ra options] -r FILE|- ... | -S host[:port] ... [- filter]   (FIELD: stime ltime dur trans pkts spkts dpkts bytes sbytes dbytes saddr daddr sport dport proto srcid seq, or any ra field)",
    flags: &[],
    opts: &["-m"],
    modes: &[],
};

fn main() -> ExitCode {
    let o = Options::from_args(
        &SPEC,
        join_option_words(std::env::args().skip(1).collect(), "-m"),
    );
    // Debian's default sort field is stime.
    let keys = match parse_keys(&[o.opt("-m").unwrap_or("stime")]) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("rasort: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = match Output::open(&o) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("rasort: {e}");
            return ExitCode::from(2);
        }
    };
    // Records stay in the boxes they were decoded into: sorting moves pointers.
    let mut recs = Vec::new();
    let damaged = o.for_each_selected_flow_boxed(|f| recs.push(f));
    if out.flows(sort_records(recs, &keys), &o.print).is_err() {
        return ExitCode::from(1);
    }
    exit_code(damaged)
}
