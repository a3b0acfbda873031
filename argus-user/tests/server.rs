//! `argus -P`: the record stream served over TCP, checked with Debian's clients and with raw
//! sockets. No root needed: the sensor reads a capture from a pipe (`-r -`), so clients connect
//! first and the test feeds the capture once every client has started.
//!
//! Debian's `ra` (and `radium`, when installed) are required when `ARGUS_REQUIRE_REFERENCE=1`
//! (CI); elsewhere their absence prints a loud SKIPPED.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const ARGUS: &str = env!("CARGO_BIN_EXE_argus");
const RA: &str = "/usr/bin/ra";
const RADIUM: &str = "/usr/sbin/radium";
const COOKIE: u32 = 0xE571_2DCB;

fn require(what: &str, path: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    if std::env::var("ARGUS_REQUIRE_REFERENCE").as_deref() == Ok("1") {
        panic!("{what} missing but ARGUS_REQUIRE_REFERENCE=1: run `cargo xtask setup`");
    }
    eprintln!("\n*** SKIPPED: {what} ({path}) not available (run `cargo xtask setup`) ***\n");
    false
}

fn corpus(name: &str) -> PathBuf {
    let shared = Path::new("/work/shared/pcaps").join(name);
    if shared.exists() {
        return shared;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples")
        .join(name)
}

/// The sensor's stderr lines, shared with a reader thread.
#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    cv: Condvar,
}

impl Log {
    /// Wait until `n` lines contain `pat`; the lines so far on timeout (as an error).
    fn wait(&self, pat: &str, n: usize, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut g = self.lines.lock().expect("log");
        loop {
            if g.iter().filter(|l| l.contains(pat)).count() >= n {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "waited {timeout:?} for {n} x '{pat}'; log:\n{}",
                    g.join("\n")
                ));
            }
            g = self.cv.wait_timeout(g, left).expect("log").0;
        }
    }

    fn text(&self) -> String {
        self.lines.lock().expect("log").join("\n")
    }
}

struct Sensor {
    child: Child,
    port: u16,
    log: Arc<Log>,
}

