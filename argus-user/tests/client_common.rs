//! The plumbing every client shares (`argus::cli`), through our `ra`: several `-r` files and
//! globs, stdin, gzip-compressed input (against Debian's ra reading the same .gz), `-w`
//! output read back by Debian's ra, `-t` ranges against Debian's `ra -t`, the rc file
//! (`~/.rarc` via HOME, `-X`), and two `-S` streams at once.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const ARGUS: &str = env!("CARGO_BIN_EXE_argus");
const RA: &str = env!("CARGO_BIN_EXE_ra");
const DEBIAN_RA: &str = "/usr/bin/ra";
/// Printed identically by both ra's (tests/filter_compat.rs checks it on the whole corpus;
/// addresses are not: one flow of the sample is turned by Debian from stale state, docs/ra.md).
const FIELDS: &[&str] = &["seq", "stime", "ltime", "pkts", "bytes", "proto"];

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/wikipedia.pcap")
}

/// Two argus files: the bundled sample and a corpus capture (or the sample again with
/// another source id when the corpus is missing), in a temp dir kept for all tests.
fn files() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static F: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.argus");
        let b = dir.path().join("b.argus");
        common::argus_file(&sample(), &a);
        match common::corpus_dir()
            .map(|d| d.join("test.pcap"))
            .filter(|p| p.exists())
        {
            Some(p) => common::argus_file(&p, &b),
            None => {
                let st = Command::new(ARGUS)
                    .args(["-X", "-e", "7", "-r"])
                    .arg(sample())
                    .arg("-w")
                    .arg(&b)
                    .status()
                    .expect("argus");
                assert!(st.success());
            }
        }
        (dir, a, b)
    })
}

struct Run {
    code: Option<i32>,
    out: String,
    err: String,
}

