//! `radium` (docs/radium.md): configuration parsing, the time-ordered merge, relaying with
//! reconnection and a stuck client against sensors simulated on loopback, and (root) three live
//! sensors on veth pairs of the test's own, two of ours and Debian's argus, collected across a
//! sensor restart and a radium restart with `-w`: every flow record each sensor wrote to its
//! own `-w` file reaches radium's clients and radium's file exactly once, byte for byte, with
//! its srcid.

mod common;

use argus::collect::{parse_server, record_key, Batch, Config, Framer, Kind, Merge};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const RADIUM: &str = env!("CARGO_BIN_EXE_radium");
const OUR_RA: &str = env!("CARGO_BIN_EXE_ra");

fn args(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[test]
fn config_file_keys() {
    let mut c = Config::default();
    let text = "# radium.conf\n\nRADIUM_DAEMON=no\nRADIUM_MONITOR_ID=10.2.45.3\nRADIUM_MAR_STATUS_INTERVAL=30\nRADIUM_ARGUS_SERVER=amon:12345\nRADIUM_ARGUS_SERVER=argus://thoth:561\nRADIUM_ARGUS_SERVER=[::1]:5610\nRADIUM_ACCESS_PORT=5620\nRADIUM_BIND_IP=127.0.0.1\nRADIUM_OUTPUT_FILE=/tmp/x.argus\nRADIUM_FILTER=\"tcp\"\nRADIUM_MERGE_WINDOW=0.5\nRADIUM_DEBUG_LEVEL=0\nRADIUM_CHROOT_DIR=\"\"\n";
    c.apply_conf("radium.conf", text).expect("valid file");
    assert_eq!(c.servers, ["amon:12345", "thoth:561", "[::1]:5610"]);
    assert_eq!(c.port, Some(5620));
    assert_eq!(c.bind, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(c.srcid, argus::record::SrcId::Ipv4(0x0a02_2d03));
    assert_eq!(c.mar_interval, 30);
    assert_eq!(c.output.as_deref(), Some("/tmp/x.argus"));
    assert_eq!(c.filter.as_deref(), Some("tcp"));
    assert_eq!(c.window, Duration::from_millis(500));
    assert!(!c.daemon);
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(c.warnings[0].starts_with("radium.conf:14:"));
}

#[test]
fn config_bad_lines_name_file_and_line() {
    for (text, line, what) in [
        (
            "RADIUM_ACCESS_PORT=561\nRADIUM_NOPE=1\n",
            2,
            "unknown variable 'RADIUM_NOPE'",
        ),
        ("\n\n# c\nRADIUM_ACCESS_PORT\n", 4, "not NAME=VALUE"),
        ("RADIUM_ACCESS_PORT=70000\n", 1, "not a port"),
        ("RADIUM_BIND_IP=localhost\n", 1, "not an IP address"),
        ("RADIUM_MONITOR_ID=toolong\n", 1, "invalid source id"),
        ("RADIUM_MAR_STATUS_INTERVAL=0\n", 1, "seconds"),
        ("RADIUM_DAEMON=perhaps\n", 1, "yes or no"),
        (
            "RADIUM_ARGUS_SERVER=argus-udp://h:562\n",
            1,
            "only argus://",
        ),
        ("RADIUM_ARGUS_SERVER=host:port\n", 1, "bad port"),
        ("RADIUM_SETUSER_ID=nobody\n", 1, "not supported"),
        ("RADIUM_MONITOR_ID=`hostname`\n", 1, "not supported"),
        ("ARGUS_ACCESS_PORT=561\n", 1, "unknown variable"),
    ] {
        let mut c = Config::default();
        let e = c.apply_conf("/etc/x.conf", text).expect_err(text);
        assert_eq!((e.file.as_str(), e.line), ("/etc/x.conf", line), "{text}");
        assert!(e.msg.contains(what), "{text}: {e}");
        assert!(e.to_string().starts_with(&format!("/etc/x.conf:{line}: ")));
    }
}

#[test]
fn config_flags_files_and_x() {
    let dir = tempfile::tempdir().expect("tempdir");
    let system = dir.path().join("system.conf");
    std::fs::write(
        &system,
        "RADIUM_ARGUS_SERVER=sys:1\nRADIUM_ACCESS_PORT=1000\n",
    )
    .unwrap();
    let extra = dir.path().join("extra.conf");
    std::fs::write(
        &extra,
        "RADIUM_ARGUS_SERVER=extra:2\nRADIUM_ACCESS_PORT=2000\nRADIUM_MONITOR_ID=7\n",
    )
    .unwrap();
    let e = extra.to_str().unwrap();
    // System file, then -f, then the flags (which win).
    let c = Config::from_args_with(&args(&["-f", e, "-S", "flag:3", "-P", "3000"]), &system)
        .expect("valid");
    assert_eq!(c.servers, ["sys:1", "extra:2", "flag:3"]);
    assert_eq!(c.port, Some(3000));
    assert_eq!(c.srcid, argus::record::SrcId::Int(7));
    // -X: no system file.
    let c = Config::from_args_with(
        &args(&[
            "-S", "a", "-X", "-e", "\"ab\"", "-", "tcp", "and", "port", "80",
        ]),
        &system,
    )
    .expect("valid");
    assert_eq!(c.servers, ["a"]);
    assert_eq!(c.port, None);
    assert_eq!(c.filter.as_deref(), Some("tcp and port 80"));
    assert_eq!(c.srcid, argus::record::SrcId::Str(*b"ab\0\0"));
    // A bad line in a -f file names it.
    std::fs::write(&extra, "RADIUM_ACCESS_PORT=1\nbogus\n").unwrap();
    let err = Config::from_args_with(&args(&["-X", "-f", e, "-S", "a"]), &system).unwrap_err();
    assert!(err.contains(&format!("{e}:2:")), "{err}");
    // Usage errors.
    for bad in [
        &["-X"][..],
        &["-X", "-S", "a", "-r", "f"],
        &["-X", "-S", "a", "-P"],
        &["-X", "-S", "a", "-q"],
        &["-X", "-S", "a", "-", "tcp", "and", "(("],
        &["-X", "-S", "a", "--window", "-1"],
    ] {
        assert!(
            Config::from_args_with(&args(bad), &system).is_err(),
            "{bad:?}"
        );
    }
    let c = Config::from_args_with(&args(&["-X", "-r", "a", "b", "-w", "o", "-d"]), &system)
        .expect("valid");
    assert_eq!(c.files, ["a", "b"]);
    assert!(c.daemon);
    // The binary: a usage error exits 2 naming the problem.
    let out = Command::new(RADIUM)
        .args(["-X", "-f", e, "-S", "a"])
        .output()
        .expect("run radium");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("{e}:2:")));
}

