package transfer_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
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

// bigWeChat answers media/get with an image of size bytes, announcing
// announced (-1: none, as a chunked answer).
type bigWeChat struct {
	videoWeChat
	size, announced int64
}

func (b bigWeChat) Get(context.Context, string) (*wechat.Media, error) {
	return &wechat.Media{ContentType: "image/jpeg", Size: b.announced,
		Body: io.NopCloser(mediatest.SampleReader(media.JPEG, b.size))}, nil
}

// A faulty or hostile WeChat that answers media/get with more than the
// type's limit (an image of 40 MB; the limit is 10 MB) gets nothing
// stored: the fetch fails, whether the size was announced or not.
func TestFetchedMediaIsCappedByItsType(t *testing.T) {
	const size = 40 << 20
	for name, announced := range map[string]int64{"Announced": size, "Chunked": -1} {
		t.Run(name, func(t *testing.T) {
			objects := mems3.New()
			b := bucket.New(objects, bucket.Options{Name: "b", Presigner: presignStub{}})
			svc := transfer.New(transfer.Options{Bucket: b, WeChat: bigWeChat{size: size, announced: announced},
				Ledger: ledger.New(b, b, ledger.Options{}), Logger: slog.New(slog.DiscardHandler)})
			_, err := svc.Fetch(context.Background(), "MEDIA_ID")
			if err == nil || failure.KindOf(err) != failure.WeChat || !strings.Contains(failure.MessageOf(err), "larger than its limit") {
				t.Fatalf("fetch of a 40 MB image: %v, want WeChat's failure saying it is over the limit", err)
			}
			if keys := objects.Keys("media/"); len(keys) > 0 {
				t.Errorf("stored %v, want nothing", keys)
			}
		})
	}
}

// brokenTable is a media_id index whose table cannot be read (throttled,
// or not set up).
type brokenTable struct{}

func (brokenTable) ReadJSON(context.Context, string, any) (string, error) {
	return "", failure.New(failure.DynamoDB, failure.CodeSystem, "system error: the stack's table is unavailable (DynamoDB)")
}

func (brokenTable) WriteJSON(context.Context, string, any, bucket.Condition) (string, error) {
	return "", failure.New(failure.DynamoDB, failure.CodeSystem, "system error: the stack's table is unavailable (DynamoDB)")
}

// The media_id index only spares WeChat's quota: a get while the table
// fails still answers the media, fetched from WeChat.
func TestGetOutlivesAnUnreadableIndex(t *testing.T) {
	objects := mems3.New()
	b := bucket.New(objects, bucket.Options{Name: "b", Presigner: presignStub{}})
	svc := transfer.New(transfer.Options{Bucket: b, WeChat: bigWeChat{size: 2048, announced: 2048}, Index: brokenTable{},
		Ledger: ledger.New(b, b, ledger.Options{}), Logger: slog.New(slog.DiscardHandler)})
	got, err := svc.Fetch(context.Background(), "MEDIA_ID")
	if err != nil || got.From != "wechat" || got.Size != 2048 {
		t.Fatalf("get while the index fails: %+v, %v; want the 2,048 bytes fetched from WeChat", got, err)
	}
}
