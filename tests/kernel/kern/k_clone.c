/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Interface cloning, as sys/net/if_clone.c in FreeBSD 15: cloners per VNET attached with
 * ifc_attach_cloner, SIOCIFCREATE2 (name matching, unit allocation, create_f, the
 * interface linked on its cloner), SIOCIFDESTROY (found through its home VNET's cloner by
 * driver name), if_clone_destroyif, and ifc_detach_cloner destroying what is left.
 */
#include "kern.h"
#include "k_net.h"

#define	IFCLOSIZ	(IFNAMSIZ - 5)

struct if_clone {
	char		 ifc_name[IFCLOSIZ];
	int		 ifc_refcnt;
	int		 ifc_flags;
	uint32_t	 ifc_maxunit;
	ifc_match_f	*ifc_match;
	ifc_create_f	*ifc_create;
	ifc_destroy_f	*ifc_destroy;
	LIST_HEAD(, ifnet) ifc_iflist;
	LIST_ENTRY(if_clone) ifc_list;
	struct vnet	*ifc_vnet;
	unsigned char	 ifc_units[256];	/* allocated units (the unr(9) allocator) */
};

VNET_DEFINE_STATIC(LIST_HEAD(, if_clone), if_cloners);
#define	V_if_cloners	VNET(if_cloners)
static struct mtx if_cloners_mtx;

static int
ifc_simple_match(struct if_clone *ifc, const char *name)
{
	const char *cp;
	int i;

	for (cp = name, i = 0; ifc->ifc_name[i] != '\0'; i++, cp++)
		if (ifc->ifc_name[i] != *cp)
			return (0);
	for (; *cp != '\0'; cp++)
		if (*cp < '0' || *cp > '9')
			return (0);
	return (1);
}

struct if_clone *
ifc_attach_cloner(const char *name, struct if_clone_addreq *req)
{
	struct if_clone *ifc, *it;

	if (req->create_f == NULL || req->destroy_f == NULL)
		return (NULL);
	if (strnlen(name, IFCLOSIZ) >= (IFCLOSIZ - 1))
		return (NULL);
	ksleep_check("ifc_attach_cloner");
	ifc = malloc(sizeof(*ifc), M_CLONE, M_WAITOK | M_ZERO);
	strlcpy(ifc->ifc_name, name, sizeof(ifc->ifc_name));
	ifc->ifc_refcnt = 1;
	ifc->ifc_maxunit = (req->flags & IFC_F_LIMITUNIT) ? req->maxunit : IF_MAXUNIT;
	if (ifc->ifc_maxunit >= sizeof(ifc->ifc_units))
		ifc->ifc_maxunit = sizeof(ifc->ifc_units) - 1;
	ifc->ifc_match = req->match_f != NULL ? req->match_f : ifc_simple_match;
	ifc->ifc_create = req->create_f;
	ifc->ifc_destroy = req->destroy_f;
	ifc->ifc_flags = req->flags & IFC_F_AUTOUNIT;
	ifc->ifc_vnet = curvnet;
	LIST_INIT(&ifc->ifc_iflist);
	mtx_lock(&if_cloners_mtx);
	LIST_FOREACH(it, &V_if_cloners, ifc_list)
		if (strcmp(it->ifc_name, ifc->ifc_name) == 0) {
			mtx_unlock(&if_cloners_mtx);
			free(ifc, M_CLONE);
			return (NULL);
		}
	LIST_INSERT_HEAD(&V_if_cloners, ifc, ifc_list);
	mtx_unlock(&if_cloners_mtx);
	return (ifc);
}

static void
ifc_rele(struct if_clone *ifc)
{

	if (--ifc->ifc_refcnt == 0)
		free(ifc, M_CLONE);
}

static int
kifc_unlink(struct if_clone *ifc, struct ifnet *ifp)
{
	struct ifnet *it;

	LIST_FOREACH(it, &ifc->ifc_iflist, if_clones)
		if (it == ifp) {
			LIST_REMOVE(ifp, if_clones);
			return (1);
		}
	return (0);
}

