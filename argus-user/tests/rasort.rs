//! `rasort -m FIELDS` (docs/clients.md, "rasort"): the order of our rasort against Debian's
//! rasort 3.0.8 on corpus files for times, durations, counters (largest first) and IPv4
//! addresses; ties keep the input order; several fields; `-w` read back by Debian's ra; a bad
//! field is exit 2.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const ARGUS: &str = env!("CARGO_BIN_EXE_argus");
const RA: &str = env!("CARGO_BIN_EXE_ra");
const OURS: &str = env!("CARGO_BIN_EXE_rasort");
const DEBIAN: &str = "/usr/bin/rasort";
const DEBIAN_RA: &str = "/usr/bin/ra";
/// Captures our ra and Debian's orient alike (wikipedia.pcap has a flow they do not).
const FILES: &[&str] = &[
    "test.pcap",
    "206_example_b.pcap",
    "smb3_multichannel.pcap",
    "cwd-navigation.pcap",
];

/// The argus files of FILES (the bundled sample when the corpus is missing).
fn files() -> &'static (tempfile::TempDir, Vec<PathBuf>) {
    static S: OnceLock<(tempfile::TempDir, Vec<PathBuf>)> = OnceLock::new();
    S.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut pcaps: Vec<PathBuf> = match common::corpus_dir() {
            Some(d) => FILES
                .iter()
                .map(|f| d.join(f))
                .filter(|p| p.exists())
                .collect(),
            None => Vec::new(),
        };
        if pcaps.is_empty() {
            pcaps.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/wikipedia.pcap"));
        }
        let mut out = Vec::new();
        for (i, p) in pcaps.iter().enumerate() {
            let f = tmp.path().join(format!("{i}.argus"));
            Command::new(ARGUS)
                .args(["-X", "-r"])
                .arg(p)
                .arg("-w")
                .arg(&f)
                .output()
                .expect("run argus");
            out.push(f);
        }
        (tmp, out)
    })
}

fn run(prog: &str, args: &[&str], file: &Path, fields: &[&str]) -> (Vec<String>, i32, String) {
    let o = Command::new(prog)
        .env("TZ", "UTC")
        .args(["-X", "-n", "-u", "-L", "-1", "-c", ","])
        .args(args)
        .arg("-r")
        .arg(file)
        .arg("-s")
        .args(fields)
        .output()
        .expect("run client");
    let text = String::from_utf8_lossy(&o.stdout);
    (
        text.lines().map(str::to_string).collect(),
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

fn ipv4_line(l: &str) -> bool {
    let a = l.split(',').next().unwrap_or("");
    a.split('.').count() == 4
        && a.split('.').all(|x| x.parse::<u8>().is_ok())
        && !l.contains(",arp")
}

#[test]
fn order_agrees_with_debian() {
    if !common::have_reference("order_agrees_with_debian", &[DEBIAN, DEBIAN_RA]) {
        return;
    }
    for f in &files().1 {
        for m in [
            "stime", "ltime", "dur", "pkts", "bytes", "spkts", "dpkts", "sbytes", "dbytes", "trans",
        ] {
            // The sorted column itself: equal values may come in another order than Debian's
            // for ties, the sequence of values may not.
            let (ours, code, err) = run(OURS, &["-m", m], f, &[m]);
            assert_eq!(code, 0, "{err}");
            let (theirs, _, _) = run(DEBIAN, &["-m", m], f, &[m]);
            assert_eq!(ours, theirs, "{} -m {m}", f.display());
        }
        // Addresses numerically (IPv4 among themselves; Debian places non-IP keys and ARP
        // after the IP ones, ours IPv4, IPv6, Ethernet, ARP, others).
        for m in ["saddr", "daddr"] {
            let (ours, _, _) = run(OURS, &["-m", m], f, &[m, "proto"]);
            let (theirs, _, _) = run(DEBIAN, &["-m", m], f, &[m, "proto"]);
            let v4 = |v: Vec<String>| v.into_iter().filter(|l| ipv4_line(l)).collect::<Vec<_>>();
            assert_eq!(v4(ours), v4(theirs), "{} -m {m}", f.display());
        }
    }
}

#[test]
fn ties_keep_input_order_and_several_fields() {
    let f = &files().1[0];
    let cols = ["pkts", "stime", "seq"];
    let (input, _, _) = run(RA, &["-M", "noman"], f, &cols);
    let (sorted, code, _) = run(OURS, &["-m", "pkts"], f, &cols);
    assert_eq!(code, 0);
    assert_eq!(sorted.len(), input.len());
    let pkts = |l: &String| {
        l.split(',')
            .next()
            .unwrap_or("")
            .parse::<u64>()
            .unwrap_or(0)
    };
    // Largest first; within one count, the input order.
    for w in sorted.windows(2) {
        assert!(pkts(&w[0]) >= pkts(&w[1]), "{w:?}");
        if pkts(&w[0]) == pkts(&w[1]) {
            let pos = |l: &String| input.iter().position(|x| x == l);
            assert!(pos(&w[0]) < pos(&w[1]), "tie order {w:?}");
        }
    }
    // pkts, then stime within a count.
    let (two, _, _) = run(OURS, &["-m", "pkts", "stime"], f, &cols);
    for w in two.windows(2) {
        if pkts(&w[0]) == pkts(&w[1]) {
            let t = |l: &String| l.split(',').nth(1).unwrap_or("").to_string();
            assert!(t(&w[0]) <= t(&w[1]), "{w:?}");
        }
    }
}

#[test]
fn written_records_read_by_debian_ra() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let f = &files().1[0];
    let w = tmp.path().join("sorted.argus");
    let st = Command::new(OURS)
        .args(["-X", "-m", "bytes", "-r"])
        .arg(f)
        .arg("-w")
        .arg(&w)
        .status()
        .expect("rasort -w");
    assert!(st.success());
    let fields = ["stime", "saddr", "daddr", "proto", "bytes"];
    let (printed, _, _) = run(OURS, &["-m", "bytes"], f, &fields);
    let (ours_ra, _, _) = run(RA, &["-M", "noman"], &w, &fields);
    assert_eq!(ours_ra, printed);
    if common::have_reference("written_records_read_by_debian_ra", &[DEBIAN, DEBIAN_RA]) {
        let (debian, code, err) = run(DEBIAN_RA, &["-M", "noman"], &w, &fields);
        assert_eq!(code, 0, "{err}");
        assert_eq!(debian, printed);
    }
}

#[test]
fn bad_field_is_an_error_naming_it() {
    let f = &files().1[0];
    let (_, code, err) = run(OURS, &["-m", "bytes", "bogus"], f, &["bytes"]);
    assert_eq!(code, 2);
    assert!(err.contains("bogus"), "{err}");
}
