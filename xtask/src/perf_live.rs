//! `cargo xtask perf live [--packets N] [--rates R1,R2,...]`
//!
//! Live capture under load, ours against Debian's argus (libpcap), on a veth pair between two
//! network namespaces this command creates and removes (root needed):
//!   1. a synthetic capture of N packets (default 300,000, 10,000 flows) from the same
//!      generator as `perf offline`;
//!   2. for each offered rate (packets/s; `max` = as fast as `argus-replay` can send) and each
//!      sensor: start the sensor on one end (`argus -X -i va -w FILE`), send the capture from
//!      the other end with `argus-replay --pps RATE`, stop the sensor with SIGTERM, and count
//!      the packets its flow records account for (`ra`), and its CPU time (from /proc);
//!   3. print the table and write it to `perf/live.md`.
//!
//! Our sensor runs once per XDP metadata delivery (`--xdp-meta area|header|user`, native mode)
//! and once on AF_PACKET. Its own set-up line and exit report (stderr) say which path ran; a
//! row whose sensor did not take the path it is labelled with fails the run, and a delivery
//! the kernel refuses is listed as refused, with the sensor's reason, instead of measured.
//!
//! On a 2-core machine the sender and the sensor share the cores, so the highest rates measure
//! the sender as much as the sensor: the table gives the rate the sender achieved.

use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NS_A: &str = "argPerfA";
const NS_B: &str = "argPerfB";

struct Netns;

impl Netns {
    fn new() -> Result<Netns> {
        let _ = Command::new("ip").args(["netns", "del", NS_A]).status();
        let _ = Command::new("ip").args(["netns", "del", NS_B]).status();
        for cmd in [
            vec!["ip", "netns", "add", NS_A],
            vec!["ip", "netns", "add", NS_B],
            vec![
                "ip", "link", "add", "va", "netns", NS_A, "type", "veth", "peer", "name", "vb",
                "netns", NS_B,
            ],
            vec![
                "ip",
                "netns",
                "exec",
                NS_A,
                "sysctl",
                "-qw",
                "net.ipv6.conf.va.disable_ipv6=1",
            ],
            vec![
                "ip",
                "netns",
                "exec",
                NS_B,
                "sysctl",
                "-qw",
                "net.ipv6.conf.vb.disable_ipv6=1",
            ],
            vec!["ip", "-n", NS_A, "link", "set", "va", "mtu", "3000", "up"],
            vec!["ip", "-n", NS_B, "link", "set", "vb", "mtu", "3000", "up"],
        ] {
            let st = Command::new(cmd[0]).args(&cmd[1..]).status()?;
            if !st.success() {
                bail!(
                    "{} failed (perf live needs root and iproute2)",
                    cmd.join(" ")
                );
            }
        }
        Ok(Netns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", NS_A]).status();
        let _ = Command::new("ip").args(["netns", "del", NS_B]).status();
    }
}

/// CPU seconds (user + system) of a process so far.
fn cpu_s(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = s.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = 100.0; // USER_HZ
    let v = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // fields after ')': state=0 ... utime=11 stime=12 (0-based)
    (v(11) + v(12)) / tick
}

/// Packets accounted for by the flow records of an argus file.
fn packets_in(ra: &Path, file: &Path) -> u64 {
    let out = Command::new(ra)
        .args([
            "-n", "-M", "noman", "-L", "-1", "-c", ",", "-s", "pkts", "-r",
        ])
        .arg(file)
        .output();
    out.map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.trim().parse::<u64>().ok())
            .sum()
    })
    .unwrap_or(0)
}

struct Row {
    sensor: String,
    /// The path, as the sensor's set-up line gives it (ours).
    path: Option<String>,
    offered: String,
    achieved_pps: f64,
    sent: u64,
    accounted: u64,
    cpu: f64,
}

