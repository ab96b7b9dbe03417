//! Storage: one interface in domain terms over two backends, SQLite (the
//! default: one file, WAL) and PostgreSQL (several daemons on one database).
//!
//! Both backends run the same SQL through `sqlx::Any`; where they differ
//! (how a write transaction starts, row claiming) the [`Backend`] says so at
//! that one place. Timestamps are integer milliseconds in both schemas, so
//! the two cannot drift apart in meaning. Migrations live in
//! `migrations/sqlite` and `migrations/postgres` with the same versions.

mod customers;
mod deferred;
mod erase;
mod events;
mod history;
mod ingest_tx;
mod limits;
mod mailbox;
mod oauth;
mod ops;
mod outbox;
mod overview;
mod read;
mod report;
mod retention;
mod sla;
mod survey;
mod tickets;
mod tx;
mod watch;

pub use customers::{CustomerRow, TheirEvent, TheirMessage, TheirRating};
pub use erase::Erased;
pub use ingest_tx::{FirstLook, NewMessage, NewOutbox, NewTicket, TicketUpdate};
pub use limits::{Counted, HeldNotice, ReturnedMail, SentQuery};
pub use oauth::{AccountRow, NewTokens};
pub use ops::Gauges;
pub use outbox::OutboxJob;
pub use overview::{AT_RISK_AHEAD, LIST_LIMIT, TicketLine};
pub use read::{EventRow, MessageRow, OutboxRow, ParticipantRow, TicketDetail, TicketSummary};
pub use retention::Swept;
pub use sla::{DueNotice, StoredClock};
pub use tickets::{TicketEdit, TicketState};
pub use tx::{Group, Tx};

use crate::config::DatabaseConfig;
use crate::domain::token::TokenKey;
use jiff::Timestamp;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Row};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or written right now (a retry may work).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Query(#[source] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unexpected data in the database: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// A unique constraint refused the write (someone else stored it first).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Query(e) => e
                .as_database_error()
                .is_some_and(|d| d.is_unique_violation()),
            _ => false,
        }
    }
}

/// SQLite primary result codes that mean "not now" rather than "wrong":
/// BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL.
const SQLITE_TRANSIENT: &[i64] = &[5, 6, 7, 8, 10, 13, 14, 15];

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let transient = match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(d) => {
                let code = d.code().map(|c| c.to_string()).unwrap_or_default();
                match code.parse::<i64>() {
                    // SQLite: extended code; the primary code is its low byte.
                    Ok(n) => SQLITE_TRANSIENT.contains(&(n & 0xff)),
                    // PostgreSQL SQLSTATE: connection (08), resources (53),
                    // operator intervention (57), read-only transaction.
                    Err(_) => {
                        code.starts_with("08")
                            || code.starts_with("53")
                            || code.starts_with("57")
                            || code == "25006"
                    }
                }
            }
            _ => false,
        };
        if transient {
            StoreError::Unavailable(e)
        } else {
            StoreError::Query(e)
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub fn from_ms(v: i64) -> Result<Timestamp> {
    Timestamp::from_millisecond(v).map_err(|e| StoreError::Corrupt(format!("timestamp {v}: {e}")))
}

pub fn opt_from_ms(v: Option<i64>) -> Result<Option<Timestamp>> {
    v.map(from_ms).transpose()
}

/// A column of a row, with a clear error when it is not what we wrote.
pub(crate) fn col<'r, T>(row: &'r AnyRow, name: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

/// The database, shared by every task of the daemon.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The database file, for SQLite on disk.
    sqlite_path: Option<String>,
    /// What the pool connects to (the watcher opens its own connection).
    url: String,
}

