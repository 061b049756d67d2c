package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wxmedia/wxmedia/internal/awstest"
	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/pkg/httpapi"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/transfer"
)

// TestLocal builds the command and runs it as `make local` does.
func TestLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/local (-short)")
	}
	bin := buildLocal(t)
	t.Run("EndToEnd", func(t *testing.T) { testEndToEnd(t, bin) })
	t.Run("PortInUse", func(t *testing.T) { testPortInUse(t, bin) })
	t.Run("Metrics", func(t *testing.T) { testMetrics(t, bin) })
	t.Run("Platform", func(t *testing.T) { testPlatform(t, bin) })
	t.Run("RegisterAuthorizer", func(t *testing.T) { testRegisterAuthorizer(t, bin) })
}

func buildLocal(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "local")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race") // the whole program under the race detector too
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/local: %v\n%s", err, out)
	}
	return bin
}

// cleanEnv is this process's environment without anything that would
// point the program elsewhere.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "WECHAT_") || strings.HasPrefix(k, "LOCAL_") ||
			k == "MEDIA_BUCKET" || k == "ALLOWED_PREFIXES" || k == "MEDIA_LIMITS" || k == "LOG_LEVEL" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

type local struct {
	api, wechat, s3URL, smURL string
	cmd                       *exec.Cmd
	stdout, stderr            *stacktest.Logs
	exited                    chan struct{}
	curl                      []string // the printed first curl: file, URL
}

// start runs the program with all four ports free and waits for its banner.
func start(t *testing.T, bin string, env ...string) *local {
	t.Helper()
	p := awstest.FreePorts(t, 4)
	cmd := exec.Command(bin)
	cmd.Env = append(append(cleanEnv(), env...),
		fmt.Sprintf("LOCAL_PORT=%d", p[0]), fmt.Sprintf("LOCAL_S3_PORT=%d", p[1]),
		fmt.Sprintf("LOCAL_SM_PORT=%d", p[2]), fmt.Sprintf("LOCAL_WECHAT_PORT=%d", p[3]),
		"ALLOWED_PREFIXES=inbox") // as deployed: the {"key"} routes read the trigger prefixes and these
	l := &local{api: fmt.Sprintf("http://127.0.0.1:%d", p[0]), s3URL: fmt.Sprintf("http://127.0.0.1:%d", p[1]), smURL: fmt.Sprintf("http://127.0.0.1:%d", p[2]),
		wechat: fmt.Sprintf("http://127.0.0.1:%d", p[3]), cmd: cmd, stderr: &stacktest.Logs{}, exited: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = l.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l.stdout = &stacktest.Logs{}
	curl := make(chan []string, 1)
	curlRE := regexp.MustCompile(`^\s*curl -F media=@(\S+) "([^"]+)"`)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(l.stdout, sc.Text())
			if m := curlRE.FindStringSubmatch(sc.Text()); m != nil {
				curl <- m[1:]
			}
		}
		cmd.Wait()
		close(l.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-l.exited:
		default:
			cmd.Process.Kill()
			<-l.exited
		}
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", l.stdout, l.stderr)
		}
	})
	select {
	case l.curl = <-curl:
	case <-l.exited:
		t.Fatalf("exited before it was ready: %v\nstderr:\n%s", cmd.ProcessState, l.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("no banner after 30 s; stdout:\n%s", l.stdout)
	}
	return l
}

var client = &http.Client{Timeout: 30 * time.Second}

// simMediaSize is the size of the video the simulator holds under id.
func (l *local) simMediaSize(t *testing.T, id string) int {
	t.Helper()
	resp, err := client.Get(l.wechat + "/_sim/video/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("simulator's video %s: %d", id, resp.StatusCode)
	}
	return int(n)
}

