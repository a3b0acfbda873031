//! Loading Argus records into databases (`rasqlinsert`) and reading them back (`rasql`):
//! SQLite (embedded, the default), MySQL/MariaDB and ClickHouse (HTTP interface). Usage,
//! URLs, the column mapping and what happens when a database is down: docs/database.md.
//!
//! * [`url`]: the `-w`/`-r` URLs;
//! * [`columns`]: the table schema from `-s` and the typed values of a record;
//! * [`Backend`]: one database connection (create or check a table, insert a batch, list
//!   tables, read the `record` column back), implemented by `sqlite`, `mysql` and
//!   `clickhouse`;
//! * [`Loader`]: the bounded buffer between the reader and a writer thread that inserts
//!   batches, reconnects with backoff when the database is down or stalled, and counts what it
//!   could not keep.

pub mod clickhouse;
pub mod columns;
pub mod mysql;
pub mod sqlite;
pub mod url;

pub use columns::{ColType, Column, Columns, Val};
pub use url::{DbUrl, Engine};

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A database error: `Transient` ones (connection refused or lost, timeouts, a locked file)
/// are retried; `Fatal` ones (a table whose schema does not match, SQL the server refuses,
/// bad credentials) stop the load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbError {
    Transient(String),
    Fatal(String),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Transient(m) | DbError::Fatal(m) => f.write_str(m),
        }
    }
}

/// One record waiting to be inserted: the table it goes to and its encoded bytes (decoded
/// again at insert time: a few hundred bytes per record held instead of the decoded form).
#[derive(Clone, Debug)]
pub struct Pending {
    pub table: Arc<str>,
    pub bytes: Vec<u8>,
}

/// A database connection of one engine.
pub trait Backend: Send {
    /// Makes sure `table` exists with the columns (created when missing); a table that
    /// exists with other columns is a `Fatal` error naming both lists.
    fn prepare_table(&mut self, table: &str, cols: &Columns) -> Result<(), DbError>;
    /// Inserts the records (all for `table`) in one transaction / statement / request.
    fn insert(&mut self, table: &str, cols: &Columns, recs: &[Pending]) -> Result<(), DbError>;
    /// Drops the connection (the next call reconnects).
    fn reset(&mut self);
    /// The tables of the database.
    fn tables(&mut self) -> Result<Vec<String>, DbError>;
    /// Calls `f` with each stored `record` of `table`, in insertion order where the engine
    /// keeps one (`autoid`, SQLite's rowid).
    fn read_records(
        &mut self,
        table: &str,
        f: &mut dyn FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<(), DbError>;
}

/// Opens a connection for the URL (connecting lazily: a database that is down is a
/// `Transient` error at the first use, not here).
pub fn open(url: &DbUrl) -> Result<Box<dyn Backend>, String> {
    Ok(match url.engine {
        Engine::Sqlite => Box::new(sqlite::Sqlite::new(url)),
        Engine::Mysql => Box::new(mysql::Mysql::new(url)),
        Engine::ClickHouse => Box::new(clickhouse::ClickHouse::new(url)),
    })
}

/// How the loader buffers and retries (rasqlinsert's `--buffer`, `--batch`, `--retry-for`,
/// `--stall`).
#[derive(Clone, Copy, Debug)]
pub struct LoadOpts {
    /// Records held (queued or being inserted) at most.
    pub bound: usize,
    /// Records per insert.
    pub batch: usize,
    /// After the input ended, how long to keep retrying a database that is down.
    pub retry_for: Duration,
    /// An insert running longer than this counts as a stalled database: the reader stops
    /// waiting for room and drops what does not fit.
    pub stall: Duration,
}

impl Default for LoadOpts {
    fn default() -> Self {
        LoadOpts {
            bound: 100_000,
            batch: 2000,
            retry_for: Duration::from_secs(60),
            stall: Duration::from_secs(5),
        }
    }
}

/// What a load did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Records committed.
    pub inserted: u64,
    /// Records dropped because the buffer was full while the database was down or stalled.
    pub lost_full: u64,
    /// Records still buffered when the loader gave up (retry time over, or a fatal error).
    pub lost_at_exit: u64,
    /// Failed attempts (each retried).
    pub retries: u64,
    /// The error that stopped the load, if one did.
    pub fatal: Option<String>,
    /// The last transient error seen.
    pub last_error: Option<String>,
}

