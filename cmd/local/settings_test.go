package main

import (
	"maps"
	"strings"
	"testing"
)

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestResolve(t *testing.T) {
	const eb = "http://127.0.0.1:3000/_local/eventbridge" // on the API's port
	for _, tc := range []struct {
		name                     string
		env                      map[string]string
		embedS3, embedSM, embedW bool
		setenv                   map[string]string
	}{
		{"Defaults", nil, true, true, true, map[string]string{
			"MEDIA_BUCKET": "wxmedia-local", "WECHAT_SECRET_ID": "wxmedia/local", "WECHAT_API_BASE": "http://127.0.0.1:3001",
			"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:9001", "TOKEN_TABLE": "wxmedia-local-tokens", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:3000/_local/dynamodb", "AWS_ENDPOINT_URL_EVENTBRIDGE": eb,
			"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}},
		{"Ports", map[string]string{"LOCAL_S3_PORT": "9100", "LOCAL_SM_PORT": "9101", "LOCAL_WECHAT_PORT": "3101"}, true, true, true, map[string]string{
			"MEDIA_BUCKET": "wxmedia-local", "WECHAT_SECRET_ID": "wxmedia/local", "WECHAT_API_BASE": "http://127.0.0.1:3101",
			"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9100", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:9101", "TOKEN_TABLE": "wxmedia-local-tokens", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:3000/_local/dynamodb", "AWS_ENDPOINT_URL_EVENTBRIDGE": eb,
			"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}},
		// The API's port alone moves the others by as much: a second make
		// local beside one on the defaults.
		{"PortShift", map[string]string{"LOCAL_PORT": "3100", "LOCAL_SM_PORT": "9201"}, true, true, true, map[string]string{
			"MEDIA_BUCKET": "wxmedia-local", "WECHAT_SECRET_ID": "wxmedia/local", "WECHAT_API_BASE": "http://127.0.0.1:3101",
			"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9100", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:9201",
			"TOKEN_TABLE": "wxmedia-local-tokens", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:3100/_local/dynamodb", "AWS_ENDPOINT_URL_EVENTBRIDGE": "http://127.0.0.1:3100/_local/eventbridge",
			"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}},
		{"RealWeChat", map[string]string{"WECHAT_API_BASE": "https://api.weixin.qq.com"}, true, true, false, map[string]string{
			"MEDIA_BUCKET": "wxmedia-local", "WECHAT_SECRET_ID": "wxmedia/local",
			"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:9001", "TOKEN_TABLE": "wxmedia-local-tokens", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:3000/_local/dynamodb", "AWS_ENDPOINT_URL_EVENTBRIDGE": eb,
			"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}},
		{"Moto", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_REGION": "eu-west-1"}, false, false, true, map[string]string{
			"MEDIA_BUCKET": "wxmedia-local", "WECHAT_SECRET_ID": "wxmedia/local", "WECHAT_API_BASE": "http://127.0.0.1:3001",
			"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}},
		// A secret in AWS itself: the user's credentials and region, untouched.
		{"RealSecret", map[string]string{"WECHAT_SECRET_ID": "prod/wechat", "AWS_PROFILE": "dev"}, true, false, true, map[string]string{
			"MEDIA_BUCKET": "wxmedia-local", "WECHAT_API_BASE": "http://127.0.0.1:3001", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000",
			"TOKEN_TABLE": "wxmedia-local-tokens", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:3000/_local/dynamodb", "AWS_ENDPOINT_URL_EVENTBRIDGE": eb}},
		{"UserCredentials", map[string]string{"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "x", "MEDIA_BUCKET": "mine"}, true, true, true, map[string]string{
			"WECHAT_SECRET_ID": "wxmedia/local", "WECHAT_API_BASE": "http://127.0.0.1:3001",
			"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:9001", "TOKEN_TABLE": "wxmedia-local-tokens", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:3000/_local/dynamodb", "AWS_ENDPOINT_URL_EVENTBRIDGE": eb, "AWS_REGION": "us-east-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := resolve(lookupIn(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if s.embedS3 != tc.embedS3 || s.embedSecrets != tc.embedSM || s.embedWeChat != tc.embedW {
				t.Errorf("embedded S3, Secrets Manager, WeChat: got %v %v %v, want %v %v %v", s.embedS3, s.embedSecrets, s.embedWeChat, tc.embedS3, tc.embedSM, tc.embedW)
			}
			if !maps.Equal(s.setenv, tc.setenv) {
				t.Errorf("setenv:\n got %v\nwant %v", s.setenv, tc.setenv)
			}
		})
	}
}

func TestResolveBadPort(t *testing.T) {
	for _, v := range []string{"abc", "0", "70000", "-1"} {
		_, err := resolve(lookupIn(map[string]string{"LOCAL_SM_PORT": v}))
		if err == nil || !strings.Contains(err.Error(), "LOCAL_SM_PORT") {
			t.Errorf("LOCAL_SM_PORT=%s: got %v, want an error naming LOCAL_SM_PORT", v, err)
		}
	}
}

// LOCAL_HOST moves every port to another address (0.0.0.0: sam local's
// containers reach them); this process still reaches them on loopback, and
// the simulator's links then name the host each request named.
func TestResolveHost(t *testing.T) {
	for _, tc := range []struct {
		host, listen, dial string
		exposed            bool
	}{
		{"", "127.0.0.1", "127.0.0.1", false},
		{"0.0.0.0", "0.0.0.0", "127.0.0.1", true},
		{"::", "::", "127.0.0.1", true},
		{"127.0.0.2", "127.0.0.2", "127.0.0.2", false},
		{"[::1]", "::1", "::1", false},
	} {
		s, err := resolve(lookupIn(map[string]string{"LOCAL_HOST": tc.host}))
		if err != nil {
			t.Fatalf("LOCAL_HOST=%q: %v", tc.host, err)
		}
		if s.host != tc.listen || s.dialHost != tc.dial || s.exposed() != tc.exposed {
			t.Errorf("LOCAL_HOST=%q: listen %s, dial %s, exposed %v; want %s, %s, %v", tc.host, s.host, s.dialHost, s.exposed(), tc.listen, tc.dial, tc.exposed)
		}
		wantSim := ""
		if !tc.exposed {
			wantSim = s.wxURL
		}
		if s.simBaseURL != wantSim || !strings.Contains(s.setenv["AWS_ENDPOINT_URL_S3"], tc.dial) {
			t.Errorf("LOCAL_HOST=%q: simulator links %q (want %q), S3 at %q", tc.host, s.simBaseURL, wantSim, s.setenv["AWS_ENDPOINT_URL_S3"])
		}
	}
	for _, v := range []string{"localhost", "host.docker.internal", "0.0.0.0:3000"} {
		if _, err := resolve(lookupIn(map[string]string{"LOCAL_HOST": v})); err == nil || !strings.Contains(err.Error(), "LOCAL_HOST") {
			t.Errorf("LOCAL_HOST=%q: error %v, want one naming LOCAL_HOST", v, err)
		}
	}
}

// The banner shows the simulated platform's default token and key, and
// never one the user set.
func TestBannerShowsOnlyDefaultComponentKeys(t *testing.T) {
	const token, key = "users-own-token", "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
	for _, tc := range []struct {
		name       string
		env        map[string]string
		show, hide []string
	}{
		{"Defaults", nil, []string{DefaultComponentToken, DefaultComponentAESKey}, nil},
		{"UserSet", map[string]string{EnvComponentToken: token, EnvComponentAESKey: key},
			[]string{"token from " + EnvComponentToken, "encoding_aes_key from " + EnvComponentAESKey}, []string{token, key}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := resolve(lookupIn(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			printBanner(&b, s, "sample.jpg", 0)
			for _, want := range tc.show {
				if !strings.Contains(b.String(), want) {
					t.Errorf("banner: want %q in\n%s", want, b.String())
				}
			}
			for _, secret := range tc.hide {
				if strings.Contains(b.String(), secret) {
					t.Errorf("banner shows the user's %q", secret)
				}
			}
		})
	}
}
