//! The ra rc files (rarc(5)): `/etc/ra.conf`, then `~/.rarc`, then `-F` files; `NAME=VALUE`
//! lines, `#` comments. Double quotes are removed from values (as ra does), a value of `""`
//! leaves the variable unset. A line that is not `NAME=VALUE` or a bad value is an error
//! naming the file and line; unknown `RA_*` variables are ignored with a warning.

use std::path::{Path, PathBuf};

/// The rc files read by default, in order (later ones win): `/etc/ra.conf`, `$HOME/.rarc`.
pub fn default_files() -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from("/etc/ra.conf")];
    if let Some(h) = std::env::var_os("HOME") {
        v.push(Path::new(&h).join(".rarc"));
    }
    v
}

/// The settings found in rc files (`None`: not set).
#[derive(Debug, Default, Clone)]
pub struct RcValues {
    pub print_man: Option<bool>,
    pub labels: Option<i64>,
    pub sep: Option<String>,
    pub unix_time: Option<bool>,
    pub precision: Option<usize>,
    pub numeric: Option<u8>,
    pub fields: Vec<String>,
    pub timerange: Option<String>,
    pub filter: Option<String>,
    pub server: Option<String>,
    pub output_file: Option<String>,
    /// RA_PORT_DIRECTION as [`crate::print::PortDirection`] bits.
    pub port_direction: Option<u8>,
}

/// A bad rc file line.
#[derive(Debug, Clone, PartialEq)]
pub struct RcError {
    pub file: PathBuf,
    pub line: usize,
    pub msg: String,
}

impl std::fmt::Display for RcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.msg)
    }
}

/// Variables of rarc(5) and Debian's ra.conf that we accept without acting on them (their
/// effect is built in, or does not apply to these clients).
const ACCEPTED: &[&str] = &[
    "RA_PRINT_EVENT_RECORDS",
    "RA_GENERATE_BIN_MAR_RECORDS",
    "RA_USERDATA_ENCODE",
    "RA_SOURCE_PORT",
    "RA_SET_PID",
    "RA_PID_PATH",
    "RA_RUN_TIME",
    "RA_CIDR_ADDRESS_FORMAT",
    "RA_ASN_PRINT_FORMAT",
    "RA_PRINT_RESPONSE_DATA",
    "RA_FILTER_TIMEOUT",
    "RA_USER_AUTH",
    "RA_AUTH_PASS",
    "RA_MIN_SSF",
    "RA_MAX_SSF",
    "RA_DEBUG_LEVEL",
    "RA_CONNECT_TIME",
    "RA_SORT_ALGORITHMS",
    "RA_TIMEOUT_INTERVAL",
    "RA_UPDATE_INTERVAL",
    "RA_PRINT_ETHERNET_VENDORS",
    "RA_ETHERNET_VENDORS",
    "RA_DELEGATED_IP",
    "RA_RELIABLE_CONNECT",
    "RA_DATABASE",
    "RA_DB_TABLE",
    "RA_DB_USER",
    "RA_DB_PASS",
    "RA_COLOR_SUPPORT",
    "RA_COLOR_CONFIG",
    "RA_LOCAL",
    "RA_LOCAL_DIRECTION",
    "RA_SEPARATE_ADDR_FROM_PORT_WITH_PERIOD",
    "RA_FIELD_WIDTH",
    "RA_PRINT_HOSTNAMES",
    "RA_PRINT_SUMMARY",
    "RA_PRINT_DURATION",
    "RA_PRINT_LASTIME",
];

fn yes_no(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "y" | "1" | "true" | "on" => Some(true),
        "no" | "n" | "0" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// Reads one rc file into `v`; a missing file is not an error (neither is an unreadable
/// default one: ra goes on without it).
pub fn read_file(path: &Path, v: &mut RcValues, prog: &str) -> Result<(), RcError> {
    let text = match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(RcError {
                file: path.to_path_buf(),
                line: 0,
                msg: e.to_string(),
            })
        }
    };
    parse(&text, path, v, prog)
}