impl Store {
    pub async fn connect(cfg: &DatabaseConfig) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if cfg.url.starts_with("sqlite:") {
            (Backend::Sqlite, sqlite_url(&cfg.url))
        } else {
            (Backend::Postgres, cfg.url.clone())
        };
        let busy_ms = cfg.busy_timeout.as_millis().max(0);
        // No idle reaping or lifetime: connections live as long as the pool,
        // and the pool's housekeeping task is never started (one was seen
        // spinning in a finished `outbox list` during a SIGKILL storm,
        // keeping the process alive).
        let mut opts = AnyPoolOptions::new()
            .max_connections(cfg.max_connections)
            .acquire_timeout(cfg.connect_timeout.unsigned_abs())
            .idle_timeout(None)
            .max_lifetime(None);
        if backend == Backend::Postgres {
            let statement_ms = cfg.statement_timeout.as_millis().max(0);
            opts = opts.after_connect(move |conn, _| {
                Box::pin(async move {
                    conn.execute(sqlx::AssertSqlSafe(format!(
                        "SET statement_timeout = {statement_ms}"
                    )))
                    .await?;
                    Ok(())
                })
            });
        }
        if backend == Backend::Sqlite {
            // temp_store: the savepoint of each message in a group commit
            // journals its pages in memory, not in a temporary file.
            opts = opts.after_connect(move |conn, _| {
                Box::pin(async move {
                    conn.execute(sqlx::AssertSqlSafe(format!(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {busy_ms}; \
                         PRAGMA temp_store = MEMORY;"
                    )))
                    .await?;
                    Ok(())
                })
            });
        }
        if backend == Backend::Sqlite
            && let Some(path) = crate::config::sqlite_file(&cfg.url)
        {
            keep_private(&path);
        }
        let pool = match opts.connect(&url).await {
            Ok(p) => p,
            // The pool only says it waited; one direct attempt says why
            // (connection refused, unknown host, password refused).
            Err(sqlx::Error::PoolTimedOut) => {
                use sqlx::Connection;
                let why = match tokio::time::timeout(
                    cfg.connect_timeout.unsigned_abs(),
                    sqlx::AnyConnection::connect(&url),
                )
                .await
                {
                    Ok(Err(e)) => e,
                    _ => sqlx::Error::PoolTimedOut,
                };
                return Err(why.into());
            }
            Err(e) => return Err(e.into()),
        };
        let sqlite_path = crate::config::sqlite_file(&cfg.url).map(|p| p.display().to_string());
        Ok(Store {
            pool,
            backend,
            sqlite_path,
            url,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A consistent copy of a SQLite database at `path` (which must not
    /// exist), taken while others read and write: `VACUUM INTO` reads one
    /// snapshot. None on PostgreSQL (use pg_dump).
    pub async fn backup_sqlite(&self, path: &std::path::Path) -> Result<Option<()>> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        sqlx::query("VACUUM INTO $1")
            .bind(text(path.display().to_string()))
            .execute(&self.pool)
            .await?;
        Ok(Some(()))
    }

    /// Applies the migrations of this backend that are not applied yet.
    /// PostgreSQL serialises concurrent migrators with an advisory lock; for
    /// SQLite, processes starting together take an exclusive lock on
    /// `<database>.migrate.lock` first.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        // Nothing to do needs no write: a database that is read-only for now still starts.
        if self.all_applied(&migrator).await && !self.refold_pending().await? {
            return Ok(());
        }
        let _lock = match (&self.backend, &self.sqlite_path) {
            (Backend::Sqlite, Some(path)) => {
                Some(lock_file(&format!("{path}.migrate.lock")).await?)
            }
            _ => None,
        };
        migrator.run(&self.pool).await?;
        self.refold_subjects().await
    }

    async fn refold_pending(&self) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 AS one FROM settings WHERE name = 'refold_subjects'")
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// The data step of migration 0010: stored normalized subjects folded
    /// as [`crate::domain::subject::normalize`] folds them now, in one
    /// transaction that also clears the mark (several instances starting
    /// together: the loser finds nothing to do).
    async fn refold_subjects(&self) -> Result<()> {
        let mut tx = self.begin_raw().await?;
        let marked =
            sqlx::query("DELETE FROM settings WHERE name = 'refold_subjects' RETURNING name")
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
        if marked {
            let rows = sqlx::query("SELECT number, normalized_subject FROM tickets")
                .fetch_all(&mut *tx)
                .await?;
            let mut changed = 0;
            for r in &rows {
                let old: String = col(r, "normalized_subject")?;
                let folded = crate::domain::fold::fold(&old);
                if folded != old {
                    sqlx::query("UPDATE tickets SET normalized_subject = $1 WHERE number = $2")
                        .bind(text(&folded))
                        .bind(col::<i64>(r, "number")?)
                        .execute(&mut *tx)
                        .await?;
                    changed += 1;
                }
            }
            tracing::info!(
                tickets = rows.len(),
                changed,
                "stored subjects folded for matching"
            );
        }
        tx.commit().await?;
        Ok(())
    }

    async fn all_applied(&self, migrator: &sqlx::migrate::Migrator) -> bool {
        let Ok(rows) = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_all(&self.pool)
            .await
        else {
            return false;
        };
        let applied: Vec<i64> = rows.iter().filter_map(|r| col(r, "version").ok()).collect();
        migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .all(|m| applied.contains(&m.version))
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once,
    /// so a transaction never fails half-way because another writer came first.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(Tx::new(self.begin_raw().await?, self.backend))
    }

    /// The reply-token key, generated on first use and the same for every
    /// instance on this database from then on.
    pub async fn token_key(&self) -> Result<TokenKey> {
        // Read first: a database that is read-only for now still serves.
        let stored = sqlx::query("SELECT value FROM settings WHERE name = 'token_secret'")
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = stored {
            return Ok(TokenKey::new(&col::<Vec<u8>>(&row, "value")?));
        }
        let mut fresh = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut fresh)
            .map_err(|_| StoreError::Corrupt("the system random generator failed".into()))?;
        sqlx::query("INSERT INTO settings (name, value) VALUES ('token_secret', $1) ON CONFLICT (name) DO NOTHING")
            .bind(fresh.to_vec())
            .execute(&self.pool)
            .await?;
        // Another instance may have won the race: its secret counts.
        let row = sqlx::query("SELECT value FROM settings WHERE name = 'token_secret'")
            .fetch_one(&self.pool)
            .await?;
        Ok(TokenKey::new(&col::<Vec<u8>>(&row, "value")?))
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Takes an exclusive advisory lock on `path` (created if missing), held until the file is dropped.
/// The SQLite database holds the token secret and every customer's mail:
/// it is created readable by its owner only, whatever the umask, and an
/// existing one (with its -wal and -shm files, which SQLite creates with
/// the database's own mode) is narrowed to that.
fn keep_private(path: &std::path::Path) {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if !path.exists() {
        // mode 0600 on creation; a failure here is reported by the connect that follows.
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
    }
    let mut files = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        files.push(p.into());
    }
    for f in files {
        if let Ok(meta) = std::fs::metadata(&f)
            && meta.permissions().mode() & 0o077 != 0
        {
            match std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)) {
                Ok(()) => {
                    tracing::info!(file = %f.display(), "database file made readable by its owner only (0600)")
                }
                Err(e) => {
                    tracing::warn!(file = %f.display(), error = %e, "cannot narrow the database file to 0600: it holds the token secret")
                }
            }
        }
    }
}

