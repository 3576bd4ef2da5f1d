/// A `Result` whose error is the red team's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an attack cannot be named or forged.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No attack has this name.
    #[error("unknown attack {name:?} (known: {known})")]
    UnknownAttack {
        /// The name given.
        name: String,
        /// Every known name.
        known: String,
    },
    /// The parameter is not one the attack takes.
    #[error("{attack}:{value}: {reason}")]
    BadParameter {
        /// The attack.
        attack: String,
        /// The parameter given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The attack needs something this worker cannot read.
    #[error("{attack} needs {what}")]
    Missing {
        /// The attack.
        attack: &'static str,
        /// What it needs.
        what: &'static str,
    },
}
