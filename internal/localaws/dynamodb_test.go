package localaws

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/wxmedia/wxmedia/internal/memdynamo"
)

// TestDynamoDB: the AWS SDK's own client, pointed at the endpoint, gets
// DynamoDB's answers: items written and read back, a false condition a
// ConditionalCheckFailedException.
func TestDynamoDB(t *testing.T) {
	srv := httptest.NewServer(NewDynamoDB(memdynamo.New("pk")))
	t.Cleanup(srv.Close)
	c := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL + DynamoDBPath),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	ctx := context.Background()
	table := aws.String("tokens")
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	lock := func(now string) error {
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: table,
			Item:                      map[string]types.AttributeValue{"pk": s("lock"), "until": n("100"), "owner": s("a")},
			ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #until < :now"),
			ExpressionAttributeNames:  map[string]string{"#pk": "pk", "#until": "until"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": n(now)}})
		return err
	}
	if err := lock("50"); err != nil {
		t.Fatalf("first lock: %v", err)
	}
	var ccf *types.ConditionalCheckFailedException
	if err := lock("50"); !errors.As(err, &ccf) {
		t.Fatalf("second lock while held: got %v, want ConditionalCheckFailedException", err)
	}
	if err := lock("150"); err != nil {
		t.Fatalf("lock once expired: %v", err)
	}
	out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: map[string]types.AttributeValue{"pk": s("lock")}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := out.Item["owner"].(*types.AttributeValueMemberS); o == nil || o.Value != "a" {
		t.Errorf("item: got %v, want owner a", out.Item)
	}
	if _, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: map[string]types.AttributeValue{"pk": s("lock")}}); err != nil {
		t.Fatal(err)
	}
	if out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: map[string]types.AttributeValue{"pk": s("lock")}}); err != nil || out.Item != nil {
		t.Errorf("after delete: got %v, %v; want no item", out.Item, err)
	}
}
