//! Kernel messages through log(9) (syslog, and the console depending on the level).

use core::ffi::{c_int, CStr};

use sys_bindings as sys;

/// Logs `msg` (one line, without the newline) at `LOG_INFO`.
pub fn info(msg: &CStr) {
    emit(sys::LOG_INFO as c_int, msg);
}

/// Logs `msg` (one line, without the newline) at `LOG_DEBUG`.
pub fn debug(msg: &CStr) {
    emit(sys::LOG_DEBUG as c_int, msg);
}

fn emit(level: c_int, msg: &CStr) {
    // SAFETY: log(9) is callable from any non-interrupt-filter context without sleeping;
    // the format is a constant "%s\n" and its one argument a valid NUL-terminated string
    // that outlives the call (log copies it into the message buffer).
    unsafe { sys::log(level, c"%s\n".as_ptr(), msg.as_ptr()) };
}
