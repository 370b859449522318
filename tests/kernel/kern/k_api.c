/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The simulated kernel's entry points for the Linux side (declared in hk.h): boot, the
 * "system calls" the harness's userland makes (ioctl(2) on a socket, sysctl(2), netlink
 * sockets, jail(2)/vnet creation, ifconfig's interface moves), the "hardware" (NICs,
 * cables, transmit failures, frames arriving on a wire), and inspection for the
 * expectations of a test (a text snapshot of interfaces, addresses, routes, neighbours,
 * memberships), plus the checks made once everything has been torn down.
 */
#include "kern.h"
#include "k_net.h"

int	kcounters_live_from(unsigned long base, unsigned long size, int report);
long	kcounters_live(void);
long	kmbuf_live(void);
int	ksysctls_in(unsigned long base, unsigned long size, int report);
int	ksysctl_kind(const char *name, unsigned *kind, const char **fmt);
const char *ksysctl_child(const char *name, int n);
int	kpfil_hooks_in(struct vnet *vnet, unsigned long base, unsigned long size, int report);
int	kgenl_families_in(unsigned long base, unsigned long size, int report);
int	khooks_all_set(void);
void	kvnet0_create(void);
int	kcallouts_pending(void);
int	ktasks_pending(void);
extern int kpfil_link_fail_errno;

static int booted;

int
hk_boot(void)
{

	if (booted)
		return (0);
	booted = 1;
	kthread_boot0();
	kmalloc_boot();
	klocks_boot();
	kepoch_boot();
	keventhandler_boot();
	kuser_boot();
	ktime_boot();
	ksysctl_boot();
	kvnet_boot();
	kif_boot();
	kclone_boot();
	kether_boot();
	kinet_boot();
	kinet6_boot();
	knetlink_boot();
	kvnet0_create();
	return (0);
}

/* Runs what the epoch deferred, once no thread is in a section (idle points). */
void
hk_idle(void)
{

	kepoch_run_deferred();
}

/* Work still pending in the kernel: callouts, tasks, frames to deliver. */
int
hk_busy(void)
{

	return (ktasks_pending() + knetisr_pending());
}

/* ---- Processes: thread credentials and VNET ---- */

static struct vnet *
vnet_or_fail(const char *name)
{
	struct vnet *v = kvnet_byname(name);

	return (v);
}

/* Runs the rest of a syscall as root or as an unprivileged user, in a VNET (a jail). */
static int
syscall_enter(const char *vnet_name, int user, struct vnet **saved)
{
	struct vnet *v = vnet_or_fail(vnet_name);

	if (v == NULL)
		return (ESRCH);
	curthread->td_ucred = user ? &cred_user : &cred_root;
	*saved = curthread->td_vnet;
	curthread->td_vnet = v;
	return (0);
}

static void
syscall_exit(struct vnet *saved)
{

	curthread->td_vnet = saved;
	curthread->td_ucred = &cred_root;
}

/*
 * ioctl(2) on a socket of family af: copyin of the argument (IOC_IN), ifioctl, copyout
 * (IOC_OUT) on success, as kern_ioctl/sys_ioctl do.
 */
int
hk_ioctl(const char *vnet_name, int af, unsigned long cmd, void *uaddr, int user)
{
	struct vnet *saved;
	char kbuf[IOCPARM_MAX < 4096 ? IOCPARM_MAX : 4096];
	size_t size = IOCPARM_LEN(cmd);
	int error;

	error = syscall_enter(vnet_name, user, &saved);
	if (error)
		return (error);
	if (size > sizeof(kbuf)) {
		syscall_exit(saved);
		return (ENOTTY);
	}
	memset(kbuf, 0, size);
	if ((cmd & IOC_IN) && size > 0) {
		error = copyin(uaddr, kbuf, size);
		if (error) {
			syscall_exit(saved);
			return (error);
		}
	}
	error = kifioctl(af, cmd, kbuf, curthread);
	if (error == 0 && (cmd & IOC_OUT) && size > 0)
		error = copyout(kbuf, uaddr, size);
	syscall_exit(saved);
	return (error);
}

