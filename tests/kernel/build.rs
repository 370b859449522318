//! Links the simulated FreeBSD kernel (tests/kernel/kern, compiled by the Makefile against
//! FreeBSD 15's headers into one relocatable object) into the harness executable, and makes
//! the executable non-PIE so that its code and data sit below 2 GiB, within reach of the
//! module's 32-bit relocations (R_X86_64_32S, PC32, PLT32).
use std::env;

fn main() {
    println!("cargo:rerun-if-env-changed=CARP_KHARNESS_KERN_OBJ");
    let obj = env::var("CARP_KHARNESS_KERN_OBJ")
        .expect("CARP_KHARNESS_KERN_OBJ: build the harness with `make harness` (it compiles kern/ first)");
    println!("cargo:rerun-if-changed={obj}");
    println!("cargo:rustc-link-arg={obj}");
    println!("cargo:rustc-link-arg=-no-pie");
}
