//! Plumbing shared by the ra* clients (`ra`, `raevent`, `rafilteraddr`, ...): the common
//! command line (`-r -S -w -t -s -c -n -u -p -L -N -M -X -F`, a filter after `-`), the rc
//! files (`/etc/ra.conf`, `~/.rarc`), the inputs (files, globs, stdin, gzip, streams) read
//! as one record source, the time-range selection, and the output (text or an Argus 3 stream).
//! See docs/ra.md, "Options common to every client".

mod inputs;
mod rc;
mod time;

pub use inputs::{Input, InputError, Inputs, Records};
pub use rc::RcError;
pub use time::{TimeMatch, TimeRange};

use crate::filter::{CompiledFilter, Target};
use crate::print::{apply_field_args, format_record_into, header, PrintOpts};
use crate::record::decode::{DsrSet, Prefilter, RawTest};
use crate::record::{encode, Record, Ts};
use std::io::{self, BufWriter, Write};
use std::sync::Arc;

/// What a client accepts beyond the common options.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spec {
    /// Program name for messages (`ra`, `raevent`, ...).
    pub prog: &'static str,
    /// Usage text (after `usage: `).
    pub usage: &'static str,
    /// Client options without a value (e.g. `-v`).
    pub flags: &'static [&'static str],
    /// Client options taking one value (e.g. `-f FILE`).
    pub opts: &'static [&'static str],
    /// `-M` modes the client adds to `man`, `noman`, `json`.
    pub modes: &'static [&'static str],
}

/// The parsed common command line (after the rc files).
#[derive(Debug)]
pub struct Options {
    pub prog: &'static str,
    pub inputs: Inputs,
    pub print: PrintOpts,
    /// Repeat the header every N printed lines (`RA_PRINT_LABELS=N`, `-L N`).
    pub labels_every: Option<u64>,
    /// `-w FILE` (`-` = stdout): write an Argus 3 stream instead of text.
    pub write: Option<String>,
    pub time: Option<TimeRange>,
    /// `-N n`: stop after n flow records.
    pub limit: Option<u64>,
    pub filter: Option<CompiledFilter>,
    /// `-M` values from `Spec::modes` that were given.
    pub modes: Vec<String>,
    /// Client options (`Spec::flags` with `None`, `Spec::opts` with their value), in order.
    pub extra: Vec<(String, Option<String>)>,
    /// `-X`: no rc file was read.
    pub no_rc: bool,
}

