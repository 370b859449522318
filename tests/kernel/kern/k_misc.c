/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * libkern and small kernel services: the string and memory functions, copyin/copyout
 * against the simulated process's memory, priv(9), devctl_notify(9), kernel environment
 * (loader tunables), arc4random(9).
 */
#include "kern.h"

#undef memcpy
#undef memmove
#undef memset
#undef memcmp
#undef bcopy
#undef bzero
#undef strlen
#undef bcmp
#undef strcmp
#undef strcpy
#undef strncmp
#undef strchr
#undef strlcpy
#undef strlcat
#undef strnlen
#undef memchr
#undef explicit_bzero

/* ---- libkern ---- */

void *
memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return (dst);
}

void *
memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d < s)
		while (n--)
			*d++ = *s++;
	else {
		d += n;
		s += n;
		while (n--)
			*--d = *--s;
	}
	return (dst);
}

void *
memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;

	while (n--)
		*d++ = (unsigned char)c;
	return (dst);
}

int
memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n > 0; n--, p++, q++)
		if (*p != *q)
			return (*p - *q);
	return (0);
}

int
bcmp(const void *a, const void *b, size_t n)
{

	return (memcmp(a, b, n) != 0);
}

void
bcopy(const void *src, void *dst, size_t n)
{

	memmove(dst, src, n);
}

void
bzero(void *dst, size_t n)
{

	memset(dst, 0, n);
}

void
explicit_bzero(void *dst, size_t n)
{

	memset(dst, 0, n);
}

size_t
strlen(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	return (n);
}

size_t
strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n] != '\0')
		n++;
	return (n);
}

int
strcmp(const char *a, const char *b)
{

	while (*a != '\0' && *a == *b) {
		a++;
		b++;
	}
	return ((unsigned char)*a - (unsigned char)*b);
}

int
strncmp(const char *a, const char *b, size_t n)
{

	for (; n > 0; n--, a++, b++) {
		if (*a != *b)
			return ((unsigned char)*a - (unsigned char)*b);
		if (*a == '\0')
			return (0);
	}
	return (0);
}

void *
memchr(const void *s, int c, size_t n)
{
	const unsigned char *p = s;

	for (; n > 0; n--, p++)
		if (*p == (unsigned char)c)
			return ((void *)(uintptr_t)p);
	return (NULL);
}

char *
strchr(const char *s, int c)
{

	for (;; s++) {
		if (*s == (char)c)
			return ((char *)(uintptr_t)s);
		if (*s == '\0')
			return (NULL);
	}
}

size_t
strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return (n);
}

size_t
strlcat(char *dst, const char *src, size_t size)
{
	size_t d = strnlen(dst, size);

	if (d == size)
		return (size + strlen(src));
	return (d + strlcpy(dst + d, src, size - d));
}

/* ---- User memory: copyin(9)/copyout(9) ---- */

/*
 * The simulated process's address space is the set of buffers the harness registered
 * (the "user" side of an ioctl or a netlink message); any other address faults (EFAULT).
 */
#define	MAXUREGIONS	64
static struct {
	const char	*base;
	size_t		 len;
} uregions[MAXUREGIONS];

void
hk_user_map(const void *base, unsigned long len)
{
	int i;

	for (i = 0; i < MAXUREGIONS; i++)
		if (uregions[i].base == NULL) {
			uregions[i].base = base;
			uregions[i].len = len;
			return;
		}
	kfatal("too many user regions");
}

void
hk_user_unmap(const void *base)
{
	int i;

	for (i = 0; i < MAXUREGIONS; i++)
		if (uregions[i].base == base)
			uregions[i].base = NULL;
}

int
kuser_valid(const void *uaddr, size_t len)
{
	const char *p = uaddr;
	int i;

	if (p == NULL)
		return (0);
	for (i = 0; i < MAXUREGIONS; i++)
		if (uregions[i].base != NULL && p >= uregions[i].base &&
		    len <= uregions[i].len && p <= uregions[i].base + uregions[i].len - len)
			return (1);
	return (0);
}

/*
 * A thread held inside the module (script `hold-copyin`): the next copyin or copyout the
 * module makes sleeps, as one waiting on a page fault would, until released. It lets a
 * test keep a system call inside a CARP hook (SIOCSVH/SIOCGVH) while it unloads.
 */
static int khold_state;		/* 0 off, 1 armed, 2 holding */
static int khold_released;

static void
khold_point(const void *caller)
{

	if (khold_state != 1 || !kaddr_in_module(caller))
		return;
	khold_state = 2;
	while (!khold_released)
		(void)ksleep_nocheck(&khold_state, 0, "hold");
	khold_state = 0;
	khold_released = 0;
}

/* op 1: arm, 2: release, 0: query (0 off, 1 armed, 2 holding a thread). */
int
hk_hold(int op)
{

	if (op == 1) {
		khold_state = 1;
		khold_released = 0;
	} else if (op == 2) {
		if (khold_state == 2)
			khold_released = 1;
		else
			khold_state = 0;
		kwakeup(&khold_state);
	}
	return (khold_state);
}

