//! Sensor configuration: argus.conf files (`VAR="value"` lines, as argus 3 reads them) and the
//! command line, merged into one [`SensorConfig`].
//!
//! Order, as argus users know it: the default file (`/etc/argus.conf`, skipped with `-X`), then
//! each `-F FILE` in command-line order, then the command-line flags, which override what the
//! files set. An unknown variable is a warning; a bad value is an error naming the file and the
//! line, and the sensor refuses to start.

use crate::flow::ModelConfig;
use crate::record::SrcId;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

/// The file argus reads unless `-X` is given.
pub const DEFAULT_CONF: &str = "/etc/argus.conf";

/// How live frames are captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CaptureMethod {
    /// XDP + AF_XDP where it can be attached, else AF_PACKET.
    #[default]
    Auto,
    Xdp,
    AfPacket,
}

/// XDP attach mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum XdpMode {
    /// Driver (native) mode, falling back to SKB mode.
    #[default]
    Auto,
    Native,
    Skb,
}

/// How the XDP program hands its metadata (class, flow, shard and content hashes, time) to
/// user space: which entry point of the XDP object runs (`argus_common::xdp_programs`). The
/// sensor probes them in this order unless one is forced (`--xdp-meta`, ARGUS_XDP_META).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpDelivery {
    /// The metadata area in front of the frame (`bpf_xdp_adjust_meta`).
    Area,
    /// A header prepended to the frame (`bpf_xdp_adjust_head`), stripped in user space.
    Header,
    /// None: user space computes the hashes from the frame and stamps it when it reads it.
    User,
}

impl XdpDelivery {
    /// Order of preference of the automatic probe.
    pub const ALL: [XdpDelivery; 3] = [XdpDelivery::Area, XdpDelivery::Header, XdpDelivery::User];

    /// The name `--xdp-meta` and ARGUS_XDP_META take.
    pub fn name(self) -> &'static str {
        match self {
            XdpDelivery::Area => "area",
            XdpDelivery::Header => "header",
            XdpDelivery::User => "user",
        }
    }

    /// `area`, `header`, `user`, or `auto` (`None`: probe).
    pub fn parse(v: &str) -> Result<Option<XdpDelivery>, String> {
        let v = v.trim().to_ascii_lowercase();
        if v == "auto" {
            return Ok(None);
        }
        XdpDelivery::ALL
            .into_iter()
            .find(|d| d.name() == v)
            .map(Some)
            .ok_or_else(|| format!("'{v}' is not auto, area, header or user"))
    }
}

/// Everything the sensor needs to start.
#[derive(Clone, Debug)]
pub struct SensorConfig {
    /// Capture files (`-r`).
    pub inputs: Vec<String>,
    /// Live interfaces (`-i`, ARGUS_INTERFACE).
    pub interfaces: Vec<String>,
    /// Output file or `-` (`-w`, ARGUS_OUTPUT_FILE).
    pub output: Option<String>,
    /// TCP port serving the record stream (`-P`, ARGUS_ACCESS_PORT).
    pub access_port: Option<u16>,
    /// Address the port is bound to (`-B`, ARGUS_BIND_IP); all addresses when unset.
    pub bind_ip: Option<IpAddr>,
    /// Flow model options (`-e -S -m -A -J -Z -U` and their variables).
    pub model: ModelConfig,
    /// MAR status interval in seconds (`-M`... argus: ARGUS_MAR_STATUS_INTERVAL).
    pub mar_interval_s: u32,
    /// Sensor filter expression (trailing arguments, ARGUS_FILTER).
    pub filter: Option<String>,
    /// Flow-table workers (`--workers`).
    pub workers: usize,
    pub capture: CaptureMethod,
    pub xdp_mode: XdpMode,
    /// How the XDP program's metadata reaches user space (`--xdp-meta`, ARGUS_XDP_META);
    /// `None`: the first way the kernel accepts, in [`XdpDelivery::ALL`] order.
    pub xdp_delivery: Option<XdpDelivery>,
    /// XDP: drop frames no AF_XDP socket takes (a dedicated SPAN port) instead of passing them
    /// to the kernel stack (`--xdp-unwanted drop|pass`, ARGUS_XDP_UNWANTED; default pass).
    pub xdp_drop_unwanted: bool,
    /// Put captured interfaces in promiscuous mode (ARGUS_GO_PROMISCUOUS, default yes; `-p`
    /// turns it off).
    pub promiscuous: bool,
    /// Event sources (ARGUS_EVENT_DATA lines, one entry each; `docs/events.md`).
    pub events: Vec<crate::event::EventSpec>,
    /// User and group to run as once capture is set up (`-u`/`-g`, ARGUS_SETUSER_ID /
    /// ARGUS_SETGROUP_ID).
    pub user: Option<String>,
    pub group: Option<String>,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            inputs: Vec::new(),
            interfaces: Vec::new(),
            output: None,
            access_port: None,
            bind_ip: None,
            model: ModelConfig::default(),
            mar_interval_s: 60,
            filter: None,
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(4),
            capture: CaptureMethod::Auto,
            xdp_mode: XdpMode::Auto,
            xdp_delivery: None,
            xdp_drop_unwanted: false,
            promiscuous: true,
            events: Vec::new(),
            user: None,
            group: None,
        }
    }
}

