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
        let _ = Command::new("ip").args(["netns", "del", &v.a]).status();
        let _ = Command::new("ip").args(["netns", "del", &v.b]).status();
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