/// Parses rc text (`path` for messages).
pub fn parse(text: &str, path: &Path, v: &mut RcValues, prog: &str) -> Result<(), RcError> {
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |msg: String| RcError {
            file: path.to_path_buf(),
            line: n + 1,
            msg,
        };
        let Some((name, value)) = line.split_once('=') else {
            return Err(err(format!("syntax error: '{line}' is not NAME=VALUE")));
        };
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(err(format!("syntax error: bad variable name '{name}'")));
        }
        // A comment after the value ends it (outside quotes).
        let value = strip_comment(value.trim());
        if value == "\"\"" {
            continue;
        }
        let value: String = value.chars().filter(|&c| c != '"').collect();
        let value = value.trim();
        match name {
            "RA_PRINT_MAN_RECORDS" => {
                v.print_man = Some(
                    yes_no(value).ok_or_else(|| err(format!("{name}: '{value}' is not yes/no")))?,
                )
            }
            "RA_PRINT_UNIX_TIME" => {
                v.unix_time = Some(
                    yes_no(value).ok_or_else(|| err(format!("{name}: '{value}' is not yes/no")))?,
                )
            }
            "RA_PRINT_LABELS" => {
                v.labels = Some(
                    value
                        .parse()
                        .map_err(|_| err(format!("{name}: '{value}' is not a number")))?,
                )
            }
            "RA_USEC_PRECISION" => {
                v.precision = Some(
                    value
                        .parse::<usize>()
                        .map_err(|_| err(format!("{name}: '{value}' is not a number")))?
                        .min(64),
                )
            }
            "RA_FIELD_DELIMITER" => {
                v.sep =
                    Some(delimiter(value).ok_or_else(|| {
                        err(format!("{name}: '{value}' is not a single character"))
                    })?)
            }
            "RA_PRINT_NAMES" => {
                // port (default): port and protocol names; proto: protocol names only (-n);
                // none: no names (-nn); all: as port (host names are never looked up).
                v.numeric = Some(match value {
                    "proto" => 1,
                    "none" => 2,
                    _ => 0,
                })
            }
            "RA_FIELD_SPECIFIER" => {
                v.fields = value.split_whitespace().map(String::from).collect();
            }
            "RA_PORT_DIRECTION" => {
                use crate::print::PortDirection as P;
                let mut bits = 0;
                for w in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                    bits |= match w {
                        "services" => P::SERVICES,
                        "wellknown" => P::WELLKNOWN,
                        "registered" => P::REGISTERED,
                        _ => {
                            return Err(err(format!(
                                "{name}: '{w}' is not services, wellknown or registered"
                            )))
                        }
                    };
                }
                v.port_direction = Some(bits);
            }
            "RA_TIMERANGE" => v.timerange = Some(value.to_string()),
            "RA_FILTER" => v.filter = Some(value.to_string()),
            "RA_ARGUS_SERVER" => v.server = Some(value.to_string()),
            "RA_OUTPUT_FILE" => v.output_file = Some(value.to_string()),
            "RA_TIME_FORMAT" if value == "%T.%f" => {}
            "RA_TIME_FORMAT" | "RA_TZ" => eprintln!(
                "{prog}: {}:{}: {name} is not supported, ignored (times print in UTC, %T.%f)",
                path.display(),
                n + 1
            ),
            _ if ACCEPTED.contains(&name) => {}
            _ => eprintln!(
                "{prog}: {}:{}: unknown variable {name}, ignored",
                path.display(),
                n + 1
            ),
        }
    }
    Ok(())
}

fn strip_comment(v: &str) -> &str {
    let mut in_q = false;
    for (i, c) in v.char_indices() {
        match c {
            '"' => in_q = !in_q,
            '#' if !in_q && i > 0 && v[..i].ends_with(char::is_whitespace) => {
                return v[..i].trim_end()
            }
            _ => {}
        }
    }
    v
}

/// `','`, `,`, `'\t'` (a tab), `'\0'`... as one character string.
fn delimiter(v: &str) -> Option<String> {
    let inner = v
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .unwrap_or(v);
    match inner {
        "\\t" => Some("\t".into()),
        "" => None,
        s if s.chars().count() == 1 => Some(s.to_string()),
        _ => None,
    }
}
