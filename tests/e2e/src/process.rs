//! A child process that announces `listening on http://HOST:PORT` on stdout, with its output
//! captured and a kill on drop.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// How long a child may take to print its `listening on` line.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// The marker a server prints once it is bound.
pub const LISTENING: &str = "listening on ";

/// A running child process with captured output.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Child,
    // Held open so that a child that exits on stdin EOF keeps running until it is dropped.
    stdin: Option<ChildStdin>,
    logs: Arc<Mutex<Vec<u8>>>,
    url: String,
}

/// The URL in a `... listening on http://HOST:PORT ...` line, without a trailing slash.
pub fn listening_url(line: &str) -> Option<String> {
    let rest = &line[line.find(LISTENING)? + LISTENING.len()..];
    let url = rest.split_whitespace().next()?.trim_end_matches('/');
    url.starts_with("http://").then(|| url.to_owned())
}

fn pump(
    mut source: impl Read + Send + 'static,
    logs: Arc<Mutex<Vec<u8>>>,
    listening: Option<mpsc::Sender<String>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(&mut source);
        let mut listening = listening;
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if let Ok(mut logs) = logs.lock() {
                        logs.extend_from_slice(&line);
                    }
                    if let Some(url) = listening_url(&String::from_utf8_lossy(&line)) {
                        if let Some(sender) = listening.take() {
                            // The receiver may have given up already; nothing to do then.
                            let _ = sender.send(url);
                        }
                    }
                }
            }
        }
    })
}

impl Proc {
    /// Spawns `command` (stdin, stdout and stderr are replaced by pipes) and waits at most
    /// `timeout` for its `listening on` line on stdout.
    pub fn spawn(name: &str, mut command: Command, timeout: Duration) -> Result<Self> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {name}: {command:?}"))?;
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (sender, receiver) = mpsc::channel();
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let stderr = child.stderr.take().context("no stderr pipe")?;
        let pumps = [
            pump(stdout, Arc::clone(&logs), Some(sender)),
            pump(stderr, Arc::clone(&logs), None),
        ];
        let stdin = child.stdin.take();
        let mut proc = Self {
            name: name.to_owned(),
            child,
            stdin,
            logs,
            url: String::new(),
        };
        match receiver.recv_timeout(timeout) {
            Ok(url) => {
                proc.url = url;
                Ok(proc)
            }
            Err(error) => {
                let why = match error {
                    mpsc::RecvTimeoutError::Timeout => {
                        format!("no `{LISTENING}` line within {timeout:?}")
                    }
                    mpsc::RecvTimeoutError::Disconnected => {
                        "stdout closed before a `listening on` line".to_owned()
                    }
                };
                let status = proc.wait_exit(Duration::from_millis(500)).ok();
                // Let the pumps drain what the child wrote before it exited (bounded: a grandchild
                // may hold the pipes open).
                let deadline = Instant::now() + Duration::from_millis(500);
                while pumps.iter().any(|pump| !pump.is_finished()) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                bail!(
                    "{name} did not start: {why} (exit: {status:?}); output:\n{}",
                    proc.logs()
                )
            }
        }
    }

    /// The URL from the `listening on` line, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the child printed so far on stdout and stderr (interleaved by line).
    pub fn logs(&self) -> String {
        self.logs
            .lock()
            .map(|logs| String::from_utf8_lossy(&logs).into_owned())
            .unwrap_or_default()
    }

    /// Sends SIGTERM (through `kill -TERM PID`).
    pub fn terminate(&self) -> Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .context("cannot run kill")?;
        if !status.success() {
            bail!("kill -TERM {} failed: {status}", self.pid());
        }
        Ok(())
    }

    /// Closes the child's stdin.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits at most `timeout` for the child to exit (polling every 10 ms).
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(anyhow!("{} still running after {timeout:?}", self.name));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Already exited is fine; nothing else to do about a failed kill in a destructor.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_url_is_read_from_the_line() {
        for (line, want) in [
            (
                "listening on http://127.0.0.1:4000\n",
                Some("http://127.0.0.1:4000"),
            ),
            (
                "2026-01-01T00:00:00Z INFO anvil: listening on http://127.0.0.1:5/ (pid 3)",
                Some("http://127.0.0.1:5"),
            ),
            ("listening on 127.0.0.1:4000", None),
            ("starting", None),
        ] {
            assert_eq!(listening_url(line).as_deref(), want, "{line}");
        }
    }

    #[test]
    fn spawn_reads_the_line_and_captures_both_streams() {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            "echo booting >&2; echo 'listening on http://127.0.0.1:9'; echo later >&2; exec cat",
        ]);
        let mut proc = Proc::spawn("sh", command, Duration::from_secs(5)).unwrap();
        assert_eq!(proc.url(), "http://127.0.0.1:9");
        proc.close_stdin();
        assert!(proc.wait_exit(Duration::from_secs(5)).unwrap().success());
        let logs = proc.logs();
        assert!(
            logs.contains("booting") && logs.contains("listening on"),
            "{logs}"
        );
    }

    #[test]
    fn spawn_fails_with_the_output_when_the_child_exits_early() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo 'bad config' >&2; exit 3"]);
        let error = Proc::spawn("sh", command, Duration::from_secs(5)).unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("bad config"), "{message}");
    }

    #[test]
    fn spawn_gives_up_after_the_timeout() {
        let mut command = Command::new("sh");
        command.args(["-c", "exec cat"]);
        let started = Instant::now();
        let error = Proc::spawn("sh", command, Duration::from_millis(300)).unwrap_err();
        assert!(
            format!("{error:#}").contains("no `listening on ` line"),
            "{error:#}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
