//! Ground truth for duplicate detection: the TCP captures of the corpus that contain real
//! retransmissions get SPAN-style copies injected by `argus_bench::dupinject` (changed MACs,
//! added or removed VLAN tags, TTL minus one with the checksum fixed, delays of 1..50 µs, the
//! orders 1,1,2,2,3,3 and 1,2,3,1,2,3, both directions or one), and the sensor must
//!
//! * count exactly the injected copies as duplicates, flow by flow and direction by direction;
//! * report the same retransmissions (`sloss`/`dloss`, which is where argus 3.0.8's `ra` shows
//!   them) and the same packet totals as on the original capture;
//! * report no duplicates on the original captures.
//!
//! The same run shows what Debian's argus 3.0.8 reports on the injected captures.
//!
//! Binaries come from `ARGUS_BIN_DIR` (set by `cargo xtask test`), else `target/release`.

use argus_bench::dupinject::{inject, read_ethernet, write_pcap, Config, Mutation, Order};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn require() -> bool {
    std::env::var("ARGUS_REQUIRE_REFERENCE").as_deref() == Ok("1")
}

fn corpus_dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("ARGUS_PCAPS") {
        return Some(PathBuf::from(d));
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["../../shared/pcaps", "../shared/pcaps"]
        .iter()
        .map(|rel| here.join(rel))
        .find(|d| d.is_dir())
}

fn bin(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("ARGUS_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release"));
    let p = dir.join(name);
    p.is_file().then_some(p)
}

/// Per flow as `ra` prints it (proto saddr sport daddr dport): retransmissions (loss), packets
/// and duplicates, by direction, summed over the flow's records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Seen {
    sloss: u64,
    dloss: u64,
    spkts: u64,
    dpkts: u64,
    sdups: u64,
    ddups: u64,
}

type Key = (String, String, String, String, String);

fn run_argus(argus: &Path, pcap: &Path, out: &Path, extra: &[&str]) {
    let _ = std::fs::remove_file(out);
    let st = Command::new(argus)
        .args(extra)
        .args(["-X", "-r"])
        .arg(pcap)
        .arg("-w")
        .arg(out)
        .status()
        .expect("run argus");
    assert!(
        st.success(),
        "{} -r {}: {st}",
        argus.display(),
        pcap.display()
    );
}

