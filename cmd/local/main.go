// Command local runs the whole wxmedia HTTP contract on 127.0.0.1:3000 (or
// LOCAL_HOST) with its backends embedded (an in-memory S3 that fires the S3
// trigger, a Secrets Manager endpoint, the WeChat simulator), so the
// functions run as deployed without AWS or Docker. It is what `make local` runs; -h
// lists the environment variables.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/wxmedia/wxmedia/internal/localaws"
	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/memdynamo"
	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/httpapi"
	"github.com/wxmedia/wxmedia/pkg/invocation"
	"github.com/wxmedia/wxmedia/pkg/logging"
	"github.com/wxmedia/wxmedia/pkg/reply"
	"github.com/wxmedia/wxmedia/pkg/routes"
	"github.com/wxmedia/wxmedia/pkg/s3event"
	"github.com/wxmedia/wxmedia/pkg/tokentable"
	"github.com/wxmedia/wxmedia/pkg/tracing"
	"github.com/wxmedia/wxmedia/pkg/transfer"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// FunctionTimeout is the functions' Lambda timeout in template.yaml: it
// bounds an S3-triggered run.
const FunctionTimeout = 60 * time.Second

// bodyHeadroom is what the server accepts beyond httpapi.MaxBody, so that
// the handler's own 413 (which names the S3 route) is the one seen.
const bodyHeadroom = 64 << 10

// drainLimit bounds what is read and dropped of a body over the limit
// before it is refused, so that the client gets the answer.
const drainLimit = 64 << 20

