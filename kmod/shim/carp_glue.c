/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * carp.ko C shim, part 2: the kernel's CARP hooks with their exact prototypes, protocol and
 * netlink registration, and tiny wrappers over kernel macros, static inline functions and
 * structure fields (locks, callouts, epoch, VNET, mbufs, ifnet/ifaddr, multicast, routes).
 * No policy lives here: every decision is taken in Rust (kmod/logic, carp-proto). See
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

#include <net/if.h>
#include <net/if_var.h>
#include <net/if_private.h>
#include <net/if_dl.h>
#include <net/if_llatbl.h>
#include <net/if_types.h>
#include <net/ethernet.h>
#include <net/vnet.h>
#include <net/route.h>

#include <netinet/in.h>
#include <netinet/in_var.h>
#include <netinet/ip.h>
#include <netinet/ip_var.h>
#include <netinet/ip_carp.h>
#include <netinet/ip_carp_nl.h>
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

#include "carp_shim.h"

/*
 * What PACKET_TAG_CARP carries in this module: the vhid, whether carp_output rewrites the
 * Ethernet source (only for vhids whose advertisements go to the multicast group, as
 * FreeBSD's carp_output checks), then the virtual MAC.
 */
struct carp_shim_tag {
	int	vhid;
	int	rewrite;
	uint8_t	mac[ETHER_ADDR_LEN];
};

/* Work deferred from contexts that may not sleep (see carp_shim_defer). */
#define	CARP_DEFER_DETACH	1	/* carp_detach_p(ifa, false) */
#define	CARP_DEFER_DETACH_KEEP	2	/* carp_detach_p(ifa, true) */
#define	CARP_DEFER_ADDR6_ADD	3	/* IPv6 address added to a carpN */
#define	CARP_DEFER_ADDR6_DEL	4	/* IPv6 address removed from a carpN */
static int	carp_shim_defer(struct ifaddr *ifa, int kind);

/* Virtual MACs 00:00:5e:00:01:<vhid>, stable storage for carp_iamatch's *enaddr. */
static uint8_t carp_vmacs[256][ETHER_ADDR_LEN];

/* ---- The hooks, with netinet/ip_carp.h's exact prototypes ---- */

static int
carp_hook_ioctl(struct ifreq *ifr, u_long cmd, struct thread *td)
{

	return (carp_rs_ioctl(ifr, cmd, td));
}

static int
carp_hook_attach(struct ifaddr *ifa, int vhid)
{

	return (carp_rs_attach(ifa, vhid));
}

static void
carp_hook_detach(struct ifaddr *ifa, bool keep_cif)
{

	/*
	 * The detach takes the configuration sx lock and waits for the network epoch. An
	 * address can expire from a context that may not sleep (nd6_timer, a callout, maybe
	 * in the epoch): there the detach is deferred to a task, holding references on the
	 * address and its interface (the container keeps its own reference meanwhile).
	 */
	carp_rs_inflight_enter();	/* unload waits for this, queueing included */
	if (!THREAD_CAN_SLEEP() || in_epoch(net_epoch_preempt)) {
		/*
		 * The pool holds a spare entry per bound address (carp_shim_defer_reserve);
		 * failing here needs an address this module never bound, or every spare
		 * out with queued detaches and no memory at all.
		 */
		if (carp_shim_defer(ifa, keep_cif ? CARP_DEFER_DETACH_KEEP :
		    CARP_DEFER_DETACH) != 0)
			log(LOG_WARNING, "carp: cannot defer the detach of an address; "
			    "it stays bound until its interface leaves CARP\n");
		carp_rs_inflight_exit();
		return;
	}
	carp_rs_detach(ifa, keep_cif);
	carp_rs_inflight_exit();
}

static void
carp_hook_linkstate(struct ifnet *ifp)
{

	carp_rs_linkstate(ifp);
}

static void
carp_hook_demote_adj(int adj, char *reason)
{

	carp_rs_demote_adj(adj, reason);
}

static int
carp_hook_master(struct ifaddr *ifa)
{

	return (carp_rs_master(ifa));
}

static int
carp_hook_forus(struct ifnet *ifp, u_char *dhost)
{

	return (carp_rs_forus(ifp, dhost));
}

/*
 * ether_output: a tagged advertisement or NA leaves with the virtual MAC as Ethernet
 * source. Pure mechanics on the frame; the tag was put there by this module.
 */
static int
carp_hook_output(struct ifnet *ifp, struct mbuf *m, const struct sockaddr *sa)
{
	struct m_tag *mtag;
	struct carp_shim_tag *t;
	struct ether_header *eh;

	switch (sa->sa_family) {
	case AF_INET:
	case AF_INET6:
		break;
	default:
		return (0);
	}
	mtag = m_tag_find(m, PACKET_TAG_CARP, NULL);
	if (mtag == NULL)
		return (0);
	t = (struct carp_shim_tag *)(mtag + 1);
	if (!t->rewrite)
		return (0);
	switch (ifp->if_type) {
	case IFT_ETHER:
	case IFT_BRIDGE:
	case IFT_L2VLAN:
		if (m->m_len < (int)sizeof(*eh))
			return (EINVAL);
		eh = mtod(m, struct ether_header *);
		memcpy(eh->ether_shost, t->mac, ETHER_ADDR_LEN);
		return (0);
	default:
		printf("%s: carp is not supported for the %d interface type\n",
		    if_name(ifp), ifp->if_type);
		return (EOPNOTSUPP);
	}
}

static int
carp_hook_get_vhid(struct ifaddr *ifa)
{

	return (carp_rs_get_vhid(ifa));
}

