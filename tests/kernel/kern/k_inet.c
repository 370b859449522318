/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * IPv4: addresses (sys/netinet/in.c's in_control with SIOCAIFADDR / SIOCDIFADDR), connected
 * and loopback routes, ARP (sys/netinet/if_ether.c), multicast memberships (in_mcast.c,
 * without IGMP), ip_output (the multicast/raw path CARP uses, and unicast through ARP),
 * ip_input with protocol delivery (ipproto_register), ICMP echo for local addresses.
 *
 * Hooks into carp.ko, where FreeBSD 15 calls them: carp_attach_p in in_aifaddr_ioctl
 * before the address is linked (vhid != 0), carp_detach_p in in_difaddr_ioctl (keep_cif
 * true when replacing) and on the add's error path, carp_iamatch_p in in_arpinput and in
 * the source choice of arprequest, protocol 112 input through ip_protox.
 */
#include "kern.h"
#include "k_net.h"
#include <netinet/ip_icmp.h>

#define	IN_CLASSA_NSHIFT_SIM	24

VNET_DEFINE(struct in_ifaddrhead, in_ifaddrhead);
VNET_DEFINE(int, ip_random_id) = 0;
VNET_DEFINE_STATIC(int, ip_rfc6864) = 1;
#define	V_ip_rfc6864	VNET(ip_rfc6864)

static struct sx in_control_sx;
struct sx in_multi_sx;

/* ---- Small helpers ---- */

int
ksa_format(const struct sockaddr *sa, char *buf, size_t len)
{
	const uint8_t *a;

	if (sa == NULL)
		return (snprintf(buf, len, "(none)"));
	switch (sa->sa_family) {
	case AF_INET:
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		return (snprintf(buf, len, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]));
	case AF_INET6: {
		/* RFC 5952 text; a KAME embedded zone (link-local scopes) is not shown. */
		uint16_t w[8];
		int i, n = 0, best = -1, bestlen = 1, run;

		memcpy(w, &((const struct sockaddr_in6 *)sa)->sin6_addr, sizeof(w));
		for (i = 0; i < 8; i++)
			w[i] = ntohs(w[i]);
		if ((w[0] & 0xffc0) == 0xfe80 || (w[0] & 0xff0f) == 0xff01 ||
		    (w[0] & 0xff0f) == 0xff02)
			w[1] = 0;
		for (i = 0; i < 8; i += run ? run : 1) {
			for (run = 0; i + run < 8 && w[i + run] == 0; run++)
				;
			if (run > bestlen) {
				best = i;
				bestlen = run;
			}
		}
		for (i = 0; i < 8; i++) {
			if (i == best) {
				n += snprintf(buf + n, len > (size_t)n ? len - n : 0, "::");
				i += bestlen - 1;
				continue;
			}
			n += snprintf(buf + n, len > (size_t)n ? len - n : 0, "%s%x",
			    (i == 0 || i == best + bestlen) ? "" : ":", w[i]);
		}
		return (n);
	}
	case AF_LINK:
		return (snprintf(buf, len, "link#%d",
		    ((const struct sockaddr_dl *)sa)->sdl_index));
	default:
		return (snprintf(buf, len, "af%d", sa->sa_family));
	}
}

static int
kin_mask2len(struct in_addr mask)
{
	uint32_t m = ntohl(mask.s_addr);
	int n = 0;

	while (m & 0x80000000U) {
		n++;
		m <<= 1;
	}
	return (n);
}

/* ---- Routes: one table per VNET ---- */

struct krt {
	TAILQ_ENTRY(krt) link;
	int		 af;
	uint8_t		 addr[16];
	int		 plen;
	int		 flags;
	struct ifaddr	*ifa;		/* referenced */
	struct ifnet	*ifp;		/* the interface the route points at (lo0 for loopback) */
};
VNET_DEFINE_STATIC(TAILQ_HEAD(, krt), krt_head);
#define	V_krt_head	VNET(krt_head)
static struct mtx krt_mtx;

static int
krt_match(const struct krt *r, int af, const void *addr, int plen)
{

	return (r->af == af && r->plen == plen &&
	    memcmp(r->addr, addr, af == AF_INET ? 4 : 16) == 0);
}

static void
krt_mask(int af, uint8_t *a, int plen)
{
	int i, n = af == AF_INET ? 4 : 16;

	for (i = 0; i < n; i++) {
		int bits = plen - i * 8;

		if (bits >= 8)
			continue;
		a[i] &= bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
	}
}

/* The table's key of (af, addr/plen): the address with its host bits cleared. */
static void
krt_key(int af, const void *addr, int plen, uint8_t key[16])
{

	memset(key, 0, 16);
	memcpy(key, addr, af == AF_INET ? 4 : 16);
	krt_mask(af, key, plen);
}

int
krt_add(int af, const void *addr, int plen, struct ifaddr *ifa, int flags)
{
	struct krt *r;
	uint8_t key[16];

	krt_key(af, addr, plen, key);
	mtx_lock(&krt_mtx);
	TAILQ_FOREACH(r, &V_krt_head, link)
		if (krt_match(r, af, key, plen)) {
			mtx_unlock(&krt_mtx);
			return (EEXIST);
		}
	mtx_unlock(&krt_mtx);
	/* rib_action allocates without sleeping (callers may be in the epoch). */
	r = malloc(sizeof(*r), M_RTABLE, M_NOWAIT | M_ZERO);
	if (r == NULL)
		return (ENOBUFS);
	r->af = af;
	memcpy(r->addr, key, sizeof(key));
	r->plen = plen;
	r->flags = flags;
	r->ifa = ifa;
	ifa_ref(ifa);
	r->ifp = (flags & KRT_LOOPBACK) ? V_loif : ifa->ifa_ifp;
	mtx_lock(&krt_mtx);
	TAILQ_INSERT_TAIL(&V_krt_head, r, link);
	mtx_unlock(&krt_mtx);
	return (0);
}

/*
 * Deletes the route (af, addr/plen) with `flags` whose ifa is `ifa` and lives on `ifp`
 * (NULL: any).
 */
static int
krt_del_match(int af, const void *addr, int plen, int flags, struct ifaddr *ifa,
    struct ifnet *ifp)
{
	struct krt *r;
	uint8_t key[16];

	krt_key(af, addr, plen, key);
	mtx_lock(&krt_mtx);
	TAILQ_FOREACH(r, &V_krt_head, link)
		if (krt_match(r, af, key, plen) && (r->flags & flags) == flags &&
		    (ifa == NULL || r->ifa == ifa) && (ifp == NULL || r->ifa->ifa_ifp == ifp))
			break;
	if (r != NULL)
		TAILQ_REMOVE(&V_krt_head, r, link);
	mtx_unlock(&krt_mtx);
	if (r == NULL)
		return (ESRCH);
	ifa_free(r->ifa);
	free(r, M_RTABLE);
	return (0);
}

/* Deletes the route (af, addr/plen) with `flags`; ifa NULL matches any. */
int
krt_del(int af, const void *addr, int plen, int flags, struct ifaddr *ifa)
{

	return (krt_del_match(af, addr, plen, flags, ifa, NULL));
}

static struct krt *
krt_find_exact(int af, const void *addr, int plen, int flags)
{
	struct krt *r;
	uint8_t key[16];

	krt_key(af, addr, plen, key);
	TAILQ_FOREACH(r, &V_krt_head, link)
		if (krt_match(r, af, key, plen) && (r->flags & flags) == flags)
			return (r);
	return (NULL);
}

/* Longest-prefix match; returns the prefix length or -1. */
int
krt_lookup(int af, const void *addr, struct ifnet **ifpp, int *flagsp)
{
	struct krt *r, *best = NULL;
	uint8_t key[16];

	TAILQ_FOREACH(r, &V_krt_head, link) {
		if (r->af != af)
			continue;
		krt_key(af, addr, r->plen, key);
		if (memcmp(key, r->addr, af == AF_INET ? 4 : 16) != 0)
			continue;
		if (best == NULL || r->plen > best->plen)
			best = r;
	}
	if (best == NULL)
		return (-1);
	if (ifpp)
		*ifpp = best->ifp;
	if (flagsp)
		*flagsp = best->flags;
	return (best->plen);
}

