package localaws

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/wxmedia/wxmedia/internal/memdynamo"
)

// DynamoDBPath is where make local serves its DynamoDB endpoint on the
// API's port: AWS_ENDPOINT_URL_DYNAMODB is http://127.0.0.1:<port> plus it.
const DynamoDBPath = "/_local/dynamodb"

// DynamoDB serves GetItem, PutItem, DeleteItem and DescribeTable in
// DynamoDB's JSON 1.0 protocol (X-Amz-Target DynamoDB_20120810.<op>), as
// the AWS SDKs and CLI speak it, over a memdynamo.DB: its tables, keyed
// by one string attribute, exist once named; conditions are answered as
// DynamoDB answers them (400 ConditionalCheckFailedException).
type DynamoDB struct {
	db *memdynamo.DB
}

// NewDynamoDB serves db.
func NewDynamoDB(db *memdynamo.DB) *DynamoDB { return &DynamoDB{db: db} }

// dynamoRequest is the part of a request the ops served read.
type dynamoRequest struct {
	TableName                 *string
	Key, Item                 map[string]json.RawMessage
	ConditionExpression       *string
	ExpressionAttributeNames  map[string]string
	ExpressionAttributeValues map[string]json.RawMessage
}

func (d *DynamoDB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	var in dynamoRequest
	if r.Method != http.MethodPost || !ok {
		dynamoError(w, "UnknownOperationException", "want POST with X-Amz-Target DynamoDB_20120810.<operation>")
		return
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
		dynamoError(w, "SerializationException", err.Error())
		return
	}
	out, err := d.do(r, op, in)
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			dynamoError(w, ae.ErrorCode(), ae.ErrorMessage())
			return
		}
		dynamoError(w, "ValidationException", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	json.NewEncoder(w).Encode(out)
}

// do runs op.
func (d *DynamoDB) do(r *http.Request, op string, in dynamoRequest) (any, error) {
	ctx := r.Context()
	key, err := attrMap(in.Key)
	if err != nil {
		return nil, err
	}
	item, err := attrMap(in.Item)
	if err != nil {
		return nil, err
	}
	values, err := attrMap(in.ExpressionAttributeValues)
	if err != nil {
		return nil, err
	}
	switch op {
	case "GetItem":
		out, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: in.TableName, Key: key})
		if err != nil || out.Item == nil {
			return struct{}{}, err
		}
		return map[string]any{"Item": wireMap(out.Item)}, nil
	case "PutItem":
		_, err := d.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: in.TableName, Item: item, ConditionExpression: in.ConditionExpression,
			ExpressionAttributeNames: in.ExpressionAttributeNames, ExpressionAttributeValues: values})
		return struct{}{}, err
	case "DeleteItem":
		_, err := d.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: in.TableName, Key: key, ConditionExpression: in.ConditionExpression,
			ExpressionAttributeNames: in.ExpressionAttributeNames, ExpressionAttributeValues: values})
		return struct{}{}, err
	case "DescribeTable":
		name := ""
		if in.TableName != nil {
			name = *in.TableName
		}
		return map[string]any{"Table": map[string]any{"TableName": name, "TableStatus": "ACTIVE",
			"TableArn": "arn:aws:dynamodb:" + DefaultRegion + ":000000000000:table/" + name}}, nil
	}
	return nil, &smithy.GenericAPIError{Code: "UnknownOperationException", Message: "not served here: " + op}
}

// dynamoError answers as DynamoDB does: 400 and {"__type","message"}.
func dynamoError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#" + code, "message": msg})
}

// attrMap decodes attribute values in DynamoDB's JSON ({"S":"x"}, {"N":"1"} …).
func attrMap(m map[string]json.RawMessage) (map[string]types.AttributeValue, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]types.AttributeValue, len(m))
	for k, raw := range m {
		v, err := attr(raw)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

func attr(raw json.RawMessage) (types.AttributeValue, error) {
	var w map[string]json.RawMessage
	if err := json.Unmarshal(raw, &w); err != nil || len(w) != 1 {
		return nil, errors.New(`want one type, like {"S":"…"}`) // never the value: it may be a token
	}
	for typ, v := range w {
		switch typ {
		case "S":
			var s string
			err := json.Unmarshal(v, &s)
			return &types.AttributeValueMemberS{Value: s}, err
		case "N":
			var s string
			err := json.Unmarshal(v, &s)
			return &types.AttributeValueMemberN{Value: s}, err
		case "B":
			var b []byte // base64, as encoding/json decodes it
			err := json.Unmarshal(v, &b)
			return &types.AttributeValueMemberB{Value: b}, err
		case "BOOL":
			var b bool
			err := json.Unmarshal(v, &b)
			return &types.AttributeValueMemberBOOL{Value: b}, err
		case "NULL":
			return &types.AttributeValueMemberNULL{Value: true}, nil
		case "SS", "NS":
			var ss []string
			err := json.Unmarshal(v, &ss)
			if typ == "NS" {
				return &types.AttributeValueMemberNS{Value: ss}, err
			}
			return &types.AttributeValueMemberSS{Value: ss}, err
		case "M":
			var m map[string]json.RawMessage
			if err := json.Unmarshal(v, &m); err != nil {
				return nil, err
			}
			mm, err := attrMap(m)
			return &types.AttributeValueMemberM{Value: mm}, err
		case "L":
			var l []json.RawMessage
			if err := json.Unmarshal(v, &l); err != nil {
				return nil, err
			}
			out := &types.AttributeValueMemberL{}
			for _, e := range l {
				ev, err := attr(e)
				if err != nil {
					return nil, err
				}
				out.Value = append(out.Value, ev)
			}
			return out, nil
		}
		return nil, fmt.Errorf("type %s not served here", typ)
	}
	return nil, nil
}

// wireMap encodes attribute values in DynamoDB's JSON.
func wireMap(m map[string]types.AttributeValue) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = wire(v)
	}
	return out
}

func wire(v types.AttributeValue) any {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return map[string]string{"S": v.Value}
	case *types.AttributeValueMemberN:
		return map[string]string{"N": v.Value}
	case *types.AttributeValueMemberB:
		return map[string]string{"B": base64.StdEncoding.EncodeToString(v.Value)}
	case *types.AttributeValueMemberBOOL:
		return map[string]bool{"BOOL": v.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]bool{"NULL": true}
	case *types.AttributeValueMemberSS:
		return map[string][]string{"SS": v.Value}
	case *types.AttributeValueMemberNS:
		return map[string][]string{"NS": v.Value}
	case *types.AttributeValueMemberM:
		return map[string]any{"M": wireMap(v.Value)}
	case *types.AttributeValueMemberL:
		l := make([]any, len(v.Value))
		for i, e := range v.Value {
			l[i] = wire(e)
		}
		return map[string]any{"L": l}
	}
	return nil
}