/// A bad configuration value: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError {
    pub file: String,
    pub line: usize,
    pub msg: String,
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.msg)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.msg)
        }
    }
}

impl std::error::Error for ConfError {}

/// Variables of argus 3's argus.conf that this sensor accepts without acting on them (argus'
/// own defaults already match, or the feature is not built yet); each gives one warning naming
/// it when set to something other than argus' default.
const ACCEPTED: &[(&str, &str)] = &[
    ("ARGUS_FLOW_TYPE", "Bidirectional"),
    ("ARGUS_FLOW_KEY", "CLASSIC_5_TUPLE"),
    ("ARGUS_DAEMON", "no"),
    ("ARGUS_DEBUG_LEVEL", "0"),
    ("ARGUS_FILTER_OPTIMIZER", "yes"),
    ("ARGUS_GENERATE_RESPONSE_TIME_DATA", "no"),
    ("ARGUS_GENERATE_TCP_PERF_METRIC", "yes"),
    ("ARGUS_GENERATE_BIDIRECTIONAL_TIMESTAMPS", "no"),
    ("ARGUS_SET_PID", ""),
    ("ARGUS_PID_PATH", ""),
    ("ARGUS_CHROOT_DIR", ""),
    ("ARGUS_SELF_SYNCHRONIZE", "no"),
    ("ARGUS_TUNNEL_DISCOVERY", "no"),
    ("ARGUS_TRACK_DUPLICATES", "no"),
    ("ARGUS_KEYSTROKE", "no"),
    ("ARGUS_KEYSTROKE_CONF", ""),
    ("ARGUS_CAPTURE_FULL_CONTROL_DATA", "no"),
    ("ARGUS_PACKET_CAPTURE_FILE", ""),
    ("ARGUS_PACKET_CAPTURE_ON_ERROR", "no"),
    ("ARGUS_ENV", ""),
    ("ARGUS_MIN_SSF", ""),
    ("ARGUS_MAX_SSF", ""),
    ("ARGUS_OUTPUT_STREAM", ""),
    ("ARGUS_IP_TIMEOUT", "30"),
    ("ARGUS_TCP_TIMEOUT", "60"),
    ("ARGUS_ICMP_TIMEOUT", "5"),
    ("ARGUS_IGMP_TIMEOUT", "30"),
    ("ARGUS_FRAG_TIMEOUT", "5"),
    ("ARGUS_ARP_TIMEOUT", "5"),
    ("ARGUS_OTHER_TIMEOUT", "30"),
];

