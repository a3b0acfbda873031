//! `ravms`: host performance from /proc: load average, CPU times and kernel counters
//! (/proc/stat), memory (/proc/meminfo), per-interface counters (/proc/net/dev) and virtual
//! memory counters (/proc/vmstat, a selection or all).
//!
//! Parsers take the file's text and never panic: a line that does not have the expected shape
//! is skipped.

use super::{error_node, root, Node};
use std::path::{Path, PathBuf};

/// The /proc/vmstat counters reported by default (those `vmstat` and `sar -B/-W` use); the
/// ones a kernel does not have are left out.
pub const DEFAULT_VMSTAT: &[&str] = &[
    "nr_free_pages",
    "nr_active_anon",
    "nr_inactive_anon",
    "nr_active_file",
    "nr_inactive_file",
    "nr_dirty",
    "nr_writeback",
    "pgpgin",
    "pgpgout",
    "pswpin",
    "pswpout",
    "pgfault",
    "pgmajfault",
    "pgscan_kswapd",
    "pgscan_direct",
    "pgsteal_kswapd",
    "pgsteal_direct",
    "oom_kill",
];

/// Which /proc/vmstat counters to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmSelect {
    Default,
    All,
    Names(Vec<String>),
}

#[derive(Clone, Debug)]
pub struct Options {
    pub vmstat: VmSelect,
    /// Where /proc is (tests use a directory of their own).
    pub proc_root: PathBuf,
    /// Where /sys is (interface indexes: /sys/class/net/NAME/ifindex).
    pub sys_root: PathBuf,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            vmstat: VmSelect::Default,
            proc_root: PathBuf::from("/proc"),
            sys_root: PathBuf::from("/sys"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LoadAvg {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
    pub running: u64,
    pub total: u64,
    pub last_pid: u64,
}

/// `/proc/loadavg`: `0.12 0.10 0.05 1/234 5678`.
pub fn parse_loadavg(text: &str) -> Option<LoadAvg> {
    let mut w = text.split_whitespace();
    let one = w.next()?.parse().ok()?;
    let five = w.next()?.parse().ok()?;
    let fifteen = w.next()?.parse().ok()?;
    let (r, t) = w.next()?.split_once('/')?;
    let last_pid = w.next()?.parse().ok()?;
    Some(LoadAvg {
        one,
        five,
        fifteen,
        running: r.parse().ok()?,
        total: t.parse().ok()?,
        last_pid,
    })
}

/// `/proc/meminfo`: (name, value, unit) for lines `Name:   123 kB` (unit absent for counts).
pub fn parse_meminfo(text: &str) -> Vec<(String, u64, Option<String>)> {
    text.lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let mut w = rest.split_whitespace();
            let v = w.next()?.parse().ok()?;
            let unit = w.next().map(str::to_string);
            let name = name.trim();
            (!name.is_empty()).then(|| (name.to_string(), v, unit))
        })
        .collect()
}

/// `/proc/vmstat`: (name, value) for lines `name 123`.
pub fn parse_vmstat(text: &str) -> Vec<(String, i64)> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let name = w.next()?;
            let v = w.next()?.parse().ok()?;
            Some((name.to_string(), v))
        })
        .collect()
}

/// Names of the CPU time columns of /proc/stat, in order.
pub const CPU_FIELDS: &[&str] = &[
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "irq",
    "softirq",
    "steal",
    "guest",
    "guestNice",
];

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stat {
    /// (`cpu` or `cpuN`, times in clock ticks in [`CPU_FIELDS`] order, as many as present).
    pub cpus: Vec<(String, Vec<u64>)>,
    pub ctxt: Option<u64>,
    pub intr: Option<u64>,
    pub btime: Option<u64>,
    pub processes: Option<u64>,
    pub procs_running: Option<u64>,
    pub procs_blocked: Option<u64>,
}

/// `/proc/stat`.
pub fn parse_stat(text: &str) -> Stat {
    let mut s = Stat::default();
    for l in text.lines() {
        let mut w = l.split_whitespace();
        let Some(key) = w.next() else { continue };
        let first = || l.split_whitespace().nth(1).and_then(|v| v.parse().ok());
        match key {
            k if k.starts_with("cpu") => {
                let vals: Option<Vec<u64>> =
                    w.take(CPU_FIELDS.len()).map(|v| v.parse().ok()).collect();
                if let Some(vals) = vals.filter(|v| v.len() >= 4) {
                    s.cpus.push((k.to_string(), vals));
                }
            }
            "ctxt" => s.ctxt = first().or(s.ctxt),
            "intr" => s.intr = first().or(s.intr),
            "btime" => s.btime = first().or(s.btime),
            "processes" => s.processes = first().or(s.processes),
            "procs_running" => s.procs_running = first().or(s.procs_running),
            "procs_blocked" => s.procs_blocked = first().or(s.procs_blocked),
            _ => {}
        }
    }
    s
}

