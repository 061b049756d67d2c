package compat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/rie"
)

// TestNodeSDKs runs node/'s tests (node --test), unmodified Node SDKs with
// their stock token handling against the running make local:
// co-wechat-api and wechat-api, pointed at it by their own prefix and
// endpoint; and the AWS SDK for JavaScript's Lambda client invoking the
// built upload, get and uploadimg bootstraps under the Lambda RIE, each
// with a Node Buffer in its event, as wx-server-sdk users send it.
// `make test` installs node/'s packages first (npm ci).
func TestNodeSDKs(t *testing.T) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required for the Node SDKs' tests: %v", err)
	}
	if _, err := os.Stat(filepath.Join("node", "node_modules", "co-wechat-api")); err != nil {
		t.Fatalf("node/'s packages are not installed: run `npm ci` in compat/node (make test does): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	if err := os.Mkdir(files, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"photo.jpg": jpegData(t), "banner.png": pngData(t), "hello.mp3": mp3(), "clip.mp4": mp4(),
		"thumb.jpg": jpegData(t), "图片 (1).jpg": jpegData(t), "notes.jpg": []byte("plain text notes, not a picture\n")} {
		if err := os.WriteFile(filepath.Join(files, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(cleanEnv(), "WXMEDIA_API="+base, "WXMEDIA_FILES="+files, "WXMEDIA_DEFAULT_APP="+defaultApp, "WXMEDIA_SECOND_APP="+secondApp)
	logs := &lockedWriter{}
	for _, fn := range []string{"upload", "get", "uploadimg"} {
		em := startFunction(ctx, t, fn, dir, logs)
		env = append(env, fmt.Sprintf("WXMEDIA_RIE_%s=%s", upper(fn), em.Addr()))
	}
	cmd := exec.CommandContext(ctx, nodeBin, "--test", "--test-concurrency=2", "sdks.test.js", "cloudcall.test.js")
	cmd.Dir, cmd.Env = "node", env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s\nthe functions under the RIE:\n%s", err, out, logs.String())
	}
	t.Logf("node --test:\n%s", out)
}

func upper(s string) string { return string(bytes.ToUpper([]byte(s))) }

// startFunction builds ./functions/<fn> for this machine, as make invoke
// does, and runs it under the Lambda RIE against make local's backends.
func startFunction(ctx context.Context, t *testing.T, fn, dir string, logs *lockedWriter) *rie.Emulator {
	t.Helper()
	bootstrap := filepath.Join(dir, fn, "bootstrap")
	build := exec.CommandContext(ctx, "go", "build", "-C", "..", "-tags", "lambda.norpc", "-o", bootstrap, "./functions/"+fn)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", fn, err, out)
	}
	// make local's state file (internal/localaws.State): its backends.
	var st struct {
		S3             string `json:"s3"`
		SecretsManager string `json:"secrets_manager"`
		EventBridge    string `json:"eventbridge"`
		WeChat         string `json:"wechat"`
		Bucket         string `json:"bucket"`
		SecretID       string `json:"secret_id"`
	}
	if data, err := os.ReadFile(state); err != nil || json.Unmarshal(data, &st) != nil {
		t.Fatalf("read make local's state %s: %v", state, err)
	}
	env := append(cleanEnv(), "MEDIA_BUCKET="+st.Bucket, "WECHAT_SECRET_ID="+st.SecretID, "WECHAT_API_BASE="+st.WeChat,
		"AWS_ENDPOINT_URL_S3="+st.S3, "AWS_ENDPOINT_URL_SECRETS_MANAGER="+st.SecretsManager, "AWS_ENDPOINT_URL_EVENTBRIDGE="+st.EventBridge,
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=60", "AWS_LAMBDA_FUNCTION_NAME=wxmedia-"+fn, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256")
	em, err := rie.Start(ctx, rie.Options{Bootstrap: bootstrap, Env: env, Log: logs})
	if err != nil {
		t.Fatalf("start %s under the RIE: %v", fn, err)
	}
	t.Cleanup(func() { em.Close() })
	return em
}

// lockedWriter serialises the emulators' writes into one buffer.
type lockedWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
