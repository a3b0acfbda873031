//! Live capture on a veth pair between two network namespaces that the test creates (and
//! removes), through each capture path: XDP + AF_XDP in native (driver) mode, in SKB mode, and
//! the AF_PACKET fallback. Frames of a capture are sent from one end with `argus-replay`
//! (bounded rate), `argus -i` captures the other end until SIGTERM, and the records must account
//! for exactly the packets and bytes that `argus -r` finds in the same capture, flow by flow.
//! Captures: a mix generated here (TCP sessions, UDP, ICMP, IPv6, 802.1Q-tagged frames) and
//! files of the shared corpus, QinQ included.
//!
//! Needs root (namespaces, raw sockets). Without it the test says SKIPPED loudly, unless
//! `ARGUS_REQUIRE_REFERENCE=1` (CI), where it fails.

mod common;
use argus::capture::xdp::Attached;
use argus::config::XdpDelivery;
use common::{
    can_run_live, captures_where, corpus_dir, eth, ipv4, ipv6, replay, require, tcp, udp,
    PcapWriter, Veth,
};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Per flow key and direction: (packets, bytes), from our `ra` over an argus file.
fn tallies(file: &Path) -> BTreeMap<String, (u64, u64, u64, u64)> {
    let out = Command::new(env!("CARGO_BIN_EXE_ra"))
        .args(["-n", "-M", "noman", "-L", "-1", "-c", ",", "-r"])
        .arg(file)
        .args([
            "-s", "proto", "saddr", "sport", "dir", "daddr", "dport", "spkts", "dpkts", "sbytes",
            "dbytes",
        ])
        .output()
        .expect("run ra");
    let mut m = BTreeMap::new();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let c: Vec<&str> = l.split(',').collect();
        if c.len() != 10 {
            continue;
        }
        let key = format!("{} {} {} {} {}", c[0], c[1], c[2], c[4], c[5]);
        let n = |i: usize| c[i].trim().parse::<u64>().unwrap_or(0);
        let e = m.entry(key).or_insert((0, 0, 0, 0));
        e.0 += n(6);
        e.1 += n(7);
        e.2 += n(8);
        e.3 += n(9);
    }
    m
}

fn start_sensor(ns: &str, out: &Path, extra: &[&str]) -> Sensor {
    try_start_sensor(ns, out, extra).unwrap_or_else(|log| panic!("argus failed to start: {log:?}"))
}

/// [`start_sensor`], or the sensor's stderr when it exited before capturing.
fn try_start_sensor(ns: &str, out: &Path, extra: &[&str]) -> Result<Sensor, Vec<String>> {
    let mut c = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            env!("CARGO_BIN_EXE_argus"),
            "-X",
            "-i",
            "va",
            "-w",
        ])
        .arg(out)
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start argus");
    // Wait for the capture to be set up: it is complete once privileges are dropped. A
    // sensor that fails exits before that, and its stderr ends.
    let err = c.stderr.take().expect("stderr");
    let mut lines = BufReader::new(err).lines();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut startup = Vec::new();
    for l in lines.by_ref() {
        let l = l.expect("read stderr");
        eprintln!("[argus] {l}");
        startup.push(l);
        if startup
            .last()
            .is_some_and(|l| l.contains("privileges dropped"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "argus did not start: {startup:?}"
        );
    }
    if !startup
        .last()
        .is_some_and(|l| l.contains("privileges dropped"))
    {
        let _ = c.wait();
        return Err(startup);
    }
    // Once capturing, the sensor holds no capabilities any more.
    let status = std::fs::read_to_string(format!("/proc/{}/status", c.id())).unwrap_or_default();
    let cap_eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(str::trim)
        .unwrap_or("?");
    assert_eq!(cap_eff, "0000000000000000", "capabilities left after setup");
    let log = std::thread::spawn(move || {
        let mut all = startup;
        for l in lines.map_while(Result::ok) {
            eprintln!("[argus] {l}");
            all.push(l);
        }
        all
    });
    Ok(Sensor { child: c, log })
}

