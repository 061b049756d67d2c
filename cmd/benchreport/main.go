// Command benchreport runs the performance benchmarks and reports them side
// by side with their baselines and against their targets (memory flat in
// the object's size and far below a buffering client's, an upload's legs
// overlapped, little overhead in the handler, a small bootstrap, nothing
// called in init): `make bench` runs it.
//
// It runs the benchmarks of pkg/transfer (memory per upload and per get
// against the buffering baseline, pipelining with both legs throttled, the
// HTTP handler's overhead), builds each function's arm64 bootstrap to check
// its size, and cold-starts each function's host-arch bootstrap under the
// Lambda Runtime Interface Emulator (internal/rie) against the backends
// `make local` runs: the embedded S3 and Secrets Manager (internal/localaws) and
// the WeChat simulator (internal/wechatsim). It prints one table (figure, ours, baseline, ratio,
// target) and writes it with the machine's description to
// .bench/results.md, and a chart of bytes allocated per operation against
// object size to .bench/memory.svg.
//
//	go run ./cmd/benchreport [-out .bench] [-rie .bin/aws-lambda-rie]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/wxmedia/wxmedia/internal/rie"
)

func main() {
	out := flag.String("out", ".bench", "directory for results.md and memory.svg")
	rie := flag.String("rie", ".bin/aws-lambda-rie", "the Lambda Runtime Interface Emulator (make tools installs it)")
	goCmd := flag.String("go", "go", "the go command")
	flag.Parse()
	if err := run(*out, *rie, *goCmd); err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
		os.Exit(1)
	}
}

func run(outDir, rie, goCmd string) error {
	if _, err := os.Stat("go.mod"); err != nil {
		return fmt.Errorf("run from the module root (where go.mod is): %w", err)
	}
	rie, err := findRIE(rie)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	m := describeMachine(ctx, goCmd)

	var raw strings.Builder
	results := benchResults{}
	for _, step := range benchSteps {
		logf("go test %s", strings.Join(step.args, " "))
		t := time.Now()
		out, err := goTest(ctx, goCmd, step.args)
		logf("%s", time.Since(t).Round(time.Second))
		raw.WriteString(out)
		if err != nil {
			return err
		}
		results.parse(out)
	}

	logf("building the functions' bootstraps")
	t := time.Now()
	sizes, hostDir, err := buildBootstraps(ctx, goCmd)
	logf("%s", time.Since(t).Round(time.Second))
	if err != nil {
		return err
	}
	defer os.RemoveAll(hostDir)
	logf("cold-starting each function under %s", rie)
	cold, err := coldStarts(ctx, rie, hostDir)
	if err != nil {
		return err
	}
	logf("counting each kind of work's requests, log bytes and metric series; each function's peak memory")
	costs, err := measureCosts(ctx, rie, hostDir)
	if err != nil {
		return err
	}

	rep := newReport(m, results, sizes, cold)
	rep.costRows(costs)
	rep.elapsed = time.Since(start)
	fmt.Print(rep.text())
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(outDir, "results.md"), []byte(rep.markdown(raw.String())), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(outDir, "memory.svg"), []byte(rep.memorySVG()), 0o644); err != nil {
		return err
	}
	if err := writeCosts(costs); err != nil {
		return err
	}
	fmt.Printf("\nwrote %s and %s (%s)\n", filepath.Join(outDir, "results.md"), filepath.Join(outDir, "memory.svg"), rep.elapsed.Round(time.Second))
	return nil
}

// findRIE is the emulator at p, or else on PATH.
func findRIE(p string) (string, error) {
	if abs, err := rie.LookPath(p); err == nil {
		return abs, nil
	}
	abs, err := rie.LookPath(rie.DefaultBinary)
	if err != nil {
		return "", fmt.Errorf("the Lambda RIE is not at %s nor on PATH: run `make tools`: %w", p, err)
	}
	return abs, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "== "+format+"\n", args...)
}

// machine names what the numbers were measured on.
type machine struct {
	nproc, cpu, goVersion, load string
	date                        time.Time
}

func describeMachine(ctx context.Context, goCmd string) machine {
	m := machine{nproc: fmt.Sprint(runtime.NumCPU()), cpu: "unknown", date: time.Now().UTC()}
	if out, err := exec.CommandContext(ctx, "nproc").Output(); err == nil {
		m.nproc = strings.TrimSpace(string(out))
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if out, err := exec.CommandContext(ctx, goCmd, "version").Output(); err == nil {
		m.goVersion = strings.TrimSpace(string(out))
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.load = strings.Join(strings.Fields(string(data))[:3], " ")
	}
	return m
}
