package localaws

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// EnvState names another path for the state file (tests, or two users on
// one machine).
const EnvState = "WXMEDIA_LOCAL_STATE"

// State is what a running `make local` serves, in its state file, so that
// `make invoke` finds it whatever its ports. An endpoint is empty where
// the functions use AWS's own.
type State struct {
	PID            int    `json:"pid"`
	API            string `json:"api"`
	S3             string `json:"s3"`
	SecretsManager string `json:"secrets_manager"`
	EventBridge    string `json:"eventbridge"`
	WeChat         string `json:"wechat"`
	Bucket         string `json:"bucket"`
	SecretID       string `json:"secret_id"`
}

// StatePath is the state file: getenv(EnvState), or
// <temp dir>/wxmedia-local/local.json.
func StatePath(getenv func(string) string) string {
	if p := getenv(EnvState); p != "" {
		return p
	}
	return filepath.Join(os.TempDir(), "wxmedia-local", "local.json")
}

// WriteState writes s at path atomically: a reader sees the old file or
// the whole new one.
func WriteState(path string, s State) error {
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

// ReadState reads the state file at path.
func ReadState(path string) (State, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return State{}, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil || s.PID <= 0 || s.API == "" {
		return State{}, fmt.Errorf("%s: not a make local state file", path)
	}
	return s, nil
}
