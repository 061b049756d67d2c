package bucket

import (
	"cmp"
	"slices"
	"strings"
)

// Use is a call of one of the bucket's methods on the keys under Prefix.
// Packages that call the bucket list their uses next to their calls; the
// composition root adds them up into each function's IAM policy, and the
// template is checked against that (internal/deploy).
type Use struct {
	Method, Prefix string
	// Match, if set, narrows the keys under Prefix with an IAM resource
	// pattern (* and ?) in place of "*".
	Match string
}

// actions are the IAM actions each method's S3 requests need.
var actions = map[string][]string{
	"Stat":        {"s3:GetObject"}, // HeadObject
	"Open":        {"s3:GetObject"},
	"ReadJSON":    {"s3:GetObject"},
	"WriteJSON":   {"s3:PutObject"},
	"Write":       {"s3:PutObject", "s3:AbortMultipartUpload"}, // PutObject, or a multipart upload aborted on failure
	"PresignGet":  {"s3:GetObject"},                            // the link carries the signer's permission
	"PresignPost": {"s3:PutObject"},                            // so does the form
	"First":       {"s3:ListBucket"},                           // ListObjectsV2, on the bucket
}

// mayMiss are the methods that read keys that may not exist: without
// s3:ListBucket on the bucket, S3 answers 403 where it means 404.
var mayMiss = map[string]bool{"Stat": true, "Open": true, "ReadJSON": true}

// Grant is an IAM action on the bucket (Resource "") or on the objects
// under a prefix (Resource "<prefix>*").
type Grant struct{ Action, Resource string }

// Grants are the IAM grants that uses need, sorted, each once.
func Grants(uses []Use) []Grant {
	var out []Grant
	for _, u := range uses {
		as, ok := actions[u.Method]
		if !ok {
			panic("bucket: no IAM actions listed for method " + u.Method) // a use of a method this table forgot
		}
		for _, a := range as {
			if a == "s3:ListBucket" {
				out = append(out, Grant{Action: a}) // granted on the bucket, not on objects
				continue
			}
			out = append(out, Grant{Action: a, Resource: u.Prefix + cmp.Or(u.Match, "*")})
		}
		if mayMiss[u.Method] {
			out = append(out, Grant{Action: "s3:ListBucket"})
		}
	}
	// A grant on a prefix covers the prefixes under it.
	out = slices.DeleteFunc(out, func(g Grant) bool {
		for _, o := range out {
			if o.Action == g.Action && o.Resource != g.Resource && o.Resource != "" &&
				strings.HasPrefix(g.Resource, strings.TrimSuffix(o.Resource, "*")) {
				return true
			}
		}
		return false
	})
	slices.SortFunc(out, func(a, b Grant) int {
		if c := strings.Compare(a.Action, b.Action); c != 0 {
			return c
		}
		return strings.Compare(a.Resource, b.Resource)
	})
	return slices.Compact(out)
}
