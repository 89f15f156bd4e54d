//! The Marketo implementation of the provider: the REST client with its token cache, limiter
//! and retries, the date formats the API uses, and its quota day.

mod auth;
mod client;
pub mod dates;
pub mod encode;
mod limiter;
pub mod quota;
mod wire;

pub use client::{
    DEFAULT_GIVE_UP_AFTER, MarketoClient, MarketoConfig, RetryPolicy, check_base_url,
};
pub use limiter::{DEFAULT_CONCURRENCY, Limiter, Limits};
