/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * carp.ko's C shim: the C half of the boundary between the FreeBSD kernel and the Rust
 * module (kmod/kpi, kmod/logic). It has two kinds of declarations:
 *
 *  1. carp_shim_*  C helpers, implemented in the kmod/shim C files, called from Rust. They exist
 *                  only for kernel interfaces Rust cannot reach through bindgen: macros
 *                  (VNET(), SYSCTL_*, MALLOC_DEFINE, DECLARE_MODULE, mtx_lock, NET_EPOCH_*,
 *                  CURVNET_SET...), static inline functions (m_gethdr, m_tag_get...) and
 *                  fields of structures whose layout may drift (ifnet, ifaddr, mbuf).
 *                  Keep each one tiny and free of policy.
 *  2. carp_rs_*    implemented in Rust (defined by carp_kpi::export_carp!, kmod/kpi/src/entry.rs), called from
 *                  the shim. Each is declared through a function typedef; the Rust side
 *                  checks its definition against the bindgen-generated typedef at compile
 *                  time, so the two halves cannot disagree on a signature.
 *
 * The twelve CARP hooks of the kernel (netinet/ip_carp.h) are defined in carp_glue.c with
 * the exact prototypes of the hook pointers, so the compiler checks them against the
 * kernel's header; each forwards to a carp_rs_* function.
 *
 * Errors are FreeBSD errno values (0 = success), as everywhere in the kernel.
 *
 * This header is also read by sys-bindings (bindgen), after the kernel headers listed in
 * sys-bindings/wrapper.h. It must only declare, never define.
 */
#ifndef _CARP_SHIM_H_
#define _CARP_SHIM_H_

#include <sys/param.h>
#include <sys/malloc.h>
#include <sys/types.h>

struct ifnet;
struct ifaddr;
struct ifreq;
struct thread;
struct mbuf;
struct in6_addr;
struct nlmsghdr;
struct nl_pstate;
struct vnet;
struct mtx;
struct sx;
struct callout;
struct epoch_tracker;
struct ucred;
struct ifnethead;
struct if_clone;
struct pfil_head;
struct pfil_hook;

/* Malloc type of every allocation carp.ko makes (vmstat -m: "carp"). */
MALLOC_DECLARE(M_CARP);

/* ---- 1. C helpers called from Rust (kmod/shim/carp_shim.c, carp_glue.c) ---- */

/* Per-VNET sysctl values (curvnet must be set). */
struct carp_shim_sysctls {
	int	allow;
	int	preempt;
	int	log;
	int	arpbalance;
	int	dscp;
	int	senderr_demotion_factor;
	int	ifdown_demotion_factor;
};
/* Value of net.inet.carp.allow in the current VNET (curvnet must be set). */
int	carp_shim_allow(void);
/* Every net.inet.carp value of the current VNET (curvnet must be set). */
void	carp_shim_sysctls(struct carp_shim_sysctls *out);
/*
 * The current VNET's demotion accumulator: 8 bytes of VNET storage, 4-aligned, laid out
 * as carp_proto's #[repr(C)] DemotionState (an i32 and a u32, both used atomically).
 */
void	*carp_shim_vnet_demotion(void);
/* net.inet.carp.stats of the current VNET: counter `idx` (0..15) += 1. */
void	carp_shim_stat_inc(int idx);

/* Registration, paired (each returns 0 or an errno; the undo never fails). */
void	carp_shim_hooks_publish(void);
void	carp_shim_hooks_clear(void);
int	carp_shim_proto_register(void);		/* ipproto_register(112) */
void	carp_shim_proto_unregister(void);
int	carp_shim_proto6_register(void);	/* ip6proto_register(112) */
void	carp_shim_proto6_unregister(void);
int	carp_shim_netlink_register(void);	/* genl family "carp" + GET/SET */
void	carp_shim_netlink_unregister(void);
int	carp_shim_ifdetach_register(void);	/* departure/arrival/ifaddr/ifnet_event handlers */
void	carp_shim_ifdetach_deregister(void);
void	carp_shim_net_epoch_wait(void);
/* pause(9) for about a millisecond (unload waits for threads still inside a hook). */
void	carp_shim_pause(void);
/* The send-all task (taskqueue_thread): runs carp_rs_sendall(). */
void	carp_shim_sendall_enqueue(void);
void	carp_shim_sendall_drain(void);

