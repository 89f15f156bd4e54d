//! Marketo Engage: the User Management REST client (token cache, limiter, retry budget, the
//! API's date formats and quota day), Marketo's operations and the procedures rename, replace
//! and relink compile to, the live snapshot they plan from, and the [`Platform`] that checks
//! and carries out each operation.
//!
//! [`Platform`]: crate::provider::Platform

mod api;
mod auth;
mod client;
mod credentials;
pub mod dates;
pub mod encode;
pub mod inventory;
mod limiter;
mod live;
pub mod mirror;
mod ops;
mod platform;
mod procedures;
pub mod quota;
mod recent;
mod types;
mod wire;

/// How Marketo is spoken of.
pub const WORDING: crate::provider::Wording = crate::provider::Wording {
    promise: "every service keeps its client id and secret: relinker proves each authenticates with unchanged credentials (compared by fingerprint) as the planned user",
    where_people_act: "in Marketo (Admin > Integration > LaunchPoint)",
    caveat: None,
};

pub use api::Api;
pub use client::{MarketoClient, MarketoConfig};
pub use credentials::{CredentialError, Credentials, plan_credentials, resolve_credentials};
pub use limiter::{Limiter, Spent};
pub use live::{LinkObservation, Snapshot, UsageObservation, observe};
pub use ops::Op;
pub use platform::MarketoPlatform;
pub use procedures::compile;
pub use types::{
    DailyUsage, Listing, NewApiUser, PendingInvitation, RoleInfo, RoleNames, RolePair,
    ServiceCredentials, ServiceLink, UserActivity, UserRecord, UserSummary, UserUpdate,
    WorkspaceInfo, calls_by_user,
};
