package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/wxmedia/wxmedia/internal/localaws"
	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/token"
)

// The variables that choose ports and local credentials.
const (
	EnvHost       = "LOCAL_HOST"             // the address every port listens on, default 127.0.0.1
	EnvPort       = "LOCAL_PORT"             // the HTTP API, default 3000 (sam local start-api's)
	EnvS3Port     = "LOCAL_S3_PORT"          // embedded S3, default 9000
	EnvSMPort     = "LOCAL_SM_PORT"          // embedded Secrets Manager, default 9001
	EnvWeChatPort = "LOCAL_WECHAT_PORT"      // WeChat simulator, default 3001
	EnvAppID      = "LOCAL_WECHAT_APPID"     // the simulator's AppID and the embedded secret's
	EnvAppSecret  = "LOCAL_WECHAT_APPSECRET" // the simulator's AppSecret and the embedded secret's
	// The simulator's third-party platform, and the embedded secret's component entry.
	EnvComponentAppID     = "LOCAL_COMPONENT_APPID"
	EnvComponentToken     = "LOCAL_COMPONENT_TOKEN"
	EnvComponentAESKey    = "LOCAL_COMPONENT_AES_KEY"
	EnvComponentAppSecret = "LOCAL_COMPONENT_APPSECRET"
	// EnvApps are more apps configured directly, appid=appsecret,…: the
	// simulator's and the embedded secret's.
	EnvApps = "LOCAL_WECHAT_APPS"
	// EnvTimeScale shortens (or stretches) Lambda's waits before retrying
	// a failed S3-triggered invocation, about 1 and 2 minutes: 0.01 makes
	// them 0.6 s and 1.2 s. Default 1.
	EnvTimeScale   = "LOCAL_TIME_SCALE"
	EnvS3Endpoint  = "AWS_ENDPOINT_URL_S3"
	EnvSMEndpoint  = "AWS_ENDPOINT_URL_SECRETS_MANAGER"
	EnvEBEndpoint  = "AWS_ENDPOINT_URL_EVENTBRIDGE"
	EnvAWSEndpoint = "AWS_ENDPOINT_URL"
	EnvDDBEndpoint = "AWS_ENDPOINT_URL_DYNAMODB"
	// DefaultTokenTable is the embedded DynamoDB's token table (TOKEN_TABLE).
	DefaultTokenTable = "wxmedia-local-tokens"
	DefaultBucket     = "wxmedia-local"
	DefaultSecretID   = "wxmedia/local"
	DefaultHost       = "127.0.0.1"
	DefaultPort       = 3000 // the HTTP API's, sam local start-api's
	DefaultRegion     = "us-east-1"
	dummyCredentials  = "local" // any credentials do for the embedded backends

	DefaultComponentAppID     = "wx-local-component"
	DefaultComponentToken     = "local-component-token"
	DefaultComponentAESKey    = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG" // WeChat's documented sample key: local only
	DefaultComponentAppSecret = "local-component-secret"
)