struct Sensor {
    child: Child,
    /// The sensor's stderr lines, returned when it exits.
    log: std::thread::JoinHandle<Vec<String>>,
}

/// SIGTERM; the sensor must exit cleanly. Returns its stderr lines, set-up included.
fn stop_sensor(s: Sensor) -> Vec<String> {
    let Sensor { child: mut c, log } = s;
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) of our own child (the `ip netns exec` process execs argus in place).
    unsafe {
        libc::kill(c.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(st) = c.try_wait().expect("wait") {
            assert!(st.success(), "argus exited with {st}");
            return log.join().unwrap_or_default();
        }
        assert!(Instant::now() < deadline, "argus did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Capture `pcap` live and compare with `argus -r pcap`, flow by flow. Returns the sensor's
/// stderr.
fn live_matches_offline(v: &Veth, pcap: &Path, dir: &Path, extra: &[&str]) -> Vec<String> {
    let name = pcap.file_name().and_then(|n| n.to_str()).unwrap_or("x");
    let live = dir.join(format!("{name}.{}.live.argus", extra.join("")));
    let offline = dir.join(format!("{name}.offline.argus"));
    // argus appends to an existing output file.
    let _ = std::fs::remove_file(&live);
    let _ = std::fs::remove_file(&offline);
    let st = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(["-X", "-r"])
        .arg(pcap)
        .arg("-w")
        .arg(&offline)
        .args(extra)
        .status()
        .expect("argus -r");
    assert!(st.success() || st.code() == Some(2));
    let c = start_sensor(&v.a, &live, extra);
    let (sent, skipped) = replay(&v.b, pcap, 5000);
    let log = stop_sensor(c);
    assert_eq!(skipped, 0, "{name}: frames the veth refused");
    let (want, got) = (tallies(&offline), tallies(&live));
    let total =
        |m: &BTreeMap<String, (u64, u64, u64, u64)>| m.values().map(|t| t.0 + t.1).sum::<u64>();
    let frames = {
        let mut src = argus::capture::open(pcap.to_str().expect("utf-8")).expect("open");
        let mut n = 0u64;
        while let Ok(Some(_)) = src.next_frame() {
            n += 1;
        }
        n
    };
    assert_eq!(sent, frames, "{name}: frames sent");
    assert_eq!(
        total(&got),
        total(&want),
        "{name}: packets in live records vs `argus -r` ({sent} frames sent)"
    );
    assert_eq!(
        want, got,
        "{name}: flows captured live differ from `argus -r` on the same capture"
    );
    let path = capture_path_ran(&log, extra, sent);
    eprintln!(
        "live_capture: {name} {extra:?}: {sent} frames through {path}, {} flows agree",
        want.len()
    );
    log
}

/// The value following `flag` in `args`.
fn flag<'a>(args: &[&'a str], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| *a == flag)
        .and_then(|i| args.get(i + 1).copied())
}

