//! `rafilteraddr -f LIST [-v]` (docs/clients.md): every list form (addresses, CIDR, netmask
//! forms, ranges, comments, IPv6), independence from line order, ARP flows, `-v`, bad lines
//! (FILE:LINE, exit 2), `-w`; and agreement with Debian's rafilteraddr over the corpus for
//! lists where Debian is right, with the documented differences where it is not (ARP flows
//! never matched, a prefix after a more specific entry lost, netmask and IPv6 lines ignored).
//!
//! The oracle for our selection is independent of our code: the address columns printed by
//! our `ra` (checked against Debian's ra by tests/filter_compat.rs and ra_compat.rs), matched
//! against the list by a small matcher written here.

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

const RA: &str = env!("CARGO_BIN_EXE_ra");
const OURS: &str = env!("CARGO_BIN_EXE_rafilteraddr");
const DEBIAN: &str = "/usr/bin/rafilteraddr";
const FIELDS: &[&str] = &[
    "seq", "stime", "ltime", "pkts", "bytes", "proto", "saddr", "daddr",
];

/// test.pcap of the corpus through our argus (37 flows: IPv4, IPv6, ARP, IS-IS, ...), or the
/// bundled sample when the corpus is missing.
fn small() -> &'static (tempfile::TempDir, PathBuf, bool) {
    static S: OnceLock<(tempfile::TempDir, PathBuf, bool)> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("test.argus");
        let corpus = common::corpus_dir()
            .map(|d| d.join("test.pcap"))
            .filter(|p| p.exists());
        let is_test = corpus.is_some();
        let pcap = corpus.unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/wikipedia.pcap")
        });
        common::argus_file(&pcap, &out);
        (dir, out, is_test)
    })
}

/// Every corpus capture through our argus, concatenated (None without the corpus).
fn corpus() -> &'static Option<(tempfile::TempDir, PathBuf)> {
    static S: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();
    S.get_or_init(|| {
        let dir = common::corpus_dir()?;
        let mut pcaps: Vec<PathBuf> = std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().contains(".pcap"))
            .collect();
        pcaps.sort();
        let tmp = tempfile::tempdir().expect("tempdir");
        let q = Arc::new(Mutex::new(
            pcaps.into_iter().enumerate().collect::<Vec<_>>(),
        ));
        let outs = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (q, outs, d) = (q.clone(), outs.clone(), tmp.path().to_path_buf());
                std::thread::spawn(move || loop {
                    let Some((i, p)) = q.lock().expect("queue").pop() else {
                        break;
                    };
                    let out = d.join(format!("{i:03}.argus"));
                    common::argus_file(&p, &out);
                    outs.lock().expect("outs").push((i, out));
                })
            })
            .collect();
        for t in threads {
            t.join().expect("argus thread");
        }
        let mut outs = std::mem::take(&mut *outs.lock().expect("outs"));
        outs.sort();
        let mut all = Vec::new();
        for (_, o) in &outs {
            all.extend(std::fs::read(o).unwrap_or_default());
        }
        let path = tmp.path().join("all.argus");
        std::fs::write(&path, all).expect("write all");
        Some((tmp, path))
    })
}

struct Out {
    code: Option<i32>,
    lines: Vec<String>,
    err: String,
}

