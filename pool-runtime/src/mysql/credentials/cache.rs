//! The credentials a connect uses: cached until shortly before they
//! expire, fetched by one task at a time, and held back after the server
//! refused them.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use super::file::PasswordFile;
use super::{CredentialError, Credentials};
use crate::credentials::DynSource;

/// How long connects with refused credentials fail at once after the first
/// refusal; doubled with each further one, up to [`BACKOFF_CAP`].
pub(crate) const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// The longest hold-back after refusals.
pub(crate) const BACKOFF_CAP: Duration = Duration::from_secs(60);
/// Credentials are fetched anew this long before they expire (or a quarter
/// of their lifetime before, when that is shorter).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Where the credentials come from.
#[derive(Clone)]
pub(crate) enum Provider {
    /// Read at every connect, never cached.
    File(PasswordFile),
    /// The user's source, cached.
    Custom(Arc<dyn DynSource>),
}

impl Provider {
    /// How errors and the boot report name it.
    pub(crate) fn describe(&self) -> String {
        match self {
            Provider::File(file) => file.describe(),
            Provider::Custom(source) => format!("credential source `{}`", source.name()),
        }
    }
}

/// Credentials as handed to one connect, with the fetch they came from.
#[derive(Clone)]
pub(crate) struct Issued {
    pub(crate) credentials: Arc<Credentials>,
    /// Which fetch produced them (fetches are numbered from 1).
    epoch: u64,
}

struct Entry {
    issued: Issued,
    /// When to fetch anew; `None`: only when refused.
    refresh_at: Option<SystemTime>,
}

/// Refused credentials, and until when connects with them fail at once.
struct Backoff {
    refused: Arc<Credentials>,
    refusals: u32,
    until: Instant,
}

#[derive(Default)]
struct State {
    entry: Option<Entry>,
    /// Fetches finished, with or without success.
    epoch: u64,
    /// The last fetch's error, while no later one succeeded.
    last_error: Option<CredentialError>,
    backoff: Option<Backoff>,
}

/// The pool's credentials for new connections.
pub(crate) struct CredentialCache {
    provider: Provider,
    fetch_timeout: Duration,
    state: Mutex<State>,
    /// Held by the one task fetching; the others wait for its answer.
    flight: tokio::sync::Mutex<()>,
}

