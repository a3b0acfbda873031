//! `rasqlinsert` and `rasql` with SQLite (embedded; docs/database.md): typed columns from the
//! `-s` list hold what our `ra` prints, `autoid` and `record` columns, `-M time 1d` files each
//! record in the table of its own day, `-m` aggregates like racluster, a table whose schema
//! does not match is a clear error, and `rasql` gives back records that our `ra` and Debian's
//! `ra` print exactly as the originals. MariaDB and ClickHouse: tests/sql_servers.rs.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RA: &str = env!("CARGO_BIN_EXE_ra");
const RACLUSTER: &str = env!("CARGO_BIN_EXE_racluster");
const INSERT: &str = env!("CARGO_BIN_EXE_rasqlinsert");
const RASQL: &str = env!("CARGO_BIN_EXE_rasql");
const DEBIAN_RA: &str = "/usr/bin/ra";

/// Captures with TCP, UDP, ICMP, non-IP flows, and records over several days (kday3 and
/// dhcpv4v6 span three days each).
const PCAPS: &[&str] = &[
    "206_example_b.pcap",
    "kday3.pcap",
    "dhcpv4v6-rfc5970-rfc8572.pcap",
    "test.pcap",
    "wikipedia.pcap",
    "icmp.pcap",
    "802.1w_rapid_STP.pcap",
];

fn argus_files(dir: &Path) -> Option<Vec<PathBuf>> {
    common::corpus_argus_files("sql", dir, PCAPS)
}

