/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The simulated FreeBSD 15 kernel: internal declarations shared by the files of kern/.
 *
 * Every file here is compiled against FreeBSD 15.0's kernel headers with the same
 * preprocessor flags as carp.ko's shim (-D_KERNEL -DKLD_MODULE, GENERIC's options), so
 * every structure the module touches has FreeBSD's layout. Nothing here includes a Linux
 * header: the Linux side is reached through hk.h only.
 */
#ifndef KERN_H
#define KERN_H

#include "opt_inet.h"
#include "opt_inet6.h"

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/linker.h>
#include <sys/linker_set.h>
#include <sys/module.h>
#include <sys/lock.h>
#include <sys/mutex.h>
#include <sys/sx.h>
#include <sys/malloc.h>
#include <sys/mbuf.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <sys/callout.h>
#include <sys/counter.h>
#include <sys/devctl.h>
#include <sys/epoch.h>
#include <sys/priv.h>
#include <sys/proc.h>
#include <sys/libkern.h>
#include <sys/taskqueue.h>
#include <sys/syslog.h>
#include <sys/eventhandler.h>
#include <sys/sysctl.h>
#include <sys/jail.h>
#include <sys/ucred.h>
#include <sys/pcpu.h>
#include <machine/atomic.h>
#include <vm/uma.h>

#include <net/if.h>
#include <net/if_var.h>
#include <net/if_private.h>
#include <net/if_dl.h>
#include <net/if_llatbl.h>
#include <net/if_types.h>
#include <net/if_clone.h>
#include <net/ethernet.h>
#include <net/vnet.h>
#include <net/route.h>
#include <net/pfil.h>
#include <net/bpf.h>

#include <netinet/in.h>
#include <netinet/in_var.h>
#include <netinet/ip.h>
#include <netinet/ip_var.h>
#include <netinet/ip_carp.h>
#include <netinet/if_ether.h>
#include <netinet/ip6.h>
#include <netinet/icmp6.h>
#include <netinet6/ip6_var.h>
#include <netinet6/in6_var.h>
#include <netinet6/scope6_var.h>
#include <netinet6/nd6.h>

#include <netlink/netlink.h>
#include <netlink/netlink_ctl.h>
#include <netlink/netlink_generic.h>
#include <netlink/netlink_message_parser.h>
#include <netlink/netlink_message_writer.h>

#include <sys/stdarg.h>

/* The kernel's malloc types (k_malloc.c). */
MALLOC_DECLARE(M_IFADDR);
MALLOC_DECLARE(M_IFNET);
MALLOC_DECLARE(M_IFMADDR);
MALLOC_DECLARE(M_IPMADDR);
MALLOC_DECLARE(M_IP6MADDR);
MALLOC_DECLARE(M_LLTABLE);
MALLOC_DECLARE(M_RTABLE);
MALLOC_DECLARE(M_PFIL);
MALLOC_DECLARE(M_NETLINK);
MALLOC_DECLARE(M_TAG);
MALLOC_DECLARE(M_MBUF_SIM);
MALLOC_DECLARE(M_VNET);
MALLOC_DECLARE(M_EVENTHANDLER);
MALLOC_DECLARE(M_CLONE);
MALLOC_DECLARE(M_SYSCTLOID);
MALLOC_DECLARE(M_IPMOPTS);
MALLOC_DECLARE(M_IP6MOPTS);
MALLOC_DECLARE(M_INMFILTER);
MALLOC_DECLARE(M_IN6MFILTER);

/* The mutex behind a lock word (mtx(9) functions receive &m->mtx_lock). */
#define	KMTX(c)	__containerof(c, struct mtx, mtx_lock)

#include "hk.h"

/*
 * The simulated kernel checks its own epoch assertions (FreeBSD's NET_EPOCH_ASSERT is
 * an MPASS, compiled out without INVARIANTS): a kernel function that requires the
 * network epoch, called without it, fails the test.
 */
void	kepoch_assert(const char *func);
#undef	NET_EPOCH_ASSERT
#define	NET_EPOCH_ASSERT()	kepoch_assert(__func__)

/* ---- k_sched.c: threads, CPUs, sleeping, the checks' bookkeeping ---- */

#define	KT_MAXTHREADS	64
#define	KT_MAXHELD	32
#define	PCPU_STRIDE	(256 * 1024)	/* one "CPU" block: struct pcpu, then counters */
#define	PCPU_DYN_START	8192		/* counter(9) space starts here in every block */

struct kheld {
	struct lock_object *lo;
	int		 shared;
	const char	*file;
	int		 line;
};

