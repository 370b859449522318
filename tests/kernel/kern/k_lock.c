/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * mtx(9), sx(9) and the network epoch, with the checks FreeBSD's INVARIANTS and WITNESS
 * make, each one failing the test:
 *  - a lock used before initialization or after destruction, initialized twice;
 *  - a mutex unlocked by a thread that does not own it, recursed when not recursive,
 *    destroyed while another thread owns it;
 *  - an sx taken while a mutex is held or inside the network epoch (it may sleep);
 *  - lock order reversals between lock names (WITNESS's "lock order reversal");
 *  - epoch sections left out of order or with another tracker, epoch_wait inside a
 *    section or with a mutex held.
 * Lock words keep FreeBSD's encoding (owner thread pointer, MTX_UNOWNED, SX_LOCK_*), so
 * the headers' inline predicates (mtx_owned, sx_xlocked) read them correctly.
 */
#include "kern.h"

struct lock_class lock_class_mtx_sleep = { .lc_name = "sleep mutex", .lc_flags = LC_SLEEPLOCK | LC_RECURSABLE };
struct lock_class lock_class_mtx_spin = { .lc_name = "spin mutex", .lc_flags = LC_SPINLOCK | LC_RECURSABLE };
struct lock_class lock_class_sx = { .lc_name = "sx", .lc_flags = LC_SLEEPLOCK | LC_SLEEPABLE | LC_RECURSABLE | LC_UPGRADABLE };
struct lock_class lock_class_rw = { .lc_name = "rw", .lc_flags = LC_SLEEPLOCK | LC_RECURSABLE | LC_UPGRADABLE };
struct lock_class *lock_classes[LOCK_CLASS_MAX + 1] = {
	&lock_class_mtx_spin,
	&lock_class_mtx_sleep,
	&lock_class_sx,
	NULL,
	NULL,
	&lock_class_rw,
};

#define	LOCK_CLASS_IDX_MTX	1
#define	LOCK_CLASS_IDX_SX	2

/* ---- Held locks of the current thread ---- */

void
klock_held_push(struct lock_object *lo, int shared, const char *file, int line)
{
	struct hthread *ht = curhthread();

	if (ht->nheld >= KT_MAXHELD)
		kfatal("thread %s holds more than %d locks", ht->name, KT_MAXHELD);
	ht->held[ht->nheld].lo = lo;
	ht->held[ht->nheld].shared = shared;
	ht->held[ht->nheld].file = file;
	ht->held[ht->nheld].line = line;
	ht->nheld++;
}

void
klock_held_pop(struct lock_object *lo, const char *file, int line)
{
	struct hthread *ht = curhthread();
	int i;

	for (i = ht->nheld - 1; i >= 0; i--) {
		if (ht->held[i].lo == lo) {
			for (; i + 1 < ht->nheld; i++)
				ht->held[i] = ht->held[i + 1];
			ht->nheld--;
			return;
		}
	}
	kfail("locks", "unlock of \"%s\" not held by this thread (%s:%d)", lo->lo_name,
	    file ? file : "?", line);
}

int
klock_held_by_me(struct lock_object *lo)
{
	struct hthread *ht = curhthread();
	int i;

	for (i = 0; i < ht->nheld; i++)
		if (ht->held[i].lo == lo)
			return (1);
	return (0);
}

/*
 * WITNESS, reduced to what matters here: an order graph between lock names. Taking B
 * while holding A records A -> B; taking B while holding A when B ->* A is already known
 * is a reversal.
 */
#define	W_MAXNAMES	96
static char w_names[W_MAXNAMES][48];	/* copies: a module's names go with it */
static int w_nnames;
static unsigned char w_edge[W_MAXNAMES][W_MAXNAMES];
static unsigned char w_reported[W_MAXNAMES][W_MAXNAMES];

static int
w_index(const char *name)
{
	int i;

	if (name == NULL)
		name = "(unnamed)";
	for (i = 0; i < w_nnames; i++)
		if (strcmp(w_names[i], name) == 0)
			return (i);
	if (w_nnames >= W_MAXNAMES)
		return (-1);
	strlcpy(w_names[w_nnames], name, sizeof(w_names[w_nnames]));
	return (w_nnames++);
}

static int
w_reaches(int from, int to, unsigned char *seen)
{
	int i;

	if (from == to)
		return (1);
	if (seen[from])
		return (0);
	seen[from] = 1;
	for (i = 0; i < w_nnames; i++)
		if (w_edge[from][i] && w_reaches(i, to, seen))
			return (1);
	return (0);
}

void
kwitness_order(struct lock_object *lo)
{
	struct hthread *ht = curhthread();
	unsigned char seen[W_MAXNAMES];
	int b, a, i;

	if (lo->lo_flags & LO_DUPOK)
		return;
	b = w_index(lo->lo_name);
	if (b < 0)
		return;
	for (i = 0; i < ht->nheld; i++) {
		a = w_index(ht->held[i].lo->lo_name);
		if (a < 0 || a == b)
			continue;
		memset(seen, 0, sizeof(seen));
		if (w_reaches(b, a, seen)) {
			if (!w_reported[a][b]) {
				w_reported[a][b] = 1;
				kfail("witness", "lock order reversal: \"%s\" then \"%s\", "
				    "but \"%s\" -> \"%s\" was established before",
				    w_names[a], w_names[b], w_names[b], w_names[a]);
			}
			continue;
		}
		w_edge[a][b] = 1;
	}
}

static void
klock_init_common(struct lock_object *lo, const char *name, int classidx, int flags)
{

	if ((lo->lo_flags & LO_INITIALIZED) != 0 && (flags & LO_NEW) == 0)
		kfail("locks", "lock \"%s\" initialized twice (was \"%s\")", name,
		    lo->lo_name);
	lo->lo_name = name;
	lo->lo_flags = (flags & ~LO_CLASSMASK) | LO_INITIALIZED |
	    (classidx << LO_CLASSSHIFT);
	lo->lo_data = 0;
	lo->lo_witness = NULL;
}

/* ---- mtx(9) ---- */

void
_mtx_init(volatile uintptr_t *c, const char *name, const char *type, int opts)
{
	struct mtx *m = KMTX(c);
	int flags = 0;

	if (opts & MTX_SPIN)
		kfail("locks", "spin mutex \"%s\": not modelled", name);
	if (opts & MTX_RECURSE)
		flags |= LO_RECURSABLE;
	if (opts & MTX_DUPOK)
		flags |= LO_DUPOK;
	if (opts & MTX_NEW)
		flags |= LO_NEW;
	klock_init_common(&m->lock_object, name, LOCK_CLASS_IDX_MTX, flags);
	m->mtx_lock = MTX_UNOWNED;
	(void)type;
}

void
_mtx_destroy(volatile uintptr_t *c)
{
	struct mtx *m = KMTX(c);
	uintptr_t v = m->mtx_lock;

	if ((m->lock_object.lo_flags & LO_INITIALIZED) == 0) {
		kfail("locks", "mtx_destroy of an uninitialized or destroyed mutex %p", m);
		return;
	}
	if (v != MTX_UNOWNED) {
		if ((struct thread *)(v & ~MTX_FLAGMASK) != curthread)
			kfail("locks", "mtx_destroy of \"%s\" owned by another thread",
			    m->lock_object.lo_name);
		else
			klock_held_pop(&m->lock_object, NULL, 0);
	}
	m->mtx_lock = MTX_DESTROYED;
	m->lock_object.lo_flags &= ~LO_INITIALIZED;
}

void
mtx_sysinit(const void *arg)
{
	const struct mtx_args *margs = arg;

	mtx_init((struct mtx *)margs->ma_mtx, margs->ma_desc, NULL, margs->ma_opts);
}

void
__mtx_lock_flags(volatile uintptr_t *c, int opts, const char *file, int line)
{
	struct mtx *m = KMTX(c);
	uintptr_t v;

	if ((m->lock_object.lo_flags & LO_INITIALIZED) == 0) {
		kfail("locks", "mtx_lock of an uninitialized or destroyed mutex %p at %s:%d",
		    m, file ? file : "?", line);
		return;
	}
	hl_giant_lock();
	v = m->mtx_lock;
	if ((struct thread *)(v & ~MTX_FLAGMASK) == curthread) {
		if ((m->lock_object.lo_flags & LO_RECURSABLE) == 0 &&
		    (opts & MTX_RECURSE) == 0)
			kfail("locks", "recursed on non-recursive mutex \"%s\" at %s:%d",
			    m->lock_object.lo_name, file ? file : "?", line);
		m->lock_object.lo_data++;
		m->mtx_lock = v | MTX_RECURSED;
		hl_giant_unlock();
		return;
	}
	while (m->mtx_lock != MTX_UNOWNED) {
		m->mtx_lock |= MTX_CONTESTED;
		/* A turnstile: allowed inside the epoch and with other mutexes held. */
		ksleep_nocheck(m, 0, m->lock_object.lo_name);
	}
	m->mtx_lock = (uintptr_t)curthread;
	hl_giant_unlock();
	kwitness_order(&m->lock_object);
	klock_held_push(&m->lock_object, 0, file, line);
}

void
__mtx_unlock_flags(volatile uintptr_t *c, int opts, const char *file, int line)
{
	struct mtx *m = KMTX(c);
	uintptr_t v;

	(void)opts;
	if ((m->lock_object.lo_flags & LO_INITIALIZED) == 0) {
		kfail("locks", "mtx_unlock of an uninitialized or destroyed mutex %p", m);
		return;
	}
	hl_giant_lock();
	v = m->mtx_lock;
	if ((struct thread *)(v & ~MTX_FLAGMASK) != curthread) {
		hl_giant_unlock();
		kfail("locks", "mutex \"%s\" unlocked by a thread that does not own it (%s:%d)",
		    m->lock_object.lo_name, file ? file : "?", line);
		return;
	}
	if (m->lock_object.lo_data > 0) {
		if (--m->lock_object.lo_data == 0)
			m->mtx_lock = v & ~MTX_RECURSED;
		hl_giant_unlock();
		return;
	}
	m->mtx_lock = MTX_UNOWNED;
	if (v & MTX_CONTESTED)
		kwakeup(m);
	hl_giant_unlock();
	klock_held_pop(&m->lock_object, file, line);
}

/* ---- sx(9) ---- */

void
sx_init_flags(struct sx *sx, const char *description, int opts)
{
	int flags = LO_SLEEPABLE | LO_UPGRADABLE;

	if (opts & SX_RECURSE)
		flags |= LO_RECURSABLE;
	if (opts & SX_DUPOK)
		flags |= LO_DUPOK;
	if (opts & SX_NEW)
		flags |= LO_NEW;
	klock_init_common(&sx->lock_object, description, LOCK_CLASS_IDX_SX, flags);
	sx->sx_lock = SX_LOCK_UNLOCKED;
	sx->sx_recurse = 0;
}

void
sx_sysinit(const void *arg)
{
	const struct sx_args *sargs = arg;

	sx_init_flags(sargs->sa_sx, sargs->sa_desc, sargs->sa_flags);
}

void
sx_destroy(struct sx *sx)
{

	if ((sx->lock_object.lo_flags & LO_INITIALIZED) == 0) {
		kfail("locks", "sx_destroy of an uninitialized or destroyed sx %p", sx);
		return;
	}
	if (sx->sx_lock != SX_LOCK_UNLOCKED)
		kfail("locks", "sx_destroy of sx \"%s\" still locked", sx->lock_object.lo_name);
	sx->sx_lock = SX_LOCK_DESTROYED;
	sx->lock_object.lo_flags &= ~LO_INITIALIZED;
}

static int
sx_check_usable(struct sx *sx, const char *op, const char *file, int line)
{

	if ((sx->lock_object.lo_flags & LO_INITIALIZED) == 0) {
		kfail("locks", "%s of an uninitialized or destroyed sx %p at %s:%d", op, sx,
		    file ? file : "?", line);
		return (0);
	}
	return (1);
}

int
_sx_xlock(struct sx *sx, int opts, const char *file, int line)
{
	uintptr_t v;
	char what[96];

	if (!sx_check_usable(sx, "sx_xlock", file, line))
		return (0);
	snprintf(what, sizeof(what), "sx_xlock(\"%s\")", sx->lock_object.lo_name);
	ksleep_check(what);
	hl_giant_lock();
	v = sx->sx_lock;
	if (!(v & SX_LOCK_SHARED) && (struct thread *)SX_OWNER(v) == curthread) {
		if ((sx->lock_object.lo_flags & LO_RECURSABLE) == 0)
			kfail("locks", "recursed on non-recursive sx \"%s\" at %s:%d",
			    sx->lock_object.lo_name, file ? file : "?", line);
		sx->sx_recurse++;
		sx->sx_lock = v | SX_LOCK_RECURSED;
		hl_giant_unlock();
		return (0);
	}
	if ((v & SX_LOCK_SHARED) && SX_SHARERS(v) > 0 &&
	    klock_held_by_me(&sx->lock_object))
		kfail("locks", "sx_xlock of \"%s\" while holding it shared (deadlock) at %s:%d",
		    sx->lock_object.lo_name, file ? file : "?", line);
	while (sx->sx_lock != SX_LOCK_UNLOCKED)
		ksleep_nocheck(sx, 0, sx->lock_object.lo_name);
	sx->sx_lock = (uintptr_t)curthread;
	hl_giant_unlock();
	kwitness_order(&sx->lock_object);
	klock_held_push(&sx->lock_object, 0, file, line);
	return (0);
}

void
_sx_xunlock(struct sx *sx, const char *file, int line)
{
	uintptr_t v;

	if (!sx_check_usable(sx, "sx_xunlock", file, line))
		return;
	hl_giant_lock();
	v = sx->sx_lock;
	if ((v & SX_LOCK_SHARED) || (struct thread *)SX_OWNER(v) != curthread) {
		hl_giant_unlock();
		kfail("locks", "sx \"%s\" xunlocked by a thread that does not own it (%s:%d)",
		    sx->lock_object.lo_name, file ? file : "?", line);
		return;
	}
	if (sx->sx_recurse > 0) {
		if (--sx->sx_recurse == 0)
			sx->sx_lock = v & ~SX_LOCK_RECURSED;
		hl_giant_unlock();
		return;
	}
	sx->sx_lock = SX_LOCK_UNLOCKED;
	kwakeup(sx);
	hl_giant_unlock();
	klock_held_pop(&sx->lock_object, file, line);
}

int
_sx_slock(struct sx *sx, int opts, const char *file, int line)
{
	uintptr_t v;
	char what[96];

	if (!sx_check_usable(sx, "sx_slock", file, line))
		return (0);
	snprintf(what, sizeof(what), "sx_slock(\"%s\")", sx->lock_object.lo_name);
	ksleep_check(what);
	hl_giant_lock();
	v = sx->sx_lock;
	if (!(v & SX_LOCK_SHARED) && (struct thread *)SX_OWNER(v) == curthread)
		kfail("locks", "sx_slock of \"%s\" while holding it exclusively (deadlock) "
		    "at %s:%d", sx->lock_object.lo_name, file ? file : "?", line);
	while (!(sx->sx_lock & SX_LOCK_SHARED))
		ksleep_nocheck(sx, 0, sx->lock_object.lo_name);
	sx->sx_lock = SX_SHARERS_LOCK(SX_SHARERS(sx->sx_lock) + 1);
	hl_giant_unlock();
	kwitness_order(&sx->lock_object);
	klock_held_push(&sx->lock_object, 1, file, line);
	return (0);
}

void
_sx_sunlock(struct sx *sx, const char *file, int line)
{
	uintptr_t v;

	if (!sx_check_usable(sx, "sx_sunlock", file, line))
		return;
	hl_giant_lock();
	v = sx->sx_lock;
	if (!(v & SX_LOCK_SHARED) || SX_SHARERS(v) == 0) {
		hl_giant_unlock();
		kfail("locks", "sx_sunlock of \"%s\" not held shared (%s:%d)",
		    sx->lock_object.lo_name, file ? file : "?", line);
		return;
	}
	sx->sx_lock = SX_SHARERS_LOCK(SX_SHARERS(v) - 1);
	if (SX_SHARERS(v) == 1)
		kwakeup(sx);
	hl_giant_unlock();
	klock_held_pop(&sx->lock_object, file, line);
}

/* ---- The network epoch ---- */

struct epoch {
	const char	*e_name;
	int		 e_waiters;
};
static struct epoch net_epoch_s = { "net_epoch_preempt", 0 };
epoch_t net_epoch_preempt = &net_epoch_s;

struct kdeferred {
	void	(*fn)(void *);
	void	*arg;
	struct kdeferred *next;
};
static struct kdeferred *kdeferred_head, **kdeferred_tail = &kdeferred_head;

void
_epoch_enter_preempt(epoch_t epoch, epoch_tracker_t et)
{
	struct hthread *ht = curhthread();

	if (epoch != net_epoch_preempt)
		kfail("epoch", "epoch_enter_preempt on an unknown epoch %p", epoch);
	et->et_td = curthread;
	/* The previous innermost tracker, to check that sections nest. */
	et->et_link.tqe_prev = (struct epoch_tracker **)ht->epoch_top;
	et->et_link.tqe_next = NULL;
	ht->epoch_top = et;
	if (ht->epoch_depth++ == 0)
		ht->epoch_seq++;
	ht->td.td_pinned++;
	ht->td.td_no_sleeping++;	/* THREAD_NO_SLEEPING() */
}

void
_epoch_exit_preempt(epoch_t epoch, epoch_tracker_t et)
{
	struct hthread *ht = curhthread();

	if (epoch != net_epoch_preempt)
		kfail("epoch", "epoch_exit_preempt on an unknown epoch %p", epoch);
	if (ht->epoch_depth <= 0) {
		kfail("epoch", "epoch_exit_preempt without a section");
		return;
	}
	if (ht->epoch_top != et) {
		kfail("epoch", "epoch_exit_preempt with tracker %p, the innermost section "
		    "is %p (sections must nest)", et, ht->epoch_top);
	}
	if (et->et_td != curthread)
		kfail("epoch", "epoch_exit_preempt of a tracker entered by another thread");
	ht->epoch_top = (struct epoch_tracker *)et->et_link.tqe_prev;
	ht->td.td_pinned--;
	ht->td.td_no_sleeping--;	/* THREAD_SLEEPING_OK() */
	if (--ht->epoch_depth == 0) {
		hl_giant_lock();
		if (net_epoch_s.e_waiters > 0)
			kwakeup(&net_epoch_s);
		hl_giant_unlock();
	}
}

int
in_epoch(epoch_t epoch)
{

	return (epoch == net_epoch_preempt && curhthread()->epoch_depth > 0);
}

void
kepoch_assert(const char *func)
{

	if (curhthread()->epoch_depth == 0)
		kfail("epoch", "%s called outside the network epoch", func);
}

int
in_epoch_verbose(epoch_t epoch, int dump_onfail)
{

	return (in_epoch(epoch));
}

void
epoch_wait_preempt(epoch_t epoch)
{
	unsigned long seq[KT_MAXTHREADS];
	int i, busy;

	if (epoch != net_epoch_preempt)
		kfail("epoch", "epoch_wait_preempt on an unknown epoch %p", epoch);
	if (curhthread()->epoch_depth > 0)
		kfail("epoch", "epoch_wait_preempt() called in the middle of an epoch "
		    "section of the same epoch");
	ksleep_check("epoch_wait_preempt");
	hl_giant_lock();
	for (i = 0; i < nkthreads; i++)
		seq[i] = kthreads[i]->epoch_depth > 0 ? kthreads[i]->epoch_seq : 0;
	for (;;) {
		busy = 0;
		for (i = 0; i < nkthreads; i++)
			if (seq[i] != 0 && kthreads[i]->epoch_depth > 0 &&
			    kthreads[i]->epoch_seq == seq[i])
				busy = 1;
		if (!busy)
			break;
		net_epoch_s.e_waiters++;
		ksleep_nocheck(&net_epoch_s, 0, "epoch_wait");
		net_epoch_s.e_waiters--;
	}
	hl_giant_unlock();
	kepoch_run_deferred();
}

void
kepoch_call(void (*fn)(void *), void *arg)
{
	struct kdeferred *d;

	d = hl_alloc(sizeof(*d));
	d->fn = fn;
	d->arg = arg;
	hl_giant_lock();
	*kdeferred_tail = d;
	kdeferred_tail = &d->next;
	hl_giant_unlock();
}

/* Runs the deferred callbacks once no thread is inside a section (a grace period). */
void
kepoch_run_deferred(void)
{
	struct kdeferred *d, *list;
	int i;

	hl_giant_lock();
	for (i = 0; i < nkthreads; i++)
		if (kthreads[i]->epoch_depth > 0) {
			hl_giant_unlock();
			return;
		}
	list = kdeferred_head;
	kdeferred_head = NULL;
	kdeferred_tail = &kdeferred_head;
	hl_giant_unlock();
	while ((d = list) != NULL) {
		list = d->next;
		d->fn(d->arg);
		hl_release(d, sizeof(*d));
	}
}

void
klocks_boot(void)
{
}

void
kepoch_boot(void)
{
}