impl LoadStats {
    pub fn lost(&self) -> u64 {
        self.lost_full + self.lost_at_exit
    }
}

struct State {
    queue: VecDeque<Pending>,
    in_flight: usize,
    in_flight_since: Option<Instant>,
    /// The last attempt failed (cleared by a success).
    failing: bool,
    done: bool,
    stats: LoadStats,
}

struct Shared {
    m: Mutex<State>,
    data: Condvar,
    space: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking writer thread leaves the state as it was; keep using it.
        self.m.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The bounded buffer and its writer thread.
pub struct Loader {
    shared: Arc<Shared>,
    opts: LoadOpts,
    thread: Option<std::thread::JoinHandle<()>>,
    tables: HashSet<Arc<str>>,
    prog: &'static str,
}

impl Loader {
    /// Starts the writer thread on `backend`.
    pub fn start(
        prog: &'static str,
        backend: Box<dyn Backend>,
        cols: Columns,
        opts: LoadOpts,
    ) -> Loader {
        let shared = Arc::new(Shared {
            m: Mutex::new(State {
                queue: VecDeque::new(),
                in_flight: 0,
                in_flight_since: None,
                failing: false,
                done: false,
                stats: LoadStats::default(),
            }),
            data: Condvar::new(),
            space: Condvar::new(),
        });
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name("sql-writer".into())
            .spawn(move || writer(prog, sh, backend, cols, opts))
            .ok();
        Loader {
            shared,
            opts,
            thread,
            tables: HashSet::new(),
            prog,
        }
    }

