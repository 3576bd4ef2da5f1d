use std::{str::FromStr, time::Duration};

use sqlx::{
    PgPool, Postgres, Sqlite, SqlitePool, Transaction,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::{Error, Result};

/// The schema, embedded at compile time; [`Store::connect`] applies what a database lacks.
static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// How long a SQLite writer waits for another connection's write to finish before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Which database a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// A SQLite file (or in-memory database): the embedded default.
    Sqlite,
    /// A PostgreSQL server: production and several coordinator replicas.
    Postgres,
}

/// The coordinator's state in SQL. Cheap to clone: clones share one connection pool.
///
/// Every multi-statement operation runs in one transaction, and every state change that two replicas (or a
/// restarted process) might race on is a compare-and-set, so each operation either happens once or not at all.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: Pool,
}

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool, once per backend: the SQL is the same, the types differ.
macro_rules! dispatch {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}

pub(crate) use dispatch;

/// Commits `tx` when every write in it succeeded; otherwise rolls it back now rather than on drop, so SQLite's
/// write lock is released before the error reaches the caller.
pub(crate) async fn settle<Db: sqlx::Database>(
    tx: Transaction<'static, Db>,
    written: sqlx::Result<()>,
) -> sqlx::Result<()> {
    match written {
        Ok(()) => tx.commit().await,
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    }
}

/// A transaction that takes the write lock up front.
pub(crate) trait BeginWrite {
    /// The pool's database.
    type Db: sqlx::Database;

    /// Begins a transaction that will write. SQLite's `BEGIN IMMEDIATE` waits for the lock (busy timeout) instead
    /// of failing when a read transaction later tries to write; PostgreSQL locks rows as it goes.
    fn begin_write(&self) -> impl Future<Output = sqlx::Result<Transaction<'static, Self::Db>>> + Send;
}

impl BeginWrite for SqlitePool {
    type Db = Sqlite;

    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Sqlite>> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Db = Postgres;

    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Postgres>> {
        self.begin().await
    }
}

impl Store {
    /// Connects to `url` and applies any pending migrations.
    ///
    /// `sqlite://path?mode=rwc` (a file, created if missing), `sqlite::memory:`, or `postgres://user@host/db`.
    /// SQLite files use WAL, full sync and foreign keys.
    pub async fn connect(url: &str) -> Result<Self> {
        let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
        let pool = match scheme {
            "sqlite" => Pool::Sqlite(connect_sqlite(url).await?),
            "postgres" | "postgresql" => {
                let options = PgConnectOptions::from_str(url)?;
                Pool::Postgres(PgPoolOptions::new().connect_with(options).await?)
            }
            _ => return Err(Error::UnsupportedUrl { scheme: scheme.to_owned() }),
        };
        let store = Self { pool };
        dispatch!(store, pool => MIGRATOR.run(pool).await?);
        Ok(store)
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Checks that the database answers (for a health endpoint).
    pub async fn ping(&self) -> Result<()> {
        dispatch!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop)?);
        Ok(())
    }

    /// Closes every connection, waiting for those in use to come back. Clones of this store stop working too.
    pub async fn close(&self) {
        dispatch!(self, pool => pool.close().await);
    }
}

async fn connect_sqlite(url: &str) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)?
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .synchronous(SqliteSynchronous::Full);
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let pool = if in_memory {
        // An in-memory database lives while a connection to it is open: keep exactly one, forever (several would
        // share a cache whose table locks do not wait like the busy timeout does).
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?
    } else {
        SqlitePoolOptions::new().connect_with(options.journal_mode(SqliteJournalMode::Wal)).await?
    };
    Ok(pool)
}
