//! `rasqlinsert -w URL [-s FIELDS] [-m none|KEYS] [-M time N] [ra options] -r FILE | -S host`:
//! loads flow records into SQLite (`sqlite:///path/file.db/TABLE`, embedded), MySQL/MariaDB
//! (`mysql://user[:pw]@host[:port]/DB/TABLE`) or ClickHouse
//! (`clickhouse://host[:port]/DB/TABLE`). The table is created from the `-s` list (`autoid`,
//! `record` and ra fields); TABLE may hold strftime conversions filled from each record's own
//! start time (`-M time 1d` with `argus_%Y_%m_%d`: one table per day). A database that is down
//! or slow is retried; records are buffered up to `--buffer N`, what could not be kept is
//! counted and reported (exit 3). docs/database.md.

use argus::aggregate::{join_option_words, Aggregator, KeySpec};
use argus::cli::{Options, Spec};
use argus::record::encode::encode_flow;
use argus::record::FlowRecord;
use argus::split::Period;
use argus::sql::{self, columns::DEFAULT_FIELDS, Columns, DbUrl, LoadOpts, Loader};
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

const SPEC: Spec = Spec {
    prog: "rasqlinsert",
    usage: "rasqlinsert -w sqlite:///path/file.db/TABLE | mysql://user[:pw]@host[:port]/DB/TABLE | clickhouse://host[:port]/DB/TABLE [-s autoid srcid stime ... record] [-m none|KEY ...] [-M time N[smhdwMy]] [--buffer RECORDS] [--batch RECORDS] [--retry-for SECS] [--stall SECS] [ra options] -r FILE ... | -S host[:port] ... [- filter]",
    flags: &[],
    opts: &["-m", "--buffer", "--batch", "--retry-for", "--stall"],
    modes: &[],
};

fn die(msg: &str) -> ! {
    eprintln!("rasqlinsert: {msg}");
    std::process::exit(2)
}

/// Takes `-M time N` and the `-s` words out of the arguments (the common parser knows
/// neither `-M time` nor the `autoid`/`record` columns).
fn take_own_args(args: &mut Vec<String>) -> (Option<Period>, Option<Vec<String>>) {
    let mut period = None;
    let mut fields: Option<Vec<String>> = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "-" {
            break;
        }
        if a == "-M" && args.get(i + 1).is_some_and(|m| m == "time") {
            let Some(v) = args.get(i + 2) else {
                die("-M time: missing period (e.g. -M time 1d)");
            };
            period = Some(Period::parse(v).unwrap_or_else(|e| die(&format!("-M time {e}"))));
            args.drain(i..i + 3);
            continue;
        }
        if let Some(rest) = a.strip_prefix("-s") {
            let mut words = Vec::new();
            let mut end = i + 1;
            if !rest.is_empty() {
                words.push(rest.to_string());
            } else {
                match args.get(end) {
                    Some(w) => words.push(w.clone()),
                    None => die("-s: missing field list"),
                }
                end += 1;
            }
            while let Some(w) = args.get(end).filter(|w| !w.starts_with('-')) {
                words.push(w.clone());
                end += 1;
            }
            args.drain(i..end);
            let list = fields.get_or_insert_with(Vec::new);
            for w in words {
                list.extend(w.split(',').filter(|x| !x.is_empty()).map(str::to_string));
            }
            continue;
        }
        i += 1;
    }
    (period, fields)
}

