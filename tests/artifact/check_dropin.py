#!/usr/bin/env python3
"""Issue 4 (drop-in carp.ko) static verification of the built module.

    check_dropin.py build/carp.ko
    check_dropin.py --self-test build/carp.ko   also prove the check fails on a module whose
                                                carp_forus_p reference was renamed

carp.ko must take over everything FreeBSD 15's stock carp.ko does, which shows in its
undefined symbols (what it uses from the kernel):

  - the twelve hook pointers of netinet/ip_carp.h, which the module assigns at load and
    clears at unload (carp_ioctl_p ... carp_macmatch6_p);
  - protocol 112 registration both ways (ipproto_register/ipproto_unregister,
    ip6proto_register/ip6proto_unregister);
  - the generic netlink family (genl_register_family, genl_register_cmds,
    genl_unregister_family);
  - devd notifications (devctl_notify), log(9), callouts, multicast membership
    (in_joingroup/in6_joingroup and their leave), promiscuous mode (ifpromisc), advertisement
    output (ip_output/ip6_output), gratuitous ARP (arp_announce_ifaddr), unsolicited NA
    (nd6_na_output), routes (in_addprefix, in_scrubprefix, ifa_add/del_loopback_route,
    nd6_add/rem_ifa_lle), per-CPU statistics (counter_u64_*), the network epoch.

That each of these is *declared* by the FreeBSD headers is check_ko.py's job; this script
checks they are all *present*. It also checks that the module exports nothing and that the
Rust KPI layer assigns every hook pointer to a carp_rs_* function and clears it
(kmod/kpi/src/hooks.rs; the compiler checked the types of the assignments against the
kernel's pointers, here we check the assignments exist in the source).

Standard library only; reads the ELF symbol table with check_ko's reader.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_ko  # noqa: E402

HOOKS = ["carp_ioctl_p", "carp_attach_p", "carp_detach_p", "carp_linkstate_p",
         "carp_demote_adj_p", "carp_master_p", "carp_forus_p", "carp_output_p",
         "carp_get_vhid_p", "carp_iamatch_p", "carp_iamatch6_p", "carp_macmatch6_p"]
REQUIRED = HOOKS + [
    "ipproto_register", "ipproto_unregister", "ip6proto_register", "ip6proto_unregister",
    "genl_register_family", "genl_register_cmds", "genl_unregister_family",
    "devctl_notify", "log", "callout_reset_sbt_on", "_callout_stop_safe",
    "in_joingroup", "in_leavegroup", "in6_joingroup", "in6_leavegroup", "ifpromisc",
    "ip_output", "ip6_output", "arp_announce_ifaddr", "nd6_na_output",
    "in_addprefix", "in_scrubprefix", "ifa_add_loopback_route", "ifa_del_loopback_route",
    "nd6_add_ifa_lle", "nd6_rem_ifa_lle", "counter_u64_alloc", "counter_u64_free",
    "_epoch_enter_preempt", "_epoch_exit_preempt", "epoch_wait_preempt",
    "priv_check", "priv_check_cred", "copyin", "copyout", "ifunit_ref",
    "taskqueue_enqueue", "taskqueue_drain",
]
# The classic carpN model, additive: the interface cloner "carp" (kmod/kpi/src/clone.rs, registered per VNET by kmod/shim/carp_clone.c).
# if_link_state_change: a carpN's link state follows its vhid. pfil(9) on the "ethernet"
# head (vnet_entry_link_pfil_head) and ether_output_frame: ARP answers for carpN addresses.
# vnet_(de)register_sysinit/sysuninit: the cloner and the ARP hook exist in every VNET.
LEGACY = ["vnet_register_sysinit", "vnet_register_sysuninit", "vnet_deregister_sysinit",
          "vnet_deregister_sysuninit", "ifc_attach_cloner", "ifc_detach_cloner", "if_alloc", "if_initname", "if_attach",
          "if_detach", "if_free", "bpfattach", "bpfdetach", "if_link_state_change",
          "pfil_add_hook", "pfil_link", "pfil_remove_hook", "vnet_entry_link_pfil_head",
          "ether_output_frame"]
REQUIRED = REQUIRED + LEGACY


def check(ko, quiet=False):
    elf = check_ko.Elf(ko)
    undef = {s.name for s in elf.symbols[1:] if s.shndx == check_ko.SHN_UNDEF and s.name}
    # A shared-object module (arm64) exports its own linker-set bounds: link_elf.c finds
    # the sets through them. Nothing else may be exported.
    exported = [s.name for s in elf.symbols[1:]
                if s.shndx != check_ko.SHN_UNDEF and s.bind != check_ko.STB_LOCAL and s.name
                and not (elf.e_type == check_ko.ET_DYN and check_ko.LINKER_SET_BOUND.match(s.name))]
    problems = [f"missing undefined symbol {n}" for n in REQUIRED if n not in undef]
    if exported:
        problems.append(f"exported symbols: {exported[:10]}")
    # The hook pointers are assigned in Rust (kmod/kpi/src/hooks.rs), each to the carp_rs_*
    # function carp_shim.h declares with the pointer's prototype (the compiler checks the
    # types of the assignment); clearing stores None (NULL).
    hooks = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "kmod", "kpi",
                         "src", "hooks.rs")
    src = open(hooks, encoding="utf-8").read()
    for h in HOOKS:
        if not re.search(rf"\bsys::{h}\s*=\s*Some\(sys::carp_rs_\w+\)\s*;", src):
            problems.append(f"hooks.rs: no assignment of {h} to a carp_rs_* function")
        if not re.search(rf"\bsys::{h}\s*=\s*None\s*;", src):
            problems.append(f"hooks.rs: {h} is never cleared")
    if not quiet:
        for p in problems:
            print(f"  {p}")
        print(f"drop-in checks: {len(REQUIRED)} required kernel symbols, {len(HOOKS)} hooks "
              f"published and cleared: {'ok' if not problems else f'{len(problems)} problem(s)'}")
    return problems


def self_test(ko):
    """The check must fail when a required reference is missing."""
    import subprocess
    import tempfile
    objcopy = os.environ.get("OBJCOPY", "llvm-objcopy-14")
    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, "renamed.ko")
        subprocess.run([objcopy, "--redefine-sym", "carp_forus_p=carp_forus_q", ko, bad],
                       check=True)
        problems = check(bad, quiet=True)
    ok = problems == ["missing undefined symbol carp_forus_p"]
    print(f"drop-in self-test: renamed carp_forus_p {'caught' if ok else f'NOT caught as expected: {problems}'}")
    return ok


def main():
    args = [a for a in sys.argv[1:] if a != "--self-test"]
    if len(args) != 1:
        print(__doc__.split("\n\n")[1])
        return 2
    problems = check(args[0])
    if "--self-test" in sys.argv[1:] and not self_test(args[0]):
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
