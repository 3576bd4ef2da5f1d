use std::{io, path::PathBuf, time::Duration};

/// A `Result` whose error is the harness [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the toolchain could not be found or a process could not be started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tool that `scripts/setup.sh` installs is missing.
    #[error("{tool} not found at {path}: run `make setup` (scripts/setup.sh) first")]
    ToolMissing {
        /// The tool's name.
        tool: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A process could not be spawned.
    #[error("failed to spawn {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        source: io::Error,
    },
    /// A process exited before it was ready.
    #[error("{name} exited before it was ready ({status}); log tail:\n{log}")]
    Exited {
        /// Which process.
        name: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The end of its log.
        log: String,
    },
    /// A process did not become ready in time.
    #[error("{name} was not ready after {waited:?}; log tail:\n{log}")]
    NotReady {
        /// Which process.
        name: String,
        /// How long the harness waited.
        waited: Duration,
        /// The end of its log.
        log: String,
    },
    /// A file the harness reads or writes could not be handled.
    #[error("{context}: {source}")]
    Io {
        /// What the harness was doing.
        context: String,
        /// The OS error.
        source: io::Error,
    },
    /// A JSON file written by a tool could not be read.
    #[error("unexpected JSON in {path}: {reason}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A helper thread panicked.
    #[error("{0} panicked")]
    Panicked(&'static str),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
}
