//! `racluster [-m KEY ...]`: merges flow records that share a key (by default the flow key:
//! the status records of each flow become one transaction) and prints the merged records like
//! `ra`, or writes them with `-w`. The keys and the merge: `argus::aggregate`; what matches
//! Debian's racluster and what differs: docs/clients.md.

use argus::aggregate::{join_option_words, Aggregator, KeyField, KeySpec};
use argus::cli::{exit_code, Options, Output, Spec};
use std::process::ExitCode;

const SPEC: Spec = Spec {
    prog: "racluster",
    usage: "racluster [-m none|KEY[/LEN] ...] [ra options] -r FILE|- ... | -S host[:port] ... [- filter]   (KEY: srcid saddr daddr proto sport dport smac dmac svlan dvlan svid dvid smpls dmpls stos dtos)",
    flags: &[],
    opts: &["-m"],
    modes: &[],
};

fn main() -> ExitCode {
    let o = Options::from_args(
        &SPEC,
        join_option_words(std::env::args().skip(1).collect(), "-m"),
    );
    let spec = match o.opt("-m") {
        None => KeySpec::Flow,
        Some(m) => match KeySpec::parse(&[m]) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("racluster: {e}");
                return ExitCode::from(2);
            }
        },
    };
    // Debian's racluster orients records with ra's own direction pass (a lone SYN-ACK's
    // turn, ICMP replies) under its default key and keys that hold both ports; with other
    // `-m` keys (`none` included) it leaves it out.
    argus::print::set_ra_direction(match &spec {
        KeySpec::Flow => true,
        KeySpec::None => false,
        KeySpec::Fields(f) => f.contains(&KeyField::Sport) && f.contains(&KeyField::Dport),
    });
    let mut out = match Output::open(&o) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("racluster: {e}");
            return ExitCode::from(2);
        }
    };
    let mut agg = Aggregator::new(spec);
    let damaged = o.for_each_selected_flow_boxed(|f| agg.add_boxed(f));
    if out.flows(agg.finish_boxed(), &o.print).is_err() {
        return ExitCode::from(1);
    }
    exit_code(damaged)
}
