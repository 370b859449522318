/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The simulated kernel's INVARIANTS: failure reports and the state compared around every
 * call into the module (locks, epoch, no-sleep sections and curvnet must be what they
 * were when the kernel called the module: a hook that returns with a lock held, inside an
 * epoch section or with curvnet changed is a defect).
 */
#include "kern.h"

int kcheck_failures;
unsigned long kmod_text_start, kmod_text_end, kmod_base, kmod_size;

void
kfail(const char *check, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kcheck_failures++;
	hl_fail(check, msg);
}

void
kfatal(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hl_fatal(msg);
}

/*
 * Profiling (script `profile`): the TSC cycles of every call into the module, summed per
 * call site ("IPv4 protocol input", "carp_forus_p", "callout handler ...").
 */
static int kprof_on;
#define	KPROF_MAX	64
static struct kprof {
	char		name[96];
	uint64_t	calls, cycles, min;
} kprof[KPROF_MAX];
static int nkprof;

static inline uint64_t
krdtsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return (((uint64_t)hi << 32) | lo);
}

static void
kprof_add(const char *where, uint64_t cycles)
{
	int i;

	hl_giant_lock();
	for (i = 0; i < nkprof; i++)
		if (strcmp(kprof[i].name, where) == 0)
			break;
	if (i == nkprof && nkprof < KPROF_MAX) {
		strlcpy(kprof[i].name, where, sizeof(kprof[i].name));
		kprof[i].calls = kprof[i].cycles = 0;
		kprof[i].min = UINT64_MAX;
		nkprof++;
	}
	if (i < nkprof) {
		kprof[i].calls++;
		kprof[i].cycles += cycles;
		if (cycles < kprof[i].min)
			kprof[i].min = cycles;
	}
	hl_giant_unlock();
}

/* op 1: reset and start, 0: stop, 2: the table as text into buf (name|calls|cycles|min). */
long
hk_profile(int op, char *buf, unsigned long len)
{
	size_t n = 0;
	int i;

	extern int kmalloc_fast;

	if (op == 1) {
		nkprof = 0;
		kprof_on = 1;
		kmalloc_fast = 1;
	} else if (op == 0) {
		kprof_on = 0;
		kmalloc_fast = 0;
	}
	else if (op == 2)
		for (i = 0; i < nkprof; i++)
			n += snprintf(buf + n, n < len ? len - n : 0, "%s|%ju|%ju|%ju\n",
			    kprof[i].name, (uintmax_t)kprof[i].calls,
			    (uintmax_t)kprof[i].cycles, (uintmax_t)kprof[i].min);
	return ((long)n);
}

void
kcheck_mark_end(struct kcheck_state *s)
{

	if (kprof_on && s->tsc0 != 0)
		s->tsc1 = krdtsc();
}

void
kcheck_save(struct kcheck_state *s)
{
	struct hthread *ht = curhthread();

	s->nheld = ht->nheld;
	s->epoch_depth = ht->epoch_depth;
	s->no_sleeping = ht->td.td_no_sleeping;
	s->vnet = ht->td.td_vnet;
	s->tsc1 = 0;
	s->tsc0 = kprof_on ? krdtsc() : 0;
}

void
kcheck_restore_check(const struct kcheck_state *s, const char *where)
{
	struct hthread *ht = curhthread();
	int i;

	if (kprof_on && s->tsc0 != 0)
		kprof_add(where, (s->tsc1 != 0 ? s->tsc1 : krdtsc()) - s->tsc0);

	if (ht->nheld != s->nheld) {
		for (i = s->nheld; i < ht->nheld; i++)
			kfail("locks", "%s returned with lock \"%s\" held (locked at %s:%d)",
			    where, ht->held[i].lo->lo_name,
			    ht->held[i].file ? ht->held[i].file : "?", ht->held[i].line);
		if (ht->nheld < s->nheld)
			kfail("locks", "%s released %d lock(s) it did not take", where,
			    s->nheld - ht->nheld);
	}
	if (ht->epoch_depth != s->epoch_depth)
		kfail("epoch", "%s returned with the epoch nesting changed from %d to %d",
		    where, s->epoch_depth, ht->epoch_depth);
	if (ht->td.td_no_sleeping != s->no_sleeping)
		kfail("sleep", "%s returned with THREAD_NO_SLEEPING changed from %d to %d",
		    where, s->no_sleeping, ht->td.td_no_sleeping);
	if (ht->td.td_vnet != s->vnet)
		kfail("vnet", "%s returned with curvnet changed (%s -> %s)", where,
		    kvnet_name(s->vnet), kvnet_name(ht->td.td_vnet));
}

int
kaddr_in_module(const void *p)
{
	unsigned long a = (unsigned long)p;

	return (kmod_size != 0 && a >= kmod_base && a < kmod_base + kmod_size);
}

void
ksymbolize(const void *addr, char *buf, size_t len)
{

	hl_symbolize((unsigned long)addr, buf, len);
}
