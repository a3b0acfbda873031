//! Helpers shared by the integration tests: where the capture corpus is, whether reference
//! tools are required (CI), and the veth pairs of the live-capture tests.
#![allow(dead_code)] // each test binary uses a part of this

use std::path::{Path, PathBuf};
use std::process::Command;

/// MTU of the test veth pairs: native XDP on veth needs frames that fit a page with XDP's
/// headroom (larger MTUs make the attach fail with ERANGE).
pub const MTU: usize = 3000;

/// CI sets `ARGUS_REQUIRE_REFERENCE=1`: a test whose prerequisites are missing must fail there
/// instead of skipping.
pub fn require() -> bool {
    std::env::var("ARGUS_REQUIRE_REFERENCE").as_deref() == Ok("1")
}

/// The shared capture corpus (`ARGUS_PCAPS`, else `../shared/pcaps` next to the clone).
pub fn corpus_dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("ARGUS_PCAPS") {
        return Some(PathBuf::from(d));
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["../../shared/pcaps", "../shared/pcaps"]
        .iter()
        .map(|rel| here.join(rel))
        .find(|d| d.is_dir())
}

/// The corpus captures `names`; none (after a loud SKIPPED line) when the corpus is missing,
/// which fails the test under `ARGUS_REQUIRE_REFERENCE=1`.
pub fn corpus_files(test: &str, names: &[&str]) -> Vec<PathBuf> {
    match corpus_dir() {
        Some(c) => names.iter().map(|n| c.join(n)).collect(),
        None => {
            assert!(
                !require(),
                "{test}: pcap corpus missing but ARGUS_REQUIRE_REFERENCE=1"
            );
            eprintln!("\n*** {test}: corpus not found, corpus captures SKIPPED ***\n");
            Vec::new()
        }
    }
}

/// Root and iproute2 are there (namespaces, veth pairs, raw sockets). Otherwise a loud
/// SKIPPED line, or a failure under `ARGUS_REQUIRE_REFERENCE=1`.
pub fn can_run_live(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let ip = Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if root && ip {
        return true;
    }
    if require() {
        panic!("{test}: needs root and iproute2 (ARGUS_REQUIRE_REFERENCE=1)");
    }
    eprintln!("\n*** SKIPPED {test}: needs root and the `ip` command ***\n");
    false
}

pub fn sh(args: &[&str]) {
    let st = Command::new(args[0])
        .args(&args[1..])
        .status()
        .expect("run command");
    assert!(st.success(), "{args:?} failed");
}

/// Two network namespaces joined by a veth pair (`va` in `a`, `vb` in `b`), no addresses and
/// no IPv6 (the kernel sends nothing of its own on the link), MTU [`MTU`]; removed on drop,
/// which also removes any XDP program still attached.
pub struct Veth {
    pub a: String,
    pub b: String,
}

impl Veth {
    pub fn new(tag: &str) -> Veth {
        Veth::with_queues(tag, 1)
    }

    /// A pair whose ends have `q` rx and tx queues each.
    pub fn with_queues(tag: &str, q: u32) -> Veth {
        let id = format!("{}{}", std::process::id() % 100_000, tag);
        let v = Veth {
            a: format!("argA{id}"),
            b: format!("argB{id}"),
        };
        // Left over by an earlier run that was killed (a pid can come again).
        for ns in [&v.a, &v.b] {
            if Path::new("/run/netns").join(ns).exists() {
                let _ = Command::new("ip").args(["netns", "del", ns]).status();
            }
        }
        sh(&["ip", "netns", "add", &v.a]);
        sh(&["ip", "netns", "add", &v.b]);
        let q = q.to_string();
        sh(&[
            "ip",
            "link",
            "add",
            "va",
            "netns",
            &v.a,
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
            "type",
            "veth",
            "peer",
            "name",
            "vb",
            "netns",
            &v.b,
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
        ]);
        for (ns, dev) in [(&v.a, "va"), (&v.b, "vb")] {
            sh(&[
                "ip",
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{dev}.disable_ipv6=1"),
            ]);
            sh(&[
                "ip",
                "-n",
                ns,
                "link",
                "set",
                dev,
                "mtu",
                &MTU.to_string(),
                "up",
            ]);
        }
        v
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.a]).status();
        let _ = Command::new("ip").args(["netns", "del", &self.b]).status();
    }
}

