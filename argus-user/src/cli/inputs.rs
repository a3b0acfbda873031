//! The inputs of a client as one record source: files (gzip-compressed ones too, by magic),
//! shell-style globs that the shell did not expand, standard input, and `-S` streams (read
//! together, each in its own thread, so no server waits for us). The input list is a value
//! that can be opened again ([`Inputs::open_all`]) for a second pass over the same files.

use crate::record::decode::{Prefilter, RecordReader};
use crate::record::Record;
use crossbeam_channel::{bounded, Receiver};
use std::collections::VecDeque;
use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One input as given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// `-r -` (or no `-r`).
    Stdin,
    /// A file (plain or gzip-compressed).
    File(String),
    /// A pattern with `*`, `?` or `[...]` that names no existing file: expanded when opened.
    Glob(String),
    /// `-S host[:port]`.
    Stream(String),
}

impl Input {
    /// A `-r` argument: `-` is stdin; a name with glob characters that is not an existing
    /// file is a pattern.
    pub fn from_arg(a: &str) -> Input {
        if a == "-" {
            Input::Stdin
        } else if a.contains(['*', '?', '[']) && !std::path::Path::new(a).exists() {
            Input::Glob(a.to_string())
        } else {
            Input::File(a.to_string())
        }
    }

    /// The name used in messages.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "-".into(),
            Input::File(f) | Input::Glob(f) => f.clone(),
            Input::Stream(a) => a.clone(),
        }
    }
}

/// Damaged or unreadable input: the input's name and what was wrong (offset included where
/// the record decoder gives one). Printed as `PROG: INPUT: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub input: String,
    pub msg: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.input, self.msg)
    }
}

impl std::error::Error for InputError {}

/// What [`Records`] yields: the input's name and a record or the damage found there.
pub type Item = (Arc<str>, Result<Record, InputError>);

/// The inputs of a run, in command-line order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inputs {
    pub list: Vec<Input>,
}

static STDIN_TAKEN: AtomicBool = AtomicBool::new(false);

impl Inputs {
    pub fn new(list: Vec<Input>) -> Inputs {
        Inputs { list }
    }

    /// The inputs with globs expanded (sorted, as a shell does); a pattern that matches no
    /// file is an error in its place.
    pub fn expanded(&self) -> Vec<Result<Input, InputError>> {
        let mut v = Vec::new();
        for i in &self.list {
            match i {
                Input::Glob(p) => {
                    let m = glob(p);
                    if m.is_empty() {
                        v.push(Err(InputError {
                            input: p.clone(),
                            msg: "no such file (the pattern matches nothing)".into(),
                        }));
                    }
                    v.extend(m.into_iter().map(|f| Ok(Input::File(f))));
                }
                other => v.push(Ok(other.clone())),
            }
        }
        v
    }

    /// Whether every input can be read again (no stdin, no stream).
    pub fn rereadable(&self) -> bool {
        self.list
            .iter()
            .all(|i| matches!(i, Input::File(_) | Input::Glob(_)))
    }

    /// A record source over all inputs in order. Files can be opened any number of times;
    /// standard input only once (a second pass gets an error for it); streams connect anew.
    pub fn open_all(&self) -> Records {
        Records {
            queue: self.expanded().into(),
            pending: VecDeque::new(),
            cur: None,
            merge: None,
            damaged: 0,
            sockets: Arc::new(Mutex::new(Vec::new())),
            prefilter: None,
        }
    }
}

struct Current {
    name: Arc<str>,
    rd: RecordReader<Box<dyn Read + Send>>,
}

/// Records of all inputs in order (consecutive `-S` streams merged as records arrive).
/// Counts the damage it reports; at the end a client exits 1 when [`Records::damaged`] > 0.
pub struct Records {
    queue: VecDeque<Result<Input, InputError>>,
    pending: VecDeque<Item>,
    cur: Option<Current>,
    merge: Option<Receiver<Item>>,
    damaged: u64,
    sockets: Arc<Mutex<Vec<TcpStream>>>,
    /// Given to every reader: flow records it rejects are not decoded whole.
    prefilter: Option<Prefilter>,
}

impl Records {
    /// Flow records that `p` rejects are skipped by the readers (see
    /// [`RecordReader::set_prefilter`]): the caller's own selection then sees only the others.
    pub fn with_prefilter(mut self, p: Option<Prefilter>) -> Records {
        self.prefilter = p;
        self
    }

    /// Damaged or unreadable inputs reported so far (each error item counts once).
    pub fn damaged(&self) -> u64 {
        self.damaged
    }

    /// Records are coming from live streams now (print them as they come).
    pub fn live(&self) -> bool {
        self.merge.is_some()
    }

