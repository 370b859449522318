/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * malloc(9) with per-type accounting (malloc_uninit reports what a type still holds, as
 * the kernel's "leaked memory" message does), poisoning and a quarantine of freed blocks
 * (a write after free is found when the block leaves the quarantine); UMA for the mbuf
 * zones; counter(9) over the per-CPU blocks; fault injection of fallible allocations.
 */
#include "kern.h"

#define	MH_MAGIC	0x6b6d616c6c6f6321ULL	/* "kmalloc!" */
#define	MH_FREED	0x6672656564626c6bULL	/* "freedblk" */
#define	POISON_BYTE	0xde

struct mhdr {
	unsigned long long magic;
	struct malloc_type *mtp;
	size_t		 size;
	struct mhdr	*prev, *next;	/* live list of the type */
	const void	*caller;
	unsigned long	 seq;
	unsigned long	 pad;
};
_Static_assert(sizeof(struct mhdr) % 16 == 0, "malloc header keeps 16-byte alignment");

struct mtype_rec {
	struct malloc_type *mtp;
	char		 name[32];	/* a copy: a module's type name goes with it */
	long		 live, bytes, total;
	struct mhdr	*head;
	int		 kernel;	/* the kernel's own type (never uninit) */
	void		*gone_mtp;	/* after malloc_uninit: the type it was */
};
#define	MAXTYPES	64
static struct mtype_rec mtypes[MAXTYPES];
static int nmtypes;
static unsigned long malloc_seq;

/* The kernel's own malloc types the harness allocates with. */
MALLOC_DEFINE(M_DEVBUF, "devbuf", "device driver memory");
MALLOC_DEFINE(M_TEMP, "temp", "misc temporary data buffers");
MALLOC_DEFINE(M_IFADDR, "ifaddr", "interface address");
MALLOC_DEFINE(M_IFNET, "ifnet", "interface internals");
MALLOC_DEFINE(M_IFMADDR, "ether_multi", "link-level multicast address");
MALLOC_DEFINE(M_IPMADDR, "in_multi", "internet multicast address");
MALLOC_DEFINE(M_IP6MADDR, "in6_multi", "internet multicast address (IPv6)");
MALLOC_DEFINE(M_LLTABLE, "lltable", "link level address tables");
MALLOC_DEFINE(M_RTABLE, "routetbl", "routing tables");
MALLOC_DEFINE(M_PFIL, "pfil", "pfil(9) packet filter hooks");
MALLOC_DEFINE(M_NETLINK, "netlink", "Memory used for netlink packets");
MALLOC_DEFINE(M_TAG, "mtag", "packet tags");
MALLOC_DEFINE(M_MBUF_SIM, "mbuf", "mbufs and clusters");
MALLOC_DEFINE(M_VNET, "vnet", "network stack virtualization");
MALLOC_DEFINE(M_EVENTHANDLER, "eventhandler", "Event handler records");
MALLOC_DEFINE(M_CLONE, "clone", "interface cloning framework");
MALLOC_DEFINE(M_SYSCTLOID, "sysctloid", "sysctl dynamic oids");
MALLOC_DEFINE(M_IPMOPTS, "ip_moptions", "internet multicast options");
MALLOC_DEFINE(M_IP6MOPTS, "ip6_moptions", "internet multicast options");
MALLOC_DEFINE(M_INMFILTER, "in_mfilter", "IPv4 multicast PCB-layer source filter");
MALLOC_DEFINE(M_IN6MFILTER, "in6_mfilter", "IPv6 multicast PCB-layer source filter");

static struct mtype_rec *
mtype_find(struct malloc_type *mtp)
{
	int i;

	for (i = 0; i < nmtypes; i++)
		if (mtypes[i].mtp == mtp)
			return (&mtypes[i]);
	return (NULL);
}

static struct mtype_rec *
mtype_register(struct malloc_type *mtp, int kernel)
{
	struct mtype_rec *r = NULL;
	int i;

	/* A record of an uninitialized type with nothing left can be reused. */
	for (i = 0; i < nmtypes; i++)
		if (mtypes[i].mtp == NULL && mtypes[i].live == 0) {
			r = &mtypes[i];
			break;
		}
	if (r == NULL) {
		if (nmtypes >= MAXTYPES)
			kfatal("too many malloc types");
		r = &mtypes[nmtypes++];
	}
	memset(r, 0, sizeof(*r));
	r->mtp = mtp;
	strlcpy(r->name, mtp->ks_shortdesc, sizeof(r->name));
	r->kernel = kernel;
	return (r);
}

void
malloc_init(void *data)
{
	struct malloc_type *mtp = data;

	if (mtp->ks_version != M_VERSION)
		kfail("malloc", "malloc_init: type %s has version %lu, kernel %u",
		    mtp->ks_shortdesc, mtp->ks_version, M_VERSION);
	hl_giant_lock();
	if (mtype_find(mtp) != NULL)
		kfail("malloc", "malloc_init: type %s registered twice", mtp->ks_shortdesc);
	else
		mtype_register(mtp, 0);
	hl_giant_unlock();
}

void
malloc_uninit(void *data)
{
	struct malloc_type *mtp = data;
	struct mtype_rec *r;

	hl_giant_lock();
	r = mtype_find(mtp);
	if (r == NULL) {
		hl_giant_unlock();
		kfail("malloc", "malloc_uninit: type %s was never registered",
		    mtp->ks_shortdesc);
		return;
	}
	if (r->live != 0) {
		hl_giant_unlock();
		/* The kernel's message (kern_malloc.c, malloc_uninit). */
		kfail("malloc", "Warning: memory type %s leaked memory on destroy "
		    "(%ld allocations, %ld bytes leaked).", r->name, r->live, r->bytes);
		kmalloc_report_live(mtp);
		hl_giant_lock();
	}
	/* Blocks still live keep pointing at the record: mark it gone instead. */
	r->gone_mtp = r->mtp;
	r->mtp = NULL;
	hl_giant_unlock();
}

long
kmalloc_live(struct malloc_type *mtp, long *bytes)
{
	struct mtype_rec *r = mtype_find(mtp);

	if (r == NULL) {
		if (bytes)
			*bytes = 0;
		return (0);
	}
	if (bytes)
		*bytes = r->bytes;
	return (r->live);
}

void
kmalloc_report_live(struct malloc_type *mtp)
{
	struct mtype_rec *r = mtype_find(mtp);
	struct mhdr *h;
	char sym[128];
	int n = 0;

	if (r == NULL)
		return;
	for (h = r->head; h != NULL && n < 16; h = h->next, n++) {
		ksymbolize(h->caller, sym, sizeof(sym));
		printf("  live %s block of %zu bytes at %p allocated from %s (#%lu)\n",
		    r->name, h->size, (void *)(h + 1), sym, h->seq);
	}
}

/* ---- Quarantine of freed blocks ---- */

/*
 * Profiling runs (script `profile on`) turn poisoning and the quarantine off: their cost
 * (a memset of every block on free) is the harness's, not the module's.
 */
int	kmalloc_fast;

#define	QUARANTINE_MAX	2048
static struct mhdr *quarantine[QUARANTINE_MAX];
static int q_head, q_count;

static void
quarantine_check_release(struct mhdr *h)
{
	unsigned char *p = (unsigned char *)(h + 1);
	size_t i;

	if (h->magic != MH_FREED)
		kfail("malloc", "freed block header at %p overwritten after free", h);
	for (i = 0; i < h->size; i++)
		if (p[i] != POISON_BYTE) {
			kfail("malloc", "write after free: byte %zu of a %zu-byte block "
			    "freed at %p (allocated from %p)", i, h->size, (void *)p, h->caller);
			break;
		}
	hl_release(h, sizeof(*h) + h->size);
}

static void
quarantine_add(struct mhdr *h)
{
	struct mhdr *old = NULL;

	hl_giant_lock();
	if (q_count == QUARANTINE_MAX) {
		old = quarantine[q_head];
		quarantine[q_head] = h;
		q_head = (q_head + 1) % QUARANTINE_MAX;
	} else {
		quarantine[(q_head + q_count) % QUARANTINE_MAX] = h;
		q_count++;
	}
	hl_giant_unlock();
	if (old != NULL)
		quarantine_check_release(old);
}

/* ---- Fault injection ---- */

long kfault_target, kfault_count;

static int
kfault_should_fail_at(const char *site, const void *caller)
{
	int fail;

	hl_giant_lock();
	kfault_count++;
	fail = (kfault_target != 0 && kfault_count == kfault_target);
	hl_giant_unlock();
	if (fail) {
		char msg[256], sym[128];

		sym[0] = '\0';
		if (caller != NULL)
			hl_symbolize((unsigned long)caller, sym, sizeof(sym));
		snprintf(msg, sizeof(msg),
		    "fault injected: fallible allocation #%ld (%s) fails%s%s",
		    kfault_count, site, sym[0] ? ", called from " : "", sym);
		hl_console(LOG_DEBUG, msg);
	}
	return (fail);
}

int
kfault_should_fail(const char *site)
{

	return (kfault_should_fail_at(site, NULL));
}

int	kaddr_in_module(const void *addr);

/*
 * Targeted faults (script `fault-next SITE N`): the next N allocations by the module at
 * a site whose name starts with kfault_site ("any": every site) fail.
 */
char	kfault_site[64];
int	kfault_site_left;

/* The N-th fallible allocation made by the module fails. */
int
kfault_should_fail_from(const char *site, const void *caller)
{
	int hit;

	if (!kaddr_in_module(caller))
		return (0);
	hl_giant_lock();
	hit = kfault_site_left > 0 && (strcmp(kfault_site, "any") == 0 ||
	    strncmp(site, kfault_site, strlen(kfault_site)) == 0);
	if (hit)
		kfault_site_left--;
	hl_giant_unlock();
	if (hit) {
		char msg[256], sym[128];

		hl_symbolize((unsigned long)caller, sym, sizeof(sym));
		snprintf(msg, sizeof(msg), "fault injected: %s fails (fault-next), "
		    "called from %s", site, sym);
		hl_console(LOG_DEBUG, msg);
		return (1);
	}
	return (kfault_should_fail_at(site, caller));
}

/* ---- malloc(9) ---- */

int	kfault_should_fail_from(const char *site, const void *caller);

/* Internal: the allocation's fault-injection point was already passed (uma). */
#define	KM_NOFAULT	0x40000000

static void *
kmalloc_impl(size_t size, struct malloc_type *mtp, int flags, const void *caller)
{
	struct mtype_rec *r;
	struct mhdr *h;
	int nofault = flags & KM_NOFAULT;

	flags &= ~KM_NOFAULT;

	if ((flags & (M_WAITOK | M_NOWAIT)) == 0 ||
	    (flags & (M_WAITOK | M_NOWAIT)) == (M_WAITOK | M_NOWAIT))
		kfail("malloc", "malloc(9) called with neither or both of M_WAITOK and "
		    "M_NOWAIT (flags %#x)", flags);
	if (flags & M_WAITOK)
		ksleep_check("malloc(M_WAITOK)");
	else if (!nofault && kfault_should_fail_from("malloc(M_NOWAIT)", caller))
		return (NULL);
	hl_giant_lock();
	r = mtype_find(mtp);
	if (r == NULL) {
		hl_giant_unlock();
		kfail("malloc", "malloc(9) with an unregistered type %p (\"%s\")", mtp,
		    mtp ? mtp->ks_shortdesc : "?");
		hl_giant_lock();
		r = mtype_register(mtp, 0);
	}
	hl_giant_unlock();
	h = hl_alloc(sizeof(*h) + size);
	h->magic = MH_MAGIC;
	h->mtp = mtp;
	h->size = size;
	h->caller = caller;
	if ((flags & M_ZERO) == 0 && !kmalloc_fast)
		memset(h + 1, 0xde, size);	/* as INVARIANTS' trash_ctor */
	hl_giant_lock();
	h->seq = ++malloc_seq;
	h->prev = NULL;
	h->next = r->head;
	if (r->head)
		r->head->prev = h;
	r->head = h;
	r->live++;
	r->bytes += size;
	r->total++;
	hl_giant_unlock();
	return (h + 1);
}

#undef malloc
void *
malloc(size_t size, struct malloc_type *mtp, int flags)
{

	return (kmalloc_impl(size, mtp, flags, __builtin_return_address(0)));
}

void *
malloc_domainset(size_t size, struct malloc_type *mtp, struct domainset *ds, int flags)
{

	return (kmalloc_impl(size, mtp, flags, __builtin_return_address(0)));
}

void
free(void *addr, struct malloc_type *mtp)
{
	struct mhdr *h;
	struct mtype_rec *r;
	int i;

	if (addr == NULL)
		return;
	h = (struct mhdr *)addr - 1;
	if (h->magic == MH_FREED) {
		kfail("malloc", "double free of %p", addr);
		return;
	}
	if (h->magic != MH_MAGIC) {
		kfail("malloc", "free(%p): not a malloc(9) block (or its header was "
		    "overwritten)", addr);
		return;
	}
	if (h->mtp != mtp)
		kfail("malloc", "free(%p) with a type other than the one it was allocated "
		    "with", addr);
	hl_giant_lock();
	r = NULL;
	for (i = 0; i < nmtypes; i++)
		if (mtypes[i].mtp == h->mtp || (mtypes[i].mtp == NULL &&
		    h->mtp == (struct malloc_type *)mtypes[i].gone_mtp)) {
			r = &mtypes[i];
			/* A live record wins over one whose type was uninitialized. */
			if (mtypes[i].mtp != NULL)
				break;
		}
	if (r != NULL) {
		if (h->prev)
			h->prev->next = h->next;
		else
			r->head = h->next;
		if (h->next)
			h->next->prev = h->prev;
		r->live--;
		r->bytes -= h->size;
		if (r->mtp == NULL) {
			hl_giant_unlock();
			kfail("malloc", "free(%p) of type %s after malloc_uninit", addr,
			    r->name);
			hl_giant_lock();
		}
	}
	hl_giant_unlock();
	h->magic = MH_FREED;
	if (kmalloc_fast) {
		hl_release(h, sizeof(*h) + h->size);
		return;
	}
	memset(addr, POISON_BYTE, h->size);
	quarantine_add(h);
}

void
zfree(void *addr, struct malloc_type *mtp)
{

	free(addr, mtp);
}

void *
realloc(void *addr, size_t size, struct malloc_type *mtp, int flags)
{
	struct mhdr *h;
	void *n;

	if (addr == NULL)
		return (kmalloc_impl(size, mtp, flags, __builtin_return_address(0)));
	h = (struct mhdr *)addr - 1;
	n = kmalloc_impl(size, mtp, flags, __builtin_return_address(0));
	if (n == NULL)
		return (NULL);
	memcpy(n, addr, h->size < size ? h->size : size);
	free(addr, mtp);
	return (n);
}

void *
reallocf(void *addr, size_t size, struct malloc_type *mtp, int flags)
{
	void *n = realloc(addr, size, mtp, flags);

	if (n == NULL)
		free(addr, mtp);
	return (n);
}

/* ---- UMA: the mbuf zones ---- */

struct uma_zone {
	const char	*name;
	size_t		 size;
	struct malloc_type *mtp;
	long		 live;
};
static struct uma_zone zone_mbuf_s = { "mbuf", MSIZE, M_MBUF_SIM, 0 };
static struct uma_zone zone_clust_s = { "mbuf_cluster", MCLBYTES, M_MBUF_SIM, 0 };
static struct uma_zone zone_jumbop_s = { "mbuf_jumbo_page", MJUMPAGESIZE, M_MBUF_SIM, 0 };
uma_zone_t zone_mbuf = &zone_mbuf_s;
uma_zone_t zone_clust = &zone_clust_s;
uma_zone_t zone_jumbop = &zone_jumbop_s;
uma_zone_t zone_pack = &zone_mbuf_s;

void *
uma_zalloc_arg(uma_zone_t zone, void *arg, int flags)
{
	void *item;

	if ((flags & M_NOWAIT) &&
	    kfault_should_fail_from(zone->name, __builtin_return_address(0)))
		return (NULL);
	item = kmalloc_impl(zone->size, zone->mtp,
	    (flags & (M_WAITOK | M_NOWAIT)) | KM_NOFAULT, __builtin_return_address(0));
	if (item == NULL)
		return (NULL);
	zone->live++;
	if (zone == zone_mbuf && arg != NULL) {
		/* mb_ctor_mbuf */
		struct mb_args *args = arg;
		struct mbuf *m = item;
		short type = args->type & ~MT_NOINIT;

		if (m_init(m, flags, type, args->flags) != 0) {
			free(item, zone->mtp);
			zone->live--;
			return (NULL);
		}
	}
	return (item);
}

void
uma_zfree_arg(uma_zone_t zone, void *item, void *arg)
{

	if (item == NULL)
		return;
	if (zone == zone_mbuf) {
		/* mb_dtor_mbuf */
		struct mbuf *m = item;

		if ((m->m_flags & M_PKTHDR) && !SLIST_EMPTY(&m->m_pkthdr.tags))
			m_tag_delete_chain(m, NULL);
	}
	zone->live--;
	free(item, zone->mtp);
}

long
kmbuf_live(void)
{

	return (zone_mbuf_s.live + zone_clust_s.live + zone_jumbop_s.live);
}

/* ---- counter(9) over the per-CPU blocks ---- */

#define	CNT_SLOTS	((PCPU_STRIDE - PCPU_DYN_START) / sizeof(uint64_t))
static unsigned char cnt_used[CNT_SLOTS];
static const void *cnt_caller[CNT_SLOTS];
static long cnt_live;

void
kpcpu_init_block(struct pcpu *pc, int cpuid)
{

	pc->pc_cpuid = cpuid;
	pc->pc_dynamic = 0;
	pc->pc_zpcpu_offset = 0;
}

static uint64_t *
cnt_slot(int cpu, uintptr_t off)
{

	return ((uint64_t *)((char *)kthreads[cpu]->pcpu + off));
}

static counter_u64_t
kcounter_alloc(int flags, const void *caller)
{
	size_t i;
	int cpu;

	if (flags & M_WAITOK)
		ksleep_check("counter_u64_alloc(M_WAITOK)");
	else if (kfault_should_fail_from("counter_u64_alloc(M_NOWAIT)", caller))
		return (NULL);
	hl_giant_lock();
	for (i = 0; i < CNT_SLOTS; i++)
		if (!cnt_used[i])
			break;
	if (i == CNT_SLOTS)
		kfatal("counter(9) space exhausted");
	cnt_used[i] = 1;
	cnt_caller[i] = caller;
	cnt_live++;
	for (cpu = 0; cpu < nkthreads; cpu++)
		*cnt_slot(cpu, PCPU_DYN_START + i * sizeof(uint64_t)) = 0;
	hl_giant_unlock();
	/* A zpcpu offset: %gs:(c) is this CPU's copy. */
	return ((counter_u64_t)(uintptr_t)(PCPU_DYN_START + i * sizeof(uint64_t)));
}

counter_u64_t
counter_u64_alloc(int flags)
{

	return (kcounter_alloc(flags, __builtin_return_address(0)));
}

static int
cnt_index(counter_u64_t c, const char *op)
{
	uintptr_t off = (uintptr_t)c;
	size_t i;

	if (off < PCPU_DYN_START || off >= PCPU_STRIDE || (off % sizeof(uint64_t)) != 0) {
		kfail("counter", "%s of %p, not a counter(9)", op, c);
		return (-1);
	}
	i = (off - PCPU_DYN_START) / sizeof(uint64_t);
	if (!cnt_used[i]) {
		kfail("counter", "%s of counter %p after counter_u64_free", op, c);
		return (-1);
	}
	return ((int)i);
}

void
counter_u64_free(counter_u64_t c)
{
	int i;

	if (c == NULL)
		return;
	hl_giant_lock();
	i = cnt_index(c, "counter_u64_free");
	if (i >= 0) {
		cnt_used[i] = 0;
		cnt_caller[i] = NULL;
		cnt_live--;
	}
	hl_giant_unlock();
}

uint64_t
counter_u64_fetch(counter_u64_t c)
{
	uint64_t sum = 0;
	int cpu;

	if (cnt_index(c, "counter_u64_fetch") < 0)
		return (0);
	for (cpu = 0; cpu < nkthreads; cpu++)
		sum += *cnt_slot(cpu, (uintptr_t)c);
	return (sum);
}

void
counter_u64_zero(counter_u64_t c)
{
	int cpu;

	if (cnt_index(c, "counter_u64_zero") < 0)
		return;
	for (cpu = 0; cpu < nkthreads; cpu++)
		*cnt_slot(cpu, (uintptr_t)c) = 0;
}

/* Counters allocated from code in [base, base+size) still live. */
int
kcounters_live_from(unsigned long base, unsigned long size, int report)
{
	size_t i;
	int n = 0;

	for (i = 0; i < CNT_SLOTS; i++)
		if (cnt_used[i] && (unsigned long)cnt_caller[i] >= base &&
		    (unsigned long)cnt_caller[i] < base + size) {
			n++;
			if (report)
				kfail("counter", "counter(9) allocated by the module not freed "
				    "(offset %#lx)", (unsigned long)(PCPU_DYN_START + i * 8));
		}
	return (n);
}

long
kcounters_live(void)
{

	return (cnt_live);
}

void
kmalloc_boot(void)
{
	struct malloc_type *kt[] = { M_DEVBUF, M_TEMP, M_IFADDR, M_IFNET, M_IFMADDR,
	    M_IPMADDR, M_IP6MADDR, M_LLTABLE, M_RTABLE, M_PFIL, M_NETLINK, M_TAG,
	    M_MBUF_SIM, M_VNET, M_EVENTHANDLER, M_CLONE, M_SYSCTLOID, M_IPMOPTS,
	    M_IP6MOPTS, M_INMFILTER, M_IN6MFILTER };
	size_t i;

	for (i = 0; i < nitems(kt); i++)
		mtype_register(kt[i], 1);
}

void
kcounter_boot(void)
{
}
