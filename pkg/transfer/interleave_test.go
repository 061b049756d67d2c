package transfer_test

// The ledger's promises, checked under every interleaving: two or three
// workers (S3 deliveries, {"key"} requests, a new version of the object)
// are driven step by step (each S3 request and each WeChat upload is a
// step) through every order their steps can take, against an in-memory
// S3 that answers conditional requests as S3 does. With three workers, the
// steps that commute with every other (reads of the object nobody writes,
// uploads) are taken at once rather than ordered. After each schedule,
// Lambda's retries and later redeliveries run to the end, then:
//
//   - the object's result is a success of its current version, naming an
//     upload of that version's bytes;
//   - the current version reached WeChat once, or twice when a worker
//     crashed or an answer was lost after WeChat stored the file (the one
//     allowed extra upload), never more;
//   - an older version's result never stands.

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/wxmedia/wxmedia/internal/awstest"
	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/memdynamo"
	"github.com/wxmedia/wxmedia/internal/mems3"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/ledger"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/recordtable"
	"github.com/wxmedia/wxmedia/pkg/transfer"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// schedule drives workers one step at a time in the order its choices say.
type schedule struct {
	prefix  []int // choices to follow; then the first option
	taken   []int
	widths  []int
	arrive  chan *arrival
	done    chan int
	crashAt map[int]int // worker -> the step it crashes at
	steps   map[int]int
	trace   []string
	// lostUploads counts workers that crashed after their upload reached
	// WeChat: each may cost the one extra upload.
	lostUploads int
	uploaded    map[int]bool
	// invisible steps commute with every other (a read of a key nobody
	// writes, an upload): they are taken at once, not ordered, which keeps
	// three workers' schedules few enough to run them all.
	invisible func(what string) bool
	// random, if set, takes the choices past the prefix at random: a
	// sample of the schedules rather than each in turn.
	random *rand.Rand
}

type arrival struct {
	worker int
	what   string
	grant  chan bool // false: crash here
}

type workerKey struct{}

// crashed unwinds a worker that crashes: nothing more it would do happens.
type crashed struct{}

// gate is where a worker waits for its turn; outside a schedule it passes.
func (s *schedule) gate(ctx context.Context, what string) {
	w, ok := ctx.Value(workerKey{}).(int)
	if !ok || s == nil {
		return
	}
	a := &arrival{worker: w, what: what, grant: make(chan bool)}
	s.arrive <- a
	if !<-a.grant {
		panic(crashed{})
	}
}

func (s *schedule) choose(n int) int {
	if n == 1 {
		return 0
	}
	c := 0
	if i := len(s.taken); i < len(s.prefix) {
		c = s.prefix[i]
	} else if s.random != nil {
		c = s.random.IntN(n)
	}
	s.taken = append(s.taken, c)
	s.widths = append(s.widths, n)
	return c
}

