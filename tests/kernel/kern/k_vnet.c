/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Virtual network stacks, as sys/net/vnet.c keeps them.
 *
 * The master VNET data area is this executable's set_vnet section (the kernel's own VNET
 * variables plus `modspace`, room for modules); modules get their set_vnet placed in
 * modspace by vnet_data_alloc and copied into every VNET by vnet_data_copy. Every VNET,
 * vnet0 included, has its own copy of the whole area, and vnet_data_base = copy -
 * VNET_START, so VNET(x) works as in the kernel. A destroyed VNET's copy is made
 * inaccessible (not reused): any later touch faults.
 *
 * VNET constructors and destructors (vnet_register_sysinit / vnet_register_sysuninit)
 * run in (subsystem, order) order at creation and in reverse at destruction; registering
 * a constructor runs it in every existing VNET.
 */
#include "kern.h"

#define	VNET_LIST_WLOCK()	sx_xlock(&vnet_sxlock)
#define	VNET_LIST_WUNLOCK()	sx_xunlock(&vnet_sxlock)

#define	VNET_MODMIN	(8 * PAGE_SIZE)
VNET_DEFINE_STATIC(char, modspace[VNET_MODMIN] __aligned(64));

struct vnet_list_head vnet_head = LIST_HEAD_INITIALIZER(vnet_head);
struct sx vnet_sxlock;
static struct sx vnet_sysinit_sxlock;
struct vnet *vnet0;

static TAILQ_HEAD(, vnet_sysinit) vnet_constructors =
    TAILQ_HEAD_INITIALIZER(vnet_constructors);
static TAILQ_HEAD(, vnet_sysinit) vnet_destructors =
    TAILQ_HEAD_INITIALIZER(vnet_destructors);

/* Names and indices of VNETs, for the harness (jail names). */
#define	MAXVNETS	32
static struct {
	struct vnet	*vnet;
	char		 name[32];
	int		 alive;
} vnet_names[MAXVNETS];
static int nvnets;

/* ---- Data area ---- */

struct vnet_data_free {
	uintptr_t	start;
	int		len;
	TAILQ_ENTRY(vnet_data_free) link;
};
static TAILQ_HEAD(, vnet_data_free) vnet_data_free_head =
    TAILQ_HEAD_INITIALIZER(vnet_data_free_head);
static struct vnet_data_free vnet_data_free_init;

static size_t
vnet_bytes(void)
{

	return (VNET_STOP - VNET_START);
}

void *
vnet_data_alloc(int size)
{
	struct vnet_data_free *df;
	uintptr_t s = 0;

	size = roundup2(size, 16);
	sx_xlock(&vnet_sysinit_sxlock);
	TAILQ_FOREACH(df, &vnet_data_free_head, link) {
		if (df->len < size)
			continue;
		s = df->start;
		df->start += size;
		df->len -= size;
		break;
	}
	sx_xunlock(&vnet_sysinit_sxlock);
	return ((void *)s);
}

void
vnet_data_free(void *start_arg, int size)
{
	struct vnet_data_free *df;

	size = roundup2(size, 16);
	df = malloc(sizeof(*df), M_VNET, M_WAITOK | M_ZERO);
	df->start = (uintptr_t)start_arg;
	df->len = size;
	sx_xlock(&vnet_sysinit_sxlock);
	TAILQ_INSERT_TAIL(&vnet_data_free_head, df, link);
	sx_xunlock(&vnet_sysinit_sxlock);
}

void
vnet_data_copy(void *start, int size)
{
	struct vnet *vnet;

	VNET_LIST_RLOCK();
	LIST_FOREACH(vnet, &vnet_head, vnet_le)
		memcpy((void *)((uintptr_t)vnet->vnet_data_base + (uintptr_t)start), start,
		    size);
	VNET_LIST_RUNLOCK();
}

void *
hk_vnet_data_alloc(unsigned long size)
{

	return (vnet_data_alloc((int)size));
}

void
hk_vnet_data_copy(void *start, unsigned long size)
{

	vnet_data_copy(start, (int)size);
}

void
hk_vnet_data_free(void *start, unsigned long size)
{

	vnet_data_free(start, (int)size);
}

/* ---- Constructors and destructors ---- */

