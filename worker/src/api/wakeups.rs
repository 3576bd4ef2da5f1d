//! Wake-ups from the coordinator's live feed: a worker waiting for its round to open learns that it did the moment
//! the coordinator opens it, instead of at its next poll. The feed only shortens waits; polling stays the ground
//! truth, so a coordinator without the feed, a proxy that buffers it or a dropped connection costs speed and never
//! a round.

use super::CoordinatorClient;
use std::{sync::Arc, time::Duration};
use tokio::{sync::Notify, task::JoinHandle};
use tracing::debug;

/// The longest pause before opening the feed again after it failed.
const MAX_RECONNECT_PAUSE: Duration = Duration::from_secs(60);

/// Follows a task's round and task changes in the background for as long as it lives.
#[derive(Debug)]
pub struct Wakeups {
    changed: Arc<Notify>,
    follower: JoinHandle<()>,
}

impl Wakeups {
    /// Starts following `task` at `api`'s coordinator (on the current tokio runtime).
    pub fn follow(api: CoordinatorClient, task: u64) -> Self {
        let changed = Arc::new(Notify::new());
        let follower = tokio::spawn(follow(api, task, Arc::clone(&changed)));
        Self { changed, follower }
    }

    /// Waits until the task changes, or `at_most` passes.
    pub async fn wait(&self, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, self.changed.notified()).await;
    }
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

/// Opens the feed, wakes the waiter at every event it carries, and opens it again when it ends.
async fn follow(api: CoordinatorClient, task: u64, changed: Arc<Notify>) {
    let mut pause = Duration::from_secs(1);
    loop {
        match api.round_feed(task).await {
            Ok(mut response) => {
                debug!(task, "following the coordinator's live feed");
                // Events may have been missed while the feed was closed: look again now.
                changed.notify_one();
                let mut lines = EventLines::default();
                while let Ok(Some(chunk)) = response.chunk().await {
                    if lines.push(&chunk) {
                        changed.notify_one();
                    }
                    pause = Duration::from_secs(1);
                }
                debug!(task, "the live feed ended; opening it again");
            }
            Err(error) => debug!(task, error = %error.report(), "the live feed is unavailable; polling alone"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_RECONNECT_PAUSE);
    }
}

/// Reads a `text/event-stream` in chunks cut anywhere, and says whether a chunk finished an event. Keep-alive
/// comments (`:` lines) are no event.
#[derive(Debug, Default)]
struct EventLines {
    /// The unfinished last line, at most [`MAX_LINE`] bytes of it.
    partial: Vec<u8>,
}

/// A feed line longer than this is cut: only whether a line names an event matters here.
const MAX_LINE: usize = 4096;

impl EventLines {
    /// Whether `chunk` completes at least one `event:` line.
    fn push(&mut self, chunk: &[u8]) -> bool {
        let mut saw_event = false;
        for &byte in chunk {
            if byte == b'\n' {
                saw_event |= self.partial.starts_with(b"event:");
                self.partial.clear();
            } else if self.partial.len() < MAX_LINE {
                self.partial.push(byte);
            }
        }
        saw_event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_seen_across_chunk_boundaries_and_keep_alives_are_not_events() {
        let mut lines = EventLines::default();
        assert!(!lines.push(b": keep-alive\n\n"));
        assert!(!lines.push(b"eve"));
        assert!(lines.push(b"nt: round\ndata: {\"task_id\":1}\n\n"));
        assert!(!lines.push(b"data: event: inside data is no event\n"));
        assert!(lines.push(b"event: task\n"));
    }

    #[tokio::test]
    async fn an_event_on_the_feed_ends_the_wait_and_asks_for_the_task_and_its_kinds() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (asked, request) = tokio::sync::oneshot::channel();
        let (send_event, event_due) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = vec![0; 2048];
            let read = socket.read(&mut head).await.unwrap();
            let _ = asked.send(String::from_utf8_lossy(&head[..read]).lines().next().unwrap_or_default().to_owned());
            socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n")
                .await
                .unwrap();
            socket.write_all(b": keep-alive\n\n").await.unwrap();
            let _ = event_due.await;
            socket.write_all(b"event: round\ndata: {\"task_id\":7}\n\n").await.unwrap();
            // Held open, as the coordinator holds it, until the test ends.
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let wakeups = Wakeups::follow(CoordinatorClient::new(&url, Duration::from_secs(5)).unwrap(), 7);
        assert_eq!(request.await.unwrap(), "GET /api/v1/events?task=7&kind=round,task HTTP/1.1");
        // Opening the feed wakes the waiter once (it may have missed something while the feed was closed).
        wakeups.wait(Duration::from_secs(5)).await;
        let started = std::time::Instant::now();
        send_event.send(()).unwrap();
        wakeups.wait(Duration::from_secs(20)).await;
        assert!(started.elapsed() < Duration::from_secs(5), "the event ended the wait: {:?}", started.elapsed());
        server.abort();
    }

    #[tokio::test]
    async fn a_coordinator_without_the_feed_leaves_the_waits_as_long_as_asked() {
        // Nothing listens here: the feed fails, and a wait lasts its full time (polling goes on as before).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let api = CoordinatorClient::new(&url, Duration::from_secs(1)).unwrap();
        let wakeups = Wakeups::follow(api, 1);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = std::time::Instant::now();
        wakeups.wait(Duration::from_millis(300)).await;
        assert!(started.elapsed() >= Duration::from_millis(290));
    }
}
