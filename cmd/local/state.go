package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// EnvState names another path for the state file (tests, or two users on
// one machine).
const EnvState = "WXMEDIA_LOCAL_STATE"

// state is what a running `make local` serves, in its state file, so that
// `make invoke` (cmd/invoke) finds it whatever its ports. An endpoint is
// empty where the functions use AWS's own.
type state struct {
	PID            int    `json:"pid"`
	API            string `json:"api"`
	S3             string `json:"s3"`
	SecretsManager string `json:"secrets_manager"`
	WeChat         string `json:"wechat"`
	Bucket         string `json:"bucket"`
	SecretID       string `json:"secret_id"`
}

// statePath is the state file: $WXMEDIA_LOCAL_STATE, or
// <temp dir>/wxmedia-local/local.json.
func statePath() string {
	if p := os.Getenv(EnvState); p != "" {
		return p
	}
	return filepath.Join(os.TempDir(), "wxmedia-local", "local.json")
}

// announce writes the state file for st, and returns what removes it on a
// clean stop, if it is still this process's (another `make local` may
// have written its own since). A file that cannot be written is a warning:
// make invoke then falls back to the default ports.
func announce(st settings, stderr io.Writer) (remove func()) {
	path := statePath()
	endpoint := func(u string) string {
		if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
			return u
		}
		return "" // AWS's own, e.g. "AWS Secrets Manager"
	}
	s := state{PID: os.Getpid(), API: fmt.Sprintf("http://127.0.0.1:%d", st.apiPort), S3: endpoint(st.s3URL),
		SecretsManager: endpoint(st.smURL), WeChat: endpoint(st.wxURL), Bucket: st.bucket, SecretID: st.secretID}
	if err := writeState(path, s); err != nil {
		fmt.Fprintf(stderr, "local: warning: %v (make invoke will not find these ports by itself)\n", err)
		return func() {}
	}
	return func() {
		data, err := os.ReadFile(path)
		var now state
		if err == nil && json.Unmarshal(data, &now) == nil && now.PID == os.Getpid() {
			os.Remove(path)
		}
	}
}

// writeState writes s at path atomically: a reader sees the old file or
// the whole new one.
func writeState(path string, s state) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("state file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}