// shutdownTimeout bounds a clean stop.
const shutdownTimeout = 3 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	st, err := resolve(os.LookupEnv)
	if err != nil {
		return err
	}
	if err := claimState(st); err != nil {
		return err
	}
	// Every port first, so that one in use stops everything before it starts.
	type listener struct {
		name string
		ln   net.Listener
		h    http.Handler
	}
	var lns []*listener
	defer func() {
		for _, l := range lns {
			l.ln.Close()
		}
	}()
	listen := func(name string, port int, env string) (*listener, error) {
		ln, err := listenLocal(st.host, port, env)
		if err != nil {
			return nil, err
		}
		l := &listener{name: name, ln: ln}
		lns = append(lns, l)
		return l, nil
	}
	api, err := listen("HTTP API", st.apiPort, EnvPort)
	if err != nil {
		return err
	}
	var s3L, smL, wxL *listener
	if st.embedS3 {
		if s3L, err = listen("S3", st.s3Port, EnvS3Port); err != nil {
			return err
		}
	}
	if st.embedSecrets {
		if smL, err = listen("Secrets Manager", st.smPort, EnvSMPort); err != nil {
			return err
		}
	}
	if st.embedWeChat {
		if wxL, err = listen("WeChat simulator", st.wechatPort, EnvWeChatPort); err != nil {
			return err
		}
	}

	// The functions read their configuration as deployed: from the environment.
	for k, v := range st.setenv {
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("set %s: %w", k, err)
		}
	}
	cfg, err := bootstrap.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	a, err := bootstrap.Build(ctx, cfg)
	if err != nil {
		return err
	}
	log := a.Logger

	var sim *wechatsim.Server
	if wxL != nil {
		simLog := logging.New(stderr, cfg.LogLevel).With("component", "wechatsim")
		sim = wechatsim.New(wechatsim.Options{AppID: st.appID, AppSecret: st.appSecret, Apps: st.apps, BaseURL: st.simBaseURL,
			Component: &wechatsim.Component{AppID: st.compAppID, AppSecret: st.compSecret, Token: st.compToken, EncodingAESKey: st.compAESKey,
				PushURL: st.apiURL() + routes.PathPlatformEvents},
			Logf: func(format string, args ...any) { simLog.Info(fmt.Sprintf(format, args...)) }})
		wxL.h = sim
		// The media_id the get events in events/ name.
		sim.PutMedia(st.appID, mediatest.SampleMediaID, "image", ".jpg", mediatest.JPEG())
	}
	if smL != nil {
		sm := localaws.NewSecretsManager(localaws.SecretsOptions{Region: os.Getenv("AWS_REGION")})
		sm.Put(st.secretID, localSecret(st))
		smL.h = sm
	}
	var s3 *localaws.S3
	var async *localaws.Async
	seeded := 0
	if s3L != nil {
		// As Lambda runs an S3-triggered function: asynchronously, retried
		// twice, then to the failed-events queue (/_local/failed-events).
		async = localaws.NewAsync(s3Trigger(a.Trigger(), log), localaws.AsyncOptions{
			TimeScale: st.timeScale, Timeout: FunctionTimeout, Logger: log,
			FunctionARN: func(e events.S3Event) string { return functionARN(triggerFunction(e)) }})
		defer async.Close()
		s3, err = localaws.NewS3(localaws.S3Options{
			Buckets:        []string{cfg.Bucket},
			Notify:         async.Invoke,
			NotifyBucket:   cfg.Bucket,
			NotifyPrefixes: transfer.TriggerPrefixes,
			NotifyTimeout:  FunctionTimeout,
			Region:         os.Getenv("AWS_REGION"),
			Logger:         log,
		})
		if err != nil {
			return err
		}
		defer s3.Close()
		if seeded, err = seed(s3, cfg.Bucket); err != nil {
			return err
		}
		s3L.h = s3
	}
	sample, err := writeSample()
	if err != nil {
		return err
	}
	// The metrics go to the logs, as deployed, and are kept for /_local/metrics.
	emf := &emfLog{}
	a.SetMetricsOutput(io.MultiWriter(stderr, emf))
	var eb *localaws.EventBridge
	if st.embedEvents {
		eb = localaws.NewEventBridge(localaws.EventBridgeOptions{Region: os.Getenv("AWS_REGION"), Published: func(e localaws.BusEvent) {
			log.Info("event published", "bus", e.Bus, "source", e.Source, "detail_type", e.DetailType, "detail", e.Detail)
		}})
	}
	var ddb http.Handler
	if st.embedDynamo {
		ddb = localaws.NewDynamoDB(memdynamo.New(tokentable.AttrKey))
	}
	api.h = withLocalRoutes(lambdaLike(a.HTTP(), log), emf, eb, async, ddb)

	var servers []*http.Server
	errc := make(chan error, len(lns))
	for _, l := range lns {
		srv := &http.Server{Handler: l.h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
		servers = append(servers, srv)
		go func(l *listener) {
			if err := srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s on %s: %w", l.name, l.ln.Addr(), err)
			}
		}(l)
	}
	lns = nil // the servers own them now

	// The state file tells make invoke where all this is, until a clean stop.
	defer announce(st, stderr)()
	printBanner(stdout, st, sample, seeded)
	if sim != nil {
		// As WeChat does: a ticket now, then every 10 minutes, to the platform's event route.
		sim.PushEvery(ctx, wechatsim.TicketInterval)
	}

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	fmt.Fprintln(stdout, "local: stopping")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if serr := srv.Shutdown(sctx); serr != nil {
			srv.Close() // requests still running after the grace period are cut
		}
	}
	if s3 != nil {
		s3.Close()    // cancels the S3 triggers still running
		async.Close() // and their retries
	}
	if err == nil {
		fmt.Fprintln(stdout, "local: stopped")
	}
	return err
}

// localSecret is the embedded secret: the simulator's app (the default),
// the other apps, and its third-party platform.
func localSecret(st settings) string {
	apps := map[string]string{st.appID: st.appSecret}
	for id, secret := range st.apps {
		apps[id] = secret
	}
	v, _ := json.Marshal(map[string]any{"default": st.appID, "apps": apps, "component": map[string]string{
		"appid": st.compAppID, "appsecret": st.compSecret, "token": st.compToken, "encoding_aes_key": st.compAESKey}})
	return string(v)
}

