//! Kernel messages through log(9) (syslog, and the console depending on the level), and
//! a fixed-size, truncating text buffer to format them without allocation.

use core::ffi::{c_int, CStr};
use core::fmt;

use sys_bindings as sys;

/// Logs `msg` (one line, without the newline) at `LOG_INFO`.
pub fn info(msg: &CStr) {
    emit(sys::LOG_INFO as c_int, msg);
}

/// Logs `msg` (one line, without the newline) at `LOG_WARNING`.
pub fn warning(msg: &CStr) {
    emit(sys::LOG_WARNING as c_int, msg);
}

/// Logs `msg` (one line, without the newline) at `LOG_DEBUG`.
pub fn debug(msg: &CStr) {
    emit(sys::LOG_DEBUG as c_int, msg);
}

/// Formats `args` (truncated to one buffer) and logs it at `LOG_INFO`.
pub fn info_fmt(args: fmt::Arguments<'_>) {
    let mut b = TextBuf::new();
    let _ = fmt::write(&mut b, args);
    info(b.as_cstr());
}

/// Formats `args` and logs it at `LOG_DEBUG`.
pub fn debug_fmt(args: fmt::Arguments<'_>) {
    let mut b = TextBuf::new();
    let _ = fmt::write(&mut b, args);
    debug(b.as_cstr());
}

fn emit(level: c_int, msg: &CStr) {
    // SAFETY: log(9) is callable from any non-interrupt-filter context without sleeping;
    // the format is a constant "%s\n" and its one argument a valid NUL-terminated string
    // that outlives the call (log copies it into the message buffer).
    unsafe { sys::log(level, c"%s\n".as_ptr(), msg.as_ptr()) };
}

/// Capacity of a [`TextBuf`] (including the terminating NUL).
pub const TEXT_CAP: usize = 160;

/// A NUL-terminated text buffer that silently truncates (never fails, never panics).
pub struct TextBuf {
    buf: [u8; TEXT_CAP],
    len: usize,
}

impl TextBuf {
    /// An empty buffer.
    pub const fn new() -> TextBuf {
        TextBuf { buf: [0; TEXT_CAP], len: 0 }
    }

    /// The text written so far, NUL-terminated.
    pub fn as_cstr(&self) -> &CStr {
        let upto = self.len.saturating_add(1).min(TEXT_CAP);
        let bytes = self.buf.get(..upto).unwrap_or(&[0]);
        CStr::from_bytes_until_nul(bytes).unwrap_or(c"")
    }
}

impl Default for TextBuf {
    fn default() -> Self {
        TextBuf::new()
    }
}

impl fmt::Write for TextBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            // Keep one byte for the NUL; drop interior NULs.
            if self.len.saturating_add(1) >= TEXT_CAP {
                break;
            }
            if b == 0 {
                continue;
            }
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len = self.len.saturating_add(1);
            }
        }
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = 0;
        }
        Ok(())
    }
}
