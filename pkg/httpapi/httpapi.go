package httpapi

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/wxmedia/wxmedia/pkg/apps"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/logging"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/reply"
	"github.com/wxmedia/wxmedia/pkg/routes"
	"github.com/wxmedia/wxmedia/pkg/transfer"
)

// Service is what the routes call.
type Service interface {
	UploadKey(ctx context.Context, t media.Type, key string) (transfer.Result, error)
	UploadBytes(ctx context.Context, t media.Type, data []byte) (transfer.Result, error)
	Fetch(ctx context.Context, mediaID string) (transfer.Fetched, error)
	OpenMedia(ctx context.Context, f transfer.Fetched) (io.ReadCloser, error)
	UploadForm(ctx context.Context, t media.Type) (transfer.Form, error)
	Outcome(ctx context.Context, key string) (transfer.Result, error)
}

var _ Service = (*transfer.Service)(nil)

// MaxBody is the largest request body accepted: what fits in Lambda's 6 MB
// invoke payload once API Gateway has base64-encoded it, less room for the
// event's own fields. Larger files go through S3.
const MaxBody = 6*1024*1024/4*3 - 16*1024

// Options configure the handler.
type Options struct {
	Service Service      // required
	Bucket  string       // the media bucket's name: a JSON "bucket" naming another is refused
	Routes  []string     // the routes served; empty serves all three
	Logger  *slog.Logger // default slog.Default()
	MaxBody int64        // default MaxBody
	// InlineLimit is the largest file get answers itself; a larger one is
	// a redirect to its presigned link. Default MaxInline.
	InlineLimit int64
	// Metrics measures each request; nil measures none.
	Metrics Metrics
	// Caller is who made a request (API Gateway's authorizer, in a
	// function): its name for the access line, and who it is, which binds
	// it to the apps it may use (apps.WithCaller). Nil: nobody is known,
	// and every app may be used.
	Caller func(ctx context.Context) (name string, who apps.Caller)
	// Apps resolves apps for the token routes and reads the placeholder
	// access tokens that name them; nil answers no token and ignores
	// every access_token.
	Apps Apps
}

// Metrics measures requests (package metrics' Recorder): Begin starts a
// request's measurements in its context, End writes them with the errcode
// answered (0 for a success) and the HTTP status it stands for.
type Metrics interface {
	Begin(ctx context.Context, route string) context.Context
	End(ctx context.Context, errcode, status int)
}

// MaxInline is the largest file a get answers in its body: what fits in
// Lambda's 6 MB response payload once API Gateway has base64-encoded it,
// less room for the headers and the event's own fields.
const MaxInline = 6*1024*1024/4*3 - 16*1024

type api struct {
	svc         Service
	bucket      string
	log         *slog.Logger
	maxBody     int64
	inlineLimit int64
	metrics     Metrics
	caller      func(ctx context.Context) (string, apps.Caller)
	bound       bool // callers are known, and bound to their apps
	apps        Apps
}

