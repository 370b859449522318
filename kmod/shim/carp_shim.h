/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * carp.ko's C shim: the C half of the boundary between the FreeBSD kernel and the Rust
 * module (kmod/src). It has two kinds of declarations:
 *
 *  1. carp_shim_*  C helpers, implemented in the kmod/shim C files, called from Rust. They exist
 *                  only for kernel interfaces Rust cannot reach through bindgen: macros
 *                  (VNET(), SYSCTL_*, MALLOC_DEFINE, DECLARE_MODULE...) and static inline
 *                  functions. Keep each one tiny and free of policy.
 *  2. carp_rs_*    implemented in Rust (kmod/src/kpi/entry.rs, #[no_mangle]), called from
 *                  the shim. Each is declared through a function typedef; the Rust side
 *                  checks its definition against the bindgen-generated typedef at compile
 *                  time, so the two halves cannot disagree on a signature.
 *
 * Errors are FreeBSD errno values (0 = success), as everywhere in the kernel.
 *
 * This header is also read by sys-bindings (bindgen), after the kernel headers listed in
 * sys-bindings/wrapper.h. It must only declare, never define.
 */
#ifndef _CARP_SHIM_H_
#define _CARP_SHIM_H_

#include <sys/param.h>
#include <sys/malloc.h>

/* Malloc type of every allocation carp.ko makes (vmstat -m: "carp"). */
MALLOC_DECLARE(M_CARP);

/* ---- 1. C helpers called from Rust (kmod/shim/carp_shim.c) ---- */

/* Value of net.inet.carp.allow in the current VNET (curvnet must be set). */
int	carp_shim_allow(void);

/* ---- 2. Rust entry points called from the shim (kmod/src/kpi/entry.rs) ---- */

/* MOD_LOAD. Nonzero refuses the load; everything set up so far must be undone. */
typedef int carp_rs_load_t(void);
/* MOD_UNLOAD. EBUSY (or any error) refuses the unload. */
typedef int carp_rs_unload_t(void);
/*
 * net.inet.carp.allow is being written in the current VNET: old and new value. Return 0
 * to accept (the shim then stores the new value) or an errno to reject the write.
 */
typedef int carp_rs_allow_changed_t(int oldval, int newval);

carp_rs_load_t		carp_rs_load;
carp_rs_unload_t	carp_rs_unload;
carp_rs_allow_changed_t	carp_rs_allow_changed;

#endif /* _CARP_SHIM_H_ */