static void
vnet_run_ctor(struct vnet *vnet, struct vnet_sysinit *vs)
{
	struct kcheck_state st;

	CURVNET_SET_QUIET(vnet);
	kcheck_save(&st);
	vs->func(vs->arg);
	kcheck_restore_check(&st, "VNET constructor");
	CURVNET_RESTORE();
}

void
vnet_register_sysinit(void *arg)
{
	struct vnet_sysinit *vs = arg, *vs2;
	struct vnet *vnet;

	sx_xlock(&vnet_sysinit_sxlock);
	TAILQ_FOREACH(vs2, &vnet_constructors, link) {
		if (vs2->subsystem > vs->subsystem ||
		    (vs2->subsystem == vs->subsystem && vs2->order > vs->order))
			break;
	}
	if (vs2 != NULL)
		TAILQ_INSERT_BEFORE(vs2, vs, link);
	else
		TAILQ_INSERT_TAIL(&vnet_constructors, vs, link);
	VNET_LIST_RLOCK();
	LIST_FOREACH(vnet, &vnet_head, vnet_le)
		vnet_run_ctor(vnet, vs);
	VNET_LIST_RUNLOCK();
	sx_xunlock(&vnet_sysinit_sxlock);
}

void
vnet_deregister_sysinit(void *arg)
{
	struct vnet_sysinit *vs = arg;

	sx_xlock(&vnet_sysinit_sxlock);
	TAILQ_REMOVE(&vnet_constructors, vs, link);
	sx_xunlock(&vnet_sysinit_sxlock);
}

void
vnet_register_sysuninit(void *arg)
{
	struct vnet_sysinit *vs = arg, *vs2;

	sx_xlock(&vnet_sysinit_sxlock);
	TAILQ_FOREACH(vs2, &vnet_destructors, link) {
		if (vs2->subsystem < vs->subsystem ||
		    (vs2->subsystem == vs->subsystem && vs2->order < vs->order))
			break;
	}
	if (vs2 != NULL)
		TAILQ_INSERT_BEFORE(vs2, vs, link);
	else
		TAILQ_INSERT_TAIL(&vnet_destructors, vs, link);
	sx_xunlock(&vnet_sysinit_sxlock);
}

/* Runs the destructor in every existing VNET, then forgets it (vnet.c). */
void
vnet_deregister_sysuninit(void *arg)
{
	struct vnet_sysinit *vs = arg;
	struct vnet *vnet;

	sx_xlock(&vnet_sysinit_sxlock);
	VNET_LIST_RLOCK();
	LIST_FOREACH(vnet, &vnet_head, vnet_le)
		vnet_run_ctor(vnet, vs);
	TAILQ_REMOVE(&vnet_destructors, vs, link);
	sx_xunlock(&vnet_sysinit_sxlock);
	VNET_LIST_RUNLOCK();
}

/* Constructors or destructors still registered whose function lies in [base, base+size). */
int
kvnet_sysinits_in(unsigned long base, unsigned long size, int report)
{
	struct vnet_sysinit *vs;
	int n = 0;

	TAILQ_FOREACH(vs, &vnet_constructors, link)
		if ((unsigned long)vs->func >= base && (unsigned long)vs->func < base + size) {
			n++;
			if (report)
				kfail("vnet", "VNET constructor %p still registered after unload",
				    vs->func);
		}
	TAILQ_FOREACH(vs, &vnet_destructors, link)
		if ((unsigned long)vs->func >= base && (unsigned long)vs->func < base + size) {
			n++;
			if (report)
				kfail("vnet", "VNET destructor %p still registered after unload",
				    vs->func);
		}
	return (n);
}

/* ---- Creation and destruction ---- */

