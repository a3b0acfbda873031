use super::*;
use chrono::{Local, TimeZone};
use std::path::PathBuf;

fn args(s: &[&str]) -> Vec<String> {
    s.iter().map(|a| a.to_string()).collect()
}

const SPEC: Spec = Spec {
    prog: "ra",
    usage: "ra ...",
    flags: &["-v"],
    opts: &["-f"],
    modes: &["events"],
};

#[test]
fn command_line_wins_over_rc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rc = dir.path().join("rarc");
    std::fs::write(
        &rc,
        "# comment\nRA_FIELD_DELIMITER=','\nRA_PRINT_LABELS=-1\nRA_PRINT_UNIX_TIME=yes\nRA_USEC_PRECISION=2\nRA_FIELD_SPECIFIER=\"stime proto saddr\"\nRA_PRINT_MAN_RECORDS=yes\n",
    )
    .expect("write");
    let o = Options::parse(&SPEC, &args(&["-r", "x"]), std::slice::from_ref(&rc)).expect("parse");
    assert_eq!(o.print.sep.as_deref(), Some(","));
    assert!(!o.print.header && o.print.unix_time && o.print.print_man);
    assert_eq!(o.print.precision, 2);
    assert_eq!(o.print.fields.len(), 3);
    let o = Options::parse(
        &SPEC,
        &args(&[
            "-c", ";", "-p", "4", "-s", "+daddr", "-M", "noman", "-L", "0",
        ]),
        std::slice::from_ref(&rc),
    )
    .expect("parse");
    assert_eq!(o.print.sep.as_deref(), Some(";"));
    assert_eq!(o.print.precision, 4);
    assert_eq!(o.print.fields.len(), 4);
    assert!(!o.print.print_man && o.print.header);
    assert_eq!(o.inputs.list, vec![Input::Stdin]);
    // A list starting with a plain name replaces the rc list.
    let o = Options::parse(
        &SPEC,
        &args(&["-s", "saddr", "daddr"]),
        std::slice::from_ref(&rc),
    )
    .expect("p");
    assert_eq!(o.print.fields.len(), 2);
    // -X: no rc file.
    let o = Options::parse(&SPEC, &args(&["-X", "-r", "x"]), &[rc]).expect("parse");
    assert!(o.print.sep.is_none() && o.print.header && !o.print.print_man);
}

#[test]
fn rc_errors_name_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rc = dir.path().join("rarc");
    std::fs::write(&rc, "RA_PRINT_LABELS=0\n\nBOGUS line\n").expect("write");
    let e = Options::parse(&SPEC, &args(&[]), std::slice::from_ref(&rc)).expect_err("bad");
    assert_eq!(
        e.0,
        format!(
            "{}:3: syntax error: 'BOGUS line' is not NAME=VALUE",
            rc.display()
        )
    );
    std::fs::write(&rc, "RA_USEC_PRECISION=lots\n").expect("write");
    let e = Options::parse(&SPEC, &args(&[]), std::slice::from_ref(&rc)).expect_err("bad");
    assert!(e.0.contains(":1: RA_USEC_PRECISION"), "{e}");
    // A missing rc file is fine.
    assert!(Options::parse(&SPEC, &args(&[]), &[PathBuf::from("/nonexistent/rarc")]).is_ok());
}

#[test]
fn client_options_and_filter() {
    let o = Options::parse(
        &SPEC,
        &args(&[
            "-f", "list", "-v", "-r", "a", "b", "-M", "events", "-", "tcp",
        ]),
        &[],
    )
    .expect("parse");
    assert_eq!(o.opt("-f"), Some("list"));
    assert!(o.flag("-v") && o.mode("events"));
    assert_eq!(
        o.inputs.list,
        vec![Input::File("a".into()), Input::File("b".into())]
    );
    assert!(o.filter.is_some());
    assert!(Options::parse(&SPEC, &args(&["-q"]), &[]).is_err());
    assert!(Options::parse(&SPEC, &args(&["-M", "xml"]), &[]).is_err());
    assert!(Options::parse(&SPEC, &args(&["-t", "2010/13/01"]), &[]).is_err());
}

#[test]
fn time_ranges() {
    std::env::set_var("TZ", "UTC");
    let now = Local
        .with_ymd_and_hms(2010, 7, 7, 12, 0, 0)
        .single()
        .expect("now");
    let t0 = 1_278_472_580_000_000i64; // 2010/07/07 03:16:20 UTC
    let p = |s: &str| TimeRange::parse_at(s, now).expect(s);
    let r = p("2010/07/07.03:16:20-2010/07/07.03:16:21");
    assert_eq!((r.start, r.end), (t0, t0 + 1_000_000));
    assert_eq!(
        p("2010/07/07.03:16:20"),
        TimeRange {
            end: t0 + 999_999,
            ..r
        }
    );
    assert_eq!(p("03:16:20-03:16:21"), r);
    assert_eq!(p("1278472580+1s"), r);
    assert_eq!(p("2010/07/07.03:16:20+1s"), r);
    assert_eq!(p("07/07.03:16:20-03:16:21"), r);
    assert_eq!(
        p("2010/07/07.03:16:20.5-2010/07/07.03:16:21").start,
        t0 + 500_000
    );
    let day = p("2010/07/07");
    assert_eq!(day.end - day.start, 86_400_000_000 - 1);
    let m = p("2010/07");
    assert_eq!(m.end - m.start, 31 * 86_400_000_000 - 1);
    let rel = p("-1h");
    assert_eq!(rel.end - rel.start, 3_600_000_000);
    assert_eq!(rel.end, now.timestamp_micros());
    let c = p("c2010/07/07.03:16:20-2010/07/07.03:16:21");
    assert_eq!(c.how, TimeMatch::Contain);
    assert!(p("x2010").negate);
    for bad in [
        "2010/07/07.03:16:21-2010/07/07.03:16:20",
        "",
        "25:00",
        "2010/02/30",
        "**.14",
        "-1q",
    ] {
        assert!(TimeRange::parse_at(bad, now).is_err(), "{bad}");
    }
    // Intersection as Debian's ra decides it.
    assert!(r.matches(t0 - 10, t0 + 10));
    assert!(!r.matches(t0 - 10, t0));
    assert!(r.matches(t0, t0));
    assert!(r.matches(t0 + 1_000_000, t0 + 5_000_000));
    assert!(!r.matches(t0 + 1_000_001, t0 + 5_000_000));
}