/// The sensor's own report (its stderr) must show that the capture path `args` ask for ran and
/// carried the `sent` frames: for XDP, the set-up line names the attach mode, the metadata
/// delivery and copy mode (veth has no zero-copy), and the exit line of the XDP program counts
/// every frame as redirected to AF_XDP, in that mode with that delivery; for AF_PACKET, its
/// set-up line and no XDP program. So a silent fallback to another path fails. Returns the
/// path, for the log.
fn capture_path_ran(log: &[String], args: &[&str], sent: u64) -> String {
    let setup = log
        .iter()
        .find_map(|l| l.strip_prefix("argus: capturing on va with "))
        .unwrap_or_else(|| panic!("no capture set-up line: {log:?}"));
    let summary = log
        .iter()
        .find_map(|l| l.strip_prefix("argus: va: XDP program in "));
    if flag(args, "--capture") == Some("afpacket") {
        assert!(setup.starts_with("AF_PACKET"), "{args:?}: ran {setup}");
        assert!(summary.is_none(), "{args:?}: an XDP program ran: {log:?}");
        return "AF_PACKET".into();
    }
    let mode = match flag(args, "--xdp-mode") {
        Some("skb") => Attached::Skb.describe(),
        // Native where not forced: veth has driver-mode XDP.
        _ => Attached::Native.describe(),
    };
    assert!(
        setup.starts_with(&format!("XDP + AF_XDP: XDP in {mode}, ")),
        "{args:?}: ran {setup}"
    );
    assert!(
        setup.ends_with(" 0 zero-copy"),
        "{args:?}: veth is copy mode: {setup}"
    );
    let summary = summary.unwrap_or_else(|| panic!("{args:?}: no XDP exit report: {log:?}"));
    let delivery = summary
        .strip_prefix(mode)
        .and_then(|r| r.strip_prefix(" with "))
        .and_then(|r| r.split(':').next())
        .unwrap_or_else(|| panic!("{args:?}: XDP program report {summary}"));
    let named = XdpDelivery::parse(delivery).ok().flatten();
    let named = named.unwrap_or_else(|| panic!("{args:?}: delivery `{delivery}`: {summary}"));
    assert!(
        setup.contains(named.describe()),
        "{args:?}: set-up line and exit report disagree on the delivery: {setup} / {summary}"
    );
    if let Some(want) = flag(args, "--xdp-meta") {
        assert_eq!(delivery, want, "{args:?}: delivery: {summary}");
    }
    assert!(
        summary.contains(&format!(": {sent} frames seen, {sent} redirected to AF_XDP, 0 passed, 0 dropped, 0 without metadata")),
        "{args:?}: {sent} frames sent, the XDP program reports {summary}"
    );
    format!("XDP in {mode} with {delivery}")
}

/// A capture with a known mix: a TCP session, UDP exchanges, ICMP echo, IPv6 UDP and TCP, and
/// 802.1Q-tagged UDP.
fn mix_pcap(path: &Path) {
    let mut w = PcapWriter::create(path);
    let mut put = |frame: Vec<u8>| w.put(&frame);
    let (ma, mb) = ([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xb]);
    let v4 = |s, d, proto, l4: &[u8]| ipv4(s, d, proto, 0x4000, l4);
    let tagged = |vlan: Option<u16>| vlan.map(|v| vec![(0x8100, v)]).unwrap_or_default();
    let (c, s) = ([10, 9, 0, 1], [10, 9, 0, 2]);
    // TCP session with data both ways and a FIN close.
    let seq: [(bool, u8, u32, u32, usize); 8] = [
        (true, 0x02, 100, 0, 0),
        (false, 0x12, 500, 101, 0),
        (true, 0x10, 101, 501, 0),
        (true, 0x18, 101, 501, 120),
        (false, 0x18, 501, 221, 700),
        (true, 0x11, 221, 1201, 0),
        (false, 0x11, 1201, 222, 0),
        (true, 0x10, 222, 1202, 0),
    ];
    for (up, fl, sq, ak, n) in seq {
        let (src, dst, sm, dm, sp, dp) = if up {
            (c, s, ma, mb, 40000, 80)
        } else {
            (s, c, mb, ma, 80, 40000)
        };
        let mut fr = eth(sm, dm, &[], 0x0800);
        fr.extend(v4(src, dst, 6, &tcp(sp, dp, sq, ak, fl, n)));
        put(fr);
    }
    // UDP exchanges, a tagged one among them.
    for (k, vlan) in [(0u16, None), (1, None), (2, Some(20u16))] {
        let mut q = eth(ma, mb, &tagged(vlan), 0x0800);
        q.extend(v4(c, s, 17, &udp(5000 + k, 53 + k * 100, 30 + k as usize)));
        put(q);
        let mut r = eth(mb, ma, &tagged(vlan), 0x0800);
        r.extend(v4(s, c, 17, &udp(53 + k * 100, 5000 + k, 90)));
        put(r);
    }
    // ICMP echo request and reply, twice.
    for sq in [1u16, 2] {
        for (src, dst, sm, dm, ty) in [(c, s, ma, mb, 8u8), (s, c, mb, ma, 0)] {
            let mut icmp = vec![ty, 0, 0, 0, 0x12, 0x34];
            icmp.extend_from_slice(&sq.to_be_bytes());
            icmp.extend_from_slice(&[0x63; 32]);
            let mut fr = eth(sm, dm, &[], 0x0800);
            fr.extend(v4(src, dst, 1, &icmp));
            put(fr);
        }
    }
    // IPv6: a UDP exchange and a TCP handshake.
    for (a, b, sm, dm) in [(1u8, 2u8, ma, mb), (2, 1, mb, ma)] {
        let (sp, dp) = if a == 1 { (6000, 123) } else { (123, 6000) };
        let mut fr = eth(sm, dm, &[], 0x86dd);
        fr.extend(ipv6(a, b, 17, &udp(sp, dp, 48)));
        put(fr);
    }
    for (a, b, sm, dm, fl, sq, ak) in [
        (1u8, 2u8, ma, mb, 0x02u8, 7u32, 0u32),
        (2, 1, mb, ma, 0x12, 900, 8),
        (1, 2, ma, mb, 0x10, 8, 901),
    ] {
        let (sp, dp) = if a == 1 { (41000, 443) } else { (443, 41000) };
        let mut fr = eth(sm, dm, &[], 0x86dd);
        fr.extend(ipv6(a, b, 6, &tcp(sp, dp, sq, ak, fl, 0)));
        put(fr);
    }
}