// run starts each worker with its id in its context and lets them take
// steps, one at a time, until all are done.
func (s *schedule) run(workers []func(ctx context.Context)) {
	s.arrive, s.done = make(chan *arrival), make(chan int)
	s.steps, s.uploaded = map[int]int{}, map[int]bool{}
	for i, w := range workers {
		go func() {
			defer func() {
				if p := recover(); p != nil {
					if _, ok := p.(crashed); !ok {
						panic(p)
					}
				}
				s.done <- i
			}()
			w(context.WithValue(context.Background(), workerKey{}, i))
		}()
	}
	live := len(workers)
	pending := map[int]*arrival{}
	for live > 0 {
		for len(pending) < live {
			select {
			case a := <-s.arrive:
				if s.invisible != nil && s.invisible(a.what) {
					s.grant(a)
					continue
				}
				pending[a.worker] = a
			case <-s.done:
				live--
			}
		}
		if live == 0 {
			break
		}
		ids := make([]int, 0, len(pending))
		for id := range pending {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		a := pending[ids[s.choose(len(ids))]]
		delete(pending, a.worker)
		s.grant(a)
	}
}

// grant lets a worker take its step, or crashes it there.
func (s *schedule) grant(a *arrival) {
	{
		at, crash := s.crashAt[a.worker]
		crash = crash && at == s.steps[a.worker]
		s.steps[a.worker]++
		s.trace = append(s.trace, fmt.Sprintf("w%d:%s%s", a.worker, a.what, map[bool]string{true: "(crash)"}[crash]))
		switch {
		case crash && s.uploaded[a.worker]:
			s.lostUploads++
		case !crash && a.what == "upload":
			s.uploaded[a.worker] = true
		}
		a.grant <- !crash
	}
}

// next is the prefix of the next schedule in depth-first order, or false
// when every schedule has run.
func (s *schedule) next() ([]int, bool) {
	for i := len(s.taken) - 1; i >= 0; i-- {
		if s.taken[i]+1 < s.widths[i] {
			return append(append([]int(nil), s.taken[:i]...), s.taken[i]+1), true
		}
	}
	return nil, false
}

// stepWeChat keeps what was uploaded, by content, and can lose the answer
// of the first uploads after storing them.
type stepWeChat struct {
	s *schedule

	mu      sync.Mutex
	stored  map[string][]byte // media_id -> bytes
	byHash  map[[32]byte]int  // uploads per content
	lose    int               // answers to lose after storing
	created time.Time
}

var _ transfer.WeChat = (*stepWeChat)(nil)

func (f *stepWeChat) Upload(ctx context.Context, typ string, b wechat.Body) (wechat.Uploaded, error) {
	f.s.gate(ctx, "upload")
	rc, err := b.Open(ctx)
	if err != nil {
		return wechat.Uploaded{}, err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return wechat.Uploaded{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := fmt.Sprintf("M%d", len(f.stored)+1)
	f.stored[id] = data
	f.byHash[sha256.Sum256(data)]++
	if f.lose > 0 {
		f.lose--
		return wechat.Uploaded{}, failure.Wrap(failure.WeChat, failure.CodeSystem, wechat.ErrMaybeStored, "system error: the connection to WeChat failed")
	}
	return wechat.Uploaded{Type: typ, MediaID: id, CreatedAt: f.created}, nil
}

func (f *stepWeChat) UploadImg(context.Context, wechat.Body) (string, error) {
	return "", errors.New("not in this test")
}

func (f *stepWeChat) Get(context.Context, string) (*wechat.Media, error) {
	return nil, errors.New("not in this test")
}

func (f *stepWeChat) uploads(data []byte) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byHash[sha256.Sum256(data)]
}

// world is one run's S3, WeChat, clock and service.
type world struct {
	s3     *mems3.Bucket // the in-memory S3; nil against moto
	db     *memdynamo.DB // the in-memory DynamoDB of the claims; nil against moto
	objs   objects
	key    string // the object's key
	ledger *ledger.Ledger
	wx     *stepWeChat
	svc    *transfer.Service
	clock  *time.Time
	mu     sync.Mutex
}

// objects is the bucket as the test sees it, outside any schedule.
type objects interface {
	set(key string, data []byte) (etag string)
	object(key string) ([]byte, bool)
}

const (
	objKey   = "upload/image/photo.jpg"
	claimTTL = 2 * time.Minute
)

// newWorld is a world over the in-memory S3, which answers conditional
// writes with S3's 412 and, when told to, S3's 409, and the in-memory
// DynamoDB of the claims, which answers a failed condition with
// ConditionalCheckFailedException; each request is a step.
func newWorld(s *schedule) *world {
	m := mems3.New()
	m.Before = func(ctx context.Context, op mems3.Op, key string) { s.gate(ctx, string(op)+" "+key) }
	db := memdynamo.New(recordtable.AttrKey)
	db.Before = func(ctx context.Context, op memdynamo.Op, _, key string) { s.gate(ctx, string(op)+" "+key) }
	w := newWorldOver(s, m, memObjects{m}, db, "claims", objKey)
	w.s3, w.db = m, db
	return w
}

// newMotoWorld is a world over moto_server's S3 and DynamoDB, each request
// a step; the object gets a key of its own, so that one bucket and one
// table serve every schedule.
func newMotoWorld(s *schedule, m *awstest.Moto, bucketName, table, key string) *world {
	api := gatedS3{Client: m.S3(), bucket: bucketName, s: s}
	return newWorldOver(s, api, api, gatedDynamoDB{Client: m.DynamoDB(), s: s}, table, key)
}

func newWorldOver(s *schedule, api bucket.API, objs objects, db recordtable.DynamoAPI, table, key string) *world {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	w := &world{objs: objs, key: key, clock: &now}
	w.wx = &stepWeChat{s: s, stored: map[string][]byte{}, byHash: map[[32]byte]int{}, created: now}
	name := "b"
	if g, ok := api.(gatedS3); ok {
		name = g.bucket
	}
	b := bucket.New(api, bucket.Options{Name: name})
	claims := recordtable.New(db, table, 0, w.now)
	w.ledger = ledger.New(b, claims, ledger.Options{Now: w.now, Logger: slog.New(slog.DiscardHandler), ClaimTTL: claimTTL})
	w.svc = transfer.New(transfer.Options{Bucket: b, WeChat: w.wx, Ledger: w.ledger, Now: w.now, Logger: slog.New(slog.DiscardHandler)})
	return w
}

type memObjects struct{ b *mems3.Bucket }

func (m memObjects) set(key string, data []byte) string { return m.b.Set(key, data) }

func (m memObjects) object(key string) ([]byte, bool) {
	data, _, ok := m.b.Object(key)
	return data, ok
}

// gatedS3 is moto's S3 with each request the service makes a step of the
// schedule (gated as the in-memory S3's Before is).
type gatedS3 struct {
	*s3.Client
	bucket string
	s      *schedule
}

func (g gatedS3) HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	g.s.gate(ctx, "HEAD "+aws.ToString(in.Key))
	return g.Client.HeadObject(ctx, in, opts...)
}

func (g gatedS3) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	g.s.gate(ctx, "GET "+aws.ToString(in.Key))
	return g.Client.GetObject(ctx, in, opts...)
}

