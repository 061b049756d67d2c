package main

import (
	"net/http"
	"sync"
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

// withLocalRoutes answers GET /_local/metrics with the EMF documents
// emitted so far, one JSON object a line, exactly as the functions write
// them to their logs, before h (the functions) sees the request.
func withLocalRoutes(h http.Handler, emf *emfLog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != MetricsPath {
			h.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		emf.mu.Lock()
		docs := append([][]byte(nil), emf.docs...)
		emf.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Cache-Control", "no-store")
		for _, d := range docs {
			if _, err := w.Write(d); err != nil {
				return
			}
		}
	})
}
