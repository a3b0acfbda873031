//! Capture files generated in code: every format variant the reader supports and every kind of
//! damage it must report (kind and byte offset), plus a truncation/bit-flip sweep that must never
//! panic.

use std::io::{Cursor, Write};

use argus::capture::{self, CaptureError, CaptureErrorKind, FrameMeta, FrameSource, Warning};

// ---------- builders ----------

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Micro,
    Nano,
    Modified,
}

struct Rec {
    sec: u32,
    frac: u32,
    caplen: u32,
    len: u32,
    data: Vec<u8>,
}

fn rec(sec: u32, frac: u32, data: &[u8], len: u32) -> Rec {
    Rec {
        sec,
        frac,
        caplen: data.len() as u32,
        len,
        data: data.to_vec(),
    }
}

fn put32(v: &mut Vec<u8>, x: u32, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

fn put16(v: &mut Vec<u8>, x: u16, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

fn pcap(variant: Variant, be: bool, snaplen: u32, linktype: u32, recs: &[Rec]) -> Vec<u8> {
    let magic = match variant {
        Variant::Micro => 0xa1b2_c3d4,
        Variant::Nano => 0xa1b2_3c4d,
        Variant::Modified => 0xa1b2_cd34,
    };
    let mut v = Vec::new();
    put32(&mut v, magic, be);
    put16(&mut v, 2, be);
    put16(&mut v, 4, be);
    put32(&mut v, 0, be);
    put32(&mut v, 0, be);
    put32(&mut v, snaplen, be);
    put32(&mut v, linktype, be);
    for r in recs {
        put32(&mut v, r.sec, be);
        put32(&mut v, r.frac, be);
        put32(&mut v, r.caplen, be);
        put32(&mut v, r.len, be);
        if variant == Variant::Modified {
            put32(&mut v, 7, be); // ifindex
            put16(&mut v, 0x0800, be); // protocol
            v.push(0); // pkt_type
            v.push(0); // pad
        }
        v.extend_from_slice(&r.data);
    }
    v
}

/// A pcapng block: type, length, body padded to 4, trailing length.
fn block(be: bool, btype: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    let padded = (body.len() + 3) & !3;
    let len = (12 + padded) as u32;
    put32(&mut v, btype, be);
    put32(&mut v, len, be);
    v.extend_from_slice(body);
    v.resize(8 + padded, 0);
    put32(&mut v, len, be);
    v
}

fn shb(be: bool) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, 0x1a2b_3c4d, be);
    put16(&mut b, 1, be);
    put16(&mut b, 0, be);
    b.extend_from_slice(&(-1i64).to_le_bytes());
    // an shb_userappl option, then end of options
    put16(&mut b, 4, be);
    put16(&mut b, 5, be);
    b.extend_from_slice(b"test\0\0\0\0");
    put32(&mut b, 0, be);
    block(be, 0x0a0d_0d0a, &b)
}

fn opt(be: bool, code: u16, val: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    put16(&mut v, code, be);
    put16(&mut v, val.len() as u16, be);
    v.extend_from_slice(val);
    v.resize((v.len() + 3) & !3, 0);
    v
}

fn idb(be: bool, linktype: u16, snaplen: u32, opts: &[Vec<u8>]) -> Vec<u8> {
    let mut b = Vec::new();
    put16(&mut b, linktype, be);
    put16(&mut b, 0, be);
    put32(&mut b, snaplen, be);
    for o in opts {
        b.extend_from_slice(o);
    }
    if !opts.is_empty() {
        put32(&mut b, 0, be);
    }
    block(be, 1, &b)
}

fn epb(be: bool, iface: u32, ts: u64, data: &[u8], len: u32) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, iface, be);
    put32(&mut b, (ts >> 32) as u32, be);
    put32(&mut b, ts as u32, be);
    put32(&mut b, data.len() as u32, be);
    put32(&mut b, len, be);
    b.extend_from_slice(data);
    b.resize((b.len() + 3) & !3, 0);
    b.extend_from_slice(&opt(be, 1, b"comment"));
    put32(&mut b, 0, be);
    block(be, 6, &b)
}

