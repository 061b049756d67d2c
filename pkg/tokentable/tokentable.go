// Package tokentable is the token table every container shares: a third-
// party platform's component_verify_ticket, its authorizers' refresh
// tokens, the access tokens fetched from them, and a note of each push the
// platform acted on, each a record under a key with an expiry; and leases,
// taken with a conditional write, so that one container at a time
// refreshes a token or acts on a push. Dynamo keeps them in a
// DynamoDB table (on-demand, TTL on expires_at, encrypted at rest); Memory
// keeps them in process for make local and unit tests, with the same
// answers to the same calls.
package tokentable

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// Record is a value under a key, until ExpiresAt (zero: no expiry).
// However it is printed, its value is not.
type Record struct {
	Key       string
	ExpiresAt time.Time
	value     *string
}

// NewRecord returns the record of value under key.
func NewRecord(key, value string, expiresAt time.Time) Record {
	return Record{Key: key, ExpiresAt: expiresAt, value: &value}
}

// Value is the secret itself, for the one call that sends it.
func (r Record) Value() string {
	if r.value == nil {
		return ""
	}
	return *r.value
}

// Valid reports whether the record holds a value that lives past t.
func (r Record) Valid(t time.Time) bool {
	return r.Value() != "" && (r.ExpiresAt.IsZero() || t.Before(r.ExpiresAt))
}

func (r Record) redacted() string {
	return fmt.Sprintf("{key:%s value:REDACTED expires_at:%s}", r.Key, r.ExpiresAt.UTC().Format(time.RFC3339))
}

// String never shows the value.
func (r Record) String() string { return r.redacted() }

// Format answers every verb without the value.
func (r Record) Format(f fmt.State, verb rune) { fmt.Fprint(f, r.redacted()) }

// LogValue is what slog's handlers print.
func (r Record) LogValue() slog.Value {
	return slog.GroupValue(slog.String("key", r.Key), slog.String("value", "REDACTED"), slog.Time("expires_at", r.ExpiresAt))
}

// MarshalJSON never writes the value.
func (r Record) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"key": r.Key, "value": "REDACTED", "expires_at": r.ExpiresAt})
}

// Lease is the right to refresh the record under Key until Until.
type Lease struct {
	Key   string
	Owner string
	Until time.Time
}

// leaseKey is where a key's lease lives: beside it, not in it, so that
// the token's record is never written without its value.
func leaseKey(key string) string { return "lease#" + key }

// The store's contract, both kinds alike:
//
//	Get(ctx, key) (Record, bool, error)    a strongly consistent read
//	Put(ctx, Record) error
//	Swap(ctx, Record, old) (bool, error)   writes the record only where
//	    its key holds the value old (a conditional write): false, and
//	    nothing written, when another value replaced old meanwhile
//	Delete(ctx, key) error
//	Lease(ctx, key, owner, now, until) (bool, error)
//	    true when the caller holds the lease: none was held, or the one
//	    held ended before now (a conditional write: of any number of
//	    callers, one wins)
//	Release(ctx, Lease) error              ends it, if still the owner's

// ctxDone is ctx's error, for stores that do no I/O.
func ctxDone(ctx context.Context) error { return ctx.Err() }
