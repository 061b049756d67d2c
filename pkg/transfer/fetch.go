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

	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// Fetched is media fetched from WeChat into the bucket.
type Fetched struct {
	MediaID     string `json:"media_id"`
	Key         string `json:"key"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
	VideoURL    string `json:"video_url,omitempty"`
}

// Fetch streams temporary media from WeChat into the bucket at
// media/<id><ext>, with memory bounded by one multipart part, and answers
// a presigned link to it. Video, which WeChat answers with a link, is
// downloaded from that link.
func (s *Service) Fetch(ctx context.Context, mediaID string) (Fetched, error) {
	if err := checkMediaID(mediaID); err != nil {
		return Fetched{}, err
	}
	out, err := s.fetch(ctx, mediaID)
	if errors.Is(err, errCutShort) && ctx.Err() == nil {
		// The connection broke mid-file: nothing was stored; fetch it again, once.
		s.log.InfoContext(ctx, "media cut short; fetching again", "media_id", mediaID)
		out, err = s.fetch(ctx, mediaID)
	}
	return out, err
}

// errCutShort marks a media/get answer whose body broke off.
var errCutShort = fmt.Errorf("%w: the media was cut short", wechat.ErrBadResponse)

func (s *Service) fetch(ctx context.Context, mediaID string) (Fetched, error) {
	m, err := s.wx.Get(ctx, mediaID)
	if err != nil {
		return Fetched{}, err
	}
	out := Fetched{MediaID: mediaID, VideoURL: m.VideoURL}
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
	out.ContentType = m.ContentType
	if f != "" {
		out.ContentType = f.ContentType()
	}
	if out.ContentType == "" {
		out.ContentType = "application/octet-stream"
	}
	out.Key = MediaPrefix + mediaID + f.Ext()
	start := s.now()
	out.Size, err = s.bucket.Write(ctx, out.Key, out.ContentType, br)
	var se *bucket.SourceError
	switch {
	case errors.As(err, &se) && errors.Is(err, errTooLong):
		return Fetched{}, failure.Wrap(failure.WeChat, failure.CodeSystem, err, "system error: the video at WeChat's video_url is larger than the video limit")
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
	if out.URL, err = s.bucket.PresignGet(ctx, out.Key, s.presignTTL); err != nil {
		return Fetched{}, failure.Wrap(failure.Internal, failure.CodeSystem, err, "system error")
	}
	return out, nil
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
		return failure.New(failure.Caller, wechat.CodeMediaIDEmpty, "media_id missing")
	}
	if len(id) > 256 {
		return failure.New(failure.Caller, wechat.CodeInvalidMediaID, "invalid media_id")
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return failure.New(failure.Caller, wechat.CodeInvalidMediaID, "invalid media_id")
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