/// A little-endian microsecond pcap file of Ethernet frames, written as frames are added (one
/// millisecond apart from 2023-11-14 22:13:20).
pub struct PcapWriter {
    f: std::fs::File,
    t_us: u64,
}

impl PcapWriter {
    pub fn create(path: &Path) -> PcapWriter {
        use std::io::Write;
        let mut f = std::fs::File::create(path).expect("create pcap");
        let mut hdr = Vec::new();
        hdr.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        hdr.extend_from_slice(&2u16.to_le_bytes());
        hdr.extend_from_slice(&4u16.to_le_bytes());
        for v in [0u32, 0, 65535, 1] {
            hdr.extend_from_slice(&v.to_le_bytes());
        }
        f.write_all(&hdr).expect("write pcap");
        PcapWriter {
            f,
            t_us: 1_700_000_000u64 * 1_000_000,
        }
    }

    /// The next frame, 1 ms after the previous one.
    pub fn put(&mut self, frame: &[u8]) {
        self.put_after(1000, frame);
    }

    /// The next frame, `us` microseconds after the previous one.
    pub fn put_after(&mut self, us: u64, frame: &[u8]) {
        self.put_cut(us, frame, frame.len());
    }

    /// [`PcapWriter::put_after`] with only the first `caplen` bytes captured (a snap length).
    pub fn put_cut(&mut self, us: u64, frame: &[u8], caplen: usize) {
        use std::io::Write;
        self.t_us += us;
        let cap = &frame[..caplen.min(frame.len())];
        let mut r = Vec::with_capacity(16 + cap.len());
        r.extend_from_slice(&((self.t_us / 1_000_000) as u32).to_le_bytes());
        r.extend_from_slice(&((self.t_us % 1_000_000) as u32).to_le_bytes());
        r.extend_from_slice(&(cap.len() as u32).to_le_bytes());
        r.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        r.extend_from_slice(cap);
        self.f.write_all(&r).expect("write pcap");
    }
}

/// An Ethernet header with VLAN tags given as (TPID, TCI).
pub fn eth(src: [u8; 6], dst: [u8; 6], tags: &[(u16, u16)], ethertype: u16) -> Vec<u8> {
    let mut e = dst.to_vec();
    e.extend_from_slice(&src);
    for (tpid, tci) in tags {
        e.extend_from_slice(&tpid.to_be_bytes());
        e.extend_from_slice(&tci.to_be_bytes());
    }
    e.extend_from_slice(&ethertype.to_be_bytes());
    e
}

/// An IPv4 packet (no options, TTL 64, checksum 0) with `frag` as the flags/offset word.
pub fn ipv4(s: [u8; 4], d: [u8; 4], proto: u8, frag: u16, l4: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0];
    h[2..4].copy_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&s);
    h.extend_from_slice(&d);
    h.extend_from_slice(l4);
    h
}

/// An IPv6 packet between 2001::s and 2001::d.
pub fn ipv6(s: u8, d: u8, next: u8, l4: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    for x in [s, d] {
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[1] = 0x01;
        a[15] = x;
        h.extend_from_slice(&a);
    }
    h.extend_from_slice(l4);
    h
}

/// A TCP segment (20-byte header) carrying `data` bytes.
pub fn tcp(sp: u16, dp: u16, seq: u32, ack: u32, flags: u8, data: usize) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&sp.to_be_bytes());
    h.extend_from_slice(&dp.to_be_bytes());
    h.extend_from_slice(&seq.to_be_bytes());
    h.extend_from_slice(&ack.to_be_bytes());
    h.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    h.extend(std::iter::repeat_n(0x61, data));
    h
}

