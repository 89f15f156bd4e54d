//! Movius MultiLine: API users are added, edited and deleted only in the Administrators tool,
//! their credentials arrive by email, and no public API can manage or check them. relinker
//! plans the procedures ([`compile`]), tells a person each step ([`MoviusPlatform`]), and knows
//! only what the plan's check commands tell ([`Snapshot`]); everything else is attested.

mod live;
mod ops;
mod platform;
mod procedures;

/// How Movius is spoken of.
pub const WORDING: crate::provider::Wording = crate::provider::Wording {
    promise: "every integration works on the new API user before the old one is deleted (checked by command where the plan names one, attested by a person elsewhere)",
    where_people_act: "in MultiLine's Management Portal (Administrators) and in each integration's settings",
    caveat: Some(
        "relinker cannot observe Movius: it has no API for API users, so every step without a check command is attested by a person, not verified",
    ),
};

pub use live::{Checked, Snapshot};
pub use ops::{Integration, Op};
pub use platform::MoviusPlatform;
pub use procedures::compile;
