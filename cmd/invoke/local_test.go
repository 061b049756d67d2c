package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/awstest"
	"github.com/wxmedia/wxmedia/internal/localaws"
	"github.com/wxmedia/wxmedia/internal/stacktest"
)

// runningLocal is a cmd/local started by a test.
type runningLocal struct {
	cmd   *exec.Cmd
	state string // its state file
	s3    string // its S3 endpoint
	port  int    // its API's
}

// startLocal runs the cmd/local binary on free ports, with a state file of
// its own, and waits for the file; it is stopped when the test ends.
func startLocal(t *testing.T, bin string) runningLocal {
	t.Helper()
	state := filepath.Join(t.TempDir(), "local.json")
	return startLocalEnv(t, bin, state, localaws.EnvState+"="+state)
}

// startLocalEnv runs the cmd/local binary on free ports in env and waits
// for its state file at state.
func startLocalEnv(t *testing.T, bin, state string, env ...string) runningLocal {
	t.Helper()
	var ports []int
	for len(ports) < 4 {
		p, err := awstest.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	ml := runningLocal{state: state, s3: fmt.Sprintf("http://127.0.0.1:%d", ports[1]), port: ports[0]}
	ml.cmd = exec.Command(bin)
	ml.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + t.TempDir(),
		fmt.Sprintf("LOCAL_PORT=%d", ports[0]), fmt.Sprintf("LOCAL_S3_PORT=%d", ports[1]),
		fmt.Sprintf("LOCAL_SM_PORT=%d", ports[2]), fmt.Sprintf("LOCAL_WECHAT_PORT=%d", ports[3])}, env...)
	if ml.state == "" {
		ml.state = filepath.Join(localaws.StateDir(getenvIn(env)), fmt.Sprintf("local-%d.json", ports[0]))
	}
	logs := &stacktest.Logs{}
	ml.cmd.Stdout, ml.cmd.Stderr = logs, logs
	if err := ml.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { ml.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		ml.cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			ml.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("make local's output:\n%s", logs)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := os.Stat(ml.state); err == nil {
			return ml
		}
		select {
		case <-exited:
			t.Fatalf("make local exited before it was up: %v\n%s", ml.cmd.ProcessState, logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no state file %s 30 s after start\n%s", ml.state, logs)
		}
	}
}

// listening is a 127.0.0.1 URL that accepts connections until the test ends.
func listening(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return "http://" + ln.Addr().String()
}

// closedURL is a 127.0.0.1 URL nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	return "http://" + ln.Addr().String()
}

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func writeStateFile(t *testing.T, s string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "local.json")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{localaws.EnvState + "=" + path}
}

func stateJSON(pid int, api, s3, sm, wx string) string {
	return fmt.Sprintf(`{"pid":%d,"api":%q,"s3":%q,"secrets_manager":%q,"wechat":%q,"bucket":"b-9","secret_id":"s-9"}`, pid, api, s3, sm, wx)
}

