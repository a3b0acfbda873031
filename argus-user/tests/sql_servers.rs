//! `rasqlinsert`/`rasql` against real database servers that the tests start themselves from
//! Debian's packages (`cargo xtask setup` installs them), each in a temp dir on a private
//! 127.0.0.1 port, killed on drop (docs/database.md):
//!
//! * MariaDB: per-day tables, typed columns and sums as `ra` prints them, records read back by
//!   `rasql` identical for our `ra` and Debian's, a schema mismatch refused;
//! * faults: MariaDB killed and restarted, and stopped (SIGSTOP) and continued, in the middle
//!   of a load fed through a pipe: nothing lost within the buffer bound; beyond it exactly
//!   the excess is dropped, counted on stderr, exit 3;
//! * ClickHouse (HTTP interface, IPFIX column names): counts and sums checked with a query,
//!   records read back by `rasql`.

mod common;

use argus::record::decode::RecordReader;
use argus::record::{encode, Record};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const RA: &str = env!("CARGO_BIN_EXE_ra");
const INSERT: &str = env!("CARGO_BIN_EXE_rasqlinsert");
const RASQL: &str = env!("CARGO_BIN_EXE_rasql");
const DEBIAN_RA: &str = "/usr/bin/ra";
const MARIADBD: &str = "/usr/sbin/mariadbd";
const INSTALL_DB: &str = "/usr/bin/mariadb-install-db";
const CLICKHOUSE: &str = "/usr/sbin/clickhouse-server";

const PCAPS: &[&str] = &[
    "206_example_b.pcap",
    "kday3.pcap",
    "dhcpv4v6-rfc5970-rfc8572.pcap",
    "test.pcap",
    "wikipedia.pcap",
    "icmp.pcap",
];

fn argus_files(dir: &Path) -> Option<Vec<PathBuf>> {
    common::corpus_argus_files("sql_servers", dir, PCAPS)
}

