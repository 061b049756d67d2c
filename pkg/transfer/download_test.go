package transfer_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/mems3"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/transfer"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// videoWeChat answers media/get with a video_url.
type videoWeChat struct{ url string }

func (v videoWeChat) Upload(context.Context, string, wechat.Body) (wechat.Uploaded, error) {
	return wechat.Uploaded{}, errors.New("not here")
}
func (v videoWeChat) UploadImg(context.Context, wechat.Body) (string, error) {
	return "", errors.New("not here")
}
func (v videoWeChat) Get(context.Context, string) (*wechat.Media, error) {
	return &wechat.Media{ContentType: "video/mp4", Size: -1, VideoURL: v.url}, nil
}

// counted is a server on 127.0.0.1 that counts the requests it gets.
func counted(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// The video_url WeChat answers is fetched only from public addresses (or
// the configured WeChat base), over http(s), with at most 3 redirects, each
// checked at connect time, and within the video limit.
func TestVideoURLOnlyFromPublicAddresses(t *testing.T) {
	video := mediatest.Sample(media.MP4, 5000)
	inside, insideHits := counted(t, func(w http.ResponseWriter, r *http.Request) { w.Write(video) })
	base, _ := counted(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/video.mp4":
			w.Write(video)
		case "/to-inside":
			http.Redirect(w, r, inside.URL+"/video.mp4", http.StatusFound)
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/iam/security-credentials/", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/huge":
			w.Header().Set("Content-Length", "20000000")
			w.Write(video)
		case "/huge-unannounced":
			w.(http.Flusher).Flush()
			for range 2100 {
				w.Write(make([]byte, 5000))
			}
		}
	})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(inside.URL, "http://"))
	tests := []struct {
		name, url string
		ok        bool
	}{
		{"TheConfiguredBase", base.URL + "/video.mp4", true},
		{"LoopbackOtherThanTheBase", inside.URL + "/video.mp4", false},
		{"LocalhostName", "http://localhost:" + port + "/video.mp4", false},
		{"Metadata", "http://169.254.169.254/latest/meta-data/", false},
		{"MetadataIPv6", "http://[fd00:ec2::254]/latest/meta-data/", false},
		{"Private", "http://10.0.0.1/v.mp4", false},
		{"MappedLoopback", "http://[::ffff:127.0.0.1]:" + port + "/video.mp4", false},
		{"Unspecified", "http://0.0.0.0:" + port + "/video.mp4", false},
		{"FileScheme", "file:///etc/passwd", false},
		{"RedirectToLoopback", base.URL + "/to-inside", false},
		{"RedirectToMetadata", base.URL + "/to-metadata", false},
		{"RedirectLoop", base.URL + "/loop", false},
		{"LargerThanTheVideoLimit", base.URL + "/huge", false},
		{"LargerThanTheVideoLimitUnannounced", base.URL + "/huge-unannounced", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			insideHits.Store(0)
			objects := mems3.New()
			rules, _ := media.DefaultRules().WithLimits("video=10000000")
			svc := transfer.New(transfer.Options{
				Bucket:    bucket.New(objects, bucket.Options{Name: "b", Presigner: presignStub{}}),
				WeChat:    videoWeChat{tt.url},
				Rules:     rules,
				Downloads: transfer.NewDownloader(transfer.DownloadOptions{Allow: transfer.AllowFor(base.URL)}),
				Logger:    slog.New(slog.DiscardHandler),
			})
			f, err := svc.Fetch(context.Background(), "VIDEO")
			if tt.ok {
				if err != nil || f.Size != int64(len(video)) {
					t.Fatalf("Fetch = %+v, %v; want the %d bytes", f, err, len(video))
				}
				return
			}
			if err == nil || failure.KindOf(err) != failure.WeChat || failure.MessageOf(err) == "system error" {
				t.Fatalf("Fetch = %+v, %v; want a clear failure blaming WeChat's answer", f, err)
			}
			if n := insideHits.Load(); n != 0 {
				t.Errorf("the refused address got %d requests", n)
			}
			if keys := objects.Keys("media/"); len(keys) != 0 {
				t.Errorf("stored %v from a refused download", keys)
			}
		})
	}
}

type presignStub struct{}

func (presignStub) PresignGetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error) {
	return &v4.PresignedHTTPRequest{URL: "https://b.s3.amazonaws.com/" + *in.Key}, nil
}

func (presignStub) PresignPostObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.PresignPostOptions)) (*s3.PresignedPostRequest, error) {
	return &s3.PresignedPostRequest{URL: "https://b.s3.amazonaws.com/", Values: map[string]string{"key": *in.Key}}, nil
}

// AllowFor lets the downloader reach the configured WeChat base: loopback
// addresses as IPs, and a name only for host.docker.internal over http
// (the simulator, seen from a `sam local` container).
func TestAllowFor(t *testing.T) {
	for base, want := range map[string][]string{
		"http://127.0.0.1:3001":               {"127.0.0.1:3001"},
		"http://localhost:3001":               {"127.0.0.1:3001", "[::1]:3001"},
		"http://host.docker.internal:3001":    {"host.docker.internal:3001"},
		"http://host.docker.internal":         {"host.docker.internal:80"},
		"https://host.docker.internal:3001":   nil,
		"http://host.docker.internal.example": nil,
		"https://api.weixin.qq.com":           nil,
	} {
		if got := transfer.AllowFor(base); !slices.Equal(got, want) {
			t.Errorf("AllowFor(%q) = %q, want %q", base, got, want)
		}
	}
}

// A name in Allow allows that name and port as requested, whatever it
// resolves to; the same server by its IP, or another port, stays refused.
func TestAllowedNameIsThatNameOnly(t *testing.T) {
	srv, hits := counted(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	other, otherHits := counted(t, func(w http.ResponseWriter, r *http.Request) {})
	_, otherPort, _ := net.SplitHostPort(strings.TrimPrefix(other.URL, "http://"))
	c := transfer.NewDownloader(transfer.DownloadOptions{Allow: []string{"localhost:" + port}})
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"http://localhost:" + port + "/", true},
		{srv.URL + "/", false},
		{"http://localhost:" + otherPort + "/", false},
	} {
		resp, err := c.Get(tt.url)
		if err == nil {
			resp.Body.Close()
		}
		if ok := err == nil && resp.StatusCode == 200; ok != tt.ok || (!tt.ok && !errors.Is(err, transfer.ErrRefusedAddress)) {
			t.Errorf("GET %s: %v, want allowed %v", tt.url, err, tt.ok)
		}
	}
	if hits.Load() != 1 || otherHits.Load() != 0 {
		t.Errorf("requests: %d to the allowed name's server (want 1), %d to the other (want 0)", hits.Load(), otherHits.Load())
	}
}
