//! Vector helpers without panic or abort paths (the build rejects any surviving one).

use alloc::vec::Vec;

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
