/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Ethernet (sys/net/if_ethersubr.c), pfil(9) (sys/net/pfil.c), and the hardware the
 * simulation has: Ethernet NICs ("em", "vtnet"...) attached to simulated wires, plus lo0.
 *
 * A wire is a broadcast segment: a frame a NIC transmits is captured (hl_capture) and
 * queued for every other NIC on the same wire whose receive filter accepts it (its MAC,
 * broadcast, multicast, anything when IFF_PROMISC). The netisr thread takes frames off
 * that queue and runs ether_input on the receiving NIC inside the network epoch, as a
 * driver's receive interrupt and netisr's direct dispatch do.
 *
 * Hooks into carp.ko: carp_forus_p in ether_input (clears M_PROMISC for a MASTER's virtual
 * MAC), the link pfil head's input hooks in ether_demux (the module's ARP hook),
 * carp_output_p in ether_output after the Ethernet header is built.
 */
#include "kern.h"
#include "k_net.h"

VNET_DEFINE(pfil_head_t, link_pfil_head);

/* ---- pfil(9) ---- */

struct pfil_link {
	CK_STAILQ_ENTRY(pfil_link) link_chain;
	pfil_mbuf_chk_t	 link_mbuf_chk;
	void		*link_ruleset;
	int		 link_flags;
	struct pfil_hook *link_hook;
};

struct pfil_head {
	int		 head_nhooksin;		/* first: struct _pfil_head */
	int		 head_nhooksout;
	int		 head_flags;
	enum pfil_types	 head_type;
	const char	*head_name;
	CK_STAILQ_HEAD(pfil_chain, pfil_link) head_in;
	struct pfil_chain head_out;
	LIST_ENTRY(pfil_head) head_list;
};

struct pfil_hook {
	pfil_mbuf_chk_t	 hook_mbuf_chk;
	void		*hook_ruleset;
	int		 hook_flags;
	int		 hook_links;
	enum pfil_types	 hook_type;
	const char	*hook_modname;
	const char	*hook_rulname;
	LIST_ENTRY(pfil_hook) hook_list;
};

VNET_DEFINE_STATIC(LIST_HEAD(, pfil_head), pfil_head_list);
#define	V_pfil_head_list	VNET(pfil_head_list)
VNET_DEFINE_STATIC(LIST_HEAD(, pfil_hook), pfil_hook_list);
#define	V_pfil_hook_list	VNET(pfil_hook_list)
static struct mtx pfil_lock;

/* Fault injection for pfil_link: the next call fails with this errno (0: off). */
int kpfil_link_fail_errno;
int kpfil_link_fail_vnet = -1;

pfil_head_t
pfil_head_register(struct pfil_head_args *pa)
{
	struct pfil_head *head;

	head = malloc(sizeof(*head), M_PFIL, M_WAITOK | M_ZERO);
	head->head_flags = pa->pa_flags;
	head->head_type = pa->pa_type;
	head->head_name = pa->pa_headname;
	CK_STAILQ_INIT(&head->head_in);
	CK_STAILQ_INIT(&head->head_out);
	mtx_lock(&pfil_lock);
	LIST_INSERT_HEAD(&V_pfil_head_list, head, head_list);
	mtx_unlock(&pfil_lock);
	return (head);
}

static void
pfil_link_free(void *arg)
{

	free(arg, M_PFIL);
}

void
pfil_head_unregister(pfil_head_t head)
{
	struct pfil_link *link;

	mtx_lock(&pfil_lock);
	LIST_REMOVE(head, head_list);
	mtx_unlock(&pfil_lock);
	while ((link = CK_STAILQ_FIRST(&head->head_in)) != NULL) {
		CK_STAILQ_REMOVE_HEAD(&head->head_in, link_chain);
		link->link_hook->hook_links--;
		free(link, M_PFIL);
	}
	while ((link = CK_STAILQ_FIRST(&head->head_out)) != NULL) {
		CK_STAILQ_REMOVE_HEAD(&head->head_out, link_chain);
		link->link_hook->hook_links--;
		free(link, M_PFIL);
	}
	free(head, M_PFIL);
}

pfil_hook_t
pfil_add_hook(struct pfil_hook_args *pa)
{
	struct pfil_hook *hook, *list;

	if (pa->pa_version != PFIL_VERSION)
		kfail("pfil", "pfil_add_hook with version %d", pa->pa_version);
	ksleep_check("pfil_add_hook");
	hook = malloc(sizeof(*hook), M_PFIL, M_WAITOK | M_ZERO);
	hook->hook_mbuf_chk = pa->pa_mbuf_chk;
	hook->hook_ruleset = pa->pa_ruleset;
	hook->hook_flags = pa->pa_flags;
	hook->hook_type = pa->pa_type;
	hook->hook_modname = pa->pa_modname;
	hook->hook_rulname = pa->pa_rulname;
	mtx_lock(&pfil_lock);
	LIST_FOREACH(list, &V_pfil_hook_list, hook_list)
		if (strcmp(list->hook_modname, hook->hook_modname) == 0 &&
		    strcmp(list->hook_rulname, hook->hook_rulname) == 0)
			printf("pfil: duplicate hook \"%s:%s\"\n", hook->hook_modname,
			    hook->hook_rulname);
	LIST_INSERT_HEAD(&V_pfil_hook_list, hook, hook_list);
	mtx_unlock(&pfil_lock);
	return (hook);
}

