/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Time: binuptime(9) from the host clock (virtual or real), callout(9) run by a softclock
 * thread, pause(9), and taskqueue(9) with the kernel's taskqueue_thread.
 *
 * Callouts follow kern_timeout.c's rules for MPSAFE callouts (c_lock NULL): a handler
 * runs on the softclock thread with no current VNET and sleeping forbidden; callout_reset
 * returns 1 when it cancelled a pending call; _callout_stop_safe returns 1 when it
 * cancelled one, 0 when the callout was running (and with CS_DRAIN waits for it), -1 when
 * it was neither; a callout_reset while a drain waits for the handler is ignored.
 */
#include "kern.h"

int hz = 1000;
int tick = 1000;
sbintime_t tick_sbt;
volatile time_t time_uptime = 1;
volatile time_t time_second = 1;

sbintime_t
ksbinuptime(void)
{
	hk_u64 ns = hl_uptime_ns();

	return ((sbintime_t)((ns / 1000000000ULL) << 32) +
	    (sbintime_t)(((ns % 1000000000ULL) << 32) / 1000000000ULL));
}

void
binuptime(struct bintime *bt)
{
	hk_u64 ns = hl_uptime_ns();

	bt->sec = ns / 1000000000ULL;
	/* frac: 2^64 * (ns % 1e9) / 1e9, exactly enough for microseconds. */
	bt->frac = (uint64_t)(ns % 1000000000ULL) * 18446744073ULL;
}

void
getbinuptime(struct bintime *bt)
{

	binuptime(bt);
}

void
microuptime(struct timeval *tv)
{
	hk_u64 ns = hl_uptime_ns();

	tv->tv_sec = ns / 1000000000ULL;
	tv->tv_usec = (ns % 1000000000ULL) / 1000;
}

void
getmicrouptime(struct timeval *tv)
{

	microuptime(tv);
}

/* ---- callout(9) ---- */

#define	CALLOUT_MAGIC_INIT	0x4000	/* c_iflags: callout_init was called (harness) */

static TAILQ_HEAD(, callout) callq = TAILQ_HEAD_INITIALIZER(callq);
static struct hthread *softclock_td;
static struct callout *softclock_running;
static int softclock_drain_waiters;
static struct callout *softclock_draining;	/* the running callout a drain waits for */
static int softclock_chan;
static int callout_storm;
int ktrace_callouts;	/* consecutive self re-arms in the past */

void
callout_init(struct callout *c, int mpsafe)
{

	memset(c, 0, sizeof(*c));
	if (!mpsafe)
		kfail("callout", "callout_init(%p, 0): Giant-locked callouts are not modelled", c);
	c->c_lock = NULL;
	c->c_iflags = CALLOUT_MAGIC_INIT;
	c->c_cpu = 0;
}

void
_callout_init_lock(struct callout *c, struct lock_object *lock, int flags)
{

	callout_init(c, 1);
	c->c_lock = lock;
	if (lock != NULL)
		kfail("callout", "callouts with an associated lock are not modelled");
}

static void
callq_insert(struct callout *c)
{
	struct callout *it;

	TAILQ_FOREACH(it, &callq, c_links.tqe)
		if (it->c_time > c->c_time)
			break;
	if (it != NULL)
		TAILQ_INSERT_BEFORE(it, c, c_links.tqe);
	else
		TAILQ_INSERT_TAIL(&callq, c, c_links.tqe);
}

