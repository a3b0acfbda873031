//! `rasplit` (issue 6 item 4, docs/clients.md): time bins named from the records' own time,
//! the argusarchive layout, gzip output every client reads, count/size/flow modes, `$field`
//! names, MARs and events kept with the flows, input out of time order.

mod common;
use common::corpus_dir;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(bin: &str, args: &[&str]) -> (String, String, i32) {
    let o = Command::new(bin).args(args).output().expect("run");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

fn rasplit(args: &[&str]) -> (String, i32) {
    let (_, e, c) = run(env!("CARGO_BIN_EXE_rasplit"), args);
    (e, c)
}

/// Our argus over a corpus capture (with `extra` options) into `dir`.
fn argus_file(dir: &Path, pcap: &str, extra: &[&str]) -> Option<PathBuf> {
    let c = corpus_dir()?;
    let out = dir.join(format!("{pcap}{}.argus", extra.join("")));
    let st = Command::new(env!("CARGO_BIN_EXE_argus"))
        .arg("-r")
        .arg(c.join(pcap))
        .arg("-w")
        .arg(&out)
        .args(extra)
        .status()
        .expect("argus");
    assert!(st.success());
    Some(out)
}

/// Flow lines (stime first) of an argus file, as our ra prints them.
fn flows(file: &Path) -> Vec<String> {
    let (o, e, c) = run(
        env!("CARGO_BIN_EXE_ra"),
        &[
            "-n",
            "-X",
            "-L",
            "-1",
            "-M",
            "noman",
            "-u",
            "-c",
            ",",
            "-r",
            file.to_str().unwrap_or(""),
            "-s",
            "stime",
            "ltime",
            "srcid",
            "proto",
            "saddr",
            "sport",
            "daddr",
            "dport",
            "pkts",
            "bytes",
        ],
    );
    assert_eq!(c, 0, "ra -r {}: {e}", file.display());
    o.lines().map(str::to_string).collect()
}

fn files_under(d: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    let mut stack = vec![d.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

/// Records of each type and cause in a file: (START MARs, other MARs, flows, events).
fn kinds(file: &Path) -> (usize, usize, usize, usize) {
    let bytes = std::fs::read(file).expect("read");
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        use std::io::Read;
        let mut v = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut v)
            .expect("gunzip");
        v
    } else {
        bytes
    };
    let mut rd = argus::record::decode::RecordReader::new(&bytes[..]);
    let mut k = (0, 0, 0, 0);
    while let Some(r) = rd.next_record() {
        match r.expect("record") {
            argus::record::Record::Mar(m) if m.cause == argus::record::Cause::Start => k.0 += 1,
            argus::record::Record::Mar(_) => k.1 += 1,
            argus::record::Record::Flow(_) => k.2 += 1,
            argus::record::Record::Event(_) => k.3 += 1,
        }
    }
    k
}

/// Debian's ra reads the file: as many flow records as ours.
fn debian_reads(file: &Path, want: usize) {
    if !common::have_reference("rasplit", &["/usr/bin/ra"]) {
        return;
    }
    let (o, e, c) = run(
        "ra",
        &[
            "-n",
            "-L",
            "-1",
            "-r",
            file.to_str().unwrap_or(""),
            "-",
            "not",
            "man",
        ],
    );
    assert_eq!(c, 0, "Debian ra on {}: {e}", file.display());
    assert_eq!(
        o.lines().count(),
        want,
        "Debian ra's flows in {}",
        file.display()
    );
}

#[test]
fn time_bins_follow_the_records_own_time_in_the_archive_layout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(src) = argus_file(dir.path(), "wireshark_samples-test.pcapng", &[]) else {
        eprintln!("*** SKIPPED: no corpus ***");
        assert!(!common::require(), "corpus missing");
        return;
    };
    let all = flows(&src);
    assert!(all.len() > 20);
    for gz in [false, true] {
        let arch = dir.path().join(if gz { "gz" } else { "plain" });
        let pat = format!(
            "{}/%Y/%m/%d/argus.%Y.%m.%d.%H.%M.%S{}",
            arch.display(),
            if gz { ".gz" } else { "" }
        );
        let (e, c) = rasplit(&[
            "-X",
            "-M",
            "time",
            "5m",
            "-r",
            src.to_str().unwrap_or(""),
            "-w",
            &pat,
        ]);
        assert_eq!(c, 0, "{e}");
        let files = files_under(&arch);
        assert!(
            files.len() >= 5,
            "a 28-minute capture in 5-minute bins: {files:?}"
        );
        let mut union = Vec::new();
        for f in &files {
            // argusarchive layout: YYYY/MM/DD/argus.YYYY.MM.DD.HH.MM.SS
            let rel = f
                .strip_prefix(&arch)
                .expect("under")
                .to_string_lossy()
                .into_owned();
            let parts: Vec<&str> = rel.split('/').collect();
            assert_eq!(parts.len(), 4, "{rel}");
            let stamp = parts[3]
                .trim_start_matches("argus.")
                .trim_end_matches(".gz");
            let n: Vec<i64> = stamp.split('.').filter_map(|x| x.parse().ok()).collect();
            assert_eq!(n.len(), 6, "{rel}");
            assert_eq!(
                (parts[0], parts[1], parts[2]),
                (
                    format!("{:04}", n[0]).as_str(),
                    format!("{:02}", n[1]).as_str(),
                    format!("{:02}", n[2]).as_str()
                ),
                "directories match the name: {rel}"
            );
            assert_eq!((n[4] % 5, n[5]), (0, 0), "bins start on 5 minutes: {rel}");
            let bin = chrono::NaiveDate::from_ymd_opt(n[0] as i32, n[1] as u32, n[2] as u32)
                .and_then(|d| d.and_hms_opt(n[3] as u32, n[4] as u32, 0))
                .expect("date")
                .and_utc()
                .timestamp();
            let fl = flows(f);
            for l in &fl {
                let st: f64 = l
                    .split(',')
                    .next()
                    .and_then(|x| x.parse().ok())
                    .expect("stime");
                assert!(
                    st >= bin as f64 && st < (bin + 300) as f64,
                    "{rel}: record starting at {st} outside its bin {bin}"
                );
            }
            // Each file is a stream of its own: one init MAR, no other START MAR.
            let (starts, _, nflows, _) = kinds(f);
            assert_eq!(starts, 1, "{rel}: init MARs");
            assert_eq!(nflows, fl.len());
            debian_reads(f, fl.len());
            union.extend(fl);
        }
        let (mut a, mut u) = (all.clone(), union);
        a.sort();
        u.sort();
        assert_eq!(a, u, "every record in exactly one file (gz {gz})");
    }
}