impl Sensor {
    /// `argus -r - -P <free port> -B 127.0.0.1 -w out` with extra environment.
    fn start(out: &Path, env: &[(&str, &str)]) -> Sensor {
        for _attempt in 0..5 {
            // A free port: bind port 0, note it, release it (another process could take it in
            // between, hence the retries).
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let mut cmd = Command::new(ARGUS);
            cmd.args([
                "-X",
                "-r",
                "-",
                "-P",
                &port.to_string(),
                "-B",
                "127.0.0.1",
                "-w",
            ])
            .arg(out)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env("TZ", "UTC");
            for (k, v) in env {
                cmd.env(k, v);
            }
            let mut child = cmd.spawn().expect("spawn argus");
            let log = Arc::new(Log::default());
            let (l2, err) = (log.clone(), child.stderr.take().expect("stderr"));
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    eprintln!("  argus| {line}");
                    l2.lines.lock().expect("log").push(line);
                    l2.cv.notify_all();
                }
                l2.lines.lock().expect("log").push("<eof>".into());
                l2.cv.notify_all();
            });
            let mut s = Sensor { child, port, log };
            match s.log.wait("serving clients on", 1, Duration::from_secs(10)) {
                Ok(()) => return s,
                Err(e) if s.log.text().contains("cannot listen") => {
                    eprintln!("port {port} taken, retrying: {e}");
                    let _ = s.child.wait();
                }
                Err(e) => panic!("{e}"),
            }
        }
        panic!("no free port after 5 attempts");
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Write the capture into the sensor's stdin and close it.
    fn feed(&mut self, pcap: &[u8]) {
        let mut stdin = self.child.stdin.take().expect("stdin");
        stdin.write_all(pcap).expect("feed capture");
    }

    /// Wait for the sensor to exit; panics after `timeout`.
    fn wait_exit(&mut self, timeout: Duration) -> Duration {
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                assert!(st.success(), "argus failed: {st}\n{}", self.log.text());
                // Let the stderr thread take the last lines.
                let _ = self.log.wait("<eof>", 1, Duration::from_secs(5));
                return t0.elapsed();
            }
            if t0.elapsed() > timeout {
                let _ = self.child.kill();
                panic!("argus still running after {timeout:?}\n{}", self.log.text());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The sensor's final figures for the client with this local port: (written, dropped).
    fn client_figures(&self, port: u16) -> (u64, u64) {
        let pat = format!("client 127.0.0.1:{port}: ");
        let text = self.log.text();
        let line = text
            .lines()
            .find(|l| l.contains(&pat) && l.contains("records written"))
            .unwrap_or_else(|| panic!("no figures for {pat}\n{text}"));
        let nums: Vec<u64> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|w| w.parse().ok())
            .collect();
        // ... 127 0 0 1 port written dropped
        let n = nums.len();
        (nums[n - 2], nums[n - 1])
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Split an Argus stream into records: (type byte, length); a trailing partial record is left
/// out.
fn records(data: &[u8]) -> Vec<(u8, usize)> {
    let mut v = Vec::new();
    let mut i = 0;
    while i + 4 <= data.len() {
        let len = u16::from_be_bytes([data[i + 2], data[i + 3]]) as usize * 4;
        if len == 0 || i + len > data.len() {
            break;
        }
        v.push((data[i], len));
        i += len;
    }
    v
}

fn flow_count(data: &[u8]) -> u64 {
    records(data).iter().filter(|r| r.0 & 0xF0 == 0x10).count() as u64
}

/// A raw client: connect, check the init MAR, optionally send START.
fn raw_client(addr: &str, start: bool) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut mar = [0u8; 128];
    s.read_exact(&mut mar).expect("init MAR");
    assert_eq!(mar[0], 0x83, "init MAR type");
    assert_eq!(mar[1] & 0xF0, 0x10, "init MAR cause START");
    assert_eq!(
        u32::from_be_bytes([mar[8], mar[9], mar[10], mar[11]]),
        COOKIE
    );
    if start {
        s.write_all(b"START: ").expect("START");
    }
    s
}

/// Everything the socket still holds, until EOF (bounded).
fn read_all(s: &mut TcpStream, timeout: Duration) -> Vec<u8> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(_) => break,
        }
    }
    out
}

