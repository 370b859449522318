/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * IPv6: addresses (sys/netinet6/in6.c's in6_control_ioctl with SIOCAIFADDR_IN6 /
 * SIOCDIFADDR_IN6: in6_addifaddr, in6_update_ifa, in6_purgeifaddr), scope zones
 * (scope6.c), interface prefixes and their routes (the part of nd6_rtr.c that
 * in6_addifaddr uses), the neighbour cache (nd6.c, lltable reduced to what is
 * observable), neighbour solicitation / advertisement and DAD (nd6_nbr.c, FreeBSD 15.0's
 * version), multicast memberships (in6_mcast.c), ip6_output (unicast through the
 * neighbour cache, multicast with ip6_moptions), ip6_input with hop-by-hop and
 * destination options and protocol delivery (ip6proto_register), ICMPv6 echo.
 *
 * Hooks into carp.ko, where FreeBSD 15 calls them: carp_attach_p in in6_addifaddr
 * after in6_update_ifa (the address is already linked, routed, in the neighbour cache,
 * joined and TENTATIVE), with in6_control_sx held and outside the epoch; carp_detach_p
 * first in in6_purgeaddr (keep_cif false), in in6_addifaddr when an existing address is
 * re-added (keep_cif true) and when the prefix cannot be added; carp_iamatch6_p in
 * nd6_ns_input instead of in6ifa_ifpwithaddr when ifp->if_carp is set; carp_macmatch6_p
 * in nd6_na_output_fib / nd6_ns_output_fib for the link-layer option; carp_master_p in
 * nd6_na_input, in nd6_ns_output_fib's source check and in source selection
 * (ifa_preferred); protocol 112 input through ip6_protox.
 *
 * Not modelled: MLD (no reports or queries are sent or processed; memberships are
 * bookkeeping only), the node-information group join, automatic link-local and ::1
 * addresses (in6_ifattach), router advertisements, autoconfiguration and temporary
 * addresses, address lifetimes' expiry (nd6_timer), neighbour unreachability detection
 * and NS retransmission timers (a resolution NS is re-sent at most once a second, when
 * a new packet waits), fragments and routing headers (dropped), ICMPv6 errors,
 * multicast loopback copies (ip6_mloopback), local delivery through lo0, p2p
 * destination routes, proxy ND, pfil for inet6, statistics counters, nd6log messages
 * (silent, as with net.inet6.icmp6.nd6_debug=0), rtsock/netlink address messages
 * (in6_newaddrmsg).
 */
#include "kern.h"
#include "k_net.h"

/* FreeBSD's kernel builds with -Wno-address-of-packed-member (sys/conf/kern.mk). */
#pragma clang diagnostic ignored "-Waddress-of-packed-member"

const struct in6_addr in6addr_linklocal_allnodes = IN6ADDR_LINKLOCAL_ALLNODES_INIT;

VNET_DEFINE(struct in6_ifaddrhead, in6_ifaddrhead);

static struct sx in6_control_sx;
struct sx in6_multi_sx;
static struct mtx kin6_ifaddr_mtx;	/* IN6_IFADDR_WLOCK (V_in6_ifaddrhead) */
static struct mtx knd_mtx;		/* the neighbour cache (LLTABLE6) */
static struct mtx knd_pfx_mtx;		/* ND6_WLOCK (prefix list) */
static struct mtx kdad_mtx;		/* DADQ_WLOCK */

int	kfault_should_fail_from(const char *site, const void *caller);
int	knd6_resolve(struct ifnet *ifp, struct mbuf *m, const struct sockaddr *dst,
	    u_char *desten);

#define	KIN6_DAD_COUNT		1	/* net.inet6.ip6.dad_count */
#define	KIN6_RETRANS_SBT	SBT_1S	/* ND_IFINFO(ifp)->retrans: 1000 ms */
#define	KIN6_MAXQUEUELEN	16	/* net.inet6.ip6.nd6_maxqueuelen */
#define	KIN6_DEFHLIM		64	/* net.inet6.ip6.hlim */
#define	KIN6_HDRNESTLIMIT	15	/* net.inet6.ip6.hdrnestlimit */

#define	KND_IFINFO(ifp)							\
	(((struct in6_ifextra *)(ifp)->if_afdata[AF_INET6])->nd_ifinfo)

/* ---- Small helpers ---- */

/* An address for console lines and dumps: scope zone cleared. */
static const char *
kin6_str(const struct in6_addr *a, char *buf, size_t len)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_len = sizeof(sin6);
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = *a;
	in6_clearscope(&sin6.sin6_addr);
	ksa_format((struct sockaddr *)&sin6, buf, len);
	return (buf);
}

static void
kin6_sin6(struct sockaddr_in6 *sin6, const struct in6_addr *a)
{

	memset(sin6, 0, sizeof(*sin6));
	sin6->sin6_len = sizeof(*sin6);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = *a;
}

int
in6_mask2len(struct in6_addr *mask, u_char *lim0)
{
	int x = 0, y;
	u_char *lim = lim0, *p;

	/* ignore the scope_id part */
	if (lim0 == NULL || lim0 - (u_char *)mask > (long)sizeof(*mask))
		lim = (u_char *)mask + sizeof(*mask);
	for (p = (u_char *)mask; p < lim; x++, p++) {
		if (*p != 0xff)
			break;
	}
	y = 0;
	if (p < lim) {
		for (y = 0; y < 8; y++) {
			if ((*p & (0x80 >> y)) == 0)
				break;
		}
	}
	/* when the limit pointer is given, do a stricter check on the remaining bits. */
	if (p < lim) {
		if (y != 0 && (*p & (0x00ff >> y)) != 0)
			return (-1);
		for (p = p + 1; p < lim; p++)
			if (*p != 0)
				return (-1);
	}
	return (x * 8 + y);
}

static void
kin6_len2mask(struct in6_addr *mask, int plen)
{
	int i;

	memset(mask, 0, sizeof(*mask));
	for (i = 0; i < 16; i++) {
		int bits = plen - i * 8;

		if (bits >= 8)
			mask->s6_addr[i] = 0xff;
		else if (bits > 0)
			mask->s6_addr[i] = (uint8_t)(0xff << (8 - bits));
	}
}

static int
kin6_prefix_match(const struct in6_addr *a, const struct in6_addr *b,
    const struct in6_addr *mask)
{
	int i;

	for (i = 0; i < 16; i++)
		if ((a->s6_addr[i] & mask->s6_addr[i]) != (b->s6_addr[i] & mask->s6_addr[i]))
			return (0);
	return (1);
}

/* Common leading bits of two addresses (in6_matchlen), scope zones ignored. */
static int
kin6_matchlen(const struct in6_addr *a0, const struct in6_addr *b0)
{
	struct in6_addr a = *a0, b = *b0;
	int i, n = 0;

	in6_clearscope(&a);
	in6_clearscope(&b);
	for (i = 0; i < 16; i++) {
		uint8_t x = a.s6_addr[i] ^ b.s6_addr[i];

		if (x == 0) {
			n += 8;
			continue;
		}
		while ((x & 0x80) == 0) {
			n++;
			x <<= 1;
		}
		break;
	}
	return (n);
}

/* The Internet checksum with the IPv6 pseudo header (wire form: zones cleared). */
static uint16_t
kin6_cksum(const struct in6_addr *src0, const struct in6_addr *dst0, uint8_t nxt,
    const uint8_t *p, uint32_t len)
{
	struct in6_addr src = *src0, dst = *dst0;
	uint32_t sum = 0, i;

	in6_clearscope(&src);
	in6_clearscope(&dst);
	for (i = 0; i < 16; i += 2) {
		sum += (src.s6_addr[i] << 8) | src.s6_addr[i + 1];
		sum += (dst.s6_addr[i] << 8) | dst.s6_addr[i + 1];
	}
	sum += len >> 16;
	sum += len & 0xffff;
	sum += nxt;
	for (i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (htons((uint16_t)~sum));
}

/* m_pullup for the first `len` bytes (a contiguous copy of the whole packet). */
static struct mbuf *
kin6_pullup(struct mbuf *m, int len)
{
	struct mbuf *n;

	if (m->m_len >= len)
		return (m);
	if (m->m_pkthdr.len < len) {
		m_freem(m);
		return (NULL);
	}
	n = m_get2(m->m_pkthdr.len, M_NOWAIT, MT_DATA, M_PKTHDR);
	if (n == NULL) {
		m_freem(m);
		return (NULL);
	}
	m_copydata(m, 0, m->m_pkthdr.len, mtod(n, caddr_t));
	n->m_pkthdr = m->m_pkthdr;		/* the tags move with the header */
	SLIST_INIT(&m->m_pkthdr.tags);
	n->m_len = n->m_pkthdr.len;
	n->m_flags |= m->m_flags & M_COPYFLAGS;
	m_freem(m);
	return (n);
}

/* ---- Scope zones (scope6.c) ---- */

static int
kin6_addrscope(const struct in6_addr *a)
{

	if (IN6_IS_ADDR_MULTICAST(a))
		return (IPV6_ADDR_MC_SCOPE(a));
	if (IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_LOOPBACK(a))
		return (IPV6_ADDR_SCOPE_LINKLOCAL);
	if (IN6_IS_ADDR_SITELOCAL(a))
		return (IPV6_ADDR_SCOPE_SITELOCAL);
	return (IPV6_ADDR_SCOPE_GLOBAL);
}

/* Addresses whose zone is embedded in s6_addr16[1]. */
static int
kin6_scoped(const struct in6_addr *a)
{

	return (IN6_IS_SCOPE_LINKLOCAL(a) || IN6_IS_ADDR_MC_INTFACELOCAL(a));
}

int
in6_setscope(struct in6_addr *in6, struct ifnet *ifp, uint32_t *ret_id)
{
	int scope;
	uint32_t zoneid = 0;

	if (IN6_IS_ADDR_LOOPBACK(in6)) {
		if ((ifp->if_flags & IFF_LOOPBACK) == 0)
			return (EINVAL);
		if (ret_id != NULL)
			*ret_id = 0;
		return (0);
	}
	scope = kin6_addrscope(in6);
	if (scope == IPV6_ADDR_SCOPE_INTFACELOCAL || scope == IPV6_ADDR_SCOPE_LINKLOCAL) {
		/* The zone of an interface- or link-local address is the interface index. */
		zoneid = ifp->if_index;
		in6->s6_addr16[1] = htons(zoneid & 0xffff);
	} else if (scope != IPV6_ADDR_SCOPE_GLOBAL) {
		if (ifp->if_afdata[AF_INET6] == NULL)
			return (ENETDOWN);
		zoneid = 0;	/* scope6_ifattach leaves the larger scopes' zones 0 */
	}
	if (ret_id != NULL)
		*ret_id = zoneid;
	return (0);
}

int
in6_clearscope(struct in6_addr *in6)
{
	int modified = 0;

	if (kin6_scoped(in6)) {
		if (in6->s6_addr16[1] != 0)
			modified = 1;
		in6->s6_addr16[1] = 0;
	}
	return (modified);
}

int
sa6_embedscope(struct sockaddr_in6 *sin6, int defaultok)
{
	struct epoch_tracker et;
	uint32_t zoneid = sin6->sin6_scope_id;
	struct ifnet *ifp;

	if (zoneid != 0 && kin6_scoped(&sin6->sin6_addr)) {
		NET_EPOCH_ENTER(et);
		ifp = ifnet_byindex(zoneid);
		NET_EPOCH_EXIT(et);
		if (ifp == NULL)
			return (ENXIO);
		sin6->sin6_addr.s6_addr16[1] = htons(zoneid & 0xffff);
		sin6->sin6_scope_id = 0;
	}
	return (0);
}

/* ip6_output's check: the embedded zone of `a` must be origifp's (in6_setscope vs recover). */
static int
kin6_zone_ok(const struct in6_addr *a, struct ifnet *ifp)
{
	struct in6_addr c = *a;
	uint32_t zone, id = 0;

	if (in6_setscope(&c, ifp, &zone) != 0)
		return (0);
	if (kin6_scoped(a)) {
		id = ntohs(a->s6_addr16[1]);
		if (id != 0 && ifnet_byindex(id) == NULL)
			return (0);	/* sa6_recoverscope: ENXIO */
	}
	return (zone == id || (ifp->if_flags & IFF_LOOPBACK));
}

/* ---- Address lookups ---- */

struct in6_ifaddr *
in6ifa_ifpwithaddr(struct ifnet *ifp, const struct in6_addr *addr)
{
	struct epoch_tracker et;
	struct ifaddr *ifa;

	NET_EPOCH_ENTER(et);
	CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link) {
		if (ifa->ifa_addr->sa_family != AF_INET6)
			continue;
		if (IN6_ARE_ADDR_EQUAL(addr, IFA_IN6(ifa))) {
			ifa_ref(ifa);
			break;
		}
	}
	NET_EPOCH_EXIT(et);
	return ((struct in6_ifaddr *)ifa);
}

struct in6_ifaddr *
in6ifa_ifwithaddr(const struct in6_addr *addr, uint32_t zoneid, bool referenced)
{
	struct in6_ifaddr *ia;

	if (!referenced)
		NET_EPOCH_ASSERT();	/* the unreferenced result lives as long as the epoch */
	mtx_lock(&kin6_ifaddr_mtx);
	CK_STAILQ_FOREACH(ia, &V_in6_ifaddrhead, ia_link) {
		if (IN6_ARE_ADDR_EQUAL(IA6_IN6(ia), addr)) {
			if (zoneid != 0 && zoneid != ia->ia_addr.sin6_scope_id)
				continue;
			if (referenced)
				ifa_ref(&ia->ia_ifa);
			break;
		}
	}
	mtx_unlock(&kin6_ifaddr_mtx);
	return (ia);
}

/* in6ifa_ifpforlinklocal: referenced. */
static struct in6_ifaddr *
kin6ifa_ifpforlinklocal(struct ifnet *ifp, int ignoreflags)
{
	struct ifaddr *ifa;

	NET_EPOCH_ASSERT();
	CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link) {
		if (ifa->ifa_addr->sa_family != AF_INET6)
			continue;
		if (IN6_IS_ADDR_LINKLOCAL(IFA_IN6(ifa))) {
			if ((((struct in6_ifaddr *)ifa)->ia6_flags & ignoreflags) != 0)
				continue;
			ifa_ref(ifa);
			break;
		}
	}
	return ((struct in6_ifaddr *)ifa);
}

