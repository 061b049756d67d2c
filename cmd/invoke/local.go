package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wxmedia/wxmedia/internal/localaws"
)

// getenvIn is environ's getenv: the last value wins, as in exec.Cmd.
func getenvIn(environ []string) func(string) string {
	return func(k string) string {
		v := ""
		for _, kv := range environ {
			if val, ok := strings.CutPrefix(kv, k+"="); ok {
				v = val
			}
		}
		return v
	}
}

// findLocal answers the running make local the function's backends
// default to, or an error that says why there is none to use, never a
// guess: WXMEDIA_LOCAL_STATE's file if set; else the one whose API is on
// LOCAL_PORT if set; else the only one running. State files whose process
// is gone or whose ports do not answer are ignored, and said so on log.
func findLocal(environ []string, log io.Writer) (*localaws.State, error) {
	getenv := getenvIn(environ)
	if path := getenv(localaws.EnvState); path != "" {
		s, why := liveState(path)
		if s == nil {
			return nil, fmt.Errorf("no make local to use: %s", why)
		}
		return used(s, path, log), nil
	}
	dir := localaws.StateDir(getenv)
	if p := strings.TrimSpace(getenv("LOCAL_PORT")); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("LOCAL_PORT: want the API port of a running make local, got %q", p)
		}
		path := localaws.StatePath(getenv, port)
		s, why := liveState(path)
		if s == nil {
			return nil, fmt.Errorf("no make local serves its API on port %d: %s; start one with LOCAL_PORT=%d make local", port, why, port)
		}
		return used(s, path, log), nil
	}
	paths, err := localaws.StateFiles(dir)
	if err != nil {
		return nil, err
	}
	var live []*localaws.State
	var livePaths []string
	for _, path := range paths {
		s, why := liveState(path)
		if s == nil {
			fmt.Fprintf(log, "invoke: ignoring %s\n", why)
			continue
		}
		live, livePaths = append(live, s), append(livePaths, path)
	}
	switch len(live) {
	case 0:
		return nil, fmt.Errorf("no running make local found (no state file of a live one in %s): start one with make local, or name every backend (WECHAT_API_BASE, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL_EVENTBRIDGE)", dir)
	case 1:
		return used(live[0], livePaths[0], log), nil
	}
	var list []string
	for _, s := range live {
		list = append(list, fmt.Sprintf("pid %d, API %s", s.PID, s.API))
	}
	return nil, fmt.Errorf("%d make local are running (%s): choose one with LOCAL_PORT=<its API port>, e.g. LOCAL_PORT=%s make invoke …",
		len(live), strings.Join(list, "; "), portOf(live[len(live)-1].API))
}

// used says on log which make local is used.
func used(s *localaws.State, path string, log io.Writer) *localaws.State {
	fmt.Fprintf(log, "invoke: using the make local running as pid %d (%s): S3 %s, Secrets Manager %s, WeChat %s\n",
		s.PID, path, orAWS(s.S3), orAWS(s.SecretsManager), s.WeChat)
	return s
}

// liveState reads the state file at path, if its make local runs and
// answers; else it says why not.
func liveState(path string) (*localaws.State, string) {
	s, err := localaws.ReadState(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Sprintf("no state file %s", path)
	case err != nil:
		return nil, fmt.Sprintf("make local's state file: %v", err)
	case !localaws.ProcessAlive(s.PID):
		return nil, fmt.Sprintf("%s: its make local (pid %d) is not running", path, s.PID)
	}
	for _, u := range []string{s.API, s.S3, s.SecretsManager, s.WeChat} {
		if err := answers(u); err != nil {
			return nil, fmt.Sprintf("%s: make local (pid %d) does not answer: %v", path, s.PID, err)
		}
	}
	return &s, ""
}

// portOf is the port of a URL.
func portOf(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return pu.Port()
}

// answers checks that a 127.0.0.1 or localhost URL accepts connections;
// other URLs are not checked.
func answers(u string) error {
	pu, err := url.Parse(u)
	if err != nil || (pu.Hostname() != "127.0.0.1" && pu.Hostname() != "localhost") {
		return nil
	}
	c, err := net.DialTimeout("tcp", pu.Host, 300*time.Millisecond)
	if err != nil {
		return err
	}
	return c.Close()
}

func orAWS(endpoint string) string {
	if endpoint == "" {
		return "AWS's own"
	}
	return endpoint
}
