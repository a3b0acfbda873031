//! Differential testing against Debian's argus 3.0.8 (issue 16): captures generated from a
//! seed, class by class ([`scenario`]), through Debian's sensor and ours and through both sets
//! of clients ([`compare`]); a scenario that shows a difference is shrunk to a minimal capture
//! ([`shrink`]); [`Report`] sums agreement per class and per field (`perf/fidelity.md`).

pub mod compare;
pub mod pkt;
pub mod scenario;

use compare::{Outcome, Tally, Tools};
use scenario::{Class, Scenario};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Remove frames from `s` while the difference `sig` (one of [`Outcome::signature`]) stays:
/// halves, then quarters, ... down to single frames, at most `budget` runs.
pub fn shrink(tools: &Tools, s: &Scenario, sig: &str, dir: &Path, budget: usize) -> Scenario {
    let mut cur = s.clone();
    let mut chunk = cur.frames.len().div_ceil(2).max(1);
    let mut runs = 0;
    loop {
        let mut i = 0;
        let mut progressed = false;
        while i < cur.frames.len() && runs < budget {
            let mut cand = cur.clone();
            let end = (i + chunk).min(cand.frames.len());
            cand.frames.drain(i..end);
            if cand.frames.is_empty() {
                i += chunk;
                continue;
            }
            runs += 1;
            let keeps = compare::check(tools, &cand, dir)
                .map(|o| o.signature().iter().any(|x| x == sig))
                .unwrap_or(false);
            if keeps {
                cur = cand;
                progressed = true;
            } else {
                i += chunk;
            }
        }
        if runs >= budget || (chunk == 1 && !progressed) {
            break;
        }
        if !progressed {
            chunk = chunk.div_ceil(2);
        }
    }
    cur
}

/// A failing scenario, shrunk.
#[derive(Clone, Debug)]
pub struct Failure {
    pub seed: u64,
    pub classes: Vec<Class>,
    pub what: String,
    pub debian: String,
    pub ours: String,
    /// The minimal capture that still shows it, and its frame count.
    pub pcap: PathBuf,
    pub frames: usize,
}

/// Agreement over a run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub scenarios: usize,
    pub sensor: BTreeMap<Class, Tally>,
    pub ra: BTreeMap<Class, Tally>,
    pub cluster: BTreeMap<&'static str, (usize, usize)>,
    /// Scenarios with a difference, per signature (first seed, count).
    pub kinds: BTreeMap<String, (u64, usize)>,
    pub failures: Vec<Failure>,
    /// Corpus files: (files, sensor tally).
    pub corpus: Option<(usize, Tally)>,
}

impl Report {
    pub fn add(&mut self, s: &Scenario, o: &Outcome) {
        self.scenarios += 1;
        for (c, t) in &o.sensor {
            self.sensor.entry(*c).or_default().add(t);
        }
        for (c, t) in &o.ra {
            self.ra.entry(*c).or_default().add(t);
        }
        for (k, (n, same)) in &o.cluster {
            let e = self.cluster.entry(k).or_default();
            e.0 += n;
            e.1 += same;
        }
        for sig in o.signature() {
            self.kinds.entry(sig).or_insert((s.seed, 0)).1 += 1;
        }
    }

    /// Sum of a per-class table.
    pub fn total(t: &BTreeMap<Class, Tally>) -> Tally {
        let mut all = Tally::default();
        for v in t.values() {
            all.add(v);
        }
        all
    }

    /// `perf/fidelity.md`.
    pub fn markdown(&self, seeds: &str, date: &str) -> String {
        let pct = |a: usize, b: usize| {
            if b == 0 {
                "-".to_string()
            } else {
                format!("{:.2} %", 100.0 * a as f64 / b as f64)
            }
        };
        let mut m = String::new();
        let _ = writeln!(
            m,
            "# Fidelity: generated scenarios against Debian's argus 3.0.8\n"
        );
        let _ = writeln!(
            m,
            "Written by `cargo xtask fidelity` on {date}: {} scenarios (seeds {seeds}), each a capture of one to three classes of argus behaviour (`fidelity/src/scenario.rs`), through Debian's `argus` and ours (defaults, and `-m -A -J -Z -U 32`; ours with 1 and 3 workers, which must agree), both printed by Debian's `ra` on {} fields; our `ra` and `racluster` against Debian's on Debian's records. Records are told to their class by their addresses.\n",
            self.scenarios,
            compare::FIELDS.len()
        );
        for (title, table) in [
            ("Sensor: our records, Debian's ra", &self.sensor),
            ("ra: Debian's records, our ra", &self.ra),
        ] {
            let _ = writeln!(m, "## {title}\n");
            let _ = writeln!(m, "| class | records | core fields | every field |");
            let _ = writeln!(m, "|---|---:|---:|---:|");
            for (c, t) in table.iter() {
                let _ = writeln!(
                    m,
                    "| {} | {} | {} | {} |",
                    c.name(),
                    t.records,
                    pct(t.core, t.records),
                    pct(t.identical, t.records)
                );
            }
            let all = Self::total(table);
            let _ = writeln!(
                m,
                "| **all** | {} | {} | {} |\n",
                all.records,
                pct(all.core, all.records),
                pct(all.identical, all.records)
            );
            let below: Vec<String> = compare::FIELDS
                .iter()
                .filter_map(|f| {
                    let n = all.fields.get(f).copied().unwrap_or(0);
                    (n < all.records).then(|| format!("`{f}` {}", pct(n, all.records)))
                })
                .collect();
            if below.is_empty() {
                let _ = writeln!(m, "Every field agrees on every record.\n");
            } else {
                let _ = writeln!(
                    m,
                    "Fields that do not agree on every record: {}.\n",
                    below.join(", ")
                );
            }
        }
        let _ = writeln!(m, "## racluster: Debian's records, ours against Debian's\n");
        let _ = writeln!(m, "| -m | lines | identical |");
        let _ = writeln!(m, "|---|---:|---:|");
        for (k, (n, same)) in &self.cluster {
            let _ = writeln!(m, "| `{k}` | {n} | {} |", pct(*same, *n));
        }
        if let Some((files, t)) = &self.corpus {
            let _ = writeln!(m, "\n## Corpus\n");
            let _ = writeln!(
                m,
                "{files} capture files: {} records, core fields {}, every field {}.",
                t.records,
                pct(t.core, t.records),
                pct(t.identical, t.records)
            );
        }
        let _ = writeln!(m, "\n## Differences\n");
        if self.kinds.is_empty() {
            let _ = writeln!(m, "None.");
        } else {
            let _ = writeln!(m, "| what | scenarios | first seed |");
            let _ = writeln!(m, "|---|---:|---:|");
            for (k, (seed, n)) in &self.kinds {
                let _ = writeln!(m, "| {k} | {n} | {seed} |");
            }
        }
        if !self.failures.is_empty() {
            let _ = writeln!(
                m,
                "\nShrunk (`argus-fidelity --seed S --scenarios 1` replays one):\n"
            );
            for f in &self.failures {
                let cls: Vec<&str> = f.classes.iter().map(|c| c.name()).collect();
                let _ = writeln!(
                    m,
                    "* seed {} ({}), {}: {} frames, `{}`\n  - Debian: `{}`\n  - ours:   `{}`",
                    f.seed,
                    cls.join("+"),
                    f.what,
                    f.frames,
                    f.pcap.display(),
                    f.debian,
                    f.ours
                );
            }
        }
        m
    }
}