func (g gatedS3) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	g.s.gate(ctx, "PUT "+aws.ToString(in.Key))
	return g.Client.PutObject(ctx, in, opts...)
}

// gatedDynamoDB is moto's DynamoDB with each request a step.
type gatedDynamoDB struct {
	*dynamodb.Client
	s *schedule
}

func (g gatedDynamoDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	g.s.gate(ctx, "GetItem "+itemKey(in.Key))
	return g.Client.GetItem(ctx, in, opts...)
}

func (g gatedDynamoDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	g.s.gate(ctx, "PutItem "+itemKey(in.Item))
	return g.Client.PutItem(ctx, in, opts...)
}

func itemKey(m map[string]dbtypes.AttributeValue) string {
	if k, ok := m[recordtable.AttrKey].(*dbtypes.AttributeValueMemberS); ok {
		return k.Value
	}
	return ""
}

func (g gatedS3) set(key string, data []byte) string {
	out, err := g.Client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &g.bucket, Key: &key, Body: bytes.NewReader(data)})
	if err != nil {
		panic(fmt.Sprintf("put %s into moto: %v", key, err))
	}
	return aws.ToString(out.ETag)
}

func (g gatedS3) object(key string) ([]byte, bool) {
	out, err := g.Client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &g.bucket, Key: &key})
	if err != nil {
		return nil, false
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	return data, err == nil
}

