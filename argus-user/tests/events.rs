//! Event records (ARGUS_EVENT_DATA, docs/events.md): configuration, the compress-only-when-
//! smaller rule, failure events, the codec against Debian's bytes, and a live sensor on a veth
//! pair whose event records our `raevent` and Debian's print identically.

mod common;

use argus::config::SensorConfig;
use argus::event::{self, EventSpec, Method};
use argus::record::decode::{decode, RecordReader};
use argus::record::encode::encode_event;
use argus::record::{Cause, Record, SrcId, Ts};
use common::{can_run_live, eth, ipv4, require, udp, PcapWriter, Veth};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- configuration

#[test]
fn event_lines_parse_with_units_and_options() {
    let text = r#"
ARGUS_EVENT_DATA="prog:/usr/local/bin/rasnmp:1m:compress"
ARGUS_EVENT_DATA="file:/proc/vmstat:30s"
ARGUS_EVENT_DATA="prog:/bin/echo a b:2h"
ARGUS_EVENT_DATA="file:/proc/loadavg:7"
"#;
    let mut c = SensorConfig::default();
    c.apply_conf("ev.conf", text).expect("valid lines");
    assert_eq!(c.events.len(), 4);
    assert_eq!(
        c.events[0],
        EventSpec {
            method: Method::Prog,
            path: "/usr/local/bin/rasnmp".into(),
            interval: Duration::from_secs(60),
            compress: true
        }
    );
    assert_eq!(c.events[0].label(), "prog:/usr/local/bin/rasnmp");
    assert_eq!(c.events[1].method, Method::File);
    assert_eq!(c.events[1].interval, Duration::from_secs(30));
    assert!(!c.events[1].compress);
    assert_eq!(c.events[2].path, "/bin/echo a b");
    assert_eq!(c.events[2].interval, Duration::from_secs(7200));
    assert_eq!(c.events[3].interval, Duration::from_secs(7));
}

#[test]
fn a_bad_event_line_is_an_error_naming_the_line() {
    for (bad, why) in [
        ("snmp:/x:1m", "unknown method"),
        ("file:/proc/vmstat", "no interval"),
        ("prog:/bin/date:0s", "greater than zero"),
        ("prog:/bin/date:10x", "not a number"),
        ("prog:/bin/date:1m:zip", "unknown option"),
        ("prog::1m", "empty path"),
        ("", "no method"),
    ] {
        let text =
            format!("ARGUS_EVENT_DATA=\"file:/proc/loadavg:1s\"\nARGUS_EVENT_DATA=\"{bad}\"\n");
        let mut c = SensorConfig::default();
        let e = c
            .apply_conf("bad.conf", &text)
            .expect_err(&format!("'{bad}' accepted"));
        let msg = e.to_string();
        assert!(msg.contains("bad.conf:2"), "{bad}: {msg}");
        assert!(msg.contains("ARGUS_EVENT_DATA"), "{bad}: {msg}");
        assert!(msg.contains(why), "{bad}: {msg}");
    }
}

#[test]
fn the_sensor_refuses_to_start_with_a_bad_event_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("bad.conf");
    std::fs::write(
        &conf,
        "ARGUS_EVENT_DATA=\"file:/proc/loadavg:1s\"\nARGUS_EVENT_DATA=\"prog:/bin/date:soon\"\n",
    )
    .expect("write conf");
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/wikipedia.pcap");
    let out_file = dir.path().join("out.argus");
    let out = Command::new(env!("CARGO_BIN_EXE_argus"))
        .arg("-X")
        .arg("-F")
        .arg(&conf)
        .arg("-r")
        .arg(&pcap)
        .arg("-w")
        .arg(&out_file)
        .output()
        .expect("run argus");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("bad.conf:2") && err.contains("soon"), "{err}");
    assert!(
        !out_file.exists(),
        "output written although the sensor refused to start"
    );
}

// ---------------------------------------------------------------- one run

