//! The event generators shipped with the sensor (`ravms`, `ralsof`, `rasnmp`): what they
//! collect, as data, and their output as a documented XML schema or JSON
//! (docs/generators.md). The binaries only parse flags, call these and print.
//!
//! Every document has one root, `<ArgusEvent type="vms|lsof|snmp" version="1" host="..."
//! time="...">`, whose children are leaf elements carrying their values in attributes.

pub mod lsof;
pub mod snmp;
pub mod vms;
pub mod xml;

pub use xml::{Node, Val};

/// Version of the document schema (the `version` attribute of the root).
pub const SCHEMA_VERSION: u32 = 1;

/// Default cap on a document's size: an event record holds at most 64 512 bytes of text,
/// label line (`prog:PATH ARGS\n`) included; 1 KiB is left for the label.
pub const DEFAULT_CAP: usize = 64_512 - 1024;

/// Output format (`-M xml|json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, String> {
        match s {
            "xml" => Ok(Format::Xml),
            "json" => Ok(Format::Json),
            other => Err(format!("-M {other}: unknown format (expected xml or json)")),
        }
    }
}

/// This machine's host name (`gethostname`), or "unknown".
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
    // fails.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Now, UTC, RFC 3339 with microseconds (`2026-11-26T22:30:00.123456Z`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// The root element of a document of `kind`, stamped with this host and the current time.
pub fn root(kind: &str) -> Node {
    Node::one("ArgusEvent", "")
        .attr("type", kind)
        .attr("version", SCHEMA_VERSION)
        .attr("host", hostname())
        .attr("time", now_rfc3339())
}

/// An `<Error source="..." message="..."/>` element: a part that could not be collected.
pub fn error_node(source: &str, message: &str) -> Node {
    Node::many("Error", "errors")
        .attr("source", source)
        .attr("message", message)
}

/// Reads an option value `-x VALUE` of a generator's command line: the parsed value, or a
/// message naming the option.
pub fn flag_value<T: std::str::FromStr>(
    flag: &str,
    v: Option<&String>,
    what: &str,
) -> Result<T, String> {
    let v = v.ok_or_else(|| format!("{flag}: missing value ({what})"))?;
    v.parse()
        .map_err(|_| format!("{flag} {v}: not a valid value ({what})"))
}

/// A generator's bad command line: the message (none for `-h`) and the usage on standard
/// error, exit status 2.
pub fn usage_error(prog: &str, msg: &str, usage: &str) -> std::process::ExitCode {
    if !msg.is_empty() {
        eprintln!("{prog}: {msg}");
    }
    eprintln!("{usage}");
    std::process::ExitCode::from(2)
}

/// Prints `doc` in `fmt` within `cap` bytes, and says on standard error how many of its
/// `what` (sockets, elements) were left out to stay within it.
pub fn print_capped(prog: &str, doc: &mut Node, fmt: Format, cap: usize, what: &str) {
    let (text, omitted) = doc.render_capped(fmt, cap);
    print!("{text}");
    if omitted > 0 {
        eprintln!("{prog}: {omitted} {what} left out to stay within {cap} bytes");
    }
}
