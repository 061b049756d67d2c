package doctest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// root is the repository, from this package's folder.
const root = "../.."

// maxLine is the longest line of README.md and docs/, in characters;
// a section between generated markers (<!-- x:begin … --> and
// <!-- x:end -->) is written by a tool and exempt.
const maxLine = 100

// pages are README.md and every docs/*.md, relative to root.
func pages(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, d := range docs {
		rel, _ := filepath.Rel(root, d)
		out = append(out, rel)
	}
	return out
}

func read(t *testing.T, page string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, page))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	linkRE    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	headingRE = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
	fenceRE   = regexp.MustCompile("(?ms)^```.*?^```")
)

// anchors are the ids GitHub gives a page's headings: lower case, spaces
// as hyphens, punctuation other than hyphens and underscores dropped.
func anchors(page string) map[string]bool {
	ids := map[string]bool{}
	for _, m := range headingRE.FindAllStringSubmatch(fenceRE.ReplaceAllString(page, ""), -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
				b.WriteRune(r)
			}
		}
		ids[b.String()] = true
	}
	return ids
}

// Every relative link of README.md and docs/ names a file of the
// repository and, after a #, a heading of it.
func TestLinksResolve(t *testing.T) {
	for _, page := range pages(t) {
		text := read(t, page)
		for _, m := range linkRE.FindAllStringSubmatch(fenceRE.ReplaceAllString(text, ""), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, frag, _ := strings.Cut(target, "#")
			dest := page
			if file != "" {
				dest = filepath.Join(filepath.Dir(page), file)
				if _, err := os.Stat(filepath.Join(root, dest)); err != nil {
					t.Errorf("%s links to %s: no such file", page, target)
					continue
				}
			}
			if frag != "" && strings.HasSuffix(dest, ".md") && !anchors(read(t, dest))[frag] {
				t.Errorf("%s links to %s: %s has no heading #%s", page, target, dest, frag)
			}
		}
	}
}

// No line of README.md or docs/ is longer than maxLine characters, but
// in a generated section.
func TestLinesShort(t *testing.T) {
	for _, page := range pages(t) {
		generated := false
		for i, line := range strings.Split(read(t, page), "\n") {
			switch {
			case strings.HasPrefix(line, "<!--") && strings.Contains(line, ":begin"):
				generated = true
			case strings.HasPrefix(line, "<!--") && strings.Contains(line, ":end"):
				generated = false
			case !generated && utf8.RuneCountInString(line) > maxLine:
				t.Errorf("%s:%d: %d characters, want at most %d", page, i+1, utf8.RuneCountInString(line), maxLine)
			}
		}
	}
}

// README.md stays a front door: at most about 250 lines.
func TestReadmeShort(t *testing.T) {
	if n := strings.Count(read(t, "README.md"), "\n"); n > 250 {
		t.Errorf("README.md has %d lines, want at most 250: move the detail into docs/", n)
	}
}
