/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * mbuf(9) and packet tags (sys/kern/kern_mbuf.c, uipc_mbuf.c, uipc_mbuf2.c): the
 * functions behind the header's inline helpers. Clusters are real external storage
 * (M_EXT, one reference), tags are malloc'd with their free callback, and every
 * allocation made from the module counts for fault injection.
 */
#include "kern.h"
#include "k_net.h"

MALLOC_DECLARE(M_TAG);
MALLOC_DECLARE(M_MBUF_SIM);
extern uma_zone_t zone_clust, zone_jumbop;

int	kfault_should_fail_from(const char *site, const void *caller);

int
m_pkthdr_init(struct mbuf *m, int how)
{

	m->m_data = m->m_pktdat;
	memset(&m->m_pkthdr, 0, sizeof(m->m_pkthdr));
	return (0);
}

struct mbuf *
m_get2(int size, int how, short type, int flags)
{
	struct mb_args args;
	struct mbuf *m;
	uma_zone_t zone;
	void *buf;

	if ((how & M_NOWAIT) && kfault_should_fail_from("m_get2",
	    __builtin_return_address(0)))
		return (NULL);
	args.flags = flags;
	args.type = type;
	if (size <= MHLEN || (size <= MLEN && (flags & M_PKTHDR) == 0))
		return (uma_zalloc_arg(zone_mbuf, &args, how));
	if (size > MJUMPAGESIZE)
		return (NULL);
	zone = size <= MCLBYTES ? zone_clust : zone_jumbop;
	m = uma_zalloc_arg(zone_mbuf, &args, how);
	if (m == NULL)
		return (NULL);
	buf = uma_zalloc_arg(zone, NULL, how);
	if (buf == NULL) {
		uma_zfree_arg(zone_mbuf, m, NULL);
		return (NULL);
	}
	m->m_ext.ext_buf = buf;
	m->m_ext.ext_size = size <= MCLBYTES ? MCLBYTES : MJUMPAGESIZE;
	m->m_ext.ext_type = size <= MCLBYTES ? EXT_CLUSTER : EXT_JUMBOP;
	m->m_ext.ext_flags = EXT_FLAG_EMBREF;
	m->m_ext.ext_count = 1;
	m->m_data = buf;
	m->m_flags |= M_EXT;
	return (m);
}

void
mb_free_ext(struct mbuf *m)
{

	if (m->m_ext.ext_type == EXT_CLUSTER)
		uma_zfree_arg(zone_clust, m->m_ext.ext_buf, NULL);
	else if (m->m_ext.ext_type == EXT_JUMBOP)
		uma_zfree_arg(zone_jumbop, m->m_ext.ext_buf, NULL);
	else
		kfail("mbuf", "mb_free_ext of external storage type %d", m->m_ext.ext_type);
	m->m_flags &= ~M_EXT;
	uma_zfree_arg(zone_mbuf, m, NULL);
}

void
mb_free_extpg(struct mbuf *m)
{

	kfail("mbuf", "unmapped mbufs are not modelled");
}

void
m_snd_tag_destroy(struct m_snd_tag *mst)
{

	kfail("mbuf", "send tags are not modelled");
}

void
m_freem(struct mbuf *m)
{

	while (m != NULL)
		m = m_free(m);
}

void
m_copydata(const struct mbuf *m, int off, int len, caddr_t cp)
{
	u_int count;

	if (off < 0 || len < 0) {
		kfail("mbuf", "m_copydata, negative off %d or len %d", off, len);
		return;
	}
	while (off > 0) {
		if (m == NULL) {
			kfail("mbuf", "m_copydata, offset > size of mbuf chain");
			return;
		}
		if (off < m->m_len)
			break;
		off -= m->m_len;
		m = m->m_next;
	}
	while (len > 0) {
		if (m == NULL) {
			kfail("mbuf", "m_copydata, length > size of mbuf chain");
			return;
		}
		count = min(m->m_len - off, len);
		memcpy(cp, mtod(m, caddr_t) + off, count);
		len -= count;
		cp += count;
		off = 0;
		m = m->m_next;
	}
}

