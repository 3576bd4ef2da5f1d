//! Fresh databases for tests: a SQLite file in a temporary directory, or a PostgreSQL database of its own (created
//! on the server that `TEST_POSTGRES_URL` or `DATABASE_URL` names, and dropped afterwards).
//!
//! Write a test once as `async fn(TestDb)` and run it with [`run_sqlite`] and [`run_postgres`].

use std::{
    panic,
    sync::atomic::{AtomicU64, Ordering},
};

use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;

use crate::{Result, Store, codec};

/// The environment variables [`run_postgres`] reads, in order: a PostgreSQL URL whose user may create databases.
pub const POSTGRES_URL_VARS: [&str; 2] = ["TEST_POSTGRES_URL", "DATABASE_URL"];

/// Serialises `CREATE DATABASE` across test processes (concurrent copies of `template1` can fail).
const CREATE_LOCK: i64 = 0x7465_7373_6572_6100;

/// A fresh, migrated database and a [`Store`] on it.
#[derive(Debug)]
pub struct TestDb {
    store: Store,
    url: String,
    _dir: Option<TempDir>,
}

impl TestDb {
    /// A new SQLite file in a temporary directory, removed when this is dropped.
    ///
    /// # Panics
    /// If the directory cannot be created or the database opened.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("coordinator.db").display());
        let store = Store::connect(&url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
        Self { store, url, _dir: Some(dir) }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Connects again, dropping the old store without closing it, as a crashed process would leave it: what
    /// was committed must still be there.
    pub async fn reopen(&mut self) -> Result<&Store> {
        self.store = Store::connect(&self.url).await?;
        Ok(&self.store)
    }
}

/// The PostgreSQL server URL from [`POSTGRES_URL_VARS`], if one is set.
pub fn postgres_url() -> Option<String> {
    POSTGRES_URL_VARS.iter().find_map(|var| std::env::var(var).ok().filter(|url| !url.is_empty()))
}

/// Runs `test` on a fresh SQLite file.
pub async fn run_sqlite<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    test(TestDb::sqlite().await).await;
}

/// Runs `test` on a fresh PostgreSQL database, dropped afterwards even when the test panics; when no URL is set
/// (see [`POSTGRES_URL_VARS`]) prints why and returns. Needs PostgreSQL 13 or later (`DROP DATABASE … FORCE`).
pub async fn run_postgres<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(server) = postgres_url() else {
        eprintln!("skipped: set TEST_POSTGRES_URL=postgres://user@host:5432/db to run the PostgreSQL tests");
        return;
    };
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name =
        format!("tessera_test_{}_{}_{}", std::process::id(), codec::now_ms(), NEXT.fetch_add(1, Ordering::Relaxed));
    admin(&server, &[&format!("CREATE DATABASE {name}")]).await;
    let separator = if server.contains('?') { '&' } else { '?' };
    let url = format!("{server}{separator}dbname={name}");
    let (outcome, connect_error) = match Store::connect(&url).await {
        Ok(store) => (Some(tokio::spawn(test(TestDb { store, url, _dir: None })).await), None),
        Err(e) => (None, Some(e)),
    };
    admin(&server, &[&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")]).await;
    if let Some(e) = connect_error {
        panic!("connect to test database {name}: {e}");
    }
    if let Some(Err(e)) = outcome {
        match e.try_into_panic() {
            Ok(payload) => panic::resume_unwind(payload),
            Err(e) => panic!("test task failed: {e}"),
        }
    }
}

/// Runs statements on the server's maintenance connection, one at a time, under the create lock.
async fn admin(server: &str, statements: &[&str]) {
    let mut conn = PgConnection::connect(server).await.expect("connect to the PostgreSQL server");
    conn.execute(format!("SELECT pg_advisory_lock({CREATE_LOCK})").as_str()).await.expect("take the create lock");
    for statement in statements {
        conn.execute(*statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    conn.execute(format!("SELECT pg_advisory_unlock({CREATE_LOCK})").as_str()).await.expect("release the lock");
    conn.close().await.ok();
}