    /// Tell the servers we are done (`DONE: `) and close the streams; called on drop.
    pub fn close(&mut self) {
        if let Ok(mut v) = self.sockets.lock() {
            for s in v.iter_mut() {
                use std::io::Write;
                let _ = s.write_all(b"DONE: ");
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
            v.clear();
        }
    }

    fn start_streams(&mut self, first: String) {
        let mut addrs = vec![first];
        while let Some(Ok(Input::Stream(_))) = self.queue.front() {
            if let Some(Ok(Input::Stream(a))) = self.queue.pop_front() {
                addrs.push(a);
            }
        }
        let (tx, rx) = bounded::<Item>(8192);
        for a in addrs {
            let tx = tx.clone();
            let sockets = self.sockets.clone();
            let prefilter = self.prefilter.clone();
            std::thread::spawn(move || {
                let name: Arc<str> = Arc::from(a.as_str());
                let (r, sock) = match crate::client::connect(&a) {
                    Ok(v) => v,
                    Err(e) => {
                        let _ = tx.send((
                            name,
                            Err(InputError {
                                input: format!("-S {a}"),
                                msg: e.to_string(),
                            }),
                        ));
                        return;
                    }
                };
                if let (Ok(mut v), Ok(c)) = (sockets.lock(), sock.try_clone()) {
                    v.push(c);
                }
                let mut rd = RecordReader::new(r);
                rd.set_prefilter(prefilter);
                while let Some(r) = rd.next_record() {
                    let item = r.map_err(|e| InputError {
                        input: a.clone(),
                        msg: e.to_string(),
                    });
                    if tx.send((name.clone(), item)).is_err() {
                        return;
                    }
                }
                for e in finish_errors(&a, &mut rd) {
                    let _ = tx.send((name.clone(), Err(e)));
                }
            });
        }
        self.merge = Some(rx);
    }
}

impl Drop for Records {
    fn drop(&mut self) {
        self.close();
    }
}

/// The errors to report when a reader ends: an I/O error, and how much was skipped.
fn finish_errors<R: Read>(name: &str, rd: &mut RecordReader<R>) -> Vec<InputError> {
    let mut v = Vec::new();
    if let Some(e) = rd.take_io_error() {
        v.push(InputError {
            input: name.to_string(),
            msg: format!("read error: {e}"),
        });
    }
    if rd.stats.skipped_bytes > 0 {
        v.push(InputError {
            input: name.to_string(),
            msg: format!("skipped {} damaged bytes", rd.stats.skipped_bytes),
        });
    }
    v
}

impl Iterator for Records {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(it) = self.pending.pop_front() {
                if it.1.is_err() {
                    self.damaged += 1;
                }
                return Some(it);
            }
            if let Some(cur) = &mut self.cur {
                match cur.rd.next_record() {
                    Some(Ok(r)) => return Some((cur.name.clone(), Ok(r))),
                    Some(Err(e)) => {
                        self.damaged += 1;
                        let err = InputError {
                            input: cur.name.to_string(),
                            msg: e.to_string(),
                        };
                        return Some((cur.name.clone(), Err(err)));
                    }
                    None => {
                        for e in finish_errors(&cur.name, &mut cur.rd) {
                            self.pending.push_back((cur.name.clone(), Err(e)));
                        }
                        self.cur = None;
                        continue;
                    }
                }
            }
            if let Some(rx) = &self.merge {
                match rx.recv() {
                    Ok(it) => {
                        if it.1.is_err() {
                            self.damaged += 1;
                        }
                        return Some(it);
                    }
                    Err(_) => {
                        self.merge = None;
                        self.close();
                        continue;
                    }
                }
            }
            let next = self.queue.pop_front()?;
            match next {
                Err(e) => {
                    let name: Arc<str> = Arc::from(e.input.as_str());
                    self.pending.push_back((name, Err(e)));
                }
                Ok(Input::Stream(a)) => self.start_streams(a),
                Ok(inp) => {
                    let name: Arc<str> = Arc::from(inp.name().as_str());
                    match open(&inp) {
                        Ok(mut rd) => {
                            rd.set_prefilter(self.prefilter.clone());
                            self.cur = Some(Current { name, rd })
                        }
                        Err(msg) => self.pending.push_back((
                            name.clone(),
                            Err(InputError {
                                input: name.to_string(),
                                msg,
                            }),
                        )),
                    }
                }
            }
        }
    }
}

/// Opens a file or stdin, decompressing gzip (sniffed by its magic 1F 8B, whatever the name).
fn open(inp: &Input) -> Result<RecordReader<Box<dyn Read + Send>>, String> {
    let raw: Box<dyn Read + Send> = match inp {
        Input::Stdin => {
            if STDIN_TAKEN.swap(true, Ordering::SeqCst) {
                return Err("standard input can be read only once".into());
            }
            Box::new(io::stdin())
        }
        Input::File(f) => {
            let file = std::fs::File::open(f).map_err(|e| e.to_string())?;
            // A plain (not compressed) regular file is read in place, without copying it.
            if let Some(map) = crate::capture::map_file(&file) {
                if packing(&map).is_none() {
                    return Ok(RecordReader::mapped(Box::new(io::empty()), map));
                }
            }
            Box::new(file)
        }
        Input::Glob(_) | Input::Stream(_) => return Err("not a file".into()),
    };
    decompress(raw).map(RecordReader::new)
}

