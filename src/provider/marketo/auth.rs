//! Access tokens: minted with client credentials, cached, renewed before they expire.
//!
//! Marketo returns the same token until it expires (with the remaining lifetime), so the cache
//! renews a little early, when a tenth of the lifetime (at most a minute) is left, rather than
//! let a call race the expiry. A token the API rejects (601/602) is dropped and minted again.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::secret::Secret;

/// A token and when to stop using it.
#[derive(Debug, Clone)]
struct Cached {
    token: Secret,
    renew_at: Instant,
}

/// The admin service's current token, shared by every task using one client.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    cached: Mutex<Option<Cached>>,
}

/// When to renew a token that lives `lifetime`.
pub(crate) fn renew_after(lifetime: Duration) -> Duration {
    let early = (lifetime / 10).min(Duration::from_mins(1));
    lifetime.saturating_sub(early)
}

impl TokenCache {
    /// The cached token, or a new one from `mint` (which returns the token and its lifetime).
    ///
    /// The lock is held while minting so that concurrent callers wait for one identity call
    /// instead of each making their own.
    pub(crate) async fn token<F, Fut, E>(&self, mint: F) -> Result<Secret, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(Secret, Duration), E>>,
    {
        let mut cached = self.cached.lock().await;
        if let Some(current) = cached.as_ref()
            && Instant::now() < current.renew_at
        {
            return Ok(current.token.clone());
        }
        let (token, lifetime) = mint().await?;
        tracing::debug!(lifetime_secs = lifetime.as_secs(), "minted an access token");
        *cached = Some(Cached {
            token: token.clone(),
            renew_at: Instant::now() + renew_after(lifetime),
        });
        Ok(token)
    }

    /// Forgets `stale` if it is still the cached token (another task may have renewed it).
    pub(crate) async fn invalidate(&self, stale: &Secret) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| &c.token == stale) {
            *cached = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renews_a_tenth_early_but_at_most_a_minute() {
        assert_eq!(
            renew_after(Duration::from_hours(1)),
            Duration::from_mins(59)
        );
        assert_eq!(
            renew_after(Duration::from_secs(100)),
            Duration::from_secs(90)
        );
        assert_eq!(renew_after(Duration::ZERO), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn reuses_until_renewal_then_mints_again() {
        let cache = TokenCache::default();
        let mint = |name: &'static str| {
            move || async move {
                Ok::<_, std::convert::Infallible>((Secret::new(name), Duration::from_secs(100)))
            }
        };
        let first = cache.token(mint("a")).await.unwrap();
        assert_eq!(cache.token(mint("b")).await.unwrap(), first);
        tokio::time::advance(Duration::from_secs(91)).await;
        assert_eq!(cache.token(mint("c")).await.unwrap().expose(), "c");
        cache.invalidate(&first).await; // stale: no effect
        assert_eq!(cache.token(mint("d")).await.unwrap().expose(), "c");
        cache.invalidate(&Secret::new("c")).await;
        assert_eq!(cache.token(mint("e")).await.unwrap().expose(), "e");
    }
}
