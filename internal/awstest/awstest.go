// Package awstest starts moto_server, a real S3, Secrets Manager, SQS,
// EventBridge and DynamoDB emulator, for integration tests, and makes AWS
// SDK clients for it.
//
// When WXMEDIA_REQUIRE_TOOLS is set (make test and CI set it), a missing
// moto_server fails the test; otherwise the test is skipped.
package awstest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TB is the part of testing.TB the package uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
	Name() string
}

// RequireTools reports whether missing tools must fail tests, not skip them.
func RequireTools() bool { return os.Getenv("WXMEDIA_REQUIRE_TOOLS") != "" }

// Tool finds a command on PATH, failing or skipping t if it is missing.
func Tool(t TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if RequireTools() {
			t.Fatalf("%s not found on PATH: the tests need it (make tools installs what it can)", name)
		}
		t.Skipf("%s not found on PATH; set WXMEDIA_REQUIRE_TOOLS=1 to fail instead", name)
	}
	return p
}

// Moto is a running moto_server.
type Moto struct {
	Endpoint string // http://127.0.0.1:PORT
	cmd      *exec.Cmd
	exited   chan struct{} // closed once the process ended
}

// Region is the region the clients use.
const Region = "us-east-1"

var (
	shared    *Moto
	sharedErr error
	once      sync.Once
)

// Start returns the moto_server of this test binary, starting it on a free
// loopback port the first time. It stops when Stop is called (from TestMain)
// or the process exits.
func Start(t TB) *Moto {
	t.Helper()
	bin := Tool(t, "moto_server")
	once.Do(func() { shared, sharedErr = start(bin) })
	if sharedErr != nil {
		t.Fatalf("start moto_server: %v", sharedErr)
	}
	return shared
}

// Stop stops the shared moto_server, if one was started.
func Stop() {
	if shared != nil && shared.cmd.Process != nil {
		_ = shared.cmd.Process.Kill()
		<-shared.exited
	}
}

// start runs moto_server on a free port. Another process may take the
// port between FreePort and moto's bind (other test binaries run beside
// this one): a moto that exits at start, or a port answered by something
// that is not moto, is tried again on another port.
func start(bin string) (*Moto, error) {
	var last error
	for range 3 {
		m, err := startOnce(bin)
		if err == nil {
			return m, nil
		}
		last = err
	}
	return nil, last
}

func startOnce(bin string) (*Moto, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	var out syncBuilder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	m := &Moto{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return nil, fmt.Errorf("moto_server exited at start on %s: %s", m.Endpoint, out.String())
		default:
		}
		resp, err := http.Get(m.Endpoint + "/moto-api/")
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(strings.ToLower(string(body)), "moto") {
				m.exited = exited
				return m, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return nil, fmt.Errorf("moto_server did not answer on %s within 30s: %s", m.Endpoint, out.String())
}

// syncBuilder is a strings.Builder that moto's output and the test may
// use at once.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// FreePorts returns n distinct TCP ports free on 127.0.0.1 at the time of
// the call: all are held open until each is found, so none repeats.
func FreePorts(t TB, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("a free port: %v", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// Config is an AWS configuration for moto: fixed test credentials, Region,
// and moto's endpoint.
func (m *Moto) Config() aws.Config {
	return aws.Config{
		Region:                     Region,
		Credentials:                credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint:               aws.String(m.Endpoint),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
}

// S3 is an S3 client for moto (path-style).
func (m *Moto) S3() *s3.Client {
	return s3.NewFromConfig(m.Config(), func(o *s3.Options) { o.UsePathStyle = true })
}

// SecretsManager is a Secrets Manager client for moto.
func (m *Moto) SecretsManager() *secretsmanager.Client {
	return secretsmanager.NewFromConfig(m.Config())
}

// Bucket creates a bucket with a name unique to the test and returns it.
func (m *Moto) Bucket(t TB) string {
	t.Helper()
	name := bucketName(t.Name())
	if _, err := m.S3().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

var seq struct {
	sync.Mutex
	n int
}

func bucketName(test string) string {
	seq.Lock()
	seq.n++
	n := seq.n
	seq.Unlock()
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t%d-%d-%s", os.Getpid()%100000, n, strings.Trim(name, "-"))
}

// Secret creates a secret with a name unique to the test holding value and
// returns its name.
func (m *Moto) Secret(t TB, value string) string {
	t.Helper()
	name := "wxmedia/" + bucketName(t.Name())
	_, err := m.SecretsManager().CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value})
	if err != nil {
		t.Fatalf("create secret %s: %v", name, err)
	}
	return name
}

// Main runs a test binary's tests and stops its moto_server afterwards:
//
//	func TestMain(m *testing.M) { awstest.Main(m) }
func Main(m interface{ Run() int }) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// EventBridge is an EventBridge client for moto.
func (m *Moto) EventBridge() *eventbridge.Client { return eventbridge.NewFromConfig(m.Config()) }

// Bus creates an event bus with a name unique to the test and returns its name.
func (m *Moto) Bus(t TB) string {
	t.Helper()
	name := bucketName(t.Name())
	if _, err := m.EventBridge().CreateEventBus(context.Background(), &eventbridge.CreateEventBusInput{Name: &name}); err != nil {
		t.Fatalf("create event bus %s: %v", name, err)
	}
	return name
}

// SQS is an SQS client for moto.
func (m *Moto) SQS() *sqs.Client { return sqs.NewFromConfig(m.Config()) }

// Queue creates a queue with a name unique to the test and returns its URL.
func (m *Moto) Queue(t TB) string {
	t.Helper()
	name := bucketName(t.Name())
	out, err := m.SQS().CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: &name})
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	return *out.QueueUrl
}

// QueueWith creates a queue with a name unique to the test and these
// attributes (VisibilityTimeout, RedrivePolicy …) and returns its URL and ARN.
func (m *Moto) QueueWith(t TB, attrs map[string]string) (url, arn string) {
	t.Helper()
	name := bucketName(t.Name())
	out, err := m.SQS().CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs})
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	return *out.QueueUrl, m.QueueARN(t, *out.QueueUrl)
}

// QueueARN is the ARN of the queue at url.
func (m *Moto) QueueARN(t TB, url string) string {
	t.Helper()
	out, err := m.SQS().GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("queue %s: %v", url, err)
	}
	return out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
}

// motoEventTime is the eventTime moto writes in its S3 notifications: ISO
// 8601 without a zone, which S3 never sends (its times end in Z) and which
// aws-lambda-go refuses to decode into a time.Time.
var motoEventTime = regexp.MustCompile(`("eventTime": ?"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?)"`)

// S3Notification mends the body of an S3 notification that moto sent into
// what S3 sends: its eventTime gets S3's zone, Z. Nothing else changes.
func S3Notification(body string) string { return motoEventTime.ReplaceAllString(body, `${1}Z"`) }

// DynamoDB is a DynamoDB client for moto.
func (m *Moto) DynamoDB() *dynamodb.Client { return dynamodb.NewFromConfig(m.Config()) }

// Table creates a token table as the template does (partition key pk,
// on demand, TTL on expires_at) with a name unique to the test, and
// returns its name.
func (m *Moto) Table(t TB) string {
	t.Helper()
	name := bucketName(t.Name())
	ctx := context.Background()
	_, err := m.DynamoDB().CreateTable(ctx, &dynamodb.CreateTableInput{TableName: &name, BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}}})
	if err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	_, err = m.DynamoDB().UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: &name,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("expires_at"), Enabled: aws.Bool(true)}})
	if err != nil {
		t.Fatalf("table %s TTL: %v", name, err)
	}
	return name
}
