//! `cargo xtask <verb>`: project chores that are not plain `cargo build`.
//!
//! Verbs:
//!   setup                    install/check everything the project needs (apt, rust-src, bpf-linker)
//!   build-ebpf [--release] [--log]
//!                            build the XDP program to target/bpf/argus-xdp.o
//!   demo | test | perf       see their modules

mod ebpf;
mod fidelity;
mod perf_sql;
mod setup;

// ---- Verbs owned by other parts of the project: each lives in its own file and exposes
// ---- `pub fn run(args: &[String]) -> anyhow::Result<()>`. Replace those files, not this dispatch.
#[allow(unused_variables)]
mod demo;
#[allow(unused_variables)]
mod perf;
mod perf_clients;
mod perf_live;
#[allow(unused_variables)]
mod test;
// ---- end of verbs owned by others.

use std::process::ExitCode;

#[allow(unused_imports)]
pub use setup::{ensure_all, workspace_root};

const USAGE: &str = "\
usage: cargo xtask <verb> [args]

verbs:
  setup                          install or check what the project needs (Debian packages,
                                 rust-src for the eBPF toolchain, bpf-linker); idempotent
  build-ebpf [--release] [--log] build argus-ebpf and copy it to target/bpf/argus-xdp.o
  demo [args]                    end-to-end demo
  test [args]                    full test suite
  perf [args]                    performance scenarios
  perf-sql [--copies N] [--runs R]
                                 rasqlinsert records/s into SQLite, MariaDB, ClickHouse
                                 (starts its own servers); writes perf/sql.md
  fidelity [--scenarios N] [--seed S] [--corpus DIR] [--shrink N]
                                 generated scenarios through Debian's argus and ours;
                                 writes perf/fidelity.md (differences in target/fidelity/)

environment:
  ARGUS_EBPF_TOOLCHAIN           rustup toolchain used for the XDP program (default: stable,
                                 with RUSTC_BOOTSTRAP=1 for -Z build-std)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(verb) = args.first().map(String::as_str) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match verb {
        "setup" => setup::run(rest),
        "build-ebpf" => ebpf::run(rest),
        // Verbs owned by others (see the module list above).
        "demo" => demo::run(rest),
        "test" => test::run(rest),
        "perf" => perf::run(rest),
        "perf-sql" => perf_sql::run(rest),
        "fidelity" => fidelity::run(rest),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            eprintln!("xtask: unknown verb `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {verb}: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
