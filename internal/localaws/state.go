package localaws

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// The variables that place the state files.
const (
	// EnvState names one instance's state file exactly (tests, scripts):
	// a make local started with it refuses to run while another, still
	// running, holds the same file.
	EnvState = "WXMEDIA_LOCAL_STATE"
	// EnvStateDir is the folder of the state files when EnvState is not
	// set: each make local writes local-<API port>.json there, so that
	// several run side by side. Default <temp dir>/wxmedia-local.
	EnvStateDir = "WXMEDIA_LOCAL_STATE_DIR"
)

// State is what a running `make local` serves, in its state file, so that
// `make invoke` and `make register-authorizer` find it whatever its ports.
// An endpoint is empty where the functions use AWS's own.
type State struct {
	PID            int    `json:"pid"`
	API            string `json:"api"`
	S3             string `json:"s3"`
	SecretsManager string `json:"secrets_manager"`
	EventBridge    string `json:"eventbridge"`
	WeChat         string `json:"wechat"`
	Bucket         string `json:"bucket"`
	SecretID       string `json:"secret_id"`
	// DynamoDB and TokenTable are the third-party platform's token table
	// (make register-authorizer's TABLE) and its endpoint.
	DynamoDB   string `json:"dynamodb,omitempty"`
	TokenTable string `json:"token_table,omitempty"`
}

// StateDir is the folder of the per-instance state files:
// getenv(EnvStateDir), or <temp dir>/wxmedia-local.
func StateDir(getenv func(string) string) string {
	if d := getenv(EnvStateDir); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "wxmedia-local")
}

// StatePath is the state file of the make local whose HTTP API listens
// on apiPort: getenv(EnvState) if set, else local-<apiPort>.json in
// StateDir.
func StatePath(getenv func(string) string, apiPort int) string {
	if p := getenv(EnvState); p != "" {
		return p
	}
	return filepath.Join(StateDir(getenv), "local-"+strconv.Itoa(apiPort)+".json")
}

// StateFiles lists the per-instance state files in dir, sorted; a
// missing dir has none.
func StateFiles(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "local-*.json"))
	if err != nil {
		return nil, fmt.Errorf("state files in %s: %w", dir, err)
	}
	sort.Strings(paths)
	return paths, nil
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
