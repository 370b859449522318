//! Module life cycle and sysctl policy: safe code, called through [`crate::kpi`].
//!
//! At this stage carp.ko registers its sysctl tree (from the C shim) and nothing else:
//! loading and unloading always succeed and `net.inet.carp.allow` accepts any value, as in
//! stock FreeBSD. The protocol hooks, vhid table and input path plug in here.

use carp_proto::Errno;

use crate::kpi::log;

/// `MOD_LOAD`: set up module-wide state. An error refuses the load.
pub fn load() -> Result<(), Errno> {
    log::info(c"carp: CARP (Rust) loaded");
    Ok(())
}

/// `MOD_UNLOAD`: tear everything down, or refuse with `EBUSY` while vhids exist.
pub fn unload() -> Result<(), Errno> {
    log::info(c"carp: CARP (Rust) unloaded");
    Ok(())
}

/// `net.inet.carp.allow` changes from `old` to `new` in the current VNET.
///
/// FreeBSD accepts any integer (nonzero means allowed). Once vhids exist, turning it off
/// must force this VNET's vhids to INIT and turning it on must restart them.
pub fn allow_changed(old: bool, new: bool) -> Result<(), Errno> {
    let _ = (old, new);
    Ok(())
}
