package localaws

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// SecretsOptions configure a SecretsManager. Zero values become defaults.
type SecretsOptions struct {
	Region  string // in ARNs; default DefaultRegion
	Account string // in ARNs; default 000000000000
}

// SecretsManager answers GetSecretValue for the secrets put into it, in
// the Secrets Manager JSON protocol (POST / with X-Amz-Target), so the AWS
// SDKs and CLI read them as from the service. Any credentials are accepted.
type SecretsManager struct {
	region, account string

	mu      sync.Mutex
	secrets map[string]*secret // by name
}

type secret struct {
	name, arn, value, version string
	created                   time.Time
}

// NewSecretsManager returns an empty SecretsManager.
func NewSecretsManager(opts SecretsOptions) *SecretsManager {
	m := &SecretsManager{region: opts.Region, account: opts.Account, secrets: make(map[string]*secret)}
	if m.region == "" {
		m.region = DefaultRegion
	}
	if m.account == "" {
		m.account = "000000000000"
	}
	return m
}

// Put sets the string value of the secret name, creating it if needed, and
// returns its ARN.
func (m *SecretsManager) Put(name, value string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.secrets[name]
	if !ok {
		// The ARN ends in "-" and six characters, as Secrets Manager's do;
		// these are derived from the name, so they stay the same across runs.
		h := fnv.New32a()
		h.Write([]byte(name))
		suffix := fmt.Sprintf("%06x", h.Sum32()&0xffffff)
		s = &secret{name: name, arn: fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", m.region, m.account, name, suffix),
			created: time.Now()}
		m.secrets[name] = s
	}
	s.value, s.version = value, NewUUID()
	return s.arn
}

// lookup finds a secret by name, ARN, or ARN without its suffix.
func (m *SecretsManager) lookup(id string) (secret, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.secrets[id]; ok {
		return *s, true
	}
	for _, s := range m.secrets {
		if id == s.arn || id == s.arn[:len(s.arn)-7] {
			return *s, true
		}
	}
	return secret{}, false
}

// ServeHTTP answers the Secrets Manager JSON protocol.
func (m *SecretsManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		writeAWSError(w, http.StatusNotFound, "UnknownOperationException", "only POST / with X-Amz-Target is served")
		return
	}
	target := r.Header.Get("X-Amz-Target")
	if target != "secretsmanager.GetSecretValue" {
		writeAWSError(w, http.StatusBadRequest, "UnknownOperationException",
			fmt.Sprintf("operation %q is not served by the local Secrets Manager; only GetSecretValue is", strings.TrimPrefix(target, "secretsmanager.")))
		return
	}
	var in struct {
		SecretID     string `json:"SecretId"`
		VersionID    string `json:"VersionId"`
		VersionStage string `json:"VersionStage"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		writeAWSError(w, http.StatusBadRequest, "SerializationException", "request body is not JSON")
		return
	}
	if in.SecretID == "" {
		writeAWSError(w, http.StatusBadRequest, "InvalidParameterException", "SecretId is required")
		return
	}
	s, ok := m.lookup(in.SecretID)
	if !ok || (in.VersionID != "" && in.VersionID != s.version) || (in.VersionStage != "" && in.VersionStage != "AWSCURRENT") {
		writeAWSError(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	writeAWSJSON(w, http.StatusOK, map[string]any{
		"ARN":           s.arn,
		"Name":          s.name,
		"SecretString":  s.value,
		"VersionId":     s.version,
		"VersionStages": []string{"AWSCURRENT"},
		"CreatedDate":   float64(s.created.UnixMilli()) / 1000,
	})
}

func writeAWSError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("X-Amzn-ErrorType", typ)
	writeAWSJSON(w, status, map[string]string{"__type": typ, "message": msg})
}

func writeAWSJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", NewUUID())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
