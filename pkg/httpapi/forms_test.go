package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/transfer"
)

// A form for a large file: a new key under the type's trigger prefix, the
// type's limit as the policy's content-length-range, the key pinned.
func TestUploadFormIsAPresignedPost(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	for _, tc := range []struct {
		path, prefix string
		max          float64
	}{
		{"/cgi-bin/media/upload-url?type=voice", "upload/voice/", 2 << 20},
		{"/cgi-bin/media/upload-url?type=thumb", "upload/thumb/", 64 << 10},
		{"/cgi-bin/media/uploadimg-url", "uploadimg/", 1 << 20},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			a := do(t, "POST", st.URL+tc.path, "", nil)
			key, _ := a.body["key"].(string)
			fields, _ := a.body["fields"].(map[string]any)
			if a.status != 200 || !strings.HasPrefix(key, tc.prefix) || len(key) != len(tc.prefix)+36 || fields["key"] != key ||
				a.body["max_size"] != tc.max || !strings.Contains(a.body["url"].(string), st.Bucket) || a.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("got %d %v, want a form for a new key under %s, at most %v bytes", a.status, a.raw, tc.prefix, tc.max)
			}
			raw, err := base64.StdEncoding.DecodeString(fields["policy"].(string))
			var policy struct{ Conditions []any }
			if err != nil || json.Unmarshal(raw, &policy) != nil {
				t.Fatalf("policy %q: %v", fields["policy"], err)
			}
			conds, _ := json.Marshal(policy.Conditions)
			for _, want := range []string{fmt.Sprintf(`["content-length-range",1,%d]`, int64(tc.max)), `{"key":"` + key + `"}`, `{"bucket":"` + st.Bucket + `"}`} {
				if !strings.Contains(string(conds), want) {
					t.Errorf("policy conditions %s: want %s", conds, want)
				}
			}
			if !transfer.IsFormKey(key) {
				t.Errorf("key %s is not a form key", key)
			}
			if again := do(t, "POST", st.URL+tc.path, "", nil); again.body["key"] == key {
				t.Errorf("a second form has the same key %s", key)
			}
		})
	}
	a := do(t, "POST", st.URL+"/cgi-bin/media/upload-url?type=gif", "", nil)
	if a.status != 200 || a.body["errcode"] != float64(failure.CodeInvalidMediaType) {
		t.Errorf("type=gif: got %d %s, want errcode 40004", a.status, a.raw)
	}
}

// result answers the outcome recorded for the object's current version,
// 202 while there is none, and waits for it with &wait=N.
func TestResult(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	result := func(key, wait string) answer {
		return do(t, "GET", st.URL+"/cgi-bin/media/result?key="+url.QueryEscape(key)+wait, "", nil)
	}
	key := "upload/voice/large greeting.mp3"
	etag := st.Put(t, key, mediatest.Sample(media.MP3, 4096))

	if a := result(key, ""); a.status != 202 || a.body["pending"] != true || a.body["key"] != key || a.body["etag"] != `"`+etag+`"` {
		t.Fatalf("before the event: got %d %s, want 202 pending for the object's version", a.status, a.raw)
	}
	// A waiting request returns once the trigger records the result.
	waited := make(chan answer, 1)
	go func() { waited <- result(key, "&wait=10") }()
	if _, err := st.Functions["upload"].Invoke(t.Context(), st.S3Event(stacktest.Created{Key: key, ETag: etag})); err != nil {
		t.Fatal(err)
	}
	a := <-waited
	if a.status != 200 || a.body["media_id"] == nil || a.body["type"] != "voice" || a.body["key"] != key {
		t.Fatalf("with wait: got %d %s, want 200 with the voice's media_id", a.status, a.raw)
	}
	if again := result(key, ""); again.raw != a.raw {
		t.Errorf("again: got %s, want the same %s", again.raw, a.raw)
	}
	// A new version of the object is pending again: the result is of the old one.
	st.Put(t, key, mediatest.Sample(media.MP3, 5000))
	if a := result(key, ""); a.status != 202 {
		t.Errorf("after a new version: got %d %s, want 202 pending", a.status, a.raw)
	}
	// A refused file's result says why.
	bad := "upload/image/notes.jpg"
	st.Put(t, bad, []byte("plain text"))
	st.Functions["upload"].Invoke(t.Context(), st.S3Event(stacktest.Created{Key: bad}))
	if a := result(bad, ""); a.status != 200 || a.body["errcode"] != float64(failure.CodeInvalidFileType) || a.body["final"] != true {
		t.Errorf("a refused file: got %d %s, want its recorded errcode 40005", a.status, a.raw)
	}

	for _, tc := range []struct{ name, key, wait, want string }{
		{"NoObject", "upload/voice/never-sent.mp3", "", "no object at key"},
		{"NotATrigger", "incoming/a.mp3", "", "outside the prefixes"},
		{"Reserved", "results/upload/voice/a.mp3.json", "", "what the service writes"},
		{"Empty", "", "", "key is empty"},
		{"WaitTooLong", key, "&wait=11", "invalid wait"},
		{"WaitNotANumber", key, "&wait=soon", "invalid wait"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if a := result(tc.key, tc.wait); a.status != 200 || a.body["errcode"] != float64(40035) || !strings.Contains(a.raw, tc.want) {
				t.Errorf("got %d %s, want errcode 40035: %s", a.status, a.raw, tc.want)
			}
		})
	}
}

