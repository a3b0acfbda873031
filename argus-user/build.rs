//! Embeds the XDP program into the binaries when it has been built.
//!
//! `cargo xtask build-ebpf` writes `<workspace>/target/bpf/argus-xdp.o` (always under the
//! workspace root, whatever CARGO_TARGET_DIR says; `cargo xtask test` builds it before the
//! workspace). If the file exists, it is copied to OUT_DIR and the `argus_xdp_embedded` cfg is
//! set, so `capture::xdp` includes it with `include_bytes!`. If it does not, the library builds
//! without it and `argus --capture xdp` says so at run time (`ARGUS_XDP_OBJECT=path` can still
//! name an object to load). `ARGUS_XDP_OBJECT` at build time picks another object to embed.

use std::path::PathBuf;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(argus_xdp_embedded)");
    println!("cargo:rerun-if-env-changed=ARGUS_XDP_OBJECT");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let obj = std::env::var_os("ARGUS_XDP_OBJECT")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target/bpf/argus-xdp.o"));
    // Watch the directory too, so a first `cargo xtask build-ebpf` triggers a rebuild.
    if let Some(dir) = obj.parent() {
        if dir.is_dir() {
            println!("cargo:rerun-if-changed={}", dir.display());
        }
    }
    println!("cargo:rerun-if-changed={}", obj.display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let dest = out.join("argus-xdp.o");
    if obj.is_file() {
        std::fs::copy(&obj, &dest).unwrap_or_else(|e| panic!("copying {}: {e}", obj.display()));
        println!("cargo:rustc-cfg=argus_xdp_embedded");
    } else {
        let _ = std::fs::remove_file(&dest);
        println!(
            "cargo:warning=XDP program not embedded ({} missing: run `cargo xtask build-ebpf`)",
            obj.display()
        );
    }
}
