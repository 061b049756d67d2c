package main

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

const sampleOutput = `goos: linux
BenchmarkUploadObject/streaming/1MB-2   5   4123100 ns/op   254.32 MB/s   3.000 s3-requests/op   66448 B/op   242 allocs/op
BenchmarkUploadObject/streaming/10MB-2  5  33506375 ns/op   312.95 MB/s   3.000 s3-requests/op   62772 B/op   237 allocs/op
BenchmarkUploadObject/streaming/50MB-2  5 363794582 ns/op   144.12 MB/s   3.000 s3-requests/op   56204 B/op   238 allocs/op
BenchmarkUploadObject/buffered/1MB-2    5   6252815 ns/op   167.70 MB/s   1.000 s3-requests/op  3370406 B/op  200 allocs/op
BenchmarkUploadObject/buffered/10MB-2   5  51184417 ns/op   204.86 MB/s   1.000 s3-requests/op 34048174 B/op  212 allocs/op
BenchmarkUploadObject/buffered/50MB-2   5 313537323 ns/op   167.22 MB/s   1.000 s3-requests/op 170448067 B/op 213 allocs/op
BenchmarkPipelined/streaming-2  3  543644784 ns/op  500.5 s3-leg-ms  543.6 total-ms  582.6 wechat-leg-ms  0.9331 x-leg
BenchmarkHandler-2  2970  699400 ns/op  0.2626 overhead-p50-ms  0.6355 p50-ms  2.000 s3-gets/op  1.000 s3-heads/op  1.000 s3-puts/op  4.000 s3-requests/op  1.000 token-fetches  0.3729 wechat-p50-ms  65619 B/op  298 allocs/op
PASS
`

func TestParseAndReport(t *testing.T) {
	r := benchResults{}
	r.parse(sampleOutput)
	if got := r.get("BenchmarkUploadObject/buffered/10MB", "B/op"); got != 34048174 {
		t.Errorf("buffered 10MB B/op = %v, want 34048174", got)
	}
	if got := r.get("BenchmarkPipelined/streaming", "x-leg"); got != 0.9331 {
		t.Errorf("x-leg = %v, want 0.9331", got)
	}
	if got := r.get("BenchmarkHandler", "s3-requests/op"); got != 4 {
		t.Errorf("handler s3-requests/op = %v, want 4", got)
	}
	if got := r.get("BenchmarkUploadObject/streaming/10MB", "s3-requests/op"); got != 3 {
		t.Errorf("S3-triggered upload s3-requests/op = %v, want 3", got)
	}
	if got := r.get("BenchmarkFetch/streaming/1MB", "B/op"); got != -1 {
		t.Errorf("missing benchmark = %v, want -1", got)
	}

	rep := newReport(machine{nproc: "2", cpu: "CPU", goVersion: "go", date: time.Unix(0, 0)}, r,
		map[string]int64{"upload": 10_000_000}, []coldStart{{fn: "upload"}})
	verdicts, ours := map[string]string{}, map[string]string{}
	for _, row := range rep.rows {
		verdicts[row.figure], ours[row.figure] = row.verdict, row.ours
	}
	for figure, want := range map[string]string{
		"S3 → WeChat (UploadObject) 10 MB, B/op":                           verdictMet,
		"S3 → WeChat (UploadObject), B/op largest ÷ smallest over 1–50 MB": verdictMet,
		"WeChat → S3 (Fetch), B/op largest ÷ smallest over 1–50 MB":        verdictMissed, // not run
		"10 MB S3 → WeChat, both legs at 20 MB/s: time ÷ slower leg alone": verdictMet,
		"handler p50 above WeChat's own p50":                               verdictMet,
		"get bootstrap, linux/arm64, -s -w":                                verdictNotRun,
		"upload: calls to Secrets Manager, WeChat or S3 during init":       verdictMet,
		"upload bootstrap, linux/arm64, -s -w":                             verdictMet,
		"stable_token fetches over 2990 requests":                          verdictMet,
		"WeChat → S3 (Fetch), largest B/op over 1–50 MB":                   verdictMissed,
		"uploadimg bootstrap, linux/arm64, -s -w":                          verdictNotRun,
		`S3 requests per upload, S3-triggered / {"key"}`:                   verdictMet,
	} {
		if got, ok := verdicts[figure]; !ok || got != want {
			t.Errorf("%q: verdict %q (present %v), want %q", figure, got, ok, want)
		}
	}
	const s3Row = `S3 requests per upload, S3-triggered / {"key"}`
	if got := ours[s3Row]; got != "3 / 4" {
		t.Errorf("%s: got %q, want \"3 / 4\"", s3Row, got)
	}
	if md := rep.markdown(sampleOutput); !strings.Contains(md, `| S3 requests per upload, S3-triggered / {"key"} | 3 / 4 |`) {
		t.Errorf("markdown lacks the S3 requests row:\n%s", md)
	}

	// A trigger path that makes a fourth S3 request misses the target.
	more := benchResults{}
	more.parse(strings.ReplaceAll(sampleOutput, "3.000 s3-requests/op", "4.000 s3-requests/op"))
	for _, row := range newReport(machine{}, more, nil, nil).rows {
		if row.figure == s3Row && (row.verdict != verdictMissed || row.ours != "4 / 4") {
			t.Errorf("%s with 4 requests on the trigger's path: got %q %s, want 4 / 4 MISSED", s3Row, row.ours, row.verdict)
		}
	}

	if md := rep.markdown(sampleOutput); !strings.Contains(md, "| 34,048,174 |") || !strings.Contains(md, "**MISSED**") {
		t.Errorf("markdown lacks the baseline's B/op or a missed mark:\n%s", md)
	}

	d := xml.NewDecoder(strings.NewReader(rep.memorySVG()))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("memory.svg is not well-formed XML: %v", err)
		}
	}
}
