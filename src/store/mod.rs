//! The database: one pool per engine, one SQL for both.
//!
//! Every query is written once and compiled against both drivers by [`on_tx!`] and
//! [`on_db!`], which expand the same body for the SQLite and the PostgreSQL arm, so the
//! type checker proves each query for both engines. What truly differs between the
//! engines lives in this file only: how a pool is opened, how a write transaction
//! starts, which migrations run and how a constraint violation is recognised.

pub mod group;
pub mod text;

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::sync::{Mutex, OwnedMutexGuard};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{
    Connection, Executor, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction,
};

/// Runs `$body` with `$conn` bound to the transaction's connection, whatever the engine.
/// Both arms must produce the same type: map driver-specific results inside the body.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let $conn = &mut **t;
                $body
            }
            $crate::store::Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}

/// Runs `$body` with `$tx` bound to a new write transaction, and commits it. When the
/// body or the commit loses a race against a concurrent writer (see
/// [`StoreError::is_contention`]), the transaction is rolled back and the body runs again
/// from the start, against what the winner committed. A macro rather than a function
/// taking a closure, because a closure that borrows the transaction cannot name the
/// lifetime of the future it returns.
///
/// It has one form: the body is an `async` block and its result type is named. So `?`
/// (or `return`) inside the body leaves the body, not the function around it: any `Err`
/// rolls the transaction back, and runs the body again when it is a lost race. A bare
/// expression body, the form this replaced, let `?` leave the function around the macro,
/// past the retry, so each body worked around it in its own way (match ladders, an
/// `async` block awaited inside, a flag to break a loop); with one form every body is
/// plain code with `?`. `tests/layers.rs` fails on a call in `src/` written otherwise.
///
/// ```ignore
/// let case = write_tx!(db, |tx| -> Result<Case, FlowError> async {
///     let case = cases::open(tx, now, &staff, province).await?;
///     audit::append(tx, now, &actor, "case.note", &case.code, &json!({})).await?;
///     Ok(case)
/// })?;
/// ```
#[macro_export]
macro_rules! write_tx {
    ($db:expr, |$tx:ident| -> Result<$t:ty, $e:ty> async { $($body:tt)* }) => {{
        let db: &$crate::store::Db = $db;
        let mut attempt = 0_usize;
        loop {
            attempt += 1;
            let mut open = match db.begin_write().await {
                Ok(tx) => tx,
                Err(e) => break ::core::result::Result::<$t, $e>::Err(e.into()),
            };
            let $tx = &mut open;
            let result: ::core::result::Result<$t, $e> = async { $($body)* }.await;
            match $crate::store::finish(open, result, attempt).await {
                $crate::store::Finish::Done(result) => break result,
                $crate::store::Finish::Retry => continue,
            }
        }
    }};
}

/// Runs `$body` with `$tx` bound to a new read transaction (see [`Db::read`]) and ends it.
/// It never waits for a writer's turn: pages and GET routes read through it. A statement
/// that writes fails in it. Written like [`write_tx!`], in its one form: an `async` body
/// with its result type named, so `?` inside ends the body.
#[macro_export]
macro_rules! read_tx {
    ($db:expr, |$tx:ident| -> Result<$t:ty, $e:ty> async { $($body:tt)* }) => {{
        let db: &$crate::store::Db = $db;
        match db.read().await {
            Err(e) => ::core::result::Result::<$t, $e>::Err(e.into()),
            Ok(mut open) => {
                let $tx = &mut open;
                let result: ::core::result::Result<$t, $e> = async { $($body)* }.await;
                $crate::store::finish_read(open, result).await
            }
        }
    }};
}

/// Like [`on_db!`], for a statement that only reads: straight from the readers' pool on
/// SQLite (read-only connections, which never wait for the writers' pool or their turn)
/// and from the one pool on PostgreSQL. A single statement reads one snapshot of what was
/// committed when it began. A statement that writes fails here on SQLite.
#[macro_export]
macro_rules! on_read {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite(pools) => {
                let $pool = &pools.read;
                $body
            }
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}