fn pb(be: bool, iface: u16, ts: u64, data: &[u8], len: u32) -> Vec<u8> {
    let mut b = Vec::new();
    put16(&mut b, iface, be);
    put16(&mut b, 0, be);
    put32(&mut b, (ts >> 32) as u32, be);
    put32(&mut b, ts as u32, be);
    put32(&mut b, data.len() as u32, be);
    put32(&mut b, len, be);
    b.extend_from_slice(data);
    block(be, 2, &b)
}

fn spb(be: bool, data: &[u8], len: u32) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, len, be);
    b.extend_from_slice(data);
    block(be, 3, &b)
}

// ---------- reading helpers ----------

fn src(bytes: Vec<u8>) -> Box<dyn FrameSource> {
    capture::from_reader("mem", Box::new(Cursor::new(bytes))).expect("open")
}

fn open_err(bytes: Vec<u8>) -> CaptureError {
    match capture::from_reader("mem", Box::new(Cursor::new(bytes))) {
        Ok(_) => panic!("expected an error at open"),
        Err(e) => e,
    }
}

type Frames = Vec<(FrameMeta, Vec<u8>)>;

/// All frames, then the error that ended reading (if any), then the warnings.
fn read_all(mut s: Box<dyn FrameSource>) -> (Frames, Option<CaptureError>, Vec<Warning>) {
    let mut frames = Vec::new();
    let mut err = None;
    loop {
        match s.next_frame() {
            Ok(Some((m, d))) => {
                assert_eq!(d.len(), m.caplen as usize);
                frames.push((m, d.to_vec()));
            }
            Ok(None) => break,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    if err.is_some() {
        // a failed source is finished
        assert!(matches!(s.next_frame(), Ok(None)));
    }
    let w = s.take_warnings();
    (frames, err, w)
}

fn meta(ts_sec: i64, ts_nsec: u32, caplen: u32, len: u32, linktype: u32, iface: u32) -> FrameMeta {
    FrameMeta {
        ts_sec,
        ts_nsec,
        caplen,
        len,
        linktype,
        iface,
    }
}

fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

// ---------- format variants ----------

#[test]
fn classic_pcap_all_variants() {
    for variant in [Variant::Micro, Variant::Nano, Variant::Modified] {
        for be in [false, true] {
            let a = payload(60, 1);
            let b = payload(1514, 2);
            let c = payload(40, 3);
            let frac = |us: u32| {
                if variant == Variant::Nano {
                    us * 1000 + 7
                } else {
                    us
                }
            };
            let f = pcap(
                variant,
                be,
                65535,
                113,
                &[
                    rec(1_700_000_000, frac(1), &a, 60),
                    rec(1_700_000_001, frac(999_999), &b, 1514),
                    rec(4_000_000_000, frac(0), &c, 1500),
                ],
            );
            let (frames, err, warns) = read_all(src(f));
            assert!(err.is_none(), "{err:?}");
            assert!(warns.is_empty(), "{warns:?}");
            let ns = |us: u32| {
                if variant == Variant::Nano {
                    us * 1000 + 7
                } else {
                    us * 1000
                }
            };
            assert_eq!(frames.len(), 3);
            assert_eq!(frames[0].0, meta(1_700_000_000, ns(1), 60, 60, 113, 0));
            assert_eq!(
                frames[1].0,
                meta(1_700_000_001, ns(999_999), 1514, 1514, 113, 0)
            );
            // ts_sec is unsigned in the file: past 2038 stays positive
            assert_eq!(frames[2].0, meta(4_000_000_000, ns(0), 40, 1500, 113, 0));
            assert_eq!(frames[0].1, a);
            assert_eq!(frames[1].1, b);
            assert_eq!(frames[2].1, c);
        }
    }
}

#[test]
fn linktype_fcs_bits_are_masked() {
    let f = pcap(
        Variant::Micro,
        false,
        65535,
        0x1000_0001,
        &[rec(1, 2, &[1; 20], 20)],
    );
    let (frames, _, _) = read_all(src(f));
    assert_eq!(frames[0].0.linktype, 1);
}

fn two_section_pcapng(first_be: bool) -> Vec<u8> {
    let be = first_be;
    let mut f = shb(be);
    // iface 0: Ethernet, snaplen 96, default microseconds
    f.extend(idb(be, 1, 96, &[opt(be, 2, b"eth0")]));
    // iface 1: NULL, snaplen 128, nanoseconds (if_tsresol 9) and if_tsoffset 100 s
    let mut tsoff = Vec::new();
    tsoff.extend_from_slice(&if be {
        100i64.to_be_bytes()
    } else {
        100i64.to_le_bytes()
    });
    f.extend(idb(be, 0, 128, &[opt(be, 9, &[9]), opt(be, 14, &tsoff)]));
    // iface 2: raw IP, no snaplen, 2^-10 s units
    f.extend(idb(be, 101, 0, &[opt(be, 9, &[0x80 | 10])]));
    // blocks to be skipped: NRB, ISB, DSB, custom, unknown
    f.extend(block(be, 4, &[0; 8]));
    f.extend(block(be, 5, &[0; 12]));
    f.extend(block(be, 10, &[0; 12]));
    f.extend(block(be, 0x0000_0bad, &[1, 2, 3, 4, 5]));
    f.extend(block(be, 0x1234_5678, &[]));
    f.extend(epb(be, 0, 1_700_000_000_123_456, &payload(60, 1), 60));
    f.extend(epb(be, 1, 1_700_000_000_123_456_789, &payload(61, 2), 70));
    f.extend(epb(be, 2, (5u64 << 10) | 512, &payload(62, 3), 62));
    f.extend(spb(be, &payload(100, 4), 100)); // cut to snaplen 96 of iface 0
    f.extend(pb(be, 1, 2_000_000_000_000_000_001, &payload(63, 5), 63));
    // second section, other byte order: its own interface table
    let be = !first_be;
    f.extend(shb(be));
    f.extend(idb(be, 113, 65535, &[]));
    f.extend(epb(be, 0, 42_000_001, &payload(64, 6), 64));
    f
}

#[test]
fn pcapng_sections_interfaces_resolutions() {
    for first_be in [false, true] {
        let (frames, err, warns) = read_all(src(two_section_pcapng(first_be)));
        assert!(err.is_none(), "{err:?}");
        assert!(warns.is_empty(), "{warns:?}");
        let m: Vec<FrameMeta> = frames.iter().map(|f| f.0).collect();
        assert_eq!(
            m,
            vec![
                meta(1_700_000_000, 123_456_000, 60, 60, 1, 0),
                meta(1_700_000_100, 123_456_789, 61, 70, 0, 1),
                meta(5, 500_000_000, 62, 62, 101, 2),
                // SPB: no timestamp (the previous one is kept), iface 0, caplen = snaplen
                meta(5, 500_000_000, 96, 100, 1, 0),
                meta(2_000_000_100, 1, 63, 63, 0, 1),
                meta(42, 1000, 64, 64, 113, 0),
            ]
        );
        assert_eq!(frames[0].1, payload(60, 1));
        assert_eq!(frames[3].1, payload(100, 4)[..96].to_vec());
        assert_eq!(frames[5].1, payload(64, 6));
    }
}

#[test]
fn small_buffer_refills_give_the_same_frames() {
    let recs: Vec<Rec> = (0..200u32)
        .map(|i| rec(i, i, &payload((i as usize * 37) % 1600, i as u8), 1600))
        .collect();
    for bytes in [
        pcap(Variant::Micro, true, 65535, 1, &recs),
        two_section_pcapng(false),
    ] {
        let (a, ea, _) = read_all(src(bytes.clone()));
        let small = capture::from_reader_with_capacity("mem", Box::new(Cursor::new(bytes)), 64)
            .expect("open");
        let (b, eb, _) = read_all(small);
        assert!(ea.is_none() && eb.is_none());
        assert_eq!(a, b);
    }
}

/// Regular files are read in place (memory-mapped); the frames, warnings and errors must be
/// exactly those of the same bytes read as a stream, damaged files included.
#[test]
fn mapped_files_read_like_streams() {
    let recs: Vec<Rec> = (0..50u32)
        .map(|i| rec(i, i * 7, &payload((i as usize * 53) % 1600, i as u8), 1600))
        .collect();
    let good = pcap(Variant::Nano, false, 65535, 1, &recs);
    let mut cut = good.clone();
    cut.truncate(good.len() - 100);
    let mut absurd = good.clone();
    absurd.extend_from_slice(&pcap(Variant::Micro, false, 65535, 1, &recs)[24..40]);
    let dir = tempfile::tempdir().expect("tempdir");
    for (k, bytes) in [good, cut, absurd, two_section_pcapng(true)]
        .into_iter()
        .enumerate()
    {
        let p = dir.path().join(format!("m{k}.pcap"));
        std::fs::write(&p, &bytes).expect("write");
        let path = p.to_str().expect("utf-8");
        let mapped = capture::open(path).expect("open");
        assert!(mapped.mapping().is_some(), "regular file {k} is mapped");
        let (a, ea, wa) = read_all(mapped);
        let stream = capture::from_reader(path, Box::new(Cursor::new(bytes))).expect("open");
        assert!(stream.mapping().is_none());
        let (b, eb, wb) = read_all(stream);
        assert_eq!(a, b, "file {k}");
        assert_eq!(ea.map(|e| e.to_string()), eb.map(|e| e.to_string()));
        let show = |w: Vec<Warning>| w.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(show(wa), show(wb));
    }
}

/// A reader that hands out at most 3 bytes per call.
struct Trickle(Cursor<Vec<u8>>);
impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(3);
        self.0.read(&mut buf[..n])
    }
}

