package doctest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/awstest"
)

// The examples of README.md and docs/ are their ```sh blocks:
//
//   - ```sh: run with bash, a page's blocks in order in one shell (so a
//     variable set in one block is there in the next), against a fresh
//     make local of the page's own, in a scratch folder. Lines starting
//     "#=> " after a command are what it prints: each line must match,
//     "…" standing for any run of characters but '"', and a line that is
//     "…" alone for any lines. A command with no "#=> " lines must only
//     succeed (the shell runs with -e and pipefail).
//   - ```sh deploy: needs an AWS account, SAM or Docker; only `bash -n`.
//   - ```sh long: runs until stopped or for minutes (make local, make
//     test); only `bash -n`.
//
// The examples name make local's default ports and sample file; the test
// starts it on free ports and rewrites those before running them.

// block is one fenced block of a page.
type block struct {
	page, tag string
	line      int // of the opening fence
	text      string
}

var fence = regexp.MustCompile("(?s)```(sh|console)([^\n]*)\n(.*?)```")

func blocks(t *testing.T) []block {
	t.Helper()
	var out []block
	for _, page := range pages(t) {
		text := read(t, page)
		for _, m := range fence.FindAllStringSubmatchIndex(text, -1) {
			out = append(out, block{page: page, tag: strings.TrimSpace(text[m[4]:m[5]]),
				line: strings.Count(text[:m[0]], "\n") + 1, text: text[m[6]:m[7]]})
		}
	}
	return out
}

// step is commands and the output shown after them.
type step struct {
	line int // in the page
	cmd  string
	want []string
}

func steps(b block) []step {
	var out []step
	cur := step{line: b.line + 1}
	for i, l := range strings.Split(strings.TrimSuffix(b.text, "\n"), "\n") {
		if w, ok := strings.CutPrefix(l, "#=>"); ok {
			cur.want = append(cur.want, strings.TrimPrefix(w, " "))
			continue
		}
		if len(cur.want) > 0 {
			out = append(out, cur)
			cur = step{line: b.line + 1 + i}
		}
		cur.cmd += l + "\n"
	}
	return append(out, cur)
}

// match reports whether got's lines match want's, "…" standing for any
// characters but '"' and a "…" line for any lines.
func match(want, got []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if want[0] == "…" {
		for i := 0; i <= len(got); i++ {
			if match(want[1:], got[i:]) {
				return true
			}
		}
		return false
	}
	if len(got) == 0 {
		return false
	}
	parts := strings.Split(want[0], "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	if !regexp.MustCompile(`^` + strings.Join(parts, `[^"]*`) + `$`).MatchString(got[0]) {
		return false
	}
	return match(want[1:], got[1:])
}

// Every deploy-only or long-running block is valid bash.
func TestExamplesParse(t *testing.T) {
	for _, b := range blocks(t) {
		cmd := exec.Command("bash", "-n")
		cmd.Stdin = strings.NewReader(b.text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s:%d: bash -n: %v\n%s", b.page, b.line, err, out)
		}
		if b.tag != "" && b.tag != "deploy" && b.tag != "long" {
			t.Errorf("%s:%d: ```sh %s: want ```sh, ```sh deploy or ```sh long", b.page, b.line, b.tag)
		}
	}
}

// Every ```sh block runs against make local and prints what it shows.
func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs make local (-short)")
	}
	for _, tool := range []string{"bash", "curl", "jq", "aws"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("WXMEDIA_REQUIRE_TOOLS") != "" {
				t.Fatalf("the examples need %s: %v", tool, err)
			}
			t.Skipf("the examples need %s", tool)
		}
	}
	repo, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	// make invoke's examples run the Lambda RIE: without it they fail,
	// never skip (make tools installs it).
	rie := filepath.Join(repo, ".bin", "aws-lambda-rie")
	if _, err := os.Stat(rie); err != nil {
		t.Fatalf("make invoke's examples need %s: run make tools", rie)
	}
	bin := filepath.Join(t.TempDir(), "local")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(repo, "cmd", "local")).CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/local: %v\n%s", err, out)
	}
	byPage := map[string][]block{}
	var order []string
	for _, b := range blocks(t) {
		if b.tag != "" {
			continue
		}
		if _, ok := byPage[b.page]; !ok {
			order = append(order, b.page)
		}
		byPage[b.page] = append(byPage[b.page], b)
	}
	ran, checked := 0, 0
	for _, page := range order {
		t.Run(page, func(t *testing.T) {
			r, c := runPage(t, repo, bin, byPage[page])
			ran, checked = ran+r, checked+c
		})
	}
	t.Logf("%d steps run, the output of %d checked", ran, checked)
}

