//! Vector helpers without panic or abort paths (the build rejects any surviving one).

use alloc::vec::Vec;
use core::fmt;
use core::net::IpAddr;

/// Appends `x` if memory allows; `Err(x)` otherwise. The value is built before the call,
/// so nothing between the capacity check and the push can change the vector.
pub fn push<T>(v: &mut Vec<T>, x: T) -> Result<(), T> {
    if v.try_reserve(1).is_err() {
        return Err(x);
    }
    if v.len() < v.capacity() {
        v.push(x);
        Ok(())
    } else {
        Err(x)
    }
}

/// Removes and returns element `i` (order not kept), `None` if out of range.
pub fn take_at<T>(v: &mut Vec<T>, i: usize) -> Option<T> {
    let last = v.len().checked_sub(1)?;
    if i > last {
        return None;
    }
    if i != last {
        let (head, tail) = v.split_at_mut(last);
        core::mem::swap(head.get_mut(i)?, tail.first_mut()?);
    }
    v.pop()
}

/// An address for log lines. `core::net`'s own Display keeps a panic path (an unwrap for
/// padded output) that must not reach the kernel; this one writes the groups directly
/// (IPv6 without `::` compression).
pub struct LogAddr(pub IpAddr);

impl fmt::Display for LogAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => {
                let o = a.octets();
                write!(f, "{}.{}.{}.{}", o[0], o[1], o[2], o[3])
            }
            IpAddr::V6(a) => {
                // RFC 5952: the longest run of two or more zero groups (the first of
                // equal ones) becomes "::".
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