/* rt_flushifroutes: routes through ifp go with it. */
void
krt_flush_ifp(struct ifnet *ifp)
{
	struct krt *r, *next;

	CURVNET_SET_QUIET(ifp->if_vnet);
	mtx_lock(&krt_mtx);
	TAILQ_FOREACH_SAFE(r, &V_krt_head, link, next)
		if (r->ifa->ifa_ifp == ifp) {
			TAILQ_REMOVE(&V_krt_head, r, link);
			mtx_unlock(&krt_mtx);
			ifa_free(r->ifa);
			free(r, M_RTABLE);
			mtx_lock(&krt_mtx);
			next = TAILQ_FIRST(&V_krt_head);
		}
	mtx_unlock(&krt_mtx);
	CURVNET_RESTORE();
}

int
krt_dump(struct vnet *vnet, char *buf, size_t len)
{
	struct krt *r;
	size_t n = 0;
	char a[64];

	CURVNET_SET_QUIET(vnet);
	TAILQ_FOREACH(r, &V_krt_head, link) {
		if (r->af == AF_INET) {
			struct sockaddr_in sin = { .sin_len = sizeof(sin), .sin_family = AF_INET };

			memcpy(&sin.sin_addr, r->addr, 4);
			ksa_format((struct sockaddr *)&sin, a, sizeof(a));
		} else {
			struct sockaddr_in6 sin6 = { .sin6_len = sizeof(sin6),
			    .sin6_family = AF_INET6 };

			memcpy(&sin6.sin6_addr, r->addr, 16);
			in6_clearscope(&sin6.sin6_addr);
			ksa_format((struct sockaddr *)&sin6, a, sizeof(a));
		}
		n += snprintf(buf + n, n < len ? len - n : 0, "route %s %s/%d %s%s%s via %s\n",
		    kvnet_name(vnet), a, r->plen, r->ifp ? r->ifp->if_xname : "?",
		    (r->flags & KRT_LOOPBACK) ? " loopback" : "",
		    (r->flags & KRT_PREFIX) ? " prefix" : "",
		    r->ifa->ifa_ifp->if_xname);
	}
	CURVNET_RESTORE();
	return ((int)n);
}

/* Loopback host routes (sys/net/route/route_ifaddrs.c). */
static int
ifa_maintain_loopback_route(int cmd, struct ifaddr *ifa, struct sockaddr *sa)
{
	const void *a;
	int af = sa->sa_family, plen, error;

	if (af == AF_INET) {
		a = &((struct sockaddr_in *)sa)->sin_addr;
		plen = 32;
	} else if (af == AF_INET6) {
		a = &((struct sockaddr_in6 *)sa)->sin6_addr;
		plen = 128;
	} else
		return (EAFNOSUPPORT);
	switch (cmd) {
	case RTM_ADD:
		error = krt_add(af, a, plen, ifa, KRT_LOOPBACK | KRT_HOST);
		break;
	case RTM_DELETE:
		/*
		 * The route's gateway is a link sockaddr of the address's interface and
		 * rib_del_route filters on it (match_gw_one): a loopback route of the same
		 * address on another interface (two carpN sharing one) is not this one.
		 */
		error = krt_del_match(af, a, plen, KRT_LOOPBACK, NULL, ifa->ifa_ifp);
		break;
	default:
		error = krt_del(af, a, plen, KRT_LOOPBACK, NULL);
		if (error == 0)
			error = krt_add(af, a, plen, ifa, KRT_LOOPBACK | KRT_HOST);
		break;
	}
	if (error != 0 && error != EEXIST && error != ESRCH && error != ENOENT) {
		char buf[64];

		ksa_format(sa, buf, sizeof(buf));
		log(LOG_DEBUG, "%s: %s failed for interface %s: %u\n", __func__,
		    cmd == RTM_ADD ? "insertion" : "deletion", ifa->ifa_ifp->if_xname, error);
	}
	return (error);
}

int
ifa_add_loopback_route(struct ifaddr *ifa, struct sockaddr *ia)
{

	return (ifa_maintain_loopback_route(RTM_ADD, ifa, ia));
}

int
ifa_del_loopback_route(struct ifaddr *ifa, struct sockaddr *ia)
{

	return (ifa_maintain_loopback_route(RTM_DELETE, ifa, ia));
}

int
ifa_switch_loopback_route(struct ifaddr *ifa, struct sockaddr *ia)
{

	return (ifa_maintain_loopback_route(RTM_CHANGE, ifa, ia));
}

/* ---- ARP table (per interface, llentries reduced to what is observable) ---- */

struct karp {
	TAILQ_ENTRY(karp) link;
	struct ifnet	*ifp;
	struct in_addr	 addr;
	uint8_t		 mac[ETHER_ADDR_LEN];
	int		 flags;		/* LLE_VALID, LLE_STATIC, LLE_IFADDR */
	struct mbuf	*hold;
	sbintime_t	 asked;
};
VNET_DEFINE_STATIC(TAILQ_HEAD(, karp), karp_head);
#define	V_karp_head	VNET(karp_head)
static struct mtx karp_mtx;

static struct karp *
karp_find(struct ifnet *ifp, struct in_addr a)
{
	struct karp *e;

	TAILQ_FOREACH(e, &V_karp_head, link)
		if (e->ifp == ifp && e->addr.s_addr == a.s_addr)
			return (e);
	return (NULL);
}

static struct karp *
karp_get(struct ifnet *ifp, struct in_addr a)
{
	struct karp *e = karp_find(ifp, a);

	if (e == NULL) {
		e = malloc(sizeof(*e), M_LLTABLE, M_NOWAIT | M_ZERO);
		if (e == NULL)
			return (NULL);
		e->ifp = ifp;
		e->addr = a;
		TAILQ_INSERT_TAIL(&V_karp_head, e, link);
	}
	return (e);
}

static void
karp_remove(struct karp *e)
{

	TAILQ_REMOVE(&V_karp_head, e, link);
	m_freem(e->hold);
	free(e, M_LLTABLE);
}

static void
karp_delete_addr(struct ifnet *ifp, struct in_addr a, int flags)
{
	struct karp *e;

	mtx_lock(&karp_mtx);
	e = karp_find(ifp, a);
	if (e != NULL && (flags == 0 || (e->flags & flags)))
		karp_remove(e);
	mtx_unlock(&karp_mtx);
}

static void
karp_flush_ifp(struct ifnet *ifp)
{
	struct karp *e, *n;

	mtx_lock(&karp_mtx);
	TAILQ_FOREACH_SAFE(e, &V_karp_head, link, n)
		if (e->ifp == ifp)
			karp_remove(e);
	mtx_unlock(&karp_mtx);
}

int
karp_dump(struct vnet *vnet, char *buf, size_t len)
{
	struct karp *e;
	size_t n = 0;

	CURVNET_SET_QUIET(vnet);
	TAILQ_FOREACH(e, &V_karp_head, link) {
		const uint8_t *a = (const uint8_t *)&e->addr;

		n += snprintf(buf + n, n < len ? len - n : 0,
		    "arp %s %s %u.%u.%u.%u %02x:%02x:%02x:%02x:%02x:%02x%s%s\n",
		    kvnet_name(vnet), e->ifp->if_xname, a[0], a[1], a[2], a[3],
		    e->mac[0], e->mac[1], e->mac[2], e->mac[3], e->mac[4], e->mac[5],
		    (e->flags & LLE_IFADDR) ? " ifaddr" : "",
		    (e->flags & LLE_VALID) ? "" : " incomplete");
	}
	CURVNET_RESTORE();
	return ((int)n);
}

/* ---- ARP output ---- */

static int
arp_output(struct ifnet *ifp, struct mbuf *m, const uint8_t *edst, int bcast)
{
	struct sockaddr sa;
	struct route ro;
	struct ether_header eh;

	memcpy(eh.ether_dhost, edst, ETHER_ADDR_LEN);
	memcpy(eh.ether_shost, IF_LLADDR(ifp), ETHER_ADDR_LEN);
	eh.ether_type = htons(ETHERTYPE_ARP);
	memset(&ro, 0, sizeof(ro));
	ro.ro_prepend = (char *)&eh;
	ro.ro_plen = sizeof(eh);
	memset(&sa, 0, sizeof(sa));
	sa.sa_len = 2;
	sa.sa_family = AF_ARP;
	if (bcast)
		m->m_flags |= M_BCAST;
	m_clrprotoflags(m);
	return (ifp->if_output(ifp, m, &sa, &ro));
}

