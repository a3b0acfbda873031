//! Address lists for `rafilteraddr -f LIST` (docs/clients.md): IPv4 and IPv6 addresses, CIDR
//! prefixes (`10.0.0.0/8`, abbreviated `172.16.11/24`), netmask forms (`10.0.0.0 255.0.0.0`,
//! `10.0.0.0/255.0.0.0`), ranges (`10.0.0.1-10.0.0.9`), `#` comments; words after the address
//! (ralabel's label column) are ignored. A bad line is an error naming the file and line.
//!
//! An address matches when any entry covers it, so the answer does not depend on the order
//! of the lines (longest-prefix lookup picks *some* entry exactly when one covers the
//! address). The entries become sorted, merged, disjoint ranges per family, searched by
//! binary search: O(log n) per address, a few bytes per entry.

use crate::record::{FlowKey, Record};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// A bad list line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrListError {
    pub file: String,
    /// 1-based; 0 when the file could not be read.
    pub line: usize,
    pub msg: String,
}

impl std::fmt::Display for AddrListError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.msg)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.msg)
        }
    }
}

impl std::error::Error for AddrListError {}

/// The addresses of a list as disjoint inclusive ranges, sorted, per family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddrList {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

/// One parsed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    V4(u32, u32),
    V6(u128, u128),
}

impl AddrList {
    /// Reads a list file.
    pub fn read(path: &Path) -> Result<AddrList, AddrListError> {
        let name = path.display().to_string();
        let text = std::fs::read(path).map_err(|e| AddrListError {
            file: name.clone(),
            line: 0,
            msg: e.to_string(),
        })?;
        AddrList::parse(&String::from_utf8_lossy(&text), &name)
    }

    /// Parses list text (`file` for messages).
    pub fn parse(text: &str, file: &str) -> Result<AddrList, AddrListError> {
        let mut entries = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let e = parse_line(line).map_err(|msg| AddrListError {
                file: file.to_string(),
                line: n + 1,
                msg: format!("{msg} in '{line}'"),
            })?;
            entries.push(e);
        }
        Ok(AddrList::from_entries(&entries))
    }

    pub fn from_entries(entries: &[Entry]) -> AddrList {
        let mut v4: Vec<(u32, u32)> = Vec::new();
        let mut v6: Vec<(u128, u128)> = Vec::new();
        for e in entries {
            match *e {
                Entry::V4(a, b) => v4.push((a, b)),
                Entry::V6(a, b) => v6.push((a, b)),
            }
        }
        AddrList {
            v4: merge(v4, |b| b.checked_add(1)),
            v6: merge(v6, |b| b.checked_add(1)),
        }
    }

    /// Disjoint ranges (IPv4, IPv6) after merging.
    pub fn ranges(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    pub fn contains_v4(&self, a: [u8; 4]) -> bool {
        let a = u32::from_be_bytes(a);
        let k = self.v4.partition_point(|&(lo, _)| lo <= a);
        k > 0 && self.v4[k - 1].1 >= a
    }

    pub fn contains_v6(&self, a: [u8; 16]) -> bool {
        let a = u128::from_be_bytes(a);
        let k = self.v6.partition_point(|&(lo, _)| lo <= a);
        k > 0 && self.v6[k - 1].1 >= a
    }

    /// Whether the source or the destination address of a flow record is in the list: IPv4
    /// and IPv6 flows by their addresses, ARP/RARP flows by their sender and target protocol
    /// addresses. Other records (non-IP flows, MARs, events) have no address to match.
    pub fn matches(&self, rec: &Record) -> bool {
        let Record::Flow(f) = rec else {
            return false;
        };
        match f.flow.as_ref().map(|d| &d.key) {
            Some(FlowKey::Ipv4 { src, dst, .. }) => {
                self.contains_v4(*src) || self.contains_v4(*dst)
            }
            Some(FlowKey::Ipv6 { src, dst, .. }) => {
                self.contains_v6(*src) || self.contains_v6(*dst)
            }
            Some(FlowKey::Arp { spa, tpa, .. }) => self.contains_v4(*spa) || self.contains_v4(*tpa),
            _ => false,
        }
    }
}

/// Sorts and merges overlapping or adjacent inclusive ranges.
fn merge<T: Ord + Copy>(mut v: Vec<(T, T)>, succ: impl Fn(T) -> Option<T>) -> Vec<(T, T)> {
    v.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        if let Some(last) = out.last_mut() {
            let touches = match succ(last.1) {
                Some(n) => a <= n,
                None => true, // the last range reaches the top of the space
            };
            if touches {
                if b > last.1 {
                    last.1 = b;
                }
                continue;
            }
        }
        out.push((a, b));
    }
    out
}

/// An IPv4 address, possibly abbreviated (`172.16.11` = 172.16.11.0) when `short` is allowed.
fn v4(s: &str, short: bool) -> Option<u32> {
    if let Ok(a) = s.parse::<Ipv4Addr>() {
        return Some(u32::from(a));
    }
    if !short {
        return None;
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut v: u32 = 0;
    for k in 0..4 {
        let b: u8 = match parts.get(k) {
            Some(p) if !p.is_empty() && p.len() <= 3 && p.chars().all(|c| c.is_ascii_digit()) => {
                p.parse().ok()?
            }
            Some(_) => return None,
            None => 0,
        };
        v = (v << 8) | b as u32;
    }
    Some(v)
}

fn v4_prefix(a: u32, len: u32) -> Entry {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Entry::V4(a & mask, (a & mask) | !mask)
}

fn v6_prefix(a: u128, len: u32) -> Entry {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    Entry::V6(a & mask, (a & mask) | !mask)
}

/// A dotted netmask as a prefix length (contiguous ones only).
fn mask_len(s: &str) -> Result<u32, String> {
    let m = u32::from(
        s.parse::<Ipv4Addr>()
            .map_err(|_| format!("bad netmask '{s}'"))?,
    );
    let len = m.leading_ones();
    if len < 32 && m << len != 0 {
        return Err(format!("netmask '{s}' is not contiguous"));
    }
    Ok(len)
}

fn prefix_len(s: &str, max: u32) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if n <= max && !s.starts_with('+') => Ok(n),
        _ => Err(format!("bad prefix length '/{s}' (0-{max})")),
    }
}

