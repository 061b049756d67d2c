// Package cloudcall answers direct invocations in the shape of WeChat's
// cloud call (openapi.customerServiceMessage.uploadTempMedia in a cloud
// function), its AWS counterpart being one Lambda function invoking
// another with the Invoke API (another function, Step Functions, `aws
// lambda invoke`, `make invoke`):
//
//	upload     {"type":"image","media":{"contentType":"image/png","value":"<base64>"}}  or {"type":"image","key":"upload/…"}
//	uploadimg  {"media":{…}}  or {"key":"…"}
//	get        {"mediaId":"…"}
//
// Any of them may name its app with "appid" (a deployment of many apps or
// a third-party platform, package apps); without it the call is the
// default app's, and an AppID the deployment does not know is 40013.
//
// A success answers {"errCode":0,"errMsg":"<api>:ok",…} with the cloud
// call's fields (type, mediaId, createdAt; url; contentType, key, videoUrl).
// A failure is thrown, as the cloud call throws: a Lambda function error
// whose errorMessage is {"errCode":N,"errMsg":"…"} and whose errorType is
// WeChatError (the request or the file is at fault: change it) or
// SystemError (WeChat, AWS or the deployment failed: try again later).
// media.value is base64, or the {"type":"Buffer","data":[…]} that
// JSON.stringify makes of a Node.js Buffer.
package cloudcall

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/wxmedia/wxmedia/pkg/apps"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/routes"
	"github.com/wxmedia/wxmedia/pkg/transfer"
)

// Service is what the calls use.
type Service interface {
	UploadKey(ctx context.Context, t media.Type, key string) (transfer.Result, error)
	UploadBytes(ctx context.Context, t media.Type, data []byte) (transfer.Result, error)
	Fetch(ctx context.Context, mediaID string) (transfer.Fetched, error)
}

var _ Service = (*transfer.Service)(nil)

// The cloud call API each function answers as.
const (
	APIUpload    = "openapi.customerServiceMessage.uploadTempMedia"
	APIGet       = "openapi.customerServiceMessage.getTempMedia"
	APIUploadImg = "openapi.media.uploadImg"
)

// Request is a direct invocation's event.
type Request struct {
	Type    string `json:"type"`
	Media   *Media `json:"media"`
	Key     string `json:"key"`
	MediaID string `json:"mediaId"`
	AppID   string `json:"appid"`
}

// Media is a file given in the event.
type Media struct {
	ContentType string `json:"contentType"`
	Value       buffer `json:"value"`
}

// buffer is a file's bytes: base64, or a Node.js Buffer as JSON.stringify
// writes it.
type buffer []byte

func (b *buffer) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) == nil {
		out, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("media.value is not base64")
		}
		*b = out
		return nil
	}
	var node struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(data, &node) != nil || node.Type != "Buffer" {
		return fmt.Errorf(`media.value: want base64, or {"type":"Buffer","data":[…]}`)
	}
	out, err := bytesOf(node.Data)
	if err != nil {
		return fmt.Errorf("media.value: %w", err)
	}
	*b = out
	return nil
}