#[test]
fn server_address_forms() {
    assert_eq!(parse_server("h").unwrap(), "h");
    assert_eq!(parse_server("argus://h:5610").unwrap(), "h:5610");
    assert_eq!(parse_server("argus-tcp://h").unwrap(), "h");
    assert_eq!(parse_server("[fe80::1]:561").unwrap(), "[fe80::1]:561");
    assert!(parse_server("cisco://h:9996").is_err());
    assert!(parse_server("h:x").is_err());
    assert!(parse_server("").is_err());
}

// ---------------------------------------------------------------------------------------------
// The merge

fn rec(tag: u8) -> Vec<u8> {
    vec![0x13, 0x20, 0, 1, tag]
}

fn batch(at: Instant, recs: &[(u64, u8)]) -> Batch {
    let mut b = Batch::new();
    for &(k, t) in recs {
        b.push(k, Kind::Record, &rec(t)[..]);
    }
    b.arrived = at;
    b
}

fn drain(m: &mut Merge, now: Instant, force: bool) -> Vec<(usize, u8)> {
    let mut out = Vec::new();
    m.release(now, force, |i, _, r| {
        out.push((i, r[4]));
        true
    });
    out
}

#[test]
fn merge_orders_sources_by_time_and_keeps_each_sources_order() {
    let names = args(&["a", "b"]);
    let mut m = Merge::new(&names, Duration::from_secs(1));
    let t0 = Instant::now();
    m.up(0);
    m.up(1);
    m.push(0, batch(t0, &[(10, 1), (30, 2), (50, 3)]));
    // b is connected and has said nothing: a's records wait.
    assert!(drain(&mut m, t0, false).is_empty());
    m.push(1, batch(t0, &[(20, 11), (40, 12)]));
    // Released while the other source has something later queued or a later mark.
    assert_eq!(
        drain(&mut m, t0, false),
        [(0, 1), (1, 11), (0, 2), (1, 12)],
        "a's 50 waits for b"
    );
    m.push(1, batch(t0, &[(60, 13)]));
    assert_eq!(drain(&mut m, t0, false), [(0, 3)]);
    // b's 60 waits for a (connected, mark 50) until the window runs out.
    assert!(drain(&mut m, t0 + Duration::from_millis(999), false).is_empty());
    assert_eq!(drain(&mut m, t0 + Duration::from_secs(1), false), [(1, 13)]);
    // A record of a later than what left is late but still goes, counted.
    m.push(0, batch(t0, &[(55, 4)]));
    assert_eq!(drain(&mut m, t0, false), [(0, 4)]);
    let st = m.stats();
    assert_eq!((st[0].late, st[1].late), (1, 0));
    assert_eq!((st[0].relayed, st[1].relayed), (4, 3));
    assert_eq!(m.held(), 0);
    // Spent batches go back to their sources.
    assert_eq!(m.take_spent().count(), 4);
}

