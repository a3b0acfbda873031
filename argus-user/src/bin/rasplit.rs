//! `rasplit -M count N | size N[bkmg] | time N[smhdwMy] | flow "FILTER" [-a LEN] -w NAME
//! [common flags]`: split records into files named from the records themselves (docs/clients.md,
//! "rasplit"; the logic is `argus::split`).

use argus::cli::{exit_code, Options, Spec};
use argus::split::{Mode, Splitter};
use std::process::ExitCode;

const SPEC: Spec = Spec {
    prog: "rasplit",
    usage: "rasplit [-M count N|size N[bkmg]|time N[smhdwMy]|flow \"FILTER\"] [-a LEN] [-w NAME] [-X] [-F rcfile] [-t range] -r FILE|- ... | -S host[:port] ... [- filter]",
    flags: &[],
    opts: &["-a"],
    modes: &[],
};

fn die(msg: &str) -> ! {
    eprintln!("rasplit: {msg}");
    eprintln!("usage: {}", SPEC.usage);
    std::process::exit(2)
}

fn main() -> ExitCode {
    // `-M MODE VALUE` takes two arguments: taken out before the common parser sees the rest.
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut mode = None;
    let mut i = 0;
    while i < args.len() {
        if args[i] == "-" {
            break;
        }
        if args[i] == "-M" {
            if let Some(m) = args
                .get(i + 1)
                .filter(|m| matches!(m.as_str(), "count" | "size" | "time" | "flow"))
            {
                let m = m.clone();
                let Some(v) = args.get(i + 2).cloned() else {
                    die(&format!("-M {m}: missing value"));
                };
                mode = Some(Mode::parse(&m, &v).unwrap_or_else(|e| die(&e)));
                args.drain(i..i + 3);
                continue;
            }
        }
        i += 1;
    }
    let o = Options::from_args(&SPEC, args);
    let suffix_len = match o.opt("-a") {
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|&n| (1..=16).contains(&n))
            .unwrap_or_else(|| die(&format!("-a {v}: not a suffix length (1 to 16)"))),
        None => 2,
    };
    let mode = mode.unwrap_or(Mode::Count(10_000));
    let mut sp = match Splitter::new(mode, o.write.as_deref(), suffix_len) {
        Ok(s) => s,
        Err(e) => die(&e),
    };
    let mut records = o.open_selected();
    let mut failed = false;
    for (_, item) in records.by_ref() {
        let rec = match item {
            Ok(r) => r,
            Err(e) => {
                eprintln!("rasplit: {e}");
                continue;
            }
        };
        if !o.selects(&rec) {
            continue;
        }
        if let Err(e) = sp.write(&rec) {
            eprintln!("rasplit: {e}");
            failed = true;
            break;
        }
    }
    let damaged = records.damaged();
    records.close();
    match sp.finish() {
        Ok(_) => {}
        Err(e) => {
            eprintln!("rasplit: {e}");
            failed = true;
        }
    }
    if failed {
        return ExitCode::from(1);
    }
    exit_code(damaged)
}
