package apps

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/token"
)

func TestGlob(t *testing.T) {
	for _, tt := range []struct {
		pattern, s string
		want       bool
	}{
		{"arn:aws:iam::1:role/shop", "arn:aws:iam::1:role/shop", true},
		{"arn:aws:iam::1:role/shop", "arn:aws:iam::1:role/shop2", false},
		{"arn:aws:sts::1:assumed-role/shop-*", "arn:aws:sts::1:assumed-role/shop-eu/session", true},
		{"arn:aws:sts::1:assumed-role/shop-*", "arn:aws:sts::1:assumed-role/admin/session", false},
		{"*:role/a*b", "arn:aws:iam::1:role/axxb", true},
		{"*:role/a*b", "arn:aws:iam::1:role/axxbc", false},
		{"*", "anything", true},
		{"", "", true},
	} {
		if got := glob(tt.pattern, tt.s); got != tt.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestClaimedApps(t *testing.T) {
	for in, want := range map[string][]string{"[wxa wxb]": {"wxa", "wxb"}, "wxa,wxb": {"wxa", "wxb"}, " wxa ": {"wxa"}, "": nil} {
		if got := claimedApps(in); !slices.Equal(got, want) {
			t.Errorf("claimedApps(%q) = %q, want %q", in, got, want)
		}
	}
}

type secretsOf struct{ s token.Secret }

func (f secretsOf) Secret(context.Context) (token.Secret, error) { return f.s, nil }
func (f secretsOf) Invalidate()                                  {}

// A deployment of many apps that binds no caller says so once, naming
// the settings; one of a single app does not.
func TestUnboundCallersWarnOnce(t *testing.T) {
	for value, warns := range map[string]bool{
		`{"default":"wxa","apps":{"wxa":"s1","wxb":"s2"}}`: true,
		`{"appid":"wxa","appsecret":"s1"}`:                 false,
	} {
		sec, err := token.ParseSecret(value)
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		r := New(Options{Secrets: secretsOf{sec}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		for range 3 {
			if _, err := r.Resolve(WithCaller(context.Background(), Caller{ARN: "arn:x"}), ""); err != nil {
				t.Fatal(err)
			}
		}
		n := strings.Count(logs.String(), "in the secret (AuthMode=IAM)")
		if warns && (n != 1 || !strings.Contains(logs.String(), "JwtAppsClaim")) || !warns && n != 0 {
			t.Errorf("%s: %d warnings, want %v once:\n%s", value, n, warns, logs.String())
		}
	}
}

// A caller is refused, with 40013, the apps its binding does not name.
func TestPermit(t *testing.T) {
	sec, err := token.ParseSecret(`{"default":"wxa","apps":{"wxa":"s1","wxb":"s2"},"callers":{"arn:role/b*":["wxb"]}}`)
	if err != nil {
		t.Fatal(err)
	}
	r := New(Options{Secrets: secretsOf{sec}})
	b := WithCaller(context.Background(), Caller{ARN: "arn:role/b1"})
	if _, err := r.Resolve(b, "wxb"); err != nil {
		t.Errorf("its own app: %v", err)
	}
	for _, id := range []string{"", "wxa", "wx-unknown"} {
		if _, err := r.Resolve(b, id); failure.CodeOf(err) != failure.CodeInvalidAppID {
			t.Errorf("app %q: %v, want 40013", id, err)
		}
	}
	if _, err := r.Resolve(context.Background(), "wxa"); err != nil {
		t.Errorf("no caller noted (an S3 event): %v, want every app", err)
	}
	// A claim names apps one by one: "*" in it grants none.
	claimed := New(Options{Secrets: secretsOf{sec}, AppsClaim: "apps"})
	star := WithCaller(context.Background(), Caller{Claims: map[string]string{"apps": "[* wxb]"}})
	if _, err := claimed.Resolve(star, "wxa"); failure.CodeOf(err) != failure.CodeInvalidAppID {
		t.Errorf(`a claim of "*": %v for another app, want 40013`, err)
	}
	if _, err := claimed.Resolve(star, "wxb"); err != nil {
		t.Errorf("the claim's own app: %v", err)
	}
}
