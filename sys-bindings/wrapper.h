/*
 * The headers sys-bindings binds. Order matters: FreeBSD kernel headers are not
 * self-contained (sys/param.h and sys/systm.h first; net/if.h before net/if_var.h...).
 *
 * Every header listed here parsed without warnings against FreeBSD 15.0's headers
 * (docs/toolchain.md). Adding a header here is cheap: only allowlisted items (build.rs,
 * allowlist.txt) and what they reference are emitted.
 *
 * The artifact check (tests/artifact) also reads this file: every undefined symbol of
 * carp.ko must be declared (extern, non-static) by one of the angle-bracket headers
 * included here or by the C shim's sources.
 *
 * The kernel option headers come first, as in the C shim (carp_glue.c), so that bindgen and
 * the artifact check see the INET/INET6 parts of the headers (e.g. carp_iamatch_p,
 * carp_iamatch6_p and carp_macmatch6_p in netinet/ip_carp.h) exactly as the C compiler does.
 */
#include <opt_inet.h>
#include <opt_inet6.h>
#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/module.h>
#include <sys/malloc.h>
#include <sys/mbuf.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <sys/sysctl.h>
#include <sys/lock.h>
#include <sys/mutex.h>
#include <sys/rmlock.h>
#include <sys/sx.h>
#include <sys/callout.h>
#include <sys/counter.h>
#include <sys/devctl.h>
#include <sys/jail.h>
#include <sys/priv.h>
#include <sys/proc.h>
#include <sys/syslog.h>
#include <sys/taskqueue.h>
#include <sys/epoch.h>
#include <sys/errno.h>

#include <net/if.h>
#include <net/if_var.h>
#include <net/if_private.h>
#include <net/if_types.h>
#include <net/if_clone.h>
#include <net/if_dl.h>
#include <net/ethernet.h>
#include <net/vnet.h>
#include <net/if_llatbl.h>
#include <net/route.h>
#include <net/bpf.h>
#include <net/pfil.h>

#include <netinet/in.h>
#include <netinet/in_var.h>
#include <netinet/ip.h>
#include <netinet/ip_var.h>
#include <netinet/ip_carp.h>
#include <netinet/ip_carp_nl.h>
#include <netinet/if_ether.h>
#include <netinet/ip6.h>
#include <netinet/icmp6.h>
#include <netinet6/ip6_var.h>
#include <netinet6/in6_var.h>
#include <netinet6/scope6_var.h>
#include <netinet6/nd6.h>

#include <netlink/netlink.h>
#include <netlink/netlink_ctl.h>
#include <netlink/netlink_generic.h>
#include <netlink/netlink_message_parser.h>
#include <netlink/netlink_message_writer.h>

#include <machine/in_cksum.h>

/* The C half of carp.ko's FFI boundary: shim helpers and the Rust entry points. */
#include "carp_shim.h"