/// `fields` after the five key fields, parsed as numbers.
fn flows(ra: &Path, file: &Path, fields: &[&str], debian: bool) -> BTreeMap<Key, Vec<u64>> {
    let mut cmd = Command::new(ra);
    cmd.args(["-X", "-n", "-c", ","]);
    if debian {
        cmd.args(["-M", "noman"]);
    }
    cmd.arg("-r").arg(file).arg("-s");
    cmd.args(["proto", "saddr", "sport", "daddr", "dport"]);
    cmd.args(fields);
    cmd.args(["-", "tcp or udp"]);
    let out = cmd.output().expect("run ra");
    assert!(
        out.status.success(),
        "{} on {}: {}",
        ra.display(),
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut m: BTreeMap<Key, Vec<u64>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines().skip(1) {
        let c: Vec<&str> = line.split(',').map(str::trim).collect();
        if c.len() < 5 + fields.len() {
            continue;
        }
        let key = (
            c[0].to_string(),
            c[1].to_string(),
            c[2].to_string(),
            c[3].to_string(),
            c[4].to_string(),
        );
        let e = m.entry(key).or_insert_with(|| vec![0; fields.len()]);
        for (k, v) in c[5..5 + fields.len()].iter().enumerate() {
            e[k] += v.parse::<u64>().unwrap_or(0);
        }
    }
    m
}

fn ours(ra: &Path, file: &Path) -> BTreeMap<Key, Seen> {
    flows(
        ra,
        file,
        &["sloss", "dloss", "spkts", "dpkts", "sdups", "ddups"],
        false,
    )
    .into_iter()
    .map(|(k, v)| {
        (
            k,
            Seen {
                sloss: v[0],
                dloss: v[1],
                spkts: v[2],
                dpkts: v[3],
                sdups: v[4],
                ddups: v[5],
            },
        )
    })
    .collect()
}

/// Frames of `frames` that repeat an earlier frame's IP packet within 1 ms, TTL/hop limit and
/// IPv4 checksum aside (an independent count of the copies a capture already holds: TCP and
/// UDP only, as the injection).
fn copies_present(frames: &[argus_bench::dupinject::Frame]) -> u64 {
    let mut last: std::collections::HashMap<Vec<u8>, i64> = std::collections::HashMap::new();
    let mut n = 0;
    for f in frames {
        let d = &f.data;
        let mut l3 = 14;
        while matches!(
            d.get(l3 - 2..l3),
            Some([0x81, 0x00]) | Some([0x88, 0xa8]) | Some([0x91, 0x00])
        ) {
            l3 += 4;
        }
        // PPPoE session: 6-byte header and the PPP protocol.
        if d.get(l3 - 2..l3) == Some(&[0x88, 0x64]) {
            l3 += 8;
        }
        let Some(ip) = d.get(l3..) else { continue };
        // The IP packet as its header gives its length (a trailer is not part of it).
        let (proto, mut key) = match ip.first().map(|b| b >> 4) {
            Some(4) if ip.len() >= 20 => {
                let n = u16::from_be_bytes([ip[2], ip[3]]) as usize;
                (ip[9], ip[..n.clamp(20, ip.len())].to_vec())
            }
            Some(6) if ip.len() >= 40 => {
                let n = 40 + u16::from_be_bytes([ip[4], ip[5]]) as usize;
                (ip[6], ip[..n.min(ip.len())].to_vec())
            }
            _ => continue,
        };
        if proto != 6 && proto != 17 {
            continue;
        }
        if key[0] >> 4 == 4 {
            key[8] = 0;
            key[10] = 0;
            key[11] = 0;
        } else {
            key[7] = 0;
        }
        if let Some(&t) = last.get(&key) {
            if f.ts_us - t < 1_000 {
                n += 1;
            }
        }
        last.insert(key, f.ts_us);
    }
    n
}

/// Copies the corpus captures really hold, as the sensor reports them:
/// * m57-long-49583-80: recorded from a SPAN that mirrored every frame, 1-5 µs apart;
/// * pppoe-over-qinq: a sender with IPv4 ID 0 whose byte-identical repeats come within the
///   flow's handshake RTT (413 ms: the rule takes them as copies), some at the same µs.
const KNOWN_COPIES: [(&str, u64); 2] =
    [("m57-long-49583-80.pcap", 113), ("pppoe-over-qinq.pcap", 8)];

/// The TCP captures of the corpus with real retransmissions (its README), Ethernet ones.
const RETRANS: [&str; 8] = [
    "m57-long-49583-80.pcap",
    "reassembly.pcap",
    "retransmit-fast009.pcap",
    "206_example_b.pcap",
    "fin_retransmission.pcap",
    "vlan-collisions.pcap",
    "pppoe-over-qinq.pcap",
    "test.pcap",
];

#[test]
fn injected_copies_are_duplicates_and_retransmissions_stay() {
    let (Some(c), Some(argus), Some(ra)) = (corpus_dir(), bin("argus"), bin("ra")) else {
        assert!(
            !require(),
            "corpus or release binaries missing but ARGUS_REQUIRE_REFERENCE=1"
        );
        eprintln!("\n*** dup_truth: corpus or target/release/{{argus,ra}} missing: SKIPPED ***\n");
        return;
    };
    let debian = Path::new("/usr/sbin/argus").is_file() && Path::new("/usr/bin/ra").is_file();
    assert!(
        debian || !require(),
        "Debian argus/ra missing but ARGUS_REQUIRE_REFERENCE=1"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mixes: [(&str, Order, bool); 4] = [
        ("adjacent, both ways", Order::Adjacent, false),
        ("runs, both ways", Order::Runs, false),
        ("adjacent, one way", Order::Adjacent, true),
        ("runs, one way", Order::Runs, true),
    ];
    let mut table = Vec::new();
    let (mut total_copies, mut total_found) = (0u64, 0u64);
    // The default mode counts copies in the totals (as argus does); `--dedup yes` leaves them
    // out. Either way they stay out of the retransmissions.
    for (mode, extra, in_totals) in [
        ("default", &[][..], true),
        ("--dedup yes", &["--dedup", "yes"][..], false),
    ] {
        for name in RETRANS {
            let path = c.join(name);
            let frames = read_ethernet(path.to_str().expect("utf-8")).expect("read capture");
            let orig_out = dir.path().join("orig.argus");
            run_argus(&argus, &path, &orig_out, extra);
            let orig = ours(&ra, &orig_out);
            // Every identical repeat within 1 ms is found; beyond that, the copies the
            // corpus really holds (explained in KNOWN_COPIES) and nothing else.
            let orig_dups: u64 = orig.values().map(|s| s.sdups + s.ddups).sum();
            let present = copies_present(&frames);
            let known = KNOWN_COPIES.iter().find(|k| k.0 == name).map_or(0, |k| k.1);
            assert!(
                orig_dups >= present,
                "{name}: {orig_dups} duplicates reported, but {present} identical repeats within 1 ms"
            );
            assert_eq!(
                orig_dups, known,
                "{name}: duplicates reported on the original capture"
            );
            if orig_dups > 0 && in_totals {
                eprintln!(
                    "dup_truth: {name}: {orig_dups} copies already in the capture ({present} of them identical within 1 ms)"
                );
            }
            let orig_loss: u64 = orig.values().map(|s| s.sloss + s.dloss).sum();
            for (k, (label, order, one_way)) in mixes.iter().enumerate() {
                let cfg = Config {
                    seed: 7 + k as u64,
                    percent: 40,
                    max_delay_us: 50,
                    order: *order,
                    one_way: *one_way,
                    // The detector remembers 4 packets per flow and direction (docs/duplicates.md).
                    reach: 3,
                    mutations: vec![
                        Mutation::None,
                        Mutation::Mac,
                        Mutation::AddVlan(20),
                        Mutation::RemoveVlan,
                        Mutation::Ttl,
                    ],
                };
                let (out, truth) = inject(&frames, &cfg);
                let pcap = dir.path().join("inj.pcap");
                let mut w = std::io::BufWriter::new(std::fs::File::create(&pcap).expect("create"));
                write_pcap(&mut w, &out).expect("write pcap");
                drop(w);
                let inj_out = dir.path().join("inj.argus");
                run_argus(&argus, &pcap, &inj_out, extra);
                let inj = ours(&ra, &inj_out);
                // Flow by flow: retransmissions and totals as on the original, duplicates as
                // injected, in the right direction.
                assert_eq!(
                    inj.keys().collect::<Vec<_>>(),
                    orig.keys().collect::<Vec<_>>(),
                    "{name} ({label}): the same flows"
                );
                let mut found = 0;
                for (key, s) in &inj {
                    let o = orig[key];
                    assert_eq!(
                        (s.sloss, s.dloss),
                        (o.sloss, o.dloss),
                        "{name} ({label}, {mode}): {key:?}: retransmissions changed by the copies"
                    );
                    let want = truth
                        .flows
                        .iter()
                        .find_map(|(fk, c)| {
                            let (sa, sp, da, dp) = (&key.1, &key.2, &key.3, &key.4);
                            let a = (fk.a.addr.to_string(), fk.a.port.to_string());
                            let b = (fk.b.addr.to_string(), fk.b.port.to_string());
                            let s = (sa.clone(), sp.clone());
                            let d = (da.clone(), dp.clone());
                            if (s.clone(), d.clone()) == (a.clone(), b.clone()) {
                                Some((c.a_to_b.0, c.b_to_a.0))
                            } else if (s, d) == (b, a) {
                                Some((c.b_to_a.0, c.a_to_b.0))
                            } else {
                                None
                            }
                        })
                        .unwrap_or((0, 0));
                    assert_eq!(
                    (s.sdups - o.sdups, s.ddups - o.ddups),
                    want,
                    "{name} ({label}, {mode}): {key:?}: duplicates (src, dst) beyond the original's vs injected"
                );
                    let added = if in_totals { want } else { (0, 0) };
                    assert_eq!(
                        (s.spkts, s.dpkts),
                        (o.spkts + added.0, o.dpkts + added.1),
                        "{name} ({label}, {mode}): {key:?}: packet totals"
                    );
                    found += s.sdups + s.ddups - o.sdups - o.ddups;
                }
                assert_eq!(found, truth.copies(), "{name} ({label}): all copies found");
                total_copies += truth.copies();
                total_found += found;
                // Debian's argus on the same injected capture, for comparison.
                let deb = if debian && in_totals {
                    let d_out = dir.path().join("deb.argus");
                    run_argus(Path::new("/usr/sbin/argus"), &pcap, &d_out, &[]);
                    let d = flows(
                        Path::new("/usr/bin/ra"),
                        &d_out,
                        &["sloss", "dloss", "spkts", "dpkts"],
                        true,
                    );
                    let loss: u64 = d.values().map(|v| v[0] + v[1]).sum();
                    let pkts: u64 = d.values().map(|v| v[2] + v[3]).sum();
                    format!("{loss} retransmissions, {pkts} packets")
                } else if debian {
                    "(as above)".into()
                } else {
                    "not installed".into()
                };
                let inj_loss: u64 = inj.values().map(|s| s.sloss + s.dloss).sum();
                table.push(format!(
                "{mode:12} {name:26} {label:20} copies {:4}  ours: dups {found:4}, retrans {inj_loss:3} (original {orig_loss:3})  Debian: {deb}",
                truth.copies()
            ));
            }
        }
    }
    eprintln!("dup_truth:");
    for l in &table {
        eprintln!("  {l}");
    }
    eprintln!("dup_truth: {total_found} of {total_copies} injected copies found as duplicates");
    assert!(total_copies > 500, "only {total_copies} copies injected");
}
