/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * carp.ko C shim: module declaration, sysctl tree and per-VNET variables, i.e. the parts
 * of the kernel interface that only exist as C macros. All protocol logic is in Rust
 * (kmod/logic and the carp-proto crate); every function here is a few lines of plumbing.
 * See carp_shim.h for the contract between the two halves.
 *
 * Compiled with the kernel's flags (the top-level Makefile's KERNEL_CFLAGS, the same string
 * bindgen uses), or by kmod/bsd/Makefile through bsd.kmod.mk on FreeBSD.
 */
#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/module.h>
#include <sys/malloc.h>
#include <sys/socket.h>
#include <sys/sysctl.h>
#include <sys/counter.h>

#include <net/if.h>
#include <net/if_var.h>
#include <net/vnet.h>

#include <netinet/in.h>
#include <netinet/in_var.h>
#include <netinet/ip_carp.h>

#include "carp_shim.h"

MALLOC_DEFINE(M_CARP, "carp", "CARP (Rust carp.ko)");

/* ---- net.inet.carp (OID IPPROTO_CARP = 112, as in stock FreeBSD) ---- */

SYSCTL_NODE(_net_inet, IPPROTO_CARP, carp, CTLFLAG_RW | CTLFLAG_MPSAFE, 0,
    "CARP");

/* net.inet.carp.allow: per VNET, default 1, loader tunable. */
VNET_DEFINE_STATIC(int, carp_allow) = 1;
#define	V_carp_allow	VNET(carp_allow)

int
carp_shim_allow(void)
{

	return (V_carp_allow);
}

static int
carp_allow_sysctl(SYSCTL_HANDLER_ARGS)
{
	int error, new;

	new = V_carp_allow;
	error = sysctl_handle_int(oidp, &new, 0, req);
	if (error != 0 || req->newptr == NULL)
		return (error);
	if (new != V_carp_allow) {
		int old = V_carp_allow;

		/*
		 * Store first, as stock does: callouts and input running meanwhile must
		 * already see the new value, or they could undo what the handler does.
		 */
		V_carp_allow = new;
		error = carp_rs_allow_changed(old, new);
		if (error != 0)
			V_carp_allow = old;
	}
	return (error);
}
SYSCTL_PROC(_net_inet_carp, OID_AUTO, allow,
    CTLFLAG_VNET | CTLTYPE_INT | CTLFLAG_RW | CTLFLAG_MPSAFE, NULL, 0,
    carp_allow_sysctl, "I", "Accept incoming CARP packets");

/* Fetch the net.inet.carp.allow tunable (loader.conf) for every VNET as it is created. */
static void
carp_vnet_init(const void *unused __unused)
{

	TUNABLE_INT_FETCH("net.inet.carp.allow", &V_carp_allow);
}
VNET_SYSINIT(carp_vnet_init, SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE,
    carp_vnet_init, NULL);

/* The other per-VNET values, FreeBSD's defaults. */
VNET_DEFINE_STATIC(int, carp_preempt) = 0;
#define	V_carp_preempt	VNET(carp_preempt)
VNET_DEFINE_STATIC(int, carp_log) = 1;
#define	V_carp_log	VNET(carp_log)
VNET_DEFINE_STATIC(int, carp_arpbalance) = 0;
#define	V_carp_arpbalance	VNET(carp_arpbalance)
VNET_DEFINE_STATIC(int, carp_dscp) = 56;
#define	V_carp_dscp	VNET(carp_dscp)
VNET_DEFINE_STATIC(int, carp_senderr_adj) = 240;
#define	V_carp_senderr_adj	VNET(carp_senderr_adj)
VNET_DEFINE_STATIC(int, carp_ifdown_adj) = 240;
#define	V_carp_ifdown_adj	VNET(carp_ifdown_adj)

SYSCTL_INT(_net_inet_carp, OID_AUTO, preempt, CTLFLAG_VNET | CTLFLAG_RW,
    &VNET_NAME(carp_preempt), 0, "High-priority backup preemption mode");
SYSCTL_INT(_net_inet_carp, OID_AUTO, log, CTLFLAG_VNET | CTLFLAG_RW,
    &VNET_NAME(carp_log), 0, "CARP log level");
SYSCTL_INT(_net_inet_carp, OID_AUTO, arpbalance, CTLFLAG_VNET | CTLFLAG_RW,
    &VNET_NAME(carp_arpbalance), 0, "Balance ARP responses (legacy carpN)");
SYSCTL_INT(_net_inet_carp, OID_AUTO, senderr_demotion_factor,
    CTLFLAG_VNET | CTLFLAG_RW, &VNET_NAME(carp_senderr_adj), 0,
    "Send error demotion factor adjustment");
SYSCTL_INT(_net_inet_carp, OID_AUTO, ifdown_demotion_factor,
    CTLFLAG_VNET | CTLFLAG_RW, &VNET_NAME(carp_ifdown_adj), 0,
    "Interface down demotion factor adjustment");