// S3 takes a form's POST again until the form expires; only the first file
// sent with it is uploaded, and the form's key keeps that file's result.
func TestFormUploadsOneFile(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	form := do(t, "POST", st.URL+"/cgi-bin/media/upload-url?type=voice", "", nil)
	key := form.body["key"].(string)
	first := st.Put(t, key, mediatest.Sample(media.MP3, 4096)) // what the form's POSTs do
	if _, err := st.Functions["upload"].Invoke(t.Context(), st.S3Event(stacktest.Created{Key: key, ETag: first})); err != nil {
		t.Fatal(err)
	}
	want := st.Result(t, key)
	before := st.Sim.Stats().Upload
	second := st.Put(t, key, mediatest.Sample(media.MP3, 8192))
	out, err := st.Functions["upload"].Invoke(t.Context(), st.S3Event(stacktest.Created{Key: key, ETag: second}))
	if err != nil || !strings.Contains(string(out), `"skipped":["`+key+`"]`) {
		t.Fatalf("second file: answer %s, %v; want it skipped", out, err)
	}
	if got := st.Result(t, key); st.Sim.Stats().Upload != before || got["media_id"] != want["media_id"] || got["etag"] != `"`+first+`"` {
		t.Errorf("after a second file: %d uploads, result %v; want none, and the first file's result %v", st.Sim.Stats().Upload-before, got, want)
	}
	if a := do(t, "GET", st.URL+"/cgi-bin/media/result?key="+url.QueryEscape(key), "", nil); a.status != 200 || a.body["media_id"] != want["media_id"] {
		t.Errorf("result: got %d %s, want the first file's", a.status, a.raw)
	}
}

// A form's file that failed for a passing reason (WeChat busy for the call
// and its retries) is uploaded when Lambda retries its event: the form was
// used by that file, not by another.
func TestFormRetriedAfterAFailure(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	form := do(t, "POST", st.URL+"/cgi-bin/media/upload-url?type=voice", "", nil)
	key := form.body["key"].(string)
	etag := st.Put(t, key, mediatest.Sample(media.MP3, 4096))
	event := st.S3Event(stacktest.Created{Key: key, ETag: etag})
	st.Sim.SetFaults(wechatsim.Faults{Busy: 3})
	if _, err := st.Functions["upload"].Invoke(t.Context(), event); err == nil {
		t.Fatal("with WeChat busy: the invocation succeeded, want it failed for Lambda to retry")
	}
	before := st.Sim.Stats().Upload
	if out, err := st.Functions["upload"].Invoke(t.Context(), event); err != nil || strings.Contains(string(out), "skipped") {
		t.Fatalf("the retry: answer %s, %v; want the file uploaded", out, err)
	}
	if r := st.Result(t, key); r["media_id"] == nil || st.Sim.Stats().Upload != before+1 {
		t.Errorf("after the retry: result %v, %d uploads; want a media_id from one upload", r, st.Sim.Stats().Upload-before)
	}
}

func TestIsFormKey(t *testing.T) {
	for key, want := range map[string]bool{
		"upload/video/3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0b":     true,
		"uploadimg/3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0b":        true,
		"upload/video/3f2b8c1e-9a4d-1e6f-8b2a-1c3d5e7f9a0b":     false, // not version 4
		"upload/video/3F2B8C1E-9A4D-4E6F-8B2A-1C3D5E7F9A0B":     false, // not as written
		"upload/video/x/3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0b":   false,
		"upload/3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0b":           false,
		"samples/video/3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0b":    false,
		"upload/video/3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0b.mp4": false,
	} {
		if got := transfer.IsFormKey(key); got != want {
			t.Errorf("IsFormKey(%q) = %v, want %v", key, got, want)
		}
	}
}
