//! `rasplit`: split a record stream into files by count, size, time or flow event, the files
//! named from the records themselves (docs/clients.md, "rasplit").
//!
//! * **time** mode puts each record in the bin of **its own time** (a flow's start, an event's
//!   start, a MAR's report time), bins aligned on the period from the epoch (UTC; months and
//!   years on the calendar), and names the file by `strftime` of the bin's start. A record can
//!   never land in a file named for another bin, whatever the wall clock or the order of the
//!   input (a bin's file is reopened for appending when an earlier bin's record comes late).
//!   Records are not cut at bin boundaries: a status record is at most one status interval
//!   long (5 s by default), and cutting would invent per-part counts.
//! * **count** and **size** modes start a new file every N records / before the file would
//!   exceed N bytes, suffixes `aa`, `ab`, ... (`-a` letters; more letters when needed), so
//!   that the files in name order concatenate to the input.
//! * **flow** mode starts a new file at every record matching a filter.
//! * `$field` in the name is replaced by the record's value of any `ra` field (`$srcid`,
//!   `$saddr`, ...), so one stream splits per sensor, per host...
//! * A name ending in `.gz` is written gzip-compressed (a file reopened for appending gets a
//!   new gzip member; every client reads multi-member files).
//! * Every file starts with an init MAR; MARs and event records go with the flows (by their
//!   time in time mode), so each file is a complete Argus 3 stream.

use crate::filter::CompiledFilter;
use crate::print::{format_record, parse_field, PrintOpts};
use crate::record::{encode, Record, SrcId, Ts, MAR_COOKIE};
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// A split period: a fixed number of seconds, or calendar months.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Secs(i64),
    Months(u32),
}

impl Period {
    /// `N` followed by `s`, `m`, `h`, `d`, `w`, `M` (months) or `y` (years); a bare number is
    /// seconds.
    pub fn parse(v: &str) -> Result<Period, String> {
        let v = v.trim();
        let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
        let (num, unit) = v.split_at(split);
        let n: i64 = num
            .parse()
            .map_err(|_| format!("'{v}' is not a period (N followed by s, m, h, d, w, M or y)"))?;
        if n <= 0 {
            return Err(format!("'{v}': the period must be positive"));
        }
        Ok(match unit {
            "" | "s" => Period::Secs(n),
            "m" => Period::Secs(n * 60),
            "h" => Period::Secs(n * 3600),
            "d" => Period::Secs(n * 86_400),
            "w" => Period::Secs(n * 604_800),
            "M" => Period::Months(n as u32),
            "y" => Period::Months(n as u32 * 12),
            u => return Err(format!("'{v}': unknown unit '{u}' (s, m, h, d, w, M or y)")),
        })
    }

    /// Start (Unix seconds) of the bin holding `sec`.
    pub fn bin_start(self, sec: i64) -> i64 {
        match self {
            Period::Secs(p) => sec.div_euclid(p) * p,
            Period::Months(n) => {
                use chrono::{Datelike, TimeZone, Utc};
                let Some(t) = Utc.timestamp_opt(sec, 0).single() else {
                    return sec;
                };
                let months = t.year() as i64 * 12 + t.month0() as i64;
                let b = months.div_euclid(n as i64) * n as i64;
                Utc.with_ymd_and_hms(
                    b.div_euclid(12) as i32,
                    b.rem_euclid(12) as u32 + 1,
                    1,
                    0,
                    0,
                    0,
                )
                .single()
                .map_or(sec, |d| d.timestamp())
            }
        }
    }
}

/// How to split.
#[derive(Debug)]
pub enum Mode {
    Count(u64),
    Size(u64),
    Time(Period),
    Flow(Box<CompiledFilter>),
}

impl Mode {
    /// `-M MODE VALUE`.
    pub fn parse(mode: &str, value: &str) -> Result<Mode, String> {
        match mode {
            "count" => match value.trim().parse::<u64>() {
                Ok(n) if n > 0 => Ok(Mode::Count(n)),
                _ => Err(format!("-M count {value}: not a positive number")),
            },
            "size" => parse_size(value).map(Mode::Size),
            "time" => Period::parse(value)
                .map(Mode::Time)
                .map_err(|e| format!("-M time {e}")),
            "flow" => CompiledFilter::compile(value, crate::filter::Target::Records)
                .map(|f| Mode::Flow(Box::new(f)))
                .map_err(|e| format!("-M flow \"{value}\": {e}")),
            m => Err(format!(
                "-M {m}: not a split mode (count, size, time or flow)"
            )),
        }
    }
}

