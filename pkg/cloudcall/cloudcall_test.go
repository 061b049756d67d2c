package cloudcall_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/wxmedia/wxmedia/pkg/cloudcall"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/transfer"
)

// service records what it was asked, and answers with err if set.
type service struct {
	err   error
	typ   media.Type
	key   string
	bytes []byte
	id    string
}

func (s *service) UploadKey(_ context.Context, t media.Type, key string) (transfer.Result, error) {
	s.typ, s.key = t, key
	return transfer.Result{Key: key, Type: string(t), MediaID: "MEDIA", CreatedAt: 1795600800, URL: "http://mmbiz/x.png"}, s.err
}

func (s *service) UploadBytes(_ context.Context, t media.Type, data []byte) (transfer.Result, error) {
	s.typ, s.bytes = t, data
	return transfer.Result{Type: string(t), MediaID: "MEDIA", CreatedAt: 1795600800, URL: "http://mmbiz/x.png"}, s.err
}

func (s *service) Fetch(_ context.Context, id string) (transfer.Fetched, error) {
	s.id = id
	f := transfer.Fetched{MediaID: id, Key: "media/" + id + ".jpg", ContentType: "image/jpeg", Size: 3, URL: "https://bucket/media/" + id + ".jpg?X-Amz-Signature=s"}
	switch id {
	case "VIDEO":
		f.Key, f.ContentType, f.VideoURL = "media/VIDEO.mp4", "video/mp4", "https://bucket/media/VIDEO.mp4?X-Amz-Signature=s"
	case "BIG":
		f.Size = cloudcall.MaxBuffer + 1
	}
	return f, s.err
}

func (s *service) OpenMedia(_ context.Context, f transfer.Fetched) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("\xff\xd8\xff")), nil
}

func call(t *testing.T, svc *service, route, event string) (map[string]any, error) {
	t.Helper()
	out, err := cloudcall.Handler(svc, route, slog.New(slog.DiscardHandler))(context.Background(), json.RawMessage(event))
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(out)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m, nil
}

// thrown decodes a failure as the cloud call throws it.
func thrown(t *testing.T, err error) (typ string, code float64, msg string) {
	t.Helper()
	var ie messages.InvokeResponse_Error
	if !errors.As(err, &ie) {
		t.Fatalf("error %v (%T), want a Lambda function error", err, err)
	}
	var body struct {
		ErrCode float64 `json:"errCode"`
		ErrMsg  string  `json:"errMsg"`
	}
	if err := json.Unmarshal([]byte(ie.Message), &body); err != nil {
		t.Fatalf("errorMessage %q: want {errCode, errMsg}", ie.Message)
	}
	return ie.Type, body.ErrCode, body.ErrMsg
}

