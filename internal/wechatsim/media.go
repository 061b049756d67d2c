package wechatsim

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

type endpoint int

const (
	epUpload endpoint = iota
	epGet
	epUploadImg
)

// maxDrain bounds how much of an unread request body is discarded so the
// connection can be reused.
const maxDrain = 64 << 20

// serveMedia runs what the three media endpoints share: the front end
// (412 on chunked bodies), the faults, then the endpoint itself.
func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request, ep endpoint) {
	upload := ep != epGet
	s.mu.Lock()
	switch ep {
	case epUpload:
		s.stats.Upload++
	case epGet:
		s.stats.Get++
	case epUploadImg:
		s.stats.UploadImg++
	}
	jsonErrors := false
	if ep == epGet && s.faults.WrongContentType > 0 {
		s.faults.WrongContentType--
		jsonErrors = true
	}
	blocked, slow := s.faults.IPBlocked, s.faults.Slow
	s.mu.Unlock()

	if upload && r.ContentLength < 0 {
		// WeChat's front end wants an exact Content-Length.
		w.Header().Set("Connection", "close")
		s.finish(w, r, reply{
			status: http.StatusPreconditionFailed,
			header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
			body:   []byte("412 Precondition Failed\n"),
		})
		return
	}

	var rep reply
	dropAnswer := false
	switch {
	case blocked:
		rep = errIPBlocked(r).reply()
	case slow > 0 && !sleep(r.Context(), slow):
		s.logf("wechatsim: %s %s: caller gone while slow", r.Method, r.URL.Path)
		return
	}
	if app, _, ok := s.checkToken(r.URL.Query().Get("access_token")); ok && !blocked {
		// WeChat counts an account's calls: those it can tell by their token.
		if e, limited := s.limit(app, ep); limited {
			rep = e.reply()
		}
	}
	if !blocked && rep.status == 0 {
		switch s.takeFault() {
		case faultDrop:
			if upload {
				s.dropUpload(w, r)
				return
			}
			dropAnswer = true
		case faultServerError:
			rep = reply{
				status: http.StatusServiceUnavailable,
				header: http.Header{"Content-Type": {"text/html"}},
				body: []byte("<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n" +
					"<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n"),
			}
		case faultBusy:
			rep = errSystem.reply()
		case faultQuota:
			s.mu.Lock()
			s.stats.QuotaSpent++
			s.mu.Unlock()
			rep = errDailyQuota.reply()
		case faultMalformed:
			rep = reply{
				status: http.StatusOK,
				header: http.Header{"Content-Type": {contentTypeJSON}},
				body:   []byte(`{"errcode":0,"errmsg":"ok","type":"ima`),
			}
		}
	}
	if rep.status == 0 {
		switch ep {
		case epUpload:
			rep = s.upload(r)
		case epGet:
			rep = s.get(r)
		case epUploadImg:
			rep = s.uploadImg(r)
		}
	}
	if upload {
		_, _ = io.CopyN(io.Discard, r.Body, maxDrain)
	}
	if ep == epGet && rep.apiErr {
		// WeChat labels media/get's error JSON text/plain: clients tell an
		// error from a file by that string.
		ct := "text/plain"
		if jsonErrors {
			ct = contentTypeJSON
		}
		rep.header.Set("Content-Type", ct)
	}
	if dropAnswer {
		s.dropGet(w, r, rep)
		return
	}
	s.finish(w, r, rep)
}

// dropUpload reads the whole request body, then closes the connection
// without answering: the answer is lost after WeChat got the file (which
// the simulator does not keep). Reading it all makes the client's side
// certain: its request was written whole, however the kernel buffers it.
func (s *Server) dropUpload(w http.ResponseWriter, r *http.Request) {
	n, _ := io.Copy(io.Discard, r.Body)
	s.logf("wechatsim: %s %s: dropped the connection after %d request bytes, before answering", r.Method, r.URL.Path, n)
	closeConn(w, false) // no answer at all, not even a status line
}