async fn lock_file(path: &str) -> Result<std::fs::File> {
    let path = path.to_string();
    tokio::task::spawn_blocking(move || {
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)?;
        f.lock()?;
        Ok::<_, std::io::Error>(f)
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("lock task: {e}")))?
    .map_err(|e| StoreError::Unavailable(sqlx::Error::Io(e)))
}

/// `sqlite://file.db` → a URL that creates the file if it is missing.
fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}mode=rwc")
}

/// A `?`-free list of `$n` placeholders starting at `first`: `$2, $3, $4`.
/// The most rows (or listed values) one statement carries: a power of two.
pub(crate) const MAX_ROWS: usize = 32;

/// Each text of a statement is prepared and cached apart, and the cache
/// holds 100 per connection; a statement whose text follows its number of
/// rows would take a new shape for every count, push the hot statements out
/// and be prepared again each time. So lists are padded to a power of two
/// (where a repeated value changes nothing: `IN (...)`, an insert that does
/// nothing on conflict), which leaves six shapes up to [`MAX_ROWS`].
pub(crate) fn padded<T>(chunk: &[T]) -> impl Iterator<Item = &T> {
    let pad = chunk.len().next_power_of_two() - chunk.len();
    chunk
        .iter()
        .chain(std::iter::repeat_n(chunk.last(), pad).flatten())
}

/// `items` in chunks of powers of two, largest first, none above
/// [`MAX_ROWS`]: the shapes of rows that may not repeat (see [`padded`]).
pub(crate) fn pow2_chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = MAX_ROWS.min(1 << rest.len().ilog2());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Text for a TEXT column: every text value the store binds goes through
/// here (or [`opt_text`]). PostgreSQL refuses NUL characters, which decoded
/// mail and even configuration strings can contain; they become U+FFFD in
/// both backends alike, so a message stores the same everywhere.
pub(crate) fn text(s: impl AsRef<str>) -> String {
    s.as_ref().replace('\0', "\u{fffd}")
}

/// [`text`] for a column that may be NULL.
pub(crate) fn opt_text<S: AsRef<str>>(s: Option<S>) -> Option<String> {
    s.map(text)
}

/// Joins a list for a TEXT column (space-separated: ids and addresses have no spaces).
pub(crate) fn join_list(items: &[String]) -> String {
    items.join(" ")
}

pub(crate) fn split_list(s: &str) -> Vec<String> {
    s.split([' ', ','])
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parses a spelled enum column.
pub(crate) fn spelled<T>(v: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T> {
    parse(v).ok_or_else(|| StoreError::Corrupt(format!("unknown value {v:?}")))
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" => Ok(Backend::Postgres),
            _ => Err(format!("unknown backend {s}")),
        }
    }
}

#[cfg(test)]
mod tests {
    /// Both backends must have the same migrations, version for version.
    #[test]
    fn both_backends_have_the_same_migration_versions() {
        let versions = |dir: &str| -> Vec<String> {
            let mut v: Vec<String> =
                std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                    .collect();
            v.sort();
            v
        };
        let (sqlite, postgres) = (versions("sqlite"), versions("postgres"));
        assert!(!sqlite.is_empty());
        assert_eq!(
            sqlite, postgres,
            "migrations/sqlite and migrations/postgres differ"
        );
    }

    #[test]
    fn lists_take_few_statement_shapes() {
        let padded: Vec<u32> = super::padded(&[1, 2, 3, 4, 5]).copied().collect();
        assert_eq!(padded, [1, 2, 3, 4, 5, 5, 5, 5]);
        assert_eq!(super::padded::<u32>(&[]).count(), 0);
        let items: Vec<usize> = (0..300).collect();
        let sizes: Vec<usize> = super::pow2_chunks(&items).map(<[usize]>::len).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 300);
        assert!(
            sizes
                .iter()
                .all(|s| s.is_power_of_two() && *s <= super::MAX_ROWS)
        );
        let rejoined: Vec<usize> = super::pow2_chunks(&items).flatten().copied().collect();
        assert_eq!(rejoined, items, "every row once, in order");
    }
}