func TestFindLocal(t *testing.T) {
	api, s3, sm, wx := listening(t), listening(t), listening(t), listening(t)
	api2 := listening(t)
	// inDir writes state files named for their API's port in a folder of
	// their own, as make local does without WXMEDIA_LOCAL_STATE.
	inDir := func(t *testing.T, extra []string, states ...string) []string {
		dir := t.TempDir()
		for _, st := range states {
			var s localaws.State
			json.Unmarshal([]byte(st), &s)
			if err := os.WriteFile(filepath.Join(dir, "local-"+portOf(s.API)+".json"), []byte(st), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return append([]string{localaws.EnvStateDir + "=" + dir}, extra...)
	}
	for _, tc := range []struct {
		name    string
		environ func(t *testing.T) []string
		found   string // the API of the one found, or "" for an error
		log     string // in the log, or in the error
	}{
		{"Running", func(t *testing.T) []string { return writeStateFile(t, stateJSON(os.Getpid(), api, s3, sm, wx)) },
			api, fmt.Sprintf("invoke: using the make local running as pid %d", os.Getpid())},
		{"RealSecretsManager", func(t *testing.T) []string { return writeStateFile(t, stateJSON(os.Getpid(), api, s3, "", wx)) },
			api, "Secrets Manager AWS's own"},
		{"NoFile", func(t *testing.T) []string {
			return []string{localaws.EnvState + "=" + filepath.Join(t.TempDir(), "none.json")}
		}, "", "no state file"},
		{"ProcessGone", func(t *testing.T) []string { return writeStateFile(t, stateJSON(deadPID(t), api, s3, sm, wx)) },
			"", "is not running"},
		{"PortClosed", func(t *testing.T) []string {
			return writeStateFile(t, stateJSON(os.Getpid(), api, closedURL(t), sm, wx))
		}, "", "does not answer"},
		{"NotState", func(t *testing.T) []string { return writeStateFile(t, `{"hello":"world"}`) },
			"", "not a make local state file"},
		{"NoneRunning", func(t *testing.T) []string { return inDir(t, nil) }, "", "no running make local found"},
		{"OnlyOne", func(t *testing.T) []string {
			return inDir(t, nil, stateJSON(os.Getpid(), api, s3, sm, wx), stateJSON(deadPID(t), api2, s3, sm, wx))
		}, api, "is not running"},
		{"TwoChooseOne", func(t *testing.T) []string {
			return inDir(t, []string{"LOCAL_PORT=" + portOf(api2)}, stateJSON(os.Getpid(), api, s3, sm, wx), stateJSON(os.Getpid(), api2, s3, sm, wx))
		}, api2, "invoke: using the make local"},
		{"TwoAmbiguous", func(t *testing.T) []string {
			return inDir(t, nil, stateJSON(os.Getpid(), api, s3, sm, wx), stateJSON(os.Getpid(), api2, s3, sm, wx))
		}, "", "2 make local are running"},
		{"PortNotRunning", func(t *testing.T) []string {
			return inDir(t, []string{"LOCAL_PORT=1"}, stateJSON(os.Getpid(), api, s3, sm, wx))
		}, "", "no make local serves its API on port 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			got, err := findLocal(tc.environ(t), &log)
			if tc.found == "" {
				if err == nil || !strings.Contains(err.Error(), tc.log) {
					t.Fatalf("got %+v, %v; want an error with %q", got, err, tc.log)
				}
				return
			}
			if err != nil || got.API != tc.found {
				t.Fatalf("got %+v, %v; want the one at %s; log %q", got, err, tc.found, log.String())
			}
			if !strings.Contains(log.String(), tc.log) {
				t.Errorf("log: got %q, want %q", log.String(), tc.log)
			}
			if got.S3 != s3 || got.WeChat != wx || got.Bucket != "b-9" || got.SecretID != "s-9" {
				t.Errorf("got %+v, want the file's endpoints, bucket and secret", got)
			}
		})
	}
}

// The defaults come from a running make local, but what the environment
// says wins.
func TestFunctionEnvFromLocal(t *testing.T) {
	local := &localaws.State{PID: 1, API: "http://127.0.0.1:3100", S3: "http://127.0.0.1:9100", SecretsManager: "",
		EventBridge: "http://127.0.0.1:3100/_local/eventbridge", WeChat: "http://127.0.0.1:3101", Bucket: "bench-bucket", SecretID: "bench/secret"}
	asked := 0
	found := func() (*localaws.State, error) { asked++; return local, nil }
	env, err := functionEnv([]string{"LOCAL_WECHAT_PORT=4000", "WECHAT_SECRET_ID=mine"}, "upload", time.Minute, found)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"MEDIA_BUCKET": "bench-bucket", "WECHAT_SECRET_ID": "mine", "WECHAT_API_BASE": "http://127.0.0.1:4000",
		"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9100", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "",
		"AWS_ENDPOINT_URL_EVENTBRIDGE": "http://127.0.0.1:3100/_local/eventbridge",
	} {
		if got, ok := lookup(env, k); !ok || got != want {
			t.Errorf("%s: got %q (set %v), want %q", k, got, ok, want)
		}
	}
	if asked == 0 {
		t.Error("the running make local was never asked")
	}

	asked = 0
	functionEnv([]string{"MEDIA_BUCKET=b", "WECHAT_SECRET_ID=s", "WECHAT_API_BASE=http://x", "AWS_ENDPOINT_URL=http://y"}, "get", time.Minute, found)
	if asked != 0 {
		t.Errorf("every backend named by the environment: make local asked %d times, want 0", asked)
	}
}

// lookup is the value of k in env.
func lookup(env []string, k string) (string, bool) {
	v := ""
	ok := false
	for _, kv := range env {
		if rest, found := strings.CutPrefix(kv, k+"="); found {
			v, ok = rest, true
		}
	}
	return v, ok
}
