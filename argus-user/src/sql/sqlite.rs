//! SQLite, embedded (rusqlite with the bundled library: nothing to install). One transaction
//! per batch, one prepared statement per table, WAL journal.

use super::{check_schema, Backend, ColType, Columns, DbError, DbUrl, Pending, Val};
use crate::record::decode::decode;
use rusqlite::{Connection, ErrorCode};

pub struct Sqlite {
    path: String,
    shown: String,
    conn: Option<Connection>,
}

impl Sqlite {
    pub fn new(url: &DbUrl) -> Sqlite {
        Sqlite {
            path: url.path.clone(),
            shown: url.shown.clone(),
            conn: None,
        }
    }

    fn conn(&mut self) -> Result<&mut Connection, DbError> {
        if self.conn.is_none() {
            let c = Connection::open(&self.path).map_err(|e| self.err(e))?;
            c.busy_timeout(std::time::Duration::from_secs(5))
                .map_err(|e| self.err(e))?;
            // WAL: readers (rasql) do not block the loader; NORMAL sync is durable at
            // checkpoints and survives a crash of the loader.
            c.pragma_update(None, "journal_mode", "WAL")
                .map_err(|e| self.err(e))?;
            c.pragma_update(None, "synchronous", "NORMAL")
                .map_err(|e| self.err(e))?;
            self.conn = Some(c);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| DbError::Fatal("sqlite: no connection".into()))
    }

    fn err(&self, e: rusqlite::Error) -> DbError {
        let msg = format!("{}: {e}", self.shown);
        match e.sqlite_error_code() {
            Some(
                ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::DiskFull
                | ErrorCode::SystemIoFailure,
            ) => DbError::Transient(msg),
            _ => DbError::Fatal(msg),
        }
    }
}

/// The declared SQLite type of a column.
fn sql_type(t: ColType) -> &'static str {
    match t {
        ColType::AutoId => "INTEGER PRIMARY KEY AUTOINCREMENT",
        ColType::Int | ColType::UInt(_) => "INTEGER",
        ColType::Real => "REAL",
        ColType::Text => "TEXT",
        ColType::Blob => "BLOB",
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Backend for Sqlite {
    fn prepare_table(&mut self, table: &str, cols: &Columns) -> Result<(), DbError> {
        let shown = self.shown.clone();
        let c = self.conn()?;
        let want: Vec<(String, String)> = cols
            .cols
            .iter()
            .map(|c| (c.name.clone(), sql_type(c.ty).to_string()))
            .collect();
        let mut have: Vec<(String, String)> = Vec::new();
        {
            let mut st = c
                .prepare(&format!("PRAGMA table_info({})", quote(table)))
                .map_err(|e| DbError::Fatal(format!("{shown}: {e}")))?;
            let mut rows = st
                .query([])
                .map_err(|e| DbError::Fatal(format!("{shown}: {e}")))?;
            while let Some(r) = rows
                .next()
                .map_err(|e| DbError::Fatal(format!("{shown}: {e}")))?
            {
                let n: String = r.get(1).unwrap_or_default();
                let t: String = r.get(2).unwrap_or_default();
                have.push((n, t));
            }
        }
        if !have.is_empty() {
            return check_schema(&shown, table, &have, &want);
        }
        let defs: Vec<String> = want
            .iter()
            .map(|(n, t)| format!("{} {t}", quote(n)))
            .collect();
        c.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {} ({})",
            quote(table),
            defs.join(", ")
        ))
        .map_err(|e| self.err(e))
    }

    fn insert(&mut self, table: &str, cols: &Columns, recs: &[Pending]) -> Result<(), DbError> {
        let names: Vec<String> = cols.written().map(|c| quote(&c.name)).collect();
        let marks = vec!["?"; names.len()].join(",");
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({marks})",
            quote(table),
            names.join(",")
        );
        let shown = self.shown.clone();
        let conn = self.conn()?;
        let res = (|| -> Result<(), rusqlite::Error> {
            let tx = conn.transaction()?;
            {
                let mut st = tx.prepare_cached(&sql)?;
                for p in recs {
                    let Ok(rec) = decode(&p.bytes) else {
                        continue;
                    };
                    let mut i = 0;
                    let mut err = None;
                    cols.each_value(&rec, &p.bytes, |_, v| {
                        i += 1;
                        let r = match v {
                            Val::Null => st.raw_bind_parameter(i, rusqlite::types::Null),
                            Val::Int(x) => st.raw_bind_parameter(i, x),
                            Val::Real(x) => st.raw_bind_parameter(i, x),
                            Val::Text(s) => st.raw_bind_parameter(i, s),
                            Val::Blob(b) => st.raw_bind_parameter(i, b),
                        };
                        if let Err(e) = r {
                            err.get_or_insert(e);
                        }
                    });
                    if let Some(e) = err {
                        return Err(e);
                    }
                    st.raw_execute()?;
                }
            }
            tx.commit()
        })();
        res.map_err(|e| {
            let msg = format!("{shown}: insert into {table}: {e}");
            match e.sqlite_error_code() {
                Some(
                    ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::DiskFull
                    | ErrorCode::SystemIoFailure,
                ) => DbError::Transient(msg),
                _ => DbError::Fatal(msg),
            }
        })
    }

    fn reset(&mut self) {
        self.conn = None;
    }

    fn tables(&mut self) -> Result<Vec<String>, DbError> {
        let shown = self.shown.clone();
        if !std::path::Path::new(&self.path).exists() {
            return Err(DbError::Fatal(format!(
                "{shown}: {}: no such database file",
                self.path
            )));
        }
        let c = self.conn()?;
        let mut st = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .map_err(|e| DbError::Fatal(format!("{shown}: {e}")))?;
        let names = st
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| DbError::Fatal(format!("{shown}: {e}")))?;
        Ok(names)
    }

    fn read_records(
        &mut self,
        table: &str,
        f: &mut dyn FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<(), DbError> {
        let shown = self.shown.clone();
        let c = self.conn()?;
        let cols: Vec<String> = {
            let mut st = c
                .prepare(&format!("PRAGMA table_info({})", quote(table)))
                .map_err(|e| DbError::Fatal(format!("{shown}: {e}")))?;
            st.query_map([], |r| r.get::<_, String>(1))
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| DbError::Fatal(format!("{shown}: {e}")))?
        };
        if cols.is_empty() {
            return Err(DbError::Fatal(format!("{shown}: no table {table}")));
        }
        if !cols.iter().any(|c| c == "record") {
            return Err(DbError::Fatal(format!(
                "{shown}: table {table} has no record column (load it with -s ... record)"
            )));
        }
        let order = if cols.iter().any(|c| c == "autoid") {
            "autoid"
        } else {
            "rowid"
        };
        let mut st = c
            .prepare(&format!(
                "SELECT record FROM {} ORDER BY {order}",
                quote(table)
            ))
            .map_err(|e| DbError::Fatal(format!("{shown}: {e}")))?;
        let mut rows = st
            .query([])
            .map_err(|e| DbError::Fatal(format!("{shown}: {e}")))?;
        while let Some(r) = rows
            .next()
            .map_err(|e| DbError::Fatal(format!("{shown}: {e}")))?
        {
            if let Ok(rusqlite::types::ValueRef::Blob(b)) = r.get_ref(0) {
                f(b).map_err(DbError::Fatal)?;
            }
        }
        Ok(())
    }
}