#[test]
fn merge_disconnected_or_unknown_sources_hold_nothing() {
    let names = args(&["a", "b", "c"]);
    let mut m = Merge::new(&names, Duration::from_secs(60));
    let t0 = Instant::now();
    m.up(0);
    m.up(1);
    m.push(0, batch(t0, &[(10, 1)]));
    assert!(drain(&mut m, t0, false).is_empty(), "b connected, silent");
    m.down(1);
    // b went away; c never connected.
    assert_eq!(drain(&mut m, t0, false), [(0, 1)]);
    m.up(1);
    m.push(0, batch(t0, &[(20, 2)]));
    m.push(1, batch(t0, &[(5, 9)]));
    assert_eq!(drain(&mut m, t0, false), [(1, 9)]);
    assert_eq!(drain(&mut m, t0, true), [(0, 2)], "force empties");
    let st = m.stats();
    assert_eq!((st[1].connects, st[1].disconnects), (2, 1));
}

/// The framer's keys are the records' last times (as the decoder reads them), kept monotonic;
/// the file's init and stop MARs are not relayed.
#[test]
fn framer_keys_are_record_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("s.argus");
    common::argus_file(&sample(), &f);
    let bytes = std::fs::read(&f).unwrap();
    let mut fr = Framer::new();
    let mut b = Batch::new();
    let mut r = &bytes[..];
    while fr.read_from(&mut r, &mut b).expect("read").expect("intact") > 0 {}
    assert_eq!(fr.pending(), 0);
    let flows = split(&bytes).into_iter().filter(|r| r[0] == 0x13).count();
    assert_eq!(
        b.len(),
        flows,
        "flows only: init and stop MARs are not relayed"
    );
    let mut last = 0;
    for (e, raw) in b.iter() {
        assert_eq!(e.kind, Kind::Record);
        let Ok(argus::record::Record::Flow(fl)) = argus::record::decode::decode(raw) else {
            panic!("not a flow")
        };
        let rec = argus::record::Record::Flow(fl);
        let (_, lt) = argus::cli::record_times(&rec).expect("times");
        let us = lt.sec as u64 * 1_000_000 + lt.usec as u64;
        assert_eq!(record_key(raw), Some(us));
        assert_eq!(e.key, us.max(last));
        last = e.key;
    }
    // Damage is reported with its offset.
    let mut bad = bytes.clone();
    let at = split(&bytes)[0].len();
    bad[at] = 0x99;
    let mut fr = Framer::new();
    let mut b = Batch::new();
    let mut r = &bad[..];
    let d = fr
        .read_from(&mut r, &mut b)
        .expect("read")
        .expect_err("damaged");
    assert_eq!(d.offset, at as u64);
}

// ---------------------------------------------------------------------------------------------
// Helpers: streams, sensors simulated in the test, radium processes

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/wikipedia.pcap")
}

/// Records of a stream, whole.
fn split(mut b: &[u8]) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    while b.len() >= 4 {
        let n = argus::record::decode::record_len(b);
        assert!(n >= 4 && n <= b.len(), "damaged stream");
        v.push(b[..n].to_vec());
        b = &b[n..];
    }
    v
}

/// Flow records by srcid (TRANSPORT DSR value), each record's bytes with its count.
fn flows_by_srcid(recs: &[Vec<u8>]) -> BTreeMap<u32, BTreeMap<Vec<u8>, usize>> {
    let mut m: BTreeMap<u32, BTreeMap<Vec<u8>, usize>> = BTreeMap::new();
    for r in recs.iter().filter(|r| r[0] == 0x13) {
        assert_eq!(r[4], 0x01, "TRANSPORT DSR first");
        let id = u32::from_be_bytes([r[8], r[9], r[10], r[11]]);
        *m.entry(id).or_default().entry(r.clone()).or_default() += 1;
    }
    m
}

/// radium's stderr lines, collected as they come.
struct Radium {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    reader: Option<thread::JoinHandle<()>>,
}