/* Locks: mtx(9) and sx(9) (macros in the kernel). */
void	carp_shim_mtx_init(struct mtx *m, const char *name);
void	carp_shim_mtx_destroy(struct mtx *m);
void	carp_shim_mtx_lock(struct mtx *m);
void	carp_shim_mtx_unlock(struct mtx *m);
void	carp_shim_sx_xlock(void);		/* the global configuration lock */
void	carp_shim_sx_xunlock(void);

/* callout(9), MPSAFE, no associated lock. */
void	carp_shim_callout_init(struct callout *c);
/* Arm `c` to call carp_rs_callout(arg) at absolute uptime `us` (microseconds). */
void	carp_shim_callout_at(struct callout *c, uint64_t us, void *arg);
void	carp_shim_callout_stop(struct callout *c);
void	carp_shim_callout_drain(struct callout *c);
/* Uptime in microseconds (sbinuptime(9)). */
uint64_t carp_shim_uptime_us(void);

/* Network epoch and VNET context. */
void	carp_shim_net_epoch_enter(struct epoch_tracker *et);
void	carp_shim_net_epoch_exit(struct epoch_tracker *et);
/* CURVNET_SET: returns the previous curvnet, to give back to carp_shim_curvnet_restore. */
struct vnet *carp_shim_curvnet_set(struct vnet *v);
void	carp_shim_curvnet_restore(struct vnet *saved);
struct vnet *carp_shim_curvnet(void);

/* ifnet / ifaddr fields. */
void	*carp_shim_if_carp(struct ifnet *ifp);
void	carp_shim_if_set_carp(struct ifnet *ifp, void *cif);
void	*carp_shim_ifa_carp(struct ifaddr *ifa);
void	carp_shim_ifa_set_carp(struct ifaddr *ifa, void *v);
struct ifnet *carp_shim_ifa_ifp(struct ifaddr *ifa);
/* AF_INET: 4 bytes; AF_INET6: 16 bytes (scope cleared) into out; returns the family. */
int	carp_shim_ifa_addr(struct ifaddr *ifa, uint8_t *out);
void	carp_shim_ifa_ref(struct ifaddr *ifa);
void	carp_shim_ifa_free(struct ifaddr *ifa);
/* The parent's first AF_INET/AF_INET6 address preferred as ip_carp.c does; 0 if none. */
int	carp_shim_if_source(struct ifnet *ifp, int af, uint8_t *out);

/* Parent state: promiscuous mode and multicast membership (224.0.0.18 / ff02::12). */
int	carp_shim_promisc(struct ifnet *ifp, int on);
int	carp_shim_mcast4_join(struct ifnet *ifp, void **state);
void	carp_shim_mcast4_leave(void *state);
int	carp_shim_mcast6_join(struct ifnet *ifp, void **state);
void	carp_shim_mcast6_leave(void *state);
/*
 * Membership of ifp in the solicited-node group of the IPv6 address addr (16 bytes), for
 * a carpN address whose neighbour solicitations arrive on its parent; sleepable.
 */
int	carp_shim_sn6_join(struct ifnet *ifp, const uint8_t *addr, void **state);
void	carp_shim_sn6_leave(void *state);

/*
 * Removes ifa from its interface through the kernel's deletion (IPv4 in_control
 * SIOCDIFADDR, IPv6 in6_purgeifaddr), in the interface's VNET; sleepable, not in the
 * epoch, without the configuration lock. 0, EADDRNOTAVAIL if already gone, or an errno.
 */