// New returns the HTTP handler.
func New(opts Options) http.Handler {
	a := &api{svc: opts.Service, bucket: opts.Bucket, log: opts.Logger, maxBody: opts.MaxBody, inlineLimit: opts.InlineLimit, metrics: opts.Metrics,
		caller: opts.Caller, bound: opts.Caller != nil, apps: opts.Apps}
	if a.caller == nil {
		a.caller = func(context.Context) (string, apps.Caller) { return "", apps.Caller{} }
	}
	if a.inlineLimit <= 0 {
		a.inlineLimit = MaxInline
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.maxBody <= 0 {
		a.maxBody = MaxBody
	}
	served := opts.Routes
	if len(served) == 0 {
		served = routes.All()
	}
	mux := http.NewServeMux()
	for _, name := range served {
		eps, ok := a.endpoints()[name]
		if !ok {
			panic(fmt.Sprintf("httpapi: unknown route %q", name)) // a wiring mistake, caught at start
		}
		for _, ep := range eps {
			method, path, _ := strings.Cut(ep.pattern, " ")
			allow := method
			if method == http.MethodGet {
				allow += ", " + http.MethodHead // a GET pattern serves HEAD too
			}
			// Each path also under an app's prefix: /<appid>/cgi-bin/media/….
			for _, p := range []string{path, routes.AppPrefix + path} {
				mux.Handle(method+" "+p, a.handle(ep.name, ep.h))
				// Another method on a known path: 405 with the methods it takes.
				mux.Handle(p, a.handle(ep.name, func(w http.ResponseWriter, r *http.Request) error {
					w.Header().Set("Allow", allow)
					return failure.Wrap(failure.Caller, failure.CodeInvalidParam, errMethod, "method %s not allowed on %s: use %s", r.Method, path, allow)
				}))
			}
		}
	}
	mux.Handle("/", a.handle("none", func(w http.ResponseWriter, r *http.Request) error {
		return failure.Wrap(failure.Caller, failure.CodeInvalidParam, errNoRoute, "no route %s %s; see docs/http.md for the routes", r.Method, truncate(r.URL.Path, 128))
	}))
	return mux
}

// endpoint is one path of a route.
type endpoint struct {
	name    string // in the log
	pattern string
	h       func(w http.ResponseWriter, r *http.Request) error
}

// endpoints are each route's paths: WeChat's; for the uploads the
// presigned forms for large files; for get, their results; and, on the
// lightest function, uploadimg, the token paths SDKs call first.
func (a *api) endpoints() map[string][]endpoint {
	return map[string][]endpoint{
		routes.Upload: {
			{routes.Upload, "POST " + routes.PathUpload, a.upload},
			{"upload-url", "POST " + routes.PathUploadForm, a.uploadForm},
		},
		// result reads, as get does; its waits take none of upload's capacity.
		routes.Get: {
			{routes.Get, "GET " + routes.PathGet, a.get},
			{"result", "GET " + routes.PathResult, a.result},
		},
		routes.UploadImg: {
			{routes.UploadImg, "POST " + routes.PathUploadImg, a.uploadImg},
			{"uploadimg-url", "POST " + routes.PathUploadImgForm, a.uploadImgForm},
			{"token", "GET " + routes.PathToken, a.token},
			{"stable_token", "POST " + routes.PathStableToken, a.stableToken},
		},
	}
}

// Paths are the paths a route's function serves, each also under an
// app's prefix, for the template's events (internal/deploy checks them).
func Paths(route string) []string {
	var out []string
	for _, ep := range (&api{}).endpoints()[route] {
		_, path, _ := strings.Cut(ep.pattern, " ")
		out = append(out, path, routes.AppPrefix+path)
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// statusWriter notes the status a handler sent and the bytes of its
// body, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// handle runs one route: it bounds the body, recovers panics, maps errors
// to answers in one place, and writes the request's access line and
// metrics: who called from where, the route, the errcode and the status it
// stands for, the bytes and the time taken.
func (a *api) handle(route string, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := logging.With(r.Context(), slog.String("route", route))
		if a.metrics != nil {
			ctx = a.metrics.Begin(ctx, route)
		}
		appID := r.PathValue("appid")
		if appID != "" {
			ctx = apps.WithRequested(ctx, appID)
		}
		caller, who := a.caller(ctx)
		if a.bound {
			ctx = apps.WithCaller(ctx, who)
		}
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		w = sw
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					a.log.ErrorContext(ctx, "panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
					err = errors.New("panic in handler")
				}
			}()
			if appID != "" && !apps.IsAppID(appID) {
				return failure.New(failure.Caller, failure.CodeInvalidAppID, "invalid appid: the path's first segment is no AppID")
			}
			// A placeholder access token names its app as a path's prefix does.
			named, err := a.tokenApp(ctx, r.URL.Query().Get("access_token"), appID)
			if err != nil {
				return err
			}
			if named != "" {
				appID = named
				r = r.WithContext(apps.WithRequested(r.Context(), named))
			}
			if len(r.URL.RawQuery) > 2048 {
				return failure.Wrap(failure.Caller, failure.CodeInvalidParam, errQueryTooLong, "query string too long")
			}
			if r.ContentLength > a.maxBody {
				return TooLarge(r.ContentLength, a.maxBody)
			}
			r.Body = http.MaxBytesReader(w, r.Body, a.maxBody)
			return h(w, r)
		}()
		if err != nil {
			contentType := reply.ContentTypeJSON
			if route == routes.Get {
				contentType = reply.ContentTypeText
			}
			status := http.StatusOK // as WeChat answers its errors
			if errors.Is(err, errMethod) {
				status = http.StatusMethodNotAllowed // HTTP's own, with Allow
			}
			reply.ErrorStatus(w, status, contentType, err)
		}
		code, stands := 0, sw.status
		if err != nil {
			code, stands = failure.CodeOf(err), reply.Status(err)
		}
		if a.metrics != nil {
			a.metrics.End(ctx, code, stands)
		}
		attrs := []any{"method", r.Method, "status", sw.status, "errcode", code}
		if err != nil {
			attrs = append(attrs, "failure_status", stands, "kind", failure.KindOf(err).String())
		}
		attrs = append(attrs, "caller", caller, "source_ip", sourceIP(r), "appid", cmp.Or(truncate(appID, 64), DefaultApp),
			"bytes_in", max(r.ContentLength, 0), "bytes_out", sw.bytes, "ms", time.Since(start).Milliseconds())
		switch {
		case err == nil:
			a.log.InfoContext(ctx, "request", attrs...)
		case failure.KindOf(err) == failure.Caller:
			a.log.InfoContext(ctx, "request refused", append(attrs, "errmsg", failure.MessageOf(err))...)
		default:
			a.log.ErrorContext(ctx, "request failed", append(attrs, "error", err.Error())...)
		}
	})
}