/// `N[b|k|m|g]` bytes (k = 1024).
fn parse_size(v: &str) -> Result<u64, String> {
    let v = v.trim();
    let (num, mul) = match v.chars().last() {
        Some('b' | 'B') => (&v[..v.len() - 1], 1),
        Some('k' | 'K') => (&v[..v.len() - 1], 1 << 10),
        Some('m' | 'M') => (&v[..v.len() - 1], 1 << 20),
        Some('g' | 'G') => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    match num.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n * mul),
        _ => Err(format!(
            "-M size {v}: not a size (N followed by b, k, m or g)"
        )),
    }
}

/// The time a record is filed under (µs): a flow's or event's start, a MAR's report time.
pub fn record_time(rec: &Record) -> Option<Ts> {
    match rec {
        Record::Flow(f) => f.time.map(|t| t.start),
        Record::Event(e) => Some(e.start),
        Record::Mar(m) => Some(m.now),
    }
}

/// `strftime` of `pattern` at Unix second `sec` (UTC); an invalid pattern is an error.
pub fn strftime(pattern: &str, sec: i64) -> Result<String, String> {
    use chrono::{TimeZone, Utc};
    use std::fmt::Write as _;
    let t = Utc
        .timestamp_opt(sec, 0)
        .single()
        .ok_or_else(|| format!("time {sec} out of range"))?;
    let mut s = String::new();
    write!(s, "{}", t.format(pattern))
        .map_err(|_| format!("'{pattern}': not a valid strftime pattern"))?;
    Ok(s)
}

