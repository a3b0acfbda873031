//! `cargo xtask perf-sql [--copies N] [--runs R]`: records per second that `rasqlinsert` loads
//! into SQLite, MariaDB and ClickHouse (servers started here from Debian's packages in temp
//! dirs on private ports, as tests/sql_servers.rs does), for the default column list and a
//! minimal one (`stime record`). Input: every corpus capture through our argus, the archive
//! read N times (default 35: about 200k records). Writes perf/sql.md. Timing only, no assertion.

use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NOTES: &str = "
How: the corpus captures (shared/pcaps) through our argus into one archive, read `--copies`
times by one `rasqlinsert -X -w URL -s FIELDS -r archive ...` run (wall time of the whole run,
reading and decoding included; best of `--runs`). Each run loads a new table. SQLite: a file
in /tmp, WAL, synchronous=NORMAL, one transaction per 2000 records. MariaDB 10.11 (Debian's,
started here, 256 MB buffer pool, durable commits: innodb_flush_log_at_trx_commit=1): one
multi-row INSERT per 2000 records over TCP. ClickHouse 18.16 (Debian's): one HTTP
`INSERT ... FORMAT RowBinary` per 50000 records into a MergeTree table partitioned by day.

Reading the numbers:
* the default list costs more than its column count: the text columns (srcid, flgs, proto,
  addresses, dir, state) are formatted by ra's printer for every record (their cost per
  record: the SQLite rows, default list against `stime record`);
* MariaDB is bound by the server (parsing the statement, InnoDB with a primary key);
* ClickHouse writes one part per partition (day) touched by each insert: the corpus spans 70
  days, so large batches matter (2000 records per insert: about 11k records/s; 50000: the
  figure above). A live stream covers one or two days per batch and does better;
* the load average above says how busy the machine was: with other work running, these are
  lower bounds.
";

const USAGE: &str = "usage: cargo xtask perf-sql [--copies N] [--runs R]";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn wait_port(port: u16, what: &str) -> Result<()> {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{what} did not start on port {port}")
}