/// One non-empty, comment-free line.
pub fn parse_line(line: &str) -> Result<Entry, String> {
    let mut words = line.split_whitespace();
    let first = words.next().ok_or("empty line")?;
    let second = words.next();
    // `ADDR MASK`: a dotted netmask as the second word; any other word is a label.
    let netmask = second.filter(|w| w.parse::<Ipv4Addr>().is_ok());
    if let Some((a, b)) = first.split_once('-') {
        if netmask.is_some() {
            return Err("a range takes no netmask".into());
        }
        if let (Ok(a), Ok(b)) = (a.parse::<Ipv4Addr>(), b.parse::<Ipv4Addr>()) {
            let (a, b) = (u32::from(a), u32::from(b));
            if a > b {
                return Err("range ends before it starts".into());
            }
            return Ok(Entry::V4(a, b));
        }
        if let (Ok(a), Ok(b)) = (a.parse::<Ipv6Addr>(), b.parse::<Ipv6Addr>()) {
            let (a, b) = (u128::from(a), u128::from(b));
            if a > b {
                return Err("range ends before it starts".into());
            }
            return Ok(Entry::V6(a, b));
        }
        return Err("bad range (two addresses of one family, FIRST-LAST)".into());
    }
    if let Some((a, p)) = first.split_once('/') {
        if netmask.is_some() {
            return Err("a prefix takes no netmask".into());
        }
        if a.contains(':') {
            let a = a
                .parse::<Ipv6Addr>()
                .map_err(|_| format!("bad IPv6 address '{a}'"))?;
            return Ok(v6_prefix(u128::from(a), prefix_len(p, 128)?));
        }
        let a = v4(a, true).ok_or_else(|| format!("bad IPv4 address '{a}'"))?;
        let len = if p.contains('.') {
            mask_len(p)?
        } else {
            prefix_len(p, 32)?
        };
        return Ok(v4_prefix(a, len));
    }
    if first.contains(':') {
        if netmask.is_some() {
            return Err("an IPv6 address takes a /length, not a netmask".into());
        }
        let a = first
            .parse::<Ipv6Addr>()
            .map_err(|_| format!("bad IPv6 address '{first}'"))?;
        return Ok(v6_prefix(u128::from(a), 128));
    }
    match netmask {
        Some(m) => {
            let a = v4(first, true).ok_or_else(|| format!("bad IPv4 address '{first}'"))?;
            Ok(v4_prefix(a, mask_len(m)?))
        }
        None => {
            let a = v4(first, false).ok_or_else(|| format!("bad address '{first}'"))?;
            Ok(v4_prefix(a, 32))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(t: &str) -> AddrList {
        AddrList::parse(t, "l").expect("parse")
    }

    #[test]
    fn forms() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().expect("ip").octets();
        for t in [
            "172.16.11.0/24",
            "172.16.11/24",
            "172.16.11.0 255.255.255.0",
            "172.16.11.0/255.255.255.0",
            "172.16.11.0-172.16.11.255",
            "172.16.11.0/25\n172.16.11.128/25",
            "172.16.11.1\n172.16.11.0/24",
            "172.16.11.99 # a host\n172.16.11.0/24 lab",
        ] {
            let l = list(t);
            assert!(l.contains_v4(ip("172.16.11.0")), "{t}");
            assert!(l.contains_v4(ip("172.16.11.255")), "{t}");
            assert!(!l.contains_v4(ip("172.16.12.0")), "{t}");
            assert!(!l.contains_v4(ip("172.16.10.255")), "{t}");
            assert_eq!(l.ranges(), (1, 0), "{t}");
        }
        let l = list("0.0.0.0/0\n::/0");
        assert!(l.contains_v4([255; 4]) && l.contains_v6([255; 16]));
        let l = list("2001:db8::/32\n::1\n2001:db9::5-2001:db9::7");
        let v6 = |s: &str| s.parse::<Ipv6Addr>().expect("v6").octets();
        assert!(l.contains_v6(v6("2001:db8:1::1")));
        assert!(l.contains_v6(v6("::1")));
        assert!(l.contains_v6(v6("2001:db9::6")));
        assert!(!l.contains_v6(v6("2001:db9::8")));
        assert!(!l.contains_v4([0, 0, 0, 1]));
    }

    #[test]
    fn bad_lines() {
        for (t, line) in [
            ("10.0.0.0/33", 1),
            ("# c\n\n10.0.0.300", 3),
            ("10.0.0.9-10.0.0.1", 1),
            ("10.0.0.0 255.0.255.0", 1),
            ("hostname", 1),
            ("10.0.0.1-::1", 1),
            ("::1/129", 1),
            ("1.2.3.4/x", 1),
        ] {
            let e = AddrList::parse(t, "f").expect_err(t);
            assert_eq!((e.file.as_str(), e.line), ("f", line), "{t}: {e}");
        }
    }
}
