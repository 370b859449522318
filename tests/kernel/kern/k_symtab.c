/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The kernel's symbol table as the loader sees it: every symbol the simulated kernel
 * exports to modules, by name. A module importing a name that is not here cannot be
 * loaded (the loader lists every missing one), exactly as kldload fails with "symbol
 * X undefined" on a kernel that lacks it.
 */
#include "kern.h"
#include "k_net.h"

/* The hook pointers of sys/net/if.c and sys/net/rtsock.c (NULL until carp loads). */
int	(*carp_ioctl_p)(struct ifreq *, u_long, struct thread *);
int	(*carp_attach_p)(struct ifaddr *, int);
void	(*carp_detach_p)(struct ifaddr *, bool);
void	(*carp_linkstate_p)(struct ifnet *);
void	(*carp_demote_adj_p)(int, char *);
int	(*carp_master_p)(struct ifaddr *);
int	(*carp_forus_p)(struct ifnet *, u_char *);
int	(*carp_output_p)(struct ifnet *, struct mbuf *, const struct sockaddr *);
int	(*carp_get_vhid_p)(struct ifaddr *);
int	(*carp_iamatch_p)(struct ifaddr *, uint8_t **);
struct ifaddr *(*carp_iamatch6_p)(struct ifnet *, struct in6_addr *);
char	*(*carp_macmatch6_p)(struct ifnet *, struct mbuf *, const struct in6_addr *);

/* The data the kernel's own set_pcpu would bound (no per-CPU data in the simulation). */
uintptr_t kdpcpu_area[2];

extern struct sysctl_oid sysctl___net_inet;
extern struct taskqueue *taskqueue_thread;
extern uma_zone_t zone_mbuf;
extern const struct in6_addr in6addr_linklocal_allnodes;
VNET_DECLARE(int, ip_random_id);
VNET_DECLARE(pfil_head_t, link_pfil_head);

int	callout_reset_sbt_on(struct callout *, sbintime_t, sbintime_t, callout_func_t *,
	    void *, int, int);

void	__sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop);
void	__sanitizer_cov_trace_pc_guard(uint32_t *guard);

#define	S(name)	{ #name, (unsigned long)&name }

static const struct {
	const char	*name;
	unsigned long	 addr;
} ksyms[] = {
	/* coverage of an instrumented module (make ko-cov; k_cov.c) */
	S(__sanitizer_cov_trace_pc_guard), S(__sanitizer_cov_trace_pc_guard_init),
	/* locks, epoch, time */
	S(__mtx_lock_flags), S(__mtx_unlock_flags), S(_mtx_init), S(_mtx_destroy),
	S(mtx_sysinit), S(_sx_slock), S(_sx_sunlock), S(_sx_xlock), S(_sx_xunlock),
	S(sx_sysinit), S(sx_destroy), S(_epoch_enter_preempt), S(_epoch_exit_preempt),
	S(epoch_wait_preempt), S(in_epoch), S(net_epoch_preempt), S(binuptime), S(hz),
	S(tick_sbt), S(callout_init), S(callout_reset_sbt_on), S(_callout_stop_safe),
	S(pause_sbt), S(taskqueue_enqueue), S(taskqueue_drain), S(taskqueue_thread),
	/* memory */
	S(malloc), S(free), S(malloc_init), S(malloc_uninit), S(uma_zalloc_arg),
	S(zone_mbuf), S(m_get2), S(m_freem), S(m_copydata), S(m_tag_alloc), S(m_tag_locate),
	S(counter_u64_alloc), S(counter_u64_free), S(counter_u64_fetch), S(counter_u64_zero),
	S(memcpy), S(memmove), S(memset), S(memcmp), S(strlen), S(copyin), S(copyout),
	/* kernel services */
	S(printf), S(log), S(devctl_notify), S(getenv_int), S(arc4random), S(priv_check),
	S(priv_check_cred), S(eventhandler_register), S(eventhandler_deregister),
	S(eventhandler_find_list), S(module_register_init), S(sysctl_handle_int),
	S(sysctl___net_inet),
	/* VNET */
	S(vnet0), S(vnet_head), S(vnet_sxlock), S(vnet_register_sysinit),
	S(vnet_deregister_sysinit), S(vnet_register_sysuninit), S(vnet_deregister_sysuninit),
	{ "vnet_entry_ifnet", (unsigned long)&VNET_NAME(ifnet) },
	{ "vnet_entry_ip_random_id", (unsigned long)&VNET_NAME(ip_random_id) },
	{ "vnet_entry_link_pfil_head", (unsigned long)&VNET_NAME(link_pfil_head) },
	{ "__start_set_vnet", (unsigned long)&__start_set_vnet },
	{ "__stop_set_vnet", (unsigned long)&__stop_set_vnet },
	{ "__start_set_pcpu", (unsigned long)&kdpcpu_area[0] },
	{ "__stop_set_pcpu", (unsigned long)&kdpcpu_area[1] },
	/* interfaces */
	S(if_alloc), S(if_attach), S(if_detach), S(if_free), S(if_initname), S(if_ref), S(if_try_ref),
	S(if_rele), S(if_getflags), S(if_setflagbits), S(if_getindex), S(if_getlinkstate),
	S(if_gettype), S(if_getvnet), S(if_name), S(if_inc_counter), S(if_link_state_change),
	S(if_purgeaddrs), S(ifunit_ref), S(ifnet_byindex_ref), S(ifnet_detach_sxlock),
	S(ifpromisc), S(ifr_data_get_ptr), S(ifa_ref), S(ifa_free), S(ifa_try_ref),
	S(ifa_add_loopback_route), S(ifa_del_loopback_route), S(ifc_attach_cloner),
	S(ifc_detach_cloner), S(if_clone_destroyif), S(bpfattach), S(bpfdetach),
	S(ether_output_frame), S(pfil_add_hook), S(pfil_link), S(pfil_remove_hook),
	/* IPv4 */
	S(in_addprefix), S(in_scrubprefix), S(in_joingroup), S(in_leavegroup),
	S(ip_mfilter_alloc), S(ip_mfilter_free), S(ip_output), S(ip_fillid),
	S(ipproto_register), S(ipproto_unregister), S(arp_announce_ifaddr), S(in_control),
	/* IPv6 */
	S(in6_clearscope), S(in6_setscope), S(in6_joingroup), S(in6_leavegroup),
	S(in6ifa_ifpwithaddr), S(in6ifa_ifwithaddr), S(ip6_mfilter_alloc),
	S(ip6_mfilter_free), S(ip6_output), S(ip6proto_register), S(ip6proto_unregister),
	S(nd6_add_ifa_lle), S(nd6_rem_ifa_lle), S(nd6_na_output),
	S(in6addr_linklocal_allnodes), S(in6_purgeifaddr), S(in6_control),
	/* netlink */
	S(genl_register_family), S(genl_register_cmds), S(genl_unregister_family),
	S(nlmsg_add), S(nlmsg_end), S(nlmsg_abort), S(nlmsg_end_dump),
	S(nlmsg_reserve_data_raw), S(nlp_has_priv),
	/* the CARP hooks */
	S(carp_ioctl_p), S(carp_attach_p), S(carp_detach_p), S(carp_linkstate_p),
	S(carp_demote_adj_p), S(carp_master_p), S(carp_forus_p), S(carp_output_p),
	S(carp_get_vhid_p), S(carp_iamatch_p), S(carp_iamatch6_p), S(carp_macmatch6_p),
};

