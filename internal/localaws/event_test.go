package localaws_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/localaws"
)

func TestEncodeKey(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"upload/image/a.jpg", "upload/image/a.jpg"},
		{"upload/image/holiday photo (1).jpg", "upload/image/holiday+photo+%281%29.jpg"},
		{"uploadimg/banner图.png", "uploadimg/banner%E5%9B%BE.png"},
		{"uploadimg/a+b=c&d~e*f_g-h.png", "uploadimg/a%2Bb%3Dc%26d%7Ee*f_g-h.png"},
		{"upload/image/100%.jpg", "upload/image/100%25.jpg"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			got := localaws.EncodeKey(tc.key)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if back, err := url.QueryUnescape(got); err != nil || back != tc.key {
				t.Errorf("QueryUnescape(%q): got %q, %v, want %q", got, back, err, tc.key)
			}
		})
	}
}

func TestEventJSON(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	data, err := localaws.EventJSON(localaws.Created{Bucket: "b", Key: "upload/voice/a b.mp3", Size: 42, ETag: `"abc"`, Time: at})
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Records []map[string]any `json:"Records"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Records) != 1 {
		t.Fatalf("got %d records, want 1", len(raw.Records))
	}
	r := raw.Records[0]
	obj := r["s3"].(map[string]any)["object"].(map[string]any)
	for _, c := range []struct {
		name string
		got  any
		want any
	}{
		{"eventVersion", r["eventVersion"], "2.1"},
		{"eventTime", r["eventTime"], "2026-11-25T10:00:00.000Z"},
		{"eventName", r["eventName"], "ObjectCreated:Put"},
		{"key", obj["key"], "upload/voice/a+b.mp3"},
		{"size", obj["size"], 42.0},
		{"eTag", obj["eTag"], "abc"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	// What S3 sends, and no more: aws-lambda-go's own field is not on the wire.
	if strings.Contains(string(data), "urlDecodedKey") {
		t.Errorf("event JSON has urlDecodedKey: %s", data)
	}
	if _, err := localaws.EventJSON(localaws.Created{Bucket: "b"}); err == nil {
		t.Error("event without a key: got no error")
	}
}