#[test]
fn late_records_go_back_to_their_bin_and_marks_and_events_stay_with_flows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (Some(a), Some(b)) = (
        argus_file(dir.path(), "206_example_b.pcap", &[]),
        argus_file(dir.path(), "wireshark_samples-test.pcapng", &[]),
    ) else {
        assert!(!common::require(), "corpus missing");
        return;
    };
    // The later capture first, then the earlier one: its bins' files are written after the
    // later ones', and a second run appends to them.
    let arch = dir.path().join("a");
    let pat = format!("{}/argus.%Y.%m.%d.%H.%M.%S", arch.display());
    for _ in 0..2 {
        let (e, c) = rasplit(&[
            "-X",
            "-M",
            "time",
            "10m",
            "-r",
            b.to_str().unwrap_or(""),
            a.to_str().unwrap_or(""),
            "-w",
            &pat,
        ]);
        assert_eq!(c, 0, "{e}");
    }
    let files = files_under(&arch);
    let mut want = flows(&a);
    want.extend(flows(&b));
    let mut got = Vec::new();
    let mut mars = 0;
    for f in &files {
        let (starts, m, n, _) = kinds(f);
        // Two runs: each appended one stream (its own init MAR) to each file.
        assert_eq!(starts, 2, "{}: one init MAR per run", f.display());
        mars += m;
        let fl = flows(f);
        assert_eq!(fl.len(), n);
        got.extend(fl);
    }
    // Twice every record (two runs), none lost or misfiled.
    let mut w2: Vec<String> = want.iter().chain(want.iter()).cloned().collect();
    w2.sort();
    got.sort();
    assert_eq!(w2, got);
    // The inputs' STOP MARs (wall-clock time of the argus run) stayed with the flows: no file
    // named for today.
    assert_eq!(mars, 4, "two STOP MARs per run");
    let today = chrono::Utc::now().format("argus.%Y.%m.%d").to_string();
    assert!(
        files.iter().all(|f| !f.to_string_lossy().contains(&today)),
        "a file named for the run's wall clock: {files:?}"
    );
}