// writeSample writes the sample JPEG for the first curl (a newcomer may
// have no jpg at hand) at a fixed path, <temp dir>/wxmedia-local/test.jpg,
// so the README can show it. It is left there: another instance may be
// showing the same path.
func writeSample() (string, error) {
	dir := filepath.Join(os.TempDir(), "wxmedia-local")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("sample file: %w", err)
	}
	f, err := os.CreateTemp(dir, ".test-*.jpg")
	if err != nil {
		return "", fmt.Errorf("sample file: %w", err)
	}
	_, werr := f.Write(mediatest.JPEG())
	if werr == nil {
		werr = f.Chmod(0o644)
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	path := filepath.Join(dir, "test.jpg")
	if werr == nil {
		werr = os.Rename(f.Name(), path) // atomic: a concurrent reader sees a whole file
	}
	if werr != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("sample file: %w", werr)
	}
	return path, nil
}

// listenLocal listens on host:port (127.0.0.1 unless LOCAL_HOST); a port in
// use is an error that says which variable moves it.
func listenLocal(host string, port int, env string) (net.Listener, error) {
	addr := net.JoinHostPort(host, fmt.Sprint(port))
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("port %d (%s) is already in use, perhaps by another `make local`: stop it, or choose another port with %s, e.g. %s=%d make local (%s alone moves every port by as much as it moves the API's)",
			port, addr, env, env, suggestPort(host, port), EnvPort)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s (%s): %w", addr, env, err)
	}
	return ln, nil
}

// suggestPort is the first of port+100, port+200, … free on host now
// (port+100 if none of the next nine is).
func suggestPort(host string, port int) int {
	for p := port + 100; p < port+1000 && p < 65536; p += 100 {
		if ln, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(p))); err == nil {
			ln.Close()
			return p
		}
	}
	return port + 100
}

// lambdaLike runs the HTTP handler as API Gateway and Lambda would: bodies
// bounded by the invoke payload limit, a Lambda request id for the logs,
// and API Gateway's deadline.
func lambdaLike(h http.Handler, log *slog.Logger) http.Handler {
	limit := int64(httpapi.MaxBody + bodyHeadroom)
	routed := routedPaths()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !routed(r.URL.Path) {
			// A path no route of the template names: API Gateway answers it
			// itself, and no function runs.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"Not Found"}`)
			return
		}
		// API Gateway takes the whole body before the function runs, and
		// refuses one over the limit itself: so does this, sized or chunked.
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err == nil && int64(len(body)) > limit {
			size := r.ContentLength
			io.CopyN(io.Discard, r.Body, drainLimit) // so that the client reads the answer, not a reset
			log.InfoContext(r.Context(), "request refused", "method", r.Method, "path", r.URL.Path, "status", http.StatusRequestEntityTooLarge, "bytes", size)
			w.Header().Set("Connection", "close")
			reply.ErrorStatus(w, http.StatusRequestEntityTooLarge, reply.ContentTypeJSON, httpapi.TooLarge(size, httpapi.MaxBody))
			return
		}
		if err != nil {
			http.Error(w, "bad request body", http.StatusBadRequest)
			return
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		r.Header.Del("Transfer-Encoding")
		id := localaws.NewUUID()
		w.Header().Set("Apigw-Requestid", id)
		ctx := lambdacontext.NewContext(r.Context(), &lambdacontext.LambdaContext{AwsRequestID: id,
			InvokedFunctionArn: functionARN(routeFunction(r.URL.Path))})
		ctx = tracing.WithHeader(ctx, tracing.NewHeader(time.Now(), false)) // as Lambda's: a trace id, not sampled (no daemon here)
		ctx, cancel := context.WithTimeout(ctx, invocation.APIGatewayTimeout)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// s3Trigger runs the S3 handler for a notification, as Lambda runs the
// upload or uploadimg function for one attempt of an asynchronous
// invocation: an error is the function's, which Lambda retries.
func s3Trigger(h *s3event.Handler, log *slog.Logger) func(ctx context.Context, e events.S3Event) error {
	return func(ctx context.Context, e events.S3Event) error {
		fn := triggerFunction(e)
		ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: localaws.NewUUID(), InvokedFunctionArn: functionARN(fn)})
		ctx = tracing.WithHeader(ctx, tracing.NewHeader(time.Now(), false))
		// As dispatch does in Lambda: keep time to record a failure.
		if dl, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, dl.Add(-invocation.Reserve))
			defer cancel()
		}
		sum, err := h.Handle(ctx, e)
		if err != nil {
			return fmt.Errorf("%s function: %w", fn, err)
		}
		log.InfoContext(ctx, "s3 trigger done", "function", fn, "done", len(sum.Done), "skipped", len(sum.Skipped))
		return nil
	}
}

