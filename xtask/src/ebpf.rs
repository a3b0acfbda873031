//! `cargo xtask build-ebpf [--release] [--log] [--out PATH]`: build `argus-ebpf` for
//! bpfel-unknown-none and copy the object to `<workspace>/target/bpf/argus-xdp.o` (or `PATH`:
//! e.g. the `--log` object for `ARGUS_XDP_OBJECT`, without replacing the embedded one).
//!
//! Toolchain mechanism: the rustup toolchain named by `ARGUS_EBPF_TOOLCHAIN` (default `stable`)
//! with `RUSTC_BOOTSTRAP=1`, so `-Z build-std=core` works on stable too; it needs the `rust-src`
//! component. Linking goes through `bpf-linker` (found on PATH by rustc's bpf target).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::setup::{show, workspace_root};

pub const TARGET: &str = "bpfel-unknown-none";
/// Name of the binary target in argus-ebpf/Cargo.toml.
pub const BIN: &str = "argus-xdp";

/// The rustup toolchain used to build the XDP program.
pub fn toolchain() -> String {
    std::env::var("ARGUS_EBPF_TOOLCHAIN")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "stable".to_string())
}

fn rustup_rustc(tc: &str) -> Command {
    let mut c = Command::new("rustup");
    c.args(["run", tc, "rustc"]);
    c
}