const usage = `Usage: make local   (or: go run ./cmd/local)

Runs the wxmedia functions' HTTP API on 127.0.0.1, as API Gateway and
Lambda would, with every backend they need embedded in this one process:

  HTTP API          127.0.0.1:$LOCAL_PORT (3000)         upload, get, uploadimg, result, component
  WeChat simulator  127.0.0.1:$LOCAL_WECHAT_PORT (3001)  unless WECHAT_API_BASE is set
  S3, in memory     127.0.0.1:$LOCAL_S3_PORT (9000)      unless AWS_ENDPOINT_URL_S3 is set
  Secrets Manager   127.0.0.1:$LOCAL_SM_PORT (9001)      unless AWS_ENDPOINT_URL_SECRETS_MANAGER
                                                       or WECHAT_SECRET_ID is set
  EventBridge       the API's port, ` + EventBridgePath + `   unless AWS_ENDPOINT_URL_EVENTBRIDGE is set
                    (PutEvents only: the completion events, listed at ` + EventsPath + `)

A put into the embedded bucket under upload/<type>/ or uploadimg/ runs the
S3 trigger as S3 and Lambda would; the outcome lands under results/. An
invocation that fails (WeChat busy, a lost answer) is retried as Lambda
retries it, about 1 and 2 minutes later (LOCAL_TIME_SCALE shortens that),
then kept in the failed-events queue: GET /_local/failed-events lists it,
POST /_local/failed-events/redrive (make redrive) sends it again.

Environment (the functions' own variables are passed through to them):
  LOCAL_PORT, LOCAL_S3_PORT, LOCAL_SM_PORT, LOCAL_WECHAT_PORT   ports (all on 127.0.0.1);
                     LOCAL_PORT alone moves them all by as much as the API's:
                     LOCAL_PORT=3100 make local serves 3100, S3 9100, Secrets
                     Manager 9101, WeChat 3101, beside one on the defaults
  WXMEDIA_LOCAL_STATE_DIR   where each make local writes local-<LOCAL_PORT>.json,
                     its state file, which make invoke reads (default
                     $TMPDIR/wxmedia-local); WXMEDIA_LOCAL_STATE names one file
                     exactly. With two running, LOCAL_PORT=3100 make invoke …
                     picks the one on 3100.
  LOCAL_HOST         the address they listen on instead of 127.0.0.1: 0.0.0.0 lets
                     sam local's containers reach them as host.docker.internal
                     (and anyone who can reach this machine: no credentials checked)
  LOCAL_WECHAT_APPID, LOCAL_WECHAT_APPSECRET
        the simulator's credentials, also stored in the embedded secret
        (default ` + wechatsim.DefaultAppID + ` / ` + wechatsim.DefaultAppSecret + `); set them to your
        real ones with WECHAT_API_BASE=https://api.weixin.qq.com
  LOCAL_WECHAT_APPS  more apps, appid=appsecret,… (the simulator's and the secret's);
                     /<appid>/cgi-bin/media/… picks one
  LOCAL_COMPONENT_APPID, LOCAL_COMPONENT_TOKEN, LOCAL_COMPONENT_AES_KEY, LOCAL_COMPONENT_APPSECRET
        the simulator's third-party platform, also in the embedded secret
        (default ` + DefaultComponentAppID + `, ` + DefaultComponentToken + `, WeChat's sample key);
        its tickets are pushed to the API's /component/events
  MEDIA_BUCKET       the bucket (default ` + DefaultBucket + `; created in the embedded S3)
  WECHAT_SECRET_ID   the secret (default ` + DefaultSecretID + `); set alone, it is read from
                     AWS Secrets Manager with your AWS credentials
  WECHAT_API_BASE    a real WeChat (or another simulator): no embedded simulator
  AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL_EVENTBRIDGE,
  AWS_ENDPOINT_URL   real endpoints (moto, LocalStack, AWS): no embedded S3,
                     Secrets Manager or EventBridge; with a real S3 no put runs
                     the trigger here
  AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE
                     default us-east-1 and made-up keys when every AWS backend
                     is local; otherwise the SDK's usual chain
  TOKEN_TABLE, AWS_ENDPOINT_URL_DYNAMODB   the third-party platform's token table:
                     by default wxmedia-local-tokens in an embedded DynamoDB on the
                     API's port, /_local/dynamodb, where make register-authorizer
                     writes too (see the banner)
  LOCAL_TIME_SCALE   multiplies Lambda's waits before retrying a failed S3-triggered
                     invocation (1 and 2 minutes): 0.01 retries after 0.6 s and 1.2 s
  ALLOWED_PREFIXES, MEDIA_LIMITS, LOG_LEVEL   as in the deployed functions

Ctrl-C stops it.
`

