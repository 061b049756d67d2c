package localaws_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/wxmedia/wxmedia/internal/localaws"
)

func setupSecrets(t *testing.T) (*secretsmanager.Client, *localaws.SecretsManager, string) {
	t.Helper()
	sm := localaws.NewSecretsManager(localaws.SecretsOptions{})
	srv := httptest.NewServer(sm)
	t.Cleanup(srv.Close)
	client := secretsmanager.New(secretsmanager.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("anything", "goes", ""),
	})
	return client, sm, srv.URL
}

func TestSecretsManagerGetSecretValue(t *testing.T) {
	client, sm, _ := setupSecrets(t)
	const value = `{"appid":"wx1","appsecret":"s3cr3t"}`
	arn := sm.Put("wxmedia/local", value)
	if !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-east-1:000000000000:secret:wxmedia/local-") || len(arn) != len("arn:aws:secretsmanager:us-east-1:000000000000:secret:wxmedia/local-")+6 {
		t.Errorf("arn: got %q, want arn:aws:secretsmanager:us-east-1:000000000000:secret:wxmedia/local-XXXXXX", arn)
	}
	for _, tc := range []struct{ name, id string }{
		{"ByName", "wxmedia/local"},
		{"ByARN", arn},
		{"ByPartialARN", arn[:len(arn)-7]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := client.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(tc.id)})
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(out.SecretString); got != value {
				t.Errorf("SecretString: got %q, want %q", got, value)
			}
			if aws.ToString(out.Name) != "wxmedia/local" || aws.ToString(out.ARN) != arn || aws.ToString(out.VersionId) == "" {
				t.Errorf("got Name %q ARN %q VersionId %q, want wxmedia/local, %s and a version", aws.ToString(out.Name), aws.ToString(out.ARN), aws.ToString(out.VersionId), arn)
			}
		})
	}
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := client.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("wxmedia/other")})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Fatalf("got %v, want a ResourceNotFoundException", err)
		}
		if got, want := nf.ErrorMessage(), "Secrets Manager can't find the specified secret."; got != want {
			t.Errorf("message: got %q, want %q", got, want)
		}
	})
}

func TestSecretsManagerWire(t *testing.T) {
	_, sm, url := setupSecrets(t)
	sm.Put("s", "v")
	for _, tc := range []struct {
		name, target, body string
		status             int
		want               string
	}{
		{"OK", "secretsmanager.GetSecretValue", `{"SecretId":"s"}`, 200, `"SecretString":"v"`},
		{"ErrNotFound", "secretsmanager.GetSecretValue", `{"SecretId":"nope"}`, 400,
			`{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`},
		{"ErrOperation", "secretsmanager.DeleteSecret", `{"SecretId":"s"}`, 400, `"__type":"UnknownOperationException"`},
		{"ErrBody", "secretsmanager.GetSecretValue", `{`, 400, `"__type":"SerializationException"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(tc.body))
			req.Header.Set("X-Amz-Target", tc.target)
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.want) {
				t.Errorf("got %d %s, want %d with %s", resp.StatusCode, body, tc.status, tc.want)
			}
		})
	}
}