    /// Queues one encoded flow record for `table`. Waits for room while the database keeps
    /// up; when it is down or stalled, a record that does not fit is dropped and counted.
    /// Err: the load stopped on a fatal error (the message).
    pub fn push(&mut self, table: &str, bytes: Vec<u8>) -> Result<(), String> {
        let t = match self.tables.get(table) {
            Some(t) => t.clone(),
            None => {
                let t: Arc<str> = Arc::from(table);
                self.tables.insert(t.clone());
                t
            }
        };
        let mut st = self.shared.lock();
        loop {
            if let Some(e) = &st.stats.fatal {
                return Err(e.clone());
            }
            if st.queue.len() + st.in_flight < self.opts.bound {
                st.queue.push_back(Pending { table: t, bytes });
                if st.queue.len() >= self.opts.batch || st.queue.len() == 1 {
                    self.shared.data.notify_one();
                }
                return Ok(());
            }
            let stalled = st
                .in_flight_since
                .is_some_and(|t| t.elapsed() >= self.opts.stall);
            if st.failing || stalled || self.thread.is_none() {
                if st.stats.lost_full == 0 {
                    eprintln!(
                        "{}: database {}: buffer full ({} records): dropping records until it catches up",
                        self.prog,
                        if stalled { "stalled" } else { "down" },
                        self.opts.bound
                    );
                }
                st.stats.lost_full += 1;
                return Ok(());
            }
            self.shared.data.notify_one();
            st = self
                .shared
                .space
                .wait_timeout(st, Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Records inserted so far.
    pub fn inserted(&self) -> u64 {
        self.shared.lock().stats.inserted
    }

    /// Ends the input: waits until everything is inserted (or given up) and returns the
    /// counts.
    pub fn finish(mut self) -> LoadStats {
        {
            let mut st = self.shared.lock();
            st.done = true;
            self.shared.data.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let mut st = self.shared.lock();
        // Without a writer thread (it could not be started) everything queued is lost.
        let left = st.queue.len() as u64;
        st.queue.clear();
        st.stats.lost_at_exit += left;
        st.stats.clone()
    }
}

fn writer(
    prog: &'static str,
    sh: Arc<Shared>,
    mut db: Box<dyn Backend>,
    cols: Columns,
    opts: LoadOpts,
) {
    let mut prepared: HashSet<Arc<str>> = HashSet::new();
    let mut batch: Vec<Pending> = Vec::with_capacity(opts.batch);
    let mut backoff = Duration::from_millis(50);
    let mut done_at: Option<Instant> = None;
    loop {
        {
            let mut st = sh.lock();
            while st.queue.is_empty() && !st.done {
                st = sh
                    .data
                    .wait_timeout(st, Duration::from_millis(200))
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            if st.queue.is_empty() {
                return;
            }
            if st.done && done_at.is_none() {
                done_at = Some(Instant::now());
            }
            // A run of records for one table.
            let table = st.queue.front().map(|p| p.table.clone());
            while batch.len() < opts.batch {
                match st.queue.front() {
                    Some(p) if Some(&p.table) == table.as_ref() => {
                        if let Some(p) = st.queue.pop_front() {
                            batch.push(p);
                        }
                    }
                    _ => break,
                }
            }
            st.in_flight = batch.len();
            st.in_flight_since = Some(Instant::now());
        }
        let table = batch[0].table.clone();
        let mut res = Ok(());
        if !prepared.contains(&table) {
            res = db.prepare_table(&table, &cols);
            if res.is_ok() {
                prepared.insert(table.clone());
            }
        }
        if res.is_ok() {
            res = db.insert(&table, &cols, &batch);
        }
        let mut st = sh.lock();
        st.in_flight = 0;
        st.in_flight_since = None;
        match res {
            Ok(()) => {
                if st.failing {
                    eprintln!(
                        "{prog}: database back: {} records inserted, {} buffered",
                        batch.len(),
                        st.queue.len()
                    );
                }
                st.stats.inserted += batch.len() as u64;
                st.failing = false;
                backoff = Duration::from_millis(50);
                batch.clear();
                sh.space.notify_all();
            }
            Err(DbError::Fatal(e)) => {
                st.stats.lost_at_exit += (batch.len() + st.queue.len()) as u64;
                st.queue.clear();
                st.stats.fatal = Some(e);
                sh.space.notify_all();
                return;
            }
            Err(DbError::Transient(e)) => {
                if !st.failing {
                    eprintln!(
                        "{prog}: database error, retrying (records are buffered, up to {}): {e}",
                        opts.bound
                    );
                }
                st.failing = true;
                st.stats.retries += 1;
                st.stats.last_error = Some(e);
                // Back to the front of the queue, in order.
                for p in batch.drain(..).rev() {
                    st.queue.push_front(p);
                }
                sh.space.notify_all();
                if st.done {
                    let since = *done_at.get_or_insert_with(Instant::now);
                    if since.elapsed() >= opts.retry_for {
                        st.stats.lost_at_exit += st.queue.len() as u64;
                        st.queue.clear();
                        return;
                    }
                }
                drop(st);
                db.reset();
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// Expands the URL's table pattern for a record starting at Unix second `sec`, binned by
/// `period` (`-M time`); a plain table name is returned as it is.
pub fn table_for(
    url: &DbUrl,
    period: Option<crate::split::Period>,
    sec: i64,
) -> Result<String, String> {
    if !url.table_is_pattern() {
        return Ok(url.table.clone());
    }
    let bin = period.map_or(sec, |p| p.bin_start(sec));
    let t = crate::split::strftime(&url.table, bin)?;
    url::check_table_name(&t).map_err(|e| format!("{}: {e}", url.shown))?;
    Ok(t)
}

/// SQL string literal body: `'` doubled (SQLite, ClickHouse and MySQL all take that), and
/// for MySQL backslashes doubled too.
pub(crate) fn push_sql_str(out: &mut String, s: &str, backslash: bool) {
    out.push('\'');
    for ch in s.chars() {
        match ch {
            '\'' => out.push_str("''"),
            '\\' if backslash => out.push_str("\\\\"),
            '\0' => {}
            c => out.push(c),
        }
    }
    out.push('\'');
}

/// "a, b, c" for messages.
pub(crate) fn list(v: &[(String, String)]) -> String {
    v.iter()
        .map(|(n, t)| format!("{n} {t}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Compares a table's columns (name, type as the engine reports it) with the expected ones
/// (types compared case-insensitively on their first word); the error names the table and
/// both lists.
pub(crate) fn check_schema(
    what: &str,
    table: &str,
    have: &[(String, String)],
    want: &[(String, String)],
) -> Result<(), DbError> {
    let norm = |t: &str| {
        t.split(['(', ' '])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let same = have.len() == want.len()
        && want.iter().all(|(n, t)| {
            have.iter()
                .any(|(hn, ht)| hn.eq_ignore_ascii_case(n) && norm(ht) == norm(t))
        });
    if same {
        Ok(())
    } else {
        Err(DbError::Fatal(format!(
            "{what}: table {table} exists with columns ({}) but -s asks for ({}): write to another table or give the table's field list",
            list(have),
            list(want)
        )))
    }
}
