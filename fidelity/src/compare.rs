//! One scenario through both sensors and both sets of clients, and what agreed.
//!
//! * **sensor**: Debian's `argus` and ours read the capture (with each option set); Debian's
//!   `ra` prints both outputs on [`FIELDS`]; records are matched by flow key and start time
//!   and compared field by field.
//! * **ra**: our `ra` and Debian's print Debian's records on [`FIELDS`], line by line.
//! * **racluster**: ours and Debian's aggregate Debian's records with each key list of
//!   [`CLUSTER_KEYS`] (and `-m none`), line by line.

use crate::scenario::{self, Class, Scenario};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every field Debian's `ra` prints that the record format carries (ours adds duplicate
/// counts and owners, which Debian's does not know).
pub const FIELDS: &[&str] = &[
    "srcid",
    "seq",
    "cause",
    "stime",
    "ltime",
    "dur",
    "flgs",
    "proto",
    "saddr",
    "sport",
    "dir",
    "daddr",
    "dport",
    "pkts",
    "spkts",
    "dpkts",
    "bytes",
    "sbytes",
    "dbytes",
    "appbytes",
    "sappbytes",
    "dappbytes",
    "state",
    "sttl",
    "dttl",
    "stos",
    "dtos",
    "sipid",
    "dipid",
    "svid",
    "dvid",
    "svpri",
    "dvpri",
    "smpls",
    "dmpls",
    "swin",
    "dwin",
    "stcpb",
    "dtcpb",
    "tcprtt",
    "synack",
    "ackdat",
    "sretrans",
    "dretrans",
    "sgap",
    "dgap",
    "inode",
    "tcpopt",
    "trans",
    "smac",
    "dmac",
    "sintpkt",
    "dintpkt",
    "sjit",
    "djit",
    "smeansz",
    "dmeansz",
    "smaxsz",
    "dmaxsz",
    "sminsz",
    "dminsz",
    "suser",
    "duser",
    "load",
    "sload",
    "dload",
    "rate",
    "srate",
    "drate",
    "loss",
    "sloss",
    "dloss",
    "ploss",
];

/// The fields every record must agree on.
pub const CORE: &[&str] = &[
    "stime", "ltime", "proto", "saddr", "sport", "daddr", "dport", "spkts", "dpkts", "sbytes",
    "dbytes", "state",
];

/// Sensor option sets: argus' defaults, and the extended metrics.
pub const OPTION_SETS: &[(&str, &[&str])] = &[
    ("defaults", &[]),
    ("-m -A -J -Z -U 32", &["-m", "-A", "-J", "-Z", "-U", "32"]),
];

/// racluster key lists compared (`none`: every record unchanged).
pub const CLUSTER_KEYS: &[&str] = &[
    "none",
    "proto",
    "saddr daddr",
    "saddr daddr proto sport dport",
];

/// Where the programs are.
#[derive(Clone, Debug)]
pub struct Tools {
    pub debian_argus: PathBuf,
    pub debian_ra: PathBuf,
    pub debian_racluster: PathBuf,
    pub argus: PathBuf,
    pub ra: PathBuf,
    pub racluster: PathBuf,
    /// Worker counts our sensor runs with (its records must not depend on them).
    pub workers: Vec<usize>,
}

impl Tools {
    /// Debian's tools where Debian installs them, ours in `bin_dir`.
    pub fn new(bin_dir: &Path) -> Tools {
        Tools {
            debian_argus: "/usr/sbin/argus".into(),
            debian_ra: "/usr/bin/ra".into(),
            debian_racluster: "/usr/bin/racluster".into(),
            argus: bin_dir.join("argus"),
            ra: bin_dir.join("ra"),
            racluster: bin_dir.join("racluster"),
            workers: vec![1, 3],
        }
    }

    /// The programs that are missing.
    pub fn missing(&self) -> Vec<&Path> {
        [
            &self.debian_argus,
            &self.debian_ra,
            &self.debian_racluster,
            &self.argus,
            &self.ra,
            &self.racluster,
        ]
        .into_iter()
        .filter(|p| !p.is_file())
        .map(|p| p.as_path())
        .collect()
    }
}

