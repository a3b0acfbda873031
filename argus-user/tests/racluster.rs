//! `racluster [-m KEYS]` (docs/clients.md, "racluster"): against Debian's racluster 3.0.8 over
//! the corpus for several key sets (the default flow key, `saddr`, `daddr/24`, `proto`,
//! `saddr daddr`) on the columns both print, sorted; the documented differences asserted as
//! ours (ARP flows kept under `-m saddr`, flows oriented as `ra` shows them); `-m none` keeps
//! every record unchanged, as Debian's does; `-w` output read back by Debian's ra; a bad `-m`
//! key is exit 2.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const ARGUS: &str = env!("CARGO_BIN_EXE_argus");
const RA: &str = env!("CARGO_BIN_EXE_ra");
const OURS: &str = env!("CARGO_BIN_EXE_racluster");
const DEBIAN: &str = "/usr/bin/racluster";
const DEBIAN_RA: &str = "/usr/bin/ra";
const FIELDS: &[&str] = &[
    "stime", "ltime", "saddr", "daddr", "proto", "sport", "dport", "pkts", "bytes", "spkts",
    "dpkts", "sbytes", "dbytes", "trans",
];
const KEYS: &[&[&str]] = &[
    &[],
    &["-m", "saddr"],
    &["-m", "daddr/24"],
    &["-m", "proto"],
    &["-m", "saddr", "daddr"],
];
/// Captures where Debian's racluster is known to print something else (docs/clients.md):
/// SYN-ACK-only flows not turned with a changed key (missing-syn), IPv6 flows between one
/// address (::1, never merged by argus either) and LastTime not the latest (quic, loopback,
/// icmp6-nd-options), 802.11 and IS-IS keys merged on other fields (wpa-Induction, ISIS),
/// and a capture of mis-decoded garbage (mpls-6in6-broken).
const KNOWN: &[&str] = &[
    "missing-syn.pcap",
    "quic_handshake_truncated.pcap",
    "test_loopback.pcap",
    "icmp6-nd-options.pcap",
    "wpa-Induction.pcap",
    "ISIS_level1_adjacency.pcap",
    "mpls-6in6-broken.pcap",
    // Timestamps that jump back and forth by days (and a frame stamped 0): Debian's racluster
    // takes a group's times from records whose last time is before their start in a way we
    // have not modelled (docs/compat.md). Compared since ra agrees on them.
    "babel_update_oobr.pcap",
    "kday3.pcap",
    // A frame captured with 0 bytes, stamped 4026531839 s, in a record whose last time is 0:
    // accounted since 2026-12-08 (argus reads such frames from its buffer), merged as above.
    "bgp_vpn_rt-oobr.pcap",
    // A group's last time: Debian's racluster gives 13.217211 for 141.142.220.226 under
    // `-m saddr` where the latest record ends at 13.475401 (on Debian's own records too);
    // not yet modelled (docs/compat.md).
    "wikipedia.pcap",
];

/// Every corpus capture through our argus, one argus file each (None without the corpus).
type Corpus = Option<(tempfile::TempDir, Vec<(String, PathBuf)>)>;

fn corpus() -> &'static Corpus {
    static S: OnceLock<Corpus> = OnceLock::new();
    S.get_or_init(|| {
        let dir = common::corpus_dir()?;
        let mut pcaps: Vec<PathBuf> = std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().contains(".pcap"))
            .collect();
        pcaps.sort();
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut out = Vec::new();
        for p in pcaps {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            let f = tmp.path().join(format!("{name}.argus"));
            let st = Command::new(ARGUS)
                .args(["-X", "-r"])
                .arg(&p)
                .arg("-w")
                .arg(&f)
                .output()
                .expect("run argus");
            if f.exists() && st.status.code() != Some(101) {
                out.push((name, f));
            }
        }
        Some((tmp, out))
    })
}

