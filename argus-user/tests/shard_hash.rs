//! The reader picks a frame's worker with `fast_shard_hash`, which reads addresses straight from
//! the frame, and falls back to decoding the frame and hashing its flow key. Both directions
//! and all fragments of a flow must meet in one worker, so on every frame of the capture corpus
//! where the fast path answers, its answer must equal the hash of the key the flow model
//! builds for that frame.

use std::path::PathBuf;

mod common;
use common::corpus_dir;

use argus::capture;
use argus::engine::shard::{fast_shard_hash, key_shard_hash};
use argus::flow::key::classify;
use argus::wire;

#[test]
fn fast_shard_hash_agrees_with_the_flow_key_on_the_corpus() {
    let Some(dir) = corpus_dir() else {
        if common::require() {
            panic!("pcap corpus missing but ARGUS_REQUIRE_REFERENCE=1 (set ARGUS_PCAPS)");
        }
        eprintln!("\n*** SKIPPED shard_hash: pcap corpus not found (set ARGUS_PCAPS) ***\n");
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read corpus dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.to_string_lossy();
            n.contains(".pcap") && !n.ends_with(".md")
        })
        .collect();
    files.sort();
    let (mut frames, mut fast, mut bad) = (0u64, 0u64, Vec::new());
    for f in &files {
        let Ok(mut src) = capture::open(f.to_str().expect("utf-8 path")) else {
            continue;
        };
        let mut n = 0u64;
        while let Ok(Some((meta, data))) = src.next_frame() {
            n += 1;
            frames += 1;
            let Some(h) = fast_shard_hash(meta.linktype, data) else {
                continue;
            };
            fast += 1;
            let d = wire::decode(meta.linktype, data, meta.len);
            let want = classify(data, &d).map(|pk| key_shard_hash(&pk.key));
            if want != Some(h) {
                bad.push(format!(
                    "{} frame {n}: fast {h:#x}, key {want:x?}",
                    f.display()
                ));
            }
        }
    }
    eprintln!("shard_hash: {frames} frames, fast path on {fast}");
    assert!(
        frames > 10_000 && fast * 2 > frames,
        "corpus too small or fast path unused"
    );
    assert!(
        bad.is_empty(),
        "{} frames disagree:\n{}",
        bad.len(),
        bad[..bad.len().min(20)].join("\n")
    );
}
