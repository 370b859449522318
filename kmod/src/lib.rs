//! carp.ko's Rust part, as one staticlib: the entry points of kmod/shim/carp_shim.h,
//! defined by carp-kpi's adapters for carp-logic's [`carp_logic::Carp`]. Nothing else
//! lives here; see kmod/kpi (all `unsafe`) and kmod/logic (all decisions).
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

carp_kpi::export_carp!(carp_logic::Carp);