#[test]
fn gzip_input_and_short_reads() {
    let recs = [
        rec(1, 2, &payload(100, 9), 100),
        rec(3, 4, &payload(10, 8), 10),
    ];
    let plain = pcap(Variant::Nano, false, 65535, 1, &recs);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let (a, ea, _) = read_all(src(plain.clone()));
    let (b, eb, _) = read_all(src(gz.clone()));
    let t = capture::from_reader("mem", Box::new(Trickle(Cursor::new(gz)))).expect("open");
    let (c, ec, _) = read_all(t);
    assert!(ea.is_none() && eb.is_none() && ec.is_none());
    assert_eq!(a.len(), 2);
    assert_eq!(a, b);
    assert_eq!(a, c);
}

#[test]
fn open_file_and_errors_name_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("x.pcap");
    let mut bytes = pcap(Variant::Micro, false, 65535, 1, &[rec(1, 2, &[0; 14], 14)]);
    bytes.extend_from_slice(&[1, 2, 3]);
    std::fs::write(&p, bytes).expect("write");
    let path = p.to_str().expect("utf-8");
    let s = capture::open(path).expect("open");
    assert_eq!(s.name(), path);
    let (frames, err, _) = read_all(s);
    assert_eq!(frames.len(), 1);
    let err = err.expect("truncated header");
    assert_eq!(
        err.to_string(),
        format!("{path}: offset 54: record header truncated at end of file (3 of 16 bytes)")
    );
    let e = match capture::open("/nonexistent/file.pcap") {
        Err(e) => e,
        Ok(_) => panic!("opened a missing file"),
    };
    assert!(matches!(
        e.kind,
        CaptureErrorKind::Io {
            kind: std::io::ErrorKind::NotFound,
            ..
        }
    ));
    assert!(e
        .to_string()
        .starts_with("/nonexistent/file.pcap: offset 0: I/O error"));
}

