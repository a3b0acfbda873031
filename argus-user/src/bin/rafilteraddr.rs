//! `rafilteraddr -f LIST [-v]`: the flow records whose source or destination address is in
//! an address list (`-v`: those whose neither is), printed like `ra` or written with `-w`.
//! The list format and the differences from Debian's rafilteraddr: docs/clients.md; the list
//! is `argus::addrlist`, the common options `argus::cli`.

use argus::addrlist::AddrList;
use argus::cli::{exit_code, Options, Output, Spec};
use argus::record::Record;
use std::process::ExitCode;

const SPEC: Spec = Spec {
    prog: "rafilteraddr",
    usage: "rafilteraddr -f LIST [-v] [ra options] -r FILE|- ... | -S host[:port] ... [- filter]",
    flags: &["-v"],
    opts: &["-f"],
    modes: &[],
};

fn main() -> ExitCode {
    let o = Options::from_env(&SPEC);
    let Some(path) = o.opt("-f") else {
        eprintln!("rafilteraddr: -f LIST is required");
        eprintln!("usage: {}", SPEC.usage);
        return ExitCode::from(2);
    };
    let list = match AddrList::read(std::path::Path::new(path)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rafilteraddr: {e}");
            return ExitCode::from(2);
        }
    };
    let invert = o.flag("-v");
    let mut out = match Output::open(&o) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("rafilteraddr: {e}");
            return ExitCode::from(2);
        }
    };
    let mut selected: u64 = 0;
    let mut records = o.open_selected();
    while let Some((_, item)) = records.next() {
        let rec = match item {
            Ok(r) => r,
            Err(e) => {
                let _ = out.flush();
                eprintln!("rafilteraddr: {e}");
                continue;
            }
        };
        // Only flow records are selected (as Debian's rafilteraddr: no MAR or event lines).
        if !matches!(rec, Record::Flow(_)) || list.matches(&rec) == invert || !o.selects(&rec) {
            continue;
        }
        if o.limit.is_some_and(|n| selected >= n) {
            break;
        }
        if out.record(&rec, &o.print).is_err() {
            return ExitCode::from(1);
        }
        selected += 1;
        if records.live() && out.flush().is_err() {
            return ExitCode::from(1);
        }
    }
    if out.flush().is_err() {
        return ExitCode::from(1);
    }
    let damaged = records.damaged();
    records.close();
    exit_code(damaged)
}