// settings is what to start, resolved from the environment.
type settings struct {
	apiPort, s3Port, smPort, wechatPort int
	// host is the address every port listens on (LOCAL_HOST); dialHost the
	// one this process reaches them at: host, or 127.0.0.1 for 0.0.0.0 or ::.
	host, dialHost string
	// simBaseURL is the base of the simulator's video and image links:
	// its own URL, or, when it listens beyond loopback, empty (the host a
	// request named, so that a container's links name host.docker.internal).
	simBaseURL string

	embedS3, embedSecrets, embedWeChat, embedEvents bool
	// embedDynamo serves the token table on the API's port (DynamoDBPath).
	embedDynamo        bool
	ddbURL, tokenTable string

	// timeScale multiplies Lambda's waits before a retry (LOCAL_TIME_SCALE).
	timeScale float64

	bucket, secretID string
	appID, appSecret string
	apps             map[string]string // more apps configured directly
	// the third-party platform's component app (simulator and secret)
	compAppID, compToken, compAESKey, compSecret string
	s3URL, smURL, wxURL                          string // where each backend is, embedded or not
	ebURL                                        string // EventBridge's endpoint; embedded when embedEvents
	s3From, smFrom                               string // the variable that named a real one

	// setenv are the variables to set in the process before bootstrap.Build;
	// variables the user set are never overwritten.
	setenv map[string]string
}