/// Every capture path accounts like the file reader.
fn capture_accounts_like_the_file_reader(tag: &str, mode: &[&str]) {
    if !can_run_live("live_capture") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let v = Veth::new(tag);
    let mix = dir.path().join("mix.pcap");
    mix_pcap(&mix);
    live_matches_offline(&v, &mix, dir.path(), mode);
    let one: Vec<&str> = mode.iter().copied().chain(["--workers", "1"]).collect();
    live_matches_offline(&v, &mix, dir.path(), &one);
    let Some(c) = corpus_dir() else {
        assert!(
            !require(),
            "pcap corpus missing but ARGUS_REQUIRE_REFERENCE=1"
        );
        eprintln!("\n*** live_capture: corpus not found, corpus replays SKIPPED ***\n");
        return;
    };
    for f in [
        "test.pcap",
        "wikipedia.pcap",
        "vlan-collisions.pcap",
        "http-qinq-0.pcap",
    ] {
        live_matches_offline(&v, &c.join(f), dir.path(), mode);
    }
}

/// Every corpus capture whose frames are all Ethernet, complete (a truncated frame goes out with
/// only its captured bytes, so its length differs from the file's) and fit the veth.
fn ethernet_corpus(c: &Path) -> Vec<std::path::PathBuf> {
    captures_where(c, |m, d| {
        m.linktype == 1 && m.caplen == m.len && (14..=common::MTU + 18).contains(&d.len())
    })
}

/// The default capture path (XDP) on every complete Ethernet capture of the corpus.
#[test]
fn xdp_whole_corpus_accounts_like_the_file_reader() {
    if !can_run_live("live_capture") {
        return;
    }
    let Some(c) = corpus_dir() else {
        assert!(
            !require(),
            "pcap corpus missing but ARGUS_REQUIRE_REFERENCE=1"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let v = Veth::new("w");
    let mut bad = Vec::new();
    let files = ethernet_corpus(&c);
    assert!(
        files.len() > 30,
        "only {} usable corpus captures",
        files.len()
    );
    for p in &files {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            live_matches_offline(&v, p, dir.path(), &["--capture", "xdp"]);
        }));
        if r.is_err() {
            bad.push(p.display().to_string());
        }
    }
    eprintln!("live_capture: {} corpus captures replayed", files.len());
    assert!(bad.is_empty(), "differ: {bad:?}");
}

#[test]
fn afpacket_accounts_like_the_file_reader() {
    capture_accounts_like_the_file_reader("p", &["--capture", "afpacket"]);
}

#[test]
fn xdp_skb_mode_accounts_like_the_file_reader() {
    capture_accounts_like_the_file_reader("k", &["--capture", "xdp", "--xdp-mode", "skb"]);
}

