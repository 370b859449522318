//! Errors crossing the C boundary: FreeBSD errno values, 0 meaning success.

use core::ffi::c_int;

use carp_proto::Errno;

/// Converts a Rust result to the C convention (0 or a positive errno).
pub fn to_c(r: Result<(), Errno>) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.as_i32(),
    }
}