static int
pfil_unlink_dir(struct pfil_head *head, struct pfil_hook *hook, int dir)
{
	struct pfil_link *link;
	int n = 0;

	for (;;) {
		if (dir == PFIL_IN) {
			CK_STAILQ_FOREACH(link, &head->head_in, link_chain)
				if (link->link_hook == hook)
					break;
			if (link == NULL)
				break;
			CK_STAILQ_REMOVE(&head->head_in, link, pfil_link, link_chain);
			head->head_nhooksin--;
		} else {
			CK_STAILQ_FOREACH(link, &head->head_out, link_chain)
				if (link->link_hook == hook)
					break;
			if (link == NULL)
				break;
			CK_STAILQ_REMOVE(&head->head_out, link, pfil_link, link_chain);
			head->head_nhooksout--;
		}
		hook->hook_links--;
		kepoch_call(pfil_link_free, link);
		n++;
	}
	return (n);
}

int
pfil_link(struct pfil_link_args *pa)
{
	struct pfil_head *head = NULL, *h;
	struct pfil_hook *hook = NULL, *k;
	struct pfil_link *in = NULL, *out = NULL, *link;
	int error = 0;

	if (pa->pa_version != PFIL_VERSION)
		kfail("pfil", "pfil_link with version %d", pa->pa_version);
	ksleep_check("pfil_link");
	if (kpfil_link_fail_errno != 0 && (pa->pa_flags & PFIL_UNLINK) == 0 &&
	    (kpfil_link_fail_vnet < 0 || kpfil_link_fail_vnet == kvnet_index(curvnet))) {
		error = kpfil_link_fail_errno;
		kpfil_link_fail_errno = 0;
		return (error);
	}
	if ((pa->pa_flags & PFIL_UNLINK) == 0) {
		if (pa->pa_flags & PFIL_IN)
			in = malloc(sizeof(*in), M_PFIL, M_WAITOK | M_ZERO);
		if (pa->pa_flags & PFIL_OUT)
			out = malloc(sizeof(*out), M_PFIL, M_WAITOK | M_ZERO);
	}
	mtx_lock(&pfil_lock);
	if (pa->pa_flags & PFIL_HEADPTR) {
		LIST_FOREACH(h, &V_pfil_head_list, head_list)
			if (h == pa->pa_head)
				head = h;
	} else
		LIST_FOREACH(h, &V_pfil_head_list, head_list)
			if (strcmp(h->head_name, pa->pa_headname) == 0)
				head = h;
	if (pa->pa_flags & PFIL_HOOKPTR) {
		LIST_FOREACH(k, &V_pfil_hook_list, hook_list)
			if (k == pa->pa_hook)
				hook = k;
	} else
		LIST_FOREACH(k, &V_pfil_hook_list, hook_list)
			if (strcmp(k->hook_modname, pa->pa_modname) == 0 &&
			    strcmp(k->hook_rulname, pa->pa_rulname) == 0)
				hook = k;
	if (head == NULL || hook == NULL) {
		error = ENOENT;
		goto done;
	}
	if (pa->pa_flags & PFIL_UNLINK) {
		int n = 0;

		if (pa->pa_flags & PFIL_IN)
			n += pfil_unlink_dir(head, hook, PFIL_IN);
		if (pa->pa_flags & PFIL_OUT)
			n += pfil_unlink_dir(head, hook, PFIL_OUT);
		error = n > 0 ? 0 : ENOENT;
		goto done;
	}
	if (head->head_type != hook->hook_type ||
	    ((hook->hook_flags & pa->pa_flags) & ~head->head_flags)) {
		error = EINVAL;
		goto done;
	}
	if (pa->pa_flags & PFIL_IN)
		CK_STAILQ_FOREACH(link, &head->head_in, link_chain)
			if (link->link_hook == hook) {
				error = EEXIST;
				goto done;
			}
	if (pa->pa_flags & PFIL_OUT)
		CK_STAILQ_FOREACH(link, &head->head_out, link_chain)
			if (link->link_hook == hook) {
				error = EEXIST;
				goto done;
			}
	if (pa->pa_flags & PFIL_IN) {
		in->link_hook = hook;
		in->link_mbuf_chk = hook->hook_mbuf_chk;
		in->link_ruleset = hook->hook_ruleset;
		in->link_flags = hook->hook_flags;
		if (pa->pa_flags & PFIL_APPEND)
			CK_STAILQ_INSERT_TAIL(&head->head_in, in, link_chain);
		else
			CK_STAILQ_INSERT_HEAD(&head->head_in, in, link_chain);
		hook->hook_links++;
		head->head_nhooksin++;
		in = NULL;
	}
	if (pa->pa_flags & PFIL_OUT) {
		out->link_hook = hook;
		out->link_mbuf_chk = hook->hook_mbuf_chk;
		out->link_ruleset = hook->hook_ruleset;
		out->link_flags = hook->hook_flags;
		if (pa->pa_flags & PFIL_APPEND)
			CK_STAILQ_INSERT_HEAD(&head->head_out, out, link_chain);
		else
			CK_STAILQ_INSERT_TAIL(&head->head_out, out, link_chain);
		hook->hook_links++;
		head->head_nhooksout++;
		out = NULL;
	}
done:
	mtx_unlock(&pfil_lock);
	free(in, M_PFIL);
	free(out, M_PFIL);
	return (error);
}