impl Radium {
    fn start(cmd: &mut Command) -> Radium {
        let mut child = cmd
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start radium");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (l2, err) = (log.clone(), child.stderr.take().expect("stderr"));
        let reader = thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                l2.lock().unwrap().push(line);
            }
        });
        Radium {
            child,
            log,
            reader: Some(reader),
        }
    }

    fn count(&self, pat: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(pat))
            .count()
    }

    fn wait_for(&self, pat: &str, n: usize, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.count(pat) < n {
            assert!(
                Instant::now() < deadline,
                "radium never logged '{pat}' {n} times:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// SIGTERM, wait, and the whole log.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        // SAFETY: kill(2) of our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let st = self.child.wait().expect("wait radium");
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let log = self.log();
        (st, log)
    }
}

impl Drop for Radium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client of the stream at `addr` (through the library's client): every record it receives,
/// whole, until the server closes.
fn raw_client(addr: String) -> thread::JoinHandle<Vec<Vec<u8>>> {
    thread::spawn(move || {
        let (mut r, _sock) = argus::client::connect(&addr).expect("connect to radium");
        let mut all = Vec::new();
        r.read_to_end(&mut all).expect("read the stream");
        split(&all)
    })
}

/// A sensor simulated by the test: serves `sessions` connections one after the other; session
/// k sends the init MAR, waits for START, writes its records and closes.
/// `pace`: at most that many records per 5 ms (a sensor's output rate, not memory speed).
fn fake_sensor(
    l: TcpListener,
    sessions: Vec<Vec<Vec<u8>>>,
    pace: Option<usize>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for recs in sessions {
            let (mut s, _) = l.accept().expect("accept");
            let mut init = Vec::new();
            let mut m =
                argus::output::base_mar(argus::record::SrcId::Int(1), 5, argus::output::now());
            m.argusid = argus::record::MAR_COOKIE;
            argus::record::encode::encode_mar(&m, &mut init);
            s.write_all(&init).expect("init MAR");
            let mut start = [0u8; 7];
            s.read_exact(&mut start).expect("START");
            assert_eq!(&start, b"START: ");
            let mut out = Vec::new();
            for (i, r) in recs.iter().enumerate() {
                out.extend_from_slice(r);
                if pace.is_some_and(|n| (i + 1) % n == 0) {
                    if s.write_all(&out).is_err() {
                        return;
                    }
                    out.clear();
                    thread::sleep(Duration::from_millis(5));
                }
            }
            // A stop MAR at the end, as a sensor sends it.
            m.cause = argus::record::Cause::Stop;
            argus::record::encode::encode_mar(&m, &mut out);
            let _ = s.write_all(&out);
            let _ = s.shutdown(std::net::Shutdown::Write);
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest);
        }
    })
}

