/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * ConcurrencyKit machine description for the FreeBSD amd64 kernel, used instead of
 * Debian's /usr/include/ck_md.h (which enables SSE and pointer packing for userland).
 * net/if_var.h pulls ck_queue.h/ck_epoch.h under _KERNEL; only their declarations and
 * inline helpers matter to carp.ko, and they must match what the kernel was built with:
 * 64-byte cache lines, 4 KiB pages, relaxed memory order, no RTM, no pointer packing,
 * no SSE. On a FreeBSD host sys/contrib/ck/include/ck_md.h is used instead.
 */
#ifndef CK_MD_H
#define	CK_MD_H

#ifndef CK_MD_CACHELINE
#define	CK_MD_CACHELINE		(64)
#endif
#ifndef CK_MD_PAGESIZE
#define	CK_MD_PAGESIZE		(4096)
#endif
#ifndef CK_MD_RTM_DISABLE
#define	CK_MD_RTM_DISABLE
#endif
#ifndef CK_MD_POINTER_PACK_DISABLE
#define	CK_MD_POINTER_PACK_DISABLE
#endif
#ifndef CK_MD_VMA_BITS_UNKNOWN
#define	CK_MD_VMA_BITS_UNKNOWN
#endif
#ifndef CK_MD_RMO
#define	CK_MD_RMO
#endif

#define	CK_VERSION	"0.7.1"
#define	CK_GIT_SHA	""

#endif /* CK_MD_H */