#[test]
fn count_size_and_flow_modes_concatenate_to_the_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(src) = argus_file(dir.path(), "wireshark_samples-test.pcapng", &[]) else {
        assert!(!common::require(), "corpus missing");
        return;
    };
    let all = flows(&src);
    let s = src.to_str().unwrap_or("");
    // count: 7 records a file (MARs count), names xaa, xab, ... in order
    let p = format!("{}/c.", dir.path().display());
    let (e, c) = rasplit(&["-X", "-M", "count", "7", "-r", s, "-w", &p]);
    assert_eq!(c, 0, "{e}");
    let cf: Vec<PathBuf> = files_under(dir.path())
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("/c."))
        .collect();
    assert!(cf.len() > 3);
    assert!(cf[0].to_string_lossy().ends_with("c.aa"));
    assert!(cf[1].to_string_lossy().ends_with("c.ab"));
    let mut cat = Vec::new();
    for (i, f) in cf.iter().enumerate() {
        let (starts, m, n, ev) = kinds(f);
        assert_eq!(starts, 1);
        let recs = m + n + ev;
        if i + 1 < cf.len() {
            assert_eq!(recs, 7, "{}", f.display());
        } else {
            assert!((1..=7).contains(&recs));
        }
        cat.extend(flows(f));
    }
    assert_eq!(cat, all, "the files in name order concatenate to the input");

    // size: no file over 2 KiB
    let p = format!("{}/s.", dir.path().display());
    let (e, c) = rasplit(&["-X", "-M", "size", "2k", "-r", s, "-w", &p]);
    assert_eq!(c, 0, "{e}");
    let sf: Vec<PathBuf> = files_under(dir.path())
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("/s."))
        .collect();
    let mut cat = Vec::new();
    for f in &sf {
        let len = std::fs::metadata(f).expect("meta").len();
        let (_, m, n, _) = kinds(f);
        assert!(len <= 2048 || m + n == 1, "{}: {len} bytes", f.display());
        cat.extend(flows(f));
    }
    assert!(sf.len() > 2);
    assert_eq!(cat, all);

    // flow: a new file at every UDP record
    let p = format!("{}/f.", dir.path().display());
    let (e, c) = rasplit(&["-X", "-M", "flow", "udp", "-r", s, "-w", &p]);
    assert_eq!(c, 0, "{e}");
    let ff: Vec<PathBuf> = files_under(dir.path())
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("/f."))
        .collect();
    let udp = all
        .iter()
        .filter(|l| l.split(',').nth(3) == Some("udp"))
        .count();
    assert!(udp > 1);
    let mut cat = Vec::new();
    for (i, f) in ff.iter().enumerate() {
        let fl = flows(f);
        if i > 0 {
            assert_eq!(
                fl.first().and_then(|l| l.split(',').nth(3)),
                Some("udp"),
                "{}",
                f.display()
            );
        }
        cat.extend(fl);
    }
    assert_eq!(cat, all);
    assert!(ff.len() >= udp, "{} files for {udp} UDP records", ff.len());
}

#[test]
fn dollar_fields_split_per_sensor_and_bad_arguments_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (Some(a), Some(b)) = (
        argus_file(dir.path(), "test.pcap", &["-e", "10.1.1.1"]),
        argus_file(dir.path(), "206_example_b.pcap", &["-e", "10.2.2.2"]),
    ) else {
        assert!(!common::require(), "corpus missing");
        return;
    };
    let p = format!("{}/by/$srcid/argus.%Y.%m.%d", dir.path().display());
    let (e, c) = rasplit(&[
        "-X",
        "-M",
        "time",
        "1d",
        "-r",
        a.to_str().unwrap_or(""),
        b.to_str().unwrap_or(""),
        "-w",
        &p,
    ]);
    assert_eq!(c, 0, "{e}");
    let files = files_under(&dir.path().join("by"));
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for f in &files {
        let id = f
            .parent()
            .and_then(|d| d.file_name())
            .map(|x| x.to_string_lossy().into_owned())
            .unwrap_or_default();
        for l in flows(f) {
            assert_eq!(
                l.split(',').nth(2),
                Some(id.as_str()),
                "{}: {l}",
                f.display()
            );
            *per.entry(id.clone()).or_default() += 1;
        }
    }
    assert_eq!(per.get("10.1.1.1"), Some(&flows(&a).len()));
    assert_eq!(per.get("10.2.2.2"), Some(&flows(&b).len()));

    let s = a.to_str().unwrap_or("");
    for bad in [
        vec!["-M", "time", "5x", "-r", s],
        vec!["-M", "count", "0", "-r", s],
        vec!["-M", "time", "5m", "-w", "x.%Q", "-r", s],
        vec!["-M", "flow", "tcp and", "-r", s],
        vec!["-M", "time", "5m", "-w", "x$nosuchfield", "-r", s],
        vec!["-a", "0", "-r", s],
    ] {
        let mut args = vec!["-X"];
        args.extend(bad.iter().copied());
        let (e, c) = rasplit(&args);
        assert_ne!(c, 0, "{bad:?} accepted");
        assert!(e.starts_with("rasplit: "), "{bad:?}: {e}");
    }
}
