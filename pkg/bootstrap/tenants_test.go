package bootstrap_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/media"
)

// countedS3 counts the service's S3 requests.
type countedS3 struct {
	bucket.API
	n *atomic.Int32
}

func (c countedS3) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	c.n.Add(1)
	return c.API.HeadObject(ctx, in, o...)
}

func (c countedS3) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.n.Add(1)
	return c.API.GetObject(ctx, in, o...)
}

func (c countedS3) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	c.n.Add(1)
	return c.API.PutObject(ctx, in, o...)
}

// asCaller is an API Gateway request of {"key"} for app (the default app
// when ""), made by the caller auth describes (an authorizer's JSON).
func asCaller(t *testing.T, path, app, body, auth string) []byte {
	t.Helper()
	e := stacktest.Event(t, "apigw-upload-key.json")
	if app != "" {
		e = bytes.ReplaceAll(e, []byte(`"/cgi-bin/media/upload"`), []byte(`"/`+app+path+`"`))
	} else {
		e = bytes.ReplaceAll(e, []byte(`"/cgi-bin/media/upload"`), []byte(`"`+path+`"`))
	}
	e = bytes.Replace(e, []byte(`"requestId":`), []byte(`"authorizer": `+auth+`, "requestId":`), 1)
	e = bytes.ReplaceAll(e, []byte("type=thumb"), []byte("type=image"))
	e = bytes.Replace(e, []byte(`"type": "thumb"`), []byte(`"type": "image"`), 1)
	b, _ := json.Marshal(body)
	e = bytes.Replace(e, []byte(`"{\"key\": \"upload/thumb/thumb.jpg\"}"`), b, 1)
	return bytes.Replace(e, []byte(`"content-length": "28"`), []byte(fmt.Sprintf(`"content-length": "%d"`, len(body))), 1)
}

func iam(arn string) string {
	return `{"iam": {"accountId": "123456789012", "userArn": "` + arn + `"}}`
}

func jwt(claims string) string { return `{"jwt": {"claims": ` + claims + `, "scopes": null}}` }

// Callers are bound to the apps they may use: a caller outside its apps
// gets WeChat's 40013 before anything is read, fetched or spent (no S3
// request, no WeChat call), for uploads, forms and results alike.
func TestCallersBoundToApps(t *testing.T) {
	const shop, admin, stranger = "arn:aws:sts::123456789012:assumed-role/shop-eu/s1",
		"arn:aws:iam::123456789012:role/admin", "arn:aws:iam::123456789012:role/other"
	secret := strings.TrimSuffix(stacktest.TwoApps, "}") + fmt.Sprintf(`,"callers":{%q:[%q],%q:["*"]}}`,
		"arn:aws:sts::123456789012:assumed-role/shop-*", stacktest.OtherAppID, admin)
	var requests atomic.Int32
	jpeg := mediatest.Sample(media.JPEG, 3000)
	for _, mode := range []string{"IAM", "JWT"} {
		t.Run(mode, func(t *testing.T) {
			opts := stacktest.Options{Secret: secret, WrapS3: func(api bucket.API) bucket.API { return countedS3{api, &requests} }}
			allowed, refused, all := iam(shop), iam(stranger), iam(admin)
			if mode == "JWT" {
				opts.Env = map[string]string{bootstrap.EnvAppsClaim: "custom:wxapps"}
				allowed = jwt(`{"sub": "u1", "custom:wxapps": "[` + stacktest.OtherAppID + `]"}`)
				refused = jwt(`{"sub": "u2"}`)
				all = jwt(`{"sub": "u3", "custom:wxapps": "` + stacktest.AppID + `,` + stacktest.OtherAppID + `"}`)
			}
			st := stacktest.Start(t, opts)
			st.PutFor(t, stacktest.OtherAppID, "upload/image/other.jpg", jpeg)
			st.Put(t, "upload/image/default.jpg", jpeg)
			call := func(path, app, body, auth string) map[string]any {
				t.Helper()
				out, err := st.Functions["upload"].Invoke(context.Background(), asCaller(t, path, app, body, auth))
				if err != nil {
					t.Fatal(err)
				}
				var resp struct{ Body string }
				json.Unmarshal(out, &resp)
				var m map[string]any
				json.Unmarshal([]byte(resp.Body), &m)
				return m
			}
			upload, form := "/cgi-bin/media/upload", "/cgi-bin/media/upload-url"
			t.Run("AnotherAppsObjectReadsAsMissing", func(t *testing.T) {
				cost := func(key string) (int32, map[string]any) {
					before := requests.Load()
					got := call(upload, stacktest.OtherAppID, `{"key":"`+key+`"}`, allowed)
					return requests.Load() - before, got
				}
				nOther, other := cost("upload/image/default.jpg")
				nMissing, missing := cost("upload/image/missing.jpg")
				if fmt.Sprint(other) != fmt.Sprint(missing) || nOther != nMissing {
					t.Errorf("another app's object: %v after %d S3 requests; a missing key: %v after %d; want the same", other, nOther, missing, nMissing)
				}
			})
			for _, c := range []struct {
				name, path, app, body, auth string
				ok                          bool
			}{
				{"OwnApp", upload, stacktest.OtherAppID, `{"key":"upload/image/other.jpg"}`, allowed, true},
				{"DefaultAppNotBound", upload, "", `{"key":"upload/image/default.jpg"}`, allowed, false},
				{"AnotherAppByItsID", upload, stacktest.AppID, `{"key":"upload/image/default.jpg"}`, allowed, false},
				{"FormForAnotherApp", form, stacktest.AppID, `{}`, allowed, false},
				{"FormForTheDefaultApp", form, "", `{}`, allowed, false},
				{"Unbound", upload, stacktest.OtherAppID, `{"key":"upload/image/other.jpg"}`, refused, false},
				{"EveryApp", upload, "", `{"key":"upload/image/default.jpg"}`, all, true},
			} {
				t.Run(c.name, func(t *testing.T) {
					s3Before, wxBefore := requests.Load(), st.Sim.Stats()
					got := call(c.path, c.app, c.body, c.auth)
					if c.ok {
						if got["media_id"] == nil {
							t.Errorf("got %v, want a media_id", got)
						}
						return
					}
					if got["errcode"] != float64(40013) || strings.Contains(fmt.Sprint(got), "arn:") {
						t.Errorf("got %v, want errcode 40013, naming no caller", got)
					}
					if n := requests.Load() - s3Before; n != 0 || st.Sim.Stats() != wxBefore {
						t.Errorf("refused after %d S3 requests and WeChat %+v -> %+v, want none", n, wxBefore, st.Sim.Stats())
					}
				})
			}
		})
	}
}