// answer is a WeChat-shaped JSON answer.
type answer struct {
	Status    int
	Type      string `json:"type"`
	MediaID   string `json:"media_id"`
	ThumbID   string `json:"thumb_media_id"` // a thumb's, as WeChat answers
	URL       string `json:"url"`
	Key       string `json:"key"`
	VideoURL  string `json:"video_url"`
	Size      int64  `json:"size"`
	ErrCode   int    `json:"errcode"`
	ErrMsg    string `json:"errmsg"`
	CreatedAt int64  `json:"created_at"`
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q, want JSON; body %s", req.Method, req.URL.Path, ct, body)
	}
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("%s %s: %v in %s", req.Method, req.URL.Path, err, body)
	}
	return a
}

// multipartUpload is curl -F media=@<name>.
func multipartUpload(t *testing.T, u, name string, data []byte) *http.Request {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	part, err := mw.CreateFormFile("media", name)
	if err != nil {
		t.Fatal(err)
	}
	part.Write(data)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, u, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req
}

func jsonUpload(u, key string) *http.Request {
	body, _ := json.Marshal(map[string]string{"key": key})
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

func get(u string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return req
}

// postForm sends a presigned POST form as a browser or curl -F does: its
// fields, then the file.
func postForm(t *testing.T, u string, fields map[string]string, file []byte) (int, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	part, _ := mw.CreateFormFile("file", "clip.mp4")
	part.Write(file)
	mw.Close()
	resp, err := client.Post(u, mw.FormDataContentType(), &b)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func s3Client(endpoint string) *s3.Client {
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("any", "credentials", "")})
}