static int
carp_hook_iamatch(struct ifaddr *ifa, uint8_t **enaddr)
{
	int vhid;

	vhid = carp_rs_iamatch(ifa);
	if (vhid <= 0 || vhid > 255)
		return (0);
	*enaddr = carp_vmacs[vhid];
	return (1);
}

static struct ifaddr *
carp_hook_iamatch6(struct ifnet *ifp, struct in6_addr *taddr)
{
	struct in6_addr clean;
	struct in6_ifaddr *ia;
	int r;

	clean = *taddr;
	in6_clearscope(&clean);
	r = carp_rs_iamatch6(ifp, clean.s6_addr);
	if (r < 0)
		return (NULL);	/* a CARP address we do not own: stay silent */
	ia = in6ifa_ifpwithaddr(ifp, taddr);	/* referenced, as the caller expects */
	/*
	 * Issue 5: a MASTER address of a legacy carpN lives on the carpN, not on this
	 * parent; it is ours to answer iff its ifa_carp is this parent's container.
	 */
	if (ia == NULL && r > 0) {
		ia = in6ifa_ifwithaddr(taddr, 0, true);
		if (ia != NULL &&
		    (void *)ia->ia_ifa.ifa_carp != (void *)ifp->if_carp) {
			ifa_free(&ia->ia_ifa);
			ia = NULL;
		}
	}
	return (ia != NULL ? &ia->ia_ifa : NULL);
}

static char *
carp_hook_macmatch6(struct ifnet *ifp, struct mbuf *m, const struct in6_addr *taddr)
{
	struct in6_addr clean;
	struct m_tag *mtag;
	struct carp_shim_tag *t;
	int vhid, rewrite;

	clean = *taddr;
	in6_clearscope(&clean);
	vhid = carp_rs_macmatch6(ifp, clean.s6_addr);
	rewrite = (vhid & 0x100) == 0;
	vhid &= 0xff;
	if (vhid == 0)
		return (NULL);
	mtag = m_tag_get(PACKET_TAG_CARP, sizeof(*t), M_NOWAIT);
	if (mtag == NULL) {
		/*
		 * No memory for the tag: the option still names the virtual MAC (stock's
		 * "better a bit than nothing"); only the Ethernet source stays the parent's.
		 */
		return ((char *)carp_vmacs[vhid]);
	}
	t = (struct carp_shim_tag *)(mtag + 1);
	t->vhid = vhid;
	t->rewrite = rewrite;
	memcpy(t->mac, carp_vmacs[vhid], ETHER_ADDR_LEN);
	m_tag_prepend(m, mtag);
	return ((char *)t->mac);
}

int
carp_shim_tag_vmac(struct mbuf *m, int vhid)
{
	struct m_tag *mtag;
	struct carp_shim_tag *t;

	if (vhid <= 0 || vhid > 255)
		return (0);
	mtag = m_tag_get(PACKET_TAG_CARP, sizeof(*t), M_NOWAIT);
	if (mtag == NULL)
		return (0);
	t = (struct carp_shim_tag *)(mtag + 1);
	t->vhid = vhid;
	t->rewrite = 1;
	memcpy(t->mac, carp_vmacs[vhid], ETHER_ADDR_LEN);
	m_tag_prepend(m, mtag);
	return (1);
}

void
carp_shim_hooks_publish(void)
{
	int i;

	for (i = 0; i < 256; i++) {
		carp_vmacs[i][0] = 0x00;
		carp_vmacs[i][1] = 0x00;
		carp_vmacs[i][2] = 0x5e;
		carp_vmacs[i][3] = 0x00;
		carp_vmacs[i][4] = 0x01;
		carp_vmacs[i][5] = (uint8_t)i;
	}
	carp_get_vhid_p = carp_hook_get_vhid;
	carp_forus_p = carp_hook_forus;
	carp_output_p = carp_hook_output;
	carp_linkstate_p = carp_hook_linkstate;
	carp_ioctl_p = carp_hook_ioctl;
	carp_attach_p = carp_hook_attach;
	carp_detach_p = carp_hook_detach;
	carp_demote_adj_p = carp_hook_demote_adj;
	carp_master_p = carp_hook_master;
	carp_iamatch6_p = carp_hook_iamatch6;
	carp_macmatch6_p = carp_hook_macmatch6;
	carp_iamatch_p = carp_hook_iamatch;
}

void
carp_shim_hooks_clear(void)
{

	carp_get_vhid_p = NULL;
	carp_forus_p = NULL;
	carp_output_p = NULL;
	carp_linkstate_p = NULL;
	carp_ioctl_p = NULL;
	carp_attach_p = NULL;
	carp_detach_p = NULL;
	carp_demote_adj_p = NULL;
	carp_master_p = NULL;
	carp_iamatch6_p = NULL;
	carp_macmatch6_p = NULL;
	carp_iamatch_p = NULL;
}

/* ---- Protocol 112 ---- */

static int
carp_shim_input4(struct mbuf **mp, int *offp, int proto __unused)
{

	carp_rs_input(*mp, AF_INET, *offp);
	*mp = NULL;
	return (IPPROTO_DONE);
}

static int
carp_shim_input6(struct mbuf **mp, int *offp, int proto __unused)
{

	/* *offp: where the CARP/VRRP header starts, past any extension headers. */
	carp_rs_input(*mp, AF_INET6, *offp);
	*mp = NULL;
	return (IPPROTO_DONE);
}

int
carp_shim_proto_register(void)
{

	return (ipproto_register(IPPROTO_CARP, carp_shim_input4, NULL));
}