static int
arprequest_internal(struct ifnet *ifp, const struct in_addr *sip,
    const struct in_addr *tip, u_char *enaddr)
{
	static const uint8_t bcast[ETHER_ADDR_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct mbuf *m;
	struct arphdr *ah;
	struct ifaddr *ifa;
	struct in_addr src;
	u_char *carpaddr = NULL;

	NET_EPOCH_ASSERT();
	if (sip == NULL) {
		int found = 0;

		CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link) {
			struct in_ifaddr *ia = (struct in_ifaddr *)ifa;

			if (ifa->ifa_addr->sa_family != AF_INET)
				continue;
			if (ifa->ifa_carp) {
				if (!CARP_CALL(carp_iamatch_p, ifa, &carpaddr))
					continue;
			} else
				carpaddr = NULL;
			src = ia->ia_addr.sin_addr;
			found = 1;
			if (((src.s_addr ^ tip->s_addr) & ia->ia_sockmask.sin_addr.s_addr) == 0)
				break;
		}
		if (!found) {
			log(LOG_ERR, "arprequest: cannot find matching address\n");
			return (EADDRNOTAVAIL);
		}
		sip = &src;
	}
	if (enaddr == NULL)
		enaddr = carpaddr ? carpaddr : (u_char *)IF_LLADDR(ifp);
	m = m_gethdr(M_NOWAIT, MT_DATA);
	if (m == NULL)
		return (ENOMEM);
	m->m_len = m->m_pkthdr.len = sizeof(*ah) + 2 * ETHER_ADDR_LEN + 2 * 4;
	ah = mtod(m, struct arphdr *);
	memset(ah, 0, m->m_len);
	ah->ar_hrd = htons(ARPHRD_ETHER);
	ah->ar_pro = htons(ETHERTYPE_IP);
	ah->ar_hln = ETHER_ADDR_LEN;
	ah->ar_pln = sizeof(struct in_addr);
	ah->ar_op = htons(ARPOP_REQUEST);
	memcpy(ar_sha(ah), enaddr, ETHER_ADDR_LEN);
	memcpy(ar_spa(ah), sip, 4);
	memcpy(ar_tpa(ah), tip, 4);
	return (arp_output(ifp, m, bcast, 1));
}

void
arprequest(struct ifnet *ifp, const struct in_addr *sip, const struct in_addr *tip,
    u_char *enaddr)
{

	(void)arprequest_internal(ifp, sip, tip, enaddr);
}

void
arp_announce_ifaddr(struct ifnet *ifp, struct in_addr addr, u_char *enaddr)
{

	NET_EPOCH_ASSERT();
	if (ntohl(addr.s_addr) == INADDR_ANY)
		return;
	arprequest(ifp, &addr, &addr, enaddr);
}

void
arp_ifinit(struct ifnet *ifp, struct ifaddr *ifa)
{
	struct epoch_tracker et;
	struct in_addr addr;
	struct karp *e;

	if (ifa->ifa_carp != NULL)
		return;
	addr = ((struct sockaddr_in *)ifa->ifa_addr)->sin_addr;
	if (ntohl(addr.s_addr) == INADDR_ANY)
		return;
	NET_EPOCH_ENTER(et);
	arp_announce_ifaddr(ifp, addr, IF_LLADDR(ifp));
	NET_EPOCH_EXIT(et);
	mtx_lock(&karp_mtx);
	e = karp_get(ifp, addr);
	if (e != NULL) {
		memcpy(e->mac, IF_LLADDR(ifp), ETHER_ADDR_LEN);
		e->flags = LLE_VALID | LLE_STATIC | LLE_IFADDR;
	}
	mtx_unlock(&karp_mtx);
}

/* arpresolve: the destination's MAC, or EWOULDBLOCK (m held, request sent). */
int
karpresolve(struct ifnet *ifp, struct mbuf *m, const struct sockaddr *dst, u_char *desten)
{
	struct in_addr a = ((const struct sockaddr_in *)dst)->sin_addr;
	struct karp *e;
	sbintime_t now = ksbinuptime();
	int ask = 0;

	mtx_lock(&karp_mtx);
	e = karp_get(ifp, a);
	if (e == NULL) {
		mtx_unlock(&karp_mtx);
		m_freem(m);
		return (ENOMEM);
	}
	if (e->flags & LLE_VALID) {
		memcpy(desten, e->mac, ETHER_ADDR_LEN);
		mtx_unlock(&karp_mtx);
		return (0);
	}
	/* One packet held, as net.link.ether.inet.maxhold's default 1. */
	m_freem(e->hold);
	e->hold = m;
	if (e->asked == 0 || now - e->asked >= SBT_1S) {
		e->asked = now;
		ask = 1;
	}
	mtx_unlock(&karp_mtx);
	if (ask)
		arprequest(ifp, NULL, &a, NULL);
	return (EWOULDBLOCK);
}

static void
karp_learn(struct ifnet *ifp, struct in_addr a, const uint8_t *mac, int create)
{
	struct karp *e;
	struct mbuf *hold = NULL;
	struct sockaddr_in sin;

	mtx_lock(&karp_mtx);
	e = create ? karp_get(ifp, a) : karp_find(ifp, a);
	if (e == NULL || (e->flags & LLE_STATIC)) {
		mtx_unlock(&karp_mtx);
		return;
	}
	memcpy(e->mac, mac, ETHER_ADDR_LEN);
	e->flags |= LLE_VALID;
	hold = e->hold;
	e->hold = NULL;
	mtx_unlock(&karp_mtx);
	if (hold != NULL) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_len = sizeof(sin);
		sin.sin_family = AF_INET;
		sin.sin_addr = a;
		(void)ifp->if_output(ifp, hold, (struct sockaddr *)&sin, NULL);
	}
}

/* ---- ARP input (in_arpinput) ---- */

void
arpintr(struct mbuf *m)
{
	struct ifnet *ifp = m->m_pkthdr.rcvif;
	struct arphdr *ah;
	struct ifaddr *ifa;
	struct in_ifaddr *ia = NULL;
	struct in_addr isaddr, itaddr, myaddr;
	u_char *enaddr = NULL;
	uint8_t sha[ETHER_ADDR_LEN];
	int op, carped;

	NET_EPOCH_ASSERT();
	if (m->m_len < (int)(sizeof(*ah) + 2 * ETHER_ADDR_LEN + 8)) {
		m_freem(m);
		return;
	}
	ah = mtod(m, struct arphdr *);
	if (ntohs(ah->ar_hrd) != ARPHRD_ETHER || ah->ar_hln != ETHER_ADDR_LEN ||
	    ntohs(ah->ar_pro) != ETHERTYPE_IP || ah->ar_pln != 4) {
		m_freem(m);
		return;
	}
	if (ETHER_IS_MULTICAST(ar_sha(ah))) {
		m_freem(m);
		return;
	}
	op = ntohs(ah->ar_op);
	memcpy(&isaddr, ar_spa(ah), 4);
	memcpy(&itaddr, ar_tpa(ah), 4);
	memcpy(sha, ar_sha(ah), ETHER_ADDR_LEN);

	/* Target lookup: addresses of the receiving interface. */
	CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link) {
		struct in_ifaddr *it = (struct in_ifaddr *)ifa;

		if (ifa->ifa_addr->sa_family != AF_INET ||
		    it->ia_addr.sin_addr.s_addr != itaddr.s_addr)
			continue;
		if (ifa->ifa_carp == NULL || CARP_CALL(carp_iamatch_p, ifa, &enaddr)) {
			ia = it;
			goto match;
		}
	}
	/* Sender lookup. */
	CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link) {
		struct in_ifaddr *it = (struct in_ifaddr *)ifa;

		if (ifa->ifa_addr->sa_family == AF_INET &&
		    it->ia_addr.sin_addr.s_addr == isaddr.s_addr) {
			ia = it;
			goto match;
		}
	}
	/* The "dummy address": the first usable address of the interface. */
	CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link) {
		if (ifa->ifa_addr->sa_family != AF_INET)
			continue;
		if (ifa->ifa_carp == NULL || CARP_CALL(carp_iamatch_p, ifa, &enaddr)) {
			ia = (struct in_ifaddr *)ifa;
			goto match;
		}
	}
	m_freem(m);
	return;
