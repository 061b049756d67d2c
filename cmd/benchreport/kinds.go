package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
)

// The kinds of request the backends count, each priced on its own.
const (
	kindS3Get         = "S3 GET"
	kindS3Head        = "S3 HEAD"
	kindS3List        = "S3 LIST"
	kindS3Put         = "S3 PUT"
	kindS3Post        = "S3 POST" // multipart create and complete
	kindS3Delete      = "S3 DELETE"
	kindDynamoRead    = "DynamoDB read"
	kindDynamoWrite   = "DynamoDB write"
	kindEventsEntries = "EventBridge entries"
)

// kinds counts requests by kind.
type kinds struct {
	mu sync.Mutex
	n  map[string]int64
}

func (k *kinds) snapshot() map[string]int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(map[string]int64, len(k.n))
	for kind, n := range k.n {
		out[kind] = n
	}
	return out
}

// of counts each request h is served as classify names it.
func (k *kinds) of(classify func(*http.Request) (string, int64), h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind, n := classify(r)
		k.mu.Lock()
		k.n[kind] += n
		k.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// s3Kind names an S3 request (path-style: /bucket/key).
func s3Kind(r *http.Request) (string, int64) {
	q := r.URL.Query()
	key := strings.TrimPrefix(r.URL.Path, "/")
	_, key, _ = strings.Cut(key, "/")
	switch {
	case r.Method == http.MethodHead:
		return kindS3Head, 1
	case r.Method == http.MethodGet && (key == "" || q.Has("list-type")):
		return kindS3List, 1
	case r.Method == http.MethodGet:
		return kindS3Get, 1
	case r.Method == http.MethodPut:
		return kindS3Put, 1
	case r.Method == http.MethodDelete:
		return kindS3Delete, 1
	}
	return kindS3Post, 1
}

// dynamoKind names a DynamoDB request by its operation.
func dynamoKind(r *http.Request) (string, int64) {
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".GetItem") {
		return kindDynamoRead, 1
	}
	return kindDynamoWrite, 1
}

// eventsKind counts the entries of a PutEvents request, what EventBridge
// bills (each up to 64 KB).
func eventsKind(r *http.Request) (string, int64) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	var in struct{ Entries []json.RawMessage }
	_ = json.Unmarshal(body, &in)
	return kindEventsEntries, int64(len(in.Entries))
}
