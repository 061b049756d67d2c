package wechatsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// serveSim answers the /_sim/ control endpoints.
func (s *Server) serveSim(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/_sim/stats":
		if s.allow(w, r, http.MethodGet) {
			s.finish(w, r, jsonReply("application/json", s.Stats()))
		}
	case p == "/_sim/faults":
		if !s.allow(w, r, http.MethodGet, http.MethodPost) {
			return
		}
		if r.Method == http.MethodPost {
			var f Faults
			if err := decodeBody(r, &f); err != nil {
				s.finish(w, r, simError(http.StatusBadRequest, err.Error()))
				return
			}
			s.SetFaults(f)
		}
		s.finish(w, r, jsonReply("application/json", s.Faults()))
	case p == "/_sim/clock":
		if !s.allow(w, r, http.MethodGet, http.MethodPost) {
			return
		}
		if r.Method == http.MethodPost {
			var req struct {
				Advance string `json:"advance"`
			}
			if err := decodeBody(r, &req); err != nil {
				s.finish(w, r, simError(http.StatusBadRequest, err.Error()))
				return
			}
			d, err := time.ParseDuration(req.Advance)
			if err != nil || d < 0 {
				s.finish(w, r, simError(http.StatusBadRequest, fmt.Sprintf("advance: want a non-negative duration such as \"72h\", got %q", req.Advance)))
				return
			}
			s.Advance(d)
		}
		s.mu.Lock()
		ans := struct {
			Now    time.Time `json:"now"`
			Offset string    `json:"offset"`
		}{s.nowLocked(), s.offset.String()}
		s.mu.Unlock()
		s.finish(w, r, jsonReply("application/json", ans))
	case p == "/_sim/expire-tokens":
		if s.allow(w, r, http.MethodPost) {
			s.finish(w, r, jsonReply("application/json", struct {
				Expired int `json:"expired"`
			}{s.expireTokens()}))
		}
	case strings.HasPrefix(p, "/_sim/video/"):
		id := strings.TrimPrefix(p, "/_sim/video/")
		s.mu.Lock()
		m, ok := s.liveMediaLocked(id)
		s.mu.Unlock()
		if !ok || m.kind != "video" {
			s.finish(w, r, simError(http.StatusNotFound, "not found"))
			return
		}
		s.serveStored(w, r, m, id+m.ext)
	case strings.HasPrefix(p, "/_sim/img/") && strings.HasSuffix(p, ".jpg"):
		id := strings.TrimSuffix(strings.TrimPrefix(p, "/_sim/img/"), ".jpg")
		s.mu.Lock()
		m, ok := s.images[id]
		s.mu.Unlock()
		if !ok {
			s.finish(w, r, simError(http.StatusNotFound, "not found"))
			return
		}
		s.serveStored(w, r, m, id+m.ext)
	default:
		s.finish(w, r, simError(http.StatusNotFound, "not found"))
	}
}

// allow answers 405 unless r uses one of methods.
func (s *Server) allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	s.finish(w, r, simError(http.StatusMethodNotAllowed, "method not allowed"))
	return false
}

// decodeBody decodes a small JSON body strictly.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	return nil
}
