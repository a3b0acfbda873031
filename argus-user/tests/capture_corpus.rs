//! Reads every file of the shared pcap corpus and compares the frame count and the sums of
//! `len` and `caplen` with what Wireshark's `tshark`/`capinfos` report for the same file,
//! computed at test time. Without tshark or the corpus the test says SKIPPED loudly and passes.

use std::path::{Path, PathBuf};
use std::process::Command;

use argus::capture;

fn corpus_dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("ARGUS_PCAPS") {
        return Some(PathBuf::from(d));
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for rel in ["../../shared/pcaps", "../shared/pcaps"] {
        let d = here.join(rel);
        if d.is_dir() {
            return Some(d);
        }
    }
    None
}

fn have_tool(name: &str) -> bool {
    Command::new(name)
        .arg("-v")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
struct Sums {
    frames: u64,
    len: u64,
    caplen: u64,
}

/// Packet records as tshark sees them. Non-packet records that tshark also lists (pcapng custom
/// blocks and the like) have no encapsulation type and are left out, as capinfos does.
fn tshark_sums(f: &Path) -> (Sums, bool) {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(f)
        .args(["-T", "fields", "-e", "frame.encap_type"])
        .args(["-e", "frame.len", "-e", "frame.cap_len"])
        .output()
        .expect("run tshark");
    let mut s = Sums::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 3 || cols[0].is_empty() {
            continue;
        }
        s.frames += 1;
        s.len += cols[1].parse::<u64>().expect("frame.len");
        s.caplen += cols[2].parse::<u64>().expect("frame.cap_len");
    }
    (s, out.status.success())
}

fn capinfos_count(f: &Path) -> Option<u64> {
    let out = Command::new("capinfos")
        .args(["-c", "-M"])
        .arg(f)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Number of packets:"))
        .and_then(|v| v.trim().parse().ok())
}

fn our_sums(f: &Path) -> (Sums, Option<capture::CaptureError>, usize) {
    let mut s = Sums::default();
    let mut src = match capture::open(f.to_str().expect("utf-8 path")) {
        Ok(src) => src,
        Err(e) => return (s, Some(e), 0),
    };
    let mut err = None;
    loop {
        match src.next_frame() {
            Ok(Some((m, data))) => {
                assert_eq!(data.len(), m.caplen as usize);
                s.frames += 1;
                s.len += u64::from(m.len);
                s.caplen += u64::from(m.caplen);
            }
            Ok(None) => break,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let nwarn = src.take_warnings().len();
    (s, err, nwarn)
}

#[test]
fn corpus_matches_tshark() {
    let Some(dir) = corpus_dir() else {
        eprintln!("\n*** SKIPPED capture_corpus: pcap corpus not found (set ARGUS_PCAPS) ***\n");
        return;
    };
    if !have_tool("tshark") {
        eprintln!(
            "\n*** SKIPPED capture_corpus: tshark not installed (apt-get install tshark) ***\n"
        );
        return;
    }
    let capinfos = have_tool("capinfos");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read corpus dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng" | "gz")
            )
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no capture files in {}", dir.display());
    let mut bad = Vec::new();
    for f in &files {
        let (want, tshark_ok) = tshark_sums(f);
        let (got, err, nwarn) = our_sums(f);
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        let count_ci = if capinfos { capinfos_count(f) } else { None };
        println!(
            "{name}: frames {} len {} caplen {} warnings {nwarn}{}",
            got.frames,
            got.len,
            got.caplen,
            err.as_ref()
                .map(|e| format!(" error: {e}"))
                .unwrap_or_default()
        );
        if got != want {
            bad.push(format!("{name}: ours {got:?}, tshark {want:?}"));
        }
        if let Some(c) = count_ci {
            if c != got.frames {
                bad.push(format!("{name}: ours {} frames, capinfos {c}", got.frames));
            }
        }
        // An error of ours must correspond to a file Wireshark also finds damaged.
        if err.is_some() && tshark_ok {
            bad.push(format!("{name}: we failed ({err:?}) where tshark did not"));
        }
        if err.is_none() && !tshark_ok {
            bad.push(format!(
                "{name}: tshark reports an error, we read it cleanly"
            ));
        }
    }
    println!(
        "{} of {} corpus files match tshark",
        files.len() - bad.len(),
        files.len()
    );
    assert!(bad.is_empty(), "mismatches:\n{}", bad.join("\n"));
}