// ---------- bad input: classic pcap ----------

#[test]
fn file_shorter_than_global_header() {
    let full = pcap(Variant::Micro, false, 65535, 1, &[]);
    for n in [0usize, 2, 3, 4, 10, 23] {
        let e = open_err(full[..n].to_vec());
        assert_eq!(e.offset, 0);
        assert_eq!(
            e.kind,
            CaptureErrorKind::TruncatedFileHeader {
                want: 24,
                have: n as u32
            },
            "length {n}"
        );
    }
    // exactly a header and nothing else: an empty capture
    let (frames, err, _) = read_all(src(full));
    assert!(frames.is_empty() && err.is_none());
}

#[test]
fn unknown_magic() {
    let e = open_err(vec![0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0]);
    assert_eq!(
        (e.offset, e.kind),
        (0, CaptureErrorKind::BadMagic(0xdeadbeef))
    );
}

#[test]
fn record_header_truncated_at_eof() {
    for variant in [Variant::Micro, Variant::Modified] {
        let hl = if variant == Variant::Modified { 24 } else { 16 };
        let mut f = pcap(variant, false, 65535, 1, &[rec(1, 2, &[0; 14], 14)]);
        f.extend_from_slice(&[0; 7]);
        let (frames, err, _) = read_all(src(f));
        assert_eq!(frames.len(), 1);
        let e = err.expect("error");
        assert_eq!(e.offset, 24 + hl + 14);
        assert_eq!(
            e.kind,
            CaptureErrorKind::TruncatedHeader {
                want: hl as u32,
                have: 7
            }
        );
    }
}