// runPage starts make local for one page, runs its blocks in one bash and
// compares each step's output; it returns how many steps ran and how many
// of them show output.
func runPage(t *testing.T, repo, bin string, bs []block) (ran, checked int) {
	ports := awstest.FreePorts(t, 4)
	tmp := t.TempDir()
	state := filepath.Join(tmp, "local.json")
	env := []string{"TMPDIR=" + tmp, "WXMEDIA_LOCAL_STATE=" + state}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "WECHAT_") || strings.HasPrefix(k, "LOCAL_") ||
			k == "MEDIA_BUCKET" || k == "ALLOWED_PREFIXES" || k == "MEDIA_LIMITS" || k == "LOG_LEVEL" || k == "TMPDIR" {
			continue
		}
		env = append(env, kv)
	}
	local := exec.Command(bin)
	local.Env = append(env[:len(env):len(env)], fmt.Sprintf("LOCAL_PORT=%d", ports[0]), fmt.Sprintf("LOCAL_S3_PORT=%d", ports[1]),
		fmt.Sprintf("LOCAL_SM_PORT=%d", ports[2]), fmt.Sprintf("LOCAL_WECHAT_PORT=%d", ports[3]))
	var logs bytes.Buffer
	local.Stderr = &logs
	stdout, err := local.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := local.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Process.Kill(); local.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := regexp.MustCompile(`curl -F media=@(\S+) `).FindStringSubmatch(sc.Text()); m != nil {
				select {
				case ready <- m[1]:
				default:
				}
			}
		}
	}()
	var sample string
	select {
	case sample = <-ready:
	case <-time.After(30 * time.Second):
		t.Fatalf("make local printed no curl in 30 s; its log:\n%s", logs.String())
	}
	// The examples' default ports and sample path, as this make local has them.
	defaults := map[string]int{"3000": ports[0], "9000": ports[1], "9001": ports[2], "3001": ports[3]}
	portRE := regexp.MustCompile(`127\.0\.0\.1:(3000|3001|9000|9001)\b`)
	rewrite := func(s string) string {
		s = portRE.ReplaceAllStringFunc(s, func(m string) string { return fmt.Sprintf("127.0.0.1:%d", defaults[m[len("127.0.0.1:"):]]) })
		return strings.ReplaceAll(s, "/tmp/wxmedia-local/test.jpg", sample)
	}

	// One bash for the page: each step's output ends with a marker line.
	const marker = "@@doctest-step@@"
	var script strings.Builder
	script.WriteString("set -eo pipefail\nmake() { command make --no-print-directory -C " + shellQuote(repo) + " \"$@\"; }\n")
	var all []step
	for _, b := range bs {
		for _, s := range steps(b) {
			all = append(all, s)
			script.WriteString(rewrite(s.cmd))
			script.WriteString("printf '\\n" + marker + "\\n'\n")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, "bash")
	sh.Dir = t.TempDir()
	sh.Env = env
	sh.Stdin = strings.NewReader(script.String())
	var out, errOut bytes.Buffer
	sh.Stdout, sh.Stderr = &out, &errOut
	runErr := sh.Run()
	outs := strings.Split(out.String(), "\n"+marker+"\n")
	for i, s := range all {
		page := bs[0].page
		if i >= len(outs)-1 {
			t.Fatalf("%s:%d: the step failed (%v):\n%s\nstderr:\n%s\nmake local's log (tail):\n%s",
				page, s.line, runErr, s.cmd, errOut.String(), tail(logs.String(), 3000))
		}
		if s.want == nil {
			continue
		}
		checked++
		got := strings.Split(strings.TrimRight(strings.ReplaceAll(outs[i], "\r", ""), "\n"), "\n")
		want := make([]string, len(s.want))
		for j, w := range s.want {
			want[j] = rewrite(w)
		}
		if !match(want, got) {
			t.Errorf("%s:%d:\n%s\ngot:\n%s\nwant:\n%s", page, s.line, s.cmd, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if runErr != nil {
		t.Errorf("%s: bash: %v\n%s", bs[0].page, runErr, errOut.String())
	}
	return len(all), checked
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