fn spec(method: Method, path: &str, compress: bool) -> EventSpec {
    EventSpec {
        method,
        path: path.into(),
        interval: Duration::from_secs(1),
        compress,
    }
}

fn roundtrip(e: &argus::record::EventRecord) -> (Vec<u8>, argus::record::EventRecord) {
    let mut b = Vec::new();
    encode_event(e, &mut b);
    match decode(&b) {
        Ok(Record::Event(d)) => (b, *d),
        other => panic!("event record does not decode: {other:?}"),
    }
}

#[test]
fn compressed_only_when_smaller() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tiny = dir.path().join("tiny");
    std::fs::write(&tiny, "1\n").expect("write");
    let large = dir.path().join("large");
    let big: String = (0..2000)
        .map(|i| format!("counter_{} {}\n", i % 50, i % 7))
        .collect();
    std::fs::write(&large, &big).expect("write");
    let t = Ts {
        sec: 1_700_000_000,
        usec: 5,
    };

    // Tiny output: zlib would be larger, so the payload is stored as is (subtype 0x90).
    let s = spec(Method::File, tiny.to_str().expect("utf8"), true);
    let c = event::collect_with(&s, Duration::from_secs(1), event::MAX_TEXT);
    assert_eq!(c.error, None);
    let e = event::make_record(&s, &c, SrcId::Ipv4(0x0a01_0203), t, t);
    assert!(!e.data.compressed);
    let (bytes, d) = roundtrip(&e);
    assert_eq!(bytes[36..38], [0x50, 0x90]);
    assert_eq!(event::event_text(&d).expect("text"), c.text);
    assert_eq!(d.data.size as usize, c.text.len());

    // Large output: compressed (0x98), a zlib stream, size = text length, count = stored bytes.
    let s = spec(Method::File, large.to_str().expect("utf8"), true);
    let c = event::collect_with(&s, Duration::from_secs(1), event::MAX_TEXT);
    assert_eq!(c.error, None);
    assert!(c.text.ends_with(big.as_bytes()));
    let e = event::make_record(&s, &c, SrcId::None, t, t);
    assert!(e.data.compressed);
    assert!(
        e.data.data.len() < c.text.len() / 4,
        "{} bytes",
        e.data.data.len()
    );
    let (bytes, d) = roundtrip(&e);
    assert_eq!(bytes[36..38], [0x50, 0x98]);
    assert_eq!(bytes[44..46], [0x78, 0x9c], "not a zlib stream");
    assert_eq!(
        u16::from_be_bytes([bytes[40], bytes[41]]) as usize,
        c.text.len()
    );
    assert_eq!(
        u16::from_be_bytes([bytes[42], bytes[43]]) as usize,
        e.data.data.len()
    );
    assert_eq!(event::event_text(&d).expect("text"), c.text);

    // Without `compress` the large output is stored as is.
    let s = spec(Method::File, large.to_str().expect("utf8"), false);
    let c = event::collect_with(&s, Duration::from_secs(1), event::MAX_TEXT);
    let e = event::make_record(&s, &c, SrcId::None, t, t);
    assert!(!e.data.compressed);
    assert_eq!(e.data.data, c.text);
}

fn error_of(s: &EventSpec, timeout: Duration, cap: usize) -> (event::Collected, Duration) {
    let t0 = Instant::now();
    let c = event::collect_with(s, timeout, cap);
    (c, t0.elapsed())
}

