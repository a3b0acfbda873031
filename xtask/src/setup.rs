//! `cargo xtask setup`: idempotently install what the project needs on a fresh Debian machine
//! that only has the Rust toolchain. Every step says what it does; a failing step says what
//! failed and the command to run by hand.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::ebpf;

/// Debian packages the tests use as references and peers (`cargo xtask test` installs them;
/// the demo needs none: it builds with the Rust toolchain alone and reads a bundled capture).
pub const APT_PACKAGES: &[&str] = &[
    // Debian's argus 3.0.8 and its clients: the oracle of the compatibility tests.
    "argus-server",
    "argus-client",
    // tshark and capinfos count frames of the corpus (tests/capture_corpus.rs).
    "tshark",
    // ip netns / veth for the live tests.
    "iproute2",
    // rasnmp's peer (tests/generators.rs).
    "snmpd",
    // rasqlinsert/rasql tests start their own servers in temp dirs (tests/sql_servers.rs);
    // the packages' services are kept from starting at install (see `no_service_starts`).
    "mariadb-server",
    "mariadb-client",
    "clickhouse-server",
    "clickhouse-client",
];

/// bpf-linker release installed when none is on PATH. 0.10.x with its default features
/// (`rust-llvm-22`) loads the LLVM that ships inside the Rust toolchain at run time, so it
/// needs no LLVM development package. (0.13 would need Debian's llvm-22-dev and
/// `--features llvm-22`.)
pub const BPF_LINKER_VERSION: &str = "0.10.4";

/// The workspace root (the directory holding the top-level Cargo.toml), whatever the current
/// directory or CARGO_TARGET_DIR.
pub fn workspace_root() -> PathBuf {
    let xtask_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    xtask_dir.parent().map(PathBuf::from).unwrap_or(xtask_dir)
}

/// `cargo xtask setup [--check]`: with `--check`, report what is missing and install nothing.
pub fn run(args: &[String]) -> Result<()> {
    let mut check_only = false;
    for a in args {
        match a.as_str() {
            "--check" => check_only = true,
            other => {
                bail!("setup: unknown argument `{other}` (usage: cargo xtask setup [--check])")
            }
        }
    }
    let t0 = Instant::now();
    if check_only {
        let missing = missing_all();
        if missing.is_empty() {
            println!("setup: everything is installed");
            return Ok(());
        }
        for m in &missing {
            println!("setup: missing: {m}");
        }
        bail!(
            "{} prerequisite(s) missing; run `cargo xtask setup`",
            missing.len()
        );
    }
    ensure_all()?;
    println!("setup: done in {:.1}s", t0.elapsed().as_secs_f64());
    Ok(())
}

/// Installs whatever is missing (apt packages, rust-src, bpf-linker). Cheap when all is there:
/// the test verb calls it first.
pub fn ensure_all() -> Result<()> {
    ensure_apt_packages()?;
    ensure_build()
}

/// Installs what building everything needs, the XDP program included (rust-src, bpf-linker),
/// and nothing the tests alone need: the demo calls it.
pub fn ensure_build() -> Result<()> {
    ensure_rust_src()?;
    ensure_bpf_linker()?;
    Ok(())
}

/// Human-readable list of what `ensure_all` would install.
pub fn missing_all() -> Vec<String> {
    let mut v = Vec::new();
    let pk = missing_apt_packages();
    if !pk.is_empty() {
        v.push(format!("Debian packages: {}", pk.join(" ")));
    }
    let tc = ebpf::toolchain();
    if !ebpf::has_rust_src(&tc) {
        v.push(format!("rust-src component for toolchain `{tc}`"));
    }
    if ebpf::bpf_linker_version().is_none() {
        v.push("bpf-linker".into());
    }
    v
}

fn missing_apt_packages() -> Vec<&'static str> {
    APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(p))
        .collect()
}

fn dpkg_installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout).trim() == "install ok installed"
        })
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn ensure_apt_packages() -> Result<()> {
    if Command::new("dpkg-query")
        .arg("--version")
        .output()
        .is_err()
    {
        bail!(
            "dpkg-query not found: this is not a Debian-like system. Install by hand: {}",
            APT_PACKAGES.join(" ")
        );
    }
    let missing = missing_apt_packages();
    if missing.is_empty() {
        println!("setup: Debian packages: all {} present", APT_PACKAGES.len());
        return Ok(());
    }
    let list = missing.join(" ");
    println!("setup: Debian packages: missing {list}");
    if !is_root() {
        bail!(
            "installing Debian packages needs root. Run by hand:\n    \
             sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {list}"
        );
    }
    // tshark pulls in wireshark-common, which asks whether non-root users may capture.
    // Answer "no" up front so the install never prompts.
    let preseed = "wireshark-common wireshark-common/install-setuid boolean false\n";
    step_with_stdin(
        "preseed debconf (wireshark-common/install-setuid=false)",
        Command::new("debconf-set-selections"),
        preseed,
        "echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections",
    )?;
    let mut update = Command::new("apt-get");
    update
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["update", "-q"]);
    step("apt-get update", &mut update)?;
    let mut install = Command::new("apt-get");
    install
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing);
    let guard = no_service_starts();
    let res = step(&format!("install {list}"), &mut install);
    drop(guard);
    res?;
    let still = missing_apt_packages();
    if !still.is_empty() {
        bail!(
            "apt-get reported success but these are still not installed: {}. Run by hand:\n    \
             DEBIAN_FRONTEND=noninteractive apt-get install -y {}",
            still.join(" "),
            still.join(" ")
        );
    }
    Ok(())
}

