//! `rasql -r URL [-t RANGE] [-w FILE] [ra options] [- filter]`: reads the records that
//! `rasqlinsert` stored (the `record` column) back and prints them like `ra`, or writes them as
//! an Argus 3 stream with `-w` for the other clients. A TABLE with strftime conversions
//! (`argus_%Y_%m_%d`) reads every table of the database that the pattern could have made, in
//! name order. docs/database.md.

use argus::cli::{Options, Output, Spec};
use argus::record::decode::decode;
use argus::record::Record;
use argus::sql::{self, url::matches_pattern, DbUrl};
use std::process::ExitCode;

const SPEC: Spec = Spec {
    prog: "rasql",
    usage: "rasql -r sqlite:///path/file.db/TABLE | mysql://user[:pw]@host[:port]/DB/TABLE | clickhouse://host[:port]/DB/TABLE [-t range] [-w FILE] [ra options] [- filter]",
    flags: &[],
    opts: &[],
    modes: &[],
};

fn die(msg: &str) -> ! {
    eprintln!("rasql: {msg}");
    eprintln!("usage: {}", SPEC.usage);
    std::process::exit(2)
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut url = None;
    let mut i = 0;
    while i < args.len() {
        if args[i] == "-" {
            break;
        }
        if args[i] == "-r" {
            match args.get(i + 1) {
                Some(u) if u.contains(':') => {
                    url = Some(DbUrl::parse(u).unwrap_or_else(|e| die(&e)));
                    args.drain(i..i + 2);
                    continue;
                }
                Some(u) => die(&format!("-r {u}: not a database URL")),
                None => die("-r: missing URL"),
            }
        }
        i += 1;
    }
    let Some(url) = url else {
        die("-r URL missing");
    };
    let o = Options::from_args(&SPEC, args);
    let mut out = Output::open(&o).unwrap_or_else(|e| die(&e));
    let mut db = sql::open(&url).unwrap_or_else(|e| die(&e));
    let tables = if url.table_is_pattern() {
        match db.tables() {
            Ok(t) => t
                .into_iter()
                .filter(|t| matches_pattern(&url.table, t))
                .collect(),
            Err(e) => {
                eprintln!("rasql: {e}");
                return ExitCode::from(1);
            }
        }
    } else {
        vec![url.table.clone()]
    };
    let mut taken: u64 = 0;
    let mut damaged: u64 = 0;
    let mut write_err = None;
    for t in &tables {
        let res = db.read_records(t, &mut |b: &[u8]| {
            let rec = match decode(b) {
                Ok(r) => r,
                Err(e) => {
                    damaged += 1;
                    eprintln!("rasql: {}: table {t}: bad record: {e}", url.shown);
                    return Ok(());
                }
            };
            if !o.selects(&rec) {
                return Ok(());
            }
            if matches!(rec, Record::Flow(_)) {
                if o.limit.is_some_and(|n| taken >= n) {
                    return Ok(());
                }
                taken += 1;
            }
            out.record(&rec, &o.print).map_err(|e| {
                write_err = Some(e.to_string());
                format!("output: {e}")
            })?;
            Ok(())
        });
        if let Err(e) = res {
            eprintln!("rasql: {e}");
            return ExitCode::from(1);
        }
    }
    if let Err(e) = out.flush() {
        eprintln!("rasql: output: {e}");
        return ExitCode::from(1);
    }
    if let Some(e) = write_err {
        eprintln!("rasql: output: {e}");
        return ExitCode::from(1);
    }
    argus::cli::exit_code(damaged)
}