fn ra_text(args: &[&str]) -> String {
    let o = Command::new(RA)
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("run ra");
    assert!(
        o.status.success(),
        "ra {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What `argus -r FILE -w out` writes, printed by Debian's ra.
fn reference(pcap: &Path, dir: &Path) -> String {
    let out = dir.join("ref.argus");
    let st = Command::new(ARGUS)
        .args(["-X", "-r"])
        .arg(pcap)
        .arg("-w")
        .arg(&out)
        .status()
        .expect("argus");
    assert!(st.success());
    ra_text(&["-n", "-M", "noman", "-r", out.to_str().expect("path")])
}

#[test]
fn debian_ra_and_radium_read_the_served_stream() {
    if !require("Debian ra", RA) {
        return;
    }
    let with_radium = require("Debian radium", RADIUM);
    for name in [
        "wikipedia.pcap",
        "cwd-navigation.pcap",
        "206_example_b.pcap",
    ] {
        let pcap = corpus(name);
        if !pcap.exists() {
            panic!("capture {} missing", pcap.display());
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let want = reference(&pcap, dir.path());
        assert!(want.lines().count() > 5, "{name}: reference too small");

        let served_file = dir.path().join("served.argus");
        let mut sensor = Sensor::start(&served_file, &[]);
        let addr = sensor.addr();
        let ra = Command::new(RA)
            .args(["-S", &addr, "-n", "-M", "noman"])
            .env("TZ", "UTC")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ra -S");
        let rad_file = dir.path().join("radium.argus");
        // radium keeps retrying its source after EOF; its first "connect ... failed" says it has
        // read the whole stream.
        let radium_log = Arc::new(Log::default());
        let mut radium = with_radium.then(|| {
            let mut c = Command::new(RADIUM)
                .args(["-X", "-S", &addr, "-w"])
                .arg(&rad_file)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("radium");
            let (l2, err) = (radium_log.clone(), c.stderr.take().expect("stderr"));
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    l2.lines.lock().expect("log").push(line);
                    l2.cv.notify_all();
                }
            });
            c
        });
        // A client that starts and never reads: it must not hold anything up.
        let stuck = raw_client(&addr, true);
        let clients = 2 + with_radium as usize;
        sensor
            .log
            .wait(": started", clients, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("{name}: {e}"));

        sensor.feed(&std::fs::read(&pcap).expect("read capture"));
        sensor.wait_exit(Duration::from_secs(30));

        let out = ra.wait_with_output().expect("ra -S");
        let got = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "ra -S: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            got, want,
            "{name}: ra -S differs from ra -r of the file argus writes"
        );
        // The -w file beside the clients is the usual one.
        let file_text = ra_text(&["-n", "-M", "noman", "-r", served_file.to_str().expect("p")]);
        assert_eq!(file_text, want, "{name}: -w file with -P");

        if let Some(r) = radium.as_mut() {
            radium_log
                .wait("failed", 1, Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("{name}: radium: {e}"));
            // SAFETY: signalling our own child by pid.
            unsafe { libc::kill(r.id() as i32, libc::SIGTERM) };
            let _ = r.wait();
            let got = ra_text(&["-n", "-M", "noman", "-r", rad_file.to_str().expect("p")]);
            assert_eq!(got, want, "{name}: radium -S differs");
        }
        let (w, d) = sensor.client_figures(stuck.local_addr().expect("addr").port());
        assert_eq!(d, 0, "{name}: small capture, nothing should drop");
        assert_eq!(
            w as usize,
            want.lines().count() - 1,
            "{name}: stuck client figures"
        );
    }
}