/// A UDP datagram carrying `data` bytes.
pub fn udp(sp: u16, dp: u16, data: usize) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&sp.to_be_bytes());
    h.extend_from_slice(&dp.to_be_bytes());
    h.extend_from_slice(&((8 + data) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend(std::iter::repeat_n(0x62, data));
    h
}

/// Send `pcap` out of `vb` in namespace `ns` with `argus-replay` at `pps` frames per second;
/// returns (frames sent, frames the interface refused).
pub fn replay(ns: &str, pcap: &Path, pps: u64) -> (u64, u64) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_argus-replay")])
        .args(["-i", "vb", "-r"])
        .arg(pcap)
        .args(["--pps", &pps.to_string()])
        .output()
        .expect("run argus-replay");
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8_lossy(&out.stdout);
    let w: Vec<&str> = s.split_whitespace().collect();
    (
        w.get(1).and_then(|x| x.parse().ok()).unwrap_or(0),
        w.get(3).and_then(|x| x.parse().ok()).unwrap_or(0),
    )
}

/// The corpus captures that read without error and whose every frame satisfies `keep`, sorted.
pub fn captures_where(
    dir: &Path,
    keep: impl Fn(&argus::capture::FrameMeta, &[u8]) -> bool,
) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains(".pcap"))
        .filter(|p| {
            let Ok(mut src) = argus::capture::open(p.to_str().unwrap_or("")) else {
                return false;
            };
            let mut n = 0;
            loop {
                match src.next_frame() {
                    Ok(Some((m, d))) if keep(&m, d) => n += 1,
                    Ok(None) => return n > 0,
                    _ => return false,
                }
            }
        })
        .collect();
    v.sort();
    v
}

/// Debian's reference tools `tools` (paths) are installed. Otherwise a loud SKIPPED line for
/// `test`, or a failure under `ARGUS_REQUIRE_REFERENCE=1`.
pub fn have_reference(test: &str, tools: &[&str]) -> bool {
    let Some(missing) = tools.iter().find(|t| !Path::new(t).exists()) else {
        return true;
    };
    if require() {
        panic!("{test}: {missing} missing but ARGUS_REQUIRE_REFERENCE=1");
    }
    eprintln!("\n*** SKIPPED part of {test}: {missing} not installed ***\n");
    false
}

/// Our sensor's argus files of the corpus captures `pcaps`, written into `dir` as
/// `NAME.argus`. None (after a loud SKIPPED line for `test`) without the corpus; a failure
/// under `ARGUS_REQUIRE_REFERENCE=1`.
pub fn corpus_argus_files(test: &str, dir: &Path, pcaps: &[&str]) -> Option<Vec<PathBuf>> {
    let Some(corpus) = corpus_dir() else {
        assert!(!require(), "corpus missing but ARGUS_REQUIRE_REFERENCE=1");
        eprintln!("\n*** SKIPPED {test}: capture corpus not found ***\n");
        return None;
    };
    Some(
        pcaps
            .iter()
            .map(|p| {
                let out = dir.join(format!("{p}.argus"));
                argus_file(&corpus.join(p), &out);
                out
            })
            .collect(),
    )
}

/// Our argus over `pcap` into `out` (replaced), without reading argus.conf.
pub fn argus_file(pcap: &Path, out: &Path) {
    let _ = std::fs::remove_file(out);
    let st = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(["-X", "-r"])
        .arg(pcap)
        .arg("-w")
        .arg(out)
        .output()
        .expect("run argus");
    assert!(st.status.code() != Some(1), "argus {}", pcap.display());
}

/// A free TCP port on 127.0.0.1 for a server a test starts, never the same twice in one test
/// binary: a port is free once its probe listener closes, so two tests running at once could
/// otherwise be handed the same one (and ClickHouse asks for two in a row).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}
