//! Database URLs of `rasqlinsert -w` and `rasql -r` (docs/database.md, "URLs"):
//!
//! * `sqlite:///abs/path/file.db/TABLE`, `sqlite:rel/path/file.db/TABLE`: the last path
//!   component is the table, the rest the database file (created when missing);
//! * `mysql://[user[:password]@]host[:port]/DB/TABLE` (also `mariadb://`), port 3306;
//! * `clickhouse://[user[:password]@]host[:port]/DB/TABLE`: ClickHouse's HTTP interface,
//!   port 8123.
//!
//! TABLE may hold strftime conversions (`argus_%Y_%m_%d`), expanded from each record's own
//! start time (`-M time 1d`); after expansion it must be letters, digits and `_`.

/// Which database engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Mysql,
    ClickHouse,
}

/// A parsed database URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbUrl {
    pub engine: Engine,
    /// SQLite: the database file.
    pub path: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: String,
    pub port: u16,
    /// MySQL / ClickHouse database name.
    pub db: String,
    /// The table name or strftime pattern.
    pub table: String,
    /// The URL as given, without the password (for messages).
    pub shown: String,
}

impl DbUrl {
    /// Parses a URL; the error names what is wrong with it.
    pub fn parse(url: &str) -> Result<DbUrl, String> {
        let (scheme, rest) = url
            .split_once(':')
            .ok_or_else(|| format!("{url}: not a database URL (sqlite:///path/db/table, mysql://user@host/db/table or clickhouse://host:port/db/table)"))?;
        let engine = match scheme {
            "sqlite" | "sqlite3" => Engine::Sqlite,
            "mysql" | "mariadb" => Engine::Mysql,
            "clickhouse" => Engine::ClickHouse,
            s => {
                return Err(format!(
                    "{url}: unknown database '{s}' (sqlite, mysql or clickhouse)"
                ))
            }
        };
        if engine == Engine::Sqlite {
            // sqlite:///abs/path/db/table (empty authority), sqlite:rel/db/table.
            let p = rest.strip_prefix("//").unwrap_or(rest);
            let (path, table) = p
                .rsplit_once('/')
                .filter(|(p, t)| !p.is_empty() && !t.is_empty())
                .ok_or_else(|| {
                    format!("{url}: expected sqlite:///path/to/file.db/TABLE (file and table)")
                })?;
            check_table_pattern(url, table)?;
            return Ok(DbUrl {
                engine,
                path: path.to_string(),
                user: None,
                password: None,
                host: String::new(),
                port: 0,
                db: String::new(),
                table: table.to_string(),
                shown: url.to_string(),
            });
        }
        let rest = rest
            .strip_prefix("//")
            .ok_or_else(|| format!("{url}: expected {scheme}://host/db/table"))?;
        let (authority, path) = rest
            .split_once('/')
            .ok_or_else(|| format!("{url}: expected {scheme}://host/db/table"))?;
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((n, p)) => (Some(n.to_string()), Some(p.to_string())),
                None => (Some(u.to_string()), None),
            },
            None => (None, None),
        };
        let default_port = if engine == Engine::Mysql { 3306 } else { 8123 };
        let (host, port) =
            split_host_port(hostport, default_port).map_err(|e| format!("{url}: {e}"))?;
        let (db, table) = path
            .split_once('/')
            .filter(|(d, t)| !d.is_empty() && !t.is_empty() && !t.contains('/'))
            .ok_or_else(|| format!("{url}: expected {scheme}://host/DB/TABLE"))?;
        if !db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "{url}: database name '{db}': only letters, digits and _"
            ));
        }
        check_table_pattern(url, table)?;
        let shown = match (&user, &password) {
            (Some(u), Some(_)) => format!("{scheme}://{u}:***@{hostport}/{path}"),
            _ => url.to_string(),
        };
        Ok(DbUrl {
            engine,
            path: String::new(),
            user,
            password,
            host,
            port,
            db: db.to_string(),
            table: table.to_string(),
            shown,
        })
    }

    /// Whether the table name holds strftime conversions (one table per time bin).
    pub fn table_is_pattern(&self) -> bool {
        self.table.contains('%')
    }
}