/// Counters of one interface from /proc/net/dev.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IfCounters {
    pub name: String,
    pub in_octets: u64,
    pub in_packets: u64,
    pub in_errors: u64,
    pub in_discards: u64,
    pub out_octets: u64,
    pub out_packets: u64,
    pub out_errors: u64,
    pub out_discards: u64,
}

/// `/proc/net/dev`: `  eth0: rxbytes rxpackets rxerrs rxdrop fifo frame compressed multicast
/// txbytes txpackets txerrs txdrop ...`; the two header lines have no `:` and are skipped.
pub fn parse_net_dev(text: &str) -> Vec<IfCounters> {
    text.lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let v: Option<Vec<u64>> = rest.split_whitespace().map(|x| x.parse().ok()).collect();
            let v = v?;
            let name = name.trim();
            if v.len() < 12 || name.is_empty() {
                return None;
            }
            Some(IfCounters {
                name: name.to_string(),
                in_octets: v[0],
                in_packets: v[1],
                in_errors: v[2],
                in_discards: v[3],
                out_octets: v[8],
                out_packets: v[9],
                out_errors: v[10],
                out_discards: v[11],
            })
        })
        .collect()
}

/// Clock ticks per second of /proc/stat's CPU times.
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

fn read(root: &Path, rel: &str) -> Result<String, (String, String)> {
    let p = root.join(rel);
    std::fs::read_to_string(&p).map_err(|e| (p.display().to_string(), e.to_string()))
}

/// The interface element shared with `rasnmp` (same attribute names).
pub fn interface_node(c: &IfCounters, index: Option<u32>) -> Node {
    Node::many("Interface", "interfaces")
        .attr("name", &c.name)
        .opt("index", index)
        .attr("inOctets", c.in_octets)
        .attr("inPackets", c.in_packets)
        .attr("inErrors", c.in_errors)
        .attr("inDiscards", c.in_discards)
        .attr("outOctets", c.out_octets)
        .attr("outPackets", c.out_packets)
        .attr("outErrors", c.out_errors)
        .attr("outDiscards", c.out_discards)
}

