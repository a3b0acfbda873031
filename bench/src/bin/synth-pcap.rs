//! `synth-pcap OUT.pcap [--packets N] [--flows F] [--seed S]`: write the synthetic capture and
//! print its statistics as `key=value` lines (used by `cargo xtask perf`).
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = None;
    let mut packets = 2_000_000u64;
    let mut flows = 100_000u32;
    let mut seed = 1u64;
    let mut i = 0;
    while i < args.len() {
        let val = |i: usize| -> String {
            args.get(i + 1).cloned().unwrap_or_else(|| {
                eprintln!("synth-pcap: {} needs a value", args[i]);
                std::process::exit(2)
            })
        };
        match args[i].as_str() {
            "--packets" => {
                packets = val(i).parse().expect("--packets");
                i += 1;
            }
            "--flows" => {
                flows = val(i).parse().expect("--flows");
                i += 1;
            }
            "--seed" => {
                seed = val(i).parse().expect("--seed");
                i += 1;
            }
            a if !a.starts_with('-') && out.is_none() => out = Some(a.to_string()),
            a => {
                eprintln!(
                    "usage: synth-pcap OUT.pcap [--packets N] [--flows F] [--seed S] (bad: {a})"
                );
                std::process::exit(2)
            }
        }
        i += 1;
    }
    let Some(out) = out else {
        eprintln!("usage: synth-pcap OUT.pcap [--packets N] [--flows F] [--seed S]");
        std::process::exit(2)
    };
    let t = Instant::now();
    let st = match argus_bench::write_synthetic(&out, packets, flows, seed) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("synth-pcap: {out}: {e}");
            std::process::exit(1)
        }
    };
    let secs = t.elapsed().as_secs_f64();
    println!("generator_version={}", argus_bench::GENERATOR_VERSION);
    println!("packets={}", st.packets);
    println!("bytes={}", st.bytes);
    println!("file_bytes={}", st.file_bytes);
    println!("flows={}", st.flows);
    println!("tcp_flows={}", st.tcp_flows);
    println!("udp_flows={}", st.udp_flows);
    println!("dns_flows={}", st.dns_flows);
    println!("icmp_flows={}", st.icmp_flows);
    println!("ipv6_flows={}", st.ipv6_flows);
    println!("vlan_flows={}", st.vlan_flows);
    println!("span_us={}", st.last_us - st.first_us);
    println!("seed={seed}");
    eprintln!(
        "synth-pcap: {} packets, {:.1} MB in {:.2} s ({:.0} MB/s)",
        st.packets,
        st.file_bytes as f64 / 1e6,
        secs,
        st.file_bytes as f64 / 1e6 / secs
    );
}
