package stacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/wxmedia/wxmedia/pkg/tracing"
)

// sampled invokes a function as Lambda does with tracing Active: the
// invocation carries a trace header X-Ray sampled, unless it has one.
type sampled struct{ lambda.Handler }

func (s sampled) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if _, ok := tracing.HeaderFrom(ctx); !ok {
		ctx = tracing.WithHeader(ctx, tracing.NewHeader(time.Now(), true))
	}
	return s.Handler.Invoke(ctx, payload)
}

// daemon stands for Lambda's X-Ray daemon: it keeps every datagram.
type daemon struct {
	addr string
	mu   sync.Mutex
	got  [][]byte
}

func startDaemon(t testing.TB) *daemon {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("X-Ray daemon stand-in: %v", err)
	}
	d := &daemon{addr: conn.LocalAddr().String()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			d.mu.Lock()
			d.got = append(d.got, bytes.Clone(buf[:n]))
			d.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return d
}

// Traces are the datagrams the functions sent to the X-Ray daemon so far,
// as sent: the daemon's header line, then one subsegment document. The
// spans are sent as they end; Traces waits until none has come for 50 ms.
func (st *Stack) Traces() []string {
	for n, deadline := -1, time.Now().Add(2*time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		st.daemon.mu.Lock()
		now := len(st.daemon.got)
		st.daemon.mu.Unlock()
		if now == n {
			break
		}
		n = now
	}
	st.daemon.mu.Lock()
	defer st.daemon.mu.Unlock()
	out := make([]string, len(st.daemon.got))
	for i, g := range st.daemon.got {
		out[i] = string(g)
	}
	return out
}

// Subsegments are the documents of Traces, decoded.
func (st *Stack) Subsegments(t testing.TB) []tracing.Document {
	t.Helper()
	var out []tracing.Document
	for _, g := range st.Traces() {
		_, body, _ := bytes.Cut([]byte(g), []byte("\n"))
		var d tracing.Document
		if err := json.Unmarshal(body, &d); err != nil {
			t.Fatalf("a datagram to the X-Ray daemon: %v: %q", err, g)
		}
		out = append(out, d)
	}
	return out
}