static int
carp_dscp_sysctl(SYSCTL_HANDLER_ARGS)
{
	int error, new;

	new = V_carp_dscp;
	error = sysctl_handle_int(oidp, &new, 0, req);
	if (error != 0 || req->newptr == NULL)
		return (error);
	error = carp_rs_dscp_check(new);
	if (error == 0)
		V_carp_dscp = new;
	return (error);
}
SYSCTL_PROC(_net_inet_carp, OID_AUTO, dscp,
    CTLFLAG_VNET | CTLTYPE_INT | CTLFLAG_RW | CTLFLAG_MPSAFE, NULL, 0,
    carp_dscp_sysctl, "I", "DSCP value for carp packets");

/* Read: the current demotion. Write N: demotion += N (FreeBSD semantics). */
static int
carp_demotion_sysctl(SYSCTL_HANDLER_ARGS)
{
	int error, val;

	val = carp_rs_demotion_get();
	error = sysctl_handle_int(oidp, &val, 0, req);
	if (error != 0 || req->newptr == NULL)
		return (error);
	carp_rs_demote_adj(val, "sysctl");
	return (0);
}
SYSCTL_PROC(_net_inet_carp, OID_AUTO, demotion,
    CTLFLAG_VNET | CTLTYPE_INT | CTLFLAG_RW | CTLFLAG_MPSAFE, NULL, 0,
    carp_demotion_sysctl, "I", "Adjust demotion factor (skew of advskew)");

static int
carp_suppress_sysctl(SYSCTL_HANDLER_ARGS)
{
	int val;

	val = carp_rs_suppress_preempt();
	return (sysctl_handle_int(oidp, &val, 0, req));
}
SYSCTL_PROC(_net_inet_carp, OID_AUTO, suppress_preempt,
    CTLFLAG_VNET | CTLTYPE_INT | CTLFLAG_RD | CTLFLAG_MPSAFE, NULL, 0,
    carp_suppress_sysctl, "I", "Preemption is suppressed (legacy, read-only)");

/* net.inet.carp.stats: struct carpstats of per-CPU counters, per VNET. */
VNET_PCPUSTAT_DEFINE_STATIC(struct carpstats, carpstats);
VNET_PCPUSTAT_SYSINIT(carpstats);
VNET_PCPUSTAT_SYSUNINIT(carpstats);
SYSCTL_VNET_PCPUSTAT(_net_inet_carp, OID_AUTO, stats, struct carpstats,
    carpstats, "CARP statistics (struct carpstats, netinet/ip_carp.h)");

void
carp_shim_stat_inc(int idx)
{

	if (idx < 0 || idx >= (int)(sizeof(struct carpstats) / sizeof(uint64_t)))
		return;
	counter_u64_add(VNET(carpstats)[idx], 1);
}

/*
 * Per-VNET demotion accumulator (net.inet.carp.demotion and the count of live demotion
 * sources behind suppress_preempt): Rust's carp_proto::demotion::DemotionState, two
 * 32-bit atomics, kept in VNET storage as stock keeps V_carp_demotion. It exists as long
 * as the VNET does (longer than any vhid of it) and needs no allocation or release.
 */
struct carp_shim_demotion {
	int32_t		value;
	uint32_t	sources;
};
_Static_assert(sizeof(struct carp_shim_demotion) == 8, "DemotionState layout");
VNET_DEFINE_STATIC(struct carp_shim_demotion, carp_demotion_state);

void *
carp_shim_vnet_demotion(void)
{

	return (&VNET(carp_demotion_state));
}

void
carp_shim_sysctls(struct carp_shim_sysctls *out)
{

	out->allow = V_carp_allow;
	out->preempt = V_carp_preempt;
	out->log = V_carp_log;
	out->arpbalance = V_carp_arpbalance;
	out->dscp = V_carp_dscp;
	out->senderr_demotion_factor = V_carp_senderr_adj;
	out->ifdown_demotion_factor = V_carp_ifdown_adj;
}

/* ---- Module declaration ---- */

static int
carp_modevent(module_t mod __unused, int type, void *data __unused)
{

	switch (type) {
	case MOD_LOAD:
		return (carp_rs_load());
	case MOD_UNLOAD:
		return (carp_rs_unload());
	default:
		return (EOPNOTSUPP);
	}
}

static moduledata_t carp_mod = {
	"carp",
	carp_modevent,
	NULL
};

/*
 * DECLARE_MODULE also records the kernel dependency:
 * MODULE_DEPEND(carp, kernel, __FreeBSD_version, __FreeBSD_version, 1599999 for 15.x).
 */
DECLARE_MODULE(carp, carp_mod, SI_SUB_PROTO_DOMAIN, SI_ORDER_ANY);
MODULE_VERSION(carp, 1);
