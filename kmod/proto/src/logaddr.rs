//! Addresses for log lines.
//!
//! `core::net`'s own `Display` keeps a panic path (an unwrap for padded output) that must
//! not reach the kernel; [`LogAddr`] writes the same text directly: IPv4 dotted quad,
//! IPv6 as RFC 5952 recommends (lower-case hexadecimal without leading zeros, the longest
//! run of two or more zero groups, the first of equal ones, as `::`). Unlike `core::net`,
//! an IPv4-mapped IPv6 address keeps the hexadecimal form (`::ffff:a63:1`).

use core::fmt;
use core::net::IpAddr;

/// An address that displays as described in the [module documentation](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogAddr(pub IpAddr);

impl fmt::Display for LogAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => {
                let [a, b, c, d] = a.octets();
                write!(f, "{a}.{b}.{c}.{d}")
            }
            IpAddr::V6(a) => {
                let seg = a.segments();
                let (mut best, mut best_len, mut run_start, mut run) = (usize::MAX, 1usize, 0usize, 0usize);
                for (i, s) in seg.iter().enumerate() {
                    if *s == 0 {
                        if run == 0 {
                            run_start = i;
                        }
                        run += 1;
                        if run > best_len {
                            best = run_start;
                            best_len = run;
                        }
                    } else {
                        run = 0;
                    }
                }
                let mut i = 0usize;
                while let Some(s) = seg.get(i) {
                    if i == best {
                        f.write_str("::")?;
                        i = i.saturating_add(best_len);
                        continue;
                    }
                    if i > 0 && i != best.saturating_add(best_len) {
                        f.write_str(":")?;
                    }
                    write!(f, "{s:x}")?;
                    i = i.saturating_add(1);
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use proptest::prelude::*;

    fn v6(s: &str) -> alloc::string::String {
        LogAddr(IpAddr::V6(s.parse().unwrap())).to_string()
    }

    #[test]
    fn known_forms() {
        assert_eq!(LogAddr(IpAddr::V4(Ipv4Addr::new(10, 99, 0, 100))).to_string(), "10.99.0.100");
        assert_eq!(LogAddr(IpAddr::V4(Ipv4Addr::UNSPECIFIED)).to_string(), "0.0.0.0");
        assert_eq!(v6("::"), "::");
        assert_eq!(v6("::1"), "::1");
        assert_eq!(v6("1::"), "1::");
        assert_eq!(v6("fe80::1"), "fe80::1");
        assert_eq!(v6("FD00:0099:0000:0000:0000:0000:0000:0064"), "fd00:99::64");
        // A single zero group is not compressed; of equal runs the first one is.
        assert_eq!(v6("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
        assert_eq!(v6("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
        // The longer run wins over an earlier shorter one.
        assert_eq!(v6("2001:0:0:1:0:0:0:1"), "2001:0:0:1::1");
        // IPv4-mapped: hexadecimal groups (core::net would write ::ffff:10.99.0.1).
        assert_eq!(v6("::ffff:10.99.0.1"), "::ffff:a63:1");
    }

    proptest! {
        // The same text as core::net's Display, apart from its IPv4-mapped form.
        #[test]
        fn same_as_core_net(segs in proptest::array::uniform8(prop_oneof![Just(0u16), Just(1u16), any::<u16>()])) {
            let a = Ipv6Addr::from(segs);
            prop_assume!(a.to_ipv4_mapped().is_none());
            prop_assert_eq!(LogAddr(IpAddr::V6(a)).to_string(), a.to_string());
        }

        #[test]
        fn ipv4_same_as_core_net(o in any::<[u8; 4]>()) {
            let a = Ipv4Addr::from(o);
            prop_assert_eq!(LogAddr(IpAddr::V4(a)).to_string(), a.to_string());
        }
    }
}
