/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * printf(9), log(9) and the formatter behind them (the conversions kernel code uses:
 * flags - 0 + space #, width and precision with *, length hh h l ll q j z t, and
 * d i u o x X c s p %). Output goes to the host console, one line at a time.
 */
#include "kern.h"

struct kbuf {
	char	*p;
	size_t	 len, pos;
};

static void
kput(struct kbuf *b, char c)
{

	if (b->pos + 1 < b->len)
		b->p[b->pos] = c;
	b->pos++;
}

static void
kput_num(struct kbuf *b, unsigned long long v, int base, int upper, int neg,
    int width, int prec, int left, int zero, int plus, int space, int alt)
{
	char tmp[32];
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int n = 0, total, pad, i;
	char sign = 0;

	if (v == 0 && prec == 0)
		n = 0;
	else {
		do {
			tmp[n++] = digits[v % base];
			v /= base;
		} while (v != 0);
	}
	if (neg)
		sign = '-';
	else if (plus)
		sign = '+';
	else if (space)
		sign = ' ';
	total = n > prec ? n : prec;
	if (sign)
		total++;
	if (alt && base == 16)
		total += 2;
	pad = width > total ? width - total : 0;
	if (!left && !(zero && prec < 0))
		for (i = 0; i < pad; i++)
			kput(b, ' ');
	if (sign)
		kput(b, sign);
	if (alt && base == 16) {
		kput(b, '0');
		kput(b, upper ? 'X' : 'x');
	}
	if (!left && zero && prec < 0)
		for (i = 0; i < pad; i++)
			kput(b, '0');
	for (i = n; i < prec; i++)
		kput(b, '0');
	while (n > 0)
		kput(b, tmp[--n]);
	if (left)
		for (i = 0; i < pad; i++)
			kput(b, ' ');
}

int
kvsnprintf(char *buf, size_t len, const char *fmt, va_list ap)
{
	struct kbuf b = { buf, len, 0 };
	const char *s;
	int left, zero, plus, space, alt, width, prec, lmod;
	unsigned long long u;
	long long sv;

	for (; *fmt != '\0'; fmt++) {
		if (*fmt != '%') {
			kput(&b, *fmt);
			continue;
		}
		fmt++;
		left = zero = plus = space = alt = 0;
		for (;; fmt++) {
			if (*fmt == '-')
				left = 1;
			else if (*fmt == '0')
				zero = 1;
			else if (*fmt == '+')
				plus = 1;
			else if (*fmt == ' ')
				space = 1;
			else if (*fmt == '#')
				alt = 1;
			else
				break;
		}
		width = 0;
		if (*fmt == '*') {
			width = va_arg(ap, int);
			if (width < 0) {
				left = 1;
				width = -width;
			}
			fmt++;
		} else
			while (*fmt >= '0' && *fmt <= '9')
				width = width * 10 + (*fmt++ - '0');
		prec = -1;
		if (*fmt == '.') {
			fmt++;
			prec = 0;
			if (*fmt == '*') {
				prec = va_arg(ap, int);
				fmt++;
			} else
				while (*fmt >= '0' && *fmt <= '9')
					prec = prec * 10 + (*fmt++ - '0');
		}
		lmod = 0;	/* 0 int, 1 long, 2 long long, -1 short, -2 char */
		for (;; fmt++) {
			if (*fmt == 'l')
				lmod++;
			else if (*fmt == 'q' || *fmt == 'j')
				lmod = 2;
			else if (*fmt == 'z' || *fmt == 't')
				lmod = 1;
			else if (*fmt == 'h')
				lmod--;
			else
				break;
		}
		switch (*fmt) {
		case 'd':
		case 'i':
			if (lmod >= 2)
				sv = va_arg(ap, long long);
			else if (lmod == 1)
				sv = va_arg(ap, long);
			else
				sv = va_arg(ap, int);
			if (lmod == -1)
				sv = (short)sv;
			else if (lmod <= -2)
				sv = (signed char)sv;
			kput_num(&b, sv < 0 ? -(unsigned long long)sv : (unsigned long long)sv,
			    10, 0, sv < 0, width, prec, left, zero, plus, space, 0);
			break;
		case 'u':
		case 'x':
		case 'X':
		case 'o':
			if (lmod >= 2)
				u = va_arg(ap, unsigned long long);
			else if (lmod == 1)
				u = va_arg(ap, unsigned long);
			else
				u = va_arg(ap, unsigned int);
			if (lmod == -1)
				u = (unsigned short)u;
			else if (lmod <= -2)
				u = (unsigned char)u;
			kput_num(&b, u, *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16, *fmt == 'X',
			    0, width, prec, left, zero, 0, 0, alt);
			break;
		case 'p':
			u = (unsigned long)va_arg(ap, void *);
			kput_num(&b, u, 16, 0, 0, width, prec, left, zero, 0, 0, 1);
			break;
		case 'c': {
			int i;

			for (i = 1; !left && i < width; i++)
				kput(&b, ' ');
			kput(&b, (char)va_arg(ap, int));
			for (i = 1; left && i < width; i++)
				kput(&b, ' ');
			break;
		}
		case 's': {
			int n, i;

			s = va_arg(ap, const char *);
			if (s == NULL)
				s = "(null)";
			n = 0;
			while (s[n] != '\0' && (prec < 0 || n < prec))
				n++;
			for (i = n; !left && i < width; i++)
				kput(&b, ' ');
			for (i = 0; i < n; i++)
				kput(&b, s[i]);
			for (i = n; left && i < width; i++)
				kput(&b, ' ');
			break;
		}
		case '%':
			kput(&b, '%');
			break;
		case '\0':
			fmt--;
			break;
		default:
			/* Unknown conversion: print it, as a reminder to model it. */
			kput(&b, '%');
			kput(&b, *fmt);
			break;
		}
	}
	if (b.len > 0)
		b.p[b.pos < b.len ? b.pos : b.len - 1] = '\0';
	return ((int)b.pos);
}

/*
 * The console: printf(9) output accumulates until a newline, as the kernel's message
 * buffer shows it; each complete line goes to the host with its log level.
 */
static char cons_line[1024];
static size_t cons_len;
static int cons_level = -1;

static void
kcons_emit(int level, const char *text)
{

	for (; *text != '\0'; text++) {
		if (*text == '\n') {
			cons_line[cons_len] = '\0';
			hl_console(cons_level >= 0 ? cons_level : level, cons_line);
			cons_len = 0;
			cons_level = -1;
			continue;
		}
		if (cons_len == 0)
			cons_level = level;
		if (cons_len + 1 < sizeof(cons_line))
			cons_line[cons_len++] = *text;
	}
}

int
vprintf(const char *fmt, va_list ap)
{
	char buf[1024];
	int n;

	n = kvsnprintf(buf, sizeof(buf), fmt, ap);
	hl_giant_lock();
	kcons_emit(-1, buf);
	hl_giant_unlock();
	return (n);
}

int
printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return (n);
}

void
vlog(int level, const char *fmt, va_list ap)
{
	char buf[1024];

	kvsnprintf(buf, sizeof(buf), fmt, ap);
	hl_giant_lock();
	kcons_emit(level & LOG_PRIMASK, buf);
	hl_giant_unlock();
}

void
log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

int
snprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return (n);
}

int
vsnprintf(char *buf, size_t len, const char *fmt, va_list ap)
{

	return (kvsnprintf(buf, len, fmt, ap));
}
