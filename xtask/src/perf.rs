//! `cargo xtask perf offline [--packets N] [--flows F] [--seed S] [--runs R]`
//!
//! Offline throughput of the sensor against Debian's argus 3.0.8 on the same synthetic capture:
//!   1. generate `target/perf/synthetic-v<gen>-<N>p-<F>f-s<S>.pcap` with the argus-bench
//!      generator (`synth-pcap`, built in release), reused when already there;
//!   2. `cargo build --release -p argus-user`;
//!   3. time (wall clock around the whole process, best of R runs, output file deleted before
//!      each run) our `target/release/argus -r X -w target/perf/ours-*.argus` with the default
//!      worker count and with `--workers 1`, and `/usr/sbin/argus -r X -w target/perf/debian.argus`
//!      (skipped, with a message, when not installed);
//!   4. count the records each wrote with `/usr/bin/ra -n -M noman` (or our `ra` when Debian's
//!      is missing) so the table shows both did the same work;
//!   5. print the table and write it as markdown to `perf/offline.md`.
//!
//! Builds use the workspace's default target directory (CARGO_TARGET_DIR is ignored) so the
//! binaries timed are `target/release/*`.
use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const DEBIAN_ARGUS: &str = "/usr/sbin/argus";
const DEBIAN_RA: &str = "/usr/bin/ra";
/// Debian argus 3.0.8 sleeps about a second before it exits after `-r` input ends.
const DEBIAN_EXIT_DELAY_S: f64 = 1.0;
/// Must match argus_bench::GENERATOR_VERSION (named in the capture file so a generator change
/// never reuses a stale capture; synth-pcap prints its version and we check it).
const GENERATOR_VERSION: u32 = 1;

const USAGE: &str = "\
usage: cargo xtask perf offline [--packets N] [--flows F] [--seed S] [--runs R]
       cargo xtask perf live [--packets N] [--flows F] [--rates R1,R2,..]
       cargo xtask perf clients [--copies N] [--runs R]
  offline   time our argus (default workers and --workers 1) and Debian's /usr/sbin/argus on a
            synthetic capture (default 2000000 packets, 100000 flows, seed 1, best of 3 runs);
            writes perf/offline.md
  live      offer a synthetic capture (default 300000 packets, 10000 flows) over a veth pair at
            each rate (packets/s, 0 = as fast as the sender can; default 50000,100000,200000,0)
            to our argus -i and Debian's; packets accounted and CPU; writes perf/live.md (root)
  clients   ra with filters, racluster and rasort, ours against Debian's, on the synthetic
            capture's records concatenated N times (default 4, best of 3); writes perf/clients.md";

pub fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("offline") => offline(&args[1..]),
        Some("live") => live(&args[1..]),
        Some("clients") => {
            let root = crate::workspace_root();
            let dir = root.join("target/perf");
            std::fs::create_dir_all(&dir)?;
            let (pcap, _) = ensure_capture(&root, &dir, &parse(&[])?)?;
            cargo(&root, &["build", "--release", "-p", "argus-user"])?;
            crate::perf_clients::clients(&root, &pcap, &args[1..])
        }
        Some("-h" | "--help" | "help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("perf: unknown scenario `{other}`\n{USAGE}"),
    }
}

struct Opts {
    packets: u64,
    flows: u32,
    seed: u64,
    runs: u32,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        packets: 2_000_000,
        flows: 100_000,
        seed: 1,
        runs: 3,
    };
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let val = args
            .get(i + 1)
            .with_context(|| format!("perf offline: {flag} needs a value\n{USAGE}"))?;
        match flag {
            "--packets" => o.packets = val.parse().context("--packets")?,
            "--flows" => o.flows = val.parse().context("--flows")?,
            "--seed" => o.seed = val.parse().context("--seed")?,
            "--runs" => o.runs = val.parse().context("--runs")?,
            _ => bail!("perf offline: unknown argument `{flag}`\n{USAGE}"),
        }
        i += 2;
    }
    if o.packets == 0 || o.flows == 0 || o.runs == 0 {
        bail!("perf offline: --packets, --flows and --runs must be positive");
    }
    Ok(o)
}

