/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * carp.ko C shim, part 2: what only C can express around the Rust hooks (kmod/kpi): the
 * netlink command table, event handler registration, and one-line wrappers over kernel
 * macros (THREAD_CAN_SLEEP, curthread's VNET, mtx(9)/sx(9) locks, VNET variables). The
 * hooks themselves, the tasks, callouts, mbufs, multicast, routes and netlink replies are
 * Rust, calling the kernel's exported functions directly. No policy lives here. See
 * carp_shim.h for the contract.
 */
#include "opt_inet.h"
#include "opt_inet6.h"

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/lock.h>
#include <sys/mutex.h>
#include <sys/sx.h>
#include <sys/malloc.h>
#include <sys/socket.h>
#include <sys/epoch.h>
#include <sys/priv.h>
#include <sys/proc.h>
#include <sys/eventhandler.h>

#include <net/if.h>
#include <net/if_var.h>
#include <net/vnet.h>

#include <netinet/in.h>
#include <netinet/ip_var.h>
#include <netinet/ip_carp_nl.h>

#include <netlink/netlink.h>
#include <netlink/netlink_ctl.h>
#include <netlink/netlink_generic.h>

#include "carp_shim.h"

int
carp_shim_can_sleep(void)
{

	return (THREAD_CAN_SLEEP() && !in_epoch(net_epoch_preempt));
}

/* ---- Generic netlink family "carp": the commands are Rust's carp_rs_nl_get/set ---- */

static uint16_t carp_family_id;

static const struct genl_cmd carp_cmds[] = {
	{
		.cmd_num = CARP_NL_CMD_GET,
		.cmd_name = "SIOCGVH",
		.cmd_cb = carp_rs_nl_get,
		.cmd_flags = GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP |
		    GENL_CMD_CAP_HASPOL,
	},
	{
		.cmd_num = CARP_NL_CMD_SET,
		.cmd_name = "SIOCSVH",
		.cmd_cb = carp_rs_nl_set,
		.cmd_flags = GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL,
		.cmd_priv = PRIV_NETINET_CARP,
	},
};

int
carp_shim_netlink_register(void)
{

	/* FreeBSD passes CARP_NL_CMD_MAX as the max attribute index (a quirk kept). */
	carp_family_id = genl_register_family(CARP_NL_FAMILY_NAME, 0, 2,
	    CARP_NL_CMD_MAX);
	if (carp_family_id == 0)
		return (EEXIST);
	if (!genl_register_cmds(carp_family_id, carp_cmds, nitems(carp_cmds))) {
		genl_unregister_family(carp_family_id);
		carp_family_id = 0;
		return (ENOMEM);
	}
	return (0);
}

void
carp_shim_netlink_unregister(void)
{

	if (carp_family_id != 0)
		genl_unregister_family(carp_family_id);
	carp_family_id = 0;
}

/* ---- Event handlers: the handlers are Rust's carp_rs_ifnet_* / carp_rs_ifaddr_event ---- */

static eventhandler_tag carp_ifdetach_tag, carp_ifarrival_tag, carp_ifaddr_tag,
    carp_ifevent_tag;

int
carp_shim_ifdetach_register(void)
{

	if ((carp_ifdetach_tag = EVENTHANDLER_REGISTER(ifnet_departure_event,
	    carp_rs_ifnet_departure, NULL, EVENTHANDLER_PRI_ANY)) == NULL ||
	    (carp_ifarrival_tag = EVENTHANDLER_REGISTER(ifnet_arrival_event,
	    carp_rs_ifnet_arrival, NULL, EVENTHANDLER_PRI_ANY)) == NULL ||
	    (carp_ifaddr_tag = EVENTHANDLER_REGISTER(ifaddr_event_ext,
	    carp_rs_ifaddr_event, NULL, EVENTHANDLER_PRI_ANY)) == NULL ||
	    (carp_ifevent_tag = EVENTHANDLER_REGISTER(ifnet_event,
	    carp_rs_ifnet_event, NULL, EVENTHANDLER_PRI_ANY)) == NULL) {
		carp_shim_ifdetach_deregister();
		return (ENOMEM);
	}
	return (0);
}

void
carp_shim_ifdetach_deregister(void)
{

	if (carp_ifevent_tag != NULL)
		EVENTHANDLER_DEREGISTER(ifnet_event, carp_ifevent_tag);
	if (carp_ifaddr_tag != NULL)
		EVENTHANDLER_DEREGISTER(ifaddr_event_ext, carp_ifaddr_tag);
	if (carp_ifarrival_tag != NULL)
		EVENTHANDLER_DEREGISTER(ifnet_arrival_event, carp_ifarrival_tag);
	if (carp_ifdetach_tag != NULL)
		EVENTHANDLER_DEREGISTER(ifnet_departure_event, carp_ifdetach_tag);
	carp_ifevent_tag = carp_ifaddr_tag = carp_ifarrival_tag = carp_ifdetach_tag = NULL;
}

/* ---- curthread: VNET and credential ---- */

struct vnet *
carp_shim_curvnet_set(struct vnet *v)
{
	struct vnet *saved;

	saved = curthread->td_vnet;
	curthread->td_vnet = v;
	return (saved);
}

void
carp_shim_curvnet_restore(struct vnet *saved)
{

	curthread->td_vnet = saved;
}

struct vnet *
carp_shim_curvnet(void)
{

	return (curthread->td_vnet);
}

int
carp_shim_priv_check_cred(struct thread *td)
{

	return (priv_check_cred(td->td_ucred, PRIV_NETINET_CARP));
}

int
carp_shim_ip_random_id(void)
{

	return (V_ip_random_id);
}

/* ---- Locks ---- */

static struct sx carp_sx;
SX_SYSINIT(carp_sx, &carp_sx, "carp_sx");

void
carp_shim_mtx_init(struct mtx *m, const char *name)
{

	mtx_init(m, name, NULL, MTX_DEF);
}

void
carp_shim_mtx_destroy(struct mtx *m)
{

	mtx_destroy(m);
}

void
carp_shim_mtx_lock(struct mtx *m)
{

	mtx_lock(m);
}

void
carp_shim_mtx_unlock(struct mtx *m)
{

	mtx_unlock(m);
}

void
carp_shim_sx_xlock(void)
{

	sx_xlock(&carp_sx);
}

void
carp_shim_sx_xunlock(void)
{

	sx_xunlock(&carp_sx);
}
