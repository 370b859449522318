/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * carp.ko's C shim: the C half of the boundary between the FreeBSD kernel and the Rust
 * module (kmod/kpi, kmod/logic). It has two kinds of declarations:
 *
 *  1. carp_shim_*  C helpers, implemented in the kmod/shim C files, called from Rust. They exist
 *                  only for kernel interfaces Rust cannot reach through bindgen: macros
 *                  (VNET(), SYSCTL_*, MALLOC_DEFINE, DECLARE_MODULE, EVENTHANDLER_*,
 *                  mtx_lock, curthread...) and structure initializers (the genl command
 *                  table). Exported kernel functions (callouts, taskqueues, epoch, mbufs,
 *                  m_tags, multicast, routes, ip_output...) and structure fields (ifnet,
 *                  ifaddr, mbuf, ifreq, netlink) are used from Rust directly (bindgen, with
 *                  layout checks). Keep each helper tiny and free of policy.
 *  2. carp_rs_*    implemented in Rust (defined by carp_kpi::export_carp!, kmod/kpi/src/entry.rs,
 *                  or directly in kmod/kpi), called from the shim or by the kernel. Each is
 *                  declared through a function typedef; the Rust side checks its definition
 *                  against the bindgen-generated typedef at compile time, so the two halves
 *                  cannot disagree on a signature.
 *
 * The twelve CARP hooks of the kernel (netinet/ip_carp.h), protocol 112 input, the event
 * handlers, the task functions and the callout function are carp_rs_* functions with the
 * kernel's exact prototypes: the kernel calls Rust directly. Rust publishes the hook
 * pointers itself (bindgen emits them), so its assignment checks the Rust definition, the
 * typedef here and the kernel's pointer type against each other.
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
struct sockaddr;
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
int	carp_shim_netlink_register(void);	/* genl family "carp" + GET/SET */
void	carp_shim_netlink_unregister(void);
int	carp_shim_ifdetach_register(void);	/* departure/arrival/ifaddr/ifnet_event handlers */
void	carp_shim_ifdetach_deregister(void);
/* Nonzero iff the current thread may sleep: THREAD_CAN_SLEEP() and outside the network epoch. */
int	carp_shim_can_sleep(void);

/* Locks: mtx(9) and sx(9) (macros in the kernel). */
void	carp_shim_mtx_init(struct mtx *m, const char *name);
void	carp_shim_mtx_destroy(struct mtx *m);
void	carp_shim_mtx_lock(struct mtx *m);
void	carp_shim_mtx_unlock(struct mtx *m);
void	carp_shim_sx_xlock(void);		/* the global configuration lock */
void	carp_shim_sx_xunlock(void);

/* curthread (a macro): CURVNET_SET returns the previous curvnet, for _restore. */
struct vnet *carp_shim_curvnet_set(struct vnet *v);
void	carp_shim_curvnet_restore(struct vnet *saved);
struct vnet *carp_shim_curvnet(void);
/* priv_check_cred(td->td_ucred, PRIV_NETINET_CARP). */
int	carp_shim_priv_check_cred(struct thread *td);

/* V_ip_random_id of the current VNET (net.inet.ip.random_id, for ip_fillid). */
int	carp_shim_ip_random_id(void);

/*
 * ---- The classic carpN model, kmod/shim/carp_clone.c: the per-VNET cloner and ARP hook ----
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

/* ---- 2. Rust entry points called from the shim or the kernel (kmod/kpi/src/entry.rs) ---- */

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

/*
 * The twelve CARP hooks, with the exact prototypes of netinet/ip_carp.h's hook pointers:
 * Rust assigns them to carp_ioctl_p ... carp_macmatch6_p at load (kmod/kpi/src/hooks.rs)
 * and clears the pointers at unload; the kernel calls them directly.
 */
