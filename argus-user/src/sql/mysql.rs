//! MySQL / MariaDB over TCP (the pure-Rust `mysql` crate, no TLS). A batch is one multi-row
//! `INSERT` in the text protocol (literals written straight into the statement: no value
//! objects per field; blobs as hex). The database is created when missing.

use super::{check_schema, push_sql_str, Backend, ColType, Columns, DbError, DbUrl, Pending, Val};
use crate::record::decode::decode;
use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder};
use std::fmt::Write as _;
use std::time::Duration;

pub struct Mysql {
    url: DbUrl,
    conn: Option<Conn>,
    sql: String,
}

impl Mysql {
    pub fn new(url: &DbUrl) -> Mysql {
        Mysql {
            url: url.clone(),
            conn: None,
            sql: String::new(),
        }
    }

    fn conn(&mut self) -> Result<&mut Conn, DbError> {
        if self.conn.is_none() {
            let u = &self.url;
            let opts = OptsBuilder::new()
                .ip_or_hostname(Some(u.host.clone()))
                .tcp_port(u.port)
                .user(u.user.clone())
                .pass(u.password.clone())
                .prefer_socket(false)
                .tcp_connect_timeout(Some(Duration::from_secs(3)))
                .read_timeout(Some(Duration::from_secs(30)))
                .write_timeout(Some(Duration::from_secs(30)));
            let mut c = Conn::new(opts).map_err(|e| err(&self.url, "connect", e))?;
            c.query_drop(format!("CREATE DATABASE IF NOT EXISTS `{}`", u.db))
                .map_err(|e| err(&self.url, "create database", e))?;
            c.query_drop(format!("USE `{}`", u.db))
                .map_err(|e| err(&self.url, "use database", e))?;
            self.conn = Some(c);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| DbError::Fatal("mysql: no connection".into()))
    }
}

/// Connection-level failures are retried; errors the server reports about the statement
/// (syntax, access denied, unknown column) are not, except the few that go away (too many
/// connections, lock wait timeout, deadlock, read-only, shutdown in progress).
fn err(u: &DbUrl, what: &str, e: mysql::Error) -> DbError {
    let msg = format!("{}: {what}: {e}", u.shown);
    match &e {
        mysql::Error::MySqlError(m) => match m.code {
            1040 | 1053 | 1205 | 1213 | 1290 | 1836 | 2006 | 2013 => DbError::Transient(msg),
            _ => DbError::Fatal(msg),
        },
        mysql::Error::IoError(_) | mysql::Error::CodecError(_) | mysql::Error::DriverError(_) => {
            DbError::Transient(msg)
        }
        _ => DbError::Fatal(msg),
    }
}

fn sql_type(t: ColType) -> &'static str {
    match t {
        ColType::AutoId => "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
        ColType::Int | ColType::UInt(_) => "BIGINT",
        ColType::Real => "DOUBLE",
        ColType::Text => "VARCHAR(255)",
        ColType::Blob => "MEDIUMBLOB",
    }
}

impl Backend for Mysql {
    fn prepare_table(&mut self, table: &str, cols: &Columns) -> Result<(), DbError> {
        let url = self.url.clone();
        let c = self.conn()?;
        let have: Vec<(String, String)> = c
            .exec(
                "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (&url.db, table),
            )
            .map_err(|e| err(&url, "read schema", e))?;
        let want: Vec<(String, String)> = cols
            .cols
            .iter()
            .map(|c| (c.name.clone(), sql_type(c.ty).to_string()))
            .collect();
        if !have.is_empty() {
            return check_schema(&url.shown, table, &have, &want);
        }
        let defs: Vec<String> = want.iter().map(|(n, t)| format!("`{n}` {t}")).collect();
        c.query_drop(format!(
            "CREATE TABLE IF NOT EXISTS `{table}` ({})",
            defs.join(", ")
        ))
        .map_err(|e| err(&url, "create table", e))
    }

    fn insert(&mut self, table: &str, cols: &Columns, recs: &[Pending]) -> Result<(), DbError> {
        let mut sql = std::mem::take(&mut self.sql);
        sql.clear();
        let _ = write!(sql, "INSERT INTO `{table}` (");
        for (i, c) in cols.written().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            let _ = write!(sql, "`{}`", c.name);
        }
        sql.push_str(") VALUES ");
        let mut rows = 0;
        for p in recs {
            let Ok(rec @ crate::record::Record::Flow(_)) = decode(&p.bytes) else {
                continue;
            };
            if rows > 0 {
                sql.push(',');
            }
            sql.push('(');
            let mut first = true;
            cols.each_value(&rec, &p.bytes, |_, v| {
                if !first {
                    sql.push(',');
                }
                first = false;
                push_value(&mut sql, v);
            });
            sql.push(')');
            rows += 1;
        }
        let res = if rows > 0 {
            let url = self.url.clone();
            match self.conn() {
                Ok(c) => c
                    .query_drop(&sql)
                    .map_err(|e| err(&url, &format!("insert into {table}"), e)),
                Err(e) => Err(e),
            }
        } else {
            Ok(())
        };
        self.sql = sql;
        res
    }

    fn reset(&mut self) {
        self.conn = None;
    }

    fn tables(&mut self) -> Result<Vec<String>, DbError> {
        let url = self.url.clone();
        let c = self.conn()?;
        let mut v: Vec<String> = c
            .query("SHOW TABLES")
            .map_err(|e| err(&url, "show tables", e))?;
        v.sort();
        Ok(v)
    }

    fn read_records(
        &mut self,
        table: &str,
        f: &mut dyn FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<(), DbError> {
        let url = self.url.clone();
        let c = self.conn()?;
        let cols: Vec<String> = c
            .exec(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (&url.db, table),
            )
            .map_err(|e| err(&url, "read schema", e))?;
        if cols.is_empty() {
            return Err(DbError::Fatal(format!("{}: no table {table}", url.shown)));
        }
        if !cols.iter().any(|c| c == "record") {
            return Err(DbError::Fatal(format!(
                "{}: table {table} has no record column (load it with -s ... record)",
                url.shown
            )));
        }
        let order = if cols.iter().any(|c| c == "autoid") {
            " ORDER BY `autoid`"
        } else {
            ""
        };
        let res = c
            .query_iter(format!("SELECT `record` FROM `{table}`{order}"))
            .map_err(|e| err(&url, "select", e))?;
        for row in res {
            let row = row.map_err(|e| err(&url, "select", e))?;
            if let Some(mysql::Value::Bytes(b)) = row.as_ref(0) {
                f(b).map_err(DbError::Fatal)?;
            }
        }
        Ok(())
    }
}

fn push_value(sql: &mut String, v: Val) {
    match v {
        Val::Null => sql.push_str("NULL"),
        Val::Int(x) => {
            let _ = write!(sql, "{x}");
        }
        Val::Real(x) if x.is_finite() => {
            let _ = write!(sql, "{x}");
        }
        Val::Real(_) => sql.push_str("NULL"),
        Val::Text(s) => push_sql_str(sql, s, true),
        Val::Blob(b) => {
            if b.is_empty() {
                sql.push_str("''");
                return;
            }
            sql.push_str("X'");
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            for &x in b {
                sql.push(HEX[(x >> 4) as usize] as char);
                sql.push(HEX[(x & 15) as usize] as char);
            }
            sql.push('\'');
        }
    }
}
