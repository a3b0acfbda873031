//! The event generators (docs/generators.md) run as the sensor runs them: the built binaries,
//! their XML read with a real XML parser and their JSON with serde_json.
//!
//! * ravms: load average, memory, CPU, `lo` present and plausible, XML and JSON agree, the
//!   size cap keeps the document well-formed;
//! * ralsof: sockets the test opens itself (TCP listener, both ends of a connection, UDP) and
//!   a listener of a python3 child, with the right pid, comm, uid and user, read back with
//!   `gen::lsof::parse_xml` / `parse_json`;
//! * rasnmp: Debian's snmpd in a network namespace of the test's own, with a static ARP entry
//!   the test made; interfaces with counters and that entry; a silent port times out with exit
//!   status 1 and a clear message.
//!
//! The snmpd test needs root, iproute2 and snmpd: without them it says SKIPPED loudly, and
//! fails instead under `ARGUS_REQUIRE_REFERENCE=1` (CI) or `ARGUS_REQUIRE_LIVE=1`.

mod common;

use argus::gen::lsof::{parse_json, parse_xml, Proto, SocketOwner};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {bin}: {e}"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

fn require() -> bool {
    common::require() || std::env::var("ARGUS_REQUIRE_LIVE").as_deref() == Ok("1")
}

/// The leaf elements named `tag` under the root, as attribute maps.
fn elements<'a>(doc: &'a roxmltree::Document, tag: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.root_element()
        .children()
        .filter(|n| n.has_tag_name(tag))
        .collect()
}

fn num(n: &roxmltree::Node, attr: &str) -> u64 {
    n.attribute(attr)
        .unwrap_or_else(|| panic!("<{}> has no {attr}", n.tag_name().name()))
        .parse()
        .unwrap_or_else(|_| panic!("<{}> {attr} is not a number", n.tag_name().name()))
}

fn float(n: &roxmltree::Node, attr: &str) -> f64 {
    n.attribute(attr)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("<{}> {attr} missing or not a number", n.tag_name().name()))
}

// ---------------------------------------------------------------------------------- ravms

