/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * sysctl(9): the MIB tree (net, net.inet, net.inet6 and what modules add under them),
 * oid registration as kern_linker.c does it for a module's set_sysctl_set, the standard
 * handlers, and requests by name as sysctl(8) makes them: the write needs CTLFLAG_WR and
 * privilege, CTLFLAG_VNET oids get arg1 relocated into the current VNET's data.
 */
#include "kern.h"

struct sysctl_oid_list sysctl__children = RB_INITIALIZER(&sysctl__children);

RB_GENERATE(sysctl_oid_list, sysctl_oid, oid_link, cmp_sysctl_oid);

SYSCTL_ROOT_NODE(CTL_NET, net, CTLFLAG_RW | CTLFLAG_MPSAFE, 0, "Network, (see socket.h)");
SYSCTL_NODE(_net, PF_INET, inet, CTLFLAG_RW | CTLFLAG_MPSAFE, 0, "Internet Family");
SYSCTL_NODE(_net, PF_INET6, inet6, CTLFLAG_RW | CTLFLAG_MPSAFE, 0, "Internet6 Family");
SYSCTL_NODE(_net_inet, IPPROTO_IP, ip, CTLFLAG_RW | CTLFLAG_MPSAFE, 0, "IP");

#define	OID_AUTO_ASSIGNED	0x00000001	/* oid_label unused: we keep our own flag */

static int sysctl_auto_flag(struct sysctl_oid *oidp);

void
sysctl_register_oid(struct sysctl_oid *oidp)
{
	struct sysctl_oid_list *parent = oidp->oid_parent;
	struct sysctl_oid *p;
	int n;

	if (parent == NULL) {
		kfail("sysctl", "sysctl_register_oid(%s): no parent", oidp->oid_name);
		return;
	}
	hl_giant_lock();
	RB_FOREACH(p, sysctl_oid_list, parent) {
		if (strcmp(p->oid_name, oidp->oid_name) == 0) {
			hl_giant_unlock();
			kfail("sysctl", "can't re-use a leaf (%s)!", oidp->oid_name);
			return;
		}
	}
	if (oidp->oid_number == OID_AUTO) {
		n = CTL_AUTO_START;
		RB_FOREACH(p, sysctl_oid_list, parent)
			if (p->oid_number >= n)
				n = p->oid_number + 1;
		oidp->oid_number = n;
		(void)sysctl_auto_flag(oidp);
	}
	if (RB_INSERT(sysctl_oid_list, parent, oidp) != NULL) {
		hl_giant_unlock();
		kfail("sysctl", "sysctl_register_oid(%s): number %d taken", oidp->oid_name,
		    oidp->oid_number);
		return;
	}
	oidp->oid_refcnt = 1;
	hl_giant_unlock();
}

/* The oids whose numbers we assigned (OID_AUTO), to give them back at unregister. */
#define	MAXAUTO	256
static struct sysctl_oid *auto_oids[MAXAUTO];

static int
sysctl_auto_flag(struct sysctl_oid *oidp)
{
	int i;

	for (i = 0; i < MAXAUTO; i++)
		if (auto_oids[i] == NULL) {
			auto_oids[i] = oidp;
			return (1);
		}
	return (0);
}

void
sysctl_unregister_oid(struct sysctl_oid *oidp)
{
	int i;

	hl_giant_lock();
	if (RB_FIND(sysctl_oid_list, oidp->oid_parent, oidp) != oidp) {
		hl_giant_unlock();
		kfail("sysctl", "sysctl_unregister_oid(%s): not registered", oidp->oid_name);
		return;
	}
	if ((oidp->oid_kind & CTLTYPE) == CTLTYPE_NODE && !RB_EMPTY(&oidp->oid_children))
		kfail("sysctl", "sysctl_unregister_oid(%s): node still has children",
		    oidp->oid_name);
	RB_REMOVE(sysctl_oid_list, oidp->oid_parent, oidp);
	for (i = 0; i < MAXAUTO; i++)
		if (auto_oids[i] == oidp) {
			auto_oids[i] = NULL;
			oidp->oid_number = OID_AUTO;
		}
	oidp->oid_refcnt = 0;
	hl_giant_unlock();
}

/* Oids registered under the tree whose storage lies in [base, base+size). */
static int
ksysctl_count_in(struct sysctl_oid_list *l, unsigned long base, unsigned long size,
    int report)
{
	struct sysctl_oid *p;
	int n = 0;

	RB_FOREACH(p, sysctl_oid_list, l) {
		if ((unsigned long)p >= base && (unsigned long)p < base + size) {
			n++;
			if (report)
				kfail("sysctl", "sysctl oid \"%s\" still registered after unload",
				    p->oid_name);
		}
		if ((p->oid_kind & CTLTYPE) == CTLTYPE_NODE)
			n += ksysctl_count_in(&p->oid_children, base, size, report);
	}
	return (n);
}

int
ksysctls_in(unsigned long base, unsigned long size, int report)
{

	return (ksysctl_count_in(&sysctl__children, base, size, report));
}

/* ---- Handlers ---- */

int
sysctl_handle_int(SYSCTL_HANDLER_ARGS)
{
	int tmpout, error = 0;

	if (arg1)
		tmpout = *(int *)arg1;
	else
		tmpout = arg2;
	error = SYSCTL_OUT(req, &tmpout, sizeof(int));
	if (error || !req->newptr)
		return (error);
	if (!arg1)
		error = EPERM;
	else
		error = SYSCTL_IN(req, arg1, sizeof(int));
	return (error);
}

