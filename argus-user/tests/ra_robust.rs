//! Decoder robustness: resynchronisation after corruption, no panics on garbage.

use argus::record::decode::{decode, RecordReader};
use argus::record::encode::{encode_flow, encode_mar};
use argus::record::*;

fn sample_stream() -> Vec<u8> {
    let mut out = Vec::new();
    encode_mar(
        &Mar {
            argusid: MAR_COOKIE,
            major: 3,
            report_interval: 5,
            mar_interval: 60,
            ..Default::default()
        },
        &mut out,
    );
    for seq in 1..=5u32 {
        let f = FlowRecord {
            seq,
            flow: Some(FlowDsr {
                kind: 1,
                reverse: false,
                qual: 1,
                key: FlowKey::Ipv4 {
                    src: [10, 0, 0, 1],
                    dst: [10, 0, 0, 2],
                    proto: 17,
                    tp_p: 0,
                    sport: 1000 + seq as u16,
                    dport: 53,
                    smask: 0,
                    dmask: 0,
                },
            }),
            time: Some(TimeDsr {
                start: Ts { sec: 100, usec: 1 },
                last: Ts { sec: 101, usec: 2 },
                ..Default::default()
            }),
            meter: Some(MeterDsr {
                src: DirCounters {
                    pkts: 2,
                    bytes: 200,
                    appbytes: 0,
                },
                ..Default::default()
            }),
            net: Some(NetworkDsr::Empty),
            encaps: Some(EncapsDsr {
                src: 2,
                dst: 0,
                qual: 0,
            }),
            ..Default::default()
        };
        encode_flow(&f, &mut out);
    }
    out
}

fn seqs(data: &[u8]) -> (Vec<u32>, usize, u64) {
    let mut rd = RecordReader::new(data);
    let mut v = Vec::new();
    let mut errs = 0;
    while let Some(r) = rd.next_record() {
        match r {
            Ok(Record::Flow(f)) => v.push(f.seq),
            Ok(_) => {}
            Err(_) => errs += 1,
        }
    }
    (v, errs, rd.stats.skipped_bytes)
}

#[test]
fn resync_after_zero_length() {
    let mut d = sample_stream();
    let second = 128 + decode_len(&d[128..]);
    // Zero the length of flow record 2.
    d[second + 2] = 0;
    d[second + 3] = 0;
    let (v, errs, skipped) = seqs(&d);
    assert_eq!(v, vec![1, 3, 4, 5]);
    assert_eq!(errs, 1);
    assert!(skipped > 0);
    let mut rd = RecordReader::new(&d[..]);
    let msg = rd.find_map(|r| r.err()).unwrap().to_string();
    assert_eq!(
        msg,
        format!("malformed argus record len 0 at offset {second}")
    );
}

fn decode_len(b: &[u8]) -> usize {
    u16::from_be_bytes([b[2], b[3]]) as usize * 4
}

#[test]
fn resync_after_garbage_and_truncation() {
    let d = sample_stream();
    let mut g = d[..200].to_vec();
    g.extend_from_slice(&[0xAB; 36]);
    g.extend_from_slice(&d[128..]);
    g.truncate(g.len() - 10);
    let (v, errs, _) = seqs(&g);
    assert!(v.contains(&3) && v.contains(&4));
    assert!(errs >= 1);
}

#[test]
fn appended_streams() {
    let mut d = sample_stream();
    d.extend(sample_stream());
    let (v, errs, _) = seqs(&d);
    assert_eq!(v, vec![1, 2, 3, 4, 5, 1, 2, 3, 4, 5]);
    assert_eq!(errs, 0);
}

/// Deterministic xorshift "fuzz": truncated/garbled streams must never panic.
#[test]
fn no_panic_on_garbage() {
    let mut inputs = vec![sample_stream()];
    for dir in ["/tmp/ra-dev/x", "/tmp/ra-dev/n"] {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten().take(8) {
                if let Ok(b) = std::fs::read(e.path()) {
                    inputs.push(b);
                }
            }
        }
    }
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for base in &inputs {
        for _ in 0..200 {
            let mut b = base.clone();
            let n = (rnd() % 16) as usize;
            for _ in 0..n {
                if b.is_empty() {
                    break;
                }
                let i = (rnd() as usize) % b.len();
                b[i] = rnd() as u8;
            }
            let cut = (rnd() as usize) % (b.len() + 1);
            b.truncate(cut);
            let _ = decode(&b);
            let mut rd = RecordReader::new(&b[..]);
            let mut guard = 0;
            while let Some(r) = rd.next_record() {
                if let Ok(rec) = r {
                    let _ = argus::print::format_record(&rec, &argus::print::PrintOpts::default());
                }
                guard += 1;
                assert!(guard < 1_000_000);
            }
        }
    }
}

/// Everything a reader gives for `data`: each record or error message, then its statistics.
fn read_all<R: std::io::Read>(mut rd: RecordReader<R>) -> (Vec<String>, String) {
    let mut out = Vec::new();
    while let Some(r) = rd.next_record() {
        out.push(match r {
            Ok(rec) => format!("{rec:?}"),
            Err(e) => format!("error: {e}"),
        });
    }
    (out, format!("{:?}", rd.stats))
}

/// A mapped file (how `-r FILE` reads a plain file) is read exactly as the same bytes
/// streamed: the same records, the same errors at the same offsets, the same statistics.
#[test]
fn mapped_files_read_as_streams() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut base = sample_stream();
    base.extend(sample_stream());
    let mut damaged = 0;
    for i in 0..60 {
        let mut b = base.clone();
        if i > 0 {
            for _ in 0..(rnd() % 8) {
                let k = (rnd() as usize) % b.len();
                b[k] = rnd() as u8;
            }
            b.truncate(b.len() - (rnd() as usize) % 64);
        }
        let path = dir.path().join(format!("{i}.argus"));
        std::fs::write(&path, &b).expect("write");
        let f = std::fs::File::open(&path).expect("open");
        let map = argus::capture::map_file(&f).expect("a regular file maps");
        let streamed = read_all(RecordReader::new(&b[..]));
        let mapped = read_all(RecordReader::mapped(std::io::empty(), map));
        assert_eq!(mapped, streamed, "input {i}");
        damaged += streamed.0.iter().any(|l| l.starts_with("error")) as usize;
    }
    assert!(damaged > 10, "only {damaged} inputs had damage to report");
}
