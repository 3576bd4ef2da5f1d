//! Crash points for the crash tests: with `TESSERA_TEST_CRASH_AT=<point>` in its environment, the process
//! aborts the first time it reaches that point, as a power cut would stop it. Unset, they do nothing.

use std::sync::OnceLock;

/// The variable that names the crash point. For tests only.
pub const CRASH_AT_VAR: &str = "TESSERA_TEST_CRASH_AT";

/// Aborts the process if `point` is the configured crash point.
pub fn crash_point(point: &str) {
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    if TARGET.get_or_init(|| std::env::var(CRASH_AT_VAR).ok()).as_deref() == Some(point) {
        eprintln!("{CRASH_AT_VAR}={point}: aborting here");
        std::process::abort();
    }
}
