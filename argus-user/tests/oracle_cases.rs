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

/// The sensor options of argus' extended records, and the fields they add.
const EXTENDED: &[&str] = &["-m", "-A", "-J", "-Z", "-U", "32"];
const EXTENDED_FIELDS: &str =
    "smac dmac sintpkt dintpkt sjit djit smeansz dmeansz smaxsz dmaxsz sminsz dminsz suser duser";

/// Our ra or Debian's on `file`, the fields `fields`, CSV, one record per line.
fn ra_fields(bin: &str, file: &Path, fields: &str) -> Vec<String> {
    let o = Command::new(bin)
        .env("TZ", "UTC")
        .args(["-X", "-n", "-u", "-c", ",", "-L", "-1", "-M", "noman", "-r"])
        .arg(file)
        .arg("-s")
        .args(fields.split(' '))
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

fn sensor(bin: &str, pcap: &Path, out: &Path, args: &[&str]) {
    // -X (no configuration file) first: argus resets the options given before it.
    let o = Command::new(bin)
        .arg("-X")
        .args(args)
        .arg("-r")
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

/// Worker counts our sensor runs each case with: its records must not depend on them.
const WORKERS: [&str; 2] = ["1", "3"];

/// Runs one case: the capture `frames` through both sensors, compared as the module says.
/// Returns Debian's lines, for the case's own assertions.
fn case(name: &str, frames: &[Vec<u8>]) -> Vec<String> {
    timed_case(name, &every_ms(frames))
}

/// `frames` 1 ms apart.
fn every_ms(frames: &[Vec<u8>]) -> Vec<(u64, Vec<u8>)> {
    frames.iter().map(|f| (1000, f.clone())).collect()
}

/// [`case`] with each frame's distance in microseconds from the one before.
fn timed_case(name: &str, frames: &[(u64, Vec<u8>)]) -> Vec<String> {
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
fn case_where_debian_ra_errs(name: &str, frames: &[(u64, Vec<u8>)]) -> (Vec<String>, Vec<String>) {
    let frames: Vec<(u64, Vec<u8>, usize)> = frames
        .iter()
        .map(|(us, f)| (*us, f.clone(), f.len()))
        .collect();
    run_case(name, &frames, &[], FIELDS)
}

/// [`case`] with argus' extended options and the fields they add; `frames` as (microseconds
/// after the previous frame, frame, bytes captured).
fn extended_case(name: &str, frames: &[(u64, Vec<u8>, usize)]) -> Vec<String> {
    let fields = format!("{FIELDS} {EXTENDED_FIELDS}");
    let (want, ours) = run_case(name, frames, EXTENDED, &fields);
    assert_eq!(
        ours, want,
        "{name}: our ra prints Debian's records differently from Debian's ra"
    );
    want
}

/// Both sensors with `args` on the capture of `frames` (microseconds after the previous one,
/// frame, bytes captured), printed on `fields`: asserts that the sensors agree and returns
/// (Debian's ra, our ra) on Debian's records.
fn run_case(
    name: &str,
    frames: &[(u64, Vec<u8>, usize)],
    args: &[&str],
    fields: &str,
) -> (Vec<String>, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join(format!("{name}.pcap"));
    let mut w = PcapWriter::create(&pcap);
    for (us, f, caplen) in frames {
        w.put_cut(*us, f, *caplen);
    }
    drop(w);
    let theirs = dir.path().join("debian.argus");
    sensor(DEBIAN_ARGUS, &pcap, &theirs, args);
    let want = ra_fields(DEBIAN_RA, &theirs, fields);
    assert!(!want.is_empty(), "{name}: Debian's argus wrote no flow");
    for n in WORKERS {
        let ours = dir.path().join(format!("ours-{n}.argus"));
        let mut a = vec!["--workers", n];
        a.extend_from_slice(args);
        sensor(env!("CARGO_BIN_EXE_argus"), &pcap, &ours, &a);
        assert_eq!(
            ra_fields(DEBIAN_RA, &ours, fields),
            want,
            "{name}: our sensor's records (Debian's ra, {n} workers) differ from Debian's argus'"
        );
    }
    let ours = ra_fields(env!("CARGO_BIN_EXE_ra"), &theirs, fields);
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
        &every_ms(&[
            esp(0x1234_5678, 1),
            esp(0x1234_5678, 2),
            esp(0xfedc_ba98, 1),
        ]),
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
    let (want, got) = both_ra_on_ours(&pcap, &["-X", "-n"], &["proto", "daddr"]);
    assert!(want.lines().count() > 60_000, "{}", want.lines().count());
    assert!(
        want.contains("decro,02:00:00:00:60:03"),
        "the table holds DECnet routing"
    );
    assert_lines_alike(&want, &got);
}

/// Our sensor on `pcap`, its records printed by Debian's ra and ours with `args` and the
/// `fields`: (Debian's lines, ours).
fn both_ra_on_ours(pcap: &Path, args: &[&str], fields: &[&str]) -> (String, String) {
    let out = pcap.with_extension("argus");
    sensor(env!("CARGO_BIN_EXE_argus"), pcap, &out, &[]);
    let print = |bin: &str| {
        let o = Command::new(bin)
            .args(args)
            .args(["-c", ",", "-L", "-1", "-M", "noman", "-r"])
            .arg(&out)
            .arg("-s")
            .args(fields)
            .output()
            .expect("run ra");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    (print(DEBIAN_RA), print(env!("CARGO_BIN_EXE_ra")))
}

/// Every line the same (the first ten that differ otherwise).
fn assert_lines_alike(want: &str, got: &str) {
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

const R: [u8; 4] = [10, 9, 9, 9];

/// An ICMPv4 message from `from` to `to` (frames from the server side's MAC): type, code, the
/// 4-byte word after the checksum (gateway, MTU or unused) and the first `n` bytes of `quoted`,
/// an IPv4 datagram.
fn icmp_error(
    from: [u8; 4],
    to: [u8; 4],
    t: u8,
    code: u8,
    word: u32,
    quoted: &[u8],
    n: usize,
) -> Vec<u8> {
    let mut l4 = vec![t, code, 0, 0];
    l4.extend_from_slice(&word.to_be_bytes());
    l4.extend_from_slice(&quoted[..n.min(quoted.len())]);
    let mut f = eth(B, A, &[], 0x0800);
    f.extend(ipv4(from, to, 1, 0, &l4));
    f
}

/// An IPv4 datagram as it leaves `src` (the bytes an ICMP error quotes), and its frame.
fn datagram(src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let ip = ipv4(src, dst, proto, 0, l4);
    let (sm, dm) = if src == C { (A, B) } else { (B, A) };
    let mut f = eth(sm, dm, &[], 0x0800);
    f.extend_from_slice(&ip);
    (ip, f)
}

/// The `inode` column of a printed line.
fn inode(line: &str) -> &str {
    line.split(',').nth(43).unwrap_or("")
}

/// ICMPv4 errors that quote a datagram of a tracked flow are flows of their own and also mark
/// the quoted flow (argus ArgusUpdateICMPState, `flow::icmp_map`): the ICMP DSR with the
/// reporting node (`inode`) and, for unreachable / redirect / time exceeded, the `U`/`R`/`T`
/// flag; the flow's last time moves to the error's. From either side of the flow, for UDP, TCP
/// and ICMP echo flows, with the transport ports in the quote or not, with one worker or
/// several.
#[test]
fn icmp_errors_map_onto_the_flows_they_quote() {
    const T: &str = "icmp_errors_map_onto_the_flows_they_quote";
    if !have_oracle(T) {
        return;
    }
    // Port unreachable from the server, host unreachable from a router about the reply.
    let (q, f) = datagram(C, S, 17, &udp(4000, 9999, 20));
    let (rq, rf) = datagram(S, C, 17, &udp(9999, 4000, 20));
    let lines = case(
        "icmp-unreach-udp",
        &[
            f,
            icmp_error(S, C, 3, 3, 0, &q, 28),
            rf,
            icmp_error(R, S, 3, 1, 0, &rq, 28),
        ],
    );
    let udp_line = lines
        .iter()
        .find(|l| l.contains(",udp,"))
        .expect("udp flow");
    assert!(flags(udp_line).contains('U'), "{udp_line}");
    assert_eq!(inode(udp_line), "10.9.9.9", "{udp_line}");

    // Every kind of error about one TCP flow: the last unreachable / redirect / time exceeded
    // sets the flag; parameter problem and source quench keep it, and extend the time.
    let (q, f) = datagram(C, S, 6, &tcp(5000, 80, 100, 0, 0x02, 0));
    let lines = case(
        "icmp-kinds-tcp",
        &[
            f,
            icmp_error(R, C, 5, 1, u32::from_be_bytes([10, 9, 9, 8]), &q, 28),
            icmp_error(R, C, 11, 0, 0, &q, 28),
            icmp_error(R, C, 12, 0, 0, &q, 28),
            icmp_error(R, C, 4, 0, 0, &q, 28),
            icmp_error(R, C, 3, 13, 0, &q, q.len()),
        ],
    );
    let tcp_line = lines
        .iter()
        .find(|l| l.contains(",tcp,"))
        .expect("tcp flow");
    assert!(flags(tcp_line).contains('U'), "{tcp_line}");

    // Only a parameter problem: the time moves, no flag, no inode.
    let (q, f) = datagram(C, S, 17, &udp(4001, 9999, 20));
    let lines = case("icmp-param-only", &[f, icmp_error(R, C, 12, 0, 0, &q, 28)]);
    let udp_line = lines
        .iter()
        .find(|l| l.contains(",udp,"))
        .expect("udp flow");
    assert_eq!(inode(udp_line), "", "{udp_line}");

    // Time exceeded about an echo request; a quote without the transport header finds nothing.
    let mut echo = vec![8, 0, 0, 0, 0, 7, 0, 1];
    echo.extend_from_slice(&[0x55; 32]);
    let (q, f) = datagram(C, S, 1, &echo);
    let (uq, uf) = datagram(C, S, 17, &udp(4002, 9999, 20));
    let lines = case(
        "icmp-timxceed-echo",
        &[
            f,
            icmp_error(R, C, 11, 0, 0, &q, 28),
            uf,
            icmp_error(R, C, 3, 1, 0, &uq, 20),
        ],
    );
    assert!(lines.iter().any(|l| flags(l).contains('T')), "{lines:?}");
    let udp_line = lines
        .iter()
        .find(|l| l.contains(",udp,"))
        .expect("udp flow");
    assert_eq!(inode(udp_line), "", "{udp_line}");

    // An error in the flow's next status interval: the record not yet written takes it.
    let (q, f) = datagram(C, S, 17, &udp(4003, 9999, 20));
    let lines = timed_case(
        "icmp-next-interval",
        &[
            (1000, f.clone()),
            (6_000_000, icmp_error(R, C, 3, 1, 0, &q, 28)),
            (1_000_000, f),
        ],
    );
    assert!(lines.iter().any(|l| inode(l) == "10.9.9.9"), "{lines:?}");
}

/// ICMPv6 errors are not mapped onto the flows they quote (argus 3.0.8 does not; the ICMP DSR
/// holds IPv4 addresses only): each is a flow of its own, which both ra's print alike.
#[test]
fn icmpv6_errors_stay_flows_of_their_own() {
    const T: &str = "icmpv6_errors_stay_flows_of_their_own";
    if !have_oracle(T) {
        return;
    }
    let dg = ipv6(1, 2, 17, &udp(4000, 9999, 10));
    let mut f = eth(A, B, &[], 0x86dd);
    f.extend_from_slice(&dg);
    let err = |t: u8, code: u8| {
        let mut l4 = vec![t, code, 0, 0, 0, 0, 0, 0];
        l4.extend_from_slice(&dg);
        let mut e = eth(B, A, &[], 0x86dd);
        e.extend(ipv6(9, 1, 58, &l4));
        e
    };
    let mut frames = vec![f];
    for (t, codes) in [(1u8, 0..8u8), (2, 0..1), (3, 0..2), (4, 0..4)] {
        for c in codes {
            frames.push(err(t, c));
        }
    }
    let lines = case("icmpv6-errors", &frames);
    let udp_line = lines
        .iter()
        .find(|l| l.contains(",udp,"))
        .expect("udp flow");
    assert_eq!(inode(udp_line), "", "{udp_line}");
    assert!(!flags(udp_line).contains('U'), "{udp_line}");
}

/// The State, type and code columns of ICMP flows: one message of every ICMPv4 and ICMPv6
/// type with codes 0 to 15 (replies included, which argus keys as their request), through our
/// sensor, printed by both ra's, every line the same.
#[test]
fn icmp_states_as_debian_ra_prints_them() {
    const T: &str = "icmp_states_as_debian_ra_prints_them";
    if !have_oracle(T) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("icmp.pcap");
    let mut w = PcapWriter::create(&pcap);
    for t in 0..=255u8 {
        for c in 0..16u8 {
            // Each pair its own flow: the type and code in the addresses.
            let body = [t, c, 0, 0, 0, 1, 0, 1];
            let mut f = eth(A, B, &[], 0x0800);
            f.extend(ipv4([10, 0, t, 1], [10, 1, c, 2], 1, 0, &body));
            w.put(&f);
            let mut f = eth(A, B, &[], 0x86dd);
            let mut ip = ipv6(1, 2, 58, &body);
            ip[23] = t;
            ip[39] = c;
            f.extend(ip);
            w.put(&f);
        }
    }
    drop(w);
    let (want, got) = both_ra_on_ours(
        &pcap,
        &["-n"],
        &["proto", "saddr", "sport", "daddr", "dport", "state"],
    );
    assert!(want.lines().count() > 6000, "{}", want.lines().count());
    assert!(want.contains(",URCUT"), "the table holds unreachable codes");
    assert_lines_alike(&want, &got);
}

/// The fragments of one UDP datagram of `len` payload bytes from C to S, `piece` bytes each
/// (a multiple of 8), as frames in datagram order.
fn fragments(dport: u16, len: usize, piece: usize) -> Vec<Vec<u8>> {
    let dgram = udp(4000, dport, len);
    let mut out = Vec::new();
    let mut off = 0;
    while off < dgram.len() {
        let end = (off + piece).min(dgram.len());
        let more = if end < dgram.len() { MF } else { 0 };
        let mut f = eth(A, B, &[], 0x0800);
        f.extend(ipv4(C, S, 17, more | (off / 8) as u16, &dgram[off..end]));
        out.push(f);
        off = end;
    }
    out
}

/// Later IPv4 fragments join the flow of their datagram's first fragment (argus ArgusFrag.c,
/// `flow::frag_join`): in order, in reverse order (folded in when the first one comes), for
/// DNS too; without their first fragment they stay a fragment flow (`f`).
#[test]
fn later_fragments_join_their_datagrams_flow() {
    const T: &str = "later_fragments_join_their_datagrams_flow";
    if !have_oracle(T) {
        return;
    }
    let frags = fragments(7000, 2000, 800);
    let lines = case("fragments-in-order", &frags);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(flags(&lines[0]).contains('F'), "{lines:?}");
    let mut rev = frags.clone();
    rev.reverse();
    let lines = case("fragments-reversed", &rev);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let lines = case("fragments-first-missing", &frags[1..]);
    assert!(flags(&lines[0]).contains('f'), "{lines:?}");
    let lines = case("fragments-dns", &fragments(53, 1500, 800));
    assert_eq!(lines.len(), 1, "{lines:?}");
}

/// The life of a datagram's fragment flow (`flow::frag_join`): it moves into its parent when
/// the datagram is complete and is deleted (a copy of the last fragment after that is a
/// fragment flow of its own); at the parent's status interval its packets move in and, linked
/// two seconds or more, it is deleted (a later fragment starts an orphan); fragments that came
/// before the first one move in when the parent is reported, after the parent's own later
/// packets, so the parent keeps its start.
#[test]
fn fragment_flows_live_until_complete_reported_or_two_seconds() {
    const T: &str = "fragment_flows_live_until_complete_reported_or_two_seconds";
    if !have_oracle(T) {
        return;
    }
    let frags = fragments(53, 1500, 400);
    let last = frags.len() - 1;
    // Complete, then a copy of the last fragment.
    let mut copied: Vec<(u64, Vec<u8>)> = every_ms(&frags);
    copied.push((170_000, frags[last].clone()));
    let lines = timed_case("fragment-copy-after-complete", &copied);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(flags(&lines[1]).contains('f'), "{lines:?}");
    // The status interval (5 s) passes mid-datagram.
    let lines = timed_case(
        "fragment-status-mid-datagram",
        &[
            (1000, frags[0].clone()),
            (5_842_000, frags[1].clone()),
            (294_000, frags[last].clone()),
        ],
    );
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(flags(&lines[1]).contains('f'), "{lines:?}");
    // A later fragment first, then the first one and a reply, all within the interval.
    let reply = udp_frame(S, C, 53, 4000, 0, 40);
    let lines = timed_case(
        "fragment-before-first-then-reply",
        &[
            (1000, frags[1].clone()),
            (67_000, frags[0].clone()),
            (90_000, reply.clone()),
        ],
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    // Without the first fragment, an overlap shows as `V`, an exact copy does not.
    let dgram = udp(4000, 53, 1500);
    let piece = |a: usize, b: usize| {
        let mut f = eth(A, B, &[], 0x0800);
        f.extend(ipv4(C, S, 17, MF | (a / 8) as u16, &dgram[a..b]));
        f
    };
    let lines = case("fragment-overlap", &[piece(400, 800), piece(408, 800)]);
    assert!(flags(&lines[0]).contains('V'), "{lines:?}");
    let lines = case("fragment-copy", &[piece(400, 800), piece(400, 800)]);
    assert!(flags(&lines[0]).contains('f'), "{lines:?}");
    // The same, the reply after the interval: the fragment moves in before it.
    timed_case(
        "fragment-before-first-reply-late",
        &[
            (1000, frags[1].clone()),
            (67_000, frags[0].clone()),
            (6_090_000, reply),
        ],
    );
}

/// ARP and RARP flows: a reply seen alone is keyed as its request and printed as the
/// destination's (RSP); RARP requests and replies are flows of their own, keyed on the target
/// protocol address of a reply and both hardware addresses, printed as `rarp`.
#[test]
fn arp_replies_alone_and_rarp() {
    const T: &str = "arp_replies_alone_and_rarp";
    if !have_oracle(T) {
        return;
    }
    let arp = |ethertype: u16, op: u16, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]| {
        let mut f = eth(
            sha,
            if op % 2 == 1 { [0xff; 6] } else { tha },
            &[],
            ethertype,
        );
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4]);
        f.extend_from_slice(&op.to_be_bytes());
        f.extend_from_slice(&sha);
        f.extend_from_slice(&spa);
        f.extend_from_slice(&tha);
        f.extend_from_slice(&tpa);
        f.resize(60, 0);
        f
    };
    let lines = case("arp-reply-alone", &[arp(0x0806, 2, B, S, A, C)]);
    assert!(lines[0].contains(",RSP,"), "{lines:?}");
    let lines = case(
        "rarp",
        &[
            // A request for an unknown target (zeros): argus keys a request's addresses the
            // other way round from a reply's.
            arp(0x8035, 3, A, [0; 4], [0; 6], [0; 4]),
            arp(0x8035, 4, B, S, A, C),
        ],
    );
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines.iter().all(|l| l.contains(",rarp,")), "{lines:?}");
}

/// A frame with all of it captured, 1 ms after the previous one.
fn whole(f: Vec<u8>) -> (u64, Vec<u8>, usize) {
    let n = f.len();
    (1000, f, n)
}

/// User data where argus' header walk stops: a TCP or UDP header not captured whole leaves it
/// at the transport header (and the whole UDP length counts as application bytes), an ARP
/// packet's starts in the padding past its 28-byte body; a frame captured with nothing at all,
/// first in its capture, is a flow of zero MACs (argus' zeroed packet buffer).
#[test]
fn user_data_of_truncated_headers_arp_padding_and_empty_frames() {
    const T: &str = "user_data_of_truncated_headers_arp_padding_and_empty_frames";
    if !have_oracle(T) {
        return;
    }
    let mut t = eth(A, B, &[], 0x0800);
    t.extend(ipv4(C, S, 6, 0, &tcp(0x4142, 0x4344, 1, 0, 0x18, 5)));
    let mut u = eth(A, B, &[], 0x0800);
    u.extend(ipv4(C, [10, 1, 0, 3], 17, 0, &udp(0x4142, 0x4344, 10)));
    let mut arp = eth(A, [0xff; 6], &[], 0x0806);
    arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&A);
    arp.extend_from_slice(&C);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&S);
    arp.extend_from_slice(b"ZYXWVUTSRQPONMLKJIHG");
    let lines = extended_case(
        "user-data",
        &[
            (1000, t.clone(), 0),
            (1000, t, 14 + 20 + 4),
            (1000, u, 14 + 20 + 6),
            whole(arp),
        ],
    );
    assert!(lines.iter().any(|l| l.contains("s[4]=ABCD")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("s[6]=ABCD")), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("s[16]=ZYXWVUTSRQPONMLK")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains(",llc,")), "{lines:?}");
}

