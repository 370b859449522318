/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * carp.ko C shim, part 3 (issue 5, legacy carpN): the interface cloner "carp".
 *
 * `ifconfig carpN create` / `destroy` (SIOCIFCREATE2 / SIOCIFDESTROY) reach the callbacks
 * below through FreeBSD 15's if_clone KPI (ifc_attach_cloner with a struct
 * if_clone_addreq). Each carpN is a pseudo interface:
 *
 *  - type IFT_OTHER: FreeBSD 15's net/if_types.h no longer has IFT_CARP (0xf8 is now
 *    IFT_WIREGUARD), and IFT_OTHER has no special handling in the stack, so no Ethernet
 *    consumer (vlan, bridge, lagg, ng_ether, ARP, ND resolution) ever attaches to or
 *    resolves through a carpN (reference D.6.5); this module recognises its own carpN by
 *    their if_ioctl (carp_shim_is_clone), not by type;
 *  - no IFF_LOOPBACK (D.6.5), no IFF_MULTICAST (so IPv6 does not auto-configure a
 *    link-local address on it), no IFF_BROADCAST;
 *  - a 6-byte link-level address (sdl_alen 6), all zero until the carpN has a vhid,
 *    then 00:00:5e:00:01:<vhid> (carp_shim_clone_set_lladdr);
 *  - MTU 1500;
 *  - if_output forwards to the bound parent (carp_clone_output); if_transmit drops
 *    (nothing hands a carpN Ethernet frames);
 *  - if_ioctl forwards to Rust (carp_rs_clone_ioctl), which takes every decision.
 *
 * Rust keeps the per-carpN state, keyed by the ifnet (carp_rs_clone_create/destroy).
 *
 * Per VNET (carp_shim_pervnet_register): the cloner and the ARP pfil hook below exist in
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
#include <sys/sockio.h>
#include <sys/epoch.h>
#include <sys/lock.h>
#include <sys/sx.h>
#include <sys/rwlock.h>
#include <sys/syslog.h>
#include <machine/atomic.h>

#include <net/if.h>
#include <net/if_var.h>
#include <net/if_private.h>
#include <net/if_clone.h>
#include <net/if_dl.h>
#include <net/if_types.h>
#include <net/ethernet.h>
#include <net/bpf.h>
#include <net/pfil.h>
#include <net/vnet.h>

#include <netinet/in.h>
#include <netinet6/in6_var.h>
#include <netinet6/scope6_var.h>

#include "carp_shim.h"

static const char carp_clone_name[] = "carp";

/* This VNET's cloner and ARP hook (NULL where attaching failed or after the destructor). */
VNET_DEFINE_STATIC(struct if_clone *, carp_cloner) = NULL;
#define	V_carp_cloner	VNET(carp_cloner)
VNET_DEFINE_STATIC(pfil_hook_t, carp_arp_hook) = NULL;
#define	V_carp_arp_hook	VNET(carp_arp_hook)

/* How many VNETs hold a cloner or a hook of this module (see carp_shim_pervnet_deregister). */
static volatile u_int carp_pervnet_count;

struct ifnethead *
carp_shim_vnet_ifnet(void)
{

	return (&V_ifnet);
}

/* Whether one of ifp's IPv4 addresses has a prefix covering a (network epoch). */
static int
carp_clone_covers4(struct ifnet *ifp, struct in_addr a)
{
	struct ifaddr *ifa;
	struct sockaddr_in *sin, *mask;

	CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link) {
		if (ifa->ifa_addr == NULL || ifa->ifa_addr->sa_family != AF_INET ||
		    ifa->ifa_netmask == NULL)
			continue;
		sin = (struct sockaddr_in *)ifa->ifa_addr;
		mask = (struct sockaddr_in *)ifa->ifa_netmask;
		if (((sin->sin_addr.s_addr ^ a.s_addr) & mask->sin_addr.s_addr) == 0)
			return (1);
	}
	return (0);
}

/*
 * A packet routed through a carpN (its subnet route can end up on the carpN, e.g. when
 * the parent's own address in that subnet goes away): forwarded to the bound parent's
 * if_output with the same next hop, as 9.x's carp_output did, tagged for the vhid's
 * virtual MAC as source when this host is its MASTER. Unbound: dropped (ENETDOWN). The
 * parent pointer (if_softc) is published by carp_shim_clone_set_parent under the
 * module's configuration lock and read here inside the network epoch, which keeps the
 * ifnet allocated.
 */