#[test]
fn caplen_beyond_end_of_file() {
    let mut f = pcap(
        Variant::Micro,
        true,
        65535,
        1,
        &[rec(1, 2, &[0; 14], 14), rec(3, 4, &[0; 100], 100)],
    );
    f.truncate(f.len() - 30);
    let (frames, err, _) = read_all(src(f));
    assert_eq!(frames.len(), 1);
    let e = err.expect("error");
    assert_eq!(e.offset, 24 + 16 + 14);
    assert_eq!(
        e.kind,
        CaptureErrorKind::TruncatedRecord {
            want: 100,
            have: 70
        }
    );
}

#[test]
fn caplen_absurd_is_fatal() {
    let mut r = rec(1, 2, &[0; 4], 300_000);
    r.caplen = 262_145;
    let f = pcap(
        Variant::Micro,
        false,
        65535,
        1,
        &[rec(0, 0, &[9; 20], 20), r],
    );
    let (frames, err, _) = read_all(src(f));
    assert_eq!(frames.len(), 1);
    let e = err.expect("error");
    assert_eq!(e.offset, 24 + 16 + 20);
    assert_eq!(
        e.kind,
        CaptureErrorKind::CaplenTooLarge {
            caplen: 262_145,
            snaplen: 65535
        }
    );
}

#[test]
fn caplen_above_snaplen_is_accepted_with_warning() {
    // like trunc-hdr.pcap: snaplen 1, caplen 8 of a 78-byte frame
    let f = pcap(Variant::Micro, false, 1, 1, &[rec(5, 6, &[7; 8], 78)]);
    let (frames, err, warns) = read_all(src(f));
    assert!(err.is_none());
    assert_eq!(frames[0].0, meta(5, 6000, 8, 78, 1, 0));
    assert_eq!(frames[0].1, vec![7; 8]);
    assert_eq!(warns.len(), 1);
    assert_eq!(warns[0].offset, 24);
    assert!(warns[0].what.contains("snap length"), "{}", warns[0]);
    // up to 256 KiB is fine whatever the snaplen says
    let big = payload(262_144, 1);
    let f = pcap(Variant::Micro, false, 65535, 1, &[rec(5, 6, &big, 262_144)]);
    let (frames, err, warns) = read_all(src(f));
    assert!(err.is_none());
    assert_eq!(frames[0].1, big);
    assert_eq!(warns.len(), 1);
}

#[test]
fn fraction_overflow_is_carried() {
    let f = pcap(
        Variant::Micro,
        false,
        65535,
        1,
        &[rec(1, 2, &[0; 14], 14), rec(10, 2_500_000, &[0; 14], 14)],
    );
    let (frames, err, warns) = read_all(src(f));
    assert!(err.is_none());
    assert_eq!(frames[1].0, meta(12, 500_000_000, 14, 14, 1, 0));
    assert_eq!(warns.len(), 1);
    assert_eq!(warns[0].offset, 24 + 30);
    assert!(
        warns[0].what.contains("microseconds 2500000"),
        "{}",
        warns[0]
    );
    let f = pcap(
        Variant::Nano,
        true,
        65535,
        1,
        &[rec(10, 1_000_000_001, &[0; 14], 14)],
    );
    let (frames, _, warns) = read_all(src(f));
    assert_eq!(frames[0].0, meta(11, 1, 14, 14, 1, 0));
    assert!(warns[0].what.contains("nanoseconds"));
}