void
carp_shim_proto_unregister(void)
{

	(void)ipproto_unregister(IPPROTO_CARP);
}

int
carp_shim_proto6_register(void)
{

	return (ip6proto_register(IPPROTO_CARP, carp_shim_input6, NULL));
}

void
carp_shim_proto6_unregister(void)
{

	(void)ip6proto_unregister(IPPROTO_CARP);
}

/* ---- Generic netlink family "carp" ---- */

static uint16_t carp_family_id;

static int
carp_shim_nl_get_cb(struct nlmsghdr *hdr, struct nl_pstate *npt)
{

	return (carp_rs_nl_get(hdr, npt));
}

static int
carp_shim_nl_set_cb(struct nlmsghdr *hdr, struct nl_pstate *npt)
{

	return (carp_rs_nl_set(hdr, npt));
}

static const struct genl_cmd carp_cmds[] = {
	{
		.cmd_num = CARP_NL_CMD_GET,
		.cmd_name = "SIOCGVH",
		.cmd_cb = carp_shim_nl_get_cb,
		.cmd_flags = GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP |
		    GENL_CMD_CAP_HASPOL,
	},
	{
		.cmd_num = CARP_NL_CMD_SET,
		.cmd_name = "SIOCSVH",
		.cmd_cb = carp_shim_nl_set_cb,
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

const uint8_t *
carp_shim_nl_msg(struct nlmsghdr *hdr, size_t *len)
{

	*len = hdr->nlmsg_len;
	return ((const uint8_t *)hdr);
}

int
carp_shim_nl_privileged(struct nl_pstate *npt)
{

	return (nlp_has_priv(npt->nlp, PRIV_NETINET_CARP) ? 1 : 0);
}

int
carp_shim_nl_reply(struct nl_pstate *npt, struct nlmsghdr *hdr,
    const uint8_t *payload, int len)
{
	struct nl_writer *nw = npt->nw;
	void *p;

	if (len < 0)
		return (EINVAL);
	if (!nlmsg_add(nw, hdr->nlmsg_pid, hdr->nlmsg_seq, hdr->nlmsg_type,
	    hdr->nlmsg_flags | NLM_F_MULTI, len))
		return (ENOMEM);
	p = nlmsg_reserve_data_raw(nw, len);
	if (p == NULL) {
		nlmsg_abort(nw);
		return (ENOMEM);
	}
	memcpy(p, payload, len);
	if (!nlmsg_end(nw))
		return (ENOMEM);
	return (0);
}

int
carp_shim_nl_end_dump(struct nl_pstate *npt, int error, struct nlmsghdr *hdr)
{

	return (nlmsg_end_dump(npt->nw, error, hdr) ? 0 : ENOMEM);
}

/* ---- Interface departure ---- */

static eventhandler_tag carp_ifdetach_tag;

static void
carp_shim_ifdetach(void *arg __unused, struct ifnet *ifp)
{

	/*
	 * if_rename() sends a departure event (and an arrival) with IFF_RENAMING
	 * set: the interface stays, so does its CARP configuration.
	 */
	if ((if_getflags(ifp) & IFF_RENAMING) != 0)
		return;
	/* A parent with vhids, or one of our carpN (moved to another VNET, or destroyed). */
	if (atomic_load_ptr(&ifp->if_carp) != NULL || carp_shim_is_clone(ifp))
		carp_rs_ifdetach(ifp);
}

static eventhandler_tag carp_ifarrival_tag;

/* The arrival half of if_rename(): the new name is in place, IFF_RENAMING still set. */
static void
carp_shim_ifarrival(void *arg __unused, struct ifnet *ifp)
{

	if ((if_getflags(ifp) & IFF_RENAMING) != 0 &&
	    atomic_load_ptr(&ifp->if_carp) != NULL)
		carp_rs_ifrename(ifp);
}

static eventhandler_tag carp_ifaddr_tag;

/*
 * Address events (sleepable; the caller holds a reference on ifa):
 *  - an IPv4 address added to another interface (in_aifaddr, end, in_control_sx held):
 *    a parent coming back with its subnet lets unbound carpN bind again;
 *  - an IPv6 address added to or removed from a carpN (after in6_update_ifa /
 *    in6_purgeaddr): added without a vhid, it binds here (IPv6 gives a cloned interface
 *    no other reliable call); removed while still bound, it is unbound.
 */
static void
carp_shim_ifaddr(void *arg __unused, struct ifnet *ifp, struct ifaddr *ifa, int event)
{
	int af;

	if (ifa == NULL || ifa->ifa_addr == NULL)
		return;
	af = ifa->ifa_addr->sa_family;
	if (carp_shim_is_clone(ifp)) {
		/*
		 * Always through the task: the ADD event fires inside in6_update_ifa, before
		 * it may still fail and unlink the address (without a DEL event) and before
		 * a carp_attach_p or carp_detach_p of the same request; the task sees the
		 * outcome. It also fires from nd6 timers, which may not sleep.
		 */
		if (af == AF_INET6 && (event == IFADDR_EVENT_ADD || event == IFADDR_EVENT_DEL))
			(void)carp_shim_defer(ifa, event == IFADDR_EVENT_ADD ?
			    CARP_DEFER_ADDR6_ADD : CARP_DEFER_ADDR6_DEL);
		return;
	}
	/* in_aifaddr's end, in_control_sx held: sleepable, but be sure. */
	if (event == IFADDR_EVENT_ADD && af == AF_INET && THREAD_CAN_SLEEP() &&
	    !in_epoch(net_epoch_preempt))
		carp_rs_ifaddr_added(ifp);
}

static eventhandler_tag carp_ifevent_tag;
void	carp_shim_ifdetach_deregister(void);

/*
 * ifnet_event IFNET_EVENT_UP (if_up, sleepable): the kernel's in_ifnet_event, registered
 * before us, has just given every IPv4 address without IFA_ROUTE its prefix and loopback
 * routes, CARP addresses of vhids that are not MASTER included.
 */
static void
carp_shim_ifevent(void *arg __unused, struct ifnet *ifp, int event)
{

	if (event != IFNET_EVENT_UP)
		return;
	if (atomic_load_ptr(&ifp->if_carp) != NULL || carp_shim_is_clone(ifp))
		carp_rs_ifup(ifp);
}

int
carp_shim_ifdetach_register(void)
{

	carp_ifdetach_tag = EVENTHANDLER_REGISTER(ifnet_departure_event,
	    carp_shim_ifdetach, NULL, EVENTHANDLER_PRI_ANY);
	if (carp_ifdetach_tag == NULL)
		return (ENOMEM);
	carp_ifarrival_tag = EVENTHANDLER_REGISTER(ifnet_arrival_event,
	    carp_shim_ifarrival, NULL, EVENTHANDLER_PRI_ANY);
	if (carp_ifarrival_tag == NULL) {
		EVENTHANDLER_DEREGISTER(ifnet_departure_event, carp_ifdetach_tag);
		carp_ifdetach_tag = NULL;
		return (ENOMEM);
	}
	carp_ifaddr_tag = EVENTHANDLER_REGISTER(ifaddr_event_ext, carp_shim_ifaddr,
	    NULL, EVENTHANDLER_PRI_ANY);
	if (carp_ifaddr_tag == NULL) {
		EVENTHANDLER_DEREGISTER(ifnet_arrival_event, carp_ifarrival_tag);
		carp_ifarrival_tag = NULL;
		EVENTHANDLER_DEREGISTER(ifnet_departure_event, carp_ifdetach_tag);
		carp_ifdetach_tag = NULL;
		return (ENOMEM);
	}
	carp_ifevent_tag = EVENTHANDLER_REGISTER(ifnet_event, carp_shim_ifevent,
	    NULL, EVENTHANDLER_PRI_ANY);
	if (carp_ifevent_tag == NULL) {
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
	carp_ifevent_tag = NULL;

	if (carp_ifaddr_tag != NULL)
		EVENTHANDLER_DEREGISTER(ifaddr_event_ext, carp_ifaddr_tag);
	carp_ifaddr_tag = NULL;
	if (carp_ifarrival_tag != NULL)
		EVENTHANDLER_DEREGISTER(ifnet_arrival_event, carp_ifarrival_tag);
	carp_ifarrival_tag = NULL;
	if (carp_ifdetach_tag != NULL)
		EVENTHANDLER_DEREGISTER(ifnet_departure_event, carp_ifdetach_tag);
	carp_ifdetach_tag = NULL;
}

/* ---- Epoch, VNET, time ---- */

void
carp_shim_net_epoch_wait(void)
{

	NET_EPOCH_WAIT();
}

void
carp_shim_pause(void)
{

	pause("carpunl", MAX(1, hz / 1000));
}

void
carp_shim_net_epoch_enter(struct epoch_tracker *et)
{

	epoch_enter_preempt(net_epoch_preempt, et);
}

void
carp_shim_net_epoch_exit(struct epoch_tracker *et)
{

	epoch_exit_preempt(net_epoch_preempt, et);
}

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

uint64_t
carp_shim_uptime_us(void)
{

	return (sbttous(sbinuptime()));
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

/* ---- The send-all task ---- */

static void
carp_shim_sendall_fn(void *arg __unused, int pending __unused)
{

	carp_rs_sendall();
}

static struct task carp_sendall_task =
    TASK_INITIALIZER(0, carp_shim_sendall_fn, NULL);

void
carp_shim_sendall_enqueue(void)
{

	taskqueue_enqueue(taskqueue_thread, &carp_sendall_task);
}

void
carp_shim_sendall_drain(void)
{

	taskqueue_drain(taskqueue_thread, &carp_sendall_task);
}

/* ---- Deferred address work ---- */

struct carp_deferred {
	STAILQ_ENTRY(carp_deferred) link;
	struct ifaddr	*ifa;	/* referenced */
	struct ifnet	*ifp;	/* ifa's interface, referenced */
	int		kind;	/* CARP_DEFER_* */
};

static STAILQ_HEAD(, carp_deferred) carp_deferred_q =
    STAILQ_HEAD_INITIALIZER(carp_deferred_q);
/*
 * One spare entry per bound address (carp_shim_defer_reserve when it binds, in sleepable
 * context; carp_shim_defer_release when its binding goes), so that deferring a detach
 * never needs memory where none may be waited for.
 */
static STAILQ_HEAD(, carp_deferred) carp_deferred_spare =
    STAILQ_HEAD_INITIALIZER(carp_deferred_spare);
static u_int carp_spare_count;		/* entries on carp_deferred_spare */
static u_int carp_spare_needed;		/* bound addresses */

/* The spare pool's two operations, carp_deferred_mtx held. */
static struct carp_deferred *
carp_spare_pop_locked(void)
{
	struct carp_deferred *d;

	mtx_assert(&carp_deferred_mtx, MA_OWNED);
	d = STAILQ_FIRST(&carp_deferred_spare);
	if (d != NULL) {
		STAILQ_REMOVE_HEAD(&carp_deferred_spare, link);
		carp_spare_count--;
	}
	return (d);
}

static void
carp_spare_push_locked(struct carp_deferred *d)
{

	mtx_assert(&carp_deferred_mtx, MA_OWNED);
	STAILQ_INSERT_TAIL(&carp_deferred_spare, d, link);
	carp_spare_count++;
}
static struct mtx carp_deferred_mtx;
MTX_SYSINIT(carp_deferred, &carp_deferred_mtx, "carp deferred", MTX_DEF);

static void
carp_shim_deferred_fn(void *arg __unused, int pending __unused)
{
	struct carp_deferred *d;
	struct ifaddr *ifa;
	struct ifnet *ifp;
	int kind;

	for (;;) {
		mtx_lock(&carp_deferred_mtx);
		d = STAILQ_FIRST(&carp_deferred_q);
		if (d != NULL)
			STAILQ_REMOVE_HEAD(&carp_deferred_q, link);
		mtx_unlock(&carp_deferred_mtx);
		if (d == NULL)
			break;
		ifa = d->ifa;
		ifp = d->ifp;
		kind = d->kind;
		if (kind == CARP_DEFER_DETACH || kind == CARP_DEFER_DETACH_KEEP) {
			/* A spare: back to the pool before the detach releases one. */
			memset(d, 0, sizeof(*d));
			mtx_lock(&carp_deferred_mtx);
			carp_spare_push_locked(d);
			mtx_unlock(&carp_deferred_mtx);
		} else
			free(d, M_CARP);
		/*
		 * A dying interface (IFF_DYING, set when if_detach unlinks it, before its
		 * departure event) may belong to a VNET freed since; its container or carpN
		 * was released when it departed: nothing to do.
		 */
		if ((ifp->if_flags & IFF_DYING) == 0) {
			CURVNET_SET(ifp->if_vnet);
			carp_rs_deferred(ifp, ifa, kind);
			CURVNET_RESTORE();
		}
		ifa_free(ifa);
		if_rele(ifp);
	}
}

static struct task carp_deferred_task =
    TASK_INITIALIZER(0, carp_shim_deferred_fn, NULL);

/*
 * Queues work on ifa for the task (taskqueue_thread: sleepable, no locks). Returns 0
 * when queued, ENOMEM when not (the caller then decides).
 */
static int
carp_shim_defer(struct ifaddr *ifa, int kind)
{
	struct carp_deferred *d;

	if (ifa->ifa_ifp == NULL)
		return (EINVAL);
	d = NULL;
	if (kind == CARP_DEFER_DETACH || kind == CARP_DEFER_DETACH_KEEP) {
		mtx_lock(&carp_deferred_mtx);
		d = carp_spare_pop_locked();
		mtx_unlock(&carp_deferred_mtx);
	}
	if (d == NULL)
		d = malloc(sizeof(*d), M_CARP, M_NOWAIT | M_ZERO);
	if (d == NULL)
		return (ENOMEM);
	ifa_ref(ifa);
	if_ref(ifa->ifa_ifp);
	d->ifa = ifa;
	d->ifp = ifa->ifa_ifp;
	d->kind = kind;
	mtx_lock(&carp_deferred_mtx);
	STAILQ_INSERT_TAIL(&carp_deferred_q, d, link);
	mtx_unlock(&carp_deferred_mtx);
	taskqueue_enqueue(taskqueue_thread, &carp_deferred_task);
	return (0);
}

/*
 * The pool holds at least one entry per bound address (needed); entries out of it are
 * queued detaches, which come back before their detach releases the binding. Release
 * frees an entry only while the pool holds more than needed, so a binding removed while
 * its detach is queued does not take another address's spare.
 */
void
carp_shim_defer_reserve(void)
{
	struct carp_deferred *d;

	mtx_lock(&carp_deferred_mtx);
	carp_spare_needed++;
	while (carp_spare_count < carp_spare_needed) {
		mtx_unlock(&carp_deferred_mtx);
		d = malloc(sizeof(*d), M_CARP, M_WAITOK | M_ZERO);
		mtx_lock(&carp_deferred_mtx);
		carp_spare_push_locked(d);
	}
	mtx_unlock(&carp_deferred_mtx);
}

void
carp_shim_defer_release(void)
{
	struct carp_deferred *d;

	d = NULL;
	mtx_lock(&carp_deferred_mtx);
	if (carp_spare_needed > 0)
		carp_spare_needed--;
	if (carp_spare_count > carp_spare_needed)
		d = carp_spare_pop_locked();
	mtx_unlock(&carp_deferred_mtx);
	free(d, M_CARP);
}

/*
 * Unload, once nothing can queue any more: runs what is left, waits for the task, and
 * frees the spares.
 */
void
carp_shim_deferred_drain(void)
{
	struct carp_deferred *d;

	taskqueue_drain(taskqueue_thread, &carp_deferred_task);
	carp_shim_deferred_fn(NULL, 0);
	for (;;) {
		mtx_lock(&carp_deferred_mtx);
		d = carp_spare_pop_locked();
		mtx_unlock(&carp_deferred_mtx);
		if (d == NULL)
			break;
		free(d, M_CARP);
	}
	carp_spare_needed = 0;
}

/* ---- Callouts ---- */

static void
carp_shim_callout_fn(void *arg)
{

	carp_rs_callout(arg);
}

void
carp_shim_callout_init(struct callout *c)
{

	callout_init(c, 1);
}

void
carp_shim_callout_at(struct callout *c, uint64_t us, void *arg)
{

	callout_reset_sbt(c, ustosbt(us), 0, carp_shim_callout_fn, arg,
	    C_ABSOLUTE);
}

void
carp_shim_callout_stop(struct callout *c)
{

	callout_stop(c);
}

void
carp_shim_callout_drain(struct callout *c)
{

	callout_drain(c);
}

/* ---- ifnet / ifaddr ---- */

void *
carp_shim_if_carp(struct ifnet *ifp)
{

	return (atomic_load_ptr(&ifp->if_carp));
}

void
carp_shim_if_set_carp(struct ifnet *ifp, void *cif)
{

	atomic_store_ptr(&ifp->if_carp, cif);
}

void *
carp_shim_ifa_carp(struct ifaddr *ifa)
{

	return (atomic_load_ptr(&ifa->ifa_carp));
}

void
carp_shim_ifa_set_carp(struct ifaddr *ifa, void *v)
{

	atomic_store_ptr(&ifa->ifa_carp, v);
}

struct ifnet *
carp_shim_ifa_ifp(struct ifaddr *ifa)
{

	return (ifa->ifa_ifp);
}

static int
carp_shim_sa_addr(const struct sockaddr *sa, uint8_t *out)
{
	struct in6_addr a6;

	if (sa == NULL)
		return (0);
	switch (sa->sa_family) {
	case AF_INET:
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return (AF_INET);
	case AF_INET6:
		a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr;
		in6_clearscope(&a6);
		memcpy(out, &a6, 16);
		return (AF_INET6);
	default:
		return (sa->sa_family);
	}
}

int
carp_shim_ifa_addr(struct ifaddr *ifa, uint8_t *out)
{

	return (carp_shim_sa_addr(ifa->ifa_addr, out));
}

void
carp_shim_ifa_ref(struct ifaddr *ifa)
{

	ifa_ref(ifa);
}

void
carp_shim_ifa_free(struct ifaddr *ifa)
{

	ifa_free(ifa);
}

/*
 * Source address of an advertisement (ifa_preferred's order, as ip_carp.c uses it): the
 * first non-CARP address of the family; failing that, the first CARP one whose vhid is
 * MASTER; failing that, the first one. Runs in the network epoch.
 */
int
carp_shim_if_source(struct ifnet *ifp, int af, uint8_t *out)
{
	struct ifaddr *ifa, *best = NULL;
	int rank, best_rank = 0;

	NET_EPOCH_ASSERT();
	CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link) {
		if (ifa->ifa_addr == NULL || ifa->ifa_addr->sa_family != af)
			continue;
		if (ifa->ifa_carp == NULL)
			rank = 3;
		else if (carp_rs_master(ifa))
			rank = 2;
		else
			rank = 1;
		if (rank > best_rank) {
			best = ifa;
			best_rank = rank;
		}
		if (rank == 3)
			break;
	}
	if (best == NULL)
		return (0);
	return (carp_shim_sa_addr(best->ifa_addr, out));
}

int
carp_shim_promisc(struct ifnet *ifp, int on)
{

	return (ifpromisc(ifp, on));
}

/* ---- Multicast membership and options (one per parent and family) ---- */

#define	CARP_DFLTTL	255

int
carp_shim_mcast4_join(struct ifnet *ifp, void **state)
{
	struct ip_moptions *imo;
	struct in_mfilter *imf;
	struct in_addr addr;
	int error;

	imo = malloc(sizeof(*imo), M_CARP, M_WAITOK | M_ZERO);
	/*
	 * No multicast router vif: with imo_multicast_vif 0 (M_ZERO), ip_output would
	 * take the source address from ip_mcast_src (INADDR_ANY without ip_mroute).
	 */
	imo->imo_multicast_vif = -1;
	imo->imo_multicast_ifp = ifp;
	imo->imo_multicast_ttl = CARP_DFLTTL;
	imo->imo_multicast_loop = 0;
	ip_mfilter_init(&imo->imo_head);
	imf = ip_mfilter_alloc(M_WAITOK, 0, 0);
	addr.s_addr = htonl(INADDR_CARP_GROUP);
	error = in_joingroup(ifp, &addr, NULL, &imf->imf_inm);
	if (error != 0) {
		ip_mfilter_free(imf);
		free(imo, M_CARP);
		return (error);
	}
	ip_mfilter_insert(&imo->imo_head, imf);
	*state = imo;
	return (0);
}

void
carp_shim_mcast4_leave(void *state)
{
	struct ip_moptions *imo = state;
	struct in_mfilter *imf;

	if (imo == NULL)
		return;
	while ((imf = ip_mfilter_first(&imo->imo_head)) != NULL) {
		ip_mfilter_remove(&imo->imo_head, imf);
		in_leavegroup(imf->imf_inm, NULL);
		ip_mfilter_free(imf);
	}
	free(imo, M_CARP);
}

int
carp_shim_mcast6_join(struct ifnet *ifp, void **state)
{
	struct ip6_moptions *im6o;
	struct in6_mfilter *im6f[2];
	struct in6_addr in6;
	int error;

	im6o = malloc(sizeof(*im6o), M_CARP, M_WAITOK | M_ZERO);
	im6o->im6o_multicast_ifp = ifp;
	im6o->im6o_multicast_hlim = CARP_DFLTTL;
	im6o->im6o_multicast_loop = 0;
	ip6_mfilter_init(&im6o->im6o_head);
	im6f[0] = ip6_mfilter_alloc(M_WAITOK, 0, 0);
	im6f[1] = ip6_mfilter_alloc(M_WAITOK, 0, 0);

	/* ff02::12 */
	bzero(&in6, sizeof(in6));
	in6.s6_addr16[0] = htons(0xff02);
	in6.s6_addr8[15] = 0x12;
	if ((error = in6_setscope(&in6, ifp, NULL)) != 0)
		goto fail;
	if ((error = in6_joingroup(ifp, &in6, NULL, &im6f[0]->im6f_in6m, 0)) != 0)
		goto fail;
	/* ff02::1:ff00:0 (solicited-node prefix, as ip_carp.c joins it) */
	bzero(&in6, sizeof(in6));
	in6.s6_addr16[0] = htons(0xff02);
	in6.s6_addr32[2] = htonl(1);
	in6.s6_addr32[3] = 0;
	in6.s6_addr8[12] = 0xff;
	if ((error = in6_setscope(&in6, ifp, NULL)) != 0 ||
	    (error = in6_joingroup(ifp, &in6, NULL, &im6f[1]->im6f_in6m, 0)) != 0) {
		in6_leavegroup(im6f[0]->im6f_in6m, NULL);
		goto fail;
	}
	ip6_mfilter_insert(&im6o->im6o_head, im6f[0]);
	ip6_mfilter_insert(&im6o->im6o_head, im6f[1]);
	*state = im6o;
	return (0);
fail:
	ip6_mfilter_free(im6f[0]);
	ip6_mfilter_free(im6f[1]);
	free(im6o, M_CARP);
	return (error);
}

int
carp_shim_sn6_join(struct ifnet *ifp, const uint8_t *addr, void **state)
{
	struct in6_multi *in6m = NULL;
	struct in6_addr sn;
	int error;

	/* ff02::1:ffXX:XXXX, the solicited-node group of addr (RFC 4291 2.7.1). */
	bzero(&sn, sizeof(sn));
	sn.s6_addr8[0] = 0xff;
	sn.s6_addr8[1] = 0x02;
	sn.s6_addr8[11] = 0x01;
	sn.s6_addr8[12] = 0xff;
	memcpy(&sn.s6_addr8[13], addr + 13, 3);
	if ((error = in6_setscope(&sn, ifp, NULL)) != 0)
		return (error);
	error = in6_joingroup(ifp, &sn, NULL, &in6m, 0);
	if (error != 0)
		return (error);
	*state = in6m;
	return (0);
}

void
carp_shim_sn6_leave(void *state)
{

	if (state != NULL)
		in6_leavegroup((struct in6_multi *)state, NULL);
}

void
carp_shim_mcast6_leave(void *state)
{
	struct ip6_moptions *im6o = state;
	struct in6_mfilter *im6f;

	if (im6o == NULL)
		return;
	while ((im6f = ip6_mfilter_first(&im6o->im6o_head)) != NULL) {
		ip6_mfilter_remove(&im6o->im6o_head, im6f);
		in6_leavegroup(im6f->im6f_in6m, NULL);
		ip6_mfilter_free(im6f);
	}
	free(im6o, M_CARP);
}

/* ---- Routes, gratuitous ARP, unsolicited NA ---- */

void
carp_shim_ifa_routes(struct ifaddr *ifa, int add)
{

	switch (ifa->ifa_addr->sa_family) {
	case AF_INET:
		if (add) {
			in_addprefix(ifatoia(ifa));
			ifa_add_loopback_route(ifa,
			    (struct sockaddr *)&ifatoia(ifa)->ia_addr);
		} else {
			ifa_del_loopback_route(ifa,
			    (struct sockaddr *)&ifatoia(ifa)->ia_addr);
			in_scrubprefix(ifatoia(ifa), LLE_STATIC);
		}
		break;
	case AF_INET6:
		if (add) {
			ifa_add_loopback_route(ifa,
			    (struct sockaddr *)&ifatoia6(ifa)->ia_addr);
			nd6_add_ifa_lle(ifatoia6(ifa));
		} else {
			ifa_del_loopback_route(ifa,
			    (struct sockaddr *)&ifatoia6(ifa)->ia_addr);
			nd6_rem_ifa_lle(ifatoia6(ifa), 1);
		}
		break;
	}
}

int
carp_shim_ifa_remove(struct ifaddr *ifa)
{
	struct ifnet *ifp = ifa->ifa_ifp;
	struct ifreq *ifr;
	int error;

	if (ifp == NULL || !carp_shim_if_has_ifa(ifp, ifa))
		return (EADDRNOTAVAIL);
	CURVNET_SET(ifp->if_vnet);
	switch (ifa->ifa_addr->sa_family) {
	case AF_INET:
		/* On the heap: a struct with a char array would bring in the stack guard. */
		ifr = malloc(sizeof(*ifr), M_CARP, M_WAITOK | M_ZERO);
		memcpy(&ifr->ifr_addr, ifa->ifa_addr, sizeof(struct sockaddr_in));
		/* As if_purgeaddrs: no socket, no credential (no privilege check). */
		error = in_control(NULL, SIOCDIFADDR, (caddr_t)ifr, ifp, NULL);
		free(ifr, M_CARP);
		break;
	case AF_INET6:
		in6_purgeifaddr((struct in6_ifaddr *)ifa);
		error = 0;
		break;
	default:
		error = EAFNOSUPPORT;
		break;
	}
	CURVNET_RESTORE();
	return (error);
}

void
carp_shim_garp(struct ifnet *ifp, const uint8_t *addr4, const uint8_t *mac)
{
	struct in_addr a;

	memcpy(&a, addr4, 4);
	arp_announce_ifaddr(ifp, a, __DECONST(u_char *, mac));
}

void
carp_shim_na(struct ifnet *ifp, const uint8_t *addr6)
{
	struct in6_addr a, dst;

	memcpy(&a, addr6, 16);
	if (in6_setscope(&a, ifp, NULL) != 0)
		return;
	/*
	 * ff02::1 with ifp's zone embedded: nd6_na_output_fib copies a multicast
	 * destination as given, and ip6_output drops a link-local destination whose
	 * embedded zone is not the outgoing interface's ("badscope"). Stock carp_send_na
	 * passes the unscoped in6addr_linklocal_allnodes, so its unsolicited NA never
	 * leaves FreeBSD 15; this one does.
	 */
	dst = in6addr_linklocal_allnodes;
	if (in6_setscope(&dst, ifp, NULL) != 0)
		return;
	nd6_na_output(ifp, &dst, &a, ND_NA_FLAG_OVERRIDE, 1, NULL);
}

/* ---- Advertisement output ---- */

uint16_t
carp_shim_ip_newid(void)
{
	struct ip ip;

	bzero(&ip, sizeof(ip));
	/*
	 * Adverts carry DF: with net.inet.ip.rfc6864 (the default) ip_fillid then
	 * gives id 0, as stock carp's adverts have.
	 */
	ip.ip_off = htons(IP_DF);
	ip_fillid(&ip, V_ip_random_id);
	return (ntohs(ip.ip_id));
}

int
carp_shim_send(struct ifnet *ifp, int af, const uint8_t *pkt, int len,
    int tag_vhid, void *mcast_state)
{
	struct mbuf *m;
	struct m_tag *mtag;
	struct carp_shim_tag *t;
	struct ip6_hdr *ip6;
	struct in6_addr src6, dst6;
	int multicast;

	if (len <= 0 || len > MJUMPAGESIZE)
		return (-1);
	m = m_get2(len, M_NOWAIT, MT_DATA, M_PKTHDR);
	if (m == NULL)
		return (-1);
	memcpy(mtod(m, void *), pkt, len);
	m->m_len = m->m_pkthdr.len = len;
	m->m_pkthdr.rcvif = NULL;
	if (tag_vhid > 0 && tag_vhid <= 255) {
		mtag = m_tag_get(PACKET_TAG_CARP, sizeof(*t), M_NOWAIT);
		if (mtag == NULL) {
			m_freem(m);
			return (-1);
		}
		t = (struct carp_shim_tag *)(mtag + 1);
		t->vhid = tag_vhid;
		t->rewrite = 1;
		memcpy(t->mac, carp_vmacs[tag_vhid], ETHER_ADDR_LEN);
		m_tag_prepend(m, mtag);
	}
	switch (af) {
	case AF_INET:
		multicast = IN_MULTICAST(ntohl(mtod(m, struct ip *)->ip_dst.s_addr));
		if (multicast)
			m->m_flags |= M_MCAST;
		return (ip_output(m, NULL, NULL, IP_RAWOUTPUT,
		    multicast ? mcast_state : NULL, NULL));
	case AF_INET6:
		ip6 = mtod(m, struct ip6_hdr *);
		memcpy(&src6, &ip6->ip6_src, sizeof(src6));
		memcpy(&dst6, &ip6->ip6_dst, sizeof(dst6));
		multicast = IN6_IS_ADDR_MULTICAST(&dst6);
		if (multicast)
			m->m_flags |= M_MCAST;
		/* Link-local and multicast scopes are embedded in the kernel's form. */
		if (in6_setscope(&src6, ifp, NULL) != 0 ||
		    in6_setscope(&dst6, ifp, NULL) != 0) {
			m_freem(m);
			return (EADDRNOTAVAIL);
		}
		memcpy(&ip6->ip6_src, &src6, sizeof(src6));
		memcpy(&ip6->ip6_dst, &dst6, sizeof(dst6));
		return (ip6_output(m, NULL, NULL, 0,
		    multicast ? mcast_state : NULL, NULL, NULL));
	default:
		m_freem(m);
		return (EAFNOSUPPORT);
	}
}

/* ---- Received packets ---- */

int
carp_shim_m_len(struct mbuf *m)
{

	return (m->m_pkthdr.len);
}

int
carp_shim_m_copydata(struct mbuf *m, int off, int len, uint8_t *out)
{

	if (off < 0 || len < 0 || off > m->m_pkthdr.len ||
	    len > m->m_pkthdr.len - off)
		return (EINVAL);
	m_copydata(m, off, len, (caddr_t)out);
	return (0);
}

struct ifnet *
carp_shim_m_rcvif(struct mbuf *m)
{

	return (m->m_pkthdr.rcvif);
}

void
carp_shim_m_freem(struct mbuf *m)
{

	m_freem(m);
}

/* ---- ioctl plumbing ---- */

int
carp_shim_ifr_copyin(struct ifreq *ifr, void *buf, size_t len)
{

	return (copyin(ifr_data_get_ptr(ifr), buf, len));
}

int
carp_shim_ifr_copyout(struct ifreq *ifr, const void *buf, size_t len)
{

	return (copyout(buf, ifr_data_get_ptr(ifr), len));
}

const char *
carp_shim_ifr_name(struct ifreq *ifr)
{

	return (ifr->ifr_name);
}

int
carp_shim_priv_check(struct thread *td)
{

	return (priv_check(td, PRIV_NETINET_CARP));
}

int
carp_shim_priv_check_cred(struct thread *td)
{

	return (priv_check_cred(td->td_ucred, PRIV_NETINET_CARP));
}

/* ---- devctl, random ---- */

void
carp_shim_devctl(const char *subsystem, const char *type)
{

	devctl_notify("CARP", subsystem, type, NULL);
}

uint32_t
carp_shim_arc4random(void)
{

	return (arc4random());
}
