package memdynamo_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/wxmedia/wxmedia/internal/awstest"
	"github.com/wxmedia/wxmedia/internal/memdynamo"
)

func TestMain(m *testing.M) { awstest.Main(m) }

type api interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// step is one conditional put and what DynamoDB answers it: written, or
// ConditionalCheckFailedException.
type step struct {
	name    string
	item    map[string]types.AttributeValue
	cond    string
	values  map[string]types.AttributeValue
	written bool
}

var names = map[string]string{"#pk": "pk", "#v": "ver", "#exp": "expires_at"}

func steps() []step {
	absent := "attribute_not_exists(#pk) OR #exp < :now"
	return []step{
		{"the first create", map[string]types.AttributeValue{"pk": s("a"), "ver": s("1"), "expires_at": n("100")}, absent, map[string]types.AttributeValue{":now": n("50")}, true},
		{"a second create, unexpired", map[string]types.AttributeValue{"pk": s("a"), "ver": s("2")}, absent, map[string]types.AttributeValue{":now": n("99")}, false},
		{"a create over an expired item", map[string]types.AttributeValue{"pk": s("a"), "ver": s("2"), "expires_at": n("300")}, absent, map[string]types.AttributeValue{":now": n("100.5")}, true},
		{"a swap on a stale version", map[string]types.AttributeValue{"pk": s("a"), "ver": s("3")}, "#v = :v", map[string]types.AttributeValue{":v": s("1")}, false},
		{"a swap on the current version", map[string]types.AttributeValue{"pk": s("a"), "ver": s("3")}, "#v = :v", map[string]types.AttributeValue{":v": s("2")}, true},
		{"a create at its expiry's very second, as the product writes it", map[string]types.AttributeValue{"pk": s("c"), "ver": s("1"), "expires_at": n("100")}, "attribute_not_exists(#pk) OR #exp <= :now", map[string]types.AttributeValue{":now": n("0")}, true},
		{"a second create, unexpired (<=)", map[string]types.AttributeValue{"pk": s("c"), "ver": s("2")}, "attribute_not_exists(#pk) OR #exp <= :now", map[string]types.AttributeValue{":now": n("99")}, false},
		{"a create at the expiry's second (<=)", map[string]types.AttributeValue{"pk": s("c"), "ver": s("3")}, "attribute_not_exists(#pk) OR #exp <= :now", map[string]types.AttributeValue{":now": n("100")}, true},
		{"a swap on an attribute it lacks", map[string]types.AttributeValue{"pk": s("a"), "ver": s("4")}, "#exp < :now", map[string]types.AttributeValue{":now": n("1000")}, false},
		{"NOT, AND and parentheses", map[string]types.AttributeValue{"pk": s("a"), "ver": s("4")}, "NOT (#v <> :v) AND attribute_exists(#pk)", map[string]types.AttributeValue{":v": s("3")}, true},
		{"a swap of a missing item", map[string]types.AttributeValue{"pk": s("b"), "ver": s("1")}, "#v = :v", map[string]types.AttributeValue{":v": s("1")}, false},
	}
}

// TestConditionsAsDynamoDBAnswers runs the same conditional writes on the
// in-memory DynamoDB and on moto_server's, and expects the same answers.
func TestConditionsAsDynamoDBAnswers(t *testing.T) {
	m := awstest.Start(t)
	for _, db := range []struct {
		name  string
		api   api
		table string
	}{{"memory", memdynamo.New("pk"), "t"}, {"moto", m.DynamoDB(), m.Table(t)}} {
		t.Run(db.name, func(t *testing.T) {
			ctx := context.Background()
			var want map[string]types.AttributeValue
			for _, st := range steps() {
				vals := st.values
				used := map[string]string{}
				for k, v := range names {
					if contains(st.cond, k) {
						used[k] = v
					}
				}
				_, err := db.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &db.table, Item: st.item,
					ConditionExpression: aws.String(st.cond), ExpressionAttributeNames: used, ExpressionAttributeValues: vals})
				var ccf *types.ConditionalCheckFailedException
				switch {
				case st.written && err != nil:
					t.Fatalf("%s: %v, want it written", st.name, err)
				case !st.written && !errors.As(err, &ccf):
					t.Fatalf("%s: %v, want ConditionalCheckFailedException", st.name, err)
				case st.written && st.item["pk"].(*types.AttributeValueMemberS).Value == "a":
					want = st.item
				}
			}
			out, err := db.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &db.table, Key: map[string]types.AttributeValue{"pk": s("a")}, ConsistentRead: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			if got, wantV := out.Item["ver"].(*types.AttributeValueMemberS).Value, want["ver"].(*types.AttributeValueMemberS).Value; got != wantV {
				t.Errorf("ver = %s, want %s", got, wantV)
			}
			if _, err := db.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &db.table, Key: map[string]types.AttributeValue{"pk": s("a")}}); err != nil {
				t.Fatal(err)
			}
			if out, _ := db.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &db.table, Key: map[string]types.AttributeValue{"pk": s("a")}}); out.Item != nil {
				t.Errorf("after DeleteItem: %v", out.Item)
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestABadExpressionIsAValidationException(t *testing.T) {
	db := memdynamo.New("pk")
	_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("t"),
		Item: map[string]types.AttributeValue{"pk": s("a")}, ConditionExpression: aws.String("#x = :y")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" {
		t.Fatalf("err = %v, want a ValidationException", err)
	}
}
