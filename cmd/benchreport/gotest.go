package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// benchSteps are the go test runs, each with the iterations its figure
// needs: a few for the memory benchmarks (bytes per op are exact), three
// for the throttled uploads (a second each), and a time for the handler,
// whose median wants thousands of requests.
var benchSteps = []struct{ args []string }{
	{[]string{"-run", "^$", "-bench", "^Benchmark(UploadObject|Fetch)$", "-benchmem", "-benchtime", "5x", "-count", "1", "./pkg/transfer/"}},
	{[]string{"-run", "^$", "-bench", "^BenchmarkPipelined$", "-benchtime", "3x", "-count", "1", "./pkg/transfer/"}},
	{[]string{"-run", "^$", "-bench", "^BenchmarkHandler$", "-benchmem", "-benchtime", "2s", "-count", "1", "./pkg/transfer/"}},
}

// goTest runs go test with args, echoing its output to stderr.
func goTest(ctx context.Context, goCmd string, args []string) (string, error) {
	cmd := exec.CommandContext(ctx, goCmd, append([]string{"test"}, args...)...)
	var buf bytes.Buffer
	cmd.Stdout = io.MultiWriter(&buf, os.Stderr)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		return buf.String(), fmt.Errorf("go test %s: %w", strings.Join(args, " "), err)
	}
	return buf.String(), nil
}

// benchResults maps a benchmark's name (without its -GOMAXPROCS suffix) to
// its figures by unit: "ns/op", "B/op", "x-leg", …
type benchResults map[string]map[string]float64

var procsSuffix = regexp.MustCompile(`-\d+$`)

func (r benchResults) parse(out string) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := procsSuffix.ReplaceAllString(f[0], "")
		vals := map[string]float64{"iterations": mustFloat(f[1])}
		for i := 2; i+1 < len(f); i += 2 {
			vals[f[i+1]] = mustFloat(f[i])
		}
		r[name] = vals
	}
}

func mustFloat(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return -1
	}
	return v
}

// get returns a figure, or -1 if the benchmark did not report it.
func (r benchResults) get(name, unit string) float64 {
	if v, ok := r[name][unit]; ok {
		return v
	}
	return -1
}
