//! `ralsof`: which process (pid, comm) and which user own each local TCP and UDP socket
//! (IPv4 and IPv6), from /proc/net and /proc/PID/fd, as one XML document, or JSON with
//! `-M json`; an event generator for `ARGUS_EVENT_DATA="prog:/usr/bin/ralsof:1m"`
//! (docs/generators.md). Run it as root to see every process' sockets; sockets of processes it
//! cannot read are listed without pid and comm. Exit status 1 when a /proc/net file could not
//! be read, 2 on bad usage.

use argus::gen::{self, lsof, Format};
use std::process::ExitCode;

const USAGE: &str = "usage: ralsof [-M xml|json] [-l N] [-s BYTES]
  -M FMT   output format: xml (default) or json
  -l N     at most N sockets (0: all, the default)
  -s BYTES cap on the document's size, 0 for none (default 63488); sockets past it are
           left out and counted in a <Truncated> element";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = lsof::Options::default();
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
                "-l" => {
                    i += 1;
                    o.limit = gen::flag_value("-l", args.get(i), "number of sockets")?;
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
        return gen::usage_error("ralsof", &e, USAGE);
    }
    let (owners, errors) = lsof::collect(&o);
    let mut doc = lsof::document(&owners, &errors);
    gen::print_capped("ralsof", &mut doc, fmt, cap, "sockets");
    for (src, e) in &errors {
        eprintln!("ralsof: {src}: {e}");
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