impl SensorConfig {
    /// Apply an argus.conf file's text (`name` is used in messages). Returns the warnings.
    pub fn apply_conf(&mut self, name: &str, text: &str) -> Result<Vec<String>, ConfError> {
        let mut warnings = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = n + 1;
            let err = |msg: String| ConfError {
                file: name.to_string(),
                line,
                msg,
            };
            let t = raw.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let Some((var, val)) = t.split_once('=') else {
                return Err(err(format!("expected VAR=\"value\", found '{t}'")));
            };
            let var = var.trim();
            let val = unquote(val.trim()).map_err(|m| err(m.to_string()))?;
            if !var.starts_with("ARGUS_")
                || !var
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit())
            {
                return Err(err(format!("'{var}' is not a variable name")));
            }
            match self.set(var, &val) {
                Ok(true) => {}
                Ok(false) => {
                    let default = ACCEPTED.iter().find(|(v, _)| *v == var);
                    match default {
                        Some((_, d)) if d.eq_ignore_ascii_case(&val) || d.is_empty() && val.is_empty() => {}
                        Some(_) => warnings.push(format!(
                            "{name}:{line}: {var}=\"{val}\" is not supported by this sensor yet; ignored"
                        )),
                        None => warnings.push(format!("{name}:{line}: unknown variable {var}; ignored")),
                    }
                }
                Err(m) => return Err(err(format!("{var}: {m}"))),
            }
        }
        Ok(warnings)
    }

    /// Read and apply an argus.conf file.
    pub fn apply_conf_file(&mut self, path: &Path) -> Result<Vec<String>, ConfError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfError {
            file: name.clone(),
            line: 0,
            msg: format!("cannot read: {e}"),
        })?;
        self.apply_conf(&name, &text)
    }

    /// Set one variable. `Ok(false)`: not a variable this sensor acts on.
    fn set(&mut self, var: &str, val: &str) -> Result<bool, String> {
        match var {
            "ARGUS_INTERFACE" => {
                for i in val.split([',', ' ']).filter(|s| !s.is_empty()) {
                    // argus accepts "ind:eth0" and "dup:eth0" forms; the interface is the tail.
                    let name = i.rsplit(':').next().unwrap_or(i);
                    if !self.interfaces.iter().any(|x| x == name) {
                        self.interfaces.push(name.to_string());
                    }
                }
            }
            "ARGUS_OUTPUT_FILE" => self.output = Some(val.to_string()),
            "ARGUS_ACCESS_PORT" => self.access_port = Some(parse_num(val, "a port number")?),
            "ARGUS_BIND_IP" => {
                self.bind_ip = Some(
                    val.parse()
                        .map_err(|_| format!("'{val}' is not an IP address"))?,
                )
            }
            "ARGUS_MONITOR_ID" => self.model.srcid = parse_srcid(val)?,
            "ARGUS_FLOW_STATUS_INTERVAL" => {
                self.model.status_interval_us = parse_interval_us(val)?;
            }
            "ARGUS_MAR_STATUS_INTERVAL" => {
                let us = parse_interval_us(val)?;
                if us < 1_000_000 {
                    return Err(format!("'{val}' is shorter than one second"));
                }
                self.mar_interval_s = (us / 1_000_000) as u32;
            }
            "ARGUS_GENERATE_MAC_DATA" => self.model.mac = parse_yes_no(val)?,
            "ARGUS_GENERATE_APPBYTE_METRIC" => self.model.appbytes = parse_yes_no(val)?,
            "ARGUS_GENERATE_JITTER_DATA" => self.model.jitter = parse_yes_no(val)?,
            "ARGUS_GENERATE_PACKET_SIZE" => self.model.psize = parse_yes_no(val)?,
            "ARGUS_DEDUP" => self.model.dedup = crate::flow::dup::DedupMode::parse(val)?,
            "ARGUS_DEDUP_WINDOW" => self.model.dedup_window_us = parse_dedup_window(val)?,
            "ARGUS_CAPTURE_DATA_LEN" => self.model.user_len = parse_num(val, "a byte count")?,
            "ARGUS_GO_PROMISCUOUS" => self.promiscuous = parse_yes_no(val)?,
            "ARGUS_FILTER" => {
                self.filter = (!val.trim().is_empty()).then(|| val.trim().to_string())
            }
            "ARGUS_EVENT_DATA" => self.events.push(crate::event::EventSpec::parse(val)?),
            "ARGUS_XDP_UNWANTED" => self.xdp_drop_unwanted = parse_drop_pass(val)?,
            "ARGUS_XDP_META" => self.xdp_delivery = XdpDelivery::parse(val)?,
            "ARGUS_SETUSER_ID" => self.user = (!val.is_empty()).then(|| val.to_string()),
            "ARGUS_SETGROUP_ID" => self.group = (!val.is_empty()).then(|| val.to_string()),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Strip one pair of double quotes; a lone quote is an error.
fn unquote(v: &str) -> Result<String, &'static str> {
    let v = v.split_once(" #").map_or(v, |(a, _)| a).trim();
    match (v.starts_with('"'), v.len() >= 2 && v.ends_with('"')) {
        (true, true) => Ok(v[1..v.len() - 1].to_string()),
        (true, false) => Err("unterminated quoted value"),
        (false, _) if v.contains('"') => Err("stray quote in value"),
        _ => Ok(v.to_string()),
    }
}

fn parse_num<T: std::str::FromStr>(v: &str, what: &str) -> Result<T, String> {
    v.trim().parse().map_err(|_| format!("'{v}' is not {what}"))
}

/// `drop` or `pass` (true = drop).
pub fn parse_drop_pass(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "drop" => Ok(true),
        "pass" => Ok(false),
        _ => Err(format!("'{v}' is not drop or pass")),
    }
}

