//! Compatibility tests against Debian's argus 3.0.8.2 / ra (argus-client 3.0.8.2).
//!
//! For every capture in /work/shared/pcaps (minus the ones that crash Debian argus), run Debian
//! argus normally and with `-m -A -J -Z -U 32`, then (a) decode + re-encode every record and
//! require byte identity (documented deviations normalised), and (b) print with our ra and
//! Debian ra for several option sets and compare line by line.
//!
//! Printing agreement is reported per option set; the test fails when it drops below the
//! recorded floor (set RA_COMPAT_STRICT=1 to require 100%).

use argus::record::decode::RecordReader;
use argus::record::encode::encode;
use argus::record::Record;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

const PCAPS: &str = "/work/shared/pcaps";
const CRASHING: &[&str] = &[
    "mptcp-v1.pcap",
    "llc.pcap",
    "linux_dlt_sll2.pcap",
    "gap-data-missing.pcapng",
    "test202-le.pcapng",
    "ip6-trunc.pcap",
    "trunc-hdr.pcap",
];

fn have_debian() -> bool {
    Path::new("/usr/sbin/argus").exists()
        && Path::new("/usr/bin/ra").exists()
        && Path::new(PCAPS).exists()
}

/// Runs Debian argus on all captures (normal and extended), in parallel; returns output paths.
fn argus_outputs(dir: &Path) -> Vec<PathBuf> {
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(PCAPS)
        .expect("pcap dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            (n.ends_with(".pcap") || n.ends_with(".pcapng")) && !CRASHING.contains(&n)
        })
        .collect();
    pcaps.sort();
    let jobs: Vec<(PathBuf, PathBuf, bool)> = pcaps
        .iter()
        .flat_map(|p| {
            let n = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("x")
                .to_string();
            [
                (p.clone(), dir.join(format!("n_{n}.argus")), false),
                (p.clone(), dir.join(format!("x_{n}.argus")), true),
            ]
        })
        .collect();
    let outs: Vec<PathBuf> = jobs.iter().map(|j| j.1.clone()).collect();
    let q = Arc::new(Mutex::new(jobs));
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let q = q.clone();
            std::thread::spawn(move || loop {
                let job = q.lock().unwrap().pop();
                let Some((pcap, out, ext)) = job else { break };
                let _ = std::fs::remove_file(&out);
                let mut c = Command::new("/usr/sbin/argus");
                if ext {
                    c.args(["-m", "-A", "-J", "-Z", "-U", "32"]);
                }
                c.arg("-r").arg(&pcap).arg("-w").arg(&out).env("TZ", "UTC");
                let _ = c.output();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    outs.into_iter().filter(|p| p.exists()).collect()
}

fn cache() -> &'static (tempfile::TempDir, Vec<PathBuf>) {
    static C: std::sync::OnceLock<(tempfile::TempDir, Vec<PathBuf>)> = std::sync::OnceLock::new();
    C.get_or_init(|| {
        let d = tempfile::tempdir().expect("tempdir");
        let outs = argus_outputs(d.path());
        (d, outs)
    })
}

/// Normalises the documented deviations in an argus-written record: the short ARP key
/// (argus writes 6 words; we write 7 with the full sender MAC, of which argus kept 4 bytes)
/// and the uninitialised padding of u8/u16 meter forms with application bytes.
fn normalise_expected(orig: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(orig.len() + 4);
    out.extend_from_slice(&orig[..4.min(orig.len())]);
    let mut p = 4;
    while p + 4 <= orig.len() {
        let (t, sub, qual) = (orig[p], orig[p + 1], orig[p + 2]);
        let l = if sub & 0x80 != 0 {
            u16::from_be_bytes([orig[p + 2], orig[p + 3]]) as usize * 4
        } else {
            orig[p + 3] as usize * 4
        };
        if l == 0 || p + l > orig.len() {
            out.extend_from_slice(&orig[p..]);
            break;
        }
        let d = &orig[p..p + l];
        if t == 0x02 && sub == 0x06 && l == 24 {
            out.extend_from_slice(&[d[0], d[1], d[2], 7]);
            out.extend_from_slice(&d[4..24]);
            out.extend_from_slice(&[0, 0, 0, 0]);
        } else if t == 0x10 && sub == 0x04 && matches!(qual & 0x0f, 0x01 | 0x06 | 0x0a) {
            let used = 4 + 6;
            out.extend_from_slice(&d[..used]);
            out.extend(std::iter::repeat_n(0, l - used));
        } else {
            out.extend_from_slice(d);
        }
        p += l;
    }
    let words = (out.len() / 4) as u16;
    if out.len() >= 4 {
        out[2..4].copy_from_slice(&words.to_be_bytes());
    }
    out
}

