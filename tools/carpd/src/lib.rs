//! Support library of the `carpd` test node and the `carpsend` crafted-advert sender:
//! the ifconfig-style command line ([`cli`]) and the Linux plumbing ([`sys`]).
//!
//! Every protocol decision and every byte on the wire comes from `carp-proto`; this crate
//! only moves frames between an AF_PACKET socket and the core, keeps time, and mirrors the
//! core's decisions onto Linux (addresses, ARP answers).

pub mod cli;
pub mod sys;
pub mod node;
