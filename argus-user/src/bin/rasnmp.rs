//! `rasnmp`: interface counters (IF-MIB) and the ARP table (IP-MIB) of a device over SNMP
//! v2c, as one XML document, or JSON with `-M json`; an event generator for
//! `ARGUS_EVENT_DATA="prog:/usr/bin/rasnmp -c public switch1:1m:compress"`
//! (docs/generators.md). Exit status 1 when the agent does not answer or answers badly (the
//! document then holds only an `<Error>` saying why), 2 on bad usage.

use argus::gen::{self, snmp, Format};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str =
    "usage: rasnmp [-c COMMUNITY] [-p PORT] [-t SECONDS] [-r RETRIES] [-M xml|json] [-s BYTES] HOST
  -c COMMUNITY  SNMP v2c community (default public)
  -p PORT       agent's UDP port (default 161)
  -t SECONDS    timeout of each request (default 2, fractions allowed)
  -r RETRIES    times a request is sent again when no answer comes (default 1)
  -M FMT        output format: xml (default) or json
  -s BYTES      cap on the document's size, 0 for none (default 63488)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = snmp::Options::default();
    let mut fmt = Format::Xml;
    let mut cap = gen::DEFAULT_CAP;
    let mut host = None;
    let mut i = 0;
    let r: Result<(), String> = (|| {
        while i < args.len() {
            let a = args[i].as_str();
            let mut val = |what: &str| {
                i += 1;
                args.get(i)
                    .ok_or_else(|| format!("{a}: missing value ({what})"))
            };
            match a {
                "-c" => o.community = val("community")?.clone(),
                "-p" => {
                    o.port = gen::flag_value("-p", Some(val("port")?), "UDP port")?;
                }
                "-t" => {
                    let s: f64 = gen::flag_value("-t", Some(val("seconds")?), "seconds")?;
                    if !(s > 0.0 && s <= 3600.0) {
                        return Err(format!("-t {s}: the timeout must be > 0 and <= 3600 s"));
                    }
                    o.timeout = Duration::from_secs_f64(s);
                }
                "-r" => o.retries = gen::flag_value("-r", Some(val("retries")?), "count")?,
                "-M" => fmt = Format::parse(val("format")?)?,
                "-s" => cap = gen::flag_value("-s", Some(val("bytes")?), "bytes")?,
                "-h" | "--help" => return Err(String::new()),
                s if s.starts_with('-') => return Err(format!("unknown option {s}")),
                s if host.is_none() => host = Some(s.to_string()),
                s => return Err(format!("one host only ({s} is a second one)")),
            }
            i += 1;
        }
        if host.is_none() {
            return Err("no host given".into());
        }
        Ok(())
    })();
    if let Err(e) = r {
        return gen::usage_error("rasnmp", &e, USAGE);
    }
    o.host = host.unwrap_or_default();
    match snmp::query(&o) {
        Ok(dev) => {
            let mut doc = snmp::document(&dev);
            gen::print_capped("rasnmp", &mut doc, fmt, cap, "elements");
            ExitCode::SUCCESS
        }
        Err(e) => {
            // The sensor keeps standard output only: the reason goes into the document too.
            let mut doc = snmp::error_document(&o, &e);
            print!("{}", doc.render_capped(fmt, cap).0);
            eprintln!("rasnmp: {e}");
            ExitCode::from(1)
        }
    }
}
