//! The `depesha dev` child process: start on a free loopback port with a data dir,
//! wait until it answers, stop it (SIGTERM, then SIGKILL if it hangs), restart it, kill
//! it with SIGKILL and start it again, and read its memory from `/proc`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::load::{self, Client};
use crate::stats::now_ns;

const READY_TIMEOUT: Duration = Duration::from_secs(120);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Depesha {
    bin: PathBuf,
    pub data_dir: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
    pub port: u16,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

/// How a stop went.
#[derive(Debug, Clone, Copy)]
pub struct Stopped {
    pub took: Duration,
    /// It did not exit within [`STOP_TIMEOUT`] of SIGTERM and was killed.
    pub killed: bool,
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

impl Depesha {
    /// Starts `bin dev` on `data_dir` (logs appended to `log_path`) and waits until it
    /// answers; returns the server and the time from spawn to ready.
    pub async fn start(
        bin: &Path,
        data_dir: &Path,
        log_path: &Path,
        client: &Client,
    ) -> Result<(Depesha, Duration), String> {
        if !bin.exists() {
            return Err(format!(
                "no depesha binary at {} — build it with `cargo build --release -p depesha` or pass --depesha <path>",
                bin.display()
            ));
        }
        let mut server = Depesha {
            bin: bin.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
            log_path: log_path.to_path_buf(),
            child: None,
            port: 0,
            base: String::new(),
        };
        let ready = server.spawn_and_wait(client).await?;
        Ok((server, ready))
    }

    async fn spawn_and_wait(&mut self, client: &Client) -> Result<Duration, String> {
        let mut last = String::new();
        for _attempt in 0..3 {
            self.port = free_port()?;
            self.base = format!("http://127.0.0.1:{}", self.port);
            let log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log_path)
                .map_err(|e| format!("{}: {e}", self.log_path.display()))?;
            let log2 = log.try_clone().map_err(|e| e.to_string())?;
            let started = Instant::now();
            let child = Command::new(&self.bin)
                .arg("dev")
                .arg("--port")
                .arg(self.port.to_string())
                .arg("--data-dir")
                .arg(&self.data_dir)
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log2)
                .spawn()
                .map_err(|e| format!("could not start {}: {e}", self.bin.display()))?;
            self.child = Some(child);
            match self.wait_ready(client, started).await {
                Ok(d) => return Ok(d),
                Err(e) => {
                    last = e;
                    self.kill();
                }
            }
        }
        Err(format!(
            "depesha did not start: {last}\n{}",
            self.log_tail(30)
        ))
    }

    async fn wait_ready(&mut self, client: &Client, started: Instant) -> Result<Duration, String> {
        let uri = format!("{}/v2/keys", self.base);
        loop {
            self.check_alive()?;
            if let Ok(req) = load::get(&uri) {
                let probe =
                    tokio::time::timeout(Duration::from_secs(2), load::send(client, req)).await;
                if let Ok(Ok((status, _))) = probe {
                    if status.is_success() {
                        return Ok(started.elapsed());
                    }
                }
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(format!("not ready after {READY_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// An error naming the exit status and the log if the server is no longer running.
    pub fn check_alive(&mut self) -> Result<(), String> {
        let Some(child) = self.child.as_mut() else {
            return Err("depesha is not running".into());
        };
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => {
                self.child = None;
                Err(format!(
                    "depesha exited unexpectedly ({status})\n{}",
                    self.log_tail(30)
                ))
            }
            Err(e) => Err(format!("could not poll depesha: {e}")),
        }
    }

    /// SIGTERM, then wait; SIGKILL after [`STOP_TIMEOUT`].
    pub async fn stop(&mut self) -> Result<Stopped, String> {
        let Some(mut child) = self.child.take() else {
            return Err("depesha is not running".into());
        };
        let started = Instant::now();
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        loop {
            match child.try_wait() {
                Ok(Some(_)) => {
                    return Ok(Stopped {
                        took: started.elapsed(),
                        killed: false,
                    })
                }
                Ok(None) if started.elapsed() < STOP_TIMEOUT => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Ok(Stopped {
                        took: started.elapsed(),
                        killed: true,
                    });
                }
            }
        }
    }

    /// Stops and starts again on the same data dir; returns the stop and the time from
    /// spawn to ready.
    pub async fn restart(&mut self, client: &Client) -> Result<(Stopped, Duration), String> {
        let stopped = self.stop().await?;
        let ready = self.spawn_and_wait(client).await?;
        Ok((stopped, ready))
    }

    /// Starts the server again on the same data dir (on a new free port) after
    /// [`Depesha::kill`]; returns the time from spawn to ready.
    pub async fn respawn(&mut self, client: &Client) -> Result<Duration, String> {
        self.spawn_and_wait(client).await
    }

    /// `kill -9`: the server gets no chance to finish anything (the kill loop's crash).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A `/proc/PID/status` field in bytes (`VmHWM`, `VmRSS`).
    pub fn proc_status_bytes(&self, field: &str) -> Option<u64> {
        proc_status_bytes(self.pid()?, field)
    }

    pub fn peak_rss(&self) -> Option<u64> {
        self.proc_status_bytes("VmHWM")
    }

    pub fn rss(&self) -> Option<u64> {
        self.proc_status_bytes("VmRSS")
    }

    pub fn data_dir_bytes(&self) -> u64 {
        dir_bytes(&self.data_dir)
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let Ok(mut f) = File::open(&self.log_path) else {
            return String::new();
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)));
        let mut s = String::new();
        let _ = f.read_to_string(&mut s);
        let all: Vec<&str> = s.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Depesha {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn proc_status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    let kb: u64 = line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Total size of the files under `path` (apparent sizes).
pub fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Samples the server's RSS (and an optional gauge) in the background.
pub struct Sampler {
    pub samples: Arc<Mutex<Vec<Sample>>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at_ns: u64,
    pub rss: u64,
    pub gauge: i64,
}

impl Sampler {
    pub fn start(
        pid: u32,
        every: Duration,
        gauge: Option<Arc<std::sync::atomic::AtomicI64>>,
    ) -> Sampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let out = samples.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(rss) = proc_status_bytes(pid, "VmRSS") else {
                    break;
                };
                let gauge = gauge
                    .as_ref()
                    .map(|g| g.load(std::sync::atomic::Ordering::Relaxed))
                    .unwrap_or(0);
                out.lock().expect("samples").push(Sample {
                    at_ns: now_ns(),
                    rss,
                    gauge,
                });
            }
        });
        Sampler { samples, task }
    }

    pub fn stop(self) -> Vec<Sample> {
        self.task.abort();
        let s = self.samples.lock().expect("samples").clone();
        s
    }
}