/*
 * Source address selection (in6_selectsrc_addr, reduced to the rules that matter here):
 * usable addresses of ifp, appropriate scope (rule 2), the CARP master preference
 * (ifa_preferred), then the longest match (rule 8). Global destinations fall back to
 * the VNET's other addresses.
 */
static int
kin6_selectsrc(struct ifnet *ifp, const struct in6_addr *dst, struct in6_addr *src)
{
	struct in6_ifaddr *ia, *best = NULL;
	struct ifaddr *ifa;
	int dscope = kin6_addrscope(dst), pass;

	NET_EPOCH_ASSERT();
	for (pass = 0; pass < 2 && best == NULL; pass++) {
		if (pass == 1 && (kin6_scoped(dst) || ifp == NULL))
			break;
		CK_STAILQ_FOREACH(ia, &V_in6_ifaddrhead, ia_link) {
			int bs, cs;

			ifa = &ia->ia_ifa;
			if (pass == 0 && ia->ia_ifp != ifp)
				continue;
			if (ia->ia6_flags & (IN6_IFF_NOTREADY | IN6_IFF_ANYCAST | IN6_IFF_DETACHED))
				continue;
			if (kin6_scoped(IA6_IN6(ia)) && kin6_scoped(dst) &&
			    dst->s6_addr16[1] != 0 &&
			    IA6_IN6(ia)->s6_addr16[1] != dst->s6_addr16[1])
				continue;	/* another zone */
			if (IN6_ARE_ADDR_EQUAL(IA6_IN6(ia), dst)) {
				best = ia;	/* rule 1 */
				break;
			}
			if (best == NULL) {
				best = ia;
				continue;
			}
			bs = kin6_addrscope(IA6_IN6(best));
			cs = kin6_addrscope(IA6_IN6(ia));
			if (bs != cs) {
				if (bs < cs) {
					if (bs < dscope)
						best = ia;
				} else if (cs >= dscope)
					best = ia;
				continue;
			}
			if (ifa_preferred(&best->ia_ifa, ifa)) {
				best = ia;
				continue;
			}
			if (ifa_preferred(ifa, &best->ia_ifa))
				continue;
			if (kin6_matchlen(IA6_IN6(ia), dst) > kin6_matchlen(IA6_IN6(best), dst))
				best = ia;
		}
	}
	if (best == NULL)
		return (EADDRNOTAVAIL);
	*src = best->ia_addr.sin6_addr;
	return (0);
}

/* nd6_is_addr_neighbor: link-local in ifp's zone, or inside a prefix of ifp. */
static int
knd6_is_neighbor(struct ifnet *ifp, const struct in6_addr *a)
{
	struct ifaddr *ifa;

	if (IN6_IS_ADDR_LINKLOCAL(a))
		return (ntohs(a->s6_addr16[1]) == ifp->if_index);
	CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link) {
		struct in6_ifaddr *ia = (struct in6_ifaddr *)ifa;

		if (ifa->ifa_addr->sa_family != AF_INET6)
			continue;
		if (in6_mask2len(&ia->ia_prefixmask.sin6_addr, NULL) >= 128)
			continue;
		if (kin6_prefix_match(a, IA6_IN6(ia), &ia->ia_prefixmask.sin6_addr))
			return (1);
	}
	return (0);
}

/* ---- Neighbour cache (one list per VNET; entries keyed by interface and address) ---- */

struct knd {
	TAILQ_ENTRY(knd) link;
	struct ifnet	*ifp;
	struct in6_addr	 addr;		/* embedded-zone form */
	uint8_t		 mac[ETHER_ADDR_LEN];
	int		 flags;		/* LLE_VALID, LLE_STATIC, LLE_IFADDR */
	struct mbuf	*hold;		/* la_hold chain (m_nextpkt) */
	int		 nhold;
	sbintime_t	 asked;
};
VNET_DEFINE_STATIC(TAILQ_HEAD(, knd), knd_head);
#define	V_knd_head	VNET(knd_head)

static struct knd *
knd_find(struct ifnet *ifp, const struct in6_addr *a)
{
	struct knd *e;

	TAILQ_FOREACH(e, &V_knd_head, link)
		if (e->ifp == ifp && IN6_ARE_ADDR_EQUAL(&e->addr, a))
			return (e);
	return (NULL);
}

static struct knd *
knd_get(struct ifnet *ifp, const struct in6_addr *a)
{
	struct knd *e = knd_find(ifp, a);

	if (e == NULL) {
		e = malloc(sizeof(*e), M_LLTABLE, M_NOWAIT | M_ZERO);
		if (e == NULL)
			return (NULL);
		e->ifp = ifp;
		e->addr = *a;
		TAILQ_INSERT_TAIL(&V_knd_head, e, link);
	}
	return (e);
}

/* Unlinks e; its held packets are returned for the caller to free outside the lock. */
static struct mbuf *
knd_unlink(struct knd *e)
{
	struct mbuf *hold = e->hold;

	TAILQ_REMOVE(&V_knd_head, e, link);
	free(e, M_LLTABLE);
	return (hold);
}

/* Appends the packet chain b (linked by m_nextpkt) to the chain *a. */
static void
knd_chain_cat(struct mbuf **a, struct mbuf *b)
{

	while (*a != NULL)
		a = &(*a)->m_nextpkt;
	*a = b;
}

static void
knd_free_chain(struct mbuf *m)
{
	struct mbuf *n;

	for (; m != NULL; m = n) {
		n = m->m_nextpkt;
		m->m_nextpkt = NULL;
		m_freem(m);
	}
}

/* nd6_flush_holdchain: the packets that waited for the address go out now. */
static void
knd_flush(struct ifnet *ifp, const struct in6_addr *a, struct mbuf *m)
{
	struct sockaddr_in6 sin6;
	struct mbuf *n;

	for (; m != NULL; m = n) {
		n = m->m_nextpkt;
		m->m_nextpkt = NULL;
		kin6_sin6(&sin6, a);
		(void)ifp->if_output(ifp, m, (struct sockaddr *)&sin6, NULL);
	}
}

static void
knd_flush_ifp(struct ifnet *ifp)
{
	struct knd *e, *n;
	struct mbuf *hold = NULL, *h;

	mtx_lock(&knd_mtx);
	TAILQ_FOREACH_SAFE(e, &V_knd_head, link, n)
		if (e->ifp == ifp) {
			h = knd_unlink(e);
			knd_chain_cat(&h, hold);
			hold = h;
		}
	mtx_unlock(&knd_mtx);
	knd_free_chain(hold);
}

static int
knd6_need_cache(struct ifnet *ifp)
{

	switch (ifp->if_type) {
	case IFT_ETHER:
	case IFT_IEEE1394:
	case IFT_L2VLAN:
	case IFT_INFINIBAND:
	case IFT_BRIDGE:
	case IFT_PROPVIRTUAL:
		return (1);
	default:
		return (0);
	}
}

/* nd6_ifptomac */
static const uint8_t *
knd6_ifptomac(struct ifnet *ifp)
{

	switch (ifp->if_type) {
	case IFT_ETHER:
	case IFT_IEEE1394:
	case IFT_L2VLAN:
	case IFT_INFINIBAND:
	case IFT_BRIDGE:
		return (ifp->if_addr != NULL ? (const uint8_t *)IF_LLADDR(ifp) : NULL);
	default:
		return (NULL);
	}
}

int
nd6_add_ifa_lle(struct in6_ifaddr *ia)
{
	struct ifnet *ifp = ia->ia_ifp;
	struct knd *e, *old;
	struct mbuf *hold = NULL;

	if (!knd6_need_cache(ifp))
		return (0);
	e = malloc(sizeof(*e), M_LLTABLE, M_NOWAIT | M_ZERO);
	if (e == NULL)
		return (ENOBUFS);
	e->ifp = ifp;
	e->addr = ia->ia_addr.sin6_addr;
	/* in6_lltable_alloc: the interface's own (physical) address. */
	if (ifp->if_addr != NULL)
		memcpy(e->mac, IF_LLADDR(ifp), ETHER_ADDR_LEN);
	e->flags = LLE_IFADDR | LLE_STATIC | LLE_VALID;
	mtx_lock(&knd_mtx);
	old = knd_find(ifp, &e->addr);
	if (old != NULL)
		hold = knd_unlink(old);
	TAILQ_INSERT_TAIL(&V_knd_head, e, link);
	mtx_unlock(&knd_mtx);
	knd_free_chain(hold);
	return (0);
}

/*
 * lltable_prefix_free(AF_INET6, addr, mask, LLE_STATIC) (in6_lltable_match_prefix): every
 * entry of the VNET's tables within the prefix, static ones included; interface-address
 * entries only when they are `addr` itself.
 */
static void
knd_prefix_free(const struct in6_addr *addr, const struct in6_addr *mask)
{
	struct knd *e, *n;
	struct mbuf *hold = NULL, *h;

	mtx_lock(&knd_mtx);
	TAILQ_FOREACH_SAFE(e, &V_knd_head, link, n) {
		if (!kin6_prefix_match(&e->addr, addr, mask))
			continue;
		if ((e->flags & LLE_IFADDR) && !IN6_ARE_ADDR_EQUAL(&e->addr, addr))
			continue;
		h = knd_unlink(e);
		knd_chain_cat(&h, hold);
		hold = h;
	}
	mtx_unlock(&knd_mtx);
	knd_free_chain(hold);
}

void
nd6_rem_ifa_lle(struct in6_ifaddr *ia, int all)
{
	struct knd *e;
	struct mbuf *hold = NULL;
	const struct in6_addr *addr = &ia->ia_addr.sin6_addr;

	if (all != 0) {
		knd_prefix_free(addr, &ia->ia_prefixmask.sin6_addr);
		return;
	}
	/* lltable_delete_addr(LLTABLE6(ifp), LLE_IFADDR, addr) */
	mtx_lock(&knd_mtx);
	e = knd_find(ia->ia_ifp, addr);
	if (e != NULL && (e->flags & LLE_IFADDR))
		hold = knd_unlink(e);
	mtx_unlock(&knd_mtx);
	knd_free_chain(hold);
}

/* nd6_cache_lladdr (the NS case): the sender's entry is created or updated. */
static void
knd6_cache_lladdr(struct ifnet *ifp, const struct in6_addr *from, const uint8_t *lladdr)
{
	struct knd *e;
	struct mbuf *hold = NULL;

	if (IN6_IS_ADDR_UNSPECIFIED(from))
		return;
	mtx_lock(&knd_mtx);
	e = knd_get(ifp, from);
	if (e == NULL || (e->flags & LLE_STATIC)) {
		mtx_unlock(&knd_mtx);
		return;
	}
	if (lladdr != NULL) {
		memcpy(e->mac, lladdr, ETHER_ADDR_LEN);
		e->flags |= LLE_VALID;
		hold = e->hold;
		e->hold = NULL;
		e->nhold = 0;
	}
	mtx_unlock(&knd_mtx);
	knd_flush(ifp, from, hold);
}

int
knd6_dump(struct vnet *vnet, char *buf, size_t len)
{
	struct knd *e;
	size_t n = 0;
	char a[64];

	CURVNET_SET_QUIET(vnet);
	mtx_lock(&knd_mtx);
	TAILQ_FOREACH(e, &V_knd_head, link) {
		kin6_str(&e->addr, a, sizeof(a));
		n += snprintf(buf + n, n < len ? len - n : 0,
		    "nd6 %s %s %s %02x:%02x:%02x:%02x:%02x:%02x%s%s\n",
		    kvnet_name(vnet), e->ifp->if_xname, a,
		    e->mac[0], e->mac[1], e->mac[2], e->mac[3], e->mac[4], e->mac[5],
		    (e->flags & LLE_IFADDR) ? " ifaddr" : "",
		    (e->flags & LLE_VALID) ? "" : " incomplete");
	}
	mtx_unlock(&knd_mtx);
	CURVNET_RESTORE();
	return ((int)n);
}

/* ---- Output ---- */

int
ip6_output(struct mbuf *m, struct ip6_pktopts *opt, struct route_in6 *ro, int flags,
    struct ip6_moptions *im6o, struct ifnet **ifpp, struct inpcb *inp)
{
	struct ip6_hdr *ip6;
	struct ifnet *ifp = NULL, *origifp;
	struct sockaddr_in6 dst;
	int mcast, rtflags;

	NET_EPOCH_ASSERT();
	if ((m->m_flags & M_PKTHDR) == 0) {
		kfail("mbuf", "ip6_output of an mbuf without M_PKTHDR");
		m_freem(m);
		return (EINVAL);
	}
	if (m->m_len < (int)sizeof(*ip6) && (m = kin6_pullup(m, sizeof(*ip6))) == NULL)
		return (ENOBUFS);
	ip6 = mtod(m, struct ip6_hdr *);
	/* Source address validation. */
	if ((flags & IPV6_UNSPECSRC) == 0 && IN6_IS_ADDR_UNSPECIFIED(&ip6->ip6_src)) {
		m_freem(m);
		return (EOPNOTSUPP);
	}
	if (IN6_IS_ADDR_MULTICAST(&ip6->ip6_src)) {
		m_freem(m);
		return (EOPNOTSUPP);
	}
	if (m->m_pkthdr.len - (int)sizeof(*ip6) > IPV6_MAXPACKET) {
		m_freem(m);	/* jumbograms are not modelled */
		return (EMSGSIZE);
	}
	ip6->ip6_plen = htons((uint16_t)(m->m_pkthdr.len - sizeof(*ip6)));
	mcast = IN6_IS_ADDR_MULTICAST(&ip6->ip6_dst);
	if (opt == NULL && mcast)
		ip6->ip6_hlim = im6o != NULL ? im6o->im6o_multicast_hlim : 1;

