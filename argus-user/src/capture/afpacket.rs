//! Live capture with an AF_PACKET TPACKET_V3 ring: the fallback for NICs or kernels without
//! XDP.
//!
//! The kernel fills blocks of a memory-mapped ring with frames; user space walks a block when
//! the kernel hands it over (or after `retire_blk_tov` ms), then gives the block back. Frames are
//! read in place; [`AfPacket::poll`] hands each to a callback and returns the block afterwards.
//! The kernel strips a received 802.1Q tag into the frame header (`tp_vlan_tci`); like libpcap,
//! the tag is put back into the frame the callback sees, so decoding matches pcap files.

use super::sys::{add_promiscuous, getsockopt, last_err, setsockopt};
use super::{FrameMeta, LiveSource, LiveStats};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// Ring geometry: 64 blocks of 1 MiB (64 MiB per socket), frames up to 64 KiB.
const BLOCK_SIZE: u32 = 1 << 20;
const BLOCK_NR: u32 = 64;
const FRAME_SIZE: u32 = 1 << 16;
/// A partly filled block is handed to user space after this many milliseconds.
const BLOCK_TIMEOUT_MS: u32 = 10;

/// One TPACKET_V3 socket bound to an interface.
pub struct AfPacket {
    fd: OwnedFd,
    ring: *mut u8,
    ring_len: usize,
    block: u32,
    name: String,
    stats: LiveStats,
    /// A frame with its VLAN tag put back (reused buffer).
    scratch: Vec<u8>,
}

// SAFETY: the ring is owned by this value alone (mapped in `open`, unmapped in `drop`); nothing
// else holds the pointer, so moving it to another thread is sound.
unsafe impl Send for AfPacket {}