#[test]
fn zero_length_and_caplen_above_len() {
    let f = pcap(
        Variant::Micro,
        false,
        65535,
        1,
        &[
            rec(1, 0, &[], 0),
            rec(2, 0, &[], 60),
            rec(3, 0, &[1; 20], 10),
        ],
    );
    let (frames, err, warns) = read_all(src(f));
    assert!(err.is_none());
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].0, meta(1, 0, 0, 0, 1, 0));
    assert!(frames[0].1.is_empty());
    assert_eq!(frames[1].0, meta(2, 0, 0, 60, 1, 0));
    assert_eq!(frames[2].0, meta(3, 0, 20, 10, 1, 0));
    let offs: Vec<u64> = warns.iter().map(|w| w.offset).collect();
    assert_eq!(offs, vec![24, 40, 56]);
    assert!(warns[0].what.contains("zero-length"));
    assert!(warns[2].what.contains("original length"));
}

#[test]
fn warnings_are_bounded() {
    let recs: Vec<Rec> = (0..capture::MAX_WARNINGS as u32 + 5)
        .map(|i| rec(i, 0, &[], 0))
        .collect();
    let (frames, err, warns) = read_all(src(pcap(Variant::Micro, false, 65535, 1, &recs)));
    assert!(err.is_none());
    assert_eq!(frames.len(), recs.len());
    assert_eq!(warns.len(), capture::MAX_WARNINGS + 1);
    assert!(warns[capture::MAX_WARNINGS]
        .what
        .contains("5 more warnings suppressed"));
}

// ---------- bad input: pcapng ----------

/// SHB + one Ethernet IDB (snaplen 65535) in the given byte order; returns bytes and its length.
fn ng_head(be: bool) -> Vec<u8> {
    let mut f = shb(be);
    f.extend(idb(be, 1, 65535, &[]));
    f
}

fn ng_err(f: Vec<u8>) -> (usize, CaptureError) {
    let (frames, err, _) = read_all(src(f));
    (frames.len(), err.expect("an error"))
}

#[test]
fn pcapng_block_length_not_multiple_of_4_or_too_small() {
    for be in [false, true] {
        for bad in [13u32, 30, 8, 0] {
            let mut f = ng_head(be);
            let off = f.len();
            f.extend(epb(be, 0, 1, &[0; 14], 14));
            let mut b = Vec::new();
            put32(&mut b, 6, be);
            put32(&mut b, bad, be);
            b.extend_from_slice(&[0; 40]);
            let at = f.len();
            f.extend(b);
            let (n, e) = ng_err(f);
            assert_eq!(n, 1);
            assert!(at > off);
            assert_eq!(e.offset, at as u64);
            assert_eq!(e.kind, CaptureErrorKind::BadBlockLength { len: bad });
        }
    }
}

#[test]
fn pcapng_trailing_length_mismatch() {
    let mut f = ng_head(false);
    let at = f.len();
    let mut b = epb(false, 0, 1, &[0; 14], 14);
    let n = b.len();
    b[n - 4..].copy_from_slice(&999u32.to_le_bytes());
    f.extend(b);
    let (frames, e) = ng_err(f);
    assert_eq!(frames, 0);
    assert_eq!(e.offset, at as u64);
    assert_eq!(
        e.kind,
        CaptureErrorKind::BlockLengthMismatch {
            head: n as u32,
            tail: 999
        }
    );
}

#[test]
fn pcapng_truncated_block_and_block_header() {
    let mut f = ng_head(true);
    f.extend(epb(true, 0, 1, &[0; 14], 14));
    let at = f.len();
    let b = epb(true, 0, 2, &[0; 100], 100);
    let full = b.len();
    f.extend_from_slice(&b[..50]);
    let (n, e) = ng_err(f.clone());
    assert_eq!(n, 1);
    assert_eq!(e.offset, at as u64);
    assert_eq!(
        e.kind,
        CaptureErrorKind::TruncatedRecord {
            want: full as u64,
            have: 50
        }
    );
    f.truncate(at + 5);
    let (n, e) = ng_err(f);
    assert_eq!(n, 1);
    assert_eq!(e.offset, at as u64);
    assert_eq!(
        e.kind,
        CaptureErrorKind::TruncatedHeader { want: 8, have: 5 }
    );
}

