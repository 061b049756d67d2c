// Package recordtable keeps the deployment's short-lived records (the
// ledger's claims, the media_id index) in the stack's DynamoDB table, with
// the bucket's conditional-write contract: a write may require that
// nothing is there, or that a given version still is, and each record
// expires by the table's TTL. A conditional write costs one write unit,
// an eighth of an S3 PUT's price.
package recordtable

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/failure"
)

// DynamoAPI is the part of the DynamoDB client the table uses.
type DynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// The item's attributes: the key, the record (JSON), its version (a
// random token each write sets) and its expiry in unix seconds (the
// table's TTL attribute). Package tokentable's records in the same table
// use the same names. Its keys are "<kind>#…" (ticket#, refresh#, lease#
// …); these are "claims/<hash>" and "media-ids/<media_id>.json": the two
// never meet.
const (
	AttrKey     = "pk"
	AttrValue   = "value"
	AttrVersion = "version"
	AttrExpires = "expires_at"
)

// DefaultLife is how long a record lives: 3 days, a temporary media_id's
// life, and the claims' life in the bucket before.
const DefaultLife = 72 * time.Hour

// Table is the records in one DynamoDB table.
type Table struct {
	api  DynamoAPI
	name string
	life time.Duration
	now  func() time.Time
}

// New returns the records in table name. A zero life is DefaultLife; a
// nil now is time.Now.
func New(api DynamoAPI, name string, life time.Duration, now func() time.Time) *Table {
	if life <= 0 {
		life = DefaultLife
	}
	if now == nil {
		now = time.Now
	}
	return &Table{api: api, name: name, life: life, now: now}
}

func itemKey(k string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrKey: &types.AttributeValueMemberS{Value: k}}
}

// ReadJSON decodes the record at key into v and answers its version, for
// a write conditional on it. A record that is not there, or expired
// (DynamoDB deletes expired items late), wraps failure.ErrNotFound. The
// read is strongly consistent: a claim just written is seen.
func (t *Table) ReadJSON(ctx context.Context, key string, v any) (string, error) {
	out, err := t.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &t.name, Key: itemKey(key), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", Failure("read", t.name, key, err)
	}
	val, _ := out.Item[AttrValue].(*types.AttributeValueMemberS)
	if val == nil || t.expired(out.Item) {
		return "", fmt.Errorf("dynamodb read %s/%s: %w", t.name, key, failure.ErrNotFound)
	}
	if err := json.Unmarshal([]byte(val.Value), v); err != nil {
		return "", failure.Wrap(failure.DynamoDB, failure.CodeSystem, fmt.Errorf("dynamodb read %s/%s: %w", t.name, key, err),
			"system error: a record in the table does not decode")
	}
	ver, _ := out.Item[AttrVersion].(*types.AttributeValueMemberS)
	if ver == nil || ver.Value == "" {
		return "*", nil // written by hand without a version: found all the same
	}
	return ver.Value, nil
}

func (t *Table) expired(item map[string]types.AttributeValue) bool {
	n, ok := item[AttrExpires].(*types.AttributeValueMemberN)
	if !ok {
		return false
	}
	s, err := strconv.ParseInt(n.Value, 10, 64)
	return err == nil && t.now().Unix() >= s
}

// WriteJSON writes v as the record at key, under cond, and answers its new
// version. IfAbsent writes only where no record is, or one that expired;
// otherwise the error wraps bucket.ErrExists. IfMatch writes only over
// that version; otherwise the error wraps bucket.ErrChanged.
func (t *Table) WriteJSON(ctx context.Context, key string, v any, cond bucket.Condition) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("record %s: %w", key, err)
	}
	version := newVersion()
	now := t.now()
	item := itemKey(key)
	item[AttrValue] = &types.AttributeValueMemberS{Value: string(data)}
	item[AttrVersion] = &types.AttributeValueMemberS{Value: version}
	item[AttrExpires] = &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(t.life).Unix(), 10)}
	in := &dynamodb.PutItemInput{TableName: &t.name, Item: item}
	kind := bucket.ErrExists
	switch {
	case cond.IfAbsent:
		in.ConditionExpression = aws.String("attribute_not_exists(#pk) OR #exp <= :now")
		in.ExpressionAttributeNames = map[string]string{"#pk": AttrKey, "#exp": AttrExpires}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)}}
	case cond.IfMatch == "*": // the version ReadJSON answers for a record written without one
		kind = bucket.ErrChanged
		in.ConditionExpression = aws.String("attribute_exists(#pk) AND attribute_not_exists(#ver)")
		in.ExpressionAttributeNames = map[string]string{"#pk": AttrKey, "#ver": AttrVersion}
	case cond.IfMatch != "":
		kind = bucket.ErrChanged
		in.ConditionExpression = aws.String("#ver = :ver")
		in.ExpressionAttributeNames = map[string]string{"#ver": AttrVersion}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":ver": &types.AttributeValueMemberS{Value: cond.IfMatch}}
	}
	_, err = t.api.PutItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return "", fmt.Errorf("dynamodb write %s/%s: %w", t.name, key, kind)
	case err != nil:
		return "", Failure("write", t.name, key, err)
	}
	return version, nil
}

func newVersion() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Failure is a failed call op of the stack's table: the operator's (no
// such table, no permission: failure.Config) or DynamoDB's own. It names
// the table and the record's key, never a value (package tokentable's
// calls fail the same way).
func Failure(op, table, key string, err error) error {
	err = fmt.Errorf("dynamodb %s %s/%s: %w", op, table, key, err)
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ResourceNotFoundException", "AccessDeniedException", "UnrecognizedClientException", "ValidationException":
			return failure.Wrap(failure.Config, failure.CodeSystem, err, "system error: the stack's table is not set up correctly")
		}
	}
	return failure.Wrap(failure.DynamoDB, failure.CodeSystem, err, "system error: the stack's table is unavailable (DynamoDB)")
}