static int
carp_clone_output(struct ifnet *ifp, struct mbuf *m,
    const struct sockaddr *dst, struct route *ro __unused)
{
	struct epoch_tracker et;
	struct ifnet *parent;
	int error, vhid;

	NET_EPOCH_ENTER(et);
	parent = atomic_load_ptr(&ifp->if_softc);
	if (parent == NULL || dst == NULL ||
	    (dst->sa_family != AF_INET && dst->sa_family != AF_INET6) ||
	    (parent->if_flags & IFF_DYING) != 0) {
		NET_EPOCH_EXIT(et);
		m_freem(m);
		if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
		return (ENETDOWN);
	}
	/*
	 * IPv4: the parent resolves the next hop only if one of its own addresses covers it
	 * (in_lltable_rtcheck); otherwise fail here, without arpresolve's log line for
	 * every packet. IPv6 resolution accepts any address of the parent.
	 */
	if (dst->sa_family == AF_INET && !carp_clone_covers4(parent,
	    ((const struct sockaddr_in *)dst)->sin_addr)) {
		NET_EPOCH_EXIT(et);
		m_freem(m);
		if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
		return (EHOSTUNREACH);
	}
	vhid = carp_rs_clone_output_vhid(ifp, parent);
	if (vhid > 0 && vhid < 256)
		(void)carp_shim_tag_vmac(m, vhid);
	if_inc_counter(ifp, IFCOUNTER_OPACKETS, 1);
	if_inc_counter(ifp, IFCOUNTER_OBYTES, m->m_pkthdr.len);
	error = parent->if_output(parent, m, dst, NULL);
	NET_EPOCH_EXIT(et);
	return (error);
}

void
carp_shim_clone_set_parent(struct ifnet *ifp, struct ifnet *parent)
{

	atomic_store_ptr(&ifp->if_softc, parent);
}

static int
carp_clone_transmit(struct ifnet *ifp, struct mbuf *m)
{

	m_freem(m);
	if_inc_counter(ifp, IFCOUNTER_OERRORS, 1);
	return (ENETDOWN);
}

static void
carp_clone_qflush(struct ifnet *ifp __unused)
{
}

static int
carp_clone_ioctl(struct ifnet *ifp, u_long cmd, caddr_t data)
{
	int kind;

	switch (cmd) {
	case SIOCSIFFLAGS:
		kind = CARP_CLONE_IOC_SETFLAGS;
		break;
	case SIOCSIFADDR:
		kind = CARP_CLONE_IOC_SETADDR;
		break;
	case SIOCADDMULTI:
	case SIOCDELMULTI:
		kind = CARP_CLONE_IOC_MULTI;
		break;
	case SIOCSIFMTU:
		kind = CARP_CLONE_IOC_SETMTU;
		break;
	default:
		kind = CARP_CLONE_IOC_OTHER;
		break;
	}
	return (carp_rs_clone_ioctl(ifp, kind, data));
}

static int
carp_clone_create(struct if_clone *ifc __unused, char *name __unused,
    size_t maxlen __unused, struct ifc_data *ifd, struct ifnet **ifpp)
{
	struct ifnet *ifp;
	int error;

	/* Counted for unload from the first to the last statement run in module text. */
	carp_rs_inflight_enter();
	if (!carp_rs_accepting()) {
		carp_rs_inflight_exit();
		return (EBUSY);
	}
	ifp = if_alloc(IFT_OTHER);
	if_initname(ifp, carp_clone_name, ifd->unit);
	ifp->if_softc = NULL;
	ifp->if_flags = 0;
	ifp->if_mtu = ETHERMTU;
	ifp->if_addrlen = ETHER_ADDR_LEN;
	ifp->if_hdrlen = 0;
	ifp->if_output = carp_clone_output;
	ifp->if_transmit = carp_clone_transmit;
	ifp->if_qflush = carp_clone_qflush;
	ifp->if_ioctl = carp_clone_ioctl;
	ifp->if_link_state = LINK_STATE_UNKNOWN;
	if_attach(ifp);
	/*
	 * if_attach sizes the link-level address for if_addrlen bytes but leaves its length
	 * 0 (ether_ifattach sets it for Ethernet): a carpN has a 6-byte address, all zero
	 * until it has a vhid.
	 */
	((struct sockaddr_dl *)ifp->if_addr->ifa_addr)->sdl_alen = ETHER_ADDR_LEN;
	bpfattach(ifp, DLT_NULL, sizeof(uint32_t));
	error = carp_rs_clone_create(ifp);
	if (error != 0) {
		bpfdetach(ifp);
		if_detach(ifp);
		if_free(ifp);
		carp_rs_inflight_exit();
		return (error);
	}
	*ifpp = ifp;
	carp_rs_inflight_exit();
	return (0);
}

