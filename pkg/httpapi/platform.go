package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/platform"
	"github.com/wxmedia/wxmedia/pkg/wxcrypt"
)

// Pushes verifies and acts on the third-party platform's pushes (package
// platform's Platform).
type Pushes interface {
	Receive(ctx context.Context, query url.Values, body []byte) (platform.Push, error)
}

var _ Pushes = (*platform.Platform)(nil)

// statusOfPush is the push route's one table: the HTTP status WeChat is
// answered for each refusal of a push. Unlike the media routes', these
// statuses are sent: WeChat reads only "success", and pushes again after
// anything else.
var statusOfPush = []struct {
	err    error
	status int
}{
	{wxcrypt.ErrSignature, http.StatusUnauthorized},
	{wxcrypt.ErrAppID, http.StatusForbidden},
	{platform.ErrAppID, http.StatusForbidden},
	{platform.ErrStale, http.StatusForbidden},
	{wxcrypt.ErrMalformed, http.StatusBadRequest},
	{platform.ErrMalformed, http.StatusBadRequest},
	{platform.ErrInProgress, http.StatusServiceUnavailable},
}

// pushStatus is the status a push's refusal is answered with: the table's,
// else the kind's (the caller's 400, the deployment's 404), else 503, for
// WeChat to push again.
func pushStatus(err error) int {
	for _, s := range statusOfPush {
		if errors.Is(err, s.err) {
			return s.status
		}
	}
	switch failure.KindOf(err) {
	case failure.Caller:
		return http.StatusBadRequest
	case failure.Config:
		return http.StatusNotFound
	}
	return http.StatusServiceUnavailable
}

// PlatformEvents is the HTTP handler of POST routes.PathPlatformEvents,
// the third-party platform's push route: it answers "success" to a push
// p verified and acted on (or had acted on already), and refuses one with
// a bad signature, for another platform, or stale, having changed
// nothing. log nil is slog.Default().
func PlatformEvents(p Pushes, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, platform.MaxPush+1))
		var push platform.Push
		if err == nil {
			push, err = p.Receive(r.Context(), r.URL.Query(), body)
		}
		if errors.Is(err, platform.ErrSeen) {
			log.InfoContext(r.Context(), "platform push seen already: answered, nothing changed", "info_type", push.InfoType)
			err = nil
		}
		if err != nil {
			st := pushStatus(err)
			lvl := slog.LevelWarn
			if (st >= 500 || st == http.StatusNotFound) && !errors.Is(err, platform.ErrInProgress) {
				lvl = slog.LevelError
			}
			log.Log(r.Context(), lvl, "platform push refused", "status", st, "info_type", push.InfoType, "error", err.Error())
			http.Error(w, "fail", st)
			return
		}
		log.InfoContext(r.Context(), "platform push", "info_type", push.InfoType, "authorizer_appid", push.AuthorizerAppID)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "success")
	})
}