// triggerFunction is the function S3 notifies of e's object.
func triggerFunction(e events.S3Event) string {
	if len(e.Records) > 0 && strings.HasPrefix(e.Records[0].S3.Object.URLDecodedKey, transfer.UploadImgPrefix) {
		return "uploadimg"
	}
	return "upload"
}

// routedPaths reports whether a path is one the template routes to a
// function (each function's paths, under an app's prefix too, and the
// platform's push path), as API Gateway matches them: {appid} is one
// segment.
func routedPaths() func(path string) bool {
	exact := map[string]bool{routes.PathPlatformEvents: true}
	prefixed := map[string]bool{}
	for _, route := range routes.All() {
		for _, p := range httpapi.Paths(route) {
			if rest, ok := strings.CutPrefix(p, routes.AppPrefix); ok {
				prefixed[rest] = true
			} else {
				exact[p] = true
			}
		}
	}
	return func(path string) bool {
		if exact[path] {
			return true
		}
		seg, rest, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
		return ok && seg != "" && prefixed["/"+rest]
	}
}

// routeFunction is the function template.yaml routes path to.
func routeFunction(path string) string {
	switch {
	case path == routes.PathPlatformEvents:
		return routes.Component
	case strings.HasSuffix(path, routes.PathGet):
		return "get"
	case strings.HasSuffix(path, routes.PathResult):
		return "result" // get's code, in a function of its own
	case strings.HasSuffix(path, routes.PathUploadImg), strings.HasSuffix(path, routes.PathUploadImgForm),
		strings.HasSuffix(path, routes.PathToken), strings.HasSuffix(path, routes.PathStableToken):
		return "uploadimg"
	}
	return "upload"
}

func functionARN(fn string) string {
	return "arn:aws:lambda:" + firstSet(os.Getenv("AWS_REGION"), DefaultRegion) + ":000000000000:function:wxmedia-local-" + fn
}