/// Collects everything into a `vms` document. A file that cannot be read or parsed becomes an
/// `<Error>` element and one line of the returned list; the rest is still reported.
pub fn collect(o: &Options) -> (Node, Vec<String>) {
    let mut doc = root("vms")
        .list("cpus")
        .list("meminfo")
        .list("interfaces")
        .list("vmstat");
    let mut errors = Vec::new();
    let mut fail = |doc: &mut Node, src: String, msg: String| {
        errors.push(format!("{src}: {msg}"));
        doc.push(error_node(&src, &msg));
    };

    match read(&o.proc_root, "loadavg") {
        Ok(t) => match parse_loadavg(&t) {
            Some(l) => doc.push(
                Node::one("LoadAvg", "loadavg")
                    .attr("one", l.one)
                    .attr("five", l.five)
                    .attr("fifteen", l.fifteen)
                    .attr("running", l.running)
                    .attr("total", l.total)
                    .attr("lastPid", l.last_pid),
            ),
            None => fail(
                &mut doc,
                o.proc_root.join("loadavg").display().to_string(),
                format!("unexpected content {:?}", t.trim()),
            ),
        },
        Err((p, e)) => fail(&mut doc, p, e),
    }

    match read(&o.proc_root, "stat") {
        Ok(t) => {
            let s = parse_stat(&t);
            doc.push(
                Node::one("Kernel", "kernel")
                    .attr("hz", clock_ticks())
                    .opt("btime", s.btime)
                    .opt("ctxt", s.ctxt)
                    .opt("intr", s.intr)
                    .opt("forks", s.processes)
                    .opt("running", s.procs_running)
                    .opt("blocked", s.procs_blocked),
            );
            for (name, vals) in &s.cpus {
                let mut n = Node::many("Cpu", "cpus").attr("name", name);
                for (f, v) in CPU_FIELDS.iter().zip(vals) {
                    n = n.attr(f, *v);
                }
                doc.push(n);
            }
        }
        Err((p, e)) => fail(&mut doc, p, e),
    }

    match read(&o.proc_root, "meminfo") {
        Ok(t) => {
            for (name, v, unit) in parse_meminfo(&t) {
                doc.push(
                    Node::many("Mem", "meminfo")
                        .attr("name", name)
                        .attr("value", v)
                        .opt("unit", unit),
                );
            }
        }
        Err((p, e)) => fail(&mut doc, p, e),
    }

    match read(&o.proc_root, "net/dev") {
        Ok(t) => {
            for c in parse_net_dev(&t) {
                let idx = std::fs::read_to_string(
                    o.sys_root.join("class/net").join(&c.name).join("ifindex"),
                )
                .ok()
                .and_then(|s| s.trim().parse().ok());
                doc.push(interface_node(&c, idx));
            }
        }
        Err((p, e)) => fail(&mut doc, p, e),
    }

    match read(&o.proc_root, "vmstat") {
        Ok(t) => {
            let all = parse_vmstat(&t);
            let pick: Vec<(String, i64)> = match &o.vmstat {
                VmSelect::All => all,
                VmSelect::Default => all
                    .into_iter()
                    .filter(|(n, _)| DEFAULT_VMSTAT.contains(&n.as_str()))
                    .collect(),
                VmSelect::Names(names) => all
                    .into_iter()
                    .filter(|(n, _)| names.iter().any(|x| x == n))
                    .collect(),
            };
            for (name, v) in pick {
                doc.push(
                    Node::many("Vm", "vmstat")
                        .attr("name", name)
                        .attr("value", v),
                );
            }
        }
        Err((p, e)) => fail(&mut doc, p, e),
    }
    (doc, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET_DEV: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1234 10 0 0 0 0 0 0 1234 10 0 0 0 0 0 0
  eth0: 98765 321 1 2 0 0 0 5 4321 123 3 4 0 0 0 0
  bad: 1 2 x
garbage
";

    #[test]
    fn gen_vms_parsers() {
        let l = parse_loadavg("0.12 0.10 0.05 2/345 6789\n").expect("loadavg");
        assert_eq!(
            (l.one, l.running, l.total, l.last_pid),
            (0.12, 2, 345, 6789)
        );
        assert_eq!(parse_loadavg("0.1 x"), None);
        assert_eq!(parse_loadavg(""), None);

        let m = parse_meminfo("MemTotal:  16 kB\nHugePages_Total: 0\nodd line\n: 5\nX: y kB\n");
        assert_eq!(
            m,
            vec![
                ("MemTotal".into(), 16, Some("kB".into())),
                ("HugePages_Total".into(), 0, None)
            ]
        );
        assert_eq!(
            parse_vmstat("pgfault 12\nneg -3\nbad\nx y\n"),
            vec![("pgfault".into(), 12), ("neg".into(), -3)]
        );

        let s = parse_stat(
            "cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 2 3 4\ncpu1 x\nintr 99 1 2\nctxt 5\nbtime 7\n\
             processes 8\nprocs_running 1\nprocs_blocked 0\nctxt\n",
        );
        assert_eq!(s.cpus.len(), 2);
        assert_eq!(s.cpus[0].1.len(), 10);
        assert_eq!((s.intr, s.ctxt, s.btime), (Some(99), Some(5), Some(7)));
        assert_eq!(s.processes, Some(8));

        let d = parse_net_dev(NET_DEV);
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].name, "eth0");
        assert_eq!(
            (
                d[1].in_octets,
                d[1].in_discards,
                d[1].out_packets,
                d[1].out_discards
            ),
            (98765, 2, 123, 4)
        );
    }

    #[test]
    fn gen_vms_collect_from_a_fake_proc() {
        let dir = std::env::temp_dir().join(format!("ravms-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("net")).expect("mkdir");
        std::fs::write(dir.join("loadavg"), "1.5 1 0.5 1/2 3\n").expect("w");
        std::fs::write(dir.join("meminfo"), "MemTotal: 100 kB\n").expect("w");
        std::fs::write(dir.join("vmstat"), "pgfault 1\nzzz 2\n").expect("w");
        std::fs::write(dir.join("net/dev"), NET_DEV).expect("w");
        // no stat: an Error element and one error line
        let o = Options {
            vmstat: VmSelect::Names(vec!["zzz".into()]),
            proc_root: dir.clone(),
            sys_root: dir.clone(),
        };
        let (doc, errors) = collect(&o);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("stat"), "{errors:?}");
        let x = doc.to_xml();
        let p = roxmltree::Document::parse(&x).expect("well-formed");
        let names: Vec<_> = p
            .root_element()
            .children()
            .filter(|n| n.has_tag_name("Vm"))
            .filter_map(|n| n.attribute("name"))
            .collect();
        assert_eq!(names, ["zzz"]);
        let j = doc.to_json();
        assert_eq!(j["loadavg"]["one"], 1.5);
        assert_eq!(j["interfaces"][0]["name"], "lo");
        assert_eq!(j["errors"].as_array().map(|a| a.len()), Some(1));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
