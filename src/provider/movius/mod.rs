//! Movius MultiLine: API users are added, edited and deleted only in the Administrators tool,
//! their credentials arrive by email, and no public API can manage or check them. relinker
//! plans the procedures ([`compile`]), tells a person each step ([`MoviusPlatform`]), and knows
//! only what the plan's check commands tell ([`Snapshot`]); everything else is attested.

mod live;
mod ops;
mod platform;
mod procedures;

pub use live::{Checked, Snapshot};
pub use ops::{Integration, Op};
pub use platform::MoviusPlatform;
pub use procedures::compile;
