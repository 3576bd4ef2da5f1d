//! The training progress bar: drawn on stderr when it is a terminal and `--quiet` is off, hidden
//! otherwise (logs then carry a line per round instead).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use tessera_train::Progress;

/// Whether bars are drawn: on a terminal, unless `quiet`.
pub fn bars_enabled(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A bar for one round of local training.
#[derive(Debug)]
pub struct TrainBar {
    bar: ProgressBar,
}

impl TrainBar {
    /// A bar labelled with the round, drawn only when `enabled`.
    pub fn new(round: u32, enabled: bool) -> Self {
        let target = if enabled { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let bar = ProgressBar::with_draw_target(None, target);
        let style = ProgressStyle::with_template(
            "{prefix:>9} [{elapsed_precise}] {wide_bar:.cyan/blue} {pos}/{len} steps  {msg}  eta {eta}",
        )
        .expect("the template is valid")
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(format!("round {round}"));
        Self { bar }
    }

    /// Reports one training step.
    pub fn step(&self, progress: &Progress) {
        self.bar.set_length(progress.total_steps as u64);
        self.bar.set_position(progress.step as u64);
        self.bar.set_message(format!("epoch {}/{} loss {:.4}", progress.epoch, progress.epochs, progress.loss));
    }

    /// Removes the bar once training is over.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