static int
if_clone_destroyif_flags(struct if_clone *ifc, struct ifnet *ifp, uint32_t flags)
{
	struct kcheck_state st;
	int err, unit;

	CURVNET_SET_QUIET(ifp->if_vnet);
	if (!kifc_unlink(ifc, ifp)) {
		CURVNET_RESTORE();
		return (ENXIO);
	}
	unit = ifp->if_dunit;
	kcheck_save(&st);
	err = ifc->ifc_destroy(ifc, ifp, flags);
	kcheck_restore_check(&st, "cloner destroy_f");
	if (err != 0)
		LIST_INSERT_HEAD(&ifc->ifc_iflist, ifp, if_clones);
	else if ((ifc->ifc_flags & IFC_F_AUTOUNIT) && unit >= 0 &&
	    unit < (int)sizeof(ifc->ifc_units)) {
		ifc->ifc_units[unit] = 0;
		ifc_rele(ifc);
	}
	CURVNET_RESTORE();
	return (err);
}

int
if_clone_destroyif(struct if_clone *ifc, struct ifnet *ifp)
{

	return (if_clone_destroyif_flags(ifc, ifp, 0));
}

void
ifc_detach_cloner(struct if_clone *ifc)
{
	struct ifnet *ifp;
	int guard = 0;

	if (ifc == NULL)
		return;
	mtx_lock(&if_cloners_mtx);
	LIST_REMOVE(ifc, ifc_list);
	mtx_unlock(&if_cloners_mtx);
	while ((ifp = LIST_FIRST(&ifc->ifc_iflist)) != NULL) {
		if (++guard > 1000) {
			kfail("clone", "ifc_detach_cloner(%s): destroy_f keeps failing "
			    "(FreeBSD would loop forever)", ifc->ifc_name);
			break;
		}
		(void)if_clone_destroyif_flags(ifc, ifp, IFC_F_FORCE);
	}
	ifc_rele(ifc);
}

static struct if_clone *
ifc_find_cloner_match(const char *name)
{
	struct if_clone *ifc;

	LIST_FOREACH(ifc, &V_if_cloners, ifc_list)
		if (ifc->ifc_match(ifc, name))
			return (ifc);
	return (NULL);
}

int
if_clone_create(char *name, size_t len, caddr_t params)
{
	struct if_clone *ifc;
	struct ifc_data ifd;
	struct ifnet *ifp = NULL;
	struct kcheck_state st;
	char cname[IFNAMSIZ];
	const char *dp;
	int unit = -1, err, wildcard;

	ifc = ifc_find_cloner_match(name);
	if (ifc == NULL)
		return (EINVAL);
	if (ifunit(name) != NULL)
		return (EEXIST);
	strlcpy(cname, name, sizeof(cname));
	if (ifc->ifc_flags & IFC_F_AUTOUNIT) {
		dp = name + strlen(ifc->ifc_name);
		wildcard = (*dp == '\0');
		if (!wildcard) {
			if (*dp == '0' && dp[1] != '\0')
				return (EINVAL);
			unit = 0;
			for (; *dp != '\0'; dp++) {
				if (*dp < '0' || *dp > '9')
					return (EINVAL);
				unit = unit * 10 + (*dp - '0');
				if (unit > IF_MAXUNIT)
					return (EINVAL);
			}
			if ((uint32_t)unit > ifc->ifc_maxunit)
				return (ENOSPC);
			if (ifc->ifc_units[unit])
				return (EEXIST);
		} else {
			for (unit = 0; (uint32_t)unit <= ifc->ifc_maxunit; unit++) {
				char tmp[IFNAMSIZ];

				if (ifc->ifc_units[unit])
					continue;
				snprintf(tmp, sizeof(tmp), "%s%d", ifc->ifc_name, unit);
				if (ifunit(tmp) == NULL)
					break;
			}
			if ((uint32_t)unit > ifc->ifc_maxunit)
				return (ENOSPC);
			snprintf(cname, sizeof(cname), "%s%d", ifc->ifc_name, unit);
		}
		ifc->ifc_units[unit] = 1;
		ifc->ifc_refcnt++;
	}
	memset(&ifd, 0, sizeof(ifd));
	ifd.unit = unit < 0 ? 0 : unit;
	ifd.params = params;
	kcheck_save(&st);
	err = ifc->ifc_create(ifc, cname, IFNAMSIZ, &ifd, &ifp);
	kcheck_restore_check(&st, "cloner create_f");
	if (err != 0) {
		if ((ifc->ifc_flags & IFC_F_AUTOUNIT) && unit >= 0) {
			ifc->ifc_units[unit] = 0;
			ifc_rele(ifc);
		}
		return (err);
	}
	if (ifp == NULL) {
		kfail("clone", "cloner %s create_f succeeded without an interface",
		    ifc->ifc_name);
		return (ENXIO);
	}
	LIST_INSERT_HEAD(&ifc->ifc_iflist, ifp, if_clones);
	strlcpy(name, ifp->if_xname, len);
	return (0);
}

