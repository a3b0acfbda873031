//! Client side of the argus stream protocol (ref/argus-format.md section 13), shared by the
//! clients (`ra -S`, `raevent -S`).

use std::io::{self, Read, Write};

/// Connect to an argus stream (`host`, `host:port`, `[v6]:port`; port 561 by default): read
/// the server's init MAR, send `START: `, and read records from there on (ref/argus-format.md
/// section 13). Returns the record reader and the socket (for `DONE: ` at the end).
pub fn connect(addr: &str) -> io::Result<(Box<dyn Read>, std::net::TcpStream)> {
    use std::net::ToSocketAddrs;
    let with_port = if addr.rsplit_once(':').is_some_and(|(h, p)| {
        !h.is_empty() && p.parse::<u16>().is_ok() && (!h.contains(':') || h.ends_with(']'))
    }) {
        addr.to_string()
    } else {
        format!("{addr}:561")
    };
    let target = with_port
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::other("no address"))?;
    let mut sock =
        std::net::TcpStream::connect_timeout(&target, std::time::Duration::from_secs(10))?;
    // A server that accepts but never sends its init MAR is given up after 10 s.
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    // The init MAR: a 4-byte header whose length field counts 32-bit words.
    let mut hdr = [0u8; 4];
    sock.read_exact(&mut hdr)?;
    if hdr[0] & 0x0f < 3 || hdr[0] & 0xf0 != 0x80 {
        return Err(io::Error::other(format!(
            "not an argus 3 server (first record type/version 0x{:02x})",
            hdr[0]
        )));
    }
    let words = u16::from_be_bytes([hdr[2], hdr[3]]) as usize;
    let mut mar = hdr.to_vec();
    mar.resize(words.max(1) * 4, 0);
    sock.read_exact(&mut mar[4..])?;
    if hdr[1] == 0x80 {
        // Init MAR with cause ERROR: access denied or too many clients.
        return Err(io::Error::other("the server refused the connection"));
    }
    sock.set_read_timeout(None)?;
    sock.write_all(b"START: ")?;
    let reader = sock.try_clone()?;
    Ok((Box::new(io::Cursor::new(mar).chain(reader)), sock))
}