	/* Route: the multicast interface, the zone of a scoped address, or the table. */
	kin6_sin6(&dst, &ip6->ip6_dst);
	if (mcast && im6o != NULL && im6o->im6o_multicast_ifp != NULL)
		ifp = im6o->im6o_multicast_ifp;
	else if (kin6_scoped(&ip6->ip6_dst) && ip6->ip6_dst.s6_addr16[1] != 0) {
		/* in6_getlinkifnet / fib6_lookup with the zone: the zone's interface. */
		ifp = ifnet_byindex(ntohs(ip6->ip6_dst.s6_addr16[1]));
		if (ifp == NULL) {
			m_freem(m);
			return (EHOSTUNREACH);
		}
	} else {
		if (krt_lookup(AF_INET6, &ip6->ip6_dst, &ifp, &rtflags) < 0 || ifp == NULL) {
			m_freem(m);	/* ip6s_noroute */
			return (EHOSTUNREACH);
		}
		if (rtflags & KRT_LOOPBACK) {
			m_freem(m);	/* to ourselves through lo0 (not modelled) */
			return (0);
		}
	}
	origifp = ifp;

	/* The scope check: link-local sources and destinations carry origifp's zone. */
	if (!kin6_zone_ok(&ip6->ip6_src, origifp) || !kin6_zone_ok(&ip6->ip6_dst, origifp)) {
		m_freem(m);	/* ip6s_badscope, ifs6_out_discard */
		return (EHOSTUNREACH);
	}

	if (mcast) {
		m->m_flags |= M_MCAST;
		if ((ifp->if_flags & IFF_MULTICAST) == 0) {
			m_freem(m);
			return (ENETUNREACH);
		}
		/*
		 * ip6_mloopback (a local copy when im6o_multicast_loop is set, or without
		 * im6o) is not modelled: CARP and ND send with loop 0.
		 */
		if (ip6->ip6_hlim == 0 || (ifp->if_flags & IFF_LOOPBACK) ||
		    IN6_IS_ADDR_MC_INTFACELOCAL(&ip6->ip6_dst)) {
			m_freem(m);
			return (0);
		}
	} else
		m->m_flags &= ~(M_BCAST | M_MCAST);

	if (m->m_pkthdr.len > (int)ifp->if_mtu) {
		m_freem(m);	/* fragmentation is not modelled */
		return (EMSGSIZE);
	}
	/* The wire form has no zones; the destination sockaddr keeps its zone. */
	in6_clearscope(&ip6->ip6_src);
	in6_clearscope(&ip6->ip6_dst);
	if (ifpp != NULL)
		*ifpp = ifp;
	m_clrprotoflags(m);
	return (ifp->if_output(ifp, m, (struct sockaddr *)&dst, NULL));
}

/* The solicited-node group of `target`, scoped to ifp. */
static void
kin6_solicited(struct in6_addr *grp, const struct in6_addr *target, struct ifnet *ifp)
{

	memset(grp, 0, sizeof(*grp));
	grp->s6_addr16[0] = htons(0xff02);
	grp->s6_addr32[2] = htonl(1);
	grp->s6_addr32[3] = target->s6_addr32[3];
	grp->s6_addr8[12] = 0xff;
	(void)in6_setscope(grp, ifp, NULL);
}

/*
 * nd6_ns_output_fib: a neighbour solicitation for `taddr6` (embedded form) to its
 * solicited-node group. DAD (nonce != NULL): from ::, nonce option, no hooks.
 * Resolution: from saddr6 when it is ifp's (else the selected source), not sent for a
 * CARP address this node is not master of, SLLA from carp_macmatch6_p when ifp has
 * CARP (the physical MAC otherwise).
 */
static void
knd6_ns_output(struct ifnet *ifp, const struct in6_addr *saddr6,
    const struct in6_addr *taddr6, const uint8_t *nonce)
{
	struct ip6_moptions im6o;
	struct mbuf *m;
	struct ip6_hdr *ip6;
	struct nd_neighbor_solicit *nd_ns;
	struct in6_ifaddr *ia = NULL;
	const uint8_t *mac = NULL;
	uint8_t *opt;
	int icmp6len, maxlen = sizeof(*ip6) + sizeof(*nd_ns) + 8;
	char b1[64];

	NET_EPOCH_ASSERT();
	m = m_gethdr(M_NOWAIT, MT_DATA);
	if (m == NULL)
		return;
	M_ALIGN(m, maxlen);
	m->m_flags |= M_MCAST;
	memset(&im6o, 0, sizeof(im6o));
	im6o.im6o_multicast_ifp = ifp;
	im6o.im6o_multicast_hlim = 255;
	im6o.im6o_multicast_loop = 0;

	icmp6len = sizeof(*nd_ns);
	m->m_len = m->m_pkthdr.len = sizeof(*ip6) + icmp6len;
	ip6 = mtod(m, struct ip6_hdr *);
	memset(ip6, 0, maxlen);
	ip6->ip6_flow = 0;
	ip6->ip6_vfc = IPV6_VERSION;
	ip6->ip6_nxt = IPPROTO_ICMPV6;
	ip6->ip6_hlim = 255;
	kin6_solicited(&ip6->ip6_dst, taddr6, ifp);
	if (nonce == NULL) {
		if (saddr6 != NULL && (ia = in6ifa_ifpwithaddr(ifp, saddr6)) != NULL)
			ip6->ip6_src = *saddr6;
		else {
			struct in6_addr src;

			if (kin6_selectsrc(ifp, &ip6->ip6_dst, &src) != 0) {
				log(LOG_DEBUG, "nd6_ns_output: source can't be determined: "
				    "dst=%s\n", kin6_str(&ip6->ip6_dst, b1, sizeof(b1)));
				m_freem(m);
				return;
			}
			ip6->ip6_src = src;
			ia = in6ifa_ifpwithaddr(ifp, &src);
		}
		if (ifp->if_carp != NULL && ia != NULL && ia->ia_ifa.ifa_carp != NULL &&
		    !CARP_CALL(carp_master_p, &ia->ia_ifa)) {
			ifa_free(&ia->ia_ifa);
			m_freem(m);	/* not the master of that source */
			return;
		}
		if (ia != NULL)
			ifa_free(&ia->ia_ifa);
	}
	nd_ns = (struct nd_neighbor_solicit *)(ip6 + 1);
	nd_ns->nd_ns_type = ND_NEIGHBOR_SOLICIT;
	nd_ns->nd_ns_code = 0;
	nd_ns->nd_ns_reserved = 0;
	nd_ns->nd_ns_target = *taddr6;
	in6_clearscope(&nd_ns->nd_ns_target);
	if (nonce == NULL) {
		if (ifp->if_carp != NULL)
			mac = CARP_CALL(carp_macmatch6_p, ifp, m, &ip6->ip6_src);
		if (mac == NULL)
			mac = knd6_ifptomac(ifp);
		if (mac != NULL) {
			opt = (uint8_t *)(nd_ns + 1);
			opt[0] = ND_OPT_SOURCE_LINKADDR;
			opt[1] = 1;
			memcpy(opt + 2, mac, ifp->if_addrlen);
			icmp6len += 8;
		}
	} else {
		opt = (uint8_t *)(nd_ns + 1);
		opt[0] = ND_OPT_NONCE;
		opt[1] = 1;
		memcpy(opt + 2, nonce, ND_OPT_NONCE_LEN);
		icmp6len += 8;
	}
	m->m_len = m->m_pkthdr.len = sizeof(*ip6) + icmp6len;
	ip6->ip6_plen = htons((uint16_t)icmp6len);
	nd_ns->nd_ns_cksum = 0;
	nd_ns->nd_ns_cksum = kin6_cksum(&ip6->ip6_src, &ip6->ip6_dst, IPPROTO_ICMPV6,
	    (const uint8_t *)nd_ns, icmp6len);
	(void)ip6_output(m, NULL, NULL, nonce != NULL ? IPV6_UNSPECSRC : 0, &im6o, NULL, NULL);
}

/* nd6_na_output_fib (FreeBSD 15.0). */
static void
knd6_na_output(struct ifnet *ifp, const struct in6_addr *daddr6_0,
    const struct in6_addr *taddr6, u_long flags, int tlladdr, struct sockaddr *sdl0)
{
	struct ip6_moptions im6o;
	struct mbuf *m;
	struct ip6_hdr *ip6;
	struct nd_neighbor_advert *nd_na;
	struct in6_addr daddr6, src;
	const uint8_t *mac = NULL;
	uint8_t *opt;
	int icmp6len, error, maxlen = sizeof(*ip6) + sizeof(*nd_na) + 8, unscoped;
	char b1[64], b2[64];

	NET_EPOCH_ASSERT();
	daddr6 = *daddr6_0;
	m = m_gethdr(M_NOWAIT, MT_DATA);
	if (m == NULL)
		return;
	M_ALIGN(m, maxlen);
	memset(&im6o, 0, sizeof(im6o));
	if (IN6_IS_ADDR_MULTICAST(&daddr6)) {
		m->m_flags |= M_MCAST;
		im6o.im6o_multicast_ifp = ifp;
		im6o.im6o_multicast_hlim = 255;
		im6o.im6o_multicast_loop = 0;
	}
	icmp6len = sizeof(*nd_na);
	m->m_len = m->m_pkthdr.len = sizeof(*ip6) + icmp6len;
	ip6 = mtod(m, struct ip6_hdr *);
	memset(ip6, 0, maxlen);
	ip6->ip6_vfc = IPV6_VERSION;
	ip6->ip6_nxt = IPPROTO_ICMPV6;
	ip6->ip6_hlim = 255;
	if (IN6_IS_ADDR_UNSPECIFIED(&daddr6)) {
		/* An answer to DAD: to all nodes, on ifp's link. */
		daddr6 = in6addr_linklocal_allnodes;
		if (in6_setscope(&daddr6, ifp, NULL) != 0) {
			m_freem(m);
			return;
		}
		flags &= ~ND_NA_FLAG_SOLICITED;
	}
	/* No zone is ever added to a multicast destination the caller passes. */
	ip6->ip6_dst = daddr6;
	error = kin6_selectsrc(ifp, &daddr6, &src);
	if (error != 0) {
		log(LOG_DEBUG, "nd6_na_output: source can't be determined: dst=%s, error=%d\n",
		    kin6_str(&daddr6, b1, sizeof(b1)), error);
		m_freem(m);
		return;
	}
	ip6->ip6_src = src;
	nd_na = (struct nd_neighbor_advert *)(ip6 + 1);
	nd_na->nd_na_type = ND_NEIGHBOR_ADVERT;
	nd_na->nd_na_code = 0;
	nd_na->nd_na_target = *taddr6;
	in6_clearscope(&nd_na->nd_na_target);
	if (tlladdr) {
		if (sdl0 == NULL) {
			/* The partly built NA, the caller's target (embedded form). */
			if (ifp->if_carp != NULL)
				mac = CARP_CALL(carp_macmatch6_p, ifp, m, taddr6);
			if (mac == NULL)
				mac = knd6_ifptomac(ifp);
		} else if (sdl0->sa_family == AF_LINK) {
			struct sockaddr_dl *sdl = (struct sockaddr_dl *)sdl0;

			if (sdl->sdl_alen == ifp->if_addrlen)
				mac = (const uint8_t *)LLADDR(sdl);
		}
	}
	if (tlladdr && mac != NULL) {
		opt = (uint8_t *)(nd_na + 1);
		opt[0] = ND_OPT_TARGET_LINKADDR;
		opt[1] = 1;
		memcpy(opt + 2, mac, ifp->if_addrlen);
		icmp6len += 8;
	} else
		flags &= ~ND_NA_FLAG_OVERRIDE;
	m->m_len = m->m_pkthdr.len = sizeof(*ip6) + icmp6len;
	ip6->ip6_plen = htons((uint16_t)icmp6len);
	nd_na->nd_na_flags_reserved = (uint32_t)flags;
	nd_na->nd_na_cksum = 0;
	nd_na->nd_na_cksum = kin6_cksum(&ip6->ip6_src, &ip6->ip6_dst, IPPROTO_ICMPV6,
	    (const uint8_t *)nd_na, icmp6len);
	unscoped = kin6_scoped(&daddr6) && daddr6.s6_addr16[1] == 0;
	error = ip6_output(m, NULL, NULL, 0, &im6o, NULL, NULL);
	/* The error is ignored, as nd6_na_output_fib does (the counters still count it). */
	if (error == EHOSTUNREACH && unscoped)
		log(LOG_DEBUG, "nd6_na_output: NA for %s on %s dropped: destination %s carries "
		    "no embedded scope zone (ip6_output scope check: EHOSTUNREACH)\n",
		    kin6_str(taddr6, b1, sizeof(b1)), ifp->if_xname,
		    kin6_str(&daddr6, b2, sizeof(b2)));
}

void
nd6_na_output(struct ifnet *ifp, const struct in6_addr *daddr6,
    const struct in6_addr *taddr6, u_long flags, int tlladdr, struct sockaddr *sdl0)
{

	knd6_na_output(ifp, daddr6, taddr6, flags, tlladdr, sdl0);
}

/* nd6_resolve: the MAC for a unicast next hop, or EWOULDBLOCK (m held, NS sent). */
int
knd6_resolve(struct ifnet *ifp, struct mbuf *m, const struct sockaddr *dst, u_char *desten)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)dst;
	struct in6_addr a = sin6->sin6_addr, src;
	struct knd *e;
	struct mbuf *drop = NULL;
	sbintime_t now = ksbinuptime();
	int ask = 0, have_src = 0;

	NET_EPOCH_ASSERT();
	if (m->m_flags & M_MCAST) {
		desten[0] = 0x33;
		desten[1] = 0x33;
		memcpy(desten + 2, &a.s6_addr[12], 4);
		return (0);
	}
	if (m->m_len >= (int)sizeof(struct ip6_hdr)) {
		src = mtod(m, struct ip6_hdr *)->ip6_src;
		have_src = 1;
	}
	mtx_lock(&knd_mtx);
	e = knd_get(ifp, &a);
	if (e == NULL) {
		mtx_unlock(&knd_mtx);
		log(LOG_DEBUG, "nd6_output: can't allocate llinfo\n");
		m_freem(m);
		return (ENOBUFS);
	}
	if (e->flags & LLE_VALID) {
		memcpy(desten, e->mac, ETHER_ADDR_LEN);
		mtx_unlock(&knd_mtx);
		return (0);
	}
	/* la_hold: up to nd6_maxqueuelen packets, the oldest dropped first. */
	m->m_nextpkt = NULL;
	knd_chain_cat(&e->hold, m);
	if (++e->nhold > KIN6_MAXQUEUELEN) {
		drop = e->hold;
		e->hold = drop->m_nextpkt;
		drop->m_nextpkt = NULL;
		e->nhold--;
	}
	if (e->asked == 0 || now - e->asked >= KIN6_RETRANS_SBT) {
		e->asked = now;
		ask = 1;
	}
	mtx_unlock(&knd_mtx);
	m_freem(drop);
	if (ask)
		knd6_ns_output(ifp, have_src ? &src : NULL, &a, NULL);
	return (EWOULDBLOCK);
}

