package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/wxmedia/wxmedia/internal/memdynamo"
)

// DynamoDB answers GetItem, PutItem and DeleteItem over the tables of an
// in-memory DynamoDB (internal/memdynamo), in the DynamoDB JSON protocol
// (POST / with X-Amz-Target), so the AWS SDKs and CLI use it as the
// service: the stack's table (the ledger's claims, the media_id index, a
// platform's tokens) for make local, and what make register-authorizer
// writes. Any credentials are accepted.
type DynamoDB struct{ DB *memdynamo.DB }

// NewDynamoDB returns an empty DynamoDB whose tables are keyed by pk, as
// the stack's is.
func NewDynamoDB() *DynamoDB { return &DynamoDB{DB: memdynamo.New("pk")} }

const dynamoPrefix = "DynamoDB_20120810."

// ServeHTTP answers the DynamoDB JSON protocol.
func (d *DynamoDB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), dynamoPrefix)
	if r.Method != http.MethodPost || !ok {
		dynamoError(w, http.StatusBadRequest, "UnknownOperationException", "only POST / with X-Amz-Target: DynamoDB_20120810.<op> is served")
		return
	}
	var in struct {
		TableName                 *string
		Key, Item                 map[string]json.RawMessage
		ConditionExpression       *string
		ExpressionAttributeNames  map[string]string
		ExpressionAttributeValues map[string]json.RawMessage
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		dynamoError(w, http.StatusBadRequest, "SerializationException", "request body is not JSON")
		return
	}
	key, errK := decodeItem(in.Key)
	item, errI := decodeItem(in.Item)
	values, errV := decodeItem(in.ExpressionAttributeValues)
	if err := errors.Join(errK, errI, errV); err != nil {
		dynamoError(w, http.StatusBadRequest, "ValidationException", err.Error())
		return
	}
	var out any
	var err error
	ctx := context.WithoutCancel(r.Context())
	switch op {
	case "GetItem":
		var o *dynamodb.GetItemOutput
		if o, err = d.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: in.TableName, Key: key}); err == nil {
			out = map[string]any{"Item": encodeItem(o.Item)}
		}
	case "PutItem":
		_, err = d.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: in.TableName, Item: item, ConditionExpression: in.ConditionExpression,
			ExpressionAttributeNames: in.ExpressionAttributeNames, ExpressionAttributeValues: values})
		out = struct{}{}
	case "DeleteItem":
		_, err = d.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: in.TableName, Key: key, ConditionExpression: in.ConditionExpression,
			ExpressionAttributeNames: in.ExpressionAttributeNames, ExpressionAttributeValues: values})
		out = struct{}{}
	default:
		dynamoError(w, http.StatusBadRequest, "UnknownOperationException",
			fmt.Sprintf("operation %q is not served by the local DynamoDB; only GetItem, PutItem and DeleteItem are", op))
		return
	}
	var ae smithy.APIError
	switch {
	case errors.As(err, &ae):
		dynamoError(w, http.StatusBadRequest, ae.ErrorCode(), ae.ErrorMessage())
		return
	case err != nil:
		dynamoError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-RequestId", NewUUID())
	_ = json.NewEncoder(w).Encode(out)
}

func dynamoError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-RequestId", NewUUID())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#" + typ, "message": msg})
}

// wireValue is an AttributeValue as the JSON protocol writes it.
type wireValue struct {
	S    *string               `json:",omitempty"`
	N    *string               `json:",omitempty"`
	B    []byte                `json:",omitempty"`
	BOOL *bool                 `json:",omitempty"`
	NULL *bool                 `json:",omitempty"`
	SS   []string              `json:",omitempty"`
	NS   []string              `json:",omitempty"`
	L    []wireValue           `json:",omitempty"`
	M    map[string]*wireValue `json:",omitempty"`
}

func decodeItem(raw map[string]json.RawMessage) (map[string]types.AttributeValue, error) {
	if raw == nil {
		return nil, nil
	}
	out := make(map[string]types.AttributeValue, len(raw))
	for k, r := range raw {
		var v wireValue
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		av, err := v.value()
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func (v wireValue) value() (types.AttributeValue, error) {
	switch {
	case v.S != nil:
		return &types.AttributeValueMemberS{Value: *v.S}, nil
	case v.N != nil:
		return &types.AttributeValueMemberN{Value: *v.N}, nil
	case v.B != nil:
		return &types.AttributeValueMemberB{Value: v.B}, nil
	case v.BOOL != nil:
		return &types.AttributeValueMemberBOOL{Value: *v.BOOL}, nil
	case v.NULL != nil:
		return &types.AttributeValueMemberNULL{Value: *v.NULL}, nil
	case v.SS != nil:
		return &types.AttributeValueMemberSS{Value: v.SS}, nil
	case v.NS != nil:
		return &types.AttributeValueMemberNS{Value: v.NS}, nil
	case v.L != nil:
		l := make([]types.AttributeValue, len(v.L))
		for i, e := range v.L {
			av, err := e.value()
			if err != nil {
				return nil, err
			}
			l[i] = av
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	case v.M != nil:
		m := make(map[string]types.AttributeValue, len(v.M))
		for k, e := range v.M {
			av, err := e.value()
			if err != nil {
				return nil, err
			}
			m[k] = av
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, errors.New("no type given (S, N, B, BOOL, NULL, SS, NS, L or M)")
}

func encodeItem(item map[string]types.AttributeValue) map[string]*wireValue {
	if item == nil {
		return nil
	}
	out := make(map[string]*wireValue, len(item))
	for k, v := range item {
		w := encodeValue(v)
		out[k] = &w
	}
	return out
}

func encodeValue(v types.AttributeValue) wireValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return wireValue{S: &v.Value}
	case *types.AttributeValueMemberN:
		return wireValue{N: &v.Value}
	case *types.AttributeValueMemberB:
		return wireValue{B: v.Value}
	case *types.AttributeValueMemberBOOL:
		return wireValue{BOOL: &v.Value}
	case *types.AttributeValueMemberNULL:
		return wireValue{NULL: &v.Value}
	case *types.AttributeValueMemberSS:
		return wireValue{SS: v.Value}
	case *types.AttributeValueMemberNS:
		return wireValue{NS: v.Value}
	case *types.AttributeValueMemberL:
		l := make([]wireValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = encodeValue(e)
		}
		return wireValue{L: l}
	case *types.AttributeValueMemberM:
		m := make(map[string]*wireValue, len(v.Value))
		for k, e := range v.Value {
			w := encodeValue(e)
			m[k] = &w
		}
		return wireValue{M: m}
	}
	return wireValue{}
}
