//! Keeping the demo's processes up, and taking them down on purpose. A coordinator or worker that dies is started
//! again with the same command and carries on from its database or state folder, as an operator's service manager
//! would restart it; [`Chaos`] kills them (SIGKILL, no chance to clean up) at random moments, so a run shows the
//! round engine finalizing every round exactly once and the workers keeping every receipted update across crashes.

use eyre::{WrapErr, bail};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::Serialize;
use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::{Command, ExitStatus},
    time::{Duration, Instant},
};
use tessera_harness::Process;

/// The most times one process is started again before the demo gives up on it.
const MAX_RESTARTS: u32 = 100;

/// How to start a process again: its program, arguments and environment as first given.
#[derive(Clone, Debug)]
struct Recipe {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
}

impl Recipe {
    fn of(command: &Command) -> Self {
        Self {
            program: command.get_program().to_owned(),
            args: command.get_args().map(ToOwned::to_owned).collect(),
            env: command.get_envs().map(|(key, value)| (key.to_owned(), value.map(ToOwned::to_owned))).collect(),
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args);
        for (key, value) in &self.env {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        command
    }
}

/// A process the demo keeps running.
#[derive(Debug)]
pub(crate) struct Supervised {
    process: Process,
    recipe: Recipe,
    dir: PathBuf,
    /// Times it was started again.
    pub(crate) restarts: u32,
    /// Whether it exited successfully, its work done (a worker whose task ended): it stays down.
    done: bool,
}

impl Supervised {
    /// Starts `command` as `name`, logging to `<dir>/<name>.log`.
    pub(crate) fn start(name: &str, command: Command, dir: &Path) -> eyre::Result<Self> {
        let recipe = Recipe::of(&command);
        let process = Process::spawn(name, command, &dir.join(format!("{name}.log")))
            .wrap_err_with(|| format!("starting {name}"))?;
        Ok(Self { process, recipe, dir: dir.to_path_buf(), restarts: 0, done: false })
    }

    /// The running process.
    pub(crate) fn process(&self) -> &Process {
        &self.process
    }

    /// Its name.
    pub(crate) fn name(&self) -> &str {
        self.process.name()
    }

    /// Starts it again if it died, logging the new run to `<name>.<restarts>.log`; the status it died with.
    pub(crate) fn keep_up(&mut self) -> eyre::Result<Option<ExitStatus>> {
        if self.done {
            return Ok(None);
        }
        let Some(status) = self.process.try_wait()? else { return Ok(None) };
        if status.success() {
            self.done = true;
            return Ok(None);
        }
        if self.restarts >= MAX_RESTARTS {
            bail!("{} died {} times; the last time with {status}:\n{}", self.name(), self.restarts + 1, self.tail());
        }
        self.restarts += 1;
        let name = self.name().to_owned();
        let log = self.dir.join(format!("{name}.{}.log", self.restarts));
        self.process =
            Process::spawn(&name, self.recipe.command(), &log).wrap_err_with(|| format!("starting {name} again"))?;
        Ok(Some(status))
    }

    /// Every run's log, the first run's first.
    pub(crate) fn logs(&self) -> String {
        let name = self.name();
        std::iter::once(self.dir.join(format!("{name}.log")))
            .chain((1..=self.restarts).map(|n| self.dir.join(format!("{name}.{n}.log"))))
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .collect()
    }

    /// Kills it now (SIGKILL).
    pub(crate) fn kill(&mut self) {
        self.process.kill();
    }

