//! Our `ra -S host:port` reads record streams: from our sensor (`argus -r - -P`, fed through a
//! pipe so the client can connect first) it prints exactly what `ra -r` prints for the same
//! records; from Debian's argus capturing live on a veth pair (root only) it receives the
//! init MAR and the flows of the frames sent.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/wikipedia.pcap")
}

fn ra(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ra"))
        .args(args)
        .output()
        .expect("run ra");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ra_reads_our_sensor_over_tcp() {
    let port = common::free_port();
    let mut sensor = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(["-X", "-r", "-", "-B", "127.0.0.1", "-P", &port.to_string()])
        .args(["-w", "/dev/null"])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start argus");
    // Connect once the port is open, then feed the capture.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sensor never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    let addr = format!("127.0.0.1:{port}");
    let client = std::thread::spawn(move || ra(&["-S", &addr, "-n", "-M", "noman"]));
    std::thread::sleep(Duration::from_millis(300));
    let pcap = std::fs::read(sample()).expect("sample");
    let mut stdin = sensor.stdin.take().expect("stdin");
    stdin.write_all(&pcap).expect("feed");
    drop(stdin);
    let got = client.join().expect("client");
    assert!(sensor.wait().expect("wait").success());
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("w.argus");
    let st = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(["-X", "-r"])
        .arg(sample())
        .arg("-w")
        .arg(&file)
        .status()
        .expect("argus -r");
    assert!(st.success());
    let want = ra(&["-r", file.to_str().expect("utf-8"), "-n", "-M", "noman"]);
    assert!(want.lines().count() > 40);
    assert_eq!(
        got, want,
        "ra -S output differs from ra -r on the same records"
    );
}

#[test]
fn ra_reads_debian_argus_live() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let debian = Path::new("/usr/sbin/argus").exists();
    if !root || !debian {
        if common::require() {
            panic!("needs root and Debian's argus (ARGUS_REQUIRE_REFERENCE=1)");
        }
        eprintln!("\n*** SKIPPED ra_reads_debian_argus_live: needs root and /usr/sbin/argus ***\n");
        return;
    }
    let v = common::Veth::new("r");
    let (a, b) = (v.a.clone(), v.b.clone());
    common::sh(&["ip", "-n", &a, "link", "set", "lo", "up"]);
    let mut sensor = Command::new("ip")
        .args(["netns", "exec", &a, "/usr/sbin/argus", "-X", "-i", "va"])
        .args(["-P", "5610", "-B", "127.0.0.1", "-w", "/dev/null"])
        .stderr(Stdio::null())
        .spawn()
        .expect("start Debian argus");
    std::thread::sleep(Duration::from_millis(1500));
    let ns = a.clone();
    let client = std::thread::spawn(move || {
        let out = Command::new("ip")
            .args(["netns", "exec", &ns, env!("CARGO_BIN_EXE_ra")])
            .args([
                "-S",
                "127.0.0.1:5610",
                "-n",
                "-L",
                "-1",
                "-c",
                ",",
                "-s",
                "stime",
                "proto",
                "pkts",
            ])
            .output()
            .expect("ra -S");
        String::from_utf8_lossy(&out.stdout).into_owned()
    });
    std::thread::sleep(Duration::from_millis(500));
    let (sent, _) = common::replay(&b, &sample(), 2000);
    assert_eq!(sent, 136);
    // Debian's argus reports flows every 5 s (status interval): wait for one round, then stop it.
    std::thread::sleep(Duration::from_secs(6));
    // SAFETY: kill(2) of our own child (`ip netns exec` became argus).
    unsafe {
        libc::kill(sensor.id() as i32, libc::SIGTERM);
    }
    let _ = sensor.wait();
    let got = client.join().expect("client");
    let man = got.lines().filter(|l| l.contains("man")).count();
    let pkts: u64 = got
        .lines()
        .filter(|l| !l.contains("man"))
        .filter_map(|l| l.rsplit(',').next()?.trim().parse::<u64>().ok())
        .sum();
    assert!(man >= 1, "no MAR from Debian's argus:\n{got}");
    assert_eq!(
        pkts, 136,
        "packets in the flows read from Debian's stream:\n{got}"
    );
}
