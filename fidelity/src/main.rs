//! `argus-fidelity`: run generated scenarios through Debian's argus and ours (see the crate
//! documentation). `cargo xtask fidelity --scenarios N` builds everything and runs it.

use argus_fidelity::{compare, scenario, shrink, Failure, Report};
use std::path::PathBuf;

struct Opts {
    scenarios: u64,
    seed: u64,
    bin: PathBuf,
    out: Option<PathBuf>,
    failures: PathBuf,
    corpus: Option<PathBuf>,
    shrink: usize,
    batch: u64,
    write: Option<PathBuf>,
}

fn usage() -> ! {
    eprintln!(
        "usage: argus-fidelity [--scenarios N] [--seed FIRST] [--bin DIR] [--out FILE.md] [--failures DIR] [--corpus DIR] [--shrink N] [--batch N] [--write FILE.pcap]\n\
         \n  --scenarios N   scenarios to run (default 200), seeds FIRST..FIRST+N\n  --seed FIRST    first seed (default 1)\n  --bin DIR       our argus, ra and racluster (default: this program's directory)\n  --out FILE.md   write the report there (default: print it)\n  --failures DIR  shrunk captures of the differences (default target/fidelity)\n  --corpus DIR    also compare the sensors on every capture file in DIR\n  --shrink N      shrink at most N differences (default 10)\n  --batch N       scenarios per capture file (default 200; Debian's argus takes a second per file)\n  --write FILE    only write the scenarios' capture (as one batch) there"
    );
    std::process::exit(2)
}

fn parse() -> Opts {
    let mut o = Opts {
        scenarios: 200,
        seed: 1,
        // Built beside our binaries: the directory of this one.
        bin: std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("target/release")),
        out: None,
        failures: PathBuf::from("target/fidelity"),
        corpus: None,
        shrink: 10,
        batch: 200,
        write: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--scenarios" => o.scenarios = val().parse().unwrap_or_else(|_| usage()),
            "--seed" => o.seed = val().parse().unwrap_or_else(|_| usage()),
            "--bin" => o.bin = val().into(),
            "--out" => o.out = Some(val().into()),
            "--failures" => o.failures = val().into(),
            "--corpus" => o.corpus = Some(val().into()),
            "--shrink" => o.shrink = val().parse().unwrap_or_else(|_| usage()),
            "--batch" => o.batch = val().parse::<u64>().unwrap_or_else(|_| usage()).max(1),
            "--write" => o.write = Some(val().into()),
            _ => usage(),
        }
    }
    o
}

fn main() -> anyhow::Result<()> {
    let o = parse();
    if let Some(p) = &o.write {
        let batch: Vec<scenario::Scenario> = (o.seed..o.seed + o.scenarios)
            .map(scenario::generate)
            .collect();
        return scenario::write_batch(&batch, p);
    }
    let tools = compare::Tools::new(&o.bin);
    let missing = tools.missing();
    if !missing.is_empty() {
        anyhow::bail!("missing: {missing:?} (cargo xtask setup installs Debian's; cargo build --release builds ours)");
    }
    std::fs::create_dir_all(&o.failures)?;
    let tmp = tempfile::tempdir()?;
    let mut report = Report::default();
    let mut shrunk = 0;
    let end = o.seed + o.scenarios;
    let mut first = o.seed;
    while first < end {
        let last = (first + o.batch).min(end);
        let batch: Vec<scenario::Scenario> = (first..last).map(scenario::generate).collect();
        let outs = compare::check_batch(&tools, &batch, tmp.path())?;
        for (s, out) in batch.iter().zip(&outs) {
            report.add(s, out);
            if out.clean() || shrunk >= o.shrink {
                continue;
            }
            // Shrink only differences not shrunk yet, and only those the scenario shows alone.
            let single = compare::check(&tools, s, tmp.path())?;
            let sig = single.signature();
            let Some(what) = sig
                .iter()
                .find(|w| !report.failures.iter().any(|f| &f.what == *w))
            else {
                continue;
            };
            shrunk += 1;
            let small = shrink(&tools, s, what, tmp.path(), 40);
            let pcap = o.failures.join(format!("seed-{}.pcap", s.seed));
            scenario::write_pcap(&small, &pcap)?;
            let again = compare::check(&tools, &small, tmp.path())?;
            let (d, u) = again
                .diffs
                .iter()
                .find(|d| &d.0 == what)
                .map(|d| (d.1.clone(), d.2.clone()))
                .unwrap_or_default();
            report.failures.push(Failure {
                seed: s.seed,
                classes: s.classes.clone(),
                what: what.clone(),
                debian: d,
                ours: u,
                pcap: pcap.clone(),
                frames: small.frames.len(),
            });
        }
        eprintln!(
            "argus-fidelity: {} of {} scenarios",
            last - o.seed,
            o.scenarios
        );
        first = last;
    }
    if let Some(dir) = &o.corpus {
        let mut files = 0;
        let mut total = compare::Tally::default();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        for p in paths {
            let t = compare::Tools {
                workers: vec![1],
                ..tools.clone()
            };
            files += 1;
            for out in compare::check_pcap(&t, &p, tmp.path(), 1)? {
                for v in out.sensor.values() {
                    total.add(v);
                }
            }
        }
        report.corpus = Some((files, total));
    }
    let date = std::process::Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let md = report.markdown(&format!("{}..{}", o.seed, o.seed + o.scenarios - 1), &date);
    match &o.out {
        Some(p) => std::fs::write(p, md)?,
        None => print!("{md}"),
    }
    Ok(())
}