int
hk_sysctl(const char *vnet_name, const char *name, void *old, unsigned long *oldlen,
    const void *new, unsigned long newlen, int user)
{
	struct vnet *saved;
	size_t ol = oldlen ? *oldlen : 0;
	int error;

	error = syscall_enter(vnet_name, user, &saved);
	if (error)
		return (error);
	error = ksysctl_by_name(name, old, oldlen ? &ol : NULL, new, newlen, user);
	if (oldlen)
		*oldlen = ol;
	syscall_exit(saved);
	return (error);
}

int
hk_sysctl_kind(const char *name, unsigned *kind, const char **fmt)
{

	return (ksysctl_kind(name, kind, fmt));
}

const char *
hk_sysctl_child(const char *name, int n)
{

	return (ksysctl_child(name, n));
}

/* ---- jails (VNETs) ---- */

int
hk_vnet_create(const char *name)
{

	if (kvnet_byname(name) != NULL)
		return (EEXIST);
	(void)kvnet_create(name);
	return (0);
}

int
hk_vnet_destroy(const char *name)
{
	struct vnet *v = kvnet_byname(name);

	if (v == NULL)
		return (ENOENT);
	if (v == vnet0)
		return (EPERM);
	kvnet_destroy(v);
	return (0);
}

/* ifconfig IF vnet JAIL (from the host) / -vnet (back home). */
int
hk_if_vmove(const char *from, const char *ifname, const char *to)
{
	struct vnet *vf = kvnet_byname(from), *vt = kvnet_byname(to);
	struct ifnet *ifp;
	int error;

	if (vf == NULL || vt == NULL)
		return (ESRCH);
	CURVNET_SET(vf);
	ifp = ifunit_ref(ifname);
	CURVNET_RESTORE();
	if (ifp == NULL)
		return (ENXIO);
	error = kif_vmove(ifp, vt);
	if_rele(ifp);
	return (error);
}

/* ---- Hardware ---- */

int
hk_nic_create(const char *vnet_name, const char *name, const unsigned char *mac,
    int wire, int type)
{
	struct vnet *v = kvnet_byname(vnet_name), *home = vnet0;
	struct ifnet *ifp;
	int error = 0;

	if (v == NULL)
		return (ESRCH);
	CURVNET_SET(home);
	if (ifunit(name) != NULL) {
		CURVNET_RESTORE();
		return (EEXIST);
	}
	ifp = knic_create(name, type ? type : IFT_ETHER, mac, wire);
	CURVNET_RESTORE();
	if (ifp == NULL)
		return (ENOSPC);
	if (v != home)
		error = kif_vmove(ifp, v);
	return (error);
}

static struct ifnet *
ifp_byname(const char *vnet_name, const char *ifname)
{
	struct vnet *v = kvnet_byname(vnet_name);
	struct ifnet *ifp;

	if (v == NULL)
		return (NULL);
	CURVNET_SET(v);
	ifp = ifunit_ref(ifname);
	CURVNET_RESTORE();
	return (ifp);
}

int
hk_nic_destroy(const char *vnet_name, const char *ifname)
{
	struct ifnet *ifp = ifp_byname(vnet_name, ifname);
	int error;

	if (ifp == NULL)
		return (ENXIO);
	if_rele(ifp);
	error = knic_destroy(ifp);
	return (error);
}

int
hk_nic_carrier(const char *vnet_name, const char *ifname, int up)
{
	struct ifnet *ifp = ifp_byname(vnet_name, ifname);

	if (ifp == NULL)
		return (ENXIO);
	knic_set_carrier(ifp, up);
	if_rele(ifp);
	return (0);
}

int
hk_nic_txfail(const char *vnet_name, const char *ifname, int error, int count)
{
	struct ifnet *ifp = ifp_byname(vnet_name, ifname);

	if (ifp == NULL)
		return (ENXIO);
	knic_set_txfail(ifp, error, count);
	if_rele(ifp);
	return (0);
}

int
hk_nic_wire(const char *vnet_name, const char *ifname, int wire)
{
	struct ifnet *ifp = ifp_byname(vnet_name, ifname);

	if (ifp == NULL)
		return (ENXIO);
	if (wire >= 0)
		knic_set_wire(ifp, wire);
	wire = knic_wire(ifp);
	if_rele(ifp);
	return (wire);
}