#[test]
fn xdp_native_mode_accounts_like_the_file_reader() {
    capture_accounts_like_the_file_reader("n", &["--capture", "xdp", "--xdp-mode", "native"]);
}

/// Each way of handing the XDP program's metadata to user space (`--xdp-meta`) that the
/// kernel loads accounts like the file reader, in both attach modes; a way the kernel refuses
/// must be refused by the verifier (the sensor says so and exits), and the way without kernel
/// metadata must load wherever XDP does.
#[test]
fn xdp_every_metadata_delivery_accounts_like_the_file_reader() {
    if !can_run_live("live_capture") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let v = Veth::new("e");
    let mix = dir.path().join("mix.pcap");
    mix_pcap(&mix);
    let mut files = vec![mix];
    files.extend(common::corpus_files(
        "live_capture",
        &["test.pcap", "http-qinq-0.pcap"],
    ));
    let mut loaded = Vec::new();
    for d in XdpDelivery::ALL {
        let probe = dir.path().join("probe.argus");
        let args = ["--capture", "xdp", "--xdp-meta", d.name()];
        match try_start_sensor(&v.a, &probe, &args) {
            Ok(s) => {
                stop_sensor(s);
            }
            Err(log) => {
                assert!(
                    log.iter()
                        .any(|l| l.contains("loading the XDP program (verifier)")
                            && l.contains(d.program())),
                    "{d:?}: the sensor failed for another reason than the verifier's: {log:?}"
                );
                eprintln!("live_capture: {d:?} refused by this kernel: {log:?}");
                continue;
            }
        }
        loaded.push(d);
        for mode in ["native", "skb"] {
            for f in &files {
                let args = [&args[..], &["--xdp-mode", mode]].concat();
                live_matches_offline(&v, f, dir.path(), &args);
            }
        }
    }
    assert!(
        loaded.contains(&XdpDelivery::User),
        "XDP without kernel metadata must load: {loaded:?}"
    );
}

