package localaws

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// A browser-based POST upload (a presigned POST form, as boto3's
// generate_presigned_post or the Go SDK's PresignPostObject make): the
// form's fields, then the file. S3 checks the form against its policy:
// the policy's expiration, each condition (exact, starts-with,
// content-length-range) and that no field goes unchecked. So does this;
// the signature is not checked, as no credential is.

// MaxPostSize bounds a POST upload's file, whatever its policy's
// content-length-range says (the signature is not checked): the embedded
// S3 holds objects in memory.
const MaxPostSize = 64 << 20

// maxPostFields bounds the form's fields before the file.
const maxPostFields = 64 << 10

// isFormPost reports whether r is a POST upload to a bucket.
func isFormPost(r *http.Request) (bucket string, ok bool) {
	if r.Method != http.MethodPost || r.URL.RawQuery != "" {
		return "", false
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	bucket = strings.Trim(r.URL.Path, "/")
	return bucket, ct == "multipart/form-data" && bucket != "" && !strings.Contains(bucket, "/")
}

// postError is S3's answer to a POST upload it refuses.
type postError struct {
	status        int
	code, message string
}

func (e *postError) Error() string { return e.code + ": " + e.message }

func denied(format string, args ...any) error {
	return &postError{http.StatusForbidden, "AccessDenied", "Invalid according to Policy: " + fmt.Sprintf(format, args...)}
}

func malformed(msg string) error {
	return &postError{http.StatusBadRequest, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data. " + msg}
}

// servePost stores a POST upload that its policy allows, answers as S3
// does (204, or success_action_status 200 or 201) and notifies.
func (s *S3) servePost(w http.ResponseWriter, r *http.Request, bucket string) {
	obj, err := s.post(r, bucket)
	if err != nil {
		var pe *postError
		if !errors.As(err, &pe) {
			pe = &postError{http.StatusInternalServerError, "InternalError", err.Error()}
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(pe.status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, pe.code, xmlEscape(pe.message))
		return
	}
	etag := `"` + obj.etag + `"`
	location := fmt.Sprintf("http://%s/%s/%s", r.Host, bucket, obj.key)
	w.Header().Set("ETag", etag)
	w.Header().Set("Location", location)
	switch obj.status {
	case "200", "201":
		code, _ := strconv.Atoi(obj.status)
		if code == http.StatusCreated {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(code)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><PostResponse><Location>%s</Location><Bucket>%s</Bucket><Key>%s</Key><ETag>%s</ETag></PostResponse>`,
				xmlEscape(location), xmlEscape(bucket), xmlEscape(obj.key), xmlEscape(etag))
			break
		}
		w.WriteHeader(code)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
	if s.opts.Notify != nil && s.wants(bucket, obj.key) {
		s.created(r, w, bucket, obj.key, "Post")
	}
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// posted is what a POST upload stored.
type posted struct {
	key, etag, status string
}

func (s *S3) post(r *http.Request, bucket string) (posted, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return posted{}, malformed(err.Error())
	}
	fields := map[string]string{} // by lower-case name, as S3 matches them
	read := 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return posted{}, &postError{http.StatusBadRequest, "InvalidArgument", "POST requires exactly one file upload per request."}
		}
		if err != nil {
			return posted{}, malformed(err.Error())
		}
		name := strings.ToLower(p.FormName())
		if name != "file" {
			v, err := io.ReadAll(io.LimitReader(p, int64(maxPostFields-read+1)))
			if read += len(name) + len(v); err != nil || read > maxPostFields {
				return posted{}, malformed("form fields too large")
			}
			fields[name] = string(v)
			continue
		}
		// The file is the last field: what follows is ignored, as by S3.
		return s.store(bucket, fields, p.FileName(), p)
	}
}

// store checks the form against its policy and stores the file.
func (s *S3) store(bucket string, fields map[string]string, filename string, file io.Reader) (posted, error) {
	key := strings.ReplaceAll(fields["key"], "${filename}", filename)
	if key == "" {
		return posted{}, &postError{http.StatusBadRequest, "InvalidArgument", "Bucket POST must contain a field named 'key'."}
	}
	fields["key"], fields["bucket"] = key, bucket
	limit, err := checkPolicy(fields, time.Now())
	if err != nil {
		return posted{}, err
	}
	data, err := io.ReadAll(io.LimitReader(file, limit.max+1))
	if err != nil {
		return posted{}, malformed(err.Error())
	}
	switch n := int64(len(data)); {
	case n > limit.max:
		return posted{}, &postError{http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"}
	case n < limit.min:
		return posted{}, &postError{http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size"}
	}
	meta := map[string]string{}
	if ct := fields["content-type"]; ct != "" {
		meta["Content-Type"] = ct
	}
	for name, v := range fields {
		if m, ok := strings.CutPrefix(name, "x-amz-meta-"); ok && m != "" {
			meta["X-Amz-Meta-"+strings.ToUpper(m[:1])+m[1:]] = v // as the PUT of the same metadata stores it
		}
	}
	if _, err := s.backend.PutObject(bucket, key, meta, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		return posted{}, err
	}
	sum := md5.Sum(data)
	return posted{key: key, etag: hex.EncodeToString(sum[:]), status: fields["success_action_status"]}, nil
}

// sizeRange is a policy's content-length-range.
type sizeRange struct{ min, max int64 }

// notInPolicy are the fields S3 does not ask a policy to check.
var notInPolicy = map[string]bool{"policy": true, "x-amz-signature": true, "file": true}

// checkPolicy checks the form's fields against its policy, as S3 does.
func checkPolicy(fields map[string]string, now time.Time) (sizeRange, error) {
	limit := sizeRange{0, MaxPostSize}
	enc, ok := fields["policy"]
	if !ok {
		return limit, &postError{http.StatusForbidden, "AccessDenied", "Anonymous access is forbidden for this operation"}
	}
	for _, f := range []string{"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"} {
		if fields[f] == "" {
			return limit, &postError{http.StatusBadRequest, "InvalidArgument", "Bucket POST must contain a field named '" + f + "'."}
		}
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	var policy struct {
		Expiration string            `json:"expiration"`
		Conditions []json.RawMessage `json:"conditions"`
	}
	if err != nil || json.Unmarshal(raw, &policy) != nil {
		return limit, &postError{http.StatusBadRequest, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON."}
	}
	exp, err := time.Parse(time.RFC3339, policy.Expiration)
	if err != nil {
		return limit, &postError{http.StatusBadRequest, "InvalidPolicyDocument", "Invalid Policy: Invalid 'expiration' value: '" + policy.Expiration + "'"}
	}
	if !now.Before(exp) {
		return limit, denied("Policy expired.")
	}
	checked := map[string]bool{}
	for _, c := range policy.Conditions {
		var exact map[string]string
		if json.Unmarshal(c, &exact) == nil {
			for k, v := range exact {
				k = strings.ToLower(k)
				if checked[k] = true; fields[k] != v {
					return limit, denied(`Policy Condition failed: ["eq", "$%s", %q]`, k, v)
				}
			}
			continue
		}
		var op []any
		if json.Unmarshal(c, &op) != nil || len(op) != 3 {
			return limit, &postError{http.StatusBadRequest, "InvalidPolicyDocument", "Invalid Policy: Invalid Condition: " + string(c)}
		}
		name, _ := op[0].(string)
		if strings.ToLower(name) == "content-length-range" {
			lo, ok1 := op[1].(float64)
			hi, ok2 := op[2].(float64)
			if !ok1 || !ok2 || lo < 0 || hi < lo {
				return limit, &postError{http.StatusBadRequest, "InvalidPolicyDocument", "Invalid Policy: Invalid content-length-range: " + string(c)}
			}
			limit = sizeRange{int64(lo), min(int64(hi), MaxPostSize)} // in memory: never more, whatever a form says
			continue
		}
		field, _ := op[1].(string)
		want, _ := op[2].(string)
		k := strings.ToLower(strings.TrimPrefix(field, "$"))
		checked[k] = true
		switch strings.ToLower(name) {
		case "eq":
			if fields[k] != want {
				return limit, denied(`Policy Condition failed: ["eq", "$%s", %q]`, k, want)
			}
		case "starts-with":
			if !strings.HasPrefix(fields[k], want) {
				return limit, denied(`Policy Condition failed: ["starts-with", "$%s", %q]`, k, want)
			}
		default:
			return limit, &postError{http.StatusBadRequest, "InvalidPolicyDocument", "Invalid Policy: Invalid Condition: " + string(c)}
		}
	}
	for k := range fields {
		if !checked[k] && !notInPolicy[k] && k != "bucket" && !strings.HasPrefix(k, "x-ignore-") {
			return limit, denied("Extra input fields: %s", k)
		}
	}
	return limit, nil
}