fn run(bin: &str, args: &[&str], stdin: Option<&[u8]>, home: Option<&Path>) -> Run {
    let mut c = Command::new(bin);
    c.args(args).env("TZ", "UTC");
    if let Some(h) = home {
        c.env("HOME", h);
    }
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    if let Some(data) = stdin {
        let mut si = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = si.write_all(&data);
        });
    }
    let o = child.wait_with_output().expect("wait");
    Run {
        code: o.status.code(),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// `-n -u -p 6 -c , -L -1 -M noman -s FIELDS` lines (flows only) of `bin` on `args`.
fn lines(bin: &str, args: &[&str]) -> Vec<String> {
    // A filter (`- EXPR`) goes last: it takes the rest of the command line.
    let k = args
        .iter()
        .position(|a| *a == "-")
        .filter(|&k| k > 0 && args[k - 1] != "-r");
    let (opts, filter) = match k {
        Some(k) => (&args[..k], &args[k..]),
        None => (args, &[][..]),
    };
    let mut a: Vec<&str> = opts.to_vec();
    a.extend([
        "-n", "-u", "-p", "6", "-c", ",", "-L", "-1", "-M", "noman", "-s",
    ]);
    a.extend(FIELDS);
    a.extend(filter);
    let r = run(bin, &a, None, None);
    assert!(
        r.code == Some(0) || (bin == DEBIAN_RA && r.code == Some(1) && r.err.is_empty()),
        "{bin} {args:?}: exit {:?}: {}",
        r.code,
        r.err
    );
    r.out.lines().map(|l| l.trim_end().to_string()).collect()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn several_files_and_globs() {
    let (dir, a, b) = files();
    let la = lines(RA, &["-r", s(a)]);
    let lb = lines(RA, &["-r", s(b)]);
    assert!(la.len() > 40 && !lb.is_empty());
    let both: Vec<String> = la.iter().chain(lb.iter()).cloned().collect();
    assert_eq!(lines(RA, &["-r", s(a), s(b)]), both, "-r a b");
    assert_eq!(lines(RA, &["-r", s(a), "-r", s(b)]), both, "-r a -r b");
    // A quoted pattern (the shell did not expand it): expanded by us, sorted.
    let pat = format!("{}/*.argus", dir.path().display());
    assert_eq!(lines(RA, &["-r", &pat]), both, "-r '{pat}'");
    let pat = format!("{}/[ab].arg?s", dir.path().display());
    assert_eq!(lines(RA, &["-r", &pat]), both, "-r '{pat}'");
    // A pattern that matches nothing is damaged input: reported, the rest read, exit 1.
    let none = format!("{}/*.nothing", dir.path().display());
    let r = run(
        RA,
        &["-r", &none, s(a), "-M", "noman", "-L", "-1"],
        None,
        None,
    );
    assert_eq!(r.code, Some(1));
    assert!(
        r.err.contains(&none) && r.err.contains("matches nothing"),
        "{}",
        r.err
    );
    assert!(r.out.lines().count() > 40);
    // A missing file: named, exit 1, the others still read.
    let r = run(
        RA,
        &["-r", "/nonexistent.argus", s(a), "-M", "noman"],
        None,
        None,
    );
    assert_eq!(r.code, Some(1));
    assert!(r.err.contains("ra: /nonexistent.argus: "), "{}", r.err);
}

#[test]
fn stdin_input() {
    let (_, a, _) = files();
    let data = std::fs::read(a).expect("read");
    let want = run(RA, &["-r", s(a), "-n"], None, None);
    for args in [&["-r", "-", "-n"][..], &["-n"][..]] {
        let got = run(RA, args, Some(&data), None);
        assert_eq!(got.code, Some(0), "{}", got.err);
        assert_eq!(got.out, want.out, "ra {args:?} < file");
    }
}

fn gzip(data: &[u8], out: &Path) {
    let f = std::fs::File::create(out).expect("create");
    let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip finish");
}

#[test]
fn gzip_input_like_debian() {
    let (_, a, b) = files();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut data = std::fs::read(a).expect("read");
    data.extend(std::fs::read(b).expect("read"));
    let gz = dir.path().join("ab.argus.gz");
    gzip(&data, &gz);
    let plain = dir.path().join("ab.argus");
    std::fs::write(&plain, &data).expect("write");
    let ours = lines(RA, &["-r", s(&gz)]);
    assert_eq!(ours, lines(RA, &["-r", s(&plain)]), "gz vs plain");
    assert!(ours.len() > 40);
    // Sniffed by magic, whatever the name; on stdin too.
    let noext = dir.path().join("ab.bin");
    std::fs::copy(&gz, &noext).expect("copy");
    assert_eq!(lines(RA, &["-r", s(&noext)]), ours, "gz without .gz");
    let zipped = std::fs::read(&gz).expect("read");
    let r = run(
        RA,
        &[
            "-n", "-u", "-p", "6", "-c", ",", "-L", "-1", "-M", "noman", "-s", "seq", "stime",
            "ltime", "pkts", "bytes", "proto",
        ],
        Some(&zipped),
        None,
    );
    assert_eq!(
        r.out.lines().map(String::from).collect::<Vec<_>>(),
        ours,
        "gz on stdin"
    );
    // bzip2/xz: a clear error naming the file, exit 1.
    let bz = dir.path().join("x.argus.bz2");
    std::fs::write(&bz, b"BZh91AY&SY\x00\x00\x00\x00").expect("write");
    let r = run(RA, &["-r", s(&bz)], None, None);
    assert_eq!(r.code, Some(1));
    assert!(
        r.err
            .contains("x.argus.bz2: bzip2-compressed input is not supported"),
        "{}",
        r.err
    );
    // A damaged gzip stream is reported as a read error on that file.
    let cut = dir.path().join("cut.argus.gz");
    std::fs::write(&cut, &zipped[..zipped.len() / 2]).expect("write");
    let r = run(RA, &["-r", s(&cut), "-M", "noman"], None, None);
    assert_eq!(r.code, Some(1), "{}", r.err);
    assert!(r.err.contains("cut.argus.gz"), "{}", r.err);
    if !common::have_reference("gzip_input_like_debian", &[DEBIAN_RA]) {
        return;
    }
    assert_eq!(
        lines(DEBIAN_RA, &["-r", s(&gz)]),
        ours,
        "Debian ra on the same .gz"
    );
}

#[test]
fn write_is_read_by_debian_ra() {
    let (_, a, b) = files();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("w.argus");
    for (expr, name) in [
        (None, "all"),
        (Some("tcp"), "tcp"),
        (Some("udp or arp"), "udp-arp"),
    ] {
        let _ = std::fs::remove_file(&out);
        let mut args = vec!["-r", s(a), s(b), "-w", s(&out)];
        if let Some(e) = expr {
            args.extend(["-", e]);
        }
        let r = run(RA, &args, None, None);
        assert_eq!(r.code, Some(0), "{name}: {}", r.err);
        assert!(r.out.is_empty(), "-w FILE prints nothing");
        // The stream starts with an init MAR (type/version 0x83, cookie E5 71 2D CB).
        let bytes = std::fs::read(&out).expect("read -w");
        assert_eq!(bytes[0], 0x83);
        assert_eq!(&bytes[8..12], &[0xe5, 0x71, 0x2d, 0xcb]);
        let mut direct = vec!["-r", s(a), s(b)];
        if let Some(e) = expr {
            direct.extend(["-", e]);
        }
        let want = lines(RA, &direct);
        assert!(!want.is_empty());
        assert_eq!(
            lines(RA, &["-r", s(&out)]),
            want,
            "{name}: ours reads -w back"
        );
        if Path::new(DEBIAN_RA).exists() {
            assert_eq!(
                lines(DEBIAN_RA, &["-r", s(&out)]),
                want,
                "{name}: Debian reads -w"
            );
        }
    }
    // -w - : the stream on stdout, read by a second ra through a pipe.
    let r = Command::new(RA)
        .args(["-r", s(a), "-w", "-", "-", "tcp"])
        .output()
        .expect("ra -w -");
    assert!(r.status.success());
    let back = run(
        if Path::new(DEBIAN_RA).exists() {
            DEBIAN_RA
        } else {
            RA
        },
        &[
            "-r", "-", "-n", "-u", "-p", "6", "-c", ",", "-L", "-1", "-M", "noman", "-s", "seq",
            "stime", "ltime", "pkts", "bytes", "proto",
        ],
        Some(&r.stdout),
        None,
    );
    let got: Vec<String> = back.out.lines().map(|l| l.trim_end().to_string()).collect();
    assert_eq!(got, lines(RA, &["-r", s(a), "-", "tcp"]), "-w - | ra -r -");
    // An unwritable -w: exit 2 with the name.
    let r = run(RA, &["-r", s(a), "-w", "/nonexistent/dir/x"], None, None);
    assert_eq!(r.code, Some(2));
    assert!(r.err.contains("/nonexistent/dir/x"), "{}", r.err);
}

#[test]
fn time_ranges_like_debian() {
    let (_, a, b) = files();
    let ours_all = lines(RA, &["-r", s(a), s(b)]);
    assert!(ours_all.len() > 40);
    // Ranges around the records' own times (Unix seconds in column 2).
    let t: Vec<f64> = ours_all
        .iter()
        .filter_map(|l| l.split(',').nth(1)?.parse().ok())
        .collect();
    let fmt = |v: f64, frac: bool| {
        let secs = v.floor() as i64;
        let d = chrono::DateTime::from_timestamp(secs, 0).expect("time");
        if frac {
            format!(
                "{}.{:06}",
                d.format("%Y/%m/%d.%H:%M:%S"),
                ((v - v.floor()) * 1e6).round() as i64
            )
        } else {
            d.format("%Y/%m/%d.%H:%M:%S").to_string()
        }
    };
    let mid = t[t.len() / 2];
    let first = t[0];
    let mut ranges = vec![
        format!("{}-{}", fmt(first, false), fmt(first + 2.0, false)),
        format!("{}-{}", fmt(mid - 1.0, false), fmt(mid + 1.0, false)),
        fmt(mid, false),
        format!("{}+5s", fmt(first, false)),
        format!("c{}-{}", fmt(first, false), fmt(first + 3.0, false)),
        format!("x{}-{}", fmt(first, false), fmt(first + 3.0, false)),
        format!("{}-{}", fmt(mid, true), fmt(mid + 0.5, true)),
        format!("{}", first.floor() as i64 + 1),
        fmt(first, false)[..10].to_string(),
        fmt(first, false)[..16].to_string(),
    ];
    // Ranges that start exactly at a record's start and end times.
    ranges.push(format!("{}-{}", fmt(t[3], true), fmt(t[3] + 1.0, true)));
    let r = run(
        RA,
        &["-r", s(a), s(b), "-t", "2000/01/01-1999/01/01"],
        None,
        None,
    );
    assert_eq!(
        r.code,
        Some(2),
        "a range ending before it starts is refused"
    );
    assert!(r.err.contains("-t 2000/01/01-1999/01/01"), "{}", r.err);
    let mut counts = Vec::new();
    for range in &ranges {
        let ours = lines(RA, &["-r", s(a), s(b), "-t", range]);
        counts.push(ours.len());
        if Path::new(DEBIAN_RA).exists() {
            let deb = lines(DEBIAN_RA, &["-r", s(a), s(b), "-t", range]);
            assert_eq!(ours, deb, "-t {range}");
        }
    }
    // The ranges select something, and not everything, mostly.
    assert!(
        counts
            .iter()
            .filter(|&&c| c > 0 && c < ours_all.len())
            .count()
            >= 5,
        "{counts:?}"
    );
    let _ = common::have_reference("time_ranges_like_debian", &[DEBIAN_RA]);
}

#[test]
fn rc_file_and_dash_x() {
    // The second file: its flows print identically in both ra's, addresses included.
    let (_, _, a) = files();
    let home = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        home.path().join(".rarc"),
        "# ours\nRA_FIELD_DELIMITER=','\nRA_PRINT_MAN_RECORDS=no\n",
    )
    .expect("write rc");
    let base = [
        "-r",
        s(a),
        "-n",
        "-s",
        "stime",
        "proto",
        "saddr",
        "sport",
        "daddr",
        "dport",
    ];
    let with_rc = run(RA, &base, None, Some(home.path()));
    assert_eq!(with_rc.code, Some(0), "{}", with_rc.err);
    let first = with_rc.out.lines().next().unwrap_or("");
    assert_eq!(first, "StartTime,Proto,SrcAddr,Sport,DstAddr,Dport");
    assert!(with_rc.out.lines().count() > 30);
    assert!(!with_rc.out.contains(",man,"), "RA_PRINT_MAN_RECORDS=no");
    // -X: no rc file at all (no separator, no MARs).
    let mut x = base.to_vec();
    x.insert(0, "-X");
    let plain = run(RA, &x, None, Some(home.path()));
    assert!(!plain.out.contains(','), "{}", plain.out);
    // The command line wins.
    let mut c = base.to_vec();
    c.extend(["-c", ";"]);
    let semi = run(RA, &c, None, Some(home.path()));
    assert!(semi.out.lines().next().unwrap_or("").contains(';'));
    if Path::new(DEBIAN_RA).exists() {
        // Debian's ra with the same HOME prints the same lines.
        let deb = run(DEBIAN_RA, &base, None, Some(home.path()));
        assert_eq!(
            with_rc.out,
            deb.out.replace(" \n", "\n"),
            "same rc file, Debian's ra"
        );
        let deb = run(DEBIAN_RA, &x, None, Some(home.path()));
        assert_eq!(plain.out, deb.out, "-X, Debian's ra");
    }
    // A bad line: the file and line named, exit 2.
    std::fs::write(
        home.path().join(".rarc"),
        "RA_PRINT_LABELS=0\nnot a setting\n",
    )
    .expect("w");
    let r = run(RA, &base, None, Some(home.path()));
    assert_eq!(r.code, Some(2));
    let rc = home.path().join(".rarc");
    assert!(
        r.err.contains(&format!("{}:2: ", rc.display())),
        "{}",
        r.err
    );
    // RA_PRINT_LABELS=N repeats the header every N lines.
    std::fs::write(
        home.path().join(".rarc"),
        "RA_PRINT_LABELS=3\nRA_PRINT_MAN_RECORDS=no\n",
    )
    .expect("w");
    let r = run(RA, &base, None, Some(home.path()));
    let heads = r.out.lines().filter(|l| l.contains("StartTime")).count();
    let total = r.out.lines().count();
    assert_eq!(heads, total.div_ceil(4), "{}", r.out);
}

#[test]
fn two_streams_at_once() {
    let (_, _, b) = files();
    let pcaps = [sample(), sample()];
    let ports = [common::free_port(), common::free_port()];
    let mut sensors = Vec::new();
    for (k, port) in ports.iter().enumerate() {
        let s = Command::new(ARGUS)
            .args(["-X", "-r", "-", "-B", "127.0.0.1", "-P", &port.to_string()])
            .args(["-e", &(k + 1).to_string(), "-w", "/dev/null"])
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start argus");
        sensors.push(s);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for port in ports {
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sensor never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let (a0, a1) = (
        format!("127.0.0.1:{}", ports[0]),
        format!("127.0.0.1:{}", ports[1]),
    );
    let client = std::thread::spawn(move || {
        run(
            RA,
            &[
                "-S", &a0, "-S", &a1, "-n", "-u", "-M", "noman", "-L", "-1", "-s", "srcid",
                "stime", "proto", "saddr", "daddr", "pkts",
            ],
            None,
            None,
        )
    });
    std::thread::sleep(Duration::from_millis(500));
    // Feed the second sensor first: records of both arrive while both are connected.
    for k in [1, 0] {
        let data = std::fs::read(&pcaps[k]).expect("pcap");
        let mut si = sensors[k].stdin.take().expect("stdin");
        si.write_all(&data).expect("feed");
    }
    let got = client.join().expect("client");
    for mut s in sensors {
        assert!(s.wait().expect("wait").success());
    }
    assert_eq!(got.code, Some(0), "{}", got.err);
    let _ = b;
    // Each sensor's records, by source id, equal what ra -r prints for the same capture.
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("s.argus");
    common::argus_file(&sample(), &f);
    let want: Vec<String> = run(
        RA,
        &[
            "-r",
            s(&f),
            "-n",
            "-u",
            "-M",
            "noman",
            "-L",
            "-1",
            "-s",
            "stime",
            "proto",
            "saddr",
            "daddr",
            "pkts",
        ],
        None,
        None,
    )
    .out
    .lines()
    .map(|l| l.trim().to_string())
    .collect();
    assert!(want.len() > 40);
    for id in ["1", "2"] {
        let mine: Vec<String> = got
            .out
            .lines()
            .filter_map(|l| l.trim().strip_prefix(id)?.strip_prefix(' '))
            .map(|l| l.trim().to_string())
            .collect();
        assert_eq!(mine, want, "records of sensor -e {id}");
    }
}

#[test]
fn inputs_open_twice() {
    // The record source is a reusable value: a second pass over file inputs (a later
    // pre-pass, e.g. for sorting) sees the same records; a damaged input counts each time.
    let (dir, a, b) = files();
    let pat = format!("{}/*.argus", dir.path().display());
    let inputs = argus::cli::Inputs::new(vec![
        argus::cli::Input::File(s(a).into()),
        argus::cli::Input::from_arg(&pat),
        argus::cli::Input::File("/nonexistent.argus".into()),
    ]);
    assert!(inputs.rereadable());
    let pass = || {
        let mut r = inputs.open_all();
        let mut names = Vec::new();
        let mut recs = Vec::new();
        for (name, item) in r.by_ref() {
            match item {
                Ok(rec) => {
                    names.push(name.to_string());
                    recs.push(rec);
                }
                Err(e) => assert_eq!(e.input, "/nonexistent.argus", "{e}"),
            }
        }
        (names, recs, r.damaged())
    };
    let (n1, r1, d1) = pass();
    let (n2, r2, d2) = pass();
    assert_eq!((d1, d2), (1, 1));
    assert!(r1.len() > 80);
    assert_eq!(r1, r2);
    assert_eq!(n1, n2);
    // In order: a, then the glob's a and b (sorted).
    assert_eq!(n1.first().map(String::as_str), Some(s(a)));
    assert_eq!(n1.last().map(String::as_str), Some(s(b)));
}

#[test]
fn prefiltered_reading_selects_what_whole_records_select() {
    // Options::open_selected decodes only the DSRs a filter reads and drops what it rejects;
    // the records that come out must be exactly those `selects` keeps of whole records, each
    // decoded whole (the rest of its DSRs completed in place).
    let (_dir, a, b) = files();
    let spec = argus::cli::Spec {
        prog: "test",
        ..Default::default()
    };
    let exprs: &[&[&str]] = &[
        &["-", "tcp"],
        &["-", "udp and dst port 53"],
        &["-", "src host 208.80.154.224 or dst net 10.0.0.0/8"],
        &["-", "bytes gt 1000 and not icmp"],
        &["-", "ttl lt 64 or dst pkts ge 3"],
        &["-", "ether src host 00:00:00:00:00:00 or arp"],
        &["-", "dur gt 0.5"],
        // The sample's flows run from 1300475167 to 1300475173 (Unix seconds).
        &["-t", "1300475168-1300475171", "-", "ip"],
        &["-t", "c1300475167-1300475172"],
    ];
    for e in exprs {
        let mut args: Vec<String> = vec!["-r".into(), s(a).into(), "-r".into(), s(b).into()];
        args.extend(e.iter().map(|x| x.to_string()));
        let o = argus::cli::Options::from_args(&spec, args);
        let whole: Vec<_> = o
            .inputs
            .open_all()
            .filter_map(|(_, r)| r.ok())
            .filter(|r| o.selects(r))
            .collect();
        let pre: Vec<_> = o
            .open_selected()
            .filter_map(|(_, r)| r.ok())
            .filter(|r| o.selects(r))
            .collect();
        assert_eq!(pre, whole, "{e:?}");
        let flows = whole
            .iter()
            .filter(|r| matches!(r, argus::record::Record::Flow(_)))
            .count();
        eprintln!("{e:?}: {flows} flow records selected");
        assert!(
            flows > 0,
            "{e:?} selects nothing: the comparison would say nothing"
        );
    }
    // The prefilter is in effect where it can be: the filter reads less than the whole record.
    let o = argus::cli::Options::from_args(
        &spec,
        vec!["-r".into(), s(a).into(), "-".into(), "udp".into()],
    );
    let p = o.flow_prefilter().expect("a key-only filter prefilters");
    assert!(!p.dsrs.contains(0x10) && p.dsrs.contains(0x02));
    let o = argus::cli::Options::from_args(
        &spec,
        vec!["-r".into(), s(a).into(), "-".into(), "dur gt 1".into()],
    );
    assert!(o.flow_prefilter().is_none(), "dur needs the whole record");
}

/// `CompiledFilter::matches_flow_bytes` (a key-only filter on a record's undecoded bytes)
/// answers as `matches_flow` does on the decoded record, or not at all; and it does answer
/// for most records (else the readers' fast path would be dead code).
#[test]
fn key_filters_on_record_bytes_answer_as_on_decoded_records() {
    use argus::filter::{CompiledFilter, Target};
    use argus::record::{decode, Record};
    let (_dir, a, b) = files();
    let exprs = [
        "tcp",
        "udp and dst port 53",
        "dst port 80",
        "src port 80 or src port 443",
        "not tcp and not udp",
        "src host 208.80.154.224 or dst net 10.0.0.0/8",
        "icmp or ip6 or arp",
        "ether proto 0x0800 and not port 443",
        "man or dst host 192.168.1.1",
    ];
    for path in [a, b] {
        let bytes = std::fs::read(path).expect("read");
        let mut recs = Vec::new();
        let mut p = 0;
        while p + 4 <= bytes.len() {
            let n = decode::record_len(&bytes[p..]);
            if n == 0 || p + n > bytes.len() {
                break;
            }
            if let Ok(Record::Flow(f)) = decode::decode(&bytes[p..p + n]) {
                recs.push((&bytes[p..p + n], f));
            }
            p += n;
        }
        assert!(
            recs.len() > 20,
            "{}: {} flow records",
            path.display(),
            recs.len()
        );
        for e in exprs {
            let f = CompiledFilter::compile(e, Target::Records).expect("compiles");
            let (mut told, mut yes) = (0, 0);
            for (raw, rec) in &recs {
                if let Some(v) = f.matches_flow_bytes(raw) {
                    assert_eq!(v, f.matches_flow(rec), "{e}: {rec:?}");
                    told += 1;
                    yes += v as usize;
                }
            }
            eprintln!(
                "{}: {e}: {told} of {} told from bytes, {yes} match",
                path.display(),
                recs.len()
            );
            assert!(
                told * 2 > recs.len(),
                "{e}: only {told} of {} told",
                recs.len()
            );
        }
    }
    // A filter reading more than the key is never answered from the bytes.
    let f = CompiledFilter::compile("tcp and bytes gt 10", Target::Records).expect("compiles");
    let bytes = std::fs::read(a).expect("read");
    let n = decode::record_len(&bytes);
    assert_eq!(f.matches_flow_bytes(&bytes[..n]), None);
}
