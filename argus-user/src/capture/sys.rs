//! Socket plumbing shared by the live sources (AF_PACKET ring, AF_XDP sockets): option calls
//! with sizes taken from the type, errors that name the interface, promiscuous membership.

use std::io;
use std::os::fd::RawFd;

/// The last OS error, prefixed with the interface and what was being done.
pub(crate) fn last_err(what: &str, iface: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{iface}: {what}: {e}"))
}

/// setsockopt(2) with a value of type `T`; returns the raw result (negative on error).
pub(crate) fn setsockopt<T>(fd: RawFd, level: i32, opt: i32, val: &T) -> i32 {
    // SAFETY: `val` points to a live `T` of the size passed.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (val as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    }
}

/// getsockopt(2) into a `T`; returns the length the kernel wrote.
pub(crate) fn getsockopt<T>(fd: RawFd, level: i32, opt: i32, val: &mut T) -> io::Result<usize> {
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `val` points to a live, writable `T` of the size passed.
    let rc = unsafe { libc::getsockopt(fd, level, opt, (val as *mut T).cast(), &mut len) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(len as usize)
}

/// Put `ifindex` in promiscuous mode for as long as the AF_PACKET socket `fd` stays open.
pub(crate) fn add_promiscuous(fd: RawFd, ifindex: u32, iface: &str) -> io::Result<()> {
    let mr = libc::packet_mreq {
        mr_ifindex: ifindex as i32,
        mr_type: libc::PACKET_MR_PROMISC as u16,
        mr_alen: 0,
        mr_address: [0; 8],
    };
    if setsockopt(fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mr) < 0 {
        return Err(last_err("promiscuous mode", iface));
    }
    Ok(())
}
