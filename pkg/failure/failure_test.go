package failure_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/pkg/failure"
)

func TestKindCodeMessage(t *testing.T) {
	cause := errors.New("GET https://s3/…: connection reset")
	f := failure.Wrap(failure.S3, failure.CodeSystem, cause, "system error: S3 failed")
	wrapped := fmt.Errorf("upload x: %w", f)
	tests := []struct {
		name string
		err  error
		kind failure.Kind
		code int
		msg  string
	}{
		{"Classified", wrapped, failure.S3, -1, "system error: S3 failed"},
		{"Caller", failure.New(failure.Caller, 40005, "invalid file type"), failure.Caller, 40005, "invalid file type"},
		{"Unclassified", errors.New("boom: secret detail"), failure.Internal, -1, "system error"},
		{"Joined", errors.Join(f, errors.New("other")), failure.S3, -1, "system error: S3 failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if k, c, m := failure.KindOf(tt.err), failure.CodeOf(tt.err), failure.MessageOf(tt.err); k != tt.kind || c != tt.code || m != tt.msg {
				t.Errorf("got %v %d %q, want %v %d %q", k, c, m, tt.kind, tt.code, tt.msg)
			}
		})
	}
	if !errors.Is(wrapped, cause) || !strings.Contains(wrapped.Error(), "connection reset") {
		t.Errorf("the cause is lost for the logs: %v", wrapped)
	}
	for _, k := range failure.Kinds() {
		if strings.HasPrefix(k.String(), "kind(") {
			t.Errorf("kind %d has no name", k)
		}
	}
}

// Only the caller's failures are final: every other kind may pass on
// another try or once an operator mends the deployment, and so may an
// error no adapter classified.
func TestFinal(t *testing.T) {
	for _, k := range failure.Kinds() {
		t.Run(k.String(), func(t *testing.T) {
			err := fmt.Errorf("upload x: %w", failure.New(k, 40164, "what a caller may see"))
			if got, want := failure.Final(err), k == failure.Caller; got != want {
				t.Errorf("Final(%s failure) = %v, want %v", k, got, want)
			}
		})
	}
	if failure.Final(errors.New("boom")) {
		t.Error("an unclassified error is final, want it retried")
	}
}

func Example() {
	err := fmt.Errorf("record: %w", failure.Wrap(failure.Config, -1, errors.New("AccessDenied on s3://b/k"), "system error: access to the media bucket was denied"))
	fmt.Println(failure.KindOf(err), failure.CodeOf(err))
	fmt.Println(failure.MessageOf(err)) // what a caller is told
	// Output:
	// configuration -1
	// system error: access to the media bucket was denied
}
