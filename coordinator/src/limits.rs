//! What one client may take from the coordinator: requests per second per IP address and per worker, open live
//! feeds, updates waiting to be fetched. Each limit refuses with a time to come back instead of queueing without
//! end, so a flood from a few addresses costs them their answers and never the honest workers' submissions.

use crate::Config;
use std::{
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A refusal: come back after this long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds, at least one, as the `Retry-After` header takes them.
    pub fn secs(self) -> u64 {
        self.0.as_secs_f64().ceil().max(1.0) as u64
    }
}

/// A token bucket per key: `rate` tokens a second, at most `burst` saved up; each request takes one.
#[derive(Debug)]
pub struct RateLimiter<K> {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets kept before full ones (those that would be at `burst` anyway) are dropped: a flood from many
/// addresses costs memory for at most this many.
const MAX_BUCKETS: usize = 100_000;

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `rate` requests a second with bursts of `burst`; a rate of zero lets everything through.
    pub fn new(rate: f64, burst: u32) -> Self {
        Self { rate: rate.max(0.0), burst: f64::from(burst.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes a token for `key` at `now`, or says when the next one comes.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), RetryAfter> {
        if self.rate == 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            let full_after = Duration::from_secs_f64(self.burst / self.rate);
            buckets.retain(|_, bucket| now.saturating_duration_since(bucket.at) < full_after);
            if buckets.len() >= MAX_BUCKETS {
                // Every bucket is busy: a flood from more addresses than kept. The newcomer waits.
                return Err(RetryAfter(Duration::from_secs(1)));
            }
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket { tokens: self.burst, at: now });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(RetryAfter(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate)))
        }
    }
}

/// The key an address is counted under: an IPv4 address itself, an IPv6 address by its /64, the block one host
/// is usually given, so a host cannot dodge its limits, or fill the limiter's table, by counting through its
/// addresses.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
    }
}

/// The coordinator's admission limits, built once from its [`Config`].
#[derive(Debug)]
pub struct Limits {
    /// Requests per address ([`address_key`]), every endpoint but the dashboard's files.
    pub per_ip: RateLimiter<IpAddr>,
    /// Signed submissions per worker, counted for joined workers once the signature verifies, so nobody spends
    /// another's turns.
    pub per_worker: RateLimiter<alloy::primitives::Address>,
    /// Open live feeds.
    event_streams: Arc<Semaphore>,
    /// Submissions holding or waiting for a fetch turn.
    fetch_queue: Arc<Semaphore>,
}

impl Limits {
    /// The limits `config` sets.
    pub fn new(config: &Config) -> Self {
        Self {
            per_ip: RateLimiter::new(config.rate_limit_per_ip, config.rate_limit_burst),
            per_worker: RateLimiter::new(config.submissions_per_worker_per_sec, config.submission_burst),
            event_streams: Arc::new(Semaphore::new(config.max_event_streams)),
            fetch_queue: Arc::new(Semaphore::new(config.max_queued_fetches.max(1))),
        }
    }

    /// A place among the open live feeds, held until the feed closes.
    pub fn event_stream(&self) -> Result<OwnedSemaphorePermit, RetryAfter> {
        Arc::clone(&self.event_streams).try_acquire_owned().map_err(|_| RetryAfter(Duration::from_secs(30)))
    }

    /// A place in the line for fetch turns, held until the submission is answered.
    pub fn fetch_place(&self) -> Result<OwnedSemaphorePermit, RetryAfter> {
        Arc::clone(&self.fetch_queue).try_acquire_owned().map_err(|_| RetryAfter(Duration::from_secs(5)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_lets_a_burst_through_then_one_request_per_refill() {
        let limiter = RateLimiter::new(2.0, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check(&1, start), Ok(()));
        }
        let refused = limiter.check(&1, start).unwrap_err();
        assert_eq!(refused, RetryAfter(Duration::from_millis(500)));
        assert_eq!(refused.secs(), 1);
        // Another key has its own bucket.
        assert_eq!(limiter.check(&2, start), Ok(()));
        assert_eq!(limiter.check(&1, start + Duration::from_millis(500)), Ok(()));
        assert!(limiter.check(&1, start + Duration::from_millis(600)).is_err());
        // Saved tokens stop at the burst.
        let later = start + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(limiter.check(&1, later), Ok(()));
        }
        assert!(limiter.check(&1, later).is_err());
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_64_block() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(address_key(one), address_key(other));
        assert_eq!(address_key(one), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_ne!(address_key(one), address_key("2001:db8:1:3::1".parse().unwrap()));
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(address_key(v4), v4);
    }

    #[test]
    fn a_zero_rate_is_no_limit() {
        let limiter = RateLimiter::new(0.0, 1);
        let now = Instant::now();
        assert!((0..10_000).all(|_| limiter.check(&7, now).is_ok()));
    }

    #[test]
    fn a_flood_from_many_keys_keeps_at_most_the_bucket_cap() {
        let limiter = RateLimiter::new(1.0, 1);
        let now = Instant::now();
        for key in 0..MAX_BUCKETS {
            assert!(limiter.check(&key, now).is_ok());
        }
        // All are fresh: the next newcomer is refused rather than growing the map.
        assert!(limiter.check(&usize::MAX, now).is_err());
        // Once they have refilled, they are dropped and newcomers get buckets.
        assert!(limiter.check(&usize::MAX, now + Duration::from_secs(2)).is_ok());
        assert!(limiter.buckets.lock().unwrap().len() <= MAX_BUCKETS);
    }

    #[test]
    fn feeds_and_fetch_places_are_refused_beyond_their_caps_and_freed_on_drop() {
        let config = Config { max_event_streams: 2, max_queued_fetches: 1, ..Config::default() };
        let limits = Limits::new(&config);
        let (a, _b) = (limits.event_stream().unwrap(), limits.event_stream().unwrap());
        assert!(limits.event_stream().is_err());
        drop(a);
        assert!(limits.event_stream().is_ok());
        let place = limits.fetch_place().unwrap();
        assert_eq!(limits.fetch_place().unwrap_err().secs(), 5);
        drop(place);
        assert!(limits.fetch_place().is_ok());
    }
}