static struct vnet *
vnet_alloc_internal(void)
{
	struct vnet *vnet;
	struct vnet_sysinit *vs;
	size_t bytes = vnet_bytes();

	vnet = malloc(sizeof(struct vnet), M_VNET, M_WAITOK | M_ZERO);
	vnet->vnet_magic_n = VNET_MAGIC_N;
	/* Whole pages, so that a destroyed VNET's data can be made inaccessible. */
	vnet->vnet_data_mem = hl_alloc(roundup2(bytes, PAGE_SIZE));
	vnet->vnet_data_base = (uintptr_t)vnet->vnet_data_mem - VNET_START;
	sx_xlock(&vnet_sysinit_sxlock);
	memcpy(vnet->vnet_data_mem, (void *)VNET_START, bytes);
	VNET_LIST_WLOCK();
	LIST_INSERT_HEAD(&vnet_head, vnet, vnet_le);
	VNET_LIST_WUNLOCK();
	TAILQ_FOREACH(vs, &vnet_constructors, link) {
		vnet->vnet_state = vs->subsystem;
		vnet_run_ctor(vnet, vs);
	}
	vnet->vnet_state = SI_SUB_VNET_DONE;
	sx_xunlock(&vnet_sysinit_sxlock);
	return (vnet);
}

struct vnet *
kvnet_create(const char *name)
{
	struct vnet *vnet;

	if (nvnets >= MAXVNETS)
		kfatal("too many VNETs");
	vnet = vnet_alloc_internal();
	vnet_names[nvnets].vnet = vnet;
	strlcpy(vnet_names[nvnets].name, name, sizeof(vnet_names[nvnets].name));
	vnet_names[nvnets].alive = 1;
	nvnets++;
	return (vnet);
}

void hl_protect_none(void *p, unsigned long size);

void
kvnet_destroy(struct vnet *vnet)
{
	struct vnet_sysinit *vs;
	struct kcheck_state st;
	int i;

	if (vnet == vnet0)
		kfatal("vnet0 cannot be destroyed");
	VNET_LIST_WLOCK();
	LIST_REMOVE(vnet, vnet_le);
	VNET_LIST_WUNLOCK();
	vnet->vnet_shutdown = true;
	CURVNET_SET_QUIET(vnet);
	sx_xlock(&ifnet_detach_sxlock);
	sx_xlock(&vnet_sysinit_sxlock);
	TAILQ_FOREACH(vs, &vnet_destructors, link) {
		vnet->vnet_state = vs->subsystem;
		kcheck_save(&st);
		vs->func(vs->arg);
		kcheck_restore_check(&st, "VNET destructor");
	}
	sx_xunlock(&vnet_sysinit_sxlock);
	sx_xunlock(&ifnet_detach_sxlock);
	CURVNET_RESTORE();
	for (i = 0; i < nvnets; i++)
		if (vnet_names[i].vnet == vnet)
			vnet_names[i].alive = 0;
	/* Never reused: whatever still points into this VNET faults. */
	hl_protect_none(vnet->vnet_data_mem, roundup2(vnet_bytes(), PAGE_SIZE));
	vnet->vnet_data_mem = NULL;
	vnet->vnet_data_base = 0;
	vnet->vnet_magic_n = 0xdeadbeef;
	/* The struct vnet itself stays allocated (harness records point at it). */
}

struct vnet *
kvnet_byname(const char *name)
{
	int i;

	for (i = 0; i < nvnets; i++)
		if (vnet_names[i].alive && strcmp(vnet_names[i].name, name) == 0)
			return (vnet_names[i].vnet);
	return (NULL);
}

const char *
kvnet_name(struct vnet *vnet)
{
	int i;

	if (vnet == NULL)
		return ("(none)");
	for (i = 0; i < nvnets; i++)
		if (vnet_names[i].vnet == vnet)
			return (vnet_names[i].name);
	return ("?");
}

int
kvnet_index(struct vnet *vnet)
{
	int i;

	for (i = 0; i < nvnets; i++)
		if (vnet_names[i].vnet == vnet)
			return (i);
	return (-1);
}

void
kvnet_boot(void)
{
	struct vnet_data_free *df = &vnet_data_free_init;

	sx_init(&vnet_sxlock, "vnet_sxlock");
	sx_init(&vnet_sysinit_sxlock, "vnet_sysinit_sxlock");
	df->start = (uintptr_t)&VNET_NAME(modspace);
	df->len = VNET_MODMIN;
	TAILQ_INSERT_TAIL(&vnet_data_free_head, df, link);
}

/* Creates vnet0 once the kernel's own constructors are registered. */
void
kvnet0_create(void)
{

	vnet0 = kvnet_create("host");
	curthread->td_vnet = vnet0;
}