/* ---- Duplicate address detection (nd6_nbr.c) ---- */

struct kdad {
	TAILQ_ENTRY(kdad) link;
	struct in6_ifaddr *ia;		/* referenced */
	struct vnet	*vnet;
	struct callout	 co;
	int		 ns_ocount, ns_icount, ns_lcount, na_icount;
	int		 done;		/* finished (kept until the address goes) */
	uint8_t		 nonce[ND_OPT_NONCE_LEN];
};
static TAILQ_HEAD(, kdad) kdad_head = TAILQ_HEAD_INITIALIZER(kdad_head);

static struct kdad *
kdad_find(struct in6_ifaddr *ia)
{
	struct kdad *dp;

	TAILQ_FOREACH(dp, &kdad_head, link)
		if (dp->ia == ia)
			return (dp);
	return (NULL);
}

/* nd6_dad_duplicated (kdad_mtx held). */
static void
kdad_duplicated(struct in6_ifaddr *ia, struct kdad *dp)
{
	struct ifnet *ifp = ia->ia_ifp;
	char b1[64];

	mtx_assert(&kdad_mtx, MA_OWNED);
	kin6_str(IA6_IN6(ia), b1, sizeof(b1));
	log(LOG_ERR, "%s: DAD detected duplicate IPv6 address %s: NS in/out/loopback=%d/%d/%d, "
	    "NA in=%d\n", if_name(ifp), b1, dp ? dp->ns_icount : 0, dp ? dp->ns_ocount : 0,
	    dp ? dp->ns_lcount : 0, dp ? dp->na_icount : 0);
	ia->ia6_flags &= ~IN6_IFF_TENTATIVE;
	ia->ia6_flags |= IN6_IFF_DUPLICATED;
	log(LOG_ERR, "%s: DAD complete for %s - duplicate found\n", if_name(ifp), b1);
	log(LOG_ERR, "%s: manual intervention required\n", if_name(ifp));
	if (dp != NULL) {
		dp->done = 1;
		callout_stop(&dp->co);
	}
}

static void
kdad_timer(void *arg)
{
	struct kdad *dp = arg;
	struct epoch_tracker et;
	struct in6_ifaddr *ia;
	struct ifnet *ifp;
	struct in6_addr target;
	uint8_t nonce[ND_OPT_NONCE_LEN];
	char b1[64];
	int send = 0;

	CURVNET_SET(dp->vnet);
	NET_EPOCH_ENTER(et);
	mtx_lock(&kdad_mtx);
	if (dp->done) {
		mtx_unlock(&kdad_mtx);
		goto out;
	}
	ia = dp->ia;
	ifp = ia->ia_ifp;
	if (ia->ia6_flags & IN6_IFF_DUPLICATED) {
		log(LOG_ERR, "nd6_dad_timer: called with duplicated address %s(%s)\n",
		    kin6_str(IA6_IN6(ia), b1, sizeof(b1)), if_name(ifp));
		dp->done = 1;
	} else if ((ia->ia6_flags & IN6_IFF_TENTATIVE) == 0) {
		log(LOG_ERR, "nd6_dad_timer: called with non-tentative address %s(%s)\n",
		    kin6_str(IA6_IN6(ia), b1, sizeof(b1)), if_name(ifp));
		dp->done = 1;
	} else if (dp->ns_ocount < KIN6_DAD_COUNT) {
		/* nd6_dad_starttimer(dp, retrans, 1): an NS now, the verdict after retrans. */
		dp->ns_ocount++;
		arc4random_buf(dp->nonce, sizeof(dp->nonce));
		memcpy(nonce, dp->nonce, sizeof(nonce));
		target = ia->ia_addr.sin6_addr;
		send = 1;
		callout_reset_sbt(&dp->co, KIN6_RETRANS_SBT, 0, kdad_timer, dp, 0);
	} else if (dp->ns_icount > 0 || dp->na_icount > 0) {
		kdad_duplicated(ia, dp);
	} else {
		/* ("DAD complete ... no duplicates found" is an nd6log: silent by default) */
		ia->ia6_flags &= ~IN6_IFF_TENTATIVE;
		dp->done = 1;
	}
	mtx_unlock(&kdad_mtx);
	if (send)
		knd6_ns_output(ifp, NULL, &target, nonce);
out:
	NET_EPOCH_EXIT(et);
	CURVNET_RESTORE();
}

/* nd6_dad_start */
static void
knd6_dad_start(struct in6_ifaddr *ia, sbintime_t delay)
{
	struct ifnet *ifp = ia->ia_ifp;
	struct kdad *dp;
	char b1[64];

	if ((ia->ia6_flags & IN6_IFF_TENTATIVE) == 0) {
		kfail("nd6", "nd6_dad_start on a non-tentative address (KASSERT)");
		return;
	}
	/*
	 * No DAD needed: anycast, dad_count 0, ND6_IFF_NO_DAD on the interface. ifconfig's
	 * no_dad reaches this kernel as IN6_IFF_NODAD in ifra_flags; it is honoured here,
	 * with the same result (TENTATIVE set by in6_update_ifa, cleared before use).
	 */
	if ((ia->ia6_flags & (IN6_IFF_ANYCAST | IN6_IFF_NODAD)) || KIN6_DAD_COUNT == 0 ||
	    (KND_IFINFO(ifp)->flags & ND6_IFF_NO_DAD)) {
		ia->ia6_flags &= ~IN6_IFF_TENTATIVE;
		return;
	}
	if ((ifp->if_flags & IFF_UP) == 0 || (ifp->if_drv_flags & IFF_DRV_RUNNING) == 0 ||
	    (KND_IFINFO(ifp)->flags & ND6_IFF_IFDISABLED))
		return;		/* TENTATIVE until in6_if_up */
	mtx_lock(&kdad_mtx);
	dp = kdad_find(ia);
	if (dp != NULL && !dp->done) {
		mtx_unlock(&kdad_mtx);
		return;		/* already in progress */
	}
	if (dp == NULL) {
		dp = malloc(sizeof(*dp), M_IFADDR, M_NOWAIT | M_ZERO);
		if (dp == NULL) {
			mtx_unlock(&kdad_mtx);
			log(LOG_ERR, "nd6_dad_start: memory allocation failed for %s(%s)\n",
			    kin6_str(IA6_IN6(ia), b1, sizeof(b1)), if_name(ifp));
			return;
		}
		callout_init(&dp->co, 1);
		dp->ia = ia;
		ifa_ref(&ia->ia_ifa);
		TAILQ_INSERT_TAIL(&kdad_head, dp, link);
	}
	dp->vnet = ifp->if_vnet;
	dp->done = 0;
	dp->ns_ocount = dp->ns_icount = dp->ns_lcount = dp->na_icount = 0;
	callout_reset_sbt(&dp->co, delay, 0, kdad_timer, dp, 0);
	mtx_unlock(&kdad_mtx);
}

/* nd6_dad_stop: the callout is drained (the caller may sleep and is outside the epoch). */
static void
knd6_dad_stop(struct in6_ifaddr *ia)
{
	struct kdad *dp;

	mtx_lock(&kdad_mtx);
	dp = kdad_find(ia);
	if (dp != NULL) {
		TAILQ_REMOVE(&kdad_head, dp, link);
		dp->done = 1;
	}
	mtx_unlock(&kdad_mtx);
	if (dp == NULL)
		return;
	callout_drain(&dp->co);
	ifa_free(&dp->ia->ia_ifa);
	free(dp, M_IFADDR);
}

/* nd6_dad_ns_input: someone else probes our tentative address (unless it is our own NS). */
static void
knd6_dad_ns_input(struct ifaddr *ifa, const uint8_t *nonce)
{
	struct kdad *dp;

	mtx_lock(&kdad_mtx);
	dp = kdad_find((struct in6_ifaddr *)ifa);
	if (dp != NULL && !dp->done) {
		if (nonce != NULL && memcmp(nonce, dp->nonce, ND_OPT_NONCE_LEN) == 0)
			dp->ns_lcount++;	/* looped back */
		else
			dp->ns_icount++;
	}
	mtx_unlock(&kdad_mtx);
}

/* nd6_dad_na_input: an NA for our tentative address: duplicated at once. */
static void
knd6_dad_na_input(struct ifaddr *ifa)
{
	struct kdad *dp;

	mtx_lock(&kdad_mtx);
	dp = kdad_find((struct in6_ifaddr *)ifa);
	if (dp != NULL && dp->done)
		dp = NULL;
	if (dp != NULL)
		dp->na_icount++;
	kdad_duplicated((struct in6_ifaddr *)ifa, dp);
	mtx_unlock(&kdad_mtx);
}

/* ---- Multicast memberships (in6_mcast.c without MLD) ---- */

static struct in6_multi *
kin6m_lookup(struct ifnet *ifp, const struct in6_addr *group)
{
	struct ifmultiaddr *ifma;

	CK_STAILQ_FOREACH(ifma, &ifp->if_multiaddrs, ifma_link) {
		struct in6_multi *inm = ifma->ifma_protospec;

		if (ifma->ifma_addr->sa_family == AF_INET6 && inm != NULL &&
		    IN6_ARE_ADDR_EQUAL(&inm->in6m_addr, group))
			return (inm);
	}
	return (NULL);
}

int
in6_joingroup(struct ifnet *ifp, const struct in6_addr *mcaddr,
    /*const*/ struct in6_mfilter *imf, struct in6_multi **pinm, const int delay)
{
	struct sockaddr_in6 gsin6;
	struct ifmultiaddr *ifma;
	struct in6_multi *inm;
	char b1[64];
	int error;

	ksleep_check("in6_joingroup");	/* IN6_MULTI_LOCK is an sx */
	if (!IN6_IS_ADDR_MULTICAST(mcaddr))
		return (EINVAL);
	if (kin6_scoped(mcaddr) && mcaddr->s6_addr16[1] == 0)
		kfail("mcast", "in6_joingroup(%s, %s) of a scoped group without its zone "
		    "embedded (KASSERT in in6_joingroup_locked)", ifp->if_xname,
		    kin6_str(mcaddr, b1, sizeof(b1)));
	if (kfault_should_fail_from("in6_joingroup", __builtin_return_address(0)))
		return (ENOMEM);
	/* imf is ignored: in6_joingroup always joins with a fake ASM filter. */
	sx_xlock(&in6_multi_sx);
	if (ifp->if_afdata[AF_INET6] == NULL) {
		sx_xunlock(&in6_multi_sx);
		return (ENODEV);
	}
	inm = kin6m_lookup(ifp, mcaddr);
	if (inm != NULL) {
		inm->in6m_refcount++;
		*pinm = inm;
		sx_xunlock(&in6_multi_sx);
		return (0);
	}
	kin6_sin6(&gsin6, mcaddr);
	error = if_addmulti(ifp, (struct sockaddr *)&gsin6, &ifma);
	if (error != 0) {
		sx_xunlock(&in6_multi_sx);
		return (error);
	}
	inm = malloc(sizeof(*inm), M_IP6MADDR, M_NOWAIT | M_ZERO);
	if (inm == NULL) {
		if_delmulti_ifma(ifma);
		sx_xunlock(&in6_multi_sx);
		return (ENOMEM);
	}
	inm->in6m_addr = *mcaddr;
	inm->in6m_ifp = ifp;
	inm->in6m_ifma = ifma;
	inm->in6m_refcount = 1;
	inm->in6m_state = 0;	/* MLD_NOT_MEMBER: no MLD reports (not modelled) */
	RB_INIT(&inm->in6m_srcs);
	ifma->ifma_protospec = inm;
	if_ref(ifp);
	*pinm = inm;
	sx_xunlock(&in6_multi_sx);
	return (0);
}

int
in6_leavegroup(struct in6_multi *inm, /*const*/ struct in6_mfilter *imf)
{
	struct ifmultiaddr *ifma;
	struct ifnet *ifp;

	if (inm == NULL) {
		kfail("mcast", "in6_leavegroup(NULL)");
		return (EINVAL);
	}
	sx_xlock(&in6_multi_sx);
	if (inm->in6m_refcount == 0) {
		sx_xunlock(&in6_multi_sx);
		kfail("mcast", "in6_leavegroup of a membership already released");
		return (EINVAL);
	}
	if (--inm->in6m_refcount > 0) {
		sx_xunlock(&in6_multi_sx);
		return (0);
	}
	ifma = inm->in6m_ifma;
	ifp = inm->in6m_ifp;
	if (ifma != NULL)
		kif_release_multi(ifma);
	sx_xunlock(&in6_multi_sx);
	if_rele(ifp);
	free(inm, M_IP6MADDR);
	return (0);
}

struct in6_mfilter *
ip6_mfilter_alloc(int mflags, int st0, int st1)
{
	struct in6_mfilter *imf;

	imf = malloc(sizeof(*imf), M_IN6MFILTER, mflags);
	if (imf != NULL) {
		RB_INIT(&imf->im6f_sources);
		imf->im6f_nsrc = 0;
		imf->im6f_st[0] = st0;
		imf->im6f_st[1] = st1;
		imf->im6f_in6m = NULL;
	}
	return (imf);
}

void
ip6_mfilter_free(struct in6_mfilter *imf)
{

	/* im6f_purge: no sources in the simulation. It does not leave the group. */
	free(imf, M_IN6MFILTER);
}

/* One membership of an address (in6_update_ifa_join_mc). */
static int
kin6_join_mship(struct in6_ifaddr *ia, const struct in6_addr *grp)
{
	struct in6_multi_mship *imm;
	struct in6_multi *inm = NULL;
	int error;

	error = in6_joingroup(ia->ia_ifp, grp, NULL, &inm, 0);
	if (error != 0)
		return (error);
	imm = malloc(sizeof(*imm), M_IP6MADDR, M_NOWAIT | M_ZERO);
	if (imm == NULL) {
		in6_leavegroup(inm, NULL);
		return (ENOBUFS);
	}
	imm->i6mm_maddr = inm;
	LIST_INSERT_HEAD(&ia->ia6_memberships, imm, i6mm_chain);
	return (0);
}

