//! `argus`: the flow sensor. This build reads captures (`-r`); live capture follows.
//!
//! Exit status: 0 success; 1 usage or output error; 2 an input was damaged or unreadable
//! (records of everything read before the damage were still written).
use argus::capture;
use argus::engine::{self, EngineConfig};
use argus::flow::ModelConfig;
use argus::output::StreamWriter;
use argus::record::SrcId;
use std::process::ExitCode;

const USAGE: &str = "usage: argus [-X] [-r file ...] [-w file|-] [-e srcid] [-S secs] [-m] [-A] [-J] [-Z] [-R] [-U bytes] [--workers N]";

fn parse_srcid(s: &str) -> Result<SrcId, String> {
    let t = s.trim_matches('"');
    if let Ok(a) = t.parse::<std::net::Ipv4Addr>() {
        return Ok(SrcId::Ipv4(u32::from(a)));
    }
    if let Ok(v) = t.parse::<u32>() {
        return Ok(SrcId::Int(v));
    }
    if s.starts_with('"') && t.len() <= 4 {
        let mut b = [0u8; 4];
        b[..t.len()].copy_from_slice(t.as_bytes());
        return Ok(SrcId::Str(b));
    }
    Err(format!(
        "argus: invalid source id '{s}' (IPv4 address, integer or \"four\" characters)"
    ))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut inputs: Vec<String> = Vec::new();
    let mut output: Option<String> = None;
    let mut model = ModelConfig::default();
    let mut workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(4);
    let mut i = 0;
    let need = |i: &mut usize, flag: &str| -> Result<String, String> {
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| format!("argus: option {flag} needs a value\n{USAGE}"))
    };
    let res: Result<(), String> = (|| {
        while i < args.len() {
            let a = args[i].as_str();
            match a {
                "-r" => inputs.push(need(&mut i, a)?),
                "-w" => output = Some(need(&mut i, a)?),
                "-e" => model.srcid = parse_srcid(&need(&mut i, a)?)?,
                "-S" => {
                    let v = need(&mut i, a)?;
                    let secs: f64 = v
                        .parse()
                        .map_err(|_| format!("argus: -S: bad interval '{v}'"))?;
                    if secs.is_nan() || secs < 0.0 {
                        return Err(format!("argus: -S: bad interval '{v}'"));
                    }
                    model.status_interval_us = (secs * 1e6) as i64;
                }
                "-U" => {
                    let v = need(&mut i, a)?;
                    model.user_len = v
                        .parse()
                        .map_err(|_| format!("argus: -U: bad length '{v}'"))?;
                }
                "--workers" => {
                    let v = need(&mut i, a)?;
                    workers = v
                        .parse()
                        .map_err(|_| format!("argus: --workers: bad count '{v}'"))?;
                }
                "-m" => model.mac = true,
                "-A" => model.appbytes = true,
                "-J" => model.jitter = true,
                "-Z" => model.psize = true,
                "-R" | "-X" | "-d" => {}
                "-h" | "--help" => return Err(USAGE.to_string()),
                _ => return Err(format!("argus: unknown option '{a}'\n{USAGE}")),
            }
            i += 1;
        }
        Ok(())
    })();
    if let Err(e) = res {
        eprintln!("{e}");
        return ExitCode::from(1);
    }
    if inputs.is_empty() {
        eprintln!(
            "argus: no input: give -r FILE (live capture arrives with the next release)\n{USAGE}"
        );
        return ExitCode::from(1);
    }
    let out_path = output.unwrap_or_else(|| "-".to_string());
    let mut damaged = false;
    let mut sources = Vec::new();
    for p in &inputs {
        match capture::open(p) {
            Ok(s) => sources.push(s),
            Err(e) => {
                eprintln!("argus: {e}");
                damaged = true;
            }
        }
    }
    let interval = (model.status_interval_us / 1_000_000).clamp(0, u16::MAX as i64) as u16;
    let mut writer = match StreamWriter::open(&out_path, model.srcid, interval) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("argus: cannot write {out_path}: {e}");
            return ExitCode::from(1);
        }
    };
    let cfg = EngineConfig { workers, model };
    let report = engine::run(&cfg, sources, &mut writer);
    for w in &report.warnings {
        eprintln!("argus: warning: {w}");
    }
    for e in &report.errors {
        eprintln!("argus: error: {e}");
        damaged = true;
    }
    if let Err(e) = writer.finish() {
        eprintln!("argus: write error on {out_path}: {e}");
        return ExitCode::from(1);
    }
    if damaged {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