func printBanner(w io.Writer, st settings, sample string, seeded int) {
	api := st.apiURL()
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("wxmedia local: the upload, get, result, uploadimg and component functions, as deployed, on %s (Ctrl-C stops)", st.host)
	p("")
	if st.exposed() {
		p("  Listening on %s (%s): sam local's containers reach these ports as http://%s:<port>,", st.host, EnvHost, wechat.ContainerHost)
		p("  and so does anyone who can reach this machine (no credentials are checked): the secret, and the")
		p("  table's tokens at %s, are theirs to read; use only local credentials. For example:", localaws.DynamoDBPath)
		p("    sam local invoke UploadFunction -e events/s3-put-upload-image.json --env-vars events/env.json")
		p("    sam local start-api --env-vars events/env.json")
		p("")
	}
	p("  HTTP API         %-24s POST /cgi-bin/media/upload, GET /cgi-bin/media/get, POST /cgi-bin/media/uploadimg,", api)
	p("                                            GET /cgi-bin/media/result, POST /component/events")
	if st.embedWeChat {
		p("  WeChat           %-24s simulator, appid %s; calls so far: curl %s/_sim/stats", st.wxURL, st.appID, st.wxURL)
	} else {
		p("  WeChat           %-24s from WECHAT_API_BASE (no simulator)", st.wxURL)
	}
	if st.embedS3 {
		p("  S3               %-24s in memory, bucket %s, any credentials, path-style; %d sample objects", st.s3URL, st.bucket, seeded)
		p("                   %-24s puts under upload/<type>/ and uploadimg/ run the S3 trigger -> results/<key>.json", "")
	} else {
		p("  S3               %-24s from %s (no embedded S3): bucket %s; puts there do NOT run the trigger here", st.s3URL, st.s3From, st.bucket)
	}
	switch {
	case st.embedSecrets:
		p("  Secrets Manager  %-24s in memory, secret %s: default app %s, %d more, third-party platform %s", st.smURL, st.secretID, st.appID, len(st.apps), st.compAppID)
	default:
		p("  Secrets Manager  %-24s from %s (no embedded Secrets Manager): secret %s", st.smURL, st.smFrom, st.secretID)
	}
	p("")
	p("Try:")
	p("  curl -F media=@%s \"%s/cgi-bin/media/upload?type=image\"", sample, api)
	p("  curl \"%s/cgi-bin/media/get?media_id=<the media_id above>\"", api)
	if st.embedS3 {
		p("  curl -H 'Content-Type: application/json' -d '{\"key\":\"%s\"}' %s/cgi-bin/media/uploadimg", mediatest.SampleKey, api)
		aws := fmt.Sprintf("AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws --region %s --endpoint-url %s", firstSet(os.Getenv("AWS_REGION"), DefaultRegion), st.s3URL)
		p("  %s s3 cp %s \"s3://%s/upload/image/my photo.jpg\"", aws, sample, st.bucket)
		p("  %s s3 cp \"s3://%s/results/upload/image/my photo.jpg.json\" -", aws, st.bucket)
	}
	if st.embedWeChat {
		p("  curl %s/_sim/stats", st.wxURL)
	}
	p("  make invoke FN=upload EVENT=events/s3-put-upload-image.json   # one function under the Lambda RIE, against these backends")
	p("  curl %s%s   # the metrics so far, as the functions log them (CloudWatch EMF)", api, MetricsPath)
	if st.embedS3 {
		p("  curl %s%s   # S3-triggered invocations that failed after Lambda's 2 retries", api, FailedEventsPath)
		p("  curl -X POST %s%s   # send them again (make redrive)", api, RedrivePath)
	}
	if st.embedWeChat && st.embedSecrets {
		p("")
		// The defaults are shown; a token or key the user set is not
		// repeated (it may be one used elsewhere).
		shown := func(v, def, env string) string {
			if v == def {
				return v + " (" + env + ")"
			}
			return "from " + env
		}
		p("Third-party platform (simulated): component appid %s (%s), token %s,", st.compAppID, EnvComponentAppID, shown(st.compToken, DefaultComponentToken, EnvComponentToken))
		p("  encoding_aes_key %s; its component_verify_ticket is pushed to %s%s every 10 minutes.", shown(st.compAESKey, DefaultComponentAESKey, EnvComponentAESKey), api, routes.PathPlatformEvents)
		p("  curl -X POST \"%s/_sim/component/authorize?appid=wx-local-authorizer\"   # an account authorises the platform", st.wxURL)
		p("  curl -F \"media=@%s\" \"%s/wx-local-authorizer/cgi-bin/media/upload?type=image\"   # then upload for it", sample, api)
		if st.embedDynamo {
			p("  printf %%s \"$REFRESH_TOKEN\" | AWS_ENDPOINT_URL_DYNAMODB=%s AWS_ENDPOINT_URL_SECRETS_MANAGER=%s AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=%s make register-authorizer APPID=<appid> TABLE=%s SECRET=%s",
				st.ddbURL, st.smURL, firstSet(os.Getenv("AWS_REGION"), DefaultRegion), st.tokenTable, st.secretID)
		}
	}
	p("")
	p("The functions' JSON logs follow on stderr.")
}
