//! Helpers the logic shares: fallible vector edits (from the KPI layer) and log addresses
//! (from the core).

pub use carp_kpi::vec::{push, take_at};
/// An address for log lines (the core's formatter, without `core::net`'s panic path).
pub use carp_proto::LogAddr;
