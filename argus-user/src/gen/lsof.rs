//! `ralsof`: which process (pid, comm) and which user (uid, name) own each local TCP and UDP
//! socket, IPv4 and IPv6, from /proc/net/{tcp,tcp6,udp,udp6} and the `socket:[INODE]` links
//! of /proc/PID/fd; and the way back: [`parse_xml`] and [`parse_json`] read a `lsof` document
//! into [`SocketOwner`]s (used to attribute flows to programs and users).
//!
//! A socket held by several processes (inherited or passed descriptors) is listed once per
//! process; a socket no readable process holds is listed once, without pid and comm, with the
//! uid /proc/net gives. Sockets without an inode (TIME_WAIT, SYN_RECV request sockets) belong
//! to no process and are not listed.

use super::{root, Node};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }

    pub fn parse(s: &str) -> Option<Proto> {
        match s {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            _ => None,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One socket and one process holding it (or none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketOwner {
    pub proto: Proto,
    /// Local address and port, as the kernel has it (a tcp6/udp6 socket may carry an
    /// IPv4-mapped address `[::ffff:a.b.c.d]`: see [`unmapped`]).
    pub local: SocketAddr,
    /// None for listening and unconnected sockets (remote `0.0.0.0:0` / `[::]:0`).
    pub remote: Option<SocketAddr>,
    /// TCP state (`ESTABLISHED`, `LISTEN`, ...); UDP: `UNCONN` or `ESTABLISHED` (connected).
    pub state: String,
    /// The socket's uid (/proc/net).
    pub uid: u32,
    /// The uid's user name, or the uid in decimal when it has none.
    pub user: String,
    pub pid: Option<u32>,
    /// The process' command name (/proc/PID/comm).
    pub comm: Option<String>,
    /// The socket's inode number (the `socket:[INODE]` of /proc/PID/fd).
    pub inode: u64,
}

/// An IPv4-mapped IPv6 socket address (`[::ffff:10.0.0.1]:22`) as IPv4 (`10.0.0.1:22`), the
/// way the packets on the wire show it; other addresses unchanged.
pub fn unmapped(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => a,
        },
        v4 => v4,
    }
}

/// A socket line of /proc/net/{tcp,tcp6,udp,udp6}.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetSocket {
    pub proto: Proto,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: u8,
    pub uid: u32,
    pub inode: u64,
}

/// `0100007F:0016` (IPv4) or 32 hex digits and a port (IPv6): the address words are printed
/// as native-endian 32-bit numbers of network-order bytes.
fn parse_hex_addr(s: &str) -> Option<SocketAddr> {
    let (a, p) = s.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = a.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(w, 16).ok()?.to_ne_bytes())
    };
    let ip = match a.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Parses one /proc/net/{tcp,udp}[6] file; the header and malformed lines are skipped.
pub fn parse_net(text: &str, proto: Proto) -> Vec<NetSocket> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 10 || !f[0].ends_with(':') {
                return None;
            }
            Some(NetSocket {
                proto,
                local: parse_hex_addr(f[1])?,
                remote: parse_hex_addr(f[2])?,
                state: u8::from_str_radix(f[3], 16).ok()?,
                uid: f[7].parse().ok()?,
                inode: f[9].parse().ok()?,
            })
        })
        .collect()
}

/// The state name of a /proc/net state number.
pub fn state_name(proto: Proto, st: u8) -> String {
    let s = match (proto, st) {
        (Proto::Udp, 0x01) => "ESTABLISHED",
        (Proto::Udp, 0x07) => "UNCONN",
        (Proto::Udp, _) => return format!("STATE_{st:02X}"),
        (_, 0x01) => "ESTABLISHED",
        (_, 0x02) => "SYN_SENT",
        (_, 0x03) => "SYN_RECV",
        (_, 0x04) => "FIN_WAIT1",
        (_, 0x05) => "FIN_WAIT2",
        (_, 0x06) => "TIME_WAIT",
        (_, 0x07) => "CLOSE",
        (_, 0x08) => "CLOSE_WAIT",
        (_, 0x09) => "LAST_ACK",
        (_, 0x0A) => "LISTEN",
        (_, 0x0B) => "CLOSING",
        (_, 0x0C) => "NEW_SYN_RECV",
        _ => return format!("STATE_{st:02X}"),
    };
    s.to_string()
}

