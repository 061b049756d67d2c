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
// Every field is taken in camelCase or snake_case (media_id,
// content_type), as wx-server-sdk converts one to the other. Any call may
// name its app with "appid" (a deployment of many apps or a third-party
// platform, package apps); without it the call is the default app's, and
// an AppID the deployment does not know is 40013. "api" may name the
// cloud call it stands for (officialAccount.media.upload,
// customerServiceMessage.uploadTempMedia, officialAccount.media.uploadImg),
// which errMsg then names.
//
// A success answers {"errCode":0,"errMsg":"<api>:ok",…} with WeChat's
// answer in camelCase, as wx-server-sdk converts it: type, mediaId (a
// thumb's thumbMediaId), createdAt; url; and for get the file as
// {contentType, buffer} (base64) while it fits Lambda's response, else
// the descriptor {mediaId, key, contentType, size, url}; for video
// {videoUrl}. An event Lambda's invoke limit cut short (the RIE cuts it
// at 6 MiB + 100 bytes; Lambda itself refuses it) is 40006.
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
	"io"
	"log/slog"
	"slices"
	"strings"
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
	OpenMedia(ctx context.Context, f transfer.Fetched) (io.ReadCloser, error)
}

var _ Service = (*transfer.Service)(nil)

// The cloud call API each function answers as, by default.
const (
	APIUpload    = "openapi.customerServiceMessage.uploadTempMedia"
	APIGet       = "openapi.customerServiceMessage.getTempMedia"
	APIUploadImg = "openapi.media.uploadImg"
)

// apis are the cloud calls each route also answers as, named by "api"
// (WeChat's documents name the first two officialAccount's).
var apis = map[string][]string{
	routes.Upload:    {"openapi.officialAccount.media.upload", APIUpload},
	routes.UploadImg: {"openapi.officialAccount.media.uploadImg", APIUploadImg},
	routes.Get:       {APIGet},
}

// MaxPayload is Lambda's limit on a synchronous invocation's event and
// answer, 6 MB. What a file may weigh within it depends on its encoding:
// base64 costs 4 bytes per 3, a Node.js Buffer as JSON.stringify writes
// it about 3.57 per byte of random data (1 to 3 digits and a comma).
const MaxPayload = 6 * 1024 * 1024

// MaxBuffer is the largest file get answers as {contentType, buffer}: its
// base64 within MaxPayload, less room for the other fields.
const MaxBuffer = (MaxPayload - 16*1024) / 4 * 3

// Request is a direct invocation's event, its fields in snake_case.
type Request struct {
	Type    string `json:"type"`
	Media   *Media `json:"media"`
	Key     string `json:"key"`
	MediaID string `json:"media_id"`
	AppID   string `json:"appid"`
	API     string `json:"api"`
}

// Media is a file given in the event.
type Media struct {
	ContentType string `json:"content_type"`
	Value       buffer `json:"value"`
}

func (m *Media) UnmarshalJSON(data []byte) error {
	type plain Media
	return decodeSnake(data, (*plain)(m))
}

