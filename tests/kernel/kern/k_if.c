/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Network interfaces, as sys/net/if.c keeps them in FreeBSD 15: allocation with a global
 * index, attach (AF_LINK address first, arrival event), detach (if_down, address purge,
 * departure event), references, link state changes through a task, promiscuous mode and
 * multicast memberships with counts, ifioctl's dispatch (SIOCSVH/SIOCGVH to carp_ioctl_p
 * before any lookup, cloning, SIOCSIFFLAGS, then the protocol's control routine), moving
 * an interface to another VNET, renaming, and interface addresses with their references.
 *
 * The hooks into carp.ko are called exactly where if.c calls them: carp_linkstate_p from
 * if_up, if_down and the link-state task when if_carp is set; carp_ioctl_p from ifioctl;
 * carp_master_p from ifa_preferred.
 */
#include "kern.h"
#include "k_net.h"

VNET_DEFINE(struct ifnethead, ifnet);
VNET_DEFINE(struct ifnet *, loif);

struct sx ifnet_detach_sxlock;
static struct mtx ifnet_mtx;		/* the index table and every V_ifnet */

#define	IFINDEX_MAX	256
static struct ifnet *ifindex_table[IFINDEX_MAX];
static u_short if_index_top;
static u_short ife_gencnt;

/* ---- Allocation and index ---- */

static void do_link_state_change(void *arg, int pending);

struct ifnet *
if_alloc(u_char type)
{
	struct ifnet *ifp;
	int idx, i;

	ksleep_check("if_alloc");
	ifp = malloc(sizeof(struct ifnet), M_IFNET, M_WAITOK | M_ZERO);
	ifp->if_type = type;
	ifp->if_alloctype = type;
	ifp->if_vnet = curvnet;
	mtx_init(&ifp->if_addr_lock, "if_addr_lock", NULL, MTX_DEF);
	mtx_init(&ifp->if_afdata_lock, "if_afdata", NULL, MTX_DEF);
	TASK_INIT(&ifp->if_linktask, 0, do_link_state_change, ifp);
	CK_STAILQ_INIT(&ifp->if_addrhead);
	CK_STAILQ_INIT(&ifp->if_multiaddrs);
	CK_STAILQ_INIT(&ifp->if_groups);
	ifp->if_refcount = 1;
	for (i = 0; i < IFCOUNTERS; i++)
		ifp->if_counters[i] = counter_u64_alloc(M_WAITOK);
	ifp->if_get_counter = if_get_counter_default;
	ifp->if_pcp = IFNET_PCP_NONE;
	mtx_lock(&ifnet_mtx);
	for (idx = 1; idx < IFINDEX_MAX; idx++)
		if (ifindex_table[idx] == NULL)
			break;
	if (idx == IFINDEX_MAX)
		kfatal("interface index table full");
	ifindex_table[idx] = ifp;
	ifp->if_index = idx;
	ifp->if_idxgen = ife_gencnt;
	if (idx > if_index_top)
		if_index_top = idx;
	mtx_unlock(&ifnet_mtx);
	kif_track(ifp, 1);
	return (ifp);
}

void
if_initname(struct ifnet *ifp, const char *name, int unit)
{

	ifp->if_dname = name;
	ifp->if_dunit = unit;
	if (unit != IF_DUNIT_NONE)
		snprintf(ifp->if_xname, IFNAMSIZ, "%s%d", name, unit);
	else
		strlcpy(ifp->if_xname, name, IFNAMSIZ);
}

static void
if_free_deferred(void *arg)
{
	struct ifnet *ifp = arg;
	int i;

	if ((ifp->if_flags & IFF_DYING) == 0)
		kfail("ifnet", "%s freed without IFF_DYING", ifp->if_xname);
	for (i = 0; i < IFCOUNTERS; i++)
		counter_u64_free(ifp->if_counters[i]);
	mtx_destroy(&ifp->if_addr_lock);
	mtx_destroy(&ifp->if_afdata_lock);
	kif_track(ifp, 0);
	kin_afdata_free(ifp);
	kin6_afdata_free(ifp);
	free(ifp->if_hw_addr, M_IFADDR);
	free(ifp, M_IFNET);
}

void
if_free(struct ifnet *ifp)
{

	ifp->if_flags |= IFF_DYING;
	mtx_lock(&ifnet_mtx);
	if (ifindex_table[ifp->if_index] == ifp)
		ifindex_table[ifp->if_index] = NULL;
	ife_gencnt++;
	while (if_index_top > 0 && ifindex_table[if_index_top] == NULL)
		if_index_top--;
	mtx_unlock(&ifnet_mtx);
	if_rele(ifp);
}

void
if_ref(struct ifnet *ifp)
{
	u_int old;

	old = atomic_fetchadd_int(&ifp->if_refcount, 1);
	if (old == 0)
		kfail("ifnet", "if_ref on %s whose last reference is gone", ifp->if_xname);
}

bool
if_try_ref(struct ifnet *ifp)
{

	NET_EPOCH_ASSERT();
	return (refcount_acquire_if_not_zero(&ifp->if_refcount));
}

