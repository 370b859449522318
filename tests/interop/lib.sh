# shellcheck shell=bash
# Network-namespace test harness for the carp interop suite, the failover benchmark and
# the demo. Source it from a bash script that runs as root:
#
#   . "$(dirname "$0")/lib.sh"
#   it_init                      # work dir, cleanup trap
#   it_lan 2 [v6]                # bridge namespace + nodes n1..n2 (eth0, 10.99.0.N/24)
#   it_bg n1 log CMD...          # start CMD inside n1, remember its PID
#   it_wait_log log 'MASTER' 5   # bounded wait for a line in a log
#
# Everything lives in namespaces named "$IT_PREFIX-*" that are created here and deleted by
# the EXIT trap (also on failure or Ctrl-C); processes are killed only by the PIDs we
# recorded when we started them. Every wait is bounded.

set -u

IT_PREFIX="${IT_PREFIX:-carpit$$}"
IT_NAMESPACES=()
IT_PIDS=()
IT_WORK=""
IT_KEEP="${IT_KEEP:-0}"
IT_V4NET="${IT_V4NET:-10.99.0}"
IT_V6NET="${IT_V6NET:-fd00:99::}"

it_log() { printf '%s\n' "$*" >&2; }
it_die() { it_log "FATAL: $*"; exit 1; }

it_ns() { printf '%s-%s' "$IT_PREFIX" "$1"; }

# Run a command inside node namespace $1.
it_exec() { local ns; ns=$(it_ns "$1"); shift; ip netns exec "$ns" "$@"; }

