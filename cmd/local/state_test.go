package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/awstest"

	"github.com/wxmedia/wxmedia/internal/localaws"
)

// TestMain points the state file of every cmd/local the tests start
// (they inherit this environment) away from the one a developer's own
// `make local` writes.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wxmedia-local-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv(localaws.EnvStateDir, dir)
	os.Unsetenv(localaws.EnvState)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func readState(t *testing.T, path string) (localaws.State, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return localaws.State{}, err
	}
	var s localaws.State
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v in %s", path, err, data)
	}
	return s, nil
}

// TestStateFile: a running cmd/local says where it serves in its state
// file, which is gone after Ctrl-C.
func TestStateFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/local (-short)")
	}
	bin := buildLocal(t)
	path := filepath.Join(t.TempDir(), "state", "local.json")
	t.Setenv(localaws.EnvState, path)
	l := start(t, bin)

	s, err := readState(t, path)
	if err != nil {
		t.Fatalf("no state file once the banner is out: %v", err)
	}
	if s.PID != l.cmd.Process.Pid || s.API != l.api || s.S3 != l.s3URL || s.WeChat != l.wechat ||
		s.Bucket != DefaultBucket || s.SecretID != DefaultSecretID {
		t.Errorf("got %+v, want pid %d, api %s, s3 %s, wechat %s, bucket %s, secret %s",
			s, l.cmd.Process.Pid, l.api, l.s3URL, l.wechat, DefaultBucket, DefaultSecretID)
	}
	// Each URL is one this process serves.
	for name, u := range map[string]string{"api": s.API, "s3": s.S3, "secrets_manager": s.SecretsManager, "wechat": s.WeChat} {
		pu, err := url.Parse(u)
		if err != nil || pu.Hostname() != "127.0.0.1" {
			t.Errorf("%s: got %q, want a 127.0.0.1 URL", name, u)
			continue
		}
		c, err := net.DialTimeout("tcp", pu.Host, time.Second)
		if err != nil {
			t.Errorf("%s: nothing answers at %s: %v", name, u, err)
			continue
		}
		c.Close()
	}
	resp, err := client.Get(s.WeChat + "/_sim/stats")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("wechat %s: not the simulator: %v", s.WeChat, err)
	}
	if resp != nil {
		resp.Body.Close()
	}

	if err := l.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGINT")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("state file after a clean stop: got %v, want it removed", err)
	}
}

// The state file is removed only if it is still this process's: another
// make local started since keeps its own.
func TestStateFileKeptIfNotOurs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.json")
	t.Setenv(localaws.EnvState, path)
	st := settings{apiPort: 3100, s3URL: "http://127.0.0.1:9100", smURL: "AWS Secrets Manager", wxURL: "http://127.0.0.1:3101",
		bucket: "b", secretID: "s"}
	remove := announce(st, os.Stderr)
	s, err := readState(t, path)
	if err != nil {
		t.Fatal(err)
	}
	want := localaws.State{PID: os.Getpid(), API: "http://127.0.0.1:3100", S3: "http://127.0.0.1:9100", SecretsManager: "",
		WeChat: "http://127.0.0.1:3101", Bucket: "b", SecretID: "s"}
	if s != want {
		t.Errorf("got %+v, want %+v (no endpoint for AWS's own Secrets Manager)", s, want)
	}

	other := want
	other.PID = os.Getpid() + 1
	if err := localaws.WriteState(path, other); err != nil {
		t.Fatal(err)
	}
	remove()
	if s, err := readState(t, path); err != nil || s != other {
		t.Errorf("after removing ours: got %+v, %v; want the other's state kept", s, err)
	}
	if left, _ := filepath.Glob(path + ".*"); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestTwoInstances: two make local side by side each keep a state file of
// their own, and a second one given the first's file refuses to start.
func TestTwoInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/local (-short)")
	}
	bin := buildLocal(t)
	dir := t.TempDir()
	t.Setenv(localaws.EnvStateDir, dir)
	a, b := start(t, bin), start(t, bin)
	for _, l := range []*local{a, b} {
		s, err := readState(t, filepath.Join(dir, "local-"+l.api[strings.LastIndex(l.api, ":")+1:]+".json"))
		if err != nil || s.PID != l.cmd.Process.Pid || s.API != l.api || s.S3 != l.s3URL {
			t.Errorf("state of the one on %s: got %+v, %v; want its own", l.api, s, err)
		}
	}
	// A third on a's ports: refused, naming the one there and a way out.
	port := a.api[strings.LastIndex(a.api, ":")+1:]
	third := exec.Command(bin)
	third.Env = append(cleanEnv(), "LOCAL_PORT="+port)
	out, err := third.CombinedOutput()
	want := fmt.Sprintf("a make local (pid %d) already serves %s", a.cmd.Process.Pid, a.api)
	if err == nil || !strings.Contains(string(out), want) || !strings.Contains(string(out), "LOCAL_PORT=") {
		t.Errorf("a third on %s: %v, output %s; want it refused with %q and a LOCAL_PORT to use", a.api, err, out, want)
	}
	stop(t, b)
	files, _ := filepath.Glob(filepath.Join(dir, "local-*.json"))
	if len(files) != 1 {
		t.Fatalf("after the second stopped: state files %v, want the first's alone", files)
	}
	if s, err := readState(t, files[0]); err != nil || s.PID != a.cmd.Process.Pid {
		t.Errorf("after the second stopped: got %+v, %v; want the first's", s, err)
	}

	// One file named for both: the second refuses, and says why.
	shared := filepath.Join(t.TempDir(), "shared.json")
	t.Setenv(localaws.EnvState, shared)
	c := start(t, bin)
	p := awstest.FreePorts(t, 4)
	cmd := exec.Command(bin)
	cmd.Env = append(cleanEnv(), fmt.Sprintf("LOCAL_PORT=%d", p[0]), fmt.Sprintf("LOCAL_S3_PORT=%d", p[1]),
		fmt.Sprintf("LOCAL_SM_PORT=%d", p[2]), fmt.Sprintf("LOCAL_WECHAT_PORT=%d", p[3]))
	out, err = cmd.CombinedOutput()
	want = fmt.Sprintf("belongs to the make local running as pid %d", c.cmd.Process.Pid)
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("second on %s: %v, output %s; want it refused with %q", shared, err, out, want)
	}
	if s, err := readState(t, shared); err != nil || s.PID != c.cmd.Process.Pid {
		t.Errorf("%s: got %+v, %v; want the first's kept", shared, s, err)
	}
}

// stop interrupts l and waits for it to exit.
func stop(t *testing.T, l *local) {
	t.Helper()
	if err := l.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGINT")
	}
}