typedef int carp_rs_ioctl_t(struct ifreq *ifr, u_long cmd, struct thread *td);
typedef int carp_rs_attach_t(struct ifaddr *ifa, int vhid);
/* Deferred to the deferred-address task when called where it may not sleep. */
typedef void carp_rs_detach_t(struct ifaddr *ifa, bool keep_cif);
typedef void carp_rs_linkstate_t(struct ifnet *ifp);
/* Also net.inet.carp.demotion's write handler (carp_shim.c). */
typedef void carp_rs_demote_adj_t(int adj, char *reason);
typedef int carp_rs_master_t(struct ifaddr *ifa);
typedef int carp_rs_forus_t(struct ifnet *ifp, u_char *dhost);
/* ether_output: the Ethernet source of a PACKET_TAG_CARP-tagged frame (no logic). */
typedef int carp_rs_output_t(struct ifnet *ifp, struct mbuf *m, const struct sockaddr *sa);
typedef int carp_rs_get_vhid_t(struct ifaddr *ifa);
typedef int carp_rs_iamatch_t(struct ifaddr *ifa, uint8_t **enaddr);
typedef struct ifaddr *carp_rs_iamatch6_t(struct ifnet *ifp, struct in6_addr *taddr);
typedef char *carp_rs_macmatch6_t(struct ifnet *ifp, struct mbuf *m,
	    const struct in6_addr *taddr);
/* Protocol 112 input (ipproto_input_t / ip6proto_input_t), registered by Rust. */
typedef int carp_rs_input4_t(struct mbuf **mp, int *offp, int proto);
typedef int carp_rs_input6_t(struct mbuf **mp, int *offp, int proto);
/*
 * Event handlers (registered by carp_shim_ifdetach_register, kmod/shim/carp_glue.c), with
 * the prototypes of net/if_var.h's handler types: ifnet_departure_event, ifnet_arrival_event,
 * ifaddr_event_ext, ifnet_event.
 */
typedef void carp_rs_ifnet_departure_t(void *arg, struct ifnet *ifp);
typedef void carp_rs_ifnet_arrival_t(void *arg, struct ifnet *ifp);
typedef void carp_rs_ifaddr_event_t(void *arg, struct ifnet *ifp, struct ifaddr *ifa,
	    int event);
typedef void carp_rs_ifnet_event_t(void *arg, struct ifnet *ifp, int event);
/*
 * Task functions (task_fn_t) of the two static tasks Rust enqueues on taskqueue_thread:
 * the send-all task (every MASTER vhid advertises now: demotion changed) and the
 * deferred address work (detaches from contexts that may not sleep, IPv6 addresses
 * added to or removed from a carpN).
 */
typedef void carp_rs_sendall_t(void *context, int pending);
typedef void carp_rs_deferred_t(void *context, int pending);
/* Callout of a parent container (callout_func_t). */
typedef void carp_rs_callout_t(void *arg);
/* Generic netlink commands (genl_cmd_cb_t, the carp_cmds table of carp_glue.c). */
typedef int carp_rs_nl_get_t(struct nlmsghdr *hdr, struct nl_pstate *npt);
typedef int carp_rs_nl_set_t(struct nlmsghdr *hdr, struct nl_pstate *npt);

/*
 * The carpN cloner and the ARP hook (kmod/kpi/src/clone.rs, arp.rs), called by
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

carp_rs_cloner_attach_t	carp_rs_cloner_attach;
carp_rs_arp_hook_add_t	carp_rs_arp_hook_add;
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
carp_rs_output_t	carp_rs_output;
carp_rs_get_vhid_t	carp_rs_get_vhid;
carp_rs_iamatch_t	carp_rs_iamatch;
carp_rs_iamatch6_t	carp_rs_iamatch6;
carp_rs_macmatch6_t	carp_rs_macmatch6;
carp_rs_input4_t	carp_rs_input4;
carp_rs_input6_t	carp_rs_input6;
carp_rs_ifnet_departure_t carp_rs_ifnet_departure;
carp_rs_ifnet_arrival_t	carp_rs_ifnet_arrival;
carp_rs_ifaddr_event_t	carp_rs_ifaddr_event;
carp_rs_ifnet_event_t	carp_rs_ifnet_event;
carp_rs_sendall_t	carp_rs_sendall;
carp_rs_deferred_t	carp_rs_deferred;
carp_rs_callout_t	carp_rs_callout;
carp_rs_nl_get_t	carp_rs_nl_get;
carp_rs_nl_set_t	carp_rs_nl_set;

#endif /* _CARP_SHIM_H_ */