/// Starts `sensor` with its stderr in `log`. `Ok(None)` when it exited during set-up (the log
/// says why).
fn start(sensor: &[String], out: &Path, log: &Path) -> Result<Option<Child>> {
    let _ = std::fs::remove_file(out);
    let err = std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
    let mut child = Command::new("ip")
        .args(["netns", "exec", NS_A])
        .args(sensor)
        .args(["-X", "-i", "va", "-w"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .context("start sensor")?;
    // Both sensors need well under a second to open their capture.
    std::thread::sleep(Duration::from_millis(1500));
    if child.try_wait()?.is_some() {
        return Ok(None);
    }
    Ok(Some(child))
}

/// What our sensor's stderr says of the path that ran: its set-up line (after `with `), and
/// the XDP program's exit report (after `XDP program in `), if any.
fn reported_path(log: &str) -> (Option<String>, Option<String>) {
    let setup = log.lines().find_map(|l| {
        l.split_once("capturing on va with ")
            .map(|x| x.1.to_string())
    });
    let xdp = log
        .lines()
        .find_map(|l| l.split_once("va: XDP program in ").map(|x| x.1.to_string()));
    (setup, xdp)
}

fn stop(mut c: Child) -> Result<f64> {
    std::thread::sleep(Duration::from_millis(1000));
    let cpu = cpu_s(c.id());
    // SAFETY: kill(2) of our own child.
    unsafe {
        libc::kill(c.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = c.kill();
            bail!("sensor did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(cpu)
}

pub fn live(root: &Path, pcap: &Path, rates: &[u64]) -> Result<()> {
    let dir = root.join("target/perf");
    let replay = root.join("target/release/argus-replay");
    let ours = root.join("target/release/argus");
    let ra: PathBuf = if Path::new("/usr/bin/ra").exists() {
        "/usr/bin/ra".into()
    } else {
        root.join("target/release/ra")
    };
    let o = ours.display().to_string();
    // (label, command, the path ours must report: XDP metadata delivery, or None: AF_PACKET)
    let mut sensors: Vec<(String, Vec<String>, Option<&str>)> = ["area", "header", "user"]
        .into_iter()
        .map(|d| {
            (
                format!("ours (XDP native + AF_XDP, metadata: {d})"),
                [
                    &o,
                    "--capture",
                    "xdp",
                    "--xdp-mode",
                    "native",
                    "--xdp-meta",
                    d,
                ]
                .map(String::from)
                .to_vec(),
                Some(d),
            )
        })
        .collect();
    sensors.push((
        "ours (AF_PACKET)".into(),
        vec![o, "--capture".into(), "afpacket".into()],
        None,
    ));
    if Path::new("/usr/sbin/argus").exists() {
        sensors.push((
            "Debian argus 3.0.8 (libpcap)".into(),
            vec!["/usr/sbin/argus".into()],
            None,
        ));
    } else {
        eprintln!("perf live: /usr/sbin/argus not installed, Debian's sensor skipped");
    }
    let _ns = Netns::new()?;
    let mut rows = Vec::new();
    // Deliveries the kernel refused: (label, the sensor's reason).
    let mut refused: Vec<(String, String)> = Vec::new();
    let log = dir.join("live.stderr");
    for &rate in rates {
        for (name, cmd, delivery) in &sensors {
            if refused.iter().any(|(n, _)| n == name) {
                continue;
            }
            let out = dir.join("live.argus");
            let Some(c) = start(cmd, &out, &log)? else {
                let why = std::fs::read_to_string(&log).unwrap_or_default();
                if delivery.is_some() && why.contains("loading the XDP program (verifier)") {
                    eprintln!("perf live: {name}: refused by this kernel: {}", why.trim());
                    refused.push((name.clone(), why.trim().to_string()));
                    continue;
                }
                bail!("{name} did not start: {}", why.trim());
            };
            let t0 = Instant::now();
            let r = Command::new("ip")
                .args(["netns", "exec", NS_B])
                .arg(&replay)
                .args(["-i", "vb", "-r"])
                .arg(pcap)
                .args([
                    "--pps",
                    &if rate == 0 { u64::MAX / 2 } else { rate }.to_string(),
                ])
                .output()
                .context("argus-replay")?;
            let secs = t0.elapsed().as_secs_f64();
            let text = String::from_utf8_lossy(&r.stdout).to_string();
            let sent: u64 = text
                .split_whitespace()
                .nth(1)
                .and_then(|x| x.parse().ok())
                .unwrap_or(0);
            let cpu = stop(c)?;
            let accounted = packets_in(&ra, &out);
            let is_ours = cmd[0].ends_with("release/argus");
            let path = if is_ours {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let (setup, xdp) = reported_path(&text);
                let setup = setup.with_context(|| format!("{name}: no set-up line: {text}"))?;
                match delivery {
                    Some(d) => {
                        let xdp = xdp.with_context(|| format!("{name}: no XDP report: {text}"))?;
                        if !xdp.starts_with(&format!("native (driver) mode with {d}:")) {
                            bail!("{name}: the sensor ran {xdp}");
                        }
                    }
                    None if !setup.starts_with("AF_PACKET") => {
                        bail!("{name}: the sensor ran {setup}")
                    }
                    None => {}
                }
                Some(setup)
            } else {
                None
            };
            let offered = if rate == 0 {
                "max".to_string()
            } else {
                format!("{rate}")
            };
            eprintln!(
                "perf live: {name} offered {offered}: sent {sent} in {secs:.2} s, accounted {accounted}, CPU {cpu:.2} s"
            );
            rows.push(Row {
                sensor: name.clone(),
                path,
                offered,
                achieved_pps: sent as f64 / secs,
                sent,
                accounted,
                cpu,
            });
        }
    }
    let mut md = String::new();
    let _ = writeln!(md, "# Live capture under load (`cargo xtask perf live`)\n");
    let _ = writeln!(
        md,
        "- date: {}\n- machine: {} CPUs\n- capture: `{}` replayed over a veth pair between two network namespaces with `argus-replay` (one `send` per frame)\n- accounted: packets in the sensor's flow records (`ra`), after SIGTERM; CPU: the sensor's user+system time during the run\n",
        chrono_now(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        pcap.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
    );
    let _ = writeln!(
        md,
        "| sensor | offered pps | achieved pps (sender) | sent | accounted | lost | CPU s |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    for r in &rows {
        let _ = writeln!(
            md,
            "| {} | {} | {:.0} | {} | {} | {} | {:.2} |",
            r.sensor,
            r.offered,
            r.achieved_pps,
            r.sent,
            r.accounted,
            r.sent.saturating_sub(r.accounted),
            r.cpu
        );
    }
    let _ = writeln!(
        md,
        "\nThe paths, as our sensor reported them (set-up line):\n"
    );
    let mut seen = Vec::new();
    for r in &rows {
        if let Some(p) = &r.path {
            if !seen.contains(&&r.sensor) {
                seen.push(&r.sensor);
                let _ = writeln!(md, "- {}: `{p}`", r.sensor);
            }
        }
    }
    for (name, why) in &refused {
        let _ = writeln!(
            md,
            "- {name}: not measured, this kernel refuses it: `{why}`"
        );
    }
    println!("{md}");
    std::fs::write(root.join("perf/live.md"), &md).context("write perf/live.md")?;
    eprintln!("perf: wrote {}", root.join("perf/live.md").display());
    Ok(())
}

fn chrono_now() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
