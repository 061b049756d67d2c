package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/wxmedia/wxmedia/internal/localaws"
	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/memdynamo"
	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/recordtable"
)

// The cold starts' bucket, secret and objects. The {"key"} routes read
// only under the trigger prefixes (and ALLOWED_PREFIXES).
const (
	coldBucket = "wxmedia-bench"
	coldSecret = "wxmedia/bench"
	coldJPEG   = "upload/image/cold.jpg"
	coldPNG    = "uploadimg/cold.png"
	coldSize   = 100 << 10
)

// coldKey is the i-th object like base: upload/image/cold-<i>.jpg.
func coldKey(base string, i int) string {
	ext := path.Ext(base)
	return strings.TrimSuffix(base, ext) + "-" + strconv.Itoa(i) + ext
}

// backends are what `make local` runs, so that the functions run as
// deployed: the embedded S3, Secrets Manager, EventBridge and DynamoDB
// (the stack's table) of internal/localaws and the WeChat simulator, each
// on 127.0.0.1. Requests are counted by kind as they arrive (kinds),
// WeChat calls by the simulator.
type backends struct {
	bucket  *localaws.S3
	sim     *wechatsim.Server
	table   *memdynamo.DB // the stack's table, served by db
	bus     *localaws.EventBridge
	s3, sm  *httptest.Server
	db, eb  *httptest.Server
	wechat  string // the simulator's base URL
	stopSim func()

	s3Requests, smRequests atomic.Int64
	kinds                  kinds
}

// coldTable is the stack's table the functions are given.
const coldTable = "wxmedia-bench"

// startBackends starts them with the cold starts' secret and objects
// (coldJPEG, coldPNG and coldRuns×2 numbered copies of each, put without
// firing a trigger).
func startBackends() (*backends, error) {
	bucket, err := localaws.NewS3(localaws.S3Options{Buckets: []string{coldBucket},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	jpg, png := mediatest.Sample(media.JPEG, coldSize), mediatest.Sample(media.PNG, coldSize)
	for i := -1; i < 2*coldRuns; i++ {
		j, p := coldJPEG, coldPNG
		if i >= 0 {
			j, p = coldKey(coldJPEG, i), coldKey(coldPNG, i)
		}
		if err := bucket.Put(coldBucket, j, "image/jpeg", jpg); err != nil {
			return nil, err
		}
		if err := bucket.Put(coldBucket, p, "image/png", png); err != nil {
			return nil, err
		}
	}
	sm := localaws.NewSecretsManager(localaws.SecretsOptions{})
	creds, _ := json.Marshal(map[string]string{"appid": wechatsim.DefaultAppID, "appsecret": wechatsim.DefaultAppSecret})
	sm.Put(coldSecret, string(creds))
	sim, wechat, stopSim, err := wechatsim.Start(wechatsim.Options{})
	if err != nil {
		return nil, err
	}
	b := &backends{bucket: bucket, sim: sim, wechat: wechat, stopSim: stopSim, table: memdynamo.New(recordtable.AttrKey),
		bus: localaws.NewEventBridge(localaws.EventBridgeOptions{}), kinds: kinds{n: map[string]int64{}}}
	b.s3 = httptest.NewServer(counting(&b.s3Requests, b.kinds.of(s3Kind, bucket)))
	b.sm = httptest.NewServer(counting(&b.smRequests, sm))
	b.db = httptest.NewServer(b.kinds.of(dynamoKind, localaws.NewDynamoDB(b.table)))
	b.eb = httptest.NewServer(b.kinds.of(eventsKind, b.bus))
	return b, nil
}

// counting counts the requests h is served.
func counting(n *atomic.Int64, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	})
}

func (b *backends) close() {
	b.s3.Close()
	b.sm.Close()
	b.db.Close()
	b.eb.Close()
	b.stopSim()
	b.bucket.Close()
}

// counts are the calls made so far.
func (b *backends) counts() counts {
	st := b.sim.Stats()
	return counts{secrets: b.smRequests.Load(), token: st.StableToken + st.Token,
		wechat: st.Upload + st.Get + st.UploadImg, s3: b.s3Requests.Load()}
}

// env is the function's environment, as Lambda would set it, pointing at
// the backends. No shared AWS config files and no instance metadata.
func (b *backends) env(fn, home string) []string {
	none := filepath.Join(home, "none")
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TZ=UTC",
		"MEDIA_BUCKET=" + coldBucket, "WECHAT_SECRET_ID=" + coldSecret, "WECHAT_API_BASE=" + b.wechat,
		"AWS_ENDPOINT_URL_S3=" + b.s3.URL, "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + b.sm.URL,
		"AWS_ENDPOINT_URL_DYNAMODB=" + b.db.URL, "AWS_ENDPOINT_URL_EVENTBRIDGE=" + b.eb.URL, "TOKEN_TABLE=" + coldTable,
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDBENCH", "AWS_SECRET_ACCESS_KEY=bench", "AWS_SESSION_TOKEN=bench",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + none, "AWS_SHARED_CREDENTIALS_FILE=" + none,
		"AWS_LAMBDA_FUNCTION_NAME=wxmedia-" + fn, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "AWS_LAMBDA_FUNCTION_TIMEOUT=30",
	}
}

// counts are calls to the backends.
type counts struct {
	secrets, token, wechat, s3 int64 // wechat: media calls, token apart
}

func (c counts) total() int64 { return c.secrets + c.token + c.wechat + c.s3 }

func (c counts) minus(d counts) counts {
	return counts{c.secrets - d.secrets, c.token - d.token, c.wechat - d.wechat, c.s3 - d.s3}
}

func (c counts) String() string {
	return fmt.Sprintf("Secrets Manager %d, stable_token %d, WeChat media %d, S3 %d", c.secrets, c.token, c.wechat, c.s3)
}