// DefaultApp is the app a request of the default paths (/cgi-bin/…) is
// for, as the access line names it: its AppID is in the secret, which the
// line is written without reading. A request under an app's prefix is
// named by the AppID of its path.
const DefaultApp = "default"

// sourceIP is the client's address without its port.
func sourceIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func (a *api) upload(w http.ResponseWriter, r *http.Request) error {
	t, err := media.ParseType(r.URL.Query().Get("type"))
	if err != nil {
		return err
	}
	res, err := a.send(r, t)
	if err != nil {
		return err
	}
	reply.JSON(w, http.StatusOK, uploaded(res))
	return nil
}

// uploaded is upload's answer, as WeChat's: {"type","media_id","created_at"}
// (for a thumb, thumb_media_id instead of media_id), plus expires_at, which
// clients ignore.
func uploaded(r transfer.Result) map[string]any {
	idField := "media_id"
	if r.Type == string(media.Thumb) {
		idField = "thumb_media_id"
	}
	return map[string]any{"type": r.Type, idField: r.MediaID, "created_at": r.CreatedAt, "expires_at": r.ExpiresAt}
}

func (a *api) uploadImg(w http.ResponseWriter, r *http.Request) error {
	res, err := a.send(r, media.ArticleImage)
	if err != nil {
		return err
	}
	reply.JSON(w, http.StatusOK, map[string]string{"url": res.URL})
	return nil
}

// send takes the file from a multipart "media" part or an S3 key in JSON.
func (a *api) send(r *http.Request, t media.Type) (transfer.Result, error) {
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err == nil && ct == "application/json":
		key, err := a.keyFromJSON(r.Body)
		if err != nil {
			return transfer.Result{}, err
		}
		r = r.WithContext(logging.With(r.Context(), slog.String("key", key)))
		return a.svc.UploadKey(r.Context(), t, key)
	case err == nil && ct == "multipart/form-data":
		data, err := a.mediaPart(r.Body, params["boundary"])
		if err != nil {
			return transfer.Result{}, err
		}
		return a.svc.UploadBytes(r.Context(), t, data)
	}
	return transfer.Result{}, failure.Wrap(failure.Caller, failure.CodeDataFormat, errNotMultipart,
		`data format error: send multipart/form-data with a "media" file part (curl -F media=@file), or application/json {"key":"…"}`)
}

func (a *api) keyFromJSON(body io.Reader) (string, error) {
	var in struct {
		Key    string `json:"key"`
		Bucket string `json:"bucket"`
	}
	if err := json.NewDecoder(body).Decode(&in); err != nil {
		if isTooLarge(err) {
			return "", TooLarge(-1, a.maxBody)
		}
		return "", failure.New(failure.Caller, failure.CodeDataFormat, `data format error: want JSON {"key":"…"}`)
	}
	if in.Bucket != "" && in.Bucket != a.bucket {
		return "", failure.Wrap(failure.Caller, failure.CodeInvalidParam, errOtherBucket, "only the media bucket can be read")
	}
	return in.Key, nil
}