/*
 * The coverage-instrumented module of the fuzzer (make ko-cov) keeps panic paths the
 * optimised build removes (the instrumentation gets in the way), so its panic handler's
 * deliberately undefined symbol is provided in fuzz mode only: reaching it is a Rust
 * panic inside the module, reported as the fatal fault it would be.
 */
static int kfuzz_mode;

static void __attribute__((noreturn))
kpanic_path_reached(void)
{

	kfatal("a Rust panic inside carp.ko (carp_rust_panic_path_reachable)");
}

void
hk_fuzz_mode(int on)
{

	kfuzz_mode = on;
}

unsigned long
hk_kernel_symbol(const char *name)
{
	size_t i;

	for (i = 0; i < nitems(ksyms); i++)
		if (strcmp(ksyms[i].name, name) == 0)
			return (ksyms[i].addr);
	if (kfuzz_mode && strcmp(name, "carp_rust_panic_path_reachable") == 0)
		return ((unsigned long)&kpanic_path_reached);
	return (0);
}

/* Whether every CARP hook is NULL again (after unload). */
int
khooks_check_cleared(int report)
{
	const struct {
		const char *name;
		void	*value;
	} hooks[] = {
		{ "carp_ioctl_p", (void *)carp_ioctl_p },
		{ "carp_attach_p", (void *)carp_attach_p },
		{ "carp_detach_p", (void *)carp_detach_p },
		{ "carp_linkstate_p", (void *)carp_linkstate_p },
		{ "carp_demote_adj_p", (void *)carp_demote_adj_p },
		{ "carp_master_p", (void *)carp_master_p },
		{ "carp_forus_p", (void *)carp_forus_p },
		{ "carp_output_p", (void *)carp_output_p },
		{ "carp_get_vhid_p", (void *)carp_get_vhid_p },
		{ "carp_iamatch_p", (void *)carp_iamatch_p },
		{ "carp_iamatch6_p", (void *)carp_iamatch6_p },
		{ "carp_macmatch6_p", (void *)carp_macmatch6_p },
	};
	size_t i;
	int n = 0;

	for (i = 0; i < nitems(hooks); i++)
		if (hooks[i].value != NULL) {
			n++;
			if (report)
				kfail("hook", "%s still set after unload", hooks[i].name);
		}
	return (n);
}

/* Whether every CARP hook is set (after load). */
int
khooks_all_set(void)
{

	return (carp_ioctl_p && carp_attach_p && carp_detach_p && carp_linkstate_p &&
	    carp_demote_adj_p && carp_master_p && carp_forus_p && carp_output_p &&
	    carp_get_vhid_p && carp_iamatch_p && carp_iamatch6_p && carp_macmatch6_p);
}
