//! Abuse run beside the fleet's honest round, from loopback addresses of its own (the honest workers use
//! 127.0.0.1), so the coordinator's per-address limits tell them apart as they would tell apart hosts:
//! - `flood`: many connections sending unauthenticated requests as fast as answers come: the workers' standing and
//!   the task list (the costliest reads), forged submissions, task drafts with fresh seeds;
//! - `slow-headers`: many connections that send a request line and then one header byte a second, never finishing,
//!   opened again as soon as the coordinator closes one.

use serde::Serialize;
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::{io::AsyncWriteExt, net::TcpSocket, task::JoinSet};

/// Which abuse runs during the round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum AttackKind {
    /// None: the baseline.
    None,
    /// Unauthenticated requests as fast as they are answered.
    Flood,
    /// Requests whose headers never finish.
    SlowHeaders,
}

/// What the attacker saw.
#[derive(Debug, Default, Serialize)]
pub(crate) struct AttackReport {
    pub kind: Option<AttackKind>,
    pub connections: usize,
    pub seconds: f64,
    /// Flood: answers by class.
    pub answered_ok: u64,
    pub refused_429: u64,
    pub other_status: u64,
    /// Requests that got no answer (connection refused, reset or closed).
    pub failed: u64,
    /// Slow headers: connections opened, and how many the coordinator closed before they finished.
    pub opened: u64,
    pub cut_off: u64,
    /// Slow headers: the longest a connection stayed open, in seconds.
    pub longest_held_s: f64,
}

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    limited: AtomicU64,
    other: AtomicU64,
    failed: AtomicU64,
    opened: AtomicU64,
    cut_off: AtomicU64,
    longest_held_ms: AtomicU64,
}

/// A running attack; [`Attack::stop`] ends it and reports.
pub(crate) struct Attack {
    kind: AttackKind,
    connections: usize,
    started: Instant,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    tasks: JoinSet<()>,
}

impl Attack {
    /// Starts `kind` with `connections` connections against the coordinator at `address`, about task `task`.
    pub(crate) fn start(kind: AttackKind, connections: usize, address: SocketAddr, task: u64) -> eyre::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let mut tasks = JoinSet::new();
        match kind {
            AttackKind::None => {}
            AttackKind::Flood => {
                let http = reqwest::Client::builder()
                    .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
                    .pool_max_idle_per_host(connections)
                    .timeout(Duration::from_secs(30))
                    .build()?;
                for n in 0..connections {
                    let (http, stop, counts) = (http.clone(), Arc::clone(&stop), Arc::clone(&counts));
                    tasks.spawn(flood(http, format!("http://{address}"), task, n as u64, stop, counts));
                }
            }
            AttackKind::SlowHeaders => {
                for _ in 0..connections {
                    tasks.spawn(slow_headers(address, Arc::clone(&stop), Arc::clone(&counts)));
                }
            }
        }
        Ok(Self { kind, connections, started: Instant::now(), stop, counts, tasks })
    }

    /// Stops the attack and says what it saw.
    pub(crate) async fn stop(mut self) -> AttackReport {
        self.stop.store(true, Ordering::Relaxed);
        let seconds = self.started.elapsed().as_secs_f64();
        // Every loop checks the flag at least once a second, and no request waits longer than 30 s.
        let _ =
            tokio::time::timeout(Duration::from_secs(35), async { while self.tasks.join_next().await.is_some() {} })
                .await;
        self.tasks.abort_all();
        let c = &self.counts;
        AttackReport {
            kind: Some(self.kind),
            connections: self.connections,
            seconds,
            answered_ok: c.ok.load(Ordering::Relaxed),
            refused_429: c.limited.load(Ordering::Relaxed),
            other_status: c.other.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            opened: c.opened.load(Ordering::Relaxed),
            cut_off: c.cut_off.load(Ordering::Relaxed),
            longest_held_s: c.longest_held_ms.load(Ordering::Relaxed) as f64 / 1e3,
        }
    }
}

/// One flooding connection: cycles through the costliest unauthenticated requests.
async fn flood(http: reqwest::Client, base: String, task: u64, seed: u64, stop: Arc<AtomicBool>, counts: Arc<Counts>) {
    let forged = serde_json::json!({
        "worker": "0x00000000000000000000000000000000000000aa",
        "update_cid": "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",
        "num_samples": 1_000_000,
        "signature": format!("0x{}", "11".repeat(65)),
    });
    let mut n = seed;
    while !stop.load(Ordering::Relaxed) {
        n = n.wrapping_add(1);
        let request = match n % 4 {
            0 => http.get(format!("{base}/api/v1/tasks/{task}/workers")),
            1 => http.get(format!("{base}/api/v1/tasks")),
            2 => http.post(format!("{base}/api/v1/tasks/{task}/rounds/1/submissions")).json(&forged),
            _ => http.post(format!("{base}/api/v1/task-drafts")).json(&serde_json::json!({
                "reward_token": "0x00000000000000000000000000000000000000bb",
                "reward_pool": "1000", "stake_required": "10", "num_rounds": 5, "max_workers": 8,
                "submission_window_secs": 600, "seed": n,
            })),
        };
        match request.send().await {
            Ok(answer) if answer.status().is_success() => counts.ok.fetch_add(1, Ordering::Relaxed),
            Ok(answer) if answer.status().as_u16() == 429 => counts.limited.fetch_add(1, Ordering::Relaxed),
            Ok(_) => counts.other.fetch_add(1, Ordering::Relaxed),
            Err(_) => {
                counts.failed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
                0
            }
        };
    }
}

/// One slow client, opened again each time the coordinator closes it.
async fn slow_headers(address: SocketAddr, stop: Arc<AtomicBool>, counts: Arc<Counts>) {
    while !stop.load(Ordering::Relaxed) {
        let connected = async {
            let socket = TcpSocket::new_v4()?;
            socket.bind(SocketAddr::from(([127, 0, 0, 3], 0)))?;
            socket.connect(address).await
        };
        let Ok(mut stream) = connected.await else {
            counts.failed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        counts.opened.fetch_add(1, Ordering::Relaxed);
        let opened = Instant::now();
        let mut alive = stream.write_all(b"GET /api/v1/tasks HTTP/1.1\r\nHost: coordinator\r\nX-Slow: ").await.is_ok();
        while alive && !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            alive = stream.write_all(b"a").await.is_ok() && stream.flush().await.is_ok();
        }
        let held = u64::try_from(opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        counts.longest_held_ms.fetch_max(held, Ordering::Relaxed);
        if !alive {
            counts.cut_off.fetch_add(1, Ordering::Relaxed);
        }
    }
}