/// A usage error: the message, printed as `PROG: message`, exit 2.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Options {
    /// Parses `std::env::args()`; on error prints the message (and the usage) and exits 2.
    pub fn from_env(spec: &Spec) -> Options {
        Options::from_args(spec, std::env::args().skip(1).collect())
    }

    /// As [`Options::from_env`], with the arguments (program name left out) given: for a
    /// client that rewrites its own options first (racluster's `-m KEY KEY ...`).
    pub fn from_args(spec: &Spec, args: Vec<String>) -> Options {
        match Options::parse(spec, &args, &rc::default_files()) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("{}: {e}", spec.prog);
                if e.0.starts_with("usage") || e.0.contains("missing") {
                    eprintln!("usage: {}", spec.usage);
                }
                std::process::exit(2)
            }
        }
    }

    /// Parses a command line; `rc_files` are read in order (later ones win) unless `-X` is
    /// given. The command line wins over every rc file.
    pub fn parse(
        spec: &Spec,
        args: &[String],
        rc_files: &[std::path::PathBuf],
    ) -> Result<Options, UsageError> {
        let cl = parse_command_line(spec, args)?;
        let mut rcv = rc::RcValues::default();
        if !cl.no_rc {
            for f in rc_files.iter().chain(cl.conf_files.iter()) {
                rc::read_file(f, &mut rcv, spec.prog).map_err(|e| UsageError(e.to_string()))?;
            }
        } else {
            for f in &cl.conf_files {
                rc::read_file(f, &mut rcv, spec.prog).map_err(|e| UsageError(e.to_string()))?;
            }
        }
        // ra's compiled-in default orients flows by ports not at all; Debian's /etc/ra.conf
        // sets RA_PORT_DIRECTION="services,wellknown".
        crate::print::PortDirection::set(rcv.port_direction.unwrap_or(0));
        let mut print = PrintOpts {
            // Compiled-in default of ra: MARs are printed only when an rc file says so
            // (Debian's /etc/ra.conf does).
            print_man: rcv.print_man.unwrap_or(false),
            ..PrintOpts::default()
        };
        let mut labels_every = None;
        match rcv.labels {
            Some(n) if n < 0 => print.header = false,
            Some(n) if n > 0 => labels_every = Some(n as u64),
            _ => {}
        }
        if let Some(s) = rcv.sep {
            print.sep = Some(s);
        }
        if let Some(u) = rcv.unix_time {
            print.unix_time = u;
        }
        if let Some(p) = rcv.precision {
            print.precision = p;
        }
        if let Some(n) = rcv.numeric {
            print.numeric = n;
        }
        // Command line over rc values.
        if let Some(m) = cl.print_man {
            print.print_man = m;
        }
        if cl.json {
            print.json = true;
        }
        if let Some(l) = cl.labels {
            labels_every = None;
            print.header = l >= 0;
            if l > 0 {
                labels_every = Some(l as u64);
            }
        }
        if cl.sep.is_some() {
            print.sep = cl.sep;
        }
        if cl.unix_time {
            print.unix_time = true;
        }
        if let Some(p) = cl.precision {
            print.precision = p;
        }
        if cl.n_count > 0 {
            // ra acts on exactly one or two -n; more of them print names again.
            print.numeric = if cl.n_count <= 2 { cl.n_count as u8 } else { 0 };
        }
        // Field list: the rc list, then the command line's changes to it (a command line
        // list that starts with a plain name replaces it).
        let mut field_args: Vec<String> = Vec::new();
        let cl_replaces = cl
            .field_args
            .first()
            .is_some_and(|a| !a.starts_with('+') && !a.starts_with('-'));
        if !cl_replaces {
            field_args.extend(rcv.fields.iter().cloned());
        }
        field_args.extend(cl.field_args.iter().cloned());
        if !field_args.is_empty() {
            print.fields = apply_field_args(&field_args).map_err(UsageError)?;
        }
        if print.json {
            print.header = false;
            labels_every = None;
        }
        let time_text = cl.time.clone().or(rcv.timerange.clone());
        let time = match time_text {
            Some(t) => Some(TimeRange::parse(&t).map_err(|e| UsageError(format!("-t {t}: {e}")))?),
            None => None,
        };
        let filter_text = cl.filter.clone().or(rcv.filter.clone());
        let filter = match filter_text {
            Some(t) if !t.trim().is_empty() => Some(
                CompiledFilter::compile(&t, Target::Records)
                    .map_err(|e| UsageError(e.to_string()))?,
            ),
            _ => None,
        };
        let mut list = cl.inputs;
        if list.is_empty() {
            match &rcv.server {
                Some(s) => list.push(Input::Stream(s.clone())),
                None => list.push(Input::Stdin),
            }
        }
        Ok(Options {
            prog: spec.prog,
            inputs: Inputs::new(list),
            print,
            labels_every,
            write: cl.write.or(rcv.output_file),
            time,
            limit: cl.limit,
            filter,
            modes: cl.modes,
            extra: cl.extra,
            no_rc: cl.no_rc,
        })
    }

    /// Whether client option `name` (a `Spec::flags` entry) was given.
    pub fn flag(&self, name: &str) -> bool {
        self.extra.iter().any(|(n, _)| n == name)
    }

    /// The last value of client option `name` (a `Spec::opts` entry).
    pub fn opt(&self, name: &str) -> Option<&str> {
        self.extra
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Whether `-M mode` (a `Spec::modes` entry) was given.
    pub fn mode(&self, mode: &str) -> bool {
        self.modes.iter().any(|m| m == mode)
    }

    /// Every selected flow record of the inputs, in order, at most `-N` of them (MARs and
    /// events are left out, as Debian's racluster and rasort do); damaged input is reported
    /// as `PROG: message` and skipped. Returns the damage count for [`exit_code`].
    pub fn for_each_selected_flow(&self, mut f: impl FnMut(crate::record::FlowRecord)) -> u64 {
        self.for_each_selected_flow_boxed(|b| f(*b))
    }

    /// [`Options::for_each_selected_flow`] with each record in the box it was decoded into
    /// (a record is large: moving it out costs a copy).
    pub fn for_each_selected_flow_boxed(
        &self,
        mut f: impl FnMut(Box<crate::record::FlowRecord>),
    ) -> u64 {
        let mut taken: u64 = 0;
        let mut records = self.open_selected();
        for (_, item) in records.by_ref() {
            let rec = match item {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{}: {e}", self.prog);
                    continue;
                }
            };
            if !matches!(rec, Record::Flow(_)) || !self.selects(&rec) {
                continue;
            }
            if self.limit.is_some_and(|n| taken >= n) {
                break;
            }
            taken += 1;
            if let Record::Flow(flow) = rec {
                f(flow);
            }
        }
        let damaged = records.damaged();
        records.close();
        damaged
    }

    /// The record passes the filter expression and the time range.
    pub fn selects(&self, rec: &Record) -> bool {
        if let Record::Flow(f) = rec {
            return selects_flow(self.filter.as_ref(), self.time.as_ref(), f);
        }
        if self.filter.as_ref().is_some_and(|f| !f.matches_record(rec)) {
            return false;
        }
        match &self.time {
            Some(t) => match record_times(rec) {
                Some((s, l)) => t.matches(s.as_micros(), l.as_micros()),
                None => false,
            },
            None => true,
        }
    }

    /// [`Options::selects`] for flow records as a reader prefilter: the readers decode only
    /// the DSRs the filter and `-t` read and drop what they reject, so the records a client
    /// never prints are never decoded whole. None when there is nothing to select on or the
    /// filter reads the whole record (dur, rate, load).
    pub fn flow_prefilter(&self) -> Option<Prefilter> {
        if self.filter.is_none() && self.time.is_none() {
            return None;
        }
        let mut dsrs = DsrSet::KEY;
        if let Some(f) = &self.filter {
            dsrs = dsrs.union(f.record_dsrs());
        }
        if self.time.is_some() {
            dsrs = dsrs.with(0x03);
        }
        if dsrs.is_all() {
            return None;
        }
        let (filter, time) = (self.filter.clone(), self.time);
        // A record the filter rejects is rejected whatever its time.
        let raw = self
            .filter
            .clone()
            .map(|f| Arc::new(move |rec: &[u8]| f.matches_flow_bytes(rec)) as RawTest);
        Some(Prefilter {
            dsrs,
            keep: Arc::new(move |r| selects_flow(filter.as_ref(), time.as_ref(), r)),
            raw,
            // Without -t, the filter's answer is the whole answer.
            raw_final: self.time.is_none(),
        })
    }

    /// All inputs with [`Options::flow_prefilter`]: what the client's own `selects` would
    /// reject of the flow records does not come out.
    pub fn open_selected(&self) -> Records {
        self.inputs.open_all().with_prefilter(self.flow_prefilter())
    }
}