static int
carp_clone_destroy(struct if_clone *ifc __unused, struct ifnet *ifp,
    uint32_t flags __unused)
{

	/* Rust unbinds the carpN's vhid and forgets it first; then the ifnet goes away. */
	carp_rs_inflight_enter();
	carp_rs_clone_destroy(ifp);
	/*
	 * Remove the addresses here, while the protocols are alive: at VNET teardown
	 * if_detach skips the purge (VNET_IS_SHUTTING_DOWN), and this destructor runs before
	 * the protocols' own teardown, which would then never see them. Elsewhere if_detach
	 * would find nothing left to purge. ifa_carp is already clear: no carp_detach_p.
	 */
	if_purgeaddrs(ifp);
	bpfdetach(ifp);
	if_detach(ifp);
	if_free(ifp);
	carp_rs_inflight_exit();
	return (0);
}

int
carp_shim_clone_destroy(struct ifnet *ifp)
{
	struct if_clone *ifc;
	int error;

	/*
	 * As SIOCIFDESTROY does, under ifnet_detach_sxlock, which a VNET being destroyed
	 * holds across its destructors: either its teardown has not begun (the VNETs and the
	 * cloner are alive) or it is over, and then this carpN was destroyed by it (IFF_DYING,
	 * set by if_free) and is left alone. By pointer, through its home VNET's cloner (a
	 * name could have been reused by a rename).
	 */
	sx_xlock(&ifnet_detach_sxlock);
	if ((ifp->if_flags & IFF_DYING) != 0 || !carp_shim_is_clone(ifp)) {
		sx_xunlock(&ifnet_detach_sxlock);
		return (ENXIO);
	}
	ifc = VNET_VNET(ifp->if_home_vnet, carp_cloner);
	error = (ifc != NULL) ? if_clone_destroyif(ifc, ifp) : ENXIO;
	sx_xunlock(&ifnet_detach_sxlock);
	return (error);
}

int
carp_shim_is_clone(struct ifnet *ifp)
{

	return (ifp != NULL && ifp->if_ioctl == carp_clone_ioctl);
}

int
carp_shim_clone_set_lladdr(struct ifnet *ifp, const uint8_t *mac)
{
	struct sockaddr_dl *sdl;

	if (ifp->if_addr == NULL)
		return (EINVAL);
	sdl = (struct sockaddr_dl *)ifp->if_addr->ifa_addr;
	if (sdl == NULL || sdl->sdl_alen != ETHER_ADDR_LEN)
		return (EINVAL);
	bcopy(mac, LLADDR(sdl), ETHER_ADDR_LEN);
	return (0);
}

/* Marks a carpN IFF_UP when its first address binds it (as 9.x and ether_ioctl do). */
void
carp_shim_clone_up(struct ifnet *ifp)
{

	if_setflagbits(ifp, IFF_UP, 0);
}

/*
 * ARP for carpN addresses (reference D.6.3): FreeBSD 15's in_arpinput only answers for
 * addresses of the receiving interface, and a carpN's addresses live on the carpN. An
 * input hook on the "ethernet" pfil head (V_link_pfil_head, run by ether_demux inside the
 * network epoch with the Ethernet header in front) sees ARP requests on every parent with
 * a CARP container; Rust decides (MASTER only, arpbalance) and fills in the reply, sent
 * here with ether_output_frame. The packet itself always continues (PFIL_PASS).
 * Added in every VNET, like the cloner (pfil hooks and heads are per VNET).
 */

