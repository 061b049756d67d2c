package transfer_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/mems3"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/ledger"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/transfer"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// countingWeChat answers article images with a URL and refuses temporary
// media as WeChat refuses a file it does not take, counting each call.
type countingWeChat struct {
	videoWeChat
	calls atomic.Int32
}

func (c *countingWeChat) UploadImg(context.Context, wechat.Body) (string, error) {
	c.calls.Add(1)
	return "http://mmbiz.qpic.cn/mmbiz/x/0", nil
}

func (c *countingWeChat) Upload(context.Context, string, wechat.Body) (wechat.Uploaded, error) {
	c.calls.Add(1)
	return wechat.Uploaded{}, failure.New(failure.Caller, 40004, "invalid media type")
}

// An article image's URL never expires, and a final refusal is final: a
// version with either recorded is never sent to WeChat again, whatever
// became of its claim (expired after 3 days, or deleted).
func TestPermanentOutcomesAreNeverSentAgain(t *testing.T) {
	for key, data := range map[string][]byte{
		"uploadimg/banner.png":   mediatest.Sample(media.PNG, 4096),
		"upload/image/photo.jpg": mediatest.Sample(media.JPEG, 4096),
	} {
		t.Run(key, func(t *testing.T) {
			objects := mems3.New()
			etag := objects.Set(key, data)
			wx := &countingWeChat{}
			b := bucket.New(objects, bucket.Options{Name: "b"})
			svc := transfer.New(transfer.Options{Bucket: b, WeChat: wx, Ledger: ledger.New(b, b, ledger.Options{}), Logger: slog.New(slog.DiscardHandler)})
			for i := range 3 {
				r, err := svc.UploadObject(context.Background(), key, etag)
				if r.URL == "" && r.ErrCode != 40004 {
					t.Fatalf("delivery %d: %+v, %v; want the URL or the refusal", i, r, err)
				}
				for _, claim := range objects.Keys(bucket.ClaimsPrefix) {
					objects.Delete(claim)
				}
			}
			if n := wx.calls.Load(); n != 1 {
				t.Errorf("sent to WeChat %d times, want once", n)
			}
			if !strings.HasPrefix(key, "uploadimg/") {
				if _, err := svc.UploadKey(context.Background(), media.Image, key); failure.CodeOf(err) != 40004 || wx.calls.Load() != 1 {
					t.Errorf("{\"key\"} request: %v after %d calls, want the recorded refusal", err, wx.calls.Load())
				}
			}
		})
	}
}