void
if_rele(struct ifnet *ifp)
{
	u_int old;

	old = atomic_fetchadd_int(&ifp->if_refcount, -1);
	if (old == 0) {
		kfail("ifnet", "if_rele on %s: reference count underflow", ifp->if_xname);
		return;
	}
	if (old == 1)
		kepoch_call(if_free_deferred, ifp);
}

/* ---- Attach and detach ---- */

static void
if_link_ifnet(struct ifnet *ifp)
{

	mtx_lock(&ifnet_mtx);
	CK_STAILQ_INSERT_TAIL(&V_ifnet, ifp, if_link);
	curvnet->vnet_ifcnt++;
	mtx_unlock(&ifnet_mtx);
}

static bool
if_unlink_ifnet(struct ifnet *ifp, bool vmove)
{
	struct ifnet *it;
	bool found = false;

	mtx_lock(&ifnet_mtx);
	CK_STAILQ_FOREACH(it, &V_ifnet, if_link)
		if (it == ifp) {
			CK_STAILQ_REMOVE(&V_ifnet, ifp, ifnet, if_link);
			if (!vmove)
				ifp->if_flags |= IFF_DYING;
			found = true;
			curvnet->vnet_ifcnt--;
			break;
		}
	mtx_unlock(&ifnet_mtx);
	return (found);
}

static void
if_attach_internal(struct ifnet *ifp, bool vmove)
{
	struct sockaddr_dl *sdl;
	struct ifaddr *ifa;
	int namelen, masklen, socksize;

	ifp->if_vnet = curvnet;
	if (ifp->if_home_vnet == NULL)
		ifp->if_home_vnet = curvnet;
	ifp->if_epoch = time_uptime;
	if (!vmove) {
		namelen = strlen(ifp->if_xname);
		masklen = offsetof(struct sockaddr_dl, sdl_data[0]) + IFNAMSIZ;
		socksize = masklen + ifp->if_addrlen;
		if (socksize < (int)sizeof(*sdl))
			socksize = sizeof(*sdl);
		socksize = roundup2(socksize, sizeof(long));
		ifa = ifa_alloc(sizeof(*ifa) + 2 * socksize, M_WAITOK);
		sdl = (struct sockaddr_dl *)(ifa + 1);
		sdl->sdl_len = socksize;
		sdl->sdl_family = AF_LINK;
		memcpy(sdl->sdl_data, ifp->if_xname, namelen);
		sdl->sdl_nlen = namelen;
		sdl->sdl_index = ifp->if_index;
		sdl->sdl_type = ifp->if_type;
		ifa->ifa_addr = (struct sockaddr *)sdl;
		sdl = (struct sockaddr_dl *)((char *)sdl + socksize);
		ifa->ifa_netmask = (struct sockaddr *)sdl;
		sdl->sdl_len = masklen;
		while (namelen != 0)
			sdl->sdl_data[--namelen] = 0xff;
		ifp->if_addr = ifa;
		ifa->ifa_ifp = ifp;
		IF_ADDR_WLOCK(ifp);
		CK_STAILQ_INSERT_HEAD(&ifp->if_addrhead, ifa, ifa_link);
		IF_ADDR_WUNLOCK(ifp);
	}
	if_link_ifnet(ifp);
	KEVENT_INVOKE(ifnet_arrival_event, ifp);
	if (IS_DEFAULT_VNET(curvnet))
		devctl_notify("IFNET", ifp->if_xname, "ATTACH", NULL);
}

void
if_attach(struct ifnet *ifp)
{

	if (ifp->if_transmit == NULL)
		kfail("ifnet", "if_attach(%s) without if_transmit", ifp->if_xname);
	if_attach_internal(ifp, false);
}

static void
if_detach_internal(struct ifnet *ifp, bool vmove)
{
	struct ifaddr *ifa;
	/* VNET_IS_SHUTTING_DOWN: past vnet_if_return in the VNET's teardown. */
	bool shutdown = ifp->if_vnet->vnet_shutdown &&
	    ifp->if_vnet->vnet_state < SI_SUB_VNET_DONE;

	NET_EPOCH_WAIT();
	taskqueue_drain(taskqueue_swi, &ifp->if_linktask);
	if_down(ifp);
	if (shutdown) {
		/* VNET teardown: the protocols remove the addresses themselves later. */
		KEVENT_INVOKE(ifnet_departure_event, ifp);
		goto finish;
	}
	if_purgeaddrs(ifp);
	kin_ifdetach(ifp);
	kin6_ifdetach(ifp);
	if_purgemaddrs(ifp);
	KEVENT_INVOKE(ifnet_departure_event, ifp);
	if (IS_DEFAULT_VNET(curvnet))
		devctl_notify("IFNET", ifp->if_xname, "DETACH", NULL);
finish:
	if (!vmove) {
		ifp->if_output = kif_dead_output;
		ifp->if_ioctl = kif_dead_ioctl;
		ifp->if_transmit = kif_dead_transmit;
		IF_ADDR_WLOCK(ifp);
		ifa = CK_STAILQ_FIRST(&ifp->if_addrhead);
		if (ifa != NULL)
			CK_STAILQ_REMOVE(&ifp->if_addrhead, ifa, ifaddr, ifa_link);
		IF_ADDR_WUNLOCK(ifp);
		if (ifa != NULL)
			ifa_free(ifa);
	}
	krt_flush_ifp(ifp);
}