// claimAndStop is an earlier delivery of version etag that claimed the
// work and stopped before it uploaded.
func (w *world) claimAndStop(t *testing.T, etag string) {
	t.Helper()
	work := ledger.Work{Key: w.key, ETag: etag, API: transfer.APIUpload, Type: "image", Trigger: true, DefaultApp: true}
	stop := func(context.Context) (ledger.Result, error) { panic(crashed{}) }
	defer func() {
		if p := recover(); p != (crashed{}) {
			t.Fatalf("the earlier delivery did not stop under its claim: %v", p)
		}
	}()
	w.ledger.Do(context.Background(), work, func(context.Context) (ledger.Work, func(context.Context) (ledger.Result, error), error) {
		return work, stop, nil
	})
}

func (w *world) now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return *w.clock
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	*w.clock = w.clock.Add(d)
	w.mu.Unlock()
}

// deliver is one S3 delivery of the event for the version etag names.
func (w *world) deliver(etag string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		_, err := w.svc.UploadObject(ctx, w.key, etag)
		return err
	}
}

// ask is one {"key"} request for the same work.
func (w *world) ask(ctx context.Context) error {
	_, err := w.svc.UploadKey(ctx, media.Image, w.key)
	return err
}

// retryUntilDone runs f as Lambda retries an asynchronous event (twice),
// then as a later redelivery would, until it ends without an error that
// asks for a retry.
func retryUntilDone(f func(ctx context.Context) error) error {
	var err error
	for range 4 {
		if err = f(context.Background()); err == nil || failure.KindOf(err) == failure.Caller {
			return nil
		}
	}
	return err
}

// scenario is a set of workers and what may happen around them.
type scenario struct {
	name string
	// workers start together; each may return an error.
	workers func(w *world, v1 string) []func(ctx context.Context) error
	// deliveries are what Lambda retries and redelivers after the run.
	deliveries func(w *world, v1 string) []func(ctx context.Context) error
	crash      map[int]int // worker -> step to crash at
	lose       int         // WeChat answers lost after storing
	conflicts  int         // conditional writes answered 409 first
	newVersion bool        // a worker puts v2 of the object, then delivers its event
	// reduce takes the reads of the object and the uploads at once: sound
	// while no worker writes the object (no new version).
	reduce     bool
	staleClaim bool // an earlier delivery claimed the work and stopped, a claim TTL ago
}

var v1Data, v2Data = mediatest.Sample(media.JPEG, 3000), mediatest.Sample(media.JPEG, 4000)

// check runs one schedule of sc and checks the promises.
func (sc scenario) check(t *testing.T, s *schedule, mk func(*schedule) *world) {
	t.Helper()
	w := mk(s)
	w.wx.lose = sc.lose
	v1 := w.objs.set(w.key, v1Data)
	if sc.staleClaim {
		w.claimAndStop(t, v1)
		w.advance(claimTTL + time.Second)
	}
	if sc.conflicts > 0 {
		left := sc.conflicts
		var mu sync.Mutex
		w.s3.Fail = func(op mems3.Op, key string, conditional bool) error {
			mu.Lock()
			defer mu.Unlock()
			if op == mems3.Put && conditional && left > 0 {
				left--
				return mems3.Conflict()
			}
			return nil
		}
	}
	var workers []func(ctx context.Context)
	for _, f := range sc.workers(w, v1) {
		workers = append(workers, func(ctx context.Context) { f(ctx) })
	}
	v2 := ""
	if sc.newVersion {
		sum := md5.Sum(v2Data)
		v2 = `"` + hex.EncodeToString(sum[:]) + `"`
		workers = append(workers, func(ctx context.Context) {
			s.gate(ctx, "put v2")
			w.objs.set(w.key, v2Data)
			w.deliver(v2)(ctx)
		})
	}
	s.crashAt = sc.crash
	if sc.reduce && !sc.newVersion {
		s.invisible = func(what string) bool { return what == "upload" || strings.HasSuffix(what, " "+w.key) }
	}
	s.run(workers)

	// Lambda's retries and redeliveries, after the claim TTL.
	w.advance(claimTTL + time.Second)
	if w.s3 != nil {
		w.s3.Fail = nil
	}
	for _, f := range sc.deliveries(w, v1) {
		if err := retryUntilDone(f); err != nil {
			t.Fatalf("schedule %v: a delivery never ended: %v", s.trace, err)
		}
	}
	current, currentData := v1, v1Data
	if sc.newVersion {
		if err := retryUntilDone(w.deliver(v2)); err != nil {
			t.Fatalf("schedule %v: v2's delivery never ended: %v", s.trace, err)
		}
		current, currentData = v2, v2Data
	}

	data, ok := w.objs.object("results/" + w.key + ".json")
	if !ok {
		t.Fatalf("schedule %v: no result", s.trace)
	}
	var r transfer.Result
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	stored, ok := w.wx.stored[r.MediaID]
	if r.ETag != current || !ok || !bytes.Equal(stored, currentData) {
		t.Fatalf("schedule %v: result %+v is not a success of the current version %s", s.trace, r, current)
	}
	allowed := 1 + min(1, s.lostUploads+sc.lose) // the one documented extra upload
	if n := w.wx.uploads(currentData); n > allowed {
		t.Fatalf("schedule %v: the current version reached WeChat %d times, want at most %d", s.trace, n, allowed)
	}
	if sc.newVersion && w.wx.uploads(v1Data) > allowed {
		t.Fatalf("schedule %v: the old version reached WeChat %d times", s.trace, w.wx.uploads(v1Data))
	}
}

