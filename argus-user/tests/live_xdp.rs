//! Live capture through XDP and AF_XDP (`capture::xdp`), on a veth pair between two network
//! namespaces that the test creates (and removes): the program is attached to `va` in SKB
//! mode, in native mode (veth has native XDP) and in automatic mode, frames of captures are
//! sent from the peer `vb` with `argus-replay` (bounded rate), and received through the AF_XDP
//! socket directly in the test. Every frame must arrive, byte-identical to the pcap frame, with
//! the kernel's `XdpMeta` equal to what user space computes for the pcap frame
//! (`capture::xdp::compute_meta`: magic, class, offsets, flow hash, content hash, ...), the
//! content hash also equal to `capture::meta::content_hash` of the frame, its shard hash equal
//! to `engine::shard::frame_shard_hash` wherever `fast_shard_hash` answers (and flagged exactly
//! there), and the program's STATS counters must account for every frame. After the capture is
//! dropped, the interface must have no XDP program left.
//!
//! Each way of handing the metadata to user space (`XdpDelivery`: the metadata area, a
//! prepended header, none) is forced in turn: the ones the kernel loads are run on the mix in
//! both attach modes, the ones it refuses must be refused by the verifier (not for any other
//! reason), the probe must pick the first one that loads, and the one without kernel metadata
//! must always load (it is XDP itself).
//!
//! Needs root (namespaces, BPF, AF_XDP). Without it the test says SKIPPED loudly, unless
//! `ARGUS_REQUIRE_REFERENCE=1` (CI), where it fails. A kernel refusing native XDP on veth fails
//! the test with the kernel's reason.

use argus::capture::xdp::{self, Attached, Xdp};
use argus::config::{XdpDelivery, XdpMode};
use argus::engine::shard::{fast_shard_hash, frame_shard_hash};
use argus_common::XdpMeta;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::{
    captures_where, corpus_dir, eth, ipv4, ipv6, replay, require, udp, PcapWriter, Veth, MTU,
};

const ETHERNET: u32 = 1;

/// `ip link show va` in namespace a.
fn link_a(v: &Veth) -> String {
    let o = Command::new("ip")
        .args(["-n", &v.a, "-d", "link", "show", "va"])
        .output()
        .expect("ip link show");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn can_run() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let ip = Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    let prog = xdp::has_embedded_program() || std::env::var_os(xdp::OBJECT_ENV).is_some();
    if root && ip && prog {
        return true;
    }
    let why = if !prog {
        "the XDP program is not embedded (run `cargo xtask build-ebpf` before building) and \
         ARGUS_XDP_OBJECT is not set"
    } else {
        "needs root and the `ip` command"
    };
    if require() {
        panic!("live_xdp: {why} (ARGUS_REQUIRE_REFERENCE=1)");
    }
    eprintln!("\n*** SKIPPED live_xdp: {why} ***\n");
    false
}

/// `capture::meta::content_hash` of an Ethernet frame, finding the L3 start itself (up to two
/// tags), independently of `compute_meta`.
fn content_hash_of(f: &[u8]) -> u32 {
    let et = |o: usize| u16::from_be_bytes([f[o], f[o + 1]]);
    let tag = |t: u16| matches!(t, 0x8100 | 0x88a8 | 0x9100);
    let mut l3 = 14;
    let mut t = et(12);
    for _ in 0..2 {
        if tag(t) && f.len() >= l3 + 4 {
            t = et(l3 + 2);
            l3 += 4;
        }
    }
    argus::capture::meta::content_hash(f, l3, t)
}

type Frames = Arc<Mutex<Vec<(Option<XdpMeta>, Vec<u8>)>>>;

/// A capture thread living in namespace `ns` (setns applies to the calling thread only), with
/// an `Xdp` on `va` polling into `frames` until `stop`.
struct Capture {
    frames: Frames,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(xdp::XdpStats, Vec<u64>)>>,
    attached: Attached,
    delivery: XdpDelivery,
    refused: Vec<(XdpDelivery, String)>,
    queues: usize,
    describe: String,
}