void
if_detach(struct ifnet *ifp)
{
	bool found;

	CURVNET_SET_QUIET(ifp->if_vnet);
	found = if_unlink_ifnet(ifp, false);
	if (found) {
		int mine = klock_held_by_me(&ifnet_detach_sxlock.lock_object);

		if (!mine)
			sx_xlock(&ifnet_detach_sxlock);
		if_detach_internal(ifp, false);
		if (!mine)
			sx_xunlock(&ifnet_detach_sxlock);
	}
	CURVNET_RESTORE();
}

/* if_dead: what a detached interface answers. */
int
kif_dead_output(struct ifnet *ifp, struct mbuf *m, const struct sockaddr *sa,
    struct route *ro)
{

	m_freem(m);
	return (ENXIO);
}

int
kif_dead_ioctl(struct ifnet *ifp, u_long cmd, caddr_t data)
{

	return (ENXIO);
}

int
kif_dead_transmit(struct ifnet *ifp, struct mbuf *m)
{

	m_freem(m);
	return (ENXIO);
}

/* Moves ifp to VNET `to` (ifconfig em0 vnet j1, jail creation with vnet.interface=). */
int
kif_vmove(struct ifnet *ifp, struct vnet *to)
{
	struct ifnet *it;
	struct vnet *saved = curvnet;
	int error = 0;

	if (ifp->if_vnet == to)
		return (EEXIST);
	if (to->vnet_shutdown)
		return (EBUSY);
	curthread->td_vnet = to;
	CK_STAILQ_FOREACH(it, &V_ifnet, if_link)
		if (strcmp(it->if_xname, ifp->if_xname) == 0)
			error = EEXIST;
	curthread->td_vnet = saved;
	if (error)
		return (error);
	sx_xlock(&ifnet_detach_sxlock);
	curthread->td_vnet = ifp->if_vnet;
	if (!if_unlink_ifnet(ifp, true)) {
		curthread->td_vnet = saved;
		sx_xunlock(&ifnet_detach_sxlock);
		return (ENODEV);
	}
	if_detach_internal(ifp, true);
	curthread->td_vnet = to;
	if_attach_internal(ifp, true);
	curthread->td_vnet = saved;
	sx_xunlock(&ifnet_detach_sxlock);
	return (0);
}

/* vnet_if_return: a dying VNET gives loaned interfaces back to their home. */
void
kif_vnet_return(struct vnet *vnet)
{
	struct ifnet *ifp, *next;
	struct ifnet *list[IFINDEX_MAX];
	struct vnet *saved = curvnet;
	int n = 0, i;

	curthread->td_vnet = vnet;
	CK_STAILQ_FOREACH_SAFE(ifp, &V_ifnet, if_link, next)
		if (ifp->if_home_vnet != ifp->if_vnet)
			list[n++] = ifp;
	for (i = 0; i < n; i++) {
		ifp = list[i];
		curthread->td_vnet = vnet;
		if (if_unlink_ifnet(ifp, true))
			if_detach_internal(ifp, true);
		curthread->td_vnet = ifp->if_home_vnet;
		if_attach_internal(ifp, true);
	}
	curthread->td_vnet = saved;
}

int
if_rename(struct ifnet *ifp, char *new_name)
{
	struct sockaddr_dl *sdl;
	struct ifnet *it;
	char old[IFNAMSIZ];
	int namelen, onamelen, i;

	if (new_name[0] == '\0')
		return (EINVAL);
	if (strcmp(new_name, ifp->if_xname) == 0)
		return (0);
	CK_STAILQ_FOREACH(it, &V_ifnet, if_link)
		if (strcmp(it->if_xname, new_name) == 0)
			return (EEXIST);
	strlcpy(old, ifp->if_xname, sizeof(old));
	ifp->if_flags |= IFF_RENAMING;
	KEVENT_INVOKE(ifnet_departure_event, ifp);
	IF_ADDR_WLOCK(ifp);
	strlcpy(ifp->if_xname, new_name, sizeof(ifp->if_xname));
	sdl = (struct sockaddr_dl *)ifp->if_addr->ifa_addr;
	namelen = strlen(new_name);
	onamelen = sdl->sdl_nlen;
	if (onamelen < namelen)
		memmove(sdl->sdl_data + namelen, sdl->sdl_data + onamelen, sdl->sdl_alen);
	memcpy(sdl->sdl_data, new_name, namelen);
	if (onamelen > namelen)
		memmove(sdl->sdl_data + namelen, sdl->sdl_data + onamelen, sdl->sdl_alen);
	sdl->sdl_nlen = namelen;
	sdl = (struct sockaddr_dl *)ifp->if_addr->ifa_netmask;
	for (i = 0; i < IFNAMSIZ; i++)
		sdl->sdl_data[i] = i < namelen ? 0xff : 0;
	IF_ADDR_WUNLOCK(ifp);
	KEVENT_INVOKE(ifnet_arrival_event, ifp);
	ifp->if_flags &= ~IFF_RENAMING;
	{
		char data[32];

		snprintf(data, sizeof(data), "name=%s", new_name);
		devctl_notify("IFNET", old, "RENAME", data);
	}
	return (0);
}