/// A capture with `n` one-packet UDP flows (distinct ports/addresses).
fn synthetic_pcap(n: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(24 + n as usize * 76);
    for x in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    // (magic; version 2.4 as two little-endian u16 = one u32 0x00040002; zone; sigfigs;
    // snaplen; Ethernet)
    for i in 0..n {
        let payload = [b'x'; 18];
        let mut f = Vec::with_capacity(64);
        f.extend_from_slice(&[
            0, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0x66, 0x77, 0x88, 0x99, 0xaa,
        ]);
        f.extend_from_slice(&[0x08, 0x00]);
        let ulen = 8 + payload.len() as u16;
        let dst = 0x0a00_0001u32 + i / 60_000;
        let ip: [u8; 20] = {
            let mut h = [0u8; 20];
            h[0] = 0x45;
            h[2..4].copy_from_slice(&(20 + ulen).to_be_bytes());
            h[4..6].copy_from_slice(&(i as u16).to_be_bytes());
            h[8] = 64;
            h[9] = 17;
            h[12..16].copy_from_slice(&0x0a63_0001u32.to_be_bytes());
            h[16..20].copy_from_slice(&dst.to_be_bytes());
            h
        };
        f.extend_from_slice(&ip);
        f.extend_from_slice(&(1024 + (i % 60_000) as u16).to_be_bytes());
        f.extend_from_slice(&53_000u16.to_be_bytes());
        f.extend_from_slice(&ulen.to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(&payload);
        let (sec, usec) = (1_700_000_000 + i / 10_000, (i % 10_000) * 100);
        for x in [sec, usec, f.len() as u32, f.len() as u32] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(&f);
    }
    v
}

#[test]
fn stuck_client_never_holds_the_sensor_and_its_losses_are_counted() {
    const FLOWS: u32 = 100_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = synthetic_pcap(FLOWS);
    let out = dir.path().join("out.argus");
    // A tiny queue and a short drain so the stuck client loses records quickly.
    let mut sensor = Sensor::start(
        &out,
        &[
            ("ARGUS_CLIENT_QUEUE", "16"),
            ("ARGUS_CLIENT_DRAIN_MS", "300"),
        ],
    );
    let addr = sensor.addr();
    let mut stuck = raw_client(&addr, true);
    // A client that reads everything, to show records flow while the other is stuck.
    let mut reader = raw_client(&addr, true);
    let reader_port = reader.local_addr().expect("addr").port();
    let fast = std::thread::spawn(move || read_all(&mut reader, Duration::from_secs(30)));
    sensor
        .log
        .wait(": started", 2, Duration::from_secs(10))
        .expect("clients started");

    sensor.feed(&pcap);
    let took = sensor.wait_exit(Duration::from_secs(30));
    eprintln!("sensor finished {FLOWS} flows with a stuck client in {took:?}");
    assert!(
        took < Duration::from_secs(20),
        "a stuck client held the sensor for {took:?}"
    );
    let total = flow_count(&std::fs::read(&out).expect("output"));
    assert_eq!(total, FLOWS as u64, "one record per synthetic flow");

    let (written, dropped) = sensor.client_figures(stuck.local_addr().expect("addr").port());
    assert!(dropped > 0, "the stuck client should have lost records");
    assert_eq!(
        written + dropped,
        total,
        "every record is either written or counted as dropped"
    );
    let received = flow_count(&read_all(&mut stuck, Duration::from_secs(10)));
    assert_eq!(
        received, written,
        "the stuck client holds exactly what was written to it"
    );

    // The reading client got what was written to it, then the stop MAR.
    let data = fast.join().expect("reader");
    let recs = records(&data);
    let (fw, fd) = sensor.client_figures(reader_port);
    assert_eq!(flow_count(&data), fw, "reader: received = written");
    assert_eq!(fw + fd, total, "reader: written + dropped = all");
    let last = recs.last().expect("records");
    assert_eq!(last.0, 0x83, "reader: last record is a MAR");
    assert_eq!(
        data[data.len() - last.1 + 1] & 0xF0,
        0x30,
        "reader: stop MAR last"
    );
    let all = format!("clients: {} records dropped in all", dropped + fd);
    assert!(
        sensor.log.text().contains(&all),
        "total drop counter: want '{all}'"
    );
}

/// Flow records of a stream, decoded.
fn flows(data: &[u8]) -> Vec<argus::record::FlowRecord> {
    let mut rd = argus::record::decode::RecordReader::new(data);
    let mut v = Vec::new();
    while let Some(r) = rd.next_record() {
        if let Ok(argus::record::Record::Flow(f)) = r {
            v.push(*f);
        }
    }
    v
}

fn is_udp(f: &argus::record::FlowRecord) -> bool {
    use argus::record::FlowKey;
    matches!(
        f.flow.as_ref().map(|k| &k.key),
        Some(FlowKey::Ipv4 { proto: 17, .. } | FlowKey::Ipv6 { proto: 17, .. })
    )
}

#[test]
fn remote_filters_select_records_and_bad_clients_are_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sensor = Sensor::start(&dir.path().join("out.argus"), &[]);
    let addr = sensor.addr();

    // A filter that does not compile: argus' answer (ER), then close; the error is logged
    // with its offset.
    let mut f = raw_client(&addr, false);
    f.write_all(b"FILTER: man or (tcp and)")
        .expect("send filter");
    let reply = read_all(&mut f, Duration::from_secs(5));
    assert_eq!(reply, b"ER", "refused filter reply, then EOF");

    // An empty filter is no filter: OK, then records as usual.
    let mut ok = raw_client(&addr, false);
    ok.write_all(b"FILTER: ").expect("send filter");
    let mut two = [0u8; 2];
    ok.read_exact(&mut two).expect("filter reply");
    assert_eq!(&two, b"OK");
    ok.write_all(b"START: ").expect("START");

    // `FILTER: udp`: OK, then only UDP flows (no MARs either: the filter does not say `man`).
    let mut udp = raw_client(&addr, false);
    udp.write_all(b"FILTER: udp").expect("send filter");
    udp.read_exact(&mut two).expect("filter reply");
    assert_eq!(&two, b"OK");
    udp.write_all(b"START: ").expect("START");

    // Garbage, a client that leaves before START, one that sends DONE at once.
    let mut g = raw_client(&addr, false);
    g.write_all(b"\x00\xffGET / HTTP/1.0\r\n\r\n")
        .expect("garbage");
    assert!(
        read_all(&mut g, Duration::from_secs(5)).is_empty(),
        "garbage: closed"
    );
    drop(raw_client(&addr, false));
    let mut d = raw_client(&addr, false);
    d.write_all(b"DONE: ").expect("DONE");
    assert!(
        read_all(&mut d, Duration::from_secs(5)).is_empty(),
        "DONE: closed"
    );

    // Ten clients at once at most (argus' ARGUS_MAXLISTEN): `ok`, `udp` and eight more; the next one
    // gets an ERROR MAR with option 2 ("too many clients"), then the connection closes.
    let idle: Vec<TcpStream> = (0..8).map(|_| raw_client(&addr, false)).collect();
    let mut extra = TcpStream::connect(&addr).expect("connect");
    let refused = read_all(&mut extra, Duration::from_secs(5));
    assert_eq!(refused.len(), 128, "one MAR");
    assert_eq!(
        (refused[0], refused[1]),
        (0x83, 0x82),
        "MAR, cause ERROR, option 2"
    );
    drop(idle);
    sensor
        .log
        .wait("closed before START", 9, Duration::from_secs(10))
        .expect("idle clients gone");

    // Debian's ra with a filter sends `FILTER: man or (udp)` and gets what it asked for.
    let debian = require("Debian ra", RA).then(|| {
        Command::new(RA)
            .args(["-S", &addr, "-n", "-L", "-1", "-M", "noman", "-", "udp"])
            .env("TZ", "UTC")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ra")
    });
    let started = if debian.is_some() { 3 } else { 2 };

    sensor
        .log
        .wait(": started", started, Duration::from_secs(10))
        .expect("started");
    sensor.feed(&std::fs::read(corpus("wikipedia.pcap")).expect("capture"));
    sensor.wait_exit(Duration::from_secs(30));
    let data = read_all(&mut ok, Duration::from_secs(10));
    let udp_data = read_all(&mut udp, Duration::from_secs(10));
    let out = std::fs::read(dir.path().join("out.argus")).expect("out");
    let want = flow_count(&out);
    assert!(want > 0);
    assert_eq!(
        flow_count(&data),
        want,
        "the well-behaved client got every record"
    );
    let all = flows(&out);
    let want_udp: Vec<_> = all.iter().filter(|f| is_udp(f)).cloned().collect();
    assert!(
        !want_udp.is_empty() && want_udp.len() < all.len(),
        "capture has UDP and other flows"
    );
    let got_udp = flows(&udp_data);
    assert_eq!(
        got_udp, want_udp,
        "FILTER: udp delivers exactly the UDP flows"
    );
    let recs = records(&udp_data);
    assert_eq!(
        recs.iter().filter(|r| r.0 & 0xF0 == 0x80).count(),
        1,
        "no MARs for a filter without 'man', the final stop MAR aside"
    );
    assert_eq!(
        recs.last().map(|r| r.0),
        Some(0x83),
        "the stop MAR comes last"
    );
    if let Some(ra) = debian {
        let o = ra.wait_with_output().expect("ra");
        let got = String::from_utf8_lossy(&o.stdout).into_owned();
        let path = dir.path().join("out.argus");
        let want = ra_text(&[
            "-n",
            "-L",
            "-1",
            "-M",
            "noman",
            "-r",
            path.to_str().expect("path"),
            "-",
            "udp",
        ]);
        assert!(!want.is_empty());
        assert_eq!(
            got, want,
            "Debian ra -S ... - udp: same lines as ra -r out - udp"
        );
    }
    let log = sensor.log.text();
    assert!(
        log.contains("refused") && log.contains("offset"),
        "refusal logged with the error offset"
    );
    assert!(log.contains("filter 'udp'"), "accepted filter logged");
    assert!(log.contains("not a command"), "garbage logged");
}