fn cargo(root: &Path, args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("perf: cargo {}", args.join(" "));
    let st = Command::new(cargo)
        .args(args)
        .current_dir(root)
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .context("running cargo")?;
    if !st.success() {
        bail!("cargo {} failed ({st})", args.join(" "));
    }
    Ok(())
}

/// key=value statistics of a generated capture (the generator's stdout, kept beside it).
#[derive(Default)]
struct CapStats {
    packets: u64,
    bytes: u64,
    file_bytes: u64,
    flows: u64,
    span_us: u64,
}

fn parse_stats(s: &str) -> CapStats {
    let mut c = CapStats::default();
    for line in s.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v: u64 = v.trim().parse().unwrap_or(0);
        match k {
            "packets" => c.packets = v,
            "bytes" => c.bytes = v,
            "file_bytes" => c.file_bytes = v,
            "flows" => c.flows = v,
            "span_us" => c.span_us = v,
            _ => {}
        }
    }
    c
}

fn ensure_capture(root: &Path, dir: &Path, o: &Opts) -> Result<(PathBuf, CapStats)> {
    let name = format!(
        "synthetic-v{GENERATOR_VERSION}-{}p-{}f-s{}.pcap",
        o.packets, o.flows, o.seed
    );
    let pcap = dir.join(&name);
    let stats_path = dir.join(format!("{name}.stats"));
    if pcap.exists() && stats_path.exists() {
        let st = parse_stats(&std::fs::read_to_string(&stats_path)?);
        let len = std::fs::metadata(&pcap)?.len();
        if st.packets == o.packets && st.file_bytes == len {
            eprintln!("perf: reusing {}", pcap.display());
            return Ok((pcap, st));
        }
    }
    cargo(
        root,
        &[
            "build",
            "--release",
            "-p",
            "argus-bench",
            "--bin",
            "synth-pcap",
        ],
    )?;
    let tmp = dir.join(format!("{name}.tmp"));
    let out = Command::new(root.join("target/release/synth-pcap"))
        .arg(&tmp)
        .args(["--packets", &o.packets.to_string()])
        .args(["--flows", &o.flows.to_string()])
        .args(["--seed", &o.seed.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .context("running synth-pcap")?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&tmp);
        bail!("synth-pcap failed ({})", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !text.contains(&format!("generator_version={GENERATOR_VERSION}\n")) {
        bail!("synth-pcap reports another generator version than xtask expects ({GENERATOR_VERSION}); update GENERATOR_VERSION in xtask/src/perf.rs");
    }
    std::fs::rename(&tmp, &pcap)?;
    std::fs::write(&stats_path, &text)?;
    Ok((pcap, parse_stats(&text)))
}

struct Tool {
    name: String,
    cmd: PathBuf,
    args: Vec<String>,
    out: PathBuf,
    /// Subtract this from wall time for the "excluding exit delay" row.
    exit_delay: f64,
}

struct Timing {
    best: f64,
    /// user + system CPU seconds of the best run.
    cpu: f64,
    all: Vec<f64>,
    records: Option<u64>,
    out_bytes: u64,
}

/// Read the capture once so that every tool's runs find it in the page cache (otherwise the
/// first tool timed pays for the disk, and a machine short of memory may evict it between
/// tools).
fn warm_page_cache(pcap: &Path) -> Result<()> {
    let mut f = std::fs::File::open(pcap).with_context(|| format!("open {}", pcap.display()))?;
    std::io::copy(&mut f, &mut std::io::sink()).context("read capture")?;
    Ok(())
}

fn time_tool(t: &Tool, pcap: &Path, runs: u32) -> Result<Timing> {
    let mut all = Vec::new();
    let mut cpu_best = 0.0;
    for r in 0..runs {
        warm_page_cache(pcap)?;
        let _ = std::fs::remove_file(&t.out);
        let mut c = Command::new(&t.cmd);
        c.args(&t.args)
            .arg("-r")
            .arg(pcap)
            .arg("-w")
            .arg(&t.out)
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let cpu0 = children_cpu();
        let start = Instant::now();
        let out = c
            .output()
            .with_context(|| format!("running {}", t.cmd.display()))?;
        let secs = start.elapsed().as_secs_f64();
        let cpu = children_cpu() - cpu0;
        if !out.status.success() {
            bail!(
                "{} failed ({}): {}",
                t.name,
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        eprintln!(
            "perf: {:<28} run {}: {:.3} s wall, {:.3} s CPU",
            t.name,
            r + 1,
            secs,
            cpu
        );
        if all.iter().all(|&b| secs < b) {
            cpu_best = cpu;
        }
        all.push(secs);
    }
    let best = all.iter().cloned().fold(f64::INFINITY, f64::min);
    let out_bytes = std::fs::metadata(&t.out).map(|m| m.len()).unwrap_or(0);
    Ok(Timing {
        best,
        cpu: cpu_best,
        all,
        records: None,
        out_bytes,
    })
}

/// User + system CPU seconds of all waited-for children so far.
fn children_cpu() -> f64 {
    // SAFETY: getrusage only writes the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Flow records in an argus file, counted as `ra -n -M noman` lines (MARs not printed).
fn count_records(ra: &Path, file: &Path) -> Option<u64> {
    let out = Command::new(ra)
        .args(["-n", "-M", "noman", "-r"])
        .arg(file)
        .env("TZ", "UTC")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(out.stdout.iter().filter(|&&b| b == b'\n').count() as u64)
}

fn first_line_of(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn live(args: &[String]) -> Result<()> {
    let mut rates = vec![50_000, 100_000, 200_000, 0];
    let mut rest = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--rates" {
            let v = args.get(i + 1).context("--rates needs a list")?;
            rates = v
                .split(',')
                .map(|x| x.trim().parse::<u64>())
                .collect::<Result<_, _>>()
                .context("--rates: numbers separated by commas")?;
            i += 2;
        } else {
            rest.push(args[i].clone());
            i += 1;
        }
    }
    let mut o = parse(&rest)?;
    if !rest.iter().any(|a| a == "--packets") {
        o.packets = 300_000;
    }
    if !rest.iter().any(|a| a == "--flows") {
        o.flows = 10_000;
    }
    let root = crate::workspace_root();
    let dir = root.join("target/perf");
    std::fs::create_dir_all(&dir)?;
    let (pcap, _) = ensure_capture(&root, &dir, &o)?;
    cargo(&root, &["build", "--release", "-p", "argus-user"])?;
    crate::perf_live::live(&root, &pcap, &rates)
}

fn offline(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let root = crate::workspace_root();
    let dir = root.join("target/perf");
    std::fs::create_dir_all(&dir)?;

    let (pcap, cap) = ensure_capture(&root, &dir, &o)?;
    cargo(&root, &["build", "--release", "-p", "argus-user"])?;
    let ours_bin = root.join("target/release/argus");
    let ours_ra = root.join("target/release/ra");

    let default_workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(4);
    let mut tools = vec![
        Tool {
            name: format!("ours (default, {default_workers} workers)"),
            cmd: ours_bin.clone(),
            args: vec![],
            out: dir.join("ours-default.argus"),
            exit_delay: 0.0,
        },
        Tool {
            name: "ours (--workers 1)".into(),
            cmd: ours_bin,
            args: vec!["--workers".into(), "1".into()],
            out: dir.join("ours-w1.argus"),
            exit_delay: 0.0,
        },
    ];
    let have_debian = Path::new(DEBIAN_ARGUS).exists();
    if have_debian {
        tools.push(Tool {
            name: "Debian argus 3.0.8".into(),
            cmd: DEBIAN_ARGUS.into(),
            args: vec![],
            out: dir.join("debian.argus"),
            exit_delay: DEBIAN_EXIT_DELAY_S,
        });
    } else {
        eprintln!("perf: {DEBIAN_ARGUS} is not installed (apt-get install argus-server): skipping the Debian comparison");
    }
    let ra: Option<PathBuf> = if Path::new(DEBIAN_RA).exists() {
        Some(DEBIAN_RA.into())
    } else if ours_ra.exists() {
        Some(ours_ra)
    } else {
        None
    };

    let mut timings = Vec::new();
    for t in &tools {
        let mut tm = time_tool(t, &pcap, o.runs)?;
        tm.records = ra.as_ref().and_then(|ra| count_records(ra, &t.out));
        let _ = std::fs::remove_file(&t.out);
        timings.push(tm);
    }

    // ---- table
    let debian_wall = have_debian.then(|| timings.last().unwrap().best);
    let mut rows: Vec<Row> = Vec::new();
    for (t, tm) in tools.iter().zip(&timings) {
        rows.push((
            t.name.clone(),
            tm.best,
            Some(tm.cpu),
            tm.records,
            tm.out_bytes,
            runs_str(&tm.all),
        ));
        if t.exit_delay > 0.0 {
            rows.push((
                format!(
                    "{} excluding fixed {:.0} s exit delay",
                    t.name, t.exit_delay
                ),
                (tm.best - t.exit_delay).max(1e-3),
                None,
                tm.records,
                tm.out_bytes,
                String::from("-"),
            ));
        }
    }
    let debian_excl = debian_wall.map(|w| (w - DEBIAN_EXIT_DELAY_S).max(1e-3));
    let mut md = String::new();
    let date = first_line_of("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let nproc = first_line_of("nproc", &[]);
    writeln!(md, "# Offline throughput: ours vs Debian argus 3.0.8\n")?;
    writeln!(
        md,
        "Figures come from `cargo xtask perf offline --packets {} --flows {} --seed {} --runs {}` \
         (this file is overwritten by each run; see docs/perf.md).\n",
        o.packets, o.flows, o.seed, o.runs
    )?;
    writeln!(md, "- date: {date}")?;
    writeln!(md, "- machine: {nproc} CPUs (`nproc`), {}", cpu_model())?;
    writeln!(
        md,
        "- capture: `{}`: {} packets, {} flows, {:.1} s of packet time, {:.1} MB of frames, file {} bytes",
        pcap.file_name().unwrap().to_string_lossy(),
        cap.packets,
        cap.flows,
        cap.span_us as f64 / 1e6,
        cap.bytes as f64 / 1e6,
        cap.file_bytes
    )?;
    writeln!(
        md,
        "- method: wall clock around the whole process (`-r capture -w file`, file deleted before each run), best of {} runs; records counted with `{} -n -M noman` (flow records, MARs not printed)\n",
        o.runs,
        ra.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "(no ra found)".into())
    )?;
    writeln!(
        md,
        "| tool | wall s | packets/s | Mbit/s | speedup vs Debian | speedup vs Debian excl. 1 s exit delay | CPU s (user+sys) | records | output bytes | runs, wall s |"
    )?;
    writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")?;
    for (name, wall, cpu, records, out_bytes, runs) in &rows {
        let pps = cap.packets as f64 / wall;
        let mbps = cap.bytes as f64 * 8.0 / wall / 1e6;
        let sp = |base: Option<f64>| {
            base.map(|b| format!("{:.2}x", b / wall))
                .unwrap_or_else(|| "n/a".into())
        };
        writeln!(
            md,
            "| {} | {:.3} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} |",
            name,
            wall,
            pps,
            mbps,
            sp(debian_wall),
            sp(debian_excl),
            cpu.map(|c| format!("{c:.3}")).unwrap_or_else(|| "-".into()),
            records.map(|r| r.to_string()).unwrap_or_else(|| "?".into()),
            out_bytes,
            runs
        )?;
    }
    if !have_debian {
        writeln!(md, "\n{DEBIAN_ARGUS} was not installed: no comparison.")?;
    }
    writeln!(
        md,
        "\nDebian argus 3.0.8 waits about 1 s before exiting once its input is read; its first row \
         is the wall time as measured, the row \"excluding fixed 1 s exit delay\" subtracts it. \
         The speedup columns divide Debian's wall time (as measured, or with 1 s subtracted) by \
         each row's. Record counts should match between tools (same flows, same status \
         intervals); a difference is a modelling difference, not a timing one."
    )?;
    print!("{md}");
    let out_md = root.join("perf/offline.md");
    std::fs::create_dir_all(out_md.parent().unwrap())?;
    std::fs::write(&out_md, &md)?;
    eprintln!("perf: wrote {}", out_md.display());
    Ok(())
}

/// tool, wall s, CPU s, records, output bytes, all runs.
type Row = (String, f64, Option<f64>, Option<u64>, u64, String);

fn runs_str(all: &[f64]) -> String {
    all.iter()
        .map(|s| format!("{s:.3}"))
        .collect::<Vec<_>>()
        .join(", ")
}