int
callout_reset_sbt_on(struct callout *c, sbintime_t sbt, sbintime_t prec,
    callout_func_t *func, void *arg, int cpu, int flags)
{
	sbintime_t now, when;
	int cancelled = 0;

	if ((c->c_iflags & CALLOUT_MAGIC_INIT) == 0)
		kfail("callout", "callout_reset on %p, which callout_init never initialized", c);
	now = ksbinuptime();
	if (flags & C_ABSOLUTE)
		when = sbt;
	else {
		when = now + sbt;
		if (flags & C_HARDCLOCK) {
			/* Round up to the next tick, as hardclock-aligned callouts are. */
			when = ((when + tick_sbt - 1) / tick_sbt) * tick_sbt;
		}
	}
	hl_giant_lock();
	/*
	 * A handler re-arming its own callout for a time already reached (time rounding:
	 * the module's clock is in microseconds) would, on a virtual clock that does not
	 * move while code runs, fire again at the same instant forever. In a kernel the
	 * next event-timer interrupt comes later: model it as one microsecond on. A handler
	 * that keeps doing it is a callout storm (a defect), reported once.
	 */
	if (softclock_running == c && curhthread() == softclock_td) {
		if (when <= now) {
			when = now + ustosbt(1);
			if (++callout_storm == 10000)
				kfail("callout", "callout storm: a handler re-armed its callout for a "
				    "past time 10000 times in a row");
		} else
			callout_storm = 0;
	}
	if (softclock_draining == c && softclock_running == c) {
		/* kern_timeout.c: a reset while draining is ignored (cc_exec_drain). */
		hl_giant_unlock();
		return (0);
	}
	if (c->c_iflags & CALLOUT_PENDING) {
		TAILQ_REMOVE(&callq, c, c_links.tqe);
		cancelled = 1;
	}
	c->c_time = when;
	c->c_precision = prec;
	c->c_func = func;
	c->c_arg = arg;
	c->c_cpu = cpu < 0 ? 0 : cpu;
	c->c_flags |= CALLOUT_ACTIVE;
	c->c_iflags |= CALLOUT_PENDING;
	callq_insert(c);
	if (TAILQ_FIRST(&callq) == c)
		kwakeup(&softclock_chan);
	hl_giant_unlock();
	return (cancelled);
}

int
_callout_stop_safe(struct callout *c, int flags)
{
	int ret;

	if ((c->c_iflags & CALLOUT_MAGIC_INIT) == 0)
		kfail("callout", "callout_stop on %p, which callout_init never initialized", c);
	if (flags & CS_DRAIN)
		ksleep_check("callout_drain");
	hl_giant_lock();
	if (c->c_iflags & CALLOUT_PENDING) {
		TAILQ_REMOVE(&callq, c, c_links.tqe);
		c->c_iflags &= ~CALLOUT_PENDING;
		c->c_flags &= ~CALLOUT_ACTIVE;
		ret = 1;
	} else if (softclock_running == c && curhthread() != softclock_td) {
		c->c_flags &= ~CALLOUT_ACTIVE;
		ret = 0;
	} else {
		c->c_flags &= ~CALLOUT_ACTIVE;
		ret = -1;
	}
	if ((flags & CS_DRAIN) && softclock_running == c) {
		if (curhthread() == softclock_td)
			kfail("callout", "callout_drain of %p from its own handler (deadlock)", c);
		else {
			while (softclock_running == c) {
				softclock_draining = c;
				softclock_drain_waiters++;
				ksleep_nocheck(&softclock_drain_waiters, 0, "codrain");
				softclock_drain_waiters--;
			}
			if (softclock_draining == c)
				softclock_draining = NULL;
		}
	}
	hl_giant_unlock();
	return (ret);
}