impl AfPacket {
    /// Open a ring on `iface`. `fanout`: join this PACKET_FANOUT_HASH group (several sockets
    /// of one group share the interface's frames by flow). Needs CAP_NET_RAW.
    pub fn open(iface: &str, promiscuous: bool, fanout: Option<u16>) -> io::Result<AfPacket> {
        let cname = CString::new(iface)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name"))?;
        // SAFETY: plain libc calls with checked results.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if ifindex == 0 {
            return Err(last_err("no such interface", iface));
        }
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: socket(2); the descriptor is owned right away.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, proto as i32) };
        if raw < 0 {
            return Err(last_err("AF_PACKET socket (needs CAP_NET_RAW)", iface));
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let s = fd.as_raw_fd();
        let version = libc::tpacket_versions::TPACKET_V3 as i32;
        if setsockopt(s, libc::SOL_PACKET, libc::PACKET_VERSION, &version) < 0 {
            return Err(last_err("TPACKET_V3", iface));
        }
        let req = libc::tpacket_req3 {
            tp_block_size: BLOCK_SIZE,
            tp_block_nr: BLOCK_NR,
            tp_frame_size: FRAME_SIZE,
            tp_frame_nr: BLOCK_SIZE / FRAME_SIZE * BLOCK_NR,
            tp_retire_blk_tov: BLOCK_TIMEOUT_MS,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        if setsockopt(s, libc::SOL_PACKET, libc::PACKET_RX_RING, &req) < 0 {
            return Err(last_err("PACKET_RX_RING", iface));
        }
        let ring_len = (BLOCK_SIZE * BLOCK_NR) as usize;
        // SAFETY: mapping the ring the kernel just created for this socket.
        let ring = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ring_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_LOCKED,
                s,
                0,
            )
        };
        let ring = if ring == libc::MAP_FAILED {
            // MAP_LOCKED needs RLIMIT_MEMLOCK; retry without it.
            // SAFETY: as above.
            let r = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    ring_len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    s,
                    0,
                )
            };
            if r == libc::MAP_FAILED {
                return Err(last_err("mmap of the ring", iface));
            }
            r
        } else {
            ring
        };
        let mut me = AfPacket {
            fd,
            ring: ring.cast(),
            ring_len,
            block: 0,
            name: iface.to_string(),
            stats: LiveStats::default(),
            scratch: Vec::with_capacity(FRAME_SIZE as usize + 4),
        };
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: bind(2) with a sockaddr_ll of the right size.
        let rc = unsafe {
            libc::bind(
                s,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(last_err("bind", iface));
        }
        if promiscuous {
            add_promiscuous(s, ifindex, iface)?;
        }
        if let Some(group) = fanout {
            let arg: u32 = group as u32 | (libc::PACKET_FANOUT_HASH << 16);
            if setsockopt(s, libc::SOL_PACKET, libc::PACKET_FANOUT, &arg) < 0 {
                return Err(last_err("PACKET_FANOUT", iface));
            }
        }
        me.take_kernel_stats();
        me.stats = LiveStats::default();
        Ok(me)
    }

    fn block_ptr(&self, i: u32) -> *mut libc::tpacket_block_desc {
        // SAFETY: `i < BLOCK_NR`, so the offset stays inside the mapped ring.
        unsafe { self.ring.add((i * BLOCK_SIZE) as usize).cast() }
    }

    /// Wait up to `timeout` for a block, then hand every frame of every ready block to `f`.
    /// Returns the number of frames delivered.
    fn poll_ring(
        &mut self,
        timeout: Duration,
        f: &mut dyn FnMut(FrameMeta, &[u8]),
    ) -> io::Result<usize> {
        let mut n = 0;
        if !self.block_ready(self.block) {
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN | libc::POLLERR,
                revents: 0,
            };
            let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
            // SAFETY: poll(2) on one valid pollfd.
            let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    return Ok(0);
                }
                return Err(e);
            }
        }
        while self.block_ready(self.block) {
            n += self.walk_block(self.block, f);
            // Give the block back.
            let b = self.block_ptr(self.block);
            // SAFETY: the block header lies in the ring; the store releases it to the kernel
            // after every read of its frames above.
            unsafe {
                std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
                std::ptr::write_volatile(
                    std::ptr::addr_of_mut!((*b).hdr.bh1.block_status),
                    libc::TP_STATUS_KERNEL,
                );
            }
            self.block = (self.block + 1) % BLOCK_NR;
        }
        Ok(n)
    }

    fn block_ready(&self, i: u32) -> bool {
        let b = self.block_ptr(i);
        // SAFETY: reading the status word of a block header inside the ring.
        let st = unsafe { std::ptr::read_volatile(std::ptr::addr_of!((*b).hdr.bh1.block_status)) };
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        st & libc::TP_STATUS_USER != 0
    }

    fn walk_block(&mut self, i: u32, f: &mut dyn FnMut(FrameMeta, &[u8])) -> usize {
        let base = self.block_ptr(i).cast::<u8>();
        // SAFETY: the kernel handed this block to user space (TP_STATUS_USER); its header and
        // the packets it lists lie inside the block, bounds checked against the block size.
        let (num, first) = unsafe {
            let h = &(*self.block_ptr(i)).hdr.bh1;
            (h.num_pkts, h.offset_to_first_pkt)
        };
        let mut off = first as usize;
        let mut n = 0;
        for _ in 0..num {
            if off + std::mem::size_of::<libc::tpacket3_hdr>() > BLOCK_SIZE as usize {
                break;
            }
            // SAFETY: `off` + header size is inside the block (checked above).
            let h = unsafe { std::ptr::read_unaligned(base.add(off).cast::<libc::tpacket3_hdr>()) };
            let start = off + h.tp_mac as usize;
            let caplen = h.tp_snaplen as usize;
            if start + caplen > BLOCK_SIZE as usize {
                break;
            }
            // SAFETY: the frame lies inside the block (checked above).
            let frame = unsafe { std::slice::from_raw_parts(base.add(start), caplen) };
            let mut meta = FrameMeta {
                ts_sec: h.tp_sec as i64,
                ts_nsec: h.tp_nsec,
                caplen: h.tp_snaplen,
                len: h.tp_len,
                linktype: crate::wire::linktype::ETHERNET,
                iface: 0,
            };
            if h.tp_status & libc::TP_STATUS_VLAN_VALID != 0 && frame.len() >= 12 {
                let tpid = if h.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                    h.hv1.tp_vlan_tpid
                } else {
                    0x8100
                };
                self.scratch.clear();
                self.scratch.extend_from_slice(&frame[..12]);
                self.scratch.extend_from_slice(&tpid.to_be_bytes());
                self.scratch
                    .extend_from_slice(&(h.hv1.tp_vlan_tci as u16).to_be_bytes());
                self.scratch.extend_from_slice(&frame[12..]);
                meta.caplen += 4;
                meta.len += 4;
                f(meta, &self.scratch);
            } else {
                f(meta, frame);
            }
            n += 1;
            if h.tp_next_offset == 0 {
                break;
            }
            off += h.tp_next_offset as usize;
        }
        n
    }

    fn take_kernel_stats(&mut self) {
        let mut st = libc::tpacket_stats_v3 {
            tp_packets: 0,
            tp_drops: 0,
            tp_freeze_q_cnt: 0,
        };
        let fd = self.fd.as_raw_fd();
        if getsockopt(fd, libc::SOL_PACKET, libc::PACKET_STATISTICS, &mut st).is_ok() {
            self.stats.received += st.tp_packets as u64;
            self.stats.dropped += st.tp_drops as u64;
        }
    }
}

impl LiveSource for AfPacket {
    fn name(&self) -> &str {
        &self.name
    }

    fn poll(
        &mut self,
        timeout: Duration,
        f: &mut dyn FnMut(FrameMeta, &[u8]),
    ) -> io::Result<usize> {
        self.poll_ring(timeout, f)
    }

    /// Counters since the socket was opened.
    fn stats(&mut self) -> LiveStats {
        self.take_kernel_stats();
        self.stats
    }

    /// A block is readable when full or after its retire timeout.
    fn visibility_lag(&self) -> Duration {
        Duration::from_millis(BLOCK_TIMEOUT_MS as u64 + 1)
    }
}

impl Drop for AfPacket {
    fn drop(&mut self) {
        // SAFETY: unmapping the ring mapped in `open`; no slice into it outlives `poll`.
        unsafe {
            libc::munmap(self.ring.cast(), self.ring_len);
        }
    }
}
