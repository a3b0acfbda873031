//! Generated captures, one argus behaviour each, with Debian's argus 3.0.8 and ra as the oracle:
//! every case is written as a pcap here, read by Debian's argus and by ours, and
//!
//! * both sensors' records, printed by Debian's `ra` on the wide field list, must be identical
//!   line for line (the sensor model);
//! * our `ra` must print Debian's records exactly as Debian's `ra` does (the client).
//!
//! A case is a small, named capture of the behaviour it pins down, not a sample of traffic;
//! the classes still open are listed in docs/compat.md.
//!
//! Needs Debian's `argus` and `ra` (`cargo xtask setup`). Without them the test prints a loud
//! SKIPPED, unless `ARGUS_REQUIRE_REFERENCE=1` (CI), where it fails.

mod common;

use common::{eth, ipv4, ipv6, tcp, udp, PcapWriter};
use std::path::Path;
use std::process::Command;

const DEBIAN_ARGUS: &str = "/usr/sbin/argus";
const DEBIAN_RA: &str = "/usr/bin/ra";
const FIELDS: &str = "srcid seq cause stime ltime dur flgs proto saddr sport dir daddr dport spkts dpkts sbytes dbytes sappbytes dappbytes state sttl dttl stos dtos sipid dipid svid dvid svpri dvpri smpls dmpls swin dwin stcpb dtcpb tcprtt synack ackdat sretrans dretrans sgap dgap inode tcpopt trans";

const A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];
const C: [u8; 4] = [10, 1, 0, 1];
const S: [u8; 4] = [10, 1, 0, 2];

/// IPv4 flags and fragment offset field: more fragments.
const MF: u16 = 0x2000;

