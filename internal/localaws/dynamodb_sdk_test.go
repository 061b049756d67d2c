package localaws_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/wxmedia/wxmedia/internal/awstest"
	"github.com/wxmedia/wxmedia/internal/localaws"
	"github.com/wxmedia/wxmedia/internal/memdynamo"
	mbucket "github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/recordtable"
	"github.com/wxmedia/wxmedia/pkg/tokentable"
)

func setupDynamoDB(t *testing.T) (*dynamodb.Client, *localaws.DynamoDB, string) {
	t.Helper()
	d := localaws.NewDynamoDB(memdynamo.New(recordtable.AttrKey))
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("anything", "goes", "")})
	return client, d, srv.URL
}

// The product's own table code, over the SDK, against the endpoint: the
// ledger's conditional records and the platform's lease.
func TestDynamoDBServesTheStacksTable(t *testing.T) {
	client, _, _ := setupDynamoDB(t)
	ctx := context.Background()
	rt := recordtable.New(client, "wxmedia-local", 0, nil)
	v, err := rt.WriteJSON(ctx, "claims/a", map[string]string{"owner": "one"}, mbucket.Condition{IfAbsent: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.WriteJSON(ctx, "claims/a", map[string]string{"owner": "two"}, mbucket.Condition{IfAbsent: true}); !errors.Is(err, mbucket.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	var got map[string]string
	if v2, err := rt.ReadJSON(ctx, "claims/a", &got); err != nil || v2 != v || got["owner"] != "one" {
		t.Fatalf("read: %v %q %v", got, v2, err)
	}
	tt := tokentable.NewDynamo(client, "wxmedia-local")
	now := time.Now()
	if ok, err := tt.Lease(ctx, "k", "me", now, now.Add(time.Minute)); !ok || err != nil {
		t.Fatalf("lease: %v %v", ok, err)
	}
	if ok, err := tt.Lease(ctx, "k", "you", now, now.Add(time.Minute)); ok || err != nil {
		t.Fatalf("second lease: %v %v, want refused", ok, err)
	}
}

// The AWS CLI reads what the functions wrote.
func TestDynamoDBAnswersTheAWSCLI(t *testing.T) {
	aws := awstest.Tool(t, "aws")
	client, _, url := setupDynamoDB(t)
	rt := recordtable.New(client, "wxmedia-local", 0, nil)
	if _, err := rt.WriteJSON(context.Background(), "media-ids/M1.json", map[string]string{"key": "upload/image/a.jpg"}, mbucket.Condition{}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(aws, "dynamodb", "get-item", "--endpoint-url", url, "--region", "us-east-1", "--table-name", "wxmedia-local",
		"--key", `{"pk":{"S":"media-ids/M1.json"}}`, "--query", "Item.value.S", "--output", "text")
	cmd.Env = append(cmd.Environ(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != `{"key":"upload/image/a.jpg"}` {
		t.Fatalf("aws dynamodb get-item: %s %v", out, err)
	}
}
