package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/wxmedia/wxmedia/internal/localaws"
)

// MetricsPath answers the metrics the functions emitted so far.
const MetricsPath = "/_local/metrics"

// keptDocuments bounds what /_local/metrics keeps: the latest ones.
const keptDocuments = 100_000

// emfLog keeps the EMF documents the functions write, each one Write.
type emfLog struct {
	mu   sync.Mutex
	docs [][]byte
}

func (l *emfLog) Write(p []byte) (int, error) {
	doc := append([]byte(nil), p...)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.docs) == keptDocuments {
		l.docs = l.docs[keptDocuments/10:] // the oldest tenth goes
	}
	l.docs = append(l.docs, doc)
	return len(p), nil
}

// The local runner's own paths on the API port.
const (
	// EventBridgePath is the embedded EventBridge's endpoint (PutEvents),
	// AWS_ENDPOINT_URL_EVENTBRIDGE for the functions.
	EventBridgePath = localaws.EventBridgePath
	// EventsPath answers the completion events published so far.
	EventsPath = "/_local/events"
	// FailedEventsPath answers the failed-events queue: the S3-triggered
	// invocations that failed after Lambda's retries, one invocation
	// record a line, as template.yaml's FailedEventsQueue receives them.
	FailedEventsPath = "/_local/failed-events"
	// RedrivePath (POST) sends every failed event to its function again
	// and empties the queue: {"redriven":N}.
	RedrivePath = FailedEventsPath + "/redrive"
)

// withLocalRoutes serves the local runner's own paths before h (the
// functions) sees the request: GET /_local/metrics, the EMF documents
// emitted so far, one JSON object a line, exactly as the functions write
// them to their logs; GET /_local/events, the events published so far, one
// a line, as a rule's target receives them; GET /_local/failed-events and
// POST /_local/failed-events/redrive; and the embedded EventBridge.
func withLocalRoutes(h http.Handler, emf *emfLog, eb *localaws.EventBridge, async *localaws.Async, ddb http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var lines [][]byte
		switch {
		case r.URL.Path == localaws.DynamoDBPath && ddb != nil:
			ddb.ServeHTTP(w, r)
			return
		case r.URL.Path == RedrivePath && async != nil:
			if r.Method != http.MethodPost {
				w.Header().Set("Allow", "POST")
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"redriven":%d}`+"\n", async.Redrive())
			return
		case r.URL.Path == FailedEventsPath && async != nil:
			lines = append(lines, localaws.MarshalNDJSON(async.Failed()))
		case r.URL.Path == EventBridgePath && eb != nil:
			eb.ServeHTTP(w, r)
			return
		case r.URL.Path == MetricsPath:
			emf.mu.Lock()
			lines = append(lines, emf.docs...)
			emf.mu.Unlock()
		case r.URL.Path == EventsPath && eb != nil:
			for _, e := range eb.Events() {
				line, _ := json.Marshal(e)
				lines = append(lines, append(line, '\n'))
			}
		default:
			h.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Cache-Control", "no-store")
		for _, l := range lines {
			if _, err := w.Write(l); err != nil {
				return
			}
		}
	})
}