/// `n` distinct flow records with srcid `id`: the sample's flows with their sequence numbers
/// rewritten.
fn distinct_flows(n: usize, id: u32) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("s.argus");
    common::argus_file(&sample(), &f);
    let flows: Vec<Vec<u8>> = split(&std::fs::read(&f).unwrap())
        .into_iter()
        .filter(|r| r[0] == 0x13)
        .collect();
    (0..n)
        .map(|i| {
            let mut r = flows[i % flows.len()].clone();
            r[8..12].copy_from_slice(&id.to_be_bytes());
            r[12..16].copy_from_slice(&(i as u32).to_be_bytes());
            r
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Simulated sensors on loopback

/// A sensor that goes away and comes back: radium reconnects (backoff), relays every record of
/// both sessions once and in order, and counts the connections.
#[test]
fn reconnects_and_relays_each_record_once() {
    let l = TcpListener::bind("127.0.0.1:0").expect("listen");
    let sensor = format!("127.0.0.1:{}", l.local_addr().unwrap().port());
    let all = distinct_flows(400, 0x0a00_0001);
    let (s1, s2) = all.split_at(150);
    let port = common::free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let wfile = dir.path().join("r.argus");
    let rad = Radium::start(
        Command::new(RADIUM)
            .args([
                "-X",
                "-S",
                &sensor,
                "-P",
                &port.to_string(),
                "-B",
                "127.0.0.1",
            ])
            .args(["-e", "10.0.0.9", "-w", wfile.to_str().unwrap()]),
    );
    rad.wait_for("serving clients", 1, 10);
    let client = raw_client(format!("127.0.0.1:{port}"));
    rad.wait_for("argus: client", 2, 10); // connected + started
    let t0 = Instant::now();
    let fake = fake_sensor(l, vec![s1.to_vec(), s2.to_vec()], None);
    rad.wait_for("connected (connection 2)", 1, 10);
    rad.wait_for("disconnected after", 2, 10);
    let reconnect = t0.elapsed();
    fake.join().unwrap();
    thread::sleep(Duration::from_millis(300));
    let (st, log) = rad.stop();
    assert!(st.success(), "{log}");
    let got = client.join().expect("client");
    let flows: Vec<Vec<u8>> = got.iter().filter(|r| r[0] == 0x13).cloned().collect();
    assert_eq!(flows, all, "every record once, in order");
    // radium's own init MAR first, its stop MAR last.
    assert_eq!(got[0][0], 0x83);
    assert_eq!(&got[0][8..12], &argus::record::MAR_COOKIE.to_be_bytes());
    assert_eq!(got.last().unwrap()[1] >> 4, 3, "stop MAR last");
    let file = split(&std::fs::read(&wfile).unwrap());
    let fflows: Vec<Vec<u8>> = file.iter().filter(|r| r[0] == 0x13).cloned().collect();
    assert_eq!(fflows, all, "the -w file holds the same");
    assert!(
        log.contains("2 connections, 2 disconnections, 400 records relayed"),
        "{log}"
    );
    eprintln!("reconnected within {reconnect:?}");
}

/// One client connects and never reads; another reads everything, in time; radium counts what
/// it dropped for the stuck one.
#[test]
fn stuck_client_does_not_slow_the_others() {
    let l = TcpListener::bind("127.0.0.1:0").expect("listen");
    let sensor = format!("127.0.0.1:{}", l.local_addr().unwrap().port());
    let port = common::free_port();
    let rad = Radium::start(
        Command::new(RADIUM)
            .env("ARGUS_CLIENT_QUEUE", "20000")
            .env("ARGUS_CLIENT_DRAIN_MS", "500")
            .args([
                "-X",
                "-S",
                &sensor,
                "-P",
                &port.to_string(),
                "-B",
                "127.0.0.1",
            ]),
    );
    rad.wait_for("serving clients", 1, 10);
    // The stuck client: init MAR, START, then nothing.
    let mut stuck = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut mar = [0u8; 128];
    stuck.read_exact(&mut mar).expect("init MAR");
    stuck.write_all(b"START: ").expect("START");
    let good = raw_client(format!("127.0.0.1:{port}"));
    rad.wait_for("started", 2, 10);
    let all = distinct_flows(150_000, 0x0a00_0002);
    let t0 = Instant::now();
    let fake = fake_sensor(l, vec![all.clone()], Some(250));
    rad.wait_for("disconnected after", 1, 30);
    let took = t0.elapsed();
    fake.join().unwrap();
    thread::sleep(Duration::from_millis(1200));
    let (st, log) = rad.stop();
    assert!(st.success(), "{log}");
    let got: Vec<Vec<u8>> = good
        .join()
        .expect("client")
        .into_iter()
        .filter(|r| r[0] == 0x13)
        .collect();
    assert_eq!(got.len(), all.len(), "the reading client got everything");
    assert!(got == all, "in order, byte for byte");
    let dropped: u64 = log
        .lines()
        .find_map(|l| {
            l.strip_prefix("radium: ")?
                .split(" filtered out, ")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no summary:\n{log}"));
    assert!(
        dropped > 0,
        "the stuck client lost records, counted:\n{log}"
    );
    assert!(took < Duration::from_secs(20), "relaying took {took:?}");
    eprintln!("150000 records relayed in {took:?}; {dropped} dropped for the stuck client");
    drop(stuck);
}

/// `radium -r FILE -w OUT`: the file's records relayed once, behind radium's init MAR.
#[test]
fn reads_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("s.argus");
    common::argus_file(&sample(), &f);
    let out = dir.path().join("o.argus");
    let st = Command::new(RADIUM)
        .args([
            "-X",
            "-e",
            "77",
            "-r",
            f.to_str().unwrap(),
            f.to_str().unwrap(),
        ])
        .args(["-w", out.to_str().unwrap()])
        .output()
        .expect("radium -r");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let src: Vec<Vec<u8>> = split(&std::fs::read(&f).unwrap())
        .into_iter()
        .filter(|r| r[0] == 0x13)
        .collect();
    let got = split(&std::fs::read(&out).unwrap());
    assert_eq!(&got[0][8..12], &argus::record::MAR_COOKIE.to_be_bytes());
    assert_eq!(&got[0][120..124], &77u32.to_be_bytes());
    let flows: Vec<Vec<u8>> = got.iter().filter(|r| r[0] == 0x13).cloned().collect();
    assert_eq!(flows, [src.clone(), src].concat());
    // With a filter.
    let out2 = dir.path().join("tcp.argus");
    let st = Command::new(RADIUM)
        .args([
            "-X",
            "-r",
            f.to_str().unwrap(),
            "-w",
            out2.to_str().unwrap(),
            "-",
            "tcp",
        ])
        .output()
        .expect("radium -r - tcp");
    assert!(st.status.success());
    let n = split(&std::fs::read(&out2).unwrap())
        .iter()
        .filter(|r| r[0] == 0x13)
        .count();
    assert!(n > 0 && n < flows.len() / 2, "{n}");
}

// ---------------------------------------------------------------------------------------------
// Live: three sensors on veth pairs, radium and clients in a namespace of the test's own

/// A namespace of the test's own, removed on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let n = format!("argR{}{}", std::process::id() % 100_000, tag);
        let _ = Command::new("ip").args(["netns", "del", &n]).status();
        common::sh(&["ip", "netns", "add", &n]);
        common::sh(&["ip", "-n", &n, "link", "set", "lo", "up"]);
        Netns(n)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Move `va` of a pair into `ns` as `name`, up, without IPv6.
fn adopt(v: &common::Veth, ns: &str, name: &str) {
    common::sh(&["ip", "-n", &v.a, "link", "set", "va", "down"]);
    common::sh(&["ip", "-n", &v.a, "link", "set", "va", "name", name]);
    common::sh(&["ip", "-n", &v.a, "link", "set", name, "netns", ns]);
    common::sh(&[
        "ip",
        "netns",
        "exec",
        ns,
        "sysctl",
        "-qw",
        &format!("net.ipv6.conf.{name}.disable_ipv6=1"),
    ]);
    common::sh(&[
        "ip",
        "-n",
        ns,
        "link",
        "set",
        name,
        "mtu",
        &common::MTU.to_string(),
        "up",
    ]);
}

/// A client thread inside namespace `ns`.
fn raw_client_in(ns: &str, addr: String) -> thread::JoinHandle<Vec<Vec<u8>>> {
    let path = format!("/var/run/netns/{ns}");
    thread::spawn(move || {
        let f = std::fs::File::open(&path).expect("netns");
        use std::os::fd::AsRawFd;
        // SAFETY: setns on this thread only, with a namespace fd we hold.
        let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns");
        let (mut r, _sock) = argus::client::connect(&addr).expect("connect to radium");
        let mut all = Vec::new();
        r.read_to_end(&mut all).expect("read the stream");
        split(&all)
    })
}

/// `count` UDP flows of two packets each from 10.`net`.`phase`.x, as a pcap.
fn traffic(path: &Path, net: u8, phase: u8, count: u8) {
    let mut w = common::PcapWriter::create(path);
    for i in 0..count {
        for rev in [false, true] {
            let (s, d) = ([10, net, phase, i + 1], [10, net, 200, 1]);
            let (s, d, sp, dp) = if rev {
                (d, s, 53, 1000 + i as u16)
            } else {
                (s, d, 1000 + i as u16, 53)
            };
            let mut f = common::eth([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], &[], 0x0800);
            f.extend(common::ipv4(s, d, 17, 0, &common::udp(sp, dp, 20)));
            w.put(&f);
        }
    }
}

struct Sensor {
    child: Child,
}

impl Sensor {
    fn start(ns: &str, debian: bool, dev: &str, port: u16, id: &str, out: &Path) -> Sensor {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]);
        if debian {
            c.arg("/usr/sbin/argus");
        } else {
            c.args([env!("CARGO_BIN_EXE_argus"), "--capture", "afpacket"]);
        }
        c.args([
            "-X",
            "-i",
            dev,
            "-P",
            &port.to_string(),
            "-B",
            "127.0.0.1",
            "-e",
            id,
            "-S",
            "1",
        ])
        .arg("-w")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        Sensor {
            child: c.spawn().expect("start sensor"),
        }
    }

    fn stop(mut self) {
        // SAFETY: kill(2) of our own child (`ip netns exec` became the sensor).
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const FIELDS: &[&str] = &[
    "srcid", "seq", "stime", "ltime", "proto", "saddr", "sport", "daddr", "dport", "pkts", "bytes",
];

/// `ra -S` (Debian's, or ours with `prog`) inside `ns`, printing what identifies a record, until
/// it is stopped.
fn ra_in(prog: &str, ns: &str, addr: &str) -> Child {
    Command::new("ip")
        .args([
            "netns", "exec", ns, prog, "-X", "-S", addr, "-n", "-c", ",", "-L", "-1", "-s",
        ])
        .args(FIELDS)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ra -S")
}

/// Debian's `ra -S` 3.0.8 does not exit when the server closes the stream (checked with our
/// radium and with our sensor: it sleeps and retries; its output so far is complete): give it a
/// moment, then SIGTERM, and take its output.
fn stop_debian_ra(mut c: Child) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && c.try_wait().ok().flatten().is_none() {
        thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill(2) of our own child (`ip netns exec` became ra).
    unsafe {
        libc::kill(c.id() as i32, libc::SIGTERM);
    }
    c.wait_with_output().expect("Debian ra").stdout
}

/// `ra -r` of the sensors' files (Debian's or ours), lines sorted.
fn ra_files(prog: &str, files: &[&Path]) -> Vec<String> {
    let mut c = Command::new(prog);
    c.args(["-X", "-n", "-c", ",", "-L", "-1", "-r"]);
    for f in files {
        c.arg(f);
    }
    c.arg("-s").args(FIELDS);
    let out = c.output().expect("ra -r");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// Lines of several outputs, sorted.
fn sorted_lines(outs: &[Vec<u8>]) -> Vec<String> {
    let mut v: Vec<String> = outs
        .iter()
        .flat_map(|o| {
            String::from_utf8_lossy(o)
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    v.sort();
    v
}

/// Two of our sensors and Debian's argus on veth pairs; radium collects them. Traffic is sent
/// only while radium is connected to every sensor; in between, sensor 1 is restarted and then
/// radium is restarted with the same `-w`. Every flow record of each sensor's `-w` file reaches
/// radium's clients (ours, byte for byte; Debian's ra, by its printed fields) and radium's file
/// exactly once, with its srcid.
#[test]
fn live_sensors_restarts_exactly_once() {
    if !common::can_run_live("radium") {
        return;
    }
    let debian = common::have_reference("radium", &["/usr/sbin/argus", "/usr/bin/ra"]);
    let t_start = Instant::now();
    let pairs: Vec<common::Veth> = ["d1", "d2", "d3"]
        .iter()
        .map(|t| common::Veth::new(t))
        .collect();
    let c = Netns::new("c");
    let ns = c.0.clone();
    for (i, v) in pairs.iter().enumerate() {
        adopt(v, &ns, &format!("va{}", i + 1));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let ids = ["10.0.0.1", "10.0.0.2", "10.0.0.3"];
    let idv: Vec<u32> = ids
        .iter()
        .map(|s| u32::from(s.parse::<std::net::Ipv4Addr>().unwrap()))
        .collect();
    let n_sensors = if debian { 3 } else { 2 };
    let ports = [5611u16, 5612, 5613];
    let sfile: Vec<PathBuf> = (0..3).map(|i| d.join(format!("s{i}.argus"))).collect();
    let start_sensor = |i: usize| {
        Sensor::start(
            &ns,
            i == 2,
            &format!("va{}", i + 1),
            ports[i],
            ids[i],
            &sfile[i],
        )
    };
    let mut sensors: Vec<Option<Sensor>> = (0..n_sensors).map(|i| Some(start_sensor(i))).collect();
    let rfile = d.join("r.argus");
    let radium_cmd = || {
        let mut c = Command::new("ip");
        c.args([
            "netns",
            "exec",
            &ns,
            RADIUM,
            "-X",
            "-P",
            "5620",
            "-B",
            "127.0.0.1",
            "-e",
            "10.0.0.9",
        ])
        .args(["-w", rfile.to_str().unwrap()]);
        for p in &ports[..n_sensors] {
            c.args(["-S", &format!("127.0.0.1:{p}")]);
        }
        c
    };
    let send = |phase: u8| {
        for (i, v) in pairs.iter().enumerate().take(n_sensors) {
            let p = d.join(format!("t{i}{phase}.pcap"));
            traffic(&p, i as u8 + 1, phase, 40);
            let (sent, refused) = common::replay(&v.b, &p, 4000);
            assert_eq!((sent, refused), (80, 0));
        }
        // The sensors report every second (-S 1).
        thread::sleep(Duration::from_millis(2600));
    };
    thread::sleep(Duration::from_millis(1500)); // sensors listening

    // Phase 1: radium and its clients, traffic.
    let rad = Radium::start(&mut radium_cmd());
    rad.wait_for("connected (connection 1)", n_sensors, 15);
    let ours1 = raw_client_in(&ns, "127.0.0.1:5620".into());
    let deb1 = debian.then(|| ra_in("/usr/bin/ra", &ns, "127.0.0.1:5620"));
    let ra1 = ra_in(OUR_RA, &ns, "127.0.0.1:5620");
    rad.wait_for("started", if debian { 3 } else { 2 }, 10);
    send(1);

    // Phase 2: sensor 1 restarts; radium reconnects; traffic again.
    sensors[0].take().expect("sensor 1").stop();
    let t_restart = Instant::now();
    sensors[0] = Some(start_sensor(0));
    rad.wait_for("connected (connection 2)", 1, 20);
    let reconnect = t_restart.elapsed();
    send(2);

    // Phase 3: radium restarts with the same -w; the clients connect again; traffic again.
    let (st, log1) = rad.stop();
    assert!(st.success(), "{log1}");
    let got1 = ours1.join().expect("client 1");
    let deb_out1 = deb1.map(stop_debian_ra);
    let ra_out1 = stop_debian_ra(ra1);
    let rad = Radium::start(&mut radium_cmd());
    rad.wait_for("connected (connection 1)", n_sensors, 15);
    let ours2 = raw_client_in(&ns, "127.0.0.1:5620".into());
    let deb2 = debian.then(|| ra_in("/usr/bin/ra", &ns, "127.0.0.1:5620"));
    let ra2 = ra_in(OUR_RA, &ns, "127.0.0.1:5620");
    rad.wait_for("started", if debian { 3 } else { 2 }, 10);
    send(3);

    // The end: sensors stop (their last records reach radium), then radium.
    for s in sensors.iter_mut() {
        if let Some(s) = s.take() {
            s.stop();
        }
    }
    rad.wait_for("disconnected after", n_sensors, 15);
    thread::sleep(Duration::from_millis(1500));
    let (st, log2) = rad.stop();
    assert!(st.success(), "{log2}");
    let got2 = ours2.join().expect("client 2");
    let ra_out2 = stop_debian_ra(ra2);

    // Each sensor's own file against what radium's client and file received.
    let mut want: Vec<Vec<u8>> = Vec::new();
    for f in &sfile[..n_sensors] {
        want.extend(split(&std::fs::read(f).expect("sensor file")));
    }
    let want = flows_by_srcid(&want);
    let client = flows_by_srcid(&[got1.clone(), got2.clone()].concat());
    let file = split(&std::fs::read(&rfile).expect("radium file"));
    let in_file = flows_by_srcid(&file);
    for (i, id) in idv.iter().enumerate().take(n_sensors) {
        let w = want
            .get(id)
            .unwrap_or_else(|| panic!("sensor {i} wrote no flows"));
        // 40 flows per phase (Debian's argus may add records at its end); sensor 1's file
        // holds both of its runs.
        assert!(w.len() >= 120, "sensor {}: {} flows", ids[i], w.len());
        assert!(w.values().all(|&n| n == 1));
        assert_eq!(client.get(id), Some(w), "client vs sensor {} file", ids[i]);
        assert_eq!(
            in_file.get(id),
            Some(w),
            "radium -w vs sensor {} file",
            ids[i]
        );
    }
    assert_eq!(client.len(), n_sensors, "no other srcid");
    assert_eq!(in_file.len(), n_sensors, "no other srcid");
    // radium's file: two runs, each with radium's init MAR (srcid 10.0.0.9 in thisid).
    let inits: Vec<&Vec<u8>> = file
        .iter()
        .filter(|r| r[0] == 0x83 && r[1] >> 4 == 1)
        .collect();
    assert_eq!(inits.len(), 2);
    assert!(inits
        .iter()
        .all(|r| r[120..124] == 0x0a00_0009u32.to_be_bytes()));
    let late = |log: &str| -> Vec<String> {
        log.lines()
            .filter(|l| l.ends_with(" late"))
            .map(str::to_string)
            .collect()
    };
    eprintln!(
        "radium run 1: {:?}\nradium run 2: {:?}",
        late(&log1),
        late(&log2)
    );

    let files: Vec<&Path> = sfile[..n_sensors].iter().map(|p| p.as_path()).collect();
    // Our ra -S reading radium prints what our ra -r prints of the sensors' files.
    let want_ours = ra_files(OUR_RA, &files);
    assert!(want_ours.len() >= 120 * n_sensors, "{}", want_ours.len());
    assert_eq!(
        sorted_lines(&[ra_out1, ra_out2]),
        want_ours,
        "our ra reading radium vs our ra reading the sensors' files"
    );
    if let (Some(o1), Some(c2)) = (deb_out1, deb2) {
        let o2 = stop_debian_ra(c2);
        let want = ra_files("/usr/bin/ra", &files);
        assert!(want.len() >= 360, "{}", want.len());
        assert_eq!(
            sorted_lines(&[o1, o2]),
            want,
            "Debian's ra reading radium vs Debian's ra reading the sensors' files"
        );
    }
    eprintln!(
        "live: {} flows per sensor exactly once; sensor 1 reconnected {:?} after its restart; {:?} in all",
        120,
        reconnect,
        t_start.elapsed()
    );
}