/* ---- Lookups ---- */

struct ifnet *
ifunit_ref(const char *name)
{
	struct epoch_tracker et;
	struct ifnet *ifp;

	NET_EPOCH_ENTER(et);
	CK_STAILQ_FOREACH(ifp, &V_ifnet, if_link)
		if (strncmp(name, ifp->if_xname, IFNAMSIZ) == 0 &&
		    (ifp->if_flags & IFF_DYING) == 0)
			break;
	if (ifp != NULL)
		if_ref(ifp);
	NET_EPOCH_EXIT(et);
	return (ifp);
}

struct ifnet *
ifunit(const char *name)
{
	struct epoch_tracker et;
	struct ifnet *ifp;

	NET_EPOCH_ENTER(et);
	CK_STAILQ_FOREACH(ifp, &V_ifnet, if_link)
		if (strncmp(name, ifp->if_xname, IFNAMSIZ) == 0)
			break;
	NET_EPOCH_EXIT(et);
	return (ifp);
}

struct ifnet *
ifnet_byindex(u_int idx)
{
	struct ifnet *ifp;

	NET_EPOCH_ASSERT();
	if (idx == 0 || idx >= IFINDEX_MAX)
		return (NULL);
	ifp = ifindex_table[idx];
	if (ifp != NULL && curvnet != NULL && ifp->if_vnet != curvnet)
		return (NULL);
	return (ifp);
}

struct ifnet *
ifnet_byindex_ref(u_int idx)
{
	struct ifnet *ifp;

	if (!in_epoch(net_epoch_preempt))
		kfail("epoch", "ifnet_byindex_ref outside the network epoch");
	ifp = ifnet_byindex(idx);
	if (ifp == NULL || (ifp->if_flags & IFF_DYING))
		return (NULL);
	if (!if_try_ref(ifp))
		return (NULL);
	return (ifp);
}

/* The interface with index idx whatever its VNET (harness use). */
struct ifnet *
kifnet_byindex_any(u_int idx)
{

	if (idx == 0 || idx >= IFINDEX_MAX)
		return (NULL);
	return (ifindex_table[idx]);
}

/* ---- Accessors ---- */

const char *
if_name(struct ifnet *ifp)
{

	return (ifp->if_xname);
}

int
if_getflags(const if_t ifp)
{

	return (ifp->if_flags);
}

int
if_setflagbits(struct ifnet *ifp, int set, int clear)
{

	ifp->if_flags &= ~clear;
	ifp->if_flags |= set;
	return (0);
}

int
if_getindex(const if_t ifp)
{

	return (ifp->if_index);
}

int
if_getlinkstate(struct ifnet *ifp)
{

	return (ifp->if_link_state);
}

int
if_gettype(const if_t ifp)
{

	return (ifp->if_type);
}

struct vnet *
if_getvnet(struct ifnet *ifp)
{

	return (ifp->if_vnet);
}

void
if_inc_counter(struct ifnet *ifp, ift_counter cnt, int64_t inc)
{

	if ((unsigned)cnt >= IFCOUNTERS) {
		kfail("ifnet", "if_inc_counter with counter %d", cnt);
		return;
	}
	counter_u64_add(ifp->if_counters[cnt], inc);
}

uint64_t
if_get_counter_default(struct ifnet *ifp, ift_counter cnt)
{

	return (counter_u64_fetch(ifp->if_counters[cnt]));
}

void *
ifr_data_get_ptr(void *ifrp)
{
	struct ifreq *ifr = ifrp;

	return (ifr->ifr_ifru.ifru_data);
}

/* ---- Up, down, link state ---- */

void
if_down(struct ifnet *ifp)
{

	KEVENT_INVOKE(ifnet_event, ifp, IFNET_EVENT_DOWN);
	ifp->if_flags &= ~IFF_UP;
	if (ifp->if_qflush)
		ifp->if_qflush(ifp);
	if (ifp->if_carp)
		CARP_VCALL(carp_linkstate_p, ifp);
}

void
if_up(struct ifnet *ifp)
{

	ifp->if_flags |= IFF_UP;
	if (ifp->if_carp)
		CARP_VCALL(carp_linkstate_p, ifp);
	KEVENT_INVOKE(ifnet_event, ifp, IFNET_EVENT_UP);
}

void
if_link_state_change(struct ifnet *ifp, int link_state)
{

	if (ifp->if_link_state == link_state)
		return;
	ifp->if_link_state = link_state;
	taskqueue_enqueue(taskqueue_swi, &ifp->if_linktask);
}

static void
do_link_state_change(void *arg, int pending)
{
	struct ifnet *ifp = arg;
	int link_state = ifp->if_link_state;

	CURVNET_SET(ifp->if_vnet);
	if (ifp->if_carp)
		CARP_VCALL(carp_linkstate_p, ifp);
	if (IS_DEFAULT_VNET(curvnet))
		devctl_notify("IFNET", ifp->if_xname,
		    link_state == LINK_STATE_UP ? "LINK_UP" : "LINK_DOWN", NULL);
	if (pending > 1)
		if_printf(ifp, "%d link states coalesced\n", pending);
	if_printf(ifp, "link state changed to %s\n",
	    link_state == LINK_STATE_UP ? "UP" : "DOWN");
	KEVENT_INVOKE(ifnet_link_event, ifp, link_state);
	CURVNET_RESTORE();
}

