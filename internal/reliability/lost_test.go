package reliability

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/media"
)

// A batch of S3 events meets faults that come and go, and is redelivered as
// Lambda would (whole, after a failed invocation, and sometimes twice at
// once). Every object ends with exactly one result, and WeChat accepts each
// good object exactly once.
func TestNothingLost(t *testing.T) {
	logs := &stacktest.Logs{}
	st := stacktest.Start(t, stacktest.Options{Logs: logs})
	objects := map[string][]byte{}
	formats := map[string]media.Format{"image": media.JPEG, "voice": media.MP3, "video": media.MP4, "thumb": media.JPEG}
	for i := range 12 {
		typ := []string{"image", "voice", "video", "thumb"}[i%4]
		f := formats[typ]
		objects[fmt.Sprintf("upload/%s/batch %d%s", typ, i, f.Ext())] = mediatest.Sample(f, 2000+i*100)
	}
	for i := range 3 {
		objects[fmt.Sprintf("uploadimg/batch-%d.png", i)] = mediatest.Sample(media.PNG, 3000+i)
	}
	bad := []string{"upload/image/not an image.jpg", "uploadimg/not-a-png.png"}
	for _, k := range bad {
		objects[k] = []byte("plain text with an image's name")
	}
	var imgs, ups []stacktest.Created
	for k, data := range objects {
		o := stacktest.Created{Key: k, ETag: st.Put(t, k, data)}
		if strings.HasPrefix(k, "uploadimg/") {
			imgs = append(imgs, o)
		} else {
			ups = append(ups, o)
		}
	}
	deliveries := map[string][]byte{"upload": st.S3Event(ups...), "uploadimg": st.S3Event(imgs...)}

	rounds := []wechatsim.Faults{
		{Busy: 3, ServerError: 2, Drop: 2}, // three busy answers in a row fail one record
		{ServerError: 3, Busy: 1},
		{Busy: 1},
		{},
		{},
	}
	pending := map[string]bool{"upload": true, "uploadimg": true}
	for round, f := range rounds {
		st.Sim.SetFaults(f)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var fns []string
		for fn := range pending {
			fns = append(fns, fn)
		}
		for _, fn := range fns {
			for range 2 { // S3 may deliver the same event twice at once
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := st.Functions[fn].Invoke(context.Background(), deliveries[fn])
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						delete(pending, fn)
					} else {
						t.Logf("round %d: %s failed, Lambda retries it: %v", round, fn, err)
					}
				}()
			}
		}
		wg.Wait()
		if len(pending) == 0 {
			break
		}
	}
	if len(pending) > 0 {
		t.Fatalf("still failing after %d rounds: %v", len(rounds), pending)
	}

	// Every object has exactly one result, the right one.
	accepted := 0
	for k, data := range objects {
		r := st.Result(t, k)
		if slicesContain(bad, k) {
			if r["errcode"] != float64(40005) {
				t.Errorf("%s: result %v, want errcode 40005", k, r)
			}
			continue
		}
		id, _ := r["media_id"].(string)
		if strings.HasPrefix(k, "uploadimg/") {
			u, _ := r["url"].(string)
			id = u[strings.LastIndex(u, "/")+1:]
			id = strings.TrimSuffix(id, ".jpg")
		}
		got, ok := st.Sim.Media(id)
		if !ok || !bytes.Equal(got, data) {
			t.Errorf("%s: result %v does not name WeChat media holding its %d bytes", k, r, len(data))
		}
		accepted++
	}
	if n := len(st.Sim.MediaIDs()); n != accepted {
		t.Errorf("WeChat accepted %d uploads for %d good objects: a duplicate delivery uploaded again", n, accepted)
	}
	list, err := st.Moto.S3().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &st.Bucket, Prefix: aws.String("results/")})
	if err != nil {
		t.Fatal(err)
	}
	if results := len(list.Contents); results != len(objects) {
		t.Errorf("%d results for %d objects: listing results/ lists results only", results, len(objects))
	}

	// A late duplicate of the whole batch uploads nothing.
	before := st.Sim.Stats()
	for fn, ev := range deliveries {
		if _, err := st.Functions[fn].Invoke(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if after := st.Sim.Stats(); after.Upload != before.Upload || after.UploadImg != before.UploadImg {
		t.Errorf("a duplicate delivery reached WeChat: %+v -> %+v", before, after)
	}
	noLeaks(t, st, logs.String())
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
