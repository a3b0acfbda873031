//! `cargo xtask fidelity [--scenarios N] [--seed S] [--corpus DIR] [--shrink N]`: builds our
//! sensor and clients in release mode and `argus-fidelity`, runs N generated scenarios (and the
//! capture files of DIR) through Debian's argus and ours, and writes `perf/fidelity.md`;
//! shrunk captures of the differences go to `target/fidelity/` (fidelity/src/lib.rs).

use crate::test::cargo;
use anyhow::{bail, Context, Result};

pub fn run(args: &[String]) -> Result<()> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("usage: cargo xtask fidelity [--scenarios N] [--seed FIRST] [--corpus DIR] [--shrink N] [--batch N]");
        return Ok(());
    }
    crate::setup::ensure_all()?;
    let root = crate::workspace_root();
    for p in ["argus-user", "argus-fidelity"] {
        let st = cargo(&root, &["build", "--release", "-p", p])
            .status()
            .with_context(|| format!("cargo build -p {p}"))?;
        if !st.success() {
            bail!("cargo build --release -p {p} failed");
        }
    }
    let out = root.join("perf/fidelity.md");
    let st = std::process::Command::new(root.join("target/release/argus-fidelity"))
        .current_dir(&root)
        .args(args)
        .arg("--bin")
        .arg(root.join("target/release"))
        .arg("--failures")
        .arg(root.join("target/fidelity"))
        .arg("--out")
        .arg(&out)
        .status()
        .context("run argus-fidelity")?;
    if !st.success() {
        bail!("argus-fidelity failed");
    }
    println!("wrote {}", out.display());
    Ok(())
}
