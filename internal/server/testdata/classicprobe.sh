#!/bin/sh
# classicprobe.sh MODE [probe flags...]: start classic ntpd 4.2.8p15 inside a private network
# namespace (its own loopback, so the host's port 123 is never touched), run the probe against
# it, and stop the daemon by its pid. MODE selects the ntp.conf:
#   unsync   no time source: never synchronised
#   local    server 127.127.1.0 + fudge stratum 10 (synchronised to LOCAL, still "disable ntp")
#   nopeer   unsync + restrict default nopeer
#   noepeer  unsync + restrict default noepeer
#   limited  unsync + restrict default limited kod (discard minimum 2 s)
#   version  unsync + restrict default version
#   notrust  unsync + restrict default notrust
#   limitednokod  unsync + restrict default limited (no kod)
#   noserve, ignore, noquery  unsync + restrict -4 default FLAG (query counters over ::1: -ctl '[::1]:123')
# Requires root (unshare -n). Run from internal/server: sh testdata/classicprobe.sh unsync
set -eu
mode=$1; shift
dir=$(mktemp -d)
go build -o "$dir/probe" ./testdata/classicprobe/main.go
{
	echo "interface ignore wildcard"
	echo "interface listen 127.0.0.1"
	echo "disable ntp"
	echo "driftfile $dir/drift"
	echo "pidfile $dir/pid"
	case $mode in
	local) echo "server 127.127.1.0"; echo "fudge 127.127.1.0 stratum 10" ;;
	nopeer) echo "restrict default nopeer" ;;
	noepeer) echo "restrict default noepeer" ;;
	limited) echo "restrict default limited kod"; echo "discard minimum 2 average 3" ;;
	version) echo "restrict default version" ;;
	notrust) echo "restrict default notrust" ;;
	limitednokod) echo "restrict default limited"; echo "discard minimum 2 average 3" ;;
	noserve) echo "restrict -4 default noserve" ;;
	ignore) echo "restrict -4 default ignore" ;;
	noquery) echo "restrict -4 default noquery" ;;
	unsync) ;;
	*) echo "unknown mode $mode" >&2; exit 2 ;;
	esac
} >"$dir/ntp.conf"
settle=${SETTLE:-3}
unshare -n sh -c '
	ip link set lo up
	/opt/ntp-reference/bin/classic-ntpd -n -c "$1/ntp.conf" >"$1/ntpd.log" 2>&1 &
	pid=$!
	sleep "$2"
	shift 2
	"$0" "$@" || true
	kill "$pid"
	wait "$pid" || true
' "$dir/probe" "$dir" "$settle" "$@"
echo "# ntpd log:"; sed 's/^/#   /' "$dir/ntpd.log" | tail -n 40
rm -rf "$dir"