// explore runs sc under every schedule, each in a world mk makes.
func explore(t *testing.T, sc scenario, mk func(*schedule) *world) int {
	t.Helper()
	var prefix []int
	for runs := 1; ; runs++ {
		s := &schedule{prefix: prefix}
		sc.check(t, s, mk)
		var more bool
		if prefix, more = s.next(); !more {
			return runs
		}
	}
}

// ledgerScenarios are the interleaving suite's scenarios.
func ledgerScenarios() []scenario {
	twoDeliveries := func(w *world, v1 string) []func(ctx context.Context) error {
		return []func(ctx context.Context) error{w.deliver(v1), w.deliver(v1)}
	}
	deliveryAndRequest := func(w *world, v1 string) []func(ctx context.Context) error {
		return []func(ctx context.Context) error{w.deliver(v1), w.ask}
	}
	oneDelivery := func(w *world, v1 string) []func(ctx context.Context) error {
		return []func(ctx context.Context) error{w.deliver(v1)}
	}
	scenarios := []scenario{
		{name: "TwoDeliveries", workers: twoDeliveries, deliveries: twoDeliveries},
		{name: "DeliveryAndKeyRequest", workers: deliveryAndRequest, deliveries: deliveryAndRequest},
		{name: "NewVersionMidway", workers: oneDelivery, deliveries: oneDelivery, newVersion: true},
		{name: "DeliveryWithoutETagAndNewVersion", workers: func(w *world, v1 string) []func(ctx context.Context) error {
			return []func(ctx context.Context) error{w.deliver("")}
		}, deliveries: oneDelivery, newVersion: true},
		{name: "ConditionalConflicts", workers: twoDeliveries, deliveries: twoDeliveries, conflicts: 2},
		{name: "AnswerLostOnce", workers: twoDeliveries, deliveries: twoDeliveries, lose: 1},
		{name: "StaleClaimFoundByTwo", workers: twoDeliveries, deliveries: twoDeliveries, staleClaim: true},
		{name: "StaleClaimFoundByDeliveryAndRequest", workers: deliveryAndRequest, deliveries: deliveryAndRequest, staleClaim: true},
	}
	three := func(w *world, v1 string) []func(ctx context.Context) error {
		return []func(ctx context.Context) error{w.deliver(v1), w.deliver(v1), w.ask}
	}
	scenarios = append(scenarios,
		scenario{name: "TwoDeliveriesAndAKeyRequest", workers: three, deliveries: three, reduce: true},
		scenario{name: "ThreeWorkersOneCrashing", workers: three, deliveries: three, reduce: true, crash: map[int]int{0: 3}},
		// The stale claim with the object's reads and the uploads taken at
		// once: small enough for moto.
		scenario{name: "StaleClaimFoundByTwoReduced", workers: twoDeliveries, deliveries: twoDeliveries, staleClaim: true, reduce: true},
	)
	for step := range 6 {
		scenarios = append(scenarios, scenario{name: fmt.Sprintf("CrashAtStep%d", step), workers: twoDeliveries, deliveries: twoDeliveries, crash: map[int]int{0: step}})
	}
	return scenarios
}