/// Agreement counts of one comparison.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Reference records (Debian's).
    pub records: usize,
    /// Records equal on every field.
    pub identical: usize,
    /// Records equal on the core fields.
    pub core: usize,
    /// Per field: records that agree on it.
    pub fields: BTreeMap<&'static str, usize>,
}

impl Tally {
    pub fn add(&mut self, o: &Tally) {
        self.records += o.records;
        self.identical += o.identical;
        self.core += o.core;
        for (k, v) in &o.fields {
            *self.fields.entry(k).or_default() += v;
        }
    }
}

/// What one scenario showed.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Sensor agreement per class (records attributed by their addresses).
    pub sensor: BTreeMap<Class, Tally>,
    /// Our ra on Debian's records, per class.
    pub ra: BTreeMap<Class, Tally>,
    /// racluster lines: (Debian's lines, equal lines) per key list.
    pub cluster: BTreeMap<&'static str, (usize, usize)>,
    /// The first differences, as (what, Debian's line, ours).
    pub diffs: Vec<(String, String, String)>,
}

impl Outcome {
    /// Nothing differed.
    pub fn clean(&self) -> bool {
        self.diffs.is_empty()
    }

    /// A short signature of what differed (which comparison and which fields), to shrink a
    /// scenario without losing its difference.
    pub fn signature(&self) -> Vec<String> {
        let mut s: Vec<String> = self.diffs.iter().map(|d| d.0.clone()).collect();
        s.sort();
        s.dedup();
        s
    }
}

/// Longest a tool may take on one capture: a sensor or client that hangs is a failure with
/// its command line, not a stuck run.
const RUN_LIMIT_S: u32 = 300;

fn run(cmd: &mut Command) -> anyhow::Result<std::process::Output> {
    let mut limited = Command::new("timeout");
    limited
        .arg("-s")
        .arg("KILL")
        .arg(RUN_LIMIT_S.to_string())
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .env("TZ", "UTC");
    let o = limited.output()?;
    // timeout(1) exits 137 when it had to kill the command.
    if o.status.code() == Some(137) || o.status.code() == Some(124) {
        anyhow::bail!(
            "{:?} {:?} ran over {RUN_LIMIT_S} s",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>()
        );
    }
    Ok(o)
}

/// Debian's or our sensor on `pcap`, records to `out`.
fn sensor(
    bin: &Path,
    pcap: &Path,
    out: &Path,
    args: &[&str],
    extra: &[String],
) -> anyhow::Result<()> {
    let _ = std::fs::remove_file(out);
    run(Command::new(bin)
        .args(extra)
        .args(["-X"])
        .args(args)
        .arg("-r")
        .arg(pcap)
        .arg("-w")
        .arg(out))?;
    Ok(())
}

