package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wxmedia/wxmedia/internal/localaws"
)

// eventRow is a row of events/README.md's table: an event's documented
// outcome under make invoke against a fresh make local.
type eventRow struct {
	file, fn string
	exit     int
	has      []string          // in the answer
	objects  map[string]string // key -> a field its JSON has, or "" (it exists)
}

var backticked = regexp.MustCompile("`([^`]+)`")

// eventRows reads events/README.md's table.
func eventRows(t *testing.T) []eventRow {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "events", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []eventRow
	for _, line := range strings.Split(string(data), "\n") {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) < 3 {
			continue
		}
		cells = cells[1 : len(cells)-1]
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) != 6 || !strings.HasSuffix(cells[0], ".json`") {
			continue
		}
		exit, err := strconv.Atoi(cells[2])
		if err != nil {
			t.Fatalf("events/README.md: exit %q in %s", cells[2], line)
		}
		r := eventRow{file: strings.Trim(cells[0], "`"), fn: cells[1], exit: exit, objects: map[string]string{}}
		for _, m := range backticked.FindAllStringSubmatch(cells[3], -1) {
			r.has = append(r.has, m[1])
		}
		for _, obj := range strings.Split(cells[4], ";") {
			if m := backticked.FindAllStringSubmatch(obj, -1); len(m) > 0 {
				r.objects[m[0][1]] = ""
				if len(m) > 1 {
					r.objects[m[0][1]] = m[1][1]
				}
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// TestEventsREADMEListsEvery: every file of events/ but env.json has its
// row, and no row names a file that is not there.
func TestEventsREADMEListsEvery(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	var want, got []string
	for _, f := range files {
		if b := filepath.Base(f); b != "env.json" {
			want = append(want, b)
		}
	}
	for _, r := range eventRows(t) {
		got = append(got, r.file)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("events/README.md's rows: got %v, want one for each of %v", got, want)
	}
}

// testEventsREADME runs every row of events/README.md against a fresh
// make local, through run (make invoke's own code), and checks its
// documented outcome.
func testEventsREADME(t *testing.T, localBin string, run func(t *testing.T, environ []string, fn string, event []byte) (int, []byte, string)) {
	ml := startLocal(t, localBin)
	environ := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), localaws.EnvState + "=" + ml.state}
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ml.s3), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("any", "thing", "")})
	for _, r := range eventRows(t) {
		t.Run(strings.TrimSuffix(r.file, ".json"), func(t *testing.T) {
			code, out, logs := run(t, environ, r.fn, readEventFile(t, r.file))
			answer := string(out)
			var apigw struct{ Body string }
			if json.Unmarshal(out, &apigw) == nil {
				answer += apigw.Body // an API Gateway answer's body, decoded
			}
			if code != r.exit {
				t.Fatalf("exit code %d, want %d; answer %s\n%s", code, r.exit, out, logs)
			}
			for _, s := range r.has {
				if !strings.Contains(answer, s) {
					t.Errorf("answer %.600s: want %s in it", answer, s)
				}
			}
			for key, field := range r.objects {
				res, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
				if err != nil {
					t.Errorf("%s: %v, want it in the bucket", key, err)
					continue
				}
				data, _ := io.ReadAll(res.Body)
				res.Body.Close()
				var obj map[string]any
				if field != "" && (json.Unmarshal(data, &obj) != nil || obj[field] == nil) {
					t.Errorf("%s: %s, want %q in it", key, data, field)
				}
			}
		})
	}
}