#[test]
fn failures_become_events_that_say_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Missing program.
    let (c, _) = error_of(
        &spec(Method::Prog, "/nonexistent/prog", true),
        Duration::from_secs(1),
        4096,
    );
    let err = c.error.clone().expect("missing program is an error");
    assert!(err.contains("cannot run /nonexistent/prog"), "{err}");
    let text = String::from_utf8_lossy(&c.text).to_string();
    assert!(text.starts_with("prog:/nonexistent/prog\n"), "{text}");
    assert!(
        text.ends_with(&format!("argus: event error: {err}\n")),
        "{text}"
    );
    let e = event::make_record(
        &spec(Method::Prog, "/nonexistent/prog", true),
        &c,
        SrcId::None,
        Ts::default(),
        Ts::default(),
    );
    assert_eq!(e.cause, Cause::Error);

    // Non-zero exit: the output so far, then the status.
    let script = dir.path().join("fail.sh");
    std::fs::write(&script, "#!/bin/sh\necho partial\nexit 3\n").expect("write");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let (c, _) = error_of(
        &spec(Method::Prog, script.to_str().expect("utf8"), false),
        Duration::from_secs(5),
        4096,
    );
    assert!(
        c.error
            .as_deref()
            .is_some_and(|e| e.ends_with("exited with status 3")),
        "{:?}",
        c.error
    );
    assert!(String::from_utf8_lossy(&c.text).contains("\npartial\nargus: event error: "));

    // Hang: killed at the timeout.
    let (c, took) = error_of(
        &spec(Method::Prog, "/bin/sleep 30", false),
        Duration::from_millis(300),
        4096,
    );
    assert!(
        c.error
            .as_deref()
            .is_some_and(|e| e.starts_with("timed out after 0.3 s")),
        "{:?}",
        c.error
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");

    // Huge output: cut at the cap, the program killed at once.
    let (c, took) = error_of(
        &spec(Method::Prog, "/usr/bin/yes", true),
        Duration::from_secs(20),
        event::MAX_TEXT,
    );
    assert!(
        c.error.as_deref().is_some_and(|e| e.contains("cut")),
        "{:?}",
        c.error
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let body = c.text.len();
    assert!(
        body > event::MAX_TEXT - 100 && body <= event::MAX_TEXT,
        "{body}"
    );
    // The reason is kept whole at the end of a text cut at the cap.
    let last = String::from_utf8_lossy(&c.text)
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    assert_eq!(
        last,
        format!(
            "argus: event error: {}",
            c.error.clone().unwrap_or_default()
        )
    );
    let e = event::make_record(
        &spec(Method::Prog, "/usr/bin/yes", true),
        &c,
        SrcId::None,
        Ts::default(),
        Ts::default(),
    );
    assert!(e.data.size as usize <= event::MAX_TEXT);
    let (_, d) = roundtrip(&e);
    assert_eq!(d.data.size as usize, e.data.size as usize);

    // Missing file.
    let (c, _) = error_of(
        &spec(Method::File, "/nonexistent/file", false),
        Duration::from_secs(1),
        4096,
    );
    assert!(
        c.error
            .as_deref()
            .is_some_and(|e| e.contains("cannot read /nonexistent/file")),
        "{:?}",
        c.error
    );

    // A program that succeeds: no error, its output after the label.
    let (c, _) = error_of(
        &spec(Method::Prog, "/bin/echo hello", false),
        Duration::from_secs(5),
        4096,
    );
    assert_eq!(c.error, None);
    assert_eq!(c.text, b"prog:/bin/echo hello\nhello\n");
}

// ---------------------------------------------------------------- codec vs Debian

/// Two event records written by Debian's argus 3.0.8 (`file:/proc/loadavg:1s:compress` and
/// `prog:/bin/date:2s:compress`, live on lo).
const DEBIAN_EVENTS: &str = "43200014010300030000000000000000031918056b08975e000330c56b08975e000331e75098000b001b0023789c4bcbcc49b5d22f28ca4fd6cfc94f4c492c4be732d2b3b45030d633010083bf085b0043200018010300030000000000000001031918056b08975f000330056b08975f00033a8b5098000f002c0032789c2b28ca4fb7d24fcaccd34f492c49e50ac92855f0cb2f533032533032b03236b2323654080d7106728cccb80035200bfd0000";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn debian_event_records_decode_and_reencode_byte_for_byte() {
    let bytes = unhex(DEBIAN_EVENTS);
    let mut rd = RecordReader::new(&bytes[..]);
    let mut at = 0;
    let mut n = 0;
    while let Some(r) = rd.next_record() {
        let Ok(Record::Event(e)) = r else {
            panic!("not an event: {r:?}")
        };
        let len = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize * 4;
        let mut ours = Vec::new();
        encode_event(&e, &mut ours);
        assert_eq!(ours, bytes[at..at + len], "record {n}");
        assert!(e.data.compressed);
        assert_eq!(e.cause, Cause::Status);
        let text = event::event_text(&e).expect("inflate");
        assert!(text.starts_with(if n == 0 {
            b"file:/proc/loadavg\n"
        } else {
            b"prog:/bin/date\n"
        }));
        let printed =
            String::from_utf8(event::format_event(&e, false, 6).expect("format")).expect("utf8");
        if n == 1 {
            assert_eq!(
                printed,
                "event[44]=\n20:32:31.208901:srcid=0.0.0.0:prog:/bin/date\nThu Nov 26 20:32:31 UTC 2026\n\n"
            );
        }
        at += len;
        n += 1;
    }
    assert_eq!(n, 2);
}

// ---------------------------------------------------------------- live

struct Sensor {
    child: Child,
    log: std::thread::JoinHandle<Vec<String>>,
}

fn start(ns: &str, bin: &str, args: &[&str], ready: &str) -> Sensor {
    let mut c = Command::new("ip")
        .args(["netns", "exec", ns, bin])
        .args(args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start sensor");
    let err = c.stderr.take().expect("stderr");
    let mut lines = BufReader::new(err).lines();
    let deadline = Instant::now() + Duration::from_secs(10);
    for l in lines.by_ref() {
        let l = l.expect("read stderr");
        if l.contains(ready) {
            break;
        }
        assert!(Instant::now() < deadline, "{bin} did not start: {l}");
    }
    let log = std::thread::spawn(move || lines.map_while(Result::ok).collect());
    Sensor { child: c, log }
}

/// Still running, then SIGINT; must exit 0. Returns its stderr.
fn stop(s: Sensor, sig: i32) -> Vec<String> {
    stop_reference(s, sig).unwrap_or_else(|why| panic!("sensor {why}"))
}

/// Signals the sensor and waits for it; a non-zero exit or crash is returned, not asserted, so
/// a caller can tell Debian's shutdown bug apart from a run that never worked.
fn stop_reference(s: Sensor, sig: i32) -> Result<Vec<String>, String> {
    let Sensor { child: mut c, log } = s;
    assert!(c.try_wait().expect("wait").is_none(), "the sensor died");
    // SAFETY: kill(2) of our own child (`ip netns exec` execs the sensor in place).
    unsafe {
        libc::kill(c.id() as i32, sig);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(st) = c.try_wait().expect("wait") {
            let log = log.join().unwrap_or_default();
            return if st.success() {
                Ok(log)
            } else {
                Err(format!("exited with {st}: {log:?}"))
            };
        }
        assert!(Instant::now() < deadline, "sensor did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run(bin: &str, args: &[&str]) -> (String, String, Option<i32>) {
    let o = Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{bin}: {e}"));
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code(),
    )
}

#[test]
fn live_sensor_writes_events_between_flows_and_both_raevents_agree() {
    if !can_run_live("events") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let v = Veth::new("ev");
    let big = dir.path().join("big.txt");
    std::fs::write(&big, "x".repeat(5000)).expect("write");
    let fail = dir.path().join("fail.sh");
    std::fs::write(&fail, "#!/bin/sh\necho partial\nexit 3\n").expect("write");
    std::fs::set_permissions(&fail, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let conf = dir.path().join("ev.conf");
    std::fs::write(
        &conf,
        format!(
            "ARGUS_EVENT_DATA=\"file:/proc/loadavg:1s\"\n\
             ARGUS_EVENT_DATA=\"file:{}:1s:compress\"\n\
             ARGUS_EVENT_DATA=\"prog:/bin/echo hello:1s:compress\"\n\
             ARGUS_EVENT_DATA=\"prog:/bin/uname -a:1s\"\n\
             ARGUS_EVENT_DATA=\"prog:/nonexistent/prog:1s\"\n\
             ARGUS_EVENT_DATA=\"prog:{}:1s:compress\"\n\
             ARGUS_EVENT_DATA=\"prog:/bin/sleep 10:1s\"\n\
             ARGUS_EVENT_DATA=\"prog:/usr/bin/yes:1s:compress\"\n",
            big.display(),
            fail.display()
        ),
    )
    .expect("write conf");
    let out = dir.path().join("live.argus");
    let port = (5600 + std::process::id() % 300).to_string();
    common::sh(&["ip", "-n", &v.a, "link", "set", "lo", "up"]);
    let conf_s = conf.to_str().expect("utf8");
    let out_s = out.to_str().expect("utf8");
    let s = start(
        &v.a,
        env!("CARGO_BIN_EXE_argus"),
        &[
            "-X",
            "-F",
            conf_s,
            "-i",
            "va",
            "-w",
            out_s,
            "-e",
            "10.9.8.7",
            "-S",
            "1",
            "-P",
            &port,
            "-B",
            "127.0.0.1",
        ],
        "privileges dropped",
    );
    // A client of the sensor (in its namespace) gets the same events as the file.
    let client = Command::new("ip")
        .args(["netns", "exec", &v.a, env!("CARGO_BIN_EXE_raevent"), "-S"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start raevent -S");
    // Flows while the events run.
    let pcap = dir.path().join("udp.pcap");
    let mut w = PcapWriter::create(&pcap);
    for i in 0..40u8 {
        w.put(
            &[
                eth([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], &[], 0x0800),
                ipv4(
                    [10, 0, 0, 1],
                    [10, 0, 0, 2 + i % 4],
                    17,
                    0,
                    &udp(1000 + i as u16, 53, 20),
                ),
            ]
            .concat(),
        );
    }
    drop(w);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(3500) {
        common::replay(&v.b, &pcap, 100);
    }
    let log = stop(s, libc::SIGTERM);
    // The sensor closes the client's connection after its stop MAR.
    let streamed = client.wait_with_output().expect("raevent -S");
    assert!(streamed.status.success(), "raevent -S: {}", streamed.status);
    let streamed = String::from_utf8_lossy(&streamed.stdout).into_owned();
    let log = log.join("\n");
    assert!(log.contains("cannot run /nonexistent/prog"), "{log}");

    // Read back with our codec.
    let bytes = std::fs::read(&out).expect("read output");
    let mut rd = RecordReader::new(&bytes[..]);
    let (mut flows, mut events) = (Vec::new(), Vec::new());
    let mut order = Vec::new();
    while let Some(r) = rd.next_record() {
        match r.expect("record decodes") {
            Record::Flow(f) => {
                order.push(('f', f.time.map(|t| t.last).unwrap_or_default()));
                flows.push(f);
            }
            Record::Event(e) => {
                order.push(('e', e.end));
                events.push(e);
            }
            Record::Mar(_) => {}
        }
    }
    assert!(!flows.is_empty(), "no flow records");
    assert!(events.len() >= 8, "{} events", events.len());
    let labels: Vec<String> = events
        .iter()
        .map(|e| {
            let t = event::event_text(e).expect("inflate");
            String::from_utf8_lossy(&t)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    for want in [
        "file:/proc/loadavg".to_string(),
        format!("file:{}", big.display()),
        "prog:/bin/echo hello".into(),
        "prog:/bin/uname -a".into(),
        "prog:/nonexistent/prog".into(),
        format!("prog:{}", fail.display()),
        "prog:/usr/bin/yes".into(),
    ] {
        assert!(labels.contains(&want), "no event {want}: {labels:?}");
    }
    for (e, l) in events.iter().zip(&labels) {
        assert_eq!(e.srcid, SrcId::Ipv4(0x0a09_0807));
        assert!(e.start <= e.end);
        // compress only when asked and smaller: the 5000-byte file shrinks, "hello" does not.
        if l.starts_with("file:") && l.ends_with("big.txt") {
            assert!(e.data.compressed, "{l}");
        }
        if l == "prog:/bin/echo hello" || l == "file:/proc/loadavg" || l == "prog:/bin/uname -a" {
            assert!(!e.data.compressed, "{l}");
        }
        let bad = l.contains("nonexistent")
            || l.contains("fail.sh")
            || l == "prog:/usr/bin/yes"
            || l == "prog:/bin/sleep 10";
        assert_eq!(e.cause == Cause::Error, bad, "{l}");
    }
    // The hung program is killed at its interval (1 s) and reported.
    assert!(
        events
            .iter()
            .zip(&labels)
            .any(|(e, l)| l == "prog:/bin/sleep 10"
                && String::from_utf8_lossy(&event::event_text(e).expect("text"))
                    .contains("timed out")),
        "{labels:?}"
    );
    // Events are written in time order among themselves, and numbered from the flows' counter.
    assert!(events.windows(2).all(|w| w[0].end <= w[1].end));
    let mut seqs: Vec<u32> = events.iter().map(|e| e.seq).collect();
    seqs.extend(
        flows
            .iter()
            .filter(|f| f.cause == Cause::Start)
            .map(|f| f.seq),
    );
    let n = seqs.len();
    seqs.sort();
    seqs.dedup();
    assert_eq!(
        seqs.len(),
        n,
        "sequence numbers shared between events and flows"
    );
    assert!(order.iter().any(|o| o.0 == 'f') && order.iter().any(|o| o.0 == 'e'));

    // Our ra skips them and does not fail; `-M events` prints them as raevent does.
    let ra = env!("CARGO_BIN_EXE_ra");
    let (o, e, code) = run(ra, &["-n", "-r", out_s]);
    assert_eq!(code, Some(0), "{e}");
    assert!(!o.contains("event["), "{o}");
    assert!(o.lines().count() >= flows.len(), "{o}");
    let (ours, e, code) = run(env!("CARGO_BIN_EXE_raevent"), &["-r", out_s]);
    assert_eq!(code, Some(0), "{e}");
    assert_eq!(ours.matches("event[").count(), events.len());
    assert!(
        ours.contains(":srcid=10.9.8.7:prog:/bin/echo hello\nhello\n"),
        "{ours}"
    );
    let (with_events, _, _) = run(ra, &["-n", "-M", "events", "-r", out_s]);
    let ev_lines: String = ours
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("   ") && !l.starts_with("         StartTime"))
        .collect();
    assert!(
        with_events.contains(&ev_lines[..ev_lines.len().min(200)]),
        "{with_events}"
    );
    let (json, _, _) = run(env!("CARGO_BIN_EXE_raevent"), &["-M", "json", "-r", out_s]);
    let jl: Vec<&str> = json
        .lines()
        .filter(|l| l.contains("\"type\":\"event\""))
        .collect();
    assert_eq!(jl.len(), events.len());
    assert!(
        jl.iter()
            .any(|l| l.contains("\"label\":\"prog:/bin/echo hello\"")
                && l.contains("\"text\":\"hello\\n\"")),
        "{json}"
    );

    // Over -P, the same event records as in the file (MAR lines differ: the client's own).
    let events_only = |t: &str| -> String {
        t.split_inclusive('\n')
            .filter(|l| !l.starts_with("   ") && !l.starts_with("         StartTime"))
            .collect()
    };
    assert_eq!(events_only(&streamed), events_only(&ours));
    // Debian's raevent prints our file exactly as ours does.
    if common::have_reference("events", &["/usr/bin/raevent"]) {
        let (deb, e, code) = run("/usr/bin/raevent", &["-r", out_s]);
        assert_eq!(code, Some(0), "{e}");
        assert_eq!(deb, ours);
    }
}

#[test]
fn debian_argus_events_print_the_same_with_our_raevent() {
    if !can_run_live("events") || !common::have_reference("events", &["/usr/bin/raevent"]) {
        return;
    }
    if !Path::new("/usr/sbin/argus").exists() {
        assert!(
            !require(),
            "/usr/sbin/argus missing but ARGUS_REQUIRE_REFERENCE=1"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let v = Veth::new("ed");
    let conf = dir.path().join("deb.conf");
    // Debian's argus only survives compressed events (docs/events.md).
    std::fs::write(
        &conf,
        "ARGUS_EVENT_DATA=\"file:/proc/loadavg:1s:compress\"\nARGUS_EVENT_DATA=\"prog:/bin/uname -a:1s:compress\"\n",
    )
    .expect("write conf");
    // Debian's argus 3.0.8 sometimes segfaults while it shuts down with event entries (seen
    // once in CI on a loaded machine, never in 12 quiet runs; docs/events.md). That is its bug,
    // not ours: such a run is reported loudly and repeated, and three crashes in a row fail.
    let mut attempt = 0;
    let out = loop {
        attempt += 1;
        let out = dir.path().join(format!("deb{attempt}.argus"));
        let s = start(
            &v.a,
            "/usr/sbin/argus",
            &[
                "-X",
                "-F",
                conf.to_str().expect("utf8"),
                "-i",
                "va",
                "-w",
                out.to_str().expect("utf8"),
            ],
            "started",
        );
        std::thread::sleep(Duration::from_millis(3500));
        match stop_reference(s, libc::SIGINT) {
            Ok(_) => break out,
            Err(why) if attempt < 3 => {
                eprintln!(
                    "WARNING: Debian's argus crashed on shutdown (attempt {attempt}), again: {why}"
                )
            }
            Err(why) => panic!("Debian's argus crashed on shutdown three times: {why}"),
        }
    };
    let out_s = out.to_str().expect("utf8");
    let (deb, e, code) = run("/usr/bin/raevent", &["-r", out_s]);
    assert_eq!(code, Some(0), "{e}");
    assert!(deb.matches("event[").count() >= 2, "{deb}");
    let (ours, e, code) = run(env!("CARGO_BIN_EXE_raevent"), &["-r", out_s]);
    assert_eq!(code, Some(0), "{e}");
    assert_eq!(ours, deb);
    // Our ra does not crash on them either.
    let (_, e, code) = run(env!("CARGO_BIN_EXE_ra"), &["-r", out_s]);
    assert_eq!(code, Some(0), "{e}");
}

#[test]
fn stopping_the_event_threads_kills_a_running_program_and_collects_on_schedule() {
    let specs = [
        EventSpec {
            method: Method::Prog,
            path: "/bin/sleep 30".into(),
            interval: Duration::from_secs(1),
            compress: false,
        },
        EventSpec {
            method: Method::Prog,
            path: "/bin/echo tick".into(),
            interval: Duration::from_secs(1),
            compress: true,
        },
    ];
    let t0 = Instant::now();
    let (threads, rx) = event::EventThreads::start(&specs, SrcId::Int(7));
    // The first runs start one interval after start: at 1.2 s the sleep has 0.8 s left before
    // its timeout, so a stop that did not kill it would take that long.
    std::thread::sleep(Duration::from_millis(1200));
    let stopping = Instant::now();
    assert_eq!(threads.stop(), 0);
    assert!(
        stopping.elapsed() < Duration::from_millis(500),
        "stop took {:?}",
        stopping.elapsed()
    );
    let got: Vec<_> = rx.try_iter().collect();
    assert_eq!(got.len(), 1, "{got:?}");
    let e = &got[0];
    assert_eq!(e.srcid, SrcId::Int(7));
    assert_eq!(e.cause, Cause::Status);
    assert_eq!(
        event::event_text(e).expect("text"),
        b"prog:/bin/echo tick\ntick\n"
    );
    let started =
        e.start.as_micros() - argus::output::now().as_micros() + t0.elapsed().as_micros() as i64;
    assert!(
        (900_000..1_400_000).contains(&started),
        "first run {started} µs after start"
    );
}