pub fn has_toolchain(tc: &str) -> bool {
    rustup_rustc(tc)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

pub fn sysroot(tc: &str) -> Option<PathBuf> {
    let o = rustup_rustc(tc)
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    if !o.status.success() {
        return None;
    }
    Some(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
}

pub fn has_rust_src(tc: &str) -> bool {
    sysroot(tc)
        .map(|s| {
            s.join("lib/rustlib/src/rust/library/core/Cargo.toml")
                .is_file()
        })
        .unwrap_or(false)
}

/// `bpf-linker --version` output, if it runs.
pub fn bpf_linker_version() -> Option<String> {
    let o = Command::new("bpf-linker").arg("--version").output().ok()?;
    if !o.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// Stable path of the built object, relative to nothing: absolute under the workspace root.
pub fn object_path() -> PathBuf {
    workspace_root().join("target/bpf/argus-xdp.o")
}

/// Where cargo builds argus-ebpf (its own target dir, never the workspace's CARGO_TARGET_DIR).
fn ebpf_target_dir() -> PathBuf {
    std::env::var_os("ARGUS_EBPF_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("argus-ebpf/target"))
}

pub fn run(args: &[String]) -> Result<()> {
    let mut release = false;
    let mut log = false;
    let mut out = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--release" => release = true,
            "--log" => log = true,
            "--out" => match it.next() {
                Some(p) => out = Some(PathBuf::from(p)),
                None => bail!("--out needs a path"),
            },
            other => bail!(
                "unknown argument `{other}` (usage: cargo xtask build-ebpf [--release] [--log] \
                 [--out PATH])"
            ),
        }
    }
    let obj = build_to(release, log, out.as_deref())?;
    println!("{}", obj.display());
    Ok(())
}

/// Checks the prerequisites and lists everything that is missing at once.
pub fn check_prerequisites() -> Result<()> {
    let tc = toolchain();
    let mut missing = Vec::new();
    if Command::new("rustup").arg("--version").output().is_err() {
        bail!("rustup not found on PATH: it is needed to pick the toolchain for the XDP program");
    }
    if !has_toolchain(&tc) {
        missing.push(format!(
            "rust toolchain `{tc}`: rustup toolchain install {tc} --profile minimal --component rust-src"
        ));
    } else if !has_rust_src(&tc) {
        missing.push(format!(
            "rust-src for toolchain `{tc}` (needed by -Z build-std=core): rustup component add rust-src --toolchain {tc}"
        ));
    }
    if bpf_linker_version().is_none() {
        missing.push(format!(
            "bpf-linker on PATH: cargo install bpf-linker --locked --version {}",
            crate::setup::BPF_LINKER_VERSION
        ));
    }
    if missing.is_empty() {
        return Ok(());
    }
    let mut msg = String::from("cannot build the XDP program, missing:\n");
    for m in &missing {
        msg.push_str("  - ");
        msg.push_str(m);
        msg.push('\n');
    }
    msg.push_str("`cargo xtask setup` installs all of these.");
    bail!(msg)
}

/// Builds argus-ebpf and returns the path of the copied object ([`object_path`]).
pub fn build(release: bool, log: bool) -> Result<PathBuf> {
    build_to(release, log, None)
}

/// Path of the `--log` object that `cargo xtask test` builds for `tests/live_xdp.rs` (next to the
/// default object, which it does not replace).
pub fn log_object_path() -> PathBuf {
    workspace_root().join("target/bpf/argus-xdp-log.o")
}

/// [`build`], copying the object to `out` instead of [`object_path`] when given. The log
/// feature builds into its own cargo target directory (`<dir>-log`) so that alternating builds
/// do not rebuild each other.
pub fn build_to(release: bool, log: bool, out: Option<&Path>) -> Result<PathBuf> {
    check_prerequisites()?;
    let root = workspace_root();
    let crate_dir = root.join("argus-ebpf");
    let mut target_dir = ebpf_target_dir();
    if log {
        let mut d = target_dir.into_os_string();
        d.push("-log");
        target_dir = PathBuf::from(d);
    }
    let tc = toolchain();

    let mut cmd = Command::new("rustup");
    cmd.args(["run", &tc, "cargo", "build"])
        .current_dir(&crate_dir)
        .args(["--target", TARGET, "-Z", "build-std=core", "--bin", BIN])
        .arg("--target-dir")
        .arg(&target_dir);
    if release {
        cmd.arg("--release");
    }
    if log {
        cmd.args(["--features", "log"]);
    }
    // Inherited settings from the outer `cargo xtask` must not leak into a bpf build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTUP_TOOLCHAIN",
        "CARGO",
    ] {
        cmd.env_remove(var);
    }
    // -Z build-std on any channel; BTF (from debuginfo) describes the `.maps` section.
    cmd.env("RUSTC_BOOTSTRAP", "1")
        .env("RUSTFLAGS", "-Cdebuginfo=2 -Clink-arg=--btf");
    let shown = format!("(cd {} && {})", crate_dir.display(), show(&cmd));
    eprintln!("build-ebpf: {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !status.success() {
        bail!("building argus-ebpf failed ({status}). Command:\n    {shown}");
    }

    let profile = if release { "release" } else { "debug" };
    let built = target_dir.join(TARGET).join(profile).join(BIN);
    let obj = out.map(Path::to_path_buf).unwrap_or_else(object_path);
    std::fs::create_dir_all(obj.parent().expect("has parent"))
        .with_context(|| format!("creating {}", obj.parent().unwrap().display()))?;
    std::fs::copy(&built, &obj)
        .with_context(|| format!("copying {} to {}", built.display(), obj.display()))?;
    check_object(&obj)?;
    Ok(obj)
}

/// Sanity check: an ELF64 little-endian eBPF object with an `xdp` program section and a
/// `.maps` section.
pub fn check_object(path: &Path) -> Result<()> {
    let b = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let sections = elf_section_names(&b)
        .with_context(|| format!("{} is not a readable ELF64 LE object", path.display()))?;
    let machine = u16::from_le_bytes([b[18], b[19]]);
    if machine != 247 {
        bail!(
            "{}: e_machine is {machine}, not EM_BPF (247)",
            path.display()
        );
    }
    for want in ["xdp", ".maps", "license", ".BTF"] {
        if !sections.iter().any(|s| s == want) {
            bail!(
                "{}: section `{want}` is missing (sections: {})",
                path.display(),
                sections.join(" ")
            );
        }
    }
    Ok(())
}

fn elf_section_names(b: &[u8]) -> Option<Vec<String>> {
    let rd16 = |o: usize| Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?) as usize);
    let rd32 = |o: usize| Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?) as usize);
    let rd64 = |o: usize| Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?) as usize);
    if b.get(0..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let shoff = rd64(0x28)?;
    let shentsize = rd16(0x3a)?;
    let shnum = rd16(0x3c)?;
    let shstrndx = rd16(0x3e)?;
    let strtab_off = rd64(shoff + shstrndx * shentsize + 0x18)?;
    let mut names = Vec::with_capacity(shnum);
    for i in 0..shnum {
        let name_off = rd32(shoff + i * shentsize)?;
        let start = strtab_off + name_off;
        let end = start + b.get(start..)?.iter().position(|&c| c == 0)?;
        names.push(String::from_utf8_lossy(&b[start..end]).into_owned());
    }
    Some(names)
}
