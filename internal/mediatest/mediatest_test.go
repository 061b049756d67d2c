package mediatest_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"image/jpeg"
	"image/png"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/pkg/media"
)

func TestSampleIsDetected(t *testing.T) {
	for _, f := range []media.Format{media.JPEG, media.PNG, media.GIF, media.AMR, media.MP3, media.MP4} {
		t.Run(string(f), func(t *testing.T) {
			b := mediatest.Sample(f, 1000)
			if got := media.Detect(b); got != f || len(b) != 1000 {
				t.Errorf("Detect(Sample(%s, 1000)) = %q of %d bytes, want %q of 1000", f, got, len(b), f)
			}
			streamed, err := io.ReadAll(mediatest.SampleReader(f, 1000))
			if err != nil || !bytes.Equal(streamed, b) {
				t.Errorf("SampleReader(%s) differs from Sample (err %v)", f, err)
			}
			if short := mediatest.Sample(f, 1); media.Detect(short) != f {
				t.Errorf("Sample(%s, 1) = % x: want at least the magic bytes", f, short)
			}
		})
	}
}

func TestPicturesDecode(t *testing.T) {
	if _, err := jpeg.Decode(bytes.NewReader(mediatest.JPEG())); err != nil {
		t.Errorf("JPEG: %v", err)
	}
	if _, err := png.Decode(bytes.NewReader(mediatest.PNG())); err != nil {
		t.Errorf("PNG: %v", err)
	}
}

// Every object is one an event in events/ names (SampleKey aside), with
// the size and ETag the event gives it, and holds what its content type
// says (the text refused on purpose aside).
func TestObjectsAreTheEvents(t *testing.T) {
	objects := map[string]mediatest.Object{}
	for _, o := range mediatest.Objects() {
		objects[o.Key] = o
		if got := media.Detect(o.Data).ContentType(); got != o.ContentType && !strings.Contains(o.Key, "not-really") {
			t.Errorf("%s: its bytes are %s, its content type %s", o.Key, got, o.ContentType)
		}
	}
	named := map[string]bool{mediatest.SampleKey: true}
	// check is an event's object: a JSON object with a key, and maybe a
	// size and an ETag (an S3 record's key is URL-encoded, EventBridge's not).
	check := func(file string, m map[string]any) {
		key, _ := m["key"].(string)
		o, ok := objects[key]
		if !ok {
			if key, _ = url.QueryUnescape(key); key == "" { // events/s3-malformed-key.json's, on purpose
				return
			}
			o, ok = objects[key]
		}
		if !ok {
			t.Errorf("%s names %s: not among Objects", file, key)
			return
		}
		named[key] = true
		if size, ok := m["size"].(float64); ok && int(size) != len(o.Data) {
			t.Errorf("%s gives %s %v bytes; Objects %d", file, key, size, len(o.Data))
		}
		etag, _ := m["eTag"].(string)
		if etag == "" {
			etag, _ = m["etag"].(string)
		}
		if sum := md5.Sum(o.Data); etag != "" && etag != hex.EncodeToString(sum[:]) {
			t.Errorf("%s gives %s the ETag %s; Objects' is %x", file, key, etag, sum)
		}
	}
	files, err := filepath.Glob("../../events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("events: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walkObjects(v, func(m map[string]any) { check(filepath.Base(f), m) })
	}
	for key := range objects {
		if !named[key] {
			t.Errorf("%s: no event in events/ names it", key)
		}
	}
}

// walkObjects calls fn with every JSON object in v that has a "key", and
// looks into strings that hold JSON (an SQS message's or an HTTP request's
// body).
func walkObjects(v any, fn func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["key"].(string); ok {
			fn(v)
		}
		for _, e := range v {
			walkObjects(e, fn)
		}
	case []any:
		for _, e := range v {
			walkObjects(e, fn)
		}
	case string:
		var inner any
		if strings.HasPrefix(v, "{") && json.Unmarshal([]byte(v), &inner) == nil {
			walkObjects(inner, fn)
		}
	}
}