    /// The last lines of its current log.
    pub(crate) fn tail(&self) -> String {
        let log = self.process.log_tail();
        let lines: Vec<&str> = log.lines().rev().take(20).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

/// Random kills while the rounds run.
#[derive(Clone, Debug, PartialEq)]
pub struct Chaos {
    /// How many kills, in all.
    pub kills: u32,
    /// The shortest pause between two kills.
    pub min_gap: Duration,
    /// The longest.
    pub max_gap: Duration,
    /// The seed choosing the victims and the pauses.
    pub seed: u64,
    /// The round in whose submission window the IPFS node is killed and started again on its repository.
    pub ipfs_restart_round: Option<u32>,
    /// The round in whose submission window anvil is stopped and started again from its saved state.
    pub anvil_restart_round: Option<u32>,
}

impl Chaos {
    /// `kills` kills, 1 to 4 seconds apart; the IPFS node restarted in round 2 and anvil in round 3.
    pub fn kills(kills: u32, seed: u64) -> Self {
        Self {
            kills,
            min_gap: Duration::from_secs(1),
            max_gap: Duration::from_secs(4),
            seed,
            ipfs_restart_round: Some(2),
            anvil_restart_round: Some(3),
        }
    }
}

/// One kill, for the report.
#[derive(Clone, Debug, Serialize)]
pub struct Kill {
    /// Seconds after the rounds started.
    pub at_s: f64,
    /// Who: `coordinator`, a worker's name, `ipfs` or `anvil`.
    pub victim: String,
    /// What the task was doing: the latest round and its phase.
    pub during: String,
}

/// The kills still to come.
pub(crate) struct Killer {
    plan: Chaos,
    rng: StdRng,
    next: Instant,
    pub(crate) done: Vec<Kill>,
    /// Processes killed so far.
    kills: u32,
    /// Whether the IPFS node and anvil were restarted yet.
    restarted: (bool, bool),
}

impl Killer {
    pub(crate) fn new(plan: Chaos) -> Self {
        let mut rng = StdRng::seed_from_u64(plan.seed);
        let next = Instant::now() + gap(&plan, &mut rng);
        Self { plan, rng, next, done: Vec::new(), kills: 0, restarted: (false, false) }
    }

    /// Which of the stack's services to restart now, given the latest round and its phase: each once, in its
    /// round's submission window.
    pub(crate) fn stack_restart(&mut self, round: u32, phase: &str) -> Option<&'static str> {
        if phase != "collecting" {
            return None;
        }
        if !self.restarted.0 && self.plan.ipfs_restart_round == Some(round) {
            self.restarted.0 = true;
            return Some("ipfs");
        }
        if !self.restarted.1 && self.plan.anvil_restart_round == Some(round) {
            self.restarted.1 = true;
            return Some("anvil");
        }
        None
    }

    /// The process to kill now, an index into `candidates` (the coordinator first, then the workers), if it is
    /// time: half the kills, at random, fall on the coordinator, the rest on a worker chosen at random.
    pub(crate) fn victim(&mut self, candidates: usize) -> Option<usize> {
        if self.kills >= self.plan.kills || Instant::now() < self.next || candidates == 0 {
            return None;
        }
        self.kills += 1;
        self.next = Instant::now() + gap(&self.plan, &mut self.rng);
        let coordinator = self.rng.gen_bool(0.5) || candidates == 1;
        Some(if coordinator { 0 } else { self.rng.gen_range(1..candidates) })
    }
}

fn gap(plan: &Chaos, rng: &mut StdRng) -> Duration {
    let (low, high) = (plan.min_gap.as_secs_f64(), plan.max_gap.as_secs_f64().max(plan.min_gap.as_secs_f64()));
    Duration::from_secs_f64(rng.gen_range(low..=high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_process_is_started_again_with_the_same_command_and_a_finished_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new("sh");
        command.args(["-c", "echo run $MARK; sleep 30"]).env("MARK", "x");
        let mut sleeper = Supervised::start("sleeper", command, dir.path()).unwrap();
        assert!(sleeper.keep_up().unwrap().is_none(), "alive");
        sleeper.kill();
        let status = sleeper.keep_up().unwrap().expect("restarted");
        assert!(!status.success());
        assert_eq!(sleeper.restarts, 1);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(std::fs::read_to_string(dir.path().join("sleeper.1.log")).unwrap().trim(), "run x");

        let mut quick = Supervised::start("quick", Command::new("true"), dir.path()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(quick.keep_up().unwrap().is_none());
        assert_eq!(quick.restarts, 0, "a clean exit is the end of its work");
    }

    #[test]
    fn the_killer_kills_as_planned_and_no_more() {
        let plan = Chaos { min_gap: Duration::ZERO, max_gap: Duration::ZERO, ..Chaos::kills(3, 1) };
        let mut killer = Killer::new(plan);
        let mut victims = Vec::new();
        while let Some(victim) = killer.victim(4) {
            assert!(victim < 4);
            victims.push(victim);
            killer.done.push(Kill { at_s: 0.0, victim: victim.to_string(), during: String::new() });
        }
        assert_eq!(victims.len(), 3);
        assert_eq!(killer.stack_restart(2, "aggregating"), None, "only in a submission window");
        assert_eq!(killer.stack_restart(2, "collecting"), Some("ipfs"));
        assert_eq!(killer.stack_restart(2, "collecting"), None, "once");
        assert_eq!(killer.stack_restart(3, "collecting"), Some("anvil"));
    }
}