/// The frames handed between workers, from the sensor's exit report.
fn handed_off(log: &[String]) -> u64 {
    log.iter()
        .find_map(|l| {
            let (_, rest) = l.split_once("pinned to a core): ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .expect("the sensor reports its hand-offs at exit")
}

/// Several rx queues (veth spreads flows over them) and several workers: each worker reads its
/// own queues, and frames of another worker's shard go through the hand-off rings, in time
/// order with that worker's own frames (a reply that arrives on another queue must not
/// overtake its request). Accounting must still equal `argus -r`, flow by flow and direction
/// by direction, with queues and workers not dividing each other (4 queues, 3 workers).
#[test]
fn multi_queue_workers_hand_off_and_account_like_the_file_reader() {
    if !can_run_live("live_capture") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let v = Veth::with_queues("m", 4);
    let mix = dir.path().join("mix.pcap");
    mix_pcap(&mix);
    let mut files = vec![mix];
    files.extend(common::corpus_files(
        "live_capture",
        &["test.pcap", "wikipedia.pcap", "vlan-collisions.pcap"],
    ));
    let modes: [&[&str]; 4] = [
        &["--capture", "xdp", "--xdp-mode", "native", "--workers", "2"],
        &["--capture", "xdp", "--xdp-mode", "native", "--workers", "3"],
        &["--capture", "xdp", "--xdp-mode", "skb", "--workers", "2"],
        &["--capture", "afpacket", "--workers", "3"],
    ];
    for mode in modes {
        let mut moved = 0;
        for f in &files {
            let log = live_matches_offline(&v, f, dir.path(), mode);
            assert!(
                log.iter()
                    .any(|l| l.contains(", 0 dropped on a full hand-off ring")),
                "{mode:?}: frames dropped between workers: {log:?}"
            );
            moved += handed_off(&log);
        }
        eprintln!("live_capture: {mode:?}: {moved} frames handed between workers");
        assert!(moved > 0, "{mode:?}: no frame crossed between workers");
    }
}

/// With `-M 1` a MAR status record comes every second, counting the interval's packets.
#[test]
fn mar_status_records_every_interval() {
    if !can_run_live("live_capture") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let v = Veth::new("s");
    let out = dir.path().join("status.argus");
    let c = start_sensor(&v.a, &out, &["-M", "1"]);
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/wikipedia.pcap");
    let (sent, _) = replay(&v.b, &pcap, 100);
    assert_eq!(sent, 136);
    std::thread::sleep(Duration::from_millis(1200));
    stop_sensor(c);
    let bytes = std::fs::read(&out).expect("read output");
    let mut rd = argus::record::decode::RecordReader::new(&bytes[..]);
    let (mut n, mut pkts, mut flows_max) = (0, 0u64, 0u32);
    while let Some(r) = rd.next_record() {
        if let Ok(argus::record::Record::Mar(m)) = r {
            if m.cause == argus::record::Cause::Status {
                n += 1;
                pkts += m.pkts_rcvd;
                flows_max = flows_max.max(m.flows);
                assert!(m.now > m.startime, "status MAR covers an interval");
            }
        }
    }
    assert!(n >= 2, "{n} status MARs in about 2.5 s with -M 1");
    assert!(
        pkts > 0 && pkts <= 136,
        "status MARs count {pkts} packets of 136 sent"
    );
    assert!(flows_max > 0, "status MARs report the flows in the tables");
}

/// A faulty SPAN shows in the status MARs: two interfaces, one mirroring VLAN 10's
/// client-to-server packets twice, the other mirroring the server-to-client packets of its
/// untagged traffic twice, and VLAN 30 clean. Each status interval's supplemental MARs name the
/// interface, VLAN and direction, and add up to the copies sent; Debian's `ra` reads the file.
#[test]
fn span_duplicates_show_per_interface_and_vlan_in_status_mars() {
    if !can_run_live("live_capture") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // Two pairs; the second's capture end moves into the first's namespace as `vc`.
    let v = Veth::new("d1");
    let w = Veth::new("d2");
    common::sh(&["ip", "-n", &w.a, "link", "set", "va", "name", "vc"]);
    common::sh(&["ip", "-n", &w.a, "link", "set", "vc", "netns", &v.a]);
    common::sh(&["ip", "-n", &v.a, "link", "set", "vc", "up"]);
    // UDP flows whose every packet differs (IP id), so only the mirror's copies repeat.
    let frame = |tags: &[(u16, u16)], fwd: bool, flow: u8, id: u16| {
        let (s, d, sp, dp) = if fwd {
            ([10, 0, flow, 1], [10, 0, flow, 2], 4000 + flow as u16, 53)
        } else {
            ([10, 0, flow, 2], [10, 0, flow, 1], 53, 4000 + flow as u16)
        };
        let mut ip = ipv4(s, d, 17, 0, &udp(sp, dp, 40));
        ip[4..6].copy_from_slice(&id.to_be_bytes());
        let mut f = eth([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], tags, 0x0800);
        f.extend_from_slice(&ip);
        f
    };
    let (pa, pb) = (dir.path().join("a.pcap"), dir.path().join("b.pcap"));
    let (mut a, mut b) = (PcapWriter::create(&pa), PcapWriter::create(&pb));
    let (mut copies_a, mut copies_b, mut id) = (0u64, 0u64, 0u16);
    for round in 0..40u16 {
        for flow in 1..=4u8 {
            id = id.wrapping_add(1);
            // VLAN 10 on `va`: client-to-server packets twice.
            let f = frame(&[(0x8100, 10)], true, flow, id);
            a.put(&f);
            a.put(&f);
            copies_a += 1;
            a.put(&frame(&[(0x8100, 10)], false, flow, id));
            // VLAN 30 on `va`: clean.
            a.put(&frame(&[(0x8100, 30)], true, flow + 10, id));
            a.put(&frame(&[(0x8100, 30)], false, flow + 10, id));
            // untagged on `vc`: server-to-client packets twice, every other round.
            b.put(&frame(&[], true, flow + 20, id));
            let r = frame(&[], false, flow + 20, id);
            b.put(&r);
            if round % 2 == 0 {
                b.put(&r);
                copies_b += 1;
            }
        }
    }
    drop((a, b));
    let out = dir.path().join("span.argus");
    // A long default window: the test's copies must not depend on the sender's scheduling.
    let c = start_sensor(
        &v.a,
        &out,
        &["-i", "vc", "-M", "1", "--dedup-window", "0.5"],
    );
    replay(&v.b, &pa, 2000);
    replay(&w.b, &pb, 2000);
    std::thread::sleep(Duration::from_millis(1300));
    stop_sensor(c);
    drop(w);

    // Sum the supplemental MARs per interface and VLAN.
    let bytes = std::fs::read(&out).expect("read output");
    let mut rd = argus::record::decode::RecordReader::new(&bytes[..]);
    let mut detail: BTreeMap<(String, u16), ([u64; 2], [u64; 2])> = BTreeMap::new();
    let (mut status_copies, mut statuses) = (0u64, 0);
    while let Some(r) = rd.next_record() {
        if let Ok(argus::record::Record::Mar(m)) = r {
            if m.cause == argus::record::Cause::Status {
                statuses += 1;
                status_copies += m.dups.pkts as u64;
            }
            if m.is_dup_detail() {
                let e = detail.entry((m.dup_iface(), m.dups.vid)).or_default();
                for d in 0..2 {
                    e.0[d] += m.dup_pkts()[d];
                    e.1[d] += m.dup_copies()[d];
                }
            }
        }
    }
    assert!(statuses >= 1, "no status MAR");
    let keys: Vec<_> = detail.keys().cloned().collect();
    assert_eq!(
        keys,
        [("va".to_string(), 10), ("vc".to_string(), 0)],
        "the interfaces and VLANs with copies (VLAN 30 is clean): {detail:?}"
    );
    assert_eq!(
        detail[&("va".into(), 10)],
        ([160 + copies_a, 160], [copies_a, 0])
    );
    assert_eq!(
        detail[&("vc".into(), 0)],
        ([160, 160 + copies_b], [0, copies_b])
    );
    assert_eq!(status_copies, copies_a + copies_b, "status MARs' copies");

    // Our ra shows them as DUP lines: interface, VLAN, direction and share.
    let o = Command::new(env!("CARGO_BIN_EXE_ra"))
        .args(["-n", "-c", ",", "-r"])
        .arg(&out)
        .args(["-s", "state", "saddr", "sport", "sdups", "ddups", "dupvlan"])
        .output()
        .expect("run ra");
    let text = String::from_utf8_lossy(&o.stdout);
    let dup_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("DUP")).collect();
    eprintln!("ra's DUP lines:\n{}", dup_lines.join("\n"));
    assert!(
        dup_lines
            .iter()
            .any(|l| l.starts_with("DUP,va,10,") && l.ends_with(",0,10:s:50.0%")),
        "ra's DUP line of VLAN 10 on va: {dup_lines:?}"
    );
    assert!(
        dup_lines
            .iter()
            .any(|l| l.starts_with("DUP,vc,-,0,") && l.contains(":d:")),
        "ra's DUP line of vc: {dup_lines:?}"
    );

    // Debian's ra reads the file: every record, the supplemental MARs as `man` lines.
    match Command::new("ra").args(["-n", "-r"]).arg(&out).output() {
        Ok(o) => {
            assert!(o.status.success(), "Debian ra failed on the file");
            let theirs = String::from_utf8_lossy(&o.stdout).lines().count();
            let ours = Command::new(env!("CARGO_BIN_EXE_ra"))
                .args(["-n", "-r"])
                .arg(&out)
                .output()
                .expect("run ra");
            let ours = String::from_utf8_lossy(&ours.stdout).lines().count();
            assert_eq!(theirs, ours, "Debian's ra and ours print the same records");
        }
        Err(_) if require() => panic!("Debian's ra is missing (ARGUS_REQUIRE_REFERENCE=1)"),
        Err(_) => eprintln!("\n*** Debian's ra is missing: file not checked with it ***\n"),
    }
}