static int
kin6_update_ifa_join_mc(struct ifnet *ifp, struct in6_ifaddr *ia)
{
	struct in6_addr grp;
	char b1[64];
	int error;

	/* The solicited-node group. */
	kin6_solicited(&grp, IA6_IN6(ia), ifp);
	if ((error = kin6_join_mship(ia, &grp)) != 0) {
		log(LOG_WARNING, "in6_update_ifa: addmulti failed for %s on %s (errno=%d)\n",
		    kin6_str(&grp, b1, sizeof(b1)), if_name(ifp), error);
		return (error);
	}
	/* Link-local all-nodes. */
	grp = in6addr_linklocal_allnodes;
	(void)in6_setscope(&grp, ifp, NULL);
	if ((error = kin6_join_mship(ia, &grp)) != 0)
		return (error);
	/* The node-information group (ff02::2:x) needs the hostname's MD5: not modelled. */
	/* Interface-local all-nodes. */
	memset(&grp, 0, sizeof(grp));
	grp.s6_addr16[0] = htons(0xff01);
	grp.s6_addr8[15] = 1;
	(void)in6_setscope(&grp, ifp, NULL);
	if ((error = kin6_join_mship(ia, &grp)) != 0)
		return (error);
	return (0);
}

/* ---- Prefixes (nd6_rtr.c's part used by in6_addifaddr) ---- */

VNET_DEFINE_STATIC(LIST_HEAD(, nd_prefix), knd_prefix);
#define	V_knd_prefix	VNET(knd_prefix)

static struct nd_prefix *
knd6_prefix_lookup(struct ifnet *ifp, const struct in6_addr *prefix, int plen)
{
	struct nd_prefix *pr;

	mtx_lock(&knd_pfx_mtx);
	LIST_FOREACH(pr, &V_knd_prefix, ndpr_entry)
		if (pr->ndpr_ifp == ifp && pr->ndpr_plen == plen &&
		    IN6_ARE_ADDR_EQUAL(&pr->ndpr_prefix.sin6_addr, prefix))
			break;
	if (pr != NULL)
		refcount_acquire(&pr->ndpr_refcnt);
	mtx_unlock(&knd_pfx_mtx);
	return (pr);
}

static void
knd6_prefix_rele(struct nd_prefix *pr)
{

	refcount_release(&pr->ndpr_refcnt);
}

/* nd6_prefix_onlink: the interface route, through the link-local or first address. */
static int
knd6_prefix_onlink(struct nd_prefix *pr)
{
	struct epoch_tracker et;
	struct ifnet *ifp = pr->ndpr_ifp;
	struct ifaddr *ifa;
	struct nd_prefix *opr;
	int error;

	if (pr->ndpr_stateflags & NDPRF_ONLINK)
		return (EEXIST);
	/* The same prefix already on-link on another interface: allowed, no route. */
	mtx_lock(&knd_pfx_mtx);
	LIST_FOREACH(opr, &V_knd_prefix, ndpr_entry) {
		if (opr == pr || (opr->ndpr_stateflags & NDPRF_ONLINK) == 0)
			continue;
		if (opr->ndpr_plen == pr->ndpr_plen && kin6_prefix_match(
		    &opr->ndpr_prefix.sin6_addr, &pr->ndpr_prefix.sin6_addr, &pr->ndpr_mask)) {
			mtx_unlock(&knd_pfx_mtx);
			return (0);
		}
	}
	mtx_unlock(&knd_pfx_mtx);
	NET_EPOCH_ENTER(et);
	ifa = (struct ifaddr *)kin6ifa_ifpforlinklocal(ifp,
	    IN6_IFF_NOTREADY | IN6_IFF_ANYCAST);
	if (ifa == NULL) {
		CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link)
			if (ifa->ifa_addr->sa_family == AF_INET6) {
				ifa_ref(ifa);
				break;
			}
	}
	NET_EPOCH_EXIT(et);
	if (ifa == NULL)
		return (0);	/* (an nd6log) */
	error = krt_add(AF_INET6, &pr->ndpr_prefix.sin6_addr, pr->ndpr_plen, ifa, KRT_PREFIX);
	ifa_free(ifa);
	if (error == 0)
		pr->ndpr_stateflags |= NDPRF_ONLINK;
	return (error);
}

/* nd6_prelist_add: returned referenced in *newp. */
static int
knd6_prelist_add(struct ifnet *ifp, const struct in6_addr *prefix, int plen,
    const struct in6_aliasreq *ifra, struct nd_prefix **newp)
{
	struct nd_prefix *pr;

	pr = malloc(sizeof(*pr), M_RTABLE, M_NOWAIT | M_ZERO);
	if (pr == NULL)
		return (ENOMEM);
	refcount_init(&pr->ndpr_refcnt, newp != NULL ? 2 : 1);
	pr->ndpr_ifp = ifp;
	kin6_sin6(&pr->ndpr_prefix, prefix);
	kin6_len2mask(&pr->ndpr_mask, plen);
	pr->ndpr_plen = plen;
	pr->ndpr_raf_onlink = 1;
	pr->ndpr_raf_auto = (ifra->ifra_flags & IN6_IFF_AUTOCONF) != 0;
	pr->ndpr_vltime = ifra->ifra_lifetime.ia6t_vltime;
	pr->ndpr_pltime = ifra->ifra_lifetime.ia6t_pltime;
	pr->ndpr_lastupdate = time_uptime;
	LIST_INIT(&pr->ndpr_advrtrs);
	mtx_lock(&knd_pfx_mtx);
	LIST_INSERT_HEAD(&V_knd_prefix, pr, ndpr_entry);
	mtx_unlock(&knd_pfx_mtx);
	/* ND_OPT_PI_FLAG_ONLINK: a failure is only logged (nd6log), the prefix stays. */
	(void)knd6_prefix_onlink(pr);
	if (newp != NULL)
		*newp = pr;
	return (0);
}

/*
 * nd6_prefix_offlink: the route goes; the same prefix of another interface takes it
 * over, else the neighbour entries within the prefix go too.
 */
static void
knd6_prefix_offlink(struct nd_prefix *pr)
{
	struct nd_prefix *opr;
	int a_failure = 1;

	if (krt_del(AF_INET6, &pr->ndpr_prefix.sin6_addr, pr->ndpr_plen, KRT_PREFIX, NULL) ==
	    0) {
		pr->ndpr_stateflags &= ~NDPRF_ONLINK;
		mtx_lock(&knd_pfx_mtx);
		LIST_FOREACH(opr, &V_knd_prefix, ndpr_entry) {
			if (opr == pr || (opr->ndpr_stateflags & (NDPRF_ONLINK | NDPRF_DETACHED)))
				continue;
			if (opr->ndpr_plen == pr->ndpr_plen && kin6_prefix_match(
			    &opr->ndpr_prefix.sin6_addr, &pr->ndpr_prefix.sin6_addr,
			    &pr->ndpr_mask)) {
				/* (the list changes only under in6_control_sx or teardown) */
				mtx_unlock(&knd_pfx_mtx);
				if (knd6_prefix_onlink(opr) == 0)
					a_failure = 0;
				mtx_lock(&knd_pfx_mtx);
			}
		}
		mtx_unlock(&knd_pfx_mtx);
	}
	if (a_failure)
		knd_prefix_free(&pr->ndpr_prefix.sin6_addr, &pr->ndpr_mask);
}

/* nd6_prefix_unlink + nd6_prefix_del: the prefix and its route go. */
static void
knd6_prefix_del(struct nd_prefix *pr)
{

	mtx_lock(&knd_pfx_mtx);
	LIST_REMOVE(pr, ndpr_entry);
	mtx_unlock(&knd_pfx_mtx);
	if (pr->ndpr_stateflags & NDPRF_ONLINK)
		knd6_prefix_offlink(pr);
	if (pr->ndpr_refcnt > 1)
		kfail("nd6", "nd6_prefix_del: prefix still referenced (%u)", pr->ndpr_refcnt);
	free(pr, M_RTABLE);
}

/* ---- Addresses ---- */

static void
kin6_unlink_ifa(struct in6_ifaddr *ia, struct ifnet *ifp)
{
	int remove_lle;

	IF_ADDR_WLOCK(ifp);
	CK_STAILQ_REMOVE(&ifp->if_addrhead, &ia->ia_ifa, ifaddr, ifa_link);
	IF_ADDR_WUNLOCK(ifp);
	ifa_free(&ia->ia_ifa);		/* if_addrhead */

	mtx_lock(&kin6_ifaddr_mtx);
	CK_STAILQ_REMOVE(&V_in6_ifaddrhead, ia, in6_ifaddr, ia_link);
	mtx_unlock(&kin6_ifaddr_mtx);

	remove_lle = 0;
	if (ia->ia6_ndpr != NULL) {
		ia->ia6_ndpr->ndpr_addrcnt--;
		/* Do not delete the entries within the prefix while others use it. */
		if (ia->ia6_ndpr->ndpr_addrcnt == 0)
			remove_lle = 1;
		ia->ia6_ndpr = NULL;
	}
	nd6_rem_ifa_lle(ia, remove_lle);
	ifa_free(&ia->ia_ifa);		/* in6_ifaddrhead */
}

/* in6_purgeaddr */
static void
kin6_purgeaddr(struct ifaddr *ifa)
{
	struct ifnet *ifp = ifa->ifa_ifp;
	struct in6_ifaddr *ia = (struct in6_ifaddr *)ifa;
	struct in6_multi_mship *imm;

	if (ifa->ifa_carp)
		CARP_VCALL(carp_detach_p, ifa, false);
	if (ia->ia_flags & IFA_RTSELF) {
		if (ifa_del_loopback_route(ifa, (struct sockaddr *)&ia->ia_addr) == 0)
			ia->ia_flags &= ~IFA_RTSELF;
	}
	knd6_dad_stop(ia);
	while ((imm = LIST_FIRST(&ia->ia6_memberships)) != NULL) {
		LIST_REMOVE(imm, i6mm_chain);
		if (imm->i6mm_maddr != NULL)
			in6_leavegroup(imm->i6mm_maddr, NULL);
		free(imm, M_IP6MADDR);
	}
	/* (p2p destination routes and in6_newaddrmsg: not modelled) */
	kin6_unlink_ifa(ia, ifp);
}

/* in6_purgeifaddr */
void
kin6_purgeifaddr(struct in6_ifaddr *ia)
{
	struct nd_prefix *pr;

	pr = ia->ia6_ndpr;
	kin6_purgeaddr(&ia->ia_ifa);
	if (pr != NULL && pr->ndpr_addrcnt == 0)
		knd6_prefix_del(pr);
}

static int
kin6if_do_dad(struct ifnet *ifp)
{

	if ((ifp->if_flags & IFF_LOOPBACK) != 0)
		return (0);
	if ((ifp->if_flags & IFF_MULTICAST) == 0)
		return (0);
	if (KND_IFINFO(ifp)->flags & (ND6_IFF_IFDISABLED | ND6_IFF_NO_DAD))
		return (0);
	return (1);
}

/* in6_validate_ifra; *plenp gets the prefix length. */
static int
kin6_validate_ifra(struct ifnet *ifp, struct in6_aliasreq *ifra, struct in6_ifaddr *ia,
    int *plenp)
{
	int plen = -1;

	if (ifp == NULL || ifra == NULL)
		return (EINVAL);
	if ((ifp->if_flags & IFF_POINTOPOINT) != 0 &&
	    ifra->ifra_dstaddr.sin6_family != AF_INET6 &&
	    ifra->ifra_dstaddr.sin6_family != AF_UNSPEC)
		return (EAFNOSUPPORT);
	if (ifra->ifra_addr.sin6_len != sizeof(struct sockaddr_in6) ||
	    ifra->ifra_addr.sin6_family != AF_INET6)
		return (EINVAL);
	if (ifra->ifra_prefixmask.sin6_len > sizeof(struct sockaddr_in6))
		return (EINVAL);
	if (ia == NULL && ifra->ifra_prefixmask.sin6_len == 0)
		return (EINVAL);
	if (ifra->ifra_prefixmask.sin6_len != 0) {
		plen = in6_mask2len(&ifra->ifra_prefixmask.sin6_addr,
		    (u_char *)&ifra->ifra_prefixmask + ifra->ifra_prefixmask.sin6_len);
		if (plen <= 0)
			return (EINVAL);
	} else
		plen = in6_mask2len(&ia->ia_prefixmask.sin6_addr, NULL);
	if (ifra->ifra_dstaddr.sin6_family == AF_INET6) {
		/* A destination only for p2p and loopback interfaces, with plen 128. */
		if ((ifp->if_flags & (IFF_POINTOPOINT | IFF_LOOPBACK)) == 0 || plen != 128)
			return (EINVAL);
		if (sa6_embedscope(&ifra->ifra_dstaddr, 0) != 0)
			return (EINVAL);
	}
	if (ifra->ifra_lifetime.ia6t_pltime > ifra->ifra_lifetime.ia6t_vltime)
		return (EINVAL);
	if (ia != NULL && ifra->ifra_prefixmask.sin6_len != 0 &&
	    ia->ia_prefixmask.sin6_len != 0 &&
	    in6_mask2len(&ia->ia_prefixmask.sin6_addr, NULL) != plen)
		return (EINVAL);	/* the prefix length of an existing address */
	*plenp = plen;
	return (0);
}