fn mariadb(dir: &Path) -> Result<(Server, u16)> {
    let st = Command::new("mariadb-install-db")
        .args(["--no-defaults", "--user=root", "--skip-test-db"])
        .arg(format!("--datadir={}", dir.join("data").display()))
        .stdout(Stdio::null())
        .status()
        .context("mariadb-install-db (cargo xtask setup installs it)")?;
    if !st.success() {
        bail!("mariadb-install-db failed");
    }
    std::fs::write(
        dir.join("init.sql"),
        "CREATE USER IF NOT EXISTS 'argus'@'127.0.0.1' IDENTIFIED BY 'pw';\nGRANT ALL ON *.* TO 'argus'@'127.0.0.1';\n",
    )?;
    let port = free_port()?;
    let child = Command::new("/usr/sbin/mariadbd")
        .arg("--no-defaults")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .arg(format!("--socket={}", dir.join("sock").display()))
        .arg(format!("--pid-file={}", dir.join("pid").display()))
        .arg(format!("--log-error={}", dir.join("err.log").display()))
        .arg(format!("--init-file={}", dir.join("init.sql").display()))
        .arg(format!("--port={port}"))
        .args([
            "--bind-address=127.0.0.1",
            "--user=root",
            "--skip-name-resolve",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=256M",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start mariadbd")?;
    let s = Server(child);
    wait_port(port, "mariadbd")?;
    std::thread::sleep(Duration::from_millis(500));
    Ok((s, port))
}

fn clickhouse(dir: &Path) -> Result<(Server, u16)> {
    let (port, tcp) = (free_port()?, free_port()?);
    let d = dir.display();
    std::fs::write(
        dir.join("config.xml"),
        format!(
            "<?xml version=\"1.0\"?>\n<yandex>\n<logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog><console>0</console></logger>\n\
             <http_port>{port}</http_port><tcp_port>{tcp}</tcp_port><listen_host>127.0.0.1</listen_host>\n\
             <path>{d}/data/</path><tmp_path>{d}/tmp/</tmp_path><user_files_path>{d}/uf/</user_files_path>\n\
             <format_schema_path>{d}/fs/</format_schema_path><users_config>{d}/users.xml</users_config>\n\
             <default_profile>default</default_profile><default_database>default</default_database>\n\
             <mark_cache_size>5368709</mark_cache_size>\n</yandex>\n"
        ),
    )?;
    std::fs::write(
        dir.join("users.xml"),
        "<?xml version=\"1.0\"?>\n<yandex><profiles><default></default></profiles>\
         <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>\
         <quotas><default></default></quotas></yandex>\n",
    )?;
    let child = Command::new("/usr/sbin/clickhouse-server")
        .arg(format!(
            "--config-file={}",
            dir.join("config.xml").display()
        ))
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start clickhouse-server (cargo xtask setup installs it)")?;
    let s = Server(child);
    wait_port(port, "clickhouse-server")?;
    std::thread::sleep(Duration::from_millis(500));
    Ok((s, port))
}

/// One load: (records inserted, seconds).
fn load(bin: &Path, url: &str, fields: &[&str], archive: &Path, copies: u32) -> Result<(u64, f64)> {
    let mut cmd = Command::new(bin);
    cmd.env("TZ", "UTC")
        .args(["-X", "-w", url, "-s"])
        .args(fields)
        .arg("-r");
    for _ in 0..copies {
        cmd.arg(archive);
    }
    let t0 = Instant::now();
    let o = cmd.output().context("run rasqlinsert")?;
    let secs = t0.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&o.stderr);
    if !o.status.success() {
        bail!("rasqlinsert -w {url} failed: {err}");
    }
    let n = err
        .lines()
        .find_map(|l| l.strip_prefix("rasqlinsert: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Ok((n, secs))
}

pub fn run(args: &[String]) -> Result<()> {
    let (copies, runs) = crate::perf_clients::copies_and_runs(args, (35, 3), "perf-sql", USAGE)?;
    let root = crate::workspace_root();
    let bins: PathBuf = std::env::var_os("ARGUS_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release"));
    let bin = |n: &str| bins.join(n);
    if !bin("rasqlinsert").exists() {
        bail!(
            "{} missing: cargo build --release -p argus-user first",
            bin("rasqlinsert").display()
        );
    }
    let pcaps = std::env::var_os("ARGUS_PCAPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/pcaps"));
    let tmp = std::env::temp_dir().join(format!("argus-perf-sql-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let archive = tmp.join("corpus.argus");
    let mut all = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&pcaps)
        .with_context(|| format!("corpus {}", pcaps.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains(".pcap"))
        .collect();
    names.sort();
    for p in names {
        let o = Command::new(bin("argus"))
            .args(["-X", "-r"])
            .arg(&p)
            .args(["-w", "-"])
            .output()?;
        all.extend_from_slice(&o.stdout);
    }
    std::fs::write(&archive, &all)?;

    let default: Vec<&str> = vec![
        "autoid", "srcid", "stime", "ltime", "flgs", "proto", "saddr", "sport", "dir", "daddr",
        "dport", "spkts", "dpkts", "sbytes", "dbytes", "state", "record",
    ];
    let ch_default: Vec<&str> = default.iter().copied().filter(|f| *f != "autoid").collect();
    let minimal = vec!["stime", "record"];
    let (my_dir, ch_dir) = (tmp.join("mariadb"), tmp.join("clickhouse"));
    std::fs::create_dir_all(&my_dir)?;
    std::fs::create_dir_all(&ch_dir)?;
    let (_my, my_port) = mariadb(&my_dir)?;
    let (_ch, ch_port) = clickhouse(&ch_dir)?;
    let mut rows = String::new();
    let mut k = 0;
    for (engine, fields, label) in [
        ("sqlite", &default, "default (17 columns)"),
        ("sqlite", &minimal, "stime record"),
        ("mariadb", &default, "default (17 columns)"),
        ("mariadb", &minimal, "stime record"),
        ("clickhouse", &ch_default, "default (16 columns)"),
        ("clickhouse", &minimal, "stime record"),
    ] {
        let mut best = f64::MAX;
        let mut n = 0;
        for _ in 0..runs {
            k += 1;
            let url = match engine {
                "sqlite" => format!("sqlite://{}/t{k}", tmp.join(format!("p{k}.db")).display()),
                "mariadb" => format!("mysql://argus:pw@127.0.0.1:{my_port}/perf/t{k}"),
                _ => format!("clickhouse://127.0.0.1:{ch_port}/perf/t{k}"),
            };
            let (m, s) = load(&bin("rasqlinsert"), &url, fields, &archive, copies)?;
            n = m;
            best = best.min(s);
        }
        println!(
            "perf-sql: {engine} {label}: {n} records, best {best:.2} s, {:.0} records/s",
            n as f64 / best
        );
        writeln!(
            rows,
            "| {engine} | {label} | {n} | {best:.2} | {:.0} |",
            n as f64 / best
        )?;
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut md = String::new();
    writeln!(md, "# rasqlinsert: records per second into each database\n")?;
    writeln!(
        md,
        "Generated by `cargo xtask perf-sql --copies {copies} --runs {runs}` ({cpus} CPUs, load average at the end: {}).\n",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    )?;
    writeln!(
        md,
        "| database | columns | records | best of {runs} (s) | records/s |"
    )?;
    writeln!(md, "|---|---|---|---|---|")?;
    md.push_str(&rows);
    md.push_str(NOTES);
    let out = root.join("perf/sql.md");
    std::fs::write(&out, md)?;
    println!("perf-sql: wrote {}", out.display());
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
