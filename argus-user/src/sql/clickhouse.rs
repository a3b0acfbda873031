//! ClickHouse over its HTTP interface (plain HTTP/1.0 on a `TcpStream`: one request per
//! batch, no client library). Batches are `INSERT ... FORMAT RowBinary` (typed little-endian
//! values, strings length-prefixed: no escaping, no text parsing on the server); the `record`
//! column is read back the same way. Works with Debian's clickhouse-server 18.16 and newer.
//! Tables are MergeTree, partitioned by day and ordered by flow start when `stime` is a
//! column (docs/database.md, "ClickHouse").

use super::{check_schema, Backend, ColType, Columns, DbError, DbUrl, Pending, Val};
use crate::record::decode::decode;
use crate::record::Record;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

pub struct ClickHouse {
    url: DbUrl,
    body: Vec<u8>,
    db_created: bool,
}

impl ClickHouse {
    pub fn new(url: &DbUrl) -> ClickHouse {
        ClickHouse {
            url: url.clone(),
            body: Vec::new(),
            db_created: false,
        }
    }

    /// One HTTP request: `query` in the URL, `body` posted; the response body, or the error
    /// (connection problems transient, the server's exceptions fatal unless they go away).
    pub fn request(&self, query: &str, body: &[u8]) -> Result<Vec<u8>, DbError> {
        let u = &self.url;
        let transient =
            |what: &str, e: std::io::Error| DbError::Transient(format!("{}: {what}: {e}", u.shown));
        let addr = (u.host.as_str(), u.port)
            .to_socket_addrs()
            .map_err(|e| transient("resolve", e))?
            .next()
            .ok_or_else(|| DbError::Fatal(format!("{}: host not found", u.shown)))?;
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
            .map_err(|e| transient("connect", e))?;
        let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(60)));
        let _ = s.set_nodelay(true);
        let mut path = String::from("/?query=");
        urlencode(query, &mut path);
        if let Some(user) = &u.user {
            path.push_str("&user=");
            urlencode(user, &mut path);
        }
        if let Some(pw) = &u.password {
            path.push_str("&password=");
            urlencode(pw, &mut path);
        }
        let head = format!(
            "POST {path} HTTP/1.0\r\nHost: {}:{}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
            u.host,
            u.port,
            body.len()
        );
        s.write_all(head.as_bytes())
            .and_then(|_| s.write_all(body))
            .map_err(|e| transient("send", e))?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp)
            .map_err(|e| transient("receive", e))?;
        let end = resp
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| DbError::Transient(format!("{}: incomplete HTTP response", u.shown)))?;
        let status_line = String::from_utf8_lossy(&resp[..end]);
        let code: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = resp.split_off(end + 4);
        if code == 200 {
            return Ok(body);
        }
        let text = String::from_utf8_lossy(&body).trim().to_string();
        let msg = format!("{}: HTTP {code}: {text}", u.shown);
        // Server exception codes that go away: memory, too many queries/parts, timeouts,
        // network, table being altered/dropped.
        let ch_code: u32 = text
            .strip_prefix("Code: ")
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        if code >= 502 || matches!(ch_code, 159 | 202 | 209 | 210 | 241 | 252 | 473) {
            Err(DbError::Transient(msg))
        } else {
            Err(DbError::Fatal(msg))
        }
    }

    fn text(&self, query: &str) -> Result<String, DbError> {
        self.request(query, &[])
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    fn ensure_db(&mut self) -> Result<(), DbError> {
        if !self.db_created {
            self.text(&format!("CREATE DATABASE IF NOT EXISTS {}", self.url.db))?;
            self.db_created = true;
        }
        Ok(())
    }

    fn columns_of(&self, table: &str) -> Result<Vec<(String, String)>, DbError> {
        let t = self.text(&format!(
            "SELECT name, type FROM system.columns WHERE database = '{}' AND table = '{table}' FORMAT TabSeparated",
            self.url.db
        ))?;
        Ok(t.lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect())
    }
}