int	carp_shim_ifa_remove(struct ifaddr *ifa);
/* Routes of one CARP address on MASTER (add != 0) or leaving MASTER. */
void	carp_shim_ifa_routes(struct ifaddr *ifa, int add);
/* Gratuitous ARP request / unsolicited NA announcing an address at the virtual MAC. */
void	carp_shim_garp(struct ifnet *ifp, const uint8_t *addr4, const uint8_t *mac);
void	carp_shim_na(struct ifnet *ifp, const uint8_t *addr6);

/*
 * Advertisement output: builds an mbuf from `len` bytes of IP packet, tags it with
 * PACKET_TAG_CARP (vhid) when tag_vhid != 0, and sends it with ip_output/ip6_output on
 * the parent with its multicast options. Returns the output errno, or -1 when no mbuf or
 * tag could be allocated (nothing was sent).
 */
int	carp_shim_send(struct ifnet *ifp, int af, const uint8_t *pkt, int len,
	    int tag_vhid, void *mcast_state);
uint16_t carp_shim_ip_newid(void);

/* Received packets. */
int	carp_shim_m_len(struct mbuf *m);
int	carp_shim_m_copydata(struct mbuf *m, int off, int len, uint8_t *out);
struct ifnet *carp_shim_m_rcvif(struct mbuf *m);
void	carp_shim_m_freem(struct mbuf *m);

/* ioctl and netlink plumbing. */
int	carp_shim_ifr_copyin(struct ifreq *ifr, void *buf, size_t len);
int	carp_shim_ifr_copyout(struct ifreq *ifr, const void *buf, size_t len);
const char *carp_shim_ifr_name(struct ifreq *ifr);
int	carp_shim_priv_check(struct thread *td);
int	carp_shim_priv_check_cred(struct thread *td);
/* The message's bytes (nlmsg_len of them). */
const uint8_t *carp_shim_nl_msg(struct nlmsghdr *hdr, size_t *len);
int	carp_shim_nl_privileged(struct nl_pstate *npt);
/* Sends one GET reply: the request's header fields, flags | NLM_F_MULTI, then payload. */
int	carp_shim_nl_reply(struct nl_pstate *npt, struct nlmsghdr *hdr,
	    const uint8_t *payload, int len);
int	carp_shim_nl_end_dump(struct nl_pstate *npt, int error, struct nlmsghdr *hdr);

/*
 * ---- Issue 5 (legacy carpN), kmod/shim/carp_clone.c: the interface cloner "carp" ----
 * The cloner and the ARP pfil hook, in every VNET (present and future) through a
 * dynamically registered VNET constructor/destructor pair. Register: sleepable, without
 * the configuration lock; fails with the error of the first VNET existing at load that
 * did not get both (nothing left registered).
 * Deregister: runs the destructor in every VNET, destroying every carpN
 * (carp_rs_clone_destroy for each) and unlinking every ARP hook; sleepable, without the
 * configuration lock (the destroy callbacks take it).
 * The cloner's and the carpN's callbacks and the ARP hook are Rust (kmod/kpi/src/clone.rs,
 * arp.rs; defined by export_carp! with the kernel's prototypes, never called from C).
 */
int	carp_shim_pervnet_register(void);
void	carp_shim_pervnet_deregister(void);
/* &V_ifnet: the current VNET's interface list (a CK_STAILQ, walked in the network epoch). */
struct ifnethead *carp_shim_vnet_ifnet(void);
/*
 * The cloner of ifp's home VNET (VNET_VNET), NULL if it has none; the caller holds
 * ifnet_detach_sxlock and a reference on ifp, which is not IFF_DYING.
 */
struct if_clone *carp_shim_home_cloner(struct ifnet *ifp);
/* Tags m so that carp_output gives it the vhid's virtual MAC as source (0 on no memory). */
int	carp_shim_tag_vmac(struct mbuf *m, int vhid);
/* Unload: runs the deferred address work left, waits for its task, frees the spares. */
void	carp_shim_deferred_drain(void);
/*
 * One spare deferral entry per bound address: reserve when an address binds (sleeps for
 * memory; never fails), release when its binding goes.
 */
