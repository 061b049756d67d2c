package localaws

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Created describes an object that was created, for an S3 notification.
type Created struct {
	Bucket string
	Key    string // the object's key, not encoded
	Size   int64
	ETag   string // with or without S3's quotes; events carry it without
	// VersionID is empty unless the bucket is versioned.
	VersionID string
	// Op is what created it, as in the event name ObjectCreated:<Op>:
	// "Put" (the default), "Post", "Copy" or "CompleteMultipartUpload".
	Op        string
	Region    string    // default DefaultRegion
	Time      time.Time // default now
	SourceIP  string    // default 127.0.0.1
	RequestID string    // S3's x-amz-request-id; default derived from Sequencer
	Sequencer string    // orders events for one key; default derived from Time
}

// DefaultRegion is the region in events and ARNs when none is given.
const DefaultRegion = "us-east-1"

// The notification JSON, field for field as S3 sends it (event version 2.1).
type notification struct {
	Records []record `json:"Records"`
}

type record struct {
	EventVersion      string            `json:"eventVersion"`
	EventSource       string            `json:"eventSource"`
	AWSRegion         string            `json:"awsRegion"`
	EventTime         string            `json:"eventTime"`
	EventName         string            `json:"eventName"`
	UserIdentity      principal         `json:"userIdentity"`
	RequestParameters map[string]string `json:"requestParameters"`
	ResponseElements  map[string]string `json:"responseElements"`
	S3                entity            `json:"s3"`
}

type principal struct {
	PrincipalID string `json:"principalId"`
}

type entity struct {
	SchemaVersion   string       `json:"s3SchemaVersion"`
	ConfigurationID string       `json:"configurationId"`
	Bucket          bucketEntity `json:"bucket"`
	Object          objectEntity `json:"object"`
}

type bucketEntity struct {
	Name          string    `json:"name"`
	OwnerIdentity principal `json:"ownerIdentity"`
	ARN           string    `json:"arn"`
}

type objectEntity struct {
	Key       string `json:"key"`
	Size      int64  `json:"size"`
	ETag      string `json:"eTag"`
	VersionID string `json:"versionId,omitempty"`
	Sequencer string `json:"sequencer"`
}

// EventJSON returns the notification S3 sends to Lambda for the objects
// created: eventSource aws:s3, eventName ObjectCreated:<Op>, keys encoded
// as S3 encodes them (EncodeKey).
func EventJSON(objs ...Created) ([]byte, error) {
	n := notification{Records: make([]record, 0, len(objs))}
	for _, o := range objs {
		if o.Bucket == "" || o.Key == "" {
			return nil, fmt.Errorf("s3 event: bucket and key are required, got bucket %q key %q", o.Bucket, o.Key)
		}
		if o.Op == "" {
			o.Op = "Put"
		}
		if o.Region == "" {
			o.Region = DefaultRegion
		}
		if o.Time.IsZero() {
			o.Time = time.Now()
		}
		if o.SourceIP == "" {
			o.SourceIP = "127.0.0.1"
		}
		if o.Sequencer == "" {
			o.Sequencer = fmt.Sprintf("%016X", o.Time.UnixNano())
		}
		if o.RequestID == "" {
			o.RequestID = o.Sequencer
		}
		n.Records = append(n.Records, record{
			EventVersion:      "2.1",
			EventSource:       "aws:s3",
			AWSRegion:         o.Region,
			EventTime:         o.Time.UTC().Format("2006-01-02T15:04:05.000Z"),
			EventName:         "ObjectCreated:" + o.Op,
			UserIdentity:      principal{PrincipalID: "AWS:LOCAL"},
			RequestParameters: map[string]string{"sourceIPAddress": o.SourceIP},
			ResponseElements:  map[string]string{"x-amz-request-id": o.RequestID, "x-amz-id-2": "local/" + o.RequestID},
			S3: entity{
				SchemaVersion:   "1.0",
				ConfigurationID: "local",
				Bucket:          bucketEntity{Name: o.Bucket, OwnerIdentity: principal{PrincipalID: "LOCAL"}, ARN: "arn:aws:s3:::" + o.Bucket},
				Object: objectEntity{Key: EncodeKey(o.Key), Size: o.Size, ETag: strings.Trim(o.ETag, `"`),
					VersionID: o.VersionID, Sequencer: o.Sequencer},
			},
		})
	}
	return json.Marshal(n)
}

// Event returns the notification for the objects as a Go Lambda handler
// receives it: EventJSON decoded by aws-lambda-go, which also fills each
// object's URLDecodedKey.
func Event(objs ...Created) (events.S3Event, error) {
	data, err := EventJSON(objs...)
	if err != nil {
		return events.S3Event{}, err
	}
	var e events.S3Event
	if err := json.Unmarshal(data, &e); err != nil {
		return events.S3Event{}, fmt.Errorf("s3 event: decode: %w", err)
	}
	return e, nil
}

// EncodeKey encodes an object key as S3 does in event notifications:
// form-style, a space as "+", every byte but letters, digits, "/", ".", "-",
// "_" and "*" as %XX. url.QueryUnescape (what aws-lambda-go uses) reverses it.
func EncodeKey(key string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(key))
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '/', c == '.', c == '-', c == '_', c == '*':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