/// IGMP flows are keyed on the group the message names, or on the IP destination when it
/// names none (a general query); later IPv6 fragments on the identification in host order,
/// with their payload past the fragment header as application bytes and user data.
#[test]
fn igmp_groups_and_ipv6_later_fragments() {
    const T: &str = "igmp_groups_and_ipv6_later_fragments";
    if !have_oracle(T) {
        return;
    }
    let igmp = |t: u8, group: [u8; 4], dst: [u8; 4]| {
        let mut body = vec![t, 0, 0, 0];
        body.extend_from_slice(&group);
        let mut f = eth(A, B, &[], 0x0800);
        f.extend(ipv4(C, dst, 2, 0, &body));
        whole(f)
    };
    let frag6 = |s: u8, d: u8, id: u32, offset: u16| {
        let mut l4 = vec![17, 0];
        l4.extend_from_slice(&(offset << 3).to_be_bytes());
        l4.extend_from_slice(&id.to_be_bytes());
        l4.extend(std::iter::repeat_n(b'i', 400));
        let mut f = eth(A, B, &[], 0x86dd);
        f.extend(ipv6(s, d, 44, &l4));
        whole(f)
    };
    let lines = extended_case(
        "igmp-frag6",
        &[
            igmp(0x11, [0; 4], [224, 0, 0, 1]),
            igmp(0x17, [239, 1, 1, 3], [224, 0, 0, 2]),
            frag6(1, 2, 0x1234_5678, 1232),
            frag6(1, 2, 0x1234_5678, 1632),
            frag6(2, 1, 0x1234_5679, 1232),
        ],
    );
    assert!(lines.iter().any(|l| l.contains(",239.1.1.3,")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains(",224.0.0.1,")), "{lines:?}");
}