/// The duplicate window: an interval (`2ms`, `0.002`, ...) of 1 µs to 60 s, in µs.
pub fn parse_dedup_window(v: &str) -> Result<u32, String> {
    let us = parse_interval_us(v)?;
    if !(1..=60_000_000).contains(&us) {
        return Err(format!("'{v}' is not between 1us and 60s"));
    }
    Ok(us as u32)
}

fn parse_yes_no(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "1" | "true" | "on" => Ok(true),
        "no" | "n" | "0" | "false" | "off" => Ok(false),
        _ => Err(format!("'{v}' is not yes or no")),
    }
}

/// An interval in seconds, with an optional unit (`5`, `0.5`, `500ms`, `5s`, `1m`).
pub fn parse_interval_us(v: &str) -> Result<i64, String> {
    let t = v.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1e6)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60e6)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600e6)
    } else {
        (t, 1e6)
    };
    let x: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{v}' is not an interval"))?;
    if !x.is_finite() || x < 0.0 || x * mult > 86_400e6 * 365.0 {
        return Err(format!("'{v}' is not an interval"));
    }
    Ok((x * mult) as i64)
}

/// An argus source id: an IPv4 address, an integer, or up to four characters in quotes
/// (`"abcd"`); argus.conf also writes the string form without quotes when it is not a number.
pub fn parse_srcid(s: &str) -> Result<SrcId, String> {
    let t = s.trim().trim_matches('"');
    if let Ok(a) = t.parse::<std::net::Ipv4Addr>() {
        return Ok(SrcId::Ipv4(u32::from(a)));
    }
    if let Ok(v) = t.parse::<u32>() {
        return Ok(SrcId::Int(v));
    }
    if !t.is_empty() && t.len() <= 4 && t.is_ascii() && !t.contains(char::is_whitespace) {
        let mut b = [0u8; 4];
        b[..t.len()].copy_from_slice(t.as_bytes());
        return Ok(SrcId::Str(b));
    }
    Err(format!(
        "invalid source id '{s}' (IPv4 address, integer or up to four characters)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_default_file_is_accepted_silently() {
        let text = "#\n# comment\nARGUS_FLOW_TYPE=\"Bidirectional\"\nARGUS_FLOW_KEY=\"CLASSIC_5_TUPLE\"\n   \nARGUS_OUTPUT_FILE=/var/log/argus/argus.out\nARGUS_FLOW_STATUS_INTERVAL=5\nARGUS_MAR_STATUS_INTERVAL=60\n";
        let mut c = SensorConfig::default();
        let w = c.apply_conf("argus.conf", text).expect("valid");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.output.as_deref(), Some("/var/log/argus/argus.out"));
        assert_eq!(c.model.status_interval_us, 5_000_000);
        assert_eq!(c.mar_interval_s, 60);
    }

    #[test]
    fn variables_users_rely_on() {
        let text = r#"
ARGUS_INTERFACE=eth1,eth2
ARGUS_ACCESS_PORT=561
ARGUS_BIND_IP="127.0.0.1"
ARGUS_MONITOR_ID=10.1.2.3
ARGUS_FLOW_STATUS_INTERVAL=2.5
ARGUS_GENERATE_MAC_DATA=yes
ARGUS_GENERATE_APPBYTE_METRIC=yes
ARGUS_GENERATE_JITTER_DATA=yes
ARGUS_CAPTURE_DATA_LEN=32
ARGUS_FILTER="tcp or udp"
ARGUS_EVENT_DATA="file:/proc/vmstat:30s"
ARGUS_EVENT_DATA="prog:/usr/local/bin/rasnmp:1m:compress"
ARGUS_XDP_UNWANTED=drop
ARGUS_XDP_META=header
"#;
        let mut c = SensorConfig::default();
        let w = c.apply_conf("a.conf", text).expect("valid");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.interfaces, ["eth1", "eth2"]);
        assert_eq!(c.access_port, Some(561));
        assert_eq!(c.bind_ip, Some("127.0.0.1".parse().expect("ip")));
        assert_eq!(c.model.srcid, SrcId::Ipv4(0x0a01_0203));
        assert_eq!(c.model.status_interval_us, 2_500_000);
        assert!(c.model.mac && c.model.appbytes && c.model.jitter);
        assert_eq!(c.model.user_len, 32);
        assert_eq!(c.filter.as_deref(), Some("tcp or udp"));
        assert_eq!(c.events.len(), 2);
        assert!(c.xdp_drop_unwanted);
        assert_eq!(c.xdp_delivery, Some(XdpDelivery::Header));
    }

    #[test]
    fn unknown_variables_warn_and_bad_values_name_the_line() {
        let mut c = SensorConfig::default();
        let w = c
            .apply_conf("x.conf", "ARGUS_NO_SUCH_THING=1\nARGUS_TCP_TIMEOUT=120\n")
            .expect("warnings only");
        assert_eq!(w.len(), 2);
        assert!(w[0].contains("x.conf:1") && w[0].contains("unknown variable ARGUS_NO_SUCH_THING"));
        assert!(w[1].contains("x.conf:2") && w[1].contains("not supported"));
        for (text, line, what) in [
            ("\nARGUS_ACCESS_PORT=99999\n", 2, "port"),
            ("ARGUS_GENERATE_MAC_DATA=maybe\n", 1, "yes or no"),
            ("ARGUS_FLOW_STATUS_INTERVAL=-3\n", 1, "interval"),
            ("ARGUS_BIND_IP=nowhere\n", 1, "IP address"),
            ("ARGUS_XDP_META=meta\n", 1, "auto, area, header or user"),
            ("ARGUS_MONITOR_ID=\"toolong\"\n", 1, "source id"),
            ("ARGUS_FILTER=\"tcp\n", 1, "unterminated"),
            ("just words\n", 1, "VAR="),
        ] {
            let e = SensorConfig::default()
                .apply_conf("x.conf", text)
                .expect_err(text);
            assert_eq!(e.line, line, "{text}");
            assert!(e.to_string().contains(what), "{e} ({text})");
            assert!(e.to_string().starts_with(&format!("x.conf:{line}:")));
        }
    }

    #[test]
    fn intervals_with_units() {
        assert_eq!(parse_interval_us("5"), Ok(5_000_000));
        assert_eq!(parse_interval_us("500ms"), Ok(500_000));
        assert_eq!(parse_interval_us("1m"), Ok(60_000_000));
        assert_eq!(parse_interval_us("2h"), Ok(7_200_000_000));
        assert!(parse_interval_us("soon").is_err());
    }
}