/* A kernel thread of the simulation: FreeBSD's struct thread plus the harness's records. */
struct hthread {
	struct thread	 td;		/* first: curthread points here */
	struct pcpu	*pcpu;		/* its own CPU block (GS base) */
	int		 id;
	const char	*name;
	int		 kthread;	/* softclock, taskqueue, netisr... (not the script) */
	int		 nheld;
	struct kheld	 held[KT_MAXHELD];
	int		 epoch_depth;
	unsigned long	 epoch_seq;	/* bumped on every outermost section entry */
	struct epoch_tracker *epoch_top;
	int		 in_callout;	/* running a callout handler */
	struct task	*running_task;
	struct callout	*running_callout;
	int		 nofault;	/* set by harness code that probes memory */
};

#define	curhthread()	((struct hthread *)curthread)

extern struct hthread *kthreads[KT_MAXTHREADS];
extern int nkthreads;
extern struct ucred cred_root, cred_user;

struct hthread *kthread_create(const char *name, int kthread, void (*fn)(void *), void *arg);
/* Thread 0: the calling host thread (the one running the test script). */
void	kthread_boot0(void);

/* Sleeps as msleep(9) would (checks first: locks held, epoch, no-sleep sections). */
int	ksleep(const void *chan, sbintime_t deadline, const char *wmesg);
/* The same without the sleepability checks (turnstiles: mutex contention). */
int	ksleep_nocheck(const void *chan, sbintime_t deadline, const char *wmesg);
void	kwakeup(const void *chan);
/* WITNESS_WARN(WARN_SLEEPOK...): fails the test if the current thread may not sleep. */
void	ksleep_check(const char *what);

/* ---- checks (k_check.c) ---- */
void	kfail(const char *check, const char *fmt, ...) __printflike(2, 3);
void	kfatal(const char *fmt, ...) __printflike(1, 2) __dead2;
extern int kcheck_failures;
/* Lock and epoch state of the current thread, to compare around a call into the module. */
struct kcheck_state {
	int	nheld;
	int	epoch_depth;
	int	no_sleeping;
	struct vnet *vnet;
	uint64_t tsc0, tsc1;	/* profiling: the call's start and (if marked) end */
};
void	kcheck_save(struct kcheck_state *s);
/* Marks the end of the module call (profiling), when work precedes the check. */
void	kcheck_mark_end(struct kcheck_state *s);
void	kcheck_restore_check(const struct kcheck_state *s, const char *where);
/* Address inside the loaded module's text? */
int	kaddr_in_module(const void *p);
void	ksymbolize(const void *addr, char *buf, size_t len);
extern unsigned long kmod_text_start, kmod_text_end, kmod_base, kmod_size;

/* ---- k_lock.c ---- */
void	klock_held_push(struct lock_object *lo, int shared, const char *file, int line);
void	klock_held_pop(struct lock_object *lo, const char *file, int line);
int	klock_held_by_me(struct lock_object *lo);
void	kwitness_order(struct lock_object *lo);
void	klocks_boot(void);
void	kepoch_boot(void);
/* Deferred frees run once no thread is in the network epoch. */
void	kepoch_call(void (*fn)(void *), void *arg);
void	kepoch_run_deferred(void);

/* ---- k_malloc.c ---- */
void	kmalloc_boot(void);
/* Live allocations of a type (leak checks). */
long	kmalloc_live(struct malloc_type *mtp, long *bytes);
void	kmalloc_report_live(struct malloc_type *mtp);
/* Fault injection: the N-th fallible allocation fails (0: off). */
extern long kfault_target, kfault_count;
int	kfault_should_fail(const char *site);
void	kcounter_boot(void);
void	kpcpu_init_block(struct pcpu *pc, int cpuid);

/* ---- k_time.c ---- */
void	ktime_boot(void);
sbintime_t ksbinuptime(void);
/* Callouts or tasks whose function or data lies in [base, base+size). */
int	kcallouts_pending_in(unsigned long base, unsigned long size, int report);
int	ktasks_pending_in(unsigned long base, unsigned long size, int report);
void	ktask_enqueue_internal(struct taskqueue *tq, struct task *t);

/* ---- k_sysctl.c ---- */
void	ksysctl_boot(void);
int	ksysctl_by_name(const char *name, void *old, size_t *oldlenp, const void *new,
	    size_t newlen, int user);

/* ---- k_linker.c ---- */
extern struct mtx kld_mtx;

/* ---- k_eventhandler.c ---- */
void	keventhandler_boot(void);
int	keventhandlers_in(unsigned long base, unsigned long size, int report);

/* ---- k_vnet.c ---- */
void	kvnet_boot(void);
struct vnet *kvnet_create(const char *name);
void	kvnet_destroy(struct vnet *vnet);
struct vnet *kvnet_byname(const char *name);
const char *kvnet_name(struct vnet *vnet);
int	kvnet_index(struct vnet *vnet);

/* ---- formatting (k_printf.c) ---- */
int	kvsnprintf(char *buf, size_t len, const char *fmt, va_list ap);

/* ---- user memory (k_user.c) ---- */
void	kuser_boot(void);
/* Whether [uaddr, uaddr+len) is user memory the current process may touch. */
int	kuser_valid(const void *uaddr, size_t len);

#endif /* KERN_H */
