/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Threads of the simulated kernel, their CPUs, sleeping and waking up.
 *
 * Every simulated thread is a host thread with its own "CPU": a PCPU_STRIDE block whose
 * start is a struct pcpu (GS base, so curthread = %gs:0 works as in the kernel) and whose
 * tail holds that CPU's copy of every counter(9). Thread 0 is the host thread that runs
 * the test script (it plays the processes: ifconfig, sysctl, kldload...); the others are
 * kernel threads: softclock (callouts), taskqueue_thread, netisr (frame input).
 *
 * Sleeping goes through the host scheduler (hl_sleep/hl_wakeup, the sleepqueue of this
 * kernel). With the virtual clock only one thread runs at a time and switches happen only
 * when a thread sleeps, which makes every run deterministic.
 */
#include "kern.h"

struct hthread *kthreads[KT_MAXTHREADS];
int nkthreads;

struct ucred cred_root, cred_user;
static struct prison prison0_sim;
struct proc proc0_sim;

struct kthread_start_arg {
	void	(*fn)(void *);
	void	*arg;
};

struct hthread *
kthread_create(const char *name, int kthread, void (*fn)(void *), void *arg)
{
	struct hthread *ht;
	struct pcpu *pc;
	int id;

	hl_giant_lock();
	id = nkthreads;
	if (id >= KT_MAXTHREADS)
		kfatal("too many simulated threads (%d)", id);
	pc = hl_alloc(PCPU_STRIDE);
	ht = hl_alloc(sizeof(*ht));
	kpcpu_init_block(pc, id);
	pc->pc_curthread = &ht->td;
	ht->pcpu = pc;
	ht->id = id;
	ht->name = name;
	ht->kthread = kthread;
	ht->td.td_tid = 100000 + id;
	ht->td.td_ucred = &cred_root;
	ht->td.td_realucred = &cred_root;
	ht->td.td_proc = &proc0_sim;
	ht->td.td_vnet = NULL;
	strlcpy(ht->td.td_name, name, sizeof(ht->td.td_name));
	kthreads[id] = ht;
	nkthreads = id + 1;
	hl_giant_unlock();
	if (fn != NULL)
		hl_thread_start(name, pc, fn, arg);
	return (ht);
}

void
kthread_boot0(void)
{
	struct hthread *ht;

	cred_root.cr_uid = 0;
	cred_root.cr_ruid = 0;
	cred_root.cr_prison = &prison0_sim;
	cred_root.cr_ref = 1;
	cred_user = cred_root;
	cred_user.cr_uid = 1001;
	cred_user.cr_ruid = 1001;
	proc0_sim.p_pid = 1;
	strlcpy(proc0_sim.p_comm, "harness", sizeof(proc0_sim.p_comm));
	ht = kthread_create("script", 0, NULL, NULL);
	hl_set_gs(ht->pcpu);
	if (curthread != &ht->td)
		kfatal("GS base not effective: curthread %p, expected %p", curthread, &ht->td);
}

void
ksleep_check(const char *what)
{
	struct hthread *ht = curhthread();
	int i;

	if (ht->epoch_depth > 0)
		kfail("sleep", "%s inside the network epoch", what);
	else if (ht->td.td_no_sleeping > 0)
		kfail("sleep", "%s in a context that may not sleep (%s)", what,
		    ht->in_callout ? "a callout handler" : "THREAD_NO_SLEEPING");
	for (i = 0; i < ht->nheld; i++) {
		struct lock_object *lo = ht->held[i].lo;

		if (LOCK_CLASS(lo) != &lock_class_sx)
			kfail("sleep", "%s with non-sleepable lock \"%s\" held (locked at %s:%d)",
			    what, lo->lo_name, ht->held[i].file ? ht->held[i].file : "?",
			    ht->held[i].line);
	}
}

static hk_u64
sbt_to_ns(sbintime_t sbt)
{
	/*
	 * sbintime_t: 32.32 fixed point seconds. Rounded up, so that once the clock has
	 * reached the returned nanosecond, sbinuptime() is at least sbt.
	 */
	return ((hk_u64)(sbt >> 32) * 1000000000ULL +
	    (((hk_u64)(sbt & 0xffffffffULL) * 1000000000ULL + 0xffffffffULL) >> 32));
}

int
ksleep_nocheck(const void *chan, sbintime_t deadline, const char *wmesg)
{
	hk_u64 ns = 0;

	if (deadline > 0) {
		ns = sbt_to_ns(deadline);
		if (ns == 0)
			ns = 1;
	}
	return (hl_sleep(chan, ns, wmesg));
}

int
ksleep(const void *chan, sbintime_t deadline, const char *wmesg)
{

	ksleep_check(wmesg);
	return (ksleep_nocheck(chan, deadline, wmesg));
}

void
kwakeup(const void *chan)
{

	hl_wakeup(chan);
}