/// Like [`on_tx!`], for a statement outside any transaction, straight from the pool (the
/// writers' pool on SQLite).
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite(pools) => {
                let $pool = &pools.write;
                $body
            }
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("PASSAGE_DATABASE_URL: expected sqlite://PATH or postgres://..., got {0:?}")]
    UnsupportedUrl(String),
    #[error(
        "cannot open the database at {url}: {source} (is the server running and the URL right?)"
    )]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "the database was migrated by a newer release of Passage (it has schema version \
         {found}, this binary knows up to {known}): run that release or a newer one, or restore \
         a backup made by this release"
    )]
    TooNew { found: i64, known: i64 },
    #[error(
        "the database has migration {found}, which this release of Passage does not know (it \
         knows up to {known}): it was migrated by another build; run that build"
    )]
    UnknownMigration { found: i64, known: i64 },
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("the writer has stopped (the server is shutting down): try again in a moment")]
    WriterStopped,
    #[error("a write failed on a bug and was rolled back: try again, and report it if it persists")]
    JobPanicked,
    #[error(
        "the write-ahead log could not be checkpointed and truncated (a reader held an older \
         snapshot past the busy timeout): the purged text may remain in it until the next purge"
    )]
    CheckpointBusy,
}

impl StoreError {
    /// A unique or serialization conflict between concurrent writers: the losing
    /// transaction is rolled back and the whole operation may be tried again.
    pub fn is_contention(&self) -> bool {
        let StoreError::Sqlx(sqlx::Error::Database(db)) = self else {
            return false;
        };
        matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation)
            || matches!(db.code().as_deref(), Some("40001" | "40P01"))
    }

    /// The database cannot be reached at the moment: its server is down or restarting,
    /// the connection was cut, or no connection could be had in time. Nothing was
    /// committed by the failed statement's transaction (or, when the cut came during the
    /// commit itself, the client cannot know: a retry with the same `Idempotency-Key` is
    /// answered from what was stored), so the caller is told to try again, not that
    /// Passage is broken.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::WriterStopped => true,
            StoreError::Sqlx(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                // SQLSTATE class 08 (connection exception) and 57P (the server shutting
                // down, crashed, or not yet accepting connections; an administrator ending
                // the backend).
                sqlx::Error::Database(db) => db
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
                _ => false,
            },
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// A SQLite file's two pools: the writers take turns on `write` (see [`Db::begin_write`]);
/// readers use `read`, opened read-only, whose deferred transactions read a snapshot of
/// the write-ahead log without waiting for any writer (see [`Db::read`]).
#[derive(Debug, Clone)]
pub struct SqlitePools {
    pub write: SqlitePool,
    pub read: SqlitePool,
}

/// A statement run straight on a `Db::Sqlite`'s pools runs on the writers' pool, as it
/// did when there was one pool: the CLI's and tests' raw statements may write.
impl<'c> sqlx::Executor<'c> for &'c SqlitePools {
    type Database = Sqlite;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> futures_util::stream::BoxStream<
        'e,
        Result<sqlx::Either<sqlx::sqlite::SqliteQueryResult, sqlx::sqlite::SqliteRow>, sqlx::Error>,
    >
    where
        'c: 'e,
        E: 'q + sqlx::Execute<'q, Sqlite>,
    {
        (&self.write).fetch_many(query)
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> futures_util::future::BoxFuture<'e, Result<Option<sqlx::sqlite::SqliteRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + sqlx::Execute<'q, Sqlite>,
    {
        (&self.write).fetch_optional(query)
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [sqlx::sqlite::SqliteTypeInfo],
    ) -> futures_util::future::BoxFuture<'e, Result<sqlx::sqlite::SqliteStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        (&self.write).prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> futures_util::future::BoxFuture<'e, Result<sqlx::Describe<Sqlite>, sqlx::Error>>
    where
        'c: 'e,
    {
        (&self.write).describe(sql)
    }
}

pub enum Tx {
    Sqlite(SqliteTx),
    Postgres(PgTx),
}

/// A SQLite transaction, with this process's turn to write when it writes.
pub struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
    _turn: Option<OwnedMutexGuard<()>>,
    read_only: bool,
}

/// A PostgreSQL transaction, and whether it was opened read-only.
pub struct PgTx {
    tx: Transaction<'static, Postgres>,
    read_only: bool,
}