/// Fragments joined to their datagram's flow add packets, bytes and times there but neither
/// packet sizes nor inter-packet times, and a fragment that came before its first one adds no
/// application bytes when folded in; the jitter as argus computes it (single-precision mean).
#[test]
fn joined_fragments_sizes_and_jitter() {
    const T: &str = "joined_fragments_sizes_and_jitter";
    if !have_oracle(T) {
        return;
    }
    let later = |src: [u8; 4], dst: [u8; 4], words: u16| {
        let (sm, dm) = if src == C { (A, B) } else { (B, A) };
        let mut f = eth(sm, dm, &[], 0x0800);
        f.extend(ipv4(src, dst, 17, words, &[0x66; 120]));
        f
    };
    extended_case(
        "joined-after",
        &[
            (1000, udp_frame(C, S, 2222, 7000, MF, 400), 442 + 14),
            (236_877, later(C, S, 51), 174),
        ],
    );
    extended_case(
        "folded-before",
        &[
            whole(later(C, S, 51)),
            whole(udp_frame(C, S, 2223, 7000, MF, 300)),
        ],
    );
    let jit = |us: u64| (us, udp_frame(C, S, 3353, 5353, 0, 100), 142);
    extended_case(
        "jitter",
        &[jit(1000), jit(221_002), jit(429_538), jit(180_414)],
    );
}

