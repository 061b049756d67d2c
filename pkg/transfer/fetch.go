package transfer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"time"

	"github.com/wxmedia/wxmedia/pkg/apps"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// Fetched is WeChat media, in the bucket: where its bytes are, what they
// are, and a link to them.
type Fetched struct {
	MediaID string `json:"media_id"`
	// Key holds its bytes: media/<id><ext>, or the object this deployment
	// uploaded it from, unchanged since.
	Key         string `json:"key"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	// URL is a presigned GET of Key, answered with ContentType and as an
	// attachment named Filename, as WeChat's media/get answers.
	URL      string `json:"url"`
	VideoURL string `json:"video_url,omitempty"` // for video: URL, as WeChat answers video with a link
	Filename string `json:"-"`                   // <id><ext>
	ETag     string `json:"-"`                   // Key's version, to pin Open
	// From says where it came from: "bucket" (stored by an earlier get),
	// "upload" (uploaded by this deployment) or "wechat".
	From string `json:"-"`
}

// Video reports whether the media is a video, which WeChat answers with a
// link rather than its bytes.
func (f Fetched) Video() bool { return f.VideoURL != "" }

// Fetch finds temporary media and answers where its bytes are, spending
// WeChat's media/get quota only when it must: media stored by an earlier
// get (media/<id><ext>) or uploaded by this deployment from an object that
// has not changed is answered from the bucket. Otherwise it is streamed
// from WeChat into the bucket at media/<id><ext>, with memory bounded by
// one multipart part; video, which WeChat answers with a link, is
// downloaded from that link.
func (s *Service) Fetch(ctx context.Context, mediaID string) (Fetched, error) {
	if err := checkMediaID(mediaID); err != nil {
		return Fetched{}, err
	}
	ctx, app, err := s.app(ctx, apps.Requested(ctx))
	if err != nil {
		return Fetched{}, err
	}
	out, err := s.stored(ctx, app, mediaID)
	if errors.Is(err, failure.ErrNotFound) {
		out, err = s.uploaded(ctx, app, mediaID)
	}
	if errors.Is(err, failure.ErrNotFound) {
		out, err = s.fetch(ctx, app, mediaID)
		if errors.Is(err, errCutShort) && ctx.Err() == nil {
			// The connection broke mid-file: nothing was stored; fetch it again, once.
			s.log.InfoContext(ctx, "media cut short; fetching again", "media_id", mediaID)
			out, err = s.fetch(ctx, app, mediaID)
		}
	}
	if err != nil {
		return Fetched{}, err
	}
	if out.From != "wechat" {
		s.reused(ctx)
	}
	return s.link(ctx, out)
}

// mediaKey is where media fetched for app a is stored: media/<id><ext>
// for the default app, media/<appid>/<id><ext> for another (a media_id is
// one app's, and one app's get never answers another's media).
func mediaKey(a apps.App, mediaID string) string {
	if a.Default || a.ID == "" {
		return bucket.MediaPrefix + mediaID
	}
	return bucket.MediaPrefix + a.ID + "/" + mediaID
}

// stored finds media an earlier get stored for app a.
func (s *Service) stored(ctx context.Context, a apps.App, mediaID string) (Fetched, error) {
	obj, err := s.bucket.First(ctx, mediaKey(a, mediaID)+".")
	if err != nil {
		return Fetched{}, err
	}
	f := media.FormatOf(path.Ext(obj.Key))
	return Fetched{MediaID: mediaID, Key: obj.Key, ETag: obj.ETag, Size: obj.Size, ContentType: contentType(f, ""),
		Filename: mediaID + f.Ext(), From: "bucket"}, nil
}

// uploaded finds media this deployment uploaded for app a, from its index
// record, if its object is still the version uploaded and WeChat still
// keeps it.
func (s *Service) uploaded(ctx context.Context, a apps.App, mediaID string) (Fetched, error) {
	var ix mediaIndex
	_, err := s.mediaIDs.ReadJSON(ctx, bucket.MediaIndexPrefix+mediaID+".json", &ix)
	switch {
	case errors.Is(err, failure.ErrNotFound):
		return Fetched{}, err
	case err != nil:
		// The index only spares WeChat's quota: a table that cannot be read
		// is logged, and the media fetched from WeChat.
		s.log.WarnContext(ctx, "cannot read the media_id index; asking WeChat", "media_id", mediaID, "error", err.Error())
		return Fetched{}, fmt.Errorf("media %s: index unread: %w", mediaID, failure.ErrNotFound)
	}
	if ix.AppID != a.ID && !(ix.AppID == "" && a.Default) {
		return Fetched{}, fmt.Errorf("media %s: uploaded for another app: %w", mediaID, failure.ErrNotFound)
	}
	if ix.MediaID != mediaID || !s.now().Before(time.Unix(ix.ExpiresAt, 0)) {
		return Fetched{}, fmt.Errorf("media %s: %w", mediaID, failure.ErrNotFound) // expired at WeChat too
	}
	obj, err := s.bucket.Stat(ctx, ix.Key)
	if err != nil || obj.ETag != ix.ETag {
		// Gone or changed since: its bytes are no longer the media's.
		return Fetched{}, fmt.Errorf("media %s: its object changed: %w", mediaID, failure.ErrNotFound)
	}
	f := media.FormatOf(ix.Ext)
	return Fetched{MediaID: mediaID, Key: ix.Key, ETag: obj.ETag, Size: obj.Size, ContentType: contentType(f, ""),
		Filename: mediaID + f.Ext(), From: "upload"}, nil
}

// link adds the presigned link to f, answered as WeChat answers it.
func (s *Service) link(ctx context.Context, f Fetched) (Fetched, error) {
	url, err := s.bucket.PresignGet(ctx, f.Key, s.presignTTL, bucket.Served{ContentType: f.ContentType, Filename: f.Filename})
	if err != nil {
		return Fetched{}, failure.Wrap(failure.Internal, failure.CodeSystem, err, "system error")
	}
	f.URL = url
	if media.FormatOf(path.Ext(f.Filename)) == media.MP4 {
		f.VideoURL = url
	}
	s.log.InfoContext(ctx, "media found", "media_id", f.MediaID, "from", f.From, "key", f.Key, "bytes", f.Size)
	return f, nil
}

// OpenMedia streams f's bytes, pinned to the version found.
func (s *Service) OpenMedia(ctx context.Context, f Fetched) (io.ReadCloser, error) {
	rc, _, err := s.bucket.Open(ctx, f.Key, f.ETag)
	return rc, err
}

// contentType is f's content type, or fallback, or octet-stream.
func contentType(f media.Format, fallback string) string {
	switch {
	case f != "":
		return f.ContentType()
	case fallback != "":
		return fallback
	}
	return "application/octet-stream"
}

// errCutShort marks a media/get answer whose body broke off.
var errCutShort = fmt.Errorf("%w: the media was cut short", wechat.ErrBadResponse)

func (s *Service) fetch(ctx context.Context, a apps.App, mediaID string) (Fetched, error) {
	m, err := s.wx.Get(ctx, mediaID)
	if err != nil {
		return Fetched{}, err
	}
	out := Fetched{MediaID: mediaID, From: "wechat"}
	if m.VideoURL != "" {
		if m, err = s.download(ctx, m.VideoURL); err != nil {
			return Fetched{}, err
		}
	}
	defer m.Body.Close()
	br := bufio.NewReaderSize(m.Body, 4096)
	head, _ := br.Peek(media.SniffLen)
	f := media.Detect(head)
	if f == "" {
		f = media.FormatOf(path.Ext(m.Filename))
	}
	if f == "" {
		f = media.FormatOf(m.ContentType)
	}
	out.ContentType = contentType(f, m.ContentType)
	out.Key, out.Filename = mediaKey(a, mediaID)+f.Ext(), mediaID+f.Ext()
	limit := s.rules.Largest(f)
	if m.Size > limit {
		return Fetched{}, tooLarge(f, limit, fmt.Errorf("%w: WeChat announced %d bytes", errTooLong, m.Size))
	}
	start := s.now()
	out.Size, err = s.bucket.Write(ctx, out.Key, out.ContentType, capped(io.NopCloser(br), limit))
	var se *bucket.SourceError
	switch {
	case errors.As(err, &se) && errors.Is(err, errTooLong):
		return Fetched{}, tooLarge(f, limit, err)
	case errors.As(err, &se) && ctx.Err() == nil:
		return Fetched{}, failure.Wrap(failure.WeChat, failure.CodeSystem, fmt.Errorf("%w: %v", errCutShort, se.Err), "system error: the media from WeChat was cut short")
	case errors.As(err, &se):
		return Fetched{}, failure.Wrap(failure.WeChat, failure.CodeSystem, se.Err, "system error: timed out waiting for WeChat")
	case err != nil:
		return Fetched{}, err
	case m.Size >= 0 && out.Size != m.Size:
		return Fetched{}, failure.Wrap(failure.WeChat, failure.CodeSystem, fmt.Errorf("%w: %d bytes of media where %d were announced", wechat.ErrBadResponse, out.Size, m.Size), "system error: unexpected answer from WeChat")
	}
	s.log.InfoContext(ctx, "stored media", "media_id", mediaID, "key", out.Key, "bytes", out.Size, "ms", s.now().Sub(start).Milliseconds())
	if s.metrics != nil {
		s.metrics.FetchedFromWeChat(ctx, out.Size)
	}
	return out, nil
}

// tooLarge is the failure of media from WeChat over the largest size its
// format may have: nothing of it is stored.
func tooLarge(f media.Format, limit int64, err error) error {
	what := "media"
	if f != "" {
		what = string(f) + " media"
	}
	return failure.Wrap(failure.WeChat, failure.CodeSystem, err, "system error: WeChat answered %s larger than its limit (%d bytes); nothing was stored", what, limit)
}

// download fetches a video from the video_url WeChat answered, within the
// video rules' size: a URL the downloader refuses is WeChat's bad answer,
// and nothing is fetched.
func (s *Service) download(ctx context.Context, url string) (*wechat.Media, error) {
	resp, err := s.get(ctx, url)
	if errors.Is(err, ErrRefusedAddress) {
		s.log.WarnContext(ctx, "refused a video_url", "error", err.Error())
		return nil, failure.Wrap(failure.WeChat, failure.CodeSystem, err, "system error: WeChat's video_url names an address the service does not fetch")
	}
	if err != nil {
		return nil, failure.Wrap(failure.WeChat, failure.CodeSystem, fmt.Errorf("download video: %w", err), "system error: the video could not be downloaded from WeChat")
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, failure.Wrap(failure.WeChat, failure.CodeSystem, fmt.Errorf("download video: %w", &wechat.StatusError{StatusCode: resp.StatusCode}),
			"system error: WeChat's video_url answered HTTP %d", resp.StatusCode)
	}
	limit := s.rules[media.Video].MaxSize
	if resp.ContentLength > limit {
		resp.Body.Close()
		return nil, failure.New(failure.WeChat, failure.CodeSystem, "system error: the video at WeChat's video_url is larger than the video limit (%d bytes)", limit)
	}
	m := &wechat.Media{ContentType: resp.Header.Get("Content-Type"), Size: resp.ContentLength, Body: capped(resp.Body, limit)}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		m.Filename = params["filename"]
	}
	return m, nil
}

func checkMediaID(id string) error {
	if id == "" {
		return failure.New(failure.Caller, failure.CodeMediaIDMissing, "media_id missing")
	}
	if len(id) > 256 {
		return failure.New(failure.Caller, failure.CodeInvalidMediaID, "invalid media_id")
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return failure.New(failure.Caller, failure.CodeInvalidMediaID, "invalid media_id")
		}
	}
	return nil
}

// capped reads r up to limit bytes and fails past it.
func capped(r io.ReadCloser, limit int64) io.ReadCloser {
	return readCloser{&capReader{r: r, left: limit}, r}
}

type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, errTooLong
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, errTooLong
	}
	return n, err
}

var errTooLong = errors.New("longer than the limit")