int
if_printf(struct ifnet *ifp, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return (printf("%s: %s", ifp->if_xname, buf));
}

/* ---- Promiscuous mode ---- */

int
ifpromisc(struct ifnet *ifp, int pswitch)
{
	struct ifreq ifr;
	int error, oldflags = ifp->if_flags, oldcount = ifp->if_pcount;

	if (ifp->if_flags & IFF_PPROMISC) {
		ifp->if_pcount += pswitch ? 1 : -1;
		return (0);
	}
	if (pswitch) {
		if (ifp->if_pcount++ != 0)
			return (0);
		ifp->if_flags |= IFF_PROMISC;
	} else {
		if (--ifp->if_pcount > 0)
			return (0);
		if (ifp->if_pcount < 0) {
			kfail("ifnet", "ifpromisc(%s, 0): count below zero", ifp->if_xname);
			ifp->if_pcount = 0;
		}
		ifp->if_flags &= ~IFF_PROMISC;
	}
	if (ifp->if_ioctl == NULL) {
		ifp->if_pcount = oldcount;
		ifp->if_flags = oldflags;
		return (EOPNOTSUPP);
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = ifp->if_flags & 0xffff;
	ifr.ifr_flagshigh = ifp->if_flags >> 16;
	error = ifp->if_ioctl(ifp, SIOCSIFFLAGS, (caddr_t)&ifr);
	if (error != 0) {
		ifp->if_pcount = oldcount;
		ifp->if_flags = oldflags;
		return (error);
	}
	log(LOG_INFO, "%s: promiscuous mode %s\n", ifp->if_xname,
	    (ifp->if_flags & IFF_PROMISC) ? "enabled" : "disabled");
	return (0);
}

/* ---- Interface addresses ---- */

struct ifaddr *
ifa_alloc(size_t size, int flags)
{
	struct ifaddr *ifa;

	ifa = malloc(size, M_IFADDR, M_ZERO | flags);
	if (ifa == NULL)
		return (NULL);
	if ((ifa->ifa_opackets = counter_u64_alloc(flags)) == NULL ||
	    (ifa->ifa_ipackets = counter_u64_alloc(flags)) == NULL ||
	    (ifa->ifa_obytes = counter_u64_alloc(flags)) == NULL ||
	    (ifa->ifa_ibytes = counter_u64_alloc(flags)) == NULL) {
		counter_u64_free(ifa->ifa_opackets);
		counter_u64_free(ifa->ifa_ipackets);
		counter_u64_free(ifa->ifa_obytes);
		counter_u64_free(ifa->ifa_ibytes);
		free(ifa, M_IFADDR);
		return (NULL);
	}
	refcount_init(&ifa->ifa_refcnt, 1);
	kifa_track(ifa, 1);
	return (ifa);
}

void
ifa_ref(struct ifaddr *ifa)
{
	u_int old;

	old = atomic_fetchadd_int(&ifa->ifa_refcnt, 1);
	if (old == 0)
		kfail("ifaddr", "ifa_ref on an address whose last reference is gone");
}

int
ifa_try_ref(struct ifaddr *ifa)
{

	NET_EPOCH_ASSERT();
	return (refcount_acquire_if_not_zero(&ifa->ifa_refcnt));
}

static void
ifa_destroy(void *arg)
{
	struct ifaddr *ifa = arg;

	if (ifa->ifa_carp != NULL)
		kfail("ifaddr", "address freed with ifa_carp still set");
	counter_u64_free(ifa->ifa_opackets);
	counter_u64_free(ifa->ifa_ipackets);
	counter_u64_free(ifa->ifa_obytes);
	counter_u64_free(ifa->ifa_ibytes);
	kifa_track(ifa, 0);
	free(ifa, M_IFADDR);
}

void
ifa_free(struct ifaddr *ifa)
{
	u_int old;

	old = atomic_fetchadd_int(&ifa->ifa_refcnt, -1);
	if (old == 0) {
		kfail("ifaddr", "ifa_free: reference count underflow");
		return;
	}
	if (old == 1)
		kepoch_call(ifa_destroy, ifa);
}

int
ifa_preferred(struct ifaddr *cur, struct ifaddr *next)
{

	return (cur->ifa_carp && (!next->ifa_carp ||
	    (CARP_CALL(carp_master_p, next) && !CARP_CALL(carp_master_p, cur))));
}

struct ifaddr *
ifa_ifwithaddr(const struct sockaddr *addr)
{
	struct ifnet *ifp;
	struct ifaddr *ifa;

	NET_EPOCH_ASSERT();
	CK_STAILQ_FOREACH(ifp, &V_ifnet, if_link)
		CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link) {
			if (ifa->ifa_addr->sa_family != addr->sa_family)
				continue;
			if (sa_equal(addr, ifa->ifa_addr))
				return (ifa);
		}
	return (NULL);
}