/// `ra` on `file`: one CSV line per record, without management records.
fn print(ra: &Path, file: &Path) -> anyhow::Result<Vec<String>> {
    if !file.is_file() {
        return Ok(Vec::new());
    }
    let o = run(Command::new(ra)
        .args(["-X", "-n", "-u", "-c", ",", "-L", "-1", "-M", "noman", "-r"])
        .arg(file)
        .arg("-s")
        .args(FIELDS))?;
    Ok(String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

fn cluster(bin: &Path, file: &Path, keys: &str) -> anyhow::Result<Vec<String>> {
    if !file.is_file() {
        return Ok(Vec::new());
    }
    let o = run(Command::new(bin)
        .args(["-n", "-u", "-c", ",", "-L", "-1", "-M", "noman", "-r"])
        .arg(file)
        .arg("-m")
        .args(keys.split(' '))
        .arg("-s")
        .args([
            "stime", "ltime", "flgs", "proto", "saddr", "sport", "dir", "daddr", "dport", "spkts",
            "dpkts", "sbytes", "dbytes", "state", "trans",
        ]))?;
    Ok(String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

/// Documented difference (docs/compat.md): Debian's ra overwrites the upper half of an ESP
/// SPI (printed as `dport`) with two spaces, so only the lower half is compared: columns `c`
/// of a printed line, `proto` and `dport` their positions.
fn cut_esp_spi(c: &mut [&str], proto: usize, dport: usize) {
    if c.get(proto) == Some(&"esp") {
        if let Some(d) = c.get_mut(dport) {
            if d.len() == 10 {
                *d = &d[6..];
            }
        }
    }
}

/// A racluster line with its ESP SPI cut ([`cut_esp_spi`]).
fn esp_spi_lower(line: &str) -> String {
    let mut c: Vec<&str> = line.split(',').collect();
    cut_esp_spi(&mut c, 3, 8);
    c.join(",")
}

fn col(name: &str) -> usize {
    FIELDS.iter().position(|f| *f == name).unwrap_or(0)
}

/// Flow key and start time of a printed line: what pairs a record with its counterpart.
fn key_of(c: &[&str]) -> String {
    ["proto", "saddr", "sport", "daddr", "dport", "stime"]
        .iter()
        .map(|f| c.get(col(f)).copied().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("|")
}

/// Compare `ours` against the reference lines, per class; push the first differences.
fn compare(
    what: &str,
    reference: &[String],
    ours: &[String],
    key: fn(&[&str]) -> String,
    outs: &mut [Outcome],
    sensor: bool,
) {
    let last = outs.len().saturating_sub(1);
    let bucket = |l: &str| {
        let i = scenario::index_of_stime(l.split(',').nth(col("stime")).unwrap_or(""));
        i.min(last)
    };
    let core: Vec<usize> = CORE.iter().map(|f| col(f)).collect();
    // Sequence numbers count flows over the whole file: in a file of several scenarios they
    // are compared from each scenario's first one.
    let rebase = |lines: &[String]| -> Vec<String> {
        let seq = col("seq");
        let mut first: HashMap<usize, u64> = HashMap::new();
        for l in lines {
            if let Some(v) = l.split(',').nth(seq).and_then(|v| v.parse::<u64>().ok()) {
                let e = first.entry(bucket(l)).or_insert(v);
                *e = (*e).min(v);
            }
        }
        lines
            .iter()
            .map(|l| {
                let mut c: Vec<String> = l.split(',').map(str::to_string).collect();
                if let (Some(v), Some(b)) = (
                    c.get(seq).and_then(|v| v.parse::<u64>().ok()),
                    first.get(&bucket(l)),
                ) {
                    c[seq] = (v - b).to_string();
                }
                c.join(",")
            })
            .collect()
    };
    let (reference, ours) = if sensor && outs.len() > 1 {
        (rebase(reference), rebase(ours))
    } else {
        (reference.to_vec(), ours.to_vec())
    };
    let mut pool: HashMap<String, Vec<&String>> = HashMap::new();
    for l in &ours {
        let c: Vec<&str> = l.split(',').collect();
        pool.entry(key(&c)).or_default().push(l);
    }
    for r in &reference {
        let class = Class::of_line(r).unwrap_or(Class::Other);
        let out = &mut outs[bucket(r)];
        let (tallies, diffs) = if sensor {
            (&mut out.sensor, &mut out.diffs)
        } else {
            (&mut out.ra, &mut out.diffs)
        };
        let t = tallies.entry(class).or_default();
        t.records += 1;
        let mut rc: Vec<&str> = r.split(',').collect();
        let found: Option<&String> = pool.get_mut(&key(&rc)).and_then(|cands| {
            let pos = cands.iter().position(|o| *o == r).unwrap_or(0);
            (!cands.is_empty()).then(|| cands.remove(pos))
        });
        let Some(o) = found else {
            if diffs.len() < 50 {
                diffs.push((format!("{what}: record missing"), r.clone(), String::new()));
            }
            continue;
        };
        let mut oc: Vec<&str> = o.split(',').collect();
        if !sensor {
            cut_esp_spi(&mut rc, col("proto"), col("dport"));
            cut_esp_spi(&mut oc, col("proto"), col("dport"));
        }
        if oc == rc {
            t.identical += 1;
        }
        if core.iter().all(|&i| oc.get(i) == rc.get(i)) {
            t.core += 1;
        }
        let mut first_bad = None;
        for (j, f) in FIELDS.iter().enumerate() {
            if oc.get(j) == rc.get(j) {
                *t.fields.entry(f).or_default() += 1;
            } else if first_bad.is_none() {
                first_bad = Some(*f);
            }
        }
        if let Some(f) = first_bad {
            if diffs.len() < 50 {
                diffs.push((format!("{what}: {f}"), r.clone(), o.clone()));
            }
        }
    }
    for left in pool.values().flatten() {
        let out = &mut outs[bucket(left)];
        if out.diffs.len() < 50 {
            out.diffs.push((
                format!("{what}: extra record"),
                String::new(),
                left.to_string(),
            ));
        }
    }
}

/// A record's place in a file: source id and sequence number (what `ra` pairs lines on).
fn seq_of(c: &[&str]) -> String {
    format!(
        "{}|{}|{}",
        c.first().unwrap_or(&""),
        c.get(1).unwrap_or(&""),
        c.get(2).unwrap_or(&"")
    )
}

/// Run scenario `s` through everything (files in `dir`).
pub fn check(tools: &Tools, s: &Scenario, dir: &Path) -> anyhow::Result<Outcome> {
    let mut v = check_batch(tools, std::slice::from_ref(s), dir)?;
    Ok(v.pop().unwrap_or_default())
}

/// Run the scenarios of `batch` through everything in one capture (see
/// [`scenario::write_batch`]): one outcome per scenario.
pub fn check_batch(tools: &Tools, batch: &[Scenario], dir: &Path) -> anyhow::Result<Vec<Outcome>> {
    let pcap = dir.join("batch.pcap");
    scenario::write_batch(batch, &pcap)?;
    check_pcap(tools, &pcap, dir, batch.len().max(1))
}

/// [`check_batch`] on a capture already written, of `n` scenarios.
pub fn check_pcap(
    tools: &Tools,
    pcap: &Path,
    dir: &Path,
    n: usize,
) -> anyhow::Result<Vec<Outcome>> {
    let mut outs = vec![Outcome::default(); n];
    for (label, args) in OPTION_SETS {
        let deb = dir.join("debian.argus");
        sensor(&tools.debian_argus, pcap, &deb, args, &[])?;
        let want = print(&tools.debian_ra, &deb)?;
        for &w in &tools.workers {
            let ours = dir.join(format!("ours-{w}.argus"));
            sensor(
                &tools.argus,
                pcap,
                &ours,
                args,
                &["--workers".into(), w.to_string()],
            )?;
            let got = print(&tools.debian_ra, &ours)?;
            // One worker count gives the figures; every one must agree.
            let mut scratch = vec![Outcome::default(); n];
            let target = if w == tools.workers[0] {
                &mut outs
            } else {
                &mut scratch
            };
            compare(
                &format!("sensor {label} (workers {w})"),
                &want,
                &got,
                key_of,
                target,
                true,
            );
            for (o, s) in outs.iter_mut().zip(scratch) {
                o.diffs.extend(s.diffs);
            }
        }
        let ours_ra = print(&tools.ra, &deb)?;
        compare(
            &format!("ra {label}"),
            &want,
            &ours_ra,
            seq_of,
            &mut outs,
            false,
        );
        if label == &"defaults" {
            for keys in CLUSTER_KEYS {
                let want: Vec<String> = cluster(&tools.debian_racluster, &deb, keys)?
                    .iter()
                    .map(|l| esp_spi_lower(l))
                    .collect();
                let got: Vec<String> = cluster(&tools.racluster, &deb, keys)?
                    .iter()
                    .map(|l| esp_spi_lower(l))
                    .collect();
                let mut got_pool: HashMap<&String, usize> = HashMap::new();
                for g in &got {
                    *got_pool.entry(g).or_default() += 1;
                }
                for w in &want {
                    let k = scenario::index_of_stime(w.split(',').next().unwrap_or("")).min(n - 1);
                    let e = outs[k].cluster.entry(keys).or_default();
                    e.0 += 1;
                    match got_pool.get_mut(w) {
                        Some(c) if *c > 0 => {
                            *c -= 1;
                            e.1 += 1;
                        }
                        _ => {
                            if outs[k].diffs.len() < 50 {
                                let near = got
                                    .iter()
                                    .find(|g| g.split(',').nth(4) == w.split(',').nth(4))
                                    .cloned()
                                    .unwrap_or_default();
                                outs[k].diffs.push((
                                    format!("racluster -m {keys}"),
                                    w.clone(),
                                    near,
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(outs)
}
