package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/wxmedia/wxmedia/internal/localaws"
)

// localStatePath is make local's state file for environ.
func localStatePath(environ []string) string {
	return localaws.StatePath(func(k string) string {
		v := ""
		for _, kv := range environ { // the last one wins, as in exec.Cmd
			if val, ok := strings.CutPrefix(kv, k+"="); ok {
				v = val
			}
		}
		return v
	})
}

// findLocal answers the running make local that its state file names, or
// nil: no state file, or one whose process is gone or whose ports do not
// answer (it was killed, or the ports went to something else). It says on
// log which it uses, or why it ignores one.
func findLocal(environ []string, log io.Writer) *localaws.State {
	path := localStatePath(environ)
	s, err := localaws.ReadState(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		fmt.Fprintf(log, "invoke: ignoring make local's state file: %v\n", err)
		return nil
	}
	if !processAlive(s.PID) {
		fmt.Fprintf(log, "invoke: ignoring %s: its make local (pid %d) is not running\n", path, s.PID)
		return nil
	}
	for _, u := range []string{s.API, s.S3, s.SecretsManager, s.WeChat} {
		if err := answers(u); err != nil {
			fmt.Fprintf(log, "invoke: ignoring %s: make local (pid %d) does not answer: %v\n", path, s.PID, err)
			return nil
		}
	}
	fmt.Fprintf(log, "invoke: using the make local running as pid %d (%s): S3 %s, Secrets Manager %s, WeChat %s\n",
		s.PID, path, orAWS(s.S3), orAWS(s.SecretsManager), s.WeChat)
	return &s
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