impl std::ops::Deref for PgTx {
    type Target = sqlx::PgConnection;
    fn deref(&self) -> &sqlx::PgConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for PgTx {
    fn deref_mut(&mut self) -> &mut sqlx::PgConnection {
        &mut self.tx
    }
}

impl std::ops::Deref for SqliteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for SqliteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

/// How long a writer waits for its turn before giving up, as long as SQLite's own busy
/// timeout (set in [`Db::connect`]).
const TURN_TIMEOUT: Duration = Duration::from_secs(30);

/// One queue of writers per SQLite file in this process (see [`Db::begin_write`]).
static TURNS: LazyLock<std::sync::Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> =
    LazyLock::new(Default::default);

/// This process's writers to `pool`'s file take turns through one first-come-first-served
/// lock, taken before SQLite's own. SQLite's busy handler does not queue: a writer that
/// finds the database locked sleeps in growing steps (up to 100 ms) and tries again, so
/// under a steady stream of group commits (src/store/group.rs) a treasurer's approval could
/// keep waking up to find the next batch holding the lock. Other processes on the same
/// file (the CLI) still meet SQLite's busy handler.
async fn sqlite_turn(pool: &SqlitePool) -> Result<OwnedMutexGuard<()>, StoreError> {
    let file = pool.connect_options().get_filename().to_path_buf();
    let turn = TURNS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .entry(file)
        .or_default()
        .clone();
    tokio::time::timeout(TURN_TIMEOUT, turn.lock_owned())
        .await
        .map_err(|_| StoreError::Sqlx(sqlx::Error::PoolTimedOut))
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The schema version this binary migrates a database to: its latest migration's number
/// (the same on both engines; numbers have gaps, so it is not a count).
pub fn schema_version() -> i64 {
    SQLITE_MIGRATIONS
        .iter()
        .chain(POSTGRES_MIGRATIONS.iter())
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

fn known_migration(version: i64) -> bool {
    SQLITE_MIGRATIONS
        .iter()
        .chain(POSTGRES_MIGRATIONS.iter())
        .any(|m| m.version == version)
}

/// The URL with any password replaced, fit for a log line or an error message.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Appends `(a, b, ...)` to `query`, each item a bound parameter: the list of an `IN`.
pub fn push_list<'args, DB, T>(
    query: &mut sqlx::QueryBuilder<'args, DB>,
    items: impl IntoIterator<Item = T>,
) where
    DB: sqlx::Database,
    T: 'args + sqlx::Encode<'args, DB> + sqlx::Type<DB>,
{
    query.push("(");
    let mut list = query.separated(", ");
    for item in items {
        list.push_bind(item);
    }
    list.push_unseparated(")");
}

/// Prepared statements kept per connection. A batch written together (see
/// [`group`]) lists its rows in one statement whose text depends on how many there are,
/// so each kind of statement comes in up to [`group::MAX_BATCH`] sizes; without room for
/// them all, statements would be prepared again on every batch.
const STATEMENT_CACHE: usize = 2048;

/// How much of the SQLite file each connection reads through a memory map rather than
/// copying pages into its own cache. Every commit empties the page cache of each other
/// connection, so under load the pool's readers would copy the same pages again and again
/// (it was a tenth of the server's time); from the map they cost no copy. Writes still go
/// through `write` and `fsync`, so durability is unchanged.
const MMAP_BYTES: u64 = 1 << 30;

impl Db {
    /// Connects for a server: SQLite reads through a memory map (see [`MMAP_BYTES`]).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, StoreError> {
        Db::connect_with_map(url, max_connections, MMAP_BYTES).await
    }

    /// Connects without the memory map, for a command that reads once through much of
    /// the file (a report, an export): mapped pages count in its resident memory, up to
    /// the whole file, while the page cache it reads through instead stays small (SQLite's
    /// default, 2 MiB). PostgreSQL is the same either way.
    pub async fn connect_unmapped(url: &str, max_connections: u32) -> Result<Db, StoreError> {
        Db::connect_with_map(url, max_connections, 0).await
    }

    async fn connect_with_map(
        url: &str,
        max_connections: u32,
        mmap_bytes: u64,
    ) -> Result<Db, StoreError> {
        let connect_err = |source| StoreError::Connect {
            url: redact_url(url),
            source,
        };
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(connect_err)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30))
                // Deleted or overwritten content is overwritten with zeros, in the page
                // and in the write-ahead log, rather than left in free space: what the
                // purge removes does not stay readable in the file (see [`Db::scrub`]).
                .pragma("secure_delete", "ON")
                .pragma("mmap_size", mmap_bytes.to_string())
                .statement_cache_capacity(STATEMENT_CACHE);
            let write = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options.clone())
                .await
                .map_err(connect_err)?;
            // The readers' own connections, opened read-only once the writers' pool has
            // made the file and put it in WAL mode (which lasts in the file): a reader
            // never queues for a connection behind writers, nor for their turn.
            let read = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options.create_if_missing(false).read_only(true))
                .await
                .map_err(connect_err)?;
            Ok(Db::Sqlite(SqlitePools { write, read }))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)
                .map_err(connect_err)?
                .statement_cache_capacity(STATEMENT_CACHE);
            // One direct connection first: the pool would retry a refused connection
            // until its timeout and then report only the timeout, not the cause.
            sqlx::PgConnection::connect_with(&options)
                .await
                .map_err(connect_err)?
                .close()
                .await
                .map_err(connect_err)?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(connect_err)?;
            Ok(Db::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// Applies the migrations this binary embeds, after refusing a database that holds a
    /// migration this binary does not know: one made by a later release (or another
    /// build), whose schema this code cannot be trusted to read or write.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let known = schema_version();
        for found in self.applied_migrations().await? {
            if !known_migration(found) {
                return Err(if found > known {
                    StoreError::TooNew { found, known }
                } else {
                    StoreError::UnknownMigration { found, known }
                });
            }
        }
        match self {
            Db::Sqlite(p) => SQLITE_MIGRATIONS.run(&p.write).await?,
            Db::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await?,
        }
        Ok(())
    }

    /// The versions of the migrations applied to this database (none on a new one).
    pub async fn applied_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let exists: bool = match self {
            Db::Sqlite(p) => sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
            )
            .fetch_one(&p.write)
            .await?,
            Db::Postgres(p) => {
                sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                    .fetch_one(p)
                    .await?
            }
        };
        if !exists {
            return Ok(Vec::new());
        }
        Ok(on_db!(self, p => sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations ORDER BY version"
        )
        .fetch_all(p)
        .await)?)
    }

    /// Starts a transaction that will write. On SQLite it waits for this process's turn
    /// to write (first come, first served, see [`sqlite_turn`]) and then takes the write
    /// lock at once (`BEGIN IMMEDIATE`), so a read followed by a write can never fail with
    /// SQLITE_BUSY half-way; on PostgreSQL, row locks taken by the statements themselves
    /// order concurrent writers.
    pub async fn begin_write(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(p) => {
                let turn = sqlite_turn(&p.write).await?;
                Tx::Sqlite(SqliteTx {
                    tx: p.write.begin_with("BEGIN IMMEDIATE").await?,
                    _turn: Some(turn),
                    read_only: false,
                })
            }
            Db::Postgres(p) => Tx::Postgres(PgTx {
                tx: p.begin().await?,
                read_only: false,
            }),
        })
    }

    /// Starts a read transaction: what pages and GET routes read from. All its reads see
    /// the database as it was at one moment, however long they take and whatever is
    /// written meanwhile, and it never waits for a writer. On SQLite it is a deferred
    /// `BEGIN` on the read-only pool: in WAL mode it reads its snapshot beside the writer
    /// and the group commit, without taking this process's turn to write. On PostgreSQL it
    /// is `REPEATABLE READ, READ ONLY`. A statement that writes fails in it, and
    /// [`Tx::lock_rows`] locks nothing in it.
    pub async fn read(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(SqliteTx {
                tx: p.read.begin().await?,
                _turn: None,
                read_only: true,
            }),
            Db::Postgres(p) => Tx::Postgres(PgTx {
                tx: p
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await?,
                read_only: true,
            }),
        })
    }

    /// Starts a read-only transaction whose reads all see the database as it was at one
    /// moment, however long they take and whatever is written meanwhile: a long export
    /// must not show a settlement without its hold, nor closing balances of another time.
    /// SQLite in WAL mode gives a deferred transaction that snapshot from its first read
    /// on, without blocking writers; PostgreSQL needs REPEATABLE READ for it.
    /// The same transaction as [`Db::read`], by its older name.
    pub async fn begin_snapshot(&self) -> Result<Tx, StoreError> {
        self.read().await
    }

    /// Removes from the engine's files the old versions of rows that a purge has just
    /// rewritten in `tables`, once that purge has committed.
    ///
    /// SQLite (with `secure_delete`, set on every connection) has already zeroed the old
    /// content in the pages it rewrote, but earlier versions of those pages may still sit
    /// in the write-ahead log: a truncating checkpoint copies the latest pages into the
    /// file and empties the log. It waits for this process's turn to write, then (through
    /// the busy timeout) for readers still on an older snapshot.
    ///
    /// PostgreSQL leaves the old row versions in the table's pages: a plain `VACUUM` only
    /// marks their space free, and their bytes stay until something else is written over
    /// them. `VACUUM FULL` writes each table anew and deletes the old file. It cannot run
    /// inside a transaction, so it runs on a connection of its own, after the commit; it
    /// holds each table's exclusive lock while it copies the table (short on the tables of
    /// a fund, and only when a purge removed something).
    pub async fn scrub(&self, tables: &[&'static str]) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(p) => {
                let _turn = sqlite_turn(&p.write).await?;
                let (busy, _, _): (i64, i64, i64) =
                    sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                        .fetch_one(&p.write)
                        .await?;
                if busy != 0 {
                    return Err(StoreError::CheckpointBusy);
                }
            }
            Db::Postgres(p) => {
                if tables.is_empty() {
                    return Ok(());
                }
                let sql = format!("VACUUM (FULL) {}", tables.join(", "));
                let mut conn = p.acquire().await?;
                conn.execute(sql.as_str()).await?;
            }
        }
        Ok(())
    }

    /// Each pool's connections: (name, connected, idle, most allowed).
    pub fn pool_use(&self) -> Vec<(&'static str, u32, usize, u32)> {
        let one = |name, p: &sqlx::Pool<_>| -> (&'static str, u32, usize, u32) {
            (
                name,
                p.size(),
                p.num_idle(),
                p.options().get_max_connections(),
            )
        };
        match self {
            Db::Sqlite(p) => vec![
                (
                    "write",
                    p.write.size(),
                    p.write.num_idle(),
                    p.write.options().get_max_connections(),
                ),
                (
                    "read",
                    p.read.size(),
                    p.read.num_idle(),
                    p.read.options().get_max_connections(),
                ),
            ],
            Db::Postgres(p) => vec![one("postgres", p)],
        }
    }

    /// Answers whether the database takes a query now.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_db!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => {
                p.read.close().await;
                p.write.close().await;
            }
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// How many times [`write_tx!`] runs a body that keeps losing races before giving up.
pub const WRITE_ATTEMPTS: usize = 8;