fn run(prog: &str, args: &[String]) -> Output {
    Command::new(prog)
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap_or_else(|e| panic!("run {prog}: {e}"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ra_lines(ra: &str, files: &[PathBuf], fields: &[&str]) -> Vec<String> {
    let o = Command::new(ra)
        .env("TZ", "UTC")
        .args(["-X", "-n", "-u", "-c", ",", "-L", "-1", "-M", "noman", "-r"])
        .args(files)
        .arg("-s")
        .args(fields)
        .output()
        .expect("run ra");
    assert!(o.status.success(), "{ra}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Sums of spkts, dpkts, sbytes, dbytes and the record count, as our ra prints them.
fn ra_sums(files: &[PathBuf]) -> [u64; 5] {
    let mut s = [0u64; 5];
    for l in ra_lines(RA, files, &["spkts", "dpkts", "sbytes", "dbytes"]) {
        for (i, v) in l.split(',').enumerate().take(4) {
            s[i] += v.trim().parse::<u64>().expect("number");
        }
        s[4] += 1;
    }
    s
}

fn wait_port(port: u16, what: &str, log: &Path) {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "{what} did not listen on port {port}: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on the pid of a child we started and still own.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

/// A MariaDB server of our own: datadir in a temp dir, user `argus`/`pw` on 127.0.0.1:port.
struct Mariadb {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Mariadb {
    /// None (after a loud SKIPPED line) when MariaDB is not installed.
    fn start(test: &str) -> Option<Mariadb> {
        if !common::have_reference(test, &[MARIADBD, INSTALL_DB]) {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        // Its own temporary directory: two servers sharing the system's (the default) collide
        // on their `#sql-temptable-*` files, and mariadb-install-db then aborts.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).expect("tmpdir");
        let o = Command::new(INSTALL_DB)
            .args(["--no-defaults", "--user=root", "--skip-test-db"])
            .arg(format!("--datadir={}", dir.path().join("data").display()))
            // Passed on to the bootstrap server.
            .arg(format!("--tmpdir={}", tmp.display()))
            .env("TMPDIR", &tmp)
            .output()
            .expect("run mariadb-install-db");
        assert!(
            o.status.success(),
            "mariadb-install-db: {}{}",
            String::from_utf8_lossy(&o.stdout),
            stderr(&o)
        );
        std::fs::write(
            dir.path().join("init.sql"),
            "CREATE USER IF NOT EXISTS 'argus'@'127.0.0.1' IDENTIFIED BY 'pw';\n\
             GRANT ALL ON *.* TO 'argus'@'127.0.0.1';\n",
        )
        .expect("init.sql");
        let mut m = Mariadb {
            dir,
            port: common::free_port(),
            child: None,
        };
        m.run();
        Some(m)
    }

    /// Starts (or restarts) the server on the same datadir and port.
    fn run(&mut self) {
        let d = self.dir.path();
        let child = Command::new(MARIADBD)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", d.join("data").display()))
            .arg(format!("--socket={}", d.join("sock").display()))
            .arg(format!("--tmpdir={}", d.join("tmp").display()))
            .env("TMPDIR", d.join("tmp"))
            .arg(format!("--pid-file={}", d.join("pid").display()))
            .arg(format!("--log-error={}", d.join("err.log").display()))
            .arg(format!("--init-file={}", d.join("init.sql").display()))
            .arg(format!("--port={}", self.port))
            .args([
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=64M",
                "--innodb-flush-log-at-trx-commit=2",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        self.child = Some(child);
        wait_port(self.port, "mariadbd", &d.join("err.log"));
        // The init file runs before the server accepts connections; a login proves it.
        let t0 = Instant::now();
        while self.conn().is_none() {
            assert!(t0.elapsed() < Duration::from_secs(30), "cannot log in");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self, db: &str, table: &str) -> String {
        format!("mysql://argus:pw@127.0.0.1:{}/{db}/{table}", self.port)
    }

    fn conn(&self) -> Option<mysql::Conn> {
        let opts = mysql::OptsBuilder::new()
            .ip_or_hostname(Some("127.0.0.1"))
            .tcp_port(self.port)
            .user(Some("argus"))
            .pass(Some("pw"))
            .prefer_socket(false);
        mysql::Conn::new(opts).ok()
    }

    fn query<T: mysql::prelude::FromRow>(&self, q: &str) -> Vec<T> {
        use mysql::prelude::Queryable;
        let mut c = self.conn().expect("connect to mariadb");
        c.query(q).unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    /// Waits until `table` holds `n` rows (panics after `secs`).
    fn wait_count(&self, db: &str, table: &str, n: u64, secs: u64) {
        let t0 = Instant::now();
        let mut last = 0;
        while t0.elapsed() < Duration::from_secs(secs) {
            if let Some(mut c) = self.conn() {
                use mysql::prelude::Queryable;
                if let Ok(Some(k)) =
                    c.query_first::<u64, _>(format!("SELECT count(*) FROM {db}.{table}"))
                {
                    last = k;
                    if k == n {
                        return;
                    }
                    assert!(k < n, "{table}: {k} rows, more than the {n} sent");
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{table}: {last} rows after {secs} s, expected {n}");
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            signal(c, libc::SIGCONT);
        }
        self.kill();
    }
}

#[test]
fn mariadb_tables_per_day_and_read_back() {
    let Some(db) = Mariadb::start("mariadb_tables_per_day_and_read_back") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(files) = argus_files(tmp.path()) else {
        return;
    };
    let url = db.url("argusdb", "argus_%Y_%m_%d");
    // -X: no rc file, as the ra it is compared with (RA_PORT_DIRECTION orients records).
    let mut args: Vec<String> = [
        "-X", "-M", "time", "1d", "-m", "none", "-w", &url, "-s", "autoid", "srcid", "stime",
        "ltime", "proto", "saddr", "sport", "daddr", "dport", "spkts", "dpkts", "sbytes", "dbytes",
        "state", "record", "-r",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(files.iter().map(|f| f.display().to_string()));
    let o = run(INSERT, &args);
    assert!(o.status.success(), "rasqlinsert: {}", stderr(&o));

    let tables: Vec<String> = db.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'argusdb' ORDER BY table_name",
    );
    assert!(tables.len() >= 6, "one table per day: {tables:?}");
    let (mut n, mut sums) = (0u64, [0u64; 4]);
    for t in &tables {
        let rows: Vec<(u64, u64, u64, u64, u64, String, String)> = db.query(&format!(
            "SELECT count(*), sum(spkts), sum(dpkts), sum(sbytes), sum(dbytes), \
             DATE_FORMAT(FROM_UNIXTIME(min(stime)), 'argus_%Y_%m_%d'), \
             DATE_FORMAT(FROM_UNIXTIME(max(stime)), 'argus_%Y_%m_%d') FROM argusdb.{t}"
        ));
        let r = &rows[0];
        n += r.0;
        for (s, v) in sums.iter_mut().zip([r.1, r.2, r.3, r.4]) {
            *s += v;
        }
        assert_eq!((&r.5, &r.6), (t, t), "records of {t} start on its day");
    }
    let want = ra_sums(&files);
    assert_eq!(
        [sums[0], sums[1], sums[2], sums[3], n],
        want,
        "sums and count"
    );
    // Typed columns.
    let types: Vec<(String, String)> = db.query(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'argusdb' \
         AND table_name = (SELECT min(table_name) FROM information_schema.tables WHERE table_schema = 'argusdb')",
    );
    for (c, t) in [
        ("autoid", "bigint"),
        ("stime", "double"),
        ("sport", "bigint"),
        ("saddr", "varchar"),
        ("record", "mediumblob"),
    ] {
        assert!(
            types.iter().any(|(a, b)| a == c && b == t),
            "{c} {t}: {types:?}"
        );
    }

    // Read back: every ra prints the same records.
    let back = tmp.path().join("back.argus");
    let o = run(
        RASQL,
        &[
            "-r".into(),
            url.clone(),
            "-w".into(),
            back.display().to_string(),
        ],
    );
    assert!(o.status.success(), "rasql: {}", stderr(&o));
    let show = [
        "stime", "ltime", "flgs", "proto", "saddr", "sport", "dir", "daddr", "dport", "spkts",
        "dpkts", "sbytes", "dbytes", "state",
    ];
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let back_v = vec![back];
    assert_eq!(
        sorted(ra_lines(RA, &back_v, &show)),
        sorted(ra_lines(RA, &files, &show))
    );
    if common::have_reference("mariadb_tables_per_day_and_read_back", &[DEBIAN_RA]) {
        assert_eq!(
            sorted(ra_lines(DEBIAN_RA, &back_v, &show)),
            sorted(ra_lines(DEBIAN_RA, &files, &show))
        );
    }
    // Another field list into the same tables is refused.
    let mut args: Vec<String> = [
        "-M", "time", "1d", "-w", &url, "-s", "stime", "record", "-r",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(files[0].display().to_string());
    let o = run(INSERT, &args);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("exists with columns"), "{}", stderr(&o));
}

/// The records of `files` (flows only) encoded one by one, and the init MAR to start a stream.
fn encoded_records(files: &[PathBuf]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut mar = Vec::new();
    let mut recs = Vec::new();
    for f in files {
        let r = RecordReader::new(std::fs::File::open(f).expect("open"));
        for rec in r.flatten() {
            let mut b = Vec::new();
            encode::encode(&rec, &mut b);
            match rec {
                Record::Mar(_) if mar.is_empty() => mar = b,
                Record::Flow(_) => recs.push(b),
                _ => {}
            }
        }
    }
    (mar, recs)
}

/// rasqlinsert loading from a pipe (`-r -`) with `args`, the MAR already written; records go
/// in with [`Loader::send`].
struct Loader {
    child: Child,
    pipe: std::process::ChildStdin,
}

impl Loader {
    fn start(args: &[&str], mar: &[u8]) -> Loader {
        let mut child = Command::new(INSERT)
            .env("TZ", "UTC")
            .args(args)
            .args(["-r", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rasqlinsert");
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(mar).expect("write");
        Loader { child, pipe }
    }

    /// The next `n` records of `recs`, flushed.
    fn send<'a>(&mut self, recs: &mut impl Iterator<Item = &'a Vec<u8>>, n: u64) {
        for _ in 0..n {
            self.pipe
                .write_all(recs.next().expect("records"))
                .expect("write");
        }
        self.pipe.flush().expect("flush");
    }

    /// Closes the pipe and waits for rasqlinsert to end.
    fn finish(self) -> Output {
        drop(self.pipe);
        self.child.wait_with_output().expect("wait rasqlinsert")
    }
}

#[test]
fn mariadb_down_and_stalled_mid_load() {
    let Some(mut db) = Mariadb::start("mariadb_down_and_stalled_mid_load") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(files) = argus_files(tmp.path()) else {
        return;
    };
    let (mar, recs) = encoded_records(&files);
    assert!(!recs.is_empty());
    let mut next = recs.iter().cycle();
    const BOUND: u64 = 50;
    let url = db.url("faults", "flows");
    let bound = BOUND.to_string();
    let mut load = Loader::start(
        &[
            "-w",
            &url,
            "-s",
            "autoid",
            "stime",
            "saddr",
            "record",
            "--buffer",
            &bound,
            "--stall",
            "1",
            "--retry-for",
            "30",
        ],
        &mar,
    );
    let mut sent = 0;
    // 1. Healthy.
    load.send(&mut next, 100);
    sent += 100;
    db.wait_count("faults", "flows", sent, 30);
    // 2. Killed, records within the bound arrive, restarted: nothing lost.
    db.kill();
    load.send(&mut next, BOUND - 10);
    sent += BOUND - 10;
    std::thread::sleep(Duration::from_millis(1500));
    db.run();
    db.wait_count("faults", "flows", sent, 30);
    // 3. Stopped (a slow database): within the bound, nothing lost.
    signal(db.child.as_ref().expect("server"), libc::SIGSTOP);
    load.send(&mut next, BOUND - 10);
    sent += BOUND - 10;
    std::thread::sleep(Duration::from_millis(2500));
    signal(db.child.as_ref().expect("server"), libc::SIGCONT);
    db.wait_count("faults", "flows", sent, 30);
    // 4. Killed, 30 records more than the bound: exactly those are dropped and counted.
    db.kill();
    load.send(&mut next, BOUND + 30);
    std::thread::sleep(Duration::from_millis(1500));
    db.run();
    db.wait_count("faults", "flows", sent + BOUND, 30);
    let out = load.finish();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "exit 3 when records were lost: {err}"
    );
    assert!(
        err.contains(&format!(
            "{} records inserted into {url}; 30 lost (30 dropped with the buffer full, 0 not written at exit)",
            sent + BOUND,
            url = url.replace(":pw@", ":***@")
        )),
        "report: {err}"
    );
    assert!(err.contains("database error, retrying"), "{err}");
    assert!(err.contains("buffer full"), "{err}");
    db.wait_count("faults", "flows", sent + BOUND, 5);
}

/// A ClickHouse server of our own (config in a temp dir, HTTP on a private port).
struct ClickHouse {
    _dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl ClickHouse {
    fn start(test: &str) -> Option<ClickHouse> {
        if !common::have_reference(test, &[CLICKHOUSE]) {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let port = common::free_port();
        let tcp = common::free_port();
        let config = format!(
            r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog><console>0</console></logger>
  <http_port>{port}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709</mark_cache_size>
</yandex>
"#,
            d = d.display()
        );
        let users = r#"<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
"#;
        std::fs::write(d.join("config.xml"), config).expect("config");
        std::fs::write(d.join("users.xml"), users).expect("users");
        let child = spawn_clickhouse(d, port);
        Some(ClickHouse {
            _dir: dir,
            port,
            child,
        })
    }

    /// Kills the server and starts it again on the same data and port.
    fn restart_after(&mut self, down: Duration) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(down);
        self.child = spawn_clickhouse(self._dir.path(), self.port);
    }

    fn count(&self, table: &str) -> u64 {
        self.query(&format!("SELECT count() FROM {table}"))
            .parse()
            .unwrap_or(0)
    }

    fn query(&self, q: &str) -> String {
        let url =
            argus::sql::DbUrl::parse(&format!("clickhouse://127.0.0.1:{}/default/x", self.port))
                .expect("url");
        let ch = argus::sql::clickhouse::ClickHouse::new(&url);
        let t0 = Instant::now();
        loop {
            match ch.request(q, &[]) {
                Ok(b) => return String::from_utf8_lossy(&b).trim().to_string(),
                Err(e) if t0.elapsed() > Duration::from_secs(20) => panic!("{q}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }
}

fn spawn_clickhouse(d: &Path, port: u16) -> Child {
    std::fs::create_dir_all(d.join("tmp")).expect("tmp dir");
    let child = Command::new(CLICKHOUSE)
        .arg(format!("--config-file={}", d.join("config.xml").display()))
        .env("TMPDIR", d.join("tmp"))
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start clickhouse-server");
    wait_port(port, "clickhouse-server", &d.join("error.log"));
    child
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn clickhouse_counts_and_sums() {
    let Some(ch) = ClickHouse::start("clickhouse_counts_and_sums") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(files) = argus_files(tmp.path()) else {
        return;
    };
    ch.query("SELECT 1");
    let url = format!("clickhouse://127.0.0.1:{}/argus/flows", ch.port);
    // -X: no rc file, as the ra it is compared with (RA_PORT_DIRECTION orients records).
    let mut args: Vec<String> = [
        "-X", "-w", &url, "--batch", "500", "-s", "srcid", "stime", "ltime", "dur", "proto",
        "saddr", "sport", "daddr", "dport", "spkts", "dpkts", "sbytes", "dbytes", "state",
        "record", "-r",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(files.iter().map(|f| f.display().to_string()));
    let o = run(INSERT, &args);
    assert!(o.status.success(), "rasqlinsert: {}", stderr(&o));
    let cols = ch.query(
        "SELECT name, type FROM system.columns WHERE database = 'argus' AND table = 'flows' FORMAT TabSeparated",
    );
    for c in [
        "observationDomainId\tUInt32",
        "flowStartMilliseconds\tUInt64",
        "flowEndMilliseconds\tUInt64",
        "protocolIdentifier\tUInt8",
        "sourceIPv4Address\tString",
        "sourceIPv6Address\tString",
        "sourceTransportPort\tUInt16",
        "destinationIPv4Address\tString",
        "destinationTransportPort\tUInt16",
        "packetDeltaCount\tUInt64",
        "reversePacketDeltaCount\tUInt64",
        "octetDeltaCount\tUInt64",
        "reverseOctetDeltaCount\tUInt64",
        "record\tString",
    ] {
        assert!(cols.lines().any(|l| l == c), "column {c} in:\n{cols}");
    }
    let got = ch.query(
        "SELECT sum(packetDeltaCount), sum(reversePacketDeltaCount), sum(octetDeltaCount), \
         sum(reverseOctetDeltaCount), count() FROM argus.flows FORMAT TabSeparated",
    );
    let got: Vec<u64> = got
        .split('\t')
        .map(|v| v.parse().expect("number"))
        .collect();
    assert_eq!(got, ra_sums(&files).to_vec(), "sums and count");
    // Per protocol and address family, against ra's lines.
    let lines = ra_lines(RA, &files, &["proto", "saddr", "sbytes"]);
    let tcp_v4: u64 = lines
        .iter()
        .filter(|l| l.starts_with("tcp,") && !l.split(',').nth(1).unwrap_or("").contains(':'))
        .map(|l| {
            l.rsplit(',')
                .next()
                .unwrap_or("0")
                .parse::<u64>()
                .unwrap_or(0)
        })
        .sum();
    let q = ch.query(
        "SELECT sum(octetDeltaCount) FROM argus.flows WHERE protocolIdentifier = 6 AND sourceIPv4Address != ''",
    );
    assert_eq!(
        q.parse::<u64>().expect("sum"),
        tcp_v4,
        "TCP over IPv4 bytes"
    );
    let first = ch.query(
        "SELECT toString(toDateTime(intDiv(min(flowStartMilliseconds), 1000))) FROM argus.flows",
    );
    let want_first = ra_lines(RA, &files, &["stime"])
        .iter()
        .map(|s| s.trim().parse::<f64>().expect("stime") as i64)
        .min()
        .expect("records");
    let want_first = chrono::DateTime::from_timestamp(want_first, 0)
        .expect("time")
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    assert_eq!(first, want_first, "earliest flowStartMilliseconds");
    // rasql reads the records back.
    let back = tmp.path().join("back.argus");
    let o = run(
        RASQL,
        &[
            "-r".into(),
            url.clone(),
            "-w".into(),
            back.display().to_string(),
        ],
    );
    assert!(o.status.success(), "rasql: {}", stderr(&o));
    let show = [
        "stime", "ltime", "proto", "saddr", "sport", "daddr", "dport", "pkts", "bytes", "state",
    ];
    let mut a = ra_lines(RA, &[back], &show);
    let mut b = ra_lines(RA, &files, &show);
    a.sort();
    b.sort();
    assert_eq!(a, b, "rasql from ClickHouse");
}

#[test]
fn clickhouse_restarted_mid_load() {
    let Some(mut ch) = ClickHouse::start("clickhouse_restarted_mid_load") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(files) = argus_files(tmp.path()) else {
        return;
    };
    ch.query("SELECT 1");
    let (mar, recs) = encoded_records(&files);
    let mut next = recs.iter().cycle();
    let url = format!("clickhouse://127.0.0.1:{}/faults/flows", ch.port);
    let mut load = Loader::start(
        &[
            "-w",
            &url,
            "-s",
            "stime",
            "saddr",
            "sbytes",
            "record",
            "--batch",
            "20",
            "--buffer",
            "1000",
            "--retry-for",
            "30",
        ],
        &mar,
    );
    load.send(&mut next, 200);
    let t0 = Instant::now();
    while ch.count("faults.flows") < 200 {
        assert!(t0.elapsed() < Duration::from_secs(30), "first 200 records");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Down for a second while 300 more records arrive: all of them are kept and loaded.
    let _ = ch.child.kill();
    let _ = ch.child.wait();
    load.send(&mut next, 300);
    ch.restart_after(Duration::from_secs(1));
    let out = load.finish();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "rasqlinsert: {err}");
    assert!(
        err.contains("500 records inserted") && err.contains("0 lost"),
        "{err}"
    );
    assert!(err.contains("database error, retrying"), "{err}");
    assert_eq!(ch.count("faults.flows"), 500);
}
