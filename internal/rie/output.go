package rie

import (
	"bytes"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// output takes the emulator's output (its own lines and the function's),
// passes it on a whole line at a time, and keeps the lines of the
// invocation under way and a count of the REPORT lines, which end each
// invocation.
type output struct {
	log io.Writer

	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte        // the start of a line
	pending []string      // lines not yet handed to an invocation
	nReport int           // REPORT lines so far
	changed chan struct{} // closed, and replaced, at each REPORT line
}

func newOutput(log io.Writer) *output {
	return &output{log: log, changed: make(chan struct{})}
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all.Write(p)
	o.partial = append(o.partial, p...)
	rest := o.partial
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		o.line(rest[:i+1])
		rest = rest[i+1:]
	}
	o.partial = o.partial[:copy(o.partial, rest)]
	return len(p), nil
}

// flush passes on a last line without its newline.
func (o *output) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.partial) > 0 {
		o.line(append(o.partial, '\n'))
		o.partial = nil
	}
}

func (o *output) line(b []byte) {
	o.log.Write(b)
	s := strings.TrimRight(string(b), "\r\n")
	o.pending = append(o.pending, s)
	if strings.HasPrefix(s, "REPORT RequestId:") {
		o.nReport++
		close(o.changed)
		o.changed = make(chan struct{})
	}
}

// reports is the number of REPORT lines so far.
func (o *output) reports() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.nReport
}

// waitReports answers done if there are more than seen REPORT lines, else
// a channel closed at the next one.
func (o *output) waitReports(seen int) (changed <-chan struct{}, done bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.changed, o.nReport > seen
}

// take hands the lines so far to an invocation.
func (o *output) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	lines := o.pending
	o.pending = nil
	return lines
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.all.String()
}

// The emulator times the runtime's init as "INIT REPORT(durationMs: 11.56)",
// an invocation as "INVOKE RTDONE(status: success, produced bytes: 0,
// duration: 2.19ms)". Its REPORT line's "Init Duration" only times the
// start of an asynchronous init: it is read only where there is no INIT
// REPORT (other versions of the emulator).
var (
	initReportRE   = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	rtDoneRE       = regexp.MustCompile(`INVOKE RTDONE\(status: \w+.*duration: ([0-9.]+)ms\)`)
	initDurationRE = regexp.MustCompile(`^REPORT RequestId: .*Init Duration: ([0-9.]+) ms`)
)

// durations reads an invocation's init and duration from its lines.
func durations(lines []string) (init, invoke time.Duration) {
	var fallback time.Duration
	for _, l := range lines {
		if m := initReportRE.FindStringSubmatch(l); m != nil {
			init = millis(m[1])
		} else if m := rtDoneRE.FindStringSubmatch(l); m != nil {
			invoke = millis(m[1])
		} else if m := initDurationRE.FindStringSubmatch(l); m != nil {
			fallback = millis(m[1])
		}
	}
	if init == 0 {
		init = fallback
	}
	return init, invoke
}

func millis(s string) time.Duration {
	ms, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return time.Duration(ms * float64(time.Millisecond))
}