/// While alive, a `policy-rc.d` that denies every service start, so that installing
/// mariadb-server or clickhouse-server does not start (or enable) system-wide daemons on port
/// 3306/8123: the tests run their own servers. Only created when the machine has none
/// (container images usually ship one that already denies); removed on drop.
struct NoServiceStarts(Option<PathBuf>);

fn no_service_starts() -> NoServiceStarts {
    let p = PathBuf::from("/usr/sbin/policy-rc.d");
    if p.exists() {
        return NoServiceStarts(None);
    }
    let made = std::fs::write(
        &p,
        "#!/bin/sh\n# cargo xtask setup: no service starts during install\nexit 101\n",
    )
    .and_then(|_| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
    });
    match made {
        Ok(()) => {
            println!(
                "setup: services kept from starting during the install (temporary {})",
                p.display()
            );
            NoServiceStarts(Some(p))
        }
        Err(e) => {
            println!(
                "setup: warning: could not write {}: {e}; package services may start",
                p.display()
            );
            NoServiceStarts(None)
        }
    }
}

impl Drop for NoServiceStarts {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn ensure_rust_src() -> Result<()> {
    let tc = ebpf::toolchain();
    if !ebpf::has_toolchain(&tc) {
        bail!(
            "rust toolchain `{tc}` (used for the XDP program) is not installed. Run by hand:\n    \
             rustup toolchain install {tc} --profile minimal --component rust-src\n\
             or pick another one with ARGUS_EBPF_TOOLCHAIN=<toolchain>"
        );
    }
    if ebpf::has_rust_src(&tc) {
        println!("setup: rust-src for toolchain `{tc}`: present");
        return Ok(());
    }
    let mut cmd = Command::new("rustup");
    cmd.args(["component", "add", "rust-src", "--toolchain", &tc]);
    step(&format!("add rust-src to toolchain `{tc}`"), &mut cmd)?;
    if !ebpf::has_rust_src(&tc) {
        bail!("rustup said rust-src was added to `{tc}` but its library sources are still missing");
    }
    Ok(())
}

fn ensure_bpf_linker() -> Result<()> {
    if let Some(v) = ebpf::bpf_linker_version() {
        println!("setup: bpf-linker: present ({v})");
        return Ok(());
    }
    let mut cmd = Command::new("cargo");
    cmd.args([
        "install",
        "bpf-linker",
        "--locked",
        "--version",
        BPF_LINKER_VERSION,
    ]);
    // Build it with the default toolchain; keep inherited per-build settings out of it.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "RUSTC_BOOTSTRAP",
    ] {
        cmd.env_remove(var);
    }
    println!(
        "setup: bpf-linker: not found; building it from crates.io (several minutes on 2 cores)"
    );
    step(
        &format!("cargo install bpf-linker {BPF_LINKER_VERSION}"),
        &mut cmd,
    )?;
    match ebpf::bpf_linker_version() {
        Some(v) => {
            println!("setup: bpf-linker: installed ({v})");
            Ok(())
        }
        None => bail!(
            "bpf-linker was installed but `bpf-linker --version` still fails: is ~/.cargo/bin on PATH?"
        ),
    }
}

/// Shell-like rendering of a command for "run by hand" messages.
pub fn show(cmd: &Command) -> String {
    let mut s = String::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            s.push_str(&format!(
                "{}={} ",
                k.to_string_lossy(),
                quote(&v.to_string_lossy())
            ));
        }
    }
    s.push_str(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&quote(&a.to_string_lossy()));
    }
    s
}

fn quote(a: &str) -> String {
    if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$\\;&|<>()*?".contains(c)) {
        format!("'{}'", a.replace('\'', "'\\''"))
    } else {
        a.to_string()
    }
}

/// Runs one setup step, echoing it first; on failure the error names the step and the command.
pub fn step(what: &str, cmd: &mut Command) -> Result<()> {
    let shown = show(cmd);
    println!("setup: {what}: {shown}");
    let t0 = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("{what}: could not start `{shown}`"))?;
    if !status.success() {
        bail!("{what} failed ({status}). Run by hand:\n    {shown}");
    }
    println!("setup: {what}: ok ({:.1}s)", t0.elapsed().as_secs_f64());
    Ok(())
}

fn step_with_stdin(what: &str, mut cmd: Command, input: &str, by_hand: &str) -> Result<()> {
    use std::io::Write;
    println!("setup: {what}");
    let mut run = || -> std::io::Result<std::process::ExitStatus> {
        let mut child = cmd.stdin(std::process::Stdio::piped()).spawn()?;
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.as_bytes())?;
        child.wait()
    };
    match run() {
        Ok(st) if st.success() => Ok(()),
        Ok(st) => bail!("{what} failed ({st}). Run by hand:\n    {by_hand}"),
        Err(e) => bail!("{what} failed: {e}. Run by hand:\n    {by_hand}"),
    }
}