impl CredentialCache {
    pub(crate) fn new(provider: Provider, fetch_timeout: Duration) -> Self {
        CredentialCache {
            provider,
            fetch_timeout,
            state: Mutex::new(State::default()),
            flight: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn provider(&self) -> &Provider {
        &self.provider
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Credentials for a connect: cached ones while fresh, else fetched
    /// (joining a fetch under way).
    pub(crate) async fn current(&self) -> Result<Issued, CredentialError> {
        let seen = {
            let st = self.lock();
            match &st.entry {
                Some(entry) if is_fresh(entry, SystemTime::now()) => {
                    return Ok(entry.issued.clone());
                }
                _ => st.epoch,
            }
        };
        self.fetch_after(seen).await
    }

    /// Credentials newer than `refused`: the answer of a fetch that ended
    /// after it, or of a new one.
    pub(crate) async fn newer_than(&self, refused: &Issued) -> Result<Issued, CredentialError> {
        self.fetch_after(refused.epoch).await
    }

    /// The answer of a fetch finished after fetch number `seen`: one that
    /// ended while this task waited its turn, or one it runs itself.
    async fn fetch_after(&self, seen: u64) -> Result<Issued, CredentialError> {
        let source = match &self.provider {
            Provider::File(file) => {
                // A file read is cheap and must see the file as it is now.
                let read = file.read();
                let mut st = self.lock();
                st.epoch += 1;
                return read.map(|credentials| Issued {
                    credentials: Arc::new(credentials),
                    epoch: st.epoch,
                });
            }
            Provider::Custom(source) => source,
        };
        let _turn = self.flight.lock().await;
        {
            let st = self.lock();
            if st.epoch > seen {
                if let Some(e) = &st.last_error {
                    return Err(e.clone());
                }
                if let Some(entry) = &st.entry {
                    return Ok(entry.issued.clone());
                }
            }
        }
        let fetched = match tokio::time::timeout(self.fetch_timeout, source.fetch_boxed()).await {
            Ok(Ok(credentials)) => Ok(credentials),
            Ok(Err(cause)) => Err(CredentialError::Fetch {
                source_name: source.name().to_owned(),
                cause: Arc::new(cause),
            }),
            Err(_) => Err(CredentialError::Timeout {
                source_name: source.name().to_owned(),
                after: self.fetch_timeout,
            }),
        };
        let now = SystemTime::now();
        let mut st = self.lock();
        st.epoch += 1;
        match fetched {
            Ok(credentials) => {
                let refresh_at = credentials.expires_at.map(|at| refresh_time(now, at));
                let issued = Issued {
                    credentials: Arc::new(credentials),
                    epoch: st.epoch,
                };
                st.entry = Some(Entry {
                    issued: issued.clone(),
                    refresh_at,
                });
                st.last_error = None;
                Ok(issued)
            }
            Err(e) => {
                // Credentials not yet expired still work: better than none.
                if let Some(entry) = &st.entry {
                    if entry
                        .issued
                        .credentials
                        .expires_at
                        .is_none_or(|at| now < at)
                    {
                        tracing::warn!(error = %e, "fetching credentials failed; using the cached ones until they expire");
                        return Ok(entry.issued.clone());
                    }
                }
                st.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// While `issued` is held back after refusals: how much longer.
    pub(crate) fn held_back(&self, issued: &Issued) -> Option<Duration> {
        let st = self.lock();
        let backoff = st.backoff.as_ref()?;
        let left = backoff.until.checked_duration_since(Instant::now())?;
        (!left.is_zero() && backoff.refused.same_login(&issued.credentials)).then_some(left)
    }

    /// The server refused `issued` after a fresh fetch: hold connects with
    /// it back, longer each time. Returns for how long.
    pub(crate) fn refused(&self, issued: &Issued) -> Duration {
        let mut st = self.lock();
        let refusals = st.backoff.as_ref().map_or(0, |b| b.refusals) + 1;
        let delay = backoff_delay(refusals);
        st.backoff = Some(Backoff {
            refused: Arc::clone(&issued.credentials),
            refusals,
            until: Instant::now() + delay,
        });
        delay
    }

    /// A connect succeeded: no more holding back.
    pub(crate) fn accepted(&self) {
        let mut st = self.lock();
        if st.backoff.is_some() {
            st.backoff = None;
        }
    }

    /// Forgets the cached credentials and any hold-back: the next connect
    /// fetches.
    pub(crate) fn invalidate(&self) {
        let mut st = self.lock();
        st.entry = None;
        st.last_error = None;
        st.backoff = None;
    }
}

fn is_fresh(entry: &Entry, now: SystemTime) -> bool {
    entry.refresh_at.is_none_or(|at| now < at)
}

/// When credentials fetched at `now` and expiring at `expires` are
/// fetched anew.
fn refresh_time(now: SystemTime, expires: SystemTime) -> SystemTime {
    let lifetime = expires.duration_since(now).unwrap_or_default();
    expires
        .checked_sub(REFRESH_MARGIN.min(lifetime / 4))
        .unwrap_or(expires)
}

/// 1 s, 2 s, 4 s, ... up to [`BACKOFF_CAP`].
pub(crate) fn backoff_delay(refusals: u32) -> Duration {
    let doublings = refusals.saturating_sub(1).min(16);
    BACKOFF_BASE.saturating_mul(1 << doublings).min(BACKOFF_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::{CredentialSource, FetchError};
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

    struct Counting {
        calls: AtomicU32,
        lifetime: Option<Duration>,
    }

    impl CredentialSource for Counting {
        fn name(&self) -> &str {
            "counting"
        }
        async fn fetch(&self) -> Result<Credentials, FetchError> {
            let n = self.calls.fetch_add(1, Relaxed) + 1;
            tokio::task::yield_now().await;
            let c = Credentials::new("app", format!("p{n}"));
            Ok(match self.lifetime {
                Some(l) => c.valid_for(l),
                None => c,
            })
        }
    }

    fn cache(lifetime: Option<Duration>) -> (Arc<Counting>, CredentialCache) {
        let source = Arc::new(Counting {
            calls: AtomicU32::new(0),
            lifetime,
        });
        let provider = Provider::Custom(source.clone());
        (
            source,
            CredentialCache::new(provider, Duration::from_secs(5)),
        )
    }

    #[test]
    fn backoff_doubles_from_one_second_up_to_a_minute() {
        let secs: Vec<u64> = (1..=8).map(|n| backoff_delay(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff_delay(u32::MAX), BACKOFF_CAP);
    }

    #[test]
    fn refresh_comes_a_minute_before_expiry_or_a_quarter_of_a_short_lifetime() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let hour = now + Duration::from_secs(3600);
        assert_eq!(refresh_time(now, hour), hour - Duration::from_secs(60));
        let short = now + Duration::from_secs(40);
        assert_eq!(refresh_time(now, short), short - Duration::from_secs(10));
        // Already expired: fetched at once.
        assert!(refresh_time(now, now - Duration::from_secs(5)) <= now);
    }

    #[tokio::test]
    async fn fresh_credentials_are_cached_and_concurrent_fetches_are_one() {
        let (source, cache) = cache(None);
        let cache = Arc::new(cache);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let cache = Arc::clone(&cache);
            tasks.spawn(async move { cache.current().await.map(|i| i.credentials) });
        }
        while let Some(done) = tasks.join_next().await {
            assert_eq!(done.unwrap().unwrap().password.expose(), "p1");
        }
        assert_eq!(source.calls.load(Relaxed), 1);
        cache.current().await.unwrap();
        assert_eq!(source.calls.load(Relaxed), 1);
    }

    #[tokio::test]
    async fn expired_credentials_are_fetched_anew_and_a_refusal_asks_once_more() {
        let (source, cache) = cache(Some(Duration::ZERO));
        let first = cache.current().await.unwrap();
        let second = cache.current().await.unwrap();
        assert_eq!(second.credentials.password.expose(), "p2");
        // Two connects refused with `first`: one new fetch between them.
        let a = cache.newer_than(&first).await.unwrap();
        let b = cache.newer_than(&first).await.unwrap();
        assert_eq!(a.credentials.password.expose(), "p2");
        assert_eq!(b.credentials.password.expose(), "p2");
        assert_eq!(source.calls.load(Relaxed), 2);
    }

    #[tokio::test]
    async fn refused_credentials_are_held_back_and_others_are_not() {
        let (_, cache) = cache(None);
        let issued = cache.current().await.unwrap();
        assert_eq!(cache.held_back(&issued), None);
        assert_eq!(cache.refused(&issued), Duration::from_secs(1));
        assert!(cache.held_back(&issued).is_some());
        assert_eq!(cache.refused(&issued), Duration::from_secs(2));
        let other = Issued {
            credentials: Arc::new(Credentials::new("app", "other")),
            epoch: 99,
        };
        assert_eq!(cache.held_back(&other), None);
        cache.accepted();
        assert_eq!(cache.held_back(&issued), None);
    }
}