/// The `-w` name with every `$field` replaced by `rec`'s value of that `ra` field (a `/` in a
/// value becomes `_`; an unknown field name is an error).
pub fn expand_fields(name: &str, rec: &Record) -> Result<String, String> {
    if !name.contains('$') {
        return Ok(name.to_string());
    }
    let mut out = String::with_capacity(name.len() + 16);
    let mut rest = name;
    while let Some(k) = rest.find('$') {
        out.push_str(&rest[..k]);
        let after = &rest[k + 1..];
        let end = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        let field = &after[..end];
        let spec = parse_field(field).ok_or_else(|| format!("-w: ${field}: not a field"))?;
        let o = PrintOpts {
            fields: vec![spec],
            sep: Some("\u{1}".into()),
            header: false,
            print_man: true,
            numeric: 2,
            ..PrintOpts::default()
        };
        let v = format_record(rec, &o).unwrap_or_default();
        out.push_str(&v.trim().replace('/', "_"));
        rest = &after[end..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Suffix number `k`, as split(1) numbers its files so that name order is creation order:
/// with `len` 2, `aa` ... `yz` (650 files), then `zaaa` ... `zyzz`, then `zzaaaa` ...
pub fn suffix(mut k: u64, len: usize) -> String {
    let mut prefix = String::new();
    let mut width = len.max(1) as u32;
    loop {
        // Names of this width whose first letter is not `z`.
        let cap = 25u64.saturating_mul(26u64.saturating_pow(width - 1));
        if k < cap {
            let mut s = vec![b'a'; width as usize];
            for i in (0..width as usize).rev() {
                s[i] = b'a' + (k % 26) as u8;
                k /= 26;
            }
            prefix.push_str(&String::from_utf8_lossy(&s));
            return prefix;
        }
        k -= cap;
        prefix.push('z');
        width += 1;
    }
}

enum Sink {
    Plain(BufWriter<File>),
    Gz(flate2::write::GzEncoder<BufWriter<File>>),
}

impl Sink {
    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.write_all(b),
            Sink::Gz(w) => w.write_all(b),
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Sink::Plain(mut w) => w.flush(),
            Sink::Gz(w) => w.finish()?.flush(),
        }
    }
}

/// An open output file and what was written to it in this run.
struct OpenFile {
    sink: Sink,
    /// Bytes written this run (the init MAR included), and records.
    bytes: u64,
}

/// Files open at once at most; beyond, all are closed (and reopened for appending when
/// needed).
const MAX_OPEN: usize = 256;

/// Per name prefix (count, size, flow modes): the current file's suffix number, records and
/// bytes in it.
#[derive(Default)]
struct Seq {
    k: u64,
    records: u64,
    bytes: u64,
    started: bool,
}

/// Writes records into the files of a split.
pub struct Splitter {
    mode: Mode,
    /// `-w` as given (default prefix `x`).
    name: String,
    suffix_len: usize,
    open: HashMap<String, OpenFile>,
    /// Files created or appended to in this run (a reopened one gets no second init MAR).
    touched: HashSet<String>,
    seqs: HashMap<String, Seq>,
    buf: Vec<u8>,
    /// The file the last flow or event record went to (time mode: where MARs go), and MARs
    /// that came before any such record.
    current: Option<String>,
    held: Vec<(i64, Vec<u8>)>,
    /// Records written.
    pub records: u64,
}

impl Splitter {
    pub fn new(mode: Mode, name: Option<&str>, suffix_len: usize) -> Result<Splitter, String> {
        let name = name.unwrap_or("x").to_string();
        if name == "-" {
            return Err("-w -: rasplit writes files (give a name prefix)".into());
        }
        if let Mode::Time(_) = mode {
            // Validate the pattern once (with the default suffix when it has no `%`).
            strftime(&time_pattern(&name), 0)?;
        }
        Ok(Splitter {
            mode,
            name,
            suffix_len: suffix_len.max(1),
            open: HashMap::new(),
            touched: HashSet::new(),
            seqs: HashMap::new(),
            buf: Vec::with_capacity(4096),
            current: None,
            held: Vec::new(),
            records: 0,
        })
    }

    /// File one record. Errors name the file.
    ///
    /// An input's START MAR (the header of a stream) is not copied: every output file starts
    /// with its own. In time mode other MARs go to the file of the flows before them (a
    /// sensor reading files stamps its MARs with the wall clock of its run, not with packet
    /// time; a live sensor's status MARs fall in the same bin as their flows anyway).
    pub fn write(&mut self, rec: &Record) -> Result<(), String> {
        if let Record::Mar(m) = rec {
            if m.cause == crate::record::Cause::Start {
                return Ok(());
            }
        }
        self.buf.clear();
        encode::encode(rec, &mut self.buf);
        let len = self.buf.len() as u64;
        if let (Mode::Time(_), Record::Mar(_)) = (&self.mode, rec) {
            match self.current.clone() {
                Some(path) => {
                    let b = std::mem::take(&mut self.buf);
                    let r = self.put(&path, &b);
                    self.buf = b;
                    r?;
                    self.records += 1;
                }
                None => self.held.push((
                    record_time(rec).map_or(0, |t| t.sec as i64),
                    self.buf.clone(),
                )),
            }
            return Ok(());
        }
        let prefix = expand_fields(&self.name, rec)?;
        let path = match &self.mode {
            Mode::Time(p) => {
                let t = record_time(rec).map_or(0, |t| t.sec as i64);
                strftime(&time_pattern(&prefix), p.bin_start(t))?
            }
            Mode::Count(n) => {
                let n = *n;
                let s = self.seqs.entry(prefix.clone()).or_default();
                if s.started && s.records >= n {
                    (s.k, s.records, s.bytes) = (s.k + 1, 0, 0);
                }
                s.started = true;
                s.records += 1;
                format!("{prefix}{}", suffix(s.k, self.suffix_len))
            }
            Mode::Size(max) => {
                let max = *max;
                let s = self.seqs.entry(prefix.clone()).or_default();
                // The init MAR is 128 bytes; a record alone larger than the size gets a file
                // of its own.
                if s.started && s.bytes + len > max && s.records > 0 {
                    (s.k, s.records, s.bytes) = (s.k + 1, 0, 0);
                }
                if s.bytes == 0 {
                    s.bytes = 128;
                }
                s.started = true;
                s.records += 1;
                s.bytes += len;
                format!("{prefix}{}", suffix(s.k, self.suffix_len))
            }
            Mode::Flow(f) => {
                let hit = f.matches_record(rec);
                let s = self.seqs.entry(prefix.clone()).or_default();
                if hit && s.started && s.records > 0 {
                    (s.k, s.records, s.bytes) = (s.k + 1, 0, 0);
                }
                s.started = true;
                s.records += 1;
                format!("{prefix}{}", suffix(s.k, self.suffix_len))
            }
        };
        for (_, m) in std::mem::take(&mut self.held) {
            self.put(&path, &m)?;
            self.records += 1;
        }
        let rec_bytes = std::mem::take(&mut self.buf);
        let r = self.put(&path, &rec_bytes);
        self.buf = rec_bytes;
        r?;
        self.records += 1;
        self.current = Some(path);
        Ok(())
    }

    fn put(&mut self, path: &str, bytes: &[u8]) -> Result<(), String> {
        if !self.open.contains_key(path) {
            if self.open.len() >= MAX_OPEN {
                self.close_all()?;
            }
            let f = self.open_file(path)?;
            self.open.insert(path.to_string(), f);
        }
        let Some(f) = self.open.get_mut(path) else {
            return Err(format!("{path}: not open"));
        };
        f.sink
            .write_all(bytes)
            .map_err(|e| format!("{path}: {e}"))?;
        f.bytes += bytes.len() as u64;
        Ok(())
    }

    /// Open `path` for appending (creating its directories). A file new to this run starts
    /// with an init MAR, as Debian's clients append a whole stream to an existing file.
    fn open_file(&mut self, path: &str) -> Result<OpenFile, String> {
        if let Some(dir) = Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("{path}: {e}"))?;
        let w = BufWriter::with_capacity(1 << 16, file);
        let mut sink = if path.ends_with(".gz") {
            Sink::Gz(flate2::write::GzEncoder::new(
                w,
                flate2::Compression::fast(),
            ))
        } else {
            Sink::Plain(w)
        };
        let mut bytes = 0;
        if self.touched.insert(path.to_string()) {
            let mut m = crate::output::base_mar(SrcId::None, 5, crate::output::now());
            m.argusid = MAR_COOKIE;
            let mut b = Vec::with_capacity(128);
            encode::encode_mar(&m, &mut b);
            sink.write_all(&b).map_err(|e| format!("{path}: {e}"))?;
            bytes = b.len() as u64;
        }
        Ok(OpenFile { sink, bytes })
    }

    fn close_all(&mut self) -> Result<(), String> {
        let mut first = Ok(());
        for (path, f) in self.open.drain() {
            if let Err(e) = f.sink.finish() {
                if first.is_ok() {
                    first = Err(format!("{path}: {e}"));
                }
            }
        }
        first
    }

    /// Close every file; returns the files written in this run, sorted. MARs that never
    /// met a flow or event record go to the file named for their own time.
    pub fn finish(mut self) -> Result<Vec<String>, String> {
        if let (Some(&(t, _)), Mode::Time(p)) = (self.held.first(), &self.mode) {
            let path = strftime(&time_pattern(&self.name.replace('$', "_")), p.bin_start(t))?;
            for (_, m) in std::mem::take(&mut self.held) {
                self.put(&path, &m)?;
            }
        }
        self.close_all()?;
        let mut v: Vec<String> = self.touched.into_iter().collect();
        v.sort();
        Ok(v)
    }
}

