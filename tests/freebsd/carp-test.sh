#!/bin/sh
#
# SPDX-License-Identifier: BSD-2-Clause
#
# End-to-end test of this carp.ko on a FreeBSD 15 (amd64 or arm64) machine, with stock
# userland only: ifconfig, sysctl, jail, jexec, ping, arp, kldload.
#
# It CANNOT run on the Linux machines this project is developed on: it was
# written from FreeBSD's own tests/sys/netinet/carp.sh scenarios and the
# carp(4) examples, and has not yet been run by us. Run it as root on a
# disposable FreeBSD 15 machine or VM with VIMAGE (the GENERIC default):
#
#     kldunload carp 2>/dev/null      # the stock module must not be loaded
#     sh tests/freebsd/carp-test.sh [path/to/carp.ko] [test ...]
#
# With no test names every test runs. Each test builds vnet jails joined by
# epair(4) interfaces (and a bridge where three hosts are needed), checks the
# outcome with ifconfig's "carp:"/"vrrp:" status lines, and removes everything
# it created. The classic-model tests (clone_*, arpbalance_pair,
# mixed_models_refused) create carpN inside vnet jails: the module's carp cloner
# and ARP hook exist in every VNET.
# The script prints "ok"/"FAIL" per test and a summary line
# "N passed, N failed"; its exit status is non-zero if any test failed.

set -u