func getObject(ctx context.Context, c *s3.Client, key string) ([]byte, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(DefaultBucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func testEndToEnd(t *testing.T, bin string) {
	l := start(t, bin)
	ctx := context.Background()
	bucket := s3Client(l.s3URL)
	upload := func(typ string) string { return l.api + "/cgi-bin/media/upload?type=" + typ }

	// The AWS CLI copies an object out of the embedded bucket, as the
	// README's users do: it reads Last-Modified from its HEAD and GET.
	t.Run("AWSCLICopiesOut", func(t *testing.T) {
		cli := awstest.Tool(t, "aws")
		dst := filepath.Join(t.TempDir(), "clip.mp4")
		cmd := exec.Command(cli, "--endpoint-url", l.s3URL, "s3", "cp", "s3://"+DefaultBucket+"/upload/video/clip.mp4", dst)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_DEFAULT_REGION=us-east-1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("aws s3 cp: %v\n%s", err, out)
		}
		want, _ := getObject(ctx, bucket, "upload/video/clip.mp4")
		if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, want) || len(got) == 0 {
			t.Errorf("aws s3 cp wrote %d bytes (%v), want the object's %d", len(got), err, len(want))
		}
	})

	// A path no route names is API Gateway's 404, as deployed: no
	// function runs for it.
	t.Run("UnknownRouteIsAPIGateways404", func(t *testing.T) {
		for _, path := range []string{"/cgi-bin/media/nothing", "/", "/wxapp/cgi-bin/nothing", "/a/b/cgi-bin/media/upload"} {
			resp, err := http.Get(l.api + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || string(body) != `{"message":"Not Found"}` {
				t.Errorf("GET %s: %d %s, want 404 {\"message\":\"Not Found\"}", path, resp.StatusCode, body)
			}
		}
		for _, path := range []string{"/cgi-bin/media/get?media_id=x", "/wxapp/cgi-bin/media/get?media_id=x"} {
			resp, err := http.Get(l.api + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusNotFound {
				t.Errorf("GET %s: 404, want the get function's answer", path)
			}
		}
	})

	t.Run("PrintedCurl", func(t *testing.T) {
		file, u := l.curl[0], l.curl[1]
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("the printed sample file: %v", err)
		}
		if want := upload("image"); u != want {
			t.Errorf("printed URL: got %s, want %s", u, want)
		}
		a := do(t, multipartUpload(t, u, filepath.Base(file), data))
		if a.Status != http.StatusOK || a.MediaID == "" {
			t.Fatalf("got %d %+v, want 200 with a media_id", a.Status, a)
		}
	})

	// Each type through the HTTP API, then back through get into the bucket.
	for _, tc := range []struct {
		typ, name string
		data      []byte
	}{
		{"image", "photo.jpg", mediatest.Sample(media.JPEG, 50<<10)},
		{"voice", "hello.mp3", mediatest.Sample(media.MP3, 20<<10)},
		{"video", "clip.mp4", mediatest.Sample(media.MP4, 300<<10)},
		{"thumb", "thumb.jpg", mediatest.Sample(media.JPEG, 30<<10)},
	} {
		t.Run("UploadGet/"+tc.typ, func(t *testing.T) {
			a := do(t, multipartUpload(t, upload(tc.typ), tc.name, tc.data))
			if tc.typ == "thumb" {
				a.MediaID, a.ThumbID = a.ThumbID, a.MediaID
			}
			if a.Status != http.StatusOK || a.MediaID == "" || a.ThumbID != "" || a.Type != tc.typ || a.CreatedAt == 0 {
				t.Fatalf("upload: got %d %+v, want 200 with type %s and a media_id", a.Status, a, tc.typ)
			}
			req, _ := http.NewRequest(http.MethodGet, l.api+"/cgi-bin/media/get?format=json&media_id="+url.QueryEscape(a.MediaID), nil) // the descriptor: where it was stored
			g := do(t, req)
			if g.Status != http.StatusOK || g.Key == "" || g.URL == "" || g.Size != int64(len(tc.data)) {
				t.Fatalf("get: got %d %+v, want 200 with key, url and size %d", g.Status, g, len(tc.data))
			}
			if tc.typ == "video" && g.VideoURL == "" {
				t.Errorf("get video: no video_url in %+v", g)
			}
			got, err := getObject(ctx, bucket, g.Key)
			if err != nil {
				t.Fatalf("s3 get %s: %v", g.Key, err)
			}
			if !bytes.Equal(got, tc.data) {
				t.Errorf("s3://%s/%s: got %d bytes, want the %d uploaded, byte for byte", DefaultBucket, g.Key, len(got), len(tc.data))
			}
		})
	}

	t.Run("UploadImg", func(t *testing.T) {
		a := do(t, multipartUpload(t, l.api+"/cgi-bin/media/uploadimg", "banner.jpg", mediatest.Sample(media.JPEG, 40<<10)))
		if a.Status != http.StatusOK || a.URL == "" {
			t.Fatalf("got %d %+v, want 200 with a url", a.Status, a)
		}
	})

	t.Run("UploadKey", func(t *testing.T) {
		data := mediatest.Sample(media.MP3, 30<<10)
		if _, err := bucket.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(DefaultBucket), Key: aws.String("inbox/hello.mp3"), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
		a := do(t, jsonUpload(upload("voice"), "inbox/hello.mp3"))
		if a.Status != http.StatusOK || a.MediaID == "" || a.Type != "voice" {
			t.Fatalf("got %d %+v, want 200 with a voice media_id", a.Status, a)
		}
		a = do(t, jsonUpload(l.api+"/cgi-bin/media/uploadimg", mediatest.SampleKey))
		if a.Status != http.StatusOK || a.URL == "" {
			t.Fatalf("uploadimg of the sample %s: got %d %+v, want 200 with a url", mediatest.SampleKey, a.Status, a)
		}
	})

	// Puts under the trigger prefixes, keys with spaces: results appear.
	t.Run("S3Trigger", func(t *testing.T) {
		for _, tc := range []struct {
			key   string
			data  []byte
			field func(map[string]any) bool
		}{
			{"upload/image/e2e photo 1.jpg", mediatest.Sample(media.JPEG, 64<<10), func(r map[string]any) bool { return r["media_id"] != nil && r["type"] == "image" }},
			{"uploadimg/e2e banner (2).png", mediatest.Sample(media.PNG, 32<<10), func(r map[string]any) bool { return r["url"] != nil }},
		} {
			if _, err := bucket.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(DefaultBucket), Key: aws.String(tc.key), Body: bytes.NewReader(tc.data)}); err != nil {
				t.Fatal(err)
			}
			result := "results/" + tc.key + ".json"
			deadline := time.Now().Add(20 * time.Second)
			for {
				data, err := getObject(ctx, bucket, result)
				if err == nil {
					var r map[string]any
					if err := json.Unmarshal(data, &r); err != nil {
						t.Fatalf("%s: %v in %s", result, err, data)
					}
					if r["key"] != tc.key || !tc.field(r) {
						t.Errorf("%s: got %s, want the key %q and its outcome", result, data, tc.key)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no %s within 20 s of the put: %v", result, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	})

	// A file beyond the HTTP API's payload ceiling: a presigned POST form,
	// the file straight into S3, then its result.
	t.Run("PresignedUpload", func(t *testing.T) {
		form := func(t *testing.T) transfer.Form {
			t.Helper()
			resp, err := client.Post(l.api+"/cgi-bin/media/upload-url?type=video", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var f transfer.Form
			if err := json.NewDecoder(resp.Body).Decode(&f); err != nil || resp.StatusCode != 200 {
				t.Fatalf("upload-url: %d, %v", resp.StatusCode, err)
			}
			if !strings.HasPrefix(f.Key, "upload/video/") || f.MaxSize != 10<<20 || f.Fields["key"] != f.Key ||
				f.ExpiresAt <= time.Now().Unix() || f.ExpiresAt > time.Now().Add(transfer.FormTTL+time.Minute).Unix() {
				t.Fatalf("upload-url: got %+v, want a form for a new key under upload/video/, at most 10 MB, for %v", f, transfer.FormTTL)
			}
			return f
		}
		video := mediatest.Sample(media.MP4, 9<<20)
		f := form(t)
		if status, body := postForm(t, f.URL, f.Fields, video); status != http.StatusNoContent {
			t.Fatalf("POST to S3: %d %s, want 204", status, body)
		}
		a := do(t, get(l.api+"/cgi-bin/media/result?wait=10&key="+url.QueryEscape(f.Key)))
		if a.Status != http.StatusOK || a.Type != "video" || a.MediaID == "" || a.Key != f.Key {
			t.Fatalf("result: got %d %+v, want 200 with the video's media_id", a.Status, a)
		}
		if got := l.simMediaSize(t, a.MediaID); got != len(video) {
			t.Errorf("WeChat holds %d bytes, want the 9 MB sent", got)
		}
		// Its completion event, as a rule's target would receive it.
		resp, err := client.Get(l.api + EventsPath)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		found := false
		for dec := json.NewDecoder(resp.Body); dec.More(); {
			var e struct {
				Source     string `json:"source"`
				DetailType string `json:"detail-type"`
				Detail     struct {
					Key string `json:"key"`
				} `json:"detail"`
			}
			if err := dec.Decode(&e); err != nil {
				t.Fatalf("%s: %v", EventsPath, err)
			}
			found = found || (e.Source == "wxmedia" && e.DetailType == "Media Uploaded" && e.Detail.Key == f.Key)
		}
		if !found {
			t.Errorf("%s: no Media Uploaded event for %s", EventsPath, f.Key)
		}

		// Over the type's limit, S3 refuses the file: nothing is stored or sent.
		f = form(t)
		if status, body := postForm(t, f.URL, f.Fields, mediatest.Sample(media.MP4, 10<<20+1)); status != http.StatusBadRequest || !strings.Contains(body, "EntityTooLarge") {
			t.Errorf("POST of 10 MB + 1 to S3: %d %s, want 400 EntityTooLarge", status, body)
		}
		if a := do(t, get(l.api+"/cgi-bin/media/result?key="+url.QueryEscape(f.Key))); a.ErrCode != 40035 || !strings.Contains(a.ErrMsg, "no object") {
			t.Errorf("result of a refused file: %+v, want errcode 40035, no object", a)
		}
	})

	t.Run("ErrFileType", func(t *testing.T) {
		a := do(t, multipartUpload(t, upload("image"), "notes.jpg", []byte("these are plain text notes, not a picture\n")))
		if a.Status != http.StatusOK || a.ErrCode != 40005 {
			t.Fatalf("got %d errcode %d (%s), want 200 errcode 40005, as WeChat answers", a.Status, a.ErrCode, a.ErrMsg)
		}
	})

	t.Run("ErrTooLarge", func(t *testing.T) {
		big := multipartUpload(t, upload("image"), "big.jpg", mediatest.Sample(media.JPEG, httpapi.MaxBody+bodyHeadroom))
		body, _ := io.ReadAll(big.Body)
		for _, tc := range []struct {
			name string
			body io.Reader
		}{
			{"Sized", bytes.NewReader(body)},
			{"Chunked", io.MultiReader(bytes.NewReader(body))}, // no Content-Length
		} {
			t.Run(tc.name, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodPost, upload("image"), tc.body)
				req.Header.Set("Content-Type", big.Header.Get("Content-Type"))
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err) // the runner reads the body before it refuses it: no reset
				}
				defer resp.Body.Close()
				var a answer
				body, _ := io.ReadAll(resp.Body)
				if err := json.Unmarshal(body, &a); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge || a.ErrCode != 40006 {
					t.Fatalf("got %d %s, want 413 with errcode 40006", resp.StatusCode, body)
				}
			})
		}
	})

	t.Run("SimulatorStats", func(t *testing.T) {
		resp, err := client.Get(l.wechat + "/_sim/stats")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st map[string]int
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		// printed curl + 4 types + key + S3 put; 4 gets; multipart + key + S3 put.
		for name, want := range map[string]int{"upload": 7, "get": 4, "uploadimg": 3} {
			if st[name] < want {
				t.Errorf("%s calls: got %d, want at least %d (stats %v)", name, st[name], want, st)
			}
		}
		if st["stable_token"] < 1 || st["token"] != 0 {
			t.Errorf("token calls: got stable_token %d token %d, want stable_token only (stats %v)", st["stable_token"], st["token"], st)
		}
	})

	// Ctrl-C stops everything, cleanly and soon.
	if err := l.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGINT")
	}
	if code := l.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code after SIGINT: got %d, want 0; stderr:\n%s", code, l.stderr)
	}
	if !strings.Contains(l.stdout.String(), "local: stopped") {
		t.Errorf("stdout: no \"local: stopped\" in\n%s", l.stdout)
	}
	if strings.Contains(l.stderr.String(), "DATA RACE") {
		t.Errorf("the race detector found a race:\n%s", l.stderr)
	}
}

func testPortInUse(t *testing.T, bin string) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	p := awstest.FreePorts(t, 3)
	cmd := exec.Command(bin)
	cmd.Env = append(cleanEnv(), fmt.Sprintf("LOCAL_PORT=%d", p[0]), fmt.Sprintf("LOCAL_S3_PORT=%d", busy.Addr().(*net.TCPAddr).Port),
		fmt.Sprintf("LOCAL_SM_PORT=%d", p[1]), fmt.Sprintf("LOCAL_WECHAT_PORT=%d", p[2]))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("still running 20 s after start with a port in use")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("got %v, want a non-zero exit", err)
	}
	port := fmt.Sprint(busy.Addr().(*net.TCPAddr).Port)
	if msg := stderr.String(); !strings.Contains(msg, "LOCAL_S3_PORT") || !strings.Contains(msg, port) || !strings.Contains(msg, "in use") {
		t.Errorf("stderr: got %q, want it to say port %s is in use and name LOCAL_S3_PORT", msg, port)
	}
}