void
hk_wire_inject(int wire, const unsigned char *frame, unsigned len)
{

	kwire_inject(wire, frame, len, NULL);
}

/* Attaches wire `wire` to a Linux packet socket (real-time mode only). */
int
hk_wire_attach(int wire, int fd)
{
	void	klive_attach(int wire, int fd);

	if (hl_virtual())
		return (EOPNOTSUPP);
	klive_attach(wire, fd);
	return (0);
}

/* A frame arriving at one interface only (as if sent to it point to point). */
int
hk_if_inject(const char *vnet_name, const char *ifname, const unsigned char *frame,
    unsigned len)
{
	struct ifnet *ifp = ifp_byname(vnet_name, ifname);
	int wire;

	if (ifp == NULL)
		return (ENXIO);
	wire = knic_wire(ifp);
	kwire_inject(wire, frame, len, ifp);
	if_rele(ifp);
	return (0);
}

/* An IP packet handed to ip_input/ip6_input as if it came from ifp's link layer. */
int
hk_ip_inject(const char *vnet_name, const char *ifname, const unsigned char *pkt,
    unsigned len, int af, int off)
{
	struct ifnet *ifp = ifp_byname(vnet_name, ifname);

	if (ifp == NULL)
		return (ENXIO);
	if (af == AF_INET)
		kip_input_packet(ifp, pkt, len);
	else
		kip6_input_packet(ifp, pkt, len, off);
	if_rele(ifp);
	return (0);
}

/* An IPv4 packet delivered to its protocol as ip_input would, past the IP checks. */
int
hk_proto_deliver(const char *vnet_name, const char *ifname, const unsigned char *pkt,
    unsigned len, int off)
{
	struct ifnet *ifp = ifp_byname(vnet_name, ifname);

	if (ifp == NULL)
		return (ENXIO);
	kip_proto_deliver(ifp, pkt, len, off);
	if_rele(ifp);
	return (0);
}

/* ---- Inspection ---- */

static int
kif_flags_str(int flags, char *buf, size_t len)
{
	static const struct { int bit; const char *name; } names[] = {
		{ IFF_UP, "UP" }, { IFF_BROADCAST, "BROADCAST" }, { IFF_LOOPBACK, "LOOPBACK" },
		{ IFF_PROMISC, "PROMISC" }, { IFF_ALLMULTI, "ALLMULTI" },
		{ IFF_SIMPLEX, "SIMPLEX" }, { IFF_MULTICAST, "MULTICAST" },
		{ IFF_DYING, "DYING" },
	};
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < nitems(names); i++)
		if (flags & names[i].bit)
			n += snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? "," : "",
			    names[i].name);
	return ((int)n);
}

/*
 * A text snapshot of one VNET (or every VNET with name NULL): interfaces, addresses,
 * routes, neighbour entries and multicast memberships, one line each, in a stable
 * order. Returns the length (the text is truncated to len).
 */