/* in6_alloc_ifa: refcount 1 (the caller's) + if_addrhead + in6_ifaddrhead. */
static struct in6_ifaddr *
kin6_alloc_ifa(struct ifnet *ifp, struct in6_aliasreq *ifra)
{
	struct in6_ifaddr *ia;

	ia = (struct in6_ifaddr *)ifa_alloc(sizeof(*ia), M_NOWAIT);
	if (ia == NULL)
		return (NULL);
	LIST_INIT(&ia->ia6_memberships);
	ia->ia_ifa.ifa_addr = (struct sockaddr *)&ia->ia_addr;
	ia->ia_addr = ifra->ifra_addr;	/* already zone-embedded, scope_id 0 */
	ia->ia6_createtime = time_uptime;
	if ((ifp->if_flags & (IFF_POINTOPOINT | IFF_LOOPBACK)) != 0)
		ia->ia_ifa.ifa_dstaddr = (struct sockaddr *)&ia->ia_dstaddr;
	else
		ia->ia_ifa.ifa_dstaddr = NULL;
	ia->ia_ifa.ifa_netmask = (struct sockaddr *)&ia->ia_prefixmask;
	if (ifra->ifra_prefixmask.sin6_len != 0) {
		ia->ia_prefixmask.sin6_family = AF_INET6;
		ia->ia_prefixmask.sin6_len = ifra->ifra_prefixmask.sin6_len;
		ia->ia_prefixmask.sin6_addr = ifra->ifra_prefixmask.sin6_addr;
	}
	ia->ia_ifp = ifp;
	ifa_ref(&ia->ia_ifa);		/* if_addrhead */
	IF_ADDR_WLOCK(ifp);
	CK_STAILQ_INSERT_TAIL(&ifp->if_addrhead, &ia->ia_ifa, ifa_link);
	IF_ADDR_WUNLOCK(ifp);
	ifa_ref(&ia->ia_ifa);		/* in6_ifaddrhead */
	mtx_lock(&kin6_ifaddr_mtx);
	CK_STAILQ_INSERT_TAIL(&V_in6_ifaddrhead, ia, ia_link);
	mtx_unlock(&kin6_ifaddr_mtx);
	return (ia);
}

/* in6_notify_ifa */
static int
kin6_notify_ifa(struct ifnet *ifp, struct in6_ifaddr *ia, struct in6_aliasreq *ifra,
    int hostIsNew)
{
	struct epoch_tracker et;
	struct ifaddr *ifa;
	int error = 0, ifacount = 0;

	if (hostIsNew) {
		NET_EPOCH_ENTER(et);
		CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link)
			if (ifa->ifa_addr->sa_family == AF_INET6)
				ifacount++;
		NET_EPOCH_EXIT(et);
	}
	/* The interface's first address (and, quirk, every re-add): SIOCSIFADDR. */
	if (ifacount <= 1 && ifp->if_ioctl != NULL) {
		error = ifp->if_ioctl(ifp, SIOCSIFADDR, (caddr_t)ia);
		if (error)
			goto done;
	}
	/* (p2p destination routes: not modelled) */
	/* The loopback route to self (V_nd6_useloopback): no carp exception. */
	if (!(ia->ia_flags & IFA_RTSELF)) {
		error = ifa_add_loopback_route(&ia->ia_ifa, (struct sockaddr *)&ia->ia_addr);
		if (error == 0)
			ia->ia_flags |= IFA_RTSELF;
	}
done:
	ksleep_check("in6_notify_ifa (IPv6 network device address event may sleep)");
	ifa_ref(&ia->ia_ifa);
	KEVENT_INVOKE(ifaddr_event_ext, ifp, &ia->ia_ifa, IFADDR_EVENT_ADD);
	ifa_free(&ia->ia_ifa);
	return (error);
}

/* in6_broadcast_ifa: consumes the caller's (allocation) reference. */
static int
kin6_broadcast_ifa(struct ifnet *ifp, struct in6_aliasreq *ifra, struct in6_ifaddr *ia)
{
	int error;

	if ((error = nd6_add_ifa_lle(ia)) != 0) {
		kin6_purgeaddr(&ia->ia_ifa);
		ifa_free(&ia->ia_ifa);
		return (error);
	}
	if ((ifp->if_flags & IFF_MULTICAST) != 0) {
		error = kin6_update_ifa_join_mc(ifp, ia);
		if (error != 0) {
			kin6_purgeaddr(&ia->ia_ifa);
			ifa_free(&ia->ia_ifa);
			return (error);
		}
	}
	if (ia->ia6_flags & IN6_IFF_TENTATIVE)
		knd6_dad_start(ia, 0);
	/* (in6_newaddrmsg: not modelled) */
	ifa_free(&ia->ia_ifa);
	return (0);
}

/* in6_update_ifa */
static int
kin6_update_ifa(struct ifnet *ifp, struct in6_aliasreq *ifra, struct in6_ifaddr *ia)
{
	int error, plen, hostIsNew = 0;

	if ((error = kin6_validate_ifra(ifp, ifra, ia, &plen)) != 0)
		return (error);
	if (ia == NULL && ifra->ifra_lifetime.ia6t_vltime == 0)
		return (0);	/* there's nothing to do */
	if (ia == NULL) {
		hostIsNew = 1;
		if ((ia = kin6_alloc_ifa(ifp, ifra)) == NULL)
			return (ENOBUFS);
	}
	/* in6_update_ifa_internal */
	ia->ia6_updatetime = time_uptime;
	ia->ia6_lifetime = ifra->ifra_lifetime;
	if (ia->ia6_lifetime.ia6t_vltime != ND6_INFINITE_LIFETIME)
		ia->ia6_lifetime.ia6t_expire = time_uptime + ia->ia6_lifetime.ia6t_vltime;
	else
		ia->ia6_lifetime.ia6t_expire = 0;
	if (ia->ia6_lifetime.ia6t_pltime != ND6_INFINITE_LIFETIME)
		ia->ia6_lifetime.ia6t_preferred = time_uptime + ia->ia6_lifetime.ia6t_pltime;
	else
		ia->ia6_lifetime.ia6t_preferred = 0;
	if ((ifra->ifra_flags & IN6_IFF_DEPRECATED) != 0) {
		ia->ia6_lifetime.ia6t_pltime = 0;
		ia->ia6_lifetime.ia6t_preferred = time_uptime;
	}
	ia->ia6_flags = ifra->ifra_flags;
	ia->ia6_flags &= ~IN6_IFF_DUPLICATED;
	/* Neither ifa_carp nor IN6_IFF_NODAD matters here. */
	if (kin6if_do_dad(ifp) &&
	    (hostIsNew || (KND_IFINFO(ifp)->flags & ND6_IFF_IFDISABLED)))
		ia->ia6_flags |= IN6_IFF_TENTATIVE;
	error = kin6_notify_ifa(ifp, ia, ifra, hostIsNew);
	if (error != 0) {
		if (hostIsNew) {
			kin6_unlink_ifa(ia, ifp);
			ifa_free(&ia->ia_ifa);
		}
		return (error);
	}
	if (!hostIsNew)
		return (0);
	return (kin6_broadcast_ifa(ifp, ifra, ia));
}

/* in6_addifaddr: consumes the reference of `ia` (the existing address or NULL). */
static int
kin6_addifaddr(struct ifnet *ifp, struct in6_aliasreq *ifra, struct in6_ifaddr *ia)
{
	struct nd_prefix *pr;
	struct in6_addr prefix;
	int carp_attached = 0, error, plen;

	if ((error = kin6_update_ifa(ifp, ifra, ia)) != 0)
		goto out;
	if (ia != NULL) {
		if (ia->ia_ifa.ifa_carp)
			CARP_VCALL(carp_detach_p, &ia->ia_ifa, true);
		ifa_free(&ia->ia_ifa);
	}
	if ((ia = in6ifa_ifpwithaddr(ifp, &ifra->ifra_addr.sin6_addr)) == NULL)
		return (0);	/* a valid lifetime of 0 */
	if (ifra->ifra_vhid > 0) {
		if (carp_attach_p != NULL)
			error = CARP_CALL(carp_attach_p, &ia->ia_ifa, ifra->ifra_vhid);
		else
			error = EPROTONOSUPPORT;
		if (error)
			goto out;	/* the address stays configured, without a prefix */
		carp_attached = 1;
	}
	plen = in6_mask2len(&ifra->ifra_prefixmask.sin6_addr, NULL);
	if (ifra->ifra_prefixmask.sin6_len == 0)
		plen = in6_mask2len(&ia->ia_prefixmask.sin6_addr, NULL);
	ia->ia_plen = plen;
	if (plen == 128)
		goto aifaddr_out;
	prefix = ifra->ifra_addr.sin6_addr;
	{
		struct in6_addr mask;
		int i;

		kin6_len2mask(&mask, plen);
		for (i = 0; i < 16; i++)
			prefix.s6_addr[i] &= mask.s6_addr[i];
	}
	if ((pr = knd6_prefix_lookup(ifp, &prefix, plen)) == NULL) {
		if ((error = knd6_prelist_add(ifp, &prefix, plen, ifra, &pr)) != 0) {
			if (carp_attached)
				CARP_VCALL(carp_detach_p, &ia->ia_ifa, false);
			goto out;
		}
	} else {
		/* An on-link prefix: only its lifetimes are extended. */
		pr->ndpr_vltime = ifra->ifra_lifetime.ia6t_vltime;
		pr->ndpr_pltime = ifra->ifra_lifetime.ia6t_pltime;
		pr->ndpr_lastupdate = time_uptime;
	}
	if (ia->ia6_ndpr == NULL) {
		ia->ia6_ndpr = pr;
		pr->ndpr_addrcnt++;
	}
	knd6_prefix_rele(pr);
aifaddr_out:
	error = 0;
out:
	if (ia != NULL)
		ifa_free(&ia->ia_ifa);
	return (error);
}

int
kin6_control(u_long cmd, caddr_t data, struct ifnet *ifp, struct thread *td)
{
	struct ucred *cred = td ? td->td_ucred : NULL;
	struct in6_aliasreq oreq, *ifra = (struct in6_aliasreq *)data;
	struct in6_ifreq *ifr = (struct in6_ifreq *)data;
	struct sockaddr_in6 *sa6;
	struct in6_ifaddr *ia = NULL;
	int error;

	if (cmd == OSIOCAIFADDR_IN6) {
		/* The compat request is 128 bytes: no vhid, never attached to carp. */
		memset(&oreq, 0, sizeof(oreq));
		memcpy(&oreq, data, sizeof(struct oin6_aliasreq));
		oreq.ifra_vhid = 0;
		ifra = &oreq;
		cmd = SIOCAIFADDR_IN6;
	}
	switch (cmd) {
	case SIOCAIFADDR_IN6:
	case SIOCDIFADDR_IN6:
		break;
	case SIOCSIFADDR:
	case SIOCSIFBRDADDR:
	case SIOCSIFDSTADDR:
	case SIOCSIFNETMASK:
		return (EINVAL);
	default:
		return (EOPNOTSUPP);
	}
	if (ifp == NULL)
		return (EOPNOTSUPP);
	sa6 = cmd == SIOCAIFADDR_IN6 ? &ifra->ifra_addr : &ifr->ifr_addr;
	if (sa6->sin6_family == AF_INET6) {
		/* The zone goes into the request itself. */
		if (sa6->sin6_scope_id != 0) {
			if ((error = sa6_embedscope(sa6, 0)) != 0)
				return (error);
		} else {
			if ((error = in6_setscope(&sa6->sin6_addr, ifp, NULL)) != 0)
				return (error);
		}
		sx_xlock(&in6_control_sx);
		ia = in6ifa_ifpwithaddr(ifp, &sa6->sin6_addr);
	} else
		sx_xlock(&in6_control_sx);

	if (cmd == SIOCDIFADDR_IN6 && ia == NULL) {
		error = EADDRNOTAVAIL;
		goto out;
	}
	if (sa6->sin6_family != AF_INET6 || sa6->sin6_len != sizeof(struct sockaddr_in6)) {
		error = EAFNOSUPPORT;
		goto out;
	}
	if (cred != NULL) {
		error = priv_check_cred(cred, cmd == SIOCDIFADDR_IN6 ?
		    PRIV_NET_DELIFADDR : PRIV_NET_ADDIFADDR);
		if (error)
			goto out;
	}
	if (ifp->if_afdata[AF_INET6] == NULL) {
		error = EPFNOSUPPORT;
		goto out;
	}
	if (cmd == SIOCAIFADDR_IN6) {
		error = kin6_addifaddr(ifp, ifra, ia);
		ia = NULL;
	} else {
		kin6_purgeifaddr(ia);
		KEVENT_INVOKE(ifaddr_event_ext, ifp, &ia->ia_ifa, IFADDR_EVENT_DEL);
		error = 0;
	}
out:
	sx_xunlock(&in6_control_sx);
	if (ia != NULL)
		ifa_free(&ia->ia_ifa);
	return (error);
}

/* in6_control(9): the socket layer's entry point for the IPv6 address ioctls. */
int
in6_control(struct socket *so __unused, u_long cmd, void *data, struct ifnet *ifp,
    struct thread *td)
{

	return (kin6_control(cmd, data, ifp, td));
}

/* in6_ifdetach's part after if_purgeaddrs: neighbours, prefixes, DAD of ifp go. */
void
kin6_ifdetach(struct ifnet *ifp)
{
	struct nd_prefix *pr, *npr;
	struct kdad *dp;

	CURVNET_SET_QUIET(ifp->if_vnet);
	knd_flush_ifp(ifp);
	for (;;) {
		mtx_lock(&kdad_mtx);
		TAILQ_FOREACH(dp, &kdad_head, link)
			if (dp->ia->ia_ifp == ifp)
				break;
		mtx_unlock(&kdad_mtx);
		if (dp == NULL)
			break;
		knd6_dad_stop(dp->ia);
	}
	mtx_lock(&knd_pfx_mtx);
	LIST_FOREACH_SAFE(pr, &V_knd_prefix, ndpr_entry, npr)
		if (pr->ndpr_ifp == ifp) {
			mtx_unlock(&knd_pfx_mtx);
			knd6_prefix_del(pr);
			mtx_lock(&knd_pfx_mtx);
			npr = LIST_FIRST(&V_knd_prefix);
		}
	mtx_unlock(&knd_pfx_mtx);
	CURVNET_RESTORE();
}

/* in6_if_up: DAD starts (again) for the tentative addresses, after a random delay. */
static void
kin6_ifnet_event(void *arg, struct ifnet *ifp, int event)
{
	struct epoch_tracker et;
	struct ifaddr *ifa;
	struct in6_ifaddr *list[32];
	int n = 0, i;

	if (event != IFNET_EVENT_UP || ifp->if_afdata[AF_INET6] == NULL)
		return;
	NET_EPOCH_ENTER(et);
	CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link) {
		struct in6_ifaddr *ia = (struct in6_ifaddr *)ifa;

		if (ifa->ifa_addr->sa_family != AF_INET6)
			continue;
		if ((ia->ia6_flags & IN6_IFF_TENTATIVE) && n < (int)nitems(list)) {
			ifa_ref(ifa);
			list[n++] = ia;
		}
	}
	NET_EPOCH_EXIT(et);
	for (i = 0; i < n; i++) {
		if (list[i]->ia6_flags & IN6_IFF_TENTATIVE)
			knd6_dad_start(list[i], (sbintime_t)(arc4random() % 1000) * SBT_1MS);
		ifa_free(&list[i]->ia_ifa);
	}
}