fn split_host_port(hp: &str, default: u16) -> Result<(String, u16), String> {
    if hp.is_empty() {
        return Err("no host".into());
    }
    if let Some(r) = hp.strip_prefix('[') {
        let (h, p) = r.split_once(']').ok_or("unclosed '[' in the host")?;
        let port = match p.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| format!("bad port '{p}'"))?,
            None => default,
        };
        return Ok((h.to_string(), port));
    }
    match hp.rsplit_once(':') {
        Some((h, p)) => Ok((
            h.to_string(),
            p.parse().map_err(|_| format!("bad port '{p}'"))?,
        )),
        None => Ok((hp.to_string(), default)),
    }
}

fn check_table_pattern(url: &str, t: &str) -> Result<(), String> {
    if t.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '%')
    {
        Ok(())
    } else {
        Err(format!(
            "{url}: table name '{t}': only letters, digits, _ and strftime conversions (%Y %m %d %H ...)"
        ))
    }
}

/// A table name (after strftime) is letters, digits and `_`: it is then safe in quotes.
pub fn check_table_name(t: &str) -> Result<(), String> {
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(format!(
            "table name '{t}': only letters, digits and _ (after strftime)"
        ))
    }
}

/// Whether `name` is a table the pattern `pat` could have produced: each `%X` conversion
/// matches one or more digits, everything else itself.
pub fn matches_pattern(pat: &str, name: &str) -> bool {
    fn m(p: &[u8], n: &[u8]) -> bool {
        match p {
            [] => n.is_empty(),
            [b'%', _, rest @ ..] => {
                let digits = n.iter().take_while(|c| c.is_ascii_digit()).count();
                (1..=digits).any(|k| m(rest, &n[k..]))
            }
            [c, rest @ ..] => n.first() == Some(c) && m(rest, &n[1..]),
        }
    }
    m(pat.as_bytes(), name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = DbUrl::parse("sqlite:///tmp/x/flows.db/argus_%Y_%m_%d").unwrap();
        assert_eq!(u.engine, Engine::Sqlite);
        assert_eq!(u.path, "/tmp/x/flows.db");
        assert_eq!(u.table, "argus_%Y_%m_%d");
        assert!(u.table_is_pattern());
        let u = DbUrl::parse("sqlite:rel.db/t").unwrap();
        assert_eq!((u.path.as_str(), u.table.as_str()), ("rel.db", "t"));
        let u = DbUrl::parse("mysql://argus:pw@127.0.0.1:3307/argusdb/flows").unwrap();
        assert_eq!(u.engine, Engine::Mysql);
        assert_eq!(u.user.as_deref(), Some("argus"));
        assert_eq!(u.password.as_deref(), Some("pw"));
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 3307));
        assert_eq!((u.db.as_str(), u.table.as_str()), ("argusdb", "flows"));
        assert!(!u.shown.contains("pw"));
        let u = DbUrl::parse("clickhouse://localhost/db/t").unwrap();
        assert_eq!(u.port, 8123);
        for bad in [
            "nope",
            "postgres://h/d/t",
            "sqlite:///onlytable",
            "mysql://h/db",
            "mysql://h/db/t-x",
            "mysql://h:x/db/t",
            "clickhouse:///db/t",
        ] {
            assert!(DbUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn patterns() {
        assert!(matches_pattern("argus_%Y_%m_%d", "argus_2023_11_14"));
        assert!(!matches_pattern("argus_%Y_%m_%d", "argus_2023_11"));
        assert!(!matches_pattern("argus_%Y_%m_%d", "other_2023_11_14"));
        assert!(matches_pattern("flows", "flows"));
    }
}