fn run(bin: &str, list: &Path, file: &Path, extra: &[&str]) -> Out {
    // A filter (`- EXPR` in `extra`) goes last: it takes the rest of the command line.
    let (opts, filter) = match extra.iter().position(|a| *a == "-") {
        Some(k) => (&extra[..k], &extra[k..]),
        None => (extra, &[][..]),
    };
    let o = Command::new(bin)
        .arg("-f")
        .arg(list)
        .args(opts)
        .arg("-r")
        .arg(file)
        .args(["-n", "-u", "-p", "6", "-c", ",", "-L", "-1", "-s"])
        .args(FIELDS)
        .args(filter)
        .env("TZ", "UTC")
        .output()
        .expect("run rafilteraddr");
    Out {
        code: o.status.code(),
        // Debian prints a trailing space.
        lines: String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| l.trim_end().to_string())
            .collect(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn ours(list: &Path, file: &Path, extra: &[&str]) -> Vec<String> {
    let o = run(OURS, list, file, extra);
    assert_eq!(o.code, Some(0), "rafilteraddr {extra:?}: {}", o.err);
    o.lines
}

fn debian(list: &Path, file: &Path, extra: &[&str]) -> Vec<String> {
    let o = run(DEBIAN, list, file, extra);
    // Debian exits 1 when nothing was selected.
    assert!(
        o.code == Some(0) || o.code == Some(1),
        "Debian rafilteraddr: {}",
        o.err
    );
    o.lines
}

/// All flow lines of our ra (no MARs, as rafilteraddr prints none).
fn all_flows(file: &Path) -> Vec<String> {
    let o = Command::new(RA)
        .arg("-r")
        .arg(file)
        .args([
            "-n", "-u", "-p", "6", "-c", ",", "-L", "-1", "-M", "noman", "-s",
        ])
        .args(FIELDS)
        .env("TZ", "UTC")
        .output()
        .expect("ra");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// (IPv6, first, last): an address range of the test's own matcher.
type Range = (bool, u128, u128);

/// The test's own matcher: (first, last) address ranges per family, as u128.
fn in_list(ranges: &[Range], a: &str) -> bool {
    match a.parse::<IpAddr>() {
        Ok(IpAddr::V4(v)) => {
            let x = u32::from(v) as u128;
            ranges.iter().any(|&(v6, lo, hi)| !v6 && lo <= x && x <= hi)
        }
        Ok(IpAddr::V6(v)) => {
            let x = u128::from(v);
            ranges.iter().any(|&(v6, lo, hi)| v6 && lo <= x && x <= hi)
        }
        Err(_) => false,
    }
}

fn v4(a: &str) -> u128 {
    u32::from(a.parse::<std::net::Ipv4Addr>().expect("v4")) as u128
}

fn v6(a: &str) -> u128 {
    u128::from(a.parse::<std::net::Ipv6Addr>().expect("v6"))
}

/// The lines of `all` whose saddr or daddr (columns 7, 8) is in `ranges` (or neither, `-v`).
fn expect(all: &[String], ranges: &[Range], invert: bool) -> Vec<String> {
    all.iter()
        .filter(|l| {
            let c: Vec<&str> = l.split(',').collect();
            let hit = in_list(ranges, c[6]) || in_list(ranges, c[7]);
            hit != invert
        })
        .cloned()
        .collect()
}

fn is_arp(l: &str) -> bool {
    l.split(',').nth(5) == Some("arp")
}

fn write_list(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write list");
    p
}

#[test]
fn list_forms_and_order() {
    let (dir, file, is_test) = small();
    if !is_test {
        eprintln!("\n*** SKIPPED list_forms_and_order: corpus test.pcap missing ***\n");
        if common::require() {
            panic!("corpus missing");
        }
        return;
    }
    let all = all_flows(file);
    assert_eq!(all.len(), 37);
    let net = [(false, v4("172.16.11.0"), v4("172.16.11.255"))];
    let want = expect(&all, &net, false);
    // 23 IP flows and the ARP flow (Debian's rafilteraddr skips ARP: 23).
    assert_eq!(want.len(), 24);
    assert_eq!(want.iter().filter(|l| is_arp(l)).count(), 1);
    for (k, text) in [
        "172.16.11.0/24\n",
        "172.16.11/24\n",
        "172.16.11.0 255.255.255.0\n",
        "172.16.11.0/255.255.255.0\n",
        "172.16.11.0-172.16.11.255\n",
        "# comment\n\n  172.16.11.0/25   # first half\n172.16.11.128/25 label words\n",
        // Order does not matter: the more specific entries first (Debian loses the /24).
        "172.16.11.1\n172.16.11.0/24\n",
        "172.16.11.99\n172.16.11.0/24\n",
        "172.16.11.16/28\n172.16.11.0/24\n",
        "172.16.11.0/24\n172.16.11.1\n",
    ]
    .iter()
    .enumerate()
    {
        let l = write_list(dir.path(), &format!("l{k}"), text);
        assert_eq!(ours(&l, file, &[]), want, "list {text:?}");
    }
    // A wider prefix after a host outside it (Debian: 10.99.99.99 then 10.0.0.0/8 gives 0).
    let l = write_list(dir.path(), "l10", "10.99.99.99\n10.0.0.0/8\n");
    let want10 = expect(
        &all,
        &[(false, v4("10.0.0.0"), v4("10.255.255.255"))],
        false,
    );
    assert_eq!(want10.len(), 2);
    assert_eq!(ours(&l, file, &[]), want10);
    // A host: only the flows with it (ARP included).
    let l = write_list(dir.path(), "host", "172.16.11.1\n");
    let h = expect(
        &all,
        &[(false, v4("172.16.11.1"), v4("172.16.11.1"))],
        false,
    );
    assert!(h.iter().any(|l| is_arp(l)));
    assert_eq!(ours(&l, file, &[]), h);
    // -v: exactly the others (non-IP flows included: they have no address in the list).
    let l = write_list(dir.path(), "v", "172.16.11.0/24\n");
    assert_eq!(ours(&l, file, &["-v"]), expect(&all, &net, true));
    // With a filter and -N, as in ra.
    let tcp: Vec<String> = want
        .iter()
        .filter(|l| l.contains(",tcp,"))
        .cloned()
        .collect();
    assert_eq!(ours(&l, file, &["-", "tcp"]), tcp);
    let mut first3 = ours(&l, file, &["-N", "3"]);
    assert_eq!(first3.len(), 3);
    first3.truncate(3);
    assert_eq!(first3, want[..3].to_vec());

    if !common::have_reference("list_forms_and_order", &[DEBIAN]) {
        return;
    }
    // Debian: right for the plain /24 except ARP; wrong for the order and netmask cases.
    let no_arp: Vec<String> = want.iter().filter(|l| !is_arp(l)).cloned().collect();
    let l = write_list(dir.path(), "d0", "172.16.11.0/24\n");
    assert_eq!(debian(&l, file, &[]), no_arp);
    let l = write_list(dir.path(), "d1", "172.16.11.1\n172.16.11.0/24\n");
    let d = debian(&l, file, &[]);
    assert!(
        d.len() < no_arp.len(),
        "Debian's ordering bug is gone? {} lines",
        d.len()
    );
    let l = write_list(dir.path(), "d2", "172.16.11.0/255.255.255.0\n");
    assert!(
        debian(&l, file, &[]).is_empty(),
        "Debian now honours netmasks?"
    );
}

#[test]
fn ipv6_lists() {
    let (dir, file, is_test) = small();
    if !is_test {
        return;
    }
    let all = all_flows(file);
    let v6flows: Vec<&String> = all
        .iter()
        .filter(|l| {
            l.split(',')
                .nth(6)
                .is_some_and(|a| a.contains(':') && a.parse::<IpAddr>().is_ok())
        })
        .collect();
    assert!(!v6flows.is_empty(), "test.pcap has IPv6 flows");
    let lo = v6("2001:4958:15a0:24::");
    let r = [(true, lo, lo | ((1u128 << 64) - 1))];
    let want = expect(&all, &r, false);
    assert!(!want.is_empty());
    let l = write_list(dir.path(), "v6", "2001:4958:15a0:24::/64\n");
    assert_eq!(ours(&l, file, &[]), want);
    // A v6 host given exactly, and a v6 range.
    let c: Vec<&str> = want[0].split(',').collect();
    let host = if c[6].contains(':') { c[6] } else { c[7] };
    let l = write_list(dir.path(), "v6h", &format!("{host}\n"));
    let hw = expect(&all, &[(true, v6(host), v6(host))], false);
    assert_eq!(ours(&l, file, &[]), hw);
    let l = write_list(
        dir.path(),
        "v6r",
        &format!("{host}-{host}\n10.255.255.255\n"),
    );
    assert_eq!(ours(&l, file, &[]), hw);
    if common::have_reference("ipv6_lists", &[DEBIAN]) {
        let l = write_list(dir.path(), "d6", "2001:4958:15a0:24::/64\n");
        assert!(
            debian(&l, file, &[]).is_empty(),
            "Debian now reads IPv6 lines?"
        );
    }
}

#[test]
fn bad_lines_are_errors() {
    let (dir, file, _) = small();
    for (k, (text, line)) in [
        ("10.0.0.0/8\n10.0.0.300\n", 2),
        ("# c\n10.0.0.0/33\n", 2),
        ("10.0.0.9-10.0.0.1\n", 1),
        ("10.0.0.0 255.0.255.0\n", 1),
        ("\n\nwww.example.com\n", 3),
        ("2001:db8::/129\n", 1),
    ]
    .iter()
    .enumerate()
    {
        let l = write_list(dir.path(), &format!("bad{k}"), text);
        let o = run(OURS, &l, file, &[]);
        assert_eq!(o.code, Some(2), "{text:?}");
        assert!(o.lines.is_empty(), "nothing printed for a bad list");
        let at = format!("rafilteraddr: {}:{line}: ", l.display());
        assert!(o.err.starts_with(&at), "{text:?}: {}", o.err);
    }
    // Missing list file / missing -f.
    let o = run(OURS, Path::new("/nonexistent/list"), file, &[]);
    assert_eq!(o.code, Some(2));
    assert!(o.err.contains("/nonexistent/list"), "{}", o.err);
    let o = Command::new(OURS)
        .arg("-r")
        .arg(file)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn write_selected_records() {
    let (dir, file, _) = small();
    let all = all_flows(file);
    let l = write_list(dir.path(), "w", "0.0.0.0/1\n");
    let want = expect(&all, &[(false, 0, v4("127.255.255.255"))], false);
    let out = dir.path().join("sel.argus");
    let _ = std::fs::remove_file(&out);
    let st = Command::new(OURS)
        .arg("-f")
        .arg(&l)
        .arg("-r")
        .arg(file)
        .arg("-w")
        .arg(&out)
        .status()
        .expect("run");
    assert!(st.success());
    assert_eq!(all_flows(&out), want);
}

#[test]
fn corpus_agrees_with_debian() {
    let Some((dir, file)) = corpus() else {
        if common::require() {
            panic!("corpus missing");
        }
        eprintln!("\n*** SKIPPED corpus_agrees_with_debian: no corpus ***\n");
        return;
    };
    let all = all_flows(file);
    assert!(all.len() > 3000, "{} flows", all.len());
    let deb = common::have_reference("corpus_agrees_with_debian", &[DEBIAN]);
    // Lists where Debian is right (no entry inside another, IPv4 CIDR/hosts/ranges).
    let cases: &[(&str, Vec<Range>)] = &[
        (
            "10.0.0.0/8\n",
            vec![(false, v4("10.0.0.0"), v4("10.255.255.255"))],
        ),
        (
            "192.168.0.0/16\n172.16.0.0/12\n",
            vec![
                (false, v4("192.168.0.0"), v4("192.168.255.255")),
                (false, v4("172.16.0.0"), v4("172.31.255.255")),
            ],
        ),
        (
            "8.8.8.8\n224.0.0.0/4\n",
            vec![
                (false, v4("8.8.8.8"), v4("8.8.8.8")),
                (false, v4("224.0.0.0"), v4("239.255.255.255")),
            ],
        ),
        (
            "192.168.1.0-192.168.1.100\n",
            vec![(false, v4("192.168.1.0"), v4("192.168.1.100"))],
        ),
    ];
    for (k, (text, ranges)) in cases.iter().enumerate() {
        let l = write_list(dir.path(), &format!("c{k}"), text);
        let want = expect(&all, ranges, false);
        assert!(!want.is_empty(), "{text:?} selects something");
        let got = ours(&l, file, &[]);
        assert_eq!(got, want, "{text:?}");
        let inv = ours(&l, file, &["-v"]);
        assert_eq!(inv, expect(&all, ranges, true), "-v {text:?}");
        if deb {
            // Debian never matches ARP flows: equal on everything else. Compared without the
            // address columns: Debian prints IPv6 ESP flows with the destination as source
            // and takes one TCP flow's direction from stale state (docs/ra.md), in ra too.
            let strip = |v: &[String]| -> Vec<String> {
                v.iter()
                    .filter(|l| !is_arp(l))
                    .map(|l| l.split(',').take(6).collect::<Vec<_>>().join(","))
                    .collect()
            };
            assert_eq!(
                strip(&debian(&l, file, &[])),
                strip(&got),
                "Debian, {text:?}"
            );
            assert_eq!(
                strip(&debian(&l, file, &["-v"])),
                strip(&inv),
                "Debian -v, {text:?}"
            );
        }
    }
    // A range Debian gets wrong: 192.168.1.1-192.168.1.100 loses its last address (while
    // .0-.100 and .64-.100 keep it): Debian lacks exactly the flows of 192.168.1.100.
    let l = write_list(dir.path(), "r1", "192.168.1.1-192.168.1.100\n");
    let want = expect(
        &all,
        &[(false, v4("192.168.1.1"), v4("192.168.1.100"))],
        false,
    );
    assert_eq!(ours(&l, file, &[]), want);
    if deb {
        let last = [(false, v4("192.168.1.100"), v4("192.168.1.100"))];
        let others = [(false, v4("192.168.1.1"), v4("192.168.1.99"))];
        let lost: Vec<String> = want
            .iter()
            .filter(|l| !is_arp(l))
            .filter(|l| {
                let c: Vec<&str> = l.split(',').collect();
                (in_list(&last, c[6]) || in_list(&last, c[7]))
                    && !(in_list(&others, c[6]) || in_list(&others, c[7]))
            })
            .cloned()
            .collect();
        assert!(!lost.is_empty());
        let d = debian(&l, file, &[]);
        let kept: Vec<String> = want
            .iter()
            .filter(|l| !is_arp(l) && !lost.contains(l))
            .map(|l| l.split(',').take(6).collect::<Vec<_>>().join(","))
            .collect();
        let d: Vec<String> = d
            .iter()
            .filter(|l| !is_arp(l))
            .map(|l| l.split(',').take(6).collect::<Vec<_>>().join(","))
            .collect();
        assert_eq!(d, kept, "Debian's range 192.168.1.1-192.168.1.100");
    }
    // IPv6 on the corpus: ours selects by the v6 addresses (Debian selects nothing).
    let l = write_list(dir.path(), "v6", "fe80::/10\n");
    let want = expect(
        &all,
        &[(
            true,
            v6("fe80::"),
            v6("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        )],
        false,
    );
    assert!(!want.is_empty());
    assert_eq!(ours(&l, file, &[]), want);
}