#[test]
fn ravms_xml_is_well_formed_plausible_and_json_agrees() {
    let bin = env!("CARGO_BIN_EXE_ravms");
    let ox = run(bin, &[]);
    assert!(ox.status.success(), "ravms: {ox:?}");
    let xml = stdout(&ox);
    assert!(xml.len() <= argus::gen::DEFAULT_CAP, "{} bytes", xml.len());
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let r = doc.root_element();
    assert_eq!(r.tag_name().name(), "ArgusEvent");
    assert_eq!(r.attribute("type"), Some("vms"));
    assert_eq!(r.attribute("version"), Some("1"));
    assert!(r
        .attribute("time")
        .is_some_and(|t| t.ends_with('Z') && t.len() == 27));
    assert!(r.attribute("host").is_some_and(|h| !h.is_empty()));

    let la = elements(&doc, "LoadAvg");
    assert_eq!(la.len(), 1);
    let one = float(&la[0], "one");
    assert!((0.0..10_000.0).contains(&one), "load {one}");
    assert!(num(&la[0], "running") >= 1, "ravms itself runs");
    assert!(num(&la[0], "total") >= num(&la[0], "running"));
    assert!(num(&la[0], "lastPid") > 0);

    let mem = |d: &roxmltree::Document, name: &str| -> u64 {
        let m = elements(d, "Mem");
        let e = m
            .iter()
            .find(|n| n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no Mem {name}"));
        assert_eq!(e.attribute("unit"), Some("kB"));
        num(e, "value")
    };
    let total = mem(&doc, "MemTotal");
    assert!(total > 16 * 1024, "MemTotal {total} kB");
    assert!(mem(&doc, "MemFree") <= total);

    let cpus = elements(&doc, "Cpu");
    assert_eq!(cpus[0].attribute("name"), Some("cpu"));
    assert!(num(&cpus[0], "user") + num(&cpus[0], "idle") > 0);
    let kernel = elements(&doc, "Kernel");
    assert!(num(&kernel[0], "hz") > 0 && num(&kernel[0], "ctxt") > 0);
    assert!(elements(&doc, "Vm")
        .iter()
        .any(|v| v.attribute("name") == Some("pgfault") && num(v, "value") > 0));
    let ifs = elements(&doc, "Interface");
    let lo = ifs
        .iter()
        .find(|n| n.attribute("name") == Some("lo"))
        .expect("lo listed");
    for a in [
        "inOctets",
        "inPackets",
        "inErrors",
        "inDiscards",
        "outOctets",
        "outPackets",
        "outErrors",
        "outDiscards",
    ] {
        num(lo, a);
    }
    // lo sends what it receives.
    assert!(num(lo, "outPackets") >= num(lo, "inPackets") / 2);
    assert_eq!(elements(&doc, "Error").len(), 0, "{xml}");

    // The same values in JSON (a run later: equal where static, not smaller where counting).
    let oj = run(bin, &["-M", "json"]);
    assert!(oj.status.success(), "ravms -M json: {oj:?}");
    let j: serde_json::Value = serde_json::from_str(&stdout(&oj)).expect("one JSON document");
    assert_eq!(j["type"], "vms");
    assert_eq!(j["host"], r.attribute("host").unwrap_or(""));
    let jmem = j["meminfo"]
        .as_array()
        .expect("meminfo array")
        .iter()
        .find(|m| m["name"] == "MemTotal")
        .expect("MemTotal")
        .clone();
    assert_eq!(jmem["value"], total);
    assert_eq!(jmem["unit"], "kB");
    let jl = j["loadavg"]["one"].as_f64().expect("loadavg.one");
    assert!((jl - one).abs() < 50.0);
    assert_eq!(
        j["cpus"].as_array().map(|a| a.len()),
        Some(cpus.len()),
        "same CPUs"
    );
    let jlo = j["interfaces"]
        .as_array()
        .expect("interfaces array")
        .iter()
        .find(|i| i["name"] == "lo")
        .expect("lo in JSON")
        .clone();
    assert!(jlo["inOctets"].as_u64().expect("number") >= num(lo, "inOctets"));
    assert_eq!(
        jlo["index"].as_u64(),
        lo.attribute("index").and_then(|v| v.parse().ok())
    );
    let names = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let xml_vm: Vec<String> = elements(&doc, "Vm")
        .iter()
        .filter_map(|v| v.attribute("name").map(String::from))
        .collect();
    assert_eq!(names(&j["vmstat"]), xml_vm);
}

#[test]
fn ravms_options_cap_and_usage() {
    let bin = env!("CARGO_BIN_EXE_ravms");
    // -a lists more vmstat counters than the default; -v picks.
    let all = stdout(&run(bin, &["-a", "-s", "0"]));
    let d = roxmltree::Document::parse(&all).expect("well-formed");
    assert!(elements(&d, "Vm").len() > argus::gen::vms::DEFAULT_VMSTAT.len());
    let some = stdout(&run(bin, &["-v", "pgfault,nr_free_pages,no_such_counter"]));
    let d = roxmltree::Document::parse(&some).expect("well-formed");
    let vm: Vec<&str> = elements(&d, "Vm")
        .iter()
        .filter_map(|v| v.attribute("name"))
        .collect();
    assert_eq!(vm, ["nr_free_pages", "pgfault"]);
    // A small cap: cut, still one well-formed document, with the count of what was left out.
    for fmt in ["xml", "json"] {
        let o = run(bin, &["-a", "-M", fmt, "-s", "2500"]);
        assert!(o.status.success());
        let t = stdout(&o);
        assert!(t.len() <= 2500, "{fmt}: {} bytes", t.len());
        if fmt == "xml" {
            let d = roxmltree::Document::parse(&t).expect("well-formed when cut");
            let tr = elements(&d, "Truncated");
            assert_eq!(tr.len(), 1, "{t}");
            assert!(num(&tr[0], "omitted") > 0);
            assert_eq!(num(&tr[0], "limit"), 2500);
            assert_eq!(elements(&d, "LoadAvg").len(), 1, "the head is kept");
        } else {
            let v: serde_json::Value = serde_json::from_str(&t).expect("JSON when cut");
            assert!(v["truncated"]["omitted"].as_u64() > Some(0));
        }
    }
    let o = run(bin, &["-M", "yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("-M yaml"));
    assert_eq!(run(bin, &["-x"]).status.code(), Some(2));
}

// --------------------------------------------------------------------------------- ralsof

/// A child process killed when dropped.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn my_comm() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .expect("read /proc/self/comm")
        .trim_end_matches('\n')
        .to_string()
}

fn my_user() -> (u32, String) {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let o = run("id", &["-un"]);
    let name = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let name = if o.status.success() && !name.is_empty() {
        name
    } else {
        uid.to_string()
    };
    (uid, name)
}

fn find(
    v: &[SocketOwner],
    proto: Proto,
    local: SocketAddr,
    remote: Option<SocketAddr>,
    pid: u32,
) -> &SocketOwner {
    v.iter()
        .find(|s| s.proto == proto && s.local == local && s.remote == remote && s.pid == Some(pid))
        .unwrap_or_else(|| {
            panic!(
                "no {proto} socket {local} -> {remote:?} of pid {pid} among {} sockets: {:#?}",
                v.len(),
                v.iter()
                    .filter(|s| s.local.ip().is_loopback())
                    .collect::<Vec<_>>()
            )
        })
}

#[test]
fn ralsof_lists_the_tests_sockets_and_a_childs_with_owner() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let laddr = listener.local_addr().expect("addr");
    let client = TcpStream::connect(laddr).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    let caddr = client.local_addr().expect("addr");
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let uaddr = udp.local_addr().expect("addr");

    let mut child = Command::new("python3")
        .args([
            "-c",
            "import socket, time\n\
             s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n\
             print(s.getsockname()[1], flush=True)\n\
             time.sleep(120)\n",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 (needed by this test)");
    let out = child.stdout.take().expect("child stdout");
    let kid = Kid(child);
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("child port");
    let kport: u16 = line.trim().parse().expect("child printed its port");
    let kaddr: SocketAddr = format!("127.0.0.1:{kport}").parse().expect("addr");

    let bin = env!("CARGO_BIN_EXE_ralsof");
    let me = std::process::id();
    let comm = my_comm();
    let (uid, user) = my_user();
    let ox = run(bin, &[]);
    assert!(ox.status.success(), "ralsof: {ox:?}");
    let xml = stdout(&ox);
    assert!(xml.len() <= argus::gen::DEFAULT_CAP);
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert_eq!(doc.root_element().attribute("type"), Some("lsof"));
    let oj = run(bin, &["-M", "json"]);
    assert!(oj.status.success(), "ralsof -M json: {oj:?}");
    serde_json::from_str::<serde_json::Value>(&stdout(&oj)).expect("one JSON document");

    for (what, list) in [
        ("xml", parse_xml(&xml).expect("parse_xml of real output")),
        (
            "json",
            parse_json(&stdout(&oj)).expect("parse_json of real output"),
        ),
    ] {
        assert!(!list.is_empty(), "{what}");
        let check = |s: &SocketOwner, state: &str, pid: u32, comm: &str| {
            assert_eq!(s.state, state, "{what} {s:?}");
            assert_eq!(s.comm.as_deref(), Some(comm), "{what} {s:?}");
            assert_eq!(
                (s.uid, s.user.as_str()),
                (uid, user.as_str()),
                "{what} {s:?}"
            );
            assert_eq!(s.pid, Some(pid));
            assert!(s.inode > 0);
        };
        check(
            find(&list, Proto::Tcp, laddr, None, me),
            "LISTEN",
            me,
            &comm,
        );
        check(
            find(&list, Proto::Tcp, caddr, Some(laddr), me),
            "ESTABLISHED",
            me,
            &comm,
        );
        check(
            find(&list, Proto::Tcp, laddr, Some(caddr), me),
            "ESTABLISHED",
            me,
            &comm,
        );
        check(
            find(&list, Proto::Udp, uaddr, None, me),
            "UNCONN",
            me,
            &comm,
        );
        let kpid = kid.0.id();
        check(
            find(&list, Proto::Tcp, kaddr, None, kpid),
            "LISTEN",
            kpid,
            "python3",
        );
        // Every listed socket names its user, pid and comm go together.
        for s in &list {
            assert!(!s.user.is_empty());
            assert_eq!(s.pid.is_some(), s.comm.is_some(), "{s:?}");
        }
    }

    // -l limits the count; a small -s cuts and stays well-formed.
    let d = stdout(&run(bin, &["-l", "1"]));
    assert_eq!(parse_xml(&d).expect("parse").len(), 1, "{d}");
    let cut = stdout(&run(bin, &["-s", "700"]));
    assert!(cut.len() <= 700, "{} bytes", cut.len());
    let d = roxmltree::Document::parse(&cut).expect("well-formed when cut");
    assert_eq!(elements(&d, "Truncated").len(), 1, "{cut}");
    parse_xml(&cut).expect("a cut document still parses");
    assert_eq!(run(bin, &["-l", "many"]).status.code(), Some(2));
    drop((client, server, udp, listener));
}

// --------------------------------------------------------------------------------- rasnmp

/// snmpd killed (and waited for) when dropped.
struct Snmpd(Child);

impl Drop for Snmpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn snmpd_path() -> Option<&'static str> {
    ["/usr/sbin/snmpd", "/usr/local/sbin/snmpd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// rasnmp run inside network namespace `ns`.
fn rasnmp_in(ns: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_rasnmp")])
        .args(args)
        .output()
        .expect("run rasnmp")
}

#[test]
fn rasnmp_reads_interfaces_and_a_known_arp_entry_from_snmpd() {
    const TEST: &str = "rasnmp_reads_interfaces_and_a_known_arp_entry_from_snmpd";
    if !common::can_run_live(TEST) {
        // can_run_live fails under ARGUS_REQUIRE_REFERENCE=1; so does ARGUS_REQUIRE_LIVE=1.
        assert!(
            !require(),
            "{TEST}: needs root and iproute2 (ARGUS_REQUIRE_LIVE=1)"
        );
        return;
    }
    let Some(snmpd) = snmpd_path() else {
        if require() {
            panic!("{TEST}: needs Debian's snmpd (apt-get install snmpd)");
        }
        eprintln!("\n*** SKIPPED {TEST}: snmpd is not installed (apt-get install snmpd) ***\n");
        return;
    };
    let t0 = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    // Namespaces of our own (removed on drop, also when an assertion fails); snmpd runs in
    // `a`, where `va` has an address and a static neighbour entry we know.
    let v = common::Veth::new("snmp");
    let ns = v.a.as_str();
    common::sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
    common::sh(&["ip", "-n", ns, "addr", "add", "10.199.0.1/24", "dev", "va"]);
    common::sh(&[
        "ip",
        "-n",
        ns,
        "neigh",
        "add",
        "10.199.0.2",
        "lladdr",
        "02:00:00:00:00:02",
        "dev",
        "va",
        "nud",
        "permanent",
    ]);
    let port = "16161";
    let agent = format!("127.0.0.1:{port}");

    // Before snmpd listens: a refused port is a quick, clear failure (and puts packets on lo).
    let o = rasnmp_in(ns, &["-t", "0.3", "-r", "0", "-p", port, "127.0.0.1"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&agent) && err.contains("no answer"), "{err}");
    let j = stdout(&rasnmp_in(
        ns,
        &[
            "-M",
            "json",
            "-t",
            "0.3",
            "-r",
            "0",
            "-p",
            port,
            "127.0.0.1",
        ],
    ));
    let j: serde_json::Value = serde_json::from_str(&j).expect("JSON on failure");
    assert_eq!(j["agent"], agent.as_str());
    assert!(j["errors"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("no answer")));

    let conf = dir.path().join("snmpd.conf");
    std::fs::write(&conf, "rocommunity public 127.0.0.1\n").expect("write snmpd.conf");
    let log = dir.path().join("snmpd.log");
    let child = Command::new("ip")
        .args(["netns", "exec", ns, snmpd, "-f", "-C", "-c"])
        .arg(&conf)
        .arg("-Lf")
        .arg(&log)
        .arg(format!("udp:{agent}"))
        .env("SNMP_PERSISTENT_DIR", dir.path())
        .env("MIBS", "")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start snmpd");
    let _snmpd = Snmpd(child);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let o = rasnmp_in(ns, &["-t", "0.3", "-r", "0", "-p", port, "127.0.0.1"]);
        if o.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "snmpd did not answer within 15 s: {}\nsnmpd log:\n{}",
            String::from_utf8_lossy(&o.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let ox = rasnmp_in(ns, &["-p", port, "127.0.0.1"]);
    assert!(ox.status.success(), "{ox:?}");
    let xml = stdout(&ox);
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let r = doc.root_element();
    assert_eq!(r.attribute("type"), Some("snmp"));
    assert_eq!(r.attribute("agent"), Some(agent.as_str()));
    let sys = elements(&doc, "System");
    assert_eq!(sys.len(), 1);
    assert!(
        sys[0]
            .attribute("descr")
            .is_some_and(|d| d.contains("Linux")),
        "{xml}"
    );
    assert!(num(&sys[0], "upTime") < 100 * 3600, "a fresh agent");

    let ifs = elements(&doc, "Interface");
    let by_name = |name: &str| {
        ifs.iter()
            .find(|n| n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no Interface {name}:\n{xml}"))
    };
    let lo = by_name("lo");
    assert_eq!(lo.attribute("operStatus"), Some("up"));
    assert_eq!(lo.attribute("counters"), Some("64"));
    assert_eq!(lo.attribute("ifType"), Some("24"), "softwareLoopback");
    for a in [
        "inOctets",
        "inPackets",
        "inErrors",
        "inDiscards",
        "outOctets",
        "outPackets",
        "outErrors",
        "outDiscards",
    ] {
        num(lo, a);
    }
    assert!(num(lo, "inOctets") > 0, "lo carried our requests:\n{xml}");
    let va = by_name("va");
    let va_index = num(va, "index");
    assert!(va.attribute("mac").is_some_and(|m| m.len() == 17));

    let arp = elements(&doc, "Arp");
    let e = arp
        .iter()
        .find(|n| n.attribute("ip") == Some("10.199.0.2"))
        .unwrap_or_else(|| panic!("no ARP entry for 10.199.0.2:\n{xml}"));
    assert_eq!(e.attribute("mac"), Some("02:00:00:00:00:02"));
    assert_eq!(e.attribute("type"), Some("static"));
    assert_eq!(num(e, "ifIndex"), va_index);
    assert_eq!(r.attribute("arpTable"), Some("ipNetToPhysicalTable"));

    let oj = rasnmp_in(ns, &["-M", "json", "-p", port, "127.0.0.1"]);
    assert!(oj.status.success(), "{oj:?}");
    let j: serde_json::Value = serde_json::from_str(&stdout(&oj)).expect("one JSON document");
    assert_eq!(j["type"], "snmp");
    assert_eq!(j["agent"], agent.as_str());
    let jifs = j["interfaces"].as_array().expect("interfaces");
    let jlo = jifs.iter().find(|i| i["name"] == "lo").expect("lo in JSON");
    assert_eq!(jlo["index"].as_u64(), Some(num(lo, "index")));
    assert!(jlo["inOctets"].as_u64() >= Some(num(lo, "inOctets")));
    let jarp = j["arp"].as_array().expect("arp");
    assert!(
        jarp.iter().any(|a| a["ip"] == "10.199.0.2"
            && a["mac"] == "02:00:00:00:00:02"
            && a["ifIndex"].as_u64() == Some(va_index)),
        "{j}"
    );
    // A wrong community gets no answer from snmpd: a timeout, exit 1.
    let o = rasnmp_in(
        ns,
        &[
            "-c",
            "nope",
            "-t",
            "0.3",
            "-r",
            "0",
            "-p",
            port,
            "127.0.0.1",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no answer within"));
    eprintln!("{TEST}: {:.1} s", t0.elapsed().as_secs_f64());
}

#[test]
fn rasnmp_times_out_on_a_silent_port_with_exit_1() {
    // A bound UDP port that never answers: no ICMP error, a real timeout.
    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port().to_string();
    let t = Instant::now();
    let o = run(
        env!("CARGO_BIN_EXE_rasnmp"),
        &["-t", "0.4", "-r", "1", "-p", &port, "127.0.0.1"],
    );
    let took = t.elapsed();
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("no answer within"),
        "{err}"
    );
    // The sensor keeps only standard output: the reason is in the document as well.
    let out = stdout(&o);
    let d = roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    let e = elements(&d, "Error");
    assert_eq!(e.len(), 1, "{out}");
    assert!(e[0]
        .attribute("message")
        .is_some_and(|m| m.contains("no answer within")));
    assert_eq!(elements(&d, "Interface").len(), 0);
    assert!(err.contains("2 tries"), "{err}");
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // Usage errors are 2.
    let o = run(env!("CARGO_BIN_EXE_rasnmp"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no host"));
    let o = run(env!("CARGO_BIN_EXE_rasnmp"), &["-t", "0", "h"]);
    assert_eq!(o.status.code(), Some(2));
    drop(silent);
}
