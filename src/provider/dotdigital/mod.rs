//! dotdigital (formerly dotmailer): API users are created, edited, disabled and deleted only
//! in the UI, and an integration authenticates with its API user's own username and password,
//! so a rotation replaces the credential. relinker observes credentials through
//! `GET /v2/account-info` with HTTP Basic auth ([`DotdigitalClient`]), plans the alternating
//! users procedure ([`compile`]), and tells a person each UI step ([`DotdigitalPlatform`]).

mod client;
mod live;
mod ops;
pub mod password;
mod platform;
mod procedures;

pub use client::{Access, Account, DotdigitalClient};
pub use live::{Seen, Snapshot};
pub use ops::{Integration, Op};
pub use platform::DotdigitalPlatform;
pub use procedures::compile;