void
pfil_remove_hook(pfil_hook_t hook)
{
	struct pfil_head *head;
	struct pfil_hook *k;
	int found = 0;

	mtx_lock(&pfil_lock);
	LIST_FOREACH(head, &V_pfil_head_list, head_list) {
		pfil_unlink_dir(head, hook, PFIL_IN);
		pfil_unlink_dir(head, hook, PFIL_OUT);
	}
	LIST_FOREACH(k, &V_pfil_hook_list, hook_list)
		if (k == hook)
			found = 1;
	if (!found) {
		mtx_unlock(&pfil_lock);
		kfail("pfil", "pfil_remove_hook of a hook not in this VNET (%s)",
		    kvnet_name(curvnet));
		return;
	}
	LIST_REMOVE(hook, hook_list);
	if (hook->hook_links != 0)
		kfail("pfil", "pfil_remove_hook: hook still has %d links", hook->hook_links);
	mtx_unlock(&pfil_lock);
	free(hook, M_PFIL);
}

static int
pfil_mbuf_common(struct pfil_head *head, int dir, struct mbuf **m, struct ifnet *ifp)
{
	struct pfil_link *link;
	struct kcheck_state st;
	pfil_return_t rv = PFIL_PASS;

	NET_EPOCH_ASSERT();
	CK_STAILQ_FOREACH(link, dir == PFIL_IN ? &head->head_in : &head->head_out,
	    link_chain) {
		kcheck_save(&st);
		rv = link->link_mbuf_chk(m, ifp, dir, link->link_ruleset, NULL);
		kcheck_restore_check(&st, "pfil hook");
		if (rv == PFIL_DROPPED || rv == PFIL_CONSUMED) {
			if (*m != NULL)
				kfail("pfil", "pfil hook returned %s but left *mp set",
				    rv == PFIL_DROPPED ? "PFIL_DROPPED" : "PFIL_CONSUMED");
			break;
		}
		if (*m == NULL) {
			kfail("pfil", "pfil hook returned %d with *mp NULL", rv);
			return (PFIL_DROPPED);
		}
	}
	return (rv);
}

int
pfil_mbuf_in(struct pfil_head *head, struct mbuf **m, struct ifnet *ifp, struct inpcb *inp)
{

	return (pfil_mbuf_common(head, PFIL_IN, m, ifp));
}

int
pfil_mbuf_out(struct pfil_head *head, struct mbuf **m, struct ifnet *ifp, struct inpcb *inp)
{

	return (pfil_mbuf_common(head, PFIL_OUT, m, ifp));
}

/* Hooks of the current VNET whose function lies in [base, base+size). */
int
kpfil_hooks_in(struct vnet *vnet, unsigned long base, unsigned long size, int report)
{
	struct pfil_hook *k;
	int n = 0;

	CURVNET_SET_QUIET(vnet);
	LIST_FOREACH(k, &V_pfil_hook_list, hook_list)
		if ((unsigned long)k->hook_mbuf_chk >= base &&
		    (unsigned long)k->hook_mbuf_chk < base + size) {
			n++;
			if (report)
				kfail("pfil", "pfil hook %s:%s still added in VNET %s after "
				    "unload", k->hook_modname, k->hook_rulname,
				    kvnet_name(vnet));
		}
	CURVNET_RESTORE();
	return (n);
}


static void
vnet_ether_init(const void *unused)
{
	struct pfil_head_args args = {
		.pa_version = PFIL_VERSION,
		.pa_flags = PFIL_IN | PFIL_OUT,
		.pa_type = PFIL_TYPE_ETHERNET,
		.pa_headname = "ethernet",
	};

	LIST_INIT(&V_pfil_head_list);
	LIST_INIT(&V_pfil_hook_list);
	V_link_pfil_head = pfil_head_register(&args);
}
static struct vnet_sysinit vnet_ether_init_vs = {
	SI_SUB_PROTO_IF, SI_ORDER_ANY, vnet_ether_init, NULL
};

static void
vnet_ether_pfil_destroy(const void *unused)
{

	if (V_link_pfil_head != NULL)
		pfil_head_unregister(V_link_pfil_head);
	V_link_pfil_head = NULL;
}
static struct vnet_sysinit vnet_ether_pfil_destroy_vs = {
	SI_SUB_PROTO_PFIL, SI_ORDER_ANY, vnet_ether_pfil_destroy, NULL
};