#[test]
fn pcapng_packet_structure_errors() {
    // undefined interface
    let mut f = ng_head(false);
    let at = f.len() as u64;
    f.extend(epb(false, 3, 1, &[0; 14], 14));
    let (_, e) = ng_err(f);
    assert_eq!(
        (e.offset, e.kind),
        (
            at,
            CaptureErrorKind::UnknownInterface { iface: 3, count: 1 }
        )
    );
    // caplen beyond the block
    let mut f = ng_head(false);
    let mut b = epb(false, 0, 1, &[0; 16], 16);
    b[20..24].copy_from_slice(&500u32.to_le_bytes());
    f.extend(b);
    let (_, e) = ng_err(f);
    assert!(
        matches!(
            e.kind,
            CaptureErrorKind::CaplenBeyondBlock { caplen: 500, .. }
        ),
        "{e}"
    );
    // absurd caplen
    let mut f = ng_head(false);
    let mut b = epb(false, 0, 1, &[0; 16], 16);
    b[20..24].copy_from_slice(&300_000u32.to_le_bytes());
    f.extend(b);
    let (_, e) = ng_err(f);
    assert_eq!(
        e.kind,
        CaptureErrorKind::CaplenTooLarge {
            caplen: 300_000,
            snaplen: 65535
        }
    );
    // EPB too short for its fixed fields
    let mut f = ng_head(false);
    f.extend(block(false, 6, &[0; 8]));
    let (_, e) = ng_err(f);
    assert_eq!(
        e.kind,
        CaptureErrorKind::BlockTooShort {
            block_type: 6,
            len: 20
        }
    );
    // bad byte-order magic in a later section header
    let mut f = ng_head(false);
    let at = f.len() as u64;
    let mut s = shb(false);
    s[8..12].copy_from_slice(&[1, 2, 3, 4]);
    f.extend(s);
    let (_, e) = ng_err(f);
    assert_eq!(e.offset, at);
    assert!(matches!(e.kind, CaptureErrorKind::BadBlock(_)));
    // pcapng warnings: zero-length frame and caplen > snaplen
    let mut f = shb(false);
    f.extend(idb(false, 1, 64, &[]));
    let at = f.len() as u64;
    f.extend(epb(false, 0, 1, &[], 0));
    f.extend(epb(false, 0, 1, &[0; 80], 80));
    let (frames, err, warns) = read_all(src(f));
    assert!(err.is_none());
    assert_eq!(frames.len(), 2);
    assert_eq!(warns.len(), 2);
    assert_eq!(warns[0].offset, at);
    assert!(warns[0].what.contains("zero-length"));
    assert!(warns[1].what.contains("snap length 64"));
}

// ---------- robustness ----------

#[test]
fn truncations_and_bit_flips_never_panic() {
    let recs: Vec<Rec> = (0..6u32)
        .map(|i| rec(i, i * 7, &payload(20 + i as usize * 9, 1), 90))
        .collect();
    let inputs = [
        pcap(Variant::Micro, false, 65535, 1, &recs),
        pcap(Variant::Modified, true, 65535, 1, &recs),
        two_section_pcapng(false),
        two_section_pcapng(true),
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for base in &inputs {
        for cut in 0..base.len() {
            let _ = capture::from_reader("t", Box::new(Cursor::new(base[..cut].to_vec())))
                .map(read_all);
        }
        for _ in 0..400 {
            let mut m = base.clone();
            for _ in 0..1 + rnd() % 4 {
                let i = (rnd() % m.len() as u64) as usize;
                m[i] ^= 1 << (rnd() % 8);
            }
            if let Ok(s) = capture::from_reader("t", Box::new(Cursor::new(m))) {
                let (frames, _, _) = read_all(s);
                assert!(frames.len() < 100);
            }
        }
    }
}
