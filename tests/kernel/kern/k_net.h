/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The simulated network stack: declarations shared by its files (k_if.c, k_ether.c,
 * k_inet.c, k_inet6.c, k_clone.c, k_netlink.c, k_api.c).
 */
#ifndef K_NET_H
#define K_NET_H

/*
 * Calls into carp.ko through a hook pointer, as the stack does, with the checks made
 * around every call into the module: a NULL hook is the kernel panic FreeBSD would take
 * (reported, and 0 is returned instead), and the lock/epoch/vnet state must be unchanged.
 */
#define	CARP_CALL(hook, ...) ({						\
	__typeof((*hook)(__VA_ARGS__)) _r;				\
	struct kcheck_state _s;						\
	__typeof(hook) _h = (hook);					\
	if (_h == NULL) {						\
		kfail("hook", "%s called while NULL (the kernel would fault)", #hook); \
		_r = (__typeof(_r))0;					\
	} else {							\
		kcheck_save(&_s);					\
		_r = (*_h)(__VA_ARGS__);				\
		kcheck_restore_check(&_s, #hook);			\
	}								\
	_r;								\
})
#define	CARP_VCALL(hook, ...) do {					\
	struct kcheck_state _s;						\
	__typeof(hook) _h = (hook);					\
	if (_h == NULL)							\
		kfail("hook", "%s called while NULL (the kernel would fault)", #hook); \
	else {								\
		kcheck_save(&_s);					\
		(*_h)(__VA_ARGS__);					\
		kcheck_restore_check(&_s, #hook);			\
	}								\
} while (0)

/*
 * EVENTHANDLER_INVOKE with the module-call checks around each handler (the list is
 * found locked, as eventhandler_find_list returns it).
 */
#define	KEVENT_INVOKE(name, ...) do {					\
	struct eventhandler_list *_el;					\
	struct eventhandler_entry *_ep;					\
	struct eventhandler_entry_ ## name *_t;				\
	struct kcheck_state _s;						\
	if ((_el = eventhandler_find_list(#name)) != NULL) {		\
		_el->el_runcount++;					\
		TAILQ_FOREACH(_ep, &_el->el_entries, ee_link) {		\
			if (_ep->ee_priority == EHE_DEAD_PRIORITY)	\
				continue;				\
			EHL_UNLOCK(_el);				\
			_t = (struct eventhandler_entry_ ## name *)_ep;	\
			kcheck_save(&_s);				\
			_t->eh_func(_ep->ee_arg , ## __VA_ARGS__);	\
			kcheck_restore_check(&_s, "eventhandler " #name); \
			EHL_LOCK(_el);					\
		}							\
		_el->el_runcount--;					\
		if (_el->el_runcount == 0)				\
			eventhandler_prune_list(_el);			\
		EHL_UNLOCK(_el);					\
	}								\
} while (0)

VNET_DECLARE(struct ifnet *, loif);
#define	V_loif	VNET(loif)

/* k_if.c */
void	kif_boot(void);
void	kif_track(struct ifnet *ifp, int add);
void	kifa_track(struct ifaddr *ifa, int add);
int	kif_live(int report);
int	kifioctl(int af, u_long cmd, caddr_t data, struct thread *td);
int	kif_vmove(struct ifnet *ifp, struct vnet *to);
void	kif_vnet_return(struct vnet *vnet);
struct ifnet *kifnet_byindex_any(u_int idx);
int	kif_mcast_refs(struct ifnet *ifp, const struct sockaddr *sa);
void	kif_release_multi(struct ifmultiaddr *ifma);
void	if_purgemaddrs(struct ifnet *ifp);
int	kif_dead_output(struct ifnet *, struct mbuf *, const struct sockaddr *,
	    struct route *);
int	kif_dead_ioctl(struct ifnet *, u_long, caddr_t);
int	kif_dead_transmit(struct ifnet *, struct mbuf *);
int	copyinstr(const void *uaddr, void *kaddr, size_t len, size_t *done);

/* k_ether.c: Ethernet, pfil, the simulated NICs and wires */
void	kether_boot(void);
void	ether_ifattach(struct ifnet *ifp, const u_int8_t *lla);
void	ether_ifdetach(struct ifnet *ifp);
int	ether_output(struct ifnet *ifp, struct mbuf *m, const struct sockaddr *dst,
	    struct route *ro);
int	ether_output_frame(struct ifnet *ifp, struct mbuf *m);
void	ether_input(struct ifnet *ifp, struct mbuf *m);
struct ifnet *knic_create(const char *name, int type, const uint8_t *mac, int wire);
int	knic_destroy(struct ifnet *ifp);
int	knic_wire(struct ifnet *ifp);
void	knic_set_wire(struct ifnet *ifp, int wire);
void	knic_set_carrier(struct ifnet *ifp, int up);
void	knic_set_txfail(struct ifnet *ifp, int error, int count);
int	knic_is_nic(struct ifnet *ifp);
/* Frames waiting for input (netisr). */
int	knetisr_pending(void);
void	kwire_inject(int wire, const uint8_t *frame, unsigned len, struct ifnet *only);

/* k_inet.c */
void	kinet_boot(void);
int	kin_control(u_long cmd, caddr_t data, struct ifnet *ifp, struct thread *td);
void	kin_ifdetach(struct ifnet *ifp);
void	krt_flush_ifp(struct ifnet *ifp);
void	ip_input(struct mbuf *m);
void	arpintr(struct mbuf *m);
int	ksa_format(const struct sockaddr *sa, char *buf, size_t len);
/* Routes: a simple per-VNET table (prefix routes and loopback host routes). */
#define	KRT_LOOPBACK	0x1	/* host route through lo0 (ifa_add_loopback_route) */
#define	KRT_PREFIX	0x2	/* connected prefix (in_addprefix / nd6 prefix) */
#define	KRT_HOST	0x4
int	krt_add(int af, const void *addr, int plen, struct ifaddr *ifa, int flags);
int	krt_del(int af, const void *addr, int plen, int flags, struct ifaddr *ifa);
int	krt_lookup(int af, const void *addr, struct ifnet **ifpp, int *flagsp);
int	krt_dump(struct vnet *vnet, char *buf, size_t len);
/* IPv4 neighbour (ARP) table per interface. */
int	karp_dump(struct vnet *vnet, char *buf, size_t len);
int	kmcast_dump(struct vnet *vnet, char *buf, size_t len);
void	kin_afdata_free(struct ifnet *ifp);
int	kipproto_in(unsigned long base, unsigned long size, int report);
void	kip_input_packet(struct ifnet *ifp, const uint8_t *pkt, unsigned len);
void	kip_proto_deliver(struct ifnet *ifp, const uint8_t *pkt, unsigned len, int off);

/* k_inet6.c */
void	kinet6_boot(void);
int	kin6_control(u_long cmd, caddr_t data, struct ifnet *ifp, struct thread *td);
void	kin6_ifdetach(struct ifnet *ifp);
void	kin6_purgeifaddr(struct in6_ifaddr *ia);
void	ip6_input(struct mbuf *m);
int	knd6_dump(struct vnet *vnet, char *buf, size_t len);
void	kin6_afdata_free(struct ifnet *ifp);
int	kip6proto_in(unsigned long base, unsigned long size, int report);
/* The IPv6 addresses of every interface of the VNET, for snapshots (flags, vhid). */
int	kin6_dump(struct vnet *vnet, char *buf, size_t len);
void	kip6_input_packet(struct ifnet *ifp, const uint8_t *pkt, unsigned len, int off);

/* k_clone.c */
void	kclone_boot(void);
int	if_clone_create(char *name, size_t len, caddr_t params);
int	if_clone_destroy(const char *name);
int	kclone_live(unsigned long base, unsigned long size, int report);

/* k_netlink.c */
void	knetlink_boot(void);

/* Interfaces whose memory the harness created (NICs, lo0). */
#define	KNIC_MAX	64

#endif /* K_NET_H */