/// The corpus file `name`, or the bundled sample when the corpus is missing.
fn one(name: &str) -> PathBuf {
    if let Some((_, files)) = corpus() {
        if let Some((_, f)) = files.iter().find(|(n, _)| n == name) {
            return f.clone();
        }
    }
    let tmp = std::env::temp_dir().join(format!("racluster-test-{}.argus", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/wikipedia.pcap");
    Command::new(ARGUS)
        .args(["-X", "-r"])
        .arg(pcap)
        .arg("-w")
        .arg(&tmp)
        .output()
        .expect("run argus");
    tmp
}

fn run(prog: &str, args: &[&str], file: &Path, fields: &[&str]) -> (Vec<String>, i32, String) {
    let o = Command::new(prog)
        .env("TZ", "UTC")
        .args(["-X", "-n", "-L", "-1", "-c", ","])
        .args(args)
        .arg("-r")
        .arg(file)
        .arg("-s")
        .args(fields)
        .output()
        .expect("run client");
    let text = String::from_utf8_lossy(&o.stdout);
    let lines = text.lines().map(str::to_string).collect();
    (
        lines,
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Addresses of merged IPv6 groups: Debian's common prefix of differing IPv6 addresses
/// follows no rule we could find (fe80:: where the addresses share 70 bits, ff02:: for equal
/// addresses), so the address columns of IPv6 lines are left out.
fn without_v6_addrs(v: Vec<String>) -> Vec<String> {
    v.into_iter()
        .map(|l| {
            let mut c: Vec<&str> = l.split(',').collect();
            let v6 = |s: &str| s.contains(':') && s.matches(':').count() != 5;
            if c.len() > 3 && (v6(c[2]) || v6(c[3])) {
                c[2] = "v6";
                c[3] = "v6";
            }
            c.join(",")
        })
        .collect()
}

#[test]
fn corpus_agrees_with_debian() {
    if !common::have_reference("corpus_agrees_with_debian", &[DEBIAN, DEBIAN_RA]) {
        return;
    }
    let Some((_, files)) = corpus() else {
        if common::require() {
            panic!("corpus missing");
        }
        eprintln!("\n*** SKIPPED corpus_agrees_with_debian: no corpus ***\n");
        return;
    };
    let mut compared = 0;
    let mut failures = Vec::new();
    for (name, f) in files {
        if KNOWN.iter().any(|k| name.starts_with(k)) {
            continue;
        }
        // racluster orients flows as ra prints them: compare only where the two ra agree.
        let (a, _, _) = run(RA, &["-M", "noman"], f, FIELDS);
        let (b, _, _) = run(DEBIAN_RA, &["-M", "noman"], f, FIELDS);
        if sorted(a) != sorted(b) {
            continue;
        }
        for k in KEYS {
            // erspan: Debian prints the GRE flow's destination 10.200.0.224 unmasked under
            // `-m daddr/24` (elsewhere it applies the prefix, as we do).
            if name.starts_with("erspan") && k.contains(&"daddr/24") {
                continue;
            }
            let (ours, code, err) = run(OURS, k, f, FIELDS);
            assert_eq!(code, 0, "racluster {k:?} {name}: {err}");
            let (theirs, _, _) = run(DEBIAN, k, f, FIELDS);
            let (ours, theirs) = (
                sorted(without_v6_addrs(ours)),
                sorted(without_v6_addrs(theirs)),
            );
            compared += 1;
            if ours != theirs {
                let only_ours: Vec<_> = ours.iter().filter(|l| !theirs.contains(l)).collect();
                let only_theirs: Vec<_> = theirs.iter().filter(|l| !ours.contains(l)).collect();
                failures.push(format!(
                    "{name} {k:?}:\n  ours only: {only_ours:?}\n  Debian only: {only_theirs:?}"
                ));
            }
        }
    }
    assert!(compared >= 100, "only {compared} comparisons");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Sums of a column of `lines` (CSV) printed with FIELDS, by its index in FIELDS (counted
/// from the end: IS-IS lines carry an extra empty column after the ports).
fn sum(lines: &[String], col: usize) -> u64 {
    let back = FIELDS.len() - 1 - col;
    lines
        .iter()
        .filter_map(|l| l.split(',').rev().nth(back)?.trim().parse::<u64>().ok())
        .sum()
}

/// `-m none` turns aggregation off: every flow record comes out unchanged and in input order,
/// the status records of one flow too (cwd-navigation: one FTP flow in 119 of them), exactly
/// what our `ra` prints of the file without its MARs, and what Debian's racluster prints.
#[test]
fn none_keeps_every_record_unchanged() {
    for name in ["test.pcap", "cwd-navigation.pcap"] {
        let f = one(name);
        let (flows, _, _) = run(RA, &["-M", "noman"], &f, FIELDS);
        let (ours, code, err) = run(OURS, &["-m", "none"], &f, FIELDS);
        assert_eq!(code, 0, "{err}");
        assert!(!flows.is_empty());
        assert_eq!(ours, flows, "{name}: -m none against ra");
        if common::require() || Path::new(DEBIAN).exists() {
            let (theirs, _, _) = run(DEBIAN, &["-m", "none"], &f, FIELDS);
            assert_eq!(ours, theirs, "{name}: -m none against Debian's racluster");
        }
        // The same file with the default key merges the status records of its flows.
        let (merged, _, _) = run(OURS, &[], &f, FIELDS);
        if name == "cwd-navigation.pcap" && common::corpus_dir().is_some() {
            assert!(merged.len() < ours.len(), "{name}: status records merge");
        }
    }
}

#[test]
fn default_key_merges_status_records_of_a_flow() {
    // cwd-navigation: one FTP flow reported in 119 status records.
    let f = one("cwd-navigation.pcap");
    let (flows, _, _) = run(RA, &["-M", "noman"], &f, FIELDS);
    let (ours, code, _) = run(OURS, &[], &f, FIELDS);
    assert_eq!(code, 0);
    assert!(ours.len() < flows.len() || flows.len() <= 1);
    for (col, name) in FIELDS.iter().enumerate().take(13).skip(7) {
        assert_eq!(sum(&ours, col), sum(&flows, col), "column {name}");
    }
    assert_eq!(sum(&ours, 13), flows.len() as u64, "trans");
}

#[test]
fn arp_kept_and_flows_oriented_as_ra() {
    if common::corpus_dir().is_none() {
        return;
    }
    // Debian's racluster -m saddr drops the ARP flow of test.pcap; ours keeps it.
    let f = one("test.pcap");
    let (ours, _, _) = run(OURS, &["-m", "saddr"], &f, FIELDS);
    assert!(ours.iter().any(|l| l.contains(",arp,")), "{ours:?}");
    let (flows, _, _) = run(RA, &["-M", "noman"], &f, FIELDS);
    assert_eq!(
        sum(&ours, 13),
        flows.len() as u64,
        "every record counted once"
    );
    // missing-syn: only the SYN-ACK was seen. ra turns the record to show the client as
    // source; Debian's racluster does so under its default key only (ra's own direction pass,
    // `print::set_ra_direction`), and so does ours.
    let f = one("missing-syn.pcap");
    let (ra, _, _) = run(RA, &["-M", "noman"], &f, &["saddr", "daddr"]);
    let client: Vec<String> = ra
        .iter()
        .map(|l| l.split(',').next().unwrap_or("").to_string())
        .collect();
    let (ours, _, _) = run(OURS, &[], &f, &["saddr"]);
    assert_eq!(sorted(ours), sorted(client.clone()), "default key");
    if common::have_reference("arp_kept_and_flows_oriented_as_ra", &[DEBIAN]) {
        for k in KEYS {
            let (ours, _, _) = run(OURS, k, &f, &["saddr"]);
            let (theirs, _, _) = run(DEBIAN, k, &f, &["saddr"]);
            assert_eq!(sorted(ours), sorted(theirs), "{k:?}");
        }
    }
}

#[test]
fn written_records_read_by_debian_ra() {
    if !common::have_reference("written_records_read_by_debian_ra", &[DEBIAN, DEBIAN_RA]) {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    // (Not wikipedia.pcap: one of its flows is oriented differently by our ra and Debian's.)
    for name in [
        "test.pcap",
        "cwd-navigation.pcap",
        "206_example_b.pcap",
        "smb3_multichannel.pcap",
    ] {
        let f = one(name);
        // Not `-m proto`: a merged ICMP record of several types prints type 0x0000 (as
        // Debian's racluster prints it), which our ra turns around as an echo reply and
        // Debian's ra does not (docs/clients.md).
        for k in KEYS
            .iter()
            .filter(|k| !k.contains(&"proto"))
            .chain([&["-m", "none"][..]].iter())
        {
            let w = tmp.path().join("out.argus");
            let _ = std::fs::remove_file(&w);
            let st = Command::new(OURS)
                .args(["-X"])
                .args(*k)
                .arg("-r")
                .arg(&f)
                .arg("-w")
                .arg(&w)
                .status()
                .expect("racluster -w");
            assert!(st.success());
            let (printed, _, _) = run(OURS, k, &f, FIELDS);
            let (debian, code, err) = run(DEBIAN_RA, &["-M", "noman"], &w, FIELDS);
            assert_eq!(code, 0, "{err}");
            assert_eq!(sorted(debian), sorted(printed.clone()), "{name} {k:?}");
            let (ours_ra, _, _) = run(RA, &["-M", "noman"], &w, FIELDS);
            assert_eq!(sorted(ours_ra), sorted(printed), "{name} {k:?} (our ra)");
        }
    }
}

#[test]
fn bad_key_is_an_error_naming_it() {
    let f = one("test.pcap");
    for (args, word) in [
        (&["-m", "saddr", "bogus"][..], "bogus"),
        (&["-m", "saddr/40x"][..], "saddr/40x"),
        (&["-M", "rmon"][..], "rmon"),
        (&["-P", "1"][..], "-P"),
    ] {
        let (_, code, err) = run(OURS, args, &f, FIELDS);
        assert_eq!(code, 2, "{args:?}");
        assert!(err.contains(word), "{args:?}: {err}");
    }
}

/// A TCP connection longer than the status interval is reported in several records (the first
/// established, the last closed); merged, the transaction reads as its latest state, as in
/// Debian's racluster (argus ORs the TCP status bits), not as its first record.
#[test]
fn merged_transactions_read_as_their_last_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("long.pcap");
    let mut w = common::PcapWriter::create(&pcap);
    let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let (cm, sm) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let mut put = |from_client: bool, sp: u16, dp: u16, seq: u32, ack: u32, flags: u8, n: usize| {
        let (src, dst, smac, dmac) = if from_client {
            (c, s, cm, sm)
        } else {
            (s, c, sm, cm)
        };
        let mut f = common::eth(smac, dmac, &[], 0x0800);
        f.extend(common::ipv4(
            src,
            dst,
            6,
            0,
            &common::tcp(sp, dp, seq, ack, flags, n),
        ));
        w.put(&f);
    };
    // Two connections, 1 ms a packet: 7 s of data each (status records every 5 s), the first
    // closed with FINs, the second reset.
    for (port, close_rst) in [(40000u16, false), (40001, true)] {
        put(true, port, 80, 1000, 0, 0x02, 0);
        put(false, 80, port, 5000, 1001, 0x12, 0);
        put(true, port, 80, 1001, 5001, 0x10, 0);
        let (mut cs, mut ss) = (1001u32, 5001u32);
        for i in 0..7000 {
            if i % 2 == 0 {
                put(true, port, 80, cs, ss, 0x18, 100);
                cs += 100;
            } else {
                put(false, 80, port, ss, cs, 0x18, 200);
                ss += 200;
            }
        }
        if close_rst {
            put(true, port, 80, cs, ss, 0x04, 0);
        } else {
            put(true, port, 80, cs, ss, 0x11, 0);
            put(false, 80, port, ss, cs + 1, 0x11, 0);
            put(true, port, 80, cs + 1, ss + 1, 0x10, 0);
        }
    }
    drop(w);
    let argus_file = dir.path().join("long.argus");
    common::argus_file(&pcap, &argus_file);
    let fields = ["sport", "state", "trans"];
    let (records, _, _) = run(RA, &["-M", "noman"], &argus_file, &fields);
    assert!(records.len() >= 4, "status records: {records:?}");
    let (ours, code, err) = run(OURS, &[], &argus_file, &fields);
    assert_eq!(code, 0, "{err}");
    let ours = sorted(ours);
    let trans = |l: &str| {
        l.rsplit(',')
            .next()
            .unwrap_or("")
            .trim()
            .parse::<u32>()
            .unwrap_or(0)
    };
    assert_eq!(ours.len(), 2, "{ours:?}");
    assert!(ours.iter().all(|l| trans(l) >= 2), "{ours:?}");
    assert!(ours[0].contains("FIN"), "{ours:?}");
    assert!(ours[1].contains("RST"), "{ours:?}");
    if Path::new(DEBIAN).exists() {
        let (theirs, _, _) = run(DEBIAN, &[], &argus_file, &fields);
        assert_eq!(ours, sorted(theirs));
    } else if common::require() {
        panic!("Debian's racluster is missing");
    }
}
