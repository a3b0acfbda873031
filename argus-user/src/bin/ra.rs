//! `ra`: read Argus 3 records from files or stdin and print them like argus-clients 3.0.8.2.
//! See docs/ra.md for the supported options and exit codes.

use argus::filter::{CompiledFilter, Target};
use argus::print::{apply_field_args, format_record, header, PrintOpts};
use argus::record::decode::RecordReader;
use argus::record::Record;
use std::io::{self, BufWriter, Read, Write};
use std::process::ExitCode;

fn usage() -> ! {
    eprintln!(
        "usage: ra [-n] [-u] [-p N] [-c SEP] [-L -1] [-M noman|json|events] [-N n] [-X] [-s fields...] -r FILE|- ... [- filter]"
    );
    std::process::exit(2)
}

fn die(msg: &str) -> ! {
    eprintln!("ra: {msg}");
    std::process::exit(2)
}

/// Prefix marking a `-S` source in the input list.
const STREAM: &str = "\0stream:";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = PrintOpts::default();
    let mut files: Vec<String> = Vec::new();
    let mut field_args: Vec<String> = Vec::new();
    let mut limit: Option<u64> = None;
    let mut n_count = 0usize;
    let mut filter_text: Option<String> = None;
    let mut print_events = false;
    let mut i = 0;
    let next = |i: &mut usize| -> String {
        *i += 1;
        match args.get(*i) {
            Some(s) => s.clone(),
            None => usage(),
        }
    };
    while i < args.len() {
        let a = args[i].clone();
        if a == "-" || !a.starts_with('-') {
            // Everything after a lone `-` is the filter expression (several arguments are
            // joined with spaces, as ra does); ra also takes one without the `-`.
            let from = if a == "-" { i + 1 } else { i };
            let text = args[from..].join(" ");
            if !text.trim().is_empty() {
                filter_text = Some(text);
            }
            break;
        }
        match a.as_str() {
            "-r" => {
                files.push(next(&mut i));
                // Further file names up to the next option; a lone `-` there starts the
                // filter expression, as in ra (`-r -` itself still means stdin).
                while let Some(n) = args.get(i + 1) {
                    if n.starts_with('-') {
                        break;
                    }
                    files.push(n.clone());
                    i += 1;
                }
            }
            "-S" => files.push(format!("{STREAM}{}", next(&mut i))),
            "-u" => o.unix_time = true,
            "-p" => o.precision = next(&mut i).parse().unwrap_or_else(|_| usage()),
            "-c" => o.sep = Some(next(&mut i)),
            "-L" => {
                let v: i64 = next(&mut i).parse().unwrap_or_else(|_| usage());
                if v < 0 {
                    o.header = false;
                }
            }
            "-M" => {
                let m = next(&mut i);
                for m in m.split(',') {
                    match m {
                        "noman" => o.print_man = false,
                        "man" => o.print_man = true,
                        "json" => o.json = true,
                        // Event records (skipped by default), printed as raevent prints them.
                        "events" => print_events = true,
                        other => die(&format!("-M {other}: not supported")),
                    }
                }
            }
            "-N" => limit = Some(next(&mut i).parse().unwrap_or_else(|_| usage())),
            "-X" => o.print_man = false,
            // Like ra's getopt: `-s` takes the next argument whatever it is (so `-s -bytes`
            // works), then every following argument up to the next option; `-sNAME` is
            // `-s NAME`. Several `-s` accumulate.
            s if s.starts_with("-s") => {
                let first = if s.len() > 2 {
                    s[2..].to_string()
                } else {
                    next(&mut i)
                };
                field_args.push(first);
                while let Some(n) = args.get(i + 1) {
                    if n.starts_with('-') {
                        break;
                    }
                    field_args.push(n.clone());
                    i += 1;
                }
            }
            "-h" | "--help" => usage(),
            s if s.len() > 1 && s[1..].chars().all(|c| c == 'n') => {
                n_count += s.len() - 1;
            }
            s => die(&format!("option {s} not supported")),
        }
        i += 1;
    }
    // ra acts on exactly one or two -n; more of them print names again.
    o.numeric = if n_count <= 2 { n_count as u8 } else { 0 };
    if files.is_empty() {
        files.push("-".into());
    }
    if !field_args.is_empty() {
        match apply_field_args(&field_args) {
            Ok(f) => o.fields = f,
            Err(e) => die(&e),
        }
    }
    if o.json {
        o.header = false;
    }
    let filter = filter_text.map(|t| match CompiledFilter::compile(&t, Target::Records) {
        Ok(f) => f,
        Err(e) => die(&e.to_string()),
    });

    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut damaged = false;
    // Like ra, the header goes out with the first printed line (none for empty output).
    let mut header_due = o.header;
    let mut printed_flows: u64 = 0;
    let mut streams: Vec<std::net::TcpStream> = Vec::new();
    'files: for f in &files {
        let input: Box<dyn Read> = if f == "-" {
            Box::new(io::stdin().lock())
        } else if let Some(addr) = f.strip_prefix(STREAM) {
            match argus::client::connect(addr) {
                Ok((r, sock)) => {
                    streams.push(sock);
                    r
                }
                Err(e) => {
                    eprintln!("ra: -S {addr}: {e}");
                    damaged = true;
                    continue;
                }
            }
        } else {
            match std::fs::File::open(f) {
                Ok(h) => Box::new(h),
                Err(e) => {
                    eprintln!("ra: {f}: {e}");
                    damaged = true;
                    continue;
                }
            }
        };
        let mut rd = RecordReader::new(io::BufReader::with_capacity(1 << 16, input));
        while let Some(r) = rd.next_record() {
            match r {
                Ok(rec) => {
                    if filter.as_ref().is_some_and(|f| !f.matches_record(&rec)) {
                        continue;
                    }
                    if let (true, Record::Event(e)) = (print_events, &rec) {
                        let text = if o.json {
                            argus::event::format_event_json(e, o.unix_time, o.precision)
                                .map(|s| s + "\n")
                                .map(String::into_bytes)
                        } else {
                            argus::event::format_event(e, o.unix_time, o.precision)
                        };
                        match text {
                            Ok(b) => {
                                if out.write_all(&b).is_err() {
                                    return ExitCode::from(1);
                                }
                            }
                            Err(e) => {
                                damaged = true;
                                eprintln!("ra: {f}: event record: {e}");
                            }
                        }
                        continue;
                    }
                    if let (Some(n), Record::Flow(_)) = (limit, &rec) {
                        if printed_flows >= n {
                            break 'files;
                        }
                    }
                    if let Some(l) = format_record(&rec, &o) {
                        if matches!(rec, Record::Flow(_)) {
                            printed_flows += 1;
                        }
                        if header_due {
                            header_due = false;
                            if out
                                .write_all(header(&o).as_bytes())
                                .and_then(|_| out.write_all(b"\n"))
                                .is_err()
                            {
                                return ExitCode::from(1);
                            }
                        }
                        if out
                            .write_all(l.as_bytes())
                            .and_then(|_| out.write_all(b"\n"))
                            .is_err()
                        {
                            return ExitCode::from(1);
                        }
                    }
                }
                Err(e) => {
                    damaged = true;
                    let _ = out.flush();
                    eprintln!("ra: {f}: {e}");
                }
            }
        }
        if let Some(e) = rd.take_io_error() {
            damaged = true;
            eprintln!("ra: {f}: read error: {e}");
        }
        if rd.stats.skipped_bytes > 0 {
            eprintln!("ra: {f}: skipped {} damaged bytes", rd.stats.skipped_bytes);
        }
    }
    let _ = out.flush();
    // Tell servers we are done, as ra does.
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