int
if_clone_destroy(const char *name)
{
	struct if_clone *ifc;
	struct ifnet *ifp;
	int err;

	ifp = ifunit_ref(name);
	if (ifp == NULL)
		return (ENXIO);
	CURVNET_SET_QUIET(ifp->if_home_vnet);
	LIST_FOREACH(ifc, &V_if_cloners, ifc_list)
		if (ifp->if_dname != NULL && strcmp(ifc->ifc_name, ifp->if_dname) == 0)
			break;
	CURVNET_RESTORE();
	if (ifc == NULL) {
		if_rele(ifp);
		return (EINVAL);
	}
	err = if_clone_destroyif(ifc, ifp);
	if_rele(ifp);
	return (err);
}

/* Cloners still attached whose functions lie in [base, base+size), in any VNET. */
int
kclone_live(unsigned long base, unsigned long size, int report)
{
	struct vnet *vnet;
	struct if_clone *ifc;
	int n = 0;

	LIST_FOREACH(vnet, &vnet_head, vnet_le) {
		CURVNET_SET_QUIET(vnet);
		LIST_FOREACH(ifc, &V_if_cloners, ifc_list)
			if ((unsigned long)ifc->ifc_create >= base &&
			    (unsigned long)ifc->ifc_create < base + size) {
				n++;
				if (report)
					kfail("clone", "cloner \"%s\" still attached in VNET %s "
					    "after unload", ifc->ifc_name, kvnet_name(vnet));
			}
		CURVNET_RESTORE();
	}
	return (n);
}

static void
vnet_clone_init(const void *unused)
{

	LIST_INIT(&V_if_cloners);
}
static struct vnet_sysinit vnet_clone_init_vs = {
	SI_SUB_INIT_IF, SI_ORDER_SECOND, vnet_clone_init, NULL
};

static void
vnet_clone_uninit(const void *unused)
{
	struct if_clone *ifc;

	LIST_FOREACH(ifc, &V_if_cloners, ifc_list)
		kfail("clone", "VNET %s destroyed with cloner \"%s\" still attached",
		    kvnet_name(curvnet), ifc->ifc_name);
}
static struct vnet_sysinit vnet_clone_uninit_vs = {
	SI_SUB_INIT_IF, SI_ORDER_THIRD, vnet_clone_uninit, NULL
};

void
kclone_boot(void)
{

	mtx_init(&if_cloners_mtx, "if_cloners", NULL, MTX_DEF);
	vnet_register_sysinit(&vnet_clone_init_vs);
	vnet_register_sysuninit(&vnet_clone_uninit_vs);
}