int
sysctl_handle_long(SYSCTL_HANDLER_ARGS)
{
	long tmpout;
	int error;

	tmpout = arg1 ? *(long *)arg1 : arg2;
	error = SYSCTL_OUT(req, &tmpout, sizeof(long));
	if (error || !req->newptr)
		return (error);
	if (!arg1)
		return (EPERM);
	return (SYSCTL_IN(req, arg1, sizeof(long)));
}

int
sysctl_handle_64(SYSCTL_HANDLER_ARGS)
{
	uint64_t tmpout;
	int error;

	tmpout = arg1 ? *(uint64_t *)arg1 : (uint64_t)arg2;
	error = SYSCTL_OUT(req, &tmpout, sizeof(uint64_t));
	if (error || !req->newptr)
		return (error);
	if (!arg1)
		return (EPERM);
	return (SYSCTL_IN(req, arg1, sizeof(uint64_t)));
}

int
sysctl_handle_opaque(SYSCTL_HANDLER_ARGS)
{
	int error;

	error = SYSCTL_OUT(req, arg1, arg2);
	if (error || !req->newptr)
		return (error);
	return (SYSCTL_IN(req, arg1, arg2));
}

/* ---- Requests by name ---- */

static int
ksysctl_old(struct sysctl_req *req, const void *p, size_t l)
{
	size_t i = 0;

	if (req->oldptr && req->oldidx <= req->oldlen) {
		i = req->oldlen - req->oldidx;
		if (i > l)
			i = l;
		if (i > 0)
			memcpy((char *)req->oldptr + req->oldidx, p, i);
	}
	req->oldidx += l;
	if (req->oldptr && i != l)
		return (ENOMEM);
	return (0);
}

static int
ksysctl_new(struct sysctl_req *req, void *p, size_t l)
{

	if (!req->newptr)
		return (0);
	if (req->newlen - req->newidx < l)
		return (EINVAL);
	memcpy(p, (const char *)req->newptr + req->newidx, l);
	req->newidx += l;
	return (0);
}

struct sysctl_oid *
ksysctl_lookup(const char *name)
{
	struct sysctl_oid_list *l = &sysctl__children;
	struct sysctl_oid *p = NULL, *found;
	char part[64];
	const char *s = name, *dot;
	size_t n;

	while (*s != '\0') {
		dot = strchr(s, '.');
		n = dot ? (size_t)(dot - s) : strlen(s);
		if (n >= sizeof(part))
			return (NULL);
		memcpy(part, s, n);
		part[n] = '\0';
		found = NULL;
		RB_FOREACH(p, sysctl_oid_list, l)
			if (strcmp(p->oid_name, part) == 0) {
				found = p;
				break;
			}
		if (found == NULL)
			return (NULL);
		p = found;
		s += n;
		if (*s == '.') {
			s++;
			if ((p->oid_kind & CTLTYPE) != CTLTYPE_NODE || p->oid_handler != NULL)
				return (NULL);
			l = &p->oid_children;
		}
	}
	return (p);
}

int
ksysctl_by_name(const char *name, void *old, size_t *oldlenp, const void *new,
    size_t newlen, int user)
{
	struct sysctl_oid *oid;
	struct sysctl_req req;
	struct kcheck_state st;
	void *arg1;
	int error;

	oid = ksysctl_lookup(name);
	if (oid == NULL)
		return (ENOENT);
	if ((oid->oid_kind & CTLTYPE) == CTLTYPE_NODE && oid->oid_handler == NULL)
		return (EISDIR);
	if (new != NULL) {
		if ((oid->oid_kind & CTLFLAG_WR) == 0)
			return (EPERM);
		if (user && (oid->oid_kind & CTLFLAG_ANYBODY) == 0)
			return (EPERM);
	}
	if (oid->oid_handler == NULL)
		return (EINVAL);
	memset(&req, 0, sizeof(req));
	req.td = curthread;
	req.oldptr = old;
	req.oldlen = oldlenp ? *oldlenp : 0;
	req.oldfunc = ksysctl_old;
	req.newptr = new;
	req.newlen = newlen;
	req.newfunc = ksysctl_new;
	req.validlen = req.oldlen;
	arg1 = oid->oid_arg1;
	if ((oid->oid_kind & CTLFLAG_VNET) && arg1 != NULL)
		arg1 = (void *)(curvnet->vnet_data_base + (uintptr_t)arg1);
	oid->oid_running++;
	kcheck_save(&st);
	error = oid->oid_handler(oid, arg1, oid->oid_arg2, &req);
	kcheck_restore_check(&st, "sysctl handler");
	oid->oid_running--;
	if (oldlenp)
		*oldlenp = req.oldidx;
	return (error);
}

/* Kind and format of an oid, for the harness's sysctl(8). */
int
ksysctl_kind(const char *name, unsigned *kind, const char **fmt)
{
	struct sysctl_oid *oid = ksysctl_lookup(name);

	if (oid == NULL)
		return (ENOENT);
	*kind = oid->oid_kind;
	*fmt = oid->oid_fmt;
	return (0);
}

/* Children of a node, one name per call (index n), for "sysctl net.inet.carp". */
const char *
ksysctl_child(const char *name, int n)
{
	struct sysctl_oid *oid = ksysctl_lookup(name), *p;
	int i = 0;

	if (oid == NULL || (oid->oid_kind & CTLTYPE) != CTLTYPE_NODE)
		return (NULL);
	RB_FOREACH(p, sysctl_oid_list, &oid->oid_children)
		if (i++ == n)
			return (p->oid_name);
	return (NULL);
}

void
ksysctl_boot(void)
{

	sysctl_register_oid(&sysctl___net);
	sysctl_register_oid(&sysctl___net_inet);
	sysctl_register_oid(&sysctl___net_inet6);
	sysctl_register_oid(&sysctl___net_inet_ip);
}
