package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// envLocalState names another path for make local's state file.
const envLocalState = "WXMEDIA_LOCAL_STATE"

// localState is what a running `make local` serves, as its state file
// says (cmd/local writes it). An empty endpoint is AWS's own.
type localState struct {
	PID            int    `json:"pid"`
	API            string `json:"api"`
	S3             string `json:"s3"`
	SecretsManager string `json:"secrets_manager"`
	WeChat         string `json:"wechat"`
	Bucket         string `json:"bucket"`
	SecretID       string `json:"secret_id"`
}

// localStatePath is $WXMEDIA_LOCAL_STATE in environ, or make local's
// default, <temp dir>/wxmedia-local/local.json.
func localStatePath(environ []string) string {
	path := ""
	for _, kv := range environ { // the last one wins, as in exec.Cmd
		if v, ok := strings.CutPrefix(kv, envLocalState+"="); ok {
			path = v
		}
	}
	if path == "" {
		path = filepath.Join(os.TempDir(), "wxmedia-local", "local.json")
	}
	return path
}

// findLocal answers the running make local that its state file names, or
// nil: no state file, or one whose process is gone or whose ports do not
// answer (it was killed, or the ports went to something else). It says on
// log which it uses, or why it ignores one.
func findLocal(environ []string, log io.Writer) *localState {
	path := localStatePath(environ)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		fmt.Fprintf(log, "invoke: ignoring make local's state file: %v\n", err)
		return nil
	}
	var s localState
	if err := json.Unmarshal(data, &s); err != nil || s.PID <= 0 || s.API == "" {
		fmt.Fprintf(log, "invoke: ignoring %s: not a make local state file\n", path)
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
