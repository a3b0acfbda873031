//! The sensor's records must not depend on how many workers share the flow table: the same
//! flows, the same contents, the same sequence numbers, in the same order as one worker (which
//! follows argus' single queue). Runs `argus --workers 1` and `--workers 3` on every capture of
//! the corpus and compares the flow records one by one.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::corpus_dir;

use argus::record::decode::RecordReader;
use argus::record::{FlowRecord, Record};

fn flows(pcap: &Path, workers: &str) -> Vec<FlowRecord> {
    let out = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(["--workers", workers, "-r"])
        .arg(pcap)
        .args(["-w", "-"])
        .output()
        .expect("run argus");
    let mut rd = RecordReader::new(&out.stdout[..]);
    let mut v = Vec::new();
    while let Some(r) = rd.next_record() {
        if let Ok(Record::Flow(f)) = r {
            v.push(*f);
        }
    }
    v
}

#[test]
fn one_and_three_workers_write_the_same_records() {
    let Some(dir) = corpus_dir() else {
        if common::require() {
            panic!("pcap corpus missing but ARGUS_REQUIRE_REFERENCE=1 (set ARGUS_PCAPS)");
        }
        eprintln!("\n*** SKIPPED workers_agree: pcap corpus not found (set ARGUS_PCAPS) ***\n");
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read corpus dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains(".pcap"))
        .collect();
    files.sort();
    let (mut total, mut bad) = (0usize, Vec::new());
    for f in &files {
        let one = flows(f, "1");
        let three = flows(f, "3");
        total += one.len();
        if one != three {
            let first = one
                .iter()
                .zip(&three)
                .position(|(a, b)| a != b)
                .unwrap_or(one.len().min(three.len()));
            bad.push(format!(
                "{}: {} vs {} records, first difference at record {first}",
                f.display(),
                one.len(),
                three.len()
            ));
        }
    }
    eprintln!("workers_agree: {} files, {total} records", files.len());
    assert!(total > 4000, "corpus too small: {total} records");
    assert!(bad.is_empty(), "records differ:\n{}", bad.join("\n"));
}