int
kin6_dump(struct vnet *vnet, char *buf, size_t len)
{
	struct epoch_tracker et;
	struct ifnet *ifp;
	struct ifaddr *ifa;
	size_t n = 0;
	char a[64];

	CURVNET_SET_QUIET(vnet);
	NET_EPOCH_ENTER(et);
	CK_STAILQ_FOREACH(ifp, &V_ifnet, if_link)
		CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link) {
			struct in6_ifaddr *ia = (struct in6_ifaddr *)ifa;
			int plen, vhid = 0;

			if (ifa->ifa_addr->sa_family != AF_INET6)
				continue;
			kin6_str(IA6_IN6(ia), a, sizeof(a));
			plen = ia->ia_plen != 0 ? (int)ia->ia_plen :
			    in6_mask2len(&ia->ia_prefixmask.sin6_addr, NULL);
			if (ifa->ifa_carp != NULL && carp_get_vhid_p != NULL)
				vhid = CARP_CALL(carp_get_vhid_p, ifa);
			n += snprintf(buf + n, n < len ? len - n : 0, "inet6 %s %s %s/%d",
			    kvnet_name(vnet), ifp->if_xname, a, plen);
			if (vhid != 0)
				n += snprintf(buf + n, n < len ? len - n : 0, " vhid=%d", vhid);
			n += snprintf(buf + n, n < len ? len - n : 0, "%s%s\n",
			    (ia->ia6_flags & IN6_IFF_TENTATIVE) ? " tentative" : "",
			    (ia->ia6_flags & IN6_IFF_DUPLICATED) ? " duplicated" : "");
		}
	NET_EPOCH_EXIT(et);
	CURVNET_RESTORE();
	return ((int)n);
}

/* ---- Input ---- */

/*
 * The options of a hop-by-hop or destination options header at off: 0 when they may
 * be skipped, -1 when the packet must go (unknown option with action bits != 00: the
 * ICMPv6 parameter problem is not modelled). *nxtp and *lenp get the next header and
 * this header's length.
 */
static int
kip6_opts(struct mbuf *m, int off, int hbh, int *nxtp, int *lenp)
{
	uint8_t h[2], buf[2048];
	int len, i;

	if (off + 2 > m->m_pkthdr.len)
		return (-1);
	m_copydata(m, off, 2, h);
	len = (h[1] + 1) << 3;
	if (off + len > m->m_pkthdr.len || len > (int)sizeof(buf))
		return (-1);
	m_copydata(m, off, len, buf);
	for (i = 2; i < len;) {
		uint8_t t = buf[i];

		if (t == IP6OPT_PAD1) {
			i++;
			continue;
		}
		if (i + 2 > len || i + 2 + buf[i + 1] > len)
			return (-1);
		if (t != IP6OPT_PADN && !(hbh && t == IP6OPT_ROUTER_ALERT)) {
			if ((t & 0xc0) != IP6OPT_TYPE_SKIP)
				return (-1);
		}
		i += 2 + buf[i + 1];
	}
	*nxtp = h[0];
	*lenp = len;
	return (0);
}

typedef int kip6_input_t(struct mbuf **, int *, int);
static kip6_input_t *ip6_protox[IPPROTO_MAX];
static ip6proto_ctlinput_t *ip6_ctlprotox[IPPROTO_MAX];

static int
krip6_input(struct mbuf **mp, int *offp, int proto)
{

	/* No raw sockets in the simulation: the packet is consumed. */
	m_freem(*mp);
	*mp = NULL;
	return (IPPROTO_DONE);
}

static void
krip6_ctlinput(struct ip6ctlparam *ctl)
{
}

/* Fragment and routing headers, ESP/AH: not modelled, dropped. */
static int
kip6_drop_input(struct mbuf **mp, int *offp, int proto)
{

	m_freem(*mp);
	*mp = NULL;
	return (IPPROTO_DONE);
}

/* dest6_input */
static int
kdest6_input(struct mbuf **mp, int *offp, int proto)
{
	int nxt, len;

	if (kip6_opts(*mp, *offp, 0, &nxt, &len) != 0) {
		m_freem(*mp);
		*mp = NULL;
		return (IPPROTO_DONE);
	}
	*offp += len;
	return (nxt);
}

static void
knd6_parse_opts(const uint8_t *p, int len, const uint8_t **slla, const uint8_t **tlla,
    const uint8_t **nonce, int *lladdrlen, int *bad)
{
	int i = 0;

	*bad = 0;
	while (i + 2 <= len) {
		int olen = p[i + 1] << 3;

		if (olen == 0 || i + olen > len) {
			*bad = 1;	/* nd6_options: invalid option */
			return;
		}
		switch (p[i]) {
		case ND_OPT_SOURCE_LINKADDR:
			if (slla != NULL && *slla == NULL) {
				*slla = p + i + 2;
				*lladdrlen = olen;
			}
			break;
		case ND_OPT_TARGET_LINKADDR:
			if (tlla != NULL && *tlla == NULL) {
				*tlla = p + i + 2;
				*lladdrlen = olen;
			}
			break;
		case ND_OPT_NONCE:
			if (nonce != NULL && *nonce == NULL && olen == 8)
				*nonce = p + i + 2;
			break;
		}
		i += olen;
	}
}

/* nd6_ns_input (FreeBSD 15.0). */
static void
knd6_ns_input(struct mbuf *m, int off, const uint8_t *b, int icmp6len)
{
	struct ifnet *ifp = m->m_pkthdr.rcvif;
	struct ip6_hdr *ip6 = mtod(m, struct ip6_hdr *);
	struct in6_addr saddr6 = ip6->ip6_src, daddr6 = ip6->ip6_dst, taddr6, myaddr6;
	struct in6_addr in6_all;
	const uint8_t *lladdr = NULL, *nonce = NULL;
	struct ifaddr *ifa = NULL;
	int lladdrlen = 0, anycast, tentative, tlladdr, bad;
	u_long rflag = 0;	/* not a router: net.inet6.ip6.forwarding 0 */
	char b1[64];

	if (m->m_flags & M_FRAGMENTED)
		goto freeit;
	if (ip6->ip6_hlim != 255 || icmp6len < (int)sizeof(struct nd_neighbor_solicit))
		goto freeit;	/* icp6s_invlhlim / bads */
	memcpy(&taddr6, b + 8, sizeof(taddr6));
	if (in6_setscope(&taddr6, ifp, NULL) != 0)
		goto freeit;
	if (IN6_IS_ADDR_UNSPECIFIED(&saddr6)) {
		/* DAD: to the solicited-node group only. */
		if (daddr6.s6_addr16[0] == htons(0xff02) && daddr6.s6_addr32[1] == 0 &&
		    daddr6.s6_addr32[2] == htonl(1) && daddr6.s6_addr8[12] == 0xff)
			;
		else
			goto freeit;
	} else if (!knd6_is_neighbor(ifp, &saddr6))
		goto freeit;	/* V_nd6_onlink_ns_rfc4861 0 */
	if (IN6_IS_ADDR_MULTICAST(&taddr6))
		goto freeit;
	knd6_parse_opts(b + sizeof(struct nd_neighbor_solicit),
	    icmp6len - (int)sizeof(struct nd_neighbor_solicit), &lladdr, NULL, &nonce,
	    &lladdrlen, &bad);
	if (bad)
		goto freeit;
	if (IN6_IS_ADDR_UNSPECIFIED(&saddr6) && lladdr != NULL)
		goto freeit;
	tlladdr = IN6_IS_ADDR_MULTICAST(&daddr6) ? 1 : 0;

	/* The target: carp_iamatch6_p answers for every address when ifp has CARP. */
	if (ifp->if_carp != NULL)
		ifa = CARP_CALL(carp_iamatch6_p, ifp, &taddr6);
	else
		ifa = (struct ifaddr *)in6ifa_ifpwithaddr(ifp, &taddr6);
	if (ifa == NULL)
		goto freeit;	/* not ours (proxy ND is not modelled): silent */
	myaddr6 = *IFA_IN6(ifa);
	anycast = ((struct in6_ifaddr *)ifa)->ia6_flags & IN6_IFF_ANYCAST;
	tentative = ((struct in6_ifaddr *)ifa)->ia6_flags & IN6_IFF_TENTATIVE;
	if (((struct in6_ifaddr *)ifa)->ia6_flags & IN6_IFF_DUPLICATED)
		goto freeit;
	if (lladdr != NULL && ((ifp->if_addrlen + 2 + 7) & ~7) != lladdrlen)
		goto freeit;
	if (IN6_ARE_ADDR_EQUAL(&myaddr6, &saddr6)) {
		log(LOG_INFO, "nd6_ns_input: duplicate IP6 address %s\n",
		    kin6_str(&saddr6, b1, sizeof(b1)));
		goto freeit;
	}
	if (tentative) {
		/* Someone else's DAD for our tentative address; never answered. */
		if (IN6_IS_ADDR_UNSPECIFIED(&saddr6))
			knd6_dad_ns_input(ifa, nonce);
		goto freeit;
	}
	if (IN6_IS_ADDR_UNSPECIFIED(&saddr6)) {
		in6_all = in6addr_linklocal_allnodes;
		if (in6_setscope(&in6_all, ifp, NULL) != 0)
			goto freeit;
		knd6_na_output(ifp, &in6_all, &taddr6,
		    ((anycast || !tlladdr) ? 0 : ND_NA_FLAG_OVERRIDE) | rflag, tlladdr, NULL);
		goto freeit;
	}
	knd6_cache_lladdr(ifp, &saddr6, lladdr);
	knd6_na_output(ifp, &saddr6, &taddr6,
	    ((anycast || !tlladdr) ? 0 : ND_NA_FLAG_OVERRIDE) | rflag | ND_NA_FLAG_SOLICITED,
	    tlladdr, NULL);
freeit:
	if (ifa != NULL)
		ifa_free(ifa);
	m_freem(m);
}

/* nd6_na_input (FreeBSD 15.0). */
static void
knd6_na_input(struct mbuf *m, int off, const uint8_t *b, int icmp6len)
{
	struct ifnet *ifp = m->m_pkthdr.rcvif;
	struct ip6_hdr *ip6 = mtod(m, struct ip6_hdr *);
	struct in6_addr daddr6 = ip6->ip6_dst, taddr6;
	struct in6_ifaddr *ia;
	const uint8_t *lladdr = NULL;
	struct knd *e;
	struct mbuf *hold = NULL;
	int lladdrlen = 0, is_solicited, is_override, bad;
	char b1[64];

	if (ip6->ip6_hlim != 255 || icmp6len < (int)sizeof(struct nd_neighbor_advert))
		goto freeit;
	is_solicited = (b[4] & 0x40) != 0;
	is_override = (b[4] & 0x20) != 0;
	memcpy(&taddr6, b + 8, sizeof(taddr6));
	if (in6_setscope(&taddr6, ifp, NULL) != 0)
		goto freeit;
	if (IN6_IS_ADDR_MULTICAST(&taddr6))
		goto freeit;
	if (is_solicited && IN6_IS_ADDR_MULTICAST(&daddr6))
		goto freeit;
	knd6_parse_opts(b + sizeof(struct nd_neighbor_advert),
	    icmp6len - (int)sizeof(struct nd_neighbor_advert), NULL, &lladdr, NULL,
	    &lladdrlen, &bad);
	if (bad)
		goto freeit;

	/* Always in6ifa_ifpwithaddr here, never the iamatch hook. */
	ia = in6ifa_ifpwithaddr(ifp, &taddr6);
	if (ia != NULL && ia->ia_ifa.ifa_carp != NULL &&
	    !CARP_CALL(carp_master_p, &ia->ia_ifa)) {
		ifa_free(&ia->ia_ifa);
		goto freeit;
	}
	if (ia != NULL && (ia->ia6_flags & IN6_IFF_TENTATIVE)) {
		knd6_dad_na_input(&ia->ia_ifa);
		ifa_free(&ia->ia_ifa);
		goto freeit;
	}
	if (ia != NULL) {
		ifa_free(&ia->ia_ifa);
		log(LOG_ERR, "nd6_na_input: duplicate IP6 address %s\n",
		    kin6_str(&taddr6, b1, sizeof(b1)));
		goto freeit;
	}
	if (lladdr != NULL && ((ifp->if_addrlen + 2 + 7) & ~7) != lladdrlen)
		goto freeit;
	mtx_lock(&knd_mtx);
	e = knd_find(ifp, &taddr6);
	if (e == NULL || (e->flags & LLE_STATIC)) {
		mtx_unlock(&knd_mtx);
		goto freeit;	/* no entry is created by an NA */
	}
	if ((e->flags & LLE_VALID) == 0) {
		if (lladdr == NULL) {
			mtx_unlock(&knd_mtx);
			goto freeit;
		}
		memcpy(e->mac, lladdr, ETHER_ADDR_LEN);
		e->flags |= LLE_VALID;
		hold = e->hold;
		e->hold = NULL;
		e->nhold = 0;
	} else if (lladdr != NULL && is_override)
		memcpy(e->mac, lladdr, ETHER_ADDR_LEN);
	mtx_unlock(&knd_mtx);
	knd_flush(ifp, &taddr6, hold);
freeit:
	m_freem(m);
}