fn parse_num<T: std::str::FromStr>(o: &Options, name: &str) -> Option<T> {
    o.opt(name).map(|v| {
        v.parse::<T>()
            .unwrap_or_else(|_| die(&format!("{name} {v}: not a number")))
    })
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let (period, fields) = take_own_args(&mut args);
    let o = Options::from_args(&SPEC, join_option_words(args, "-m"));
    let Some(w) = o.write.as_deref() else {
        die("-w URL missing (sqlite:///path/file.db/TABLE, mysql://user@host/DB/TABLE or clickhouse://host:port/DB/TABLE)");
    };
    let url = DbUrl::parse(w).unwrap_or_else(|e| die(&e));
    if period.is_some() && !url.table_is_pattern() {
        die(&format!(
            "-M time: the table name '{}' has no strftime conversion (e.g. argus_%Y_%m_%d)",
            url.table
        ));
    }
    let names: Vec<String> = fields.unwrap_or_else(|| {
        DEFAULT_FIELDS
            .iter()
            .filter(|f| !(url.engine == sql::Engine::ClickHouse && **f == "autoid"))
            .map(|s| s.to_string())
            .collect()
    });
    let cols = Columns::new(url.engine, &names).unwrap_or_else(|e| die(&e));
    // No `-m`, or `-m none`: each record as read. Other keys: racluster's grouping within
    // each table.
    let keys = o
        .opt("-m")
        .map(|m| KeySpec::parse(&[m]).unwrap_or_else(|e| die(&e)))
        .filter(|k| *k != KeySpec::None);
    let mut lo = LoadOpts::default();
    if let Some(n) = parse_num::<usize>(&o, "--buffer") {
        lo.bound = n.max(1);
    }
    if url.engine == sql::Engine::ClickHouse {
        // ClickHouse writes a part per partition per insert: few large inserts (perf/sql.md:
        // 11k records/s at 2000 per insert, 92k at 50000 over 70 days of records).
        lo.batch = 50_000;
    }
    if let Some(n) = parse_num::<usize>(&o, "--batch") {
        lo.batch = n.max(1);
    }
    if let Some(s) = parse_num::<f64>(&o, "--retry-for") {
        lo.retry_for = Duration::from_secs_f64(s.max(0.0));
    }
    if let Some(s) = parse_num::<f64>(&o, "--stall") {
        lo.stall = Duration::from_secs_f64(s.max(0.0));
    }
    let backend = sql::open(&url).unwrap_or_else(|e| die(&e));
    let mut loader = Loader::start("rasqlinsert", backend, cols, lo);

    let mut fatal: Option<String> = None;
    let mut bad_table: Option<String> = None;
    let mut groups: HashMap<String, Aggregator> = HashMap::new();
    let mut last_table = String::new();
    let mut buf: Vec<u8> = Vec::with_capacity(512);
    let mut push =
        |loader: &mut Loader, table: &str, f: &FlowRecord, fatal: &mut Option<String>| {
            if fatal.is_some() {
                return;
            }
            buf.clear();
            encode_flow(f, &mut buf);
            if let Err(e) = loader.push(table, buf.clone()) {
                *fatal = Some(e);
            }
        };
    let damaged = o.for_each_selected_flow(|f| {
        if fatal.is_some() || bad_table.is_some() {
            return;
        }
        let sec = f.time.map_or(0, |t| t.start.sec as i64);
        let table = match sql::table_for(&url, period, sec) {
            Ok(t) => t,
            Err(e) => {
                bad_table = Some(e);
                return;
            }
        };
        match &keys {
            None => push(&mut loader, &table, &f, &mut fatal),
            Some(k) => {
                if table != last_table && !last_table.is_empty() {
                    // Time moved on to another table: the groups of the others are done.
                    let done: Vec<String> =
                        groups.keys().filter(|t| **t != table).cloned().collect();
                    for t in done {
                        if let Some(a) = groups.remove(&t) {
                            for m in a.finish() {
                                push(&mut loader, &t, &m, &mut fatal);
                            }
                        }
                    }
                }
                groups
                    .entry(table.clone())
                    .or_insert_with(|| Aggregator::new(k.clone()))
                    .add(f);
            }
        }
        last_table = table;
    });
    let mut tables: Vec<String> = groups.keys().cloned().collect();
    tables.sort();
    for t in tables {
        if let Some(a) = groups.remove(&t) {
            for m in a.finish() {
                push(&mut loader, &t, &m, &mut fatal);
            }
        }
    }
    let stats = loader.finish();
    let fatal = stats.fatal.clone().or(fatal).or(bad_table);
    eprintln!(
        "rasqlinsert: {} records inserted into {}; {} lost ({} dropped with the buffer full, {} not written at exit){}",
        stats.inserted,
        url.shown,
        stats.lost(),
        stats.lost_full,
        stats.lost_at_exit,
        if stats.retries > 0 {
            format!(", {} failed attempts retried", stats.retries)
        } else {
            String::new()
        }
    );
    if let Some(e) = fatal {
        eprintln!("rasqlinsert: {e}");
        return ExitCode::from(2);
    }
    if stats.lost() > 0 {
        if let Some(e) = &stats.last_error {
            eprintln!("rasqlinsert: last database error: {e}");
        }
        return ExitCode::from(3);
    }
    argus::cli::exit_code(damaged)
}
