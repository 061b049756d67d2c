package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/wxmedia/wxmedia/internal/localaws"
	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/pkg/media"
)

// An account whose authorization push went elsewhere is registered by
// hand, as docs/local.md shows: its refresh token, on standard input of
// `make register-authorizer` (cmd/authorizer), into make local's own
// table. Here the simulator's authorization is pushed, its records are
// then taken out of the table (as if never received), and the command
// puts the refresh token back: the next upload for the account works.
func testRegisterAuthorizer(t *testing.T, bin string) {
	const account = "wx-local-manual"
	l := start(t, bin)
	ctx := context.Background()
	db := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(l.api + localaws.DynamoDBPath),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	table := aws.String("wxmedia-local-tokens")
	if r := simPost(t, l.wechat+"/_sim/component/authorize?appid="+account); r.Status != 200 {
		t.Fatalf("authorize %s: %+v", account, r)
	}
	refreshKey := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "refresh#wx-local-component#" + account}}
	item, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: refreshKey})
	token, _ := item.Item["value"].(*types.AttributeValueMemberS)
	if err != nil || token == nil || token.Value == "" {
		t.Fatalf("the pushed authorization's refresh token in make local's table: %v %v", item, err)
	}
	for _, k := range []string{"refresh#", "authorizer_token#"} {
		key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: k + "wx-local-component#" + account}}
		if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: key}); err != nil {
			t.Fatal(err)
		}
	}

	authorizer := filepath.Join(t.TempDir(), "authorizer")
	if out, err := exec.Command("go", "build", "-o", authorizer, "../authorizer").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/authorizer: %v\n%s", err, out)
	}
	cmd := exec.Command(authorizer, "-appid", account, "-table", *table, "-secret", "wxmedia/local")
	cmd.Env = append(cleanEnv(), "AWS_ENDPOINT_URL_DYNAMODB="+l.api+localaws.DynamoDBPath, "AWS_ENDPOINT_URL_SECRETS_MANAGER="+l.smURL,
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_REGION=us-east-1", "HOME="+t.TempDir(),
		"AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull)
	cmd.Stdin = strings.NewReader(token.Value)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "registered authorizer "+account) || strings.Contains(string(out), token.Value) {
		t.Fatalf("register-authorizer: %v\n%s\nwant it registered, the token not shown", err, out)
	}
	up := do(t, multipartUpload(t, l.api+"/"+account+"/cgi-bin/media/upload?type=image", "photo.jpg", mediatest.Sample(media.JPEG, 2048)))
	if up.ErrCode != 0 || up.MediaID == "" {
		t.Fatalf("upload for %s after registering it by hand: %+v, want a media_id", account, up)
	}
}