KO=${1:-$(dirname "$0")/../../build/carp.ko}
[ $# -gt 0 ] && shift
TESTS=${*:-"basic_v4 basic_v6 preempt_on preempt_off negative_demotion switch
    unicast_v4 unicast_v6 vrrp_v4 vrrp_v6 demotion_sysctl readd_keeps_vhid
    clone_failover_three_hosts clone_down_up_handoff clone_renumber
    clone_parent_returns clone_v6 arpbalance_pair
    mixed_models_refused unload_while_configured"}

PASS=0
FAIL=0
JAILS=""
IFACES=""
PREFIX="carptest$$"

die() { echo "carp-test: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "must run as root"
[ "$(uname -s)" = FreeBSD ] || die "this test runs on FreeBSD only"
[ -f "$KO" ] || die "module not found: $KO (build it with make, or pass its path)"
sysctl -n kern.features.vimage >/dev/null 2>&1 || die "kernel lacks VIMAGE"

# ---------------------------------------------------------------- helpers

load_module() {
	if kldstat -q -m carp; then
		kldstat -v | grep -q "$(basename "$KO")" ||
		    die "another carp module is loaded; kldunload carp first"
		return 0
	fi
	kldload "$KO" || die "kldload $KO failed"
}

mkepair() {
	e=$(ifconfig epair create) || die "epair create failed"
	IFACES="$IFACES ${e%a}a"
	echo "${e%a}"
}

mkbridge() {
	b=$(ifconfig bridge create) || die "bridge create failed"
	IFACES="$IFACES $b"
	echo "$b"
}

# mkjail NAME IFACE...: a vnet jail owning the given interfaces.
mkjail() {
	name="${PREFIX}_$1"; shift
	args=""
	for i in "$@"; do args="$args vnet.interface=$i"; done
	# shellcheck disable=SC2086
	jail -c name="$name" persist vnet $args >/dev/null || die "jail $name"
	JAILS="$JAILS $name"
	jexec "$name" ifconfig lo0 up
}

j() { n="${PREFIX}_$1"; shift; jexec "$n" "$@"; }

# fails CMD...: succeeds iff CMD fails. (set -e ignores "! CMD", so tests
# assert expected failures with this.)
fails() { if "$@"; then echo "  unexpectedly succeeded: $*" >&2; return 1; fi; return 0; }

# is STATE JAIL IFACE: assert the state (a plain command, so set -e sees it).
is() { s=$(status "$2" "$3"); [ "$s" = "$1" ] || { echo "  $2 $3 is '$s', expected $1" >&2; return 1; }; }

# status JAIL IFACE -> MASTER|BACKUP|INIT|"" (first carp/vrrp line)
status() {
	j "$1" ifconfig "$2" 2>/dev/null |
	    awk '$1 == "carp:" || $1 == "vrrp:" { print $2; exit }'
}

# status_vhid JAIL IFACE VHID
status_vhid() {
	j "$1" ifconfig "$2" 2>/dev/null |
	    awk -v v="$3" '($1 == "carp:" || $1 == "vrrp:") && ($4 == v) { print $2; exit }'
}

# wait_state JAIL IFACE STATE [SECONDS]: bounded wait for a state.
wait_state() {
	t=${4:-15}
	while [ "$t" -gt 0 ]; do
		[ "$(status "$1" "$2")" = "$3" ] && return 0
		sleep 1; t=$((t - 1))
	done
	echo "  timeout: $1 $2 is '$(status "$1" "$2")', expected $3" >&2
	return 1
}

# one_master J1 I1 J2 I2: exactly one of the two is MASTER, the other BACKUP.
one_master() {
	a=$(status "$1" "$2"); b=$(status "$3" "$4")
	[ "$a/$b" = MASTER/BACKUP ] || [ "$a/$b" = BACKUP/MASTER ] || {
		echo "  states: $1=$a $3=$b" >&2; return 1; }
}

cleanup() {
	for jn in $JAILS; do jail -r "$jn" >/dev/null 2>&1; done
	for i in $IFACES; do ifconfig "$i" destroy >/dev/null 2>&1; done
	JAILS=""; IFACES=""
	sysctl net.inet.carp.arpbalance=0 >/dev/null 2>&1
}
trap 'cleanup' EXIT INT TERM

run() {
	t=$1
	printf '%-32s ' "$t"
	# A plain command, not an if-condition or a || list: there POSIX sh
	# would ignore set -e inside the subshell.
	( set -e; "test_$t" ) >"/tmp/$PREFIX.$t.log" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		echo ok; PASS=$((PASS + 1))
	else
		echo FAIL; FAIL=$((FAIL + 1)); sed 's/^/    /' "/tmp/$PREFIX.$t.log"
	fi
	rm -f "/tmp/$PREFIX.$t.log"
	cleanup
}

# two hosts a/b on one epair, 192.0.2.0/24
pair_v4() {
	e=$(mkepair)
	mkjail a "${e}a"; mkjail b "${e}b"
	j a ifconfig "${e}a" 192.0.2.1/24 up
	j b ifconfig "${e}b" 192.0.2.2/24 up
	A="${e}a"; B="${e}b"
}

pair_v6() {
	e=$(mkepair)
	mkjail a "${e}a"; mkjail b "${e}b"
	j a ifconfig "${e}a" inet6 2001:db8::1/64 up no_dad
	j b ifconfig "${e}b" inet6 2001:db8::2/64 up no_dad
	A="${e}a"; B="${e}b"
}

# ---------------------------------------------------------------- modern model

test_basic_v4() {
	br=$(mkbridge); e1=$(mkepair); e2=$(mkepair)
	mkjail one "$br" "${e1}a" "${e2}a"; mkjail two "${e1}b"; mkjail three "${e2}b"
	j one ifconfig "$br" 192.0.2.4/29 addm "${e1}a" addm "${e2}a" up
	j one ifconfig "${e1}a" up; j one ifconfig "${e2}a" up
	j two ifconfig "${e1}b" 192.0.2.202/29 up
	j two ifconfig "${e1}b" add vhid 1 pass basic 192.0.2.1/29
	j three ifconfig "${e2}b" 192.0.2.203/29 up
	j three ifconfig "${e2}b" add vhid 1 pass basic 192.0.2.1/29
	sleep 5
	one_master two "${e1}b" three "${e2}b"
	j one ping -c 3 -t 5 192.0.2.1 >/dev/null
}

test_basic_v6() {
	br=$(mkbridge); e1=$(mkepair); e2=$(mkepair)
	mkjail one "$br" "${e1}a" "${e2}a"; mkjail two "${e1}b"; mkjail three "${e2}b"
	j one ifconfig "$br" inet6 2001:db8::4/64 addm "${e1}a" addm "${e2}a" up no_dad
	j one ifconfig "${e1}a" up; j one ifconfig "${e2}a" up
	j two ifconfig "${e1}b" inet6 2001:db8::1:2/64 up no_dad
	j two ifconfig "${e1}b" inet6 add vhid 1 pass basic 2001:db8::1/64
	j three ifconfig "${e2}b" inet6 2001:db8::1:3/64 up no_dad
	j three ifconfig "${e2}b" inet6 add vhid 1 pass basic 2001:db8::1/64
	sleep 5
	one_master two "${e1}b" three "${e2}b"
	j one ping -6 -c 3 2001:db8::1 >/dev/null
}

# a (advskew 0) comes back after b took over: with preempt it takes over again.
test_preempt_on() {
	pair_v4
	j a sysctl net.inet.carp.preempt=1 >/dev/null
	j b sysctl net.inet.carp.preempt=1 >/dev/null
	j b ifconfig "$B" alias vhid 1 advskew 100 pass pre 192.0.2.254/32
	wait_state b "$B" MASTER
	j a ifconfig "$A" alias vhid 1 advskew 0 pass pre 192.0.2.254/32
	wait_state a "$A" MASTER 10
	wait_state b "$B" BACKUP 5
}

test_preempt_off() {
	pair_v4
	j b ifconfig "$B" alias vhid 1 advskew 100 pass pre 192.0.2.254/32
	wait_state b "$B" MASTER
	j a ifconfig "$A" alias vhid 1 advskew 0 pass pre 192.0.2.254/32
	sleep 6
	is BACKUP a "$A"
	is MASTER b "$B"
}

# PR 259528: a negative demotion must clamp at 0, never give two masters.
test_negative_demotion() {
	pair_v4
	j a sysctl net.inet.carp.preempt=1 >/dev/null
	j b sysctl net.inet.carp.preempt=1 >/dev/null
	j a ifconfig "$A" add vhid 1 192.0.2.254/24 advskew 0 pass foobar
	j b ifconfig "$B" add vhid 1 192.0.2.254/24 advskew 100 pass foobar
	wait_state a "$A" MASTER
	one_master a "$A" b "$B"
	j a sysctl net.inet.carp.demotion=-1 >/dev/null
	sleep 3
	one_master a "$A" b "$B"
}

test_switch() {
	pair_v4
	j a ifconfig "$A" add vhid 1 pass sw 192.0.2.254/24
	j b ifconfig "$B" add vhid 1 advskew 100 pass sw 192.0.2.254/24
	wait_state a "$A" MASTER
	j a ifconfig "$A" vhid 1 state backup
	wait_state b "$B" MASTER 10
	j b ifconfig "$B" vhid 1 state backup
	j a ifconfig "$A" vhid 1 state master
	wait_state a "$A" MASTER 5
}

test_unicast_v4() {
	pair_v4
	# x.x.x.224 catches multicast-ness tested in the wrong byte order (PR 284872)
	j a ifconfig "$A" 192.0.2.224/24 alias
	j a ifconfig "$A" add vhid 1 pass uni peer 192.0.2.2 192.0.2.254/24
	j b ifconfig "$B" add vhid 1 advskew 100 pass uni peer 192.0.2.224 192.0.2.254/24
	wait_state a "$A" MASTER
	sleep 4
	one_master a "$A" b "$B"
	j a ifconfig "$A" | grep -q "peer 192.0.2.2"
}

test_unicast_v6() {
	pair_v6
	j a ifconfig "$A" inet6 add vhid 1 pass uni peer6 2001:db8::2 2001:db8::ff/64
	j b ifconfig "$B" inet6 add vhid 1 advskew 100 pass uni peer6 2001:db8::1 2001:db8::ff/64
	wait_state a "$A" MASTER
	sleep 4
	one_master a "$A" b "$B"
}

test_vrrp_v4() {
	pair_v4
	j a ifconfig "$A" add vhid 1 carpver 3 vrrpprio 200 192.0.2.254/24
	j b ifconfig "$B" add vhid 1 carpver 3 vrrpprio 100 192.0.2.254/24
	wait_state a "$A" MASTER
	sleep 4
	one_master a "$A" b "$B"
	j a ifconfig "$A" | grep -q "vrrp: MASTER vrid 1 prio 200"
}

test_vrrp_v6() {
	pair_v6
	j a ifconfig "$A" inet6 add vhid 1 carpver 3 vrrpprio 200 2001:db8::ff/64
	j b ifconfig "$B" inet6 add vhid 1 carpver 3 vrrpprio 100 2001:db8::ff/64
	wait_state a "$A" MASTER
	sleep 4
	one_master a "$A" b "$B"
}

# A positive demotion write makes the master yield to a preempting backup.
test_demotion_sysctl() {
	pair_v4
	j b sysctl net.inet.carp.preempt=1 >/dev/null
	j a ifconfig "$A" add vhid 1 advskew 0 pass dem 192.0.2.254/24
	j b ifconfig "$B" add vhid 1 advskew 100 pass dem 192.0.2.254/24
	wait_state a "$A" MASTER
	j a sysctl net.inet.carp.demotion=200 >/dev/null
	[ "$(j a sysctl -n net.inet.carp.demotion)" = 200 ]
	wait_state b "$B" MASTER 5
	j a sysctl net.inet.carp.demotion=-200 >/dev/null
	[ "$(j a sysctl -n net.inet.carp.demotion)" = 0 ]
	# bad values change nothing
	fails j a sysctl net.inet.carp.dscp=64 >/dev/null 2>&1
	[ "$(j a sysctl -n net.inet.carp.dscp)" = 56 ]
	j a netstat -s -p carp | grep -q "received (IPv4)"
}

# Re-adding an existing address with the same vhid keeps the vhid
# (opnsense/core#2486: "SIOCAIFADDR: Protocol not available").
test_readd_keeps_vhid() {
	pair_v4
	j a ifconfig "$A" alias vhid 1 pass re 192.0.2.254/32
	wait_state a "$A" MASTER
	j a ifconfig "$A" alias vhid 1 pass re 192.0.2.254/32
	j a ifconfig "$A" alias vhid 1 pass re 192.0.2.254/32
	j a ifconfig "$A" | grep -q "vhid 1"
	wait_state a "$A" MASTER 10
}

# ---------------------------------------------------------------- cloned carpN

# carp(4)'s three hosts: hosta and hostb masters, provider backs up both.
test_clone_failover_three_hosts() {
	br=$(mkbridge); e1=$(mkepair); e2=$(mkepair); e3=$(mkepair)
	mkjail sw "$br" "${e1}a" "${e2}a" "${e3}a"
	j sw ifconfig "$br" addm "${e1}a" addm "${e2}a" addm "${e3}a" up
	for i in "${e1}a" "${e2}a" "${e3}a"; do j sw ifconfig "$i" up; done
	mkjail hosta "${e1}b"; mkjail hostb "${e2}b"; mkjail provider "${e3}b"
	j hosta ifconfig "${e1}b" 192.0.2.1/24 up
	j hostb ifconfig "${e2}b" 192.0.2.2/24 up
	j provider ifconfig "${e3}b" 192.0.2.3/24 up
	j hosta ifconfig carp0 create
	j hosta ifconfig carp0 vhid 1 pass secret 192.0.2.10/24
	j hostb ifconfig carp0 create
	j hostb ifconfig carp0 vhid 2 pass secret 192.0.2.11/24
	j provider ifconfig carp0 create
	j provider ifconfig carp0 vhid 1 advskew 100 pass secret 192.0.2.10/24
	j provider ifconfig carp1 create
	j provider ifconfig carp1 vhid 2 advskew 100 pass secret 192.0.2.11/24
	wait_state hosta carp0 MASTER
	wait_state hostb carp0 MASTER
	wait_state provider carp0 BACKUP
	wait_state provider carp1 BACKUP
	j hosta ifconfig carp0 | grep -q "ether 00:00:5e:00:01:01"
	j hosta ifconfig "${e1}b" down
	wait_state provider carp0 MASTER 10
	is BACKUP provider carp1
	j provider ping -c 1 -t 5 192.0.2.11 >/dev/null
	# stock 15 ifconfig refuses a second carpN with the same vhid (EEXIST)
	j provider ifconfig carp2 create
	fails j provider ifconfig carp2 vhid 1 pass secret 192.0.2.12/24 2>/dev/null
	# no parent in the subnet: EADDRNOTAVAIL
	fails j provider ifconfig carp2 vhid 9 pass secret 198.51.100.1/24 2>/dev/null
}

test_clone_down_up_handoff() {
	pair_v4
	j a ifconfig carp0 create
	j a ifconfig carp0 vhid 1 pass secret 192.0.2.50/24
	j b ifconfig carp0 create
	j b ifconfig carp0 vhid 1 advskew 100 pass secret 192.0.2.50/24
	wait_state a carp0 MASTER
	wait_state b carp0 BACKUP
	j a ifconfig carp0 down
	# the last advertisement makes b take over at once, not after 3 s
	wait_state b carp0 MASTER 2
	is INIT a carp0
	j a ifconfig carp0 up
	wait_state a carp0 BACKUP 5
	j a sysctl -n net.inet.carp.suppress_preempt >/dev/null
	fails j a sysctl net.inet.carp.suppress_preempt=1 >/dev/null 2>&1
	j a ifconfig carp0 destroy
	j b ifconfig carp0 destroy
}

# Two hosts, one address, vhids 1 and 2, each master of one; clients with
# different sources are answered by different masters; one host fails and
# all clients move.
# A bound carpN takes a new vhid: new MAC, addresses bound again, new election.
test_clone_renumber() {
	pair_v4
	for h in a b; do
		j $h ifconfig carp0 create
	done
	j a ifconfig carp0 vhid 1 pass secret 192.0.2.50/24
	j b ifconfig carp0 vhid 1 advskew 100 pass secret 192.0.2.50/24
	wait_state a carp0 MASTER
	wait_state b carp0 BACKUP
	j a ifconfig carp0 vhid 3
	j b ifconfig carp0 vhid 3
	wait_state a carp0 MASTER
	wait_state b carp0 BACKUP
	[ -n "$(status_vhid a carp0 3)" ] || { echo "  a carp0 has no vhid 3" >&2; return 1; }
	j a ifconfig carp0 | grep -q "ether 00:00:5e:00:01:03" ||
	    { echo "  a carp0 MAC is not 00:00:5e:00:01:03" >&2; return 1; }
	# a vhid the parent already has is refused, nothing changed
	j a ifconfig "$A" alias vhid 7 pass other 192.0.2.70/32
	fails j a ifconfig carp0 vhid 7 2>/dev/null
	is MASTER a carp0
	j a ifconfig carp0 destroy
	j b ifconfig carp0 destroy
}

# The parent leaves the jail and comes back: carp0 binds again by itself once the
# parent has its address again (preemption is off, so b stays MASTER).
test_clone_parent_returns() {
	pair_v4
	j a ifconfig carp0 create
	j a ifconfig carp0 vhid 1 pass secret 192.0.2.50/24
	j b ifconfig carp0 create
	j b ifconfig carp0 vhid 1 advskew 100 pass secret 192.0.2.50/24
	wait_state a carp0 MASTER
	wait_state b carp0 BACKUP
	ifconfig "$A" -vnet "${PREFIX}_a"
	wait_state b carp0 MASTER
	is INIT a carp0
	ifconfig "$A" vnet "${PREFIX}_a"
	j a ifconfig "$A" 192.0.2.1/24 up
	# bound again: a elects and, without preemption, stays BACKUP behind b
	wait_state a carp0 BACKUP
	is MASTER b carp0
	j a ifconfig carp0 destroy
	j b ifconfig carp0 destroy
}

# IPv6 on carpN, the address added without a vhid after the carpN was configured.
test_clone_v6() {
	pair_v6
	for h in a b; do
		j $h ifconfig carp0 create
		j $h ifconfig carp0 inet6 no_dad
	done
	j a ifconfig carp0 vhid 1 pass secret6
	j b ifconfig carp0 vhid 1 advskew 100 pass secret6
	j a ifconfig carp0 inet6 2001:db8::50/64
	j b ifconfig carp0 inet6 2001:db8::50/64
	wait_state a carp0 MASTER
	wait_state b carp0 BACKUP
	j a ifconfig carp0 destroy
	wait_state b carp0 MASTER
	j b ifconfig carp0 destroy
}

test_arpbalance_pair() {
	br=$(mkbridge); e1=$(mkepair); e2=$(mkepair); e3=$(mkepair)
	mkjail sw "$br" "${e1}a" "${e2}a" "${e3}a"
	j sw ifconfig "$br" addm "${e1}a" addm "${e2}a" addm "${e3}a" up
	for i in "${e1}a" "${e2}a" "${e3}a"; do j sw ifconfig "$i" up; done
	mkjail ha "${e1}b"; mkjail hb "${e2}b"; mkjail client "${e3}b"
	j ha ifconfig "${e1}b" 192.0.2.1/24 up
	j hb ifconfig "${e2}b" 192.0.2.2/24 up
	j client ifconfig "${e3}b" 192.0.2.100/24 up
	j client ifconfig "${e3}b" 192.0.2.101/24 alias
	for h in ha hb; do j $h sysctl net.inet.carp.arpbalance=1 >/dev/null; done
	j ha ifconfig carp0 create; j ha ifconfig carp0 vhid 1 pass lb 192.0.2.10/24
	j ha ifconfig carp1 create; j ha ifconfig carp1 vhid 2 advskew 100 pass lb 192.0.2.10/24
	j hb ifconfig carp0 create; j hb ifconfig carp0 vhid 1 advskew 100 pass lb 192.0.2.10/24
	j hb ifconfig carp1 create; j hb ifconfig carp1 vhid 2 pass lb 192.0.2.10/24
	wait_state ha carp0 MASTER; wait_state hb carp1 MASTER
	# 192.0.2.100 mod 2 = 0 -> vhid 1; 192.0.2.101 mod 2 = 1 -> vhid 2
	mac_for() {
		j client arp -d 192.0.2.10 >/dev/null 2>&1 || true
		j client ping -c 1 -t 3 -S "$1" 192.0.2.10 >/dev/null 2>&1 || true
		j client arp -n 192.0.2.10 | awk '{ print $4 }'
	}
	[ "$(mac_for 192.0.2.100)" = 00:00:5e:00:01:01 ]
	[ "$(mac_for 192.0.2.101)" = 00:00:5e:00:01:02 ]
	j hb ifconfig "${e2}b" down
	wait_state ha carp1 MASTER 10
	[ "$(mac_for 192.0.2.101)" = 00:00:5e:00:01:02 ]
	j client ping -c 1 -t 3 -S 192.0.2.101 192.0.2.10 >/dev/null
}

test_mixed_models_refused() {
	pair_v4
	j a ifconfig carp0 create
	j a ifconfig carp0 vhid 1 pass mix 192.0.2.50/24
	fails j a ifconfig "$A" alias vhid 1 pass mix 192.0.2.60/32 2>/dev/null
	j a ifconfig "$A" alias vhid 2 pass mix 192.0.2.60/32
}

# ---------------------------------------------------------------- module

# Unlike the stock module (EBUSY), ours unloads with vhids configured, and removes every
# address that was bound to a vhid (left as a plain address, it would be answered by this
# host while a peer is MASTER). Both jails share this kernel, so both lose theirs; their
# own addresses stay and still work.
test_unload_while_configured() {
	pair_v4
	j a ifconfig "$A" alias vhid 1 pass un 192.0.2.254/32
	j b ifconfig "$B" alias vhid 1 advskew 100 pass un 192.0.2.254/32
	j a ifconfig carp0 create
	j a ifconfig carp0 vhid 2 pass un 192.0.2.50/24
	wait_state a "$A" MASTER
	wait_state b "$B" BACKUP
	kldunload carp
	fails kldstat -q -m carp
	fails j a ifconfig carp0 >/dev/null 2>&1
	j a ifconfig "$A" | grep -q 'inet 192.0.2.254 ' && die "192.0.2.254 left on $A"
	j b ifconfig "$B" | grep -q 'inet 192.0.2.254 ' && die "192.0.2.254 left on $B"
	j a ifconfig "$A" | grep -q 'inet 192.0.2.1 ' || die "$A lost its own address"
	dmesg | grep -q 'carp: unload: removed CARP address 192.0.2.254 from' ||
	    die "no unload log line"
	j a ping -c 1 -t 3 192.0.2.2 >/dev/null || die "own addresses stopped working"
	kldload "$KO"
}

# ---------------------------------------------------------------- main

load_module
for t in $TESTS; do run "$t"; done
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