// snake is a field's name in snake_case: mediaId is media_id, appId app_id.
func snake(k string) string {
	var b strings.Builder
	for i, c := range k {
		if 'A' <= c && c <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// decodeSnake decodes a JSON object into v, whose fields are named in
// snake_case, taking each field in camelCase or snake_case; app_id is
// appid. A field given in both is a data format error.
func decodeSnake(data []byte, v any) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return err
	}
	out := make(map[string]json.RawMessage, len(fields))
	for k, val := range fields {
		name := snake(k)
		if name == "app_id" {
			name = "appid"
		}
		if _, twice := out[name]; twice {
			return fmt.Errorf("%s is given twice", name)
		}
		out[name] = val
	}
	norm, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return json.Unmarshal(norm, v)
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

// IsCall reports whether an event's top-level keys are a direct call's,
// in either case.
func IsCall(keys []string) bool {
	for _, k := range keys {
		switch snake(k) {
		case "type", "media", "key", "media_id", "appid", "app_id", "api":
		default:
			return false
		}
	}
	return len(keys) > 0
}

// Truncated reports whether payload is an event cut at Lambda's invoke
// limit: no JSON, and at least MaxPayload long.
func Truncated(payload []byte) bool { return len(payload) >= MaxPayload && !json.Valid(payload) }

// Handler answers direct invocations for one function's route:
// routes.Upload, routes.UploadImg or routes.Get.
func Handler(svc Service, route string, log *slog.Logger) func(ctx context.Context, payload json.RawMessage) (any, error) {
	if log == nil {
		log = slog.Default()
	}
	if len(apis[route]) == 0 {
		panic("cloudcall: no route " + route) // a wiring mistake, caught at start
	}
	return func(ctx context.Context, payload json.RawMessage) (any, error) {
		start := time.Now()
		api, out, err := call(ctx, svc, route, payload)
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

// call serves one event, and answers the cloud call it stands for.
func call(ctx context.Context, svc Service, route string, payload json.RawMessage) (string, map[string]any, error) {
	api := apis[route][len(apis[route])-1]
	if Truncated(payload) {
		return api, nil, failure.New(failure.Caller, failure.CodeInvalidMediaSize,
			"invalid media size: the event reached Lambda's %d-byte invoke limit and was cut (a file as base64 fits up to about %d bytes, as a Buffer about %d); put it in the media bucket and send {key}",
			MaxPayload, MaxPayload/4*3, MaxPayload*100/357)
	}
	var req Request
	if err := decodeSnake(payload, &req); err != nil {
		return api, nil, failure.Wrap(failure.Caller, failure.CodeDataFormat, err, "data format error: %v", err)
	}
	if req.API != "" {
		named := "openapi." + strings.TrimPrefix(req.API, "openapi.")
		if !slices.Contains(apis[route], named) {
			return api, nil, failure.New(failure.Caller, failure.CodeInvalidParam, "invalid parameter: api %s is none of this function's (%s)",
				truncate(req.API, 64), strings.Join(apis[route], ", "))
		}
		api = named
	}
	if req.AppID != "" {
		ctx = apps.WithRequested(ctx, req.AppID)
	}
	out, err := serve(ctx, svc, route, req)
	if err != nil {
		return api, nil, err
	}
	out["errCode"], out["errMsg"] = 0, api+":ok"
	return api, out, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// serve answers req with WeChat's fields in camelCase.
func serve(ctx context.Context, svc Service, route string, req Request) (map[string]any, error) {
	switch route {
	case routes.Get:
		return fetched(ctx, svc, req.MediaID)
	case routes.UploadImg:
		r, err := upload(ctx, svc, media.ArticleImage, req)
		if err != nil {
			return nil, err
		}
		return map[string]any{"url": r.URL}, nil
	}
	t, err := media.ParseType(req.Type)
	if err != nil {
		return nil, err
	}
	r, err := upload(ctx, svc, t, req)
	if err != nil {
		return nil, err
	}
	idField := "mediaId"
	if t == media.Thumb {
		idField = "thumbMediaId" // WeChat's thumb_media_id, converted
	}
	return map[string]any{"type": r.Type, idField: r.MediaID, "createdAt": r.CreatedAt, "expiresAt": r.ExpiresAt}, nil
}

// fetched answers get as wx-server-sdk gives media/get's answer: the file
// as {contentType, buffer} while it fits Lambda's answer, else the
// descriptor with its link; a video's {videoUrl}.
func fetched(ctx context.Context, svc Service, mediaID string) (map[string]any, error) {
	f, err := svc.Fetch(ctx, mediaID)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"mediaId": f.MediaID}
	switch {
	case f.Video():
		out["videoUrl"] = f.VideoURL
	case f.Size <= MaxBuffer:
		body, err := svc.OpenMedia(ctx, f)
		if err != nil {
			return nil, err
		}
		defer body.Close()
		data, err := io.ReadAll(io.LimitReader(body, MaxBuffer+1))
		if err != nil {
			return nil, failure.Wrap(failure.S3, failure.CodeSystem, err, "system error: the media could not be read from S3")
		}
		out["contentType"], out["buffer"] = f.ContentType, base64.StdEncoding.EncodeToString(data)
	default:
		out["key"], out["contentType"], out["size"], out["url"] = f.Key, f.ContentType, f.Size, f.URL
	}
	return out, nil
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
