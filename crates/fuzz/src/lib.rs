//! Mutation fuzzing on stable Rust of everything Tessera parses from strangers. Each [`Target`] starts from valid
//! inputs (its seeds) and runs mutated copies of them, and of inputs it already mutated, through the code under
//! test, checking that it never panics and that what it accepts keeps its properties (an accepted update decodes
//! to the same values again, a parsed CID prints back to itself, an API answer is never a server error). No
//! coverage feedback: cargo-fuzz needs a nightly compiler, which this project does not use; the mutations are
//! libFuzzer's byte-level ones plus splices between seeds, which reach deep into structured formats from valid
//! starting points.
//!
//! `make test` runs every target briefly (`tests/short.rs`); `make fuzz` runs them for minutes each and prints the
//! figures `BENCHMARKS.md` reports.

pub mod targets;

use rand::{Rng, SeedableRng, rngs::StdRng};
use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    time::{Duration, Instant},
};

/// Something that takes untrusted bytes.
pub trait Target {
    /// Its name in reports.
    fn name(&self) -> &'static str;
    /// Valid inputs to start mutating from.
    fn seeds(&self) -> Vec<Vec<u8>>;
    /// Runs one input; panics (a failed assertion included) are findings.
    fn run(&mut self, input: &[u8]);
}

/// How long a target runs.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// At most this many inputs.
    pub inputs: u64,
    /// At most this long.
    pub time: Duration,
}

/// One input that made a target panic.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The input.
    pub input: Vec<u8>,
    /// The panic's message.
    pub message: String,
}

/// What a run of one target did.
#[derive(Clone, Debug)]
pub struct Report {
    /// The target.
    pub target: &'static str,
    /// Inputs run.
    pub inputs: u64,
    /// Their mean length in bytes.
    pub mean_bytes: f64,
    /// How long it ran.
    pub elapsed: Duration,
    /// Distinct panics (by message), at most [`MAX_FINDINGS`].
    pub findings: Vec<Finding>,
}

/// Findings kept per run.
pub const MAX_FINDINGS: usize = 16;

/// Inputs are kept below this size, so mutation never grows them without end.
const MAX_INPUT: usize = 1 << 20;

/// Inputs kept to mutate further, beside the seeds.
const POOL: usize = 256;

/// Runs `target` within `budget` from `seed`: the same seed mutates the same way.
pub fn fuzz(target: &mut dyn Target, budget: Budget, seed: u64) -> Report {
    let mut rng = StdRng::seed_from_u64(seed);
    let seeds = target.seeds();
    assert!(!seeds.is_empty(), "target {} has no seeds", target.name());
    let mut pool: Vec<Vec<u8>> = seeds.clone();
    let mut findings: Vec<Finding> = Vec::new();
    let started = Instant::now();
    let mut inputs = 0;
    let mut bytes = 0u64;
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    while inputs < budget.inputs && started.elapsed() < budget.time {
        // The seeds themselves first, then mutations of a seed or of an earlier mutant.
        let input = if (inputs as usize) < seeds.len() {
            seeds[inputs as usize].clone()
        } else {
            // Half the time a seed itself: truncations and deletions pile up in mutants, and a pool left to itself
            // drifts to inputs too short to reach past the first checks.
            let base = if rng.gen_bool(0.5) {
                &seeds[rng.gen_range(0..seeds.len())]
            } else {
                &pool[rng.gen_range(0..pool.len())]
            };
            let other = &seeds[rng.gen_range(0..seeds.len())];
            let mut input = base.clone();
            for _ in 0..rng.gen_range(1..=4) {
                mutate(&mut input, other, &mut rng);
            }
            input
        };
        inputs += 1;
        bytes += input.len() as u64;
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| target.run(&input))) {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic without a message".to_owned());
            if findings.len() < MAX_FINDINGS && findings.iter().all(|f| f.message != message) {
                findings.push(Finding { input: input.clone(), message });
            }
        }
        if pool.len() < POOL {
            pool.push(input);
        } else {
            let slot = rng.gen_range(0..POOL);
            pool[slot] = input;
        }
    }
    std::panic::set_hook(previous_hook);
    let mean_bytes = bytes as f64 / inputs.max(1) as f64;
    Report { target: target.name(), inputs, mean_bytes, elapsed: started.elapsed(), findings }
}

