//! `-t` time ranges as ra(1) documents them (measured against Debian's ra 3.0.8):
//!
//! `[x][i|n|c]SPEC[-SPEC|+DURATION]` or `-DURATION[+DURATION]` (relative to now), where SPEC
//! is `[[[yyyy/]mm/]dd.]HH[:MM[:SS[.frac]]]`, `yyyy/mm/dd`, `yyyy/mm`, `yyyy` or Unix seconds
//! (5 digits or more), in the local time zone (`TZ`); a date-less time of day is today.
//! DURATION is a sequence of `N` + unit (`y` 365 days, `M` 30 days, `w`, `d`, `h`, `m`, `s`).
//! A lone SPEC covers its own granularity (`2010/07/07.03:16` = that minute, `2011/08` = that
//! month); a lone Unix second runs to the end of time; the end SPEC of a range is a point.
//! `i` (default): records active at some time in the range, `n`: records covering the whole
//! range, `c`: records wholly inside it; `x` negates. Wildcards (`*`) are not supported.

use chrono::{DateTime, Datelike, Local, LocalResult, NaiveDate, TimeZone};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeMatch {
    /// `i`: the record was active at some time in the range.
    Intersect,
    /// `n`: the record covers the whole range.
    Include,
    /// `c`: the record lies wholly inside the range.
    Contain,
}

/// A parsed `-t` range in Unix microseconds, both ends inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub start: i64,
    pub end: i64,
    pub how: TimeMatch,
    pub negate: bool,
}

impl TimeRange {
    /// Parses against the current time.
    pub fn parse(s: &str) -> Result<TimeRange, String> {
        TimeRange::parse_at(s, Local::now())
    }

    /// Parses with `now` as the current time (relative forms, today's date).
    pub fn parse_at(s: &str, now: DateTime<Local>) -> Result<TimeRange, String> {
        let mut rest = s.trim();
        let mut negate = false;
        let mut how = TimeMatch::Intersect;
        if let Some(r) = rest.strip_prefix('x') {
            negate = true;
            rest = r;
        }
        if let Some(c) = rest.chars().next() {
            let h = match c {
                'i' => Some(TimeMatch::Intersect),
                'n' => Some(TimeMatch::Include),
                'c' => Some(TimeMatch::Contain),
                _ => None,
            };
            if let Some(h) = h {
                how = h;
                rest = &rest[1..];
            }
        }
        if rest.is_empty() {
            return Err("empty time range".into());
        }
        let now_us = now.timestamp_micros();
        let (start, end) = if let Some(rel) = rest.strip_prefix('-') {
            // -DURATION[+DURATION]: back from now.
            let (back, len) = match rel.split_once('+') {
                Some((b, l)) => (b, Some(l)),
                None => (rel, None),
            };
            let start = now_us - duration(back)?;
            let end = match len {
                Some(l) => start + duration(l)?,
                None => now_us,
            };
            (start, end)
        } else if let Some((a, d)) = rest.split_once('+') {
            let (s0, _) = spec(a, now)?;
            (s0, s0 + duration(d)?)
        } else if let Some((a, b)) = rest.split_once('-') {
            let (s0, _) = spec(a, now)?;
            let (e0, _) = spec(b, now)?;
            (s0, e0)
        } else {
            let (s0, e0) = spec(rest, now)?;
            (s0, e0)
        };
        if end <= start {
            return Err("the range ends before it starts".into());
        }
        Ok(TimeRange {
            start,
            end,
            how,
            negate,
        })
    }

    /// Whether a record active from `start` to `last` (Unix microseconds) matches.
    pub fn matches(&self, start: i64, last: i64) -> bool {
        let last = last.max(start);
        let m = match self.how {
            // As Debian's ra: a record that starts inside the range, or one that started
            // before it and ends after its first instant.
            TimeMatch::Intersect => start <= self.end && (start >= self.start || last > self.start),
            TimeMatch::Include => start <= self.start && last >= self.end,
            TimeMatch::Contain => start >= self.start && last <= self.end,
        };
        m != self.negate
    }
}

/// `N` + unit, repeated, in microseconds.
fn duration(s: &str) -> Result<i64, String> {
    let mut total: i64 = 0;
    let mut num = String::new();
    let mut any = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num
            .parse()
            .map_err(|_| format!("'{s}': a number must come before '{c}'"))?;
        num.clear();
        let unit: i64 = match c {
            'y' => 365 * 86_400,
            'M' => 30 * 86_400,
            'w' => 7 * 86_400,
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(format!("'{s}': unknown time unit '{c}' (y M w d h m s)")),
        };
        total = n
            .checked_mul(unit * 1_000_000)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("'{s}': too long"))?;
        any = true;
    }
    if !num.is_empty() {
        // A bare number is seconds.
        let n: i64 = num.parse().map_err(|_| format!("'{s}': bad number"))?;
        total += n.saturating_mul(1_000_000);
        any = true;
    }
    if !any {
        return Err(format!("'{s}': empty duration"));
    }
    Ok(total)
}

fn num(s: &str, what: &str, whole: &str) -> Result<u32, String> {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) || s.len() > 4 {
        return Err(format!("'{whole}': bad {what} '{s}'"));
    }
    s.parse()
        .map_err(|_| format!("'{whole}': bad {what} '{s}'"))
}

fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32, se: u32, whole: &str) -> Result<i64, String> {
    let date = NaiveDate::from_ymd_opt(y, mo, d)
        .ok_or_else(|| format!("'{whole}': no such date {y:04}/{mo:02}/{d:02}"))?;
    let dt = date
        .and_hms_opt(h, mi, se)
        .ok_or_else(|| format!("'{whole}': no such time {h:02}:{mi:02}:{se:02}"))?;
    match Local.from_local_datetime(&dt) {
        LocalResult::Single(t) => Ok(t.timestamp_micros()),
        LocalResult::Ambiguous(t, _) => Ok(t.timestamp_micros()),
        LocalResult::None => Err(format!("'{whole}': that local time does not exist")),
    }
}

fn add_months(y: i32, mo: u32, n: u32) -> (i32, u32) {
    let m0 = (mo - 1) + n;
    (y + (m0 / 12) as i32, m0 % 12 + 1)
}

/// One time specification: its first instant and the last instant of its granularity.
fn spec(s: &str, now: DateTime<Local>) -> Result<(i64, i64), String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty time".into());
    }
    if s.contains('*') {
        return Err(format!("'{s}': wildcards are not supported"));
    }
    // Split into a date part and a time-of-day part.
    let (date, tod) = if s.contains('/') {
        match s.split_once('.') {
            Some((d, t)) => (Some(d), Some(t)),
            None => (Some(s), None),
        }
    } else if let Some((d, t)) = s.split_once('.').filter(|(d, _)| !d.contains(':')) {
        (Some(d), Some(t))
    } else if s.chars().all(|c| c.is_ascii_digit()) && s.len() >= 5 {
        // Unix seconds: from there on.
        let v: i64 = s.parse().map_err(|_| format!("'{s}': bad number"))?;
        return Ok((v * 1_000_000, i64::MAX / 2));
    } else if s.chars().all(|c| c.is_ascii_digit()) && s.len() == 4 {
        (Some(s), None)
    } else {
        (None, Some(s))
    };
    let (mut y, mut mo, mut d) = (now.year(), now.month(), now.day());
    // Date only: year, year/month, year/month/day or month/day.
    if let (Some(ds), None) = (date, tod) {
        let p: Vec<&str> = ds.split('/').collect();
        let year_first = p[0].len() == 4;
        return match (year_first, p.len()) {
            (true, 1) => {
                y = num(p[0], "year", s)? as i32;
                Ok((
                    local(y, 1, 1, 0, 0, 0, s)?,
                    local(y + 1, 1, 1, 0, 0, 0, s)? - 1,
                ))
            }
            (true, 2) => {
                y = num(p[0], "year", s)? as i32;
                mo = num(p[1], "month", s)?;
                if !(1..=12).contains(&mo) {
                    return Err(format!("'{s}': bad month {mo}"));
                }
                let (y2, m2) = add_months(y, mo, 1);
                Ok((
                    local(y, mo, 1, 0, 0, 0, s)?,
                    local(y2, m2, 1, 0, 0, 0, s)? - 1,
                ))
            }
            (true, 3) | (false, 2) => {
                let off = if year_first {
                    y = num(p[0], "year", s)? as i32;
                    1
                } else {
                    0
                };
                mo = num(p[off], "month", s)?;
                d = num(p[off + 1], "day", s)?;
                let t = local(y, mo, d, 0, 0, 0, s)?;
                Ok((t, t + 86_400_000_000 - 1))
            }
            _ => Err(format!(
                "'{s}': bad date (yyyy, yyyy/mm, yyyy/mm/dd or mm/dd)"
            )),
        };
    }
    if let Some(ds) = date {
        let p: Vec<&str> = ds.split('/').collect();
        match p.len() {
            1 => d = num(p[0], "day", s)?,
            2 => {
                mo = num(p[0], "month", s)?;
                d = num(p[1], "day", s)?;
            }
            3 => {
                y = num(p[0], "year", s)? as i32;
                mo = num(p[1], "month", s)?;
                d = num(p[2], "day", s)?;
            }
            _ => return Err(format!("'{s}': bad date")),
        }
    }
    let t = tod.unwrap_or("");
    let (hms, frac) = match t.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (t, None),
    };
    let p: Vec<&str> = hms.split(':').collect();
    if p.is_empty() || p.len() > 3 {
        return Err(format!("'{s}': bad time of day (HH[:MM[:SS]])"));
    }
    let h = num(p[0], "hour", s)?;
    let mi = if p.len() > 1 {
        num(p[1], "minute", s)?
    } else {
        0
    };
    let se = if p.len() > 2 {
        num(p[2], "second", s)?
    } else {
        0
    };
    if frac.is_some() && p.len() < 3 {
        return Err(format!("'{s}': a fraction needs seconds"));
    }
    let mut us: i64 = 0;
    if let Some(f) = frac {
        if f.is_empty() || f.len() > 6 || !f.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("'{s}': bad fraction '{f}'"));
        }
        us = format!("{f:0<6}")
            .parse()
            .map_err(|_| format!("'{s}': bad fraction"))?;
    }
    let start = local(y, mo, d, h, mi, se, s)? + us;
    let gran: i64 = match p.len() {
        1 => 3_600_000_000,
        2 => 60_000_000,
        _ => 1_000_000,
    };
    Ok((start, start + gran - 1))
}