match:
	if (enaddr == NULL)
		enaddr = (u_char *)IF_LLADDR(ifp);
	carped = ia->ia_ifa.ifa_carp != NULL;
	myaddr = ia->ia_addr.sin_addr;
	if (memcmp(sha, enaddr, ETHER_ADDR_LEN) == 0) {
		m_freem(m);
		return;
	}
	if (!carped && isaddr.s_addr == myaddr.s_addr && myaddr.s_addr != 0) {
		log(LOG_ERR, "arp: %02x:%02x:%02x:%02x:%02x:%02x is using my IP address "
		    "%u.%u.%u.%u on %s!\n", sha[0], sha[1], sha[2], sha[3], sha[4], sha[5],
		    ((uint8_t *)&myaddr)[0], ((uint8_t *)&myaddr)[1],
		    ((uint8_t *)&myaddr)[2], ((uint8_t *)&myaddr)[3], ifp->if_xname);
		itaddr = myaddr;
		goto reply;
	}
	/* Update the sender's entry (created when the request is aimed at us). */
	karp_learn(ifp, isaddr, sha, itaddr.s_addr == myaddr.s_addr);
reply:
	if (op != ARPOP_REQUEST || itaddr.s_addr != myaddr.s_addr) {
		m_freem(m);
		return;
	}
	memcpy(ar_tha(ah), sha, ETHER_ADDR_LEN);
	memcpy(ar_sha(ah), enaddr, ETHER_ADDR_LEN);
	memcpy(ar_tpa(ah), ar_spa(ah), 4);
	memcpy(ar_spa(ah), &itaddr, 4);
	ah->ar_op = htons(ARPOP_REPLY);
	ah->ar_pro = htons(ETHERTYPE_IP);
	m->m_len = m->m_pkthdr.len = sizeof(*ah) + 2 * ETHER_ADDR_LEN + 8;
	m->m_pkthdr.rcvif = NULL;
	m->m_flags &= ~(M_BCAST | M_MCAST);
	(void)arp_output(ifp, m, ar_tha(ah), 0);
}

/* ---- Multicast memberships (in_mcast.c without IGMP) ---- */

int	kfault_should_fail_from(const char *site, const void *caller);

struct in_multi *
inm_lookup(struct ifnet *ifp, const struct in_addr group)
{
	struct ifmultiaddr *ifma;

	CK_STAILQ_FOREACH(ifma, &ifp->if_multiaddrs, ifma_link) {
		struct in_multi *inm = ifma->ifma_protospec;

		if (ifma->ifma_addr->sa_family == AF_INET && inm != NULL &&
		    inm->inm_addr.s_addr == group.s_addr)
			return (inm);
	}
	return (NULL);
}

int
in_joingroup(struct ifnet *ifp, const struct in_addr *gina,
    /*const*/ struct in_mfilter *imf, struct in_multi **pinm)
{
	struct sockaddr_in gsin;
	struct ifmultiaddr *ifma;
	struct in_multi *inm;
	int error;

	ksleep_check("in_joingroup");
	if (!IN_MULTICAST(ntohl(gina->s_addr)))
		return (EINVAL);
	if (kfault_should_fail_from("in_joingroup", __builtin_return_address(0)))
		return (ENOMEM);
	sx_xlock(&in_multi_sx);
	inm = inm_lookup(ifp, *gina);
	if (inm != NULL) {
		inm->inm_refcount++;
		*pinm = inm;
		sx_xunlock(&in_multi_sx);
		return (0);
	}
	memset(&gsin, 0, sizeof(gsin));
	gsin.sin_len = sizeof(gsin);
	gsin.sin_family = AF_INET;
	gsin.sin_addr = *gina;
	error = if_addmulti(ifp, (struct sockaddr *)&gsin, &ifma);
	if (error != 0) {
		sx_xunlock(&in_multi_sx);
		return (error);
	}
	inm = malloc(sizeof(*inm), M_IPMADDR, M_NOWAIT | M_ZERO);
	if (inm == NULL) {
		if_delmulti_ifma(ifma);
		sx_xunlock(&in_multi_sx);
		return (ENOMEM);
	}
	inm->inm_addr = *gina;
	inm->inm_ifp = ifp;
	inm->inm_ifma = ifma;
	inm->inm_refcount = 1;
	ifma->ifma_protospec = inm;
	if_ref(ifp);
	*pinm = inm;
	sx_xunlock(&in_multi_sx);
	return (0);
}

int
in_leavegroup(struct in_multi *inm, /*const*/ struct in_mfilter *imf)
{
	struct ifmultiaddr *ifma;
	struct ifnet *ifp;

	if (inm == NULL) {
		kfail("mcast", "in_leavegroup(NULL)");
		return (EINVAL);
	}
	sx_xlock(&in_multi_sx);
	if (inm->inm_refcount == 0) {
		sx_xunlock(&in_multi_sx);
		kfail("mcast", "in_leavegroup of a membership already released");
		return (EINVAL);
	}
	if (--inm->inm_refcount > 0) {
		sx_xunlock(&in_multi_sx);
		return (0);
	}
	ifma = inm->inm_ifma;
	ifp = inm->inm_ifp;
	if (ifma != NULL)
		kif_release_multi(ifma);
	sx_xunlock(&in_multi_sx);
	if_rele(ifp);
	free(inm, M_IPMADDR);
	return (0);
}

struct in_mfilter *
ip_mfilter_alloc(int mflags, int st0, int st1)
{
	struct in_mfilter *imf;

	imf = malloc(sizeof(*imf), M_INMFILTER, mflags);
	if (imf != NULL) {
		RB_INIT(&imf->imf_sources);
		imf->imf_nsrc = 0;
		imf->imf_st[0] = st0;
		imf->imf_st[1] = st1;
		imf->imf_inm = NULL;
	}
	return (imf);
}

void
ip_mfilter_free(struct in_mfilter *imf)
{

	free(imf, M_INMFILTER);
}

/* Memberships of every interface of the VNET, for snapshots. */
int
kmcast_dump(struct vnet *vnet, char *buf, size_t len)
{
	struct ifnet *ifp;
	struct ifmultiaddr *ifma;
	size_t n = 0;
	char a[64];

	CURVNET_SET_QUIET(vnet);
	CK_STAILQ_FOREACH(ifp, &V_ifnet, if_link)
		CK_STAILQ_FOREACH(ifma, &ifp->if_multiaddrs, ifma_link) {
			if (ifma->ifma_addr->sa_family == AF_LINK)
				continue;
			ksa_format(ifma->ifma_addr, a, sizeof(a));
			n += snprintf(buf + n, n < len ? len - n : 0, "mcast %s %s %s refs=%u\n",
			    kvnet_name(vnet), ifp->if_xname, a, ifma->ifma_refcount);
		}
	CURVNET_RESTORE();
	return ((int)n);
}

/* ---- Addresses ---- */

static int
ia_need_loopback_route(const struct in_ifaddr *ia)
{
	struct ifnet *ifp = ia->ia_ifp;

	if ((ifp->if_flags & IFF_LOOPBACK) || ia->ia_addr.sin_addr.s_addr == INADDR_ANY)
		return (0);
	if ((ifp->if_flags & IFF_POINTOPOINT) &&
	    ia->ia_dstaddr.sin_addr.s_addr == ia->ia_addr.sin_addr.s_addr)
		return (0);
	if ((ifp->if_flags & IFF_POINTOPOINT) == 0 &&
	    ia->ia_sockmask.sin_addr.s_addr == INADDR_BROADCAST)
		return (0);
	return (1);
}

static int
in_localip_more(struct in_ifaddr *original)
{
	struct in_ifaddr *ia;

	CK_STAILQ_FOREACH(ia, &V_in_ifaddrhead, ia_link)
		if (ia != original && ia->ia_addr.sin_addr.s_addr ==
		    original->ia_addr.sin_addr.s_addr)
			return (1);
	return (0);
}

