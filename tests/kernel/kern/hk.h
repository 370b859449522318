/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The one boundary between the simulated FreeBSD kernel (tests/kernel/kern/ (C), compiled
 * against FreeBSD 15's headers) and the Linux side of the harness (tests/kernel/src/ (Rust)).
 * Like rump's "rumpuser" interface: plain C types only, no FreeBSD or Linux header.
 *
 *   hl_*  Linux services the simulated kernel calls (implemented in Rust, src/host.rs and
 *         src/sched.rs): memory, console, failure reports, the clock, the scheduler.
 *   hk_*  entry points of the simulated kernel the Linux side calls (kern/k_api.c and the
 *         files named there): boot, the loader's kernel half, "system calls" made by the
 *         commands of a test script, and inspection for expectations.
 *
 * Every hk_* entry point must be called on a thread the simulated kernel knows (the main
 * thread after hk_boot, or a thread it started), holding the CPU (see src/sched.rs).
 */
#ifndef HK_H
#define HK_H

typedef unsigned long long hk_u64;
typedef long long hk_i64;

/* ------------------------------------------------------------------------------------
 * Linux services
 */
void	*hl_alloc(unsigned long size);		/* zeroed; never NULL (aborts) */
void	 hl_release(void *p, unsigned long size);
__attribute__((noreturn)) void hl_fatal(const char *msg);
/* A check of the simulated kernel failed (the test fails; execution goes on). */
void	 hl_fail(const char *check, const char *msg);
/* A line of kernel output: level -1 is printf(9), otherwise log(9)'s priority. */
void	 hl_console(int level, const char *line);
/* A devctl(4) event as devd(8) reads it ("!system=CARP subsystem=... type=..."). */
void	 hl_devctl(const char *line);
/* A frame that left an interface attached to wire `wire` (for captures). */
void	 hl_capture(int wire, const unsigned char *frame, unsigned len);
/* Live wires (src/live.rs): a transmitted frame out on the attached Linux interface; a
 * frame received there (0 after 100 ms without one, -1 on error). */
void	 hl_wire_out(int wire, const unsigned char *frame, unsigned len);
int	 hl_wire_recv(int fd, unsigned char *buf, unsigned len);
/* Uptime in nanoseconds: the virtual clock, or CLOCK_MONOTONIC since boot. */
hk_u64	 hl_uptime_ns(void);
/* 1 when the clock is virtual and threads run one at a time (the default). */
int	 hl_virtual(void);
/* The scheduler lock: guards the simulated kernel's own structures (no-op when virtual). */
void	 hl_giant_lock(void);
void	 hl_giant_unlock(void);
/*
 * Sleeps on chan until hl_wakeup(chan) or until the uptime reaches deadline_ns (0: no
 * deadline). Called with the giant held; returns with it held. 0: woken, 1: timed out.
 */
int	 hl_sleep(const void *chan, hk_u64 deadline_ns, const char *wmesg);
void	 hl_wakeup(const void *chan);
/* Starts a kernel thread: a host thread whose GS base is pcpu, running fn(arg). */
void	 hl_thread_start(const char *name, void *pcpu, void (*fn)(void *), void *arg);
/* Sets the calling host thread's GS base (ARCH_SET_GS). */
void	 hl_set_gs(void *pcpu);
/* Prints "symbol+offset" of a code address of the module (or of the harness) into buf. */
void	 hl_symbolize(unsigned long addr, char *buf, unsigned long len);

/* ------------------------------------------------------------------------------------
 * Simulated kernel entry points
 */

/* Boot: threads, VNET 0, lo0, the protocols. Returns 0. */
int	 hk_boot(void);

/* The kernel's symbol table, for the loader: address of a kernel symbol, 0 if none. */
unsigned long hk_kernel_symbol(const char *name);
/* vnet_data_alloc(9)/vnet_data_copy(9) for a module's set_vnet. */
void	*hk_vnet_data_alloc(unsigned long size);
void	 hk_vnet_data_copy(void *start, unsigned long size);
void	 hk_vnet_data_free(void *start, unsigned long size);

/* One loaded file, described by the loader (kern_linker.c's half of kldload). */
struct hk_linker_set {
	const char	*name;		/* without "set_" */
	unsigned long	 start, stop;
};
struct hk_kld {
	const char	*filename;	/* "carp.ko" */
	unsigned long	 base, size;	/* the mapping */
	unsigned long	 text_start, text_end;
	int		 nsets;
	struct hk_linker_set sets[16];
	unsigned long	 vnet_start, vnet_size;	/* set_vnet once placed, 0 if none */
};
/* Metadata checks (module name, kernel version) then sysctls, sysinits, MOD_LOAD. */
int	 hk_kld_link(struct hk_kld *kld, char *errbuf, unsigned long errlen);
/* kldunload: MOD_QUIESCE, MOD_UNLOAD, sysuninits, sysctls, leak checks. */
int	 hk_kld_unlink(struct hk_kld *kld);
/* After the module's memory is gone: every check that nothing of it is left. */
void	 hk_kld_gone(unsigned long base, unsigned long size);

/* The simulated __FreeBSD_version. */
int	 hk_osreldate(void);

#endif /* HK_H */
