use crate::{Error, Result};
use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

/// How often a starting process's log is polled.
const POLL: Duration = Duration::from_millis(50);
/// How much of a log an error message carries.
const LOG_TAIL_BYTES: usize = 4096;

/// A child process whose stdout and stderr go to a log file, killed when dropped: every long-running process
/// the tests, the demo and the simulation start is one.
///
/// Logging to a file rather than a pipe means a chatty process can never block on a full pipe
/// that nobody drains.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `command` as `name`, its output going to the file `log`.
    pub fn spawn(name: impl Into<String>, mut command: Command, log: &Path) -> Result<Self> {
        let out = fs::File::create(log).map_err(|e| Error::io(format!("creating {}", log.display()), e))?;
        let err = out.try_clone().map_err(|e| Error::io("duplicating a log handle", e))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| Error::Spawn { program: format!("{:?}", command.get_program()), source })?;
        Ok(Self { name: name.into(), child, log: log.to_path_buf() })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Its exit status, when it has exited.
    pub fn try_wait(&mut self) -> Result<Option<std::process::ExitStatus>> {
        self.child.try_wait().map_err(|e| Error::io(format!("polling {}", self.name), e))
    }

    /// Waits until a log line contains `needle` and returns that line.
    pub(crate) fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> Result<String> {
        let started = Instant::now();
        loop {
            let log = fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(line) = log.lines().find(|line| line.contains(needle)) {
                return Ok(line.to_owned());
            }
            if let Some(status) = self.try_wait()? {
                return Err(Error::Exited { name: self.name.clone(), status, log: self.log_tail() });
            }
            if started.elapsed() > timeout {
                return Err(Error::NotReady { name: self.name.clone(), waited: timeout, log: self.log_tail() });
            }
            thread::sleep(POLL);
        }
    }

    /// Waits until the process exits with success, for one-shot commands.
    pub(crate) fn wait_success(&mut self, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            match self.try_wait()? {
                Some(status) if status.success() => return Ok(()),
                Some(status) => return Err(Error::Exited { name: self.name.clone(), status, log: self.log_tail() }),
                None if started.elapsed() > timeout => {
                    return Err(Error::NotReady { name: self.name.clone(), waited: timeout, log: self.log_tail() });
                }
                None => thread::sleep(POLL),
            }
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process now and reaps it.
    pub fn kill(&mut self) {
        // Both fail only when the process is already gone, which is the goal.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The end of its log.
    pub fn log_tail(&self) -> String {
        let log = fs::read(&self.log).unwrap_or_default();
        let start = log.len().saturating_sub(LOG_TAIL_BYTES);
        String::from_utf8_lossy(&log[start..]).into_owned()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
