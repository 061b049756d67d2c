package localaws

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// EventBridgePath is where the local runner serves an EventBridge, on its
// API's port: AWS_ENDPOINT_URL_EVENTBRIDGE is that URL.
const EventBridgePath = "/_local/eventbridge"

// EventBridgeOptions configure an EventBridge. Zero values become defaults.
type EventBridgeOptions struct {
	Region  string // in the events; default DefaultRegion
	Account string // in the events; default 000000000000
	// Published, if set, is called with each event accepted (the local
	// runner logs them).
	Published func(BusEvent)
	// Keep bounds the events kept for Events: the latest; default 1,000.
	Keep int
}

// EventBridge accepts PutEvents in EventBridge's JSON protocol (POST with
// X-Amz-Target: AWSEvents.PutEvents), so the AWS SDKs publish to it as to
// the service, and keeps the events as a rule's target would receive them.
// Any credentials and any bus name are accepted; no rule runs.
type EventBridge struct {
	o EventBridgeOptions

	mu     sync.Mutex
	events []BusEvent
}

// BusEvent is an event as EventBridge delivers it to a rule's target.
type BusEvent struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
	// Bus is the bus it was put on (not in EventBridge's envelope).
	Bus string `json:"-"`
}

// NewEventBridge returns an EventBridge with no events.
func NewEventBridge(o EventBridgeOptions) *EventBridge {
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.Account == "" {
		o.Account = "000000000000"
	}
	if o.Keep <= 0 {
		o.Keep = 1_000
	}
	return &EventBridge{o: o}
}

// Events returns the events accepted so far, oldest first.
func (b *EventBridge) Events() []BusEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]BusEvent(nil), b.events...)
}

// putEntry is a PutEvents request entry.
type putEntry struct {
	Source       string   `json:"Source"`
	DetailType   string   `json:"DetailType"`
	Detail       string   `json:"Detail"`
	EventBusName string   `json:"EventBusName"`
	Resources    []string `json:"Resources"`
	Time         *float64 `json:"Time"` // epoch seconds, as the SDKs send it
}

type resultEntry struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

// ServeHTTP answers PutEvents.
func (b *EventBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if target := r.Header.Get("X-Amz-Target"); r.Method != http.MethodPost || target != "AWSEvents.PutEvents" {
		writeAWSError(w, http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("operation %q is not supported here: only AWSEvents.PutEvents", target))
		return
	}
	var in struct{ Entries []putEntry }
	// EventBridge takes at most 256 KB a request: so does this, so that an
	// event too large for AWS fails here too.
	if err := json.NewDecoder(io.LimitReader(r.Body, 256<<10)).Decode(&in); err != nil {
		writeAWSError(w, http.StatusBadRequest, "SerializationException", "malformed request: "+err.Error())
		return
	}
	if n := len(in.Entries); n < 1 || n > 10 {
		writeAWSError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("Entries: want 1 to 10, got %d", n))
		return
	}
	out := struct {
		Entries          []resultEntry
		FailedEntryCount int
	}{}
	for _, e := range in.Entries {
		res, ev := b.accept(e)
		out.Entries = append(out.Entries, res)
		if res.ErrorCode != "" {
			out.FailedEntryCount++
			continue
		}
		if b.o.Published != nil {
			b.o.Published(ev)
		}
	}
	writeAWSJSON(w, http.StatusOK, out)
}

// accept checks an entry as EventBridge does and keeps its event.
func (b *EventBridge) accept(e putEntry) (resultEntry, BusEvent) {
	switch {
	case e.Source == "" || e.DetailType == "":
		return resultEntry{ErrorCode: "MalformedDetail", ErrorMessage: "Source and DetailType are required"}, BusEvent{}
	case !json.Valid([]byte(e.Detail)) || len(e.Detail) == 0 || e.Detail[0] != '{':
		return resultEntry{ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed."}, BusEvent{}
	}
	at := time.Now()
	if e.Time != nil {
		at = time.Unix(0, int64(*e.Time*1e9))
	}
	bus := e.EventBusName
	if bus == "" {
		bus = "default"
	}
	resources := e.Resources
	if resources == nil {
		resources = []string{}
	}
	ev := BusEvent{Version: "0", ID: NewUUID(), DetailType: e.DetailType, Source: e.Source, Account: b.o.Account,
		Time: at.UTC().Format(time.RFC3339), Region: b.o.Region, Resources: resources, Detail: json.RawMessage(e.Detail), Bus: bus}
	b.mu.Lock()
	if len(b.events) == b.o.Keep {
		b.events = b.events[b.o.Keep/10:] // the oldest tenth goes
	}
	b.events = append(b.events, ev)
	b.mu.Unlock()
	return resultEntry{EventID: ev.ID}, ev
}