// runScenarios explores each scenario in the worlds mk makes for it.
func runScenarios(t *testing.T, scenarios []scenario, mk func(t *testing.T) func(*schedule) *world) {
	total := 0
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			n := explore(t, sc, mk(t))
			if n < 2 && sc.name != "NewVersionMidway" {
				t.Errorf("only %d schedule(s) explored", n)
			}
			total += n
			t.Logf("%d schedules", n)
		})
	}
	t.Logf("%d schedules in all", total)
}

func TestLedgerUnderEveryInterleaving(t *testing.T) {
	runScenarios(t, ledgerScenarios(), func(*testing.T) func(*schedule) *world { return newWorld })
}

// The suite against moto_server's S3: its real 412s, its ETags, and its
// answers to If-Match on a claim that changed, each schedule with an
// object of its own in one bucket. A schedule costs about 100 ms there
// (0.1 ms in memory), so the scenarios that cover each rule run on moto,
// every schedule of the small ones and a seeded sample of the others
// (motoScenarios): two deliveries (claim, answer again), a new version
// midway (which version is current), a crash after the claim (a stale
// claim taken over, the unconfirmed upload counted) and a stale claim
// found by two. moto never answers S3's 409, so ConditionalConflicts
// runs in memory only.
func TestLedgerUnderEveryInterleavingOnMoto(t *testing.T) {
	m := awstest.Start(t)
	name, table := m.Bucket(t), m.Table(t)
	n := 0
	mk := func(t *testing.T) func(*schedule) *world {
		return func(s *schedule) *world {
			n++
			return newMotoWorld(s, m, name, table, fmt.Sprintf("upload/image/%s/%d/photo.jpg", t.Name(), n))
		}
	}
	var all []scenario
	for _, sc := range ledgerScenarios() {
		samples, ok := motoScenarios[sc.name]
		switch {
		case !ok:
		case samples == 0:
			all = append(all, sc)
		default:
			t.Run(sc.name+"Sampled", func(t *testing.T) {
				random := rand.New(rand.NewPCG(1, 2))
				for range samples {
					sc.check(t, &schedule{random: random}, mk(t))
				}
			})
		}
	}
	runScenarios(t, all, mk)
}

// motoScenarios are the scenarios run on moto too: every schedule (0), or
// a seeded sample of that many.
var motoScenarios = map[string]int{"TwoDeliveries": 0, "CrashAtStep2": 0, "NewVersionMidway": 60, "StaleClaimFoundByTwoReduced": 60}

// Two unconfirmed uploads (answers lost after WeChat stored the file) and
// the work is not sent a third time, whatever the retries.
func TestAtMostOneExtraUpload(t *testing.T) {
	w := newWorld(nil)
	w.wx.lose = 100
	v1 := w.s3.Set(objKey, v1Data)
	for range 6 {
		w.deliver(v1)(context.Background())
		w.advance(claimTTL + time.Second)
	}
	if n := w.wx.uploads(v1Data); n != 2 {
		t.Errorf("uploads = %d, want 2: the first and the one extra", n)
	}
	data, _, _ := w.s3.Object("results/" + objKey + ".json")
	var r transfer.Result
	if err := json.Unmarshal(data, &r); err != nil || r.ErrCode != -1 || r.ErrMsg == "" {
		t.Errorf("result %s, want a failure that says why", data)
	}
}