static void
ia_getrtprefix(const struct in_ifaddr *ia, struct in_addr *prefix, int *plen)
{

	if (ia->ia_ifp->if_flags & IFF_LOOPBACK) {
		*prefix = ia->ia_addr.sin_addr;
		*plen = 32;
	} else {
		prefix->s_addr = ia->ia_addr.sin_addr.s_addr &
		    ia->ia_sockmask.sin_addr.s_addr;
		*plen = kin_mask2len(ia->ia_sockmask.sin_addr);
	}
}

int
in_addprefix(struct in_ifaddr *target)
{
	struct in_ifaddr *ia;
	struct in_addr prefix, p;
	int plen, pl, error;

	ia_getrtprefix(target, &prefix, &plen);
	CK_STAILQ_FOREACH(ia, &V_in_ifaddrhead, ia_link) {
		ia_getrtprefix(ia, &p, &pl);
		if (pl != plen || p.s_addr != prefix.s_addr)
			continue;
		if (ia->ia_flags & IFA_ROUTE)
			return (0);	/* another address has it (rt_addrmsg only) */
	}
	/* A /32 on a broadcast interface is installed through the loopback interface. */
	error = krt_add(AF_INET, &prefix, plen, &target->ia_ifa,
	    (plen == 32 && (target->ia_ifp->if_flags & IFF_POINTOPOINT) == 0) ?
	    KRT_PREFIX | KRT_HOST | KRT_LOOPBACK : KRT_PREFIX);
	if (error == 0)
		target->ia_flags |= IFA_ROUTE;
	return (error);
}

int
in_scrubprefix(struct in_ifaddr *target, u_int flags)
{
	struct in_ifaddr *ia;
	struct in_addr prefix, p;
	int plen, pl;

	if (ia_need_loopback_route(target) && (flags & LLE_STATIC)) {
		struct in_ifaddr *eia = NULL;

		CK_STAILQ_FOREACH(ia, &V_in_ifaddrhead, ia_link)
			if (ia != target && ia->ia_addr.sin_addr.s_addr ==
			    target->ia_addr.sin_addr.s_addr)
				eia = ia;
		if (eia != NULL)
			(void)ifa_switch_loopback_route(&eia->ia_ifa,
			    (struct sockaddr *)&target->ia_addr);
		else
			(void)ifa_del_loopback_route(&target->ia_ifa,
			    (struct sockaddr *)&target->ia_addr);
	}
	if ((target->ia_flags & IFA_ROUTE) == 0) {
		karp_delete_addr(target->ia_ifp, target->ia_addr.sin_addr, LLE_IFADDR);
		return (0);
	}
	ia_getrtprefix(target, &prefix, &plen);
	CK_STAILQ_FOREACH(ia, &V_in_ifaddrhead, ia_link) {
		if (ia == target || (ia->ia_flags & IFA_ROUTE) ||
		    (ia->ia_ifp->if_flags & IFF_UP) == 0)
			continue;
		ia_getrtprefix(ia, &p, &pl);
		if (pl != plen || p.s_addr != prefix.s_addr)
			continue;
		/* Move the prefix route to the other address. */
		(void)krt_del(AF_INET, &prefix, plen, KRT_PREFIX, &target->ia_ifa);
		target->ia_flags &= ~IFA_ROUTE;
		if (krt_add(AF_INET, &prefix, plen, &ia->ia_ifa, KRT_PREFIX) == 0)
			ia->ia_flags |= IFA_ROUTE;
		karp_delete_addr(target->ia_ifp, target->ia_addr.sin_addr, LLE_IFADDR);
		return (0);
	}
	(void)krt_del(AF_INET, &prefix, plen, KRT_PREFIX, &target->ia_ifa);
	target->ia_flags &= ~IFA_ROUTE;
	karp_delete_addr(target->ia_ifp, target->ia_addr.sin_addr,
	    (flags & LLE_STATIC) ? 0 : LLE_IFADDR);
	return (0);
}

static int
in_difaddr_ioctl(u_long cmd, caddr_t data, struct ifnet *ifp, struct ucred *cred)
{
	const struct ifreq *ifr = (struct ifreq *)data;
	const struct sockaddr_in *addr = (const struct sockaddr_in *)&ifr->ifr_addr;
	struct ifaddr *ifa;
	struct in_ifaddr *ia = NULL;
	bool deleteAny, iaIsLast;
	int error;

	if (cred != NULL) {
		error = priv_check_cred(cred, PRIV_NET_DELIFADDR);
		if (error)
			return (error);
	}
	deleteAny = addr->sin_len != sizeof(struct sockaddr_in) ||
	    addr->sin_family != AF_INET;
	iaIsLast = true;
	IF_ADDR_WLOCK(ifp);
	CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link) {
		struct in_ifaddr *it = (struct in_ifaddr *)ifa;

		if (ifa->ifa_addr->sa_family != AF_INET)
			continue;
		if (ia == NULL && (deleteAny ||
		    addr->sin_addr.s_addr == it->ia_addr.sin_addr.s_addr))
			ia = it;
		else
			iaIsLast = false;
	}
	if (ia == NULL) {
		IF_ADDR_WUNLOCK(ifp);
		return (EADDRNOTAVAIL);
	}
	CK_STAILQ_REMOVE(&ifp->if_addrhead, &ia->ia_ifa, ifaddr, ifa_link);
	IF_ADDR_WUNLOCK(ifp);
	ifa_free(&ia->ia_ifa);		/* if_addrhead */

	CK_STAILQ_REMOVE(&V_in_ifaddrhead, ia, in_ifaddr, ia_link);
	in_scrubprefix(ia, LLE_STATIC);
	/* in_ifadown: routes whose next hop is this address go. */
	if (ia->ia_flags & IFA_ROUTE)
		ia->ia_flags &= ~IFA_ROUTE;
	if (ia->ia_ifa.ifa_carp)
		CARP_VCALL(carp_detach_p, &ia->ia_ifa, cmd == SIOCAIFADDR);
	if (iaIsLast && (ifp->if_flags & IFF_MULTICAST)) {
		struct in_ifinfo *ii = (struct in_ifinfo *)ifp->if_afdata[AF_INET];

		if (ii != NULL && ii->ii_allhosts != NULL) {
			in_leavegroup(ii->ii_allhosts, NULL);
			ii->ii_allhosts = NULL;
		}
	}
	KEVENT_INVOKE(ifaddr_event_ext, ifp, &ia->ia_ifa, IFADDR_EVENT_DEL);
	ifa_free(&ia->ia_ifa);		/* in_ifaddrhead */
	return (0);
}

