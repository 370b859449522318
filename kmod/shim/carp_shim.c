/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * carp.ko C shim: module declaration, sysctl tree and per-VNET variables, i.e. the parts
 * of the kernel interface that only exist as C macros. All protocol logic is in Rust
 * (kmod/src and the carp-proto crate); every function here is a few lines of plumbing.
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

#include <net/if.h>
#include <net/if_var.h>
#include <net/vnet.h>

#include <netinet/in.h>
#include <netinet/in_var.h>

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
		error = carp_rs_allow_changed(V_carp_allow, new);
		if (error == 0)
			V_carp_allow = new;
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
