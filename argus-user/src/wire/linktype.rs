//! pcap link types (LINKTYPE_* / DLT_* values) the decoder understands.
pub const NULL: u32 = 0;
pub const ETHERNET: u32 = 1;
pub const PPP: u32 = 9;
pub const FDDI: u32 = 10;
pub const RAW_OLD: u32 = 12;
pub const RAW: u32 = 101;
pub const IEEE802_11: u32 = 105;
pub const LOOP: u32 = 108;
pub const LINUX_SLL: u32 = 113;
pub const IEEE802_11_RADIOTAP: u32 = 127;
pub const PPP_HDLC: u32 = 50;
pub const PPP_ETHER: u32 = 51;
pub const IPV4: u32 = 228;
pub const IPV6: u32 = 229;
pub const LINUX_SLL2: u32 = 276;