fn run(prog: &str, args: &[&str]) -> Output {
    Command::new(prog)
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap_or_else(|e| panic!("run {prog}: {e}"))
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `ra` (ours or Debian's) lines of the flows in `files`, CSV, Unix times.
fn ra_lines(ra: &str, files: &[PathBuf], fields: &[&str], extra: &[&str]) -> Vec<String> {
    let mut cmd = Command::new(ra);
    cmd.env("TZ", "UTC")
        .args(["-X", "-n", "-u", "-c", ",", "-L", "-1", "-M", "noman", "-r"])
        .args(files)
        .args(extra)
        .arg("-s")
        .args(fields);
    let o = cmd.output().expect("run ra");
    assert!(o.status.success(), "{ra}: {}", stderr(&o));
    text(&o).lines().map(str::to_string).collect()
}

fn strs(files: &[PathBuf]) -> Vec<String> {
    files.iter().map(|p| p.display().to_string()).collect()
}

/// rasqlinsert with `args` on `files`, reading no rc file (`-X`) like the ra and racluster it
/// is compared with: RA_PORT_DIRECTION from /etc/ra.conf would orient records differently.
fn insert(args: &[&str], files: &[PathBuf]) -> Output {
    let mut a: Vec<String> = vec!["-X".into()];
    a.extend(args.iter().map(|s| s.to_string()));
    a.push("-r".into());
    a.extend(strs(files));
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    run(INSERT, &a)
}

const FIELDS: &[&str] = &[
    "autoid", "srcid", "stime", "ltime", "proto", "saddr", "sport", "daddr", "dport", "spkts",
    "dpkts", "sbytes", "dbytes", "state", "record",
];

#[test]
fn sqlite_round_trip() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(files) = argus_files(tmp.path()) else {
        return;
    };
    let db = tmp.path().join("flows.db");
    let url = format!("sqlite://{}/flows", db.display());
    let mut args = vec!["-w", url.as_str(), "-s"];
    args.extend_from_slice(FIELDS);
    let o = insert(&args, &files);
    assert!(o.status.success(), "rasqlinsert: {}", stderr(&o));

    // One row per flow record, in input order; the typed columns are what our ra prints.
    let want = ra_lines(
        RA,
        &files,
        &[
            "stime", "ltime", "proto", "saddr", "daddr", "spkts", "dpkts", "sbytes", "dbytes",
            "state",
        ],
        &["-p", "6"],
    );
    let conn = rusqlite::Connection::open(&db).expect("open db");
    let mut st = conn
        .prepare(
            "SELECT autoid, stime, ltime, proto, saddr, daddr, spkts, dpkts, sbytes, dbytes, state, \
             length(record), srcid FROM flows ORDER BY autoid",
        )
        .expect("select");
    let rows: Vec<(i64, String, i64)> = st
        .query_map([], |r| {
            let line = format!(
                "{:.6},{:.6},{},{},{},{},{},{},{},{}",
                r.get::<_, f64>(1)?,
                r.get::<_, f64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, i64>(9)?,
                r.get::<_, String>(10)?,
            );
            Ok((r.get::<_, i64>(0)?, line, r.get::<_, i64>(11)?))
        })
        .and_then(|it| it.collect())
        .expect("rows");
    assert!(want.len() > 100, "too few records: {}", want.len());
    assert_eq!(rows.len(), want.len(), "one row per flow record");
    for (i, (id, line, reclen)) in rows.iter().enumerate() {
        assert_eq!(*id, i as i64 + 1, "autoid counts from 1 in input order");
        assert_eq!(line, &want[i], "row {id}");
        assert!(*reclen > 0);
    }
    let srcid: String = conn
        .query_row("SELECT srcid FROM flows LIMIT 1", [], |r| r.get(0))
        .expect("srcid");
    assert_eq!(srcid, "0.0.0.0");
    // The declared types.
    let types: Vec<(String, String)> = conn
        .prepare("PRAGMA table_info(flows)")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(1)?, r.get(2)?)))
                .and_then(|it| it.collect())
        })
        .expect("table_info");
    for (n, t) in [
        ("autoid", "INTEGER"),
        ("stime", "REAL"),
        ("sport", "INTEGER"),
        ("sbytes", "INTEGER"),
        ("saddr", "TEXT"),
        ("record", "BLOB"),
    ] {
        assert!(
            types.iter().any(|(a, b)| a == n && b.starts_with(t)),
            "{n} {t} in {types:?}"
        );
    }
    drop(st);
    drop(conn);

    // rasql gives the records back: every ra prints them as the originals.
    let back = tmp.path().join("back.argus");
    let o = run(
        RASQL,
        &["-r", &url, "-w", back.to_str().expect("utf-8 path")],
    );
    assert!(o.status.success(), "rasql: {}", stderr(&o));
    let show = [
        "stime", "ltime", "flgs", "proto", "saddr", "sport", "dir", "daddr", "dport", "spkts",
        "dpkts", "sbytes", "dbytes", "state",
    ];
    let back_v = vec![back.clone()];
    assert_eq!(
        ra_lines(RA, &back_v, &show, &[]),
        ra_lines(RA, &files, &show, &[]),
        "our ra: rasql's records differ from the originals"
    );
    if common::have_reference("sqlite_round_trip", &[DEBIAN_RA]) {
        assert_eq!(
            ra_lines(DEBIAN_RA, &back_v, &show, &[]),
            ra_lines(DEBIAN_RA, &files, &show, &[]),
            "Debian's ra: rasql's records differ from the originals"
        );
    }
    // Printed directly, with a time range: what ra -t selects from the originals.
    let range = "2014/11/25.00:00:00-2014/11/26.00:00:00"; // one of kday3's days
    let o = run(
        RASQL,
        &[
            "-r", &url, "-t", range, "-X", "-n", "-u", "-c", ",", "-L", "-1", "-s", "stime",
            "saddr", "daddr", "bytes",
        ],
    );
    assert!(o.status.success(), "rasql -t: {}", stderr(&o));
    let got: Vec<String> = text(&o).lines().map(str::to_string).collect();
    let want = ra_lines(
        RA,
        &files,
        &["stime", "saddr", "daddr", "bytes"],
        &["-t", range],
    );
    assert!(!want.is_empty(), "range selects nothing");
    assert_eq!(got, want, "rasql -t {range}");
}