// bytesOf reads a JSON array of numbers from 0 to 255 straight into bytes:
// a byte per element, not a boxed number.
func bytesOf(arr []byte) ([]byte, error) {
	arr = bytes.TrimSpace(arr)
	if len(arr) < 2 || arr[0] != '[' || arr[len(arr)-1] != ']' {
		return nil, fmt.Errorf("data is not an array of bytes")
	}
	out := make([]byte, 0, len(arr)/3)
	for i, elems := 1, 0; i < len(arr)-1; elems++ {
		for i < len(arr)-1 && isSpace(arr[i]) {
			i++
		}
		if i == len(arr)-1 && elems == 0 {
			break // []
		}
		v, digits := 0, 0
		for ; i < len(arr)-1 && '0' <= arr[i] && arr[i] <= '9'; i++ {
			v, digits = v*10+int(arr[i]-'0'), digits+1
			if v > 255 {
				return nil, fmt.Errorf("byte %d out of range", elems)
			}
		}
		if digits == 0 || (digits > 1 && arr[i-digits] == '0') {
			return nil, fmt.Errorf("byte %d is not a number from 0 to 255", elems)
		}
		out = append(out, byte(v))
		for i < len(arr)-1 && isSpace(arr[i]) {
			i++
		}
		if i < len(arr)-1 {
			if arr[i] != ',' {
				return nil, fmt.Errorf("byte %d is not a number from 0 to 255", elems)
			}
			i++
		}
	}
	return out, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// IsCall reports whether an event's top-level keys are a direct call's.
func IsCall(keys []string) bool {
	for _, k := range keys {
		switch k {
		case "type", "media", "key", "mediaId", "appid":
		default:
			return false
		}
	}
	return len(keys) > 0
}

// Handler answers direct invocations for one function's route:
// routes.Upload, routes.UploadImg or routes.Get.
func Handler(svc Service, route string, log *slog.Logger) func(ctx context.Context, payload json.RawMessage) (any, error) {
	if log == nil {
		log = slog.Default()
	}
	api := map[string]string{routes.Upload: APIUpload, routes.UploadImg: APIUploadImg, routes.Get: APIGet}[route]
	if api == "" {
		panic("cloudcall: no route " + route) // a wiring mistake, caught at start
	}
	return func(ctx context.Context, payload json.RawMessage) (any, error) {
		start := time.Now()
		out, err := call(ctx, svc, route, api, payload)
		attrs := []any{"route", route, "api", api, "ms", time.Since(start).Milliseconds()}
		if err != nil {
			kind := failure.KindOf(err)
			attrs = append(attrs, "errcode", failure.CodeOf(err), "kind", kind.String())
			if kind == failure.Caller {
				log.InfoContext(ctx, "call refused", append(attrs, "errmsg", failure.MessageOf(err))...)
			} else {
				log.ErrorContext(ctx, "call failed", append(attrs, "error", err.Error())...)
			}
			return nil, thrown(api, err)
		}
		log.InfoContext(ctx, "call", attrs...)
		return out, nil
	}
}

func call(ctx context.Context, svc Service, route, api string, payload json.RawMessage) (map[string]any, error) {
	var req Request
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, failure.Wrap(failure.Caller, failure.CodeDataFormat, err, "data format error: %v", err)
	}
	if req.AppID != "" {
		ctx = apps.WithRequested(ctx, req.AppID)
	}
	ok := map[string]any{"errCode": 0, "errMsg": api + ":ok"}
	switch route {
	case routes.Get:
		f, err := svc.Fetch(ctx, req.MediaID)
		if err != nil {
			return nil, err
		}
		ok["mediaId"], ok["contentType"], ok["key"], ok["size"] = f.MediaID, f.ContentType, f.Key, f.Size
		if f.Video() {
			ok["videoUrl"] = f.VideoURL
		}
		return ok, nil
	case routes.UploadImg:
		r, err := upload(ctx, svc, media.ArticleImage, req)
		if err != nil {
			return nil, err
		}
		ok["url"] = r.URL
		return ok, nil
	}
	t, err := media.ParseType(req.Type)
	if err != nil {
		return nil, err
	}
	r, err := upload(ctx, svc, t, req)
	if err != nil {
		return nil, err
	}
	ok["type"], ok["mediaId"], ok["createdAt"], ok["expiresAt"] = r.Type, r.MediaID, r.CreatedAt, r.ExpiresAt
	return ok, nil
}

func upload(ctx context.Context, svc Service, t media.Type, req Request) (transfer.Result, error) {
	switch {
	case req.Media != nil && req.Key != "":
		return transfer.Result{}, failure.New(failure.Caller, failure.CodeDataFormat, "data format error: give media or key, not both")
	case req.Media != nil:
		return svc.UploadBytes(ctx, t, req.Media.Value)
	case req.Key != "":
		return svc.UploadKey(ctx, t, req.Key)
	}
	return transfer.Result{}, failure.New(failure.Caller, failure.CodeMediaMissing, "media data missing: give media {contentType, value} or key")
}

// thrown is a failure as the cloud call throws it: errCode and errMsg, as
// a Lambda function error whose type says whether to change the request
// (WeChatError) or try again later (SystemError).
func thrown(api string, err error) error {
	typ := "SystemError"
	if failure.Final(err) {
		typ = "WeChatError"
	}
	msg, _ := json.Marshal(map[string]any{"errCode": failure.CodeOf(err), "errMsg": api + ":fail " + failure.MessageOf(err)})
	return messages.InvokeResponse_Error{Type: typ, Message: string(msg)}
}