/// The flow record passes the filter expression and the time range.
fn selects_flow(
    filter: Option<&CompiledFilter>,
    time: Option<&TimeRange>,
    f: &crate::record::FlowRecord,
) -> bool {
    if filter.is_some_and(|x| !x.matches_flow(f)) {
        return false;
    }
    match time {
        Some(t) => match f.time {
            Some(x) => t.matches(x.start.as_micros(), x.last.as_micros()),
            None => false,
        },
        None => true,
    }
}

/// The time span of a record: a flow's start and last time, an event's, a MAR's start and
/// report time (in that order, whichever is earlier first).
pub fn record_times(rec: &Record) -> Option<(Ts, Ts)> {
    match rec {
        Record::Flow(f) => f.time.map(|t| (t.start, t.last)),
        Record::Event(e) => Some((e.start, e.end.max(e.start))),
        Record::Mar(m) => Some((m.startime.min(m.now), m.startime.max(m.now))),
    }
}

/// The command line alone, before rc files are merged.
#[derive(Debug, Default)]
struct CommandLine {
    inputs: Vec<Input>,
    write: Option<String>,
    time: Option<String>,
    field_args: Vec<String>,
    sep: Option<String>,
    n_count: usize,
    unix_time: bool,
    precision: Option<usize>,
    labels: Option<i64>,
    print_man: Option<bool>,
    json: bool,
    limit: Option<u64>,
    no_rc: bool,
    conf_files: Vec<std::path::PathBuf>,
    filter: Option<String>,
    modes: Vec<String>,
    extra: Vec<(String, Option<String>)>,
}