func TestAnswersInTheCloudCallsShape(t *testing.T) {
	tests := []struct {
		name, route, event string
		want               map[string]any
	}{
		{"UploadBase64", "upload", `{"type":"image","media":{"contentType":"image/jpeg","value":"/9j/"}}`,
			map[string]any{"errCode": 0.0, "errMsg": cloudcall.APIUpload + ":ok", "type": "image", "mediaId": "MEDIA", "createdAt": 1795600800.0}},
		{"UploadKey", "upload", `{"type":"voice","key":"upload/voice/a.mp3"}`,
			map[string]any{"errCode": 0.0, "errMsg": cloudcall.APIUpload + ":ok", "type": "voice", "mediaId": "MEDIA", "createdAt": 1795600800.0}},
		{"UploadImgBuffer", "uploadimg", `{"media":{"contentType":"image/png","value":{"type":"Buffer","data":[137,80,78]}}}`,
			map[string]any{"errCode": 0.0, "errMsg": cloudcall.APIUploadImg + ":ok", "url": "http://mmbiz/x.png"}},
		{"UploadThumb", "upload", `{"type":"thumb","media":{"contentType":"image/jpeg","value":"/9j/"}}`,
			map[string]any{"errCode": 0.0, "errMsg": cloudcall.APIUpload + ":ok", "type": "thumb", "thumbMediaId": "MEDIA", "createdAt": 1795600800.0}},
		{"UploadSnakeCase", "upload", `{"type":"image","media":{"content_type":"image/jpeg","value":"/9j/"},"app_id":"wx-app"}`,
			map[string]any{"errCode": 0.0, "errMsg": cloudcall.APIUpload + ":ok", "type": "image", "mediaId": "MEDIA", "createdAt": 1795600800.0}},
		{"UploadAsOfficialAccount", "upload", `{"api":"officialAccount.media.upload","type":"image","key":"upload/image/a.jpg"}`,
			map[string]any{"errCode": 0.0, "errMsg": "openapi.officialAccount.media.upload:ok", "type": "image", "mediaId": "MEDIA", "createdAt": 1795600800.0}},
		{"UploadImgAsOfficialAccount", "uploadimg", `{"api":"openapi.officialAccount.media.uploadImg","key":"uploadimg/a.png"}`,
			map[string]any{"errCode": 0.0, "errMsg": "openapi.officialAccount.media.uploadImg:ok", "url": "http://mmbiz/x.png"}},
		{"Get", "get", `{"mediaId":"IMG"}`,
			map[string]any{"errCode": 0.0, "errMsg": cloudcall.APIGet + ":ok", "mediaId": "IMG", "contentType": "image/jpeg", "buffer": "/9j/"}},
		{"GetSnakeCase", "get", `{"media_id":"IMG"}`,
			map[string]any{"errCode": 0.0, "errMsg": cloudcall.APIGet + ":ok", "mediaId": "IMG", "contentType": "image/jpeg", "buffer": "/9j/"}},
		{"GetBeyondTheAnswersLimit", "get", `{"mediaId":"BIG"}`,
			map[string]any{"errCode": 0.0, "errMsg": cloudcall.APIGet + ":ok", "mediaId": "BIG", "contentType": "image/jpeg", "key": "media/BIG.jpg",
				"size": float64(cloudcall.MaxBuffer + 1), "url": "https://bucket/media/BIG.jpg?X-Amz-Signature=s"}},
		{"GetVideo", "get", `{"mediaId":"VIDEO"}`,
			map[string]any{"errCode": 0.0, "errMsg": cloudcall.APIGet + ":ok", "mediaId": "VIDEO", "videoUrl": "https://bucket/media/VIDEO.mp4?X-Amz-Signature=s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &service{}
			got, err := call(t, svc, tt.route, tt.event)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v (answer %v)", k, got[k], v, got)
				}
			}
			for k := range got {
				if _, ok := tt.want[k]; !ok && k != "expiresAt" {
					t.Errorf("answer has %s: %v; want only the cloud call's fields", k, got)
				}
			}
		})
	}
	t.Run("BytesReachTheService", func(t *testing.T) {
		svc := &service{}
		call(t, svc, "uploadimg", `{"media":{"contentType":"image/png","value":{"type":"Buffer","data":[137,80,78,71]}}}`)
		if string(svc.bytes) != "\x89PNG" || svc.typ != media.ArticleImage {
			t.Errorf("service got %q as %v, want the Buffer's 4 bytes as an article image", svc.bytes, svc.typ)
		}
		call(t, svc, "upload", `{"type":"thumb","media":{"contentType":"image/jpeg","value":"iVBORw=="}}`)
		if string(svc.bytes) != "\x89PNG" || svc.typ != media.Thumb {
			t.Errorf("service got %q as %v, want the base64's 4 bytes as a thumb", svc.bytes, svc.typ)
		}
	})
}