int
copyin(const void *uaddr, void *kaddr, size_t len)
{

	ksleep_check("copyin");
	khold_point(__builtin_return_address(0));
	if (len == 0)
		return (0);
	if (!kuser_valid(uaddr, len))
		return (EFAULT);
	memcpy(kaddr, uaddr, len);
	return (0);
}

int
copyout(const void *kaddr, void *uaddr, size_t len)
{

	ksleep_check("copyout");
	khold_point(__builtin_return_address(0));
	if (len == 0)
		return (0);
	if (!kuser_valid(uaddr, len))
		return (EFAULT);
	memcpy(uaddr, kaddr, len);
	return (0);
}

void
kuser_boot(void)
{
}

/* ---- priv(9) ---- */

int
priv_check_cred(struct ucred *cred, int priv)
{

	if (priv <= 0 || priv >= _PRIV_HIGHEST)
		kfail("priv", "priv_check with invalid privilege %d", priv);
	/* Root (in any jail of this simulation, all VNET jails) has every network privilege. */
	return (cred != NULL && cred->cr_uid == 0 ? 0 : EPERM);
}

int
priv_check(struct thread *td, int priv)
{

	if (td != curthread)
		kfail("priv", "priv_check with a thread other than curthread");
	return (priv_check_cred(td->td_ucred, priv));
}

/* ---- devctl(4) ---- */

void
devctl_notify(const char *system, const char *subsystem, const char *type,
    const char *data)
{
	char buf[1016];
	int n;

	if (system == NULL || subsystem == NULL || type == NULL)
		return;
	n = snprintf(buf, sizeof(buf), "!system=%s subsystem=%s type=%s%s%s", system,
	    subsystem, type, data ? " " : "", data ? data : "");
	if (n >= (int)sizeof(buf))
		return;
	hl_devctl(buf);
}

/* ---- Kernel environment (loader.conf tunables) ---- */

#define	MAXKENV	32
static struct {
	char	name[64];
	char	value[64];
} kenv[MAXKENV];

void
hk_kenv_set(const char *name, const char *value)
{
	int i, free_slot = -1;

	for (i = 0; i < MAXKENV; i++) {
		if (kenv[i].name[0] == '\0') {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (strcmp(kenv[i].name, name) == 0) {
			if (value == NULL)
				kenv[i].name[0] = '\0';
			else
				strlcpy(kenv[i].value, value, sizeof(kenv[i].value));
			return;
		}
	}
	if (value == NULL || free_slot < 0)
		return;
	strlcpy(kenv[free_slot].name, name, sizeof(kenv[free_slot].name));
	strlcpy(kenv[free_slot].value, value, sizeof(kenv[free_slot].value));
}

static const char *
kenv_get(const char *name)
{
	int i;

	for (i = 0; i < MAXKENV; i++)
		if (kenv[i].name[0] != '\0' && strcmp(kenv[i].name, name) == 0)
			return (kenv[i].value);
	return (NULL);
}

/* getenv_quad's parsing: an optional sign, decimal/0x hex/0 octal, k/m/g/t suffixes. */
static int
kenv_parse_quad(const char *s, quad_t *out)
{
	quad_t v = 0;
	int neg = 0, base = 10, any = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	} else if (s[0] == '0' && s[1] != '\0')
		base = 8;
	for (; *s != '\0'; s++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (d >= base)
			return (0);
		v = v * base + d;
		any = 1;
	}
	if (!any)
		return (0);
	switch (*s) {
	case 't': case 'T':
		v <<= 10;
		/* FALLTHROUGH */
	case 'g': case 'G':
		v <<= 10;
		/* FALLTHROUGH */
	case 'm': case 'M':
		v <<= 10;
		/* FALLTHROUGH */
	case 'k': case 'K':
		v <<= 10;
		s++;
		break;
	}
	if (*s != '\0')
		return (0);
	*out = neg ? -v : v;
	return (1);
}

int
getenv_quad(const char *name, quad_t *data)
{
	const char *v = kenv_get(name);

	if (v == NULL)
		return (0);
	return (kenv_parse_quad(v, data));
}

int
getenv_int(const char *name, int *data)
{
	quad_t tmp;
	int rval;

	rval = getenv_quad(name, &tmp);
	if (rval)
		*data = (int)tmp;
	return (rval);
}

/* ---- arc4random(9): deterministic (a seeded xorshift) for reproducible runs ---- */

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

void
hk_random_seed(hk_u64 seed)
{

	rnd_state = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

uint32_t
arc4random(void)
{
	uint64_t x;

	hl_giant_lock();
	x = rnd_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rnd_state = x;
	hl_giant_unlock();
	return ((uint32_t)(x >> 32));
}

void
arc4random_buf(void *buf, size_t len)
{
	unsigned char *p = buf;
	uint32_t r = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if ((i & 3) == 0)
			r = arc4random();
		p[i] = (unsigned char)(r >> ((i & 3) * 8));
	}
}