struct ifaddr *
ifaof_ifpforaddr(const struct sockaddr *addr, struct ifnet *ifp)
{
	struct ifaddr *ifa, *maybe = NULL;

	CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link) {
		if (ifa->ifa_addr->sa_family != addr->sa_family)
			continue;
		if (maybe == NULL)
			maybe = ifa;
		if (sa_equal(addr, ifa->ifa_addr))
			return (ifa);
	}
	return (maybe);
}

/*
 * if_purgeaddrs: every address but the link-level one goes, through the protocols'
 * own deletion (carp_detach_p for a CARP address).
 */
void
if_purgeaddrs(struct ifnet *ifp)
{
	struct epoch_tracker et;
	struct ifaddr *ifa;

	for (;;) {
		NET_EPOCH_ENTER(et);
		CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link)
			if (ifa->ifa_addr->sa_family != AF_LINK)
				break;
		NET_EPOCH_EXIT(et);
		if (ifa == NULL)
			break;
		if (ifa->ifa_addr->sa_family == AF_INET) {
			struct ifreq ifr;

			memset(&ifr, 0, sizeof(ifr));
			memcpy(&ifr.ifr_addr, ifa->ifa_addr, sizeof(struct sockaddr_in));
			if (kin_control(SIOCDIFADDR, (caddr_t)&ifr, ifp, NULL) == 0)
				continue;
		}
		if (ifa->ifa_addr->sa_family == AF_INET6) {
			kin6_purgeifaddr((struct in6_ifaddr *)ifa);
			continue;
		}
		IF_ADDR_WLOCK(ifp);
		CK_STAILQ_REMOVE(&ifp->if_addrhead, ifa, ifaddr, ifa_link);
		IF_ADDR_WUNLOCK(ifp);
		ifa_free(ifa);
	}
}

/* ---- Link-level multicast (if_addmulti / if_delmulti) ---- */

struct ifmultiaddr *
if_findmulti(struct ifnet *ifp, const struct sockaddr *sa)
{
	struct ifmultiaddr *ifma;

	CK_STAILQ_FOREACH(ifma, &ifp->if_multiaddrs, ifma_link)
		if (sa_equal(ifma->ifma_addr, sa))
			return (ifma);
	return (NULL);
}

static struct ifmultiaddr *
if_allocmulti(struct ifnet *ifp, const struct sockaddr *sa, const struct sockaddr *llsa)
{
	struct ifmultiaddr *ifma;

	ifma = malloc(sizeof(*ifma), M_IFMADDR, M_NOWAIT | M_ZERO);
	if (ifma == NULL)
		return (NULL);
	ifma->ifma_addr = malloc(sa->sa_len, M_IFMADDR, M_NOWAIT);
	if (ifma->ifma_addr == NULL) {
		free(ifma, M_IFMADDR);
		return (NULL);
	}
	memcpy(ifma->ifma_addr, sa, sa->sa_len);
	ifma->ifma_ifp = ifp;
	ifma->ifma_refcount = 1;
	(void)llsa;
	return (ifma);
}

static void
if_freemulti_internal(struct ifmultiaddr *ifma)
{

	free(ifma->ifma_addr, M_IFMADDR);
	free(ifma, M_IFMADDR);
}

void
if_freemulti(struct ifmultiaddr *ifma)
{

	if_freemulti_internal(ifma);
}

int
if_addmulti(struct ifnet *ifp, struct sockaddr *sa, struct ifmultiaddr **retifma)
{
	struct ifmultiaddr *ifma, *ll_ifma;
	struct sockaddr *llsa = NULL;
	int error;

	IF_ADDR_WLOCK(ifp);
	ifma = if_findmulti(ifp, sa);
	if (ifma != NULL) {
		ifma->ifma_refcount++;
		if (retifma)
			*retifma = ifma;
		IF_ADDR_WUNLOCK(ifp);
		return (0);
	}
	IF_ADDR_WUNLOCK(ifp);
	if (ifp->if_resolvemulti != NULL) {
		error = ifp->if_resolvemulti(ifp, &llsa, sa);
		if (error)
			return (error);
	}
	ifma = if_allocmulti(ifp, sa, llsa);
	if (ifma == NULL) {
		free(llsa, M_IFMADDR);
		return (ENOMEM);
	}
	IF_ADDR_WLOCK(ifp);
	if (llsa != NULL) {
		ll_ifma = if_findmulti(ifp, llsa);
		if (ll_ifma == NULL) {
			ll_ifma = if_allocmulti(ifp, llsa, NULL);
			if (ll_ifma == NULL) {
				IF_ADDR_WUNLOCK(ifp);
				if_freemulti_internal(ifma);
				free(llsa, M_IFMADDR);
				return (ENOMEM);
			}
			CK_STAILQ_INSERT_HEAD(&ifp->if_multiaddrs, ll_ifma, ifma_link);
		} else
			ll_ifma->ifma_refcount++;
		ifma->ifma_llifma = ll_ifma;
	}
	CK_STAILQ_INSERT_HEAD(&ifp->if_multiaddrs, ifma, ifma_link);
	IF_ADDR_WUNLOCK(ifp);
	free(llsa, M_IFMADDR);
	if (retifma)
		*retifma = ifma;
	if (ifp->if_ioctl != NULL && THREAD_CAN_SLEEP())
		(void)ifp->if_ioctl(ifp, SIOCADDMULTI, 0);
	return (0);
}