static void
softclock_main(void *arg)
{
	struct hthread *ht = curhthread();
	struct callout *c;
	struct kcheck_state st;
	callout_func_t *fn;
	void *carg;
	char where[160], sym[128];

	(void)arg;
	hl_giant_lock();
	for (;;) {
		c = TAILQ_FIRST(&callq);
		if (c == NULL) {
			ksleep_nocheck(&softclock_chan, 0, "-");
			continue;
		}
		if (c->c_time > ksbinuptime()) {
			ksleep_nocheck(&softclock_chan, c->c_time, "-");
			continue;
		}
		TAILQ_REMOVE(&callq, c, c_links.tqe);
		c->c_iflags &= ~CALLOUT_PENDING;
		if (ktrace_callouts) {
			char sym[96];

			ksymbolize((const void *)c->c_func, sym, sizeof(sym));
			printf("callout %p %s due %jd.%06jd now %jd.%06jd\n", c, sym,
			    (intmax_t)(c->c_time >> 32),
			    (intmax_t)(((c->c_time & 0xffffffff) * 1000000) >> 32),
			    (intmax_t)(ksbinuptime() >> 32),
			    (intmax_t)(((ksbinuptime() & 0xffffffff) * 1000000) >> 32));
		}
		fn = c->c_func;
		carg = c->c_arg;
		softclock_running = c;
		hl_giant_unlock();

		ht->in_callout = 1;
		ht->td.td_no_sleeping++;
		ht->td.td_vnet = NULL;
		kcheck_save(&st);
		fn(carg);
		kcheck_mark_end(&st);
		ksymbolize((const void *)fn, sym, sizeof(sym));
		snprintf(where, sizeof(where), "callout handler %s", sym);
		kcheck_restore_check(&st, where);
		ht->td.td_no_sleeping--;
		ht->in_callout = 0;
		ht->td.td_vnet = NULL;

		hl_giant_lock();
		softclock_running = NULL;
		if (softclock_drain_waiters > 0)
			kwakeup(&softclock_drain_waiters);
	}
}

int
kcallouts_pending_in(unsigned long base, unsigned long size, int report)
{
	struct callout *c;
	char sym[128];
	int n = 0;

	hl_giant_lock();
	TAILQ_FOREACH(c, &callq, c_links.tqe) {
		unsigned long f = (unsigned long)c->c_func, d = (unsigned long)c;

		if ((f >= base && f < base + size) || (d >= base && d < base + size) ||
		    kaddr_in_module(c->c_func)) {
			n++;
			if (report) {
				ksymbolize((const void *)c->c_func, sym, sizeof(sym));
				kfail("callout", "callout %p (%s) still pending after unload", c,
				    sym);
			}
		}
	}
	hl_giant_unlock();
	return (n);
}

/* Number of pending callouts (for idle checks). */
int
kcallouts_pending(void)
{
	struct callout *c;
	int n = 0;

	TAILQ_FOREACH(c, &callq, c_links.tqe)
		n++;
	return (n);
}

/* ---- pause(9) ---- */

int
pause_sbt(const char *wmesg, sbintime_t sbt, sbintime_t pr, int flags)
{
	static int pause_chan;
	sbintime_t deadline;
	char what[64];

	snprintf(what, sizeof(what), "pause(\"%s\")", wmesg);
	ksleep_check(what);
	deadline = (flags & C_ABSOLUTE) ? sbt : ksbinuptime() + sbt;
	if (deadline <= 0)
		deadline = 1;
	hl_giant_lock();
	while (ksleep_nocheck(&pause_chan, deadline, wmesg) == 0 &&
	    ksbinuptime() < deadline)
		;
	hl_giant_unlock();
	return (EWOULDBLOCK);
}

/* ---- taskqueue(9) ---- */

struct taskqueue {
	const char	*tq_name;
	STAILQ_HEAD(, task) tq_queue;
	struct task	*tq_running;
	struct hthread	*tq_thread;
	int		 tq_chan;
};

static struct taskqueue tq_thread_s = { .tq_name = "thread" };
struct taskqueue *taskqueue_thread = &tq_thread_s;
struct taskqueue *taskqueue_swi = &tq_thread_s;
struct taskqueue *taskqueue_fast = &tq_thread_s;

void
ktask_enqueue_internal(struct taskqueue *tq, struct task *t)
{

	if (t->ta_pending) {
		if (t->ta_pending < USHRT_MAX)
			t->ta_pending++;
		return;
	}
	STAILQ_INSERT_TAIL(&tq->tq_queue, t, ta_link);
	t->ta_pending = 1;
	kwakeup(&tq->tq_chan);
}