// A late delivery of an older version never replaces the current version's
// result, whatever it ends with: a failed read of the object, the refusal
// of a version whose uploads went unconfirmed, or a success.
func TestLateOldVersionNeverReplacesCurrent(t *testing.T) {
	for _, late := range []string{"ReadFails", "NotSentAgain", "Success"} {
		t.Run(late, func(t *testing.T) {
			w := newWorld(nil)
			v1 := w.s3.Set(objKey, v1Data)
			if late == "NotSentAgain" {
				w.wx.lose = 2
				for range 2 {
					w.deliver(v1)(context.Background())
					w.advance(claimTTL + time.Second)
				}
			}
			v2 := w.s3.Set(objKey, v2Data)
			if err := w.deliver(v2)(context.Background()); err != nil {
				t.Fatal(err)
			}
			current, _, _ := w.s3.Object("results/" + objKey + ".json")
			switch late {
			case "ReadFails":
				w.s3.Fail = func(op mems3.Op, key string, _ bool) error {
					if op == mems3.Get && key == objKey {
						return mems3.Error("ServiceUnavailable", 503)
					}
					return nil
				}
			case "Success":
				// v1's delivery read its object before v2 was put, and ends now.
				w.s3.Set(objKey, v1Data)
				w.db.Before = func(ctx context.Context, op memdynamo.Op, _, key string) {
					if op == memdynamo.Put && strings.HasPrefix(key, "claims/") { // v2 is put while v1 uploads
						w.s3.Set(objKey, v2Data)
					}
				}
			}
			w.deliver(v1)(context.Background())
			if after, _, _ := w.s3.Object("results/" + objKey + ".json"); !bytes.Equal(after, current) {
				t.Errorf("v1's late delivery replaced v2's result:\n%s\nwith\n%s", current, after)
			}
		})
	}
}

// A success in its last hour is not answered again: the next request
// uploads, and its new media_id replaces the old one, so that later
// requests reuse it instead of uploading each time.
func TestExpiringSuccessIsReplaced(t *testing.T) {
	w := newWorld(nil)
	v1 := w.s3.Set(objKey, v1Data)
	if err := w.deliver(v1)(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.advance(72*time.Hour - 30*time.Minute) // 30 minutes of life left
	w.wx.created = w.now()
	for i := range 3 {
		r, err := w.svc.UploadKey(context.Background(), media.Image, objKey)
		if err != nil || r.ExpiresAt-w.now().Unix() < int64(71*time.Hour/time.Second) {
			t.Fatalf("request %d: %+v, %v; want a media_id with its 3 days ahead", i, r, err)
		}
		w.advance(claimTTL + time.Second)
	}
	if n := w.wx.uploads(v1Data); n != 2 {
		t.Errorf("uploads = %d, want 2: the first, and one when it neared its end", n)
	}
}

// S3 failing on the object's read costs no claim, so however often it
// happens the object is uploaded once S3 recovers.
func TestFailedReadsCostNoClaim(t *testing.T) {
	w := newWorld(nil)
	v1 := w.s3.Set(objKey, v1Data)
	w.s3.Fail = func(op mems3.Op, key string, _ bool) error {
		if key == objKey {
			return mems3.Error("SlowDown", 503)
		}
		return nil
	}
	for range 5 {
		if err := w.deliver(v1)(context.Background()); failure.KindOf(err) != failure.S3 {
			t.Fatalf("delivery while S3 fails: %v, want S3's failure", err)
		}
		w.advance(claimTTL + time.Second)
	}
	w.s3.Fail = nil
	if err := w.deliver(v1)(context.Background()); err != nil || w.wx.uploads(v1Data) != 1 {
		t.Errorf("after S3 recovered: %v, %d uploads; want a success, 1 upload", err, w.wx.uploads(v1Data))
	}
}
