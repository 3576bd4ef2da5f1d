use crate::RoundPhase;

/// A `Result` whose error is the database [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The row the operation needs does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. `round 3/1`.
        what: String,
    },
    /// A unique key is already taken: a duplicate or replayed submission, an existing round.
    #[error("duplicate {what}")]
    Duplicate {
        /// Which key, e.g. `submission digest`.
        what: &'static str,
    },
    /// The round is not in the phase the operation needs (a submission after collecting closed).
    #[error("round {task_id}/{round} is {actual}, not {expected}")]
    PhaseConflict {
        /// The task.
        task_id: u64,
        /// The round.
        round: u32,
        /// The phase the operation needs.
        expected: RoundPhase,
        /// The phase the round is in.
        actual: RoundPhase,
    },
    /// A value cannot be stored: a non-finite score, an integer beyond BIGINT, a backwards phase move.
    #[error("invalid {what}")]
    Invalid {
        /// What was wrong.
        what: String,
    },
    /// A stored value cannot be read back into its Rust type.
    #[error("cannot decode {what}")]
    Decode {
        /// Which column, and why.
        what: String,
    },
    /// The URL names neither SQLite nor PostgreSQL.
    #[error("unsupported database URL scheme {scheme:?}: expected sqlite: or postgres://")]
    UnsupportedUrl {
        /// The part before the first `:` (the rest may hold a password).
        scheme: String,
    },
    /// The database driver failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The migrations could not be applied.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Error {
    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    pub(crate) fn decode(what: impl Into<String>) -> Self {
        Self::Decode { what: what.into() }
    }

    pub(crate) fn invalid(what: impl Into<String>) -> Self {
        Self::Invalid { what: what.into() }
    }
}

/// The constraint (PostgreSQL) or message (SQLite names the columns) of a unique violation, if `err` is one.
pub(crate) fn unique_violation(err: &sqlx::Error) -> Option<String> {
    match err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            Some(db.constraint().map_or_else(|| db.message().to_owned(), str::to_owned))
        }
        _ => None,
    }
}

/// Whether `err` is a foreign key violation (the parent row is missing).
pub(crate) fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}