/// The inode of a `socket:[12345]` link target.
pub fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// inode -> the pids holding it (ascending), and pid -> comm, from every readable
/// /proc/PID/fd; pids that vanish or cannot be read are skipped.
pub fn socket_holders(proc_root: &Path) -> (HashMap<u64, Vec<u32>>, HashMap<u32, String>) {
    let mut by_inode: HashMap<u64, Vec<u32>> = HashMap::new();
    let mut comms = HashMap::new();
    let Ok(dir) = std::fs::read_dir(proc_root) else {
        return (by_inode, comms);
    };
    let mut pids: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let base = proc_root.join(pid.to_string());
        // comm first: a process gone by now is skipped whole, so pid and comm go together.
        let Ok(comm) = std::fs::read(base.join("comm")) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(base.join("fd")) else {
            continue;
        };
        let mut any = false;
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            if let Some(inode) = target.to_str().and_then(socket_inode) {
                let v = by_inode.entry(inode).or_default();
                if v.last() != Some(&pid) {
                    v.push(pid);
                }
                any = true;
            }
        }
        if any {
            let c = String::from_utf8_lossy(&comm);
            comms.insert(pid, c.strip_suffix('\n').unwrap_or(&c).to_string());
        }
    }
    (by_inode, comms)
}

/// The user name of `uid` (getpwuid_r), None when it has none.
pub fn user_name(uid: u32) -> Option<String> {
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: passwd is plain data; getpwuid_r writes it and the strings it points to
        // into `buf`, valid for its length, and sets `result` to &pwd or null.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc =
            unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc == libc::ERANGE && buf.len() < (1 << 20) {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success pw_name is a NUL-terminated string inside `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    /// Where /proc is.
    pub proc_root: PathBuf,
    /// At most this many sockets (0: all).
    pub limit: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            proc_root: PathBuf::from("/proc"),
            limit: 0,
        }
    }
}

/// Joins the sockets of /proc/net with their holders. Returns the owners (in file order:
/// tcp, tcp6, udp, udp6; each socket's holders by pid) and the files that could not be read.
pub fn collect(o: &Options) -> (Vec<SocketOwner>, Vec<(String, String)>) {
    let mut socks = Vec::new();
    let mut errors = Vec::new();
    for (file, proto) in [
        ("tcp", Proto::Tcp),
        ("tcp6", Proto::Tcp),
        ("udp", Proto::Udp),
        ("udp6", Proto::Udp),
    ] {
        let p = o.proc_root.join("net").join(file);
        match std::fs::read_to_string(&p) {
            Ok(t) => socks.extend(parse_net(&t, proto)),
            // A kernel without IPv6 has no tcp6/udp6.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && file.ends_with('6') => {}
            Err(e) => errors.push((p.display().to_string(), e.to_string())),
        }
    }
    let (holders, comms) = socket_holders(&o.proc_root);
    let mut users: BTreeMap<u32, String> = BTreeMap::new();
    let mut out = Vec::new();
    for s in socks.into_iter().filter(|s| s.inode != 0) {
        let user = users
            .entry(s.uid)
            .or_insert_with(|| user_name(s.uid).unwrap_or_else(|| s.uid.to_string()))
            .clone();
        let remote = (!s.remote.ip().is_unspecified() || s.remote.port() != 0).then_some(s.remote);
        let base = SocketOwner {
            proto: s.proto,
            local: s.local,
            remote,
            state: state_name(s.proto, s.state),
            uid: s.uid,
            user,
            pid: None,
            comm: None,
            inode: s.inode,
        };
        match holders.get(&s.inode) {
            Some(pids) => {
                for &pid in pids {
                    out.push(SocketOwner {
                        pid: Some(pid),
                        comm: comms.get(&pid).cloned(),
                        ..base.clone()
                    });
                }
            }
            None => out.push(base),
        }
        if o.limit > 0 && out.len() >= o.limit {
            out.truncate(o.limit);
            break;
        }
    }
    (out, errors)
}

/// The `<Socket>` element of one owner.
pub fn socket_node(s: &SocketOwner) -> Node {
    Node::many("Socket", "sockets")
        .attr("proto", s.proto.as_str())
        .attr("local", s.local.to_string())
        .opt("remote", s.remote.map(|r| r.to_string()))
        .attr("state", &s.state)
        .attr("uid", s.uid)
        .attr("user", &s.user)
        .opt("pid", s.pid)
        .opt("comm", s.comm.as_deref())
        .attr("inode", s.inode)
}

/// The `lsof` document: the root, one `<Socket>` per owner, an `<Error>` per file that could
/// not be read.
pub fn document(owners: &[SocketOwner], errors: &[(String, String)]) -> Node {
    let mut doc = root("lsof").list("sockets");
    for (src, msg) in errors {
        doc.push(super::error_node(src, msg));
    }
    for s in owners {
        doc.push(socket_node(s));
    }
    doc
}

/// Builds an owner from attribute lookups (shared by the XML and JSON readers).
fn owner_from(get: &dyn Fn(&str) -> Option<String>, what: &str) -> Result<SocketOwner, String> {
    let need = |k: &str| get(k).ok_or_else(|| format!("{what}: no {k} attribute"));
    let num = |k: &str, v: String| -> Result<u64, String> {
        v.parse()
            .map_err(|_| format!("{what}: {k}=\"{v}\" is not a number"))
    };
    let addr = |k: &str, v: String| -> Result<SocketAddr, String> {
        v.parse()
            .map_err(|_| format!("{what}: {k}=\"{v}\" is not an address:port"))
    };
    let proto = need("proto")?;
    let uid = num("uid", need("uid")?)?;
    Ok(SocketOwner {
        proto: Proto::parse(&proto)
            .ok_or_else(|| format!("{what}: proto=\"{proto}\" (expected tcp or udp)"))?,
        local: addr("local", need("local")?)?,
        remote: get("remote").map(|v| addr("remote", v)).transpose()?,
        state: need("state")?,
        uid: u32::try_from(uid).map_err(|_| format!("{what}: uid {uid} out of range"))?,
        user: need("user")?,
        pid: get("pid")
            .map(|v| {
                num("pid", v).and_then(|p| {
                    u32::try_from(p).map_err(|_| format!("{what}: pid {p} too large"))
                })
            })
            .transpose()?,
        comm: get("comm"),
        inode: get("inode")
            .map(|v| num("inode", v))
            .transpose()?
            .unwrap_or(0),
    })
}

/// Reads a `lsof` XML document (as `ralsof` prints it) back into owners. Other elements
/// (`Error`, `Truncated`) are ignored; a `Socket` lacking an attribute or with a bad value is
/// an error naming it.
pub fn parse_xml(text: &str) -> Result<Vec<SocketOwner>, String> {
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("not XML: {e}"))?;
    let r = doc.root_element();
    if !r.has_tag_name("ArgusEvent") || r.attribute("type") != Some("lsof") {
        return Err(format!(
            "root element is <{} type={:?}>, expected <ArgusEvent type=\"lsof\">",
            r.tag_name().name(),
            r.attribute("type").unwrap_or("")
        ));
    }
    r.children()
        .filter(|n| n.has_tag_name("Socket"))
        .enumerate()
        .map(|(i, n)| {
            let get = |k: &str| n.attribute(k).map(str::to_string);
            owner_from(&get, &format!("Socket #{}", i + 1))
        })
        .collect()
}

/// Reads a `lsof` JSON document (`ralsof -M json`) back into owners.
pub fn parse_json(text: &str) -> Result<Vec<SocketOwner>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("type").and_then(|t| t.as_str()) != Some("lsof") {
        return Err("not a lsof document (\"type\" is not \"lsof\")".into());
    }
    let Some(list) = v.get("sockets") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| "\"sockets\" is not an array".to_string())?;
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            let get = |k: &str| {
                s.get(k).and_then(|x| match x {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
            };
            owner_from(&get, &format!("sockets[{i}]"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 2222 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:1F91 0100007F:D432 06 00000000:00000000 03:00000000 00000000     0        0 0 3 0000000000000000
   3: ZZZ:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3333
   4: short line
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:0050 0000000000000000FFFF00000200007F:C000 01 00000000:00000000 00:00000000 00000000    33        0 5555 1
";

    #[test]
    fn gen_lsof_parses_proc_net() {
        let t = parse_net(TCP, Proto::Tcp);
        assert_eq!(t.len(), 3, "{t:?}");
        assert_eq!(t[0].local, "127.0.0.1:22".parse().expect("addr"));
        assert_eq!((t[0].state, t[0].uid, t[0].inode), (0x0A, 0, 1111));
        assert_eq!(t[1].remote, "127.0.0.1:54321".parse().expect("addr"));
        assert_eq!(t[1].uid, 1000);
        let t6 = parse_net(TCP6, Proto::Tcp);
        assert_eq!(t6.len(), 2);
        assert_eq!(t6[0].local, "[::1]:22".parse().expect("addr"));
        assert_eq!(t6[1].local, "[::ffff:127.0.0.1]:80".parse().expect("addr"));
        assert_eq!(unmapped(t6[1].local), "127.0.0.1:80".parse().expect("addr"));
        assert_eq!(unmapped(t6[0].local), t6[0].local);
        assert_eq!(state_name(Proto::Tcp, 0x0A), "LISTEN");
        assert_eq!(state_name(Proto::Udp, 0x07), "UNCONN");
        assert_eq!(state_name(Proto::Udp, 0x0A), "STATE_0A");
        assert_eq!(socket_inode("socket:[123]"), Some(123));
        assert_eq!(socket_inode("pipe:[123]"), None);
        assert_eq!(socket_inode("socket:[x]"), None);
        // Nonsense never panics.
        for junk in [
            "",
            ":",
            "0: : : : : : : : : :",
            "0: 1:2 3:4 5 6 7 8 9 10 11",
            "\u{0}\u{1}",
        ] {
            let _ = parse_net(junk, Proto::Udp);
        }
    }

    #[test]
    fn gen_lsof_collect_from_a_fake_proc() {
        use std::os::unix::fs::symlink;
        let dir = std::env::temp_dir().join(format!("ralsof-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mk = |p: &Path| std::fs::create_dir_all(p).expect("mkdir");
        mk(&dir.join("net"));
        std::fs::write(dir.join("net/tcp"), TCP).expect("w");
        std::fs::write(dir.join("net/udp"), "header\n").expect("w");
        // 10 and 11 share the listener (inode 1111); 12 has no comm (gone): skipped; 13 holds
        // a pipe only.
        for (pid, comm, links) in [
            (
                "10",
                Some("sshd\n"),
                vec!["socket:[1111]", "socket:[1111]", "/dev/null"],
            ),
            ("11", Some("sshd\n"), vec!["socket:[1111]"]),
            ("12", None, vec!["socket:[2222]"]),
            ("13", Some("cat\n"), vec!["pipe:[5]"]),
            ("self", Some("x\n"), vec!["socket:[2222]"]),
        ] {
            let b = dir.join(pid);
            mk(&b.join("fd"));
            if let Some(c) = comm {
                std::fs::write(b.join("comm"), c).expect("w");
            }
            for (i, l) in links.iter().enumerate() {
                symlink(l, b.join("fd").join(i.to_string())).expect("symlink");
            }
        }
        let o = Options {
            proc_root: dir.clone(),
            limit: 0,
        };
        let (v, errors) = collect(&o);
        // no tcp6/udp6: not an error (no IPv6); the TIME_WAIT socket (inode 0) is left out.
        assert!(errors.is_empty(), "{errors:?}");
        let pids: Vec<_> = v.iter().map(|s| (s.inode, s.pid)).collect();
        assert_eq!(pids, [(1111, Some(10)), (1111, Some(11)), (2222, None)]);
        assert_eq!(v[0].comm.as_deref(), Some("sshd"));
        assert_eq!(v[0].state, "LISTEN");
        assert_eq!(v[2].comm, None);
        assert_eq!(v[2].remote, Some("127.0.0.1:54321".parse().expect("addr")));
        let (v, _) = collect(&Options {
            proc_root: dir.clone(),
            limit: 2,
        });
        assert_eq!(v.len(), 2);
        std::fs::remove_file(dir.join("net/tcp")).expect("rm");
        let (v, errors) = collect(&o);
        assert!(v.is_empty());
        assert_eq!(errors.len(), 1, "a missing /proc/net/tcp is an error");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn sample() -> Vec<SocketOwner> {
        vec![
            SocketOwner {
                proto: Proto::Tcp,
                local: "10.0.0.1:22".parse().expect("addr"),
                remote: Some("10.0.0.2:5555".parse().expect("addr")),
                state: "ESTABLISHED".into(),
                uid: 0,
                user: "root".into(),
                pid: Some(123),
                comm: Some("sshd <&\"odd'> name".into()),
                inode: 42,
            },
            SocketOwner {
                proto: Proto::Udp,
                local: "[fe80::1%2]:53".parse().expect("scoped addr"),
                remote: None,
                state: "UNCONN".into(),
                uid: 65534,
                user: "65534".into(),
                pid: None,
                comm: None,
                inode: 7,
            },
        ]
    }

    #[test]
    fn gen_lsof_round_trip_xml_and_json() {
        let s = sample();
        let doc = document(&s, &[("/proc/net/udp6".into(), "gone".into())]);
        let x = doc.to_xml();
        assert_eq!(parse_xml(&x).expect("parse xml"), s, "{x}");
        let j = doc.to_json().to_string();
        assert_eq!(parse_json(&j).expect("parse json"), s, "{j}");
        let empty = document(&[], &[]);
        assert_eq!(parse_xml(&empty.to_xml()).expect("empty"), vec![]);
        assert_eq!(
            parse_json(&empty.to_json().to_string()).expect("empty"),
            vec![]
        );
    }

    #[test]
    fn gen_lsof_parse_errors_name_the_problem() {
        let e = parse_xml("<ArgusEvent type=\"vms\"/>").expect_err("wrong type");
        assert!(e.contains("lsof"), "{e}");
        let e = parse_xml("<ArgusEvent type=\"lsof\"><Socket proto=\"tcp\"/></ArgusEvent>")
            .expect_err("missing attrs");
        assert!(e.contains("Socket #1") && e.contains("uid"), "{e}");
        let e = parse_xml(
            "<ArgusEvent type=\"lsof\"><Socket proto=\"tcp\" uid=\"0\" local=\"x\" state=\"a\" \
             user=\"r\"/></ArgusEvent>",
        )
        .expect_err("bad addr");
        assert!(e.contains("local=\"x\""), "{e}");
        assert!(parse_xml("<a").is_err());
        assert!(parse_json("{\"type\":\"lsof\",\"sockets\":{}}").is_err());
    }
}