pub enum Finish<T, E> {
    Done(Result<T, E>),
    Retry,
}

/// Commits or rolls back what [`write_tx!`] ran, and says whether to run it again.
pub async fn finish<T, E>(tx: Tx, result: Result<T, E>, attempt: usize) -> Finish<T, E>
where
    E: From<StoreError> + Contention,
{
    let may_retry = attempt < WRITE_ATTEMPTS;
    match result {
        Ok(value) => match tx.commit().await {
            Ok(()) => Finish::Done(Ok(value)),
            Err(e) if e.is_contention() && may_retry => Finish::Retry,
            Err(e) => Finish::Done(Err(e.into())),
        },
        Err(e) => {
            let retry = e.is_contention() && may_retry;
            if let Err(rollback) = tx.rollback().await {
                return Finish::Done(Err(rollback.into()));
            }
            if retry {
                Finish::Retry
            } else {
                Finish::Done(Err(e))
            }
        }
    }
}

/// Ends what [`read_tx!`] ran. A read transaction has nothing to keep: it is rolled back.
pub async fn finish_read<T, E>(tx: Tx, result: Result<T, E>) -> Result<T, E>
where
    E: From<StoreError>,
{
    let ended = tx.rollback().await;
    match (result, ended) {
        (Ok(_), Err(e)) => Err(e.into()),
        (result, _) => result,
    }
}