/// The `-w` name as a time pattern: as given when it has a `%`, else with the default suffix
/// `%Y.%m.%d.%H.%M.%S` (argus' rasplit).
fn time_pattern(name: &str) -> String {
    if name.contains('%') {
        name.to_string()
    } else {
        format!("{name}%Y.%m.%d.%H.%M.%S")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_and_bins() {
        assert_eq!(Period::parse("5m"), Ok(Period::Secs(300)));
        assert_eq!(Period::parse("90"), Ok(Period::Secs(90)));
        assert_eq!(Period::parse("1d"), Ok(Period::Secs(86_400)));
        assert_eq!(Period::parse("2M"), Ok(Period::Months(2)));
        assert!(Period::parse("0m").is_err());
        assert!(Period::parse("5x").is_err());
        assert!(Period::parse("m").is_err());
        // 2023-11-14 22:13:20 UTC
        let t = 1_700_000_000;
        assert_eq!(Period::Secs(300).bin_start(t), 1_699_999_800); // 22:10:00
        assert_eq!(
            strftime(
                "%Y/%m/%d/argus.%Y.%m.%d.%H.%M.%S",
                Period::Secs(300).bin_start(t)
            ),
            Ok("2023/11/14/argus.2023.11.14.22.10.00".into())
        );
        assert_eq!(
            strftime("%Y.%m.%d", Period::Months(1).bin_start(t)),
            Ok("2023.11.01".into())
        );
        assert_eq!(
            strftime("%Y.%m", Period::Months(12).bin_start(t)),
            Ok("2023.01".into())
        );
        assert!(strftime("%Q", 0).is_err());
    }

    #[test]
    fn suffixes_like_split() {
        assert_eq!(suffix(0, 2), "aa");
        assert_eq!(suffix(1, 2), "ab");
        assert_eq!(suffix(26, 2), "ba");
        assert_eq!(suffix(649, 2), "yz");
        assert_eq!(suffix(650, 2), "zaaa");
        assert_eq!(suffix(3, 1), "d");
        // name order is creation order
        let v: Vec<String> = (0..20_000).map(|k| suffix(k, 2)).collect();
        let mut s = v.clone();
        s.sort();
        s.dedup();
        assert_eq!(v, s);
    }

    #[test]
    fn sizes_and_modes() {
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size("10k"), Ok(10 << 10));
        assert_eq!(parse_size("500"), Ok(500));
        assert!(parse_size("k").is_err());
        assert!(Mode::parse("bins", "1").is_err());
        assert!(Mode::parse("count", "0").is_err());
        assert!(Mode::parse("flow", "tcp and").is_err());
    }
}
