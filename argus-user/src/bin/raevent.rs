//! `raevent`: prints the event records (ARGUS_EVENT_DATA) of an Argus 3 stream the way Debian's
//! raevent 3.0.8 does (`event[N]=`, `TIME:srcid=ID:LABEL`, the text), and its MARs the way `ra`
//! does; `-M json` prints one JSON object per event instead. See `docs/events.md`.

use argus::event::{format_event, format_event_json};
use argus::print::{format_record, header, PrintOpts};
use argus::record::decode::RecordReader;
use argus::record::Record;
use std::io::{self, BufWriter, Read, Write};
use std::process::ExitCode;

fn usage() -> ! {
    eprintln!(
        "usage: raevent [-u] [-p N] [-L -1] [-M noman|json] [-X] -r FILE|- ... | -S host[:port]"
    );
    std::process::exit(2)
}

fn die(msg: &str) -> ! {
    eprintln!("raevent: {msg}");
    std::process::exit(2)
}

enum Input {
    File(String),
    Stream(String),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = PrintOpts::default();
    let mut inputs = Vec::new();
    let mut i = 0;
    let next = |i: &mut usize| -> String {
        *i += 1;
        match args.get(*i) {
            Some(s) => s.clone(),
            None => usage(),
        }
    };
    while i < args.len() {
        match args[i].as_str() {
            "-r" => {
                inputs.push(Input::File(next(&mut i)));
                while let Some(n) = args.get(i + 1) {
                    if n.starts_with('-') && n != "-" {
                        break;
                    }
                    inputs.push(Input::File(n.clone()));
                    i += 1;
                }
            }
            "-S" => inputs.push(Input::Stream(next(&mut i))),
            "-u" => o.unix_time = true,
            "-p" => o.precision = next(&mut i).parse().unwrap_or_else(|_| usage()),
            "-L" => {
                let v: i64 = next(&mut i).parse().unwrap_or_else(|_| usage());
                if v < 0 {
                    o.header = false;
                }
            }
            "-M" => {
                for m in next(&mut i).split(',') {
                    match m {
                        "noman" => o.print_man = false,
                        "man" => o.print_man = true,
                        "json" => o.json = true,
                        other => die(&format!("-M {other}: not supported")),
                    }
                }
            }
            "-X" => {}
            "-h" | "--help" => usage(),
            s => die(&format!("option {s} not supported")),
        }
        i += 1;
    }
    if inputs.is_empty() {
        inputs.push(Input::File("-".into()));
    }
    if o.json {
        o.header = false;
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut damaged = false;
    let mut header_due = o.header;
    let mut streams = Vec::new();
    for inp in &inputs {
        let (name, input): (String, Box<dyn Read>) = match inp {
            Input::File(f) if f == "-" => (f.clone(), Box::new(io::stdin().lock())),
            Input::File(f) => match std::fs::File::open(f) {
                Ok(h) => (f.clone(), Box::new(h)),
                Err(e) => {
                    eprintln!("raevent: {f}: {e}");
                    damaged = true;
                    continue;
                }
            },
            Input::Stream(a) => match argus::client::connect(a) {
                Ok((r, sock)) => {
                    streams.push(sock);
                    (a.clone(), r)
                }
                Err(e) => {
                    eprintln!("raevent: -S {a}: {e}");
                    damaged = true;
                    continue;
                }
            },
        };
        let mut rd = RecordReader::new(io::BufReader::with_capacity(1 << 16, input));
        while let Some(r) = rd.next_record() {
            let bytes = match r {
                Ok(Record::Event(e)) => {
                    let r = if o.json {
                        format_event_json(&e, o.unix_time, o.precision).map(|mut s| {
                            s.push('\n');
                            s.into_bytes()
                        })
                    } else {
                        format_event(&e, o.unix_time, o.precision)
                    };
                    match r {
                        Ok(b) => b,
                        Err(err) => {
                            damaged = true;
                            let _ = out.flush();
                            eprintln!("raevent: {name}: event record seq {}: {err}", e.seq);
                            continue;
                        }
                    }
                }
                Ok(rec @ Record::Mar(_)) => match format_record(&rec, &o) {
                    Some(mut l) => {
                        if header_due {
                            header_due = false;
                            l = format!("{}\n{l}", header(&o));
                        }
                        l.push('\n');
                        l.into_bytes()
                    }
                    None => continue,
                },
                Ok(Record::Flow(_)) => continue,
                Err(e) => {
                    damaged = true;
                    let _ = out.flush();
                    eprintln!("raevent: {name}: {e}");
                    continue;
                }
            };
            // A live stream is printed as it comes (a client is often stopped by a signal).
            let live = matches!(inp, Input::Stream(_));
            if out
                .write_all(&bytes)
                .and_then(|_| if live { out.flush() } else { Ok(()) })
                .is_err()
            {
                return ExitCode::from(1);
            }
        }
        if let Some(e) = rd.take_io_error() {
            damaged = true;
            eprintln!("raevent: {name}: read error: {e}");
        }
        if rd.stats.skipped_bytes > 0 {
            eprintln!(
                "raevent: {name}: skipped {} damaged bytes",
                rd.stats.skipped_bytes
            );
        }
    }
    let _ = out.flush();
    for mut s in streams {
        let _ = s.write_all(b"DONE: ");
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    if damaged {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