static int
in_aifaddr_ioctl(u_long cmd, caddr_t data, struct ifnet *ifp, struct ucred *cred)
{
	const struct in_aliasreq *ifra = (struct in_aliasreq *)data;
	const struct sockaddr_in *addr = &ifra->ifra_addr;
	const struct sockaddr_in *broadaddr = &ifra->ifra_broadaddr;
	const struct sockaddr_in *mask = &ifra->ifra_mask;
	const int vhid = (cmd == SIOCAIFADDR) ? ifra->ifra_vhid : 0;
	struct epoch_tracker et;
	struct ifaddr *ifa;
	struct in_ifaddr *ia = NULL;
	bool iaIsFirst = true;
	int error;

	error = priv_check_cred(cred, PRIV_NET_ADDIFADDR);
	if (error)
		return (error);
	if (addr->sin_len != sizeof(struct sockaddr_in) || addr->sin_family != AF_INET)
		return (EINVAL);
	if (broadaddr->sin_len != 0 && (broadaddr->sin_len != sizeof(struct sockaddr_in) ||
	    broadaddr->sin_family != AF_INET))
		return (EINVAL);
	if (mask->sin_len != 0 && (mask->sin_len != sizeof(struct sockaddr_in) ||
	    mask->sin_family != AF_INET))
		return (EINVAL);
	if (vhid != 0 && carp_attach_p == NULL)
		return (EPROTONOSUPPORT);

	NET_EPOCH_ENTER(et);
	CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link) {
		struct in_ifaddr *it = (struct in_ifaddr *)ifa;

		if (ifa->ifa_addr->sa_family != AF_INET)
			continue;
		if (it->ia_addr.sin_addr.s_addr == addr->sin_addr.s_addr)
			ia = it;
		else
			iaIsFirst = false;
	}
	NET_EPOCH_EXIT(et);
	if (ia != NULL)
		(void)in_difaddr_ioctl(cmd, data, ifp, cred);

	ifa = ifa_alloc(sizeof(struct in_ifaddr), M_WAITOK);
	ia = (struct in_ifaddr *)ifa;
	ifa->ifa_addr = (struct sockaddr *)&ia->ia_addr;
	ifa->ifa_dstaddr = (struct sockaddr *)&ia->ia_dstaddr;
	ifa->ifa_netmask = (struct sockaddr *)&ia->ia_sockmask;
	callout_init(&ia->ia_garp_timer, 1);
	ia->ia_ifp = ifp;
	ia->ia_addr = *addr;
	if (mask->sin_len != 0) {
		ia->ia_sockmask = *mask;
		ia->ia_subnetmask = ntohl(ia->ia_sockmask.sin_addr.s_addr);
	} else {
		in_addr_t i = ntohl(addr->sin_addr.s_addr);

		/* Classful, with ifconfig's warning in userland. */
		if ((i & 0x80000000U) == 0)
			ia->ia_subnetmask = 0xff000000U;
		else if ((i & 0xc0000000U) == 0x80000000U)
			ia->ia_subnetmask = 0xffff0000U;
		else
			ia->ia_subnetmask = 0xffffff00U;
		ia->ia_sockmask.sin_addr.s_addr = htonl(ia->ia_subnetmask);
	}
	ia->ia_sockmask.sin_len = sizeof(struct sockaddr_in);
	ia->ia_sockmask.sin_family = AF_INET;
	ia->ia_subnet = ntohl(addr->sin_addr.s_addr) & ia->ia_subnetmask;
	if (ifp->if_flags & IFF_BROADCAST) {
		if (broadaddr->sin_len != 0)
			ia->ia_broadaddr = *broadaddr;
		else if (ia->ia_subnetmask == IN_RFC3021_MASK) {
			ia->ia_broadaddr.sin_addr.s_addr = INADDR_BROADCAST;
			ia->ia_broadaddr.sin_len = sizeof(struct sockaddr_in);
			ia->ia_broadaddr.sin_family = AF_INET;
		} else {
			ia->ia_broadaddr.sin_addr.s_addr =
			    htonl(ia->ia_subnet | ~ia->ia_subnetmask);
			ia->ia_broadaddr.sin_len = sizeof(struct sockaddr_in);
			ia->ia_broadaddr.sin_family = AF_INET;
		}
	}

	if (vhid != 0) {
		error = CARP_CALL(carp_attach_p, &ia->ia_ifa, vhid);
		if (error) {
			/*
			 * FreeBSD 15 returns here without freeing the never-linked
			 * address: its one reference (ifa_alloc's) leaks. The module
			 * must have dropped every reference it took and cleared
			 * ifa_carp; the harness then frees the address itself so that
			 * its leak checks see only the module's leaks.
			 */
			if (ifa->ifa_refcnt != 1 || ifa->ifa_carp != NULL)
				kfail("ifaddr", "carp_attach_p failed (error %d) and left "
				    "%u reference(s) (1 expected)%s", error, ifa->ifa_refcnt,
				    ifa->ifa_carp != NULL ? " and ifa_carp set" : "");
			else
				ifa_free(ifa);
			return (error);
		}
	}

	IF_ADDR_WLOCK(ifp);
	CK_STAILQ_INSERT_TAIL(&ifp->if_addrhead, ifa, ifa_link);
	IF_ADDR_WUNLOCK(ifp);
	ifa_ref(ifa);
	CK_STAILQ_INSERT_TAIL(&V_in_ifaddrhead, ia, ia_link);

	if (ifp->if_ioctl != NULL) {
		error = ifp->if_ioctl(ifp, SIOCSIFADDR, (caddr_t)ia);
		if (error)
			goto fail1;
	}
	if (vhid == 0) {
		error = in_addprefix(ia);
		if (error)
			goto fail1;
	}
	if (vhid == 0 && ia_need_loopback_route(ia) && !in_localip_more(ia)) {
		struct epoch_tracker et2;

		NET_EPOCH_ENTER(et2);
		error = ifa_add_loopback_route(&ia->ia_ifa, (struct sockaddr *)&ia->ia_addr);
		NET_EPOCH_EXIT(et2);
		if (error)
			goto fail2;
	}
	if (iaIsFirst && (ifp->if_flags & IFF_MULTICAST)) {
		struct in_ifinfo *ii = (struct in_ifinfo *)ifp->if_afdata[AF_INET];
		struct in_addr allhosts = { htonl(INADDR_ALLHOSTS_GROUP) };

		if (ii != NULL && ii->ii_allhosts == NULL)
			error = in_joingroup(ifp, &allhosts, NULL, &ii->ii_allhosts);
	}
	KEVENT_INVOKE(ifaddr_event_ext, ifp, ifa, IFADDR_EVENT_ADD);
	return (error);

fail2:
	if (vhid == 0)
		(void)in_scrubprefix(ia, LLE_STATIC);
fail1:
	if (ia->ia_ifa.ifa_carp)
		CARP_VCALL(carp_detach_p, &ia->ia_ifa, false);
	IF_ADDR_WLOCK(ifp);
	CK_STAILQ_REMOVE(&ifp->if_addrhead, &ia->ia_ifa, ifaddr, ifa_link);
	IF_ADDR_WUNLOCK(ifp);
	ifa_free(&ia->ia_ifa);
	CK_STAILQ_REMOVE(&V_in_ifaddrhead, ia, in_ifaddr, ia_link);
	ifa_free(&ia->ia_ifa);
	return (error);
}

int
kin_control(u_long cmd, caddr_t data, struct ifnet *ifp, struct thread *td)
{
	struct ucred *cred = td ? td->td_ucred : NULL;
	struct ifreq *ifr = (struct ifreq *)data;
	struct epoch_tracker et;
	struct ifaddr *ifa;
	int error;

	if (ifp == NULL)
		return (EADDRNOTAVAIL);
	switch (cmd) {
	case SIOCGIFADDR:
	case SIOCGIFNETMASK:
		NET_EPOCH_ENTER(et);
		CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link)
			if (ifa->ifa_addr->sa_family == AF_INET)
				break;
		if (ifa == NULL) {
			NET_EPOCH_EXIT(et);
			return (EADDRNOTAVAIL);
		}
		memcpy(&ifr->ifr_addr, cmd == SIOCGIFADDR ? ifa->ifa_addr : ifa->ifa_netmask,
		    sizeof(struct sockaddr_in));
		NET_EPOCH_EXIT(et);
		return (0);
	case SIOCDIFADDR:
	case SIOCAIFADDR:
	case OSIOCAIFADDR:
		sx_xlock(&in_control_sx);
		if (cmd == SIOCDIFADDR)
			error = in_difaddr_ioctl(cmd, data, ifp, cred);
		else
			error = in_aifaddr_ioctl(cmd, data, ifp, cred);
		sx_xunlock(&in_control_sx);
		return (error);
	case SIOCSIFADDR:
	case SIOCSIFBRDADDR:
	case SIOCSIFDSTADDR:
	case SIOCSIFNETMASK:
		return (EINVAL);
	default:
		if (ifp->if_ioctl == NULL)
			return (EOPNOTSUPP);
		return (ifp->if_ioctl(ifp, cmd, data));
	}
}

/* in_control(9): the entry point of the socket layer and of if_purgeaddrs. */
int
in_control(struct socket *so, u_long cmd, void *data, struct ifnet *ifp, struct thread *td)
{

	return (kin_control(cmd, data, ifp, td));
}

/* in6_purgeifaddr(9), exported under FreeBSD's name (the IPv6 part is k_inet6.c). */
void
in6_purgeifaddr(struct in6_ifaddr *ia)
{

	kin6_purgeifaddr(ia);
}

/* in_ifdetach: memberships of the interface are purged with it (if_purgemaddrs). */
void
kin_ifdetach(struct ifnet *ifp)
{
	struct in_ifinfo *ii = (struct in_ifinfo *)ifp->if_afdata[AF_INET];

	karp_flush_ifp(ifp);
	if (ii != NULL && ii->ii_allhosts != NULL) {
		in_leavegroup(ii->ii_allhosts, NULL);
		ii->ii_allhosts = NULL;
	}
}

