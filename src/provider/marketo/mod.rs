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
mod limiter;
mod live;
mod ops;
mod platform;
mod procedures;
pub mod quota;
mod types;
mod wire;

pub use api::Api;
pub use client::{MarketoClient, MarketoConfig};
pub use credentials::{CredentialError, Credentials, plan_credentials, resolve_credentials};
pub use limiter::Limiter;
pub use live::{LinkObservation, Snapshot, observe};
pub use ops::Op;
pub use platform::MarketoPlatform;
pub use procedures::compile;
pub use types::{
    NewApiUser, PendingInvitation, RoleInfo, RolePair, ServiceCredentials, ServiceLink, UserRecord,
    UserSummary, UserUpdate, WorkspaceInfo,
};
