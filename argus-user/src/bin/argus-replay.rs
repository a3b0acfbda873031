//! `argus-replay -i IFACE -r FILE [--pps N] [--loop N]`: send the frames of a capture file out
//! of an interface (AF_PACKET, raw), at most N frames per second: the bounded traffic generator
//! of the live-capture tests. Frames larger than the interface accepts are counted and skipped.
//! Prints `sent N skipped M` on standard output. Needs CAP_NET_RAW.

use argus::capture;
use std::ffi::CString;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut iface, mut file, mut pps, mut loops) = (None, None, 10_000u64, 1u32);
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned();
        match (args[i].as_str(), v) {
            ("-i", Some(v)) => iface = Some(v),
            ("-r", Some(v)) => file = Some(v),
            ("--pps", Some(v)) => pps = v.parse().unwrap_or(0),
            ("--loop", Some(v)) => loops = v.parse().unwrap_or(0),
            (a, _) => {
                eprintln!("argus-replay: bad argument '{a}'\nusage: argus-replay -i IFACE -r FILE [--pps N] [--loop N]");
                return ExitCode::from(1);
            }
        }
        i += 2;
    }
    let (Some(iface), Some(file)) = (iface, file) else {
        eprintln!("usage: argus-replay -i IFACE -r FILE [--pps N] [--loop N]");
        return ExitCode::from(1);
    };
    if pps == 0 || loops == 0 {
        eprintln!("argus-replay: --pps and --loop must be positive numbers");
        return ExitCode::from(1);
    }
    let fd = match open(&iface) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("argus-replay: {iface}: {e}");
            return ExitCode::from(1);
        }
    };
    let (mut sent, mut skipped) = (0u64, 0u64);
    let start = Instant::now();
    for _ in 0..loops {
        let mut src = match capture::open(&file) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("argus-replay: {e}");
                return ExitCode::from(1);
            }
        };
        while let Ok(Some((_, data))) = src.next_frame() {
            // Pace: frame k leaves no earlier than k / pps seconds after the start.
            let due = Duration::from_secs_f64((sent + skipped) as f64 / pps as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
            // SAFETY: send(2) of a byte slice on our socket.
            let rc = unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), 0) };
            if rc == data.len() as isize {
                sent += 1;
            } else {
                skipped += 1;
            }
        }
    }
    println!("sent {sent} skipped {skipped}");
    ExitCode::SUCCESS
}

fn open(iface: &str) -> std::io::Result<i32> {
    let name = CString::new(iface).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    // SAFETY: plain libc calls with checked results.
    unsafe {
        let ifindex = libc::if_nametoindex(name.as_ptr());
        if ifindex == 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = ifindex as i32;
        if libc::bind(
            fd,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        ) < 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(fd)
    }
}