/// Values that break parsers more often than random ones: boundaries of integer types, lengths, JSON tokens.
const INTERESTING: &[&[u8]] = &[
    b"0",
    b"-1",
    b"18446744073709551615",
    b"18446744073709551616",
    b"340282366920938463463374607431768211456",
    b"1e309",
    b"NaN",
    b"null",
    b"true",
    b"\"\"",
    b"[]",
    b"{}",
    b"\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\x00\x00\x00\x00\x00\x00\x00\x00",
    b"\x7f\xff\xff\xff",
    b"\x80\x00\x00\x00",
    b"0x",
    b"Qm",
    b"\\u0000",
    b"\xf0\x9f\x92\xa9",
];

/// One libFuzzer-style mutation of `input`, using `other` for splices.
pub fn mutate(input: &mut Vec<u8>, other: &[u8], rng: &mut StdRng) {
    let len = input.len();
    match rng.gen_range(0..9) {
        // Flip a bit.
        0 if len > 0 => {
            let at = rng.gen_range(0..len);
            input[at] ^= 1 << rng.gen_range(0..8);
        }
        // Set a byte.
        1 if len > 0 => {
            let at = rng.gen_range(0..len);
            input[at] = rng.r#gen();
        }
        // Insert random bytes.
        2 => {
            let at = rng.gen_range(0..=len);
            let count = rng.gen_range(1..=8);
            let bytes: Vec<u8> = (0..count).map(|_| rng.r#gen()).collect();
            input.splice(at..at, bytes);
        }
        // Delete a range.
        3 if len > 0 => {
            let at = rng.gen_range(0..len);
            let end = (at + rng.gen_range(1..=16)).min(len);
            input.drain(at..end);
        }
        // Copy a range elsewhere.
        4 if len > 1 => {
            let from = rng.gen_range(0..len);
            let end = (from + rng.gen_range(1..=64)).min(len);
            let chunk = input[from..end].to_vec();
            let at = rng.gen_range(0..=len);
            input.splice(at..at, chunk);
        }
        // Cut the end off.
        5 if len > 0 => input.truncate(rng.gen_range(0..len)),
        // Write an interesting value over some bytes.
        6 => {
            let value = INTERESTING[rng.gen_range(0..INTERESTING.len())];
            let at = rng.gen_range(0..=len);
            let end = (at + value.len()).min(len);
            input.splice(at..end, value.iter().copied());
        }
        // Splice: this input's start, the other's end.
        7 if !other.is_empty() => {
            let keep = rng.gen_range(0..=len);
            let from = rng.gen_range(0..other.len());
            input.truncate(keep);
            input.extend_from_slice(&other[from..]);
        }
        // Change a number's digits in place (JSON and decimal amounts).
        _ => {
            if let Some(at) = (0..len).map(|_| rng.gen_range(0..len.max(1))).find(|&i| input[i].is_ascii_digit()) {
                input[at] = b'0' + rng.gen_range(0..10);
            } else if len > 0 {
                let at = rng.gen_range(0..len);
                input[at] = input[at].wrapping_add(1);
            }
        }
    }
    input.truncate(MAX_INPUT);
}

#[cfg(test)]
mod tests {
    use super::*;

    struct PanicsOnZz;

    impl Target for PanicsOnZz {
        fn name(&self) -> &'static str {
            "panics-on-zz"
        }
        fn seeds(&self) -> Vec<Vec<u8>> {
            vec![b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaz".to_vec()]
        }
        fn run(&mut self, input: &[u8]) {
            assert!(!input.windows(2).any(|w| w == b"zz"), "found zz");
        }
    }

    #[test]
    fn the_fuzzer_finds_a_planted_bug_and_repeats_itself_from_its_seed() {
        let budget = Budget { inputs: 20_000, time: Duration::from_secs(60) };
        let report = fuzz(&mut PanicsOnZz, budget, 7);
        assert_eq!(report.findings.len(), 1, "one distinct panic");
        assert!(report.findings[0].input.windows(2).any(|w| w == b"zz"));
        assert_eq!(report.findings[0].message, "found zz");
        let again = fuzz(&mut PanicsOnZz, budget, 7);
        assert_eq!(again.findings[0].input, report.findings[0].input, "deterministic");
    }
}
