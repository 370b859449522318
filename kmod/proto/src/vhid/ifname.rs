//! A parent interface name in a fixed-size buffer (no allocation), for log lines, devd
//! subsystems and demotion reasons.

use core::fmt;

/// `IFNAMSIZ`: interface names are at most 15 bytes plus the terminating NUL.
pub const IFNAMSIZ: usize = 16;

/// An interface name such as `em0` or `vlan100`, at most `IFNAMSIZ - 1` bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IfName {
    buf: [u8; IFNAMSIZ - 1],
    len: u8,
}

impl IfName {
    /// The empty name.
    pub const EMPTY: IfName = IfName { buf: [0; IFNAMSIZ - 1], len: 0 };

    /// From raw bytes as the kernel holds them (`if_xname`): stops at the first NUL and
    /// keeps at most `IFNAMSIZ - 1` bytes.
    pub fn from_bytes(bytes: &[u8]) -> IfName {
        let mut name = IfName::EMPTY;
        for (dst, &b) in name.buf.iter_mut().zip(bytes.iter().take_while(|&&b| b != 0)) {
            *dst = b;
            name.len = name.len.saturating_add(1);
        }
        name
    }

    /// From a string (truncated like [`IfName::from_bytes`]).
    pub fn new(name: &str) -> IfName {
        IfName::from_bytes(name.as_bytes())
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The name as text (interface names are ASCII; anything else shows as `?`).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("?")
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for IfName {
    fn default() -> Self {
        IfName::EMPTY
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IfName({:?})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn keeps_short_names() {
        let n = IfName::new("em0");
        assert_eq!(n.as_str(), "em0");
        assert_eq!(n.to_string(), "em0");
    }

    #[test]
    fn stops_at_nul_and_truncates_to_ifnamsiz() {
        assert_eq!(IfName::from_bytes(b"vtnet1\0garbage").as_str(), "vtnet1");
        let long = IfName::new("abcdefghijklmnopqrstuvwxyz");
        assert_eq!(long.as_str(), "abcdefghijklmno");
        assert_eq!(long.as_bytes().len(), IFNAMSIZ - 1);
    }
}