// resolve reads the settings from the environment.
func resolve(lookup func(string) (string, bool)) (settings, error) {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	s := settings{setenv: map[string]string{}}
	for _, p := range []struct {
		env  string
		def  int
		port *int
	}{{EnvPort, DefaultPort, &s.apiPort}, {EnvS3Port, 9000, &s.s3Port}, {EnvSMPort, 9001, &s.smPort}, {EnvWeChatPort, 3001, &s.wechatPort}} {
		// The API's port moves the others' defaults by as much: LOCAL_PORT=3100
		// alone gives 3100, S3 9100, Secrets Manager 9101, WeChat 3101.
		*p.port = p.def
		if shifted := p.def + s.apiPort - DefaultPort; p.env != EnvPort && shifted >= 1 && shifted <= 65535 {
			*p.port = shifted
		}
		if v := get(p.env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 65535 {
				return settings{}, fmt.Errorf("environment variable %s: want a port number from 1 to 65535, got %q", p.env, v)
			}
			*p.port = n
		}
	}
	s.timeScale = 1
	if v := get(EnvTimeScale); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0) || f > 1000 {
			return settings{}, fmt.Errorf("environment variable %s: want a factor for Lambda's retry waits (1 min, 2 min), like 0.01, got %q", EnvTimeScale, v)
		}
		s.timeScale = f
	}
	s.host, s.dialHost = DefaultHost, DefaultHost
	if v := get(EnvHost); v != "" {
		ip := net.ParseIP(strings.Trim(v, "[]"))
		if ip == nil {
			return settings{}, fmt.Errorf("environment variable %s: want an IP address to listen on, like 0.0.0.0 (every interface) or 127.0.0.1 (the default), got %q", EnvHost, v)
		}
		s.host, s.dialHost = ip.String(), ip.String()
		if ip.IsUnspecified() {
			s.dialHost = DefaultHost
		}
	}
	at := func(port int) string { return "http://" + net.JoinHostPort(s.dialHost, strconv.Itoa(port)) }
	s.appID, s.appSecret = firstSet(get(EnvAppID), wechatsim.DefaultAppID), firstSet(get(EnvAppSecret), wechatsim.DefaultAppSecret)
	s.compAppID = firstSet(get(EnvComponentAppID), DefaultComponentAppID)
	s.compToken = firstSet(get(EnvComponentToken), DefaultComponentToken)
	s.compAESKey = firstSet(get(EnvComponentAESKey), DefaultComponentAESKey)
	s.compSecret = firstSet(get(EnvComponentAppSecret), DefaultComponentAppSecret)
	if len(s.compAESKey) != 43 {
		return settings{}, fmt.Errorf("environment variable %s: want 43 characters (WeChat's EncodingAESKey), got %d", EnvComponentAESKey, len(s.compAESKey))
	}
	s.apps = map[string]string{}
	for _, kv := range strings.Split(get(EnvApps), ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		id, secret, ok := strings.Cut(kv, "=")
		if !ok || !token.AppIDPattern.MatchString(id) || secret == "" || id == s.appID || id == s.compAppID {
			return settings{}, fmt.Errorf("environment variable %s: want appid=appsecret,… of apps other than %s and %s", EnvApps, s.appID, s.compAppID)
		}
		s.apps[id] = secret
	}
	s.bucket = firstSet(get(bootstrap.EnvBucket), DefaultBucket)
	s.secretID = firstSet(get(bootstrap.EnvSecretID), DefaultSecretID)
	s.setenv[bootstrap.EnvBucket] = s.bucket
	s.setenv[bootstrap.EnvSecretID] = s.secretID

	anyEndpoint := get(EnvAWSEndpoint)
	s.s3URL, s.s3From = firstSet(get(EnvS3Endpoint), anyEndpoint), firstSet(nonEmpty(get(EnvS3Endpoint), EnvS3Endpoint), EnvAWSEndpoint)
	s.embedS3 = s.s3URL == ""
	if s.embedS3 {
		s.s3URL = at(s.s3Port)
		s.setenv[EnvS3Endpoint] = s.s3URL
	}

	s.smURL, s.smFrom = firstSet(get(EnvSMEndpoint), anyEndpoint), firstSet(nonEmpty(get(EnvSMEndpoint), EnvSMEndpoint), EnvAWSEndpoint)
	s.embedSecrets = s.smURL == "" && get(bootstrap.EnvSecretID) == ""
	// The secret is in AWS itself: the user's credentials and region are needed.
	realAWS := s.smURL == "" && !s.embedSecrets
	switch {
	case s.embedSecrets:
		s.smURL = at(s.smPort)
		s.setenv[EnvSMEndpoint] = s.smURL
	case realAWS:
		s.smURL, s.smFrom = "AWS Secrets Manager", bootstrap.EnvSecretID
	}

	s.ebURL = firstSet(get(EnvEBEndpoint), anyEndpoint)
	s.embedEvents = s.ebURL == ""
	if s.embedEvents {
		s.ebURL = fmt.Sprintf("http://127.0.0.1:%d%s", s.apiPort, EventBridgePath)
		s.setenv[EnvEBEndpoint] = s.ebURL
	}

	// The platform's token table: the embedded DynamoDB's, unless an
	// endpoint is named (then TOKEN_TABLE, if set, is there).
	s.ddbURL = firstSet(get(EnvDDBEndpoint), anyEndpoint)
	s.tokenTable = get(bootstrap.EnvTokenTable)
	s.embedDynamo = s.ddbURL == ""
	if s.embedDynamo {
		s.ddbURL = "http://" + net.JoinHostPort(s.dialHost, strconv.Itoa(s.apiPort)) + localaws.DynamoDBPath
		s.tokenTable = firstSet(s.tokenTable, DefaultTokenTable)
		s.setenv[EnvDDBEndpoint] = s.ddbURL
		s.setenv[bootstrap.EnvTokenTable] = s.tokenTable
	}

	s.wxURL = get(bootstrap.EnvWeChatBase)
	s.embedWeChat = s.wxURL == ""
	if s.embedWeChat {
		s.wxURL = at(s.wechatPort)
		s.setenv[bootstrap.EnvWeChatBase] = s.wxURL
	}

	if s.embedWeChat && !s.exposed() {
		s.simBaseURL = s.wxURL
	}

	if !realAWS {
		if get("AWS_REGION") == "" && get("AWS_DEFAULT_REGION") == "" {
			s.setenv["AWS_REGION"] = DefaultRegion
		}
		if get("AWS_ACCESS_KEY_ID") == "" && get("AWS_PROFILE") == "" {
			s.setenv["AWS_ACCESS_KEY_ID"] = dummyCredentials
			s.setenv["AWS_SECRET_ACCESS_KEY"] = dummyCredentials
		}
	}
	for k := range s.setenv {
		if v, ok := lookup(k); ok && strings.TrimSpace(v) != "" {
			delete(s.setenv, k)
		}
	}
	return s, nil
}

// exposed reports whether the ports listen beyond loopback (LOCAL_HOST).
func (s settings) exposed() bool {
	ip := net.ParseIP(firstSet(s.host, DefaultHost))
	return ip == nil || !ip.IsLoopback()
}

// apiURL is where this machine reaches the HTTP API.
func (s settings) apiURL() string {
	return "http://" + net.JoinHostPort(firstSet(s.dialHost, DefaultHost), strconv.Itoa(s.apiPort))
}

// nonEmpty returns v if s is not empty.
func nonEmpty(s, v string) string {
	if s == "" {
		return ""
	}
	return v
}

// firstSet returns the first non-empty value.
func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