/* The UP event handler of in.c: addresses without a prefix route get one. */
static void
in_ifnet_event(void *arg, struct ifnet *ifp, int event)
{
	struct ifaddr *ifa;
	struct in_ifaddr *ia;
	struct epoch_tracker et;

	if (event != IFNET_EVENT_UP && event != IFNET_EVENT_DOWN)
		return;
	NET_EPOCH_ENTER(et);
	CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link) {
		if (ifa->ifa_addr->sa_family != AF_INET)
			continue;
		ia = (struct in_ifaddr *)ifa;
		if (event == IFNET_EVENT_DOWN) {
			if (ia->ia_flags & IFA_ROUTE)
				(void)in_scrubprefix(ia, 0);
		} else if ((ia->ia_flags & IFA_ROUTE) == 0) {
			struct in_addr prefix;
			int plen;

			(void)ifa_del_loopback_route(ifa, (struct sockaddr *)&ia->ia_addr);
			ia_getrtprefix(ia, &prefix, &plen);
			if (krt_add(AF_INET, &prefix, plen, ifa, KRT_PREFIX) == 0)
				ia->ia_flags |= IFA_ROUTE;
			(void)ifa_add_loopback_route(ifa, (struct sockaddr *)&ia->ia_addr);
		}
	}
	NET_EPOCH_EXIT(et);
}

/* ---- Output ---- */

static uint16_t
kin_cksum(const void *data, int len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;
	int i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (htons((uint16_t)~sum));
}

/* The first IPv4 address of ifp in V_in_ifaddrhead (IFP_TO_IA). */
static struct in_ifaddr *
kifp_to_ia(struct ifnet *ifp)
{
	struct in_ifaddr *ia;

	CK_STAILQ_FOREACH(ia, &V_in_ifaddrhead, ia_link)
		if (ia->ia_ifp == ifp)
			return (ia);
	return (NULL);
}

int
ip_output(struct mbuf *m, struct mbuf *opt, struct route *ro, int flags,
    struct ip_moptions *imo, struct inpcb *inp)
{
	struct ip *ip;
	struct ifnet *ifp = NULL;
	struct sockaddr_in dst;
	struct in_ifaddr *ia;
	int hlen, error = 0, rtflags;

	NET_EPOCH_ASSERT();
	if ((m->m_flags & M_PKTHDR) == 0) {
		kfail("mbuf", "ip_output of an mbuf without M_PKTHDR");
		m_freem(m);
		return (EINVAL);
	}
	ip = mtod(m, struct ip *);
	if ((flags & (IP_FORWARDING | IP_RAWOUTPUT)) == 0) {
		ip->ip_v = IPVERSION;
		ip->ip_hl = sizeof(struct ip) >> 2;
		ip_fillid(ip, V_ip_random_id);
	}
	hlen = ip->ip_hl << 2;
	memset(&dst, 0, sizeof(dst));
	dst.sin_len = sizeof(dst);
	dst.sin_family = AF_INET;
	dst.sin_addr = ip->ip_dst;
	if (IN_MULTICAST(ntohl(ip->ip_dst.s_addr)) && imo != NULL &&
	    imo->imo_multicast_ifp != NULL) {
		ifp = imo->imo_multicast_ifp;
		ia = kifp_to_ia(ifp);
		if (ip->ip_src.s_addr == INADDR_ANY && ia != NULL)
			ip->ip_src = ia->ia_addr.sin_addr;
	} else {
		if (krt_lookup(AF_INET, &ip->ip_dst, &ifp, &rtflags) < 0 || ifp == NULL) {
			m_freem(m);
			return (EHOSTUNREACH);
		}
		if (rtflags & KRT_LOOPBACK) {
			m_freem(m);	/* to ourselves: delivered locally (not modelled) */
			return (0);
		}
		if (ip->ip_src.s_addr == INADDR_ANY && (ia = kifp_to_ia(ifp)) != NULL)
			ip->ip_src = ia->ia_addr.sin_addr;
	}
	if (IN_MULTICAST(ntohl(ip->ip_dst.s_addr))) {
		m->m_flags |= M_MCAST;
		if (imo != NULL)
			ip->ip_ttl = imo->imo_multicast_ttl;
		else
			ip->ip_ttl = IP_DEFAULT_MULTICAST_TTL;
		if ((imo == NULL || imo->imo_multicast_vif == (u_long)-1) &&
		    (ifp->if_flags & IFF_MULTICAST) == 0) {
			m_freem(m);
			return (ENETUNREACH);
		}
		if (ip->ip_ttl == 0 || (ifp->if_flags & IFF_LOOPBACK)) {
			m_freem(m);
			return (0);
		}
	}
	if (ntohs(ip->ip_len) > ifp->if_mtu) {
		m_freem(m);
		return (EMSGSIZE);
	}
	ip->ip_sum = 0;
	ip->ip_sum = kin_cksum(ip, hlen);
	m_clrprotoflags(m);
	error = ifp->if_output(ifp, m, (struct sockaddr *)&dst, NULL);
	return (error);
}

void
ip_fillid(struct ip *ip, bool do_randomid)
{
	static uint16_t ip_id_counter;

	if (V_ip_rfc6864 && (ip->ip_off & htons(IP_DF)) == htons(IP_DF)) {
		ip->ip_id = 0;
		return;
	}
	if (do_randomid)
		ip->ip_id = (uint16_t)(arc4random() | 1);
	else
		ip->ip_id = htons(++ip_id_counter);
}

/* ---- Input and protocol registration ---- */

static ipproto_input_t *ip_protox[IPPROTO_MAX];
static ipproto_ctlinput_t *ip_ctlprotox[IPPROTO_MAX];

int
rip_input(struct mbuf **mp, int *offp, int proto)
{

	/* No raw sockets in the simulation: the packet is consumed. */
	m_freem(*mp);
	*mp = NULL;
	return (IPPROTO_DONE);
}

void
rip_ctlinput(struct icmp *icmp)
{
}

int
ipproto_register(uint8_t proto, ipproto_input_t input, ipproto_ctlinput_t ctl)
{

	if (proto == 0)
		kfail("ipproto", "ipproto_register(0)");
	if (ip_protox[proto] != rip_input)
		return (EEXIST);
	ip_protox[proto] = input;
	ip_ctlprotox[proto] = ctl;
	return (0);
}

int
ipproto_unregister(uint8_t proto)
{

	if (ip_protox[proto] == rip_input)
		return (ENOENT);
	ip_protox[proto] = rip_input;
	ip_ctlprotox[proto] = rip_ctlinput;
	return (0);
}

/* A protocol handler still registered whose code lies in [base, base+size). */
int
kipproto_in(unsigned long base, unsigned long size, int report)
{
	int i, n = 0;

	for (i = 0; i < IPPROTO_MAX; i++)
		if ((unsigned long)ip_protox[i] >= base &&
		    (unsigned long)ip_protox[i] < base + size) {
			n++;
			if (report)
				kfail("ipproto", "IPv4 protocol %d still registered after unload",
				    i);
		}
	return (n);
}

static void
icmp_echo(struct mbuf *m, int hlen)
{
	struct ip *ip = mtod(m, struct ip *);
	struct icmp *icp;
	struct in_addr t;
	int len = ntohs(ip->ip_len);

	if (m->m_len < len || len - hlen < ICMP_MINLEN) {
		m_freem(m);
		return;
	}
	icp = (struct icmp *)((char *)ip + hlen);
	if (icp->icmp_type != ICMP_ECHO || IN_MULTICAST(ntohl(ip->ip_dst.s_addr))) {
		m_freem(m);
		return;
	}
	icp->icmp_type = ICMP_ECHOREPLY;
	icp->icmp_cksum = 0;
	icp->icmp_cksum = kin_cksum(icp, len - hlen);
	t = ip->ip_dst;
	ip->ip_dst = ip->ip_src;
	ip->ip_src = t;
	ip->ip_ttl = 64;
	ip->ip_off = 0;
	m->m_flags &= ~(M_BCAST | M_MCAST);
	m->m_pkthdr.rcvif = NULL;
	(void)ip_output(m, NULL, NULL, IP_RAWOUTPUT, NULL, NULL);
}

