//! `cargo xtask demo`: install what building needs (rust-src, bpf-linker; no Debian packages),
//! build everything, run the sensor on the bundled sample capture `samples/wikipedia.pcap` and
//! print its flow records with our `ra`.
//!
//! Output goes to `target/demo/wikipedia.argus` (deleted first: argus appends to `-w` files).
//! If our `ra` fails or prints no records, the demo fails, unless Debian's `/usr/bin/ra` is
//! installed: it then prints the records with that one and says so.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::setup::{show, workspace_root};
use crate::test::{cargo, run_echoed, Steps};
use crate::{ebpf, setup};

const USAGE: &str = "usage: cargo xtask demo";
const SAMPLE: &str = "samples/wikipedia.pcap";
const DEBIAN_RA: &str = "/usr/bin/ra";

pub fn run(args: &[String]) -> Result<()> {
    if let Some(a) = args.first() {
        if a == "-h" || a == "--help" {
            println!("{USAGE}");
            return Ok(());
        }
        bail!("unknown argument `{a}` ({USAGE})");
    }
    let root = workspace_root();
    let release = root.join("target/release");
    let argus = release.join("argus");
    let ra = release.join("ra");
    let sample = root.join(SAMPLE);
    let out_dir = root.join("target/demo");
    let out = out_dir.join("wikipedia.argus");
    let mut steps = Steps::new("demo", 5);

    steps.call(
        "set-up (rust-src and bpf-linker for the XDP program)",
        setup::ensure_build,
    )?;

    steps.cmd(
        "release build of the sensor and clients",
        &mut cargo(&root, &["build", "--release", "-p", "argus-user"]),
    )?;

    steps.call("build the XDP program (cargo xtask build-ebpf)", || {
        let obj = ebpf::build(false, false)?;
        println!("built {}", obj.display());
        Ok(())
    })?;

    steps.header("run the sensor on the sample capture");
    if !sample.is_file() {
        bail!(
            "step `run the sensor`: sample capture {} is missing (see samples/README.md)",
            sample.display()
        );
    }
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    match std::fs::remove_file(&out) {
        Ok(()) => println!("removed old {} (argus appends to -w files)", out.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", out.display())),
    }
    let mut cmd = Command::new(&argus);
    cmd.arg("-r")
        .arg(SAMPLE)
        .arg("-w")
        .arg(&out)
        .current_dir(&root);
    run_echoed("run the sensor", &mut cmd)?;
    let size = std::fs::metadata(&out)
        .with_context(|| format!("argus exited 0 but wrote no {}", out.display()))?
        .len();
    println!("wrote {} ({size} bytes)", out.display());

    steps.header("print the flow records with ra");
    let mut cmd = Command::new(&ra);
    cmd.arg("-n").arg("-r").arg(&out).current_dir(&root);
    let shown = show(&cmd);
    println!("$ {shown}");
    let fallback_reason = match cmd.output() {
        Ok(o) if o.status.success() && record_lines(&o.stdout) > 0 => {
            print!("{}", String::from_utf8_lossy(&o.stdout));
            eprint!("{}", String::from_utf8_lossy(&o.stderr));
            None
        }
        Ok(o) if o.status.success() => Some("it printed no flow records".to_string()),
        Ok(o) => Some(format!(
            "it failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("it could not be started: {e}")),
    };
    if let Some(why) = fallback_reason {
        if !std::path::Path::new(DEBIAN_RA).is_file() {
            bail!(
                "step `print the flow records`: our ra ({}) is not usable here: {why}",
                ra.display()
            );
        }
        println!("NOTE: our ra ({}) is not usable here: {why}", ra.display());
        println!("NOTE: printing the same file with Debian's {DEBIAN_RA} instead");
        let mut cmd = Command::new(DEBIAN_RA);
        cmd.arg("-n").arg("-r").arg(&out).current_dir(&root);
        run_echoed("print the flow records with Debian's ra", &mut cmd)?;
    }

    println!();
    println!(
        "xtask demo: done in {:.1}s; records are in {}",
        steps.elapsed(),
        out.display()
    );
    Ok(())
}

/// Lines of ra output other than the column header.
fn record_lines(stdout: &[u8]) -> usize {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("StartTime"))
        .count()
}
