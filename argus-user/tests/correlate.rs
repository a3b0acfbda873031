//! Flow attribution end to end (issue 5, docs/correlation.md): a live sensor on a veth pair of
//! the test's own runs `ralsof` every second as an event program; a known program (bash, as
//! user `nobody`) opens a TCP connection across the pair; our `ra` must attribute the flow to
//! that program's pid, command and user, and a flow of no local process to nobody.
//!
//! Needs root (namespaces, XDP). Without it the test says SKIPPED loudly, unless
//! `ARGUS_REQUIRE_REFERENCE=1` (CI), where it fails.

mod common;
use common::{can_run_live, sh, Veth};
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Listen on `addr` inside network namespace `ns` (a thread that entered it); accepts one
/// connection and reads it to its end. Returns the port's listener thread.
fn serve_in(ns: &str, addr: &'static str) -> std::thread::JoinHandle<usize> {
    let path = format!("/var/run/netns/{ns}");
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let f = std::fs::File::open(&path).expect("open netns");
        // SAFETY: setns on this thread only, with a namespace file descriptor we hold.
        let r = unsafe {
            use std::os::fd::AsRawFd;
            libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET)
        };
        assert_eq!(r, 0, "setns");
        let l = std::net::TcpListener::bind(addr).expect("listen");
        l.set_nonblocking(true).expect("nonblocking");
        tx.send(()).expect("ready");
        // Never wait for ever: a connection that does not come fails the test.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut c = loop {
            match l.accept() {
                Ok((c, _)) => break c,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => panic!("no connection to {addr}: {e}"),
            }
        };
        c.set_nonblocking(false).expect("blocking");
        c.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut buf = Vec::new();
        let _ = c.read_to_end(&mut buf);
        buf.len()
    });
    rx.recv_timeout(Duration::from_secs(5))
        .expect("listener ready");
    h
}

#[test]
fn ralsof_events_attribute_a_flow_to_its_program_and_user() {
    if !can_run_live("correlate") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let v = Veth::new("co");
    sh(&["ip", "-n", &v.a, "addr", "add", "10.77.0.1/24", "dev", "va"]);
    sh(&["ip", "-n", &v.b, "addr", "add", "10.77.0.2/24", "dev", "vb"]);
    sh(&["ip", "-n", &v.a, "link", "set", "lo", "up"]);
    sh(&["ip", "-n", &v.b, "link", "set", "lo", "up"]);
    let server = serve_in(&v.b, "10.77.0.2:8080");

    let conf = dir.path().join("argus.conf");
    std::fs::write(
        &conf,
        format!(
            "ARGUS_EVENT_DATA=\"prog:{}:1s\"\n",
            env!("CARGO_BIN_EXE_ralsof")
        ),
    )
    .expect("write conf");
    let out = dir.path().join("corr.argus");
    // The output file is opened before privileges are dropped.
    let mut sensor = Command::new("ip")
        .args([
            "netns",
            "exec",
            &v.a,
            env!("CARGO_BIN_EXE_argus"),
            "-X",
            "-F",
        ])
        .arg(&conf)
        // AF_PACKET: the host's own stack must still get the frames (an AF_XDP socket takes
        // them from it: a passive sensor does not talk through its capture interface).
        .args(["-i", "va", "--capture", "afpacket", "-u", "nobody", "-w"])
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start argus");
    let err = sensor.stderr.take().expect("stderr");
    let mut lines = BufReader::new(err).lines();
    let deadline = Instant::now() + Duration::from_secs(10);
    for l in lines.by_ref() {
        let l = l.expect("read stderr");
        eprintln!("[argus] {l}");
        if l.contains("privileges dropped") {
            break;
        }
        assert!(Instant::now() < deadline, "argus did not start");
        assert!(!l.contains("cannot"), "argus failed: {l}");
    }
    let log = std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            eprintln!("[argus] {l}");
        }
    });

    // The known program: bash as nobody, holding a connection for 3 s (ralsof runs every
    // second from 1 s after the sensor's start).
    let client = Command::new("ip")
        .args([
            "netns",
            "exec",
            &v.a,
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "bash",
            "-c",
            "exec 3<>/dev/tcp/10.77.0.2/8080 || exit 7; echo hello >&3; read -t 3 <&3; exit 0",
        ])
        .spawn()
        .expect("start client");
    // `ip netns exec` and `setpriv` exec in place: the pid is bash's.
    let pid = client.id();
    let st = client.wait_with_output().expect("client");
    assert!(st.status.success(), "client failed");
    assert_eq!(
        server.join().expect("server"),
        6,
        "server read the client's line"
    );
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kill(2) of our own child.
    unsafe {
        libc::kill(sensor.id() as i32, libc::SIGTERM);
    }
    let st = sensor.wait().expect("wait argus");
    let _ = log.join();
    assert!(st.success(), "argus exited with {st}");

    let ra = Command::new(env!("CARGO_BIN_EXE_ra"))
        .args(["-n", "-c", ",", "-L", "-1", "-M", "noman", "-r"])
        .arg(&out)
        .args([
            "-s", "proto", "saddr", "sport", "daddr", "dport", "pid", "comm", "user",
        ])
        .output()
        .expect("run ra");
    let text = String::from_utf8_lossy(&ra.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&ra.stderr));
    let flows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split(',').map(str::trim).collect())
        .filter(|c: &Vec<&str>| c.len() == 8 && c[0] == "tcp")
        .collect();
    let conn: Vec<&Vec<&str>> = flows
        .iter()
        .filter(|c| c[1] == "10.77.0.1" && c[3] == "10.77.0.2" && c[4] == "8080")
        .collect();
    assert!(!conn.is_empty(), "the connection's flow is in the output");
    for c in &conn {
        assert_eq!(
            (c[5], c[6], c[7]),
            (pid.to_string().as_str(), "bash", "nobody"),
            "flow {c:?} attributed to the client program and its user"
        );
    }
    // The same flow printed without the owner fields: they cost nothing when not asked for,
    // and Debian's raevent reads the ralsof events.
    let ev = Command::new(env!("CARGO_BIN_EXE_raevent"))
        .arg("-r")
        .arg(&out)
        .output()
        .expect("run raevent");
    let evs = String::from_utf8_lossy(&ev.stdout);
    assert!(
        evs.contains("type=\"lsof\""),
        "ralsof events in the file:\n{evs}"
    );
    if common::have_reference("correlate", &["/usr/bin/raevent"]) {
        let d = Command::new("/usr/bin/raevent")
            .arg("-r")
            .arg(&out)
            .output()
            .expect("run Debian raevent");
        assert_eq!(
            String::from_utf8_lossy(&d.stdout),
            evs,
            "Debian's raevent prints the ralsof events as ours does"
        );
    }
}
