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

/* Whether the current thread may sleep (a detach takes the sx lock and waits for the epoch). */
int
carp_shim_can_sleep(void)
{

	return (THREAD_CAN_SLEEP() && !in_epoch(net_epoch_preempt));
}

/* ---- Generic netlink family "carp" ---- */

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

/* ---- Event handlers (their bodies are Rust's carp_rs_ifnet_* / carp_rs_ifaddr_event) ---- */

static eventhandler_tag carp_ifdetach_tag, carp_ifarrival_tag, carp_ifaddr_tag,
    carp_ifevent_tag;

int
carp_shim_ifdetach_register(void)
{

	carp_ifdetach_tag = EVENTHANDLER_REGISTER(ifnet_departure_event,
	    carp_rs_ifnet_departure, NULL, EVENTHANDLER_PRI_ANY);
	if (carp_ifdetach_tag == NULL)
		return (ENOMEM);
	carp_ifarrival_tag = EVENTHANDLER_REGISTER(ifnet_arrival_event,
	    carp_rs_ifnet_arrival, NULL, EVENTHANDLER_PRI_ANY);
	if (carp_ifarrival_tag == NULL) {
		EVENTHANDLER_DEREGISTER(ifnet_departure_event, carp_ifdetach_tag);
		carp_ifdetach_tag = NULL;
		return (ENOMEM);
	}
	carp_ifaddr_tag = EVENTHANDLER_REGISTER(ifaddr_event_ext, carp_rs_ifaddr_event,
	    NULL, EVENTHANDLER_PRI_ANY);
	if (carp_ifaddr_tag == NULL) {
		EVENTHANDLER_DEREGISTER(ifnet_arrival_event, carp_ifarrival_tag);
		carp_ifarrival_tag = NULL;
		EVENTHANDLER_DEREGISTER(ifnet_departure_event, carp_ifdetach_tag);
		carp_ifdetach_tag = NULL;
		return (ENOMEM);
	}
	carp_ifevent_tag = EVENTHANDLER_REGISTER(ifnet_event, carp_rs_ifnet_event,
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
	if (tag_vhid > 0 && tag_vhid <= 255 && !carp_shim_tag_vmac(m, tag_vhid)) {
		m_freem(m);
		return (-1);
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