int
taskqueue_enqueue(struct taskqueue *tq, struct task *t)
{

	if (t->ta_func == NULL)
		kfail("task", "taskqueue_enqueue of task %p without a function", t);
	hl_giant_lock();
	ktask_enqueue_internal(tq, t);
	hl_giant_unlock();
	return (0);
}

void
taskqueue_drain(struct taskqueue *tq, struct task *t)
{

	ksleep_check("taskqueue_drain");
	hl_giant_lock();
	if (tq->tq_running == t && curhthread() == tq->tq_thread)
		kfail("task", "taskqueue_drain of task %p from itself (deadlock)", t);
	else
		while (t->ta_pending != 0 || tq->tq_running == t)
			ksleep_nocheck(t, 0, "tq_drain");
	hl_giant_unlock();
}

int
taskqueue_cancel(struct taskqueue *tq, struct task *t, u_int *pendp)
{
	int running;

	hl_giant_lock();
	if (t->ta_pending) {
		STAILQ_REMOVE(&tq->tq_queue, t, task, ta_link);
		if (pendp)
			*pendp = t->ta_pending;
		t->ta_pending = 0;
	} else if (pendp)
		*pendp = 0;
	running = tq->tq_running == t;
	hl_giant_unlock();
	return (running ? EBUSY : 0);
}

static void
taskqueue_main(void *arg)
{
	struct taskqueue *tq = arg;
	struct hthread *ht = curhthread();
	struct kcheck_state st;
	struct task *t;
	int pending;
	char where[160], sym[128];

	hl_giant_lock();
	for (;;) {
		t = STAILQ_FIRST(&tq->tq_queue);
		if (t == NULL) {
			ksleep_nocheck(&tq->tq_chan, 0, "-");
			continue;
		}
		STAILQ_REMOVE_HEAD(&tq->tq_queue, ta_link);
		pending = t->ta_pending;
		t->ta_pending = 0;
		tq->tq_running = t;
		hl_giant_unlock();

		ht->running_task = t;
		ht->td.td_vnet = NULL;
		kcheck_save(&st);
		t->ta_func(t->ta_context, pending);
		kcheck_mark_end(&st);
		ksymbolize((const void *)t->ta_func, sym, sizeof(sym));
		snprintf(where, sizeof(where), "task %s", sym);
		kcheck_restore_check(&st, where);
		ht->running_task = NULL;

		hl_giant_lock();
		tq->tq_running = NULL;
		kwakeup(t);
	}
}

int
ktasks_pending_in(unsigned long base, unsigned long size, int report)
{
	struct task *t;
	char sym[128];
	int n = 0;

	hl_giant_lock();
	STAILQ_FOREACH(t, &tq_thread_s.tq_queue, ta_link) {
		unsigned long f = (unsigned long)t->ta_func, d = (unsigned long)t;

		if ((f >= base && f < base + size) || (d >= base && d < base + size)) {
			n++;
			if (report) {
				ksymbolize((const void *)t->ta_func, sym, sizeof(sym));
				kfail("task", "task %p (%s) still queued after unload", t, sym);
			}
		}
	}
	hl_giant_unlock();
	return (n);
}

int
ktasks_pending(void)
{
	struct task *t;
	int n = 0;

	STAILQ_FOREACH(t, &tq_thread_s.tq_queue, ta_link)
		n++;
	return (n + (tq_thread_s.tq_running != NULL));
}

void
ktime_boot(void)
{

	tick_sbt = SBT_1S / hz;
	STAILQ_INIT(&tq_thread_s.tq_queue);
	softclock_td = kthread_create("softclock", 1, softclock_main, NULL);
	tq_thread_s.tq_thread = kthread_create("taskq", 1, taskqueue_main, &tq_thread_s);
}
