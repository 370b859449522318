//! Functions the C shim calls (declared in kmod/shim/carp_shim.h). Each one converts its
//! arguments, calls the safe implementation in [`crate::module`] and converts the result.
//!
//! Each definition is checked at compile time against the typedef bindgen generated from
//! carp_shim.h (`const _: sys::X_t = Some(X)`), so C and Rust cannot disagree on a signature.

use core::ffi::c_int;

use sys_bindings as sys;

use super::errno;
use crate::module;

/// MOD_LOAD.
#[no_mangle]
pub extern "C" fn carp_rs_load() -> c_int {
    errno::to_c(module::load())
}
const _: sys::carp_rs_load_t = Some(carp_rs_load);

/// MOD_UNLOAD.
#[no_mangle]
pub extern "C" fn carp_rs_unload() -> c_int {
    errno::to_c(module::unload())
}
const _: sys::carp_rs_unload_t = Some(carp_rs_unload);

/// `net.inet.carp.allow` written in the current VNET.
#[no_mangle]
pub extern "C" fn carp_rs_allow_changed(oldval: c_int, newval: c_int) -> c_int {
    errno::to_c(module::allow_changed(oldval != 0, newval != 0))
}
const _: sys::carp_rs_allow_changed_t = Some(carp_rs_allow_changed);
