//! The sensor's filter (`argus -r pcap -w out - EXPR`), evaluated on packets before flow
//! tracking, against the record filter: for expressions whose packet and record meanings agree
//! (protocol classes, undirected hosts/nets/ports), the filtered sensor must write exactly the
//! records of the unfiltered sensor that Debian's `ra - EXPR` selects (or, for keywords Debian's
//! ra lacks, the records whose protocol column says so). Records are printed by Debian's ra on
//! both sides, without the sequence number (a filtered sensor numbers fewer flows).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const ARGUS: &str = env!("CARGO_BIN_EXE_argus");
const RA: &str = "/usr/bin/ra";
const FIELDS: &[&str] = &[
    "stime", "ltime", "flgs", "proto", "saddr", "sport", "dir", "daddr", "dport", "spkts", "dpkts",
    "sbytes", "dbytes", "state",
];

/// What the unfiltered records are selected with.
enum Sel {
    /// Debian's ra with this expression.
    Debian(&'static str),
    /// Debian's printed protocol column is one of these (keywords Debian's ra lacks).
    Proto(&'static [&'static str]),
    /// Debian's printed source address is not an IP address.
    NonIp,
}

fn cases() -> Vec<(&'static str, Sel)> {
    use Sel::*;
    vec![
        ("udp", Debian("udp")),
        ("tcp and port 80", Debian("tcp and port 80")),
        ("arp", Debian("arp")),
        ("ospf", Debian("proto ospf")),
        ("icmp or icmp6", Debian("icmp or proto ipv6-icmp")),
        ("loop", Debian("ether proto 0x9000")),
        ("llc", Proto(&["llc"])),
        // Non-IP records print MACs or IS-IS ids as addresses (RARP records too).
        ("not ip and not arp", NonIp),
        ("host 172.16.11.1", Debian("host 172.16.11.1")),
        (
            "net 10.0.0.0/8 or net 192.168.0.0/16",
            Debian("net 10.0.0.0/8 or net 192.168.0.0/16"),
        ),
        ("port 1-1023 and ip6", Debian("ipv6 and ( port 1-1023 )")),
    ]
}

fn print(file: &Path, expr: Option<&str>) -> Vec<String> {
    let mut c = Command::new(RA);
    c.arg("-r")
        .arg(file)
        .args([
            "-n", "-u", "-p", "6", "-c", ",", "-M", "noman", "-L", "-1", "-s",
        ])
        .args(FIELDS)
        .env("TZ", "UTC");
    if let Some(e) = expr {
        c.arg("-").arg(e);
    }
    let o = c.output().expect("run ra");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn argus(pcap: &Path, out: &Path, expr: Option<&str>) -> std::process::Output {
    let _ = std::fs::remove_file(out);
    let mut c = Command::new(ARGUS);
    c.args(["-X", "-r"]).arg(pcap).arg("-w").arg(out);
    if let Some(e) = expr {
        c.arg("-").arg(e);
    }
    c.output().expect("run argus")
}

fn corpus() -> Option<Vec<PathBuf>> {
    let dir = common::corpus_dir()?;
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains(".pcap"))
        .collect();
    v.sort();
    Some(v)
}

#[test]
fn sensor_filter_keeps_exactly_the_selected_flows() {
    if !Path::new(RA).exists() {
        if common::require() {
            panic!("Debian ra missing but ARGUS_REQUIRE_REFERENCE=1");
        }
        eprintln!("\n*** SKIPPED filter_sensor: {RA} not installed ***\n");
        return;
    }
    let Some(pcaps) = corpus() else {
        if common::require() {
            panic!("corpus missing");
        }
        eprintln!("\n*** SKIPPED filter_sensor: no corpus ***\n");
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases = cases();
    let mut failures = Vec::new();
    let mut compared = 0usize;
    let mut per_case = vec![0usize; cases.len()];
    for (n, pcap) in pcaps.iter().enumerate() {
        let all = tmp.path().join(format!("all{n}.argus"));
        let o = argus(pcap, &all, None);
        if o.status.code() == Some(1) || !all.exists() {
            continue;
        }
        let unfiltered = print(&all, None);
        for (i, (expr, sel)) in cases.iter().enumerate() {
            let out = tmp.path().join(format!("f{n}_{i}.argus"));
            let o = argus(pcap, &out, Some(expr));
            assert_ne!(
                o.status.code(),
                Some(1),
                "argus - {expr}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            // The exit line counts what the filter rejected: a filter and its complement
            // reject every packet between them, once.
            if i == 0 {
                let not = tmp.path().join(format!("n{n}.argus"));
                let o2 = argus(pcap, &not, Some(&format!("not ({expr})")));
                let (r1, p1) = rejected(&o.stderr).expect("exit line with the rejected packets");
                let (r2, p2) = rejected(&o2.stderr).expect("exit line with the rejected packets");
                assert_eq!(p1, p2, "{}: packets modelled", pcap.display());
                assert_eq!(
                    r1 + r2,
                    p1,
                    "{}: '{expr}' and its complement reject every packet once",
                    pcap.display()
                );
            }
            let got = print(&out, None);
            let want: Vec<String> = match sel {
                Sel::Debian(e) => print(&all, Some(e)),
                Sel::Proto(names) => unfiltered
                    .iter()
                    .filter(|l| names.contains(&l.split(',').nth(3).unwrap_or("").trim()))
                    .cloned()
                    .collect(),
                Sel::NonIp => unfiltered
                    .iter()
                    .filter(|l| {
                        let sa = l.split(',').nth(4).unwrap_or("").trim();
                        // RARP flows print MACs too, and "arp" selects them.
                        let proto = l.split(',').nth(3).unwrap_or("").trim();
                        sa.parse::<std::net::IpAddr>().is_err() && proto != "rarp"
                    })
                    .cloned()
                    .collect(),
            };
            compared += want.len().max(got.len());
            per_case[i] += got.len();
            if got != want {
                failures.push(format!(
                    "{} - {expr}: sensor wrote {} records, selection has {}",
                    pcap.display(),
                    got.len(),
                    want.len()
                ));
            }
        }
    }
    for ((expr, _), n) in cases.iter().zip(&per_case) {
        eprintln!("{expr:45} {n} records");
        assert!(*n > 0, "{expr}: the corpus should have such traffic");
    }
    eprintln!(
        "filter_sensor: {} expressions x {} captures, {compared} records compared, {} differences",
        cases.len(),
        pcaps.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// (rejected, modelled packets) from the sensor's `filter: R of M packets rejected (...)` line.
fn rejected(stderr: &[u8]) -> Option<(u64, u64)> {
    let text = String::from_utf8_lossy(stderr);
    let l = text.lines().find(|l| l.starts_with("argus: filter: "))?;
    let w: Vec<&str> = l.split_whitespace().collect();
    Some((w.get(2)?.parse().ok()?, w.get(4)?.parse().ok()?))
}

/// A bad filter, or one naming a record-only field, stops the sensor before it reads anything,
/// with the offset in the message.
#[test]
fn bad_sensor_filters_stop_the_sensor() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out.argus");
    for (expr, want) in [
        ("udp and dur lt 1", "offset 8 near 'dur'"),
        ("tcp and", "offset 7"),
        ("rate gt 5", "offset 0 near 'rate'"),
        ("host 1.2.3", "offset 5 near '1.2.3'"),
    ] {
        let o = argus(Path::new("/dev/null"), &out, Some(expr));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{expr}: {err}");
        assert!(err.contains(want), "{expr}: want '{want}' in: {err}");
        assert!(!out.exists(), "{expr}: nothing written");
    }
}