/// A compression format, told from a file's first bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Packing {
    Gzip,
    Bzip2,
    Xz,
}

fn packing(head: &[u8]) -> Option<Packing> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(Packing::Gzip)
    } else if head.starts_with(b"BZh") {
        Some(Packing::Bzip2)
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some(Packing::Xz)
    } else {
        None
    }
}

/// Looks at the first bytes: gzip is decompressed (several members, as gzip does); bzip2
/// and xz are refused with a message; anything else is read as it is.
pub fn decompress(mut r: Box<dyn Read + Send>) -> Result<Box<dyn Read + Send>, String> {
    let mut head = Vec::with_capacity(6);
    let mut b = [0u8; 6];
    while head.len() < 6 {
        match r.read(&mut b[..6 - head.len()]) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&b[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let kind = packing(&head);
    let whole: Box<dyn Read + Send> = Box::new(io::Cursor::new(head).chain(r));
    let (what, tool) = match kind {
        None => return Ok(whole),
        Some(Packing::Gzip) => {
            return Ok(Box::new(flate2::read::MultiGzDecoder::new(
                io::BufReader::with_capacity(1 << 16, whole),
            )))
        }
        Some(Packing::Bzip2) => ("bzip2", "bzip2 -dc"),
        Some(Packing::Xz) => ("xz", "xz -dc"),
    };
    Err(format!(
        "{what}-compressed input is not supported (only gzip); decompress it first, e.g. `{tool} FILE | ra -r -`"
    ))
}

/// Expands a shell-style pattern (`*`, `?`, `[abc]`, `[a-z]`, `[!x]` in any path component),
/// sorted. Names starting with `.` match only a pattern component starting with `.`.
pub fn glob(pattern: &str) -> Vec<String> {
    let absolute = pattern.starts_with('/');
    let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let mut cur: Vec<String> = vec![if absolute { "/".into() } else { String::new() }];
    for (k, comp) in comps.iter().enumerate() {
        let last = k + 1 == comps.len();
        let mut next = Vec::new();
        for base in &cur {
            let join = |n: &str| {
                if base.is_empty() {
                    n.to_string()
                } else if base.ends_with('/') {
                    format!("{base}{n}")
                } else {
                    format!("{base}/{n}")
                }
            };
            if !comp.contains(['*', '?', '[']) {
                let p = join(comp);
                if last || std::path::Path::new(&p).is_dir() {
                    next.push(p);
                }
                continue;
            }
            let dir = if base.is_empty() { "." } else { base.as_str() };
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = rd
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.') || comp.starts_with('.'))
                .filter(|n| fnmatch(comp.as_bytes(), n.as_bytes()))
                .collect();
            names.sort();
            for n in names {
                let p = join(&n);
                if last || std::path::Path::new(&p).is_dir() {
                    next.push(p);
                }
            }
        }
        cur = next;
    }
    cur.retain(|p| std::path::Path::new(p).exists() && !p.is_empty());
    cur
}

/// fnmatch(3) without flags on one path component.
fn fnmatch(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => (0..=s.len()).any(|k| fnmatch(&p[1..], &s[k..])),
        Some(b'?') => !s.is_empty() && fnmatch(&p[1..], &s[1..]),
        Some(b'[') => {
            let Some(&c) = s.first() else {
                return false;
            };
            let mut i = 1;
            let neg = matches!(p.get(1), Some(b'!') | Some(b'^'));
            if neg {
                i += 1;
            }
            let mut hit = false;
            let mut first = true;
            while i < p.len() && (p[i] != b']' || first) {
                first = false;
                if i + 2 < p.len() && p[i + 1] == b'-' && p[i + 2] != b']' {
                    if p[i] <= c && c <= p[i + 2] {
                        hit = true;
                    }
                    i += 3;
                } else {
                    if p[i] == c {
                        hit = true;
                    }
                    i += 1;
                }
            }
            if i >= p.len() {
                // No closing bracket: a literal '['.
                return c == b'[' && fnmatch(&p[1..], &s[1..]);
            }
            hit != neg && fnmatch(&p[i + 1..], &s[1..])
        }
        Some(&ch) => s.first() == Some(&ch) && fnmatch(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::fnmatch;

    #[test]
    fn fnmatch_forms() {
        assert!(fnmatch(b"*.argus", b"a.argus"));
        assert!(!fnmatch(b"*.argus", b"a.argus.gz"));
        assert!(fnmatch(b"a?c", b"abc"));
        assert!(fnmatch(b"[a-c]x", b"bx"));
        assert!(!fnmatch(b"[!a-c]x", b"bx"));
        assert!(fnmatch(b"f[0-9][0-9]", b"f07"));
        assert!(fnmatch(b"*", b""));
    }
}