/* The hook list itself goes last; hooks left on it would be leaks. */
static void
vnet_pfil_uninit(const void *unused)
{
	struct pfil_hook *k;

	while ((k = LIST_FIRST(&V_pfil_hook_list)) != NULL) {
		kfail("pfil", "VNET destroyed with pfil hook %s:%s still added",
		    k->hook_modname, k->hook_rulname);
		LIST_REMOVE(k, hook_list);
	}
}
static struct vnet_sysinit vnet_pfil_uninit_vs = {
	SI_SUB_PROTO_BEGIN, SI_ORDER_ANY, vnet_pfil_uninit, NULL
};

/* ---- Ethernet output ---- */

static const u_char etherbroadcastaddr[ETHER_ADDR_LEN] =
    { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

int	karpresolve(struct ifnet *ifp, struct mbuf *m, const struct sockaddr *dst,
	    u_char *desten);
int	knd6_resolve(struct ifnet *ifp, struct mbuf *m, const struct sockaddr *dst,
	    u_char *desten);

int
ether_output(struct ifnet *ifp, struct mbuf *m, const struct sockaddr *dst,
    struct route *ro)
{
	struct ether_header *eh;
	u_char edst[ETHER_ADDR_LEN];
	uint16_t type;
	int error, hlen = ETHER_HDR_LEN;

	if ((ifp->if_flags & IFF_UP) == 0 || (ifp->if_drv_flags & IFF_DRV_RUNNING) == 0) {
		m_freem(m);
		return (ENETDOWN);
	}
	if (ro != NULL && ro->ro_prepend != NULL) {
		/* The ARP code hands a complete Ethernet header. */
		M_PREPEND(m, ro->ro_plen, M_NOWAIT);
		if (m == NULL)
			return (ENOBUFS);
		memcpy(mtod(m, void *), ro->ro_prepend, ro->ro_plen);
		goto output;
	}
	switch (dst->sa_family) {
	case AF_INET:
		type = htons(ETHERTYPE_IP);
		if (m->m_flags & M_BCAST)
			memcpy(edst, etherbroadcastaddr, ETHER_ADDR_LEN);
		else if (m->m_flags & M_MCAST) {
			const uint8_t *a = (const uint8_t *)
			    &((const struct sockaddr_in *)dst)->sin_addr;

			edst[0] = 0x01; edst[1] = 0x00; edst[2] = 0x5e;
			edst[3] = a[1] & 0x7f; edst[4] = a[2]; edst[5] = a[3];
		} else {
			error = karpresolve(ifp, m, dst, edst);
			if (error != 0)
				return (error == EWOULDBLOCK ? 0 : error);
		}
		break;
	case AF_INET6:
		type = htons(ETHERTYPE_IPV6);
		if (m->m_flags & M_MCAST) {
			const uint8_t *a = (const uint8_t *)
			    &((const struct sockaddr_in6 *)dst)->sin6_addr;

			edst[0] = 0x33; edst[1] = 0x33;
			edst[2] = a[12]; edst[3] = a[13]; edst[4] = a[14]; edst[5] = a[15];
		} else {
			error = knd6_resolve(ifp, m, dst, edst);
			if (error != 0)
				return (error == EWOULDBLOCK ? 0 : error);
		}
		break;
	default:
		m_freem(m);
		return (EAFNOSUPPORT);
	}
	M_PREPEND(m, hlen, M_NOWAIT);
	if (m == NULL)
		return (ENOBUFS);
	eh = mtod(m, struct ether_header *);
	memcpy(eh->ether_dhost, edst, ETHER_ADDR_LEN);
	memcpy(eh->ether_shost, IF_LLADDR(ifp), ETHER_ADDR_LEN);
	eh->ether_type = type;
output:
	if (ifp->if_carp != NULL) {
		error = CARP_CALL(carp_output_p, ifp, m, dst);
		if (error != 0) {
			m_freem(m);
			return (error);
		}
	}
	return (ether_output_frame(ifp, m));
}

int
ether_output_frame(struct ifnet *ifp, struct mbuf *m)
{

	if (PFIL_HOOKED_OUT(V_link_pfil_head)) {
		switch (pfil_mbuf_out(V_link_pfil_head, &m, ifp, NULL)) {
		case PFIL_DROPPED:
			return (EACCES);
		case PFIL_CONSUMED:
			return (0);
		}
	}
	return (ifp->if_transmit(ifp, m));
}

/* ---- Ethernet input ---- */

void
ether_demux(struct ifnet *ifp, struct mbuf *m)
{
	struct ether_header *eh;
	uint16_t type;

	NET_EPOCH_ASSERT();
	if (PFIL_HOOKED_IN(V_link_pfil_head) && (m->m_flags & M_PROMISC) == 0) {
		if (pfil_mbuf_in(V_link_pfil_head, &m, ifp, NULL) != PFIL_PASS)
			return;
	}
	if ((m->m_flags & M_PROMISC) && (ifp->if_flags & IFF_PPROMISC) == 0) {
		m_freem(m);
		return;
	}
	eh = mtod(m, struct ether_header *);
	type = ntohs(eh->ether_type);
	m->m_flags &= ~M_VLANTAG;
	m_clrprotoflags(m);
	m_adj(m, ETHER_HDR_LEN);
	switch (type) {
	case ETHERTYPE_IP:
		ip_input(m);
		break;
	case ETHERTYPE_ARP:
		if (ifp->if_flags & IFF_NOARP) {
			m_freem(m);
			break;
		}
		arpintr(m);
		break;
	case ETHERTYPE_IPV6:
		ip6_input(m);
		break;
	default:
		m_freem(m);
	}
}

void
ether_input(struct ifnet *ifp, struct mbuf *m)
{
	struct ether_header *eh;

	NET_EPOCH_ASSERT();
	CURVNET_SET_QUIET(ifp->if_vnet);
	if ((ifp->if_flags & IFF_UP) == 0 || m->m_len < ETHER_HDR_LEN) {
		m_freem(m);
		goto out;
	}
	m->m_pkthdr.rcvif = ifp;
	eh = mtod(m, struct ether_header *);
	if (ETHER_IS_MULTICAST(eh->ether_dhost)) {
		if (memcmp(eh->ether_dhost, etherbroadcastaddr, ETHER_ADDR_LEN) == 0)
			m->m_flags |= M_BCAST;
		else
			m->m_flags |= M_MCAST;
	}
	if_inc_counter(ifp, IFCOUNTER_IPACKETS, 1);
	if_inc_counter(ifp, IFCOUNTER_IBYTES, m->m_pkthdr.len);
	if (ifp->if_carp != NULL && CARP_CALL(carp_forus_p, ifp, eh->ether_dhost))
		m->m_flags &= ~M_PROMISC;
	else if (!ETHER_IS_MULTICAST(eh->ether_dhost) &&
	    memcmp(IF_LLADDR(ifp), eh->ether_dhost, ETHER_ADDR_LEN) != 0)
		m->m_flags |= M_PROMISC;
	ether_demux(ifp, m);
out:
	CURVNET_RESTORE();
}

/* ---- ether_ifattach and the NIC driver ---- */

struct knic {
	struct ifnet	*ifp;
	uint8_t		 mac[ETHER_ADDR_LEN];
	int		 wire;
	int		 carrier;
	int		 txfail_error, txfail_count;
	int		 in_use;
};
static struct knic knics[KNIC_MAX];

static int
ether_resolvemulti(struct ifnet *ifp, struct sockaddr **llsa, struct sockaddr *sa)
{
	struct sockaddr_dl *sdl;
	const uint8_t *a;
	uint8_t *e;

	switch (sa->sa_family) {
	case AF_LINK:
		*llsa = NULL;
		return (0);
	case AF_INET:
		if (!IN_MULTICAST(ntohl(((struct sockaddr_in *)sa)->sin_addr.s_addr)))
			return (EADDRNOTAVAIL);
		break;
	case AF_INET6:
		if (!IN6_IS_ADDR_MULTICAST(&((struct sockaddr_in6 *)sa)->sin6_addr))
			return (EADDRNOTAVAIL);
		break;
	default:
		return (EAFNOSUPPORT);
	}
	sdl = malloc(sizeof(*sdl), M_IFMADDR, M_NOWAIT | M_ZERO);
	if (sdl == NULL)
		return (ENOMEM);
	sdl->sdl_len = sizeof(*sdl);
	sdl->sdl_family = AF_LINK;
	sdl->sdl_index = ifp->if_index;
	sdl->sdl_type = IFT_ETHER;
	sdl->sdl_alen = ETHER_ADDR_LEN;
	e = (uint8_t *)LLADDR(sdl);
	if (sa->sa_family == AF_INET) {
		a = (const uint8_t *)&((struct sockaddr_in *)sa)->sin_addr;
		e[0] = 0x01; e[1] = 0x00; e[2] = 0x5e;
		e[3] = a[1] & 0x7f; e[4] = a[2]; e[5] = a[3];
	} else {
		a = (const uint8_t *)&((struct sockaddr_in6 *)sa)->sin6_addr;
		e[0] = 0x33; e[1] = 0x33;
		e[2] = a[12]; e[3] = a[13]; e[4] = a[14]; e[5] = a[15];
	}
	*llsa = (struct sockaddr *)sdl;
	return (0);
}

void
ether_ifattach(struct ifnet *ifp, const u_int8_t *lla)
{
	struct sockaddr_dl *sdl;

	ifp->if_addrlen = ETHER_ADDR_LEN;
	ifp->if_hdrlen = ETHER_HDR_LEN;
	ifp->if_mtu = ETHERMTU;
	if_attach(ifp);
	ifp->if_output = ether_output;
	ifp->if_input = ether_input;
	ifp->if_resolvemulti = ether_resolvemulti;
	ifp->if_broadcastaddr = etherbroadcastaddr;
	sdl = (struct sockaddr_dl *)ifp->if_addr->ifa_addr;
	sdl->sdl_type = IFT_ETHER;
	sdl->sdl_alen = ifp->if_addrlen;
	memcpy(LLADDR(sdl), lla, ifp->if_addrlen);
	ifp->if_hw_addr = malloc(ifp->if_addrlen, M_IFADDR, M_WAITOK);
	memcpy(ifp->if_hw_addr, lla, ifp->if_addrlen);
	if (IS_DEFAULT_VNET(curvnet))
		devctl_notify("ETHERNET", ifp->if_xname, "IFATTACH", NULL);
}

void
ether_ifdetach(struct ifnet *ifp)
{

	if_detach(ifp);
}

static struct knic *
knic_of(struct ifnet *ifp)
{
	int i;

	for (i = 0; i < KNIC_MAX; i++)
		if (knics[i].in_use && knics[i].ifp == ifp)
			return (&knics[i]);
	return (NULL);
}

int
knic_is_nic(struct ifnet *ifp)
{

	return (knic_of(ifp) != NULL);
}

static void
knic_init(void *softc)
{
	struct knic *nic = softc;

	nic->ifp->if_drv_flags |= IFF_DRV_RUNNING;
}

static int
knic_ioctl(struct ifnet *ifp, u_long cmd, caddr_t data)
{
	struct knic *nic = ifp->if_softc;
	struct ifaddr *ifa = (struct ifaddr *)data;

	switch (cmd) {
	case SIOCSIFADDR:
		/* ether_ioctl: up, init, gratuitous ARP for IPv4 (arp_ifinit). */
		ifp->if_flags |= IFF_UP;
		knic_init(nic);
		if (ifa->ifa_addr->sa_family == AF_INET)
			arp_ifinit(ifp, ifa);
		return (0);
	case SIOCSIFFLAGS:
		if (ifp->if_flags & IFF_UP)
			knic_init(nic);
		else
			ifp->if_drv_flags &= ~IFF_DRV_RUNNING;
		return (0);
	case SIOCADDMULTI:
	case SIOCDELMULTI:
		return (0);
	case SIOCSIFMTU: {
		struct ifreq *ifr = (struct ifreq *)data;

		if (ifr->ifr_mtu > ETHERMTU || ifr->ifr_mtu < 68)
			return (EINVAL);
		ifp->if_mtu = ifr->ifr_mtu;
		return (0);
	}
	default:
		return (EINVAL);
	}
}

/* ---- Wires and the netisr ---- */

struct kframe {
	struct kframe	*next;
	struct ifnet	*ifp;		/* referenced */
	unsigned	 len;
	uint8_t		 data[];
};
static struct kframe *rxq_head, **rxq_tail = &rxq_head;
static int rxq_len;
static int netisr_chan;
static struct hthread *netisr_td;

static int
knic_accepts(struct knic *nic, const uint8_t *frame)
{
	struct ifnet *ifp = nic->ifp;

	if (!nic->carrier || (ifp->if_flags & IFF_DYING))
		return (0);
	if (ifp->if_flags & IFF_PROMISC)
		return (1);
	if (ETHER_IS_MULTICAST(frame))
		return (1);
	return (memcmp(frame, nic->mac, ETHER_ADDR_LEN) == 0);
}

static void
rxq_push(struct ifnet *ifp, const uint8_t *frame, unsigned len)
{
	struct kframe *f;

	f = hl_alloc(sizeof(*f) + len);
	memcpy(f->data, frame, len);
	f->len = len;
	f->ifp = ifp;
	if_ref(ifp);
	hl_giant_lock();
	*rxq_tail = f;
	rxq_tail = &f->next;
	rxq_len++;
	kwakeup(&netisr_chan);
	hl_giant_unlock();
}

/* A frame is on wire `wire`: every NIC on it but `from` (and only `only`, if given) sees it. */
static void
kwire_deliver(int wire, const uint8_t *frame, unsigned len, struct knic *from,
    struct ifnet *only)
{
	int i;

	for (i = 0; i < KNIC_MAX; i++) {
		struct knic *nic = &knics[i];

		if (!nic->in_use || nic == from || nic->wire != wire || wire == 0)
			continue;
		if (only != NULL && nic->ifp != only)
			continue;
		if (knic_accepts(nic, frame))
			rxq_push(nic->ifp, frame, len);
	}
}

void
kwire_inject(int wire, const uint8_t *frame, unsigned len, struct ifnet *only)
{

	hl_capture(wire, frame, len);
	kwire_deliver(wire, frame, len, NULL, only);
}

static int
knic_transmit(struct ifnet *ifp, struct mbuf *m)
{
	struct knic *nic = ifp->if_softc;
	uint8_t frame[2048];
	unsigned len;

	if ((m->m_flags & M_PKTHDR) == 0) {
		kfail("mbuf", "if_transmit of an mbuf without M_PKTHDR");
		m_freem(m);
		return (EINVAL);
	}
	len = m->m_pkthdr.len;
	if (nic->txfail_count > 0) {
		nic->txfail_count--;
		m_freem(m);
		if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
		return (nic->txfail_error);
	}
	if (len > sizeof(frame) || len < ETHER_HDR_LEN) {
		kfail("ether", "%s: transmit of a %u-byte frame", ifp->if_xname, len);
		m_freem(m);
		return (EINVAL);
	}
	m_copydata(m, 0, len, (caddr_t)frame);
	m_freem(m);
	if_inc_counter(ifp, IFCOUNTER_OPACKETS, 1);
	if_inc_counter(ifp, IFCOUNTER_OBYTES, len);
	if (!nic->carrier)
		return (0);	/* no carrier: the frame goes nowhere */
	/* Short frames are padded by the hardware. */
	if (len < 60) {
		memset(frame + len, 0, 60 - len);
		len = 60;
	}
	hl_capture(nic->wire, frame, len);
	hl_wire_out(nic->wire, frame, len);
	kwire_deliver(nic->wire, frame, len, nic, NULL);
	return (0);
}

/* A live wire's receive thread: what arrives on the Linux interface goes on the wire. */
struct klive {
	int	wire;
	int	fd;
};

static void
klive_rx(void *arg)
{
	struct klive *l = arg;
	uint8_t frame[2048];
	int n;

	for (;;) {
		n = hl_wire_recv(l->fd, frame, sizeof(frame));
		if (n >= ETHER_HDR_LEN)
			kwire_inject(l->wire, frame, (unsigned)n, NULL);
		else if (n < 0)
			break;
	}
	printf("ethrx: wire %d: receive error; the live wire is deaf from now on\n", l->wire);
	for (;;)
		(void)ksleep_nocheck(l, 0, "deaf");
}

void
klive_attach(int wire, int fd)
{
	struct klive *l = hl_alloc(sizeof(*l));

	l->wire = wire;
	l->fd = fd;
	(void)kthread_create("ethrx", 1, klive_rx, l);
}

static void
knic_qflush(struct ifnet *ifp)
{
}

static void
netisr_main(void *arg)
{
	struct epoch_tracker et;
	struct kframe *f;
	struct mbuf *m;

	(void)arg;
	hl_giant_lock();
	for (;;) {
		f = rxq_head;
		if (f == NULL) {
			ksleep_nocheck(&netisr_chan, 0, "-");
			continue;
		}
		rxq_head = f->next;
		if (rxq_head == NULL)
			rxq_tail = &rxq_head;
		rxq_len--;
		hl_giant_unlock();

		m = m_get2(f->len, M_WAITOK, MT_DATA, M_PKTHDR);
		memcpy(mtod(m, void *), f->data, f->len);
		m->m_len = m->m_pkthdr.len = f->len;
		m->m_pkthdr.rcvif = f->ifp;
		NET_EPOCH_ENTER(et);
		if ((f->ifp->if_flags & IFF_DYING) == 0 && f->ifp->if_input != NULL)
			f->ifp->if_input(f->ifp, m);
		else
			m_freem(m);
		NET_EPOCH_EXIT(et);
		if_rele(f->ifp);
		hl_release(f, sizeof(*f) + f->len);
		hl_giant_lock();
	}
}

int
knetisr_pending(void)
{

	return (rxq_len);
}

struct ifnet *
knic_create(const char *name, int type, const uint8_t *mac, int wire)
{
	struct knic *nic = NULL;
	struct ifnet *ifp;
	char dname[IFNAMSIZ];
	int i, unit = 0, n;

	for (i = 0; i < KNIC_MAX; i++)
		if (!knics[i].in_use) {
			nic = &knics[i];
			break;
		}
	if (nic == NULL)
		return (NULL);
	/* "em0" → driver "em", unit 0 */
	n = strlen(name);
	while (n > 0 && name[n - 1] >= '0' && name[n - 1] <= '9')
		n--;
	if (n == 0 || n >= IFNAMSIZ)
		return (NULL);
	memcpy(dname, name, n);
	dname[n] = '\0';
	for (i = n; name[i] != '\0'; i++)
		unit = unit * 10 + (name[i] - '0');
	memset(nic, 0, sizeof(*nic));
	nic->in_use = 1;
	memcpy(nic->mac, mac, ETHER_ADDR_LEN);
	nic->wire = wire;
	nic->carrier = 1;
	ifp = if_alloc(type);
	nic->ifp = ifp;
	ifp->if_softc = nic;
	/* The driver name must outlive the interface: kept in the NIC record. */
	{
		static char dnames[KNIC_MAX][IFNAMSIZ];

		strlcpy(dnames[nic - knics], dname, IFNAMSIZ);
		if_initname(ifp, dnames[nic - knics], unit);
	}
	ifp->if_flags = IFF_BROADCAST | IFF_SIMPLEX | IFF_MULTICAST;
	ifp->if_ioctl = knic_ioctl;
	ifp->if_init = knic_init;
	ifp->if_transmit = knic_transmit;
	ifp->if_qflush = knic_qflush;
	ether_ifattach(ifp, mac);
	ifp->if_link_state = LINK_STATE_UP;
	return (ifp);
}

int
knic_destroy(struct ifnet *ifp)
{
	struct knic *nic = knic_of(ifp);

	if (nic == NULL)
		return (ENXIO);
	ether_ifdetach(ifp);
	nic->in_use = 0;
	nic->ifp = NULL;
	if_free(ifp);
	return (0);
}

int
knic_wire(struct ifnet *ifp)
{
	struct knic *nic = knic_of(ifp);

	return (nic ? nic->wire : -1);
}

void
knic_set_wire(struct ifnet *ifp, int wire)
{
	struct knic *nic = knic_of(ifp);

	if (nic)
		nic->wire = wire;
}

/* Cable plugged in or pulled: the driver reports the link state. */
void
knic_set_carrier(struct ifnet *ifp, int up)
{
	struct knic *nic = knic_of(ifp);

	if (nic == NULL)
		return;
	nic->carrier = up;
	if_link_state_change(ifp, up ? LINK_STATE_UP : LINK_STATE_DOWN);
}

void
knic_set_txfail(struct ifnet *ifp, int error, int count)
{
	struct knic *nic = knic_of(ifp);

	if (nic) {
		nic->txfail_error = error;
		nic->txfail_count = count;
	}
}

/* ---- lo0 ---- */

static int
lo_output(struct ifnet *ifp, struct mbuf *m, const struct sockaddr *dst, struct route *ro)
{

	/* Local delivery is not modelled beyond accounting: the packet is consumed. */
	if_inc_counter(ifp, IFCOUNTER_OPACKETS, 1);
	m_freem(m);
	return (0);
}

static int
lo_ioctl(struct ifnet *ifp, u_long cmd, caddr_t data)
{

	switch (cmd) {
	case SIOCSIFADDR:
		ifp->if_flags |= IFF_UP;
		ifp->if_drv_flags |= IFF_DRV_RUNNING;
		return (0);
	case SIOCSIFFLAGS:
	case SIOCADDMULTI:
	case SIOCDELMULTI:
		return (0);
	default:
		return (EINVAL);
	}
}

static int
lo_transmit(struct ifnet *ifp, struct mbuf *m)
{

	m_freem(m);
	return (0);
}

static void
vnet_loif_init(const void *unused)
{
	struct ifnet *ifp;

	ifp = if_alloc(IFT_LOOP);
	if_initname(ifp, "lo", 0);
	ifp->if_mtu = 16384;
	ifp->if_flags = IFF_LOOPBACK | IFF_MULTICAST;
	ifp->if_ioctl = lo_ioctl;
	ifp->if_output = lo_output;
	ifp->if_transmit = lo_transmit;
	if_attach(ifp);
	ifp->if_flags |= IFF_UP;
	ifp->if_drv_flags |= IFF_DRV_RUNNING;
	V_loif = ifp;
}
static struct vnet_sysinit vnet_loif_init_vs = {
	SI_SUB_PSEUDO, SI_ORDER_ANY, vnet_loif_init, NULL
};

static void
vnet_loif_uninit(const void *unused)
{
	struct ifnet *ifp = V_loif;

	if (ifp == NULL)
		return;
	if_detach(ifp);
	if_free(ifp);
	V_loif = NULL;
}
static struct vnet_sysinit vnet_loif_uninit_vs = {
	SI_SUB_INIT_IF, SI_ORDER_SECOND, vnet_loif_uninit, NULL
};

/* Interfaces of a dying VNET that are neither loaned nor cloned: NICs go back to vnet0. */
static void
vnet_if_return(const void *unused)
{

	kif_vnet_return(curvnet);
}
static struct vnet_sysinit vnet_if_return_vs = {
	SI_SUB_VNET_DONE, SI_ORDER_ANY, vnet_if_return, NULL
};

static void
vnet_if_init(const void *unused)
{

	CK_STAILQ_INIT(&V_ifnet);
}
static struct vnet_sysinit vnet_if_init_vs = {
	SI_SUB_INIT_IF, SI_ORDER_FIRST, vnet_if_init, NULL
};

static void
vnet_if_uninit(const void *unused)
{
	struct ifnet *ifp;

	CK_STAILQ_FOREACH(ifp, &V_ifnet, if_link)
		kfail("vnet", "VNET %s destroyed with interface %s still on it",
		    kvnet_name(curvnet), ifp->if_xname);
}
static struct vnet_sysinit vnet_if_uninit_vs = {
	SI_SUB_INIT_IF, SI_ORDER_FIRST, vnet_if_uninit, NULL
};

void
kether_boot(void)
{

	mtx_init(&pfil_lock, "pfil", NULL, MTX_DEF);
	vnet_register_sysinit(&vnet_if_init_vs);
	vnet_register_sysuninit(&vnet_if_uninit_vs);
	vnet_register_sysinit(&vnet_ether_init_vs);
	vnet_register_sysuninit(&vnet_ether_pfil_destroy_vs);
	vnet_register_sysuninit(&vnet_pfil_uninit_vs);
	vnet_register_sysinit(&vnet_loif_init_vs);
	vnet_register_sysuninit(&vnet_loif_uninit_vs);
	vnet_register_sysuninit(&vnet_if_return_vs);
	netisr_td = kthread_create("netisr", 1, netisr_main, NULL);
}
