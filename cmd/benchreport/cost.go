package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/wxmedia/wxmedia/internal/deploy"
	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/rie"
	"github.com/wxmedia/wxmedia/pkg/media"
)

// prices are the list prices the cost table uses: us-east-1, arm64,
// on-demand, each from its service's pricing page on pricesRead.
var prices = map[string]float64{
	kindS3Get:         0.0004 / 1000, // GET, SELECT and all other requests
	kindS3Head:        0.0004 / 1000,
	kindS3List:        0.005 / 1000, // PUT, COPY, POST, LIST
	kindS3Put:         0.005 / 1000,
	kindS3Post:        0.005 / 1000,
	kindS3Delete:      0,
	kindDynamoRead:    0.125 / 1e6, // a read request unit: a strongly consistent read of up to 4 KB
	kindDynamoWrite:   0.625 / 1e6, // a write request unit: up to 1 KB
	kindEventsEntries: 1.00 / 1e6,  // custom events, each up to 64 KB
	priceLambdaReq:    0.20 / 1e6,
	priceLambdaGBs:    0.0000133334, // arm64
	priceAPIRequest:   1.00 / 1e6,   // HTTP API, metered in 512 KB steps
	priceLogGB:        0.50,         // CloudWatch Logs ingestion, standard class
	priceTrace:        5.00 / 1e6,   // X-Ray traces recorded (Tracing: Active only)
}

const (
	pricesRead      = "2026-12-07"
	priceLambdaReq  = "Lambda request"
	priceLambdaGBs  = "Lambda GB-second"
	priceAPIRequest = "API Gateway request"
	priceLogGB      = "CloudWatch Logs GB"
	priceTrace      = "X-Ray trace"
	// wechatMS is WeChat's own answer to one media call, assumed: it adds
	// to the billed duration, and cannot be measured here.
	wechatMS = 200
	// variableMax and fixedMax are the targets: a million 1 MB S3-triggered
	// uploads, and a month at any volume, with the template's defaults.
	variableMax = 10.0
	fixedMax    = 5.0
)

// s3Kinds are the request kinds of S3, in the table's order; then DynamoDB's.
var s3Kinds = []string{kindS3Get, kindS3Head, kindS3List, kindS3Put, kindS3Post, kindS3Delete}
var dynamoKinds = []string{kindDynamoRead, kindDynamoWrite}

// costLine is one row of the per-million table: what was counted and its
// price per million pieces of work.
type costLine struct {
	what   string
	counts []string
	dollar float64
}

// perMillion prices u a million times, with functions of memoryMB.
func perMillion(u usage, memoryMB int) []costLine {
	group := func(what string, kinds []string) costLine {
		l := costLine{what: what}
		for _, k := range kinds {
			if n := u.Requests[k]; n > 0 {
				l.counts = append(l.counts, plural(n, strings.TrimPrefix(strings.TrimPrefix(k, "S3 "), "DynamoDB ")))
				l.dollar += float64(n) * prices[k] * 1e6
			}
		}
		return l
	}
	gbs := (u.DurationMS + wechatMS) / 1000 * float64(memoryMB) / 1024
	events := u.Requests[kindEventsEntries]
	lines := []costLine{
		group("S3 requests", s3Kinds),
		group("DynamoDB requests", dynamoKinds),
		{what: "EventBridge", counts: []string{plural(events, "entry")}, dollar: float64(events) * prices[kindEventsEntries] * 1e6},
		{what: "Lambda", counts: []string{fmt.Sprintf("%.0f ms + %d ms WeChat at %d MB", u.DurationMS, wechatMS, memoryMB)},
			dollar: (prices[priceLambdaReq] + gbs*prices[priceLambdaGBs]) * 1e6},
		{what: "API Gateway", counts: []string{plural(u.APIUnits, "request")}, dollar: float64(u.APIUnits) * prices[priceAPIRequest] * 1e6},
		{what: "CloudWatch Logs", counts: []string{plural(u.LogBytes, "byte")}, dollar: float64(u.LogBytes) / (1 << 30) * prices[priceLogGB] * 1e6},
	}
	return lines
}