fn parse_command_line(spec: &Spec, args: &[String]) -> Result<CommandLine, UsageError> {
    let mut c = CommandLine::default();
    let mut i = 0;
    let value = |i: &mut usize, opt: &str| -> Result<String, UsageError> {
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| UsageError(format!("option {opt}: missing value")))
    };
    let number = |v: &str, opt: &str| -> Result<i64, UsageError> {
        v.parse::<i64>()
            .map_err(|_| UsageError(format!("option {opt}: '{v}' is not a number")))
    };
    while i < args.len() {
        let a = args[i].as_str();
        if a == "-" || !a.starts_with('-') {
            // Everything after a lone `-` is the filter expression (several arguments are
            // joined with spaces, as ra does); ra also takes one without the `-`.
            let from = if a == "-" { i + 1 } else { i };
            let text = args[from..].join(" ");
            if !text.trim().is_empty() {
                c.filter = Some(text);
            }
            break;
        }
        if spec.flags.contains(&a) {
            c.extra.push((a.to_string(), None));
            i += 1;
            continue;
        }
        if spec.opts.contains(&a) {
            let v = value(&mut i, a)?;
            c.extra.push((a.to_string(), Some(v)));
            i += 1;
            continue;
        }
        match a {
            "-r" => {
                let first = value(&mut i, a)?;
                c.inputs.push(Input::from_arg(&first));
                // Further file names up to the next option; a lone `-` there starts the
                // filter expression, as in ra (`-r -` itself still means stdin).
                while let Some(n) = args.get(i + 1) {
                    if n.starts_with('-') {
                        break;
                    }
                    c.inputs.push(Input::from_arg(n));
                    i += 1;
                }
            }
            "-S" => c.inputs.push(Input::Stream(value(&mut i, a)?)),
            "-w" => c.write = Some(value(&mut i, a)?),
            "-t" => c.time = Some(value(&mut i, a)?),
            "-u" => c.unix_time = true,
            "-p" => {
                let v = number(&value(&mut i, a)?, a)?;
                c.precision = Some(v.clamp(0, 64) as usize);
            }
            "-c" => c.sep = Some(value(&mut i, a)?),
            "-L" => c.labels = Some(number(&value(&mut i, a)?, a)?),
            "-M" => {
                let v = value(&mut i, a)?;
                for m in v.split(',') {
                    match m {
                        "noman" => c.print_man = Some(false),
                        "man" => c.print_man = Some(true),
                        "json" => c.json = true,
                        m if spec.modes.contains(&m) => c.modes.push(m.to_string()),
                        other => return Err(UsageError(format!("-M {other}: not supported"))),
                    }
                }
            }
            "-N" => {
                let v = number(&value(&mut i, a)?, a)?;
                c.limit = Some(v.max(0) as u64);
            }
            "-X" => c.no_rc = true,
            "-F" => c.conf_files.push(value(&mut i, a)?.into()),
            // Like ra's getopt: `-s` takes the next argument whatever it is (so `-s -bytes`
            // works), then every following argument up to the next option; `-sNAME` is
            // `-s NAME`. Several `-s` accumulate.
            s if s.starts_with("-s") => {
                let first = if s.len() > 2 {
                    s[2..].to_string()
                } else {
                    value(&mut i, "-s")?
                };
                c.field_args.push(first);
                while let Some(n) = args.get(i + 1) {
                    if n.starts_with('-') {
                        break;
                    }
                    c.field_args.push(n.clone());
                    i += 1;
                }
            }
            "-h" | "--help" => return Err(UsageError("usage".into())),
            s if s.len() > 1 && s[1..].chars().all(|ch| ch == 'n') => c.n_count += s.len() - 1,
            s => return Err(UsageError(format!("option {s} not supported"))),
        }
        i += 1;
    }
    Ok(c)
}

/// Where selected records go: text on stdout (ra's lines, the header with the first line and
/// every `labels_every` lines) or, with `-w`, an Argus 3 stream (init MAR first).
pub struct Output {
    out: BufWriter<Box<dyn Write>>,
    argus: bool,
    header: Option<String>,
    header_due: bool,
    labels_every: Option<u64>,
    since_header: u64,
    buf: Vec<u8>,
    /// The line being printed (reused).
    text: String,
    /// Records written with `-w` (the init MAR not counted).
    pub written: u64,
}

