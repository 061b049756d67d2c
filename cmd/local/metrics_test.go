package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/internal/emftest"
	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/metrics"
)

// testMetrics scripts a run of make local with the detailed metrics on,
// with WeChat's faults switched on and off through the simulator, and
// reads /_local/metrics: every line an EMF document by the specification,
// the counts per errcode, route and dependency those of the script, and
// the alarms' Outcome one value a request.
func testMetrics(t *testing.T, bin string) {
	l := start(t, bin, bootstrap.EnvDetailedMetrics+"=true")
	upload := l.api + "/cgi-bin/media/upload?type=image"
	image := mediatest.Sample(media.JPEG, 3000)
	want := func(errcode int, a answer) answer {
		t.Helper()
		if a.ErrCode != errcode {
			t.Fatalf("got errcode %d (%s), want %d", a.ErrCode, a.ErrMsg, errcode)
		}
		return a
	}

	for range 3 {
		want(0, do(t, multipartUpload(t, upload, "photo.jpg", image)))
	}
	for range 2 {
		want(40005, do(t, multipartUpload(t, upload, "notes.jpg", []byte("plain text, not a picture\n"))))
	}
	get := func(id string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, l.api+"/cgi-bin/media/get?format=json&media_id="+url.QueryEscape(id), nil)
		return req
	}
	// Uploaded here from an object: answered from the bucket, no WeChat quota.
	const key = "upload/image/holiday photo (1).jpg" // a sample object make local puts
	object, err := getObject(context.Background(), s3Client(l.s3URL), key)
	if err != nil {
		t.Fatal(err)
	}
	id := want(0, do(t, jsonUpload(upload, key))).MediaID
	want(0, do(t, get(id)))
	// WeChat says so; get's errors are text/plain, as WeChat's media/get.
	resp, err := client.Do(get("nosuchmediaid"))
	if err != nil {
		t.Fatal(err)
	}
	var refused answer
	json.NewDecoder(resp.Body).Decode(&refused)
	resp.Body.Close()
	want(40007, refused)
	l.faults(t, `{"ip_blocked":true}`)
	want(40164, do(t, multipartUpload(t, upload, "photo.jpg", image)))
	l.faults(t, `{"ip_blocked":false,"busy":3}`) // three tries, each busy
	want(-1, do(t, multipartUpload(t, upload, "photo.jpg", image)))
	// Last: from then on the quota breaker answers upload's 45009 itself,
	// without calling WeChat, until the daily reset.
	l.faults(t, `{"quota":1}`)
	want(45009, do(t, multipartUpload(t, upload, "photo.jpg", image)))
	// Another method on upload's path reaches the function (API Gateway
	// routes ANY): 405, errcode 40035. A path no route names is API
	// Gateway's own 404, with no function and no metrics.
	req, _ := http.NewRequest(http.MethodGet, l.api+"/cgi-bin/media/upload", nil)
	want(40035, do(t, req))

	resp, err = client.Get(l.api + MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", MetricsPath, resp.Status)
	}
	docs, err := emftest.DecodeLines(body)
	if err != nil {
		t.Fatalf("%s: %v", MetricsPath, err)
	}
	if len(docs) != 12 {
		t.Errorf("got %d documents, want one per request (12):\n%s", len(docs), body)
	}
	// Exactly as the functions write them to their logs.
	for _, line := range bytes.SplitAfter(body, []byte("\n")) {
		if len(line) > 0 && !strings.Contains(l.stderr.String(), string(line)) {
			t.Errorf("a document not in the functions' log: %s", line)
		}
	}
	sums, counts := emftest.Sums(docs)
	if n := counts[emftest.Series(metrics.Outcome, nil)]; n != 12 {
		t.Errorf("Outcome: got %d values, want one per request (12)", n)
	}
	var alarmed float64 // one each of -1, 40164 and 45009
	for _, a := range metrics.AlarmedErrCodes() {
		alarmed += float64(a.Value)
	}
	if got := sums[emftest.Series(metrics.Outcome, nil)]; got != alarmed {
		t.Errorf("Outcome: sum %v, want %v (one each of -1, 40164, 45009)", got, alarmed)
	}
	up := map[string]string{"Function": "wxmedia-local-upload", "Route": "upload"}
	errs := func(code, status string) string {
		return emftest.Series("Errors", map[string]string{"Function": "wxmedia-local-upload", "Route": "upload", "ErrCode": code, "Status": status})
	}
	for series, n := range map[string]float64{
		emftest.Series("Requests", nil): 12,
		emftest.Series("Requests", up):  10,
		emftest.Series("Requests", map[string]string{"Function": "wxmedia-local-get", "Route": "get"}): 2,
		errs("40005", "415"): 2,
		errs("40164", "502"): 1,
		errs("45009", "429"): 1,
		errs("-1", "502"):    1,
		emftest.Series("Errors", map[string]string{"ErrCode": "40005"}):                                      2,
		emftest.Series("Errors", map[string]string{"ErrCode": "40007"}):                                      1,
		emftest.Series("Errors", map[string]string{"ErrCode": "40164"}):                                      1,
		emftest.Series("Errors", map[string]string{"ErrCode": "45009"}):                                      1,
		emftest.Series("Errors", map[string]string{"ErrCode": "-1"}):                                         1,
		emftest.Series("Errors", map[string]string{"ErrCode": "40035"}):                                      1,
		emftest.Series("Errors", map[string]string{"ErrCode": "0"}):                                          0,
		emftest.Series("WeChatRetries", up):                                                                  2,
		emftest.Series("WeChatFailures", up):                                                                 3, // 40164, 45009, -1: not the caller's 40005, which never reached WeChat
		emftest.Series("TokenFetches", up):                                                                   1,
		emftest.Series("BytesToWeChat", up):                                                                  3*float64(len(image)) + float64(len(object)),
		emftest.Series("ReusedMediaIds", map[string]string{"Function": "wxmedia-local-get", "Route": "get"}): 1,
		emftest.Series("WeChatFailures", map[string]string{"Function": "wxmedia-local-get", "Route": "get"}): 0,
	} {
		if got := sums[series]; got != n {
			t.Errorf("%s: got %v, want %v", series, got, n)
		}
	}
}