void
m_adj(struct mbuf *mp, int req_len)
{
	struct mbuf *m;
	int len = req_len;

	if ((m = mp) == NULL)
		return;
	if (len >= 0) {
		while (m != NULL && len > 0) {
			if (m->m_len <= len) {
				len -= m->m_len;
				m->m_len = 0;
				m = m->m_next;
			} else {
				m->m_len -= len;
				m->m_data += len;
				len = 0;
			}
		}
		if (mp->m_flags & M_PKTHDR)
			mp->m_pkthdr.len -= (req_len - len);
	} else {
		/* Trim from the tail (single-mbuf chains are all the harness builds). */
		len = -len;
		for (m = mp; m->m_next != NULL; m = m->m_next)
			;
		if (m->m_len >= len) {
			m->m_len -= len;
			if (mp->m_flags & M_PKTHDR)
				mp->m_pkthdr.len -= len;
		}
	}
}

struct mbuf *
m_prepend(struct mbuf *m, int len, int how)
{
	struct mbuf *mn;

	if (m->m_flags & M_PKTHDR)
		mn = m_gethdr(how, m->m_type);
	else
		mn = m_get(how, m->m_type);
	if (mn == NULL) {
		m_freem(m);
		return (NULL);
	}
	if (m->m_flags & M_PKTHDR) {
		/* m_move_pkthdr */
		mn->m_flags = (mn->m_flags & (M_EXT | M_EXTPG)) |
		    (m->m_flags & M_COPYFLAGS);
		mn->m_pkthdr = m->m_pkthdr;
		mn->m_data = mn->m_pktdat;
		SLIST_INIT(&m->m_pkthdr.tags);
		m->m_flags &= ~M_PKTHDR;
	}
	mn->m_next = m;
	m = mn;
	if (len < (int)M_SIZE(m))
		m->m_data += M_SIZE(m) - len;
	m->m_len = len;
	return (m);
}

/* ---- Packet tags ---- */

void
m_tag_free_default(struct m_tag *t)
{

	free(t, M_TAG);
}

struct m_tag *
m_tag_alloc(uint32_t cookie, uint16_t type, int len, int wait)
{
	struct m_tag *t;

	if (wait & M_WAITOK)
		ksleep_check("m_tag_alloc(M_WAITOK)");
	else if (kfault_should_fail_from("m_tag_alloc", __builtin_return_address(0)))
		return (NULL);
	if (len < 0)
		return (NULL);
	t = malloc(len + sizeof(struct m_tag), M_TAG, wait);
	if (t == NULL)
		return (NULL);
	m_tag_setup(t, cookie, type, len);
	t->m_tag_free = m_tag_free_default;
	return (t);
}

void
m_tag_delete(struct mbuf *m, struct m_tag *t)
{

	m_tag_unlink(m, t);
	m_tag_free(t);
}

void
m_tag_delete_chain(struct mbuf *m, struct m_tag *t)
{
	struct m_tag *p, *q;

	if (t != NULL)
		p = t;
	else
		p = SLIST_FIRST(&m->m_pkthdr.tags);
	if (p == NULL)
		return;
	while ((q = SLIST_NEXT(p, m_tag_link)) != NULL)
		m_tag_delete(m, q);
	m_tag_delete(m, p);
}

struct m_tag *
m_tag_locate(struct mbuf *m, uint32_t cookie, uint16_t type, struct m_tag *t)
{
	struct m_tag *p;

	if (t == NULL)
		p = SLIST_FIRST(&m->m_pkthdr.tags);
	else
		p = SLIST_NEXT(t, m_tag_link);
	while (p != NULL) {
		if (p->m_tag_cookie == cookie && p->m_tag_id == type)
			return (p);
		p = SLIST_NEXT(p, m_tag_link);
	}
	return (NULL);
}

/* ---- bpf(4): interfaces may attach; nothing listens in the simulation ---- */

static int bpf_dummy;

void
bpfattach(struct ifnet *ifp, u_int dlt, u_int hdrlen)
{

	if (ifp->if_bpf != NULL)
		kfail("bpf", "bpfattach(%s) twice", ifp->if_xname);
	ifp->if_bpf = (struct bpf_if *)&bpf_dummy;
}

void
bpfdetach(struct ifnet *ifp)
{

	ifp->if_bpf = NULL;
}