// dropGet writes rep's headers and half its body, then closes the connection.
func (s *Server) dropGet(w http.ResponseWriter, r *http.Request, rep reply) {
	full := rep.body
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(len(full)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(full[:len(full)/2])
	s.logf("wechatsim: %s %s: dropped the connection after %d of %d answer bytes", r.Method, r.URL.Path, len(full)/2, len(full))
	closeConn(w, true)
}

// closeConn flushes what was written and closes the connection. Where the
// connection cannot be hijacked (HTTP/2, httptest.ResponseRecorder) it aborts
// the handler with http.ErrAbortHandler.
func closeConn(w http.ResponseWriter, flush bool) {
	rc := http.NewResponseController(w)
	if flush {
		_ = rc.Flush()
	}
	conn, buf, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = buf.Flush()
	_ = conn.Close()
}

// mediaRule is what WeChat accepts for one kind of upload.
type mediaRule struct {
	exts    []string
	limit   int64
	tooBig  apiError
	idField string
}

func uploadRule(typ string) (mediaRule, bool) {
	const mb, kb = 1 << 20, 1 << 10
	switch typ {
	case "image":
		return mediaRule{[]string{".jpg", ".jpeg", ".png", ".gif", ".bmp"}, 10 * mb, errImageSize, "media_id"}, true
	case "voice":
		return mediaRule{[]string{".amr", ".mp3"}, 2 * mb, errVoiceSize, "media_id"}, true
	case "video":
		return mediaRule{[]string{".mp4"}, 10 * mb, errVideoSize, "media_id"}, true
	case "thumb":
		// WeChat names the id thumb_media_id for thumbs.
		return mediaRule{[]string{".jpg", ".jpeg"}, 64 * kb, errThumbSize, "thumb_media_id"}, true
	}
	return mediaRule{}, false
}

func contentTypeOf(ext string) string {
	switch ext {
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".png":
		return "image/png"
	case ".gif":
		return "image/gif"
	case ".bmp":
		return "image/bmp"
	case ".amr":
		return "audio/amr"
	case ".mp3":
		return "audio/mpeg"
	case ".mp4":
		return "video/mp4"
	}
	return "application/octet-stream"
}

// upload answers POST /cgi-bin/media/upload.
func (s *Server) upload(r *http.Request) reply {
	q := r.URL.Query()
	app, e, ok := s.checkToken(q.Get("access_token"))
	if !ok {
		return e.reply()
	}
	typ := q.Get("type")
	rule, ok := uploadRule(typ)
	if !ok {
		return errMediaType.reply()
	}
	ext, data, e, ok := readMedia(r, rule)
	if !ok {
		return e.reply()
	}
	s.mu.Lock()
	now := s.nowLocked()
	for id := range s.media {
		s.liveMediaLocked(id) // forget expired media
	}
	id := randomID()
	s.media[id] = &stored{app: app, kind: typ, ext: ext, contentType: contentTypeOf(ext), data: data, created: now}
	s.mu.Unlock()
	s.logf("wechatsim: upload type=%s ext=%s size=%d media_id=%s", typ, ext, len(data), id)
	return jsonReply(contentTypeJSON, map[string]any{
		"type":       typ,
		rule.idField: id,
		"created_at": now.Unix(),
	})
}

// uploadImg answers POST /cgi-bin/media/uploadimg.
func (s *Server) uploadImg(r *http.Request) reply {
	app, e, ok := s.checkToken(r.URL.Query().Get("access_token"))
	if !ok {
		return e.reply()
	}
	ext, data, e, ok := readMedia(r, mediaRule{exts: []string{".jpg", ".jpeg", ".png"}, limit: 1 << 20, tooBig: errImageSize})
	if !ok {
		return e.reply()
	}
	id := randomID()
	s.mu.Lock()
	s.images[id] = &stored{app: app, kind: "image", ext: ext, contentType: contentTypeOf(ext), data: data, created: s.nowLocked()}
	s.mu.Unlock()
	s.logf("wechatsim: uploadimg ext=%s size=%d id=%s", ext, len(data), id)
	return jsonReply(contentTypeJSON, struct {
		URL string `json:"url"`
	}{s.base(r) + "/_sim/img/" + id + ".jpg"})
}

// readMedia reads the file part named "media" of a multipart/form-data body,
// holding at most rule.limit+1 bytes.
func readMedia(r *http.Request, rule mediaRule) (ext string, data []byte, _ apiError, ok bool) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return "", nil, errMediaMissing, false
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return "", nil, errMediaMissing, false
		}
		name := p.FileName()
		if p.FormName() != "media" || name == "" {
			continue
		}
		for i := range len(name) {
			if name[i] >= 0x80 {
				return "", nil, errMediaMissing, false // WeChat refuses non-ASCII filenames
			}
		}
		ext = strings.ToLower(path.Ext(name))
		allowed := false
		for _, e := range rule.exts {
			allowed = allowed || e == ext
		}
		if !allowed {
			return "", nil, errFileType, false
		}
		data, err = io.ReadAll(io.LimitReader(p, rule.limit+1))
		switch {
		case err != nil:
			return "", nil, errMediaMissing, false
		case int64(len(data)) > rule.limit:
			return "", nil, rule.tooBig, false
		case len(data) == 0:
			return "", nil, errMediaMissing, false
		}
		return ext, data, apiError{}, true
	}
}

// get answers GET /cgi-bin/media/get.
func (s *Server) get(r *http.Request) reply {
	q := r.URL.Query()
	app, e, ok := s.checkToken(q.Get("access_token"))
	if !ok {
		return e.reply()
	}
	id := q.Get("media_id")
	if id == "" {
		return errMediaIDMissing.reply()
	}
	s.mu.Lock()
	m, ok := s.liveMediaLocked(id)
	s.mu.Unlock()
	if !ok || m.app != app {
		return errMediaID.reply() // another app's media_id is no media_id of this one
	}
	if m.kind == "video" {
		return jsonReply("application/json", struct {
			VideoURL string `json:"video_url"`
		}{s.base(r) + "/_sim/video/" + id})
	}
	return reply{
		status: http.StatusOK,
		header: http.Header{
			"Content-Type":        {m.contentType},
			"Content-Disposition": {`attachment; filename="` + id + m.ext + `"`},
			"Cache-Control":       {"no-cache, must-revalidate"},
		},
		body: m.data,
	}
}

// serveStored serves the bytes behind a video_url or an uploadimg url.
func (s *Server) serveStored(w http.ResponseWriter, r *http.Request, m *stored, name string) {
	w.Header().Set("Content-Type", m.contentType)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(m.data))
	s.logf("wechatsim: %s %s size=%d", r.Method, r.URL.Path, len(m.data))
}