/// argus files a TCP flow's inter-packet intervals as *active* or *idle* by what its sequence
/// tracking made of the packet that ends each one (`TcpTracker::idle`); ra pools the two into
/// `sjit`/`djit` with a units slip, so a flow with both kinds prints a jitter far from either.
#[test]
fn tcp_jitter_active_and_idle_intervals() {
    const T: &str = "tcp_jitter_active_and_idle_intervals";
    if !have_oracle(T) {
        return;
    }
    const ACK: u8 = 0x10;
    const PSH_ACK: u8 = 0x18;
    const SYN: u8 = 0x02;
    let seg = |fwd: bool, seq: u32, ack: u32, flags: u8, data: usize| {
        let (sm, dm, s, d, sp, dp) = if fwd {
            (A, B, C, S, 40000, 80)
        } else {
            (B, A, S, C, 80, 40000)
        };
        let mut f = eth(sm, dm, &[], 0x0800);
        f.extend(ipv4(s, d, 6, 0, &tcp(sp, dp, seq, ack, flags, data)));
        let len = f.len();
        (0u64, f, len)
    };
    let at = |us: u64, mut x: (u64, Vec<u8>, usize)| {
        x.0 = us;
        x
    };
    // Data, the other side's data acknowledging it, an ACK, data (a new burst: idle), an ACK,
    // data (continuing the unacknowledged burst: active).
    extended_case(
        "tcp-jitter-bursts",
        &[
            at(1000, seg(true, 1000, 1, PSH_ACK, 10)),
            at(50_000, seg(false, 1, 1010, PSH_ACK, 10)),
            at(50_000, seg(true, 1010, 11, ACK, 0)),
            at(200_000, seg(true, 1010, 11, PSH_ACK, 10)),
            at(400_000, seg(true, 1020, 11, ACK, 0)),
            at(800_000, seg(true, 1020, 11, PSH_ACK, 10)),
        ],
    );
    // A SYN retransmitted keeps the flag as it was (active); the ACK after the SYN-ACK and
    // the first data are idle; data after it active.
    extended_case(
        "tcp-jitter-syn",
        &[
            at(1000, seg(true, 999, 0, SYN, 0)),
            at(100_000, seg(true, 999, 0, SYN, 0)),
            at(50_000, seg(false, 5000, 1000, SYN | ACK, 0)),
            at(150_000, seg(true, 1000, 5001, ACK, 0)),
            at(400_000, seg(true, 1000, 5001, PSH_ACK, 10)),
            at(800_000, seg(true, 1010, 5001, PSH_ACK, 10)),
        ],
    );
}

/// argus turns an ESP packet's SPI and sequence number to host order before it takes the user
/// data: `DCBAHGFE...` for `ABCDEFGH...`. (Debian's ra prints the SPI wrongly, see
/// `esp_flows_are_keyed_and_printed_by_spi`: only the sensors are compared here.)
#[test]
fn esp_user_data_in_host_order() {
    const T: &str = "esp_user_data_in_host_order";
    if !have_oracle(T) {
        return;
    }
    let mut f = eth(A, B, &[], 0x0800);
    f.extend(ipv4(C, S, 50, 0, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"));
    let fields = format!("{FIELDS} {EXTENDED_FIELDS}");
    let (debian, _) = run_case(
        "esp-user-data",
        &[whole(f.clone()), whole(f)],
        EXTENDED,
        &fields,
    );
    assert!(
        debian.iter().any(|l| l.contains("s[16]=DCBAHGFEIJKLMNOP")),
        "{debian:?}"
    );
}