/// Errors that can tell a lost race from a real failure.
pub trait Contention {
    fn is_contention(&self) -> bool;
}

impl Contention for StoreError {
    fn is_contention(&self) -> bool {
        StoreError::is_contention(self)
    }
}

impl Tx {
    /// The clause that locks the rows a SELECT reads until the transaction ends. SQLite
    /// needs none: `BEGIN IMMEDIATE` already holds the whole database for the writer.
    ///
    /// A read transaction locks nothing: it changes nothing, and PostgreSQL refuses
    /// `FOR UPDATE` in it.
    pub fn lock_rows(&self) -> &'static str {
        match self {
            Tx::Sqlite(_) => "",
            Tx::Postgres(t) if t.read_only => "",
            Tx::Postgres(_) => " FOR UPDATE",
        }
    }

    /// Whether this is a read transaction (see [`Db::read`]).
    pub fn is_read_only(&self) -> bool {
        match self {
            Tx::Sqlite(t) => t.read_only,
            Tx::Postgres(t) => t.read_only,
        }
    }

    /// Like [`Tx::lock_rows`], for a queue: on PostgreSQL rows another transaction has
    /// locked are skipped rather than waited for, so concurrent workers take different
    /// rows. SQLite has one writer at a time and needs no clause.
    pub fn lock_rows_skip_locked(&self) -> &'static str {
        match self {
            Tx::Sqlite(_) => "",
            Tx::Postgres(t) if t.read_only => "",
            Tx::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        }
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.tx.commit().await?,
            Tx::Postgres(t) => t.tx.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.tx.rollback().await?,
            Tx::Postgres(t) => t.tx.rollback().await?,
        }
        Ok(())
    }
}
