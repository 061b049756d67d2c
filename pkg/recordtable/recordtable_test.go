package recordtable_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/wxmedia/wxmedia/internal/awstest"
	"github.com/wxmedia/wxmedia/internal/memdynamo"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/recordtable"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// table is a DynamoDB the records are kept in.
type table struct {
	name  string
	api   recordtable.DynamoAPI
	table string
}

// tables are the in-memory DynamoDB and moto_server's: each test runs on
// both, so the double answers as the service does.
func tables(t *testing.T) []table {
	m := awstest.Start(t)
	return []table{{"memory", memdynamo.New(recordtable.AttrKey), "t"}, {"moto", m.DynamoDB(), m.Table(t)}}
}

type claim struct {
	Owner string `json:"owner"`
}

// The bucket's conditional contract, on DynamoDB and in memory: create
// only where nothing is, replace only the version read, and a record past
// its life is gone, however late DynamoDB's TTL deletes it.
func TestConditionalRecords(t *testing.T) {
	for _, db := range tables(t) {
		t.Run(db.name, func(t *testing.T) {
			ctx := context.Background()
			now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
			tb := recordtable.New(db.api, db.table, time.Hour, func() time.Time { return now })
			var got claim
			if _, err := tb.ReadJSON(ctx, "claims/a", &got); !errors.Is(err, failure.ErrNotFound) {
				t.Fatalf("read of nothing: %v, want ErrNotFound", err)
			}
			v1, err := tb.WriteJSON(ctx, "claims/a", claim{"one"}, bucket.Condition{IfAbsent: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tb.WriteJSON(ctx, "claims/a", claim{"two"}, bucket.Condition{IfAbsent: true}); !errors.Is(err, bucket.ErrExists) {
				t.Fatalf("second create: %v, want ErrExists", err)
			}
			v2, err := tb.WriteJSON(ctx, "claims/a", claim{"two"}, bucket.Condition{IfMatch: v1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tb.WriteJSON(ctx, "claims/a", claim{"three"}, bucket.Condition{IfMatch: v1}); !errors.Is(err, bucket.ErrChanged) {
				t.Fatalf("write over a stale version: %v, want ErrChanged", err)
			}
			if v, err := tb.ReadJSON(ctx, "claims/a", &got); err != nil || v != v2 || got.Owner != "two" {
				t.Fatalf("read: %+v %q %v, want two at %q", got, v, err, v2)
			}
			now = now.Add(time.Hour) // its life is over; the TTL has not deleted it yet
			if _, err := tb.ReadJSON(ctx, "claims/a", &got); !errors.Is(err, failure.ErrNotFound) {
				t.Fatalf("read of an expired record: %v, want ErrNotFound", err)
			}
			if _, err := tb.WriteJSON(ctx, "claims/a", claim{"four"}, bucket.Condition{IfAbsent: true}); err != nil {
				t.Fatalf("create over an expired record: %v", err)
			}
		})
	}
}

// A missing table is the operator's to fix (a Config failure).
func TestMissingTableIsConfig(t *testing.T) {
	m := awstest.Start(t)
	tb := recordtable.New(m.DynamoDB(), "no-such-table", 0, nil)
	_, err := tb.WriteJSON(context.Background(), "claims/a", claim{"secret-owner"}, bucket.Condition{IfAbsent: true})
	if failure.KindOf(err) != failure.Config {
		t.Fatalf("err = %v, want a Config failure", err)
	}
}

// A record written by hand, without a version, reads as version "*", and
// a write on "*" replaces it once: then it has a version of its own.
func TestRecordWithoutVersion(t *testing.T) {
	for _, db := range tables(t) {
		t.Run(db.name, func(t *testing.T) {
			ctx := context.Background()
			_, err := db.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &db.table, Item: map[string]types.AttributeValue{
				recordtable.AttrKey: &types.AttributeValueMemberS{Value: "claims/h"}, recordtable.AttrValue: &types.AttributeValueMemberS{Value: `{"owner":"hand"}`}}})
			if err != nil {
				t.Fatal(err)
			}
			tb := recordtable.New(db.api, db.table, 0, nil)
			var got claim
			if v, err := tb.ReadJSON(ctx, "claims/h", &got); v != "*" || err != nil || got.Owner != "hand" {
				t.Fatalf("read: %q %v %+v, want version * and the hand's record", v, err, got)
			}
			if _, err := tb.WriteJSON(ctx, "claims/h", claim{"mine"}, bucket.Condition{IfMatch: "*"}); err != nil {
				t.Fatalf("write on *: %v", err)
			}
			if _, err := tb.WriteJSON(ctx, "claims/h", claim{"again"}, bucket.Condition{IfMatch: "*"}); !errors.Is(err, bucket.ErrChanged) {
				t.Fatalf("second write on *: %v, want ErrChanged", err)
			}
		})
	}
}
