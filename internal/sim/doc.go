// SPDX-License-Identifier: BSD-2-Clause

// Package sim is a discrete-event simulator that runs gontp's real engine
// (internal/engine, and through it peer.Assoc and system.Select) in virtual time: simulated
// days take a fraction of a second, with no goroutines, no real clock and no network, and
// a run is deterministic for its seed.
//
// The world has one gontp host, whose clock is a Clock (true time plus an offset that
// drifts with a frequency error and a random-walk wander) corrected by a discipline, and
// reference servers, each with its own Clock, answering through gontp's own reply path
// (server.Respond) from a synchronised stratum-N system. Packets travel over links with a
// delay, an exponential queueing jitter, asymmetry and loss per direction; servers can
// vanish for a while, stop for good, or send RATE kiss-o'-death to requests that come too
// fast; pools resolve through a simulated DNS that hands out a rotating set of addresses.
// The engine sees the host clock as `now` and puts it in its packets; the simulator
// records the true offset of that clock.
//
// The host is disciplined by gontp's clock discipline (clock.Discipline) over a simulated
// Linux kernel clock (clock.Model) with the oscillator's random-walk wander: KernelHost,
// the default. StandInHost runs StandIn, the deliberately simple loop the simulator used
// before the discipline existed, for comparison; Options.Host takes any other.
//
// # Scenario files
//
// A scenario is a text file (testdata/sim/*.scn), one statement per line; `#` starts a
// comment. Durations are Go durations with a `d` for days (90s, 30m, 24h, 3d); seconds may
// be written as plain numbers or with a unit (0.3, 200us, 50ms).
//
//	name NAME                     the scenario's name
//	description TEXT...           one line of explanation (may repeat)
//	seed N                        random seed (default 1)
//	duration D                    simulated time to run (required)
//	sample D                      how often the true offset is recorded (default 1s)
//	client [offset=S] [freq=PPM] [wander=PPB] [drift=PPM] [g]
//	                              the gontp host's clock: initial offset (clock minus
//	                              true time), frequency error, random-walk wander (ppb
//	                              per sqrt(s)); drift is the frequency a drift file
//	                              gives at start (state FSET); g is ntpd's -g
//	tos [minclock=N] [maxclock=N] [minsane=N] [mindist=S] [maxdist=S]
//	server NAME [iburst] [burst] [prefer] [minpoll=N] [maxpoll=N]
//	       [offset=S] [freq=PPM] [wander=PPB] [stratum=N] [rootdelay=S] [rootdisp=S]
//	       [kod=D] [kodpoll=N]
//	                              a reference server and gontp's server line for it: a
//	                              falseticker has an offset; kod=D answers requests less
//	                              than D after the previous one with a RATE kiss carrying
//	                              poll kodpoll (default 3, classic's ntp_minpoll)
//	pool NAME count=N [size=M] [server options]
//	                              a pool line; M servers NAME.1 ... NAME.M (default N)
//	                              behind one name whose DNS answers carry N of them,
//	                              rotating
//	link NAME|* [delay=S] [jitter=S] [asym=S] [loss=P] [lossout=P] [lossback=P]
//	                              the path to a server (or pool), or the default (*):
//	                              one-way delay, mean of the exponential queueing delay,
//	                              outbound minus return delay, loss probabilities
//	down NAME|* at=D [for=D]      a server (a pool's servers; every server: the network)
//	                              is unreachable from D, for a while or for good
//	outage NAME|* every=D for=D [start=D]
//	                              a repeating down period, from start, every D, for D
//	darken POOL n=N at=D          N servers of the pool that are in use at D go for good
//	limit METRIC[(ARGS)] OP VALUE [xfail=ISSUE]
//	                              a pass limit; OP is <, <=, >, >= or ==; xfail marks a
//	                              limit expected to fail until ISSUE is done (reported,
//	                              not asserted)
//
// # Metrics
//
// Times are seconds of true time from the start; +Inf means "never". Offsets are the host
// clock's true offset, in seconds.
//
//	first_syspeer              when the engine first had a system peer
//	sync_time                  when it first reported itself synchronised (leap not 3)
//	settle_time(X)             from when on |offset| stayed below X to the end
//	max_offset[(FROM[,TO])]    largest |offset| in [FROM, TO) (default: sync to end)
//	rms_offset[(FROM[,TO])]    RMS offset in [FROM, TO)
//	freq_error[(FROM)]         largest |frequency error| (ppm) from FROM to the end
//	steps                      number of clock steps
//	syspeer_changes            changes of the system peer after the first selection
//	syspeer_time(NAME)         how long NAME was the system peer
//	x_fraction(NAME)           share of the time after the first selection that NAME
//	                           was marked falseticker ('x')
//	falsetickers               number of servers ever marked 'x'
//	reselect_time              after the first down line, how long a down server stayed
//	                           the system peer (0 if the system peer was not going down)
//	kods(NAME)                 RATE kisses NAME sent
//	kod_poll_interval(NAME)    least interval between requests at NAME after its first
//	                           kiss
//	exited                     1 if the discipline ended the daemon (panic), else 0
//	outage_end_offset          largest |offset| at the end of a down period or outage
//	pool_replace_polls         after the first darken line, polls (of the pool's minpoll)
//	                           until as many reachable associations with a live server
//	                           are in use as before, less any overfill beyond `tos
//	                           maxclock` associations the pool made before a selection
//	                           had minclock survivors (it refills only to maxclock)
package sim
