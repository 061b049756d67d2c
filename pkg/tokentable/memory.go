package tokentable

import (
	"context"
	"sync"
	"time"
)

// Memory is the store in process: make local's, and unit tests'.
type Memory struct {
	mu      sync.Mutex
	records map[string]Record
	leases  map[string]Lease
	now     func() time.Time
}

// NewMemory returns an empty store; now (default time.Now) expires records.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{records: map[string]Record{}, leases: map[string]Lease{}, now: now}
}

// Get returns the record under key, unless it expired.
func (m *Memory) Get(ctx context.Context, key string) (Record, bool, error) {
	if err := ctxDone(ctx); err != nil {
		return Record{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[key]
	if ok && !r.ExpiresAt.IsZero() && !m.now().Before(r.ExpiresAt) {
		delete(m.records, key)
		return Record{}, false, nil
	}
	return r, ok, nil
}

// Put writes r.
func (m *Memory) Put(ctx context.Context, r Record) error {
	if err := ctxDone(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records[r.Key] = r
	return nil
}

// Swap writes r only where r.Key holds the value old.
func (m *Memory) Swap(ctx context.Context, r Record, old string) (bool, error) {
	if err := ctxDone(ctx); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.records[r.Key]; !ok || cur.Value() != old {
		return false, nil
	}
	m.records[r.Key] = r
	return true, nil
}

// Delete removes the record under key.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := ctxDone(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.records, key)
	return nil
}

// Lease takes key's lease for owner until until, if none is held at now.
func (m *Memory) Lease(ctx context.Context, key, owner string, now, until time.Time) (bool, error) {
	if err := ctxDone(ctx); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[key]; ok && now.Before(l.Until) {
		return false, nil
	}
	m.leases[key] = Lease{Key: key, Owner: owner, Until: until}
	return true, nil
}

// Release ends l, if it is still its owner's.
func (m *Memory) Release(ctx context.Context, l Lease) error {
	if err := ctxDone(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.leases[l.Key]; ok && cur.Owner == l.Owner {
		delete(m.leases, l.Key)
	}
	return nil
}