void
ip_input(struct mbuf *m)
{
	struct ifnet *ifp = m->m_pkthdr.rcvif;
	struct ip *ip;
	struct ifaddr *ifa;
	struct ifnet *it;
	int hlen, len, ours = 0;

	NET_EPOCH_ASSERT();
	if (m->m_pkthdr.len < (int)sizeof(struct ip) || m->m_len < (int)sizeof(struct ip)) {
		m_freem(m);
		return;
	}
	ip = mtod(m, struct ip *);
	hlen = ip->ip_hl << 2;
	if (ip->ip_v != IPVERSION || hlen < (int)sizeof(struct ip) || hlen > m->m_len) {
		m_freem(m);
		return;
	}
	if (kin_cksum(ip, hlen) != 0) {
		m_freem(m);	/* ips_badsum */
		return;
	}
	if ((ntohl(ip->ip_dst.s_addr) >> IN_CLASSA_NSHIFT_SIM) == 127 &&
	    (ifp->if_flags & IFF_LOOPBACK) == 0) {
		m_freem(m);	/* 127/8 only on loopback */
		return;
	}
	len = ntohs(ip->ip_len);
	if (len < hlen || m->m_pkthdr.len < len) {
		m_freem(m);
		return;
	}
	if (m->m_pkthdr.len > len) {
		/* Trailing bytes (Ethernet padding) trimmed. */
		m_adj(m, len - m->m_pkthdr.len);
	}
	if (IN_MULTICAST(ntohl(ip->ip_dst.s_addr)) ||
	    ip->ip_dst.s_addr == INADDR_BROADCAST || ip->ip_dst.s_addr == INADDR_ANY)
		ours = 1;
	else
		CK_STAILQ_FOREACH(it, &V_ifnet, if_link)
			CK_STAILQ_FOREACH(ifa, &it->if_addrhead, ifa_link)
				if (ifa->ifa_addr->sa_family == AF_INET &&
				    ((struct sockaddr_in *)ifa->ifa_addr)->sin_addr.s_addr ==
				    ip->ip_dst.s_addr)
					ours = 1;
	if (!ours) {
		m_freem(m);	/* not forwarding */
		return;
	}
	if (ip->ip_p == IPPROTO_ICMP) {
		icmp_echo(m, hlen);
		return;
	}
	{
		struct kcheck_state st;
		int off = hlen;

		kcheck_save(&st);
		(void)ip_protox[ip->ip_p](&m, &off, ip->ip_p);
		kcheck_restore_check(&st, "IPv4 protocol input");
		if (m != NULL && ip_protox[ip->ip_p] != rip_input)
			kfail("ipproto", "protocol %d input returned without consuming the mbuf "
			    "(*mp not NULL)", ip->ip_p);
		if (m != NULL)
			m_freem(m);
	}
}

/* Injects an IPv4 packet received on ifp (the input path after the Ethernet layer). */
void
kip_input_packet(struct ifnet *ifp, const uint8_t *pkt, unsigned len)
{
	struct epoch_tracker et;
	struct mbuf *m;

	m = m_get2(len, M_WAITOK, MT_DATA, M_PKTHDR);
	memcpy(mtod(m, void *), pkt, len);
	m->m_len = m->m_pkthdr.len = len;
	m->m_pkthdr.rcvif = ifp;
	NET_EPOCH_ENTER(et);
	CURVNET_SET(ifp->if_vnet);
	ip_input(m);
	CURVNET_RESTORE();
	NET_EPOCH_EXIT(et);
}

/*
 * A packet ip_input has accepted and handed to protocol `proto`, as it is after options
 * processing or reassembly (which may leave the header checksum stale): straight to the
 * registered protocol input, in the epoch, with *offp = off.
 */
void
kip_proto_deliver(struct ifnet *ifp, const uint8_t *pkt, unsigned len, int off)
{
	struct epoch_tracker et;
	struct kcheck_state st;
	struct mbuf *m;
	int proto;

	if (len < sizeof(struct ip))
		return;
	proto = ((const struct ip *)pkt)->ip_p;
	m = m_get2(len, M_WAITOK, MT_DATA, M_PKTHDR);
	memcpy(mtod(m, void *), pkt, len);
	m->m_len = m->m_pkthdr.len = len;
	m->m_pkthdr.rcvif = ifp;
	NET_EPOCH_ENTER(et);
	CURVNET_SET(ifp->if_vnet);
	kcheck_save(&st);
	(void)ip_protox[proto](&m, &off, proto);
	kcheck_restore_check(&st, "IPv4 protocol input");
	if (m != NULL) {
		kfail("ipproto", "protocol %d input returned without consuming the mbuf", proto);
		m_freem(m);
	}
	CURVNET_RESTORE();
	NET_EPOCH_EXIT(et);
}

/* ---- Per-VNET setup ---- */

static void
vnet_inet_init(const void *unused)
{

	CK_STAILQ_INIT(&V_in_ifaddrhead);
	TAILQ_INIT(&V_krt_head);
	TAILQ_INIT(&V_karp_head);
}
static struct vnet_sysinit vnet_inet_init_vs = {
	SI_SUB_PROTO_DOMAIN, SI_ORDER_FIRST, vnet_inet_init, NULL
};

/* ip_destroy → in_ifscrub_all: every IPv4 address of the dying VNET goes. */
static void
vnet_inet_uninit(const void *unused)
{
	struct ifnet *ifp;
	struct ifaddr *ifa;
	struct krt *r;
	struct karp *e;

	CK_STAILQ_FOREACH(ifp, &V_ifnet, if_link) {
		for (;;) {
			CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link)
				if (ifa->ifa_addr->sa_family == AF_INET)
					break;
			if (ifa == NULL)
				break;
			{
				struct ifreq ifr;

				memset(&ifr, 0, sizeof(ifr));
				memcpy(&ifr.ifr_addr, ifa->ifa_addr, sizeof(struct sockaddr_in));
				sx_xlock(&in_control_sx);
				(void)in_difaddr_ioctl(SIOCDIFADDR, (caddr_t)&ifr, ifp, NULL);
				sx_xunlock(&in_control_sx);
			}
		}
		kin_ifdetach(ifp);
	}
	while ((r = TAILQ_FIRST(&V_krt_head)) != NULL) {
		TAILQ_REMOVE(&V_krt_head, r, link);
		ifa_free(r->ifa);
		free(r, M_RTABLE);
	}
	while ((e = TAILQ_FIRST(&V_karp_head)) != NULL)
		karp_remove(e);
}
static struct vnet_sysinit vnet_inet_uninit_vs = {
	SI_SUB_PROTO_DOMAIN, SI_ORDER_THIRD, vnet_inet_uninit, NULL
};

/* in_domifattach: per-interface IPv4 data. */
static void
inet_ifattach(void *arg, struct ifnet *ifp)
{
	if (ifp->if_afdata[AF_INET] == NULL)
		ifp->if_afdata[AF_INET] = malloc(sizeof(struct in_ifinfo), M_IFADDR,
		    M_WAITOK | M_ZERO);
}

void
kin_afdata_free(struct ifnet *ifp)
{

	free(ifp->if_afdata[AF_INET], M_IFADDR);
	ifp->if_afdata[AF_INET] = NULL;
}

void
kinet_boot(void)
{
	int i;

	sx_init(&in_control_sx, "in_control");
	sx_init(&in_multi_sx, "in_multi_sx");
	mtx_init(&krt_mtx, "rib", NULL, MTX_DEF);
	mtx_init(&karp_mtx, "lltable", NULL, MTX_DEF);
	for (i = 0; i < IPPROTO_MAX; i++) {
		ip_protox[i] = rip_input;
		ip_ctlprotox[i] = rip_ctlinput;
	}
	vnet_register_sysinit(&vnet_inet_init_vs);
	vnet_register_sysuninit(&vnet_inet_uninit_vs);
	EVENTHANDLER_REGISTER(ifnet_event, in_ifnet_event, NULL, EVENTHANDLER_PRI_ANY);
	EVENTHANDLER_REGISTER(ifnet_arrival_event, inet_ifattach, NULL,
	    EVENTHANDLER_PRI_FIRST);
}