# it_teardown: stop every process we started (by PID) and delete every namespace we made.
it_teardown() {
    local pid ns i
    # Children first, by the PIDs we recorded (TERM, then KILL after a bounded wait).
    for pid in "${IT_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${IT_PIDS[@]}"; do
        for i in $(seq 1 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    IT_PIDS=()
    for ns in "${IT_NAMESPACES[@]}"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    IT_NAMESPACES=()
}

it_cleanup() {
    it_teardown
    if [[ -n "$IT_WORK" && -d "$IT_WORK" && "$IT_KEEP" != 1 ]]; then
        rm -rf -- "$IT_WORK"
    fi
}

it_init() {
    [[ $(id -u) == 0 ]] || it_die "must run as root (network namespaces)"
    IT_WORK=$(mktemp -d "${TMPDIR:-/tmp}/carp-interop.XXXXXX")
    trap it_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# it_netns NAME: create namespace $IT_PREFIX-NAME with lo up and CARP-friendly sysctls.
it_netns() {
    local ns; ns=$(it_ns "$1")
    ip netns add "$ns" || it_die "ip netns add $ns"
    IT_NAMESPACES+=("$ns")
    ip -n "$ns" link set lo up
    # Namespaces copy the host's values: pin rp_filter to 0 (an off-subnet source is
    # otherwise dropped before a raw socket sees it) and make IPv6 addresses usable at once.
    ip netns exec "$ns" sh -c '
        for k in all default; do
            echo 0 > /proc/sys/net/ipv4/conf/$k/rp_filter
            echo 0 > /proc/sys/net/ipv6/conf/$k/accept_dad 2>/dev/null
            echo 0 > /proc/sys/net/ipv6/conf/$k/dad_transmits 2>/dev/null
            echo 0 > /proc/sys/net/ipv6/conf/$k/router_solicitations 2>/dev/null
            echo 1 > /proc/sys/net/ipv6/conf/$k/disable_ipv6 2>/dev/null
        done' || true
}

# it_v6_on NODE: enable IPv6 on NODE (IPv6 is disabled by default in our namespaces).
it_v6_on() {
    it_exec "$1" sh -c '
        for k in all default eth0; do
            [ -e /proc/sys/net/ipv6/conf/$k ] || continue
            echo 0 > /proc/sys/net/ipv6/conf/$k/accept_dad
            echo 0 > /proc/sys/net/ipv6/conf/$k/disable_ipv6
        done'
}

# it_lan N [v6]: a bridge namespace "br" (bridge br0, multicast snooping off) and nodes
# n1..nN, each with eth0 (MAC 02:00:00:00:00:0N, $IT_V4NET.N/24; with v6 also
# ${IT_V6NET}N/64 nodad and a link-local address) plugged into the bridge.
it_lan() {
    local n=$1 v6=${2:-} i br node
    it_netns br
    br=$(it_ns br)
    ip -n "$br" link add br0 type bridge mcast_snooping 0 stp_state 0 forward_delay 0 ||
        it_die "bridge"
    ip -n "$br" link set br0 up
    for i in $(seq 1 "$n"); do
        it_netns "n$i"
        node=$(it_ns "n$i")
        ip link add name eth0 netns "$node" address "02:00:00:00:00:0$i" type veth \
            peer name "p$i" netns "$br" || it_die "veth for n$i"
        ip -n "$br" link set "p$i" master br0
        ip -n "$br" link set "p$i" up
        if [[ "$v6" == v6 ]]; then it_v6_on "n$i"; fi
        ip -n "$node" addr add "$IT_V4NET.$i/24" dev eth0
        if [[ "$v6" == v6 ]]; then
            ip -n "$node" addr add "${IT_V6NET}$i/64" dev eth0 nodad
        fi
        ip -n "$node" link set eth0 up
        it_exec "n$i" sh -c 'echo 0 > /proc/sys/net/ipv4/conf/eth0/rp_filter'
    done
    # Wait (bounded) for carrier on every node.
    for i in $(seq 1 "$n"); do
        it_wait 5 it_has_carrier "n$i" || it_die "no carrier on n$i"
    done
}

it_has_carrier() { [[ $(it_exec "$1" cat /sys/class/net/eth0/carrier 2>/dev/null) == 1 ]]; }

# it_wait SECONDS CMD...: poll CMD every 50 ms until it succeeds; fail after SECONDS.
it_wait() {
    local t=$1; shift
    local limit=$(( $(date +%s%N) + t * 1000000000 ))
    while :; do
        "$@" && return 0
        (( $(date +%s%N) >= limit )) && return 1
        sleep 0.05
    done
}

# it_bg NODE LOG CMD...: start CMD in NODE's namespace, output to LOG; sets IT_LASTPID.
# The command is exec'd by `ip netns exec`, so the PID is the program itself.
it_bg() {
    local node=$1 log=$2; shift 2
    ip netns exec "$(it_ns "$node")" "$@" >"$log" 2>&1 &
    IT_LASTPID=$!
    IT_PIDS+=("$IT_LASTPID")
}

# it_stop PID [SIGNAL]: signal one of our processes and wait (bounded, 5 s) for it to exit.
# Returns the exit status of the process (or 124 if it had to be killed).
it_stop() {
    local pid=$1 sig=${2:-TERM} i rc
    kill -"$sig" "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null
        rc=124
    else
        wait "$pid" 2>/dev/null
        rc=$?
    fi
    local keep=() p
    for p in "${IT_PIDS[@]}"; do [[ "$p" == "$pid" ]] || keep+=("$p"); done
    IT_PIDS=("${keep[@]}")
    return "$rc"
}

# it_wait_log LOG REGEX SECONDS: bounded wait for a line matching REGEX (grep -E) in LOG.
it_wait_log() { it_wait "$3" grep -sqE -- "$2" "$1"; }

# it_count_log LOG REGEX: number of matching lines.
it_count_log() { grep -cE -- "$2" "$1" 2>/dev/null || true; }

# it_last_state LOG PREFIX: the new state of LOG's last state-transition line, the lines
# "PREFIX<OLD> -> <NEW> ..." (PREFIX a grep -E pattern naming the log's vhid and interface).
it_last_state() { grep -aE "$2[A-Z]+ -> " "$1" 2>/dev/null | tail -1 | sed -E 's/.* -> ([A-Z]+) .*/\1/'; }

# it_takeover_ms CAP OLD NEW: milliseconds from OLD's last CARP advertisement in CAP to
# NEW's first one after it (the takeover as the wire shows it).
it_takeover_ms() {
    tshark -r "$1" -d ip.proto==112,carp -Y carp -T fields -e frame.time_epoch -e ip.src 2>/dev/null |
        awk -v o="$2" -v n="$3" '$2==o{last=$1} $2==n && last && !done {printf "%.3f", ($1-last)*1000; done=1}'
}

# it_has_addr NODE ADDR: ADDR is configured on NODE's eth0.
it_has_addr() { it_exec "$1" ip -o addr show dev eth0 | grep -qF " $2/"; }

# it_capture_start FILE: capture everything crossing the bridge (br0 in promiscuous mode
# sees every forwarded frame) with tcpdump, unbuffered, into FILE (pcap).
it_capture_start() {
    local f=$1
    it_bg br "$f.log" tcpdump -Z root --immediate-mode -i br0 -n -s 256 -U -w "$f" 'ip proto 112 or ip6 proto 112 or arp or icmp6'
    IT_CAPPID=$IT_LASTPID
    it_wait 5 grep -sq 'listening on' "$f.log" || it_die "tcpdump did not start"
}

it_capture_stop() {
    sleep 0.2
    it_stop "$IT_CAPPID" INT || true
}

# ucarp scripts: add/remove the VIP on the interface (called as: script IFACE VIP).
it_ucarp_scripts() {
    cat >"$IT_WORK/vip-up.sh" <<'EOF'
#!/bin/sh
ip addr add "$2/24" dev "$1" 2>/dev/null; exit 0
EOF
    cat >"$IT_WORK/vip-down.sh" <<'EOF'
#!/bin/sh
ip addr del "$2/24" dev "$1" 2>/dev/null; exit 0
EOF
    chmod +x "$IT_WORK/vip-up.sh" "$IT_WORK/vip-down.sh"
}

# it_ucarp NODE LOG VHID PASS VIP ADVBASE ADVSKEW [extra ucarp options]
it_ucarp() {
    local node=$1 log=$2 vhid=$3 pass=$4 vip=$5 base=$6 skew=$7; shift 7
    local idx=${node#n}
    [[ -x "$IT_WORK/vip-up.sh" ]] || it_ucarp_scripts
    # IT_RT=N: run it with SCHED_FIFO priority N (as the benchmark does for every peer).
    local rt=()
    [[ -n "${IT_RT:-}" ]] && rt=(chrt -f "$IT_RT")
    it_bg "$node" "$log" "${rt[@]}" stdbuf -oL -eL ucarp --interface=eth0 --srcip="$IT_V4NET.$idx" \
        --vhid="$vhid" --pass="$pass" --addr="$vip" --advbase="$base" --advskew="$skew" \
        --upscript="$IT_WORK/vip-up.sh" --downscript="$IT_WORK/vip-down.sh" \
        --shutdown --facility=none "$@"
}

# Minimal test bookkeeping: it_pass NAME / it_fail NAME REASON; it_summary prints the
# closing "N passed, N failed" line and returns non-zero on any failure.
IT_NPASS=0
IT_NFAIL=0
IT_FAILED=()
it_pass() { IT_NPASS=$((IT_NPASS + 1)); printf 'ok   %s\n' "$1"; }
it_fail() { IT_NFAIL=$((IT_NFAIL + 1)); IT_FAILED+=("$1"); printf 'FAIL %s: %s\n' "$1" "$2"; }
it_summary() {
    if ((IT_NFAIL > 0)); then printf 'failed: %s\n' "${IT_FAILED[*]}"; fi
    printf 'interop: %d passed, %d failed\n' "$IT_NPASS" "$IT_NFAIL"
    ((IT_NFAIL == 0))
}

# it_keepalived NODE LOG NAME VRID PRIO INTERVAL_S VIP[,VIP...] [nopreempt]
# keepalived in VRRPv3 mode (the dialect of FreeBSD 15's `carpver 3`), foreground, logging
# to stdout. INTERVAL_S may be fractional (centiseconds in VRRPv3). Sets IT_LASTPID.
it_keepalived() {
    local node=$1 log=$2 name=$3 vrid=$4 prio=$5 intv=$6 vips=$7 extra=${8:-}
    local d v
    d=$(mktemp -d "$IT_WORK/ka-$name.XXXX")
    mkdir -p "$d"
    {
        echo "global_defs {"
        echo "  vrrp_version 3"
        echo "  router_id $name"
        echo "  vrrp_garp_master_delay 0"
        echo "  vrrp_garp_master_repeat 1"
        if [[ -n "${IT_RT:-}" ]]; then
            echo "  vrrp_rt_priority $IT_RT"
            echo "  vrrp_no_swap"
        fi
        echo "}"
        echo "vrrp_instance $name {"
        echo "  state BACKUP"
        echo "  interface eth0"
        echo "  virtual_router_id $vrid"
        echo "  priority $prio"
        echo "  advert_int $intv"
        [[ "$extra" == nopreempt ]] && echo "  nopreempt"
        echo "  virtual_ipaddress {"
        for v in ${vips//,/ }; do echo "    $v dev eth0"; done
        echo "  }"
        echo "}"
    } >"$d/keepalived.conf"
    it_bg "$node" "$log" keepalived --dont-fork --log-console --log-detail --vrrp \
        --use-file="$d/keepalived.conf" --pid="$d/k.pid" --vrrp_pid="$d/v.pid" \
        --checkers_pid="$d/c.pid" --no-syslog
}

# it_install_deps: install the peers and tools the suite needs, if missing (Debian; once).
it_install_deps() {
    local need=()
    command -v ucarp >/dev/null || need+=(ucarp)
    command -v keepalived >/dev/null || need+=(keepalived)
    command -v tshark >/dev/null || need+=(tshark)
    command -v tcpdump >/dev/null || need+=(tcpdump)
    command -v ping >/dev/null || need+=(iputils-ping)
    command -v bridge >/dev/null || need+=(iproute2)
    command -v chrt >/dev/null || need+=(util-linux)
    ((${#need[@]})) || return 0
    it_log "interop: installing ${need[*]}"
    # tshark asks whether non-root users may capture; answer before it is installed.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null
    (export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}") >/dev/null 2>&1 ||
        it_die "could not install ${need[*]}"
}
