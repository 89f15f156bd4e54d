//! Offboarding: find the API-only users tied to people who left, and write a reviewable plan
//! for each.
//!
//! It owns the offboarding config ([`Config`]), the departed list ([`Departed`]), the read-only
//! [`scan()`] of an instance, and the files it writes (plans and a report). It never applies
//! anything: the plans it writes go through `relinker apply` like any other.

mod config;
mod departed;
mod scan;
mod write;

pub use config::{Config, ConfigError, Protected, RotationLimit, Strategy};
pub use departed::{Departed, DepartedError, normalize};
pub use scan::{Finding, Scan, scan};
pub use write::{
    GENERATED, WriteError, calls, destinations, fill, is_generated, moves_to, plan, plan_name,
    report_markdown, slug, write_atomically,
};
