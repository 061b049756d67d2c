// Package memdynamo is an in-memory DynamoDB for tests and make local: the
// GetItem, PutItem and DeleteItem of the AWS SDK's client, over tables
// whose partition key is one string attribute, answering a
// ConditionExpression as DynamoDB does (ConditionalCheckFailedException
// when it is false). It evaluates the grammar the product writes:
// attribute_exists and attribute_not_exists, the comparisons = <> < <= >
// >= of strings and numbers, AND, OR, NOT and parentheses, with #names and
// :values. A hook pauses before each request, to drive concurrent workers
// step by step.
package memdynamo

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// Op names a request, for the hook.
type Op string

const (
	Get    Op = "GetItem"
	Put    Op = "PutItem"
	Delete Op = "DeleteItem"
)

// DB is a set of in-memory tables, created on first use. Its zero value
// is not usable: use New.
type DB struct {
	// Before, if set, is called before each request is answered, outside
	// the lock, with the request's table and key: it may block (a
	// scheduler) or panic (a crash).
	Before func(ctx context.Context, op Op, table, key string)

	keyAttr string
	mu      sync.Mutex
	tables  map[string]map[string]map[string]types.AttributeValue
	calls   map[Op]int
}

// New returns an empty DB whose tables are keyed by the string attribute
// keyAttr.
func New(keyAttr string) *DB {
	return &DB{keyAttr: keyAttr, tables: map[string]map[string]map[string]types.AttributeValue{}, calls: map[Op]int{}}
}

// Calls is how many requests of op were answered.
func (d *DB) Calls(op Op) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[op]
}

// Items is a copy of table's items, by key.
func (d *DB) Items(table string) map[string]map[string]types.AttributeValue {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]map[string]types.AttributeValue{}
	for k, item := range d.tables[table] {
		out[k] = maps.Clone(item)
	}
	return out
}

// key is the partition key's value in m (a Key, or an Item).
func (d *DB) key(m map[string]types.AttributeValue) (string, error) {
	s, ok := m[d.keyAttr].(*types.AttributeValueMemberS)
	if !ok {
		return "", validation(fmt.Sprintf("One of the required keys was not given a value: %s", d.keyAttr))
	}
	return s.Value, nil
}

// begin checks the request's table and key, runs the hook and takes the
// lock; the caller unlocks.
func (d *DB) begin(ctx context.Context, op Op, table *string, m map[string]types.AttributeValue) (map[string]map[string]types.AttributeValue, string, error) {
	if aws.ToString(table) == "" {
		return nil, "", validation("TableName must be given")
	}
	k, err := d.key(m)
	if err != nil {
		return nil, "", err
	}
	if d.Before != nil {
		d.Before(ctx, op, *table, k)
	}
	d.mu.Lock()
	d.calls[op]++
	t := d.tables[*table]
	if t == nil {
		t = map[string]map[string]types.AttributeValue{}
		d.tables[*table] = t
	}
	return t, k, nil
}

// GetItem answers the item under in.Key, or none.
func (d *DB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	t, k, err := d.begin(ctx, Get, in.TableName, in.Key)
	if err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	return &dynamodb.GetItemOutput{Item: maps.Clone(t[k])}, nil
}

// PutItem writes in.Item if in.ConditionExpression holds of the item it
// replaces.
func (d *DB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	t, k, err := d.begin(ctx, Put, in.TableName, in.Item)
	if err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	if err := check(in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues, t[k]); err != nil {
		return nil, err
	}
	t[k] = maps.Clone(in.Item)
	return &dynamodb.PutItemOutput{}, nil
}

// DeleteItem removes the item under in.Key if in.ConditionExpression holds
// of it.
func (d *DB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	t, k, err := d.begin(ctx, Delete, in.TableName, in.Key)
	if err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	if err := check(in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues, t[k]); err != nil {
		return nil, err
	}
	delete(t, k)
	return &dynamodb.DeleteItemOutput{}, nil
}

// check evaluates a condition over item (nil: none there).
func check(expr *string, names map[string]string, values map[string]types.AttributeValue, item map[string]types.AttributeValue) error {
	if aws.ToString(expr) == "" {
		return nil
	}
	ok, err := evaluate(*expr, names, values, item)
	if err != nil {
		return validation("Invalid ConditionExpression: " + err.Error())
	}
	if !ok {
		return &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	}
	return nil
}

// validationError is DynamoDB's ValidationException, a smithy.APIError.
type validationError struct{ msg string }

func validation(msg string) error                        { return &validationError{msg: msg} }
func (e *validationError) Error() string                 { return "ValidationException: " + e.msg }
func (e *validationError) ErrorCode() string             { return "ValidationException" }
func (e *validationError) ErrorMessage() string          { return e.msg }
func (e *validationError) ErrorFault() smithy.ErrorFault { return smithy.FaultClient }