void	carp_shim_defer_reserve(void);
void	carp_shim_defer_release(void);

/* devctl_notify("CARP", subsystem, type, NULL). */
void	carp_shim_devctl(const char *subsystem, const char *type);
uint32_t carp_shim_arc4random(void);

/* ---- 2. Rust entry points called from the shim (kmod/kpi/src/entry.rs) ---- */

/* MOD_LOAD. Nonzero refuses the load; everything set up so far must be undone. */
typedef int carp_rs_load_t(void);
/* MOD_UNLOAD. EBUSY (or any error) refuses the unload. */
typedef int carp_rs_unload_t(void);
/*
 * net.inet.carp.allow is being written in the current VNET: old and new value. Return 0
 * to accept (the shim then stores the new value) or an errno to reject the write.
 */
typedef int carp_rs_allow_changed_t(int oldval, int newval);
/* net.inet.carp.dscp write: 0 to accept, EINVAL to refuse. */
typedef int carp_rs_dscp_check_t(int newval);
/* net.inet.carp.demotion read / suppress_preempt read (current VNET). */
typedef int carp_rs_demotion_get_t(void);
typedef int carp_rs_suppress_preempt_t(void);

/* The hooks (see netinet/ip_carp.h); the shim adapts the types. */
typedef int carp_rs_ioctl_t(struct ifreq *ifr, u_long cmd, struct thread *td);
typedef int carp_rs_attach_t(struct ifaddr *ifa, int vhid);
typedef void carp_rs_detach_t(struct ifaddr *ifa, bool keep_cif);
typedef void carp_rs_linkstate_t(struct ifnet *ifp);
typedef void carp_rs_demote_adj_t(int adj, const char *reason);
typedef int carp_rs_master_t(struct ifaddr *ifa);
typedef int carp_rs_forus_t(struct ifnet *ifp, const uint8_t *dhost);
typedef int carp_rs_get_vhid_t(struct ifaddr *ifa);
/* vhid whose virtual MAC answers ARP for ifa (MASTER), 0 otherwise. */
typedef int carp_rs_iamatch_t(struct ifaddr *ifa);
/* 0: not a CARP address; -1: CARP address, not MASTER; >0: vhid, MASTER. */
typedef int carp_rs_iamatch6_t(struct ifnet *ifp, const uint8_t *addr6);
/*
 * vhid of a CARP address (any state), 0 if not CARP. The shim also accepts | 0x100,
 * "keep the interface's Ethernet source"; the Rust side never sets it, since FreeBSD 15
 * always sends a CARP address's NA from the virtual MAC.
 */
typedef int carp_rs_macmatch6_t(struct ifnet *ifp, const uint8_t *addr6);
/* Protocol 112 input (m starts at the IP header); consumes m. */
typedef void carp_rs_input_t(struct mbuf *m, int af, int off);
/* An interface with a CARP container is going away (destroyed or moved to a VNET). */
typedef void carp_rs_ifdetach_t(struct ifnet *ifp);
typedef void carp_rs_ifup_t(struct ifnet *ifp);
/* An interface with a CARP container was renamed (arrival event, IFF_RENAMING set). */
typedef void carp_rs_ifrename_t(struct ifnet *ifp);
/* An IPv4 address was added to ifp, not a carpN (ifaddr_event_ext, IFADDR_EVENT_ADD). */
typedef void carp_rs_ifaddr_added_t(struct ifnet *ifp);
/*
 * Deferred address work (taskqueue_thread, curvnet = ifp's VNET, references held on ifp
 * and ifa): kind 1 carp_detach(ifa, false), 2 carp_detach(ifa, true), 3 an IPv6 address
 * was added to the carpN ifp, 4 one was removed from it.
 */