fn urlencode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// The ClickHouse type of a column.
pub fn ch_type(t: ColType) -> &'static str {
    match t {
        ColType::UInt(8) => "UInt8",
        ColType::UInt(16) => "UInt16",
        ColType::UInt(32) => "UInt32",
        ColType::UInt(_) => "UInt64",
        ColType::Int | ColType::AutoId => "Int64",
        ColType::Real => "Float64",
        ColType::Text | ColType::Blob => "String",
    }
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn put_value(out: &mut Vec<u8>, ty: ColType, v: Val) {
    let int = match v {
        Val::Int(x) => x,
        Val::Real(x) => x as i64,
        _ => 0,
    };
    match ty {
        ColType::UInt(8) => out.push(int as u8),
        ColType::UInt(16) => out.extend_from_slice(&(int as u16).to_le_bytes()),
        ColType::UInt(32) => out.extend_from_slice(&(int as u32).to_le_bytes()),
        ColType::UInt(_) | ColType::Int | ColType::AutoId => {
            out.extend_from_slice(&int.to_le_bytes())
        }
        ColType::Real => {
            let f = match v {
                Val::Real(x) => x,
                Val::Int(x) => x as f64,
                _ => 0.0,
            };
            out.extend_from_slice(&f.to_le_bytes());
        }
        ColType::Text | ColType::Blob => {
            let b: &[u8] = match v {
                Val::Text(s) => s.as_bytes(),
                Val::Blob(b) => b,
                _ => &[],
            };
            put_varint(out, b.len() as u64);
            out.extend_from_slice(b);
        }
    }
}

impl Backend for ClickHouse {
    fn prepare_table(&mut self, table: &str, cols: &Columns) -> Result<(), DbError> {
        self.ensure_db()?;
        let want: Vec<(String, String)> = cols
            .cols
            .iter()
            .map(|c| (c.name.clone(), ch_type(c.ty).to_string()))
            .collect();
        let have = self.columns_of(table)?;
        if !have.is_empty() {
            return check_schema(&self.url.shown, table, &have, &want);
        }
        let defs: Vec<String> = want.iter().map(|(n, t)| format!("{n} {t}")).collect();
        let engine = match cols.time_columns() {
            Some((start, _)) => format!(
                "MergeTree() PARTITION BY toYYYYMMDD(toDateTime(intDiv({start}, 1000))) ORDER BY {start}"
            ),
            None => "MergeTree() ORDER BY tuple()".to_string(),
        };
        self.text(&format!(
            "CREATE TABLE IF NOT EXISTS {}.{table} ({}) ENGINE = {engine}",
            self.url.db,
            defs.join(", ")
        ))
        .map(|_| ())
    }

    fn insert(&mut self, table: &str, cols: &Columns, recs: &[Pending]) -> Result<(), DbError> {
        let mut body = std::mem::take(&mut self.body);
        body.clear();
        for p in recs {
            let Ok(rec @ Record::Flow(_)) = decode(&p.bytes) else {
                continue;
            };
            cols.each_value(&rec, &p.bytes, |c, v| put_value(&mut body, c.ty, v));
        }
        let names: Vec<&str> = cols.written().map(|c| c.name.as_str()).collect();
        let q = format!(
            "INSERT INTO {}.{table} ({}) FORMAT RowBinary",
            self.url.db,
            names.join(", ")
        );
        let res = self.request(&q, &body).map(|_| ());
        self.body = body;
        res
    }

    fn reset(&mut self) {}

    fn tables(&mut self) -> Result<Vec<String>, DbError> {
        let t = self.text(&format!(
            "SHOW TABLES FROM {} FORMAT TabSeparated",
            self.url.db
        ))?;
        let mut v: Vec<String> = t.lines().map(str::to_string).collect();
        v.sort();
        Ok(v)
    }

    fn read_records(
        &mut self,
        table: &str,
        f: &mut dyn FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<(), DbError> {
        let have = self.columns_of(table)?;
        if have.is_empty() {
            return Err(DbError::Fatal(format!(
                "{}: no table {table}",
                self.url.shown
            )));
        }
        if !have.iter().any(|(n, _)| n == "record") {
            return Err(DbError::Fatal(format!(
                "{}: table {table} has no record column (load it with -s ... record)",
                self.url.shown
            )));
        }
        let order = have
            .iter()
            .find(|(n, _)| n == "flowStartMilliseconds")
            .map_or("", |_| " ORDER BY flowStartMilliseconds");
        let body = self.request(
            &format!(
                "SELECT record FROM {}.{table}{order} FORMAT RowBinary",
                self.url.db
            ),
            &[],
        )?;
        let mut i = 0;
        while i < body.len() {
            let mut len: u64 = 0;
            let mut shift = 0;
            loop {
                let Some(&b) = body.get(i) else {
                    return Err(DbError::Fatal(format!(
                        "{}: truncated RowBinary answer",
                        self.url.shown
                    )));
                };
                i += 1;
                len |= ((b & 0x7f) as u64) << shift;
                shift += 7;
                if b & 0x80 == 0 || shift > 63 {
                    break;
                }
            }
            let end = i.saturating_add(len as usize);
            let Some(rec) = body.get(i..end) else {
                return Err(DbError::Fatal(format!(
                    "{}: truncated RowBinary answer",
                    self.url.shown
                )));
            };
            f(rec).map_err(DbError::Fatal)?;
            i = end;
        }
        Ok(())
    }
}