static pfil_return_t
carp_arp_pfil(struct mbuf **mp, struct ifnet *ifp, int flags __unused,
    void *ruleset __unused, struct inpcb *inp __unused)
{
	/*
	 * Word arrays, not char arrays: -fstack-protector instruments functions with char
	 * arrays, and modules may not reference the stack guard (check_ko).
	 */
	uint64_t frame[(CARP_ARP_FRAME_LEN + 7) / 8], reply[(CARP_ARP_REPLY_LEN + 7) / 8];
	struct ether_header *eh;
	struct mbuf *m, *r;
	int consume, len;

	m = *mp;
	if (m == NULL || ifp == NULL || ifp->if_carp == NULL ||
	    (m->m_flags & M_PKTHDR) == 0 ||
	    m->m_pkthdr.len < CARP_ARP_FRAME_LEN || m->m_len < ETHER_HDR_LEN)
		return (PFIL_PASS);
	/*
	 * A VLAN-tagged frame reaches the link pfil hook on the trunk before ether_demux
	 * hands it to the vlan interface: leave it, it comes back through the vlan.
	 */
	if ((m->m_flags & M_VLANTAG) != 0)
		return (PFIL_PASS);
	eh = mtod(m, struct ether_header *);
	if (eh->ether_type != htons(ETHERTYPE_ARP))
		return (PFIL_PASS);
	m_copydata(m, 0, CARP_ARP_FRAME_LEN, (caddr_t)frame);
	memset(reply, 0, sizeof(reply));
	consume = 0;
	len = carp_rs_arp_input(ifp, (const uint8_t *)frame, (uint8_t *)reply, &consume);
	if (len > 0 && len <= CARP_ARP_REPLY_LEN &&
	    (r = m_gethdr(M_NOWAIT, MT_DATA)) != NULL) {
		memcpy(mtod(r, uint8_t *), reply, len);
		r->m_len = r->m_pkthdr.len = len;
		r->m_pkthdr.rcvif = NULL;
		(void)ether_output_frame(ifp, r);
	}
	if (consume) {
		/*
		 * The target is a CARP-run carpN address that is also a plain address of the
		 * parent: the stack's own ARP would answer with the parent's MAC.
		 */
		m_freem(m);
		*mp = NULL;
		return (PFIL_DROPPED);
	}
	return (PFIL_PASS);
}

/* Adds and links this VNET's ARP hook (curvnet set by the caller). */
static int
carp_arp_hook_add(void)
{
	struct pfil_hook_args pha;
	struct pfil_link_args pla;
	pfil_hook_t hook;
	int error;

	if (V_link_pfil_head == NULL)
		return (ENXIO);
	memset(&pha, 0, sizeof(pha));
	pha.pa_version = PFIL_VERSION;
	pha.pa_flags = PFIL_IN;
	pha.pa_type = PFIL_TYPE_ETHERNET;
	pha.pa_mbuf_chk = carp_arp_pfil;
	pha.pa_modname = "carp";
	pha.pa_rulname = "arp";
	hook = pfil_add_hook(&pha);
	memset(&pla, 0, sizeof(pla));
	pla.pa_version = PFIL_VERSION;
	pla.pa_flags = PFIL_IN | PFIL_HEADPTR | PFIL_HOOKPTR;
	pla.pa_head = V_link_pfil_head;
	pla.pa_hook = hook;
	error = pfil_link(&pla);
	if (error != 0) {
		pfil_remove_hook(hook);
		return (error);
	}
	V_carp_arp_hook = hook;
	return (0);
}

/*
 * VNET constructor (curvnet is the VNET; sleepable; the kernel holds the VNET sysinit
 * lock): the ARP hook first, then the cloner, as at load. The cloner is attached only
 * with its hook (a carpN whose addresses are never answered for ARP would be worse than
 * none); a failure leaves the VNET without either, its errno kept in V_carp_pervnet_error
 * (carp_shim_pervnet_register checks every VNET that exists at load; for a VNET created
 * later the constructor cannot fail, so it logs).
 */
VNET_DEFINE_STATIC(int, carp_pervnet_error) = 0;
#define	V_carp_pervnet_error	VNET(carp_pervnet_error)

static void
carp_pervnet_init(const void *unused __unused)
{
	struct if_clone_addreq req = {
		.version = 0,
		.flags = IFC_F_AUTOUNIT,
		.maxunit = 0,
		.match_f = NULL,
		.create_f = carp_clone_create,
		.destroy_f = carp_clone_destroy,
	};
	int error;

	V_carp_pervnet_error = 0;
	if (V_carp_arp_hook == NULL) {
		error = carp_arp_hook_add();
		if (error != 0) {
			V_carp_pervnet_error = error;
			log(LOG_WARNING, "carp: error %d adding the ARP pfil hook in this VNET; "
			    "no carp interface cloner here\n", error);
			return;
		}
		atomic_add_int(&carp_pervnet_count, 1);
	}
	if (V_carp_cloner == NULL) {
		V_carp_cloner = ifc_attach_cloner(carp_clone_name, &req);
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
	 * its carpN before this (carp_shim_clone_destroy), so the detaches below find their
	 * cloners empty and never destroy an interface under the VNET locks.
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