typedef void carp_rs_deferred_t(struct ifnet *ifp, struct ifaddr *ifa, int kind);
/* The send-all task: every MASTER vhid advertises now (demotion changed). */
typedef void carp_rs_sendall_t(void);
/* Callout of a parent container. */
typedef void carp_rs_callout_t(void *arg);
/* Generic netlink commands. */
typedef int carp_rs_nl_get_t(struct nlmsghdr *hdr, struct nl_pstate *npt);
typedef int carp_rs_nl_set_t(struct nlmsghdr *hdr, struct nl_pstate *npt);

/*
 * Module C code that runs outside a Rust hook brackets itself with these, so unload waits
 * for it.
 */
typedef void carp_rs_inflight_enter_t(void);
typedef void carp_rs_inflight_exit_t(void);
/*
 * Issue 5, the carpN cloner and the ARP hook (kmod/kpi/src/clone.rs, arp.rs), called by
 * the VNET constructor (curvnet set, sleepable):
 * the cloner "carp" attached in the current VNET, NULL if that failed (another cloner of
 * that name exists);
 */
typedef struct if_clone *carp_rs_cloner_attach_t(void);
/*
 * the ARP hook added and linked on head (this VNET's "ethernet" pfil head, NULL if it has
 * none: ENXIO); 0 and the hook in *hookp, or an errno and nothing left behind.
 */
typedef int carp_rs_arp_hook_add_t(struct pfil_head *head, struct pfil_hook **hookp);
/*
 * Rust functions (kmod/kpi/src/clone.rs, walk.rs) keeping the carp_shim_ names of their C
 * callers (carp_glue.c): nonzero iff ifp is one of this module's carpN (its if_ioctl is
 * the carpN ioctl); nonzero iff ifa is still on ifp's address list.
 */
typedef int carp_shim_is_clone_t(struct ifnet *ifp);
typedef int carp_shim_if_has_ifa_t(struct ifnet *ifp, struct ifaddr *ifa);

carp_rs_inflight_enter_t	carp_rs_inflight_enter;
carp_rs_inflight_exit_t	carp_rs_inflight_exit;
carp_rs_cloner_attach_t	carp_rs_cloner_attach;
carp_rs_arp_hook_add_t	carp_rs_arp_hook_add;
carp_shim_is_clone_t	carp_shim_is_clone;
carp_shim_if_has_ifa_t	carp_shim_if_has_ifa;
carp_rs_load_t		carp_rs_load;
carp_rs_unload_t	carp_rs_unload;
carp_rs_allow_changed_t	carp_rs_allow_changed;
carp_rs_dscp_check_t	carp_rs_dscp_check;
carp_rs_demotion_get_t	carp_rs_demotion_get;
carp_rs_suppress_preempt_t carp_rs_suppress_preempt;
carp_rs_ioctl_t		carp_rs_ioctl;
carp_rs_attach_t	carp_rs_attach;
carp_rs_detach_t	carp_rs_detach;
carp_rs_linkstate_t	carp_rs_linkstate;
carp_rs_demote_adj_t	carp_rs_demote_adj;
carp_rs_master_t	carp_rs_master;
carp_rs_forus_t		carp_rs_forus;
carp_rs_get_vhid_t	carp_rs_get_vhid;
carp_rs_iamatch_t	carp_rs_iamatch;
carp_rs_iamatch6_t	carp_rs_iamatch6;
carp_rs_macmatch6_t	carp_rs_macmatch6;
carp_rs_input_t		carp_rs_input;
carp_rs_callout_t	carp_rs_callout;
carp_rs_sendall_t	carp_rs_sendall;
carp_rs_ifdetach_t	carp_rs_ifdetach;
carp_rs_ifup_t		carp_rs_ifup;
carp_rs_ifrename_t	carp_rs_ifrename;
carp_rs_ifaddr_added_t	carp_rs_ifaddr_added;
carp_rs_deferred_t	carp_rs_deferred;
carp_rs_nl_get_t	carp_rs_nl_get;
carp_rs_nl_set_t	carp_rs_nl_set;

#endif /* _CARP_SHIM_H_ */
