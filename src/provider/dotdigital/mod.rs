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

/// How dotdigital is spoken of.
pub const WORDING: crate::provider::Wording = crate::provider::Wording {
    promise: "the new credential works, for the same account, before the old one is disabled, and the old one is refused after",
    where_people_act: "in dotdigital (Settings > Access > API users) and in each integration's settings",
    caveat: None,
};

pub use client::{Access, Account, DotdigitalClient};
pub use live::{Seen, Snapshot};
pub use ops::{Integration, Op};
pub use platform::DotdigitalPlatform;
pub use procedures::compile;