static void
if_delmulti_locked(struct ifnet *ifp, struct ifmultiaddr *ifma, int detaching)
{
	struct ifmultiaddr *ll = ifma->ifma_llifma;

	if (--ifma->ifma_refcount > 0)
		return;
	CK_STAILQ_REMOVE(&ifp->if_multiaddrs, ifma, ifmultiaddr, ifma_link);
	if (ll != NULL && --ll->ifma_refcount == 0) {
		CK_STAILQ_REMOVE(&ifp->if_multiaddrs, ll, ifmultiaddr, ifma_link);
		kepoch_call((void (*)(void *))if_freemulti_internal, ll);
	}
	kepoch_call((void (*)(void *))if_freemulti_internal, ifma);
}

void
if_delmulti_ifma_flags(struct ifmultiaddr *ifma, int flags)
{
	struct ifnet *ifp = ifma->ifma_ifp;

	if (ifp == NULL)
		return;
	IF_ADDR_WLOCK(ifp);
	if_delmulti_locked(ifp, ifma, 0);
	IF_ADDR_WUNLOCK(ifp);
	if (ifp->if_ioctl != NULL && THREAD_CAN_SLEEP() && !(flags & 1))
		(void)ifp->if_ioctl(ifp, SIOCDELMULTI, 0);
}

void
if_delmulti_ifma(struct ifmultiaddr *ifma)
{

	if_delmulti_ifma_flags(ifma, 0);
}

/*
 * The last reference of a protocol's membership goes (in_leavegroup, in6_leavegroup):
 * the group leaves the interface, or, when it was purged with its departed interface
 * (if_purgemaddrs unlinked it and cleared ifma_ifp), it is freed.
 */
void
kif_release_multi(struct ifmultiaddr *ifma)
{

	ifma->ifma_protospec = NULL;
	if (ifma->ifma_ifp != NULL)
		if_delmulti_ifma(ifma);
	else
		if_freemulti(ifma);
}

/* Count of references of a link-level or protocol membership (snapshots). */
int
kif_mcast_refs(struct ifnet *ifp, const struct sockaddr *sa)
{
	struct ifmultiaddr *ifma = if_findmulti(ifp, sa);

	return (ifma ? (int)ifma->ifma_refcount : 0);
}

void
if_purgemaddrs(struct ifnet *ifp)
{
	struct ifmultiaddr *ifma;

	IF_ADDR_WLOCK(ifp);
	while ((ifma = CK_STAILQ_FIRST(&ifp->if_multiaddrs)) != NULL) {
		CK_STAILQ_REMOVE(&ifp->if_multiaddrs, ifma, ifmultiaddr, ifma_link);
		ifma->ifma_ifp = NULL;
		if (ifma->ifma_protospec == NULL)
			kepoch_call((void (*)(void *))if_freemulti_internal, ifma);
	}
	IF_ADDR_WUNLOCK(ifp);
}

/* ---- ioctl ---- */

int
ifhwioctl(u_long cmd, struct ifnet *ifp, caddr_t data, struct thread *td)
{
	struct ifreq *ifr = (struct ifreq *)data;
	int error, new_flags, do_ifup = 0;

	switch (cmd) {
	case SIOCGIFFLAGS:
		ifr->ifr_flags = ifp->if_flags & 0xffff;
		ifr->ifr_flagshigh = ifp->if_flags >> 16;
		return (0);
	case SIOCGIFINDEX:
		ifr->ifr_index = ifp->if_index;
		return (0);
	case SIOCSIFFLAGS:
		error = priv_check(td, PRIV_NET_SETIFFLAGS);
		if (error)
			return (error);
		new_flags = (ifr->ifr_flags & 0xffff) | (ifr->ifr_flagshigh << 16);
		if ((ifp->if_flags & IFF_UP) && (new_flags & IFF_UP) == 0)
			if_down(ifp);
		else if ((new_flags & IFF_UP) && (ifp->if_flags & IFF_UP) == 0)
			do_ifup = 1;
		if (new_flags & IFF_PPROMISC)
			ifp->if_flags |= IFF_PROMISC;
		else if (ifp->if_pcount == 0)
			ifp->if_flags &= ~IFF_PROMISC;
		ifp->if_flags = (ifp->if_flags & IFF_CANTCHANGE) |
		    (new_flags & ~IFF_CANTCHANGE);
		if (ifp->if_ioctl)
			(void)ifp->if_ioctl(ifp, cmd, data);
		if (do_ifup)
			if_up(ifp);
		return (0);
	case SIOCSIFNAME: {
		char new_name[IFNAMSIZ];

		error = priv_check(td, PRIV_NET_SETIFNAME);
		if (error)
			return (error);
		error = copyinstr(ifr_data_get_ptr(ifr), new_name, IFNAMSIZ, NULL);
		if (error)
			return (error);
		return (if_rename(ifp, new_name));
	}
	case SIOCSIFMTU:
		error = priv_check(td, PRIV_NET_SETIFMTU);
		if (error)
			return (error);
		if (ifp->if_ioctl == NULL)
			return (EOPNOTSUPP);
		return (ifp->if_ioctl(ifp, cmd, data));
	default:
		return (ENOIOCTL);
	}
}