impl Capture {
    fn start(ns: &str, mode: XdpMode, delivery: Option<XdpDelivery>) -> Result<Capture, String> {
        let frames: Frames = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let (f2, s2, ns) = (frames.clone(), stop.clone(), ns.to_string());
        let thread = std::thread::spawn(move || {
            let open = || -> Result<Xdp, String> {
                let nsf = std::fs::File::open(format!("/var/run/netns/{ns}"))
                    .map_err(|e| format!("open netns {ns}: {e}"))?;
                use std::os::fd::AsRawFd;
                // SAFETY: setns(2) of this thread into a namespace file we hold open.
                if unsafe { libc::setns(nsf.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(format!("setns: {}", std::io::Error::last_os_error()));
                }
                Xdp::open("va", false, mode, delivery).map_err(|e| e.to_string())
            };
            let mut x = match open() {
                Ok(x) => x,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return (xdp::XdpStats::default(), Vec::new());
                }
            };
            let _ = tx.send(Ok((
                x.attached(),
                x.delivery(),
                x.refused().to_vec(),
                x.describe(),
                x.queues(),
            )));
            while !s2.load(Ordering::Relaxed) {
                let mut got = Vec::new();
                x.poll_meta(Duration::from_millis(20), &mut |_, m, d| {
                    got.push((m.copied(), d.to_vec()))
                })
                .expect("poll");
                if !got.is_empty() {
                    f2.lock().expect("lock").extend(got);
                }
            }
            (x.stats(), x.received_per_queue())
        });
        match rx.recv() {
            Ok(Ok((attached, delivery, refused, describe, queues))) => Ok(Capture {
                frames,
                stop,
                thread: Some(thread),
                attached,
                delivery,
                refused,
                queues,
                describe,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err("capture thread died".into()),
        }
    }

    /// Wait until `n` frames are in (or 10 s passed), then take them.
    fn take(&self, n: usize) -> Vec<(Option<XdpMeta>, Vec<u8>)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.frames.lock().expect("lock").len() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        // Anything beyond `n` would show up here too.
        std::thread::sleep(Duration::from_millis(100));
        std::mem::take(&mut *self.frames.lock().expect("lock"))
    }

    /// Stop; the counters and the frames received per queue.
    fn finish(mut self) -> (xdp::XdpStats, Vec<u64>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("thread")
            .join()
            .expect("capture thread")
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The frames of `pcap` that the veth carries: an Ethernet header at least, within the MTU.
fn pcap_frames(pcap: &Path) -> (Vec<Vec<u8>>, usize) {
    let mut src = argus::capture::open(pcap.to_str().expect("utf-8")).expect("open pcap");
    let (mut v, mut all) = (Vec::new(), 0);
    while let Ok(Some((m, d))) = src.next_frame() {
        all += 1;
        assert_eq!(m.linktype, ETHERNET, "{}: not Ethernet", pcap.display());
        // Frames shorter than an Ethernet header cannot be sent (argus-replay counts them as
        // skipped), nor can frames over the MTU.
        if (14..=MTU + 18).contains(&d.len()) {
            v.push(d.to_vec());
        }
    }
    (v, all)
}

/// Replay `pcap` and check every frame and its metadata. Returns the number of frames.
fn check_pcap(v: &Veth, cap: &Capture, pcap: &Path) -> u64 {
    let name = pcap.file_name().and_then(|n| n.to_str()).unwrap_or("x");
    let (want, all) = pcap_frames(pcap);
    let (sent, skipped) = replay(&v.b, pcap, 20_000);
    assert_eq!(
        (sent as usize, sent as usize + skipped as usize),
        (want.len(), all),
        "{name}: frames sent / in the file (frames over the MTU are skipped)"
    );
    let mut want = want;
    let mut got = cap.take(want.len());
    assert_eq!(got.len(), want.len(), "{name}: frames received over AF_XDP");
    if cap.queues > 1 {
        // Each queue keeps its order, the queues interleave: compare as multisets.
        want.sort();
        got.sort_by(|a, b| a.1.cmp(&b.1));
    }
    let mut shard_checked = 0;
    let mut content_checked = 0;
    for (i, ((meta, frame), w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(frame, w, "{name}: frame {i} differs from the pcap frame");
        if cap.delivery == XdpDelivery::User {
            assert!(
                meta.is_none(),
                "{name}: frame {i}: metadata from the program that delivers none"
            );
            continue;
        }
        let meta = meta.unwrap_or_else(|| panic!("{name}: frame {i} without valid XdpMeta"));
        let mine = xdp::compute_meta(w);
        // The content hash separately, with its own message (the struct comparison below
        // covers it too), and against the slice function the flow engine calls.
        assert_eq!(
            meta.content_hash, mine.content_hash,
            "{name}: frame {i}: kernel content hash vs user space's"
        );
        if meta.l3_off != 0 {
            assert_eq!(
                meta.content_hash,
                content_hash_of(w),
                "{name}: frame {i}: kernel content hash vs capture::meta::content_hash"
            );
            content_checked += 1;
        }
        assert!(
            meta.ktime_ns() != 0 && meta.ktime_ns() <= monotonic_ns(),
            "{name}: frame {i}: kernel timestamp {} not a past CLOCK_MONOTONIC time",
            meta.ktime_ns()
        );
        let stamped = argus_common::XdpMeta {
            ktime_lo: 0,
            ktime_hi: 0,
            ..meta
        };
        assert_eq!(
            stamped, mine,
            "{name}: frame {i}: kernel metadata vs user space's"
        );
        let fast = fast_shard_hash(ETHERNET, w);
        assert_eq!(
            xdp::shard_hash(&meta),
            fast,
            "{name}: frame {i}: XDP shard hash vs fast_shard_hash"
        );
        if let Some(h) = xdp::shard_hash(&meta) {
            assert_eq!(
                h,
                frame_shard_hash(ETHERNET, w, w.len() as u32),
                "{name}: frame {i}: XDP shard hash vs frame_shard_hash"
            );
            shard_checked += 1;
            // The live engine takes the kernel's content hash for these frames instead of
            // computing it (engine::live, flow::key::classify_with): it must be the one the
            // flow engine computes from the classified packet.
            let d = argus::wire::decode(ETHERNET, w, w.len() as u32);
            if let Some(pk) = argus::flow::key::classify(w, &d) {
                if !pk.l3.is_empty() {
                    assert_eq!(
                        meta.content_hash,
                        pk.content_hash(),
                        "{name}: frame {i}: kernel content hash vs the flow engine's"
                    );
                }
            }
        }
    }
    eprintln!(
        "live_xdp: {name} ({}): {} frames identical, {shard_checked} shard hashes and \
         {content_checked} content hashes of the kernel equal to user space's",
        cap.delivery.name(),
        want.len()
    );
    want.len() as u64
}

fn uname() -> String {
    Command::new("uname")
        .arg("-r")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Attach in `mode` with `delivery` (`None`: the probe), check every frame of `pcaps` and the
/// counters; returns how the program was attached and how it delivered the metadata.
fn run_mode(
    v: &Veth,
    mode: XdpMode,
    delivery: Option<XdpDelivery>,
    pcaps: &[PathBuf],
) -> (Attached, XdpDelivery) {
    let cap = match Capture::start(&v.a, mode, delivery) {
        Ok(c) => c,
        Err(e) => panic!(
            "live_xdp: attaching in {mode:?} mode with {delivery:?} on veth failed (kernel {}): {e}",
            uname()
        ),
    };
    eprintln!("live_xdp: {mode:?}: {}", cap.describe);
    if let Some(d) = delivery {
        assert_eq!(cap.delivery, d, "{mode:?}: the delivery asked for");
    }
    let link = link_a(v);
    assert!(
        link.contains("xdp"),
        "{mode:?}: no XDP program on va:\n{link}"
    );
    let (attached, delivered) = (cap.attached, cap.delivery);
    let mut total = 0;
    for p in pcaps {
        total += check_pcap(v, &cap, p);
    }
    let (st, per_queue) = cap.finish();
    eprintln!("live_xdp: {mode:?}: stats {st:?}, per queue {per_queue:?}");
    assert_eq!(st.received, total, "{mode:?}: frames received");
    assert_eq!(st.seen, total, "{mode:?}: STATS seen");
    assert_eq!(st.redirected, total, "{mode:?}: STATS redirected");
    assert_eq!(
        (st.passed, st.dropped, st.no_meta),
        (0, 0, 0),
        "{mode:?}: STATS passed, dropped, no_meta"
    );
    assert_eq!(
        (st.rx_dropped, st.bad_meta),
        (0, 0),
        "{mode:?}: socket drops, frames without metadata"
    );
    let link = link_a(v);
    assert!(
        !link.contains("xdp"),
        "{mode:?}: XDP program still attached after drop:\n{link}"
    );
    (attached, delivered)
}

/// A capture with a known mix: TCP, UDP (one 802.1Q-tagged, one QinQ-tagged), ICMP, IPv6 UDP
/// and ICMPv6, an IPv4 fragment, ARP, LLC and an IPv4 header with a bad IHL.
fn mix_pcap(path: &Path) {
    let mut w = PcapWriter::create(path);
    let mut put = |frame: Vec<u8>| w.put(&frame);
    let (ma, mb) = ([2u8, 0, 0, 0, 0, 0xa], [2u8, 0, 0, 0, 0, 0xb]);
    let v4 = ipv4;
    let (c, s) = ([10, 9, 0, 1], [10, 9, 0, 2]);
    // TCP SYN / SYN-ACK.
    for (src, dst, sm, dm, sp, dp, fl) in [
        (c, s, ma, mb, 40000u16, 80u16, 0x02u8),
        (s, c, mb, ma, 80, 40000, 0x12),
    ] {
        let mut tcp = Vec::new();
        tcp.extend_from_slice(&sp.to_be_bytes());
        tcp.extend_from_slice(&dp.to_be_bytes());
        tcp.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, fl, 0xff, 0xff, 0, 0, 0, 0]);
        let mut fr = eth(sm, dm, &[], 0x0800);
        fr.extend(v4(src, dst, 6, 0x4000, &tcp));
        put(fr);
    }
    // UDP untagged, 802.1Q, QinQ (88a8 + 8100), old QinQ (9100).
    for tags in [
        vec![],
        vec![(0x8100u16, 20u16)],
        vec![(0x88a8, 100), (0x8100, 20)],
        vec![(0x9100, 7)],
    ] {
        let mut q = eth(ma, mb, &tags, 0x0800);
        q.extend(v4(c, s, 17, 0, &udp(5000, 53, 30)));
        put(q);
        let mut r = eth(mb, ma, &tags, 0x0800);
        r.extend(v4(s, c, 17, 0, &udp(53, 5000, 90)));
        put(r);
    }
    // Content hash shapes: TCP with a payload longer than the window, the same segment
    // VLAN-tagged with TTL 63 (a mirrored copy), a short frame with Ethernet padding (the
    // window ends at the IP length), an IPv6 TCP segment with a long payload.
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&[
        0x9c, 0x40, 0, 80, 0, 0, 0x10, 0, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff,
    ]);
    tcp.extend_from_slice(&[0, 0, 0, 0]);
    tcp.extend((0..400u32).map(|i| (i * 13) as u8));
    let mut fr = eth(ma, mb, &[], 0x0800);
    fr.extend(v4(c, s, 6, 0x4000, &tcp));
    put(fr);
    let mut fr = eth(mb, ma, &[(0x8100, 30)], 0x0800);
    let mut h = v4(c, s, 6, 0x4000, &tcp);
    h[8] = 63;
    fr.extend(h);
    put(fr);
    let mut fr = eth(ma, mb, &[], 0x0800);
    fr.extend(v4(c, s, 6, 0x4000, &tcp[..20]));
    fr.extend_from_slice(&[0xa5; 6]);
    put(fr);
    let mut fr = eth(ma, mb, &[], 0x86dd);
    fr.extend(ipv6(1, 2, 6, &tcp));
    put(fr);
    // ICMP echo.
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
    icmp.extend_from_slice(&[0x63; 32]);
    let mut fr = eth(ma, mb, &[], 0x0800);
    fr.extend(v4(c, s, 1, 0, &icmp));
    put(fr);
    // IPv4 fragments: first (MF) and a later one.
    let mut fr = eth(ma, mb, &[], 0x0800);
    fr.extend(v4(c, s, 17, 0x2000, &udp(7000, 7001, 64)));
    put(fr);
    let mut fr = eth(ma, mb, &[], 0x0800);
    fr.extend(v4(c, s, 17, 9, &[0x64; 40]));
    put(fr);
    // IPv4 with IHL 4 (malformed).
    let mut fr = eth(ma, mb, &[], 0x0800);
    let mut h = v4(c, s, 17, 0, &udp(1, 2, 10));
    h[0] = 0x44;
    fr.extend(h);
    put(fr);
    // GRE (no fast shard hash).
    let mut fr = eth(ma, mb, &[], 0x0800);
    fr.extend(v4(c, s, 47, 0, &[0, 0, 0x08, 0, 0, 0, 0, 0]));
    put(fr);
    // IPv6 UDP and ICMPv6.
    let mut fr = eth(ma, mb, &[], 0x86dd);
    fr.extend(ipv6(1, 2, 17, &udp(6000, 123, 48)));
    put(fr);
    let mut fr = eth(mb, ma, &[], 0x86dd);
    fr.extend(ipv6(2, 1, 17, &udp(123, 6000, 48)));
    put(fr);
    let mut fr = eth(ma, mb, &[], 0x86dd);
    fr.extend(ipv6(1, 2, 58, &[128, 0, 0, 0, 0, 1, 0, 1]));
    put(fr);
    // IPv6 extension headers (the bounded walk): hop-by-hop + TCP; destination options +
    // routing + UDP; AH + TCP; a first fragment (UDP follows) and a later one (nothing
    // follows); five headers (beyond the walk's bound); a header cut short.
    let ext = |nh: u8, units: u8| {
        let mut e = vec![nh, units];
        e.resize((units as usize + 1) * 8, 1);
        e
    };
    let chains: Vec<(u8, Vec<u8>)> = vec![
        (
            0,
            [ext(6, 0), common::tcp(41000, 443, 7, 0, 0x02, 0)].concat(),
        ),
        (60, [ext(43, 1), ext(17, 0), udp(6001, 53, 20)].concat()),
        (51, {
            let mut ah = vec![6, 4, 0, 0];
            ah.resize(24, 2);
            [ah, common::tcp(41001, 22, 9, 0, 0x02, 0)].concat()
        }),
        (
            44,
            [vec![17, 0, 0x00, 0x01, 0, 0, 0, 9], udp(6002, 53, 40)].concat(),
        ),
        (
            44,
            [vec![17, 0, 0x00, 0xb9, 0, 0, 0, 9], vec![0x62; 40]].concat(),
        ),
        (
            0,
            [
                ext(0, 0),
                ext(0, 0),
                ext(0, 0),
                ext(0, 0),
                ext(6, 0),
                common::tcp(1, 2, 3, 0, 0x02, 0),
            ]
            .concat(),
        ),
        (60, vec![17, 9, 0]),
    ];
    for (nh, l4) in chains {
        let mut fr = eth(ma, mb, &[], 0x86dd);
        fr.extend(ipv6(1, 2, nh, &l4));
        put(fr);
    }
    // ARP request.
    let mut fr = eth(ma, [0xff; 6], &[], 0x0806);
    fr.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    fr.extend_from_slice(&ma);
    fr.extend_from_slice(&c);
    fr.extend_from_slice(&[0; 6]);
    fr.extend_from_slice(&s);
    put(fr);
    // 802.3 + LLC (STP-like).
    let mut fr = eth(ma, [0x01, 0x80, 0xc2, 0, 0, 0], &[], 38);
    fr.extend_from_slice(&[0x42, 0x42, 0x03]);
    fr.extend_from_slice(&[0; 35]);
    put(fr);
}

/// [`mix_pcap`] written into a temp dir (kept while the returned value lives).
fn mix_in_tempdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mix = dir.path().join("mix.pcap");
    mix_pcap(&mix);
    (dir, mix)
}

/// Tests that load an object pick it through `ARGUS_XDP_OBJECT` (process-wide): the log test
/// sets it, so those tests run one at a time.
static OBJECT_LOCK: Mutex<()> = Mutex::new(());

fn object_lock() -> std::sync::MutexGuard<'static, ()> {
    OBJECT_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn xdp_frames_and_metadata_match_the_pcap() {
    if !can_run() {
        return;
    }
    let _lock = object_lock();
    let (_dir, mix) = mix_in_tempdir();
    let mut pcaps = vec![mix.clone()];
    match corpus_dir() {
        Some(c) => {
            // Every corpus capture whose frames are all Ethernet (the veth carries Ethernet).
            let files = captures_where(&c, |m, _| m.linktype == ETHERNET);
            eprintln!("live_xdp: {} Ethernet corpus captures", files.len());
            pcaps.extend(files);
        }
        None => {
            assert!(
                !require(),
                "pcap corpus missing but ARGUS_REQUIRE_REFERENCE=1"
            );
            eprintln!("\n*** live_xdp: corpus not found, corpus replays SKIPPED ***\n");
        }
    }
    let v = Veth::new("x");
    // The probed delivery, on everything.
    assert_eq!(run_mode(&v, XdpMode::Skb, None, &pcaps).0, Attached::Skb);
    assert_eq!(
        run_mode(&v, XdpMode::Native, None, &pcaps).0,
        Attached::Native
    );
    // Automatic mode takes native mode where the driver has it (veth does).
    assert_eq!(
        run_mode(&v, XdpMode::Auto, None, std::slice::from_ref(&mix)).0,
        Attached::Native
    );
    drop(v);
    // Four rx queues: four sockets, each in XSKS at its queue index; the peer spreads flows
    // over its tx queues, which veth maps to the same rx queues.
    let v = Veth::with_queues("q", 4);
    for mode in [XdpMode::Native, XdpMode::Skb] {
        let cap = Capture::start(&v.a, mode, None).expect("attach on a 4-queue veth");
        assert_eq!(cap.queues, 4, "{mode:?}: one socket per rx queue");
        let mut total = 0;
        for p in &pcaps {
            total += check_pcap(&v, &cap, p);
        }
        let (st, per_queue) = cap.finish();
        eprintln!("live_xdp: 4 queues, {mode:?}: {st:?}, per queue {per_queue:?}");
        assert_eq!((st.received, st.redirected), (total, total), "{mode:?}");
        assert_eq!(per_queue.iter().sum::<u64>(), total);
        assert!(
            per_queue.iter().filter(|&&n| n > 0).count() > 1,
            "{mode:?}: frames arrived on one queue only: {per_queue:?}"
        );
    }
}

/// Every way of delivering the metadata, forced in turn: each one the kernel loads gives the
/// mix's frames and metadata in both attach modes; each one it refuses is refused by the
/// verifier; the probe takes the first that loads and reports the refusals before it with the
/// same reasons; the program without metadata loads on any kernel with XDP.
#[test]
fn xdp_every_metadata_delivery_the_kernel_loads() {
    if !can_run() {
        return;
    }
    let _lock = object_lock();
    let (_dir, mix) = mix_in_tempdir();
    let v = Veth::new("d");
    let mut loads = Vec::new();
    let mut refused = Vec::new();
    for d in XdpDelivery::ALL {
        match Capture::start(&v.a, XdpMode::Skb, Some(d)) {
            Ok(c) => {
                assert_eq!(c.delivery, d);
                assert!(c.refused.is_empty(), "{d:?} forced: {:?}", c.refused);
                drop(c);
                loads.push(d);
            }
            Err(e) => {
                assert!(
                    e.contains("loading the XDP program (verifier)") && e.contains(d.program()),
                    "{d:?}: refused for another reason than the verifier's: {e}"
                );
                refused.push((d, e));
            }
        }
    }
    eprintln!(
        "live_xdp: kernel {}: loads {loads:?}; refuses {refused:?}",
        uname()
    );
    assert!(
        loads.contains(&XdpDelivery::User),
        "the XDP program without metadata must load wherever XDP works: {refused:?}"
    );
    // The probe: the first that loads, and the ones before it refused for the same reason.
    let auto = Capture::start(&v.a, XdpMode::Skb, None).expect("probe");
    assert_eq!(auto.delivery, loads[0], "the probe's choice");
    let before: Vec<XdpDelivery> = XdpDelivery::ALL
        .into_iter()
        .take_while(|d| *d != loads[0])
        .collect();
    assert_eq!(
        auto.refused.iter().map(|r| r.0).collect::<Vec<_>>(),
        before,
        "refusals the probe reports"
    );
    for (d, why) in &auto.refused {
        let forced = &refused
            .iter()
            .find(|r| r.0 == *d)
            .expect("refused when forced")
            .1;
        assert!(
            forced.contains(why.as_str()),
            "{d:?}: the probe's reason `{why}` is not the forced load's `{forced}`"
        );
        assert!(
            auto.describe.contains(why.as_str()),
            "the log line names why {d:?} was refused: {}",
            auto.describe
        );
    }
    drop(auto);
    for d in &loads {
        for mode in [XdpMode::Skb, XdpMode::Native] {
            assert_eq!(
                run_mode(&v, mode, Some(*d), std::slice::from_ref(&mix)).1,
                *d
            );
        }
    }
}

/// The object built with `cargo xtask build-ebpf --log` (`cargo xtask test` builds it to
/// `target/bpf/argus-xdp-log.o`; `ARGUS_XDP_LOG_OBJECT` overrides the path): loaded in place
/// of the default object, it must give the same frames and metadata, and its debug log must
/// arrive in user space (`capture::xdp_log`) for the malformed frames of the mix (one
/// line each). Without the object the test says SKIPPED loudly (fails under
/// `ARGUS_REQUIRE_REFERENCE=1`).
#[test]
fn xdp_log_object_forwards_the_kernel_log() {
    if !can_run() {
        return;
    }
    let obj = std::env::var_os("ARGUS_XDP_LOG_OBJECT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bpf/argus-xdp-log.o")
        });
    if !obj.is_file() {
        let why = format!(
            "{} missing (build it with `cargo xtask build-ebpf --log --out {0}`)",
            obj.display()
        );
        assert!(
            !require(),
            "live_xdp log: {why} (ARGUS_REQUIRE_REFERENCE=1)"
        );
        eprintln!("\n*** SKIPPED live_xdp log test: {why} ***\n");
        return;
    }
    let _lock = object_lock();
    let (_dir, mix) = mix_in_tempdir();
    let malformed = pcap_frames(&mix)
        .0
        .iter()
        .filter(|f| xdp::compute_meta(f).flags & argus_common::meta_flags::MALFORMED != 0)
        .count();
    assert!(malformed > 0, "the mix has malformed frames");
    let before = std::env::var_os(xdp::OBJECT_ENV);
    std::env::set_var(xdp::OBJECT_ENV, &obj);
    std::env::set_var(argus::capture::xdp_log::LEVEL_ENV, "debug");
    argus::capture::xdp_log::capture(true);
    let v = Veth::new("l");
    let cap = Capture::start(&v.a, XdpMode::Native, None);
    match before {
        Some(b) => std::env::set_var(xdp::OBJECT_ENV, b),
        None => std::env::remove_var(xdp::OBJECT_ENV),
    }
    let cap = cap.expect("attach the --log object (verifier)");
    let n = check_pcap(&v, &cap, &mix);
    // The reader thread polls every 50 ms.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        lines.extend(argus::capture::xdp_log::take_captured());
        if lines
            .iter()
            .filter(|l| l.contains("malformed frame"))
            .count()
            >= malformed
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (st, _) = cap.finish();
    lines.extend(argus::capture::xdp_log::take_captured());
    argus::capture::xdp_log::capture(false);
    let got = lines
        .iter()
        .filter(|l| l.contains("malformed frame"))
        .count();
    eprintln!(
        "live_xdp log: {n} frames through the --log object, {got} log lines for {malformed} \
         malformed frames, e.g. {:?}",
        lines.first()
    );
    assert_eq!(st.seen, n, "log object: STATS seen");
    assert_eq!(
        got, malformed,
        "one `malformed frame` debug line per malformed frame; lines: {lines:?}"
    );
    assert!(
        lines.iter().all(|l| l.contains("[DEBUG]")),
        "debug level: {lines:?}"
    );
}

