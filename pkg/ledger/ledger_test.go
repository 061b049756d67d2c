package ledger_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wxmedia/wxmedia/pkg/ledger"
)

func TestResultKeys(t *testing.T) {
	tests := []struct {
		w    ledger.Work
		want string
	}{
		{ledger.Work{Key: "upload/image/a b.jpg", API: "upload", Type: "image", Trigger: true}, "results/upload/image/a b.jpg.json"},
		{ledger.Work{Key: "uploadimg/banner.png", API: "uploadimg", Trigger: true}, "results/uploadimg/banner.png.json"},
		{ledger.Work{Key: "upload/image/a.jpg", API: "upload", Type: "thumb"}, "results/requested/upload/thumb/upload/image/a.jpg.json"},
		{ledger.Work{Key: "upload/image/a.jpg", API: "uploadimg"}, "results/requested/uploadimg/upload/image/a.jpg.json"},
		{ledger.Work{Key: "partner/a.jpg", API: "upload", Type: "image"}, "results/requested/upload/image/partner/a.jpg.json"},
	}
	for _, tt := range tests {
		if got := ledger.ResultKey(tt.w); got != tt.want {
			t.Errorf("ResultKey(%+v) = %q, want %q", tt.w, got, tt.want)
		}
	}
}

// Every legal S3 key (1024 bytes of UTF-8) has a result key S3 takes:
// cut at a character boundary and tagged with a hash of the whole key, so
// two long keys never share one.
func TestLongKeysAreCutAndHashed(t *testing.T) {
	for _, rest := range []string{strings.Repeat("a", 1011), strings.Repeat("图", 337), strings.Repeat("é", 505) + "x"} {
		for _, key := range []string{"upload/image/" + rest, "upload/image/" + rest[:len(rest)-1] + "z"} {
			if len(key) > 1024 || !utf8.ValidString(key) {
				continue
			}
			for _, w := range []ledger.Work{{Key: key, API: "upload", Type: "image", Trigger: true}, {Key: key, API: "upload", Type: "thumb"}} {
				got := ledger.ResultKey(w)
				if len(got) > 1024 || !utf8.ValidString(got) || !strings.HasSuffix(got, ".json") {
					t.Errorf("result key of a %d-byte key: %d bytes, valid UTF-8 %v: %.60q…", len(key), len(got), utf8.ValidString(got), got)
				}
			}
		}
	}
	a := strings.Repeat("a", 1010)
	k1 := ledger.ResultKey(ledger.Work{Key: "upload/image/" + a + "1", Trigger: true})
	k2 := ledger.ResultKey(ledger.Work{Key: "upload/image/" + a + "2", Trigger: true})
	if k1 == k2 || !strings.Contains(k1, "~") {
		t.Errorf("two long keys share a result key, or it carries no hash: %q", k1[len(k1)-80:])
	}
	short := ledger.ResultKey(ledger.Work{Key: "upload/image/a.jpg", Trigger: true})
	if strings.Contains(short, "~") {
		t.Errorf("a short key was hashed: %q", short)
	}
}