long
hk_snapshot(const char *vnet_name, char *buf, unsigned long len)
{
	struct vnet *vnet;
	struct ifnet *ifp;
	struct ifaddr *ifa;
	size_t n = 0;
	char fl[128], a[64], m[64];

	LIST_FOREACH(vnet, &vnet_head, vnet_le) {
		if (vnet_name != NULL && vnet != kvnet_byname(vnet_name))
			continue;
		CURVNET_SET_QUIET(vnet);
		CK_STAILQ_FOREACH(ifp, &V_ifnet, if_link) {
			const uint8_t *mac = ifp->if_addr ?
			    (const uint8_t *)IF_LLADDR(ifp) : NULL;

			kif_flags_str(ifp->if_flags, fl, sizeof(fl));
			if (mac && ifp->if_addrlen == 6)
				snprintf(m, sizeof(m), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0],
				    mac[1], mac[2], mac[3], mac[4], mac[5]);
			else
				strlcpy(m, "-", sizeof(m));
			n += snprintf(buf + n, n < len ? len - n : 0,
			    "if %s %s index=%d flags=%s link=%s promisc=%d carp=%s ether=%s\n",
			    kvnet_name(vnet), ifp->if_xname, ifp->if_index, fl,
			    ifp->if_link_state == LINK_STATE_UP ? "up" :
			    ifp->if_link_state == LINK_STATE_DOWN ? "down" : "unknown",
			    ifp->if_pcount, ifp->if_carp ? "yes" : "no", m);
			CK_STAILQ_FOREACH(ifa, &ifp->if_addrhead, ifa_link) {
				struct in_ifaddr *ia = (struct in_ifaddr *)ifa;
				int vhid = 0;

				if (ifa->ifa_addr->sa_family != AF_INET)
					continue;
				if (ifa->ifa_carp && carp_get_vhid_p)
					vhid = CARP_CALL(carp_get_vhid_p, ifa);
				ksa_format(ifa->ifa_addr, a, sizeof(a));
				if (vhid)
					snprintf(m, sizeof(m), " vhid=%d", vhid);
				else
					m[0] = '\0';
				n += snprintf(buf + n, n < len ? len - n : 0,
				    "inet %s %s %s/%d%s\n", kvnet_name(vnet), ifp->if_xname, a,
				    __builtin_popcount(ia->ia_sockmask.sin_addr.s_addr), m);
			}
		}
		CURVNET_RESTORE();
		n += kin6_dump(vnet, n < len ? buf + n : NULL, n < len ? len - n : 0);
		n += krt_dump(vnet, n < len ? buf + n : NULL, n < len ? len - n : 0);
		n += karp_dump(vnet, n < len ? buf + n : NULL, n < len ? len - n : 0);
		n += knd6_dump(vnet, n < len ? buf + n : NULL, n < len ? len - n : 0);
		n += kmcast_dump(vnet, n < len ? buf + n : NULL, n < len ? len - n : 0);
	}
	return ((long)n);
}

/* Reference counts and live objects (for reports and the fault-injection comparisons). */
long
hk_counts(char *buf, unsigned long len)
{
	long bytes;
	size_t n = 0;

	n += snprintf(buf + n, n < len ? len - n : 0, "mbufs %ld\n", kmbuf_live());
	n += snprintf(buf + n, n < len ? len - n : 0, "counters %ld\n", kcounters_live());
	n += snprintf(buf + n, n < len ? len - n : 0, "ifaddr_allocs %ld\n",
	    kmalloc_live(M_IFADDR, &bytes));
	n += snprintf(buf + n, n < len ? len - n : 0, "mtag_allocs %ld\n",
	    kmalloc_live(M_TAG, &bytes));
	return ((long)n);
}

/* Fault injection: the N-th fallible allocation made by the module fails (0: off). */
void
hk_fault_set(long n)
{

	kfault_target = n;
	kfault_count = 0;
}

long
hk_fault_count(void)
{

	return (kfault_count);
}

/* The next n allocations by the module at sites named site... fail (see k_malloc.c). */
void
hk_fault_next(const char *site, int n)
{
	extern char kfault_site[64];
	extern int kfault_site_left;

	strlcpy(kfault_site, site, sizeof(kfault_site));
	kfault_site_left = n;
}

int
hk_fault_next_left(void)
{
	extern int kfault_site_left;

	return (kfault_site_left);
}

/* The next pfil_link in VNET `vnet_name` (all: NULL) fails with errno. */
extern int kpfil_link_fail_vnet;
void
hk_pfil_fail(int error, const char *vnet_name)
{

	kpfil_link_fail_errno = error;
	kpfil_link_fail_vnet = vnet_name ? kvnet_index(kvnet_byname(vnet_name)) : -1;
}

int
hk_hooks_set(void)
{

	return (khooks_all_set());
}

/* Registrations of the module left in the kernel after unload. */
int
kregistrations_in(unsigned long base, unsigned long size, int report)
{
	struct vnet *vnet;
	int n = 0;

	n += kclone_live(base, size, report);
	n += kgenl_families_in(base, size, report);
	n += kipproto_in(base, size, report);
	n += kip6proto_in(base, size, report);
	LIST_FOREACH(vnet, &vnet_head, vnet_le)
		n += kpfil_hooks_in(vnet, base, size, report);
	return (n);
}

