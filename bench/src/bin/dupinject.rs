//! `dupinject -r IN -w OUT.pcap [options]`: add SPAN-style duplicate copies to an Ethernet
//! capture and print the ground truth (see `argus_bench::dupinject`).
//!
//! The truth goes to standard output, one line per flow with copies:
//! `proto addrA portA addrB portB copies_a_to_b bytes_a_to_b copies_b_to_a bytes_b_to_a`
//! (A is the smaller endpoint), then a `total` line.
use argus_bench::dupinject::{inject, read_ethernet, write_pcap, Config, Mutation, Order};
use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Inject SPAN duplicate copies with known ground truth")]
struct Args {
    /// Capture to read (pcap or pcapng, Ethernet).
    #[arg(short = 'r')]
    input: String,
    /// Capture to write (pcap).
    #[arg(short = 'w')]
    output: String,
    /// Percentage of eligible frames (or runs) copied.
    #[arg(long, default_value_t = 30)]
    percent: u64,
    /// Longest delay of a copy after its original, µs.
    #[arg(long, default_value_t = 50)]
    max_delay_us: u32,
    /// `adjacent` (1,1,2,2,3,3) or `runs` (1,2,3,1,2,3).
    #[arg(long, default_value = "adjacent")]
    order: String,
    /// Copy only the direction of each flow's first frame.
    #[arg(long)]
    one_way: bool,
    /// At most this many later packets of the flow and direction between a packet and its copy.
    #[arg(long)]
    reach: Option<usize>,
    /// Comma-separated mutations: none, mac, vlan (add tag 20), unvlan, ttl.
    #[arg(long, default_value = "none,mac,vlan,unvlan,ttl")]
    mutate: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let order = match a.order.as_str() {
        "adjacent" => Order::Adjacent,
        "runs" => Order::Runs,
        o => {
            eprintln!("dupinject: --order {o}: expected adjacent or runs");
            return ExitCode::from(2);
        }
    };
    let mut mutations = Vec::new();
    for m in a.mutate.split(',').filter(|m| !m.is_empty()) {
        mutations.push(match m {
            "none" => Mutation::None,
            "mac" => Mutation::Mac,
            "vlan" => Mutation::AddVlan(20),
            "unvlan" => Mutation::RemoveVlan,
            "ttl" => Mutation::Ttl,
            _ => {
                eprintln!("dupinject: --mutate: unknown mutation '{m}'");
                return ExitCode::from(2);
            }
        });
    }
    let frames = match read_ethernet(&a.input) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("dupinject: {e}");
            return ExitCode::from(1);
        }
    };
    let cfg = Config {
        seed: a.seed,
        percent: a.percent.min(100),
        max_delay_us: a.max_delay_us,
        order,
        one_way: a.one_way,
        reach: a.reach.unwrap_or(usize::MAX - 1),
        mutations,
    };
    let (out, truth) = inject(&frames, &cfg);
    let written = std::fs::File::create(&a.output).and_then(|f| {
        let mut w = std::io::BufWriter::new(f);
        write_pcap(&mut w, &out)?;
        w.flush()
    });
    if let Err(e) = written {
        eprintln!("dupinject: {}: {e}", a.output);
        return ExitCode::from(1);
    }
    let mut so = std::io::stdout().lock();
    for (k, c) in &truth.flows {
        let _ = writeln!(
            so,
            "{} {} {} {} {} {} {}",
            k.proto, k.a, k.b, c.a_to_b.0, c.a_to_b.1, c.b_to_a.0, c.b_to_a.1
        );
    }
    let _ = writeln!(
        so,
        "total {} copies of {} frames (none/mac/vlan/unvlan/ttl: {:?})",
        truth.copies(),
        frames.len(),
        truth.by_mutation
    );
    ExitCode::SUCCESS
}
