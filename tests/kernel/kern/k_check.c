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

void
kcheck_save(struct kcheck_state *s)
{
	struct hthread *ht = curhthread();

	s->nheld = ht->nheld;
	s->epoch_depth = ht->epoch_depth;
	s->no_sleeping = ht->td.td_no_sleeping;
	s->vnet = ht->td.td_vnet;
}

void
kcheck_restore_check(const struct kcheck_state *s, const char *where)
{
	struct hthread *ht = curhthread();
	int i;

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