/*
 * The end of a test: every NIC and jail gone. Nothing may be left: interfaces, addresses,
 * mbufs, counters of the module.
 */
int
hk_check_empty(void)
{
	long bytes;
	int before = kcheck_failures;

	kepoch_run_deferred();
	kif_live(1);
	if (kmbuf_live() != 0)
		kfail("mbuf", "%ld mbufs or clusters still allocated at the end", kmbuf_live());
	if (kmalloc_live(M_TAG, &bytes) != 0)
		kfail("mbuf", "%ld packet tags still allocated at the end",
		    kmalloc_live(M_TAG, &bytes));
	if (kmalloc_live(M_IPMADDR, &bytes) != 0 || kmalloc_live(M_IP6MADDR, &bytes) != 0)
		kfail("mcast", "multicast memberships still allocated at the end");
	return (kcheck_failures - before);
}

int
hk_failures(void)
{

	return (kcheck_failures);
}

/* Time-ordered work of the kernel threads is idle: nothing runnable but timers. */
int
hk_pending_callouts(void)
{

	return (kcallouts_pending());
}

/* ---- The userland ABI (ioctl numbers, structure sizes and offsets) ---- */

long
hk_abi(const char *name)
{
	static const struct {
		const char	*name;
		long		 value;
	} abi[] = {
		{ "SIOCSVH", (long)SIOCSVH },
		{ "SIOCGVH", (long)SIOCGVH },
		{ "SIOCAIFADDR", (long)SIOCAIFADDR },
		{ "SIOCDIFADDR", (long)SIOCDIFADDR },
		{ "SIOCGIFADDR", (long)SIOCGIFADDR },
		{ "SIOCAIFADDR_IN6", (long)SIOCAIFADDR_IN6 },
		{ "SIOCDIFADDR_IN6", (long)SIOCDIFADDR_IN6 },
		{ "SIOCGIFFLAGS", (long)SIOCGIFFLAGS },
		{ "SIOCSIFFLAGS", (long)SIOCSIFFLAGS },
		{ "SIOCIFCREATE2", (long)SIOCIFCREATE2 },
		{ "SIOCIFDESTROY", (long)SIOCIFDESTROY },
		{ "SIOCSIFNAME", (long)SIOCSIFNAME },
		{ "SIOCSIFMTU", (long)SIOCSIFMTU },
		{ "sizeof(struct ifreq)", sizeof(struct ifreq) },
		{ "sizeof(struct in_aliasreq)", sizeof(struct in_aliasreq) },
		{ "sizeof(struct in6_aliasreq)", sizeof(struct in6_aliasreq) },
		{ "sizeof(struct carpreq)", sizeof(struct carpreq) },
		{ "in_aliasreq.ifra_addr", offsetof(struct in_aliasreq, ifra_addr) },
		{ "in_aliasreq.ifra_broadaddr", offsetof(struct in_aliasreq, ifra_broadaddr) },
		{ "in_aliasreq.ifra_mask", offsetof(struct in_aliasreq, ifra_mask) },
		{ "in_aliasreq.ifra_vhid", offsetof(struct in_aliasreq, ifra_vhid) },
		{ "in6_aliasreq.ifra_addr", offsetof(struct in6_aliasreq, ifra_addr) },
		{ "in6_aliasreq.ifra_prefixmask", offsetof(struct in6_aliasreq, ifra_prefixmask) },
		{ "in6_aliasreq.ifra_flags", offsetof(struct in6_aliasreq, ifra_flags) },
		{ "in6_aliasreq.ifra_lifetime", offsetof(struct in6_aliasreq, ifra_lifetime) },
		{ "in6_aliasreq.ifra_vhid", offsetof(struct in6_aliasreq, ifra_vhid) },
		{ "in6_ifreq.ifr_addr", offsetof(struct in6_ifreq, ifr_ifru) },
		{ "sizeof(struct in6_ifreq)", sizeof(struct in6_ifreq) },
		{ "ifreq.ifr_data", offsetof(struct ifreq, ifr_ifru) },
		{ "IN6_IFF_NODAD", IN6_IFF_NODAD },
		{ "ND6_INFINITE_LIFETIME", (long)ND6_INFINITE_LIFETIME },
		{ "IFF_UP", IFF_UP },
		{ "CTLTYPE", CTLTYPE },
		{ "CTLTYPE_INT", CTLTYPE_INT },
		{ "CTLTYPE_NODE", CTLTYPE_NODE },
		{ "CTLTYPE_OPAQUE", CTLTYPE_OPAQUE },
		{ "CTLTYPE_UINT", CTLTYPE_UINT },
		{ "CTLTYPE_LONG", CTLTYPE_LONG },
		{ "CTLTYPE_U64", CTLTYPE_U64 },
		{ "CTLTYPE_STRING", CTLTYPE_STRING },
		{ "CTLFLAG_WR", CTLFLAG_WR },
		{ "__FreeBSD_version", __FreeBSD_version },
	};
	size_t i;

	for (i = 0; i < nitems(abi); i++)
		if (strcmp(abi[i].name, name) == 0)
			return (abi[i].value);
	kfatal("hk_abi: unknown name %s", name);
}