// plural is n things, in words: "1 entry", "2 writes"; request kinds in
// capitals (GET, PUT) stay as they are.
func plural(n int64, thing string) string {
	switch {
	case n == 1 || strings.ToUpper(thing) == thing:
		return fmt.Sprintf("%d %s", n, thing)
	case strings.HasSuffix(thing, "y"):
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(thing, "y"))
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

func total(lines []costLine) float64 {
	var t float64
	for _, l := range lines {
		t += l.dollar
	}
	return t
}

// costTables is the markdown the docs' cost section holds between its
// markers: the price of a million of each kind of work, then a month of
// S3-triggered uploads at four volumes, fixed cost included.
func costTables(us []usage, memoryMB int, fixed deploy.Fixed) string {
	var b strings.Builder
	b.WriteString("| a million 1 MB images |")
	for _, u := range us {
		b.WriteString(" " + md(u.Work) + " |")
	}
	b.WriteString("\n| --- |" + strings.Repeat(" --: |", len(us)) + "\n")
	per := make([][]costLine, len(us))
	for i, u := range us {
		per[i] = perMillion(u, memoryMB)
	}
	for row := range per[0] {
		b.WriteString("| " + per[0][row].what + " |")
		for i := range us {
			l := per[i][row]
			cell := dash
			if l.dollar > 0 || len(l.counts) > 0 && !strings.HasPrefix(l.counts[0], "0 ") {
				cell = fmt.Sprintf("%s: $%.2f", strings.Join(l.counts, ", "), l.dollar)
			}
			b.WriteString(" " + md(cell) + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("| **total** |")
	for i := range us {
		fmt.Fprintf(&b, " **$%.2f** |", total(per[i]))
	}
	b.WriteString("\n| metric series touched (billed a month, in the fixed cost) |")
	for _, u := range us {
		fmt.Fprintf(&b, " %d |", u.Series)
	}
	fmt.Fprintf(&b, "\n\nFixed, a month at any volume: $%.2f (%d alarm metrics $%.2f, %d dashboard $%.2f, %d secret $%.2f, %d metric series $%.2f).\n\n",
		fixed.Dollars(), fixed.AlarmMetrics, float64(fixed.AlarmMetrics)*deploy.PriceAlarmMetric, fixed.Dashboards,
		float64(fixed.Dashboards)*deploy.PriceDashboard, fixed.Secrets, float64(fixed.Secrets)*deploy.PriceSecret,
		len(fixed.Series), float64(len(fixed.Series))*deploy.PriceSeries)
	b.WriteString("| S3-triggered 1 MB uploads a month | variable | fixed | total |\n| --: | --: | --: | --: |\n")
	v := total(per[0]) / 1e6
	for _, n := range []int{10_000, 100_000, 1_000_000, 3_000_000} {
		fmt.Fprintf(&b, "| %s | $%.2f | $%.2f | $%.2f |\n", bytesFmt(float64(n)), v*float64(n), fixed.Dollars(), v*float64(n)+fixed.Dollars())
	}
	fmt.Fprintf(&b, "\nList prices of us-east-1 read %s (cmd/benchreport/cost.go); WeChat's own answer assumed %d ms; no traces with `Tracing: PassThrough` (the default), Active adds up to $%.2f a million.\n",
		pricesRead, wechatMS, prices[priceTrace]*1e6)
	return b.String()
}

// The markers of the docs' generated cost section.
const (
	costBegin = "<!-- cost:begin (generated by make bench) -->"
	costEnd   = "<!-- cost:end -->"
)

// costDoc is the file of README.md and docs/*.md that holds the markers.
func costDoc() (string, error) {
	files, _ := filepath.Glob("docs/*.md")
	for _, f := range append([]string{"README.md"}, files...) {
		data, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(data), costBegin) {
			return f, nil
		}
	}
	return "", errors.New("no README.md or docs/*.md holds " + costBegin)
}

// withCost is doc with its cost section replaced by tables.
func withCost(doc, tables string) (string, error) {
	i, j := strings.Index(doc, costBegin), strings.Index(doc, costEnd)
	if i < 0 || j < i {
		return "", errors.New("the cost markers are missing or out of order")
	}
	return doc[:i+len(costBegin)] + "\n" + tables + doc[j:], nil
}

var memoryRE = regexp.MustCompile(`(?m)^    MemorySize: (\d+)$`)

// templateMemory is the functions' MemorySize in the template's Globals.
func templateMemory(template string) (int, error) {
	data, err := os.ReadFile(template)
	if err != nil {
		return 0, err
	}
	m := memoryRE.FindSubmatch(data)
	if m == nil {
		return 0, errors.New(template + ": no MemorySize in Globals")
	}
	return strconv.Atoi(string(m[1]))
}

// costs are what the cost rows and the docs' table are made of.
type costs struct {
	usage    []usage
	peaks    []peak
	memoryMB int
	fixed    deploy.Fixed
	// publishFailMS is the warm upload's duration (median) with every
	// completion publish refused, against okMS with EventBridge there.
	publishFailMS, okMS float64
}

// measureCosts measures, against fresh backends, each kind of work's
// usage, each function's peak, and an upload whose publish fails.
func measureCosts(ctx context.Context, emulator, dir string) (costs, error) {
	var c costs
	var err error
	if c.memoryMB, err = templateMemory("template.yaml"); err != nil {
		return c, err
	}
	if c.fixed, err = deploy.FixedCost("template.yaml"); err != nil {
		return c, err
	}
	be, err := startBackends()
	if err != nil {
		return c, err
	}
	defer be.close()
	home, err := os.MkdirTemp("", "wxmedia-bench-home-")
	if err != nil {
		return c, err
	}
	defer os.RemoveAll(home)
	if c.usage, err = measureUsage(ctx, emulator, dir, be, home); err != nil {
		return c, err
	}
	if c.peaks, err = measurePeaks(ctx, emulator, dir, be, home); err != nil {
		return c, err
	}
	c.okMS, c.publishFailMS, err = publishTimes(ctx, emulator, dir, be, home)
	return c, err
}

// writeCosts saves the usage and regenerates the docs' cost section.
func writeCosts(c costs) error {
	if err := saveUsage(c.usage); err != nil {
		return err
	}
	doc, err := costDoc()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(doc)
	if err != nil {
		return err
	}
	out, err := withCost(string(data), costTables(c.usage, c.memoryMB, c.fixed))
	if err != nil {
		return fmt.Errorf("%s: %w", doc, err)
	}
	fmt.Printf("\nwrote %s and the cost section of %s\n", usageFile, doc)
	return os.WriteFile(doc, []byte(out), 0o644)
}

// publishTimes are the median warm {"key"} upload with EventBridge there,
// and with every completion publish refused (its tries and back-offs).
func publishTimes(ctx context.Context, emulator, dir string, be *backends, home string) (ok, failing float64, err error) {
	refused := httptest.NewServer(http.NotFoundHandler())
	refused.Close() // its address now refuses connections
	jpg := mediatest.Sample(media.JPEG, coldSize)
	for v, endpoint := range []string{be.eb.URL, refused.URL} {
		env := append(be.env("upload", home), "AWS_ENDPOINT_URL_EVENTBRIDGE="+endpoint)
		em, err := rie.Start(ctx, rie.Options{Binary: emulator, Bootstrap: filepath.Join(dir, "upload"), Env: env})
		if err != nil {
			return 0, 0, err
		}
		var warm []float64
		for i := range 4 {
			key := fmt.Sprintf("upload/image/publish-%d-%d.jpg", v, i)
			if err := be.bucket.Put(coldBucket, key, "image/jpeg", jpg); err != nil {
				em.Close()
				return 0, 0, err
			}
			res, err := em.Invoke(ctx, httpEvent("POST", "/cgi-bin/media/upload", "type=image", `{"key":"`+key+`"}`))
			if err != nil || costMediaID(res.Body) == "" {
				em.Close()
				return 0, 0, fmt.Errorf("upload, publish to %s: %s %v\n%s", endpoint, res.Body, err, em.Output())
			}
			if i > 0 {
				warm = append(warm, ms(res.Duration))
			}
		}
		em.Close()
		if v == 0 {
			ok = medianF(warm)
		} else {
			failing = medianF(warm)
		}
	}
	return ok, failing, nil
}

// costRows add the cost and memory figures to the report.
func (rep *report) costRows(c costs) {
	rep.costText = costTables(c.usage, c.memoryMB, c.fixed)
	for _, u := range c.usage {
		r := row{area: "cost", figure: "a million 1 MB " + u.Work + "s, list prices", ours: fmt.Sprintf("$%.2f", total(perMillion(u, c.memoryMB))),
			base: dash, ratio: dash}
		if u.Work == workTriggered {
			r.target, r.verdict = fmt.Sprintf("≤ $%.2f", variableMax), verdict(total(perMillion(u, c.memoryMB)) <= variableMax)
			r.why = "a request was added to the S3-triggered path, or its logs grew: see the cost table"
		}
		rep.add(r)
	}
	rep.add(row{area: "cost", figure: "fixed, a month at any volume (template defaults)", ours: fmt.Sprintf("$%.2f", c.fixed.Dollars()),
		base: dash, ratio: dash, target: fmt.Sprintf("≤ $%.2f", fixedMax), verdict: verdict(c.fixed.Dollars() <= fixedMax),
		why: "an alarm metric, a dashboard or a default metric series was added: internal/deploy's TestFixedCost names them"})
	for _, p := range c.peaks {
		rep.add(row{area: "memory", figure: fmt.Sprintf("%s: peak RSS, %s (VmHWM under the RIE)", p.fn, p.job),
			ours: fmt.Sprintf("%.0f MB", float64(p.kb)/1024), base: dash, ratio: fmt.Sprintf("2× fits %d MB", smallestSize(p.kb)),
			target: fmt.Sprintf("2× ≤ MemorySize %d MB", c.memoryMB), verdict: verdict(2*p.kb <= int64(c.memoryMB)*1024),
			why: "the function needs more memory than its MemorySize leaves headroom for: raise it in template.yaml"})
	}
	rep.add(row{area: "cold start", figure: "upload: warm invoke, completion publish answered / refused (median of 3)",
		ours: fmt.Sprintf("%.1f / %.1f ms", c.okMS, c.publishFailMS), base: dash, ratio: dash, target: ""})
}