/*
 * ifioctl(so, cmd, data, td) for a socket of family `af` in the current VNET (the
 * harness has no sockets: the family picks the protocol's control routine).
 */
int
kifioctl(int af, u_long cmd, caddr_t data, struct thread *td)
{
	struct ifreq *ifr = (struct ifreq *)data;
	struct ifnet *ifp;
	int error, oif_flags;

	if (curvnet->vnet_shutdown)
		return (EBUSY);
	switch (cmd) {
	case SIOCIFCREATE:
	case SIOCIFCREATE2:
		error = priv_check(td, PRIV_NET_IFCREATE);
		if (error == 0)
			error = if_clone_create(ifr->ifr_name, sizeof(ifr->ifr_name),
			    cmd == SIOCIFCREATE2 ? ifr_data_get_ptr(ifr) : NULL);
		return (error);
	case SIOCIFDESTROY:
		error = priv_check(td, PRIV_NET_IFDESTROY);
		if (error == 0) {
			sx_xlock(&ifnet_detach_sxlock);
			error = if_clone_destroy(ifr->ifr_name);
			sx_xunlock(&ifnet_detach_sxlock);
		}
		return (error);
	case SIOCSVH:
	case SIOCGVH:
		if (carp_ioctl_p == NULL)
			return (EPROTONOSUPPORT);
		return (CARP_CALL(carp_ioctl_p, ifr, cmd, td));
	}
	ifp = ifunit_ref(ifr->ifr_name);
	if (ifp == NULL)
		return (ENXIO);
	error = ifhwioctl(cmd, ifp, data, td);
	if (error != ENOIOCTL)
		goto out;
	oif_flags = ifp->if_flags;
	switch (af) {
	case AF_INET:
		error = kin_control(cmd, data, ifp, td);
		break;
	case AF_INET6:
		error = kin6_control(cmd, data, ifp, td);
		break;
	default:
		error = EOPNOTSUPP;
	}
	if (error == EOPNOTSUPP && ifp->if_ioctl != NULL && cmd != SIOCSIFADDR &&
	    cmd != SIOCSIFBRDADDR && cmd != SIOCSIFDSTADDR && cmd != SIOCSIFNETMASK)
		error = ifp->if_ioctl(ifp, cmd, data);
	if ((oif_flags ^ ifp->if_flags) & IFF_UP) {
		if (ifp->if_flags & IFF_UP)
			if_up(ifp);
	}
out:
	if_rele(ifp);
	return (error);
}

int
copyinstr(const void *uaddr, void *kaddr, size_t len, size_t *done)
{
	const char *u = uaddr;
	char *k = kaddr;
	size_t i;

	for (i = 0; i < len; i++) {
		if (!kuser_valid(u + i, 1))
			return (EFAULT);
		k[i] = u[i];
		if (k[i] == '\0') {
			if (done)
				*done = i + 1;
			return (0);
		}
	}
	return (ENAMETOOLONG);
}

/* ---- Bookkeeping for leak and reference checks ---- */

#define	MAXTRACK	512
static struct ifnet *track_if[MAXTRACK];
static struct ifaddr *track_ifa[MAXTRACK * 2];

void
kif_track(struct ifnet *ifp, int add)
{
	int i;

	for (i = 0; i < MAXTRACK; i++)
		if (add ? track_if[i] == NULL : track_if[i] == ifp) {
			track_if[i] = add ? ifp : NULL;
			return;
		}
}

void
kifa_track(struct ifaddr *ifa, int add)
{
	int i;

	for (i = 0; i < MAXTRACK * 2; i++)
		if (add ? track_ifa[i] == NULL : track_ifa[i] == ifa) {
			track_ifa[i] = add ? ifa : NULL;
			return;
		}
}

/* Live ifnets and ifaddrs (ids for reports). */
int
kif_live(int report)
{
	int i, n = 0;
	char buf[96];

	struct ifnet *lo0 = VNET_VNET(vnet0, loif);

	for (i = 0; i < MAXTRACK; i++)
		if (track_if[i] != NULL && track_if[i] != lo0) {
			n++;
			if (report)
				kfail("ifnet", "interface %s (index %d) never freed: %u "
				    "reference(s) left", track_if[i]->if_xname,
				    track_if[i]->if_index, track_if[i]->if_refcount);
		}
	for (i = 0; i < MAXTRACK * 2; i++)
		if (track_ifa[i] != NULL && track_ifa[i]->ifa_ifp != lo0) {
			struct ifaddr *ifa = track_ifa[i];

			n++;
			if (report) {
				ksa_format(ifa->ifa_addr, buf, sizeof(buf));
				kfail("ifaddr", "address %s never freed: %u reference(s) left%s",
				    buf, ifa->ifa_refcnt, ifa->ifa_carp ? " (ifa_carp set)" : "");
			}
		}
	return (n);
}

void
kif_boot(void)
{

	sx_init(&ifnet_detach_sxlock, "ifnet_detach_sx");
	mtx_init(&ifnet_mtx, "ifnet", NULL, MTX_DEF);
}