extern int ktrace_callouts;

void
hk_trace(int callouts)
{

	ktrace_callouts = callouts;
}

/*
 * A second process for the script (`background CMD`): one thread that runs one command
 * at a time, so that the script can act while that command is inside the kernel.
 */
static void (*kbg_fn)(void *);
static void *kbg_arg;
static int kbg_busy;
static struct hthread *kbg_ht;

static void
kbg_main(void *unused __unused)
{
	void (*fn)(void *);

	for (;;) {
		while (kbg_fn == NULL)
			(void)ksleep_nocheck(&kbg_fn, 0, "bgwait");
		fn = kbg_fn;
		kbg_fn = NULL;
		fn(kbg_arg);
		kbg_busy = 0;
		kwakeup(&kbg_busy);
	}
}

void
hk_bg_submit(void (*fn)(void *), void *arg)
{

	if (kbg_ht == NULL)
		kbg_ht = kthread_create("proc2", 1, kbg_main, NULL);
	kbg_busy = 1;
	kbg_arg = arg;
	kbg_fn = fn;
	kwakeup(&kbg_fn);
}

int
hk_bg_busy(void)
{

	return (kbg_busy);
}

void
hk_bg_wait(void)
{

	while (kbg_busy)
		(void)ksleep_nocheck(&kbg_busy, 0, "bgdone");
}

/*
 * The simulated kernel's own cost for the primitives the module calls most (make
 * bench-kpath prints it beside the module's figures): TSC cycles per mtx_lock+mtx_unlock
 * pair (with its INVARIANTS/WITNESS-style bookkeeping), per NET_EPOCH_ENTER+EXIT pair and
 * per counter_u64_add, each the mean of n iterations.
 */
static inline uint64_t
kbench_tsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return (((uint64_t)hi << 32) | lo);
}

void
hk_bench_prims(int n, unsigned long *mtx_pair, unsigned long *epoch_pair,
    unsigned long *counter_add)
{
	static struct mtx m;
	struct epoch_tracker et;
	counter_u64_t c;
	uint64_t t0;
	int i;

	mtx_init(&m, "bench", NULL, MTX_DEF);
	t0 = kbench_tsc();
	for (i = 0; i < n; i++) {
		mtx_lock(&m);
		mtx_unlock(&m);
	}
	*mtx_pair = (kbench_tsc() - t0) / n;
	mtx_destroy(&m);
	t0 = kbench_tsc();
	for (i = 0; i < n; i++) {
		NET_EPOCH_ENTER(et);
		NET_EPOCH_EXIT(et);
	}
	*epoch_pair = (kbench_tsc() - t0) / n;
	c = counter_u64_alloc(M_WAITOK);
	t0 = kbench_tsc();
	for (i = 0; i < n; i++)
		counter_u64_add(c, 1);
	*counter_add = (kbench_tsc() - t0) / n;
	counter_u64_free(c);
}
