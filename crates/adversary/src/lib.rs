//! Tessera's red team: every attack on the scorer that the simulation (`tessera-sim --adversaries`), the
//! worker (`tessera-worker run --red-team`) and the demo run, in one place, so that what the benchmarks
//! measure is what the real stack meets.
//!
//! - [`Attack`] names an attack and its parameter (`boost:10`, `partial-work:0.1`, ...), says what it trains
//!   on ([`Training`]), what it claims and whether it takes part in a round.
//! - [`forge`] makes the update it sends from what it can read ([`Context`]): its own honest update, the
//!   updates of the round it can see, the previous round's public updates and global change, its
//!   colluders' updates. Pure: no I/O, no model code, seeded noise.

mod attack;
mod error;
mod forge;

pub use attack::{Attack, Training};
pub use error::{Error, Result};
pub use forge::{Context, FREE_RIDER_STD, flip_label, forge, little_is_enough_z};