// errMalformed is a multipart body that cannot be read.
func errMalformed() error {
	return failure.New(failure.Caller, failure.CodeDataFormat, "data format error: malformed multipart body")
}

// mediaPart reads the "media" file part, whatever parts come before or
// after it. The body is already in memory in Lambda (API Gateway delivers
// it whole), and bounded by MaxBody. A Content-Type without its boundary
// (WxJava's uploads send "multipart/form-data" alone, and WeChat takes
// them) has it read from the body's first line.
func (a *api) mediaPart(body io.Reader, boundary string) ([]byte, error) {
	if boundary == "" {
		var err error
		if body, boundary, err = boundaryOfBody(body); err != nil {
			return nil, err
		}
	}
	mr := multipart.NewReader(body, boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, failure.New(failure.Caller, failure.CodeMediaMissing, `media data missing: no "media" file part`)
		}
		if err != nil {
			if isTooLarge(err) {
				return nil, TooLarge(-1, a.maxBody)
			}
			return nil, errMalformed()
		}
		if p.FormName() != "media" {
			p.Close()
			continue
		}
		data, err := io.ReadAll(p)
		if err != nil {
			if isTooLarge(err) {
				return nil, TooLarge(-1, a.maxBody)
			}
			return nil, failure.New(failure.Caller, failure.CodeDataFormat, "data format error: truncated multipart body")
		}
		return data, nil
	}
}

// maxBoundary is the longest boundary RFC 2046 allows.
const maxBoundary = 70

// boundaryOfBody reads a multipart body's boundary from its first line,
// "--<boundary>", and answers the body whole again.
func boundaryOfBody(body io.Reader) (io.Reader, string, error) {
	br := bufio.NewReaderSize(body, 2+maxBoundary+64) // room for padding and the line end
	line, err := br.ReadSlice('\n')
	if err != nil { // no line end within a boundary line's length
		return nil, "", errMalformed()
	}
	boundary, ok := strings.CutPrefix(strings.TrimRight(string(line), " \t\r\n"), "--")
	if !ok || boundary == "" || len(boundary) > maxBoundary {
		return nil, "", errMalformed()
	}
	return io.MultiReader(strings.NewReader(string(line)), br), boundary, nil
}

func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// get answers media as WeChat's media/get does: the file's bytes with its
// Content-Type, Content-Length and an attachment file name, while they fit
// the Lambda response; a larger file with 302 to a presigned GET of the
// stored copy; video as {"video_url"}. &format=json answers the descriptor
// (media_id, key, content_type, size, url) instead; &redirect=true always
// redirects. HEAD answers the same headers without the bytes.
func (a *api) get(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	id := q.Get("media_id")
	ctx := logging.With(r.Context(), slog.String("media_id", id))
	f, err := a.svc.Fetch(ctx, id)
	if err != nil {
		return err
	}
	switch {
	case q.Get("format") == "json":
		reply.JSON(w, http.StatusOK, f)
	case q.Get("redirect") == "true", !f.Video() && f.Size > a.inlineLimit:
		w.Header().Set("Location", f.URL)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusFound)
	case f.Video():
		reply.JSONAs(w, http.StatusOK, reply.ContentTypeVideoURL, map[string]string{"video_url": f.VideoURL})
	default:
		body, err := a.svc.OpenMedia(ctx, f)
		if err != nil {
			return err
		}
		defer body.Close()
		h := w.Header()
		h.Set("Content-Type", f.ContentType)
		h.Set("Content-Length", strconv.FormatInt(f.Size, 10))
		h.Set("Content-Disposition", `attachment; filename="`+f.Filename+`"`)
		h.Set("Cache-Control", "no-cache, must-revalidate")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return nil
		}
		if n, err := io.Copy(w, body); err != nil {
			// The headers are out: the client sees a short body.
			a.log.ErrorContext(ctx, "media cut short while answered", "bytes", n, "of", f.Size, "error", err.Error())
		}
	}
	return nil
}
