/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * carp.ko C shim, part 3 (the classic carpN model): the per-VNET registration of the
 * interface cloner "carp" and of the ARP pfil hook.
 *
 * Both are Rust: the cloner, the carpN interfaces' callbacks and the addresses they
 * walk in kmod/kpi/src/clone.rs and walk.rs, the ARP hook in kmod/kpi/src/arp.rs (the
 * callbacks the kernel calls are defined by export_carp!, kmod/kpi/src/entry.rs). What
 * is here needs C macros: the VNET variables holding each VNET's cloner and hook, two
 * accessors Rust uses (V_ifnet, a home VNET's cloner), and the VNET constructor and
 * destructor with their registration loops.
 *
 * Per VNET (carp_shim_pervnet_register): the cloner and the ARP pfil hook exist in
 * every VNET, vnet jails included, like the stock cloners (epair, bridge). They are
 * attached by a VNET constructor and detached by a VNET destructor registered
 * dynamically (vnet_register_sysinit/sysuninit, the functions behind VNET_SYSINIT), so
 * the module decides when: at load, before the hooks are published, and at unload, past
 * the point of no return. A VNET created later gets both from its constructor; a VNET
 * being destroyed loses both (and its carpN) from the destructor, before its protocols,
 * its pfil heads and its demotion accumulator go (SI_SUB_PROTO_IFATTACHDOMAIN is
 * destroyed before SI_SUB_PROTO_DOMAIN and SI_SUB_PROTO_PFIL).
 */
#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/malloc.h>
#include <sys/mbuf.h>
#include <sys/socket.h>
#include <sys/lock.h>
#include <sys/sx.h>
#include <sys/syslog.h>
#include <machine/atomic.h>

#include <net/if.h>
#include <net/if_var.h>
#include <net/if_private.h>
#include <net/if_clone.h>
#include <net/ethernet.h>
#include <net/pfil.h>
#include <net/vnet.h>

#include "carp_shim.h"

/* This VNET's cloner and ARP hook (NULL where attaching failed or after the destructor). */
VNET_DEFINE_STATIC(struct if_clone *, carp_cloner) = NULL;
#define	V_carp_cloner	VNET(carp_cloner)
VNET_DEFINE_STATIC(pfil_hook_t, carp_arp_hook) = NULL;
#define	V_carp_arp_hook	VNET(carp_arp_hook)
/* Why this VNET has neither (an errno, 0 if it has both; see carp_pervnet_init). */
VNET_DEFINE_STATIC(int, carp_pervnet_error) = 0;
#define	V_carp_pervnet_error	VNET(carp_pervnet_error)

/* How many VNETs hold a cloner or a hook of this module (see carp_shim_pervnet_deregister). */
static volatile u_int carp_pervnet_count;

struct ifnethead *
carp_shim_vnet_ifnet(void)
{

	return (&V_ifnet);
}

struct if_clone *
carp_shim_home_cloner(struct ifnet *ifp)
{

	return (VNET_VNET(ifp->if_home_vnet, carp_cloner));
}

/*
 * VNET constructor (curvnet is the VNET; sleepable; the kernel holds the VNET sysinit
 * lock): the ARP hook first, then the cloner, as at load. The cloner is attached only
 * with its hook (a carpN whose addresses are never answered for ARP would be worse than
 * none); a failure leaves the VNET without either, its errno kept in V_carp_pervnet_error
 * (carp_shim_pervnet_register checks every VNET that exists at load; for a VNET created
 * later the constructor cannot fail, so it logs).
 */
static void
carp_pervnet_init(const void *unused __unused)
{
	int error;

	V_carp_pervnet_error = 0;
	if (V_carp_arp_hook == NULL) {
		error = carp_rs_arp_hook_add(V_link_pfil_head, &V_carp_arp_hook);
		if (error != 0) {
			V_carp_pervnet_error = error;
			log(LOG_WARNING, "carp: error %d adding the ARP pfil hook in this VNET; "
			    "no carp interface cloner here\n", error);
			return;
		}
		atomic_add_int(&carp_pervnet_count, 1);
	}
	if (V_carp_cloner == NULL) {
		V_carp_cloner = carp_rs_cloner_attach();
		if (V_carp_cloner != NULL)
			atomic_add_int(&carp_pervnet_count, 1);
		else {
			V_carp_pervnet_error = EEXIST;
			log(LOG_WARNING, "carp: cannot attach the carp interface cloner "
			    "in this VNET (another \"carp\" cloner exists)\n");
		}
	}
}

/*
 * VNET destructor, also run for every VNET at unload: the cloner first (destroying the
 * VNET's own carpN, wherever they were moved: FreeBSD keeps a cloned interface on its
 * home VNET's cloner), then the ARP hook (unlinked from this VNET's heads; it may still
 * run until the next network epoch, which unload waits for). Idempotent.
 */
static void
carp_pervnet_uninit(const void *unused __unused)
{
	struct if_clone *ifc;
	pfil_hook_t hook;

	ifc = V_carp_cloner;
	if (ifc != NULL) {
		V_carp_cloner = NULL;
		ifc_detach_cloner(ifc);
		atomic_subtract_int(&carp_pervnet_count, 1);
	}
	hook = V_carp_arp_hook;
	if (hook != NULL) {
		V_carp_arp_hook = NULL;
		pfil_remove_hook(hook);
		atomic_subtract_int(&carp_pervnet_count, 1);
	}
}

static struct vnet_sysinit carp_pervnet_ctor = {
	.subsystem = SI_SUB_PROTO_IFATTACHDOMAIN,
	.order = SI_ORDER_ANY,
	.func = carp_pervnet_init,
	.arg = NULL,
};
static struct vnet_sysinit carp_pervnet_dtor = {
	.subsystem = SI_SUB_PROTO_IFATTACHDOMAIN,
	.order = SI_ORDER_ANY,
	.func = carp_pervnet_uninit,
	.arg = NULL,
};

int
carp_shim_pervnet_register(void)
{
	VNET_ITERATOR_DECL(vnet_iter);
	int error = 0;

	/*
	 * The destructor first: a VNET created from now on and destroyed before we return
	 * loses what its constructor attached. vnet_register_sysinit runs the constructor
	 * in every existing VNET, synchronously: each of them must have got both pieces, or
	 * the load fails with the first error met (everything undone).
	 */
	vnet_register_sysuninit(&carp_pervnet_dtor);
	vnet_register_sysinit(&carp_pervnet_ctor);
	VNET_LIST_RLOCK();
	VNET_FOREACH(vnet_iter) {
		CURVNET_SET(vnet_iter);
		if (error == 0 && (V_carp_cloner == NULL || V_carp_arp_hook == NULL))
			error = V_carp_pervnet_error != 0 ? V_carp_pervnet_error : ENXIO;
		CURVNET_RESTORE();
	}
	VNET_LIST_RUNLOCK();
	if (error != 0) {
		carp_shim_pervnet_deregister();
		return (error);
	}
	return (0);
}

void
carp_shim_pervnet_deregister(void)
{
	VNET_ITERATOR_DECL(vnet_iter);

	/*
	 * No VNET gets them from now on. The destructor stays registered until no VNET holds
	 * a piece of this module: a VNET being destroyed is already off the VNET list but
	 * still runs it, and one being constructed joins the list soon. The module destroys
	 * its carpN before this (Ifnet::clone_destroy in Rust), so the detaches below find
	 * their cloners empty and never destroy an interface under the VNET locks.
	 */
	vnet_deregister_sysinit(&carp_pervnet_ctor);
	for (;;) {
		/*
		 * ifnet_detach_sxlock first, as a VNET teardown and SIOCIFDESTROY take it: a
		 * cloner detached here may still destroy an interface. Released before the
		 * pause, so that a dying VNET can run the destructor meanwhile.
		 */
		sx_xlock(&ifnet_detach_sxlock);
		VNET_LIST_RLOCK();
		VNET_FOREACH(vnet_iter) {
			CURVNET_SET(vnet_iter);
			carp_pervnet_uninit(NULL);
			CURVNET_RESTORE();
		}
		VNET_LIST_RUNLOCK();
		sx_xunlock(&ifnet_detach_sxlock);
		if (atomic_load_int(&carp_pervnet_count) == 0)
			break;
		pause("carpvnt", MAX(1, hz / 100));
	}
	vnet_deregister_sysuninit(&carp_pervnet_dtor);
}
