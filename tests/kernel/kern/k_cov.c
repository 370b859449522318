/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Coverage of an instrumented carp.ko (make ko-cov: SanitizerCoverage trace-pc-guard),
 * for the whole-module fuzzer (kharness --fuzz). The module calls these two functions;
 * a guard's identity is its offset in the module image (stable across loads, since every
 * load of the same file has the same layout), counted in a map the fuzzer shares with
 * the run. Not part of FreeBSD: a kernel built for fuzzing provides the same (kcov(4)).
 */
#include "kern.h"

#define	KCOV_SIZE	65536

static uint8_t *kcov_map;	/* KCOV_SIZE counters, or NULL: coverage off */

void	__sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop);
void	__sanitizer_cov_trace_pc_guard(uint32_t *guard);

void
__sanitizer_cov_trace_pc_guard_init(uint32_t *start __unused, uint32_t *stop __unused)
{
}

void
__sanitizer_cov_trace_pc_guard(uint32_t *guard)
{
	uintptr_t idx;

	if (kcov_map == NULL)
		return;
	idx = (((uintptr_t)guard - kmod_base) >> 2) & (KCOV_SIZE - 1);
	if (kcov_map[idx] != 255)
		kcov_map[idx]++;
}

void
hk_cov_map(void *map)
{

	kcov_map = map;
}
