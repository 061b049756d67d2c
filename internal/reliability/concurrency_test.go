package reliability

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"sync"
	"testing"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/pkg/media"
)

// upload runs n concurrent curl -F media=@… requests and returns the
// statuses that were not 200.
func upload(t *testing.T, url string, n int) []string {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	p, _ := w.CreateFormFile("media", "test.jpg")
	p.Write(mediatest.Sample(media.JPEG, 2048))
	w.Close()
	body, ct := buf.Bytes(), w.FormDataContentType()
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := http.Post(url+"/cgi-bin/media/upload?type=image", ct, bytes.NewReader(body))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, err.Error())
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				b, _ := io.ReadAll(resp.Body)
				failed = append(failed, resp.Status+" "+string(b))
			}
		}()
	}
	close(start)
	wg.Wait()
	return failed
}

func TestColdContainerUnderLoad(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	if failed := upload(t, st.URL, 200); len(failed) > 0 {
		t.Fatalf("%d of 200 requests failed, e.g. %s", len(failed), failed[0])
	}
	if got := st.Sim.Stats(); got.StableToken != 1 || got.Upload != 200 {
		t.Errorf("stable_token %d, uploads %d; want 1 and 200", got.StableToken, got.Upload)
	}
	// The token expires under load: it is refreshed once, and no request fails.
	st.Sim.ExpireTokens()
	if failed := upload(t, st.URL, 100); len(failed) > 0 {
		t.Fatalf("%d of 100 requests failed after the token expired, e.g. %s", len(failed), failed[0])
	}
	if got := st.Sim.Stats().StableToken; got != 2 {
		t.Errorf("stable_token calls = %d, want 2 (one refresh for all)", got)
	}
}