impl Output {
    /// Opens the output the options ask for. Like Debian's ra, `-w FILE` appends to an
    /// existing file (a second stream after the first, starting with its own init MAR);
    /// `-w -` is stdout.
    pub fn open(o: &Options) -> Result<Output, String> {
        let (w, argus): (Box<dyn Write>, bool) = match &o.write {
            None => (Box::new(io::stdout()), false),
            Some(p) if p == "-" => (Box::new(io::stdout()), true),
            Some(p) => (
                Box::new(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(p)
                        .map_err(|e| format!("-w {p}: {e}"))?,
                ),
                true,
            ),
        };
        let mut out = Output {
            out: BufWriter::with_capacity(1 << 16, w),
            argus,
            header: (o.print.header && !argus).then(|| header(&o.print)),
            header_due: o.print.header && !argus,
            labels_every: o.labels_every,
            since_header: 0,
            buf: Vec::with_capacity(4096),
            text: String::with_capacity(512),
            written: 0,
        };
        if argus {
            // The init MAR: what a reader takes as the start of an Argus 3 stream.
            let mut m =
                crate::output::base_mar(crate::record::SrcId::None, 5, crate::output::now());
            m.argusid = crate::record::MAR_COOKIE;
            crate::record::encode::encode_mar(&m, &mut out.buf);
            let name = o.write.as_deref().unwrap_or("-");
            out.out
                .write_all(&out.buf)
                .map_err(|e| format!("-w {name}: {e}"))?;
        }
        Ok(out)
    }

    /// `-w` is in effect: records are written, not printed.
    pub fn is_argus(&self) -> bool {
        self.argus
    }

    /// Outputs one selected record: encoded with `-w`, else printed with `o` (nothing when
    /// the printer skips it, e.g. a MAR under `-M noman`). Returns whether anything went out.
    pub fn record(&mut self, rec: &Record, o: &PrintOpts) -> io::Result<bool> {
        if self.argus {
            self.buf.clear();
            encode::encode(rec, &mut self.buf);
            self.out.write_all(&self.buf)?;
            self.written += 1;
            return Ok(true);
        }
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        let printed = format_record_into(rec, o, &mut text);
        let res = if printed { self.line(&text) } else { Ok(()) };
        self.text = text;
        res.map(|_| printed)
    }

    /// One text line (without its newline), the header before it when due.
    pub fn line(&mut self, l: &str) -> io::Result<()> {
        if let Some(n) = self.labels_every {
            if self.since_header >= n {
                self.header_due = true;
            }
        }
        if self.header_due {
            self.header_due = false;
            self.since_header = 0;
            if let Some(h) = &self.header {
                self.out.write_all(h.as_bytes())?;
                self.out.write_all(b"\n")?;
            }
        }
        self.since_header += 1;
        self.out.write_all(l.as_bytes())?;
        self.out.write_all(b"\n")
    }

    /// Text as it is (event lines), no header.
    pub fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Output flow records (printed, or written with `-w`), then flush.
    ///
    /// Records come in an order of their own (rasort's, racluster's groups), scattered over
    /// memory: each is prefetched a few records before it goes out, and the boxes are freed at
    /// the end in address order (freed in sorted order, glibc spent a fifth of rasort's time
    /// merging free chunks).
    pub fn flows<R: Into<Box<crate::record::FlowRecord>>>(
        &mut self,
        recs: impl IntoIterator<Item = R>,
        o: &PrintOpts,
    ) -> io::Result<()> {
        const AHEAD: usize = 4;
        let mut recs: Vec<Option<Box<crate::record::FlowRecord>>> =
            recs.into_iter().map(|r| Some(r.into())).collect();
        let mut done = Vec::with_capacity(recs.len());
        for i in 0..recs.len() {
            if let Some(Some(r)) = recs.get(i + AHEAD) {
                crate::prefetch::prefetch_all(&**r);
            }
            let Some(f) = recs[i].take() else { continue };
            let rec = Record::Flow(f);
            let res = self.record(&rec, o);
            if let Record::Flow(f) = rec {
                done.push(f);
            }
            res?;
        }
        done.sort_unstable_by_key(|b| &**b as *const crate::record::FlowRecord as usize);
        drop(done);
        self.flush()
    }
}

/// Exit code at the end of a client run: 1 when some input was damaged or unreadable.
pub fn exit_code(damaged: u64) -> std::process::ExitCode {
    if damaged > 0 {
        std::process::ExitCode::from(1)
    } else {
        std::process::ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests;