/// Our ra or Debian's on `file`, the wide field list, CSV, one record per line.
fn ra(bin: &str, file: &Path) -> Vec<String> {
    let o = Command::new(bin)
        .env("TZ", "UTC")
        .args(["-X", "-n", "-u", "-c", ",", "-L", "-1", "-M", "noman", "-r"])
        .arg(file)
        .arg("-s")
        .args(FIELDS.split(' '))
        .output()
        .expect("run ra");
    assert!(
        o.status.success(),
        "{bin}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn sensor(bin: &str, pcap: &Path, out: &Path) {
    let o = Command::new(bin)
        .args(["-X", "-r"])
        .arg(pcap)
        .arg("-w")
        .arg(out)
        .output()
        .expect("run argus");
    assert!(
        out.is_file(),
        "{bin} wrote no records: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Runs one case: the capture `frames` through both sensors, compared as the module says.
/// Returns Debian's lines, for the case's own assertions.
fn case(name: &str, frames: &[Vec<u8>]) -> Vec<String> {
    let (want, ours) = case_where_debian_ra_errs(name, frames);
    assert_eq!(
        ours, want,
        "{name}: our ra prints Debian's records differently from Debian's ra"
    );
    want
}

/// [`case`] for a behaviour where Debian's ra prints Debian's records wrongly (documented in
/// docs/compat.md): the sensors must still agree; returns (Debian's ra, our ra) on Debian's
/// records, for the case to assert what is right.
fn case_where_debian_ra_errs(name: &str, frames: &[Vec<u8>]) -> (Vec<String>, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join(format!("{name}.pcap"));
    let mut w = PcapWriter::create(&pcap);
    for f in frames {
        w.put(f);
    }
    drop(w);
    let (theirs, ours) = (
        dir.path().join("debian.argus"),
        dir.path().join("ours.argus"),
    );
    sensor(DEBIAN_ARGUS, &pcap, &theirs);
    sensor(env!("CARGO_BIN_EXE_argus"), &pcap, &ours);
    let want = ra(DEBIAN_RA, &theirs);
    assert!(!want.is_empty(), "{name}: Debian's argus wrote no flow");
    assert_eq!(
        ra(DEBIAN_RA, &ours),
        want,
        "{name}: our sensor's records (Debian's ra) differ from Debian's argus'"
    );
    let ours = ra(env!("CARGO_BIN_EXE_ra"), &theirs);
    (want, ours)
}

fn have_oracle(test: &str) -> bool {
    common::have_reference(test, &[DEBIAN_ARGUS, DEBIAN_RA])
}

/// The `flgs` column of a printed line.
fn flags(line: &str) -> &str {
    line.split(',').nth(6).unwrap_or("")
}

/// A UDP datagram from `src` to `dst` (ports `sp` -> `dp`) in a frame, with the IPv4 flags and
/// fragment offset field `frag`.
fn udp_frame(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, frag: u16, data: usize) -> Vec<u8> {
    let (sm, dm) = if src == C { (A, B) } else { (B, A) };
    let mut f = eth(sm, dm, &[], 0x0800);
    f.extend(ipv4(src, dst, 17, frag, &udp(sp, dp, data)));
    f
}

/// The first fragment of a datagram (more-fragments set, offset 0) carries the UDP header: it
/// keys like any packet of its flow and marks its direction as fragmented (IPATTR qualifier
/// `ARGUS_IPATTR_SRC_FRAGMENTS` / `DST_FRAGMENTS`, ra's `F`), from either side; a datagram
/// that is not fragmented leaves the flag off.
#[test]
fn first_fragments_mark_their_flow() {
    const T: &str = "first_fragments_mark_their_flow";
    if !have_oracle(T) {
        return;
    }
    let lines = case(
        "first-fragment-src",
        &[
            udp_frame(C, S, 4000, 53, MF, 200),
            udp_frame(S, C, 53, 4000, 0, 80),
        ],
    );
    assert!(lines.iter().all(|l| flags(l).contains('F')), "{lines:?}");
    let lines = case(
        "first-fragment-dst",
        &[
            udp_frame(C, S, 4001, 53, 0, 40),
            udp_frame(S, C, 53, 4001, MF, 600),
        ],
    );
    assert!(lines.iter().all(|l| flags(l).contains('F')), "{lines:?}");
    let lines = case(
        "not-fragmented",
        &[
            udp_frame(C, S, 4002, 53, 0x4000, 40),
            udp_frame(S, C, 53, 4002, 0, 80),
        ],
    );
    assert!(lines.iter().all(|l| !flags(l).contains('F')), "{lines:?}");
}

/// IPv4 ESP flows are keyed on the security parameter index, which ra prints as the
/// destination port. Both sensors key and count alike; Debian's ra prints the SPI with its
/// upper half overwritten by two spaces (0x12345678 as `0x20205678`), ours prints it whole.
#[test]
fn esp_flows_are_keyed_and_printed_by_spi() {
    const T: &str = "esp_flows_are_keyed_and_printed_by_spi";
    if !have_oracle(T) {
        return;
    }
    let esp = |spi: u32, seq: u32| {
        let mut l4 = spi.to_be_bytes().to_vec();
        l4.extend_from_slice(&seq.to_be_bytes());
        l4.extend_from_slice(&[0x5a; 64]);
        let mut f = eth(A, B, &[], 0x0800);
        f.extend(ipv4(C, S, 50, 0, &l4));
        f
    };
    let (debian, ours) = case_where_debian_ra_errs(
        "esp",
        &[
            esp(0x1234_5678, 1),
            esp(0x1234_5678, 2),
            esp(0xfedc_ba98, 1),
        ],
    );
    let dport = |l: &String| l.split(',').nth(12).unwrap_or("").to_string();
    assert_eq!(
        ours.iter().map(dport).collect::<Vec<_>>(),
        ["0x12345678", "0xfedcba98"],
        "{ours:?}"
    );
    for (d, o) in debian.iter().zip(&ours) {
        assert_eq!(
            dport(d).get(6..),
            dport(o).get(6..),
            "lower half: {d} / {o}"
        );
        let strip = |l: &String| {
            let mut c: Vec<String> = l.split(',').map(str::to_string).collect();
            c[12].clear();
            c
        };
        assert_eq!(strip(d), strip(o), "every other field");
    }
}

/// Non-IP flows show their EtherType's name in the Proto column (`aarp`, `decro`, `aoe`,
/// `slow`, ..., ranges included): one frame of every EtherType from 0x0600 to 0xffff, through
/// our sensor, printed by both ra's, every line the same.
#[test]
fn ethertype_names_as_debian_ra_prints_them() {
    const T: &str = "ethertype_names_as_debian_ra_prints_them";
    if !have_oracle(T) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("ethertypes.pcap");
    let mut w = PcapWriter::create(&pcap);
    for t in 0x0600..=0xffffu16 {
        // The EtherType in the destination MAC too, so every line says which it is.
        let [hi, lo] = t.to_be_bytes();
        let mut f = eth(A, [2, 0, 0, 0, hi, lo], &[], t);
        f.extend_from_slice(&[0; 46]);
        w.put(&f);
    }
    drop(w);
    let out = dir.path().join("ethertypes.argus");
    sensor(env!("CARGO_BIN_EXE_argus"), &pcap, &out);
    let print = |bin: &str| {
        let o = Command::new(bin)
            .args(["-X", "-n", "-c", ",", "-L", "-1", "-M", "noman", "-r"])
            .arg(&out)
            .args(["-s", "proto", "daddr"])
            .output()
            .expect("run ra");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let (want, got) = (print(DEBIAN_RA), print(env!("CARGO_BIN_EXE_ra")));
    assert!(want.lines().count() > 60_000, "{}", want.lines().count());
    assert!(
        want.contains("decro,02:00:00:00:60:03"),
        "the table holds DECnet routing"
    );
    let differ: Vec<(&str, &str)> = want
        .lines()
        .zip(got.lines())
        .filter(|(a, b)| a != b)
        .take(10)
        .collect();
    assert!(differ.is_empty(), "(Debian, ours): {differ:?}");
    assert_eq!(want.lines().count(), got.lines().count());
}

/// A TCP flow of one segment, mid-connection: argus writes the short TCP object (subtype
/// 0x03), which has no block for the other direction. Debian's ra prints that direction's base sequence number empty for IPv4
/// and as 0 for IPv6 (the base is the first sequence number seen, less one); the sensors
/// agree on both.
#[test]
fn one_sided_tcp_base_sequence_per_family() {
    const T: &str = "one_sided_tcp_base_sequence_per_family";
    if !have_oracle(T) {
        return;
    }
    let seg = |v6: bool, seq: u32| {
        let l4 = tcp(40000, 8080, seq, 77, 0x18, 100);
        let mut f = eth(A, B, &[], if v6 { 0x86dd } else { 0x0800 });
        f.extend(if v6 {
            ipv6(1, 2, 6, &l4)
        } else {
            ipv4(C, S, 6, 0x4000, &l4)
        });
        f
    };
    let col = |l: &String, i: usize| l.split(',').nth(i).unwrap_or("").to_string();
    // stcpb, dtcpb
    let (st, dt) = (34, 35);
    let v4 = case("tcp-one-sided-v4", &[seg(false, 1000)]);
    assert_eq!(
        (col(&v4[0], st), col(&v4[0], dt)),
        ("999".into(), String::new())
    );
    let v6 = case("tcp-one-sided-v6", &[seg(true, 1000)]);
    assert_eq!(
        (col(&v6[0], st), col(&v6[0], dt)),
        ("999".into(), "0".into())
    );
}
