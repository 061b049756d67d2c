package ledger_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/wxmedia/wxmedia/internal/memdynamo"
	"github.com/wxmedia/wxmedia/internal/mems3"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/ledger"
	"github.com/wxmedia/wxmedia/pkg/recordtable"
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

// lostAnswer is a store whose first conditional create is written but
// answered "exists": the SDK retried a write whose answer was lost, and
// the retry found the item its first try had written.
type lostAnswer struct {
	*recordtable.Table
	lost bool
}

func (l *lostAnswer) WriteJSON(ctx context.Context, key string, v any, cond bucket.Condition) (string, error) {
	ver, err := l.Table.WriteJSON(ctx, key, v, cond)
	if err == nil && cond.IfAbsent && !l.lost {
		l.lost = true
		return "", fmt.Errorf("retried: %w", bucket.ErrExists)
	}
	return ver, err
}

// A claim whose create was written but whose answer was lost is the
// caller's own: the work is sent at once, and nothing is counted as an
// unconfirmed upload (which would spend the one extra upload allowed).
func TestOwnClaimWithLostAnswer(t *testing.T) {
	ctx := context.Background()
	objects := mems3.New()
	b := bucket.New(objects, bucket.Options{Name: "b"})
	db := memdynamo.New(recordtable.AttrKey)
	claims := &lostAnswer{Table: recordtable.New(db, "t", 0, nil)}
	l := ledger.New(b, claims, ledger.Options{})
	etag := objects.Set("upload/image/a.jpg", []byte("jpeg"))
	w := ledger.Work{Key: "upload/image/a.jpg", ETag: etag, API: "upload", Type: "image", Trigger: true, DefaultApp: true, MustRecord: true}
	sends := 0
	r, err := l.Do(ctx, w, func(context.Context) (ledger.Work, func(context.Context) (ledger.Result, error), error) {
		return w, func(context.Context) (ledger.Result, error) {
			sends++
			return ledger.Result{Type: "image", MediaID: "M1", ExpiresAt: time.Now().Add(72 * time.Hour).Unix()}, nil
		}, nil
	})
	if err != nil || r.MediaID != "M1" || sends != 1 || !claims.lost {
		t.Fatalf("Do: %+v, %v after %d sends (answer lost: %v); want M1 sent once", r, err, sends, claims.lost)
	}
	for k, item := range db.Items("t") {
		if v, _ := item[recordtable.AttrValue].(*types.AttributeValueMemberS); v != nil && strings.Contains(v.Value, `"unconfirmed"`) {
			t.Errorf("claim %s counts an unconfirmed upload: %s", k, v.Value)
		}
	}
}
