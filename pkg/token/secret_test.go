package token_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/pkg/token"
)

const aesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG" // 43 characters

// Both shapes of the secret are read; a malformed one is an error that
// names the field, never a value.
func TestParseSecret(t *testing.T) {
	tests := []struct {
		name, secret string
		def          string   // the default app
		apps         []string // every app configured directly
		component    string
		err          string
	}{
		{"OneApp", `{"appid":"wxA","appsecret":"` + canary + `"}`, "wxA", []string{"wxA"}, "", ""},
		{"Apps", `{"default":"wxB","apps":{"wxA":"` + canary + `","wxB":"s2"}}`, "wxB", []string{"wxA", "wxB"}, "", ""},
		{"OneOfApps", `{"apps":{"wxA":"s1"}}`, "wxA", []string{"wxA"}, "", ""},
		{"Platform", `{"default":"wxA","apps":{"wxA":"s1"},"component":{"appid":"wxC","appsecret":"` + canary + `","token":"t","encoding_aes_key":"` + aesKey + `"}}`,
			"wxA", []string{"wxA"}, "wxC", ""},
		{"PlatformAlone", `{"component":{"appid":"wxC","appsecret":"s","token":"t","encoding_aes_key":"` + aesKey + `"}}`, "", nil, "wxC", ""},
		{"ErrNoDefault", `{"apps":{"wxA":"s1","wxB":"` + canary + `"}}`, "", nil, "", `missing field "default"`},
		{"ErrDefaultUnknown", `{"default":"wxZ","apps":{"wxA":"` + canary + `"}}`, "", nil, "", `field "default"`},
		{"ErrAppWithoutSecret", `{"default":"wxA","apps":{"wxA":""}}`, "", nil, "", `app wxA has no appsecret`},
		{"ErrBadAppID", `{"apps":{"wx/../x":"` + canary + `"}}`, "", nil, "", `field "apps"`},
		{"ErrShortAESKey", `{"component":{"appid":"wxC","appsecret":"` + canary + `","token":"t","encoding_aes_key":"short"}}`, "", nil, "", `"encoding_aes_key" must be 43`},
		{"ErrComponentNoToken", `{"component":{"appid":"wxC","appsecret":"` + canary + `","encoding_aes_key":"` + aesKey + `"}}`, "", nil, "", `missing "token"`},
		{"ErrMissingSecret", `{"appid":"wxA"}`, "", nil, "", `missing field "appsecret"`},
		{"ErrNotJSON", `{"appid":"wxA","appsecret":"` + canary, "", nil, "", "it is not JSON"},
		{"ErrEmpty", `{}`, "", nil, "", `missing field "appid"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sec, err := token.ParseSecret(tt.secret)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error containing %q", err, tt.err)
				}
				if strings.Contains(err.Error(), canary) {
					t.Errorf("the error %q shows a secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sec.Default.AppID != tt.def {
				t.Errorf("default: got %q, want %q", sec.Default.AppID, tt.def)
			}
			for _, id := range tt.apps {
				if c, ok := sec.App(id); !ok || c.AppSecret() == "" {
					t.Errorf("app %s: missing", id)
				}
			}
			if len(sec.Apps) != len(tt.apps) {
				t.Errorf("apps: got %d, want %d", len(sec.Apps), len(tt.apps))
			}
			got := ""
			if sec.Component != nil {
				got = sec.Component.AppID
			}
			if got != tt.component {
				t.Errorf("component: got %q, want %q", got, tt.component)
			}
			// However it is printed, no secret shows.
			data, _ := json.Marshal(sec)
			for _, s := range []string{fmt.Sprintf("%v", sec), fmt.Sprintf("%+v", sec), fmt.Sprintf("%#v", sec), string(data)} {
				if strings.Contains(s, canary) || strings.Contains(s, aesKey) {
					t.Errorf("a secret shows in %q", s)
				}
			}
		})
	}
}