/// Receive rate through AF_XDP in native mode (run with `--ignored`): the corpus' test.pcap sent
/// 200 times as fast as `argus-replay` goes (about 36k frames, bounded). Prints frames/s
/// received and the losses; only checks that nothing was lost without being counted.
#[test]
#[ignore]
fn xdp_receive_rate() {
    if !can_run() {
        return;
    }
    let _lock = object_lock();
    let Some(c) = corpus_dir() else {
        eprintln!("\n*** live_xdp: corpus not found, rate SKIPPED ***\n");
        return;
    };
    let pcap = c.join("test.pcap");
    let v = Veth::new("r");
    let cap = Capture::start(&v.a, XdpMode::Native, None).expect("attach native");
    let t = Instant::now();
    let out = Command::new("ip")
        .args(["netns", "exec", &v.b, env!("CARGO_BIN_EXE_argus-replay")])
        .args(["-i", "vb", "-r"])
        .arg(&pcap)
        .args(["--pps", "10000000", "--loop", "200"])
        .output()
        .expect("replay");
    let secs = t.elapsed().as_secs_f64();
    let s = String::from_utf8_lossy(&out.stdout);
    let sent: usize = s
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    let got = cap.take(sent).len();
    let (st, _) = cap.finish();
    eprintln!(
        "live_xdp rate: sent {sent} in {secs:.3} s ({:.0} frames/s), received {got}, stats {st:?}",
        sent as f64 / secs
    );
    assert_eq!(
        got as u64 + st.rx_dropped,
        st.redirected,
        "every redirected frame is received or counted as dropped"
    );
}

/// CLOCK_MONOTONIC in nanoseconds, the clock of the program's `bpf_ktime_get_ns`.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime(2) into a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