#[test]
fn reencode_is_byte_identical() {
    if !have_debian() {
        eprintln!("SKIPPED: Debian argus-client not installed");
        return;
    }
    let (_d, files) = cache();
    let (mut total, mut bad) = (0, 0);
    for f in files {
        let data = std::fs::read(f).unwrap();
        let mut rd = RecordReader::new(&data[..]);
        let mut off = 0usize;
        while let Some(r) = rd.next_record() {
            let r = r.unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let len = u16::from_be_bytes([data[off + 2], data[off + 3]]) as usize * 4;
            let orig = &data[off..off + len];
            off += len;
            let mut out = Vec::new();
            encode(&r, &mut out);
            total += 1;
            let want = if matches!(r, Record::Flow(_)) {
                normalise_expected(orig)
            } else {
                orig.to_vec()
            };
            if out != want {
                bad += 1;
                if bad < 5 {
                    eprintln!(
                        "{} @{}:\n want {:02x?}\n  got {:02x?}",
                        f.display(),
                        off - len,
                        want,
                        out
                    );
                }
            }
        }
        assert_eq!(off, data.len(), "{}: not all bytes consumed", f.display());
    }
    eprintln!("re-encode: {} records, {} different", total, bad);
    assert_eq!(bad, 0);
}

const WIDE: &str = "srcid seq cause stime ltime dur flgs proto saddr sport dir daddr dport spkts dpkts sbytes dbytes sappbytes dappbytes state sttl dttl stos dtos sipid dipid svid dvid svpri dvpri smpls dmpls swin dwin stcpb dtcpb tcprtt synack ackdat sretrans dretrans sgap dgap inode tcpopt trans";
/// Load/rate/loss columns (ra computes them client-side, in float).
const RATES: &str = "stime dur proto saddr sport dir daddr dport pkts bytes load sload dload rate srate drate loss sloss dloss ploss sgap dgap appbytes";
/// Every field our ra knows, fixed-width (checks each column's width and alignment).
const ALL_FIELDS: &str = "srcid seq cause stime ltime dur flgs proto saddr sport dir daddr dport pkts spkts dpkts bytes sbytes dbytes appbytes sappbytes dappbytes state sttl dttl stos dtos sipid dipid svid dvid svpri dvpri smpls dmpls swin dwin stcpb dtcpb tcprtt synack ackdat sretrans dretrans sgap dgap inode tcpopt trans smac dmac sintpkt dintpkt sjit djit smeansz dmeansz smaxsz dmaxsz sminsz dminsz suser duser load sload dload rate srate drate loss sloss dloss ploss";
const PLUS_MINUS: &str = "-s +dur +smac +dmac +sintpkt +sjit +smeansz -s -bytes";
const EXT: &str =
    "smac dmac sintpkt dintpkt sjit djit smeansz dmeansz smaxsz dmaxsz sminsz dminsz suser:80 duser:80";

fn run(bin: &str, opts: &[String], file: &Path) -> Vec<String> {
    let o = Command::new(bin)
        .arg("-r")
        .arg(file)
        .args(opts)
        .env("TZ", "UTC")
        .output()
        .expect("run ra");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn print_matches_debian_ra() {
    if !have_debian() {
        eprintln!("SKIPPED: Debian argus-client not installed");
        return;
    }
    let ours = env!("CARGO_BIN_EXE_ra");
    let (_d, files) = cache();
    let sv = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let mut wide = sv("-n -u -p 6 -c , -M noman -s");
    wide.extend(sv(WIDE));
    let mut wide_ext = wide.clone();
    wide_ext.extend(sv(EXT));
    let mut all = sv("-s");
    all.extend(sv(ALL_FIELDS));
    let mut rates = sv("-n -p 4 -c | -s");
    rates.extend(sv(RATES));
    // (name, options, recorded floor of identical lines in percent; measured 2026-11-26:
    // 99.98% for every set but the load/rate list (99.88%); the two lines left are one
    // IPv4 TCP flow without a TCP object that Debian's ra prints from state left over from
    // an earlier record, see docs/ra.md)
    let sets: Vec<(&str, Vec<String>, f64)> = vec![
        ("default", vec![], 99.9),
        ("-nn", sv("-nn"), 99.9),
        ("-n", sv("-n"), 99.9),
        ("-u -p 3", sv("-u -p 3"), 99.9),
        ("-L -1", sv("-L -1"), 99.9),
        ("-M noman -N 5", sv("-M noman -N 5"), 99.9),
        ("-s +dur", sv("-s +dur"), 99.9),
        ("-s +f -s -f", sv(PLUS_MINUS), 99.9),
        ("-c ; -s -bytes", sv("-c ; -s -bytes -state"), 99.9),
        ("wide", wide, 99.9),
        ("wide+ext", wide_ext, 99.9),
        ("rates", rates, 99.7),
        ("all fields", all, 99.9),
    ];
    let strict = std::env::var_os("RA_COMPAT_STRICT").is_some();
    let mut failed = false;
    for (name, opts, floor) in sets {
        let (mut fs, mut ft, mut ls, mut lt) = (0, 0, 0, 0);
        for f in files {
            let is_ext = f
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .starts_with("x_");
            if name == "wide+ext" && !is_ext {
                continue;
            }
            let a = run("/usr/bin/ra", &opts, f);
            let b = run(ours, &opts, f);
            ft += 1;
            lt += a.len();
            let same = a.iter().zip(b.iter()).filter(|(x, y)| x == y).count();
            ls += same;
            if a == b {
                fs += 1;
            }
        }
        let pct = if lt == 0 {
            100.0
        } else {
            100.0 * ls as f64 / lt as f64
        };
        eprintln!("{name:16} files identical {fs}/{ft}, lines identical {ls}/{lt} ({pct:.2}%)");
        if pct < floor || (strict && fs != ft) {
            failed = true;
        }
    }
    assert!(!failed, "agreement with Debian ra below the recorded floor");
}