/* icmp6_reflect for an echo request: the reply gets a fresh mbuf. */
static void
kicmp6_echo(struct mbuf *m, const uint8_t *b, int icmp6len)
{
	struct ifnet *ifp = m->m_pkthdr.rcvif;
	struct ip6_hdr *ip6 = mtod(m, struct ip6_hdr *), *rip6;
	struct in6_ifaddr *ia;
	struct in6_addr src, dst = ip6->ip6_src;
	struct mbuf *n;
	uint8_t *p;

	if (IN6_IS_ADDR_UNSPECIFIED(&dst) || IN6_IS_ADDR_MULTICAST(&dst)) {
		m_freem(m);
		return;
	}
	ia = in6ifa_ifwithaddr(&ip6->ip6_dst, 0, false);
	if (ia != NULL && !(ia->ia6_flags & (IN6_IFF_ANYCAST | IN6_IFF_NOTREADY)))
		src = ip6->ip6_dst;
	else if (kin6_selectsrc(ifp, &dst, &src) != 0) {
		m_freem(m);
		return;
	}
	m_freem(m);
	n = m_get2(sizeof(*rip6) + icmp6len, M_NOWAIT, MT_DATA, M_PKTHDR);
	if (n == NULL)
		return;
	n->m_len = n->m_pkthdr.len = sizeof(*rip6) + icmp6len;
	rip6 = mtod(n, struct ip6_hdr *);
	memset(rip6, 0, sizeof(*rip6));
	rip6->ip6_vfc = IPV6_VERSION;
	rip6->ip6_nxt = IPPROTO_ICMPV6;
	rip6->ip6_hlim = KIN6_DEFHLIM;
	rip6->ip6_src = src;
	rip6->ip6_dst = dst;
	p = (uint8_t *)(rip6 + 1);
	memcpy(p, b, icmp6len);
	p[0] = ICMP6_ECHO_REPLY;
	p[2] = p[3] = 0;
	{
		uint16_t c = kin6_cksum(&src, &dst, IPPROTO_ICMPV6, p, icmp6len);

		memcpy(p + 2, &c, 2);
	}
	(void)ip6_output(n, NULL, NULL, 0, NULL, NULL, NULL);
}

/* icmp6_input: echo, NS and NA; MLD, RS/RA, redirects and errors are not modelled. */
static int
kicmp6_input(struct mbuf **mp, int *offp, int proto)
{
	struct mbuf *m = *mp;
	struct ip6_hdr *ip6;
	int off = *offp, icmp6len;
	uint8_t b[1500];

	*mp = NULL;
	icmp6len = m->m_pkthdr.len - off;
	if (icmp6len < (int)sizeof(struct icmp6_hdr) || icmp6len > (int)sizeof(b)) {
		m_freem(m);
		return (IPPROTO_DONE);
	}
	m_copydata(m, off, icmp6len, b);
	ip6 = mtod(m, struct ip6_hdr *);
	if (kin6_cksum(&ip6->ip6_src, &ip6->ip6_dst, IPPROTO_ICMPV6, b, icmp6len) != 0) {
		m_freem(m);	/* icp6s_checksum */
		return (IPPROTO_DONE);
	}
	switch (b[0]) {
	case ICMP6_ECHO_REQUEST:
		if (b[1] != 0)
			break;
		kicmp6_echo(m, b, icmp6len);
		return (IPPROTO_DONE);
	case ND_NEIGHBOR_SOLICIT:
		if (b[1] != 0)
			break;
		knd6_ns_input(m, off, b, icmp6len);
		return (IPPROTO_DONE);
	case ND_NEIGHBOR_ADVERT:
		if (b[1] != 0)
			break;
		knd6_na_input(m, off, b, icmp6len);
		return (IPPROTO_DONE);
	}
	m_freem(m);
	return (IPPROTO_DONE);
}

int
ip6proto_register(uint8_t proto, ip6proto_input_t input, ip6proto_ctlinput_t ctl)
{

	if (proto == 0)
		kfail("ip6proto", "ip6proto_register(0) (MPASS)");
	if (ip6_protox[proto] != krip6_input)
		return (EEXIST);
	ip6_protox[proto] = input;
	ip6_ctlprotox[proto] = ctl;
	return (0);
}

int
ip6proto_unregister(uint8_t proto)
{

	if (ip6_protox[proto] == krip6_input)
		return (ENOENT);
	ip6_protox[proto] = krip6_input;
	ip6_ctlprotox[proto] = krip6_ctlinput;
	return (0);
}

/* A protocol handler still registered whose code lies in [base, base+size). */
int
kip6proto_in(unsigned long base, unsigned long size, int report)
{
	int i, n = 0;

	for (i = 0; i < IPPROTO_MAX; i++)
		if (((unsigned long)ip6_protox[i] >= base &&
		    (unsigned long)ip6_protox[i] < base + size) ||
		    ((unsigned long)ip6_ctlprotox[i] >= base &&
		    (unsigned long)ip6_ctlprotox[i] < base + size)) {
			n++;
			if (report)
				kfail("ip6proto", "IPv6 protocol %d still registered after unload",
				    i);
		}
	return (n);
}

void
ip6_input(struct mbuf *m)
{
	struct ifnet *ifp = m->m_pkthdr.rcvif;
	struct ip6_hdr *ip6;
	struct in6_ifaddr *ia;
	int off, nxt, plen, len, nest = 0;

	NET_EPOCH_ASSERT();
	if (ifp == NULL) {
		kfail("mbuf", "ip6_input of an mbuf without rcvif");
		m_freem(m);
		return;
	}
	if (ifp->if_afdata[AF_INET6] == NULL ||
	    (KND_IFINFO(ifp)->flags & ND6_IFF_IFDISABLED))
		goto bad;
	if (m->m_pkthdr.len < (int)sizeof(*ip6))
		goto bad;
	if (m->m_len < (int)sizeof(*ip6) && (m = kin6_pullup(m, sizeof(*ip6))) == NULL)
		return;
	ip6 = mtod(m, struct ip6_hdr *);
	if ((ip6->ip6_vfc & IPV6_VERSION_MASK) != IPV6_VERSION)
		goto bad;
	if (IN6_IS_ADDR_MULTICAST(&ip6->ip6_src) || IN6_IS_ADDR_UNSPECIFIED(&ip6->ip6_dst))
		goto bad;
	if (IN6_IS_ADDR_MC_INTFACELOCAL(&ip6->ip6_dst) && !(ifp->if_flags & IFF_LOOPBACK))
		goto bad;
	if (IN6_IS_ADDR_MULTICAST(&ip6->ip6_dst) && IPV6_ADDR_MC_SCOPE(&ip6->ip6_dst) == 0)
		goto bad;
	if (IN6_IS_ADDR_V4MAPPED(&ip6->ip6_src) || IN6_IS_ADDR_V4MAPPED(&ip6->ip6_dst))
		goto bad;
	if ((IN6_IS_ADDR_LOOPBACK(&ip6->ip6_src) || IN6_IS_ADDR_LOOPBACK(&ip6->ip6_dst)) &&
	    !(ifp->if_flags & IFF_LOOPBACK))
		goto bad;
	/* passin: an address that already carries a zone is dropped; then ifp's zone. */
	if (in6_clearscope(&ip6->ip6_src) || in6_clearscope(&ip6->ip6_dst))
		goto bad;	/* ip6s_badscope */
	if (in6_setscope(&ip6->ip6_src, ifp, NULL) != 0 ||
	    in6_setscope(&ip6->ip6_dst, ifp, NULL) != 0)
		goto bad;
	plen = ntohs(ip6->ip6_plen);
	if (plen == 0 || m->m_pkthdr.len < (int)sizeof(*ip6) + plen)
		goto bad;	/* jumbograms are not modelled */
	if (m->m_pkthdr.len > (int)sizeof(*ip6) + plen)
		m_adj(m, (int)sizeof(*ip6) + plen - m->m_pkthdr.len);
	if (!IN6_IS_ADDR_MULTICAST(&ip6->ip6_dst)) {
		/* Unicast: one of the VNET's usable addresses (no forwarding). */
		ia = in6ifa_ifwithaddr(&ip6->ip6_dst, 0, false);
		if (ia == NULL || (ia->ia6_flags & IN6_IFF_NOTREADY))
			goto bad;
	}
	off = sizeof(*ip6);
	nxt = ip6->ip6_nxt;
	if (nxt == IPPROTO_HOPOPTS) {
		if (kip6_opts(m, off, 1, &nxt, &len) != 0)
			goto bad;
		off += len;
	}
	while (nxt != IPPROTO_DONE) {
		kip6_input_t *fn;

		if (++nest > KIN6_HDRNESTLIMIT || m->m_pkthdr.len < off || nxt < 0 ||
		    nxt >= IPPROTO_MAX)
			goto bad;
		fn = ip6_protox[nxt];
		if (kaddr_in_module((const void *)fn)) {
			struct kcheck_state st;
			int proto = nxt;

			kcheck_save(&st);
			nxt = fn(&m, &off, nxt);
			kcheck_restore_check(&st, "IPv6 protocol input");
			if (nxt == IPPROTO_DONE && m != NULL) {
				kfail("ip6proto", "protocol %d input returned IPPROTO_DONE without "
				    "consuming the mbuf (*mp not NULL)", proto);
				m_freem(m);
				m = NULL;
			}
			if (nxt != IPPROTO_DONE && m == NULL) {
				kfail("ip6proto", "protocol %d input returned %d with *mp NULL",
				    proto, nxt);
				return;
			}
		} else
			nxt = fn(&m, &off, nxt);
	}
	return;
bad:
	m_freem(m);
}

/* Injects an IPv6 packet (starting at pkt + off) received on ifp. */
void
kip6_input_packet(struct ifnet *ifp, const uint8_t *pkt, unsigned len, int off)
{
	struct epoch_tracker et;
	struct mbuf *m;

	if (off < 0 || (unsigned)off > len)
		return;
	pkt += off;
	len -= off;
	m = m_get2(len, M_WAITOK, MT_DATA, M_PKTHDR);
	memcpy(mtod(m, void *), pkt, len);
	m->m_len = m->m_pkthdr.len = len;
	m->m_pkthdr.rcvif = ifp;
	NET_EPOCH_ENTER(et);
	CURVNET_SET(ifp->if_vnet);
	ip6_input(m);
	CURVNET_RESTORE();
	NET_EPOCH_EXIT(et);
}

/* ---- Per-VNET setup ---- */

static void
vnet_inet6_init(const void *unused)
{

	CK_STAILQ_INIT(&V_in6_ifaddrhead);
	TAILQ_INIT(&V_knd_head);
	LIST_INIT(&V_knd_prefix);
}
static struct vnet_sysinit vnet_inet6_init_vs = {
	SI_SUB_PROTO_DOMAIN, SI_ORDER_FIRST, vnet_inet6_init, NULL
};

/* ip6_destroy: every IPv6 address of the dying VNET goes (in6_purgeaddr, no sx). */
static void
vnet_inet6_uninit(const void *unused)
{
	struct ifnet *ifp;
	struct ifaddr *ifa;
	struct knd *e;
	struct nd_prefix *pr;

	CK_STAILQ_FOREACH(ifp, &V_ifnet, if_link) {
		for (;;) {
			CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link)
				if (ifa->ifa_addr->sa_family == AF_INET6)
					break;
			if (ifa == NULL)
				break;
			kin6_purgeifaddr((struct in6_ifaddr *)ifa);
		}
		kin6_ifdetach(ifp);
	}
	mtx_lock(&knd_mtx);
	while ((e = TAILQ_FIRST(&V_knd_head)) != NULL) {
		struct mbuf *h = knd_unlink(e);

		mtx_unlock(&knd_mtx);
		knd_free_chain(h);
		mtx_lock(&knd_mtx);
	}
	mtx_unlock(&knd_mtx);
	while ((pr = LIST_FIRST(&V_knd_prefix)) != NULL)
		knd6_prefix_del(pr);
}
static struct vnet_sysinit vnet_inet6_uninit_vs = {
	SI_SUB_PROTO_DOMAIN, SI_ORDER_THIRD, vnet_inet6_uninit, NULL
};

/* in6_domifattach: per-interface IPv6 data (in6_ifextra with its nd_ifinfo). */
static void
inet6_ifattach(void *arg, struct ifnet *ifp)
{
	struct in6_ifextra *ext;
	struct nd_ifinfo *nd;

	if (ifp->if_afdata[AF_INET6] != NULL)
		return;
	ext = malloc(sizeof(*ext), M_IFADDR, M_WAITOK | M_ZERO);
	nd = malloc(sizeof(*nd), M_IFADDR, M_WAITOK | M_ZERO);
	nd->initialized = 1;
	nd->chlim = IPV6_DEFHLIM;
	nd->basereachable = REACHABLE_TIME;
	nd->reachable = REACHABLE_TIME;
	nd->retrans = RETRANS_TIMER;
	nd->flags = ND6_IFF_PERFORMNUD;
	nd->maxmtu = ifp->if_mtu;
	ext->nd_ifinfo = nd;
	ifp->if_afdata[AF_INET6] = ext;
}

void
kin6_afdata_free(struct ifnet *ifp)
{
	struct in6_ifextra *ext = ifp->if_afdata[AF_INET6];

	if (ext == NULL)
		return;
	free(ext->nd_ifinfo, M_IFADDR);
	free(ext, M_IFADDR);
	ifp->if_afdata[AF_INET6] = NULL;
}

void
kinet6_boot(void)
{
	int i;

	sx_init(&in6_control_sx, "in6_control");
	sx_init(&in6_multi_sx, "in6_multi_sx");
	mtx_init(&kin6_ifaddr_mtx, "in6_ifaddr_lock", NULL, MTX_DEF);
	mtx_init(&knd_mtx, "lltable6", NULL, MTX_DEF);
	mtx_init(&knd_pfx_mtx, "nd6 list", NULL, MTX_DEF);
	mtx_init(&kdad_mtx, "nd6 DAD queue", NULL, MTX_DEF);
	for (i = 0; i < IPPROTO_MAX; i++) {
		ip6_protox[i] = krip6_input;
		ip6_ctlprotox[i] = krip6_ctlinput;
	}
	ip6_protox[IPPROTO_ICMPV6] = kicmp6_input;
	ip6_protox[IPPROTO_DSTOPTS] = kdest6_input;
	ip6_protox[IPPROTO_HOPOPTS] = kip6_drop_input;	/* only first, in ip6_input */
	ip6_protox[IPPROTO_ROUTING] = kip6_drop_input;
	ip6_protox[IPPROTO_FRAGMENT] = kip6_drop_input;
	ip6_protox[IPPROTO_ESP] = kip6_drop_input;
	ip6_protox[IPPROTO_AH] = kip6_drop_input;
	vnet_register_sysinit(&vnet_inet6_init_vs);
	vnet_register_sysuninit(&vnet_inet6_uninit_vs);
	EVENTHANDLER_REGISTER(ifnet_event, kin6_ifnet_event, NULL, EVENTHANDLER_PRI_ANY);
	EVENTHANDLER_REGISTER(ifnet_arrival_event, inet6_ifattach, NULL,
	    EVENTHANDLER_PRI_FIRST);
}