#[test]
fn sqlite_table_per_day() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(files) = argus_files(tmp.path()) else {
        return;
    };
    let db = tmp.path().join("days.db");
    let url = format!("sqlite://{}/argus_%Y_%m_%d", db.display());
    let o = insert(
        &[
            "-M", "time", "1d", "-m", "none", "-w", &url, "-s", "autoid", "stime", "record",
        ],
        &files,
    );
    assert!(o.status.success(), "rasqlinsert: {}", stderr(&o));
    // Each record in the table of its own start day.
    let stimes = ra_lines(RA, &files, &["stime"], &["-p", "0"]);
    let mut want: std::collections::BTreeMap<String, usize> = Default::default();
    for s in &stimes {
        let sec: i64 = s.trim().parse().expect("stime");
        let day = sec.div_euclid(86400) * 86400;
        let name = chrono::DateTime::from_timestamp(day, 0)
            .expect("time")
            .format("argus_%Y_%m_%d")
            .to_string();
        *want.entry(name).or_default() += 1;
    }
    assert!(want.len() >= 6, "the captures span several days: {want:?}");
    let conn = rusqlite::Connection::open(&db).expect("open db");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'argus_%' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0)).and_then(|it| it.collect()))
        .expect("tables");
    let mut got: std::collections::BTreeMap<String, usize> = Default::default();
    for t in &tables {
        let (n, min, max): (i64, f64, f64) = conn
            .query_row(
                &format!("SELECT count(*), min(stime), max(stime) FROM \"{t}\""),
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("count");
        let day = |x: f64| {
            chrono::DateTime::from_timestamp(x.floor() as i64, 0)
                .expect("time")
                .format("argus_%Y_%m_%d")
                .to_string()
        };
        assert_eq!(&day(min), t, "earliest record of {t}");
        assert_eq!(&day(max), t, "latest record of {t}");
        got.insert(t.clone(), n as usize);
    }
    assert_eq!(got, want, "records per day table");
    drop(conn);
    // rasql over the pattern reads every day's table back.
    let back = tmp.path().join("back.argus");
    let o = run(RASQL, &["-r", &url, "-w", back.to_str().expect("path")]);
    assert!(o.status.success(), "rasql: {}", stderr(&o));
    let fields = [
        "stime", "ltime", "saddr", "sport", "daddr", "dport", "pkts", "bytes",
    ];
    let mut a = ra_lines(RA, &[back], &fields, &[]);
    let mut b = ra_lines(RA, &files, &fields, &[]);
    a.sort();
    b.sort();
    assert_eq!(a, b, "rasql over argus_%Y_%m_%d");
}

#[test]
fn sqlite_aggregates_like_racluster() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(files) = argus_files(tmp.path()) else {
        return;
    };
    let db = tmp.path().join("agg.db");
    let url = format!("sqlite://{}/bysaddr", db.display());
    let o = insert(
        &[
            "-m", "saddr", "proto", "-w", &url, "-s", "saddr", "proto", "spkts", "dpkts", "sbytes",
            "dbytes", "trans",
        ],
        &files,
    );
    assert!(o.status.success(), "rasqlinsert -m: {}", stderr(&o));
    let mut cmd = Command::new(RACLUSTER);
    cmd.env("TZ", "UTC")
        .args([
            "-X", "-n", "-c", ",", "-L", "-1", "-m", "saddr", "proto", "-r",
        ])
        .args(&files)
        .args([
            "-s", "saddr", "proto", "spkts", "dpkts", "sbytes", "dbytes", "trans",
        ]);
    let o = cmd.output().expect("racluster");
    assert!(o.status.success());
    let mut want: Vec<String> = text(&o).lines().map(str::to_string).collect();
    let conn = rusqlite::Connection::open(&db).expect("open db");
    let mut got: Vec<String> = conn
        .prepare("SELECT saddr, proto, spkts, dpkts, sbytes, dbytes, trans FROM bysaddr")
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok(format!(
                    "{},{},{},{},{},{},{}",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?
                ))
            })
            .and_then(|it| it.collect())
        })
        .expect("rows");
    want.sort();
    got.sort();
    assert!(want.len() > 10);
    assert_eq!(
        got, want,
        "rasqlinsert -m saddr proto = racluster -m saddr proto"
    );
}

#[test]
fn sqlite_schema_mismatch_and_bad_input() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(files) = argus_files(tmp.path()) else {
        return;
    };
    let files = &files[..1];
    let db = tmp.path().join("m.db");
    let url = format!("sqlite://{}/flows", db.display());
    let o = insert(
        &["-w", &url, "-s", "autoid", "stime", "saddr", "record"],
        files,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // The same list again appends.
    let o = insert(
        &["-w", &url, "-s", "autoid", "stime", "saddr", "record"],
        files,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Another list: exit 2 naming the table and both column lists; nothing written.
    let o = insert(&["-w", &url, "-s", "stime", "daddr", "record"], files);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("table flows exists with columns") && e.contains("daddr"),
        "message: {e}"
    );
    for (args, needle) in [
        (vec!["-w", "postgres://h/d/t"], "unknown database"),
        (vec!["-w", "sqlite:///nodir"], "file and table"),
        (
            vec!["-w", url.as_str(), "-s", "stime", "bogus"],
            "bogus: not a field",
        ),
        (
            vec!["-w", url.as_str(), "-m", "bogus"],
            "unknown aggregation key",
        ),
        (
            vec!["-w", url.as_str(), "-M", "time", "1d"],
            "no strftime conversion",
        ),
        (vec!["-r", "x"], "-w URL missing"),
    ] {
        let o = run(INSERT, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
    let o = run(RASQL, &["-r", &format!("sqlite://{}/nosuch", db.display())]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("no table nosuch"), "{}", stderr(&o));
}
