//! `ravms`: host performance from /proc (load average, CPU times, memory, interface and
//! virtual memory counters) as one XML document, or JSON with `-M json`; an event generator
//! for `ARGUS_EVENT_DATA="prog:/usr/bin/ravms:1m"` (docs/generators.md). Exit status 1 when a
//! part could not be read (the document then carries an `<Error>` for it), 2 on bad usage.

use argus::gen::{self, vms, Format};
use std::process::ExitCode;

const USAGE: &str = "usage: ravms [-M xml|json] [-a | -v NAME[,NAME...]] [-s BYTES]
  -M FMT   output format: xml (default) or json
  -a       every /proc/vmstat counter (default: a selection, see docs/generators.md)
  -v LIST  these /proc/vmstat counters (comma-separated names)
  -s BYTES cap on the document's size, 0 for none (default 63488)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = vms::Options::default();
    let mut fmt = Format::Xml;
    let mut cap = gen::DEFAULT_CAP;
    let mut i = 0;
    let r: Result<(), String> = (|| {
        while i < args.len() {
            match args[i].as_str() {
                "-M" => {
                    i += 1;
                    fmt = Format::parse(args.get(i).map_or("", String::as_str))?;
                }
                "-a" => o.vmstat = vms::VmSelect::All,
                "-v" => {
                    i += 1;
                    let l: String = gen::flag_value("-v", args.get(i), "counter names")?;
                    o.vmstat = vms::VmSelect::Names(
                        l.split(',')
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect(),
                    );
                }
                "-s" => {
                    i += 1;
                    cap = gen::flag_value("-s", args.get(i), "bytes")?;
                }
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown option {other}")),
            }
            i += 1;
        }
        Ok(())
    })();
    if let Err(e) = r {
        return gen::usage_error("ravms", &e, USAGE);
    }
    let (mut doc, errors) = vms::collect(&o);
    gen::print_capped("ravms", &mut doc, fmt, cap, "elements");
    for e in &errors {
        eprintln!("ravms: {e}");
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
