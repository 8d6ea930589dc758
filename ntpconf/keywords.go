// SPDX-License-Identifier: BSD-2-Clause

package ntpconf

// keywords is classic ntpd 4.2.8p15's keyword table (ntpd/keyword-gen.c) with each word's
// "followed by" rule. Classic looks every word up in this one table whatever the directive,
// so "restrict iburst" is a syntax error while "server iburst" names a host called
// iburst: server is followed by a string. gontp keeps this so it reads files as classic does.
var keywords = map[string]follow{
	// commands
	"automax": follToken, "broadcast": follString, "broadcastclient": follToken,
	"broadcastdelay": follToken, "controlkey": follToken, "crypto": follToken,
	"disable": follToken, "discard": follToken, "driftfile": follString, "dscp": follToken,
	"enable": follToken, "end": follToken, "filegen": follToken, "fudge": follString,
	"ident": follString, "includefile": follString, "interface": follToken,
	"keys": follString, "keysdir": follString, "leapfile": follString,
	"leapsmearinterval": follToken, "logconfig": follStringEOC, "logfile": follString,
	"manycastclient": follString, "manycastserver": follStringEOC, "mdnstries": follToken,
	"mru": follToken, "multicastclient": follStringEOC, "nic": follToken,
	"nonvolatile": follToken, "ntpsigndsocket": follString, "peer": follString,
	"phone": follStringEOC, "pidfile": follString, "pollskewlist": follToken,
	"pool": follString, "requestkey": follToken, "reset": follToken, "restrict": follToken,
	"revoke": follToken, "rlimit": follToken, "saveconfigdir": follString,
	"server": follString, "setvar": follString, "simulate": follToken,
	"statistics": follToken, "statsdir": follString, "tick": follToken, "tinker": follToken,
	"tos": follToken, "trap": follString, "trustedkey": follToken, "ttl": follToken,
	"unconfig": follString, "unpeer": follString,
	// association options
	"autokey": follToken, "burst": follToken, "iburst": follToken, "key": follToken,
	"maxpoll": follToken, "minpoll": follToken, "mode": follToken, "noselect": follToken,
	"preempt": follToken, "prefer": follToken, "true": follToken, "version": follToken,
	"xleave": follToken, "xmtnonce": follToken,
	// crypto
	"digest": follString, "host": follString, "pw": follString, "randfile": follString,
	// statistics and filegen
	"clockstats": follToken, "cryptostats": follToken, "loopstats": follToken,
	"peerstats": follToken, "rawstats": follToken, "sysstats": follToken,
	"protostats": follToken, "timingstats": follToken, "file": follString,
	"link": follToken, "nolink": follToken, "type": follToken, "age": follToken,
	"day": follToken, "month": follToken, "none": follToken, "pid": follToken,
	"week": follToken, "year": follToken,
	// tos
	"minclock": follToken, "maxclock": follToken, "minsane": follToken, "floor": follToken,
	"ceiling": follToken, "cohort": follToken, "mindist": follToken, "maxdist": follToken,
	"beacon": follToken, "orphan": follToken, "orphanwait": follToken,
	"bcpollbstep": follToken, "basedate": follString,
	// restrict
	"default": follToken, "source": follToken, "epeer": follToken, "noepeer": follToken,
	"flake": follToken, "ignore": follToken, "ippeerlimit": follToken, "limited": follToken,
	"mssntp": follToken, "kod": follToken, "lowpriotrap": follToken, "mask": follToken,
	"nomodify": follToken, "nomrulist": follToken, "nopeer": follToken, "noquery": follToken,
	"noserve": follToken, "notrap": follToken, "notrust": follToken, "ntpport": follToken,
	"serverresponse": follToken, "fuzz": follToken,
	// discard, mru
	"average": follToken, "minimum": follToken, "monitor": follToken,
	"incalloc": follToken, "incmem": follToken, "initalloc": follToken,
	"initmem": follToken, "maxage": follToken, "maxdepth": follToken, "maxmem": follToken,
	"mindepth": follToken,
	// fudge
	"abbrev": follString, "flag1": follToken, "flag2": follToken, "flag3": follToken,
	"flag4": follToken, "refid": follString, "stratum": follToken, "time1": follToken,
	"time2": follToken, "minjitter": follToken,
	// enable/disable
	"auth": follToken, "bclient": follToken, "calibrate": follToken, "kernel": follToken,
	"mode7": follToken, "ntp": follToken, "stats": follToken,
	"peer_clear_digest_early": follToken, "unpeer_crypto_early": follToken,
	"unpeer_crypto_nak_early": follToken, "unpeer_digest_early": follToken,
	// tinker
	"allan": follToken, "dispersion": follToken, "freq": follToken, "huffpuff": follToken,
	"panic": follToken, "step": follToken, "stepback": follToken, "stepfwd": follToken,
	"stepout": follToken,
	// rlimit
	"memlock": follToken, "stacksize": follToken, "filenum": follToken,
	// interface
	"all": follToken, "ipv4": follToken, "ipv6": follToken, "wildcard": follToken,
	"listen": follToken, "drop": follToken,
	// trap
	"port": follToken,
	// leapfile
	"checkhash": follToken, "ignorehash": follToken,
	// reset
	"allpeers": follToken, "ctl": follToken, "io": follToken, "mem": follToken,
	"sys": follToken, "timer": follToken,
	// simulator (the block is refused by ntpd, but the words are keywords)
	"beep_delay": follToken, "sim_duration": follToken, "server_offset": follToken,
	"duration": follToken, "freq_offset": follToken, "wander": follToken, "jitter": follToken,
	"prop_delay": follToken, "proc_delay": follToken,
	// range in trustedkey
	"...": follToken,
}
