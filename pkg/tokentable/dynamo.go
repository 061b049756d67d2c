package tokentable

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/wxmedia/wxmedia/pkg/recordtable"
)

// DynamoAPI is the part of the DynamoDB client the store uses.
type DynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// The table's attributes: the partition key, the value, and the expiry
// (unix seconds), which is also the table's TTL attribute, so DynamoDB
// deletes what expired.
const (
	AttrKey     = recordtable.AttrKey
	AttrValue   = recordtable.AttrValue
	AttrExpires = recordtable.AttrExpires
	AttrOwner   = "lease_owner"
	AttrUntil   = "lease_until" // unix milliseconds
)

// The IAM actions of each call, for the functions' policies.
const (
	ActionGet    = "dynamodb:GetItem"
	ActionPut    = "dynamodb:PutItem"
	ActionDelete = "dynamodb:DeleteItem"
)

// Dynamo is the store in a DynamoDB table.
type Dynamo struct {
	api   DynamoAPI
	table string
}

// NewDynamo returns the store in table.
func NewDynamo(api DynamoAPI, table string) *Dynamo { return &Dynamo{api: api, table: table} }

func key(k string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrKey: &types.AttributeValueMemberS{Value: k}}
}

// Get returns the record under key, unless it expired (DynamoDB deletes
// expired items late: their expiry is checked here).
func (d *Dynamo) Get(ctx context.Context, k string) (Record, bool, error) {
	out, err := d.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &d.table, Key: key(k), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Record{}, false, d.fail("read", k, err)
	}
	if out.Item == nil {
		return Record{}, false, nil
	}
	v, _ := out.Item[AttrValue].(*types.AttributeValueMemberS)
	if v == nil {
		return Record{}, false, nil
	}
	r := NewRecord(k, v.Value, time.Time{})
	if n, ok := out.Item[AttrExpires].(*types.AttributeValueMemberN); ok {
		s, _ := strconv.ParseInt(n.Value, 10, 64)
		r.ExpiresAt = time.Unix(s, 0)
		if !time.Now().Before(r.ExpiresAt) {
			return Record{}, false, nil
		}
	}
	return r, true, nil
}

func item(r Record) map[string]types.AttributeValue {
	item := key(r.Key)
	item[AttrValue] = &types.AttributeValueMemberS{Value: r.Value()}
	if !r.ExpiresAt.IsZero() {
		item[AttrExpires] = &types.AttributeValueMemberN{Value: strconv.FormatInt(r.ExpiresAt.Unix(), 10)}
	}
	return item
}

// Put writes r.
func (d *Dynamo) Put(ctx context.Context, r Record) error {
	if _, err := d.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &d.table, Item: item(r)}); err != nil {
		return d.fail("write", r.Key, err)
	}
	return nil
}

// Swap writes r only where r.Key holds the value old, with one
// conditional write.
func (d *Dynamo) Swap(ctx context.Context, r Record, old string) (bool, error) {
	_, err := d.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &d.table, Item: item(r),
		ConditionExpression:       aws.String("#value = :old"),
		ExpressionAttributeNames:  map[string]string{"#value": AttrValue},
		ExpressionAttributeValues: map[string]types.AttributeValue{":old": &types.AttributeValueMemberS{Value: old}}})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return false, nil
	case err != nil:
		return false, d.fail("write", r.Key, err)
	}
	return true, nil
}

// Delete removes the record under key.
func (d *Dynamo) Delete(ctx context.Context, k string) error {
	if _, err := d.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &d.table, Key: key(k)}); err != nil {
		return d.fail("delete", k, err)
	}
	return nil
}

// Lease takes key's lease for owner until until with one conditional
// write: it succeeds only where no lease is held, or the one held ended
// before now. Of any number of callers, one wins.
func (d *Dynamo) Lease(ctx context.Context, k, owner string, now, until time.Time) (bool, error) {
	item := key(leaseKey(k))
	item[AttrOwner] = &types.AttributeValueMemberS{Value: owner}
	item[AttrUntil] = &types.AttributeValueMemberN{Value: strconv.FormatInt(until.UnixMilli(), 10)}
	item[AttrExpires] = &types.AttributeValueMemberN{Value: strconv.FormatInt(until.Add(time.Hour).Unix(), 10)} // TTL cleans it up
	_, err := d.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &d.table, Item: item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk) OR #until < :now"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrKey, "#until": AttrUntil},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixMilli(), 10)}}})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return false, nil
	case err != nil:
		return false, d.fail("lease", k, err)
	}
	return true, nil
}

// Release ends l, if it is still its owner's: the lease record is
// written ended (a conditional put, so releasing needs no DeleteItem).
func (d *Dynamo) Release(ctx context.Context, l Lease) error {
	item := key(leaseKey(l.Key))
	item[AttrOwner] = &types.AttributeValueMemberS{Value: ""}
	item[AttrUntil] = &types.AttributeValueMemberN{Value: "0"}
	item[AttrExpires] = &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)}
	_, err := d.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &d.table, Item: item,
		ConditionExpression:       aws.String("#owner = :owner"),
		ExpressionAttributeNames:  map[string]string{"#owner": AttrOwner},
		ExpressionAttributeValues: map[string]types.AttributeValue{":owner": &types.AttributeValueMemberS{Value: l.Owner}}})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return d.fail("release", l.Key, err)
	}
	return nil
}

// fail is a failure of the store (recordtable.Failure).
func (d *Dynamo) fail(op, k string, err error) error { return recordtable.Failure(op, d.table, k, err) }