// A request that cannot be served as asked is thrown as WeChatError, with
// WeChat's errcode; a failure of WeChat, AWS or the deployment as
// SystemError: the cloud call's two kinds, change the request or try later.
func TestFailuresAreThrown(t *testing.T) {
	tests := []struct {
		name, route, event string
		svcErr             error
		typ                string
		code               float64
		msg                string
	}{
		{"NotJSON", "upload", `["image"]`, nil, "WeChatError", failure.CodeDataFormat, "data format error"},
		{"BadBase64", "upload", `{"type":"image","media":{"value":"not base64!"}}`, nil, "WeChatError", failure.CodeDataFormat, "media.value is not base64"},
		{"ByteOutOfRange", "uploadimg", `{"media":{"value":{"type":"Buffer","data":[256]}}}`, nil, "WeChatError", failure.CodeDataFormat, "out of range"},
		{"NeitherMediaNorKey", "uploadimg", `{}`, nil, "WeChatError", failure.CodeMediaMissing, "media data missing"},
		{"FieldInBothCases", "get", `{"mediaId":"A","media_id":"B"}`, nil, "WeChatError", failure.CodeDataFormat, "media_id is given twice"},
		{"APIOfAnotherFunction", "upload", `{"api":"officialAccount.media.uploadImg","type":"image","key":"upload/image/a.jpg"}`, nil, "WeChatError", 40035, "invalid parameter"},
		{"CutAtTheInvokeLimit", "upload", `{"type":"image","media":{"value":{"type":"Buffer","data":[` + strings.Repeat("255,", cloudcall.MaxPayload/4), nil, "WeChatError", 40006, "invoke limit"},
		{"MediaAndKey", "upload", `{"type":"image","key":"upload/image/a.jpg","media":{"value":""}}`, nil, "WeChatError", failure.CodeDataFormat, "not both"},
		{"UnknownType", "upload", `{"type":"gif","key":"upload/image/a.jpg"}`, nil, "WeChatError", 40004, "invalid media type"},
		{"RefusedByRules", "upload", `{"type":"voice","key":"upload/voice/a.mp3"}`, failure.New(failure.Caller, 40005, "invalid file type"), "WeChatError", 40005, "invalid file type"},
		{"UnknownMedia", "get", `{"mediaId":"NOPE"}`, failure.New(failure.Caller, 40007, "invalid media_id"), "WeChatError", 40007, "invalid media_id"},
		{"WeChatDown", "upload", `{"type":"voice","key":"upload/voice/a.mp3"}`, failure.Wrap(failure.WeChat, -1, errors.New("dial tcp 10.0.0.1:443 ACCESS_TOKEN_XYZ"), "system error"), "SystemError", -1, "system error"},
		{"SecretMissing", "get", `{"mediaId":"X"}`, failure.New(failure.Config, -1, "the deployment's WeChat credentials cannot be read"), "SystemError", -1, "credentials cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := call(t, &service{err: tt.svcErr}, tt.route, tt.event)
			typ, code, msg := thrown(t, err)
			if typ != tt.typ || code != tt.code || !strings.Contains(msg, tt.msg) {
				t.Errorf("thrown %s {errCode:%v errMsg:%q}, want %s {errCode:%v errMsg:~%q}", typ, code, msg, tt.typ, tt.code, tt.msg)
			}
			if api, _, ok := strings.Cut(msg, ":fail "); !ok || !strings.HasPrefix(api, "openapi.") {
				t.Errorf("errMsg %q, want <api>:fail <reason> as the cloud call writes it", msg)
			}
			if strings.Contains(msg, "ACCESS_TOKEN") || strings.Contains(msg, "10.0.0.1") {
				t.Errorf("errMsg %q carries the cause, not what a caller may see", msg)
			}
		})
	}
}

func TestIsCall(t *testing.T) {
	for keys, want := range map[string]bool{
		"type media": true, "type key": true, "media": true, "key": true, "mediaId": true, "appid type key": true,
		"media_id": true, "appId type key": true, "app_id media": true, "api type media": true,
		"": false, "type media extra": false, "Records": false, "hello": false,
	} {
		if got := cloudcall.IsCall(strings.Fields(keys)); got != want {
			t.Errorf("IsCall(%q) = %v, want %v", keys, got, want)
		}
	}
}

// A Node.js Buffer as JSON.stringify writes it, read straight into bytes.
func TestNodeBuffer(t *testing.T) {
	for data, want := range map[string]string{
		`[]`:                 "",
		`[ 137 , 80,78,71 ]`: "\x89PNG",
		"[\n0,\t255\r\n]":    "\x00\xff",
		`[256]`:              "error: out of range",
		`[-1]`:               "error: not a number",
		`[1.5]`:              "error: not a number",
		`["1"]`:              "error: not a number",
		`{"0":1}`:            "error: not an array",
		`[1,[2]]`:            "error: not a number",
	} {
		svc := &service{}
		_, err := call(t, svc, "uploadimg", `{"media":{"value":{"type":"Buffer","data":`+data+`}}}`)
		got := string(svc.bytes)
		if err != nil {
			_, _, msg := thrown(t, err)
			got = "error: " + msg
		}
		if want == "" && err == nil && len(svc.bytes) == 0 {
			continue
		}
		if !strings.HasPrefix(want, "error: ") && got != want || strings.HasPrefix(want, "error: ") && !strings.Contains(got, strings.TrimPrefix(want, "error: ")) {
			t.Errorf("data %s: got %q, want %q", data, got, want)
		}
	}
}
