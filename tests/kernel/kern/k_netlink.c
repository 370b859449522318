/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Netlink, the part FreeBSD 15's generic netlink is made of (sys/netlink/netlink_generic.c,
 * netlink_io.c, netlink_message_writer.c): families registered by id (nlctrl at 16), the
 * nlctrl GETFAMILY command, dispatch of a request to a family's command (EOPNOTSUPP for an
 * unknown family or command, EPERM when cmd_priv is not held by the socket's credentials),
 * the acknowledgement rules (NLMSG_ERROR on NLM_F_ACK or an error, none after a dump's
 * NLMSG_DONE), and the message writer the module's handlers use.
 *
 * Sockets: NETLINK_GENERIC sockets opened by the harness's userland (its ifconfig), each
 * in a VNET with a credential. Messages are processed when sent, in the sending thread
 * (FreeBSD uses the socket's taskqueue thread: also sleepable, outside the epoch, with
 * curvnet the socket's VNET); replies wait in the socket until read.
 */
#include "kern.h"
#include "k_net.h"

#define	GENL_MAX_FAMILIES	20

struct genl_family {
	const char	*family_name;
	uint16_t	 family_hdrsize;
	uint16_t	 family_version;
	uint16_t	 family_attr_max;
	uint16_t	 family_cmd_size;
	struct genl_cmd	*family_cmds;
};
static struct genl_family families[GENL_MAX_FAMILIES];
static struct sx genl_lock;

/* A netlink socket of the simulation. */
struct knlsock {
	int		 in_use;
	struct vnet	*vnet;
	struct ucred	*cred;
	uint32_t	 port;
	char		*rx;		/* replies not read yet */
	size_t		 rxlen, rxcap;
};
#define	KNL_MAXSOCK	16
static struct knlsock nlsocks[KNL_MAXSOCK];
static uint32_t nl_next_port = 0x10000;

/* ---- Families ---- */

uint16_t
genl_register_family(const char *family_name, size_t hdrsize, uint16_t family_version,
    uint16_t max_attr_idx)
{
	uint16_t id = 0;
	int i;

	ksleep_check("genl_register_family");
	sx_xlock(&genl_lock);
	for (i = 0; i < GENL_MAX_FAMILIES; i++)
		if (families[i].family_name != NULL &&
		    strcmp(families[i].family_name, family_name) == 0) {
			sx_xunlock(&genl_lock);
			return (0);
		}
	for (i = 1; i < GENL_MAX_FAMILIES; i++)
		if (families[i].family_name == NULL) {
			families[i].family_name = family_name;
			families[i].family_hdrsize = hdrsize;
			families[i].family_version = family_version;
			families[i].family_attr_max = max_attr_idx;
			families[i].family_cmd_size = 0;
			families[i].family_cmds = NULL;
			id = GENL_MIN_ID + i;
			break;
		}
	sx_xunlock(&genl_lock);
	if (id == 0)
		kfail("netlink", "maximum of %u generic netlink families", GENL_MAX_FAMILIES);
	return (id);
}

static struct genl_family *
genl_family(uint16_t id)
{

	if (id < GENL_MIN_ID || id >= GENL_MIN_ID + GENL_MAX_FAMILIES)
		return (NULL);
	if (families[id - GENL_MIN_ID].family_name == NULL)
		return (NULL);
	return (&families[id - GENL_MIN_ID]);
}

bool
genl_register_cmds(uint16_t family_id, const struct genl_cmd *cmds, u_int count)
{
	struct genl_family *gf;
	struct genl_cmd *n;
	u_int i, size = 0;

	sx_xlock(&genl_lock);
	gf = genl_family(family_id);
	if (gf == NULL) {
		sx_xunlock(&genl_lock);
		kfail("netlink", "genl_register_cmds for unknown family %u", family_id);
		return (false);
	}
	for (i = 0; i < count; i++)
		if (cmds[i].cmd_num + 1 > size)
			size = cmds[i].cmd_num + 1;
	if (size > gf->family_cmd_size) {
		n = malloc(sizeof(*n) * size, M_NETLINK, M_WAITOK | M_ZERO);
		if (gf->family_cmds != NULL)
			memcpy(n, gf->family_cmds, sizeof(*n) * gf->family_cmd_size);
		free(gf->family_cmds, M_NETLINK);
		gf->family_cmds = n;
		gf->family_cmd_size = size;
	}
	for (i = 0; i < count; i++) {
		if (gf->family_cmds[cmds[i].cmd_num].cmd_cb != NULL)
			kfail("netlink", "command %u of family %s registered twice",
			    cmds[i].cmd_num, gf->family_name);
		if (cmds[i].cmd_cb == NULL)
			kfail("netlink", "command %u of family %s without a callback",
			    cmds[i].cmd_num, gf->family_name);
		gf->family_cmds[cmds[i].cmd_num] = cmds[i];
	}
	sx_xunlock(&genl_lock);
	return (true);
}

void
genl_unregister_family(uint16_t family_id)
{
	struct genl_family *gf;

	sx_xlock(&genl_lock);
	gf = genl_family(family_id);
	if (gf == NULL) {
		sx_xunlock(&genl_lock);
		kfail("netlink", "genl_unregister_family of unknown family %u", family_id);
		return;
	}
	free(gf->family_cmds, M_NETLINK);
	memset(gf, 0, sizeof(*gf));
	sx_xunlock(&genl_lock);
}

/* Families whose command callbacks lie in [base, base+size). */
int
kgenl_families_in(unsigned long base, unsigned long size, int report)
{
	int i, j, n = 0;

	for (i = 1; i < GENL_MAX_FAMILIES; i++) {
		struct genl_family *gf = &families[i];

		if (gf->family_name == NULL)
			continue;
		for (j = 0; j < gf->family_cmd_size; j++)
			if ((unsigned long)gf->family_cmds[j].cmd_cb >= base &&
			    (unsigned long)gf->family_cmds[j].cmd_cb < base + size) {
				n++;
				if (report)
					kfail("netlink", "generic netlink family \"%s\" still "
					    "registered after unload", gf->family_name);
				break;
			}
	}
	return (n);
}

/* ---- The writer ---- */

struct kwbuf {
	size_t	 cap;
	size_t	 len;
	char	 data[];
};

bool
nlp_has_priv(struct nlpcb *nlp, int priv)
{
	struct knlsock *s = (struct knlsock *)nlp;

	return (priv_check_cred(s->cred, priv) == 0);
}

static bool
kw_ensure(struct nl_writer *nw, size_t need)
{
	struct kwbuf *b = (struct kwbuf *)nw->buf, *nb;
	size_t cap, hdroff = 0;

	if (b != NULL && b->len + need <= b->cap)
		return (true);
	cap = b ? b->cap * 2 : NLMSG_SMALL;
	while (cap < (b ? b->len : 0) + need)
		cap *= 2;
	nb = malloc(sizeof(*nb) + cap, M_NETLINK, nw->malloc_flag | M_ZERO);
	if (nb == NULL) {
		nw->enomem = true;
		return (false);
	}
	nb->cap = cap;
	if (b != NULL) {
		if (nw->hdr != NULL)
			hdroff = (char *)nw->hdr - b->data;
		memcpy(nb->data, b->data, b->len);
		nb->len = b->len;
		free(b, M_NETLINK);
		if (nw->hdr != NULL)
			nw->hdr = (struct nlmsghdr *)(nb->data + hdroff);
	}
	nw->buf = (struct nl_buf *)nb;
	return (true);
}

bool
nlmsg_add(struct nl_writer *nw, uint32_t portid, uint32_t seq, uint16_t type,
    uint16_t flags, uint32_t len)
{
	struct kwbuf *b;
	struct nlmsghdr *hdr;

	if (nw->hdr != NULL) {
		kfail("netlink", "nlmsg_add while another message is open");
		return (false);
	}
	if (!kw_ensure(nw, NETLINK_ALIGN(len + sizeof(struct nlmsghdr))))
		return (false);
	b = (struct kwbuf *)nw->buf;
	hdr = (struct nlmsghdr *)(b->data + b->len);
	hdr->nlmsg_len = len;
	hdr->nlmsg_type = type;
	hdr->nlmsg_flags = flags;
	hdr->nlmsg_seq = seq;
	hdr->nlmsg_pid = portid;
	nw->hdr = hdr;
	b->len += sizeof(struct nlmsghdr);
	return (true);
}

void *
nlmsg_reserve_data_raw(struct nl_writer *nw, size_t sz)
{
	struct kwbuf *b;
	void *p;

	if (nw->hdr == NULL)
		kfail("netlink", "nlmsg_reserve_data_raw without an open message");
	sz = NETLINK_ALIGN(sz);
	if (!kw_ensure(nw, sz))
		return (NULL);
	b = (struct kwbuf *)nw->buf;
	p = b->data + b->len;
	memset(p, 0, sz);
	b->len += sz;
	return (p);
}

bool
nlattr_add(struct nl_writer *nw, uint16_t attr_type, uint16_t attr_len, const void *data)
{
	struct nlattr *nla;

	nla = nlmsg_reserve_data_raw(nw, sizeof(*nla) + attr_len);
	if (nla == NULL)
		return (false);
	nla->nla_len = sizeof(*nla) + attr_len;
	nla->nla_type = attr_type;
	if (attr_len > 0)
		memcpy(nla + 1, data, attr_len);
	return (true);
}

void
nlmsg_abort(struct nl_writer *nw)
{
	struct kwbuf *b = (struct kwbuf *)nw->buf;

	if (nw->hdr != NULL && b != NULL) {
		b->len = (char *)nw->hdr - b->data;
		nw->hdr = NULL;
	}
}

bool
nlmsg_end(struct nl_writer *nw)
{
	struct kwbuf *b = (struct kwbuf *)nw->buf;

	if (nw->hdr == NULL) {
		kfail("netlink", "nlmsg_end without an open message");
		return (false);
	}
	if (nw->enomem) {
		nlmsg_abort(nw);
		return (false);
	}
	nw->hdr->nlmsg_len = (uint32_t)((b->data + b->len) - (char *)nw->hdr);
	nw->hdr = NULL;
	nw->num_messages++;
	return (true);
}

bool
nlmsg_end_dump(struct nl_writer *nw, int error, struct nlmsghdr *hdr)
{
	int *perror;

	if (!nlmsg_add(nw, hdr->nlmsg_pid, hdr->nlmsg_seq, NLMSG_DONE, 0, sizeof(int)))
		return (false);
	perror = nlmsg_reserve_data_raw(nw, sizeof(int));
	if (perror != NULL)
		*perror = error;
	nlmsg_end(nw);
	nw->suppress_ack = true;
	return (true);
}

/* nlmsg_ack: NLMSG_ERROR with the request (capped to its header on success). */
static void
knl_ack(struct nl_writer *nw, struct knlsock *s, int error, struct nlmsghdr *hdr)
{
	struct nlmsgerr *errmsg;
	int payload;
	bool cap_ack = (error == 0);

	payload = sizeof(struct nlmsgerr);
	if (!cap_ack)
		payload += hdr->nlmsg_len - sizeof(struct nlmsghdr);
	payload = NETLINK_ALIGN(payload);
	if (!nlmsg_add(nw, s->port, hdr->nlmsg_seq, NLMSG_ERROR,
	    cap_ack ? NLM_F_CAPPED : 0, payload))
		return;
	errmsg = nlmsg_reserve_data_raw(nw, payload);
	if (errmsg == NULL) {
		nlmsg_abort(nw);
		return;
	}
	errmsg->error = error;
	memcpy(&errmsg->msg, hdr, cap_ack ? sizeof(*hdr) : hdr->nlmsg_len);
	nlmsg_end(nw);
}

/* ---- nlctrl ---- */

static int
nlctrl_getfamily(struct nlmsghdr *hdr, struct nl_pstate *npt)
{
	struct nl_writer *nw = npt->nw;
	struct genlmsghdr *ghdr;
	struct genl_family *gf = NULL;
	struct nlattr *nla, *ops, *op;
	char *p = (char *)(hdr + 1) + GENL_HDRLEN, *end = (char *)hdr + hdr->nlmsg_len;
	const char *name = NULL;
	int id = -1, i, n;
	size_t off;

	while (p + sizeof(*nla) <= end) {
		nla = (struct nlattr *)p;
		if (nla->nla_len < sizeof(*nla))
			return (EINVAL);
		if (p + NLA_ALIGN(nla->nla_len) > end && p + nla->nla_len > end)
			break;
		if ((nla->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_NAME) {
			size_t l = nla->nla_len - sizeof(*nla);

			if (l == 0 || memchr(nla + 1, '\0', l) == NULL)
				return (EINVAL);
			name = (const char *)(nla + 1);
		} else if ((nla->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID) {
			if (nla->nla_len != sizeof(*nla) + 2)
				return (EINVAL);
			id = *(uint16_t *)(nla + 1);
		}
		p += NLA_ALIGN(nla->nla_len);
	}
	for (i = 0; i < GENL_MAX_FAMILIES; i++) {
		struct genl_family *f = &families[i];

		if (f->family_name == NULL)
			continue;
		if (name != NULL && strcmp(f->family_name, name) != 0)
			continue;
		if (id >= 0 && id != GENL_MIN_ID + i)
			continue;
		gf = f;
		break;
	}
	if (gf == NULL)
		return (ENOENT);
	if (!nlmsg_reply(nw, hdr, GENL_HDRLEN))
		return (ENOMEM);
	ghdr = nlmsg_reserve_object(nw, struct genlmsghdr);
	ghdr->cmd = CTRL_CMD_NEWFAMILY;
	ghdr->version = gf->family_version;
	ghdr->reserved = 0;
	{
		uint16_t fid = GENL_MIN_ID + (gf - families);
		uint32_t v;

		nlattr_add(nw, CTRL_ATTR_FAMILY_NAME, strlen(gf->family_name) + 1,
		    gf->family_name);
		nlattr_add(nw, CTRL_ATTR_FAMILY_ID, sizeof(fid), &fid);
		v = gf->family_version;
		nlattr_add(nw, CTRL_ATTR_VERSION, sizeof(v), &v);
		v = gf->family_hdrsize;
		nlattr_add(nw, CTRL_ATTR_HDRSIZE, sizeof(v), &v);
		v = gf->family_attr_max;
		nlattr_add(nw, CTRL_ATTR_MAXATTR, sizeof(v), &v);
	}
	if (gf->family_cmd_size > 0) {
		struct kwbuf *b = (struct kwbuf *)nw->buf;

		off = b->len;
		ops = nlmsg_reserve_data_raw(nw, sizeof(*ops));
		if (ops == NULL)
			goto enomem;
		n = 0;
		for (i = 0; i < gf->family_cmd_size; i++) {
			struct genl_cmd *c = &gf->family_cmds[i];
			size_t ooff;
			uint32_t v;

			if (c->cmd_cb == NULL)
				continue;
			b = (struct kwbuf *)nw->buf;
			ooff = b->len;
			op = nlmsg_reserve_data_raw(nw, sizeof(*op));
			if (op == NULL)
				goto enomem;
			v = c->cmd_num;
			nlattr_add(nw, CTRL_ATTR_OP_ID, sizeof(v), &v);
			v = c->cmd_flags | (c->cmd_priv ? GENL_ADMIN_PERM : 0);
			nlattr_add(nw, CTRL_ATTR_OP_FLAGS, sizeof(v), &v);
			b = (struct kwbuf *)nw->buf;
			op = (struct nlattr *)(b->data + ooff);
			op->nla_type = ++n;
			op->nla_len = b->len - ooff;
		}
		b = (struct kwbuf *)nw->buf;
		ops = (struct nlattr *)(b->data + off);
		ops->nla_type = CTRL_ATTR_OPS;
		ops->nla_len = b->len - off;
	}
	if (nlmsg_end(nw))
		return (0);
enomem:
	nlmsg_abort(nw);
	return (ENOMEM);
}

static const struct genl_cmd nlctrl_cmds[] = {
	{
		.cmd_num = CTRL_CMD_GETFAMILY,
		.cmd_name = "GETFAMILY",
		.cmd_cb = nlctrl_getfamily,
		.cmd_flags = GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL,
	},
};

/* ---- Dispatch ---- */

static int
genl_handle_message(struct nlmsghdr *hdr, struct nl_pstate *npt)
{
	struct genlmsghdr *ghdr;
	struct genl_family *gf;
	struct genl_cmd *cmd;
	struct kcheck_state st;
	int error;

	if (hdr->nlmsg_len < sizeof(struct nlmsghdr) + GENL_HDRLEN)
		return (EINVAL);
	gf = genl_family(hdr->nlmsg_type);
	if (gf == NULL)
		return (EOPNOTSUPP);
	ghdr = (struct genlmsghdr *)(hdr + 1);
	if (ghdr->cmd >= gf->family_cmd_size || gf->family_cmds[ghdr->cmd].cmd_cb == NULL)
		return (EOPNOTSUPP);
	cmd = &gf->family_cmds[ghdr->cmd];
	if (cmd->cmd_priv != 0 && !nlp_has_priv(npt->nlp, cmd->cmd_priv))
		return (EPERM);
	kcheck_save(&st);
	error = cmd->cmd_cb(hdr, npt);
	kcheck_restore_check(&st, "generic netlink command");
	return (error);
}

static void
knl_rx_append(struct knlsock *s, const char *data, size_t len)
{
	char *n;

	if (s->rxlen + len > s->rxcap) {
		size_t cap = s->rxcap ? s->rxcap : 1024;

		while (cap < s->rxlen + len)
			cap *= 2;
		n = hl_alloc(cap);
		if (s->rx != NULL) {
			memcpy(n, s->rx, s->rxlen);
			hl_release(s->rx, s->rxcap);
		}
		s->rx = n;
		s->rxcap = cap;
	}
	memcpy(s->rx + s->rxlen, data, len);
	s->rxlen += len;
}

int
hk_nl_open(const char *vnet_name, int user)
{
	struct vnet *vnet = kvnet_byname(vnet_name);
	int i;

	if (vnet == NULL)
		return (-ENOENT);
	for (i = 0; i < KNL_MAXSOCK; i++)
		if (!nlsocks[i].in_use) {
			memset(&nlsocks[i], 0, sizeof(nlsocks[i]));
			nlsocks[i].in_use = 1;
			nlsocks[i].vnet = vnet;
			nlsocks[i].cred = user ? &cred_user : &cred_root;
			nlsocks[i].port = nl_next_port++;
			return (i);
		}
	return (-EMFILE);
}

void
hk_nl_close(int fd)
{
	struct knlsock *s;

	if (fd < 0 || fd >= KNL_MAXSOCK || !nlsocks[fd].in_use)
		return;
	s = &nlsocks[fd];
	if (s->rx != NULL)
		hl_release(s->rx, s->rxcap);
	memset(s, 0, sizeof(*s));
}

uint32_t
hk_nl_port(int fd)
{

	return (fd >= 0 && fd < KNL_MAXSOCK ? nlsocks[fd].port : 0);
}

/* send(2) of a buffer of netlink messages (nl_process_nbuf); returns 0 or an errno. */
int
hk_nl_send(int fd, const void *buf, unsigned long len)
{
	struct knlsock *s;
	struct nl_writer nw;
	struct nl_pstate npt;
	struct nlmsghdr *hdr;
	char *copy, scratch[256];
	size_t offset = 0;
	int error;

	if (fd < 0 || fd >= KNL_MAXSOCK || !nlsocks[fd].in_use)
		return (EBADF);
	s = &nlsocks[fd];
	copy = malloc(len ? len : 1, M_NETLINK, M_WAITOK);
	memcpy(copy, buf, len);
	memset(&nw, 0, sizeof(nw));
	nw.nlp = (struct nlpcb *)s;
	nw.malloc_flag = M_NOWAIT;
	nw.ignore_limit = true;
	CURVNET_SET(s->vnet);
	while (offset + sizeof(struct nlmsghdr) <= len) {
		hdr = (struct nlmsghdr *)(copy + offset);
		if (hdr->nlmsg_len > len - offset || hdr->nlmsg_len < sizeof(*hdr))
			break;	/* EINVAL: no reply, the rest of the buffer is dropped */
		hdr->nlmsg_pid = s->port;
		memset(&npt, 0, sizeof(npt));
		npt.lb.base = scratch;
		npt.lb.size = sizeof(scratch);
		npt.nlp = (struct nlpcb *)s;
		npt.nw = &nw;
		npt.hdr = hdr;
		nw.suppress_ack = false;
		error = 0;
		if ((hdr->nlmsg_flags & NLM_F_REQUEST) && hdr->nlmsg_type >= NLMSG_MIN_TYPE)
			error = genl_handle_message(hdr, &npt);
		if (nw.hdr != NULL) {
			kfail("netlink", "a netlink handler returned with a message still open");
			nlmsg_abort(&nw);
		}
		if (((hdr->nlmsg_flags & NLM_F_ACK) || (error != 0 && error != EINTR)) &&
		    !nw.suppress_ack)
			knl_ack(&nw, s, error, hdr);
		offset += NLMSG_ALIGN(hdr->nlmsg_len);
	}
	CURVNET_RESTORE();
	if (nw.buf != NULL) {
		struct kwbuf *b = (struct kwbuf *)nw.buf;

		knl_rx_append(s, b->data, b->len);
		free(b, M_NETLINK);
	}
	free(copy, M_NETLINK);
	return (0);
}

/* recv(2): everything waiting, up to cap bytes; returns the length. */
long
hk_nl_recv(int fd, void *buf, unsigned long cap)
{
	struct knlsock *s;
	size_t n;

	if (fd < 0 || fd >= KNL_MAXSOCK || !nlsocks[fd].in_use)
		return (-EBADF);
	s = &nlsocks[fd];
	n = s->rxlen < cap ? s->rxlen : cap;
	memcpy(buf, s->rx, n);
	memmove(s->rx, s->rx + n, s->rxlen - n);
	s->rxlen -= n;
	return ((long)n);
}

void
knetlink_boot(void)
{

	sx_init(&genl_lock, "genetlink lock");
	families[0].family_name = "nlctrl";
	families[0].family_version = 2;
	families[0].family_hdrsize = 0;
	families[0].family_attr_max = CTRL_ATTR_MAX;
	families[0].family_cmd_size = CTRL_CMD_GETFAMILY + 1;
	families[0].family_cmds = malloc(sizeof(struct genl_cmd) *
	    (CTRL_CMD_GETFAMILY + 1), M_NETLINK, M_WAITOK | M_ZERO);
	families[0].family_cmds[CTRL_CMD_GETFAMILY] = nlctrl_cmds[0];
}
