use super::*;
use crate::record::*;

fn c(e: &str) -> CompiledFilter {
    match CompiledFilter::compile(e, Target::Records) {
        Ok(f) => f,
        Err(x) => panic!("{e}: {x}"),
    }
}

fn err(e: &str, t: Target) -> FilterError {
    match CompiledFilter::compile(e, t) {
        Ok(_) => panic!("{e} compiled"),
        Err(x) => x,
    }
}

fn v4(src: [u8; 4], dst: [u8; 4], proto: u8, sport: u16, dport: u16) -> Record {
    Record::Flow(Box::new(FlowRecord {
        flow: Some(FlowDsr::ipv4(src, dst, proto, sport, dport)),
        meter: Some(MeterDsr {
            src: DirCounters {
                pkts: 3,
                bytes: 300,
                appbytes: 0,
            },
            dst: DirCounters {
                pkts: 20,
                bytes: 2000,
                appbytes: 0,
            },
            has_app: false,
        }),
        time: Some(TimeDsr {
            start: Ts { sec: 100, usec: 0 },
            last: Ts {
                sec: 102,
                usec: 500_000,
            },
            ..Default::default()
        }),
        ipattr: Some(IpAttrDsr {
            src: Some(IpAttrDir {
                ttl: 64,
                tos: 0,
                ipid: 1,
            }),
            dst: Some(IpAttrDir {
                ttl: 128,
                tos: 0,
                ipid: 2,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

fn m(e: &str, r: &Record) -> bool {
    c(e).matches_record(r)
}

#[test]
fn precedence_is_left_to_right_with_not_tightest() {
    let udp_dns = v4([10, 0, 0, 1], [10, 0, 0, 2], 17, 5000, 53);
    let tcp_web = v4([10, 0, 0, 1], [10, 0, 0, 2], 6, 5000, 80);
    // (tcp or udp) and port 53
    assert!(m("tcp or udp and port 53", &udp_dns));
    assert!(!m("tcp or udp and port 53", &tcp_web));
    // (udp and port 53) or tcp
    assert!(m("udp and port 53 or tcp", &tcp_web));
    assert!(m("not tcp and port 53", &udp_dns));
    assert!(!m("not (udp and port 53)", &udp_dns));
    assert!(m("! tcp && port 53 || tcp", &tcp_web));
    assert!(m("( tcp )", &tcp_web));
}

#[test]
fn addresses_ports_and_nets() {
    let r = v4([10, 1, 2, 3], [192, 168, 1, 9], 6, 40000, 443);
    assert!(m("host 10.1.2.3", &r));
    assert!(m("src host 10.1.2.3", &r));
    assert!(!m("dst host 10.1.2.3", &r));
    assert!(m("dst 192.168.1.9", &r));
    assert!(m("10.1.2.3", &r));
    assert!(m("net 10.0.0.0/8", &r));
    assert!(m("src net 10.1.0.0 mask 255.255.0.0", &r));
    assert!(!m("dst net 10.0.0.0/8", &r));
    assert!(m("src and dst net 0.0.0.0/0", &r));
    assert!(!m("src and dst net 10.0.0.0/8", &r));
    assert!(m("src or dst net 10.0.0.0/8", &r));
    assert!(m("port 443", &r));
    assert!(m("port 400-500", &r));
    assert!(m("portrange 400-500", &r));
    assert!(!m("src port 400-500", &r));
    assert!(m("tcp dst port 80 or 443", &r));
    assert!(m("host 1.1.1.1 or 10.1.2.3", &r));
    assert!(!m("udp port 443", &r));
    assert!(m(
        "ip and ipv4 and not ip6 and proto 6 and ip proto tcp",
        &r
    ));
    assert!(m("ether proto 0x800 and ether proto ip", &r));
    assert!(!m("arp or llc or loop or stp or isis or icmp6", &r));
    // ICMP has no ports.
    let i = v4([1, 1, 1, 1], [2, 2, 2, 2], 1, 0x0800, 7);
    assert!(!m("port 7", &i));
    assert!(m("icmp", &i));
}

#[test]
fn comparisons_take_either_direction_without_qualifier() {
    let r = v4([10, 1, 2, 3], [192, 168, 1, 9], 6, 40000, 443);
    assert!(m("pkts gt 10", &r)); // dst 20
    assert!(m("pkts lt 10", &r)); // src 3
    assert!(m("src pkts eq 3 and dst pkts == 20", &r));
    assert!(m(
        "spkts = 3 and dpkts >= 20 and dpkts <= 20 and dpkts != 21",
        &r
    ));
    assert!(!m("src and dst pkts gt 10", &r));
    assert!(m("bytes gt 1000 and sbytes lt 1000", &r));
    assert!(m(
        "ttl eq 64 and sttl eq 64 and dttl eq 128 and not dst ttl eq 64",
        &r
    ));
    assert!(m("pkts 3", &r));
    assert!(m("trans eq 1 and seq eq 0", &r));
    // dur 2.5 s; rates (pkts-1)/dur: src 0.8, dst 7.6.
    assert!(m("dur gt 2 and dur lt 2.6 and dur ge 2.5", &r));
    assert!(m("src rate lt 1 and dst rate gt 7", &r));
    assert!(m("rate gt 7", &r));
    assert!(m("load gt 0", &r));
}

#[test]
fn mars_match_man_and_negations_only() {
    let mar = Record::Mar(Mar::default());
    assert!(!m("tcp", &mar));
    assert!(m("man", &mar));
    assert!(m("man or tcp", &mar));
    assert!(m("not tcp", &mar));
    // ra reads a MAR's packets, bytes, duration, rate and load as 0; other fields are absent.
    assert!(m(
        "pkts lt 10 and bytes eq 0 and dur lt 1 and rate eq 0 and load eq 0",
        &mar
    ));
    assert!(!m("pkts gt 0", &mar));
    assert!(!m("ttl lt 300 or trans gt 0 or seq ge 0 or srcid 0", &mar));
    assert!(!m("far", &mar));
    assert!(m("", &mar));
}

#[test]
fn syntax_errors_name_offset_and_token() {
    let e = err("pkts gt", Target::Records);
    assert_eq!(e.offset, 7);
    assert!(e.to_string().contains("expected a number"), "{e}");
    let e = err("bytes gt gt", Target::Records);
    assert_eq!((e.offset, e.token.as_str()), (9, "gt"));
    assert_eq!(
        e.to_string(),
        "filter: syntax error at offset 9 near 'gt': expected a number"
    );
    let e = err("tcp and (udp", Target::Records);
    assert_eq!(e.offset, 12);
    let e = err("tcp )", Target::Records);
    assert_eq!((e.offset, e.token.as_str()), (4, ")"));
    let e = err("host 1.2.3", Target::Records);
    assert_eq!((e.offset, e.token.as_str()), (5, "1.2.3"));
    let e = err("net 10.0.0.0/33", Target::Records);
    assert_eq!(e.offset, 4);
    let e = err("net 10.0.0.0 mask 255.0.255.0", Target::Records);
    assert_eq!(e.offset, 18);
    let e = err("port 100-10", Target::Records);
    assert_eq!(e.offset, 5);
    let e = err("tcp and and udp", Target::Records);
    assert_eq!((e.offset, e.token.as_str()), (8, "and"));
    let e = err("frobnicate", Target::Records);
    assert_eq!(e.offset, 0);
    let e = err("tcp # x", Target::Records);
    assert_eq!((e.offset, e.token.as_str()), (4, "#"));
    // Character offsets, not bytes.
    let e = err("host é", Target::Records);
    assert_eq!((e.offset, e.token.as_str()), (5, "é"));
    let e = err("(udp) or «", Target::Records);
    assert_eq!(e.offset, 9);
}

#[test]
fn packet_target_refuses_record_fields() {
    for (e, off, kw) in [
        ("udp and dur lt 1", 8, "dur"),
        ("rate gt 1", 0, "rate"),
        ("tcp or src load gt 5", 11, "load"),
        ("trans gt 1", 0, "trans"),
        ("pkts gt 1", 0, "pkts"),
        ("man", 0, "man"),
        ("srcid 1.2.3.4", 0, "srcid"),
    ] {
        let x = err(e, Target::Packets);
        assert_eq!(x.offset, off, "{e}: {x}");
        assert!(x.msg.contains(kw), "{e}: {x}");
    }
    for e in [
        "llc",
        "loop",
        "ospf",
        "stp",
        "ttl gt 3",
        "len gt 100",
        "bytes lt 60",
        "vid 5",
        "ether host 01:02:03:04:05:06",
    ] {
        assert!(CompiledFilter::compile(e, Target::Packets).is_ok(), "{e}");
    }
}

#[test]
fn packet_evaluation() {
    use crate::flow::key::classify;
    use crate::wire::decode;
    // Ethernet + IPv4 + UDP 10.0.0.1:1234 -> 10.0.0.2:53, TTL 7.
    let mut f = vec![
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        0x08,
        0x00,
        0x45,
        0,
        0,
        28 + 4,
        0,
        1,
        0,
        0,
        7,
        17,
        0,
        0,
        10,
        0,
        0,
        1,
        10,
        0,
        0,
        2,
    ];
    f.extend_from_slice(&[0x04, 0xd2, 0, 53, 0, 12, 0, 0, 1, 2, 3, 4]);
    let d = decode(1, &f, f.len() as u32);
    let Some(k) = classify(&f, &d) else {
        panic!("not classified")
    };
    let pv = PacketView {
        decoded: &d,
        key: &k,
    };
    let p = |e: &str| {
        CompiledFilter::compile(e, Target::Packets)
            .unwrap_or_else(|x| panic!("{e}: {x}"))
            .matches_packet(&pv)
    };
    assert!(p(
        "udp and src host 10.0.0.1 and dst port 53 and src port 1234"
    ));
    assert!(!p("dst host 10.0.0.1"));
    assert!(p(
        "ttl eq 7 and len eq 46 and ip and ipv4 and ether proto 0x0800"
    ));
    assert!(p(
        "ether src 06:07:08:09:0a:0b and ether dst host 00:01:02:03:04:05"
    ));
    assert!(!p("tcp or llc or loop or ospf or arp"));
    assert!(p("net 10.0.0.0/24 and not multicast"));
}

#[test]
fn repetition_ipv6_and_ether() {
    let mut r = v4([10, 1, 2, 3], [192, 168, 1, 9], 17, 5353, 53);
    assert!(m("udp dst port 80 or 53", &r));
    assert!(!m("udp src port 80 or 53", &r));
    assert!(m("net 172.16.0.0/12 or 192.168.0.0/16", &r));
    assert!(m("not host 1.1.1.1 and 10.1.2.3", &r));
    assert!(!m("not (host 1.1.1.1 or 10.1.2.3)", &r));
    if let Record::Flow(f) = &mut r {
        f.mac = Some(MacDsr {
            src: [2, 0, 0, 0, 0, 1],
            dst: [0xff; 6],
            ..Default::default()
        });
    }
    assert!(m(
        "ether src 02:00:00:00:00:01 and ether dst host ff:ff:ff:ff:ff:ff",
        &r
    ));
    assert!(m("ether multicast and ether host 02:00:00:00:00:01", &r));
    assert!(!m("ether src ff:ff:ff:ff:ff:ff", &r));
    let mut v6 = [0u8; 16];
    v6[15] = 1;
    let mut d6 = [0u8; 16];
    d6[0] = 0xff;
    d6[1] = 0x02;
    d6[15] = 0xfb;
    let r6 = Record::Flow(Box::new(FlowRecord {
        flow: Some(FlowDsr {
            kind: 1,
            reverse: false,
            qual: 2,
            key: FlowKey::Ipv6 {
                src: v6,
                dst: d6,
                proto: 17,
                flow_label: 0,
                sport: 5353,
                dport: 5353,
                masks: None,
            },
        }),
        ..Default::default()
    }));
    assert!(m(
        "ip6 and ip and not ipv4 and udp and host ::1 and port 5353",
        &r6
    ));
    assert!(m("src host ::1 and dst net ff00::/8 and multicast", &r6));
    assert!(!m("host 0.0.0.1 or net 0.0.0.0/0", &r6));
    assert!(m("ether proto 0x86dd and proto 17", &r6));
}
