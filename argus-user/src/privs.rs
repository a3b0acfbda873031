//! Dropping privileges once the sensor is set up.
//!
//! Capture needs root (or CAP_NET_RAW, and CAP_NET_ADMIN plus CAP_BPF for XDP) only to open
//! sockets, map rings and attach programs. After that the sensor switches to the configured
//! user and group (`-u`/`-g`, ARGUS_SETUSER_ID/ARGUS_SETGROUP_ID), clears every capability it
//! does not need any more, and sets `no_new_privs`, so a bug in packet handling cannot be
//! turned into root access.

use std::ffi::CString;
use std::io;

/// Linux capability number of CAP_NET_ADMIN (detaching an XDP program at exit needs it).
pub const CAP_NET_ADMIN: u32 = 12;

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// What [`drop_privileges`] did, for the log.
#[derive(Debug, Default)]
pub struct Dropped {
    pub user: Option<(u32, u32)>,
    pub kept: Vec<u32>,
}

fn os_err(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn user_ids(user: &str) -> io::Result<(u32, u32)> {
    if let Ok(uid) = user.parse::<u32>() {
        return Ok((uid, uid));
    }
    let c = CString::new(user).map_err(|_| io::Error::other("bad user name"))?;
    // SAFETY: getpwnam returns a pointer to static storage or null; read at once.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    if pw.is_null() {
        return Err(io::Error::other(format!("no such user '{user}'")));
    }
    // SAFETY: non-null result of getpwnam.
    Ok(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

fn group_id(group: &str) -> io::Result<u32> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(gid);
    }
    let c = CString::new(group).map_err(|_| io::Error::other("bad group name"))?;
    // SAFETY: getgrnam returns a pointer to static storage or null; read at once.
    let gr = unsafe { libc::getgrnam(c.as_ptr()) };
    if gr.is_null() {
        return Err(io::Error::other(format!("no such group '{group}'")));
    }
    // SAFETY: non-null result of getgrnam.
    Ok(unsafe { (*gr).gr_gid })
}

/// Switch to `user`/`group` if given, then keep only the capabilities in `keep` and forbid
/// gaining any back. Call once every socket, ring, map and output is open.
pub fn drop_privileges(
    user: Option<&str>,
    group: Option<&str>,
    keep: &[u32],
) -> io::Result<Dropped> {
    let mut done = Dropped::default();
    if let Some(u) = user {
        let (uid, mut gid) = user_ids(u)?;
        if let Some(g) = group {
            gid = group_id(g)?;
        }
        // SAFETY: plain libc calls with checked results; KEEPCAPS lets the kept capabilities
        // survive the uid change (they are reduced to `keep` right after).
        unsafe {
            if !keep.is_empty() && libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 {
                return Err(os_err("prctl(PR_SET_KEEPCAPS)"));
            }
            if libc::setgroups(1, &gid) != 0 {
                return Err(os_err("setgroups"));
            }
            if libc::setgid(gid) != 0 {
                return Err(os_err("setgid"));
            }
            if libc::setuid(uid) != 0 {
                return Err(os_err("setuid"));
            }
        }
        done.user = Some((uid, gid));
    } else if let Some(g) = group {
        let gid = group_id(g)?;
        // SAFETY: as above.
        unsafe {
            if libc::setgroups(1, &gid) != 0 || libc::setgid(gid) != 0 {
                return Err(os_err("setgid"));
            }
        }
    }
    let mut data = [CapData::default(); 2];
    for &c in keep {
        let (w, b) = ((c / 32) as usize, 1u32 << (c % 32));
        if let Some(d) = data.get_mut(w) {
            d.effective |= b;
            d.permitted |= b;
        }
    }
    let mut hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    // SAFETY: capset(2) with a version-3 header and two data words, as the ABI requires.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) };
    if rc != 0 {
        return Err(os_err("capset"));
    }
    // SAFETY: prctl(2) with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(os_err("prctl(PR_SET_NO_NEW_PRIVS)"));
    }
    done.kept = keep.to_vec();
    Ok(done)
}
